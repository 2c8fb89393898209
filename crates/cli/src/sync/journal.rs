//! The journal: one JSON line per finished row, so that a resume skips what is done.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use profile_sync::RowOutcome;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
struct Entry<'a> {
    line: u64,
    key: &'a str,
    #[serde(flatten)]
    outcome: &'a RowOutcome,
}

/// Appends outcomes, each flushed to the operating system as soon as it is known, so a
/// killed process loses at most the rows in flight (which a resume reads before writing).
pub(crate) struct Journal {
    file: BufWriter<File>,
}

impl Journal {
    pub(crate) fn open(path: &Path, append: bool) -> Result<Self, String> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(|e| format!("cannot open journal {}: {e}", path.display()))?;
        Ok(Self {
            file: BufWriter::new(file),
        })
    }

    pub(crate) fn record(
        &mut self,
        line: u64,
        key: &str,
        outcome: &RowOutcome,
    ) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.file, &Entry { line, key, outcome })?;
        self.file.write_all(b"\n")?;
        self.file.flush()
    }
}

/// The rows a journal records as done: line → key. The last entry of a line wins; a
/// torn last line (a crash mid-write) is ignored.
pub(crate) fn finished_rows(path: &Path) -> Result<HashMap<u64, String>, String> {
    let file =
        File::open(path).map_err(|e| format!("cannot read journal {}: {e}", path.display()))?;
    let mut done = HashMap::new();
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { continue };
        let Ok(entry) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let (Some(number), Some(key)) = (
            entry.get("line").and_then(Value::as_u64),
            entry.get("key").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Ok(outcome) = serde_json::from_value::<OutcomeTag>(entry.clone()) else {
            continue;
        };
        if outcome.is_final() {
            done.insert(number, key.to_owned());
        } else {
            done.remove(&number);
        }
    }
    Ok(done)
}

/// Just enough of an entry to tell whether its row is done.
#[derive(serde::Deserialize)]
struct OutcomeTag {
    outcome: String,
    #[serde(default)]
    retryable: bool,
}

impl OutcomeTag {
    fn is_final(&self) -> bool {
        match self.outcome.as_str() {
            "updated" | "unchanged" | "malformed" => true,
            "failed" => !self.retryable,
            _ => false,
        }
    }
}
