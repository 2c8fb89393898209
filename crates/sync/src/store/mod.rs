//! What a sync remembers between nights: per user, the values the vendor last confirmed;
//! per run, what it was asked and what came of it; per scope, which run holds it.
//!
//! [`StateStore`] is the interface the night keeps its state through. It is made for a
//! store across a network: every method is async, writes come in groups (an intent is
//! durable when [`StateStore::intend`] returns; settlements are handed over many at a time),
//! outcomes are enums, errors name no database's types, and no state lives in a
//! connection. Two implementations: [`MemoryState`] (a night with no state file: every
//! run starts from what the vendor holds) and [`SqliteState`] (one SQLite file). Both pass
//! the same [`conformance`] suite, which any other store should pass too.
//!
//! How a settlement changes a user is decided here, once, for every store
//! ([`UserState::apply`]); a store only keeps records.

pub mod conformance;
mod held_keys;
mod lease;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

use std::time::SystemTime;

use serde_json::{Map, Value};

pub use lease::{HeldLease, LEASE_TTL, LeaseHolder, LeaseRecord};
pub use memory::MemoryState;
#[cfg(feature = "postgres")]
pub use postgres::PostgresState;
pub use sqlite::{SqliteState, decode_fields, encode_fields};

/// What went wrong with a state store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The store refused or failed (the database's own error is the source).
    #[error("{store}: {message}")]
    Backend {
        /// Which store (`state database /var/lib/profiles/riders.db`).
        store: String,
        /// What failed, in words.
        message: String,
        /// The database's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The store cannot be used as it is (damaged, read-only, another program's, removed
    /// while in use): a person must act before the next run.
    #[error("{store} cannot be used: {what}. {}", UNUSABLE_ADVICE)]
    Unusable {
        /// Which store.
        store: String,
        /// What is wrong, in words.
        what: String,
    },
    /// The store's address (its URL, or a libpq variable) cannot be used: nothing was
    /// opened, and nothing needs restoring.
    #[error("{store} cannot be used: {what}")]
    Address {
        /// Which store.
        store: String,
        /// What is wrong with its address, in words.
        what: String,
    },
    /// The store was written by a newer version of this tool.
    #[error(
        "{store} cannot be used: it has schema version {found}, and this version of profiles knows up to {known}. Upgrade profiles (do not remove the state: it would cost a night that reads everyone)"
    )]
    NewerSchema {
        /// Which store.
        store: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A value read back is not what this tool writes (edited by hand, or damaged).
    #[error("{store} cannot be used: {what}. {}", UNUSABLE_ADVICE)]
    Corrupt {
        /// Which store.
        store: String,
        /// What is wrong.
        what: String,
    },
    /// The store is gone (its worker stopped, its file was removed).
    #[error("{store} is no longer available: {reason}")]
    Closed {
        /// Which store.
        store: String,
        /// Why.
        reason: String,
    },
}

/// What to do about a state that cannot be used, and what it costs.
pub const UNUSABLE_ADVICE: &str = "Restore it from a backup, or move it aside and run again: \
     a new state is made, and its first night reads everyone at the vendor once (at Zendesk, each user)";

impl StateError {
    /// Whether the store cannot be used until a person acts (damaged, read-only, another
    /// program's, newer, removed, wrongly addressed), rather than failing for a moment.
    pub fn is_unusable(&self) -> bool {
        matches!(
            self,
            StateError::Unusable { .. }
                | StateError::Address { .. }
                | StateError::Corrupt { .. }
                | StateError::NewerSchema { .. }
                | StateError::Closed { .. }
        )
    }
}

/// Where a sync's records live: one vendor, one base URL, one kind of record there, one
/// kind of key. Two scopes never share a user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScopeKey {
    /// The vendor (`sunshine`).
    pub vendor: String,
    /// The base URL the sync talks to.
    pub base_url: String,
    /// What addresses records there: `source=coolbikes;type=rider`, `type_name=user`,
    /// `directory=…`.
    pub name: String,
    /// The kind of key (`email`, `id`, or an attribute's name).
    pub key_kind: String,
}

/// A scope's id in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScopeId(pub i64);

/// A run's id in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RunId(pub i64);

/// A user's last outcome, as the store keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UserOutcome {
    /// Found by a bulk read of the vendor; no row of the sync settled it yet.
    #[default]
    Listed,
    /// A write was sent and its answer is not recorded.
    Sending,
    /// A row's values were written.
    Updated,
    /// The user was created.
    Created,
    /// The vendor held the row's values already.
    Unchanged,
    /// The vendor refused the row; nothing was applied.
    Failed,
    /// A write may or may not have been applied.
    Unknown,
    /// The vendor has no such user, and none was created.
    Missing,
    /// A leaver whose profile was deleted.
    Deleted,
    /// A leaver whose leaver fields were written.
    Retired,
}

impl UserOutcome {
    /// The name stored (`updated`).
    pub fn as_str(self) -> &'static str {
        match self {
            UserOutcome::Listed => "listed",
            UserOutcome::Sending => "sending",
            UserOutcome::Updated => "updated",
            UserOutcome::Created => "created",
            UserOutcome::Unchanged => "unchanged",
            UserOutcome::Failed => "failed",
            UserOutcome::Unknown => "unknown",
            UserOutcome::Missing => "missing",
            UserOutcome::Deleted => "deleted",
            UserOutcome::Retired => "retired",
        }
    }

    /// The outcome of a stored name; `None` for a name this version does not write.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "listed" => UserOutcome::Listed,
            "sending" => UserOutcome::Sending,
            "updated" => UserOutcome::Updated,
            "created" => UserOutcome::Created,
            "unchanged" => UserOutcome::Unchanged,
            "failed" => UserOutcome::Failed,
            "unknown" => UserOutcome::Unknown,
            "missing" => UserOutcome::Missing,
            "deleted" => UserOutcome::Deleted,
            "retired" => UserOutcome::Retired,
            _ => return None,
        })
    }

    /// Whether the user is gone for the sync (deleted, or retired as a leaver).
    pub fn is_gone(self) -> bool {
        matches!(self, UserOutcome::Deleted | UserOutcome::Retired)
    }
}

impl std::fmt::Display for UserOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the store knows of one user.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct UserState {
    /// The vendor's id of the profile or record, when known.
    pub vendor_id: Option<String>,
    /// The mapped fields as the vendor last confirmed them, by path (`attributes.x`):
    /// `null` is "known to hold nothing"; a path that is absent is not known.
    pub fields: Map<String, Value>,
    /// The hash of the input row last settled.
    pub row_hash: Option<String>,
    /// The last outcome.
    pub outcome: UserOutcome,
    /// The vendor's error code of the last failure.
    pub code: Option<String>,
    /// What the last failure said.
    pub reason: Option<String>,
    /// Whether the last failure may pass.
    pub retryable: bool,
    /// A write was sent and its outcome is not known: read before writing again.
    pub in_doubt: bool,
    /// The sync manages this user: it settled them from an input row (wrote, created or
    /// confirmed them). Only managed users can be leavers.
    pub managed: bool,
    /// The run that last recorded something of the user.
    pub last_run: Option<RunId>,
    /// The input line of its last row.
    pub last_line: Option<u64>,
    /// When the vendor last confirmed its values (RFC 3339).
    pub confirmed_at: Option<String>,
    /// When the sync last changed them.
    pub changed_at: Option<String>,
    /// When its last row failed.
    pub failed_at: Option<String>,
}

/// `fields` over `into`, path by path; into nothing, a copy (no key hashed again).
fn merge_fields(into: &mut Map<String, Value>, fields: &Map<String, Value>) {
    if into.is_empty() {
        into.clone_from(fields);
        return;
    }
    for (path, value) in fields {
        into.insert(path.clone(), value.clone());
    }
}

/// The entry of [`UserState::fields`] that holds, for a person followed by an anchor, the
/// key (e-mail address) they were last settled under: the sync gives their profile a new
/// key when the row's differs. Never a vendor field (no field path starts with `@`).
pub const KEY_FIELD: &str = "@key";

/// How a confirmed row came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Confirmation {
    /// Its values were written.
    Updated,
    /// The user was created with them.
    Created,
    /// The vendor held them already.
    Unchanged,
}

/// A row's result, as recorded.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Settled {
    /// The vendor confirmed these values (a read, or a write it accepted): they replace
    /// the stored ones for these paths.
    Confirmed {
        /// The vendor's id, when the answer gave one.
        vendor_id: Option<String>,
        /// Path → value.
        fields: Map<String, Value>,
        /// The input row's hash.
        row_hash: String,
        /// Written, created, or held already.
        outcome: Confirmation,
        /// The fields written (empty when unchanged).
        written: Vec<String>,
        /// The fields the vendor held otherwise than the state said (a `--verify`).
        drift: Vec<String>,
    },
    /// The vendor refused the row, and nothing was applied.
    Failed {
        /// Why.
        reason: String,
        /// The vendor's code.
        code: Option<String>,
        /// Whether it may pass.
        retryable: bool,
        /// The input row's hash.
        row_hash: String,
    },
    /// A write may or may not have been applied: the user stays in doubt.
    Unknown {
        /// Why.
        reason: String,
    },
    /// The vendor has no such user, and none was created.
    Missing {
        /// Why none was created.
        reason: String,
        /// The input row's hash.
        row_hash: String,
    },
    /// A leaver's action was done: the profile deleted, or the leaver fields written.
    Retired {
        /// Whether the profile was deleted (else the leaver fields were written).
        deleted: bool,
        /// The leaver fields written, path → value.
        fields: Map<String, Value>,
    },
}

/// One row's settlement, as handed to [`StateStore::settle`] in groups.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Settlement {
    /// The input line (0 for a leaver).
    pub line: u64,
    /// The user's key.
    pub key: String,
    /// What came of it.
    pub settled: Settled,
}

impl Settlement {
    /// A settlement of `key`'s row at `line`.
    pub fn new(line: u64, key: impl Into<String>, settled: Settled) -> Self {
        Self {
            line,
            key: key.into(),
            settled,
        }
    }
}

/// A user found by a bulk read of the vendor: key, vendor id, mapped values by path.
pub type ListedUser = (String, Option<String>, Map<String, Value>);

/// What the store knows of one input key, looked up before its row is done.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Known {
    /// The user, when the store knows them.
    pub user: Option<UserState>,
}

/// A user the state manages who is gone from today's input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Leaver {
    /// The user's key.
    pub key: String,
    /// The vendor's id, when known.
    pub vendor_id: Option<String>,
}

/// Leavers the mass-leaver guard held: the set a person approves with
/// `--allow-leavers N`, once.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaverHold {
    /// The leavers' keys, sorted.
    pub keys: Vec<String>,
    /// Approved: a run is retiring them (or was, and was stopped).
    pub approved: bool,
    /// When they were held (RFC 3339).
    pub at: String,
}

impl LeaverHold {
    /// A hold of `keys`, not approved.
    pub fn new(mut keys: Vec<String>) -> Self {
        keys.sort();
        keys.dedup();
        Self {
            keys,
            approved: false,
            at: now(),
        }
    }
}

/// A user whose last row did not succeed, as `profiles sync status` lists them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The scope: vendor, base URL and name.
    pub scope: String,
    /// The user's key.
    pub key: String,
    /// `failed`, `unknown` or `missing`.
    pub outcome: String,
    /// The vendor's code.
    pub code: Option<String>,
    /// What it said.
    pub reason: Option<String>,
    /// Whether the next run tries it again even if its row does not change.
    pub retried: bool,
    /// When.
    pub at: Option<String>,
    /// The input line of its last row.
    pub line: Option<u64>,
}

impl DeadLetter {
    /// The dead letter of a user, if its last row did not succeed.
    pub fn of(scope: &str, key: &str, user: &UserState) -> Option<Self> {
        let outcome = match user.outcome {
            UserOutcome::Failed | UserOutcome::Unknown | UserOutcome::Missing => {
                user.outcome.as_str()
            }
            UserOutcome::Sending => "unknown",
            _ => return None,
        };
        Some(Self {
            scope: scope.to_owned(),
            key: key.to_owned(),
            outcome: outcome.to_owned(),
            code: user.code.clone(),
            reason: user.reason.clone(),
            retried: user.retryable || user.in_doubt || user.outcome != UserOutcome::Failed,
            at: user.failed_at.clone(),
            line: user.last_line,
        })
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunEnd {
    /// Every row was seen.
    Finished,
    /// The run stopped before the end, for this reason; the next run goes on.
    Stopped(String),
}

/// What a run row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RowRecord {
    /// Fields written.
    Updated,
    /// The user created.
    Created,
    /// Fields written that had drifted at the vendor.
    Corrected,
    /// Drift found and not corrected (a dry run).
    Drift,
    /// Refused.
    Failed,
    /// May or may not have been applied.
    Unknown,
    /// Not at the vendor, not created.
    Missing,
    /// A leaver deleted.
    Deleted,
    /// A leaver given their leaver fields.
    Retired,
}

impl RowRecord {
    /// The name stored (`updated`).
    pub fn as_str(self) -> &'static str {
        match self {
            RowRecord::Updated => "updated",
            RowRecord::Created => "created",
            RowRecord::Corrected => "corrected",
            RowRecord::Drift => "drift",
            RowRecord::Failed => "failed",
            RowRecord::Unknown => "unknown",
            RowRecord::Missing => "missing",
            RowRecord::Deleted => "deleted",
            RowRecord::Retired => "retired",
        }
    }

    /// The record of a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "updated" => RowRecord::Updated,
            "created" => RowRecord::Created,
            "corrected" => RowRecord::Corrected,
            "drift" => RowRecord::Drift,
            "failed" => RowRecord::Failed,
            "unknown" => RowRecord::Unknown,
            "missing" => RowRecord::Missing,
            "deleted" => RowRecord::Deleted,
            "retired" => RowRecord::Retired,
            _ => return None,
        })
    }

    /// Whether the row did not succeed.
    pub fn is_failure(self) -> bool {
        matches!(self, RowRecord::Failed | RowRecord::Unknown)
    }
}

/// A run, as a report of the nights shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct RunRecord {
    /// Its id.
    pub id: RunId,
    /// The interrupted run it finished, if any.
    pub continues: Option<RunId>,
    /// When it began (RFC 3339).
    pub started_at: String,
    /// When it ended, if it did.
    pub ended_at: Option<String>,
    /// `running`, `finished` or `stopped`.
    pub status: String,
    /// The input, in words.
    pub input: String,
    /// The options it ran with (`dry_run`, `mode`, `fields`, …).
    pub options: Value,
    /// Its counts, once ended: a [`SyncSummary`](crate::SyncSummary) and `requests`.
    pub summary: Option<Value>,
    /// Why it stopped early, if it did.
    pub stop_reason: Option<String>,
}

impl RunRecord {
    /// Whether it was a dry run (which changed nothing).
    pub fn dry_run(&self) -> bool {
        self.options.get("dry_run").and_then(Value::as_bool) == Some(true)
    }
}

/// A scope and its latest runs, newest first.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ScopeRuns {
    /// Its id in the store.
    pub id: ScopeId,
    /// What it is.
    pub scope: ScopeKey,
    /// Its runs, newest first.
    pub runs: Vec<RunRecord>,
}

/// A row of a run that did something or failed, as the report lists it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct RunRow {
    /// The run it was recorded by.
    pub run: i64,
    /// The input line.
    pub line: u64,
    /// The key.
    pub key: String,
    /// What it did.
    pub outcome: RowRecord,
    /// The vendor's code.
    pub code: Option<String>,
    /// Why it failed, or the fields written, or those that had drifted.
    pub detail: Option<String>,
}

impl RunRow {
    /// A row as a store read it back (its outcome as the store wrote it), or the damage
    /// that makes it none: `store` names the store in the error.
    pub(crate) fn stored(
        store: &str,
        run: i64,
        line: i64,
        key: String,
        outcome: &str,
        code: Option<String>,
        detail: Option<String>,
    ) -> Result<Self, StateError> {
        let Some(outcome) = RowRecord::parse(outcome) else {
            return Err(StateError::Corrupt {
                store: store.to_owned(),
                what: format!("run row {key} has the unknown outcome `{outcome}`"),
            });
        };
        Ok(Self {
            run,
            line: line.max(0) as u64,
            key,
            outcome,
            code,
            detail,
        })
    }

    /// The order a run's rows are read back in: by line, then by key as bytes.
    pub(crate) fn in_order(a: &Self, b: &Self) -> std::cmp::Ordering {
        a.line.cmp(&b.line).then_with(|| a.key.cmp(&b.key))
    }

    /// The run row a settlement leaves, if it leaves one (an unchanged row with no drift
    /// is only counted).
    pub fn of(run: RunId, settlement: &Settlement) -> Option<Self> {
        let (outcome, code, detail) = match &settlement.settled {
            Settled::Confirmed {
                outcome,
                written,
                drift,
                ..
            } => {
                let changed = !written.is_empty();
                match (changed, drift.is_empty()) {
                    (true, true) if *outcome == Confirmation::Created => {
                        (RowRecord::Created, None, written.join(", "))
                    }
                    (true, true) => (RowRecord::Updated, None, written.join(", ")),
                    (true, false) => (
                        RowRecord::Corrected,
                        None,
                        format!("wrote {}; drift: {}", written.join(", "), drift.join(", ")),
                    ),
                    (false, false) => (
                        RowRecord::Drift,
                        None,
                        format!("drift: {}", drift.join(", ")),
                    ),
                    (false, true) => return None,
                }
            }
            Settled::Failed { reason, code, .. } => {
                (RowRecord::Failed, code.clone(), reason.clone())
            }
            Settled::Unknown { reason } => (RowRecord::Unknown, None, reason.clone()),
            Settled::Missing { reason, .. } => (RowRecord::Missing, None, reason.clone()),
            Settled::Retired { deleted, fields } => (
                if *deleted {
                    RowRecord::Deleted
                } else {
                    RowRecord::Retired
                },
                None,
                fields.keys().cloned().collect::<Vec<_>>().join(", "),
            ),
        };
        Some(Self {
            run: run.0,
            line: settlement.line,
            key: settlement.key.clone(),
            outcome,
            code,
            detail: Some(detail),
        })
    }
}

/// A scope for the stores' and the engine's unit tests.
#[cfg(test)]
pub(crate) fn test_scope() -> ScopeKey {
    ScopeKey {
        vendor: "v".into(),
        base_url: "b".into(),
        name: "n".into(),
        key_kind: "email".into(),
    }
}

/// A user as a listing names them, for the stores' tests: id `id-KEY`, a name and a title.
#[cfg(test)]
pub(crate) fn test_listed_user(key: &str, name: &str) -> ListedUser {
    let mut fields = serde_json::Map::new();
    fields.insert("name".into(), name.into());
    fields.insert("title".into(), "Rider".into());
    (key.to_owned(), Some(format!("id-{key}")), fields)
}

/// A row of line `line` that updated `key`'s name, for the stores' tests.
#[cfg(test)]
pub(crate) fn test_updated(line: u64, key: &str, name: &str) -> Settlement {
    let mut fields = serde_json::Map::new();
    fields.insert("name".into(), name.into());
    Settlement::new(
        line,
        key,
        Settled::Confirmed {
            vendor_id: None,
            fields,
            row_hash: format!("hash-{line}"),
            outcome: Confirmation::Updated,
            written: vec!["name".into()],
            drift: vec![],
        },
    )
}

/// Begins a night of `scope` on `store` whose users are not known (a first night), and
/// lists a@x and b@x: the scope's id, the run, and the run it continues.
#[cfg(test)]
pub(crate) async fn test_listing_night(
    store: &dyn StateStore,
    scope: &ScopeKey,
) -> (ScopeId, RunId, Option<RunId>) {
    let scope = store.scope(scope).await.unwrap();
    let (run, continues) = store
        .begin_run(scope, "in.csv", &Value::Null)
        .await
        .unwrap();
    assert!(!store.has_users(scope).await.unwrap());
    let listing = [
        test_listed_user("a@x", "Ann"),
        test_listed_user("b@x", "Bob"),
    ];
    store.listed(scope, run, &listing).await.unwrap();
    (scope, run, continues)
}

/// A first night of `scope` on `store` whose lease is taken over while it runs (its
/// holder stalled past the lease's life; here, a holder whose process is gone) by a run on
/// `other`, a second handle on the same state; its listing then names c@x, it settles a@x
/// and ends. What it did stays; what it only listed (b@x, c@x) is not written over what
/// the new holder may have written, and the next night lists again.
#[cfg(test)]
pub(crate) async fn test_lease_lost_night(
    store: &dyn StateStore,
    other: &dyn StateStore,
    scope: &ScopeKey,
) {
    let me = LeaseHolder::this_process();
    let stalled = LeaseHolder {
        token: "stalled".into(),
        pid: u32::MAX - 1,
        ..me.clone()
    };
    let id = store.scope(scope).await.unwrap();
    assert!(store.acquire(id, &stalled).await.unwrap().is_none());
    let (id, run, _) = test_listing_night(store, scope).await;
    assert!(
        other.acquire(id, &me).await.unwrap().is_none(),
        "taken over"
    );
    assert!(!store.renew(id, &stalled).await.unwrap());
    // The listing goes on naming users, and a row in flight is settled.
    store
        .listed(id, run, &[test_listed_user("c@x", "Cy")])
        .await
        .unwrap();
    store
        .settle(id, run, &[test_updated(2, "a@x", "Anna")])
        .await
        .unwrap();
    store
        .end_run(run, &RunEnd::Stopped("lease lost".into()), &Value::Null)
        .await
        .unwrap();
    assert!(!other.has_users(id).await.unwrap(), "the next night lists");
    let (next, _) = other.begin_run(id, "in.csv", &Value::Null).await.unwrap();
    let known = other
        .lookup(id, next, &["a@x".into(), "b@x".into(), "c@x".into()])
        .await
        .unwrap();
    let ann = known[0]
        .user
        .as_ref()
        .map(|u| u.fields.get("name").cloned());
    assert_eq!(ann, Some(Some("Anna".into())), "{known:?}");
    assert!(
        known[1].user.is_none() && known[2].user.is_none(),
        "{known:?}"
    );
}

/// Ends `run` of `scope`: its users are known from then on.
#[cfg(test)]
pub(crate) async fn test_end_known(store: &dyn StateStore, scope: ScopeId, run: RunId) {
    store
        .end_run(run, &RunEnd::Finished, &Value::Null)
        .await
        .unwrap();
    assert!(store.has_users(scope).await.unwrap());
}

/// Now, as the stores write times: RFC 3339 in UTC, to the millisecond.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

impl UserState {
    /// The user a bulk read by `run` found, merged into what the store knew of them
    /// (`None`: new). `None` back: `run` has already written or marked the user (a listing
    /// that names them again after the run's rows reached them), whom the listing leaves
    /// as they are.
    pub fn listed(
        known: Option<Self>,
        run: RunId,
        vendor_id: Option<String>,
        fields: &Map<String, Value>,
        at: &str,
    ) -> Option<Self> {
        if known
            .as_ref()
            .is_some_and(|user| user.last_run == Some(run))
        {
            return None;
        }
        let mut user = known.unwrap_or_default();
        if vendor_id.is_some() {
            user.vendor_id = vendor_id;
        }
        merge_fields(&mut user.fields, fields);
        user.confirmed_at = Some(at.to_owned());
        Some(user)
    }

    /// The user marked in doubt before a write is sent by `run`.
    pub fn intended(known: Option<Self>, run: RunId) -> Self {
        let mut user = known.unwrap_or(UserState {
            outcome: UserOutcome::Sending,
            ..UserState::default()
        });
        user.in_doubt = true;
        user.last_run = Some(run);
        user
    }

    /// What a settlement by `run` makes of the user (`None`: new). `None` back: the
    /// settlement leaves no user (a leaver the store does not know).
    pub fn apply(
        known: Option<Self>,
        run: RunId,
        settlement: &Settlement,
        at: &str,
    ) -> Option<Self> {
        let line = Some(settlement.line);
        let at = Some(at.to_owned());
        match &settlement.settled {
            Settled::Confirmed {
                vendor_id,
                fields,
                row_hash,
                outcome,
                written,
                ..
            } => {
                let mut user = known.unwrap_or_default();
                if vendor_id.is_some() {
                    user.vendor_id = vendor_id.clone();
                }
                merge_fields(&mut user.fields, fields);
                user.row_hash = Some(row_hash.clone());
                user.outcome = match outcome {
                    Confirmation::Updated => UserOutcome::Updated,
                    Confirmation::Created => UserOutcome::Created,
                    Confirmation::Unchanged => UserOutcome::Unchanged,
                };
                user.code = None;
                user.reason = None;
                user.retryable = false;
                user.in_doubt = false;
                user.managed = true;
                user.last_run = Some(run);
                user.last_line = line;
                user.confirmed_at = at.clone();
                if !written.is_empty() {
                    user.changed_at = at;
                }
                Some(user)
            }
            Settled::Failed {
                reason,
                code,
                retryable,
                row_hash,
            } => {
                let mut user = known.unwrap_or_default();
                user.row_hash = Some(row_hash.clone());
                user.outcome = UserOutcome::Failed;
                user.in_doubt = false;
                user.code = code.clone();
                user.reason = Some(reason.clone());
                user.retryable = *retryable;
                user.last_run = Some(run);
                user.last_line = line;
                user.failed_at = at;
                Some(user)
            }
            Settled::Unknown { reason } => {
                let mut user = known.unwrap_or_default();
                user.outcome = UserOutcome::Unknown;
                user.reason = Some(reason.clone());
                user.in_doubt = true;
                user.last_run = Some(run);
                user.last_line = line;
                user.failed_at = at;
                Some(user)
            }
            Settled::Missing { reason, row_hash } => {
                let mut user = known.unwrap_or_default();
                user.row_hash = Some(row_hash.clone());
                user.outcome = UserOutcome::Missing;
                user.code = None;
                user.reason = Some(reason.clone());
                user.retryable = false;
                user.in_doubt = false;
                user.last_run = Some(run);
                user.last_line = line;
                user.failed_at = at;
                Some(user)
            }
            Settled::Retired { deleted, fields } => {
                let mut user = known?;
                user.outcome = if *deleted {
                    UserOutcome::Deleted
                } else {
                    UserOutcome::Retired
                };
                user.in_doubt = false;
                user.code = None;
                user.reason = None;
                if *deleted {
                    user.managed = false;
                    user.fields = Map::new();
                } else {
                    merge_fields(&mut user.fields, fields);
                }
                user.last_run = Some(run);
                user.changed_at = at.clone();
                user.confirmed_at = at;
                Some(user)
            }
        }
    }
}

/// The interface a night keeps its state through; see the [module](self) docs.
///
/// Every store must behave as [`conformance::check`] says: run it against yours.
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// The store in words, for messages (`state database /srv/riders.db`).
    fn describe(&self) -> String;

    /// Whether what it records outlives the process (an in-memory store does not: a
    /// mirror, whose leavers are the users earlier nights managed, needs one that does).
    fn persistent(&self) -> bool;

    /// The scope's id, created on first use.
    async fn scope(&self, scope: &ScopeKey) -> Result<ScopeId, StateError>;

    /// Takes the scope's lease for `holder`, unless another holds it: then who, and since
    /// when. A lease not renewed for [`LEASE_TTL`], or whose holder is a process of this
    /// host that is no longer running, is taken over.
    async fn acquire(
        &self,
        scope: ScopeId,
        holder: &LeaseHolder,
    ) -> Result<Option<HeldLease>, StateError>;

    /// Renews `holder`'s lease; `false` when it no longer holds it (taken over).
    async fn renew(&self, scope: ScopeId, holder: &LeaseHolder) -> Result<bool, StateError>;

    /// Gives the lease back (nothing if `holder` does not hold it).
    async fn release(&self, scope: ScopeId, holder: &LeaseHolder) -> Result<(), StateError>;

    /// Whether the scope was ever read in full from the vendor, or written by a run. A store
    /// that holds a first night's listing until the run's end (SQLite, PostgreSQL) also
    /// answers `false` while that night has not ended: the next night, after a first one
    /// killed, lists again.
    async fn has_users(&self, scope: ScopeId) -> Result<bool, StateError>;

    /// Starts a run. When the scope's last run did not finish (killed, stopped), the new
    /// one continues it: its id is returned beside the new one, and every user of the scope
    /// known only from a listing ([`UserOutcome::Listed`]) is marked in doubt, since a run
    /// writes to such a user without an intent (the listing was its only knowledge; the run
    /// that did not finish may have written to them without recording the answer).
    async fn begin_run(
        &self,
        scope: ScopeId,
        input: &str,
        options: &Value,
    ) -> Result<(RunId, Option<RunId>), StateError>;

    /// Adds keys of the run's input, each with its line (called in groups, in input order,
    /// before the first row is done).
    async fn add_input_keys(&self, run: RunId, keys: &[(String, u64)]) -> Result<(), StateError>;

    /// The keys of the run's input that appear more than once, each with all its lines in
    /// order (the last wins), in the order of their first line.
    async fn input_duplicates(&self, run: RunId) -> Result<Vec<(String, Vec<u64>)>, StateError>;

    /// What the store knows of each of `keys`, in their order.
    async fn lookup(
        &self,
        scope: ScopeId,
        run: RunId,
        keys: &[String],
    ) -> Result<Vec<Known>, StateError>;

    /// Stores what a bulk read of the vendor by `run` found (a user not in the store is
    /// added, not managed by the sync). A user `run` has already written or marked in doubt
    /// is left as it is: the run's rows may go on while it lists, and a listing that names
    /// someone twice must not undo what a row wrote.
    async fn listed(
        &self,
        scope: ScopeId,
        run: RunId,
        users: &[ListedUser],
    ) -> Result<(), StateError>;

    /// Marks users in doubt before their writes are sent, in one commit: durable when this
    /// returns, so that if the process dies before the answers, the next run reads each of
    /// them before writing. A key may appear more than once.
    async fn intend(&self, scope: ScopeId, run: RunId, keys: &[String]) -> Result<(), StateError>;

    /// Records rows' results, as one group.
    async fn settle(
        &self,
        scope: ScopeId,
        run: RunId,
        settlements: &[Settlement],
    ) -> Result<(), StateError>;

    /// The users of `scope` the sync manages who are not in the run's input and not
    /// retired yet, by key; and how many users it manages in all.
    async fn leavers(&self, scope: ScopeId, run: RunId) -> Result<(Vec<Leaver>, u64), StateError>;

    /// The leavers the guard holds for `scope`, if it holds any.
    async fn leaver_hold(&self, scope: ScopeId) -> Result<Option<LeaverHold>, StateError>;

    /// Every scope with its latest `limit` runs, newest first: what a report of the nights
    /// shows.
    async fn history(&self, limit: usize) -> Result<Vec<ScopeRuns>, StateError>;

    /// Records what the guard holds for `scope` (replacing what it held), or, with `None`,
    /// that it holds nothing (the set was retired).
    async fn set_leaver_hold(
        &self,
        scope: ScopeId,
        hold: Option<&LeaverHold>,
    ) -> Result<(), StateError>;

    /// Every user, of every scope, whose last row failed, is unknown or missing.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError>;

    /// Removes these keys' users from every scope (they are no longer managed, and the
    /// next run that sees the key reads the user at the vendor); answers how many were
    /// removed.
    async fn forget(&self, keys: &[String]) -> Result<u64, StateError>;

    /// Ends a run with its summary, and forgets its input keys.
    async fn end_run(&self, run: RunId, end: &RunEnd, summary: &Value) -> Result<(), StateError>;

    /// The runs a report covers: `run` and the interrupted runs it continues, oldest
    /// first.
    async fn run_chain(&self, run: RunId) -> Result<Vec<RunId>, StateError>;

    /// The rows recorded by the runs of a chain that did something or failed, the latest
    /// per key, by line.
    async fn run_rows(&self, runs: &[RunId]) -> Result<Vec<RunRow>, StateError>;
}
