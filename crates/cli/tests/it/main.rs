//! The `profiles` binary, driven as a user would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod docs;
mod errors;
mod exits;
mod identity;
mod input;
mod lease;
mod mapping;
mod modes;
mod postgres;
mod report;
mod secrets;
mod single;
mod state;
mod sync;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

pub const PROFILES: &str = env!("CARGO_BIN_EXE_profiles");

/// A new empty directory under the system's temporary one, for one test's files.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("profiles-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a demo, asserts that it succeeded, and returns what it printed.
async fn run_demo(args: &[&str]) -> String {
    let output = Command::new(PROFILES).args(args).output().await.unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Starts `profiles emulator …` and waits for its first line, `listening on URL`.
async fn spawn_emulator(command: &mut Command) -> (tokio::process::Child, String) {
    let mut child = command
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
    (child, base.to_owned())
}
const SEED_TOKEN: &str = "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_tells_three_nights_for_each_vendor() {
    for vendor in ["sunshine", "capture", "lumapps"] {
        let stdout = run_demo(&["demo", "--vendor", vendor]).await;
        for expected in [
            "== Night 1: 12 joiners",
            "== Night 2: two movers",
            "known from the state",
            "more than --max-leavers 10% allows",
            "-> exit 4;",
            "--allow-leavers 3",
            "Done: the joiners were created",
        ] {
            assert!(
                stdout.contains(expected),
                "{vendor}: missing {expected:?} in:\n{stdout}"
            );
        }
        // Night 2 sends only the movers' writes (LumApps reads each before it saves, and
        // reads the directory's template to check the mapping).
        let night2 = stdout.split("== Night 2").nth(1).unwrap();
        assert!(night2.contains("2 updated"), "{vendor}: {night2}");
        let requests = match vendor {
            "sunshine" => "-> exit 0; 2 requests",
            "capture" => "-> exit 0; 3 requests",
            _ => "-> exit 0; 5 requests",
        };
        assert!(night2.contains(requests), "{vendor}: {night2}");
        if vendor != "lumapps" {
            let night1 = stdout.split("== Night 2").next().unwrap();
            assert!(night1.contains("12 created"), "{vendor}: {night1}");
        }
    }
}

#[tokio::test]
async fn demo_walks_through_the_sunshine_story() {
    let stdout = run_demo(&["demo", "--calls"]).await;
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
async fn demo_walks_through_the_capture_examples() {
    let stdout = run_demo(&["demo", "--vendor", "capture", "--calls"]).await;
    for expected in [
        "POST http://127.0.0.1:",
        "uuid = 6bbe7e58-bede-41b8-940b-5614c7607a4e",
        "attribute_name = /statuses#5253",
        "key_value = \"gjack@example.com\"",
        "value = \"Gary Jackson\"",
        "ok: givenName and familyName changed; attributes not in the call unchanged",
        "ok: element 5253 replaced in place; nothing appended",
        "\"code\": 330",
        "Done: every step behaved as the Capture documentation says.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    for secret in [
        "wt4c3un9wkkcfvyknqx44ync476afs68",
        "unjze9nwkfuy6jpw838qpa7ad3hdnya6",
        "Signature ",
    ] {
        assert!(!stdout.contains(secret), "{secret}");
    }
}

#[tokio::test]
async fn the_capture_emulator_command_serves_the_seed_records() {
    let (mut child, base) = spawn_emulator(Command::new(PROFILES).args([
        "emulator",
        "--vendor",
        "capture",
        "--client",
        "my-client:my-secret",
    ]))
    .await;
    let client = reqwest::Client::new();
    let read = |user: &'static str, secret: &'static str| {
        client
            .post(format!("{base}/entity"))
            .basic_auth(user, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("type_name=user&id=5252")
            .send()
    };
    let body = read("my-client", "my-secret")
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["result"]["statuses"][0]["id"], 5253, "{body}");
    let body = read("my-client", "wrong")
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], 402);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn demo_walks_through_the_lumapps_directory() {
    let stdout = run_demo(&["demo", "--vendor", "lumapps", "--calls"]).await;
    for expected in [
        "/v2/organizations/4664706704080896/application-token",
        "/_ah/api/lumsites/v1/content/list",
        "/_ah/api/lumsites/v1/user/directory/get?contentId=6486401110769664&email=me%40customer.com",
        "/_ah/api/lumsites/v1/user/directory/save",
        "\"contentId\": \"6486401110769664\"",
        "-> apiProfile.organizations.title = \"Support Leader\"",
        "-> customProfile.b72127e4-867a-4aba-a843-70c11dc599ef = \"00 11 22 33 44 55 66\"",
        "Done: every step behaved as the LumApps documentation says.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    for secret in ["demo-secret", "lumapps-token-"] {
        assert!(!stdout.contains(secret), "{secret}");
    }
}

#[tokio::test]
async fn the_lumapps_emulator_command_serves_a_synthetic_directory() {
    let (mut child, base) = spawn_emulator(Command::new(PROFILES).args([
        "emulator", "--vendor", "lumapps", "--users", "1000", "--token", "t-1",
    ]))
    .await;
    let response = reqwest::Client::new()
        .post(format!("{base}/_ah/api/lumsites/v1/user/directory/list"))
        .bearer_auth("t-1")
        .header("content-type", "application/json")
        .body(r#"{"contentId":"6486401110769664","maxResults":"10","cursor":"pos-995"}"#)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body["items"].as_array().unwrap().len(),
        5,
        "4 synthetic users (user0000999 is disabled: listed with status DISABLED) and me@customer.com"
    );
    assert_eq!(body["more"], false);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_emulator_server_injects_random_faults_with_chaos() {
    let (mut child, base) = spawn_emulator(Command::new(PROFILES).args([
        "emulator", "--vendor", "lumapps", "--chaos", "11", "--token", "t-1",
    ]))
    .await;
    let client = reqwest::Client::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for _ in 0..200 {
        let response = client
            .post(format!("{base}/_ah/api/lumsites/v1/user/directory/list"))
            .bearer_auth("t-1")
            .header("content-type", "application/json")
            .timeout(Duration::from_millis(500))
            .body(r#"{"contentId":"6486401110769664"}"#)
            .send()
            .await;
        let status = match response {
            Ok(r) => {
                let status = r.status().as_u16();
                if r.bytes().await.is_ok() { status } else { 0 }
            }
            Err(_) => 0, // dropped or too slow
        };
        *statuses.entry(status).or_default() += 1;
    }
    child.kill().await.unwrap();
    for status in [200, 503, 429, 0] {
        assert!(statuses.contains_key(&status), "{statuses:?}");
    }
    assert!(statuses[&200] > 140, "most requests pass: {statuses:?}");
}

#[tokio::test]
async fn a_flag_of_another_vendor_is_refused() {
    let output = Command::new(PROFILES)
        .args(["emulator", "--vendor", "capture", "--api-token", "a@b.c:t"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("--api-token does not apply to --vendor capture")
    );
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
    let (mut child, base) = spawn_emulator(
        Command::new(PROFILES).args(["emulator", "--vendor", "sunshine", "--port", "0"]),
    )
    .await;
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

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
    let (mut child, base) = spawn_emulator(Command::new(PROFILES).args([
        "emulator",
        "--vendor",
        "sunshine",
        "--api-token",
        "ops@example.com:tok-1",
    ]))
    .await;
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

#[tokio::test]
async fn the_emulator_command_loads_a_seed_file_and_injects_faults() {
    let seed = std::env::temp_dir().join(format!("profiles-seed-{}.json", std::process::id()));
    std::fs::write(
        &seed,
        r#"[{"source":"coolbikes","type":"rider","name":"Jane Doe","identifiers":[{"type":"email","value":"jdoe@example.com"}],"attributes":{"saddle_height":"85cm"}}]"#,
    )
    .unwrap();
    let (mut child, base) = spawn_emulator(
        Command::new(PROFILES)
            .args([
                "emulator",
                "--vendor",
                "sunshine",
                "--fail-first",
                "1",
                "--fail-status",
                "503",
                "--seed",
            ])
            .arg(&seed),
    )
    .await;
    let url = format!(
        "{base}/api/v2/user_profiles?identifier=coolbikes%3Arider%3Aemail%3Ajdoe%40example.com"
    );
    let client = reqwest::Client::new();
    let get = || {
        client
            .get(&url)
            .basic_auth("devs@coolbikes.com/token", Some(SEED_TOKEN))
            .send()
    };
    assert_eq!(
        get().await.unwrap().status().as_u16(),
        503,
        "the first request fails"
    );
    let body: serde_json::Value =
        serde_json::from_slice(&get().await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(body["profile"]["attributes"]["saddle_height"], "85cm");
    child.kill().await.unwrap();
    let _ = std::fs::remove_file(seed);
}

#[tokio::test]
async fn the_capture_emulator_serves_a_schema_from_a_file_and_says_what_it_holds() {
    let dir = scratch_dir("schema");
    let schema = dir.join("member.json");
    std::fs::write(
        &schema,
        r#"{"schema": {"name": "member", "attr_defs": [
            {"name": "email", "type": "string", "constraints": ["unique"]},
            {"name": "roles", "type": "plural", "attr_defs": [{"name": "role", "type": "string"}]}
        ]}}"#,
    )
    .unwrap();
    let seed = dir.join("members.json");
    std::fs::write(
        &seed,
        r#"[{"email": "a@example.com"}, {"email": "b@example.com"}]"#,
    )
    .unwrap();
    let mut child = Command::new(PROFILES)
        .args(["emulator", "--vendor", "capture", "--schema"])
        .arg(&schema)
        .arg("--seed")
        .arg(&seed)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = first.strip_prefix("listening on ").unwrap().to_owned();
    let holding = tokio::time::timeout(Duration::from_secs(20), stderr.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(holding, "holding 2 `member` records");
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/entityType"))
        .basic_auth(
            "ut4bgrra7w282jcfmypfqx9pzhqhjj2b",
            Some("unjze9nwkfuy6jpw838qpa7ad3hdnya6"),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("type_name=member")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    let names: Vec<&str> = answer["schema"]["attr_defs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["id", "uuid", "created", "lastUpdated", "email", "roles"]
    );
    child.kill().await.unwrap();
}
