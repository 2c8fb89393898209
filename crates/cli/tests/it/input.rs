//! Real exports in: delimiters, encodings, empty files and cells, upper-case keys.

use crate::sync::{
    capture_with_riders, dir, env_refs, report, sunshine_env, sunshine_with_riders, sync,
};
use profile_emulator::capture::SEED_CLIENT_2;

fn sunshine_args<'a>(input: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--vendor",
        "sunshine",
        "--source",
        "coolbikes",
        "--type",
        "rider",
        "--map",
        "saddle=attributes.saddle_height",
        "--map",
        "name=name",
        "--input",
        input,
        "--rate",
        "0",
    ];
    args.extend_from_slice(extra);
    args
}

fn rider(
    emulator: &profile_emulator::sunshine::SunshineEmulator,
    email: &str,
) -> serde_json::Value {
    emulator
        .profiles()
        .into_iter()
        .find(|p| p["identifiers"][0]["value"] == email)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semicolons_latin1_and_empty_files_are_read_or_refused_with_what_to_do() {
    let emulator = sunshine_with_riders(2).await;
    let env = sunshine_env(&emulator.base_url());
    let dir = dir();
    let input = dir.join("hr.csv");
    let path = input.to_str().unwrap();

    // A semicolon export without --delimiter: refused before anything is sent, with the fix.
    std::fs::write(&input, "email;saddle;name\nrider0@example.com;90cm;Zoë\n").unwrap();
    let (code, _, stderr) = sync(&sunshine_args(path, &[]), &env_refs(&env)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("splits on semicolons: pass --delimiter ';'"),
        "{stderr}"
    );
    let (code, _, stderr) =
        sync(&sunshine_args(path, &["--delimiter", ";"]), &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rider(&emulator, "rider0@example.com")["name"], "Zoë");

    // Excel's Windows-1252: refused without --encoding, naming the line; read with it.
    std::fs::write(
        &input,
        b"email,saddle,name\nrider1@example.com,91cm,Ren\xe9e\n",
    )
    .unwrap();
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync(&sunshine_args(path, &[]), &env_refs(&env)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("line 2 is not UTF-8"), "{stderr}");
    assert!(stderr.contains("--encoding windows-1252"), "{stderr}");
    assert_eq!(emulator.faults().requests_seen(), seen);
    let (code, _, stderr) = sync(
        &sunshine_args(path, &["--encoding", "windows-1252"]),
        &env_refs(&env),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rider(&emulator, "rider1@example.com")["name"], "Renée");

    // An empty file says so.
    std::fs::write(&input, "").unwrap();
    let (code, _, stderr) = sync(&sunshine_args(path, &[]), &env_refs(&env)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("hr.csv is empty"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_cell_is_skipped_by_default_and_clears_with_empty_clear() {
    let emulator = sunshine_with_riders(1).await;
    let env = sunshine_env(&emulator.base_url());
    let dir = dir();
    let input = dir.join("hr.csv");
    let path = input.to_str().unwrap();
    std::fs::write(
        &input,
        "email,saddle,name\nrider0@example.com,,Rider Zero\n",
    )
    .unwrap();
    let (code, _, stderr) = sync(&sunshine_args(path, &[]), &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        rider(&emulator, "rider0@example.com")["attributes"]["saddle_height"],
        "85cm"
    );
    let (code, _, stderr) =
        sync(&sunshine_args(path, &["--empty", "clear"]), &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let rider0 = rider(&emulator, "rider0@example.com");
    assert!(
        rider0["attributes"].get("saddle_height").is_none(),
        "{rider0}"
    );
    assert_eq!(rider0["name"], "Rider Zero");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upper_case_email_finds_its_capture_record_with_key_lowercase() {
    let emulator = capture_with_riders(2).await;
    let env = vec![
        ("CAPTURE_BASE_URL", emulator.base_url()),
        ("CAPTURE_CLIENT_ID", SEED_CLIENT_2.0.to_owned()),
        ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_2.1.to_owned()),
    ];
    let dir = dir();
    let input = dir.join("hr.csv");
    std::fs::write(&input, "email,family\nRider1@Example.COM,Newname\n").unwrap();
    let report_path = dir.join("report.json");
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "--vendor".to_owned(),
            "capture".to_owned(),
            "--map".to_owned(),
            "family=familyName".to_owned(),
            "--input".to_owned(),
            input.to_str().unwrap().to_owned(),
            "--report".to_owned(),
            report_path.to_str().unwrap().to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let run = |args: Vec<String>| {
        let env = env.clone();
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            sync(&refs, &env_refs(&env)).await
        }
    };
    let (code, _, stderr) = run(args(&[])).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        report(&report_path)["summary"]["missing"],
        1,
        "Capture matches exactly"
    );
    let (code, _, stderr) = run(args(&["--key-lowercase"])).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&report_path)["summary"]["updated"], 1, "{stderr}");
    let record = emulator
        .records("user")
        .into_iter()
        .find(|r| r["email"] == "rider1@example.com")
        .unwrap();
    assert_eq!(record["familyName"], "Newname");
}
