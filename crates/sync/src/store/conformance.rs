//! What every [`StateStore`] must do, as one async check to run against a new, empty
//! store: `profile-sync` runs it against [`MemoryState`](super::MemoryState) and
//! [`SqliteState`](super::SqliteState), and a store of your own should pass it too.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use profile_sync::store::{MemoryState, conformance};
//!
//! conformance::check(&MemoryState::new()).await?;
//! # Ok(())
//! # }
//! ```

use serde_json::{Map, Value, json};

use super::{
    Confirmation, LeaseHolder, LeaverHold, RowRecord, RunEnd, ScopeKey, Settled, Settlement,
    StateError, StateStore, UserOutcome,
};

/// A store that does not behave as a night needs: what was expected, and what it did.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// A check failed.
    #[error("{check}: {found}")]
    Failed {
        /// What the store must do.
        check: &'static str,
        /// What it did instead.
        found: String,
    },
    /// The store failed a call.
    #[error(transparent)]
    Store(#[from] StateError),
}

macro_rules! ensure {
    ($check:literal, $ok:expr, $($found:tt)*) => {
        if !$ok {
            return Err(ConformanceError::Failed {
                check: $check,
                found: format!($($found)*),
            });
        }
    };
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

fn scope_key(name: &str) -> ScopeKey {
    ScopeKey {
        vendor: "conformance".into(),
        base_url: "http://127.0.0.1:1/".into(),
        name: name.into(),
        key_kind: "email".into(),
    }
}

/// A row the vendor refused, for no retry.
fn refused(line: u64, key: &str) -> Settlement {
    Settlement::new(
        line,
        key,
        Settled::Failed {
            reason: "refused".into(),
            code: None,
            retryable: false,
            row_hash: "h".into(),
        },
    )
}

/// Runs every check against `store`, which must be new and empty.
pub async fn check(store: &dyn StateStore) -> Result<(), ConformanceError> {
    scopes_and_runs(store).await?;
    settlements(store).await?;
    input_keys_and_leavers(store).await?;
    rows_of_runs(store).await?;
    leases(store).await?;
    leaver_holds(store).await?;
    Ok(())
}

async fn leaver_holds(store: &dyn StateStore) -> Result<(), ConformanceError> {
    let scope = store.scope(&scope_key("holds")).await?;
    let other = store.scope(&scope_key("holds-other")).await?;
    ensure!(
        "nothing is held at first",
        store.leaver_hold(scope).await?.is_none(),
        "held"
    );
    let mut hold = LeaverHold::new(vec!["b".into(), "a".into(), "b".into()]);
    store.set_leaver_hold(scope, Some(&hold)).await?;
    let read = store.leaver_hold(scope).await?;
    ensure!(
        "a hold keeps its keys, sorted, once each, not approved",
        read.as_ref()
            .is_some_and(|h| h.keys == ["a", "b"] && !h.approved),
        "{read:?}"
    );
    ensure!(
        "a hold is its scope's",
        store.leaver_hold(other).await?.is_none(),
        "shared"
    );
    hold.approved = true;
    store.set_leaver_hold(scope, Some(&hold)).await?;
    let read = store.leaver_hold(scope).await?;
    ensure!(
        "an approval is kept",
        read.is_some_and(|h| h.approved),
        "not approved"
    );
    store.set_leaver_hold(scope, None).await?;
    ensure!(
        "a retired hold is gone",
        store.leaver_hold(scope).await?.is_none(),
        "still held"
    );
    Ok(())
}

async fn scopes_and_runs(store: &dyn StateStore) -> Result<(), ConformanceError> {
    let a = store.scope(&scope_key("runs-a")).await?;
    let again = store.scope(&scope_key("runs-a")).await?;
    let b = store.scope(&scope_key("runs-b")).await?;
    ensure!("a scope has one id", a == again, "{a:?} then {again:?}");
    ensure!("two scopes have two ids", a != b, "both {a:?}");
    ensure!(
        "a new scope has no users",
        !store.has_users(a).await?,
        "it has"
    );
    let (first, continues) = store.begin_run(a, "in.csv", &json!({})).await?;
    ensure!(
        "a first run continues nothing",
        continues.is_none(),
        "{continues:?}"
    );
    // The first run lists two users and writes to one of them.
    let listed = |key: &str| (key.to_owned(), None, object(json!({"name": key})));
    store
        .listed(a, first, &[listed("l@x"), listed("w@x")])
        .await?;
    store
        .settle(
            a,
            first,
            &[Settlement::new(
                2,
                "w@x",
                Settled::Confirmed {
                    vendor_id: None,
                    fields: object(json!({"name": "W"})),
                    row_hash: "h".into(),
                    outcome: Confirmation::Updated,
                    written: vec!["name".into()],
                    drift: vec![],
                },
            )],
        )
        .await?;
    // A listing that names the written user again, late, leaves what the run wrote.
    store
        .listed(
            a,
            first,
            &[(
                "w@x".into(),
                Some("late".into()),
                object(json!({"name": "late"})),
            )],
        )
        .await?;
    let known = store.lookup(a, first, &["w@x".into()]).await?;
    let written = known[0].user.as_ref();
    ensure!(
        "a listing leaves a user its own run has written as written",
        written.is_some_and(|u| u.outcome == UserOutcome::Updated
            && u.fields.get("name") == Some(&json!("W"))
            && u.vendor_id.is_none()),
        "{known:?}"
    );
    // Killed: never ended. The next run of the scope continues it; another scope's does not.
    let (second, continues) = store.begin_run(a, "in.csv", &json!({})).await?;
    ensure!(
        "a run after an unfinished one continues it",
        continues == Some(first),
        "{continues:?}"
    );
    let known = store
        .lookup(a, second, &["l@x".into(), "w@x".into()])
        .await?;
    let doubt = |i: usize| known[i].user.as_ref().map(|u| (u.outcome, u.in_doubt));
    ensure!(
        "a run that continues another puts the users known only from a listing in doubt",
        doubt(0) == Some((UserOutcome::Listed, true))
            && doubt(1) == Some((UserOutcome::Updated, false)),
        "{known:?}"
    );
    let (_, other) = store.begin_run(b, "in.csv", &json!({})).await?;
    ensure!(
        "runs of another scope are not continued",
        other.is_none(),
        "{other:?}"
    );
    store
        .end_run(second, &RunEnd::Finished, &json!({"rows": 0}))
        .await?;
    let chain = store.run_chain(second).await?;
    ensure!(
        "a chain lists the runs it continues, oldest first",
        chain == [first, second],
        "{chain:?}"
    );
    store.listed(a, second, &[listed("m@x")]).await?;
    let (third, continues) = store.begin_run(a, "in.csv", &json!({})).await?;
    ensure!(
        "a finished run is not continued",
        continues.is_none(),
        "{continues:?}"
    );
    let known = store.lookup(a, third, &["m@x".into()]).await?;
    ensure!(
        "after a finished run, a listed user is not in doubt",
        known[0].user.as_ref().is_some_and(|u| !u.in_doubt),
        "{known:?}"
    );
    Ok(())
}

async fn settlements(store: &dyn StateStore) -> Result<(), ConformanceError> {
    let scope = store.scope(&scope_key("settle")).await?;
    let (run, _) = store.begin_run(scope, "in.csv", &json!({})).await?;
    store
        .listed(
            scope,
            run,
            &[(
                "a@x".into(),
                Some("p1".into()),
                object(json!({"name": "A"})),
            )],
        )
        .await?;
    let known = store
        .lookup(scope, run, &["a@x".into(), "b@x".into()])
        .await?;
    let a = known
        .first()
        .and_then(|k| k.user.clone())
        .unwrap_or_default();
    ensure!(
        "a listed user is known, with its values and id, and not managed",
        a.outcome == UserOutcome::Listed
            && a.fields == object(json!({"name": "A"}))
            && a.vendor_id.as_deref() == Some("p1")
            && !a.managed,
        "{a:?}"
    );
    ensure!(
        "lookup answers every key in order, unknown ones empty",
        known.len() == 2 && known[1].user.is_none(),
        "{known:?}"
    );
    store.intend(scope, run, &["a@x".into()]).await?;
    // Several keys in one call, one of them twice.
    store
        .intend(scope, run, &["b@x".into(), "c@x".into(), "b@x".into()])
        .await?;
    let known = store
        .lookup(scope, run, &["a@x".into(), "b@x".into(), "c@x".into()])
        .await?;
    ensure!(
        "an intent marks the user in doubt, and keeps what was confirmed",
        known
            .iter()
            .all(|k| k.user.as_ref().is_some_and(|u| u.in_doubt))
            && known[0].user.as_ref().is_some_and(|u| u.fields.len() == 1),
        "{known:?}"
    );
    ensure!(
        "an intent for a user not known adds them as being sent, by this run",
        known[2]
            .user
            .as_ref()
            .is_some_and(|u| u.outcome == UserOutcome::Sending && u.last_run == Some(run)),
        "{known:?}"
    );
    store
        .settle(
            scope,
            run,
            &[
                Settlement::new(
                    2,
                    "a@x",
                    Settled::Confirmed {
                        vendor_id: None,
                        fields: object(json!({"title": "Boss", "phone": null})),
                        row_hash: "h-a".into(),
                        outcome: Confirmation::Updated,
                        written: vec!["title".into()],
                        drift: vec![],
                    },
                ),
                Settlement::new(
                    3,
                    "b@x",
                    Settled::Failed {
                        reason: "refused".into(),
                        code: Some("invalid".into()),
                        retryable: false,
                        row_hash: "h-b".into(),
                    },
                ),
            ],
        )
        .await?;
    let known = store
        .lookup(scope, run, &["a@x".into(), "b@x".into()])
        .await?;
    let a = known[0].user.clone().unwrap_or_default();
    ensure!(
        "a confirmation merges its fields, keeps the id, clears the doubt, manages the user",
        a.fields == object(json!({"name": "A", "title": "Boss", "phone": null}))
            && a.vendor_id.as_deref() == Some("p1")
            && !a.in_doubt
            && a.managed
            && a.outcome == UserOutcome::Updated
            && a.row_hash.as_deref() == Some("h-a")
            && a.changed_at.is_some(),
        "{a:?}"
    );
    let b = known[1].user.clone().unwrap_or_default();
    ensure!(
        "a failure records its reason and code and clears the doubt",
        b.outcome == UserOutcome::Failed
            && !b.in_doubt
            && !b.retryable
            && b.code.as_deref() == Some("invalid")
            && b.reason.as_deref() == Some("refused"),
        "{b:?}"
    );
    let letters = store.dead_letters().await?;
    ensure!(
        "the failed user is a dead letter that waits for a change",
        letters
            .iter()
            .any(|l| l.key == "b@x" && !l.retried && l.line == Some(3))
            && !letters.iter().any(|l| l.key == "a@x"),
        "{letters:?}"
    );
    store
        .settle(
            scope,
            run,
            &[Settlement::new(
                3,
                "b@x",
                Settled::Unknown {
                    reason: "timeout".into(),
                },
            )],
        )
        .await?;
    let rows = store.run_rows(&[run]).await?;
    let outcomes: Vec<(u64, &str, RowRecord)> = rows
        .iter()
        .map(|r| (r.line, r.key.as_str(), r.outcome))
        .collect();
    ensure!(
        "a run's rows are the latest word on each key, by line",
        outcomes
            == [
                (2, "a@x", RowRecord::Updated),
                (3, "b@x", RowRecord::Unknown)
            ],
        "{outcomes:?}"
    );
    let b = store.lookup(scope, run, &["b@x".into()]).await?;
    ensure!(
        "an unknown outcome leaves the user in doubt",
        b[0].user
            .as_ref()
            .is_some_and(|u| u.in_doubt && u.outcome == UserOutcome::Unknown),
        "{b:?}"
    );
    // One key three times in one call: the last is the latest word.
    let unknown = |line| {
        Settlement::new(
            line,
            "c@x",
            Settled::Unknown {
                reason: "timeout".into(),
            },
        )
    };
    let missing = Settlement::new(
        5,
        "c@x",
        Settled::Missing {
            reason: "not created".into(),
            row_hash: "h-c".into(),
        },
    );
    store
        .settle(scope, run, &[unknown(4), missing, unknown(6)])
        .await?;
    let rows = store.run_rows(&[run]).await?;
    ensure!(
        "a key settled more than once in one call keeps one row, its last",
        rows.iter()
            .filter(|r| r.key == "c@x")
            .map(|r| (r.line, r.outcome))
            .eq([(6, RowRecord::Unknown)]),
        "{rows:?}"
    );
    // Rows settled after those of later lines come before them, a line's by key.
    store
        .settle(scope, run, &[refused(2, "a2@x"), refused(1, "0@x")])
        .await?;
    let rows = store.run_rows(&[run]).await?;
    let order: Vec<(u64, &str)> = rows.iter().map(|r| (r.line, r.key.as_str())).collect();
    ensure!(
        "a run's rows come in the order of their lines, then of their keys",
        order == [(1, "0@x"), (2, "a2@x"), (2, "a@x"), (3, "b@x"), (6, "c@x")],
        "{order:?}"
    );
    let forgotten = store.forget(&["b@x".into(), "nobody@x".into()]).await?;
    let b = store.lookup(scope, run, &["b@x".into()]).await?;
    ensure!(
        "a forgotten user is gone from the state, and only those that were there count",
        forgotten == 1 && b[0].user.is_none(),
        "{forgotten} forgotten, {b:?}"
    );
    Ok(())
}

async fn input_keys_and_leavers(store: &dyn StateStore) -> Result<(), ConformanceError> {
    let scope = store.scope(&scope_key("keys")).await?;
    let (run, _) = store.begin_run(scope, "in.csv", &json!({})).await?;
    let confirmed = |key: &str, line| {
        Settlement::new(
            line,
            key,
            Settled::Confirmed {
                vendor_id: Some(format!("id-{key}")),
                fields: object(json!({"name": key})),
                row_hash: "h".into(),
                outcome: Confirmation::Created,
                written: vec!["name".into()],
                drift: vec![],
            },
        )
    };
    store
        .settle(
            scope,
            run,
            &[
                confirmed("stays", 2),
                confirmed("leaves", 3),
                confirmed("gone", 4),
                confirmed("twin-old", 5),
            ],
        )
        .await?;
    // One vendor record under a second key (an address that changed case, say).
    let mut twin = confirmed("twin-new", 6);
    if let Settled::Confirmed { vendor_id, .. } = &mut twin.settled {
        *vendor_id = Some("id-twin-old".into());
    }
    store.settle(scope, run, &[twin]).await?;
    store
        .settle(
            scope,
            run,
            &[Settlement::new(
                0,
                "gone",
                Settled::Retired {
                    deleted: true,
                    fields: Map::new(),
                },
            )],
        )
        .await?;
    store.end_run(run, &RunEnd::Finished, &json!({})).await?;
    let (run, _) = store.begin_run(scope, "in.csv", &json!({})).await?;
    let keys = [("a", 2), ("stays", 3), ("a", 4), ("c", 5), ("twin-new", 6)];
    let keys: Vec<(String, u64)> = keys.iter().map(|(k, l)| ((*k).to_owned(), *l)).collect();
    store.add_input_keys(run, &keys[..2]).await?;
    store.add_input_keys(run, &keys[2..]).await?;
    store
        .add_input_keys(run, &[("c".into(), 7), ("a".into(), 9)])
        .await?;
    let duplicates = store.input_duplicates(run).await?;
    ensure!(
        "keys on several lines are named with all their lines, in order",
        duplicates
            == [
                ("a".to_owned(), vec![2, 4, 9]),
                ("c".to_owned(), vec![5, 7])
            ],
        "{duplicates:?}"
    );
    let (leavers, managed) = store.leavers(scope, run).await?;
    let keys: Vec<&str> = leavers.iter().map(|l| l.key.as_str()).collect();
    ensure!(
        "a leaver is a managed user gone from the input, not one already retired, nor one whose vendor id a present key holds",
        keys == ["leaves"] && managed == 4,
        "{keys:?} of {managed}"
    );
    ensure!(
        "a leaver carries its vendor id",
        leavers[0].vendor_id.as_deref() == Some("id-leaves"),
        "{:?}",
        leavers[0]
    );
    store
        .settle(
            scope,
            run,
            &[Settlement::new(
                0,
                "leaves",
                Settled::Retired {
                    deleted: false,
                    fields: object(json!({"status": "left"})),
                },
            )],
        )
        .await?;
    let (leavers, _) = store.leavers(scope, run).await?;
    ensure!(
        "a retired leaver is retired once",
        leavers.is_empty(),
        "{leavers:?}"
    );
    store.end_run(run, &RunEnd::Finished, &json!({})).await?;
    let (next, _) = store.begin_run(scope, "in.csv", &json!({})).await?;
    store.add_input_keys(next, &[("a".into(), 2)]).await?;
    let duplicates = store.input_duplicates(next).await?;
    ensure!(
        "a run's input keys are its own",
        duplicates.is_empty(),
        "{duplicates:?}"
    );
    Ok(())
}

/// A run's rows, and a chain's: by line, then key (leavers share line 0), the latest run's
/// word on a key standing.
async fn rows_of_runs(store: &dyn StateStore) -> Result<(), ConformanceError> {
    let scope = store.scope(&scope_key("rows")).await?;
    let retired = |key: &str| {
        Settlement::new(
            0,
            key,
            Settled::Retired {
                deleted: true,
                fields: Map::new(),
            },
        )
    };
    let updated = |key: &str, line| {
        Settlement::new(
            line,
            key,
            Settled::Confirmed {
                vendor_id: None,
                fields: object(json!({"name": key})),
                row_hash: "h".into(),
                outcome: Confirmation::Updated,
                written: vec!["name".into()],
                drift: vec![],
            },
        )
    };
    let seen = |rows: Vec<super::RunRow>| -> Vec<(u64, String, RowRecord)> {
        rows.into_iter()
            .map(|r| (r.line, r.key, r.outcome))
            .collect()
    };
    let (first, _) = store.begin_run(scope, "in.csv", &json!({})).await?;
    store
        .settle(
            scope,
            first,
            &[updated("m", 3), retired("z"), retired("b"), updated("k", 2)],
        )
        .await?;
    store
        .end_run(first, &RunEnd::Stopped("cut".into()), &json!({}))
        .await?;
    let rows = seen(store.run_rows(&[first]).await?);
    let expected = |list: &[(u64, &str, RowRecord)]| -> Vec<(u64, String, RowRecord)> {
        list.iter()
            .map(|(line, key, outcome)| (*line, (*key).to_owned(), *outcome))
            .collect()
    };
    ensure!(
        "a run's rows come by line, then key",
        rows == expected(&[
            (0, "b", RowRecord::Deleted),
            (0, "z", RowRecord::Deleted),
            (2, "k", RowRecord::Updated),
            (3, "m", RowRecord::Updated),
        ]),
        "{rows:?}"
    );
    let (second, _) = store.begin_run(scope, "in.csv", &json!({})).await?;
    store
        .settle(scope, second, &[refused(5, "k"), retired("a")])
        .await?;
    let rows = seen(store.run_rows(&[first, second]).await?);
    ensure!(
        "a chain's rows are the latest run's word on each key, by line, then key",
        rows == expected(&[
            (0, "a", RowRecord::Deleted),
            (0, "b", RowRecord::Deleted),
            (0, "z", RowRecord::Deleted),
            (3, "m", RowRecord::Updated),
            (5, "k", RowRecord::Failed),
        ]),
        "{rows:?}"
    );
    store.end_run(second, &RunEnd::Finished, &json!({})).await?;
    Ok(())
}

async fn leases(store: &dyn StateStore) -> Result<(), ConformanceError> {
    let scope = store.scope(&scope_key("lease")).await?;
    let other_scope = store.scope(&scope_key("lease-other")).await?;
    let me = LeaseHolder::this_process();
    // Another live process of this host: this one, under another token.
    let rival = LeaseHolder {
        token: format!("{}-rival", me.token),
        ..me.clone()
    };
    ensure!(
        "a free scope is leased",
        store.acquire(scope, &me).await?.is_none(),
        "refused"
    );
    ensure!(
        "the holder may take its lease again",
        store.acquire(scope, &me).await?.is_none(),
        "refused"
    );
    let held = store.acquire(scope, &rival).await?;
    ensure!(
        "a held scope is refused to another, who is told by whom",
        held.as_ref()
            .is_some_and(|h| h.pid == me.pid && h.host == me.host),
        "{held:?}"
    );
    ensure!(
        "another scope is free",
        store.acquire(other_scope, &rival).await?.is_none(),
        "refused"
    );
    ensure!(
        "the holder renews its lease",
        store.renew(scope, &me).await?,
        "refused"
    );
    ensure!(
        "another cannot renew it",
        !store.renew(scope, &rival).await?,
        "renewed"
    );
    store.release(scope, &rival).await?;
    ensure!(
        "another's release leaves the lease",
        store.acquire(scope, &rival).await?.is_some(),
        "released"
    );
    store.release(scope, &me).await?;
    ensure!(
        "a released scope is free",
        store.acquire(scope, &rival).await?.is_none(),
        "refused"
    );
    // A holder of this host that no longer runs.
    let dead = LeaseHolder {
        token: "dead".into(),
        pid: u32::MAX - 1,
        ..me.clone()
    };
    store.release(scope, &rival).await?;
    ensure!("…", store.acquire(scope, &dead).await?.is_none(), "refused");
    ensure!(
        "the lease of a holder that no longer runs is taken over",
        store.acquire(scope, &me).await?.is_none(),
        "refused"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_passes_the_conformance_suite() {
        super::check(&super::super::MemoryState::new())
            .await
            .unwrap();
    }
}
