//! `profiles sync` end to end: the real binary against the emulators.

use std::path::{Path, PathBuf};

use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsConfig, LumAppsEmulator};
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use serde_json::Value;
use tokio::process::Command;

use crate::PROFILES;

pub(crate) fn dir() -> PathBuf {
    crate::scratch_dir("sync")
}

pub(crate) async fn sync(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(PROFILES)
        .arg("sync")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// [`sync`] with owned arguments and the environment as the helpers build it.
pub(crate) async fn sync_owned(
    args: &[String],
    env: &[(&'static str, String)],
) -> (i32, String, String) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    sync(&refs, &env_refs(env)).await
}

pub(crate) fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A Sunshine emulator holding `n` riders, rider{i}@example.com, saddle 85cm.
pub(crate) async fn sunshine_with_riders(n: usize) -> SunshineEmulator {
    let emulator = SunshineEmulator::start().await.unwrap();
    let client = reqwest::Client::new();
    for i in 0..n {
        let response = client
            .put(format!("{}/api/v2/user_profiles?identifier=coolbikes%3Arider%3Aemail%3Arider{i}%40example.com", emulator.base_url()))
            .basic_auth(format!("{SEED_EMAIL}/token"), Some(SEED_API_TOKEN))
            .header("content-type", "application/json")
            .body(r#"{"profile":{"name":"R","attributes":{"saddle_height":"85cm"}}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    emulator
}

pub(crate) fn sunshine_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ZENDESK_BASE_URL", base.to_owned()),
        ("ZENDESK_EMAIL", SEED_EMAIL.to_owned()),
        ("ZENDESK_API_TOKEN", SEED_API_TOKEN.to_owned()),
    ]
}

pub(crate) fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

pub(crate) fn riders_csv(path: &Path, n: usize) {
    let mut csv = String::from("email,saddle\n");
    for i in 0..n {
        // Every third rider already has the wanted height.
        let height = if i % 3 == 0 { "85cm" } else { "87cm" };
        csv.push_str(&format!("rider{i}@example.com,{height}\n"));
    }
    std::fs::write(path, csv).unwrap();
}

pub(crate) const SUNSHINE_MAP: [&str; 8] = [
    "--vendor",
    "sunshine",
    "--source",
    "coolbikes",
    "--type",
    "rider",
    "--map",
    "saddle=attributes.saddle_height",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sunshine_sync_of_two_thousand_rows_writes_only_what_changed() {
    let emulator = sunshine_with_riders(2_000).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    riders_csv(&input, 2_000);
    let report_path = dir.join("report.json");
    let env = sunshine_env(&emulator.base_url());
    let before = emulator.faults().requests_seen();
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    let (input_s, report_s) = (input.to_str().unwrap(), report_path.to_str().unwrap());
    args.extend([
        "--input",
        input_s,
        "--concurrency",
        "16",
        "--rate",
        "0",
        "--report",
        report_s,
    ]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (
            summary["rows"].as_u64(),
            summary["updated"].as_u64(),
            summary["unchanged"].as_u64()
        ),
        (Some(2_000), Some(1_333), Some(667))
    );
    // One read per row and one PATCH per changed row.
    assert_eq!(emulator.faults().requests_seen() - before, 2_000 + 1_333);
    assert!(emulator.profiles().iter().all(|p| {
        let email = p["identifiers"][0]["value"].as_str().unwrap();
        let i: usize = email
            .trim_start_matches("rider")
            .trim_end_matches("@example.com")
            .parse()
            .unwrap();
        p["attributes"]["saddle_height"] == if i % 3 == 0 { "85cm" } else { "87cm" }
    }));
    assert!(stderr.contains("sync: 2000 rows"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_each_diff_and_writes_nothing() {
    let emulator = sunshine_with_riders(6).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    riders_csv(&input, 6);
    let env = sunshine_env(&emulator.base_url());
    let before = emulator.profiles();
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--rate",
        "0",
        "--dry-run",
    ]);
    let (code, stdout, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(r#"line 3 rider1@example.com: attributes.saddle_height: "85cm" -> "87cm""#),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 4);
    assert_eq!(emulator.profiles(), before);
    assert!(stderr.contains("4 would update"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_row_is_reported_with_its_line_and_the_rest_continue() {
    let emulator = sunshine_with_riders(3).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    std::fs::write(&input, "email,saddle\nrider0@example.com,90cm\nrider1@example.com,90cm,extra\n,90cm\nrider2@example.com,90cm\n").unwrap();
    let report_path = dir.join("report.json");
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--rate",
        "0",
        "--report",
        report_path.to_str().unwrap(),
    ]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 1, "a failed row makes the exit code 1: {stderr}");
    let report = report(&report_path);
    assert_eq!(report["summary"]["updated"], 2);
    assert_eq!(report["summary"]["malformed"], 2);
    let mut lines: Vec<u64> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    lines.sort();
    assert_eq!(lines, [3, 4]);
    assert!(stderr.contains("line 3"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_column_in_the_mapping_is_refused_before_anything_is_sent() {
    let emulator = sunshine_with_riders(1).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    riders_csv(&input, 1);
    let before = emulator.faults().requests_seen();
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--map",
        "shoe_size=attributes.shoe",
    ]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the mapping names column(s) the input does not have: shoe_size"),
        "{stderr}"
    );
    assert_eq!(emulator.faults().requests_seen(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_sync_from_json_lines_with_a_mapping_file() {
    let emulator = CaptureEmulator::start().await.unwrap();
    let client = reqwest::Client::new();
    let n = 2_000;
    for i in 0..n {
        let body = format!(
            "type_name=user&attributes=%7B%22email%22%3A%22m{i}%40example.com%22%2C%22givenName%22%3A%22M%22%7D"
        );
        let response = client
            .post(format!("{}/entity.create", emulator.base_url()))
            .basic_auth(SEED_CLIENT_2.0, Some(SEED_CLIENT_2.1))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&response.bytes().await.unwrap()).contains("\"ok\""));
    }
    let dir = dir();
    let input = dir.join("members.jsonl");
    let mut lines = String::new();
    for i in 0..n {
        lines.push_str(&format!(
            "{{\"mail\":\"m{i}@example.com\",\"first\":\"Member {i}\"}}\n"
        ));
    }
    std::fs::write(&input, lines).unwrap();
    let mapping = dir.join("mapping.toml");
    std::fs::write(
        &mapping,
        "[capture]\nkey = \"mail\"\nkey_kind = \"email\"\ntype_name = \"user\"\n[capture.fields]\nfirst = \"givenName\"\n\n[sunshine]\nkey = \"mail\"\nsource = \"crm\"\ntype = \"member\"\n[sunshine.fields]\nfirst = \"name\"\n",
    )
    .unwrap();
    let report_path = dir.join("report.json");
    let base = emulator.base_url();
    let env = [
        ("CAPTURE_BASE_URL", base.as_str()),
        ("CAPTURE_CLIENT_ID", SEED_CLIENT_2.0),
        ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_2.1),
    ];
    let (code, _, stderr) = sync(
        &[
            "--vendor",
            "capture",
            "--input",
            input.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
            "--concurrency",
            "8",
            "--report",
            report_path.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&report_path)["summary"]["updated"], n);
    let records = emulator.records("user");
    assert!(
        records
            .iter()
            .filter(|r| r["email"]
                .as_str()
                .is_some_and(|e| e.starts_with('m') && e != "mpark@example.com"))
            .all(|r| {
                let i = r["email"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('m')
                    .trim_end_matches("@example.com");
                r["givenName"] == format!("Member {i}")
            })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lumapps_sync_of_two_thousand_directory_users() {
    let emulator = LumAppsEmulator::start_with(
        LumAppsConfig::default().synthetic_users(2_000),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let dir = dir();
    let input = dir.join("hr.csv");
    let mut csv = String::from("work_email,job_title,phone\n");
    for i in 0..2_000 {
        csv.push_str(&format!(
            "user{i:07}@customer.com,Engineer {i},+33 1 00 00 {i:04}\n"
        ));
    }
    std::fs::write(&input, csv).unwrap();
    let report_path = dir.join("report.json");
    let base = emulator.base_url();
    let env = [
        ("LUMAPPS_BASE_URL", base.as_str()),
        ("LUMAPPS_TOKEN", DEMO_TOKEN),
    ];
    let (code, _, stderr) = sync(
        &[
            "--vendor",
            "lumapps",
            "--input",
            input.to_str().unwrap(),
            "--directory",
            "6486401110769664",
            "--key",
            "work_email",
            "--map",
            "job_title=Title",
            "--map",
            "phone=Phone Number",
            "--concurrency",
            "16",
            "--report",
            report_path.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&report_path)["summary"]["updated"], 2_000);
    let user = emulator.user("user0001999@customer.com").unwrap();
    assert_eq!(
        user["apiProfile"]["organizations"]["title"],
        "Engineer 1999"
    );
    assert_eq!(
        user["customProfile"]["b72127e4-867a-4aba-a843-70c11dc599ef"],
        "+33 1 00 00 1999"
    );
}

/// Capture records rider{i}@example.com, family "Old", no statuses: the same on every
/// emulator this is called for.
pub(crate) async fn capture_with_riders(n: usize) -> CaptureEmulator {
    let emulator = CaptureEmulator::start().await.unwrap();
    let records: Vec<Value> = (0..n)
        .map(|i| serde_json::json!({"email": format!("rider{i}@example.com"), "givenName": "G", "familyName": "Old"}))
        .collect();
    emulator.seed("user", &records).unwrap();
    emulator
}

/// Each rider's family name and the statuses they hold (element ids left out: Capture
/// gives new ones on every append).
pub(crate) fn capture_state(emulator: &CaptureEmulator) -> Vec<(String, Value, Vec<Value>)> {
    let mut state: Vec<(String, Value, Vec<Value>)> = emulator
        .records("user")
        .into_iter()
        .filter(|r| r["email"].as_str().is_some_and(|e| e.starts_with("rider")))
        .map(|r| {
            let statuses = r["statuses"]
                .as_array()
                .map(|s| s.iter().map(|e| e["status"].clone()).collect())
                .unwrap_or_default();
            (
                r["email"].as_str().unwrap().to_owned(),
                r["familyName"].clone(),
                statuses,
            )
        })
        .collect();
    state.sort_by(|a, b| a.0.cmp(&b.0));
    state
}

/// A small deterministic generator for kill points (the tests depend on no random crate).
pub(crate) fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Runs `profiles {args}` `kills` times, SIGKILLing each run once up to `within` more
/// requests have reached `faults` (a point drawn from `seed`; `after_kill` sees each),
/// waits for the emulator to be idle, then runs the same command again until it exits 0
/// (at most 15 times). Returns the kill points and the last runs' exit codes.
pub(crate) async fn kill_then_rerun(
    args: &[&str],
    env: &[(&'static str, String)],
    faults: &profile_emulator::FaultController,
    (kills, within, mut seed): (usize, u64, u64),
    after_kill: &dyn Fn(u64),
) -> (Vec<u64>, Vec<i32>) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut points = Vec::new();
    for _ in 0..kills {
        let mut child = Command::new(PROFILES)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let cue = faults.requests_seen() + 1 + next(&mut seed) % within;
        let deadline = Instant::now() + Duration::from_secs(60);
        while faults.requests_seen() < cue && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().await.unwrap();
        points.push(cue);
        after_kill(cue);
    }
    faults.wait_idle(Duration::from_secs(5)).await;
    let mut exits = Vec::new();
    for _ in 0..15 {
        let (code, _, stderr) = sync(&args[1..], &env_refs(env)).await;
        exits.push(code);
        assert!(code == 0 || code == 1, "{stderr}");
        if code == 0 {
            break;
        }
    }
    (points, exits)
}

/// The environment of a sync into `emulator` with the documentation's second API client.
pub(crate) fn capture_env(emulator: &CaptureEmulator) -> Vec<(&'static str, String)> {
    vec![
        ("CAPTURE_BASE_URL", emulator.base_url()),
        ("CAPTURE_CLIENT_ID", SEED_CLIENT_2.0.to_owned()),
        ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_2.1.to_owned()),
    ]
}

/// The faults of the kill tests: the typical mix drawn from `seed`, but fewer 429s (each
/// one holds every request for a second) and no slow answers, since the tests are about
/// kills and unknown outcomes, not waiting; and every write answered 20 ms after it lands,
/// so that a kill finds writes applied and not yet recorded.
pub(crate) fn kill_test_faults(faults: &profile_emulator::FaultController, seed: u64) {
    use std::time::Duration;
    faults.set_random(Some(
        profile_emulator::faults::RandomFaults::typical(seed)
            .rate_limited(0.005, Duration::from_secs(1))
            .slow(0.0, Duration::ZERO),
    ));
    faults.set_answer_delay(Some(Duration::from_millis(20)));
}
