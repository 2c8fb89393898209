//! Reading the input one row at a time: CSV with a header row, or JSON Lines.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use profile_core::ProfilePatch;
use profile_sync::{RowError, SyncRow};
use serde_json::{Map, Value};

use super::mapping::Mapping;

/// A row as read: its line and its columns.
pub(crate) type RawRow = Result<(u64, Map<String, Value>), RowError>;

/// The rows of an input, read one at a time.
pub(crate) type Rows = Box<dyn Iterator<Item = RawRow> + Send>;

/// The input's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Comma-separated values with a header row; every cell is a string.
    Csv,
    /// One JSON object per line; values are taken as they are.
    Jsonl,
}

impl Format {
    pub(crate) fn guess(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson" | "json") => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

/// Opens the input; returns the columns known up front (CSV's header, or the first JSON
/// object's keys) and the rows.
pub(crate) fn open(path: &Path, format: Format) -> Result<(Vec<String>, Rows), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(BufReader::new(file));
            let columns: Vec<String> = reader
                .headers()
                .map_err(|e| format!("cannot read the header row of {}: {e}", path.display()))?
                .iter()
                .map(|h| h.trim().to_owned())
                .collect();
            let header = columns.clone();
            let mut stopped = false;
            let rows = reader.into_records().map_while(move |record| {
                if stopped {
                    return None;
                }
                Some(match record {
                    Ok(record) => {
                        let line = record.position().map_or(0, |p| p.line());
                        let row = header
                            .iter()
                            .zip(record.iter())
                            .filter(|(_, cell)| !cell.is_empty())
                            .map(|(column, cell)| (column.clone(), Value::String(cell.to_owned())))
                            .collect();
                        Ok((line, row))
                    }
                    Err(error) => {
                        let line = error.position().map_or(0, |p| p.line());
                        if matches!(error.kind(), csv::ErrorKind::Io(_)) {
                            stopped = true;
                        }
                        Err(RowError {
                            line,
                            reason: error.to_string(),
                        })
                    }
                })
            });
            Ok((columns, Box::new(rows)))
        }
        Format::Jsonl => {
            let mut reader = BufReader::new(file);
            let mut first = Vec::new();
            let mut columns = Vec::new();
            // Peek at the first object for its columns; it is read again below.
            if reader.read_until(b'\n', &mut first).is_ok() && !first.trim_ascii().is_empty() {
                match serde_json::from_slice::<Value>(&first) {
                    Ok(Value::Object(object)) => columns = object.keys().cloned().collect(),
                    // The columns come from the first row: without them nothing can be
                    // mapped, so the run stops here rather than failing every row.
                    Ok(_) => {
                        return Err(format!(
                            "{}: line 1 is not a JSON object; each line must be one object of column: value",
                            path.display()
                        ));
                    }
                    Err(e) => {
                        return Err(format!(
                            "{}: line 1 is not JSON ({e}); each line must be one object of column: value",
                            path.display()
                        ));
                    }
                }
            }
            let reader = BufReader::new(
                File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?,
            );
            let rows = reader.split(b'\n').enumerate().filter_map(|(index, line)| {
                let line_number = index as u64 + 1;
                let bytes = match line {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        return Some(Err(RowError {
                            line: line_number,
                            reason: e.to_string(),
                        }));
                    }
                };
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                Some(match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(row)) => Ok((line_number, row)),
                    Ok(_) => Err(RowError {
                        line: line_number,
                        reason: "not a JSON object".into(),
                    }),
                    Err(e) => Err(RowError {
                        line: line_number,
                        reason: format!("not valid JSON: {e}"),
                    }),
                })
            });
            Ok((columns, Box::new(rows)))
        }
    }
}

/// Turns a raw row into a sync row through the mapping.
pub(crate) fn to_sync_row(raw: RawRow, mapping: &Mapping) -> Result<SyncRow, RowError> {
    let (line, row) = raw?;
    let key = match row.get(&mapping.key_column) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(RowError {
                line,
                reason: format!("no value in the key column `{}`", mapping.key_column),
            });
        }
    };
    let mut patch = ProfilePatch::new();
    for (column, field) in &mapping.fields {
        match row.get(column) {
            None | Some(Value::Null) => {}
            Some(value) => patch = patch.set_path(field.clone(), value.clone()),
        }
    }
    Ok(SyncRow {
        line,
        user: mapping.key_kind.user(&key),
        key,
        patch,
    })
}
