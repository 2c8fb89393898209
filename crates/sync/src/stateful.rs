//! The sync against a state: rows the state shows unchanged cost no request, changes are
//! written without a read where the vendor merges, and what the vendor confirms is
//! remembered.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

use profile_core::{
    ApiErrorKind, Error, FieldChange, FieldPath, KeyKind, Profile, ProfilePatch, ProfileUpdater,
};

use crate::engine::{
    FieldDiff, RowError, RowOutcome, SyncMode, SyncOptions, SyncRow, SyncSummary, changed_fields,
    failed,
};
use crate::state::{RunId, ScopeId, Settled, StateError, StateStore, UserState};

/// Where a stateful sync keeps what it knows.
#[derive(Clone)]
pub struct StateContext {
    /// The store.
    pub store: Arc<dyn StateStore>,
    /// The scope of this sync's users.
    pub scope: ScopeId,
    /// The run recording this sync.
    pub run: RunId,
    /// How the rows' keys address users.
    pub key_kind: KeyKind,
    /// The fields the mapping writes.
    pub fields: Vec<FieldPath>,
}

impl std::fmt::Debug for StateContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateContext")
            .field("scope", &self.scope)
            .field("run", &self.run)
            .field("key_kind", &self.key_kind)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

/// One row's result, as a stateful sync reports it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RowReport {
    /// The input line.
    pub line: u64,
    /// The row's key.
    pub key: String,
    /// What happened.
    pub outcome: RowOutcome,
    /// Settled from the state alone: no request was sent for it.
    pub from_state: bool,
    /// Fields the vendor held otherwise than the state remembered (found by a verify).
    pub drift: Vec<FieldDiff>,
}

/// Why a sync stopped before its last row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncStop {
    /// The vendor refused the credentials or their permissions: no row can succeed.
    #[error("the vendor refused the credentials: {0}")]
    Unauthorized(String),
    /// The vendor could not be reached for many rows in a row.
    #[error("the vendor could not be reached for {rows} rows in a row: {last}")]
    Unreachable {
        /// How many rows.
        rows: u32,
        /// The last error.
        last: String,
    },
    /// The state database failed: nothing more can be remembered.
    #[error(transparent)]
    State(#[from] StateError),
    /// Asked to stop ([`SyncOptions::cancel`]): the rows in flight were finished.
    #[error("interrupted: the rows in flight were finished, the others are left for the next run")]
    Interrupted,
}

/// The vendor unreachable for this many rows in a row stops a run.
const UNREACHABLE_ROWS: u32 = 10;

/// What [`read_everyone`] did.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct BulkRead {
    /// Whether the vendor can list (nothing was read when it cannot).
    pub listed: bool,
    /// Profiles read.
    pub profiles: u64,
    /// Per key, the fields whose value at the vendor differed from the state's.
    pub drift: HashMap<String, Vec<FieldDiff>>,
}

/// The hash of what a row asks for: its changes, in order, as JSON.
pub fn row_hash(patch: &ProfilePatch) -> String {
    let mut hasher = Sha1::new();
    for change in patch.changes() {
        match change {
            FieldChange::Set { path, value } => {
                hasher.update(b"s");
                hasher.update(path.to_string().as_bytes());
                hasher.update(b"\0");
                hasher.update(value.to_string().as_bytes());
            }
            FieldChange::Remove { path } => {
                hasher.update(b"r");
                hasher.update(path.to_string().as_bytes());
            }
            _ => hasher.update(b"?"),
        }
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The stored fields as a profile to compare a patch against.
fn profile_of(user: &UserState) -> Profile {
    let mut patch = ProfilePatch::new();
    for (path, value) in &user.fields {
        if let Ok(path) = FieldPath::parse(path) {
            patch = patch.set_path(path, value.clone());
        }
    }
    let mut fields = Map::new();
    patch.apply_to(&mut fields);
    Profile::new(user.vendor_id.clone(), fields)
}

/// The values of `paths` in a profile read from the vendor (`null` where it holds none).
fn values_of<'a>(
    profile: &Profile,
    paths: impl Iterator<Item = &'a FieldPath>,
) -> Map<String, Value> {
    paths
        .map(|path| {
            (
                path.to_string(),
                profile.get(path).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// Fields of `paths` where `vendor` holds otherwise than `stored` says.
fn drift_between<'a>(
    stored: &Map<String, Value>,
    vendor: &Map<String, Value>,
    paths: impl Iterator<Item = &'a String>,
) -> Vec<FieldDiff> {
    paths
        .filter_map(|path| {
            let (known, held) = (stored.get(path)?, vendor.get(path).unwrap_or(&Value::Null));
            (known != held).then(|| FieldDiff {
                field: path.clone(),
                from: Some(known.clone()).filter(|v| !v.is_null()),
                to: Some(held.clone()).filter(|v| !v.is_null()),
            })
        })
        .collect()
}

/// Reads every user of the scope from the vendor in bulk (where it can list) into the
/// state: on the first night, so that no user is read alone; with `verify`, to find what
/// was changed at the vendor since (drift), which the rows then correct.
pub async fn read_everyone(
    updater: &dyn ProfileUpdater,
    ctx: &StateContext,
    verify: bool,
) -> Result<BulkRead, SyncStop> {
    let mut result = BulkRead::default();
    let mut batch: Vec<(String, Option<String>, Map<String, Value>)> = Vec::new();
    let mut failure: Option<StateError> = None;
    let fields = ctx.fields.clone();
    let store = ctx.store.clone();
    let scope = ctx.scope;
    let flush = |batch: &mut Vec<(String, Option<String>, Map<String, Value>)>,
                 result: &mut BulkRead|
     -> Result<(), StateError> {
        if verify {
            for (key, _, held) in batch.iter() {
                if let Some(known) = store.user(scope, key)? {
                    let drift = drift_between(&known.fields, held, held.keys());
                    if !drift.is_empty() {
                        result.drift.insert(key.clone(), drift);
                    }
                }
            }
        }
        store.listed(scope, batch)?;
        batch.clear();
        Ok(())
    };
    let mut each = |key: String, profile: Profile| {
        if failure.is_some() {
            return;
        }
        result.profiles += 1;
        let values = values_of(&profile, fields.iter());
        batch.push((key, profile.id().map(str::to_owned), values));
        if batch.len() >= 500 {
            if let Err(e) = flush(&mut batch, &mut result) {
                failure = Some(e);
            }
        }
    };
    let listed = updater.read_all(&ctx.key_kind, &ctx.fields, &mut each);
    let listed = match listed.await {
        Ok(listed) => listed,
        Err(error) => {
            return Err(stop_of(&error).unwrap_or_else(|| SyncStop::Unreachable {
                rows: 0,
                last: format!("the bulk read failed: {error}"),
            }));
        }
    };
    if let Some(e) = failure {
        return Err(e.into());
    }
    flush(&mut batch, &mut result)?;
    result.listed = listed;
    Ok(result)
}

/// Whether an error stops the whole run (the credentials refused).
fn stop_of(error: &Error) -> Option<SyncStop> {
    matches!(
        error.api_kind(),
        Some(ApiErrorKind::Unauthorized | ApiErrorKind::Forbidden)
    )
    .then(|| SyncStop::Unauthorized(error.to_string()))
}

/// What one row's processing found beyond its outcome.
enum Signal {
    /// The vendor answered (or nothing was asked).
    Answered,
    /// Nothing reached the vendor.
    Unreachable(String),
    /// The run must stop.
    Stop(SyncStop),
}

fn signal_of(error: &Error) -> Signal {
    if let Some(stop) = stop_of(error) {
        return Signal::Stop(stop);
    }
    match error {
        Error::Connect { .. } | Error::Timeout { .. } => Signal::Unreachable(error.to_string()),
        _ => Signal::Answered,
    }
}

struct Done {
    outcome: RowOutcome,
    from_state: bool,
    drift: Vec<FieldDiff>,
    signal: Signal,
}

impl Done {
    fn of(outcome: RowOutcome) -> Self {
        Self {
            outcome,
            from_state: false,
            drift: Vec::new(),
            signal: Signal::Answered,
        }
    }
}

/// The values a write of `pending` leaves, by path.
fn values_written(pending: &ProfilePatch) -> Map<String, Value> {
    pending
        .changes()
        .iter()
        .map(|change| {
            let value = match change {
                FieldChange::Set { value, .. } => value.clone(),
                _ => Value::Null,
            };
            (change.path().to_string(), value)
        })
        .collect()
}

fn would_update(pending: &ProfilePatch, before: &Profile) -> RowOutcome {
    RowOutcome::WouldUpdate {
        changes: would_changes(pending, before),
    }
}

fn would_changes(pending: &ProfilePatch, before: &Profile) -> Vec<FieldDiff> {
    pending
        .changes()
        .iter()
        .map(|change| FieldDiff {
            field: change.path().to_string(),
            from: before.get(change.path()).cloned().filter(|v| !v.is_null()),
            to: match change {
                FieldChange::Set { value, .. } => Some(value.clone()),
                _ => None,
            },
        })
        .collect()
}

async fn process(
    updater: &dyn ProfileUpdater,
    ctx: &StateContext,
    row: &SyncRow,
    options: &SyncOptions,
    bulk: Option<&BulkRead>,
) -> Result<Done, StateError> {
    let drift = bulk.and_then(|bulk| bulk.drift.get(&row.key));
    let listed = bulk.is_some_and(|bulk| bulk.listed);
    let store = ctx.store.as_ref();
    if let Some(last) = store.last_line(&row.key)? {
        if last != row.line {
            return Ok(Done::of(RowOutcome::Superseded { by_line: last }));
        }
    }
    let hash = row_hash(&row.patch);
    let known = store.user(ctx.scope, &row.key)?;
    // A row the vendor refused for its values is sent again only once it changes.
    if let Some(user) = &known {
        if user.outcome == "failed"
            && !user.retryable
            && user.row_hash.as_deref() == Some(hash.as_str())
        {
            return Ok(Done {
                outcome: RowOutcome::Failed {
                    reason: format!(
                        "refused before, not sent again until the row changes: {}",
                        user.reason.as_deref().unwrap_or("no reason given")
                    ),
                    code: user.code.clone(),
                    retryable: false,
                },
                from_state: true,
                drift: Vec::new(),
                signal: Signal::Answered,
            });
        }
    }
    let paths = changed_fields(&row.patch);
    let report_drift = drift.cloned().unwrap_or_default();
    // The state is trusted for a row when no write of it is in doubt, the user is known to
    // exist, and the state knows every field the row sets; a verify that could not list
    // reads everyone anyway.
    let trusted = known.as_ref().filter(|user| {
        !user.in_doubt
            && user.outcome != "missing"
            && user.outcome != "deleted"
            && paths.iter().all(|p| user.fields.contains_key(p))
            && (!options.verify || listed)
    });
    if let Some(user) = trusted {
        let current = profile_of(user);
        let pending = updater.pending(&row.patch, &current);
        if pending.is_empty() {
            // Recorded only when there is something new to remember.
            let same = user.row_hash.as_deref() == Some(hash.as_str())
                && user.outcome != "failed"
                && report_drift.is_empty();
            if !same && !options.dry_run {
                store.settle(
                    ctx.scope,
                    ctx.run,
                    row.line,
                    &row.key,
                    &Settled::Confirmed {
                        vendor_id: None,
                        fields: Map::new(),
                        row_hash: hash,
                        outcome: "unchanged",
                        written: Vec::new(),
                        drift: report_drift.iter().map(|d| d.field.clone()).collect(),
                    },
                )?;
            }
            return Ok(Done {
                outcome: RowOutcome::Unchanged,
                from_state: true,
                drift: report_drift,
                signal: Signal::Answered,
            });
        }
        if options.dry_run {
            return Ok(Done {
                outcome: would_update(&pending, &current),
                from_state: true,
                drift: report_drift,
                signal: Signal::Answered,
            });
        }
        if updater.write_merges() {
            store.intend(ctx.scope, ctx.run, &row.key)?;
            let result = updater.write(&row.user, &pending).await;
            if let Err(error) = &result {
                // Gone from the vendor since the state saw the user.
                if error.is_not_found() {
                    return missing(updater, ctx, row, options, hash, error, true).await;
                }
            }
            return settle_write(
                ctx,
                row,
                hash,
                result,
                &pending,
                Map::new(),
                None,
                report_drift,
                "updated",
            );
        }
    }
    read_then_write(updater, ctx, row, options, hash, known, report_drift, true).await
}

/// Reads the user at the vendor, then writes what the row asks that it does not hold: no
/// state yet, a write in doubt, a field not known, a verify, or a vendor whose save
/// replaces the whole user. A user the vendor does not have is created if the mode says
/// so (and `may_create`).
#[allow(clippy::too_many_arguments)]
async fn read_then_write(
    updater: &dyn ProfileUpdater,
    ctx: &StateContext,
    row: &SyncRow,
    options: &SyncOptions,
    hash: String,
    known: Option<UserState>,
    mut report_drift: Vec<FieldDiff>,
    may_create: bool,
) -> Result<Done, StateError> {
    let store = ctx.store.as_ref();
    let paths = changed_fields(&row.patch);
    let in_doubt = known.as_ref().is_some_and(|user| user.in_doubt);
    let (before, pending, written) = if updater.write_merges() {
        let before = match updater.get_for(&row.user, &row.patch).await {
            Ok(before) => before,
            Err(error) if error.is_not_found() => {
                return missing(updater, ctx, row, options, hash, &error, may_create).await;
            }
            Err(error) => return record_failure(ctx, row, hash, &error),
        };
        let pending = updater.pending(&row.patch, &before);
        if pending.is_empty() || options.dry_run {
            (before, pending, None)
        } else {
            store.intend(ctx.scope, ctx.run, &row.key)?;
            let result = updater.write(&row.user, &pending).await;
            (before, pending, Some(result))
        }
    } else {
        if !options.dry_run {
            store.intend(ctx.scope, ctx.run, &row.key)?;
        }
        match updater
            .apply_pending(&row.user, &row.patch, options.dry_run)
            .await
        {
            Ok(applied) => {
                let written = applied.written.then_some(Ok(()));
                (applied.before, applied.pending, written)
            }
            Err(error) if error.is_not_found() => {
                return missing(updater, ctx, row, options, hash, &error, may_create).await;
            }
            Err(error) => return record_failure(ctx, row, hash, &error),
        }
    };
    let read = values_of(&before, row.patch.changes().iter().map(|c| c.path()));
    if let Some(user) = &known {
        if report_drift.is_empty() && options.verify {
            report_drift = drift_between(&user.fields, &read, paths.iter());
        }
    }
    if pending.is_empty() {
        return settle_read(
            ctx,
            row,
            hash,
            &before,
            read,
            report_drift,
            options,
            in_doubt,
        );
    }
    let Some(result) = written else {
        return Ok(Done {
            outcome: would_update(&pending, &before),
            from_state: false,
            drift: report_drift,
            signal: Signal::Answered,
        });
    };
    settle_write(
        ctx,
        row,
        hash,
        result,
        &pending,
        read,
        before.id().map(str::to_owned),
        report_drift,
        "updated",
    )
}

/// The vendor has no such user: created in upsert and mirror mode where the vendor can,
/// else recorded as missing.
#[allow(clippy::too_many_arguments)]
fn missing<'a>(
    updater: &'a dyn ProfileUpdater,
    ctx: &'a StateContext,
    row: &'a SyncRow,
    options: &'a SyncOptions,
    hash: String,
    error: &'a Error,
    may_create: bool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Done, StateError>> + Send + 'a>> {
    Box::pin(async move {
        let creating = matches!(options.mode, SyncMode::Upsert | SyncMode::Mirror);
        if !creating || !updater.can_create() || !may_create {
            let reason = if !creating {
                format!("not at {} (--mode update creates no one)", updater.vendor())
            } else if !updater.can_create() {
                format!(
                    "not at {}, which cannot create users through its API",
                    updater.vendor()
                )
            } else {
                error.to_string()
            };
            if !options.dry_run {
                ctx.store.settle(
                    ctx.scope,
                    ctx.run,
                    row.line,
                    &row.key,
                    &Settled::Missing {
                        reason: reason.clone(),
                        row_hash: hash,
                    },
                )?;
            }
            return Ok(Done::of(RowOutcome::Missing { reason }));
        }
        if options.dry_run {
            return Ok(Done::of(RowOutcome::WouldCreate {
                changes: would_changes(&row.patch, &Profile::default()),
            }));
        }
        // Marked in doubt first: a create whose answer is lost is followed, on the next
        // run, by a read by key, never by a second create sent blind.
        ctx.store.intend(ctx.scope, ctx.run, &row.key)?;
        match updater.create(&row.user, &row.patch).await {
            Ok(vendor_id) => settle_write(
                ctx,
                row,
                hash,
                Ok(()),
                &row.patch,
                Map::new(),
                vendor_id,
                Vec::new(),
                "created",
            ),
            // The record exists after all (Capture's 361: a unique value already taken):
            // the row goes on as an update.
            Err(error) if error.api_kind() == Some(ApiErrorKind::Conflict) => {
                read_then_write(updater, ctx, row, options, hash, None, Vec::new(), false).await
            }
            Err(error) => record_failure(ctx, row, hash, &error),
        }
    })
}

/// A row read at the vendor and found to hold everything: its values are remembered.
/// When a write of it was in doubt (sent by a run that was killed, or not answered), the
/// vendor holding the values means that write was applied: the row counts as updated.
#[allow(clippy::too_many_arguments)]
fn settle_read(
    ctx: &StateContext,
    row: &SyncRow,
    hash: String,
    before: &Profile,
    read: Map<String, Value>,
    drift: Vec<FieldDiff>,
    options: &SyncOptions,
    in_doubt: bool,
) -> Result<Done, StateError> {
    if in_doubt && !options.dry_run {
        return settle_write(
            ctx,
            row,
            hash,
            Ok(()),
            &row.patch,
            read,
            before.id().map(str::to_owned),
            drift,
            "updated",
        );
    }
    if !options.dry_run {
        ctx.store.settle(
            ctx.scope,
            ctx.run,
            row.line,
            &row.key,
            &Settled::Confirmed {
                vendor_id: before.id().map(str::to_owned),
                fields: read,
                row_hash: hash,
                outcome: "unchanged",
                written: Vec::new(),
                drift: drift.iter().map(|d| d.field.clone()).collect(),
            },
        )?;
    }
    Ok(Done {
        outcome: RowOutcome::Unchanged,
        from_state: false,
        drift,
        signal: Signal::Answered,
    })
}

#[allow(clippy::too_many_arguments)]
fn settle_write(
    ctx: &StateContext,
    row: &SyncRow,
    hash: String,
    result: Result<(), Error>,
    pending: &ProfilePatch,
    mut read: Map<String, Value>,
    vendor_id: Option<String>,
    drift: Vec<FieldDiff>,
    outcome: &'static str,
) -> Result<Done, StateError> {
    if let Err(error) = result {
        let mut done = record_failure(ctx, row, hash, &error)?;
        done.drift = drift;
        return Ok(done);
    }
    // What the vendor confirmed: what it held for the row's fields, with the write on top.
    read.extend(values_written(pending));
    let written = changed_fields(pending);
    ctx.store.settle(
        ctx.scope,
        ctx.run,
        row.line,
        &row.key,
        &Settled::Confirmed {
            vendor_id,
            fields: read,
            row_hash: hash,
            outcome,
            written: written.clone(),
            drift: drift.iter().map(|d| d.field.clone()).collect(),
        },
    )?;
    Ok(Done {
        outcome: if outcome == "created" {
            RowOutcome::Created { fields: written }
        } else {
            RowOutcome::Updated { fields: written }
        },
        from_state: false,
        drift,
        signal: Signal::Answered,
    })
}

fn record_failure(
    ctx: &StateContext,
    row: &SyncRow,
    hash: String,
    error: &Error,
) -> Result<Done, StateError> {
    let outcome = failed(error);
    let signal = signal_of(error);
    // A failure that stops the run, or a vendor that could not be reached, is not this
    // row's: nothing is recorded (a write in doubt stays marked so), and the next run does
    // the row.
    let not_the_rows = match &signal {
        Signal::Stop(_) => true,
        Signal::Unreachable(_) => matches!(outcome, RowOutcome::Failed { .. }),
        Signal::Answered => false,
    };
    if !not_the_rows {
        let settled = match &outcome {
            RowOutcome::Unknown { reason } => Settled::Unknown {
                reason: reason.clone(),
            },
            RowOutcome::Failed {
                reason,
                code,
                retryable,
            } => Settled::Failed {
                reason: reason.clone(),
                code: code.clone(),
                retryable: *retryable,
                row_hash: hash,
            },
            _ => return Ok(Done::of(outcome)),
        };
        ctx.store
            .settle(ctx.scope, ctx.run, row.line, &row.key, &settled)?;
    }
    Ok(Done {
        outcome,
        from_state: false,
        drift: Vec::new(),
        signal,
    })
}

/// Syncs `rows` through `updater` against the state of `ctx`, `options.concurrency` at a
/// time, calling `on_row` with each row's report as it finishes.
///
/// A row the state shows unchanged costs no request. A changed row is written without a
/// read where the vendor's write merges ([`ProfileUpdater::write_merges`]), after a read
/// otherwise, or when the state does not know the user (call [`read_everyone`] first to
/// know everyone at once where the vendor can list). Before each write the user is marked
/// in doubt, durably: after a crash, the next run reads that user before writing again.
///
/// `bulk` is what [`read_everyone`] found before the rows, if it ran: with
/// [`SyncOptions::verify`], rows are read at the vendor unless it listed everyone.
///
/// Returns the summary, and why the run stopped early if it did (the credentials refused,
/// the vendor unreachable for many rows in a row, the state database failing): rows not
/// taken are left for the next run.
pub async fn sync_with_state<S, F>(
    updater: Arc<dyn ProfileUpdater>,
    ctx: &StateContext,
    rows: S,
    options: &SyncOptions,
    bulk: Option<&BulkRead>,
    mut on_row: F,
) -> (SyncSummary, Option<SyncStop>)
where
    S: Stream<Item = Result<SyncRow, RowError>>,
    F: FnMut(&RowReport),
{
    let started = Instant::now();
    let mut summary = SyncSummary::default();
    let stopping = AtomicBool::new(false);
    let stopping = &stopping;
    let work = rows
        .take_while(|_| {
            std::future::ready(!stopping.load(Ordering::SeqCst) && !options.cancelled())
        })
        .map(|row| {
            let updater = updater.clone();
            async move {
                match row {
                    Ok(row) => {
                        let done = process(updater.as_ref(), ctx, &row, options, bulk).await;
                        (row.line, row.key, done)
                    }
                    Err(error) => (
                        error.line,
                        String::new(),
                        Ok(Done::of(RowOutcome::Malformed {
                            reason: error.reason,
                        })),
                    ),
                }
            }
        })
        .buffer_unordered(options.concurrency.max(1));
    futures_util::pin_mut!(work);
    let mut stop: Option<SyncStop> = None;
    let mut unreachable = 0u32;
    while let Some((line, key, done)) = work.next().await {
        let done = match done {
            Ok(done) => done,
            Err(error) => {
                stopping.store(true, Ordering::SeqCst);
                stop.get_or_insert(SyncStop::State(error));
                continue;
            }
        };
        match done.signal {
            Signal::Answered => unreachable = 0,
            Signal::Unreachable(last) => {
                unreachable += 1;
                if unreachable >= UNREACHABLE_ROWS {
                    stopping.store(true, Ordering::SeqCst);
                    stop.get_or_insert(SyncStop::Unreachable {
                        rows: unreachable,
                        last,
                    });
                }
            }
            Signal::Stop(cause) => {
                stopping.store(true, Ordering::SeqCst);
                stop.get_or_insert(cause);
            }
        }
        summary.count(&done.outcome);
        if done.from_state {
            summary.from_state += 1;
        }
        if !done.drift.is_empty() {
            summary.drifted += 1;
        }
        on_row(&RowReport {
            line,
            key,
            outcome: done.outcome,
            from_state: done.from_state,
            drift: done.drift,
        });
    }
    summary.elapsed = started.elapsed();
    if stop.is_none() && options.cancelled() {
        stop = Some(SyncStop::Interrupted);
    }
    (summary, stop)
}

/// What is done to a leaver: a user this state manages who is gone from the input.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LeaverAction {
    /// Delete the profile (Sunshine `DELETE`, Capture `entity.delete`).
    Delete,
    /// Write these fields (a status attribute; `null` clears a field).
    Set(ProfilePatch),
}

/// How many leavers a run may retire before the mass-leaver guard holds them all.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum LeaverLimit {
    /// At most this many.
    Count(u64),
    /// At most this share of the users the state manages, in percent.
    Percent(f64),
}

impl Default for LeaverLimit {
    fn default() -> Self {
        LeaverLimit::Percent(10.0)
    }
}

impl std::fmt::Display for LeaverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaverLimit::Count(n) => write!(f, "{n}"),
            LeaverLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl std::str::FromStr for LeaverLimit {
    type Err = String;

    /// `25` (a count) or `10%` (a share of the managed users).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("`{text}` is not a leaver limit: write a count (25) or a percentage (10%)");
        match text.trim().strip_suffix('%') {
            Some(percent) => match percent.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Ok(LeaverLimit::Percent(p)),
                _ => Err(bad()),
            },
            None => text
                .trim()
                .parse()
                .map(LeaverLimit::Count)
                .map_err(|_| bad()),
        }
    }
}

impl LeaverLimit {
    /// Whether `leavers` of `managed` users stay within the limit.
    pub fn allows(&self, leavers: u64, managed: u64) -> bool {
        match *self {
            LeaverLimit::Count(n) => leavers <= n,
            LeaverLimit::Percent(p) => (leavers as f64) <= managed as f64 * p / 100.0,
        }
    }
}

/// The mass-leaver guard held every leaver back.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{leavers} of the {managed} users this state manages are gone from the input, more than --max-leavers {limit} allows{}: nothing was done to any leaver. If they did leave, run again with --allow-leavers {leavers}",
    match .allowed { Some(n) => format!(" (--allow-leavers {n} approves exactly {n}, not {leavers})"), None => String::new() }
)]
#[non_exhaustive]
pub struct LeaverGuard {
    /// Leavers found.
    pub leavers: u64,
    /// Users the state manages.
    pub managed: u64,
    /// The limit.
    pub limit: LeaverLimit,
    /// What `--allow-leavers` approved, if given.
    pub allowed: Option<u64>,
}

/// The guard: `leavers` of `managed` may be retired when `allowed` approves exactly that
/// many, or when they stay within `limit`.
pub fn guard_leavers(
    leavers: u64,
    managed: u64,
    limit: LeaverLimit,
    allowed: Option<u64>,
) -> Result<(), LeaverGuard> {
    if allowed == Some(leavers) || limit.allows(leavers, managed) {
        return Ok(());
    }
    Err(LeaverGuard {
        leavers,
        managed,
        limit,
        allowed,
    })
}

/// Does the leaver action to each of `leavers` (as [`StateStore::leavers`] found them,
/// after the guard let them through), `options.concurrency` at a time; reports each as a
/// row of line 0.
pub async fn retire_leavers<F>(
    updater: Arc<dyn ProfileUpdater>,
    ctx: &StateContext,
    leavers: Vec<crate::state::Leaver>,
    action: &LeaverAction,
    options: &SyncOptions,
    mut on_row: F,
) -> (SyncSummary, Option<SyncStop>)
where
    F: FnMut(&RowReport),
{
    let started = Instant::now();
    let mut summary = SyncSummary::default();
    let deleted = matches!(action, LeaverAction::Delete);
    let stopping = AtomicBool::new(false);
    let stopping = &stopping;
    let work = stream::iter(leavers)
        .take_while(|_| {
            std::future::ready(!stopping.load(Ordering::SeqCst) && !options.cancelled())
        })
        .map(|leaver| {
            let updater = updater.clone();
            async move {
                let done = retire(updater.as_ref(), ctx, &leaver, action, options, deleted).await;
                (leaver.key, done)
            }
        })
        .buffer_unordered(options.concurrency.max(1));
    futures_util::pin_mut!(work);
    let mut stop = None;
    while let Some((key, done)) = work.next().await {
        let done = match done {
            Ok(done) => done,
            Err(error) => {
                stopping.store(true, Ordering::SeqCst);
                stop.get_or_insert(SyncStop::State(error));
                continue;
            }
        };
        if let Signal::Stop(cause) = done.signal {
            stopping.store(true, Ordering::SeqCst);
            stop.get_or_insert(cause);
        }
        summary.count(&done.outcome);
        on_row(&RowReport {
            line: 0,
            key,
            outcome: done.outcome,
            from_state: false,
            drift: Vec::new(),
        });
    }
    summary.elapsed = started.elapsed();
    if stop.is_none() && options.cancelled() {
        stop = Some(SyncStop::Interrupted);
    }
    (summary, stop)
}

async fn retire(
    updater: &dyn ProfileUpdater,
    ctx: &StateContext,
    leaver: &crate::state::Leaver,
    action: &LeaverAction,
    options: &SyncOptions,
    deleted: bool,
) -> Result<Done, StateError> {
    if options.dry_run {
        return Ok(Done::of(RowOutcome::WouldRetire { deleted }));
    }
    let user = ctx.key_kind.user(&leaver.key);
    ctx.store.intend(ctx.scope, ctx.run, &leaver.key)?;
    let (result, fields) = match action {
        LeaverAction::Delete => (
            updater.delete(&user, leaver.vendor_id.as_deref()).await,
            Map::new(),
        ),
        LeaverAction::Set(patch) => (updater.write(&user, patch).await, values_written(patch)),
    };
    match result {
        Ok(()) => {
            ctx.store.settle(
                ctx.scope,
                ctx.run,
                0,
                &leaver.key,
                &Settled::Retired { deleted, fields },
            )?;
            Ok(Done::of(RowOutcome::Retired { deleted }))
        }
        Err(error) => {
            let outcome = failed(&error);
            let signal = signal_of(&error);
            if !matches!(signal, Signal::Stop(_)) {
                let settled = match &outcome {
                    RowOutcome::Failed {
                        reason,
                        code,
                        retryable,
                    } => Settled::Failed {
                        reason: format!("as a leaver: {reason}"),
                        code: code.clone(),
                        retryable: *retryable,
                        row_hash: String::new(),
                    },
                    _ => Settled::Unknown {
                        reason: error.to_string(),
                    },
                };
                ctx.store
                    .settle(ctx.scope, ctx.run, 0, &leaver.key, &settled)?;
            }
            Ok(Done {
                outcome,
                from_state: false,
                drift: Vec::new(),
                signal,
            })
        }
    }
}
