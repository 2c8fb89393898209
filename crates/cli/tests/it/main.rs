//! The `profiles` binary, driven as a user would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const PROFILES: &str = env!("CARGO_BIN_EXE_profiles");
const SEED_TOKEN: &str = "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv";

#[tokio::test]
async fn demo_walks_through_the_sunshine_story() {
    let output = Command::new(PROFILES).arg("demo").output().await.unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "PUT http://127.0.0.1:",
        "<-- HTTP 201 Created",
        "PATCH http://127.0.0.1:",
        "ok: merged: name and saddle_height changed, favorite_color kept",
        "ok: 200 OK, same id and created_at; comm_pref and joined are gone",
        "<-- HTTP 404 Not Found",
        "authorization: ** redacted **",
        "Done: every step behaved as the Zendesk documentation says.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(!stdout.contains(SEED_TOKEN));
}

#[tokio::test]
async fn demo_output_into_a_closed_pipe_ends_quietly() {
    let mut child = Command::new(PROFILES)
        .arg("demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success());
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

#[tokio::test]
async fn the_emulator_command_prints_its_address_and_serves_until_stopped() {
    let mut child = Command::new(PROFILES)
        .args(["emulator", "--vendor", "sunshine", "--port", "0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line
        .strip_prefix("listening on ")
        .expect("the first line names the address");
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");

    let client = reqwest::Client::new();
    let url = format!(
        "{base}/api/v2/user_profiles?identifier=coolbikes%3Arider%3Aemail%3Ajdoe%40example.com"
    );
    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let authed = client
        .get(&url)
        .basic_auth("devs@coolbikes.com/token", Some(SEED_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(authed.status().as_u16(), 404);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_emulator_takes_other_credentials_from_flags() {
    let mut child = Command::new(PROFILES)
        .args([
            "emulator",
            "--vendor",
            "sunshine",
            "--api-token",
            "ops@example.com:tok-1",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line.strip_prefix("listening on ").unwrap();
    let url = format!("{base}/api/v2/user_profiles/01E06HXMJ8RJ6C0MR142D6FBSA");
    let client = reqwest::Client::new();
    let ok = client
        .get(&url)
        .basic_auth("ops@example.com/token", Some("tok-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 404);
    let seed = client
        .get(&url)
        .basic_auth("devs@coolbikes.com/token", Some(SEED_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(seed.status().as_u16(), 401);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_malformed_flag_is_refused_with_a_message() {
    let output = Command::new(PROFILES)
        .args([
            "emulator",
            "--vendor",
            "sunshine",
            "--api-token",
            "no-colon",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--api-token takes EMAIL:TOKEN"));
}
