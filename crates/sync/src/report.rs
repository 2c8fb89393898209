//! What a night reports: its counts, requests, why it stopped, the leavers held, and its
//! rows that did something or failed, for the whole run (an interrupted run and the run
//! that finished it together).

use serde::Serialize;

use crate::leavers::LeaverGuard;
use crate::night::SyncStop;
use crate::outcome::SyncSummary;
use crate::store::{RowRecord, RunId, RunRow};

/// A night's report; [`Night::run`](crate::Night::run) returns it.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct NightReport {
    /// The vendor.
    pub vendor: &'static str,
    /// The input, in words.
    pub input: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The runs the report covers: the interrupted runs this one finished, then this one.
    pub runs: Vec<RunId>,
    /// Requests sent to the vendor, where the updater counts them.
    pub requests: Option<u64>,
    /// Why the night stopped before its end.
    #[serde(serialize_with = "as_text")]
    pub stopped: Option<SyncStop>,
    /// The mass-leaver guard held the leavers.
    #[serde(serialize_with = "as_text")]
    pub leavers_held: Option<LeaverGuard>,
    /// This run's counts.
    pub summary: SyncSummary,
    /// The whole run's counts, from the store.
    pub whole_run: WholeRun,
    /// Keys on several lines, with their lines (the last was synced).
    #[serde(serialize_with = "duplicates")]
    pub duplicates: Vec<(String, Vec<u64>)>,
    /// Rows that failed, may have been applied, or could not be read.
    pub failures: Vec<FailedRow>,
    /// Rows that changed something, or found drift.
    pub changed: Vec<RunRow>,
}

impl NightReport {
    /// Whether every row succeeded and nothing stopped or held the night.
    pub fn succeeded(&self) -> bool {
        self.summary.all_succeeded() && self.stopped.is_none() && self.leavers_held.is_none()
    }
}

fn as_text<T: std::fmt::Display, S: serde::Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.serialize_str(&value.to_string()),
        None => serializer.serialize_none(),
    }
}

fn duplicates<S: serde::Serializer>(
    duplicates: &[(String, Vec<u64>)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Duplicate<'a> {
        key: &'a str,
        lines: &'a [u64],
    }
    serializer.collect_seq(
        duplicates
            .iter()
            .map(|(key, lines)| Duplicate { key, lines }),
    )
}

/// The whole run's rows, counted by what they did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WholeRun {
    /// Written (drift corrected included).
    pub updated: u64,
    /// Drift found (corrected or not).
    pub drift: u64,
    /// Refused.
    pub failed: u64,
    /// May have been applied.
    pub unknown: u64,
    /// Created.
    pub created: u64,
    /// Not at the vendor, not created.
    pub missing: u64,
    /// Leavers deleted.
    pub deleted: u64,
    /// Leavers given their leaver fields.
    pub retired: u64,
}

impl WholeRun {
    /// The counts of a run's rows.
    pub fn of(rows: &[RunRow]) -> Self {
        let count = |records: &[RowRecord]| {
            rows.iter().filter(|r| records.contains(&r.outcome)).count() as u64
        };
        Self {
            updated: count(&[RowRecord::Updated, RowRecord::Corrected]),
            drift: count(&[RowRecord::Drift, RowRecord::Corrected]),
            failed: count(&[RowRecord::Failed]),
            unknown: count(&[RowRecord::Unknown]),
            created: count(&[RowRecord::Created]),
            missing: count(&[RowRecord::Missing]),
            deleted: count(&[RowRecord::Deleted]),
            retired: count(&[RowRecord::Retired]),
        }
    }
}

/// How a row failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Failure {
    /// The vendor refused it.
    Failed,
    /// It may or may not have been applied.
    Unknown,
    /// The input row could not be read.
    Malformed,
}

/// A row that did not succeed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FailedRow {
    /// The input line (0 for a leaver).
    pub line: u64,
    /// The key (empty for a row that could not be read).
    pub key: String,
    /// How it failed.
    pub outcome: Failure,
    /// The vendor's code.
    pub code: Option<String>,
    /// Why.
    pub detail: String,
}

impl FailedRow {
    /// A recorded row that failed or may have been applied.
    pub fn of(row: &RunRow) -> Self {
        Self {
            line: row.line,
            key: row.key.clone(),
            outcome: if row.outcome == RowRecord::Unknown {
                Failure::Unknown
            } else {
                Failure::Failed
            },
            code: row.code.clone(),
            detail: row.detail.clone().unwrap_or_default(),
        }
    }

    /// A row that could not be read.
    pub fn malformed(line: u64, reason: &str) -> Self {
        Self {
            line,
            key: String::new(),
            outcome: Failure::Malformed,
            code: None,
            detail: reason.to_owned(),
        }
    }

    /// A row the vendor refused.
    pub fn failed(line: u64, key: &str, code: Option<String>, reason: &str) -> Self {
        Self {
            line,
            key: key.to_owned(),
            outcome: Failure::Failed,
            code,
            detail: reason.to_owned(),
        }
    }
}
