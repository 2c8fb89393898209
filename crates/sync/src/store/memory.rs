//! A state kept in memory, for a night with no state file: it starts empty, so every run
//! starts from what the vendor holds, and it is gone with the process.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::held_keys::Lines;
use serde_json::Value;

use super::{
    DeadLetter, HeldLease, Known, LeaseHolder, LeaseRecord, Leaver, LeaverHold, ListedUser, RunEnd,
    RunId, RunRecord, RunRow, ScopeId, ScopeKey, ScopeRuns, Settlement, StateError, StateStore,
    UserOutcome, UserState, now,
};

#[derive(Default)]
struct Run {
    scope: i64,
    finished: bool,
    record: Option<RunRecord>,
    continues: Option<RunId>,
    /// Key → its lines.
    keys: HashMap<String, Lines>,
    rows: HashMap<String, RunRow>,
}

#[derive(Default)]
struct Inner {
    scopes: Vec<ScopeKey>,
    /// Scope → key → user.
    users: HashMap<i64, HashMap<String, UserState>>,
    runs: Vec<Run>,
    leases: HashMap<i64, LeaseRecord>,
    holds: HashMap<i64, LeaverHold>,
}

/// The state in memory, for a night with no state file: it starts empty and is gone with
/// the process.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryState").finish_non_exhaustive()
    }
}

impl MemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing here is left half-changed by a panic elsewhere.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn no_run(run: RunId) -> StateError {
    StateError::Corrupt {
        store: "the state in memory".into(),
        what: format!("there is no run {}", run.0),
    }
}

impl Inner {
    /// Replaces a user by what `change` makes of them (`None`: no user), looking the key up
    /// without copying it.
    fn change_user(
        &mut self,
        scope: ScopeId,
        key: &str,
        change: impl FnOnce(Option<UserState>) -> Option<UserState>,
    ) {
        let users = self.users.entry(scope.0).or_default();
        match users.get_mut(key) {
            Some(slot) => match change(Some(std::mem::take(slot))) {
                Some(user) => *slot = user,
                None => {
                    users.remove(key);
                }
            },
            None => {
                if let Some(user) = change(None) {
                    users.insert(key.to_owned(), user);
                }
            }
        }
    }

    fn run(&mut self, run: RunId) -> Result<&mut Run, StateError> {
        run_index(run)
            .and_then(|index| self.runs.get_mut(index))
            .ok_or_else(|| no_run(run))
    }

    fn run_ref(&self, run: RunId) -> Result<&Run, StateError> {
        run_index(run)
            .and_then(|index| self.runs.get(index))
            .ok_or_else(|| no_run(run))
    }

    /// Room at once for as many users and rows as the run's input has keys, rather than
    /// growing (and hashing every key again) step by step as they come.
    fn make_room(&mut self, scope: ScopeId, run: RunId) -> Result<(), StateError> {
        let run = self.run(run)?;
        let keys = run.keys.len();
        run.rows.reserve(keys.saturating_sub(run.rows.len()));
        let users = self.users.entry(scope.0).or_default();
        users.reserve(keys.saturating_sub(users.len()));
        Ok(())
    }
}

/// Where run `run` lies in [`Inner::runs`] (runs are numbered from 1); `None` for a number
/// no run has.
fn run_index(run: RunId) -> Option<usize> {
    usize::try_from(run.0.checked_sub(1)?).ok()
}

#[async_trait::async_trait]
impl StateStore for MemoryState {
    fn describe(&self) -> String {
        "the state in memory".to_owned()
    }

    fn persistent(&self) -> bool {
        false
    }

    async fn scope(&self, scope: &ScopeKey) -> Result<ScopeId, StateError> {
        let mut inner = self.lock();
        let index = match inner.scopes.iter().position(|s| s == scope) {
            Some(index) => index,
            None => {
                inner.scopes.push(scope.clone());
                inner.scopes.len() - 1
            }
        };
        Ok(ScopeId(index as i64 + 1))
    }

    async fn acquire(
        &self,
        scope: ScopeId,
        holder: &LeaseHolder,
    ) -> Result<Option<HeldLease>, StateError> {
        let mut inner = self.lock();
        if let Some(lease) = inner.leases.get(&scope.0) {
            if !lease.may_be_taken_by(holder) {
                return Ok(Some(lease.held()));
            }
        }
        inner.leases.insert(scope.0, LeaseRecord::of(holder));
        Ok(None)
    }

    async fn renew(&self, scope: ScopeId, holder: &LeaseHolder) -> Result<bool, StateError> {
        let mut inner = self.lock();
        Ok(match inner.leases.get_mut(&scope.0) {
            Some(lease) if lease.token == holder.token => {
                lease.renewed = super::lease::unix_now();
                true
            }
            _ => false,
        })
    }

    async fn release(&self, scope: ScopeId, holder: &LeaseHolder) -> Result<(), StateError> {
        let mut inner = self.lock();
        if inner
            .leases
            .get(&scope.0)
            .is_some_and(|lease| lease.token == holder.token)
        {
            inner.leases.remove(&scope.0);
        }
        Ok(())
    }

    async fn has_users(&self, scope: ScopeId) -> Result<bool, StateError> {
        Ok(self
            .lock()
            .users
            .get(&scope.0)
            .is_some_and(|users| !users.is_empty()))
    }

    async fn begin_run(
        &self,
        scope: ScopeId,
        input: &str,
        options: &Value,
    ) -> Result<(RunId, Option<RunId>), StateError> {
        let mut inner = self.lock();
        let unfinished = inner
            .runs
            .iter()
            .enumerate()
            .rev()
            .find(|(_, run)| run.scope == scope.0)
            .filter(|(_, run)| !run.finished)
            .map(|(index, _)| RunId(index as i64 + 1));
        if unfinished.is_some() {
            for user in inner.users.entry(scope.0).or_default().values_mut() {
                if user.outcome == UserOutcome::Listed {
                    user.in_doubt = true;
                }
            }
        }
        let id = RunId(inner.runs.len() as i64 + 1);
        inner.runs.push(Run {
            scope: scope.0,
            continues: unfinished,
            record: Some(RunRecord {
                id,
                continues: unfinished,
                started_at: now(),
                ended_at: None,
                status: "running".into(),
                input: input.to_owned(),
                options: options.clone(),
                summary: None,
                stop_reason: None,
            }),
            ..Run::default()
        });
        Ok((id, unfinished))
    }

    async fn add_input_keys(&self, run: RunId, keys: &[(String, u64)]) -> Result<(), StateError> {
        let mut inner = self.lock();
        let run = inner.run(run)?;
        for (key, line) in keys {
            Lines::note(&mut run.keys, key, *line);
        }
        Ok(())
    }

    async fn input_duplicates(&self, run: RunId) -> Result<Vec<(String, Vec<u64>)>, StateError> {
        let mut inner = self.lock();
        let run = inner.run(run)?;
        let mut duplicates: Vec<(String, Vec<u64>)> = run
            .keys
            .iter()
            .filter(|(_, lines)| !lines.more.is_empty())
            .map(|(key, lines)| (key.clone(), lines.all().collect()))
            .collect();
        // In the order of their first line.
        duplicates.sort_unstable_by_key(|(_, lines)| lines.first().copied());
        Ok(duplicates)
    }

    async fn lookup(
        &self,
        scope: ScopeId,
        _run: RunId,
        keys: &[String],
    ) -> Result<Vec<Known>, StateError> {
        let inner = self.lock();
        let users = inner.users.get(&scope.0);
        Ok(keys
            .iter()
            .map(|key| Known {
                user: users.and_then(|users| users.get(key.as_str())).cloned(),
            })
            .collect())
    }

    async fn listed(
        &self,
        scope: ScopeId,
        run: RunId,
        users: &[ListedUser],
    ) -> Result<(), StateError> {
        let mut inner = self.lock();
        inner.make_room(scope, run)?;
        let at = now();
        for (key, vendor_id, fields) in users {
            inner.change_user(scope, key, |known| match known {
                Some(user) if user.last_run == Some(run) => Some(user),
                known => UserState::listed(known, run, vendor_id.clone(), fields, &at),
            });
        }
        Ok(())
    }

    async fn intend(&self, scope: ScopeId, run: RunId, keys: &[String]) -> Result<(), StateError> {
        let mut inner = self.lock();
        for key in keys {
            inner.change_user(scope, key, |known| Some(UserState::intended(known, run)));
        }
        Ok(())
    }

    async fn settle(
        &self,
        scope: ScopeId,
        run: RunId,
        settlements: &[Settlement],
    ) -> Result<(), StateError> {
        let mut inner = self.lock();
        inner.make_room(scope, run)?;
        let at = now();
        for settlement in settlements {
            inner.change_user(scope, &settlement.key, |known| {
                UserState::apply(known, run, settlement, &at)
            });
            if let Some(row) = RunRow::of(run, settlement) {
                inner.run(run)?.rows.insert(settlement.key.clone(), row);
            }
        }
        Ok(())
    }

    async fn leavers(&self, scope: ScopeId, run: RunId) -> Result<(Vec<Leaver>, u64), StateError> {
        let mut inner = self.lock();
        let present: std::collections::HashSet<String> =
            inner.run(run)?.keys.keys().cloned().collect();
        let mut managed = 0;
        let mut leavers: Vec<Leaver> = Vec::new();
        let users = inner.users.get(&scope.0);
        // A vendor id that a key of the input holds is no leaver's, whatever its other key.
        let present_ids: std::collections::HashSet<&str> = users
            .into_iter()
            .flatten()
            .filter(|(key, _)| present.contains(*key))
            .filter_map(|(_, user)| user.vendor_id.as_deref())
            .collect();
        for (key, user) in users.into_iter().flatten() {
            if !user.managed || user.outcome.is_gone() {
                continue;
            }
            managed += 1;
            let held_by_another = user
                .vendor_id
                .as_deref()
                .is_some_and(|id| present_ids.contains(id));
            if !present.contains(key) && !held_by_another {
                leavers.push(Leaver {
                    key: key.clone(),
                    vendor_id: user.vendor_id.clone(),
                });
            }
        }
        leavers.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((leavers, managed))
    }

    async fn leaver_hold(&self, scope: ScopeId) -> Result<Option<LeaverHold>, StateError> {
        Ok(self.lock().holds.get(&scope.0).cloned())
    }

    async fn set_leaver_hold(
        &self,
        scope: ScopeId,
        hold: Option<&LeaverHold>,
    ) -> Result<(), StateError> {
        let mut inner = self.lock();
        match hold {
            Some(hold) => inner.holds.insert(scope.0, hold.clone()),
            None => inner.holds.remove(&scope.0),
        };
        Ok(())
    }

    async fn forget(&self, keys: &[String]) -> Result<u64, StateError> {
        let mut inner = self.lock();
        let mut removed = 0;
        for users in inner.users.values_mut() {
            for key in keys {
                removed += u64::from(users.remove(key.as_str()).is_some());
            }
        }
        Ok(removed)
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        let inner = self.lock();
        let mut letters: Vec<DeadLetter> = Vec::new();
        for (scope, users) in &inner.users {
            let scope = usize::try_from(scope - 1)
                .ok()
                .and_then(|index| inner.scopes.get(index))
                .map(|s| format!("{} {} {}", s.vendor, s.base_url, s.name))
                .unwrap_or_default();
            letters.extend(
                users
                    .iter()
                    .filter_map(|(key, user)| DeadLetter::of(&scope, key, user)),
            );
        }
        letters.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.key.cmp(&b.key)));
        Ok(letters)
    }

    async fn history(&self, limit: usize) -> Result<Vec<ScopeRuns>, StateError> {
        let inner = self.lock();
        Ok(inner
            .scopes
            .iter()
            .enumerate()
            .map(|(index, scope)| ScopeRuns {
                id: ScopeId(index as i64 + 1),
                scope: scope.clone(),
                runs: inner
                    .runs
                    .iter()
                    .rev()
                    .filter(|run| run.scope == index as i64 + 1)
                    .filter_map(|run| run.record.clone())
                    .take(limit)
                    .collect(),
            })
            .collect())
    }

    async fn end_run(&self, run: RunId, end: &RunEnd, summary: &Value) -> Result<(), StateError> {
        let mut inner = self.lock();
        let run = inner.run(run)?;
        run.finished = *end == RunEnd::Finished;
        if let Some(record) = &mut run.record {
            record.ended_at = Some(now());
            (record.status, record.stop_reason) = match end {
                RunEnd::Finished => ("finished".into(), None),
                RunEnd::Stopped(reason) => ("stopped".into(), Some(reason.clone())),
            };
            record.summary = Some(summary.clone());
        }
        run.keys = HashMap::new();
        Ok(())
    }

    async fn run_chain(&self, run: RunId) -> Result<Vec<RunId>, StateError> {
        let mut inner = self.lock();
        let mut chain = vec![run];
        let mut current = run;
        while let Some(earlier) = inner.run(current)?.continues {
            chain.push(earlier);
            current = earlier;
        }
        chain.reverse();
        Ok(chain)
    }

    async fn run_rows(&self, runs: &[RunId]) -> Result<Vec<RunRow>, StateError> {
        let inner = self.lock();
        // One run (a run not continued from another): a key has one row.
        if let [run] = runs {
            let mut rows: Vec<RunRow> = inner.run_ref(*run)?.rows.values().cloned().collect();
            rows.sort_unstable_by(RunRow::in_order);
            return Ok(rows);
        }
        // A key's row from the latest run of the chain, borrowed: each is copied once.
        let most = runs
            .iter()
            .map(|run| inner.run_ref(*run).map_or(0, |run| run.rows.len()))
            .sum();
        let mut latest: HashMap<&str, &RunRow> = HashMap::with_capacity(most);
        for run in runs {
            for (key, row) in &inner.run_ref(*run)?.rows {
                latest.insert(key, row);
            }
        }
        let mut rows: Vec<RunRow> = latest.into_values().cloned().collect();
        rows.sort_unstable_by(RunRow::in_order);
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_number_no_run_has_is_an_error_not_a_panic() {
        let store = MemoryState::new();
        for run in [RunId(0), RunId(-1), RunId(i64::MIN), RunId(7)] {
            let error = store.add_input_keys(run, &[("a@x".into(), 2)]).await;
            assert!(error.is_err(), "{run:?}");
            assert!(store.run_rows(&[run]).await.is_err(), "{run:?}");
        }
    }
}
