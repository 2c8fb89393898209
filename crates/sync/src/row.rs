//! What to do with one row: settle it from the state when the state shows it unchanged,
//! else read (where needed), diff, write or create, and say what the store should record.
//!
//! The only store call made here is the intent, which must be durable before a write is
//! sent; every other record is handed back as a [`Settlement`] for the night to commit in
//! groups.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

use profile_core::{
    ApiErrorKind, BatchCreated, Error, FieldChange, FieldPath, KeyKind, Profile, ProfilePatch,
    ProfileUpdater, UserRef,
};

use crate::intents::Intents;
use crate::outcome::{
    FieldDiff, RowOutcome, SyncMode, SyncOptions, SyncRow, changed_fields, failed,
};
use crate::store::{
    Confirmation, KEY_FIELD, Known, RunId, ScopeId, Settled, StateError, StateStore, UserOutcome,
    UserState,
};

/// One row's result, as a night reports it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RowReport {
    /// The input line (0 for a leaver).
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

/// What a bulk read of everyone found.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct BulkRead {
    /// Whether everyone was listed: not where the vendor cannot list (nothing was read),
    /// nor where the listing was [`stopped`](Self::stopped).
    pub listed: bool,
    /// Profiles read.
    pub profiles: u64,
    /// Per key, the fields whose value at the vendor differed from the state's.
    pub drift: HashMap<String, Vec<FieldDiff>>,
    /// Whether a first night's listing was stopped before its end, as it could not pay for
    /// itself: it had cost more requests than the night has rows (a few rows against a
    /// large directory), or it spared the rows it named no read (every row changed, at a
    /// vendor that reads a user before it saves them). The rows whose users it had not
    /// named were read on their own.
    pub stopped: bool,
}

/// How far the listing that runs beside the rows has come.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Listing {
    /// Groups of listed users stored so far.
    pub(crate) stored: u64,
    /// Whether it is over (done or failed): what it has not stored, it will not.
    pub(crate) over: bool,
    /// Whether it is over having listed everyone: a user it did not name does not exist.
    pub(crate) complete: bool,
}

/// Everything a row is done against.
pub(crate) struct RowContext {
    pub(crate) updater: Arc<dyn ProfileUpdater>,
    pub(crate) store: Arc<dyn StateStore>,
    /// The rows' intents, committed in groups.
    pub(crate) intents: Intents,
    pub(crate) scope: ScopeId,
    pub(crate) run: RunId,
    pub(crate) key_kind: KeyKind,
    /// People are followed by an anchor: the state's keys are the source's ids.
    pub(crate) anchored: bool,
    pub(crate) options: SyncOptions,
    /// With `verify`, what the listing before the rows found (set once, before the rows).
    pub(crate) bulk: std::sync::OnceLock<BulkRead>,
    /// On a first night, the listing under way beside the rows: a row whose user it has
    /// not stored yet waits for it (see `night::look_up`).
    pub(crate) listing: Option<tokio::sync::watch::Receiver<Listing>>,
    /// Joiners put aside for creates in batches, where the vendor creates so.
    pub(crate) joiners: Option<std::sync::Mutex<Vec<Joiner>>>,
    /// Rows whose user a first night's listing named, and of those the ones it spared a
    /// read: what the listing is worth so far (see `night::ListingBudget`).
    pub(crate) listing_named: AtomicU64,
    pub(crate) listing_spared: AtomicU64,
}

/// A row whose user is to be created in a batch, after the rows.
pub(crate) struct Joiner {
    pub(crate) row: SyncRow,
    pub(crate) hash: String,
}

/// Whether a row's error stops the run, or says the vendor could not be reached.
pub(crate) enum Signal {
    /// The vendor answered (or nothing was asked).
    Answered,
    /// Nothing reached the vendor.
    Unreachable(String),
    /// The run must stop: the credentials were refused.
    Stop(String),
    /// Put aside: the row is a joiner created in a batch after the rows, and reported then.
    Deferred,
}

/// A row done: its report, and what the store should record of it.
pub(crate) struct Done {
    pub(crate) outcome: RowOutcome,
    pub(crate) from_state: bool,
    pub(crate) drift: Vec<FieldDiff>,
    pub(crate) signal: Signal,
    pub(crate) settlement: Option<Settled>,
}

impl Done {
    pub(crate) fn of(outcome: RowOutcome) -> Self {
        Self {
            outcome,
            from_state: false,
            drift: Vec::new(),
            signal: Signal::Answered,
            settlement: None,
        }
    }

    pub(crate) fn recording(mut self, settled: Settled) -> Self {
        self.settlement = Some(settled);
        self
    }
}

/// The hash of what a row asks for: its changes, in order.
pub fn row_hash(patch: &ProfilePatch) -> String {
    hash_row(patch, None)
}

/// Hashes what `item` displays as, without building the text first.
fn feed(hasher: &mut Sha1, item: &impl std::fmt::Display) {
    struct Feed<'a>(&'a mut Sha1);
    impl std::fmt::Write for Feed<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.update(s.as_bytes());
            Ok(())
        }
    }
    // Writing to a hasher cannot fail.
    let _ = std::fmt::Write::write_fmt(&mut Feed(hasher), format_args!("{item}"));
}

/// [`row_hash`], with the key an anchored row addresses its person by (a changed address is
/// a changed row).
fn hash_row(patch: &ProfilePatch, address: Option<&str>) -> String {
    let mut hasher = Sha1::new();
    if let Some(address) = address {
        hasher.update(b"k");
        hasher.update(address.as_bytes());
        hasher.update(b"\n");
    }
    for change in patch.changes() {
        match change {
            FieldChange::Set { path, value } => {
                hasher.update(b"s");
                feed(&mut hasher, path);
                hasher.update(b"\0");
                feed(&mut hasher, value);
            }
            FieldChange::Remove { path } => {
                hasher.update(b"r");
                feed(&mut hasher, path);
            }
            _ => hasher.update(b"?"),
        }
        hasher.update(b"\n");
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = hasher.finalize();
    let mut text = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    text
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
pub(crate) fn values_of<'a>(
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
pub(crate) fn drift_between<'a>(
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

/// Whether an error stops the whole run (the credentials refused).
pub(crate) fn stop_of(error: &Error) -> Option<String> {
    matches!(
        error.api_kind(),
        Some(ApiErrorKind::Unauthorized | ApiErrorKind::Forbidden)
    )
    .then(|| error.to_string())
}

pub(crate) fn signal_of(error: &Error) -> Signal {
    if let Some(stop) = stop_of(error) {
        return Signal::Stop(stop);
    }
    match error {
        Error::Connect { .. } | Error::Timeout { .. } => Signal::Unreachable(error.to_string()),
        _ => Signal::Answered,
    }
}

/// The values a write of `pending` leaves, by path.
pub(crate) fn values_written(pending: &ProfilePatch) -> Map<String, Value> {
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

fn would_changes(pending: &ProfilePatch, before: &Profile) -> Vec<FieldDiff> {
    pending
        .changes()
        .iter()
        .map(|change| FieldDiff {
            field: change.path().to_string(),
            // Missing and null read the same way at every vendor: no value.
            from: before.get(change.path()).cloned().filter(|v| !v.is_null()),
            to: match change {
                FieldChange::Set { value, .. } => Some(value.clone()),
                _ => None,
            },
        })
        .collect()
}

fn would_update(pending: &ProfilePatch, before: &Profile) -> RowOutcome {
    RowOutcome::WouldUpdate {
        changes: would_changes(pending, before),
    }
}

/// Where a row stands before anything is sent: the hash of what it asks, the user as the
/// store knows them, and the drift a bulk verify found.
struct Facts {
    hash: String,
    known: Option<UserState>,
    drift: Vec<FieldDiff>,
}

/// Marks the row's user in doubt before a write, where that can matter: a store that
/// outlives the process, and a user it knows from a write. A user the state does not know
/// is read at the vendor before anything is written for them on the next run anyway, so a
/// write whose answer is lost is neither lost nor applied twice without the mark; a user
/// known only from a listing is put in doubt by the next run's start if this one does not
/// finish (see [`StateStore::begin_run`]), which spares a first night an intent per row.
async fn intend(
    ctx: &RowContext,
    row: &SyncRow,
    known: Option<&UserState>,
) -> Result<(), StateError> {
    let Some(known) = known else {
        return Ok(());
    };
    if ctx.store.persistent() && known.outcome != UserOutcome::Listed {
        ctx.intents.intend(&row.key).await?;
    }
    Ok(())
}

/// Does one row; see the [module](self) docs.
pub(crate) async fn process(
    ctx: &RowContext,
    row: &SyncRow,
    known: Known,
    superseded_by: Option<u64>,
) -> Result<Done, StateError> {
    if let Some(last) = superseded_by {
        return Ok(Done::of(RowOutcome::Superseded { by_line: last }));
    }
    let options = &ctx.options;
    let updater = ctx.updater.as_ref();
    let facts = Facts {
        hash: hash_row(&row.patch, row.address.as_deref()),
        known: known.user,
        drift: ctx
            .bulk
            .get()
            .and_then(|bulk| bulk.drift.get(&row.key))
            .cloned()
            .unwrap_or_default(),
    };
    // Checked as the vendor crate would before sending: a row the run would refuse is
    // refused in a dry run too, and nothing is sent for it.
    if let Err(error) = updater.check_patch(&row.patch) {
        let reason = format!("refused before sending: {error}");
        let done = Done::of(RowOutcome::Failed {
            reason: reason.clone(),
            code: None,
            retryable: false,
        });
        return Ok(if options.dry_run {
            done
        } else {
            done.recording(Settled::Failed {
                reason,
                code: None,
                retryable: false,
                row_hash: facts.hash,
            })
        });
    }
    // A row the vendor refused for its values is sent again only once it changes.
    if let Some(user) = &facts.known {
        if user.outcome == UserOutcome::Failed
            && !user.retryable
            && user.row_hash.as_deref() == Some(facts.hash.as_str())
        {
            return Ok(Done {
                from_state: true,
                ..Done::of(RowOutcome::Failed {
                    reason: format!(
                        "refused before, not sent again until the row changes: {}",
                        user.reason.as_deref().unwrap_or("no reason given")
                    ),
                    code: user.code.clone(),
                    retryable: false,
                })
            });
        }
    }
    match &row.address {
        Some(address) => anchored(ctx, row, address, facts).await,
        None => addressed(ctx, row, facts).await,
    }
}

/// An anchored row: addressed by the vendor's id the state links its anchor to (after
/// giving that profile the row's key, where the key changed), else by its key; the key it
/// was settled under is remembered with the values.
async fn anchored(
    ctx: &RowContext,
    row: &SyncRow,
    address: &str,
    mut facts: Facts,
) -> Result<Done, StateError> {
    let linked = facts.known.as_ref().and_then(|user| {
        let id = user.vendor_id.clone()?;
        let under = user.fields.get(KEY_FIELD).and_then(Value::as_str);
        Some((id, under.map(str::to_owned)))
    });
    let Some((id, under)) = linked else {
        let done = addressed(ctx, row, facts).await?;
        return Ok(linking(done, address, None, ctx));
    };
    let mut by_id = SyncRow {
        user: UserRef::Id(id.clone()),
        ..row.clone()
    };
    // An e-mail address whose case changed is the same address.
    let same = under.as_deref().is_some_and(|under| {
        under == address || (ctx.key_kind == KeyKind::Email && under.eq_ignore_ascii_case(address))
    });
    // A key the vendor takes from elsewhere (LumApps' identity provider) is only followed:
    // not a change, in a dry run as in a run.
    let mut moved = (!same && ctx.updater.rekey_writes()).then(|| FieldDiff {
        field: ctx.key_kind.name().to_owned(),
        from: under.clone().map(Value::String),
        to: Some(Value::String(address.to_owned())),
    });
    if moved.is_some() && !ctx.options.dry_run {
        intend(ctx, row, facts.known.as_ref()).await?;
        let from = under.as_deref().map(|under| ctx.key_kind.user(under));
        match ctx.updater.rekey(&id, from.as_ref(), &row.user).await {
            Ok(true) => {}
            // Nothing to write (the vendor holds the key already): not a change.
            Ok(false) => moved = None,
            // The profile is gone from the vendor: the person is found by their key (and
            // created, where the mode says so), as on a first night.
            Err(error) if error.is_not_found() => {
                by_id = row.clone();
                facts.known = None;
                moved = None;
            }
            // The new key is refused (another profile holds it, say): never a create.
            Err(error) => return Ok(record_failure(facts.hash, &error)),
        }
    }
    let done = addressed(ctx, &by_id, facts).await?;
    Ok(linking(done, address, moved, ctx))
}

/// An anchored row's result with its key: remembered with the confirmed values, and, where
/// the key changed, counted as a change of the row.
fn linking(mut done: Done, address: &str, moved: Option<FieldDiff>, ctx: &RowContext) -> Done {
    if let Some(Settled::Confirmed {
        fields,
        outcome,
        written,
        ..
    }) = &mut done.settlement
    {
        fields.insert(KEY_FIELD.to_owned(), Value::String(address.to_owned()));
        if let Some(diff) = &moved {
            if *outcome == Confirmation::Unchanged {
                *outcome = Confirmation::Updated;
            }
            written.insert(0, diff.field.clone());
        }
    }
    let Some(diff) = moved else {
        return done;
    };
    done.outcome = match std::mem::replace(&mut done.outcome, RowOutcome::Unchanged) {
        RowOutcome::Unchanged if ctx.options.dry_run => RowOutcome::WouldUpdate {
            changes: vec![diff],
        },
        RowOutcome::Unchanged => RowOutcome::Updated {
            fields: vec![diff.field],
        },
        RowOutcome::Updated { mut fields } => {
            fields.insert(0, diff.field);
            RowOutcome::Updated { fields }
        }
        RowOutcome::WouldUpdate { mut changes } => {
            changes.insert(0, diff);
            RowOutcome::WouldUpdate { changes }
        }
        other => other,
    };
    done.from_state = false;
    done
}

/// A row addressed as `row.user` says: see [`process`].
async fn addressed(ctx: &RowContext, row: &SyncRow, facts: Facts) -> Result<Done, StateError> {
    let options = &ctx.options;
    let updater = ctx.updater.as_ref();
    // Written as it is, with no read (`--no-read-first`): a vendor that merges takes the
    // whole patch; one it does not have is a joiner.
    if !options.read_first && !options.dry_run && updater.write_merges() {
        intend(ctx, row, facts.known.as_ref()).await?;
        let result = updater.write(&row.user, &row.patch).await;
        if let Err(error) = &result {
            if error.is_not_found() {
                return missing(ctx, row, facts, error, true).await;
            }
        }
        return Ok(settle_write(
            facts,
            result,
            &row.patch,
            Map::new(),
            None,
            Confirmation::Updated,
        ));
    }
    let listed = ctx.bulk.get().is_some_and(|bulk| bulk.listed)
        || ctx
            .listing
            .as_ref()
            .is_some_and(|listing| listing.borrow().complete);
    let paths = changed_fields(&row.patch);
    // The state is trusted for a row when no write of it is in doubt, the user is known to
    // exist, and the state knows every field the row sets; a verify that could not list
    // reads everyone anyway.
    let trusted = facts.known.as_ref().filter(|user| {
        !user.in_doubt
            && !matches!(
                user.outcome,
                UserOutcome::Missing | UserOutcome::Deleted | UserOutcome::Sending
            )
            && paths.iter().all(|p| user.fields.contains_key(p))
            && (!options.verify || listed)
    });
    // What the listing was worth for this row: a read spared, or not.
    let from_listing = facts
        .known
        .as_ref()
        .is_some_and(|user| user.outcome == UserOutcome::Listed);
    if from_listing {
        ctx.listing_named.fetch_add(1, Ordering::Relaxed);
    }
    let spared = || {
        if from_listing {
            ctx.listing_spared.fetch_add(1, Ordering::Relaxed);
        }
    };
    if let Some(user) = trusted {
        let current = profile_of(user);
        let pending = updater.pending(&row.patch, &current);
        if pending.is_empty() {
            spared();
            // Recorded only when there is something new to remember.
            let same = user.row_hash.as_deref() == Some(facts.hash.as_str())
                && user.outcome != UserOutcome::Failed
                && facts.drift.is_empty();
            let mut done = Done {
                from_state: true,
                drift: facts.drift.clone(),
                ..Done::of(RowOutcome::Unchanged)
            };
            if !same && !options.dry_run {
                let drift = done.drift.iter().map(|d| d.field.clone()).collect();
                done = done.recording(Settled::Confirmed {
                    vendor_id: None,
                    fields: Map::new(),
                    row_hash: facts.hash,
                    outcome: Confirmation::Unchanged,
                    written: Vec::new(),
                    drift,
                });
            }
            return Ok(done);
        }
        if options.dry_run {
            spared();
            return Ok(Done {
                from_state: true,
                drift: facts.drift,
                ..Done::of(would_update(&pending, &current))
            });
        }
        if updater.write_merges() {
            spared();
            intend(ctx, row, facts.known.as_ref()).await?;
            let result = updater.write(&row.user, &pending).await;
            if let Err(error) = &result {
                // Gone from the vendor since the state saw the user.
                if error.is_not_found() {
                    return missing(ctx, row, facts, error, true).await;
                }
            }
            return Ok(settle_write(
                facts,
                result,
                &pending,
                Map::new(),
                None,
                Confirmation::Updated,
            ));
        }
    }
    // Listed tonight and not found: a joiner, created in a batch whose unique constraint
    // answers for one the listing missed (no read by key first).
    if listed && facts.known.is_none() && !options.verify {
        if let Some(done) = defer(ctx, row, &facts) {
            return Ok(done);
        }
    }
    // The first night of a state, at a vendor whose write tells whether the user exists (a
    // Sunshine PATCH by identifier answers 404 and changes nothing): written first, read
    // never; a user the vendor does not have is a joiner. The answer is what the state
    // records. Not in a dry run (which must not write), nor with a verify (which compares).
    if facts.known.is_none()
        && ctx.store.persistent()
        && !options.dry_run
        && !options.verify
        && updater.write_tells()
        && !matches!(row.user, UserRef::Id(_))
    {
        let pending = updater.pending(&row.patch, &Profile::default());
        return match updater.update(&row.user, &pending).await {
            Ok(profile) => {
                let read = values_of(&profile, pending.changes().iter().map(|c| c.path()));
                let id = profile.id().map(str::to_owned);
                Ok(settle_write(
                    facts,
                    Ok(()),
                    &pending,
                    read,
                    id,
                    Confirmation::Updated,
                ))
            }
            Err(error) if error.is_not_found() => missing(ctx, row, facts, &error, true).await,
            Err(error) => Ok(record_failure(facts.hash, &error)),
        };
    }
    read_then_write(ctx, row, facts, true).await
}

/// Reads the user at the vendor, then writes what the row asks that it does not hold: no
/// state yet, a write in doubt, a field not known, a verify, or a vendor whose save
/// replaces the whole user. A user the vendor does not have is created if the mode says
/// so (and `may_create`).
async fn read_then_write(
    ctx: &RowContext,
    row: &SyncRow,
    mut facts: Facts,
    may_create: bool,
) -> Result<Done, StateError> {
    let (updater, options) = (ctx.updater.as_ref(), &ctx.options);
    let in_doubt = facts.known.as_ref().is_some_and(|user| user.in_doubt);
    let (before, pending, written) = if updater.write_merges() {
        let before = match updater.get_for(&row.user, &row.patch).await {
            Ok(before) => before,
            Err(error) if error.is_not_found() => {
                return missing(ctx, row, facts, &error, may_create).await;
            }
            // A read changes nothing: whatever its error, nothing was applied.
            Err(error) => return Ok(record_read_failure(facts.hash, &error, in_doubt)),
        };
        let pending = updater.pending(&row.patch, &before);
        if pending.is_empty() || options.dry_run {
            (before, pending, None)
        } else {
            intend(ctx, row, facts.known.as_ref()).await?;
            let result = updater.write(&row.user, &pending).await;
            (before, pending, Some(result))
        }
    } else {
        if !options.dry_run {
            intend(ctx, row, facts.known.as_ref()).await?;
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
                return missing(ctx, row, facts, &error, may_create).await;
            }
            Err(error) => return Ok(record_failure(facts.hash, &error)),
        }
    };
    let read = values_of(&before, row.patch.changes().iter().map(|c| c.path()));
    if let Some(user) = &facts.known {
        if facts.drift.is_empty() && options.verify {
            facts.drift = drift_between(&user.fields, &read, changed_fields(&row.patch).iter());
        }
    }
    if pending.is_empty() {
        return Ok(settle_read(row, facts, &before, read, options, in_doubt));
    }
    let Some(result) = written else {
        return Ok(Done {
            drift: facts.drift,
            ..Done::of(would_update(&pending, &before))
        });
    };
    let id = before.id().map(str::to_owned);
    Ok(settle_write(
        facts,
        result,
        &pending,
        read,
        id,
        Confirmation::Updated,
    ))
}

/// The vendor has no such user: created in upsert and mirror mode where the vendor can,
/// else recorded as missing.
fn missing<'a>(
    ctx: &'a RowContext,
    row: &'a SyncRow,
    facts: Facts,
    error: &'a Error,
    may_create: bool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Done, StateError>> + Send + 'a>> {
    Box::pin(async move {
        let (updater, options) = (ctx.updater.as_ref(), &ctx.options);
        // Anchored and gone by the vendor's id the state linked: found by the row's key
        // (and created, where the mode says so), as on a first night.
        if let (Some(address), UserRef::Id(_)) = (&row.address, &row.user) {
            let by_key = SyncRow {
                user: ctx.key_kind.user(address),
                ..row.clone()
            };
            let facts = Facts {
                known: None,
                ..facts
            };
            return read_then_write(ctx, &by_key, facts, may_create).await;
        }
        // Not found as written, but the state (or the night's bulk read) knows the user by
        // the vendor's id: the address differs in case only (Capture matches addresses
        // exactly). The user is updated by that id, never created a second time.
        let known_id = facts.known.as_ref().and_then(|user| user.vendor_id.clone());
        if let (Some(id), true) = (known_id, may_create && !matches!(row.user, UserRef::Id(_))) {
            let by_id = SyncRow {
                user: UserRef::Id(id),
                ..row.clone()
            };
            match updater.get_for(&by_id.user, &row.patch).await {
                Ok(_) => return read_then_write(ctx, &by_id, facts, false).await,
                // Gone by its id too: a joiner again, created by its key below.
                Err(by_id_error) if by_id_error.is_not_found() => {}
                Err(by_id_error) => {
                    let in_doubt = facts.known.as_ref().is_some_and(|user| user.in_doubt);
                    return Ok(record_read_failure(facts.hash, &by_id_error, in_doubt));
                }
            }
        }
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
            let done = Done::of(RowOutcome::Missing {
                reason: reason.clone(),
            });
            return Ok(if options.dry_run {
                done
            } else {
                done.recording(Settled::Missing {
                    reason,
                    row_hash: facts.hash,
                })
            });
        }
        if options.dry_run {
            return Ok(Done::of(RowOutcome::WouldCreate {
                changes: would_changes(&row.patch, &Profile::default()),
            }));
        }
        if let Some(done) = defer(ctx, row, &facts) {
            return Ok(done);
        }
        create_one(ctx, row, facts).await
    })
}

/// Puts a joiner aside for a create in a batch, where the vendor creates so (not a user
/// followed by an anchor, whose link the row itself records).
fn defer(ctx: &RowContext, row: &SyncRow, facts: &Facts) -> Option<Done> {
    let joiners = ctx.joiners.as_ref()?;
    if row.address.is_some() || matches!(row.user, UserRef::Id(_)) {
        return None;
    }
    joiners
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(Joiner {
            row: row.clone(),
            hash: facts.hash.clone(),
        });
    Some(Done {
        signal: Signal::Deferred,
        ..Done::of(RowOutcome::Unchanged)
    })
}

/// Creates one user with the vendor's create call.
async fn create_one(ctx: &RowContext, row: &SyncRow, facts: Facts) -> Result<Done, StateError> {
    let updater = ctx.updater.as_ref();
    // A create whose answer is lost is followed, on the next run, by a read by key,
    // never by a second create sent blind (marked in doubt first where the state knows
    // the user).
    intend(ctx, row, facts.known.as_ref()).await?;
    match updater.create(&row.user, &row.patch).await {
        Ok(vendor_id) => Ok(settle_write(
            Facts {
                drift: Vec::new(),
                ..facts
            },
            Ok(()),
            &row.patch,
            Map::new(),
            vendor_id,
            Confirmation::Created,
        )),
        // The record exists after all (Capture's 361: a unique value already taken):
        // the row goes on as an update.
        Err(error) if error.api_kind() == Some(ApiErrorKind::Conflict) => {
            let facts = Facts {
                known: None,
                drift: Vec::new(),
                ..facts
            };
            read_then_write(ctx, row, facts, false).await
        }
        Err(error) => Ok(record_failure(facts.hash, &error)),
    }
}

/// The joiners put aside during the rows, created `batch` at a time: each its row's
/// result. The keys of a batch are marked in doubt before it is sent (a batch whose answer
/// is lost is read back by key by the next run, never sent again blind); a user the vendor
/// says exists already is read by key and updated; a batch the credentials may not send
/// (Capture's bulkCreate needs an owner or direct_access client) is created one by one.
pub(crate) async fn create_joiners(
    ctx: &RowContext,
    batch: Vec<Joiner>,
) -> Vec<(u64, String, Result<Done, StateError>)> {
    let mut results = Vec::with_capacity(batch.len());
    if ctx.store.persistent() {
        let keys: Vec<String> = batch.iter().map(|joiner| joiner.row.key.clone()).collect();
        if let Err(error) = ctx.store.intend(ctx.scope, ctx.run, &keys).await {
            if let Some(first) = batch.first() {
                results.push((first.row.line, first.row.key.clone(), Err(error)));
            }
            return results;
        }
    }
    let users: Vec<(UserRef, ProfilePatch)> = batch
        .iter()
        .map(|joiner| (joiner.row.user.clone(), joiner.row.patch.clone()))
        .collect();
    let facts = |joiner: &Joiner| Facts {
        hash: joiner.hash.clone(),
        known: None,
        drift: Vec::new(),
    };
    let answer = ctx.updater.create_many(&users).await;
    let answer = match answer {
        Ok(created) if created.len() == batch.len() => Ok(created),
        Ok(created) => Err(Error::UnexpectedResponse {
            vendor: ctx.updater.vendor(),
            operation: "create_many",
            status: 200,
            reason: format!("{} results for {} users", created.len(), batch.len()),
            source: None,
        }),
        Err(error) => Err(error),
    };
    match answer {
        Ok(created) => {
            for (joiner, outcome) in batch.into_iter().zip(created) {
                let done = match outcome {
                    BatchCreated::Created { id } => Ok(settle_write(
                        facts(&joiner),
                        Ok(()),
                        &joiner.row.patch,
                        Map::new(),
                        id,
                        Confirmation::Created,
                    )),
                    // Another record holds the key (it was theirs all along): an update.
                    BatchCreated::Exists { .. } => {
                        read_then_write(ctx, &joiner.row, facts(&joiner), false).await
                    }
                    BatchCreated::Refused { reason } => Ok(Done::of(RowOutcome::Failed {
                        reason: reason.clone(),
                        code: None,
                        retryable: false,
                    })
                    .recording(Settled::Failed {
                        reason,
                        code: None,
                        retryable: false,
                        row_hash: joiner.hash.clone(),
                    })),
                    _ => Ok(record_failure(
                        joiner.hash.clone(),
                        &Error::invalid_input(
                            "the vendor answered a create this version does not know",
                        ),
                    )),
                };
                results.push((joiner.row.line, joiner.row.key, done));
            }
        }
        Err(error)
            if stop_of(&error).is_some() && error.api_kind() == Some(ApiErrorKind::Forbidden) =>
        {
            for joiner in batch {
                let done = create_one(ctx, &joiner.row, facts(&joiner)).await;
                results.push((joiner.row.line, joiner.row.key, done));
            }
        }
        Err(error) => {
            for joiner in batch {
                let done = Ok(record_failure(joiner.hash.clone(), &error));
                results.push((joiner.row.line, joiner.row.key, done));
            }
        }
    }
    results
}

/// A row read at the vendor and found to hold everything: its values are remembered.
/// When a write of it was in doubt (sent by a run that was killed, or not answered), the
/// vendor holding the values means that write was applied: the row counts as updated.
fn settle_read(
    row: &SyncRow,
    facts: Facts,
    before: &Profile,
    read: Map<String, Value>,
    options: &crate::outcome::SyncOptions,
    in_doubt: bool,
) -> Done {
    let id = before.id().map(str::to_owned);
    if in_doubt && !options.dry_run {
        return settle_write(facts, Ok(()), &row.patch, read, id, Confirmation::Updated);
    }
    let done = Done {
        drift: facts.drift,
        ..Done::of(RowOutcome::Unchanged)
    };
    if options.dry_run {
        return done;
    }
    let drift = done.drift.iter().map(|d| d.field.clone()).collect();
    done.recording(Settled::Confirmed {
        vendor_id: id,
        fields: read,
        row_hash: facts.hash,
        outcome: Confirmation::Unchanged,
        written: Vec::new(),
        drift,
    })
}

fn settle_write(
    facts: Facts,
    result: Result<(), Error>,
    pending: &ProfilePatch,
    mut read: Map<String, Value>,
    vendor_id: Option<String>,
    outcome: Confirmation,
) -> Done {
    if let Err(error) = result {
        let mut done = record_failure(facts.hash, &error);
        done.drift = facts.drift;
        return done;
    }
    // What the vendor confirmed: what it held for the row's fields, with the write on top.
    read.extend(values_written(pending));
    let written = changed_fields(pending);
    let drift = facts.drift.iter().map(|d| d.field.clone()).collect();
    Done {
        drift: facts.drift,
        ..Done::of(if outcome == Confirmation::Created {
            RowOutcome::Created {
                fields: written.clone(),
            }
        } else {
            RowOutcome::Updated {
                fields: written.clone(),
            }
        })
    }
    .recording(Settled::Confirmed {
        vendor_id,
        fields: read,
        row_hash: facts.hash,
        outcome,
        written,
        drift,
    })
}

/// A failed read: as [`record_failure`], but never "may have been applied": a read applies
/// nothing, whatever became of it. A user in doubt stays in doubt (the read that would have
/// settled it did not happen).
fn record_read_failure(hash: String, error: &Error, in_doubt: bool) -> Done {
    let done = record_failure(hash.clone(), error);
    let RowOutcome::Unknown { reason } = &done.outcome else {
        return done;
    };
    let reason = format!("the read failed: {reason}");
    let code = error.vendor_code().map(str::to_owned);
    let settlement = match (&done.signal, in_doubt) {
        (Signal::Stop(_), _) => None,
        (_, true) => Some(Settled::Unknown {
            reason: reason.clone(),
        }),
        (_, false) => Some(Settled::Failed {
            reason: reason.clone(),
            code: code.clone(),
            retryable: true,
            row_hash: hash,
        }),
    };
    Done {
        outcome: RowOutcome::Failed {
            reason,
            code,
            retryable: true,
        },
        settlement,
        ..done
    }
}

/// A failed row: recorded unless the failure is not the row's (the run stops, or nothing
/// reached the vendor), in which case a write in doubt stays marked so and the next run
/// does the row.
fn record_failure(hash: String, error: &Error) -> Done {
    let outcome = failed(error);
    let signal = signal_of(error);
    let not_the_rows = match &signal {
        Signal::Stop(_) => true,
        Signal::Unreachable(_) => matches!(outcome, RowOutcome::Failed { .. }),
        Signal::Answered | Signal::Deferred => false,
    };
    let settled = match (&outcome, not_the_rows) {
        (_, true) => None,
        (RowOutcome::Unknown { reason }, _) => Some(Settled::Unknown {
            reason: reason.clone(),
        }),
        (
            RowOutcome::Failed {
                reason,
                code,
                retryable,
            },
            _,
        ) => Some(Settled::Failed {
            reason: reason.clone(),
            code: code.clone(),
            retryable: *retryable,
            row_hash: hash,
        }),
        _ => None,
    };
    Done {
        signal,
        settlement: settled,
        ..Done::of(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rows_hash_stays_what_states_hold() {
        // States written by earlier versions hold these hashes: the same row must hash the
        // same, or every refused row would be sent again once.
        let patch = ProfilePatch::new()
            .set("attributes.title", "Engineer")
            .unwrap()
            .remove("phone")
            .unwrap();
        assert_eq!(
            hash_row(&patch, Some("a@x")),
            "77999316bf3e03ba8825b707109f52eb1344b1e2"
        );
    }
}
