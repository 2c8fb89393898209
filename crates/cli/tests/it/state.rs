//! `profiles sync --state`: nights that cost what changed, against the emulators.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsConfig, LumAppsEmulator};
use profile_emulator::sunshine::SunshineEmulator;

use crate::sync::{
    SUNSHINE_MAP, capture_env, capture_state, capture_with_riders, dir, env_refs, report,
    riders_csv, sunshine_env, sunshine_with_riders, sync,
};

const PROFILES_PATH: &str = "/api/v2/user_profiles";

fn sunshine_args<'a>(input: &'a Path, state: &'a Path, report: &'a Path) -> Vec<&'a str> {
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--rate",
        "0",
    ]);
    args
}

fn gets(emulator: &SunshineEmulator) -> u64 {
    emulator.faults().requests_to("GET", PROFILES_PATH)
}

fn patches(emulator: &SunshineEmulator) -> u64 {
    emulator.faults().requests_to("PATCH", PROFILES_PATH)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_night_sends_nothing_and_a_changed_night_sends_only_the_changes() {
    let n = 300;
    let emulator = sunshine_with_riders(n).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    riders_csv(&input, n);
    let env = sunshine_env(&emulator.base_url());
    let args = sunshine_args(&input, &state, &report_path);

    // Night 1: Zendesk cannot list, and its PATCH tells whether a rider exists: each
    // rider is written once, and read never (the first night cannot tell unchanged from
    // updated).
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!((gets(&emulator), patches(&emulator)), (0, 300));

    // Night 2, the same export: nothing is sent at all.
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(emulator.faults().requests_seen(), seen, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (
            summary["unchanged"].as_u64(),
            summary["from_state"].as_u64()
        ),
        (Some(300), Some(300))
    );

    // Night 3: six riders changed, six PATCHes and not one read.
    let mut csv = std::fs::read_to_string(&input).unwrap();
    for i in [1, 2, 3, 100, 200, 299] {
        let old = format!(
            "rider{i}@example.com,{}\n",
            if i % 3 == 0 { "85cm" } else { "87cm" }
        );
        assert!(csv.contains(&old));
        csv = csv.replace(&old, &format!("rider{i}@example.com,91cm\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let (gets_before, patches_before) = (gets(&emulator), patches(&emulator));
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(gets(&emulator), gets_before, "no reads on a known night");
    assert_eq!(patches(&emulator) - patches_before, 6);
    assert_eq!(report(&report_path)["summary"]["updated"], 6);
    let changed = emulator
        .profiles()
        .iter()
        .filter(|p| p["attributes"]["saddle_height"] == "91cm")
        .count();
    assert_eq!(changed, 6);
}

fn capture_requests(emulator: &CaptureEmulator, path: &str) -> u64 {
    emulator.faults().requests_to("POST", path)
}

fn families_csv(path: &Path, n: usize, changed: &[usize]) {
    let mut csv = String::from("email,family\n");
    for i in 0..n {
        let family = if changed.contains(&i) { "Moved" } else { "Old" };
        csv.push_str(&format!("rider{i}@example.com,{family}\n"));
    }
    std::fs::write(path, csv).unwrap();
}

async fn capture_update(emulator: &CaptureEmulator, email: &str, attributes: &str) {
    let body = format!(
        "type_name=user&key_attribute=email&key_value=%22{}%22&attributes={}",
        email.replace('@', "%40"),
        attributes
    );
    let response = reqwest::Client::new()
        .post(format!("{}/entity.update", emulator.base_url()))
        .basic_auth(SEED_CLIENT_2.0, Some(SEED_CLIENT_2.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(text.contains("\"ok\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_reads_everyone_in_pages_then_writes_only_changes_and_verify_corrects_drift() {
    let n = 2_500;
    let emulator = capture_with_riders(n).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    families_csv(&input, n, &[]);
    let env = capture_env(&emulator);
    let args = |verify: bool| {
        let mut args = vec![
            "--vendor",
            "capture",
            "--input",
            input.to_str().unwrap(),
            "--map",
            "family=familyName",
            "--state",
            state.to_str().unwrap(),
            "--report",
            report_path.to_str().unwrap(),
            "--rate",
            "0",
        ];
        if verify {
            args.push("--verify");
        }
        args
    };

    // Night 1: everyone in 3 pages of 1,000, no record read alone, nothing to write.
    let (code, _, stderr) = sync(&args(false), &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(capture_requests(&emulator, "/entity.find"), 3, "{stderr}");
    assert_eq!(capture_requests(&emulator, "/entity"), 0);
    assert_eq!(capture_requests(&emulator, "/entity.update"), 0);
    assert!(
        stderr.contains("read 2503 users from capture"),
        "the riders and the 3 seed records: {stderr}"
    );

    // Night 2: 2% moved: one entity.update each, nothing else but the schema check.
    let moved: Vec<usize> = (0..n).filter(|i| i % 50 == 7).collect();
    families_csv(&input, n, &moved);
    let before = emulator.faults().requests_seen();
    let (code, _, stderr) = sync(&args(false), &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        capture_requests(&emulator, "/entity.update"),
        moved.len() as u64
    );
    assert_eq!(
        emulator.faults().requests_seen() - before,
        moved.len() as u64 + 1,
        "the changed rows and one entityType"
    );

    // Someone changes a rider at Capture: a normal night cannot see it ...
    capture_update(
        &emulator,
        "rider3@example.com",
        "%7B%22familyName%22%3A%22Edited%22%7D",
    )
    .await;
    let (code, _, stderr) = sync(&args(false), &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let family = |email: &str| {
        capture_state(&emulator)
            .into_iter()
            .find(|(e, _, _)| e == email)
            .unwrap()
            .1
    };
    assert_eq!(family("rider3@example.com"), "Edited");
    // ... a verify does: it reads everyone in bulk, names the field, and corrects it.
    let finds = capture_requests(&emulator, "/entity.find");
    let (code, _, stderr) = sync(&args(true), &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(capture_requests(&emulator, "/entity.find") - finds, 3);
    assert!(
        stderr.contains("drift: line 5 rider3@example.com: familyName: the state had \"Old\", capture has \"Edited\""),
        "{stderr}"
    );
    assert_eq!(family("rider3@example.com"), "Old");
    let report = report(&report_path);
    assert_eq!(report["summary"]["drifted"], 1, "{report}");
    assert_eq!(report["whole_run"]["drift"], 1, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunshine_verify_reads_each_rider_and_finds_what_changed_there() {
    let n = 20;
    let emulator = sunshine_with_riders(n).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    riders_csv(&input, n);
    let env = sunshine_env(&emulator.base_url());
    let args = sunshine_args(&input, &state, &report_path);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    // rider4's height is changed at Zendesk.
    let response = reqwest::Client::new()
        .patch(format!(
            "{}/api/v2/user_profiles?identifier=coolbikes%3Arider%3Aemail%3Arider4%40example.com",
            emulator.base_url()
        ))
        .basic_auth(
            format!("{}/token", profile_emulator::sunshine::SEED_EMAIL),
            Some(profile_emulator::sunshine::SEED_API_TOKEN),
        )
        .header("content-type", "application/json")
        .body(r#"{"profile":{"attributes":{"saddle_height":"60cm"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut verify = args.clone();
    verify.push("--verify");
    let gets_before = gets(&emulator);
    let (code, _, stderr) = sync(&verify, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        gets(&emulator) - gets_before,
        n as u64,
        "each rider read once"
    );
    assert!(
        stderr.contains("attributes.saddle_height: the state had \"87cm\", sunshine has \"60cm\""),
        "{stderr}"
    );
    let rider4 = emulator
        .profiles()
        .into_iter()
        .find(|p| p["identifiers"][0]["value"] == "rider4@example.com")
        .unwrap();
    assert_eq!(rider4["attributes"]["saddle_height"], "87cm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_stop_the_run_at_once_and_a_corrected_rerun_writes_every_row() {
    let n = 200;
    let emulator = sunshine_with_riders(n).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    riders_csv(&input, n);
    let mut env = sunshine_env(&emulator.base_url());
    let good = env.clone();
    env[2].1 = "not-the-token".to_owned();
    let args = sunshine_args(&input, &state, &report_path);
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("the vendor refused the credentials"),
        "{stderr}"
    );
    assert!(stderr.contains("run the same command again"), "{stderr}");
    // The rows in flight when the first 401 came (8 at most), and no more.
    let sent = emulator.faults().requests_seen() - seen;
    assert!((1..=8).contains(&sent), "{sent} requests");
    assert_eq!(
        report(&report_path)["whole_run"]["failed"],
        0,
        "none recorded as failed"
    );

    let (code, _, stderr) = sync(&args, &env_refs(&good)).await;
    assert_eq!(code, 0, "{stderr}");
    let report = report(&report_path);
    // Every row is written on a state's first night (rider0's write of the first run was
    // refused, so nothing of it is in doubt).
    assert_eq!(report["summary"]["updated"], 200, "{report}");
    assert_eq!(
        report["runs"].as_array().unwrap().len(),
        2,
        "it finishes the stopped run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_mapped_field_is_refused_with_the_valid_names_before_any_row() {
    let emulator = capture_with_riders(5).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    families_csv(&input, 5, &[]);
    let env = capture_env(&emulator);
    let (code, _, stderr) = sync(
        &[
            "--vendor",
            "capture",
            "--input",
            input.to_str().unwrap(),
            "--map",
            "family=familyNme",
            "--state",
            dir.join("state.db").to_str().unwrap(),
        ],
        &env_refs(&env),
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("familyNme"), "{stderr}");
    assert!(
        stderr.contains("familyName"),
        "the valid names are listed: {stderr}"
    );
    assert_eq!(
        emulator.faults().requests_seen(),
        1,
        "only entityType was asked"
    );

    // Sunshine has no schema to ask: a field that is neither name nor attributes.* is
    // refused without a request.
    let sunshine = SunshineEmulator::start().await.unwrap();
    let env = sunshine_env(&sunshine.base_url());
    riders_csv(&input, 5);
    let (code, _, stderr) = sync(
        &[
            "--vendor",
            "sunshine",
            "--input",
            input.to_str().unwrap(),
            "--source",
            "coolbikes",
            "--type",
            "rider",
            "--map",
            "saddle=saddle_height",
        ],
        &env_refs(&env),
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("attributes.<key>"), "{stderr}");
    assert_eq!(sunshine.faults().requests_seen(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_on_two_lines_is_warned_about_and_its_last_line_is_synced_once() {
    let emulator = sunshine_with_riders(3).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    std::fs::write(
        &input,
        "email,saddle\nrider1@example.com,70cm\nrider0@example.com,85cm\nrider1@example.com,75cm\n",
    )
    .unwrap();
    let env = sunshine_env(&emulator.base_url());
    let args = sunshine_args(&input, &state, &report_path);
    for night in 0..2 {
        let patches_before = patches(&emulator);
        let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains("the key rider1@example.com is on lines 2, 4: the last one is synced"),
            "{stderr}"
        );
        let rider1 = emulator
            .profiles()
            .into_iter()
            .find(|p| p["identifiers"][0]["value"] == "rider1@example.com")
            .unwrap();
        assert_eq!(rider1["attributes"]["saddle_height"], "75cm");
        // The first night writes rider0 and rider1 (rider1 once, from its last line), the
        // second nothing: the value does not flip.
        assert_eq!(patches(&emulator) - patches_before, [2, 0][night]);
        let report = report(&report_path);
        assert_eq!(report["summary"]["superseded"], 1);
        assert_eq!(report["duplicates"][0]["lines"], serde_json::json!([2, 4]));
    }
}

/// A LumApps emulator holding `n` synthetic users, an HR export giving each the title
/// `Engineer {i}`, a new state and report, and the sync's environment.
struct LumAppsNight {
    emulator: LumAppsEmulator,
    input: PathBuf,
    /// A SQLite file, or a `postgres://` URL.
    state: String,
    report: PathBuf,
    env: Vec<(&'static str, String)>,
}

async fn lumapps_night(n: usize) -> LumAppsNight {
    let state = dir().join("state.db").to_str().unwrap().to_owned();
    lumapps_night_on(n, state).await
}

async fn lumapps_night_on(n: usize, state: String) -> LumAppsNight {
    let night = lumapps_directory(n as u64, state).await;
    write_titles(&night.input, n, &|i| format!("Engineer {i}"));
    night
}

/// As [`lumapps_night_on`], the emulator holding `users` synthetic users, the export left
/// for the caller to write.
async fn lumapps_directory(users: u64, state: String) -> LumAppsNight {
    let emulator = LumAppsEmulator::start_with(
        LumAppsConfig::default().synthetic_users(users),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let dir = dir();
    let input = dir.join("hr.csv");
    let env = vec![
        ("LUMAPPS_BASE_URL", emulator.base_url()),
        ("LUMAPPS_TOKEN", DEMO_TOKEN.to_owned()),
    ];
    LumAppsNight {
        emulator,
        input,
        state,
        report: dir.join("report.json"),
        env,
    }
}

/// An HR export of `n` synthetic LumApps users, each with the title `title(i)`.
fn write_titles(input: &Path, n: usize, title: &dyn Fn(usize) -> String) {
    let mut csv = String::from("work_email,job_title\n");
    for i in 0..n {
        csv.push_str(&format!("user{i:07}@customer.com,{}\n", title(i)));
    }
    std::fs::write(input, csv).unwrap();
}

impl LumAppsNight {
    /// The arguments of a sync of the export's titles into the documentation's directory.
    fn args(&self) -> Vec<&str> {
        vec![
            "--vendor",
            "lumapps",
            "--input",
            self.input.to_str().unwrap(),
            "--directory",
            "6486401110769664",
            "--key",
            "work_email",
            "--map",
            "job_title=Title",
            "--state",
            &self.state,
            "--report",
            self.report.to_str().unwrap(),
        ]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lumapps_reads_everyone_once_then_reads_and_saves_only_the_changed() {
    let n: usize = 500;
    let night = lumapps_night(n).await;
    let write = |title: &dyn Fn(usize) -> String| write_titles(&night.input, n, title);
    let env = env_refs(&night.env);
    let args = night.args();
    let (code, _, stderr) = sync(&args, &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&night.report)["summary"]["updated"], n as u64);
    write(&|i| {
        if i % 50 == 0 {
            format!("Lead {i}")
        } else {
            format!("Engineer {i}")
        }
    });
    let before = night.emulator.faults().requests_seen();
    let (code, _, stderr) = sync(&args, &env).await;
    assert_eq!(code, 0, "{stderr}");
    let changed = (n / 50) as u64;
    // The directory's template, then a read and a save per changed user.
    assert_eq!(
        night.emulator.faults().requests_seen() - before,
        1 + 2 * changed,
        "{stderr}"
    );
    let user = night.emulator.user("user0000050@customer.com").unwrap();
    assert_eq!(user["apiProfile"]["organizations"]["title"], "Lead 50");
}

const LUMAPPS_LIST: &str = "/_ah/api/lumsites/v1/user/directory/list";

/// A first night of `night`'s export, which stops its listing: the exit code, what was
/// printed, the report.
async fn listing_stopped(night: &LumAppsNight) -> (i32, String, serde_json::Value) {
    let (code, _, stderr) = sync(&night.args(), &env_refs(&night.env)).await;
    assert!(
        stderr.contains("stopped reading everyone from lumapps"),
        "{stderr}"
    );
    (code, stderr, report(&night.report))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_night_of_three_rows_does_not_list_a_directory_of_two_thousand() {
    // Listing 2,000 users (two listings of 100 a page, enabled and disabled) would cost
    // about 22 requests; the three rows cost at most two each. The listing stops once it
    // has cost more requests than the rows, and the rows it had not reached are read alone.
    let night = lumapps_directory(2_000, dir().join("state.db").to_str().unwrap().into()).await;
    std::fs::write(
        &night.input,
        "work_email,job_title\nuser0000005@customer.com,Chef\nuser0001999@customer.com,Chef\nnobody@customer.com,Chef\n",
    )
    .unwrap();
    let (code, stderr, report) = listing_stopped(&night).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["summary"]["updated"], 2, "{stderr}");
    assert_eq!(report["summary"]["missing"], 1, "{stderr}");
    // The directory read; the listing's four pages of 100, the first page of the disabled
    // users' listing beside it and a page of each under way when it stopped; the rows:
    // reads and saves of the two users, the read that finds nobody. A whole listing: 27.
    let requests = report["requests"].as_u64().unwrap();
    assert!(requests <= 1 + 4 + 3 + 5, "{requests} requests: {stderr}");
    for key in ["user0000005@customer.com", "user0001999@customer.com"] {
        let user = night.emulator.user(key).unwrap();
        assert_eq!(user["apiProfile"]["organizations"]["title"], "Chef");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_night_that_changes_every_lumapps_row_stops_its_listing() {
    // Every row changes, and LumApps reads each user before it saves them: listing the
    // 20,000 users (about 200 requests) would spare the 600 rows nothing. The listing is
    // stopped once the rows it named show it, and each row costs its read and its save.
    // Its pages are answered in 50 ms, as a real directory's are, not faster than the rows.
    let night = lumapps_directory(20_000, dir().join("state.db").to_str().unwrap().into()).await;
    night
        .emulator
        .faults()
        .set_answer_delay_on(LUMAPPS_LIST, Some(std::time::Duration::from_millis(50)));
    write_titles(&night.input, 600, &|i| format!("Chef {i}"));
    let (code, stderr, report) = listing_stopped(&night).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["summary"]["updated"], 600, "{stderr}");
    // The directory read, the listing until it stopped (the rows' six pages, and a few
    // more while the first 256 rows were weighed), and a read and a save a row: the whole
    // listing would have made it 1,403.
    let requests = report["requests"].as_u64().unwrap();
    assert!(requests <= 1 + 100 + 1_200, "{requests} requests: {stderr}");
    let user = night.emulator.user("user0000599@customer.com").unwrap();
    assert_eq!(user["apiProfile"]["organizations"]["title"], "Chef 599");
}
const LUMAPPS_SAVE: &str = "/_ah/api/lumsites/v1/user/directory/save";

impl LumAppsNight {
    /// Starts the sync at two requests a second (the listing's pages, then a read and a save
    /// a second; its standard error to `stderr`), and waits until its rows are saving.
    async fn start_saving(&self, stderr: Stdio) -> tokio::process::Child {
        let mut slow = self.args();
        slow.extend(["--rate", "120", "--concurrency", "1"]);
        let faults = self.emulator.faults();
        let child = crate::lease::start_slow_night(&slow, &self.env, faults, stderr).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while faults.requests_to("POST", LUMAPPS_SAVE) < 3 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        child
    }

    /// Runs the night's command again at no limit, after a night that did not end: it lists
    /// the directory again (more pages than the `listed` before it), finishes, and leaves
    /// each of the export's `n` users titled and in the state (with the documentation's own
    /// user). Its standard error back.
    async fn lists_again_and_finishes(&self, n: usize, listed: u64) -> String {
        let mut args = self.args();
        args.extend(["--rate", "0"]);
        let (code, _, stderr) = sync(&args, &env_refs(&self.env)).await;
        assert_eq!(code, 0, "{stderr}");
        let faults = self.emulator.faults();
        assert!(
            faults.requests_to("POST", LUMAPPS_LIST) > listed,
            "{stderr}"
        );
        self.assert_titles_set(n);
        assert_eq!(users_in(&self.state).await, n as u64 + 1);
        stderr
    }

    /// Asserts that the first, middle and last of the export's `n` users have its title.
    fn assert_titles_set(&self, n: usize) {
        for i in [0, n / 2 - 1, n - 1] {
            let user = self
                .emulator
                .user(&format!("user{i:07}@customer.com"))
                .unwrap();
            assert_eq!(
                user["apiProfile"]["organizations"]["title"],
                format!("Engineer {i}")
            );
        }
    }
}

/// The users a state (a SQLite file or a `postgres://` URL) holds, of any scope.
async fn users_in(state: &str) -> u64 {
    if state.starts_with("postgres") {
        return crate::postgres::users_in(state).await;
    }
    let conn = rusqlite::Connection::open(state).unwrap();
    conn.query_row("SELECT count(*) FROM users", [], |row| row.get::<_, i64>(0))
        .unwrap() as u64
}

/// Gives the leases of a state (a SQLite file or a `postgres://` URL) to another run, as a
/// run that found them stale would take them.
async fn take_leases(state: &str) {
    if state.starts_with("postgres") {
        return crate::postgres::take_leases(state).await;
    }
    let conn = rusqlite::Connection::open(state).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    conn.execute("UPDATE leases SET token = 'another run'", [])
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lumapps_first_night_killed_after_its_listing_lists_again_the_next_night() {
    let state = dir().join("state.db").to_str().unwrap().to_owned();
    first_night_killed_after_its_listing(state).await;
}

/// A LumApps first night on `state` killed while its rows save: the file holds only the
/// few users settled, and the same command lists again and finishes the night.
pub(crate) async fn first_night_killed_after_its_listing(state: String) {
    let n: usize = 200;
    let night = lumapps_night_on(n, state).await;
    let faults = night.emulator.faults();
    let mut killed = night.start_saving(Stdio::null()).await;
    killed.kill().await.unwrap();
    // The rows were saving, so the listing had named at least its first page's 100 users;
    // but a first night writes a listed user only with its row's result, or at the run's
    // end: the file holds the few users settled.
    let listed = faults.requests_to("POST", LUMAPPS_LIST);
    assert!(listed >= 1, "{listed} listing pages");
    let held = users_in(&night.state).await;
    assert!(held <= 10, "{held} users");

    // The same command lists again, and finishes the night.
    let stderr = night.lists_again_and_finishes(n, listed).await;
    assert!(stderr.contains("users from lumapps"), "{stderr}");
    // Every user listed is known now: the next night lists no one and sends only the
    // directory's template read.
    let mut args = night.args();
    args.extend(["--rate", "0"]);
    let (before, pages) = (
        faults.requests_seen(),
        faults.requests_to("POST", LUMAPPS_LIST),
    );
    let (code, _, stderr) = sync(&args, &env_refs(&night.env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(faults.requests_to("POST", LUMAPPS_LIST), pages, "{stderr}");
    assert_eq!(faults.requests_seen() - before, 1, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lumapps_first_night_whose_lease_is_taken_stops_and_writes_no_listing() {
    let state = dir().join("state.db").to_str().unwrap().to_owned();
    first_night_whose_lease_is_taken(state).await;
}

/// A LumApps first night on `state` whose lease another run takes while its rows save (it
/// stalled past the lease's minute, say): at its next renewal it stops, exit 3, having
/// recorded the rows it sent and nothing it only listed; the same command then lists again
/// and finishes the night.
pub(crate) async fn first_night_whose_lease_is_taken(state: String) {
    let n: usize = 200;
    let night = lumapps_night_on(n, state).await;
    let faults = night.emulator.faults();
    let stalled = night.start_saving(Stdio::piped()).await;
    take_leases(&night.state).await;
    // The lease is renewed every 15 seconds.
    crate::lease::stops_with(
        stalled,
        std::time::Duration::from_secs(40),
        3,
        "another run took the scope over",
    )
    .await;
    let saved = faults.requests_to("POST", LUMAPPS_SAVE);
    assert!(saved < n as u64 / 2, "{saved} saves: it went on");
    // The users it saved are recorded; the 201 it listed are not written over what the
    // new holder may have written.
    let held = users_in(&night.state).await;
    assert!(
        held <= saved,
        "{held} users in the state after {saved} saves"
    );

    // The same command (the other run is gone): it lists again, and finishes the night.
    let listed = faults.requests_to("POST", LUMAPPS_LIST);
    night.lists_again_and_finishes(n, listed).await;
}

fn integrity(state: &Path) -> String {
    let conn = rusqlite::Connection::open(state).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_random_moments_under_faults_ends_exactly_as_the_input_says() {
    let state: PathBuf = dir().join("state.db");
    killed_at_random_moments_under_faults(state.to_str().unwrap(), &|cue| {
        assert_eq!(integrity(&state), "ok", "after the kill at {cue}")
    })
    .await;
    assert_eq!(integrity(&state), "ok");
}

/// 2,000 Capture rows, each appending a plural element, killed at five random moments
/// under faults with the state `state` (`check` runs after each kill), then the same
/// command until it exits 0: every rider ends as the input says, each element once.
pub(crate) async fn killed_at_random_moments_under_faults(state: &str, check: &dyn Fn(u64)) {
    let n = 2_000;
    let dir = dir();
    // Every row appends a plural element: applied twice, it would show twice.
    let (input, mapping) = crate::postgres::appending_rows(&dir, n);
    let args = [
        "sync",
        "--vendor",
        "capture",
        "--input",
        input.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        "--state",
        state,
        "--rate",
        "0",
        "--concurrency",
        "16",
    ];
    let emulator = capture_with_riders(n).await;
    crate::sync::kill_test_faults(emulator.faults(), 7);
    let env = capture_env(&emulator);
    // Killed at five random moments, then the same command again until it exits 0
    // (faults leave rows unknown or failed for a while; each run settles more).
    let (kills, exits) =
        crate::sync::kill_then_rerun(&args, &env, emulator.faults(), (5, 600, 0x5eed), check).await;
    assert_eq!(
        exits.last(),
        Some(&0),
        "kills at {kills:?}, exits {exits:?}"
    );
    crate::postgres::assert_exactly_as_input(&emulator, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_unreachable_row_after_row_stops_the_run_and_wrong_capture_secrets_stop_before_it()
{
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    riders_csv(&input, 100);
    // Nothing listens on port 1.
    let env = sunshine_env("http://127.0.0.1:1");
    let args = sunshine_args(&input, &state, &report_path);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("could not be reached for 10 rows in a row"),
        "{stderr}"
    );
    let report = report(&report_path);
    assert!(
        report["summary"]["rows"].as_u64().unwrap() < 100,
        "{report}"
    );
    assert_eq!(
        report["whole_run"]["failed"], 0,
        "nothing recorded as failed: {report}"
    );

    let emulator = capture_with_riders(5).await;
    let mut env = capture_env(&emulator);
    env[2].1 = "wrong-secret".to_owned();
    families_csv(&input, 5, &[]);
    let (code, _, stderr) = sync(
        &[
            "--vendor",
            "capture",
            "--input",
            input.to_str().unwrap(),
            "--map",
            "family=familyName",
            "--state",
            dir.join("capture.db").to_str().unwrap(),
        ],
        &env_refs(&env),
    )
    .await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert_eq!(capture_requests(&emulator, "/entity.update"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sunshine_first_night_writes_first_and_reads_no_one() {
    let emulator = crate::sync::sunshine_with_riders(300).await;
    let dir = crate::sync::dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    // The 300 riders Zendesk has, each with a new height, and 10 joiners.
    let mut csv = String::from("email,saddle\n");
    for i in 0..310 {
        csv.push_str(&format!("rider{i}@example.com,90cm\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let env = crate::sync::sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = crate::sync::SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
        "--mode",
        "upsert",
        "--rate",
        "0",
    ]);
    let faults = emulator.faults();
    // A dry run must not write: it reads each rider.
    let mut dry = args.clone();
    dry.push("--dry-run");
    let (code, _, stderr) = crate::sync::sync(&dry, &crate::sync::env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(faults.requests_to("GET", "/api/v2/user_profiles"), 310);
    assert_eq!(faults.requests_to("PATCH", "/api/v2/user_profiles"), 0);
    let seen = faults.requests_seen();
    let (code, _, stderr) = crate::sync::sync(&args, &crate::sync::env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    // One PATCH for each rider Zendesk has; a PATCH (404) and a PUT for each joiner.
    assert_eq!(faults.requests_seen() - seen, 300 + 2 * 10, "{stderr}");
    assert_eq!(faults.requests_to("GET", "/api/v2/user_profiles"), 310);
    let summary = &crate::sync::report(&report_path)["summary"];
    assert_eq!(
        (summary["updated"].as_u64(), summary["created"].as_u64()),
        (Some(300), Some(10))
    );
    assert_eq!(emulator.profiles().len(), 310);
    assert!(
        emulator
            .profiles()
            .iter()
            .all(|p| p["attributes"]["saddle_height"] == "90cm")
    );
    // The state holds what was written: the same export again sends nothing.
    let seen = faults.requests_seen();
    let (code, _, stderr) = crate::sync::sync(&args, &crate::sync::env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(faults.requests_seen() - seen, 0, "{stderr}");
}
