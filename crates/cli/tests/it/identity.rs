//! Who is who: e-mail keys without regard to case, against the emulators.

use crate::sync::{
    SUNSHINE_MAP, capture_env, capture_with_riders, dir, env_refs, report, sunshine_env,
    sunshine_with_riders, sync, sync_owned,
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
    let (dry_code, stdout, stderr) = sync_owned(&args(&dry_report, true), &env).await;
    assert_eq!(dry_code, 1, "a refused and a malformed row: {stderr}");
    assert!(
        !stdout.contains("rider3@example.com: would create"),
        "{stdout}"
    );
    let (code, _, stderr) = sync_owned(&args(&run_report, false), &env).await;
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

/// The employees E0…E9 as an HR export: E0…E4 at `moved{i}@example.com` when `moved`, the
/// others (and all when not) at `rider{i}@example.com`.
fn employees(path: &std::path::Path, moved: bool, value: &str) {
    let mut csv = format!("employee_id,email,{value}\n");
    for i in 0..10 {
        let email = if moved && i < 5 {
            format!("moved{i}@example.com")
        } else {
            format!("rider{i}@example.com")
        };
        csv.push_str(&format!("E{i},{email},85cm\n"));
    }
    std::fs::write(path, csv).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anchored_sunshine_night_moves_five_addresses_without_a_delete_or_a_create() {
    use profile_emulator::sunshine::SunshineEmulator;
    let emulator = SunshineEmulator::start().await.unwrap();
    // Each rider holds a phone identifier the sync never writes.
    let profiles: Vec<serde_json::Value> = (0..10)
        .map(|i| {
            serde_json::json!({"source": "coolbikes", "type": "rider", "name": format!("R{i}"),
                "identifiers": [{"type": "email", "value": format!("rider{i}@example.com")},
                                {"type": "phone_number", "value": format!("+3361234560{i}")}],
                "attributes": {"saddle_height": "85cm", "bike": "road"}})
        })
        .collect();
    emulator.seed(&profiles).unwrap();
    let ids_before: Vec<String> = ids_by_phone(&emulator.profiles());
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("hr.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--anchor",
        "employee_id",
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
    employees(&input, false, "saddle");
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stderr.contains("a person whose address changes"),
        "{stderr}"
    );
    employees(&input, true, "saddle");
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let faults = emulator.faults();
    assert_eq!(faults.requests_to("DELETE", "/api/v2/user_profiles"), 0);
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (
            summary["created"].as_u64(),
            summary["deleted"].as_u64(),
            summary["updated"].as_u64()
        ),
        (Some(0), Some(0), Some(5)),
        "{stderr}"
    );
    let after = emulator.profiles();
    assert_eq!(after.len(), 10, "{after:?}");
    assert_eq!(
        ids_by_phone(&after),
        ids_before,
        "each keeps their profile id"
    );
    for i in 0..5 {
        let profile = after
            .iter()
            .find(|p| {
                p["identifiers"]
                    .to_string()
                    .contains(&format!("+3361234560{i}"))
            })
            .unwrap();
        let identifiers = profile["identifiers"].to_string();
        assert!(
            identifiers.contains(&format!("moved{i}@example.com")),
            "{identifiers}"
        );
        assert!(
            !identifiers.contains(&format!("rider{i}@example.com")),
            "{identifiers}"
        );
        assert_eq!(profile["attributes"]["bike"], "road", "{profile}");
    }
    // The old address no longer finds the profile; the new one does.
    let client = reqwest::Client::new();
    let get = |email: &str| {
        client
            .get(format!(
                "{}/api/v2/user_profiles?identifier=coolbikes%3Arider%3Aemail%3A{}",
                emulator.base_url(),
                email.replace('@', "%40")
            ))
            .basic_auth(
                format!("{}/token", profile_emulator::sunshine::SEED_EMAIL),
                Some(profile_emulator::sunshine::SEED_API_TOKEN),
            )
            .send()
    };
    assert_eq!(get("rider0@example.com").await.unwrap().status(), 404);
    assert_eq!(get("moved0@example.com").await.unwrap().status(), 200);
    // The same export again: nothing to send.
    let seen = faults.requests_seen();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(faults.requests_seen() - seen, 0, "{stderr}");
}

/// Profile ids, in the order of the phone identifiers the riders hold.
fn ids_by_phone(profiles: &[serde_json::Value]) -> Vec<String> {
    let mut pairs: Vec<(String, String)> = profiles
        .iter()
        .map(|p| {
            let phone = p["identifiers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["type"] == "phone_number")
                .map(|i| i["value"].as_str().unwrap().to_owned())
                .unwrap_or_default();
            (phone, p["id"].as_str().unwrap().to_owned())
        })
        .collect();
    pairs.sort();
    pairs.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anchored_capture_night_keeps_each_uuid_and_refuses_a_taken_address() {
    let emulator = capture_with_riders(10).await;
    let uuid_of = |email: &str| {
        emulator
            .records("user")
            .iter()
            .find(|r| r["email"] == email)
            .map(|r| r["uuid"].as_str().unwrap().to_owned())
    };
    let before: Vec<String> = (0..10)
        .map(|i| uuid_of(&format!("rider{i}@example.com")).unwrap())
        .collect();
    let count = emulator.records("user").len();
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("hr.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    let env = capture_env(&emulator);
    let args = [
        "--vendor",
        "capture",
        "--input",
        input.to_str().unwrap(),
        "--anchor",
        "employee_id",
        "--map",
        "family=familyName",
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
    ];
    employees(&input, false, "family");
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    employees(&input, true, "family");
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let faults = emulator.faults();
    assert_eq!(faults.requests_to("POST", "/entity.delete"), 0);
    assert_eq!(faults.requests_to("POST", "/entity.create"), 0);
    assert_eq!(emulator.records("user").len(), count, "{stderr}");
    for (i, uuid) in before.iter().enumerate() {
        let email = if i < 5 {
            format!("moved{i}@example.com")
        } else {
            format!("rider{i}@example.com")
        };
        assert_eq!(uuid_of(&email).as_ref(), Some(uuid), "{email}");
    }
    let summary = &report(&report_path)["summary"];
    assert_eq!(summary["updated"], 5, "{stderr}");
    // The same export again: the schema check only.
    let seen = faults.requests_seen();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(faults.requests_seen() - seen, 1, "{stderr}");
    // E5 takes E6's address: Capture refuses it, and nobody is created or deleted.
    let text = std::fs::read_to_string(&input)
        .unwrap()
        .replace("E5,rider5@example.com", "E5,rider6@example.com");
    std::fs::write(&input, text).unwrap();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("another record already has this `email`"),
        "{stderr}"
    );
    assert_eq!(faults.requests_to("POST", "/entity.create"), 0);
    assert_eq!(faults.requests_to("POST", "/entity.delete"), 0);
    assert_eq!(
        uuid_of("rider5@example.com").as_deref(),
        Some(before[5].as_str())
    );
    assert_eq!(
        uuid_of("rider6@example.com").as_deref(),
        Some(before[6].as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lumapps_rename_at_the_identity_provider_fails_nobody_anchored_or_not() {
    use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsConfig, LumAppsEmulator};
    let emulator =
        LumAppsEmulator::start_with(LumAppsConfig::default(), profile_emulator::loopback(0))
            .await
            .unwrap();
    let users: Vec<serde_json::Value> = (0..10)
        .map(|i| {
            serde_json::json!({"id": format!("u{i}"), "uid": format!("u{i}"),
                "email": format!("rider{i}@example.com"), "status": "enabled",
                "customProfile": {}, "apiProfile": {}})
        })
        .collect();
    emulator.seed(&users).unwrap();
    let base = emulator.base_url();
    let env = vec![
        ("LUMAPPS_BASE_URL", base),
        ("LUMAPPS_TOKEN", DEMO_TOKEN.to_owned()),
    ];
    let dir = dir();
    let (input, report_path) = (dir.join("hr.csv"), dir.join("report.json"));
    let (anchored_state, plain_state) = (dir.join("anchored.db"), dir.join("plain.db"));
    let args = |state: &std::path::Path, anchored: bool| {
        let mut args = vec![
            "--vendor".to_owned(),
            "lumapps".into(),
            "--input".into(),
            input.to_str().unwrap().into(),
            "--directory".into(),
            "6486401110769664".into(),
            "--map".into(),
            "title=Title".into(),
            "--mode".into(),
            "mirror".into(),
            "--leaver-set".into(),
            "Title=Left".into(),
            "--state".into(),
            state.to_str().unwrap().into(),
            "--report".into(),
            report_path.to_str().unwrap().into(),
        ];
        if anchored {
            args.extend(["--anchor".to_owned(), "employee_id".into()]);
        }
        args
    };
    employees(&input, false, "title");
    for (state, anchored) in [(&anchored_state, true), (&plain_state, false)] {
        let (code, _, stderr) = sync_owned(&args(state, anchored), &env).await;
        assert_eq!(code, 0, "{stderr}");
    }
    // The identity provider renames five people: same uid, new address.
    for i in 0..5 {
        assert!(emulator.rename(
            &format!("rider{i}@example.com"),
            &format!("moved{i}@example.com")
        ));
    }
    employees(&input, true, "title");
    // The dry run says what the run then does: nothing to change for the renamed users.
    let mut dry = args(&anchored_state, true);
    dry.push("--dry-run".into());
    let (code, stdout, stderr) = sync_owned(&dry, &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("email:"), "{stdout}");
    assert_eq!(
        report(&report_path)["summary"]["would_update"],
        0,
        "{stderr}"
    );
    for (state, anchored) in [(&anchored_state, true), (&plain_state, false)] {
        let (code, _, stderr) = sync_owned(&args(state, anchored), &env).await;
        assert_eq!(code, 0, "anchored {anchored}: {stderr}");
        let summary = &report(&report_path)["summary"];
        assert_eq!(summary["failed"], 0, "{stderr}");
        assert_eq!(summary["updated"], 0, "nothing was written: {stderr}");
        assert_eq!(
            summary["retired"], 0,
            "nobody gets the leaver fields: {stderr}"
        );
    }
    for i in 0..10 {
        let email = if i < 5 {
            format!("moved{i}@example.com")
        } else {
            format!("rider{i}@example.com")
        };
        let user = emulator.user(&email).unwrap();
        assert_eq!(user["uid"], format!("u{i}"));
        assert_eq!(
            user["apiProfile"]["organizations"]["title"], "85cm",
            "{user:?}"
        );
    }
    // The same export again, anchored: the directory's template only.
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync_owned(&args(&anchored_state, true), &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(emulator.faults().requests_seen() - seen, 1, "{stderr}");
    // A key whose case changes gives nobody the leaver fields either.
    let text = std::fs::read_to_string(&input)
        .unwrap()
        .replace("rider7@example.com", "Rider7@Example.COM");
    std::fs::write(&input, text).unwrap();
    for (state, anchored) in [(&anchored_state, true), (&plain_state, false)] {
        let (code, _, stderr) = sync_owned(&args(state, anchored), &env).await;
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(report(&report_path)["summary"]["retired"], 0, "{stderr}");
    }
    let rider7 = emulator.user("rider7@example.com").unwrap();
    assert_eq!(rider7["apiProfile"]["organizations"]["title"], "85cm");
}
