//! Who is who: e-mail keys without regard to case, against the emulators.

use crate::sync::{
    SUNSHINE_MAP, capture_env, capture_with_riders, dir, env_refs, report, sunshine_env,
    sunshine_with_riders, sync,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upper_case_address_updates_the_capture_record_it_names_and_creates_none() {
    let emulator = capture_with_riders(3).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    // Capture holds rider1@example.com; the export writes it in capitals.
    std::fs::write(
        &input,
        "email,family\nrider0@example.com,Old\nRider1@Example.COM,Moved\nrider2@example.com,Old\n",
    )
    .unwrap();
    let env = capture_env(&emulator);
    let before = emulator.records("user").len();
    let args = [
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
        "--mode",
        "upsert",
        "--rate",
        "0",
    ];
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let records = emulator.records("user");
    assert_eq!(records.len(), before, "no second record: {records:?}");
    let rider1 = records
        .iter()
        .find(|r| r["email"] == "rider1@example.com")
        .unwrap();
    assert_eq!(rider1["familyName"], "Moved");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (summary["updated"].as_u64(), summary["created"].as_u64()),
        (Some(1), Some(0))
    );
    // The next night, the same export: nothing to send.
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    // The schema check only.
    assert_eq!(emulator.faults().requests_seen() - seen, 1, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_case_changes_between_mirror_nights_deletes_nobody() {
    let emulator = sunshine_with_riders(10).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    let export = |rider7: &str| {
        let mut csv = String::from("email,saddle\n");
        for i in 0..10 {
            let key = if i == 7 {
                rider7.to_owned()
            } else {
                format!("rider{i}@example.com")
            };
            csv.push_str(&format!("{key},85cm\n"));
        }
        std::fs::write(&input, csv).unwrap();
    };
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
        "--mode",
        "mirror",
        "--leavers",
        "delete",
        "--rate",
        "0",
    ]);
    export("Rider7@Example.com");
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    export("rider7@example.com");
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(summary["deleted"], 0, "{stderr}");
    assert_eq!(emulator.profiles().len(), 10);
    assert_eq!(
        emulator
            .faults()
            .requests_to("DELETE", "/api/v2/user_profiles"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_keys_that_differ_only_by_case_are_duplicates() {
    let emulator = sunshine_with_riders(3).await;
    let dir = dir();
    let (input, report_path) = (dir.join("riders.csv"), dir.join("report.json"));
    std::fs::write(
        &input,
        "email,saddle\ncasey@example.com,80cm\nCASEY@example.com,81cm\n",
    )
    .unwrap();
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
        "--mode",
        "upsert",
        "--rate",
        "0",
    ]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("the key casey@example.com is on lines 2, 3: the last one is synced"),
        "{stderr}"
    );
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (summary["created"].as_u64(), summary["superseded"].as_u64()),
        (Some(1), Some(1))
    );
    let casey: Vec<_> = emulator
        .profiles()
        .into_iter()
        .filter(|p| {
            p["identifiers"][0]["value"]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case("casey@example.com"))
        })
        .collect();
    assert_eq!(casey.len(), 1);
    assert_eq!(casey[0]["attributes"]["saddle_height"], "81cm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_that_deletes_leavers_keyed_by_email_warns_that_an_address_change_deletes() {
    let emulator = sunshine_with_riders(2).await;
    let dir = dir();
    let (input, state) = (dir.join("riders.csv"), dir.join("state.db"));
    crate::sync::riders_csv(&input, 2);
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    args.extend(["--mode", "mirror", "--rate", "0"]);
    let mut deleting = args.clone();
    deleting.extend(["--leavers", "delete"]);
    let (code, _, stderr) = sync(&deleting, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("a person whose address changes is deleted"),
        "{stderr}"
    );
    let mut setting = args.clone();
    setting.extend(["--leaver-set", "attributes.status=left"]);
    let (code, _, stderr) = sync(&setting, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("a person whose address changes"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_counts_what_the_run_then_does_for_every_kind_of_row() {
    let emulator = sunshine_with_riders(4).await;
    let dir = dir();
    let (input, dry_report, run_report) = (
        dir.join("riders.jsonl"),
        dir.join("dry.json"),
        dir.join("run.json"),
    );
    std::fs::write(
        &input,
        [
            r#"{"email": "rider0@example.com", "saddle": "85cm", "ids": null}"#,
            r#"{"email": "rider1@example.com", "saddle": "90cm"}"#,
            r#"{"saddle": "90cm"}"#,
            r#"{"email": "rider2@example.com", "saddle": "90cm"}"#,
            r#"{"email": "rider2@example.com", "saddle": "91cm"}"#,
            r#"{"email": "rider3@example.com", "saddle": "92cm", "ids": "not-an-array"}"#,
            r#"{"email": "newbie@example.com", "saddle": "80cm"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let env = sunshine_env(&emulator.base_url());
    let args = |report: &std::path::Path, dry: bool| {
        let mut args: Vec<String> = SUNSHINE_MAP.iter().map(|s| (*s).to_owned()).collect();
        args.extend(
            [
                "--map",
                "ids=identifiers",
                "--input",
                input.to_str().unwrap(),
                "--mode",
                "upsert",
                "--rate",
                "0",
                "--report",
                report.to_str().unwrap(),
            ]
            .map(str::to_owned),
        );
        if dry {
            args.push("--dry-run".to_owned());
        }
        args
    };
    let run = |args: Vec<String>| {
        let env = env.clone();
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            sync(&refs, &env_refs(&env)).await
        }
    };
    let (dry_code, stdout, stderr) = run(args(&dry_report, true)).await;
    assert_eq!(dry_code, 1, "a refused and a malformed row: {stderr}");
    assert!(
        !stdout.contains("rider3@example.com: would create"),
        "{stdout}"
    );
    let (code, _, stderr) = run(args(&run_report, false)).await;
    assert_eq!(code, dry_code, "{stderr}");
    let (dry, done) = (
        &report(&dry_report)["summary"],
        &report(&run_report)["summary"],
    );
    let pairs = [
        ("would_update", "updated", 2),
        ("would_create", "created", 1),
        ("unchanged", "unchanged", 1),
        ("malformed", "malformed", 1),
        ("superseded", "superseded", 1),
        ("failed", "failed", 1),
    ];
    for (would, did, expected) in pairs {
        assert_eq!(
            (dry[would].as_u64(), done[did].as_u64()),
            (Some(expected), Some(expected)),
            "{would} / {did}: dry {dry}, run {done}"
        );
    }
    let refused = report(&run_report)["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "rider3@example.com")
        .cloned()
        .unwrap();
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("an array of {type, value} objects"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_the_vendor_is_printed_with_its_control_characters_escaped() {
    let emulator = sunshine_with_riders(2).await;
    // The vendor's refusal carries an ANSI sequence that would clear the operator's screen.
    emulator.faults().respond_next(
        1,
        422,
        "{\"errors\":[{\"code\":\"InvalidValue\",\"title\":\"bad \\u001b[2J value\"}]}",
    );
    let dir = dir();
    let input = dir.join("riders.csv");
    std::fs::write(&input, "email,saddle\nrider1@example.com,87cm\n").unwrap();
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend(["--input", input.to_str().unwrap(), "--rate", "0"]);
    let (code, stdout, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("bad \\u{1b}[2J value"), "{stderr}");
    assert!(
        !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_a_flag_or_an_export_is_printed_with_its_control_characters_escaped() {
    let emulator = sunshine_with_riders(1).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    crate::sync::riders_csv(&input, 1);
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    // A key column whose name would rewrite the terminal, echoed back in the error.
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--key",
        "e\u{1b}[2Jmail",
    ]);
    let (code, stdout, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("e\\u{1b}[2Jmail"), "{stderr}");
    assert!(
        !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
        "{stderr:?}"
    );
}
