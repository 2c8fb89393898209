//! The night against a vendor kept in memory: each rule of the engine, one test each.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use profile_core::{
    ApiError, ApiErrorKind, Error, KeyKind, Profile, ProfilePatch, ProfileUpdater, UserRef,
};
use serde_json::{Map, Value, json};

use crate::input::{Format, InputOptions};
use crate::mapping::Mapping;
use crate::source::{FileSource, RowSource, RowStream};
use crate::store::{MemoryState, ScopeKey, SqliteState, StateStore};
use crate::{
    BulkRead, LeaverAction, LeaverLimit, Night, NightEvent, NightReport, RowOutcome, SyncMode,
    SyncOptions, SyncStop,
};

/// A vendor in memory, by e-mail: counts its requests; refuses a name of `refused`; its
/// reads miss `lagging@x` once (an index that has not caught up), whose create then
/// answers that the record exists.
#[derive(Debug, Default)]
struct Vendor {
    users: Mutex<HashMap<String, Map<String, Value>>>,
    reads: AtomicU64,
    writes: AtomicU64,
    creates: AtomicU64,
    deletes: AtomicU64,
    missed: AtomicBool,
    /// Whether it lists its users (in key order) for a first night.
    lists: AtomicBool,
    /// Set, and told, once a listing has named everyone.
    listed: AtomicBool,
    on_listed: tokio::sync::Notify,
    /// A key whose write the listing waits for before it names its last user.
    hold_listing: Mutex<Option<String>>,
    /// Users a request of its listing names (0: one request names everyone); a listing in
    /// pages waits before its second until the night has counted its rows (`counted`).
    per_request: AtomicU64,
    counted: AtomicBool,
    on_counted: tokio::sync::Notify,
    /// A user's index at which its listing waits until it has answered `pause_reads`
    /// reads (0: it never waits so).
    pause_at: AtomicU64,
    pause_reads: AtomicU64,
    on_read: tokio::sync::Notify,
    /// Whether a write replaces the whole user, so that it reads before it writes.
    reads_first: AtomicBool,
    /// Requests its listings sent, when it lists in pages.
    pages: AtomicU64,
    written: Mutex<HashSet<String>>,
    on_write: tokio::sync::Notify,
}

fn email(user: &UserRef) -> String {
    user.to_string().trim_start_matches("email ").to_owned()
}

#[async_trait]
impl ProfileUpdater for Vendor {
    fn vendor(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, user: &UserRef) -> Result<Profile, Error> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.on_read.notify_waiters();
        let key = email(user);
        if key == "garbled@x" {
            return Err(Error::UnexpectedResponse {
                vendor: "memory",
                operation: "get",
                status: 200,
                reason: "not JSON".into(),
                source: None,
            });
        }
        if key == "lagging@x" && !self.missed.swap(true, Ordering::SeqCst) {
            return Err(ApiError::new("memory", "get", 404, ApiErrorKind::NotFound).into());
        }
        match self.users.lock().unwrap().get(&key) {
            Some(fields) => Ok(Profile::new(Some(key), fields.clone())),
            None => Err(ApiError::new("memory", "get", 404, ApiErrorKind::NotFound).into()),
        }
    }

    async fn update(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let mut fields = Map::new();
        patch.apply_to(&mut fields);
        if fields.get("name") == Some(&json!("refused")) {
            return Err(
                ApiError::new("memory", "update", 422, ApiErrorKind::InvalidRequest).into(),
            );
        }
        let mut users = self.users.lock().unwrap();
        let Some(fields) = users.get_mut(&email(user)) else {
            return Err(ApiError::new("memory", "update", 404, ApiErrorKind::NotFound).into());
        };
        patch.apply_to(fields);
        let answer = Profile::new(None, fields.clone());
        drop(users);
        self.written.lock().unwrap().insert(email(user));
        self.on_write.notify_waiters();
        Ok(answer)
    }

    async fn read_all(
        &self,
        _key: &KeyKind,
        _fields: &[profile_core::FieldPath],
        each: &mut (dyn FnMut(String, Profile) + Send),
    ) -> Result<bool, Error> {
        if !self.lists.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let mut users: Vec<(String, Map<String, Value>)> = self
            .users
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        users.sort_by(|a, b| a.0.cmp(&b.0));
        let hold = self.hold_listing.lock().unwrap().clone();
        let per_request = self.per_request.load(Ordering::SeqCst) as usize;
        let last = users.len().saturating_sub(1);
        for (i, (key, fields)) in users.into_iter().enumerate() {
            // In pages: a request at each page's start, a page's answer awaited.
            if per_request > 0 && i % per_request == 0 {
                self.pages.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                while i == per_request && !self.counted.load(Ordering::SeqCst) {
                    let told = self.on_counted.notified();
                    if self.counted.load(Ordering::SeqCst) {
                        break;
                    }
                    told.await;
                }
                let pause_reads = self.pause_reads.load(Ordering::SeqCst);
                while i as u64 == self.pause_at.load(Ordering::SeqCst) && i > 0 {
                    let told = self.on_read.notified();
                    if self.reads.load(Ordering::SeqCst) >= pause_reads {
                        break;
                    }
                    told.await;
                }
            }
            if let (true, Some(hold)) = (i == last, &hold) {
                loop {
                    let written = self.on_write.notified();
                    if self.written.lock().unwrap().contains(hold) {
                        break;
                    }
                    written.await;
                }
            }
            each(key.clone(), Profile::new(Some(key), fields));
        }
        self.listed.store(true, Ordering::SeqCst);
        self.on_listed.notify_waiters();
        Ok(true)
    }

    fn write_merges(&self) -> bool {
        !self.reads_first.load(Ordering::SeqCst)
    }

    fn listed_per_request(&self) -> Option<u64> {
        Some(self.per_request.load(Ordering::SeqCst)).filter(|&n| n > 0)
    }

    fn can_create(&self) -> bool {
        true
    }

    async fn create(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Option<String>, Error> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        let key = email(user);
        let mut users = self.users.lock().unwrap();
        if users.contains_key(&key) {
            return Err(ApiError::new("memory", "create", 409, ApiErrorKind::Conflict).into());
        }
        let mut fields = Map::new();
        patch.apply_to(&mut fields);
        users.insert(key.clone(), fields);
        Ok(Some(key))
    }

    fn can_delete(&self) -> bool {
        true
    }

    async fn delete(&self, user: &UserRef, _id: Option<&str>) -> Result<(), Error> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.users.lock().unwrap().remove(&email(user));
        Ok(())
    }
}

impl Vendor {
    fn with(users: &[(&str, &str)]) -> Arc<Self> {
        let vendor = Self::default();
        for (key, name) in users {
            let fields = json!({ "name": name }).as_object().unwrap().clone();
            vendor.users.lock().unwrap().insert((*key).into(), fields);
        }
        Arc::new(vendor)
    }

    fn requests(&self) -> u64 {
        [
            &self.reads,
            &self.writes,
            &self.creates,
            &self.deletes,
            &self.pages,
        ]
        .iter()
        .map(|n| n.load(Ordering::SeqCst))
        .sum()
    }

    fn name(&self, key: &str) -> Option<Value> {
        self.users
            .lock()
            .unwrap()
            .get(key)
            .map(|f| f["name"].clone())
    }
}

/// The scope every test's night syncs.
fn scope_key() -> ScopeKey {
    ScopeKey {
        vendor: "memory".into(),
        base_url: "memory:".into(),
        name: "test".into(),
        key_kind: "email".into(),
    }
}

struct Test {
    dir: std::path::PathBuf,
    vendor: Arc<Vendor>,
    store: Arc<dyn StateStore>,
}

impl Test {
    fn new(name: &str, vendor: Arc<Vendor>, persistent: bool) -> Self {
        let dir =
            std::env::temp_dir().join(format!("profile-sync-night-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store: Arc<dyn StateStore> = if persistent {
            Arc::new(SqliteState::open(&dir.join("state.db")).unwrap())
        } else {
            Arc::new(MemoryState::new())
        };
        Self { dir, vendor, store }
    }

    /// A run begun on the test's scope and never ended (as a killed run leaves it).
    async fn begin_run(&self) -> (crate::store::ScopeId, crate::store::RunId) {
        let scope = self.store.scope(&scope_key()).await.unwrap();
        let (run, _) = self
            .store
            .begin_run(scope, "x", &Value::Null)
            .await
            .unwrap();
        (scope, run)
    }

    /// A night of `rows` (e-mail, name) with `options`, as `night` sets it up.
    async fn night(
        &self,
        rows: &[(&str, &str)],
        options: SyncOptions,
        night: impl FnOnce(Night) -> Night,
    ) -> (NightReport, Vec<(u64, RowOutcome)>) {
        let mut source = self.source(rows);
        self.night_of(&mut source, options, night).await
    }

    /// `rows` (e-mail, name) as a CSV file.
    fn source(&self, rows: &[(&str, &str)]) -> FileSource {
        let path = self.dir.join("in.csv");
        let mut csv = String::from("email,name\n");
        for (key, name) in rows {
            csv.push_str(&format!("{key},{name}\n"));
        }
        std::fs::write(&path, csv).unwrap();
        FileSource::open(&path, InputOptions::new(Format::Csv)).unwrap()
    }

    /// A night of the rows of `source`.
    async fn night_of(
        &self,
        source: &mut dyn RowSource,
        options: SyncOptions,
        night: impl FnOnce(Night) -> Night,
    ) -> (NightReport, Vec<(u64, RowOutcome)>) {
        let mapping =
            Mapping::from_flags("email", KeyKind::Email, &[("name".into(), "name".into())])
                .unwrap();
        let scope = scope_key();
        let mut seen = Vec::new();
        let report = night(Night::new(
            self.vendor.clone(),
            self.store.clone(),
            scope,
            mapping,
        ))
        .options(options)
        .run(source, |event| match event {
            NightEvent::Row(row) | NightEvent::Leaver(row) => {
                seen.push((row.line, row.outcome.clone()))
            }
            _ => {}
        })
        .await
        .unwrap();
        seen.sort_by_key(|(line, _)| *line);
        (report, seen)
    }
}

fn updated() -> RowOutcome {
    RowOutcome::Updated {
        fields: vec!["name".into()],
    }
}

#[tokio::test]
async fn a_row_the_state_knows_unchanged_costs_nothing_and_a_change_one_write() {
    let test = Test::new("steady", Vendor::with(&[("a@x", "A"), ("b@x", "B")]), true);
    let rows = [("a@x", "A"), ("b@x", "B")];
    test.night(&rows, SyncOptions::default(), |n| n).await;
    let before = test.vendor.requests();
    let (report, _) = test.night(&rows, SyncOptions::default(), |n| n).await;
    assert_eq!(test.vendor.requests(), before);
    assert_eq!(report.summary.from_state, 2);
    let (_, seen) = test
        .night(
            &[("a@x", "A2"), ("b@x", "B")],
            SyncOptions::default(),
            |n| n,
        )
        .await;
    assert_eq!(seen[0].1, updated());
    // One write, no read: the vendor merges what it is sent.
    assert_eq!(test.vendor.requests(), before + 1);
}

#[tokio::test]
async fn a_user_in_doubt_is_read_before_anything_is_written_again() {
    let test = Test::new("doubt", Vendor::with(&[("a@x", "A")]), true);
    test.night(&[("a@x", "A")], SyncOptions::default(), |n| n)
        .await;
    // A run killed after its intent and its write: the vendor holds the new name, the
    // state does not know it, and the user is in doubt.
    let (scope, run) = test.begin_run().await;
    test.store
        .intend(scope, run, &["a@x".into()])
        .await
        .unwrap();
    test.vendor.users.lock().unwrap().insert(
        "a@x".into(),
        json!({"name": "A2"}).as_object().unwrap().clone(),
    );
    let writes = test.vendor.writes.load(Ordering::SeqCst);
    let reads = test.vendor.reads.load(Ordering::SeqCst);
    let (_, seen) = test
        .night(&[("a@x", "A2")], SyncOptions::default(), |n| n)
        .await;
    // Read, found applied: counted as the write that landed, not sent again.
    assert_eq!(seen[0].1, updated());
    assert_eq!(test.vendor.reads.load(Ordering::SeqCst), reads + 1);
    assert_eq!(test.vendor.writes.load(Ordering::SeqCst), writes);
}

#[tokio::test]
async fn a_user_known_from_a_listing_of_a_run_that_did_not_finish_is_read_first() {
    let test = Test::new("listed-doubt", Vendor::with(&[("a@x", "A")]), true);
    // A first night that listed the user, then wrote a new name with no intent (the
    // listing was all the state knew) and was killed before recording the answer.
    let (scope, run) = test.begin_run().await;
    let fields = json!({"name": "A"}).as_object().unwrap().clone();
    test.store
        .listed(scope, run, &[("a@x".into(), None, fields)])
        .await
        .unwrap();
    test.vendor.users.lock().unwrap().insert(
        "a@x".into(),
        json!({"name": "A2"}).as_object().unwrap().clone(),
    );
    // The row goes back to what the listing saw: the state alone would call it unchanged.
    let reads = test.vendor.reads.load(Ordering::SeqCst);
    let (_, seen) = test
        .night(&[("a@x", "A")], SyncOptions::default(), |n| n)
        .await;
    assert_eq!(seen[0].1, updated());
    assert_eq!(test.vendor.reads.load(Ordering::SeqCst), reads + 1);
    assert_eq!(test.vendor.name("a@x"), Some(json!("A")));
}

#[tokio::test]
async fn a_create_answered_exists_goes_on_as_an_update_of_that_record() {
    let test = Test::new("exists", Vendor::with(&[("lagging@x", "Old")]), false);
    let options = SyncOptions::default().with_mode(SyncMode::Upsert);
    let (report, seen) = test.night(&[("lagging@x", "New")], options, |n| n).await;
    assert_eq!(seen[0].1, updated(), "{report:?}");
    assert_eq!(test.vendor.creates.load(Ordering::SeqCst), 1);
    assert_eq!(test.vendor.name("lagging@x"), Some(json!("New")));
    assert_eq!(test.vendor.users.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_verify_finds_drift_and_corrects_it() {
    let test = Test::new("drift", Vendor::with(&[("a@x", "A")]), true);
    test.night(&[("a@x", "A")], SyncOptions::default(), |n| n)
        .await;
    test.vendor.users.lock().unwrap().insert(
        "a@x".into(),
        json!({"name": "Edited"}).as_object().unwrap().clone(),
    );
    let options = SyncOptions::default().with_verify(true);
    let (report, seen) = test.night(&[("a@x", "A")], options, |n| n).await;
    assert_eq!(seen[0].1, updated());
    assert_eq!(report.summary.drifted, 1);
    assert_eq!(report.whole_run.drift, 1);
    assert_eq!(test.vendor.name("a@x"), Some(json!("A")));
}

#[tokio::test]
async fn a_key_on_two_lines_is_synced_once_from_its_last_line() {
    let test = Test::new("dups", Vendor::with(&[("a@x", "A")]), false);
    let (report, seen) = test
        .night(
            &[("a@x", "First"), ("a@x", "Last")],
            SyncOptions::default(),
            |n| n,
        )
        .await;
    assert_eq!(seen[0].1, RowOutcome::Superseded { by_line: 3 });
    assert_eq!(seen[1].1, updated());
    assert_eq!(report.duplicates, [("a@x".to_owned(), vec![2, 3])]);
    assert_eq!(test.vendor.name("a@x"), Some(json!("Last")));
}

#[tokio::test]
async fn a_refused_row_is_not_sent_again_until_it_changes() {
    let test = Test::new("refused", Vendor::with(&[("a@x", "A")]), true);
    let (_, seen) = test
        .night(&[("a@x", "refused")], SyncOptions::default(), |n| n)
        .await;
    assert!(matches!(
        seen[0].1,
        RowOutcome::Failed {
            retryable: false,
            ..
        }
    ));
    let before = test.vendor.requests();
    let (report, seen) = test
        .night(&[("a@x", "refused")], SyncOptions::default(), |n| n)
        .await;
    assert!(
        matches!(&seen[0].1, RowOutcome::Failed { reason, .. } if reason.contains("not sent again"))
    );
    assert_eq!(test.vendor.requests(), before);
    assert_eq!(report.failures.len(), 1);
    let (_, seen) = test
        .night(&[("a@x", "Fixed")], SyncOptions::default(), |n| n)
        .await;
    assert_eq!(seen[0].1, updated());
}

#[tokio::test]
async fn leavers_past_the_guard_are_held_and_an_exact_approval_retires_them() {
    let people: Vec<(String, String)> = (0..10).map(|i| (format!("p{i}@x"), "P".into())).collect();
    let rows: Vec<(&str, &str)> = people
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let test = Test::new("leavers", Vendor::with(&rows), true);
    let mirror = SyncOptions::default().with_mode(SyncMode::Mirror);
    let leavers = |allow| {
        move |night: Night| night.leavers(LeaverAction::Delete, LeaverLimit::Percent(10.0), allow)
    };
    test.night(&rows, mirror.clone(), leavers(None)).await;
    // Three of ten gone: past 10 %, nothing is done to any of them.
    let (report, _) = test.night(&rows[3..], mirror.clone(), leavers(None)).await;
    assert_eq!(report.leavers_held.as_ref().map(|g| g.leavers), Some(3));
    assert_eq!(test.vendor.deletes.load(Ordering::SeqCst), 0);
    let (report, _) = test
        .night(&rows[3..], mirror.clone(), leavers(Some(3)))
        .await;
    assert!(report.leavers_held.is_none());
    assert_eq!(report.summary.deleted, 3);
    let left: HashSet<String> = test.vendor.users.lock().unwrap().keys().cloned().collect();
    assert_eq!(left.len(), 7);
    assert!(!left.contains("p0@x"));
    // The approval was of that set, once: `--allow-leavers 3` left in the nightly line does
    // not approve the next three.
    let (report, _) = test
        .night(&rows[6..], mirror.clone(), leavers(Some(3)))
        .await;
    let guard = report.leavers_held.expect("held");
    assert!(guard.newly_held && guard.leavers == 3, "{guard}");
    assert_eq!(test.vendor.deletes.load(Ordering::SeqCst), 3);
    // Approved now that a run held them.
    let (report, _) = test.night(&rows[6..], mirror, leavers(Some(3))).await;
    assert_eq!(report.summary.deleted, 3);
}

#[tokio::test]
async fn a_mirror_without_a_lasting_state_is_refused_before_anything_is_sent() {
    let test = Test::new("mirror-memory", Vendor::with(&[]), false);
    let path = test.dir.join("in.csv");
    std::fs::write(&path, "email,name\na@x,A\n").unwrap();
    let mut source = FileSource::open(&path, InputOptions::new(Format::Csv)).unwrap();
    let mapping =
        Mapping::from_flags("email", KeyKind::Email, &[("name".into(), "name".into())]).unwrap();
    let scope = scope_key();
    let error = Night::new(test.vendor.clone(), test.store.clone(), scope, mapping)
        .options(SyncOptions::default().with_mode(SyncMode::Mirror))
        .leavers(LeaverAction::Delete, LeaverLimit::default(), None)
        .run(&mut source, |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(error, crate::NightError::MirrorNeedsState),
        "{error}"
    );
    assert_eq!(test.vendor.requests(), 0);
}

#[tokio::test]
async fn a_cancelled_night_takes_no_more_rows_and_says_it_was_interrupted() {
    let test = Test::new("cancel", Vendor::with(&[("a@x", "A")]), false);
    let cancel = Arc::new(AtomicBool::new(true));
    let options = SyncOptions::default().with_cancel(cancel);
    let (report, seen) = test.night(&[("a@x", "B")], options, |n| n).await;
    assert!(seen.is_empty());
    assert!(matches!(report.stopped, Some(SyncStop::Interrupted)));
    assert_eq!(test.vendor.name("a@x"), Some(json!("A")));
}

#[tokio::test]
async fn a_read_that_fails_is_failed_and_never_may_have_been_applied() {
    let test = Test::new("garbled", Vendor::with(&[("garbled@x", "G")]), false);
    let (report, seen) = test
        .night(&[("garbled@x", "New")], SyncOptions::default(), |n| n)
        .await;
    assert!(
        matches!(&seen[0].1, RowOutcome::Failed { reason, retryable: true, .. } if reason.starts_with("the read failed")),
        "{:?}",
        seen[0].1
    );
    assert_eq!(report.summary.unknown, 0);
    assert_eq!(test.vendor.writes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_first_night_goes_on_with_the_rows_whose_users_the_listing_has_named() {
    // The vendor lists a@x and b@x, then holds the rest of its listing (z@x, whom the
    // input does not name) until a@x is written: a night whose rows waited for the whole
    // listing would never end.
    let vendor = Vendor::with(&[("a@x", "A"), ("b@x", "B"), ("z@x", "Z")]);
    vendor.lists.store(true, Ordering::SeqCst);
    *vendor.hold_listing.lock().unwrap() = Some("a@x".into());
    let test = Test::new("alongside", vendor, true);
    let rows = [("a@x", "A2"), ("b@x", "B")];
    let (report, seen) = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        test.night(&rows, SyncOptions::default(), |n| n),
    )
    .await
    .expect("the rows went on beside the listing");
    // b@x is known from the listing: unchanged, with no request.
    assert_eq!(seen[0].1, updated());
    assert_eq!(seen[1].1, RowOutcome::Unchanged);
    assert_eq!(report.summary.from_state, 1);
    assert_eq!(test.vendor.requests(), 1);
    // The state holds the whole listing and what the rows wrote: the next night sends
    // nothing for them, and finds the one the listing did not name missing (update mode).
    let rows = [("a@x", "A2"), ("b@x", "B"), ("c@x", "C")];
    let (report, seen) = test.night(&rows, SyncOptions::default(), |n| n).await;
    assert_eq!(report.summary.from_state, 2);
    assert!(
        matches!(seen[2].1, RowOutcome::Missing { .. }),
        "{:?}",
        seen[2]
    );
}

/// A vendor of `n` users, u0000@x, u0001@x… named U0, U1…, listing 10 a request, its
/// second page held until the night has counted its rows; one that merges its writes, or
/// that reads a user before it writes them (`reads_first`).
fn listing_vendor(n: usize, reads_first: bool) -> Arc<Vendor> {
    let names: Vec<(String, String)> = (0..n)
        .map(|i| (format!("u{i:04}@x"), format!("U{i}")))
        .collect();
    let users: Vec<(&str, &str)> = names
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let vendor = Vendor::with(&users);
    vendor.lists.store(true, Ordering::SeqCst);
    vendor.per_request.store(10, Ordering::SeqCst);
    vendor.reads_first.store(reads_first, Ordering::SeqCst);
    vendor
}

/// A first night of `rows` on `test`, and what its listing read.
async fn first_night(test: &Test, rows: &[(&str, &str)]) -> (Vec<(u64, RowOutcome)>, BulkRead) {
    let mut source = test.source(rows);
    let mapping =
        Mapping::from_flags("email", KeyKind::Email, &[("name".into(), "name".into())]).unwrap();
    let (mut seen, mut read) = (Vec::new(), None);
    let night = Night::new(
        test.vendor.clone(),
        test.store.clone(),
        scope_key(),
        mapping,
    );
    let run = night.run(&mut source, |event| match event {
        NightEvent::Row(row) => seen.push((row.line, row.outcome.clone())),
        NightEvent::BulkRead { read: bulk, .. } => read = Some(bulk.clone()),
        NightEvent::Total(_) => {
            test.vendor.counted.store(true, Ordering::SeqCst);
            test.vendor.on_counted.notify_waiters();
        }
        _ => {}
    });
    tokio::time::timeout(std::time::Duration::from_secs(20), run)
        .await
        .expect("the night ended")
        .unwrap();
    seen.sort_by_key(|(line, _)| *line);
    (seen, read.expect("a first night lists"))
}

#[tokio::test]
async fn a_first_nights_listing_that_costs_more_than_its_rows_is_stopped() {
    // Three rows against 100 users listed 10 a request: past three requests, reading each
    // row on its own costs less than listing on.
    let test = Test::new("listing-stopped", listing_vendor(100, false), true);
    let rows = [("u0000@x", "New"), ("u0095@x", "New"), ("nobody@x", "N")];
    let (seen, read) = first_night(&test, &rows).await;
    assert!(read.stopped && !read.listed, "{read:?}");
    assert!(read.profiles < 100, "{read:?}");
    assert!(!test.vendor.listed.load(Ordering::SeqCst));
    let pages = test.vendor.pages.load(Ordering::SeqCst);
    assert!(pages <= 5, "the listing went on for {pages} requests");
    // The rows are what a whole listing would have made them: the one it had not named
    // read on its own and updated, the one the vendor does not have missing.
    assert_eq!(seen[0].1, updated());
    assert_eq!(seen[1].1, updated());
    assert!(matches!(seen[2].1, RowOutcome::Missing { .. }), "{seen:?}");
    assert_eq!(test.vendor.name("u0095@x"), Some(json!("New")));
    // One read for each row the listing had not named (u0095@x, nobody@x).
    assert_eq!(test.vendor.reads.load(Ordering::SeqCst), 2);
    // The state knows what the rows found: the next night sends nothing for them.
    let before = test.vendor.requests();
    let (report, _) = test.night(&rows, SyncOptions::default(), |n| n).await;
    assert_eq!(report.summary.from_state, 2);
    assert_eq!(
        test.vendor.requests(),
        before + 1,
        "only nobody@x read again"
    );
}

#[tokio::test]
async fn a_first_nights_listing_within_its_rows_names_everyone() {
    // Ten rows: the listing's ten requests cost no more than reading them would.
    let test = Test::new("listing-whole", listing_vendor(100, false), false);
    let mut rows: Vec<(String, &str)> = (0..10).map(|i| (format!("u{i:04}@x"), "New")).collect();
    rows[9].0 = "u0099@x".into();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let (seen, read) = first_night(&test, &rows).await;
    assert!(read.listed && !read.stopped, "{read:?}");
    assert_eq!(read.profiles, 100);
    assert_eq!(test.vendor.pages.load(Ordering::SeqCst), 10);
    assert!(
        seen.iter().all(|(_, outcome)| *outcome == updated()),
        "{seen:?}"
    );
    // Every row's user was named by the listing: none read on its own.
    assert_eq!(test.vendor.reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_first_nights_listing_that_spares_the_rows_no_read_is_stopped() {
    // Every row changes, at a vendor that reads each user before it writes them: the
    // listing spares none of them a read. Its 31st request waits until the rows it named
    // (its first 300 users) have been read, then it is stopped.
    let vendor = listing_vendor(1000, true);
    vendor.pause_at.store(300, Ordering::SeqCst);
    vendor.pause_reads.store(300, Ordering::SeqCst);
    let test = Test::new("listing-spares-none", vendor, false);
    let names: Vec<String> = (0..300).map(|i| format!("u{i:04}@x")).collect();
    let rows: Vec<(&str, &str)> = names.iter().map(|k| (k.as_str(), "New")).collect();
    let (seen, read) = first_night(&test, &rows).await;
    assert!(read.stopped && !read.listed, "{read:?}");
    let pages = test.vendor.pages.load(Ordering::SeqCst);
    assert!(
        pages <= 32,
        "the listing went on for {pages} of its 100 requests"
    );
    assert!(seen.iter().all(|(_, outcome)| *outcome == updated()));
    // Each row read once and written once: the listing changed nothing of the rows.
    assert_eq!(test.vendor.reads.load(Ordering::SeqCst), 300);
    assert_eq!(test.vendor.writes.load(Ordering::SeqCst), 300);
}

#[tokio::test]
async fn a_first_nights_listing_that_spares_the_rows_their_reads_lists_everyone() {
    // The same vendor and rows, each already holding its value: the listing spares every
    // row its read, and goes on to its end.
    let test = Test::new("listing-spares-all", listing_vendor(1000, true), false);
    let rows: Vec<(String, String)> = (0..300)
        .map(|i| (format!("u{i:04}@x"), format!("U{i}")))
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (seen, read) = first_night(&test, &rows).await;
    assert!(read.listed && !read.stopped, "{read:?}");
    assert_eq!(read.profiles, 1000);
    assert_eq!(test.vendor.pages.load(Ordering::SeqCst), 100);
    assert!(
        seen.iter()
            .all(|(_, outcome)| *outcome == RowOutcome::Unchanged)
    );
    assert_eq!(test.vendor.requests(), 100, "the listing alone");
}

/// A source whose first reading (the keys pass) gives no row before the vendor's listing
/// is over.
struct AfterTheListing {
    file: FileSource,
    vendor: Arc<Vendor>,
    read: bool,
}

impl RowSource for AfterTheListing {
    fn name(&self) -> String {
        self.file.name()
    }

    fn columns(&self) -> &[String] {
        self.file.columns()
    }

    fn rows(&mut self) -> Result<RowStream, crate::input::InputError> {
        use futures_util::StreamExt;
        let rows = self.file.rows()?;
        if std::mem::replace(&mut self.read, true) {
            return Ok(rows);
        }
        let vendor = self.vendor.clone();
        let listed = async move {
            loop {
                let told = vendor.on_listed.notified();
                if vendor.listed.load(Ordering::SeqCst) {
                    return rows;
                }
                told.await;
            }
        };
        Ok(futures_util::stream::once(listed).flatten().boxed())
    }
}

#[tokio::test]
async fn a_first_nights_listing_goes_on_beside_the_keys_pass() {
    // The keys pass waits for the listing to be over: a night that listed only after it
    // would never end. The listing over first, the rows still know what it found.
    let vendor = Vendor::with(&[("a@x", "A"), ("b@x", "B")]);
    vendor.lists.store(true, Ordering::SeqCst);
    let test = Test::new("beside-keys", vendor.clone(), true);
    let mut source = AfterTheListing {
        file: test.source(&[("a@x", "A2"), ("b@x", "B")]),
        vendor,
        read: false,
    };
    let (report, seen) = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        test.night_of(&mut source, SyncOptions::default(), |n| n),
    )
    .await
    .expect("the listing went on beside the keys pass");
    assert_eq!(seen[0].1, updated());
    assert_eq!(seen[1].1, RowOutcome::Unchanged);
    assert_eq!(report.summary.from_state, 1);
    assert_eq!(test.vendor.requests(), 1, "one write, no read");
}
