//! `profiles sync --mode update|upsert|mirror`: joiners, movers and leavers, against the
//! emulators.

use std::path::Path;
use std::time::Duration;

use profile_emulator::capture::CaptureEmulator;
use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsConfig, LumAppsEmulator};
use profile_emulator::sunshine::SunshineEmulator;
use serde_json::Value;

use crate::PROFILES;
use crate::sync::{capture_env, dir, env_refs, report, riders_csv, sunshine_env, sync, sync_owned};

const PROFILES_PATH: &str = "/api/v2/user_profiles";

fn sunshine_sync<'a>(
    input: &'a Path,
    state: &'a Path,
    report: &'a Path,
    mode: &'a str,
) -> Vec<&'a str> {
    vec![
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
        report.to_str().unwrap(),
        "--rate",
        "0",
        "--mode",
        mode,
    ]
}

fn riders_of(emulator: &SunshineEmulator) -> Vec<String> {
    let mut emails: Vec<String> = emulator
        .profiles()
        .iter()
        .filter_map(|p| p["identifiers"][0]["value"].as_str().map(str::to_owned))
        .collect();
    emails.sort();
    emails
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunshine_upsert_creates_joiners_once_and_update_only_counts_them_missing() {
    let emulator = SunshineEmulator::start().await.unwrap();
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    riders_csv(&input, 30);
    let env = sunshine_env(&emulator.base_url());

    // Update: nobody exists yet; each is missing, none failed, nothing created.
    let (code, _, stderr) = sync(
        &sunshine_sync(&input, &state, &report_path, "update"),
        &env_refs(&env),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (summary["missing"].as_u64(), summary["failed"].as_u64()),
        (Some(30), Some(0))
    );
    assert!(emulator.profiles().is_empty());

    // A dry run of the upsert says what it would create, and that Zendesk makes a user too.
    let mut dry = sunshine_sync(&input, &state, &report_path, "upsert");
    dry.push("--dry-run");
    let (code, stdout, stderr) = sync(&dry, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("line 2 rider0@example.com: would create it with attributes.saddle_height = \"85cm\" (the first profile of someone Zendesk does not know creates a Zendesk user too)"),
        "{stdout}"
    );
    assert!(emulator.profiles().is_empty());

    // Upsert: one PUT ?identifier= per joiner.
    let puts = emulator.faults().requests_to("PUT", PROFILES_PATH);
    let (code, _, stderr) = sync(
        &sunshine_sync(&input, &state, &report_path, "upsert"),
        &env_refs(&env),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        emulator.faults().requests_to("PUT", PROFILES_PATH) - puts,
        30
    );
    assert_eq!(report(&report_path)["summary"]["created"], 30);
    assert_eq!(riders_of(&emulator).len(), 30);
    let rider3 = emulator
        .profiles()
        .into_iter()
        .find(|p| p["identifiers"][0]["value"] == "rider3@example.com")
        .unwrap();
    assert_eq!(rider3["attributes"]["saddle_height"], "85cm");
    assert_eq!(rider3["identifiers"][0]["type"], "email");

    // The next night sends nothing.
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync(
        &sunshine_sync(&input, &state, &report_path, "upsert"),
        &env_refs(&env),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(emulator.faults().requests_seen(), seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_with_half_the_input_gone_is_held_then_approved_and_never_touches_strangers() {
    let emulator = SunshineEmulator::start().await.unwrap();
    // A profile the sync never wrote: present at the vendor, never in any input.
    let stranger = serde_json::json!({"source": "coolbikes", "type": "rider",
        "identifiers": [{"type": "email", "value": "stranger@example.com"}],
        "attributes": {"saddle_height": "70cm"}});
    emulator.seed(&[stranger]).unwrap();
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    let env = sunshine_env(&emulator.base_url());
    let mirror = |extra: &[&'static str]| {
        let mut args: Vec<String> = sunshine_sync(&input, &state, &report_path, "mirror")
            .into_iter()
            .map(str::to_owned)
            .collect();
        args.extend(["--leavers".to_owned(), "delete".to_owned()]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    riders_csv(&input, 40);
    let (code, _, stderr) = sync_owned(&mirror(&[]), &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(riders_of(&emulator).len(), 41);

    // Tonight's export lost half its rows: 20 of 40 managed users would leave, above the
    // 10% guard. Nothing is deleted; the run says why and exits 4.
    riders_csv(&input, 20);
    let (code, _, stderr) = sync_owned(&mirror(&[]), &env).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("20 of the 40 users this state manages are gone from the input, more than --max-leavers 10% allows"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-leavers 20"), "{stderr}");
    assert_eq!(riders_of(&emulator).len(), 41, "nothing deleted");

    // Approving a different number is not approval.
    let (code, _, stderr) = sync_owned(&mirror(&["--allow-leavers", "19"]), &env).await;
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(riders_of(&emulator).len(), 41);

    // Approved: exactly the 20 leavers are deleted; the stranger stays.
    let (code, _, stderr) = sync_owned(&mirror(&["--allow-leavers", "20"]), &env).await;
    assert_eq!(code, 0, "{stderr}");
    let left = riders_of(&emulator);
    assert_eq!(left.len(), 21, "{left:?}");
    assert!(left.contains(&"stranger@example.com".to_owned()));
    assert!(left.contains(&"rider19@example.com".to_owned()));
    assert!(!left.contains(&"rider20@example.com".to_owned()));
    assert_eq!(report(&report_path)["summary"]["deleted"], 20);

    // The next night has no leavers left to retire, and the guard has nothing to hold.
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync_owned(&mirror(&[]), &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(emulator.faults().requests_seen(), seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_upsert_killed_at_random_under_faults_creates_every_joiner_exactly_once() {
    let n = 2_000;
    let emulator = CaptureEmulator::start().await.unwrap();
    let before: usize = emulator.records("user").len();
    let dir = dir();
    let input = dir.join("joiners.csv");
    let mut csv = String::from("email,family\n");
    for i in 0..n {
        csv.push_str(&format!("joiner{i}@example.com,Family{i}\n"));
    }
    std::fs::write(&input, csv).unwrap();
    let state = dir.join("state.db");
    let args = [
        "sync",
        "--vendor",
        "capture",
        "--input",
        input.to_str().unwrap(),
        "--map",
        "family=familyName",
        "--mode",
        "upsert",
        "--state",
        state.to_str().unwrap(),
        "--rate",
        "0",
        "--concurrency",
        "16",
    ];
    crate::sync::kill_test_faults(emulator.faults(), 11);
    let env = capture_env(&emulator);
    let (_, exits) =
        crate::sync::kill_then_rerun(&args, &env, emulator.faults(), (4, 700, 0xc0ffee), &|_| {})
            .await;
    assert_eq!(exits.last(), Some(&0), "{exits:?}");
    let records = emulator.records("user");
    assert_eq!(
        records.len(),
        before + n,
        "one record per joiner, no duplicates"
    );
    let mut emails: Vec<&str> = records
        .iter()
        .filter_map(|r| r["email"].as_str())
        .filter(|e| e.starts_with("joiner"))
        .collect();
    emails.sort_unstable();
    emails.dedup();
    assert_eq!(emails.len(), n);
    for record in records
        .iter()
        .filter(|r| r["email"].as_str().is_some_and(|e| e.starts_with("joiner")))
    {
        let email = record["email"].as_str().unwrap();
        let i: usize = email
            .trim_start_matches("joiner")
            .trim_end_matches("@example.com")
            .parse()
            .unwrap();
        assert_eq!(
            record["familyName"],
            Value::from(format!("Family{i}")),
            "{email}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_mirror_deletes_its_leavers_and_lumapps_clears_their_fields() {
    // Capture: created by the sync, then gone from the input: entity.delete.
    let emulator = CaptureEmulator::start().await.unwrap();
    let dir = dir();
    let (input, state) = (dir.join("members.csv"), dir.join("capture.db"));
    let write = |n: usize| {
        let mut csv = String::from("email,family\n");
        for i in 0..n {
            csv.push_str(&format!("member{i}@example.com,F{i}\n"));
        }
        std::fs::write(&input, csv).unwrap();
    };
    let env = capture_env(&emulator);
    let args = [
        "--vendor",
        "capture",
        "--input",
        input.to_str().unwrap(),
        "--map",
        "family=familyName",
        "--mode",
        "mirror",
        "--leavers",
        "delete",
        "--state",
        state.to_str().unwrap(),
    ];
    write(20);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let members = |e: &CaptureEmulator| {
        e.records("user")
            .iter()
            .filter(|r| r["email"].as_str().is_some_and(|m| m.starts_with("member")))
            .count()
    };
    assert_eq!(members(&emulator), 20);
    write(19);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "one of 20 is within 10%: {stderr}");
    assert_eq!(members(&emulator), 19);
    assert_eq!(emulator.faults().requests_to("POST", "/entity.delete"), 1);

    // LumApps cannot delete directory users: refused before anything is sent.
    let lumapps = LumAppsEmulator::start_with(
        LumAppsConfig::default().synthetic_users(30),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let base = lumapps.base_url();
    let lenv = [
        ("LUMAPPS_BASE_URL", base.as_str()),
        ("LUMAPPS_TOKEN", DEMO_TOKEN),
    ];
    let hr = dir.join("hr.csv");
    let write_hr = |n: usize| {
        let mut csv = String::from("email,title\n");
        for i in 0..n {
            csv.push_str(&format!("user{i:07}@customer.com,Engineer\n"));
        }
        std::fs::write(&hr, csv).unwrap();
    };
    write_hr(30);
    let lstate = dir.join("lumapps.db");
    let base_args = [
        "--vendor",
        "lumapps",
        "--input",
        hr.to_str().unwrap(),
        "--directory",
        "6486401110769664",
        "--map",
        "title=Title",
        "--mode",
        "mirror",
        "--state",
        lstate.to_str().unwrap(),
    ];
    let mut delete = base_args.to_vec();
    delete.extend(["--leavers", "delete"]);
    let seen = lumapps.faults().requests_seen();
    let (code, _, stderr) = sync(&delete, &lenv).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot be deleted through its API"),
        "{stderr}"
    );
    // Only the directory's template was read to know the vendor.
    assert!(lumapps.faults().requests_seen() - seen <= 1);

    // Clearing a leaver's fields instead; a user LumApps does not have stays missing.
    let mut clear = base_args.to_vec();
    clear.extend(["--leaver-set", "Title="]);
    std::fs::write(&hr, {
        let mut csv = String::from("email,title\n");
        for i in 0..30 {
            csv.push_str(&format!("user{i:07}@customer.com,Engineer\n"));
        }
        csv.push_str("newhire@customer.com,Intern\n");
        csv
    })
    .unwrap();
    let report_path = dir.join("report.json");
    let mut first = clear.clone();
    first.extend(["--report", report_path.to_str().unwrap()]);
    let (code, _, stderr) = sync(&first, &lenv).await;
    assert_eq!(code, 0, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        summary["missing"], 1,
        "LumApps cannot create directory users: {stderr}"
    );
    assert_eq!(
        lumapps.user("user0000003@customer.com").unwrap()["apiProfile"]["organizations"]["title"],
        "Engineer"
    );
    write_hr(29);
    let (code, _, stderr) = sync(&clear, &lenv).await;
    assert_eq!(code, 0, "{stderr}");
    let leaver = lumapps.user("user0000029@customer.com").unwrap();
    assert!(
        leaver["apiProfile"]["organizations"]["title"].is_null(),
        "{leaver:?}"
    );
    assert_eq!(
        lumapps.user("user0000028@customer.com").unwrap()["apiProfile"]["organizations"]["title"],
        "Engineer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_listed_retried_by_the_next_run_and_leaves_the_list() {
    let emulator = crate::sync::sunshine_with_riders(3).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    riders_csv(&input, 3);
    let env = sunshine_env(&emulator.base_url());
    let mut args = sunshine_sync(&input, &state, &report_path, "update");
    args.extend(["--concurrency", "1"]);
    // The first request (rider0's write) fails for good: 503s until the retries run out.
    emulator.faults().fail_next(4, 503);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    let status = |json: bool| {
        let mut command = std::process::Command::new(PROFILES);
        command.args(["sync", "status", "--state", state.to_str().unwrap()]);
        if json {
            command.arg("--json");
        }
        let output = command.output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let listed: Value = serde_json::from_str(&status(true)).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["key"], "rider0@example.com");
    assert!(
        listed[0]["outcome"] == "failed" || listed[0]["outcome"] == "unknown",
        "{listed}"
    );
    assert_eq!(listed[0]["retried"], true);
    assert!(
        listed[0]["at"].as_str().unwrap().starts_with("20"),
        "{listed}"
    );
    let table = status(false);
    assert!(
        table.contains("rider0@example.com") && table.contains("next"),
        "{table}"
    );

    // The same input again: the dead letter is retried and succeeds. Its write (the first
    // night writes first) was answered 503, so it may have been applied: rider0 is read,
    // holds the height, and counts as updated; the two others were written by the first run
    // and are known from the state.
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (
            summary["unchanged"].as_u64(),
            summary["updated"].as_u64(),
            summary["failed"].as_u64()
        ),
        (Some(2), Some(1), Some(0))
    );
    assert!(status(true).trim() == "[]", "{}", status(true));
    assert!(status(false).contains("nothing to retry"));

    // A row the vendor refuses for its value is listed as waiting for a change, and not
    // sent again until its row changes.
    std::fs::write(
        &input,
        "email,saddle\nrider0@example.com,85cm\nrider1@example.com,87cm\nrider2@example.com,99cm\n",
    )
    .unwrap();
    emulator.faults().respond_next(
        1,
        422,
        r#"{"errors":[{"code":"InvalidValue","title":"saddle_height is too high"}]}"#,
    );
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    let listed: Value = serde_json::from_str(&status(true)).unwrap();
    assert_eq!(listed[0]["key"], "rider2@example.com", "{listed}");
    assert_eq!(listed[0]["retried"], false, "{listed}");
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        emulator.faults().requests_seen(),
        seen,
        "not sent again unchanged"
    );
    assert!(
        stderr.contains("refused before, not sent again until the row changes"),
        "{stderr}"
    );
    std::fs::write(
        &input,
        "email,saddle\nrider0@example.com,85cm\nrider1@example.com,87cm\nrider2@example.com,90cm\n",
    )
    .unwrap();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(status(true).trim() == "[]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_create_refused_with_361_goes_on_as_an_update() {
    let emulator = CaptureEmulator::start().await.unwrap();
    let dir = dir();
    let (input, state) = (dir.join("members.csv"), dir.join("state.db"));
    std::fs::write(&input, "email,family\nlate@example.com,Late\n").unwrap();
    let env = capture_env(&emulator);
    let args = |mode: &'static str| {
        vec![
            "--vendor".to_owned(),
            "capture".to_owned(),
            "--input".to_owned(),
            input.to_str().unwrap().to_owned(),
            "--map".to_owned(),
            "family=familyName".to_owned(),
            "--mode".to_owned(),
            mode.to_owned(),
            "--state".to_owned(),
            state.to_str().unwrap().to_owned(),
            "--concurrency".to_owned(),
            "1".to_owned(),
        ]
    };
    // Night 1, update: Capture has no such member yet.
    let (code, _, stderr) = sync_owned(&args("update"), &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1 missing"), "{stderr}");
    // Meanwhile the record is created elsewhere, and find has not caught up: tonight's read
    // by key still says 310. The create that follows is refused with 361.
    emulator
        .seed(
            "user",
            &[serde_json::json!({"email": "late@example.com", "familyName": "Early"})],
        )
        .unwrap();
    emulator.faults().delay_next(1, Duration::ZERO); // entityType passes
    emulator.faults().respond_next(
        1,
        200,
        r#"{"stat":"error","code":310,"error":"record_not_found","error_description":"no record"}"#,
    );
    let creates = emulator.faults().requests_to("POST", "/entity.bulkCreate");
    let (code, _, stderr) = sync_owned(&args("upsert"), &env).await;
    assert_eq!(code, 0, "{stderr}");
    // Joiners are created in a batch: the record is refused there as a duplicate value.
    assert_eq!(
        emulator.faults().requests_to("POST", "/entity.bulkCreate") - creates,
        1
    );
    assert_eq!(emulator.faults().requests_to("POST", "/entity.create"), 0);
    let records: Vec<Value> = emulator
        .records("user")
        .into_iter()
        .filter(|r| r["email"] == "late@example.com")
        .collect();
    assert_eq!(records.len(), 1, "no duplicate");
    assert_eq!(records[0]["familyName"], "Late", "it went on as an update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaver_gone_at_the_vendor_is_settled_as_gone_and_a_forgotten_key_is_no_leaver() {
    let emulator = crate::sync::sunshine_with_riders(10).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    riders_csv(&input, 10);
    let env = sunshine_env(&emulator.base_url());
    let mut args = sunshine_sync(&input, &state, &report_path, "mirror");
    args.extend(["--leaver-set", "attributes.status=left"]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");

    // rider9's profile is deleted at Zendesk by someone else, and rider9 leaves the export.
    let client = reqwest::Client::new();
    let id = emulator
        .profiles()
        .into_iter()
        .find(|p| p["identifiers"][0]["value"] == "rider9@example.com")
        .and_then(|p| p["id"].as_str().map(str::to_owned))
        .unwrap();
    let deleted = client
        .delete(format!("{}/api/v2/user_profiles/{id}", emulator.base_url()))
        .basic_auth(
            format!("{}/token", profile_emulator::sunshine::SEED_EMAIL),
            Some(profile_emulator::sunshine::SEED_API_TOKEN),
        )
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    riders_csv(&input, 9);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "a leaver already gone is no failure: {stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (summary["gone"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(stderr.contains("1 gone already"), "{stderr}");

    // rider8 is forgotten by the state: gone from the export, it is no leaver.
    let output = tokio::process::Command::new(PROFILES)
        .args(["sync", "forget", "--state", state.to_str().unwrap()])
        .args(["rider8@example.com", "nobody@example.com"])
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("1 of 2 keys removed"), "{said}");
    riders_csv(&input, 8);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(summary["retired"], 0, "{stderr}");
    let rider8 = emulator
        .profiles()
        .into_iter()
        .find(|p| p["identifiers"][0]["value"] == "rider8@example.com")
        .unwrap();
    assert!(rider8["attributes"]["status"].is_null(), "{rider8}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_leavers_left_in_the_nightly_line_approves_the_held_set_once() {
    let emulator = crate::sync::sunshine_with_riders(10).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    let export = |riders: std::ops::Range<usize>| {
        let mut csv = String::from("email,saddle\n");
        for i in riders {
            csv.push_str(&format!("rider{i}@example.com,85cm\n"));
        }
        std::fs::write(&input, csv).unwrap();
    };
    let env = sunshine_env(&emulator.base_url());
    let mut args = sunshine_sync(&input, &state, &report_path, "mirror");
    args.extend(["--leavers", "delete"]);
    export(0..10);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    // Three leave: more than 10 %, held (exit 4) and recorded.
    export(3..10);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 4, "{stderr}");
    // Approved once, that set is deleted.
    let mut approving = args.clone();
    approving.extend(["--allow-leavers", "3"]);
    let (code, _, stderr) = sync(&approving, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&report_path)["summary"]["deleted"], 3);
    assert_eq!(emulator.profiles().len(), 7);
    // The same line a later night, with three others gone: held, not approved.
    export(6..10);
    let (code, _, stderr) = sync(&approving, &env_refs(&env)).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("these were not held yet"), "{stderr}");
    assert_eq!(emulator.profiles().len(), 7);
    // Now that a run held them, the same line approves them.
    let (code, _, stderr) = sync(&approving, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(emulator.profiles().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_while_it_deletes_an_approved_set_is_finished_by_the_same_command() {
    let emulator = crate::sync::sunshine_with_riders(40).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    let export = |riders: std::ops::Range<usize>| {
        let mut csv = String::from("email,saddle\n");
        for i in riders {
            csv.push_str(&format!("rider{i}@example.com,85cm\n"));
        }
        std::fs::write(&input, csv).unwrap();
    };
    let env = sunshine_env(&emulator.base_url());
    let mut args = sunshine_sync(&input, &state, &report_path, "mirror");
    args.extend(["--leavers", "delete"]);
    export(0..40);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    // Twenty leave: held, then approved with a slow pace, and killed after a few deletes.
    export(20..40);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 4, "{stderr}");
    let mut approved = args.clone();
    approved.extend(["--allow-leavers", "20"]);
    let at = approved.iter().position(|a| *a == "0").unwrap();
    let mut slow = approved.clone();
    slow[at] = "120";
    slow.extend(["--concurrency", "1"]);
    let mut child = tokio::process::Command::new(PROFILES)
        .arg("sync")
        .args(&slow)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while emulator.profiles().len() > 36 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().await.unwrap();
    let left = emulator.profiles().len();
    assert!(
        (21..=36).contains(&left),
        "killed part-way: {left} profiles left"
    );
    // The same command (its count no longer matches what is left): the set is finished.
    let (code, _, stderr) = sync(&approved, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(emulator.profiles().len(), 20);
    // The approval is spent: a later leaver above the limit is held again.
    export(23..40);
    let (code, _, stderr) = sync(&approved, &env_refs(&env)).await;
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(emulator.profiles().len(), 20);
}

/// `profiles sync` args for Capture members: `email,family` into familyName, upsert.
fn capture_upsert(input: &std::path::Path, state: &std::path::Path) -> Vec<String> {
    [
        "--vendor",
        "capture",
        "--input",
        input.to_str().unwrap(),
        "--map",
        "family=familyName",
        "--mode",
        "upsert",
        "--state",
        state.to_str().unwrap(),
        "--rate",
        "0",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_joiners_are_created_in_one_batch_and_a_taken_address_is_updated_once() {
    let emulator = crate::sync::capture_with_riders(10).await;
    let dir = dir();
    let (input, state) = (dir.join("members.csv"), dir.join("state.db"));
    let env = capture_env(&emulator);
    // 10 riders Capture has, 30 joiners; one of them, late@, is created elsewhere after the
    // listing and before the batch (simulated: the state already knows the others).
    let mut csv = String::from("email,family\n");
    for i in 0..10 {
        csv.push_str(&format!("rider{i}@example.com,Old\n"));
    }
    for i in 0..30 {
        csv.push_str(&format!("joiner{i}@example.com,New\n"));
    }
    std::fs::write(&input, &csv).unwrap();
    let (code, _, stderr) = sync_owned(&capture_upsert(&input, &state), &env).await;
    assert_eq!(code, 0, "{stderr}");
    let faults = emulator.faults();
    // The schema, the listing, one batch: no read by key, no entity.create.
    assert_eq!(
        faults.requests_to("POST", "/entity.bulkCreate"),
        1,
        "{stderr}"
    );
    assert_eq!(faults.requests_to("POST", "/entity.create"), 0);
    assert_eq!(faults.requests_to("POST", "/entity"), 0, "{stderr}");
    assert!(stderr.contains("30 created"), "{stderr}");
    // Tonight late@ joins, but Capture already holds it (created elsewhere, and its read by
    // key is answered 310 as an eventually consistent find would): the batch refuses it,
    // and it goes on as an update of that record.
    emulator
        .seed(
            "user",
            &[serde_json::json!({"email": "late@example.com", "familyName": "Early"})],
        )
        .unwrap();
    std::fs::write(
        &input,
        format!(
            "email,family\nlate@example.com,Late\nsoon@example.com,Soon\n{}",
            &csv[13..]
        ),
    )
    .unwrap();
    faults.delay_next(1, Duration::ZERO); // entityType passes
    faults.respond_next(
        1,
        200,
        r#"{"stat":"error","code":310,"error":"record_not_found","error_description":"no record"}"#,
    );
    let mut args = capture_upsert(&input, &state);
    args.extend(["--concurrency".to_owned(), "1".to_owned()]);
    let (code, _, stderr) = sync_owned(&args, &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(faults.requests_to("POST", "/entity.bulkCreate"), 2);
    assert_eq!(faults.requests_to("POST", "/entity.create"), 0);
    let records = emulator.records("user");
    let with = |email: &str| records.iter().filter(|r| r["email"] == email).count();
    assert_eq!((with("late@example.com"), with("soon@example.com")), (1, 1));
    let late = records
        .iter()
        .find(|r| r["email"] == "late@example.com")
        .unwrap();
    assert_eq!(late["familyName"], "Late", "it went on as an update");
    for i in 0..30 {
        assert_eq!(with(&format!("joiner{i}@example.com")), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_killed_before_its_answer_creates_every_joiner_exactly_once() {
    use std::process::Stdio;
    let emulator = crate::sync::capture_with_riders(5).await;
    let dir = dir();
    let (input, state) = (dir.join("members.csv"), dir.join("state.db"));
    let mut csv = String::from("email,family\n");
    for i in 0..50 {
        csv.push_str(&format!("joiner{i}@example.com,New\n"));
    }
    std::fs::write(&input, &csv).unwrap();
    let env = capture_env(&emulator);
    let args = capture_upsert(&input, &state);
    let faults = emulator.faults();
    // The batch lands, and its answer is held back: the run is killed while it waits.
    faults.set_answer_delay_on("/entity.bulkCreate", Some(Duration::from_secs(30)));
    let mut child = tokio::process::Command::new(crate::PROFILES)
        .arg("sync")
        .args(&args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while faults.requests_to("POST", "/entity.bulkCreate") == 0 {
        assert!(std::time::Instant::now() < deadline, "no batch was sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    child.kill().await.unwrap();
    faults.set_answer_delay_on("/entity.bulkCreate", None);
    let with = |email: &str| {
        emulator
            .records("user")
            .iter()
            .filter(|r| r["email"] == email)
            .count()
    };
    assert_eq!(with("joiner0@example.com"), 1, "the batch landed");
    // The same command: the batch's keys were marked in doubt, so they are read back by
    // key, never created again.
    let (code, _, stderr) = sync_owned(&args, &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        faults.requests_to("POST", "/entity.bulkCreate"),
        1,
        "{stderr}"
    );
    assert_eq!(faults.requests_to("POST", "/entity.create"), 0);
    for i in 0..50 {
        assert_eq!(with(&format!("joiner{i}@example.com")), 1, "joiner{i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_batch_sizes_are_settable_and_zero_creates_one_by_one() {
    let dir = dir();
    let input = dir.join("members.csv");
    let mut csv = String::from("email,family\n");
    for i in 0..25 {
        csv.push_str(&format!("joiner{i}@example.com,New\n"));
    }
    std::fs::write(&input, &csv).unwrap();
    for (records, bytes, batches, creates) in [
        ("10", "1000000", 3, 0),
        ("2000", "60", 25, 0),
        ("0", "1000000", 0, 25),
    ] {
        let emulator = crate::sync::capture_with_riders(0).await;
        let env = capture_env(&emulator);
        let state = dir.join(format!("state-{records}-{bytes}.db"));
        let mut args = capture_upsert(&input, &state);
        args.extend([
            "--batch-records".to_owned(),
            records.to_owned(),
            "--batch-bytes".to_owned(),
            bytes.to_owned(),
        ]);
        let (code, _, stderr) = sync_owned(&args, &env).await;
        assert_eq!(code, 0, "{stderr}");
        let faults = emulator.faults();
        assert_eq!(
            (
                faults.requests_to("POST", "/entity.bulkCreate"),
                faults.requests_to("POST", "/entity.create")
            ),
            (batches, creates),
            "--batch-records {records} --batch-bytes {bytes}"
        );
        assert!(stderr.contains("25 created"), "{stderr}");
    }
}
