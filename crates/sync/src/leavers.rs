//! Leavers: users the state manages who are gone from the input, the mass-leaver guard
//! that holds them when too many go at once, and what is done to each.

use serde_json::Map;

use profile_core::ProfilePatch;

use crate::outcome::{RowOutcome, failed};
use crate::row::{Done, RowContext, Signal, signal_of, values_written};
use crate::store::{Leaver, Settled};

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

/// Does the leaver action to one leaver (the guard let them through).
pub(crate) async fn retire(
    ctx: &RowContext,
    leaver: &Leaver,
    action: &LeaverAction,
) -> Result<Done, crate::store::StateError> {
    let deleted = matches!(action, LeaverAction::Delete);
    if ctx.options.dry_run {
        return Ok(Done::of(RowOutcome::WouldRetire { deleted }));
    }
    let user = ctx.key_kind.user(&leaver.key);
    ctx.store.intend(ctx.scope, ctx.run, &leaver.key).await?;
    let updater = ctx.updater.as_ref();
    let (result, fields) = match action {
        LeaverAction::Delete => (
            updater.delete(&user, leaver.vendor_id.as_deref()).await,
            Map::new(),
        ),
        LeaverAction::Set(patch) => (updater.write(&user, patch).await, values_written(patch)),
    };
    let error = match result {
        Ok(()) => {
            return Ok(Done::of(RowOutcome::Retired { deleted })
                .recording(Settled::Retired { deleted, fields }));
        }
        Err(error) => error,
    };
    let outcome = failed(&error);
    let signal = signal_of(&error);
    let settled = match (&outcome, &signal) {
        (_, Signal::Stop(_)) => None,
        (
            RowOutcome::Failed {
                reason,
                code,
                retryable,
            },
            _,
        ) => Some(Settled::Failed {
            reason: format!("as a leaver: {reason}"),
            code: code.clone(),
            retryable: *retryable,
            row_hash: String::new(),
        }),
        _ => Some(Settled::Unknown {
            reason: error.to_string(),
        }),
    };
    let mut done = Done::of(outcome);
    done.signal = signal;
    done.settlement = settled;
    Ok(done)
}
