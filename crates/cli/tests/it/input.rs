//! Real exports in: delimiters, encodings, empty files and cells, upper-case keys.

use crate::sync::{
    capture_with_riders, dir, env_refs, report, sunshine_env, sunshine_with_riders, sync,
    sync_owned,
};

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
async fn an_upper_case_email_finds_its_capture_record_with_or_without_key_lowercase() {
    let emulator = capture_with_riders(2).await;
    let env = crate::sync::capture_env(&emulator);
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
    // Capture matches addresses exactly, but the night's bulk read found the record under
    // the address in lower case: it is updated by its uuid, not reported missing.
    let (code, _, stderr) = sync_owned(&args(&[]), &env).await;
    assert_eq!(code, 0, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (summary["updated"].as_u64(), summary["missing"].as_u64()),
        (Some(1), Some(0)),
        "{stderr}"
    );
    // With --key-lowercase the address itself is sent in lower case: nothing left to write.
    std::fs::write(&input, "email,family\nRider1@Example.COM,Newer\n").unwrap();
    let (code, _, stderr) = sync_owned(&args(&["--key-lowercase"]), &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&report_path)["summary"]["updated"], 1, "{stderr}");
    let record = emulator
        .records("user")
        .into_iter()
        .find(|r| r["email"] == "rider1@example.com")
        .unwrap();
    assert_eq!(record["familyName"], "Newer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_the_rows_in_flight_writes_the_report_and_exits_130() {
    let n = 300;
    let emulator = sunshine_with_riders(n).await;
    let env = sunshine_env(&emulator.base_url());
    let dir = dir();
    let input = dir.join("riders.csv");
    crate::sync::riders_csv(&input, n);
    let (state, report_path) = (dir.join("state.db"), dir.join("report.json"));
    let args = vec![
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
        "--state",
        state.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
        "--rate",
        "1200",
    ];
    let before = emulator.faults().requests_seen();
    let child = tokio::process::Command::new(crate::PROFILES)
        .args(&args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while emulator.faults().requests_seen() < before + 40 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted: finishing the rows in flight"),
        "{stderr}"
    );
    assert!(
        stderr.contains("sync: "),
        "the summary is printed: {stderr}"
    );
    let first = report(&report_path);
    let rows = first["summary"]["rows"].as_u64().unwrap();
    assert!(rows > 0 && rows < n as u64, "{first}");
    assert!(
        first["stopped"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{first}"
    );
    // The same command finishes the run (without a client limit here, to be quick).
    let mut again: Vec<&str> = args[1..].to_vec();
    let at = again.iter().position(|a| *a == "1200").unwrap();
    again[at] = "0";
    let (code, _, stderr) = sync(&again, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&report_path)["runs"].as_array().unwrap().len(), 2);
}

/// Starts a Sunshine night of the export and state in `args` (`--input` first) against an
/// emulator held to one request a minute, and waits until it is in the vendor's wait: the
/// first row's read went through, the next requests were told to wait (its 429s say so),
/// for far longer than anyone waits at a terminal.
async fn night_in_the_vendors_wait(
    emulator: &profile_emulator::sunshine::SunshineEmulator,
    env: &[(&'static str, String)],
    args: &[&std::ffi::OsStr],
) -> tokio::process::Child {
    emulator.faults().set_rate_limit_per_minute(Some(1));
    let seen = emulator.faults().requests_seen();
    let child = tokio::process::Command::new(crate::PROFILES)
        .args([
            "sync",
            "--vendor",
            "sunshine",
            "--source",
            "coolbikes",
            "--type",
            "rider",
        ])
        .args([
            "--map",
            "saddle=attributes.saddle_height",
            "--rate",
            "0",
            "--input",
        ])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while emulator.faults().requests_seen() < seen + 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_a_wait_for_the_vendors_limit_and_records_the_run_as_interrupted() {
    let n = 20;
    let emulator = sunshine_with_riders(n).await;
    let env = sunshine_env(&emulator.base_url());
    let dir = dir();
    let input = dir.join("riders.csv");
    crate::sync::riders_csv(&input, n);
    let (state, report_path) = (dir.join("state.db"), dir.join("report.json"));
    let child = night_in_the_vendors_wait(
        &emulator,
        &env,
        &[
            input.as_os_str(),
            "--state".as_ref(),
            state.as_os_str(),
            "--report".as_ref(),
            report_path.as_os_str(),
        ],
    )
    .await;
    let pid = child.id().unwrap().to_string();
    let interrupted = std::time::Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    // The grace is 5 s; the vendor asked for a minute.
    assert!(
        interrupted.elapsed() < std::time::Duration::from_secs(15),
        "{stderr}"
    );
    let report = report(&report_path);
    assert!(
        report["stopped"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{report}"
    );
    let status: String = rusqlite::Connection::open(&state)
        .unwrap()
        .query_row(
            "SELECT status FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(status, "stopped");
    emulator.faults().set_rate_limit_per_minute(None);
    // The next run finishes it.
    let (code, _, stderr) = sync(
        &[
            "--vendor",
            "sunshine",
            "--source",
            "coolbikes",
            "--type",
            "rider",
            "--map",
            "saddle=attributes.saddle_height",
            "--rate",
            "0",
            "--input",
            input.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
        &env_refs(&env),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("did not finish; this run"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_leaves_at_once_with_the_run_recorded_as_stopped() {
    let n = 20;
    let emulator = sunshine_with_riders(n).await;
    let env = sunshine_env(&emulator.base_url());
    let dir = dir();
    let input = dir.join("riders.csv");
    crate::sync::riders_csv(&input, n);
    let state = dir.join("state.db");
    let child = night_in_the_vendors_wait(
        &emulator,
        &env,
        &[input.as_os_str(), "--state".as_ref(), state.as_os_str()],
    )
    .await;
    let pid = child.id().unwrap().to_string();
    let interrupted = std::time::Instant::now();
    for _ in 0..2 {
        assert!(
            std::process::Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    // Not the 5 s grace: the second Ctrl-C left the rows in flight.
    assert!(
        interrupted.elapsed() < std::time::Duration::from_secs(4),
        "{stderr}"
    );
    assert!(stderr.contains("leaving the rows in flight"), "{stderr}");
    let status: String = rusqlite::Connection::open(&state)
        .unwrap()
        .query_row(
            "SELECT status FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(status, "stopped");
    emulator.faults().set_rate_limit_per_minute(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_prints_only_errors_verbose_adds_the_request_log_and_completions_are_made() {
    let emulator = sunshine_with_riders(3).await;
    let env = sunshine_env(&emulator.base_url());
    let dir = dir();
    let input = dir.join("riders.csv");
    crate::sync::riders_csv(&input, 3);
    let path = input.to_str().unwrap();
    let base = sunshine_args(path, &[]);
    let mut quiet = vec!["-q"];
    quiet.extend(base.iter().filter(|a| **a != "--map" && **a != "name=name"));
    quiet.insert(
        quiet
            .iter()
            .position(|a| *a == "saddle=attributes.saddle_height")
            .unwrap(),
        "--map",
    );
    let (code, stdout, stderr) = sync(&quiet, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", ""));
    let mut verbose = quiet.clone();
    verbose[0] = "-v";
    let (code, _, stderr) = sync(&verbose, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("DEBUG"), "{stderr}");
    assert!(stderr.contains("sync: 3 rows"), "{stderr}");
    assert!(!stderr.contains(profile_emulator::sunshine::SEED_API_TOKEN));
    // An error still shows with -q.
    let missing = dir.join("nope.csv");
    let mut broken = quiet.clone();
    let at = broken.iter().position(|a| *a == path).unwrap();
    broken[at] = missing.to_str().unwrap();
    let (code, _, stderr) = sync(&broken, &env_refs(&env)).await;
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error: cannot read"), "{stderr}");

    for shell in ["bash", "zsh", "fish"] {
        let output = std::process::Command::new(crate::PROFILES)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(output.status.success());
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(
            script.contains("profiles") && script.contains("--state"),
            "{shell}"
        );
    }
}
