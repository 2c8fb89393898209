//! What a night is made of and what comes of it: rows, outcomes, modes, options and the
//! counts.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use profile_core::{Error, ProfilePatch, SendState, UserRef};

/// One input row: which user, and what their profile should hold.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncRow {
    /// The row's line in the input (1-based), for reports and the journal.
    pub line: u64,
    /// The row's key as written in the input (an e-mail, an id): for reports and resume.
    pub key: String,
    /// The user.
    pub user: UserRef,
    /// With an anchor, the row's key (its e-mail address, say), which [`user`](Self::user)
    /// addresses until the state links the anchor to the vendor's id; `key` is then the
    /// anchor's value. `None` without an anchor.
    pub address: Option<String>,
    /// What their profile should hold.
    pub patch: ProfilePatch,
}

/// An input row that could not be read into a [`SyncRow`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RowError {
    /// The row's line in the input.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// A field a dry run would change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldDiff {
    /// The field.
    pub field: String,
    /// Its current value (`None` when missing).
    pub from: Option<Value>,
    /// Its new value (`None` when it would be removed).
    pub to: Option<Value>,
}

/// What happened to one row.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RowOutcome {
    /// The profile was changed.
    Updated {
        /// The fields written.
        fields: Vec<String>,
    },
    /// The profile already held every value: nothing was written.
    Unchanged,
    /// Dry run: what would be written.
    WouldUpdate {
        /// The changes.
        changes: Vec<FieldDiff>,
    },
    /// The row failed, and nothing was applied (the vendor refused it, or it never left).
    Failed {
        /// Why.
        reason: String,
        /// The vendor's error code, if it answered with one.
        code: Option<String>,
        /// Whether trying again later may succeed.
        retryable: bool,
    },
    /// The write may or may not have been applied (a timeout, a dropped connection, a 5xx,
    /// an answer cut short): a resume reads the profile before deciding, so it is neither
    /// lost nor applied twice.
    Unknown {
        /// Why.
        reason: String,
    },
    /// The input row could not be read.
    Malformed {
        /// Why.
        reason: String,
    },
    /// A later row of the input has the same key: that one is synced, this one is not.
    Superseded {
        /// The line that wins.
        by_line: u64,
    },
    /// The user had no profile, and one was created.
    Created {
        /// The fields written.
        fields: Vec<String>,
    },
    /// Dry run: the user has no profile, and one would be created with these fields.
    WouldCreate {
        /// The fields.
        changes: Vec<FieldDiff>,
    },
    /// The user has no profile at the vendor, and none was created (`--mode update`, or a
    /// vendor that cannot create them).
    Missing {
        /// Why none was created.
        reason: String,
    },
    /// A leaver (managed, gone from the input): their profile was deleted, or the leaver
    /// fields written.
    Retired {
        /// Deleted (else the leaver fields were written).
        deleted: bool,
    },
    /// A leaver the vendor no longer has (deleted there already): settled as gone, never
    /// a failure.
    Gone,
    /// Dry run: a leaver who would be retired.
    WouldRetire {
        /// Would be deleted (else the leaver fields written).
        deleted: bool,
    },
    /// The row is outside the mapping's scope (`where`): not synced (in mirror mode, a
    /// managed person outside it is a leaver).
    OutOfScope,
}

impl RowOutcome {
    /// Whether the row needs no more work (a resume skips it).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            RowOutcome::Updated { .. }
                | RowOutcome::Unchanged
                | RowOutcome::Malformed { .. }
                | RowOutcome::Superseded { .. }
                | RowOutcome::Created { .. }
                | RowOutcome::Missing { .. }
                | RowOutcome::Retired { .. }
                | RowOutcome::Gone
                | RowOutcome::OutOfScope
        ) || matches!(
            self,
            RowOutcome::Failed {
                retryable: false,
                ..
            }
        )
    }

    /// Whether the row counts as a success for the exit code.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            RowOutcome::Updated { .. }
                | RowOutcome::Unchanged
                | RowOutcome::WouldUpdate { .. }
                | RowOutcome::Superseded { .. }
                | RowOutcome::Created { .. }
                | RowOutcome::WouldCreate { .. }
                | RowOutcome::Missing { .. }
                | RowOutcome::Retired { .. }
                | RowOutcome::Gone
                | RowOutcome::OutOfScope
                | RowOutcome::WouldRetire { .. }
        )
    }
}

/// What a sync does with users the vendor does not have, and with users gone from the
/// input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SyncMode {
    /// Movers only: a user the vendor does not have is reported `missing`.
    #[default]
    Update,
    /// Joiners too: a user the vendor does not have is created (where the vendor can).
    Upsert,
    /// Upsert, and leavers: users this state manages who are gone from the input get the
    /// leaver action.
    Mirror,
}

/// How a sync runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Rows in flight at once.
    pub concurrency: usize,
    /// Read and compare only; write nothing.
    pub dry_run: bool,
    /// Read each profile first and write only what differs (on by default). Without it,
    /// every row's whole patch is written without reading.
    pub read_first: bool,
    /// With a state: read everyone at the vendor (in bulk where it can list) and compare
    /// with what the state remembers, so that a change made at the vendor is found and
    /// corrected.
    pub verify: bool,
    /// Update, upsert or mirror.
    pub mode: SyncMode,
    /// Set to stop taking rows (a Ctrl-C): the rows in flight get [`grace`](Self::grace) to
    /// finish, the others are left for the next run.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Set to leave the rows in flight at once (a second Ctrl-C). A row left before its
    /// write was sent did nothing; one left after is in doubt, and the next run reads it
    /// before writing.
    pub abandon: Option<Arc<AtomicBool>>,
    /// How long the rows in flight may take to finish once cancelled (waits for the
    /// vendor's rate limit included), before they are left.
    pub grace: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            dry_run: false,
            read_first: true,
            verify: false,
            mode: SyncMode::Update,
            cancel: None,
            abandon: None,
            grace: Duration::from_secs(5),
        }
    }
}

impl SyncOptions {
    /// Sets the number of rows in flight (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Compares without writing.
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Stops taking rows once `cancel` is set.
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// Leaves the rows in flight at once when `abandon` is set.
    pub fn with_abandon(mut self, abandon: Arc<AtomicBool>) -> Self {
        self.abandon = Some(abandon);
        self
    }

    /// Sets how long the rows in flight may take once cancelled.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Whether the rows in flight are to be left at once.
    pub fn abandoned(&self) -> bool {
        self.abandon
            .as_ref()
            .is_some_and(|abandon| abandon.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Whether the run was asked to stop.
    pub fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|cancel| cancel.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Sets the mode.
    pub fn with_mode(mut self, mode: SyncMode) -> Self {
        self.mode = mode;
        self
    }

    /// Verifies the state against the vendor (or not).
    pub fn with_verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    /// Reads before writing (or not).
    pub fn with_read_first(mut self, read_first: bool) -> Self {
        self.read_first = read_first;
        self
    }
}

/// The counts of a finished sync.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SyncSummary {
    /// Rows seen.
    pub rows: u64,
    /// Rows whose profile was changed.
    pub updated: u64,
    /// Rows that already matched.
    pub unchanged: u64,
    /// Dry run: rows that would be changed.
    pub would_update: u64,
    /// Rows that failed.
    pub failed: u64,
    /// Rows whose write may or may not have been applied.
    pub unknown: u64,
    /// Rows that could not be read.
    pub malformed: u64,
    /// Rows left out because a later row has the same key.
    pub superseded: u64,
    /// Rows whose user was created.
    pub created: u64,
    /// Dry run: rows whose user would be created.
    pub would_create: u64,
    /// Rows whose user the vendor does not have, and none was created.
    pub missing: u64,
    /// Leavers deleted.
    pub deleted: u64,
    /// Leavers whose leaver fields were written.
    pub retired: u64,
    /// Dry run: leavers who would be retired or deleted.
    pub would_retire: u64,
    /// Leavers the vendor no longer had.
    pub gone: u64,
    /// Rows outside the mapping's scope (`where`), not synced.
    pub out_of_scope: u64,
    /// Of the unchanged and would-update rows, those settled from the state alone, with
    /// no request.
    pub from_state: u64,
    /// Rows whose fields had been changed at the vendor since the state last saw them.
    pub drifted: u64,
    /// How long it took.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

impl SyncSummary {
    pub(crate) fn count(&mut self, outcome: &RowOutcome) {
        self.rows += 1;
        match outcome {
            RowOutcome::Updated { .. } => self.updated += 1,
            RowOutcome::Unchanged => self.unchanged += 1,
            RowOutcome::WouldUpdate { .. } => self.would_update += 1,
            RowOutcome::Failed { .. } => self.failed += 1,
            RowOutcome::Unknown { .. } => self.unknown += 1,
            RowOutcome::Malformed { .. } => self.malformed += 1,
            RowOutcome::Superseded { .. } => self.superseded += 1,
            RowOutcome::Created { .. } => self.created += 1,
            RowOutcome::WouldCreate { .. } => self.would_create += 1,
            RowOutcome::Missing { .. } => self.missing += 1,
            RowOutcome::Retired { deleted: true } => self.deleted += 1,
            RowOutcome::Retired { deleted: false } => self.retired += 1,
            RowOutcome::WouldRetire { .. } => self.would_retire += 1,
            RowOutcome::Gone => self.gone += 1,
            RowOutcome::OutOfScope => self.out_of_scope += 1,
        }
    }

    /// Adds the counts of `other` (a later part of the same night) to these.
    pub(crate) fn absorb(&mut self, other: &SyncSummary) {
        self.rows += other.rows;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.would_update += other.would_update;
        self.failed += other.failed;
        self.unknown += other.unknown;
        self.malformed += other.malformed;
        self.superseded += other.superseded;
        self.created += other.created;
        self.would_create += other.would_create;
        self.missing += other.missing;
        self.deleted += other.deleted;
        self.retired += other.retired;
        self.would_retire += other.would_retire;
        self.gone += other.gone;
        self.out_of_scope += other.out_of_scope;
        self.from_state += other.from_state;
        self.drifted += other.drifted;
        self.elapsed += other.elapsed;
    }

    /// Whether every row succeeded or was unchanged.
    pub fn all_succeeded(&self) -> bool {
        self.failed == 0 && self.unknown == 0 && self.malformed == 0
    }

    /// Rows a second.
    pub fn rows_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.rows as f64 / secs
        } else {
            0.0
        }
    }
}

pub(crate) fn failed(error: &Error) -> RowOutcome {
    if error.send_state() == SendState::MaybeSent || error.may_have_applied() {
        return RowOutcome::Unknown {
            reason: error.to_string(),
        };
    }
    RowOutcome::Failed {
        reason: error.to_string(),
        code: error.vendor_code().map(str::to_owned),
        retryable: error.is_retryable(),
    }
}

/// The paths a patch changes, as text.
pub(crate) fn changed_fields(patch: &ProfilePatch) -> Vec<String> {
    patch
        .changes()
        .iter()
        .map(|c| c.path().to_string())
        .collect()
}
