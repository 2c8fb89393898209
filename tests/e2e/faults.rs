//! A sync of 2,000 rows per vendor against an emulator that injects faults at random, with a
//! fixed seed: 10% 503, 5% 429 with `Retry-After`, 2% connections dropped after the write,
//! 2% answers slower than the client's timeout, 2% answers cut in half after the write.
//!
//! After the faulty run, every row reported updated or unchanged holds its values, every row
//! reported failed has nothing applied, every row reported unknown carries a reason and has
//! been applied at most once (no Capture plural element twice). Then the rows that are not
//! final are run again, as a resume does, until none is left; the emulator's state must
//! then equal the expected state exactly.

use profile_core::ClientSettings;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use profile_core::{FieldChange, KeyKind};
use profile_core::{HttpConfig, ProfilePatch, ProfileUpdater, RateLimit, RetryPolicy, UserRef};
use profile_emulator::{FaultController, RandomFaults};
use profile_sync::input::{Format, InputOptions};
use profile_sync::mapping::Mapping;
use profile_sync::source::FileSource;
use profile_sync::store::{MemoryState, ScopeKey};
use profile_sync::{Night, NightEvent, RowOutcome, SyncOptions, SyncRow};
use serde_json::{Value, json};

const ROWS: usize = 2_000;
const CONCURRENCY: usize = 32;
const SEED: u64 = 20_261_123;

/// The typical mix, with slow answers just past the client's timeout rather than 2 s.
fn chaos(seed: u64) -> RandomFaults {
    RandomFaults::typical(seed).slow(0.02, Duration::from_millis(700))
}

/// Timeouts well under the slow faults; retries quick, so the test is too.
fn http() -> HttpConfig {
    HttpConfig::default().with_request_timeout(Duration::from_millis(300))
}

fn retry() -> RetryPolicy {
    RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(50))
}

fn politeness() -> RateLimit {
    RateLimit::unlimited().with_max_in_flight(CONCURRENCY)
}

/// What the run saw, for the assertions and for the log.
#[derive(Debug, Default)]
struct Tally {
    passes: usize,
    first_pass: HashMap<&'static str, usize>,
}

fn kind(outcome: &RowOutcome) -> &'static str {
    match outcome {
        RowOutcome::Updated { .. } => "updated",
        RowOutcome::Unchanged => "unchanged",
        RowOutcome::Failed { .. } => "failed",
        RowOutcome::Unknown { .. } => "unknown",
        _ => "other",
    }
}

/// One night of `rows` with no state (every row read first), through an export written
/// as JSON Lines: a column per field path, the e-mail as the key.
async fn one_pass(updater: &Arc<dyn ProfileUpdater>, rows: &[SyncRow]) -> HashMap<u64, RowOutcome> {
    let path = std::env::temp_dir().join(format!(
        "faults-{}-{}-{}.jsonl",
        updater.vendor(),
        std::process::id(),
        rows.len()
    ));
    let mut text = String::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    for row in rows {
        let mut object = serde_json::Map::new();
        object.insert(
            "email".into(),
            json!(row.user.to_string().trim_start_matches("email ")),
        );
        for change in row.patch.changes() {
            if let FieldChange::Set { path, value } = change {
                object.insert(path.to_string(), value.clone());
                if !fields.iter().any(|(c, _)| *c == path.to_string()) {
                    fields.push((path.to_string(), path.to_string()));
                }
            }
        }
        text.push_str(&Value::Object(object).to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let mapping = Mapping::from_flags("email", KeyKind::Email, &fields).unwrap();
    let mut source = FileSource::open(&path, InputOptions::new(Format::Jsonl)).unwrap();
    let scope = ScopeKey {
        vendor: updater.vendor().into(),
        base_url: "faults".into(),
        name: "faults".into(),
        key_kind: "email".into(),
    };
    let mut outcomes = HashMap::new();
    let report = Night::new(
        updater.clone(),
        Arc::new(MemoryState::new()),
        scope,
        mapping,
    )
    .options(SyncOptions::default().with_concurrency(CONCURRENCY))
    .run(&mut source, |event| {
        if let NightEvent::Row(report) = event {
            outcomes.insert(rows[report.line as usize - 1].line, report.outcome.clone());
        }
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        report.summary.rows as usize,
        rows.len(),
        "{:?}",
        report.stopped
    );
    outcomes
}

/// Runs `rows` under `chaos`, checks each first-pass outcome with `check` against what
/// `state` reads of the emulator (row line → what it stores for that row), then resumes
/// (faults still on for three more passes, then off) until every row is final.
async fn run_under_faults(
    faults: &FaultController,
    updater: Arc<dyn ProfileUpdater>,
    rows: Vec<SyncRow>,
    state: impl Fn() -> HashMap<u64, Value>,
    check: impl Fn(&Value, &SyncRow, &RowOutcome),
) -> Tally {
    let mut tally = Tally::default();
    faults.set_random(Some(chaos(SEED)));
    let first = one_pass(&updater, &rows).await;
    assert!(
        faults.wait_idle(Duration::from_secs(10)).await,
        "slow requests finish"
    );
    let stored = state();
    for row in &rows {
        let outcome = &first[&row.line];
        *tally.first_pass.entry(kind(outcome)).or_default() += 1;
        match outcome {
            RowOutcome::Failed { reason, .. } | RowOutcome::Unknown { reason } => {
                assert!(!reason.is_empty(), "row {} has no reason", row.line)
            }
            RowOutcome::Updated { .. } | RowOutcome::Unchanged => {}
            other => panic!("row {}: unexpected {other:?}", row.line),
        }
        check(&stored[&row.line], row, outcome);
    }
    let injected = faults.injected();
    eprintln!(
        "{}: first pass {:?}; injected {injected:?}",
        updater.vendor(),
        tally.first_pass
    );
    assert!(
        injected.status > 0
            && injected.rate_limited > 0
            && injected.dropped > 0
            && injected.delayed > 0
            && injected.truncated > 0,
        "every kind of fault was injected: {injected:?}"
    );

    let mut pending: Vec<SyncRow> = rows
        .iter()
        .filter(|row| !first[&row.line].is_final())
        .cloned()
        .collect();
    tally.passes = 1;
    while !pending.is_empty() {
        assert!(tally.passes < 8, "rows still pending: {}", pending.len());
        if tally.passes > 3 {
            faults.set_random(None);
        }
        let outcomes = one_pass(&updater, &pending).await;
        faults.wait_idle(Duration::from_secs(10)).await;
        pending.retain(|row| !outcomes[&row.line].is_final());
        tally.passes += 1;
    }
    faults.set_random(None);
    eprintln!("{}: done after {} passes", updater.vendor(), tally.passes);
    tally
}

fn row(line: usize, user: UserRef, patch: ProfilePatch) -> SyncRow {
    SyncRow {
        line: line as u64 + 1,
        key: user.to_string(),
        user,
        address: None,
        patch,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sunshine_sync_under_random_faults_loses_nothing() {
    use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
    use profile_sunshine::{BaseUrl, SunshineAuth, SunshineClient, SunshineUpdater};

    let emulator = SunshineEmulator::start().await.unwrap();
    let profiles: Vec<Value> = (0..ROWS)
        .map(|i| json!({"source": "coolbikes", "type": "rider", "identifiers": [{"type": "email", "value": format!("rider{i}@example.com")}], "attributes": {"saddle_height": "85cm", "color": "red"}}))
        .collect();
    emulator.seed(&profiles).unwrap();
    let client = SunshineClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        SunshineAuth::api_token(SEED_EMAIL, SEED_API_TOKEN),
    )
    .http(http())
    .retry(retry())
    .rate_limit(politeness())
    .build()
    .unwrap();
    let updater: Arc<dyn ProfileUpdater> =
        Arc::new(SunshineUpdater::new(client, "coolbikes", "rider"));
    // Every fifth rider already has the wanted height.
    let height = |i: usize| format!("{}cm", if i.is_multiple_of(5) { 85 } else { 70 + i % 30 });
    let rows: Vec<SyncRow> = (0..ROWS)
        .map(|i| {
            let patch = ProfilePatch::new()
                .set("attributes.saddle_height", height(i))
                .unwrap();
            row(i, UserRef::email(format!("rider{i}@example.com")), patch)
        })
        .collect();
    let state = || -> HashMap<u64, Value> {
        emulator
            .profiles()
            .into_iter()
            .map(|p| {
                let email = p["identifiers"][0]["value"].as_str().unwrap().to_owned();
                let i: u64 = email[5..email.len() - 12].parse().unwrap();
                (i + 1, p["attributes"].clone())
            })
            .collect()
    };
    let tally = run_under_faults(
        emulator.faults(),
        updater,
        rows,
        state,
        |now, row, outcome| {
            let i = row.line as usize - 1;
            match outcome {
                RowOutcome::Updated { .. } | RowOutcome::Unchanged => {
                    assert_eq!(now["saddle_height"], height(i), "row {}", row.line)
                }
                RowOutcome::Failed { .. } if !i.is_multiple_of(5) => {
                    assert_eq!(
                        now["saddle_height"], "85cm",
                        "failed row {} was applied",
                        row.line
                    )
                }
                _ => {}
            }
        },
    )
    .await;
    assert!(tally.first_pass.get("updated").copied().unwrap_or(0) > ROWS / 2);

    // Exactly the expected state: every height as asked, nothing else touched.
    let mut expected: Vec<(String, Value)> = (0..ROWS)
        .map(|i| {
            (
                format!("rider{i}@example.com"),
                json!({"saddle_height": height(i), "color": "red"}),
            )
        })
        .collect();
    let mut got: Vec<(String, Value)> = emulator
        .profiles()
        .into_iter()
        .map(|p| {
            (
                p["identifiers"][0]["value"].as_str().unwrap().to_owned(),
                p["attributes"].clone(),
            )
        })
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), ROWS, "no profile created or lost");
    assert!(
        got == expected,
        "the final state differs from the expected one"
    );
}

/// How many elements of `statuses` say "onboarded".
fn onboarded(record: &Value) -> usize {
    record["statuses"]
        .as_array()
        .map(|s| s.iter().filter(|e| e["status"] == "onboarded").count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_sync_under_random_faults_never_appends_twice() {
    use profile_capture::{CaptureAuth, CaptureClient, CaptureUpdater};
    use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
    use profile_sunshine::BaseUrl;

    let emulator = CaptureEmulator::start().await.unwrap();
    // Every fifth rider is already onboarded, with the wanted family name.
    let family = |i: usize| format!("Family{i}");
    let records: Vec<Value> = (0..ROWS)
        .map(|i| {
            if i.is_multiple_of(5) {
                json!({"email": format!("rider{i}@example.com"), "givenName": "G", "familyName": family(i), "statuses": [{"status": "onboarded"}]})
            } else {
                json!({"email": format!("rider{i}@example.com"), "givenName": "G", "familyName": "Old"})
            }
        })
        .collect();
    emulator.seed("user", &records).unwrap();
    let client = CaptureClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        CaptureAuth::basic(SEED_CLIENT_2.0, SEED_CLIENT_2.1),
    )
    .http(http())
    .retry(retry())
    .rate_limit(politeness())
    .build()
    .unwrap();
    let updater: Arc<dyn ProfileUpdater> = Arc::new(CaptureUpdater::new(client, "user"));
    // One plain attribute and one plural element a row: the element is an append, which
    // is never sent twice.
    let rows: Vec<SyncRow> = (0..ROWS)
        .map(|i| {
            let patch = ProfilePatch::new()
                .set("familyName", family(i))
                .unwrap()
                .set("statuses", json!([{"status": "onboarded"}]))
                .unwrap();
            row(i, UserRef::email(format!("rider{i}@example.com")), patch)
        })
        .collect();
    let state = || -> HashMap<u64, Value> {
        emulator
            .records("user")
            .into_iter()
            .filter_map(|r| {
                let email = r["email"].as_str()?.to_owned();
                let i: u64 = email
                    .strip_prefix("rider")?
                    .strip_suffix("@example.com")?
                    .parse()
                    .ok()?;
                Some((i + 1, r))
            })
            .collect()
    };
    let tally = run_under_faults(
        emulator.faults(),
        updater,
        rows,
        state,
        |now, row, outcome| {
            let i = row.line as usize - 1;
            match outcome {
                RowOutcome::Updated { .. } | RowOutcome::Unchanged => {
                    assert_eq!(now["familyName"], family(i), "row {}", row.line);
                    assert_eq!(onboarded(now), 1, "row {}: {now}", row.line);
                }
                RowOutcome::Failed { .. } if !i.is_multiple_of(5) => {
                    assert_eq!(
                        now["familyName"], "Old",
                        "failed row {} was applied",
                        row.line
                    );
                    assert_eq!(onboarded(now), 0, "failed row {} was applied", row.line);
                }
                _ => assert!(
                    onboarded(now) <= 1,
                    "row {} appended twice: {now}",
                    row.line
                ),
            }
        },
    )
    .await;
    assert!(tally.first_pass.get("updated").copied().unwrap_or(0) > ROWS / 2);
    assert!(
        tally.first_pass.get("unknown").copied().unwrap_or(0) > 0,
        "appends cut off by faults are reported unknown, not resent"
    );

    let riders: Vec<Value> = emulator
        .records("user")
        .into_iter()
        .filter(|r| r["email"].as_str().is_some_and(|e| e.starts_with("rider")))
        .collect();
    assert_eq!(riders.len(), ROWS, "no record created or lost");
    for record in riders {
        let email = record["email"].as_str().unwrap();
        let i: usize = email[5..email.len() - 12].parse().unwrap();
        assert_eq!(record["familyName"], family(i), "{email}");
        assert_eq!(record["givenName"], "G", "{email}");
        let statuses = record["statuses"].as_array().unwrap();
        assert_eq!(statuses.len(), 1, "{email}: {statuses:?}");
        assert_eq!(statuses[0]["status"], "onboarded", "{email}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lumapps_sync_under_random_faults_loses_nothing() {
    use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsConfig, LumAppsEmulator, SEED_DIRECTORY};
    use profile_lumapps::{LumAppsAuth, LumAppsClient, LumAppsUpdater};
    use profile_sunshine::BaseUrl;

    let emulator = LumAppsEmulator::start_with(
        LumAppsConfig::default().synthetic_users(ROWS as u64),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let client = LumAppsClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        LumAppsAuth::token(DEMO_TOKEN),
    )
    .http(http())
    .retry(retry())
    .rate_limit(politeness())
    .build()
    .unwrap();
    let directory = client.get_directory(SEED_DIRECTORY, "en").await.unwrap();
    let updater: Arc<dyn ProfileUpdater> = Arc::new(LumAppsUpdater::new(client, directory, "en"));
    let email = |i: usize| format!("user{i:07}@customer.com");
    let title = |i: usize| format!("Engineer {i}");
    let rows: Vec<SyncRow> = (0..ROWS)
        .map(|i| {
            let patch = ProfilePatch::new().set("Title", title(i)).unwrap();
            row(i, UserRef::email(email(i)), patch)
        })
        .collect();
    let state = || -> HashMap<u64, Value> {
        (0..ROWS)
            .map(|i| {
                let user = emulator.user(&email(i)).unwrap();
                (i as u64 + 1, Value::Object(user))
            })
            .collect()
    };
    let stored_title = |user: &Value| user["apiProfile"]["organizations"]["title"].clone();
    let tally = run_under_faults(
        emulator.faults(),
        updater,
        rows,
        state,
        |now, row, outcome| {
            let i = row.line as usize - 1;
            match outcome {
                RowOutcome::Updated { .. } | RowOutcome::Unchanged => {
                    assert_eq!(stored_title(now), title(i), "row {}", row.line)
                }
                RowOutcome::Failed { .. } => {
                    assert_ne!(
                        stored_title(now),
                        title(i),
                        "failed row {} was applied",
                        row.line
                    )
                }
                _ => {}
            }
        },
    )
    .await;
    assert!(tally.first_pass.get("updated").copied().unwrap_or(0) > ROWS / 2);
    for i in 0..ROWS {
        let user = Value::Object(emulator.user(&email(i)).unwrap());
        assert_eq!(stored_title(&user), title(i), "{}", email(i));
    }
}
