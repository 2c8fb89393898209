//! `profiles <vendor> get|update` against the emulators.

use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsEmulator};
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use tokio::process::Command;

use crate::PROFILES;

async fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(PROFILES)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunshine_update_and_get_with_credentials_from_the_environment() {
    let emulator = SunshineEmulator::start().await.unwrap();
    let base = emulator.base_url();
    let env = [
        ("ZENDESK_BASE_URL", base.as_str()),
        ("ZENDESK_EMAIL", SEED_EMAIL),
        ("ZENDESK_API_TOKEN", SEED_API_TOKEN),
    ];
    reqwest::Client::new()
        .put(format!(
            "{base}/api/v2/user_profiles?identifier=coolbikes%3Arider%3Aemail%3Ajdoe%40example.com"
        ))
        .basic_auth(format!("{SEED_EMAIL}/token"), Some(SEED_API_TOKEN))
        .header("content-type", "application/json")
        .body(r#"{"profile":{"name":"sunshine_user","attributes":{"favorite_color":"red"}}}"#)
        .send()
        .await
        .unwrap();
    let q = "coolbikes:rider:email:jdoe@example.com";
    let (ok, stdout, stderr) = run(
        &[
            "sunshine",
            "update",
            "--identifier",
            q,
            "--set",
            "name=Jane Doe",
            "--set",
            "attributes.saddle_height=87cm",
            "--output",
            "json",
        ],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");
    let profile: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(profile["name"], "Jane Doe");
    assert_eq!(
        profile["attributes"],
        serde_json::json!({"favorite_color": "red", "saddle_height": "87cm"})
    );
    let (ok, stdout, _) = run(&["sunshine", "get", "--identifier", q], &env).await;
    assert!(ok);
    // A table shows values as they read: no JSON quotes.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("attributes.saddle_height"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.ends_with("  87cm"), "{line}");
    assert!(
        stdout
            .lines()
            .any(|l| l == "name                       Jane Doe"),
        "{stdout}"
    );
    for text in [&stdout, &stderr] {
        assert!(!text.contains(SEED_API_TOKEN));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_prints_the_request_and_sends_nothing() {
    let emulator = SunshineEmulator::start().await.unwrap();
    let base = emulator.base_url();
    let env = [
        ("ZENDESK_BASE_URL", base.as_str()),
        ("ZENDESK_EMAIL", SEED_EMAIL),
        ("ZENDESK_API_TOKEN", SEED_API_TOKEN),
    ];
    let (ok, stdout, _) = run(
        &[
            "sunshine",
            "update",
            "--identifier",
            "coolbikes:rider:email:jdoe@example.com",
            "--set",
            "name=Jane",
            "--dry-run",
        ],
        &env,
    )
    .await;
    assert!(ok);
    assert!(stdout.starts_with("PATCH http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("authorization: ** redacted **"));
    assert!(!stdout.contains(SEED_API_TOKEN));
    assert_eq!(emulator.faults().requests_seen(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_update_by_key_attribute() {
    let emulator = CaptureEmulator::start().await.unwrap();
    let base = emulator.base_url();
    let env = [
        ("CAPTURE_BASE_URL", base.as_str()),
        ("CAPTURE_CLIENT_ID", SEED_CLIENT_2.0),
        ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_2.1),
    ];
    let (ok, stdout, stderr) = run(
        &[
            "capture",
            "update",
            "--key",
            "email=gjack@example.com",
            "--set",
            "displayName=Gary Jackson",
            "--output",
            "json",
        ],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");
    let record: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(record["displayName"], "Gary Jackson");
    let (ok, _, _) = run(
        &[
            "capture",
            "update",
            "--id",
            "5254",
            "--set",
            "displayName=x",
            "--signed",
        ],
        &env,
    )
    .await;
    assert!(ok, "signed requests work too");
}

/// The vendor's second example: one element of a plural, by its id; and a nested
/// attribute by its path, beside a plain one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_update_of_a_plural_element_and_a_nested_path() {
    let emulator = CaptureEmulator::start().await.unwrap();
    let base = emulator.base_url();
    let env = [
        ("CAPTURE_BASE_URL", base.as_str()),
        ("CAPTURE_CLIENT_ID", SEED_CLIENT_2.0),
        ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_2.1),
    ];
    let (ok, stdout, stderr) = run(
        &[
            "capture",
            "update",
            "--id",
            "5252",
            "--set",
            "/statuses#5253/status=active",
            "--set",
            "givenName=Alice",
            "--output",
            "json",
        ],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");
    let record: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(record["givenName"], "Alice");
    // The element was replaced in place, not appended.
    assert_eq!(
        record["statuses"],
        serde_json::json!([{"id": 5253, "status": "active"}])
    );
    // The dry run shows both calls, the path as Capture's attribute_name.
    let (ok, stdout, _) = run(
        &[
            "capture",
            "update",
            "--id",
            "5252",
            "--set",
            "/statuses#5253/status=inactive",
            "--set",
            "givenName=Al",
            "--dry-run",
        ],
        &env,
    )
    .await;
    assert!(ok);
    assert_eq!(
        stdout.matches("POST http://127.0.0.1:").count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains("attribute_name = /statuses#5253/status"),
        "{stdout}"
    );
    let refused = run(
        &[
            "capture",
            "update",
            "--id",
            "5252",
            "--set",
            "/statuses#x/status=a",
        ],
        &env,
    )
    .await;
    assert!(
        !refused.0 && refused.2.contains("plural element id"),
        "{}",
        refused.2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lumapps_update_by_title() {
    let emulator = LumAppsEmulator::start().await.unwrap();
    let base = emulator.base_url();
    let env = [
        ("LUMAPPS_BASE_URL", base.as_str()),
        ("LUMAPPS_TOKEN", DEMO_TOKEN),
    ];
    let (ok, _, stderr) = run(
        &[
            "lumapps",
            "update",
            "--directory",
            "6486401110769664",
            "--email",
            "me@customer.com",
            "--set",
            "Title=Support Leader",
        ],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(
        emulator.user("me@customer.com").unwrap()["apiProfile"]["organizations"]["title"],
        "Support Leader"
    );
    let (ok, _, stderr) = run(
        &[
            "lumapps",
            "update",
            "--directory",
            "6486401110769664",
            "--email",
            "me@customer.com",
            "--set",
            "Shoe size=44",
        ],
        &env,
    )
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("the directory has no field `Shoe size`"),
        "{stderr}"
    );
    // `get` shows each directory field's title beside where its value is kept.
    let (ok, stdout, stderr) = run(
        &[
            "lumapps",
            "get",
            "--directory",
            "6486401110769664",
            "--email",
            "me@customer.com",
            "--lang",
            "en",
        ],
        &env,
    )
    .await;
    assert!(ok, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("apiProfile.organizations.title (Title)"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.ends_with("  Support Leader"), "{line}");
}

#[tokio::test]
async fn missing_credentials_and_plain_http_are_refused_with_a_message() {
    let (ok, _, stderr) = run(
        &[
            "sunshine",
            "get",
            "--id",
            "x",
            "--base-url",
            "https://coolbikes.zendesk.com",
        ],
        &[],
    )
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("the Zendesk e-mail is missing: pass --agent-email or set ZENDESK_EMAIL"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(
        &[
            "sunshine",
            "get",
            "--id",
            "x",
            "--base-url",
            "http://coolbikes.zendesk.com",
            "--agent-email",
            "a@b.c",
            "--api-token",
            "t",
        ],
        &[],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("plain http"), "{stderr}");
}
