//! The exit-code table of docs/cli.md, flags that belong to another vendor, and the
//! message of a vendor that cannot be reached.

use std::process::Output;

use profile_emulator::capture::CaptureEmulator;
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use tokio::process::Command;

use crate::PROFILES;

async fn profiles(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(PROFILES)
        .args(args)
        .env_remove("ZENDESK_BASE_URL")
        .env_remove("CAPTURE_BASE_URL")
        .env_remove("LUMAPPS_BASE_URL")
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn sunshine_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ZENDESK_BASE_URL", base.to_owned()),
        ("ZENDESK_EMAIL", SEED_EMAIL.to_owned()),
        ("ZENDESK_API_TOKEN", SEED_API_TOKEN.to_owned()),
    ]
}

fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn a_vendor_command_shows_and_takes_only_its_own_flags() {
    let help = profiles(&["sunshine", "get", "--help"], &[]).await;
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success());
    for own in [
        "--agent-email",
        "--api-token",
        "--oauth-token",
        "--base-url",
    ] {
        assert!(text.contains(own), "{own} missing from:\n{text}");
    }
    for foreign in [
        "--client-id",
        "--signed",
        "--access-token",
        "--customer-id",
        "--token ",
    ] {
        assert!(!text.contains(foreign), "{foreign} listed in:\n{text}");
    }
    // Another vendor's flag is refused by the parser: a usage error.
    let refused = profiles(&["sunshine", "get", "--id", "01", "--client-id", "x"], &[]).await;
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--client-id"),
        "{}",
        stderr(&refused)
    );
    let capture_help = profiles(&["capture", "update", "--help"], &[]).await;
    let text = String::from_utf8_lossy(&capture_help.stdout);
    assert!(text.contains("--client-id") && text.contains("--signed"));
    assert!(!text.contains("--agent-email") && !text.contains("--customer-id"));
}

#[tokio::test]
async fn a_sync_refuses_the_flags_of_another_vendor_before_sending_anything() {
    let emulator = CaptureEmulator::start().await.unwrap();
    let dir = crate::scratch_dir("exits");
    let input = dir.join("users.csv");
    std::fs::write(&input, "email,givenName\ngjack@example.com,Gary\n").unwrap();
    let base = emulator.base_url();
    for (flag, value) in [
        ("--oauth-token", Some("t")),
        ("--source", Some("coolbikes")),
        ("--directory", Some("d1")),
        ("--customer-id", Some("c1")),
    ] {
        let mut args = vec![
            "sync",
            "--vendor",
            "capture",
            "--input",
            input.to_str().unwrap(),
            "--map",
            "givenName=givenName",
            "--base-url",
            &base,
            "--client-id",
            "id",
            "--client-secret",
            "secret",
            flag,
        ];
        args.extend(value);
        let output = profiles(&args, &[]).await;
        assert_eq!(output.status.code(), Some(2), "{flag}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("error: {flag} does not apply to --vendor capture")),
            "{flag}: {}",
            stderr(&output)
        );
    }
    assert_eq!(emulator.faults().requests_seen(), 0);
}

#[tokio::test]
async fn every_command_exits_by_one_table() {
    let emulator = SunshineEmulator::start().await.unwrap();
    let env = sunshine_env(&emulator.base_url());
    let env = pairs(&env);
    let rider = ["--identifier", "coolbikes:rider:email:nobody@example.com"];

    // 2: configuration. The same missing base URL in a single command and in a sync.
    let update = profiles(
        &["sunshine", "update", rider[0], rider[1], "--set", "name=Jo"],
        &[],
    )
    .await;
    assert_eq!(update.status.code(), Some(2), "{}", stderr(&update));
    assert!(
        stderr(&update)
            .contains("the base URL is missing: pass --base-url or set ZENDESK_BASE_URL")
    );
    let dir = crate::scratch_dir("exits");
    let input = dir.join("riders.csv");
    std::fs::write(&input, "email,saddle\nnobody@example.com,85cm\n").unwrap();
    let sync_args = [
        "sync",
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
    ];
    let sync = profiles(&sync_args, &[]).await;
    assert_eq!(sync.status.code(), Some(2), "{}", stderr(&sync));
    assert!(stderr(&sync).contains("the base URL is missing"));

    // 2: input refused before sending (a name that is not a string, by the sync's rule).
    let not_a_string = profiles(
        &["sunshine", "update", rider[0], rider[1], "--set", "name=42"],
        &env,
    )
    .await;
    assert_eq!(
        not_a_string.status.code(),
        Some(2),
        "{}",
        stderr(&not_a_string)
    );
    assert!(stderr(&not_a_string).contains("`name` must be a string"));
    assert_eq!(emulator.faults().requests_seen(), 0);

    // 1: the vendor refused (404), in a single command and for a sync's rows.
    let missing = profiles(&["sunshine", "get", rider[0], rider[1]], &env).await;
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("HTTP 404"),
        "{}",
        stderr(&missing)
    );
    // A rider the vendor does not have is `missing` in --mode update, not a failure.
    let missing_rows = profiles(&sync_args, &env).await;
    assert_eq!(
        missing_rows.status.code(),
        Some(0),
        "{}",
        stderr(&missing_rows)
    );
    assert!(
        stderr(&missing_rows).contains("1 missing"),
        "{}",
        stderr(&missing_rows)
    );
    // A row the vendor refuses is.
    emulator.faults().fail_next(1, 400);
    let failed_rows = profiles(&sync_args, &env).await;
    assert_eq!(
        failed_rows.status.code(),
        Some(1),
        "{}",
        stderr(&failed_rows)
    );

    // 0: done.
    let created = profiles(
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
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
}

#[tokio::test]
async fn a_vendor_that_cannot_be_reached_is_named_with_the_reason() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("ZENDESK_EMAIL", SEED_EMAIL),
        ("ZENDESK_API_TOKEN", SEED_API_TOKEN),
        ("ZENDESK_BASE_URL", base.as_str()),
    ];
    let refused = profiles(&["sunshine", "get", "--id", "01"], &env).await;
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains(&format!(
            "error: cannot reach 127.0.0.1:{port}: connection refused"
        )),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("caused by:"),
        "{}",
        stderr(&refused)
    );

    // A host name with a 70-letter label: the resolver refuses it on this machine, without
    // a query leaving it (over https, the TLS library refuses the name first; both are the
    // name's fault).
    let host = format!("{}.example", "a".repeat(70));
    for (scheme, port) in [("http", 80), ("https", 443)] {
        let base = format!("{scheme}://{host}");
        let env = [
            ("ZENDESK_EMAIL", SEED_EMAIL),
            ("ZENDESK_API_TOKEN", SEED_API_TOKEN),
            ("ZENDESK_BASE_URL", base.as_str()),
        ];
        let unknown = profiles(
            &["sunshine", "get", "--id", "01", "--allow-plain-http"],
            &env,
        )
        .await;
        assert_eq!(unknown.status.code(), Some(1), "{}", stderr(&unknown));
        assert!(
            stderr(&unknown).contains(&format!(
                "error: cannot reach {host}:{port}: DNS lookup failed"
            )),
            "{}",
            stderr(&unknown)
        );
    }
}
