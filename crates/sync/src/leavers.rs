//! Leavers: users the state manages who are gone from the input, the mass-leaver guard
//! that holds them when too many go at once, and what is done to each.

use serde_json::Map;

use profile_core::ProfilePatch;

use crate::outcome::{RowOutcome, failed};
use crate::row::{Done, RowContext, Signal, signal_of, values_written};
use crate::store::{Leaver, LeaverHold, Settled};

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
    "{leavers} of the {managed} users this state manages are gone from the input, more than --max-leavers {limit} allows{}: nothing was done to any leaver. If they did leave, run again with --allow-leavers {leavers}: it approves these {leavers}, once",
    match (.allowed, .newly_held) {
        (Some(n), true) if *n == *leavers => " (--allow-leavers approves leavers an earlier run held, and these were not held yet: they are now)".to_owned(),
        (Some(n), _) if *n != *leavers => format!(" (--allow-leavers {n} approves exactly {n}, not {leavers})"),
        _ => String::new(),
    }
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
    /// These leavers were not the set an earlier run held (they are held now).
    pub newly_held: bool,
}

/// What the guard decides for a night's leavers.
pub(crate) enum Verdict {
    /// Retire them.
    Retire,
    /// Hold them all.
    Hold(LeaverGuard),
}

/// The guard: leavers within `limit` are retired; above it, they are held, and the set a
/// run held is retired when a later run approves exactly that many (`allowed`), once. A set
/// approved and being retired is finished by the next run whatever its count (a run killed
/// during its deletes). Returns the hold to record, if it changes.
pub(crate) fn judge(
    keys: Vec<String>,
    managed: u64,
    limit: LeaverLimit,
    allowed: Option<u64>,
    held: Option<&LeaverHold>,
) -> (Verdict, Option<LeaverHold>) {
    let mut current = LeaverHold::new(keys);
    let leavers = current.keys.len() as u64;
    if let Some(held) = held.filter(|held| held.approved) {
        if current
            .keys
            .iter()
            .all(|k| held.keys.binary_search(k).is_ok())
        {
            return (Verdict::Retire, None);
        }
    }
    if limit.allows(leavers, managed) {
        return (Verdict::Retire, None);
    }
    let was_held = held.is_some_and(|held| !held.approved && held.keys == current.keys);
    if allowed == Some(leavers) && was_held {
        current.approved = true;
        return (Verdict::Retire, Some(current));
    }
    let guard = LeaverGuard {
        leavers,
        managed,
        limit,
        allowed,
        newly_held: !was_held,
    };
    (Verdict::Hold(guard), (!was_held).then_some(current))
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
    // Anchored, the key is the source's id, which addresses nothing at the vendor: the
    // leaver is the profile the anchor was linked to (none linked: none to retire).
    let user = match (ctx.anchored, &leaver.vendor_id) {
        (false, _) => ctx.key_kind.user(&leaver.key),
        (true, Some(id)) => profile_core::UserRef::Id(id.clone()),
        (true, None) => {
            return Ok(Done::of(RowOutcome::Gone).recording(Settled::Retired {
                deleted: true,
                fields: Map::new(),
            }));
        }
    };
    ctx.intents.intend(&leaver.key).await?;
    let updater = ctx.updater.as_ref();
    let (result, fields) = match action {
        LeaverAction::Delete => (
            updater.delete(&user, leaver.vendor_id.as_deref()).await,
            Map::new(),
        ),
        LeaverAction::Set(patch) => {
            let mut result = updater.write(&user, patch).await;
            // Not found by its key as the state holds it (an address whose case the vendor
            // keeps otherwise): by the vendor's id, before it is taken for gone.
            if let (Err(error), Some(id)) = (&result, &leaver.vendor_id) {
                if error.is_not_found() {
                    result = updater
                        .write(&profile_core::UserRef::Id(id.clone()), patch)
                        .await;
                }
            }
            (result, values_written(patch))
        }
    };
    let error = match result {
        Ok(()) => {
            return Ok(Done::of(RowOutcome::Retired { deleted })
                .recording(Settled::Retired { deleted, fields }));
        }
        // Gone at the vendor already (deleted there, renamed away): nothing is left to do,
        // and the state forgets to manage them.
        Err(error) if error.is_not_found() => {
            return Ok(Done::of(RowOutcome::Gone).recording(Settled::Retired {
                deleted: true,
                fields: serde_json::Map::new(),
            }));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn the_guard_approves_a_held_set_once_and_finishes_an_approved_one() {
        let limit = LeaverLimit::Count(1);
        // Held, recorded.
        let (verdict, record) = judge(keys(&["a", "b", "c"]), 10, limit, None, None);
        assert!(matches!(
            verdict,
            Verdict::Hold(LeaverGuard {
                newly_held: true,
                ..
            })
        ));
        let held = record.expect("recorded");
        // Approved with exactly that many, against that set.
        let (verdict, record) = judge(keys(&["c", "b", "a"]), 10, limit, Some(3), Some(&held));
        assert!(matches!(verdict, Verdict::Retire));
        let approved = record.expect("approval recorded");
        assert!(approved.approved);
        // Killed after one delete: the two left are finished whatever --allow-leavers says.
        let (verdict, record) = judge(keys(&["b", "c"]), 10, limit, Some(3), Some(&approved));
        assert!(matches!(verdict, Verdict::Retire) && record.is_none());
        // Another set of three is not approved by the same flag: it is held anew.
        let (verdict, record) = judge(keys(&["x", "y", "z"]), 10, limit, Some(3), Some(&held));
        assert!(matches!(
            verdict,
            Verdict::Hold(LeaverGuard {
                newly_held: true,
                ..
            })
        ));
        assert_eq!(record.expect("recorded").keys, keys(&["x", "y", "z"]));
        // A wrong count says so.
        let (verdict, _) = judge(keys(&["a", "b", "c"]), 10, limit, Some(2), Some(&held));
        let Verdict::Hold(guard) = verdict else {
            panic!("not held")
        };
        assert!(
            guard
                .to_string()
                .contains("--allow-leavers 2 approves exactly 2, not 3")
        );
        // Within the limit, nothing is asked.
        let (verdict, _) = judge(keys(&["a"]), 10, limit, None, None);
        assert!(matches!(verdict, Verdict::Retire));
    }
}
