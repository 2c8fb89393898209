//! No credential, token or signature appears anywhere a user can see: every vendor's flows
//! (syncs and single commands, each authentication scheme, refusals), run by the real
//! binary with logging at TRACE and with faults injected, leave no secret in standard
//! output, standard error, the state database or the report; and no snapshot in the repository
//! holds an authorization value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use profile_emulator::RandomFaults;
use profile_emulator::capture::{CaptureEmulator, DEMO_ACCESS_TOKEN, SEED_CLIENT_1, SEED_CLIENT_2};
use profile_emulator::lumapps::{
    DEMO_CLIENT, DEMO_TOKEN, LumAppsConfig, LumAppsEmulator, SEED_CUSTOMER, SEED_DIRECTORY,
};
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use tokio::process::Command;

use crate::PROFILES;

/// Values that must never be seen, and the schemes that start an authorization value.
fn forbidden() -> Vec<&'static str> {
    vec![
        SEED_API_TOKEN,
        SEED_CLIENT_1.1,
        SEED_CLIENT_2.1,
        DEMO_ACCESS_TOKEN,
        DEMO_CLIENT.1,
        DEMO_TOKEN,
        "wrong-token-value",
        // Tokens the LumApps emulator issues for an application's secret.
        "lumapps-token-",
        "Basic ",
        "Bearer ",
        "Signature ",
        "OAuth ",
    ]
}

fn assert_clean(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(!text.contains(secret), "{what} shows {secret:?}:\n{text}");
    }
}

fn chaos() -> RandomFaults {
    RandomFaults::new(7)
        .unavailable(0.10)
        .rate_limited(0.05, Duration::from_secs(1))
        .drop_after_write(0.02)
        .truncated(0.02)
}

fn dir(name: &str) -> PathBuf {
    crate::scratch_dir(&format!("secrets-{name}"))
}

/// Runs `profiles` with logging at TRACE; checks and returns what it printed.
async fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(PROFILES)
        .args(args)
        .env("PROFILES_LOG", "trace")
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let command = args.join(" ");
    assert_clean(&format!("stdout of `{command}`"), &stdout);
    assert_clean(&format!("stderr of `{command}`"), &stderr);
    (output.status.code().unwrap_or(-1), stderr)
}

/// A sync with a state database and a report; checks both (the database byte for byte,
/// its write-ahead log included).
async fn sync(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let state = dir.join("state.db");
    let report = dir.join("report.json");
    let mut all = vec!["sync"];
    all.extend_from_slice(args);
    all.extend([
        "--state",
        state.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let (code, stderr) = run(&all, env).await;
    assert!(code == 0 || code == 1, "{stderr}");
    let database = std::fs::read(&state).unwrap();
    assert_clean("the state database", &String::from_utf8_lossy(&database));
    if let Ok(log) = std::fs::read(dir.join("state.db-wal")) {
        assert_clean("its write-ahead log", &String::from_utf8_lossy(&log));
    }
    assert_clean("the report", &std::fs::read_to_string(&report).unwrap());
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunshine_flows_show_no_secret() {
    let emulator = SunshineEmulator::start().await.unwrap();
    let profiles: Vec<serde_json::Value> = (0..60)
        .map(|i| serde_json::json!({"source": "coolbikes", "type": "rider", "identifiers": [{"type": "email", "value": format!("rider{i}@example.com")}], "attributes": {"saddle_height": "85cm"}}))
        .collect();
    emulator.seed(&profiles).unwrap();
    let base = emulator.base_url();
    let dir = dir("sunshine");
    let input = dir.join("riders.csv");
    let mut csv = String::from("email,saddle\n");
    for i in 0..60 {
        csv.push_str(&format!("rider{i}@example.com,{}cm\n", 80 + i % 10));
    }
    std::fs::write(&input, csv).unwrap();
    let env = [
        ("ZENDESK_BASE_URL", base.as_str()),
        ("ZENDESK_EMAIL", SEED_EMAIL),
        ("ZENDESK_API_TOKEN", SEED_API_TOKEN),
    ];
    emulator.faults().set_random(Some(chaos()));
    let stderr = sync(
        &dir,
        &[
            "--vendor",
            "sunshine",
            "--source",
            "coolbikes",
            "--type",
            "rider",
            "--map",
            "saddle=attributes.saddle_height",
            "--input",
            input.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "logging is on: {stderr}"
    );
    emulator.faults().set_random(None);
    let target = ["--identifier", "coolbikes:rider:email:rider1@example.com"];
    let mut update = vec!["sunshine", "update"];
    update.extend(target);
    update.extend(["--set", "name=Rider One"]);
    let (code, stderr) = run(&update, &env).await;
    assert_eq!(code, 0, "{stderr}");
    // Refused credentials, and OAuth.
    let wrong = [
        ("ZENDESK_BASE_URL", base.as_str()),
        ("ZENDESK_EMAIL", SEED_EMAIL),
        ("ZENDESK_API_TOKEN", "wrong-token-value"),
    ];
    let mut get = vec!["sunshine", "get"];
    get.extend(target);
    let (code, stderr) = run(&get, &wrong).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("401"), "{stderr}");
    let oauth = [
        ("ZENDESK_BASE_URL", base.as_str()),
        ("ZENDESK_OAUTH_TOKEN", "wrong-token-value"),
    ];
    let (code, _) = run(&get, &oauth).await;
    assert_ne!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_flows_show_no_secret() {
    let emulator = CaptureEmulator::start().await.unwrap();
    let base = emulator.base_url();
    let records: Vec<serde_json::Value> = (0..60)
        .map(|i| serde_json::json!({"email": format!("m{i}@example.com"), "givenName": "M"}))
        .collect();
    emulator.seed("user", &records).unwrap();
    let dir = dir("capture");
    let input = dir.join("members.csv");
    let mut csv = String::from("mail,first\n");
    for i in 0..60 {
        csv.push_str(&format!("m{i}@example.com,Member {i}\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let basic = [
        ("CAPTURE_BASE_URL", base.as_str()),
        ("CAPTURE_CLIENT_ID", SEED_CLIENT_2.0),
        ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_2.1),
    ];
    emulator.faults().set_random(Some(chaos()));
    sync(
        &dir,
        &[
            "--vendor",
            "capture",
            "--type-name",
            "user",
            "--key",
            "mail",
            "--map",
            "first=givenName",
            "--input",
            input.to_str().unwrap(),
        ],
        &basic,
    )
    .await;
    emulator.faults().set_random(None);
    let signed = [
        ("CAPTURE_BASE_URL", base.as_str()),
        ("CAPTURE_CLIENT_ID", SEED_CLIENT_1.0),
        ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_1.1),
        ("CAPTURE_SIGNED", "1"),
    ];
    let update = [
        "capture",
        "update",
        "--id",
        "5254",
        "--set",
        "givenName=Gary",
    ];
    let (code, stderr) = run(&update, &signed).await;
    assert_eq!(code, 0, "{stderr}");
    let oauth = [
        ("CAPTURE_BASE_URL", base.as_str()),
        ("CAPTURE_ACCESS_TOKEN", DEMO_ACCESS_TOKEN),
    ];
    let (code, stderr) = run(&["capture", "get", "--id", "5254"], &oauth).await;
    assert_eq!(code, 0, "{stderr}");
    let wrong = [
        ("CAPTURE_BASE_URL", base.as_str()),
        ("CAPTURE_CLIENT_ID", SEED_CLIENT_1.0),
        ("CAPTURE_CLIENT_SECRET", "wrong-token-value"),
        ("CAPTURE_SIGNED", "1"),
    ];
    let (code, _) = run(&update, &wrong).await;
    assert_ne!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lumapps_flows_show_no_secret() {
    let emulator = LumAppsEmulator::start_with(
        LumAppsConfig::default().synthetic_users(60),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let base = emulator.base_url();
    let dir = dir("lumapps");
    let input = dir.join("hr.csv");
    let mut csv = String::from("work_email,job_title\n");
    for i in 0..60 {
        csv.push_str(&format!("user{i:07}@customer.com,Engineer {i}\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let application = [
        ("LUMAPPS_BASE_URL", base.as_str()),
        ("LUMAPPS_CUSTOMER_ID", SEED_CUSTOMER),
        ("LUMAPPS_CLIENT_ID", DEMO_CLIENT.0),
        ("LUMAPPS_CLIENT_SECRET", DEMO_CLIENT.1),
        ("LUMAPPS_USER_EMAIL", "me@customer.com"),
    ];
    emulator.faults().set_random(Some(chaos()));
    sync(
        &dir,
        &[
            "--vendor",
            "lumapps",
            "--directory",
            SEED_DIRECTORY,
            "--key",
            "work_email",
            "--map",
            "job_title=Title",
            "--input",
            input.to_str().unwrap(),
        ],
        &application,
    )
    .await;
    emulator.faults().set_random(None);
    let token = [
        ("LUMAPPS_BASE_URL", base.as_str()),
        ("LUMAPPS_TOKEN", DEMO_TOKEN),
    ];
    let get = [
        "lumapps",
        "get",
        "--directory",
        SEED_DIRECTORY,
        "--email",
        "user0000001@customer.com",
    ];
    let (code, stderr) = run(&get, &token).await;
    assert_eq!(code, 0, "{stderr}");
    let wrong = [
        ("LUMAPPS_BASE_URL", base.as_str()),
        ("LUMAPPS_TOKEN", "wrong-token-value"),
    ];
    let (code, _) = run(&get, &wrong).await;
    assert_ne!(code, 0);
}

#[test]
fn no_snapshot_holds_an_authorization_value() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut snapshots = Vec::new();
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.ends_with("target") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "snap") {
                snapshots.push(path);
            }
        }
    }
    assert!(snapshots.len() >= 20, "found {} snapshots", snapshots.len());
    for path in snapshots {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_clean(&path.display().to_string(), &text);
        for line in text.lines() {
            if line.to_ascii_lowercase().starts_with("authorization:") {
                assert!(line.contains("redacted"), "{}: {line}", path.display());
            }
        }
    }
}
