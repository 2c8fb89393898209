//! The state in PostgreSQL and rows from a query: the real binary, a real server over TCP
//! (`PROFILES_TEST_POSTGRES`, which `cargo xtask ci` sets), and the emulators. Each test
//! keeps its state in a schema of its own.

use std::process::Stdio;
use std::time::{Duration, Instant};

use profile_emulator::sunshine::SEED_API_TOKEN;
use serde_json::Value;
use tokio::process::Command;

use crate::PROFILES;
use crate::lease::start_slow_night;
use crate::sync::{
    SUNSHINE_MAP, capture_env, capture_state, capture_with_riders, dir, env_refs, report,
    riders_csv, sunshine_env, sunshine_with_riders, sync,
};

/// The test server's URL: no test is skipped when it is missing.
fn server() -> String {
    std::env::var("PROFILES_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "PROFILES_TEST_POSTGRES is not set: these tests need a PostgreSQL server (cargo xtask ci sets it; or export PROFILES_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test)"
        )
    })
}

/// A schema name of this test's own.
fn schema(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t_{name}_{}_{nanos}", std::process::id())
}

/// `url` with the state kept in `schema`.
fn in_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}schema={schema}")
}

/// A new state in a schema of its own on the test server, named after `name`.
pub(crate) fn state_url(name: &str) -> String {
    in_schema(&server(), &schema(name))
}

/// A client of the test server, for the tests' own reads and writes.
async fn client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&server(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// The users the state at `url` (made by [`state_url`]) holds, of any scope.
pub(crate) async fn users_in(url: &str) -> u64 {
    let schema = url.rsplit("schema=").next().unwrap();
    let count: i64 = client()
        .await
        .query_one(&format!("SELECT count(*) FROM {schema}.users"), &[])
        .await
        .unwrap()
        .get(0);
    count as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lumapps_first_night_on_postgres_killed_after_its_listing_lists_again() {
    crate::state::first_night_killed_after_its_listing(state_url("killed_listing")).await;
}

/// Gives the leases of the state at `url` (made by [`state_url`]) to another run, as a run
/// that found them stale would take them.
pub(crate) async fn take_leases(url: &str) {
    let schema = url.rsplit("schema=").next().unwrap();
    client()
        .await
        .execute(
            &format!("UPDATE {schema}.leases SET token = 'another run'"),
            &[],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lumapps_first_night_on_postgres_whose_lease_is_taken_stops_and_writes_no_listing() {
    crate::state::first_night_whose_lease_is_taken(state_url("lease_taken")).await;
}

/// Every value of every table of `schema`, as text.
async fn everything_in(client: &tokio_postgres::Client, schema: &str) -> String {
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(tables.len() >= 7, "{tables:?}");
    let mut text = String::new();
    for table in tables {
        let rows = client
            .query(
                &format!("SELECT t::text FROM \"{schema}\".\"{table}\" t"),
                &[],
            )
            .await
            .unwrap();
        for row in rows {
            text.push_str(&row.get::<_, String>(0));
            text.push('\n');
        }
    }
    text
}

async fn profiles(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(PROFILES).args(args).output().await.unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nights_on_postgres_send_only_what_changed_and_no_table_holds_a_credential() {
    let n = 120;
    let emulator = sunshine_with_riders(n).await;
    let dir = dir();
    let (input, report_path) = (dir.join("riders.csv"), dir.join("report.json"));
    riders_csv(&input, n);
    let schema = schema("nights");
    // A password in the URL (the test server trusts loopback, so it is not needed): it
    // must not reach any table, message or report.
    let password = "pg-pass-5ecret";
    let url = in_schema(
        &server().replacen("://postgres@", &format!("://postgres:{password}@"), 1),
        &schema,
    );
    assert!(url.contains(password), "{url}");
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        &url,
        "--report",
        report_path.to_str().unwrap(),
        "--rate",
        "0",
    ]);
    let patches = || {
        emulator
            .faults()
            .requests_to("PATCH", "/api/v2/user_profiles")
    };

    let (code, stdout, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(patches(), n as u64);
    for text in [&stdout, &stderr] {
        assert!(!text.contains(password), "{text}");
    }

    // Night 2: the same rows, nothing sent.
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(emulator.faults().requests_seen(), seen, "{stderr}");
    assert_eq!(report(&report_path)["summary"]["from_state"], n);

    // Night 3: four riders changed, four PATCHes.
    let mut csv = std::fs::read_to_string(&input).unwrap();
    for i in [1, 2, 50, 100] {
        csv = csv.replace(
            &format!("rider{i}@example.com,87cm\n"),
            &format!("rider{i}@example.com,93cm\n"),
        );
    }
    std::fs::write(&input, csv).unwrap();
    let before = patches();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(patches() - before, 4);
    assert_eq!(report(&report_path)["summary"]["updated"], 4);

    // The state's tables, read with SQL: three finished runs, every rider managed.
    let client = client().await;
    let runs: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".runs WHERE status = 'finished'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 3);
    let managed: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM \"{schema}\".users WHERE managed"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(managed, n as i64);
    let everything = everything_in(&client, &schema).await;
    assert!(everything.contains("rider100@example.com"));
    for secret in [password, SEED_API_TOKEN] {
        assert!(!everything.contains(secret), "{secret} is in a table");
    }

    // The documented psql queries, on this state's schema.
    let queries = crate::report::documented_queries("postgresql");
    assert_eq!(queries.len(), 3, "{queries:?}");
    for (i, query) in queries.iter().enumerate() {
        let query = query.replace("profiles.", &format!("\"{schema}\"."));
        let rows = client
            .query(&query, &[])
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        if i == 0 {
            // Nothing failed.
            assert!(rows.is_empty(), "{query}");
            continue;
        }
        assert!(!rows.is_empty(), "{query}: no rows");
        let columns: Vec<&str> = rows[0].columns().iter().map(|c| c.name()).collect();
        assert_eq!(&columns[..2], ["vendor", "scope"], "{query}");
        assert_eq!(rows[0].get::<_, String>(0), "sunshine", "{query}");
    }
    let nights = client
        .query(
            &queries[2].replace("profiles.", &format!("\"{schema}\".")),
            &[],
        )
        .await
        .unwrap();
    let updated: Vec<Option<i32>> = nights.iter().map(|row| row.get("updated")).collect();
    assert_eq!(updated, [Some(4), Some(0), Some(n as i32)]);

    // status and report read the same URL.
    let (code, stdout, stderr) = profiles(&["sync", "status", "--state", &url]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("nothing to retry"), "{stdout}");
    let page = dir.join("report.html");
    let (code, _, stderr) =
        profiles(&["report", "--state", &url, "--out", page.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("sunshine"), "{html}");
    assert!(!html.contains(password));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_url_naming_a_schema_it_cannot_use_exits_2_sending_nothing() {
    let emulator = sunshine_with_riders(2).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    riders_csv(&input, 2);
    let url = in_schema(&server(), "pg_catalog_copy");
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend(["--input", input.to_str().unwrap(), "--state", &url, "-v"]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("schema `pg_catalog_copy`"), "{stderr}");
    assert!(!stderr.contains("backup"), "nothing to restore: {stderr}");
    assert!(!stderr.contains("/api/v2/user_profiles"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_scope_one_exits_5_sending_nothing() {
    let n = 12;
    let emulator = sunshine_with_riders(n).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    riders_csv(&input, n);
    let url = in_schema(&server(), &schema("lease"));
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend(["--input", input.to_str().unwrap(), "--state", &url]);
    let mut slow = args.clone();
    slow.extend(["--rate", "120", "--concurrency", "1"]);
    let mut first = start_slow_night(&slow, &env, emulator.faults(), Stdio::null()).await;

    let mut second = args.clone();
    second.extend(["--rate", "0", "-v"]);
    let began = Instant::now();
    let (code, _, stderr) = sync(&second, &env_refs(&env)).await;
    assert_eq!(code, 5, "{stderr}");
    assert!(began.elapsed() < Duration::from_secs(5), "it did not wait");
    let pid = first.id().unwrap();
    assert!(stderr.contains(&format!("process {pid} on")), "{stderr}");
    assert!(stderr.contains("state database postgres://"), "{stderr}");
    assert!(!stderr.contains("/api/v2/user_profiles"), "{stderr}");

    second.extend(["--wait", "60s"]);
    let (code, _, stderr) = sync(&second, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(first.wait().await.unwrap().success());
    assert!(
        stderr.contains("12 of the unchanged known from the state"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_postgres_killed_at_random_moments_ends_exactly_as_the_input_says() {
    let url = in_schema(&server(), &schema("killed"));
    crate::state::killed_at_random_moments_under_faults(&url, &|_| {}).await;
}

/// `n` Capture rows (and their mapping) that each append a plural element, so that a row
/// applied twice shows.
pub(crate) fn appending_rows(
    dir: &std::path::Path,
    n: usize,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let input = dir.join("riders.jsonl");
    let mut lines = String::new();
    for i in 0..n {
        lines.push_str(&format!(
            "{{\"mail\":\"rider{i}@example.com\",\"family\":\"Family{i}\",\"statuses\":[{{\"status\":\"onboarded\"}}]}}\n"
        ));
    }
    std::fs::write(&input, lines).unwrap();
    let mapping = dir.join("mapping.toml");
    std::fs::write(
        &mapping,
        "[capture]\nkey = \"mail\"\nkey_kind = \"email\"\ntype_name = \"user\"\n[capture.fields]\nfamily = \"familyName\"\nstatuses = \"statuses\"\n",
    )
    .unwrap();
    (input, mapping)
}

pub(crate) fn assert_exactly_as_input(
    emulator: &profile_emulator::capture::CaptureEmulator,
    n: usize,
) {
    let got = capture_state(emulator);
    assert_eq!(got.len(), n);
    for (email, family, statuses) in &got {
        let number: usize = email
            .trim_start_matches("rider")
            .trim_end_matches("@example.com")
            .parse()
            .unwrap();
        assert_eq!(family, &Value::from(format!("Family{number}")), "{email}");
        assert_eq!(statuses, &vec![Value::from("onboarded")], "{email}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_server_dropping_the_connection_stops_the_run_naming_it_and_the_rerun_finishes() {
    let n = 1_000;
    let emulator = capture_with_riders(n).await;
    // Writes answered 20 ms after they land: the run lasts a few seconds.
    emulator
        .faults()
        .set_answer_delay(Some(Duration::from_millis(20)));
    let dir = dir();
    let (input, mapping) = appending_rows(&dir, n);
    let url = in_schema(&server(), &schema("dropped"));
    let app = format!("profiles-test-{}", std::process::id());
    let args = [
        "sync",
        "--vendor",
        "capture",
        "--input",
        input.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        "--state",
        &url,
        "--rate",
        "0",
        "--concurrency",
        "4",
    ];
    let env = capture_env(&emulator);
    let child = Command::new(PROFILES)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PGAPPNAME", &app)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while emulator.faults().requests_seen() < 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // What a server restart does to its clients: their connections are closed.
    let admin = client().await;
    let dropped: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1) t",
            &[&app],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(dropped, 1, "the run's connection");
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    // Stopped, as any run whose state fails (1 when it failed between rows, 3 within them).
    assert!(matches!(output.status.code(), Some(1 | 3)), "{stderr}");
    assert!(stderr.contains("state database postgres://"), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert!(
        emulator.faults().requests_seen() < n as u64 + 2,
        "the run went on after the state was lost"
    );

    emulator.faults().wait_idle(Duration::from_secs(5)).await;
    emulator.faults().set_answer_delay(None);
    let (code, _, stderr) = sync(&args[1..], &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("did not finish; this run"), "{stderr}");
    assert_exactly_as_input(&emulator, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_of_100000_rows_is_synced_and_a_second_night_sends_nothing() {
    let n = 100_000;
    let admin = client().await;
    let source = schema("hr");
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {source};
             CREATE TABLE {source}.staff AS
                SELECT g AS id, 'rider' || g || '@example.com' AS work_email,
                       'Family' || g AS family, g % 7 = 0 AS left_company
                FROM generate_series(0, {n} - 1) g;"
        ))
        .await
        .unwrap();
    let emulator = capture_with_riders(0).await;
    let dir = dir();
    let mapping = dir.join("mapping.toml");
    std::fs::write(
        &mapping,
        "[capture]\nkey = \"email\"\nkey_kind = \"email\"\ntype_name = \"user\"\n[capture.fields]\nfamily = \"familyName\"\n",
    )
    .unwrap();
    let query_file = dir.join("staff.sql");
    std::fs::write(
        &query_file,
        format!(
            "SELECT work_email AS email, family\nFROM {source}.staff\nWHERE NOT left_company;\n"
        ),
    )
    .unwrap();
    let state = dir.join("state.db");
    let report_path = dir.join("report.json");
    let base = server();
    let args = [
        "--vendor",
        "capture",
        "--input",
        &base,
        "--query-file",
        query_file.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        "--mode",
        "upsert",
        "--state",
        state.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
        "--rate",
        "0",
    ];
    let env = capture_env(&emulator);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let kept = (0..n).filter(|i| i % 7 != 0).count();
    let summary = &report(&report_path)["summary"];
    assert_eq!(summary["created"], kept, "{summary}");
    assert_eq!(capture_state(&emulator).len(), kept);
    let records = emulator.records("user");
    let one = records
        .iter()
        .find(|r| r["email"] == "rider99998@example.com")
        .unwrap();
    assert_eq!(one["familyName"], "Family99998");

    // Night 2: the same query, nothing to write (the entity type is read, as every night).
    let writes = || {
        ["/entity.update", "/entity.create", "/entity.bulkCreate"]
            .iter()
            .map(|path| emulator.faults().requests_to("POST", path))
            .sum::<u64>()
    };
    let before = writes();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(writes(), before, "{stderr}");
    assert_eq!(report(&report_path)["summary"]["from_state"], kept);

    // A query the server refuses, and a query with no database, are said in words.
    let bad = [
        "--vendor",
        "capture",
        "--input",
        &base,
        "--query",
        "SELECT nope FROM nowhere",
        "--mapping",
        mapping.to_str().unwrap(),
    ];
    let (code, _, stderr) = sync(&bad, &env_refs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the query is refused"), "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
    let (code, _, stderr) = sync(
        &[
            "--vendor",
            "capture",
            "--input",
            query_file.to_str().unwrap(),
            "--query",
            "SELECT 1",
            "--mapping",
            mapping.to_str().unwrap(),
        ],
        &env_refs(&env),
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("give --input postgres://"), "{stderr}");
    admin
        .batch_execute(&format!("DROP SCHEMA {source} CASCADE"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_may_only_read() {
    let admin = client().await;
    let source = schema("readonly");
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA {source}; CREATE TABLE {source}.t (email text);
             INSERT INTO {source}.t VALUES ('a@example.com'); CREATE SEQUENCE {source}.s"
        ))
        .await
        .unwrap();
    let emulator = capture_with_riders(0).await;
    let env = capture_env(&emulator);
    let base = server();
    let run = |query: String| {
        let (base, env) = (base.clone(), env.clone());
        async move {
            sync(
                &[
                    "--vendor",
                    "capture",
                    "--input",
                    &base,
                    "--query",
                    &query,
                    "--map",
                    "email=email",
                    "--key",
                    "email",
                ],
                &env_refs(&env),
            )
            .await
        }
    };
    // A statement that writes is refused before the night.
    let (code, _, stderr) = run(format!(
        "WITH gone AS (DELETE FROM {source}.t RETURNING email) SELECT email FROM gone"
    ))
    .await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the query is refused"), "{stderr}");
    // A SELECT that would write is stopped by the read-only transaction.
    let (code, _, stderr) = run(format!(
        "SELECT 'r' || nextval('{source}.s') || '@example.com' AS email"
    ))
    .await;
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("read-only transaction"), "{stderr}");
    let row = admin
        .query_one(
            &format!("SELECT (SELECT count(*) FROM {source}.t), is_called FROM {source}.s"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, bool>(1)), (1, false));
    assert_eq!(emulator.faults().requests_to("POST", "/entity.update"), 0);
    admin
        .batch_execute(&format!("DROP SCHEMA {source} CASCADE"))
        .await
        .unwrap();
}
