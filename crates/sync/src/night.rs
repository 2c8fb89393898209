//! One night: the lease on the scope, the run, the input's keys, the bulk read, the rows,
//! the leavers behind their guard, and the report.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::Either;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use profile_core::{FieldPath, ProfileUpdater};

use crate::input::{self, InputError, InputOptions};
use crate::intents::Intents;
use crate::leavers::{LeaverAction, LeaverGuard, LeaverLimit, Verdict, judge, retire};
use crate::mapping::{Mapping, MappingError};
use crate::outcome::{RowError, RowOutcome, SyncMode, SyncOptions, SyncRow, SyncSummary};
use crate::report::{FailedRow, NightReport, WholeRun};
use crate::row::{
    BulkRead, Done, Joiner, Listing, RowContext, RowReport, Signal, create_joiners, drift_between,
    process, stop_of, values_of,
};
use crate::source::RowSource;
use crate::store::{
    HeldLease, Known, LEASE_TTL, LeaseHolder, ListedUser, RunEnd, RunId, ScopeId, ScopeKey,
    Settlement, StateError, StateStore,
};

/// The key a state knows a user by: an e-mail address without regard to case (the vendors
/// match addresses so, or hold one address in one case), any other key as it is.
pub(crate) fn state_key(kind: &profile_core::KeyKind, key: String) -> String {
    match kind {
        profile_core::KeyKind::Email if key.bytes().any(|b| b.is_ascii_uppercase()) => {
            key.to_ascii_lowercase()
        }
        _ => key,
    }
}

/// A row with what the store knows of it.
type LookedUp = (Result<SyncRow, Unread>, Result<Known, Arc<StateError>>);

/// A row that is not synced: unreadable, or outside the mapping's scope.
enum Unread {
    Malformed(RowError),
    OutOfScope(u64),
}

/// The vendor unreachable for this many rows in a row stops a run.
const UNREACHABLE_ROWS: u32 = 10;
/// Rows whose state is looked up at once.
const LOOKUP_GROUP: usize = 256;
/// Keys recorded at once.
const KEY_GROUP: usize = 4096;
/// Settlements committed at once, at the most, and how long one may wait for its group.
const SETTLE_GROUP: usize = 512;
const SETTLE_TIME: Duration = Duration::from_millis(500);
/// Groups of rows looked up at once: the one being done and the next.
const LOOKUPS_AHEAD: usize = 2;

/// What a first night's listing may cost. It is there to spare the rows their reads (a row
/// whose user it named, unchanged or written without a read, sends no read), at a request
/// for each page. It is stopped, and the rows it has not named are read on their own, once
/// it cannot pay for itself:
/// - its requests outnumber the night's rows, each of which a read of its own would cost
///   one request (a night of a few rows against a directory of thousands);
/// - or, of the first [`LISTING_EVIDENCE`] rows it named, fewer than one in a page spared
///   a read: each further page costs a request and spares less (a first night that changes
///   every row at a vendor whose save replaces the whole user, which reads it anyway).
///
/// A night whose rows the listing spares, as a first night over users who already hold
/// most of their values, lists everyone as before.
struct ListingBudget {
    /// Profiles one request of the listing names, at most.
    per_request: u64,
    /// The night's rows, once the keys pass has counted them (`u64::MAX` until then).
    rows: AtomicU64,
    /// Told when the listing cannot pay for itself.
    spent: tokio::sync::Notify,
}

/// Rows the listing names before what it spared them is weighed.
const LISTING_EVIDENCE: u64 = 256;

impl ListingBudget {
    /// Whether a listing that has named `listed` profiles cannot pay for itself, given what
    /// it was worth to the rows of `ctx` so far.
    fn exceeded(&self, listed: u64, ctx: &RowContext) -> bool {
        let per_request = self.per_request.max(1);
        if listed.div_ceil(per_request) > self.rows.load(Ordering::Relaxed) {
            return true;
        }
        let named = ctx.listing_named.load(Ordering::Relaxed);
        let spared = ctx.listing_spared.load(Ordering::Relaxed);
        named >= LISTING_EVIDENCE && spared.saturating_mul(per_request) < named
    }
}

/// Why a night stopped before its last row. Rows not taken are left for the next run.
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
    /// The state store failed: nothing more can be remembered.
    #[error(transparent)]
    State(#[from] StateError),
    /// Another run took the scope over (this one stalled past the lease's time).
    #[error("another run took the scope over: {0}")]
    LeaseLost(String),
    /// Asked to stop ([`SyncOptions::cancel`]): the rows in flight were finished.
    #[error("interrupted: the rows in flight were finished, the others are left for the next run")]
    Interrupted,
}

/// Why a night did not start, or could not go on at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NightError {
    /// Another run holds the scope.
    #[error("another run is syncing this scope of {store}: {held}{}", match .waited {
        Some(waited) => format!(" (waited {}s for it)", waited.as_secs()),
        None => String::new(),
    })]
    Busy {
        /// The store.
        store: String,
        /// Who holds it.
        held: HeldLease,
        /// How long this run waited for it.
        waited: Option<Duration>,
    },
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The input cannot be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The mapping does not fit the input.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// The mapping names fields the vendor does not have.
    #[error(
        "the mapping names field(s) {vendor} does not have: {}; its fields are: {}",
        .unknown.join(", "),
        .known.join(", ")
    )]
    UnknownFields {
        /// The vendor.
        vendor: &'static str,
        /// The fields it does not have.
        unknown: Vec<String>,
        /// Those it has.
        known: Vec<String>,
    },
    /// Leavers are to be deleted, and the vendor cannot delete.
    #[error(
        "{vendor} profiles cannot be deleted through its API: give leavers fields to set instead (--leaver-set FIELD=VALUE; an empty VALUE clears a field)"
    )]
    CannotDelete {
        /// The vendor.
        vendor: &'static str,
    },
    /// A mirror with a state that does not outlive the run.
    #[error("--mode mirror needs --state FILE: leavers are the users an earlier run managed")]
    MirrorNeedsState,
    /// A mirror with no leaver action.
    #[error(
        "--mode mirror needs the leaver action: --leavers delete, or --leaver-set FIELD=VALUE (or `leavers` in the mapping file)"
    )]
    NoLeaverAction,
    /// The vendor refused the credentials before the first row.
    #[error("the vendor refused the credentials: {0}")]
    Refused(String),
    /// The vendor failed the schema check before the first row.
    #[error("{0}")]
    Vendor(#[source] profile_core::Error),
}

impl NightError {
    /// Whether a person must change the command, the mapping or the input (nothing was
    /// sent to the vendor but the schema check), rather than wait or fix the vendor side.
    pub fn is_usage(&self) -> bool {
        // A query that stopped giving rows is the database failing, not the command.
        matches!(self, NightError::Input(input) if !matches!(input, InputError::Query { .. }))
            || matches!(
                self,
                NightError::Mapping(_)
                    | NightError::UnknownFields { .. }
                    | NightError::CannotDelete { .. }
                    | NightError::MirrorNeedsState
                    | NightError::NoLeaverAction
            )
    }
}

/// What a night tells as it goes, for a progress line or a log.
#[derive(Debug)]
#[non_exhaustive]
pub enum NightEvent<'a> {
    /// Another run holds the scope; this one waits for it.
    Waiting(&'a HeldLease),
    /// The scope's last run did not finish: this one finishes it.
    Continues {
        /// The unfinished run.
        earlier: RunId,
        /// This run.
        run: RunId,
    },
    /// The input's rows, counted by the key pass.
    Total(u64),
    /// A key on several lines: the last is synced, the others are left out.
    Duplicate {
        /// The key.
        key: &'a str,
        /// Its lines.
        lines: &'a [u64],
    },
    /// The vendor was read in bulk: with a verify, before the rows; on a scope's first
    /// night, beside them (this comes once the rows are done).
    BulkRead {
        /// What was read.
        read: &'a BulkRead,
        /// How long it took.
        took: Duration,
    },
    /// The bulk read failed (not for the credentials): each row it had not named is read
    /// on its own.
    BulkReadFailed(&'a str),
    /// A row is done.
    Row(&'a RowReport),
    /// Leavers are not looked for: some rows could not be read.
    LeaversNotLooked {
        /// Rows that could not be read.
        malformed: u64,
    },
    /// Leavers passed the guard and are being retired.
    Leavers {
        /// How many.
        leavers: u64,
        /// Of how many managed users.
        managed: u64,
    },
    /// A leaver is done.
    Leaver(&'a RowReport),
}

/// One night of a sync; see the [crate docs](crate) for a whole one.
///
/// It takes a vendor's [`ProfileUpdater`], a [`StateStore`] and a [`RowSource`], and
/// [`run`](Self::run) does everything `profiles sync` does: the lease on the scope (one
/// writer per scope), the run record, the input's keys, the mapping checked against the
/// vendor's schema, the bulk read where the state is new (or `verify`), the rows, the
/// leavers behind the mass-leaver guard, and the report.
pub struct Night {
    updater: Arc<dyn ProfileUpdater>,
    store: Arc<dyn StateStore>,
    scope: ScopeKey,
    mapping: Mapping,
    rows: InputOptions,
    options: SyncOptions,
    leavers: Option<LeaverAction>,
    max_leavers: LeaverLimit,
    allow_leavers: Option<u64>,
    wait: Option<Duration>,
    lease: Option<ScopeLease>,
    run_options: Value,
}

impl std::fmt::Debug for Night {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Night")
            .field("vendor", &self.updater.vendor())
            .field("store", &self.store)
            .field("scope", &self.scope)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Night {
    /// A night of `mapping`'s rows into `scope` of `updater`'s vendor, with `store`.
    pub fn new(
        updater: Arc<dyn ProfileUpdater>,
        store: Arc<dyn StateStore>,
        scope: ScopeKey,
        mapping: Mapping,
    ) -> Self {
        Self {
            updater,
            store,
            scope,
            mapping,
            rows: InputOptions::new(input::Format::Csv),
            options: SyncOptions::default(),
            leavers: None,
            max_leavers: LeaverLimit::default(),
            allow_leavers: None,
            wait: None,
            lease: None,
            run_options: Value::Null,
        }
    }

    /// Runs under a lease taken before (see [`ScopeLease::take`]): a caller that must
    /// send a request before the night (to build its vendor's updater) takes the lease
    /// first, so that a second run sends nothing.
    pub fn with_lease(mut self, lease: ScopeLease) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Mode, dry run, verify, concurrency, read first and cancel.
    pub fn options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// How rows become changes: what an empty cell does, and whether keys are lower-cased
    /// (the [`InputOptions`] the source was opened with).
    pub fn row_rules(mut self, rows: InputOptions) -> Self {
        self.rows = rows;
        self
    }

    /// Mirror: what is done to leavers, the most a run retires, and an approval of
    /// exactly this many above it.
    pub fn leavers(mut self, action: LeaverAction, limit: LeaverLimit, allow: Option<u64>) -> Self {
        self.leavers = Some(action);
        self.max_leavers = limit;
        self.allow_leavers = allow;
        self
    }

    /// Waits this long for another run to give the scope up, instead of failing at once.
    pub fn wait(mut self, wait: Option<Duration>) -> Self {
        self.wait = wait;
        self
    }

    /// What the run record keeps of the options (JSON; never a credential).
    pub fn record_options(mut self, options: Value) -> Self {
        self.run_options = options;
        self
    }

    /// Runs the night; `on_event` hears each step and each row as it finishes.
    pub async fn run<F>(
        self,
        source: &mut dyn RowSource,
        mut on_event: F,
    ) -> Result<NightReport, NightError>
    where
        F: FnMut(NightEvent<'_>),
    {
        let started = Instant::now();
        let mode = self.options.mode;
        if mode == SyncMode::Mirror {
            if !self.store.persistent() {
                return Err(NightError::MirrorNeedsState);
            }
            if self.leavers.is_none() {
                return Err(NightError::NoLeaverAction);
            }
        }
        self.mapping.check_columns(source.columns())?;
        let vendor = self.updater.vendor();
        let computed = self.mapping.compute.iter().flat_map(|c| c.fields().iter());
        let fields: Vec<FieldPath> = (self.mapping.fields.iter().map(|(_, f)| f))
            .chain(computed)
            .cloned()
            .collect();
        let mut checked = fields.clone();
        match &self.leavers {
            Some(LeaverAction::Set(patch)) if mode == SyncMode::Mirror => {
                checked.extend(patch.changes().iter().map(|c| c.path().clone()));
            }
            Some(LeaverAction::Delete)
                if mode == SyncMode::Mirror && !self.updater.can_delete() =>
            {
                return Err(NightError::CannotDelete { vendor });
            }
            _ => {}
        }

        // One writer per scope, before the first request.
        let mut this = self;
        let lease = match this.lease.take() {
            Some(lease) => lease,
            None => {
                ScopeLease::take(this.store.clone(), &this.scope, this.wait, |held| {
                    on_event(NightEvent::Waiting(held))
                })
                .await?
            }
        };
        let result = this
            .run_holding(
                source,
                lease.scope,
                fields,
                checked,
                started,
                &lease.lost,
                &mut on_event,
            )
            .await;
        lease.release().await;
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_holding<F>(
        &self,
        source: &mut dyn RowSource,
        scope: ScopeId,
        fields: Vec<FieldPath>,
        checked: Vec<FieldPath>,
        started: Instant,
        lost: &Arc<AtomicBool>,
        on_event: &mut F,
    ) -> Result<NightReport, NightError>
    where
        F: FnMut(NightEvent<'_>),
    {
        let updater = self.updater.clone();
        let vendor = updater.vendor();
        let check =
            updater
                .check_fields(&checked)
                .await
                .map_err(|error| match stop_of(&error) {
                    Some(reason) => NightError::Refused(reason),
                    None => NightError::Vendor(error),
                })?;
        if !check.is_ok() {
            return Err(NightError::UnknownFields {
                vendor,
                unknown: check.unknown,
                known: check.known,
            });
        }
        let store = self.store.clone();
        let (run, continues) = store
            .begin_run(scope, &source.name(), &self.run_options)
            .await?;
        if let Some(earlier) = continues {
            on_event(NightEvent::Continues { earlier, run });
        }
        let mut ctx = RowContext {
            updater: updater.clone(),
            store: store.clone(),
            intents: Intents::new(store.clone(), scope, run),
            scope,
            run,
            key_kind: self.mapping.key_kind.clone(),
            anchored: self.mapping.anchor.is_some(),
            options: self.options.clone(),
            bulk: std::sync::OnceLock::new(),
            listing: None,
            listing_named: AtomicU64::new(0),
            listing_spared: AtomicU64::new(0),
            // Joiners are put aside and created in batches where the vendor can, in the
            // modes that create, outside a dry run.
            joiners: (updater.batch_create().is_some()
                && updater.can_create()
                && !self.options.dry_run
                && matches!(self.options.mode, SyncMode::Upsert | SyncMode::Mirror))
            .then(|| std::sync::Mutex::new(Vec::new())),
        };
        let first_night = !store.has_users(scope).await?;
        let mut stop: Option<SyncStop> = None;
        // A listing names people by their key, not by the source's anchor: anchored, each
        // row is read on its own (by its key the first time, by the vendor's id after).
        let listing = (first_night || self.options.verify) && !ctx.anchored;
        // A first night's listing runs beside the rows: a row goes as soon as the listing
        // has stored its user (or is over), knowing exactly what it would have known after
        // the whole listing. With `verify`, the listing first finds what changed at the
        // vendor since the state saw it, so it runs before the rows.
        let alongside = listing && !self.options.verify;
        let mut progress = None;
        if alongside {
            let (sender, receiver) = tokio::sync::watch::channel(Listing::default());
            ctx.listing = Some(receiver);
            progress = Some(sender);
        }
        // A first night's listing starts at once, beside the keys pass (which it does not
        // need) and then beside the rows.
        // Where the vendor says what a listing's request names, a listing that cannot pay
        // for itself is stopped (see `ListingBudget`).
        let budget = updater
            .listed_per_request()
            .filter(|_| alongside)
            .map(|per_request| ListingBudget {
                per_request,
                rows: AtomicU64::new(u64::MAX),
                spent: tokio::sync::Notify::new(),
            });
        let listed = progress.as_ref().map(|progress| {
            let (ctx, fields, budget) = (&ctx, &fields, budget.as_ref());
            let listing = async move {
                let began = Instant::now();
                let read = read_everyone(ctx, fields, false, Some(progress), budget).await;
                let complete = matches!(&read, Ok(read) if read.listed);
                progress.send_modify(|listing| {
                    listing.over = true;
                    listing.complete = complete;
                });
                (read, began.elapsed())
            };
            futures_util::FutureExt::fuse(listing)
        });
        futures_util::pin_mut!(listed);
        let mut listed_early = None;
        // The keys first: a key on two lines is synced once, from its last line.
        let keys = async {
            let (total, _malformed) = self.load_keys(source, run).await?;
            if let Some(budget) = &budget {
                budget.rows.store(total, Ordering::Relaxed);
            }
            let duplicates = store.input_duplicates(run).await?;
            Ok::<_, NightError>((total, duplicates))
        };
        let (total, duplicates) = match listed.as_mut().as_pin_mut() {
            None => keys.await?,
            Some(listing) => {
                futures_util::pin_mut!(keys);
                match futures_util::future::select(keys, listing).await {
                    Either::Left((keys, _)) => keys?,
                    Either::Right((read, keys)) => {
                        listed_early = Some(read);
                        keys.await?
                    }
                }
            }
        };
        on_event(NightEvent::Total(total));
        for (key, lines) in &duplicates {
            on_event(NightEvent::Duplicate { key, lines });
        }
        if listing && !alongside {
            let began = Instant::now();
            match read_everyone(&ctx, &fields, self.options.verify, None, None).await {
                Ok(read) => {
                    on_event(NightEvent::BulkRead {
                        read: &read,
                        took: began.elapsed(),
                    });
                    let _ = ctx.bulk.set(read);
                }
                // A listing that failed for another reason than the credentials is not
                // the night's end: each row is read on its own instead.
                Err(SyncStop::Unreachable { last, .. }) => {
                    on_event(NightEvent::BulkReadFailed(&last));
                }
                Err(cause) => stop = Some(cause),
            }
        }
        let mut summary = SyncSummary::default();
        let mut refused_unchanged: Vec<FailedRow> = Vec::new();
        let mut malformed: Vec<FailedRow> = Vec::new();
        if stop.is_none() {
            let rows = source.rows()?;
            // A key on several lines is synced from its last line (duplicates are few: the
            // other rows need no look-up for it).
            let last_lines: HashMap<String, u64> = duplicates
                .iter()
                .filter_map(|(key, lines)| Some((key.clone(), *lines.last()?)))
                .collect();
            let mut on_row = |report: &RowReport| {
                match &report.outcome {
                    RowOutcome::Malformed { reason } => {
                        malformed.push(FailedRow::malformed(report.line, reason))
                    }
                    // Refused before and unchanged since: not sent, so not among this
                    // run's recorded rows, but still a failure to show.
                    RowOutcome::Failed { reason, code, .. } if report.from_state => {
                        refused_unchanged.push(FailedRow::failed(
                            report.line,
                            &report.key,
                            code.clone(),
                            reason,
                        ));
                    }
                    _ => {}
                }
                on_event(NightEvent::Row(report));
            };
            let rows = self.rows(&ctx, rows, &last_lines, lost, &mut on_row);
            // The rows and the listing beside them: a listing still under way when the
            // rows stopped is left there (nothing waits for it).
            let (rows_summary, rows_stop, read) = match (listed.as_mut().as_pin_mut(), listed_early)
            {
                (None, _) => {
                    let (summary, stop) = rows.await;
                    (summary, stop, None)
                }
                // Over during the keys pass.
                (Some(_), Some(read)) => {
                    let (summary, stop) = rows.await;
                    (summary, stop, Some(read))
                }
                (Some(listed), None) => {
                    futures_util::pin_mut!(rows);
                    match futures_util::future::select(rows, listed).await {
                        Either::Left(((summary, stop), listed)) => {
                            let read = match stop {
                                None => Some(listed.await),
                                Some(_) => None,
                            };
                            (summary, stop, read)
                        }
                        Either::Right((read, rows)) => {
                            let (summary, stop) = rows.await;
                            (summary, stop, Some(read))
                        }
                    }
                }
            };
            summary = rows_summary;
            stop = rows_stop;
            match read {
                Some((Ok(read), took)) => on_event(NightEvent::BulkRead { read: &read, took }),
                Some((Err(SyncStop::Unreachable { last, .. }), _)) => {
                    on_event(NightEvent::BulkReadFailed(&last));
                }
                Some((Err(cause), _)) => {
                    stop.get_or_insert(cause);
                }
                None => {}
            }
        }
        // The joiners the rows put aside, created in batches.
        let joiners = ctx
            .joiners
            .as_ref()
            .map(|joiners| std::mem::take(&mut *joiners.lock().unwrap_or_else(|p| p.into_inner())))
            .unwrap_or_default();
        if !joiners.is_empty() && stop.is_none() {
            let size = updater.batch_create().unwrap_or(1).max(1);
            let mut batches: Vec<Vec<Joiner>> = Vec::new();
            for joiner in joiners {
                match batches.last_mut() {
                    Some(batch) if batch.len() < size => batch.push(joiner),
                    _ => batches.push(vec![joiner]),
                }
            }
            let ctx_ref = &ctx;
            let work = stream::iter(batches)
                .then(move |batch| create_joiners(ctx_ref, batch))
                .flat_map(|results| stream::iter(results.into_iter().map(std::future::ready)));
            let (created, joiners_stop) = drive(&ctx, work, lost, &mut |report: &RowReport| {
                on_event(NightEvent::Row(report));
            })
            .await;
            summary.absorb(&created);
            stop = joiners_stop;
        }

        let mut held: Option<LeaverGuard> = None;
        if let (SyncMode::Mirror, Some(action), None) = (self.options.mode, &self.leavers, &stop) {
            if summary.malformed > 0 {
                on_event(NightEvent::LeaversNotLooked {
                    malformed: summary.malformed,
                });
            } else {
                let (leavers, managed) = store.leavers(scope, run).await?;
                if !leavers.is_empty() {
                    let keys = leavers.iter().map(|l| l.key.clone()).collect();
                    let earlier = store.leaver_hold(scope).await?;
                    let (verdict, record) = judge(
                        keys,
                        managed,
                        self.max_leavers,
                        self.allow_leavers,
                        earlier.as_ref(),
                    );
                    // A dry run records no hold and spends no approval.
                    if let (Some(record), false) = (&record, self.options.dry_run) {
                        store.set_leaver_hold(scope, Some(record)).await?;
                    }
                    match verdict {
                        Verdict::Hold(guard) => held = Some(guard),
                        Verdict::Retire => {
                            on_event(NightEvent::Leavers {
                                leavers: leavers.len() as u64,
                                managed,
                            });
                            let work = stream::iter(leavers).map(|leaver| {
                                let ctx = &ctx;
                                async move {
                                    let done = retire(ctx, &leaver, action).await;
                                    (0u64, leaver.key, done)
                                }
                            });
                            let (retired, leaver_stop) =
                                drive(&ctx, work, lost, &mut |report: &RowReport| {
                                    on_event(NightEvent::Leaver(report));
                                })
                                .await;
                            summary.deleted += retired.deleted;
                            summary.retired += retired.retired;
                            summary.gone += retired.gone;
                            summary.would_retire += retired.would_retire;
                            summary.failed += retired.failed;
                            summary.unknown += retired.unknown;
                            // Every leaver retired: the approval is spent.
                            let done =
                                leaver_stop.is_none() && retired.failed + retired.unknown == 0;
                            if done && earlier.is_some() && !self.options.dry_run {
                                store.set_leaver_hold(scope, None).await?;
                            }
                            stop = leaver_stop;
                        }
                    }
                }
            }
        }
        summary.elapsed = started.elapsed();
        let end = match &stop {
            None => RunEnd::Finished,
            Some(stop) => RunEnd::Stopped(stop.to_string()),
        };
        // The counts, and the requests this process sent (a report of the nights shows
        // them).
        let mut recorded = serde_json::to_value(&summary).unwrap_or_default();
        if let (Some(sent), Some(fields)) = (updater.requests_sent(), recorded.as_object_mut()) {
            fields.insert("requests".into(), sent.into());
        }
        store.end_run(run, &end, &recorded).await?;

        // The report covers the whole run, from the store: the parts an interrupted run
        // did, and this one.
        let chain = store.run_chain(run).await?;
        let rows = store.run_rows(&chain).await?;
        let mut failures: Vec<FailedRow> = rows
            .iter()
            .filter(|r| r.outcome.is_failure())
            .map(FailedRow::of)
            .collect();
        failures.extend(malformed);
        failures.extend(refused_unchanged);
        failures.sort_by_key(|f| f.line);
        Ok(NightReport {
            vendor,
            input: source.name(),
            dry_run: self.options.dry_run,
            runs: chain,
            requests: updater.requests_sent(),
            stopped: stop,
            leavers_held: held,
            summary,
            whole_run: WholeRun::of(&rows),
            duplicates,
            failures,
            changed: rows
                .into_iter()
                .filter(|r| !r.outcome.is_failure())
                .collect(),
        })
    }

    /// The key pass: every key with its line, recorded in groups; answers the rows read
    /// and those that could not be.
    async fn load_keys(
        &self,
        source: &mut dyn RowSource,
        run: RunId,
    ) -> Result<(u64, u64), NightError> {
        let mut rows = source.rows()?;
        let (mut total, mut bad) = (0u64, 0u64);
        let mut group: Vec<(String, u64)> = Vec::with_capacity(KEY_GROUP);
        while let Some(raw) = rows.next().await {
            total += 1;
            match input::row_key(raw, &self.mapping, &self.rows) {
                Ok(Some((key, line))) => group.push((self.mapping.state_key(key), line)),
                // Outside the scope: not in the input, as far as leavers go.
                Ok(None) => {}
                Err(_) => bad += 1,
            }
            if group.len() >= KEY_GROUP {
                self.store.add_input_keys(run, &group).await?;
                group.clear();
            }
        }
        if !group.is_empty() {
            self.store.add_input_keys(run, &group).await?;
        }
        Ok((total, bad))
    }

    /// The rows: looked up in the store in groups, done `concurrency` at a time.
    async fn rows<F>(
        &self,
        ctx: &RowContext,
        rows: crate::source::RowStream,
        last_lines: &HashMap<String, u64>,
        lost: &Arc<AtomicBool>,
        on_row: &mut F,
    ) -> (SyncSummary, Option<SyncStop>)
    where
        F: FnMut(&RowReport),
    {
        let mapping = &self.mapping;
        let rules = &self.rows;
        let looked_up = rows
            .map(|raw| {
                let line = match &raw {
                    Ok((line, _)) => *line,
                    Err(error) => error.line,
                };
                match input::to_sync_row(raw, mapping, rules) {
                    Ok(Some(mut row)) => {
                        // The row's user stays addressed as written; the state knows it by
                        // its folded key.
                        row.key = mapping.state_key(row.key);
                        Ok(row)
                    }
                    Ok(None) => Err(Unread::OutOfScope(line)),
                    Err(error) => Err(Unread::Malformed(error)),
                }
            })
            .ready_chunks(LOOKUP_GROUP)
            .map(|group: Vec<Result<SyncRow, Unread>>| async move {
                let keys: Vec<String> = group
                    .iter()
                    .filter_map(|row| row.as_ref().ok().map(|r| r.key.clone()))
                    .collect();
                let known = look_up(ctx, &keys).await;
                let mut known = match known {
                    Ok(known) => known.into_iter().map(Ok).collect::<Vec<_>>(),
                    Err(error) => {
                        let error = Arc::new(error);
                        keys.iter().map(|_| Err(error.clone())).collect()
                    }
                }
                .into_iter();
                let items: Vec<LookedUp> = group
                    .into_iter()
                    .map(|row| {
                        let known = if row.is_ok() {
                            known.next().unwrap_or_else(|| Ok(Known::default()))
                        } else {
                            Ok(Known::default())
                        };
                        (row, known)
                    })
                    .collect();
                stream::iter(items)
            })
            // The next group is looked up while this one's rows are done: no row waits
            // for the store between groups. (A key is done once, from its last line, so a
            // lookup ahead never misses a settlement of the same key.)
            .buffered(LOOKUPS_AHEAD)
            .flatten();
        // Each row's future is boxed as it is made: it is large (the vendor's request
        // futures live in it), and the stream adapters and the set in flight move it.
        let work = looked_up.map(|(row, known)| {
            Box::pin(async move {
                match (row, known) {
                    (Ok(row), Ok(known)) => {
                        let superseded_by =
                            last_lines.get(&row.key).copied().filter(|l| *l != row.line);
                        let done = process(ctx, &row, known, superseded_by).await;
                        (row.line, row.key, done)
                    }
                    (Ok(row), Err(error)) => (
                        row.line,
                        row.key,
                        Err(StateError::Closed {
                            store: ctx.store.describe(),
                            reason: error.to_string(),
                        }),
                    ),
                    (Err(Unread::Malformed(error)), _) => (
                        error.line,
                        String::new(),
                        Ok(Done::of(RowOutcome::Malformed {
                            reason: error.reason,
                        })),
                    ),
                    (Err(Unread::OutOfScope(line)), _) => {
                        (line, String::new(), Ok(Done::of(RowOutcome::OutOfScope)))
                    }
                }
            })
        });
        drive(ctx, work, lost, on_row).await
    }
}

/// A scope's lease, held by this process: one writer per scope. It is renewed in the
/// background every quarter of [`LEASE_TTL`] while held, and given back by
/// [`release`](Self::release) (a process that dies without giving it back loses it to the
/// next run: at once on the same host, after [`LEASE_TTL`] elsewhere).
#[derive(Debug)]
pub struct ScopeLease {
    store: Arc<dyn StateStore>,
    scope: ScopeId,
    holder: LeaseHolder,
    lost: Arc<AtomicBool>,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

impl ScopeLease {
    /// Takes the lease of `scope` in `store`, waiting up to `wait` for another run to give
    /// it up (`on_wait` is told who holds it, once), or failing at once with
    /// [`NightError::Busy`].
    pub async fn take(
        store: Arc<dyn StateStore>,
        scope: &ScopeKey,
        wait: Option<Duration>,
        mut on_wait: impl FnMut(&HeldLease),
    ) -> Result<Self, NightError> {
        let id = store.scope(scope).await?;
        let holder = LeaseHolder::this_process();
        let began = Instant::now();
        let mut told = false;
        loop {
            let Some(held) = store.acquire(id, &holder).await? else {
                break;
            };
            let waited = began.elapsed();
            match wait {
                Some(wait) if waited < wait => {
                    if !told {
                        on_wait(&held);
                        told = true;
                    }
                    tokio::time::sleep(Duration::from_millis(500).min(wait - waited)).await;
                }
                _ => {
                    return Err(NightError::Busy {
                        store: store.describe(),
                        held,
                        waited: wait.map(|_| waited),
                    });
                }
            }
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let (store, holder, lost) = (store.clone(), holder.clone(), lost.clone());
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(LEASE_TTL / 4).await;
                    if let Ok(false) = store.renew(id, &holder).await {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            })
        });
        Ok(Self {
            store,
            scope: id,
            holder,
            lost,
            renewal,
        })
    }

    /// Gives the lease back.
    pub async fn release(mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        let _ = self.store.release(self.scope, &self.holder).await;
    }
}

impl Drop for ScopeLease {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
    }
}

/// A group of settlements being committed.
type Commit<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StateError>> + Send + 'a>>;

/// Settlements waiting for their group's commit, and the group being committed: a group is
/// committed while the rows go on, one group at a time.
struct Settlements<'a> {
    ctx: &'a RowContext,
    pending: Vec<Settlement>,
    since: Instant,
    committing: Option<Commit<'a>>,
}

impl<'a> Settlements<'a> {
    fn new(ctx: &'a RowContext) -> Self {
        Self {
            ctx,
            pending: Vec::new(),
            since: Instant::now(),
            committing: None,
        }
    }

    /// Starts the commit of the pending group when it is full or has waited long enough,
    /// unless one is under way.
    fn start_if_due(&mut self) {
        let due = self.pending.len() >= SETTLE_GROUP
            || (!self.pending.is_empty() && self.since.elapsed() >= SETTLE_TIME);
        if due && self.committing.is_none() {
            self.start();
        }
    }

    fn start(&mut self) {
        let (ctx, group) = (self.ctx, std::mem::take(&mut self.pending));
        self.since = Instant::now();
        self.committing = Some(Box::pin(async move {
            ctx.store.settle(ctx.scope, ctx.run, &group).await
        }));
    }

    /// The end of the commit under way (none: never).
    async fn committed(&mut self) -> Result<(), StateError> {
        match self.committing.as_mut() {
            Some(commit) => {
                let result = commit.await;
                self.committing = None;
                result
            }
            None => std::future::pending().await,
        }
    }

    /// Commits what is under way, then what is pending.
    async fn finish(&mut self) -> Result<(), StateError> {
        let under_way = match self.committing.take() {
            Some(commit) => commit.await,
            None => Ok(()),
        };
        if !self.pending.is_empty() {
            self.start();
            if let Some(commit) = self.committing.take() {
                commit.await?;
            }
        }
        under_way
    }
}

/// The one driver loop, for rows and for leavers: `concurrency` at a time, settlements
/// committed in groups, a stop (credentials refused, vendor unreachable, store failing,
/// lease lost, cancel) ends the taking of rows and lets those in flight finish.
async fn drive<S, Fut, F>(
    ctx: &RowContext,
    work: S,
    lost: &Arc<AtomicBool>,
    on_row: &mut F,
) -> (SyncSummary, Option<SyncStop>)
where
    S: futures_util::Stream<Item = Fut>,
    Fut: std::future::Future<Output = (u64, String, Result<Done, StateError>)>,
    F: FnMut(&RowReport),
{
    let started = Instant::now();
    let options = &ctx.options;
    let mut summary = SyncSummary::default();
    let stopping = AtomicBool::new(false);
    let stopping = &stopping;
    let work = work
        .take_while(|_| {
            std::future::ready(
                !stopping.load(Ordering::SeqCst)
                    && !options.cancelled()
                    && !lost.load(Ordering::SeqCst),
            )
        })
        .buffer_unordered(options.concurrency.max(1));
    futures_util::pin_mut!(work);
    let mut stop: Option<SyncStop> = None;
    let mut unreachable = 0u32;
    let mut settlements = Settlements::new(ctx);
    let mut cancelled_at: Option<Instant> = None;
    loop {
        // Every wait ends at a cancel: the rows in flight get the grace, a second signal
        // leaves them at once. The tick only matters while every row is waiting.
        let tick = if options.cancelled() {
            let since = *cancelled_at.get_or_insert_with(Instant::now);
            if options.abandoned() || since.elapsed() >= options.grace {
                break;
            }
            Duration::from_millis(100)
        } else {
            Duration::from_millis(500)
        };
        // A group's commit that ends is taken as it ends, the rows going on meanwhile.
        let step = {
            let committed = settlements.committed();
            let next = tokio::time::timeout(tick, work.next());
            futures_util::pin_mut!(committed, next);
            match futures_util::future::select(committed, next).await {
                Either::Left((committed, _)) => Either::Left(committed),
                Either::Right((next, _)) => Either::Right(next),
            }
        };
        let next = match step {
            Either::Left(committed) => {
                if let Err(error) = committed {
                    stopping.store(true, Ordering::SeqCst);
                    stop.get_or_insert(SyncStop::State(error));
                }
                settlements.start_if_due();
                continue;
            }
            Either::Right(Ok(next)) => next,
            Either::Right(Err(_)) => {
                settlements.start_if_due();
                continue;
            }
        };
        let Some((line, key, done)) = next else {
            break;
        };
        let done = match done {
            Ok(done) => done,
            Err(error) => {
                stopping.store(true, Ordering::SeqCst);
                stop.get_or_insert(SyncStop::State(error));
                continue;
            }
        };
        match &done.signal {
            // Put aside: counted and reported when its batch is created.
            Signal::Deferred => continue,
            Signal::Answered => unreachable = 0,
            Signal::Unreachable(last) => {
                unreachable += 1;
                if unreachable >= UNREACHABLE_ROWS {
                    stopping.store(true, Ordering::SeqCst);
                    stop.get_or_insert(SyncStop::Unreachable {
                        rows: unreachable,
                        last: last.clone(),
                    });
                }
            }
            Signal::Stop(cause) => {
                stopping.store(true, Ordering::SeqCst);
                stop.get_or_insert(SyncStop::Unauthorized(cause.clone()));
            }
        }
        if let Some(settled) = done.settlement {
            settlements
                .pending
                .push(Settlement::new(line, &key, settled));
        }
        settlements.start_if_due();
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
    if let Err(error) = settlements.finish().await {
        stop.get_or_insert(SyncStop::State(error));
    }
    summary.elapsed = started.elapsed();
    if stop.is_none() && lost.load(Ordering::SeqCst) {
        stop = Some(SyncStop::LeaseLost(
            "the lease was not renewed in time".into(),
        ));
    }
    if stop.is_none() && options.cancelled() {
        stop = Some(SyncStop::Interrupted);
    }
    (summary, stop)
}

/// What the store knows of `keys`, in their order. Beside a first night's listing, the
/// keys it has not stored yet are looked up again each time it stores more, until each is
/// found or the listing is over: a row knows what it would have known after the listing.
async fn look_up(ctx: &RowContext, keys: &[String]) -> Result<Vec<Known>, StateError> {
    let Some(listing) = &ctx.listing else {
        return ctx.store.lookup(ctx.scope, ctx.run, keys).await;
    };
    let mut listing = listing.clone();
    // Read before the lookup: a listing over by then has stored all it will.
    let mut over = listing.borrow_and_update().over;
    let mut known = ctx.store.lookup(ctx.scope, ctx.run, keys).await?;
    loop {
        let missing: Vec<usize> = (0..known.len())
            .filter(|&i| known[i].user.is_none())
            .collect();
        if missing.is_empty() || over {
            return Ok(known);
        }
        over = match listing.changed().await {
            Ok(()) => listing.borrow_and_update().over,
            // Nobody lists any more.
            Err(_) => true,
        };
        let again: Vec<String> = missing.iter().map(|&i| keys[i].clone()).collect();
        let found = ctx.store.lookup(ctx.scope, ctx.run, &again).await?;
        for (i, found) in missing.into_iter().zip(found) {
            known[i] = found;
        }
    }
}

/// Reads every user of the scope from the vendor in bulk (where it can list) into the
/// state: on the first night, so that no user is read alone; with `verify`, to find what
/// was changed at the vendor since (drift), which the rows then correct. With a `budget`,
/// the listing stops once it cannot pay for itself (see [`ListingBudget`]).
async fn read_everyone(
    ctx: &RowContext,
    fields: &[FieldPath],
    verify: bool,
    progress: Option<&tokio::sync::watch::Sender<Listing>>,
    budget: Option<&ListingBudget>,
) -> Result<BulkRead, SyncStop> {
    let mut result = BulkRead::default();
    // The listing is stored as it comes, in groups, while the vendor is still read: memory
    // stays flat however many users the vendor holds.
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<ListedUser>();
    let reading = async move {
        let key_kind = &ctx.key_kind;
        let mut listed = 0u64;
        let mut each = move |key: String, profile: profile_core::Profile| {
            let values = values_of(&profile, fields.iter());
            let key = state_key(key_kind, key);
            let _ = sender.send((key, profile.id().map(str::to_owned), values));
            if let Some(budget) = budget {
                listed += 1;
                if budget.exceeded(listed, ctx) {
                    budget.spent.notify_one();
                }
            }
        };
        let read = ctx.updater.read_all(&ctx.key_kind, fields, &mut each);
        let spent = async {
            match budget {
                Some(budget) => budget.spent.notified().await,
                None => std::future::pending().await,
            }
        };
        futures_util::pin_mut!(read, spent);
        // Stopped: not everyone was named, so a user it did not name may exist.
        match futures_util::future::select(read, spent).await {
            Either::Left((read, _)) => read.map(|listed| (listed, false)),
            Either::Right(((), _)) => Ok((false, true)),
        }
    };
    let storing = async {
        let mut stored: Result<
            (
                u64,
                std::collections::HashMap<String, Vec<crate::outcome::FieldDiff>>,
            ),
            StateError,
        > = Ok((0, Default::default()));
        while let Some(first) = receiver.recv().await {
            let mut group = vec![first];
            while group.len() < 500 {
                match receiver.try_recv() {
                    Ok(user) => group.push(user),
                    Err(_) => break,
                }
            }
            let Ok((count, drift)) = &mut stored else {
                continue;
            };
            *count += group.len() as u64;
            match store_listed(ctx, &group, verify, drift).await {
                Ok(()) => {
                    if let Some(progress) = progress {
                        progress.send_modify(|listing| listing.stored += 1);
                    }
                }
                Err(error) => stored = Err(error),
            }
        }
        stored
    };
    let (read, stored) = futures_util::future::join(reading, storing).await;
    (result.listed, result.stopped) = match read {
        Ok(read) => read,
        Err(error) => {
            return Err(match stop_of(&error) {
                Some(reason) => SyncStop::Unauthorized(reason),
                None => SyncStop::Unreachable {
                    rows: 0,
                    last: format!("the bulk read failed: {error}"),
                },
            });
        }
    };
    let (profiles, drift) = stored?;
    result.profiles = profiles;
    result.drift = drift;
    Ok(result)
}

/// Stores a group of listed users; with `verify`, first notes where they differ from the
/// state.
async fn store_listed(
    ctx: &RowContext,
    group: &[ListedUser],
    verify: bool,
    drift: &mut std::collections::HashMap<String, Vec<crate::outcome::FieldDiff>>,
) -> Result<(), StateError> {
    if verify {
        let keys: Vec<String> = group.iter().map(|(key, _, _)| key.clone()).collect();
        let known = ctx.store.lookup(ctx.scope, ctx.run, &keys).await?;
        for ((key, _, held), known) in group.iter().zip(known) {
            if let Some(user) = known.user {
                let found = drift_between(&user.fields, held, held.keys());
                if !found.is_empty() {
                    drift.insert(key.clone(), found);
                }
            }
        }
    }
    ctx.store.listed(ctx.scope, ctx.run, group).await
}
