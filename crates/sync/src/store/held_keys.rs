//! A running run's input keys, held in memory while they are few, for the stores that
//! otherwise keep them in a table (SQLite's `input_keys`, PostgreSQL's
//! `input_key_groups`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::RunId;

/// The input lines of one key: most keys have one, which needs no allocation.
#[derive(Debug)]
pub(crate) struct Lines {
    pub(crate) first: u64,
    pub(crate) more: Vec<u64>,
}

impl Lines {
    /// Notes `line` of the key held in `keys` (the key copied only when it is new).
    pub(crate) fn note(keys: &mut HashMap<String, Lines>, key: &str, line: u64) {
        match keys.get_mut(key) {
            Some(lines) => lines.more.push(line),
            None => {
                let lines = Lines {
                    first: line,
                    more: Vec::new(),
                };
                keys.insert(key.to_owned(), lines);
            }
        }
    }

    /// Every line, the first given first.
    pub(crate) fn all(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::once(self.first).chain(self.more.iter().copied())
    }

    /// Every line, the first given first, taken.
    pub(crate) fn into_all(self) -> impl Iterator<Item = u64> {
        std::iter::once(self.first).chain(self.more)
    }
}

/// The most input keys a run holds in memory; past it, they go to the store's table.
pub(crate) const HELD_KEYS: usize = 50_000;

/// A run's input keys, held in memory while there are at most [`HELD_KEYS`]: they serve
/// the run only (a run's leftover keys are cleared when the next begins), so a night of
/// 20,000 rows writes, reads back and deletes none of them, and its duplicates are found
/// without a query. Past that many, or when the leavers are looked for (a query of the
/// users beside the keys), they are written to the table, and the rest go there as they
/// come.
#[derive(Debug, Default)]
pub(crate) struct HeldKeys {
    run: Option<RunId>,
    /// Key → its lines, as given.
    lines: HashMap<String, Lines>,
    count: usize,
    /// Whether the run's keys are in the table instead.
    written: bool,
}

impl HeldKeys {
    /// The keys held for `run`, started empty when it is another run's.
    fn of(&mut self, run: RunId) -> &mut Self {
        if self.run != Some(run) {
            *self = Self {
                run: Some(run),
                ..Self::default()
            };
        }
        self
    }

    /// Holds `keys` of `run` where there is room; otherwise answers what must be written
    /// to the table: the keys held so far and these (from here on, all go there).
    pub(crate) fn hold(
        &mut self,
        run: RunId,
        keys: &[(String, u64)],
    ) -> Option<Vec<(String, u64)>> {
        let held = self.of(run);
        if !held.written && held.count + keys.len() <= HELD_KEYS {
            for (key, line) in keys {
                Lines::note(&mut held.lines, key, *line);
            }
            held.count += keys.len();
            return None;
        }
        let mut written = held.take();
        written.extend_from_slice(keys);
        Some(written)
    }

    /// The keys of `run` on several lines, with their lines in order, the first line
    /// first, where its keys are held (`None` where they are in the table).
    pub(crate) fn duplicates(&self, run: RunId) -> Option<Vec<(String, Vec<u64>)>> {
        if self.run != Some(run) || self.written {
            return None;
        }
        let mut duplicates: Vec<(String, Vec<u64>)> = self
            .lines
            .iter()
            .filter(|(_, lines)| !lines.more.is_empty())
            .filter_map(|(key, lines)| {
                let mut lines: Vec<u64> = lines.all().collect();
                lines.sort_unstable();
                lines.dedup();
                (lines.len() > 1).then(|| (key.clone(), lines))
            })
            .collect();
        duplicates.sort_by_key(|(_, lines)| lines.first().copied());
        Some(duplicates)
    }

    /// Takes the keys of `run` out to be written to the table, where they are held (from
    /// here on, they are in the table).
    pub(crate) fn take_for_table(&mut self, run: RunId) -> Option<Vec<(String, u64)>> {
        (self.run == Some(run) && !self.written).then(|| self.take())
    }

    fn take(&mut self) -> Vec<(String, u64)> {
        self.written = true;
        self.count = 0;
        std::mem::take(&mut self.lines)
            .into_iter()
            .flat_map(|(key, lines)| lines.into_all().map(move |line| (key.clone(), line)))
            .collect()
    }
}

/// The held keys, locked (a panic elsewhere leaves them as they were).
pub(crate) fn lock(keys: &Mutex<HeldKeys>) -> MutexGuard<'_, HeldKeys> {
    keys.lock().unwrap_or_else(|p| p.into_inner())
}
