//! Reading an export one row at a time: CSV with a header row (any one-byte delimiter, any
//! encoding `encoding_rs` knows), or JSON Lines; and turning each row into a [`SyncRow`]
//! through a [`Mapping`].
//!
//! ```
//! use profile_sync::input::{Format, InputOptions, open_reader};
//!
//! let export = "email;first_name\njdoe@example.com;Jane\n";
//! let options = InputOptions::new(Format::Csv).delimiter(b';');
//! let (columns, mut rows) = open_reader("export.csv", export.as_bytes(), &options)?;
//! assert_eq!(columns, ["email", "first_name"]);
//! let (line, row) = rows.next().unwrap()?;
//! assert_eq!((line, row["first_name"].as_str()), (2, Some("Jane")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::Path;

use profile_core::{FieldChange, ProfilePatch};
use serde_json::{Map, Value};

use crate::mapping::Mapping;
use crate::outcome::{RowError, SyncRow};

/// A row as read: its line and its columns.
pub type RawRow = Result<(u64, Map<String, Value>), RowError>;

/// The rows of an input, read one at a time.
pub type Rows = Box<dyn Iterator<Item = RawRow> + Send>;

/// The input's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Delimited values with a header row; every cell is a string.
    Csv,
    /// One JSON object per line; values are taken as they are.
    Jsonl,
}

impl Format {
    /// JSON Lines for `.jsonl`, `.ndjson` and `.json`; CSV otherwise.
    pub fn guess(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson" | "json") => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

/// What an empty cell (or a JSON `null`) means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmptyCells {
    /// Nothing: the field is left as it is (the default).
    #[default]
    Skip,
    /// The field is cleared.
    Clear,
}

/// How an input is read.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InputOptions {
    /// CSV or JSON Lines.
    pub format: Format,
    /// CSV: the byte between cells (`,` by default; `;` and tab are common).
    pub delimiter: u8,
    /// The file's encoding (UTF-8 when `None`, and then checked).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// What an empty cell means.
    pub empty: EmptyCells,
    /// Lower-case every key (e-mail addresses: Capture matches them exactly).
    pub key_lowercase: bool,
}

impl InputOptions {
    /// Comma-separated (or JSON Lines), UTF-8, empty cells skipped, keys as written.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            delimiter: b',',
            encoding: None,
            empty: EmptyCells::Skip,
            key_lowercase: false,
        }
    }

    /// Sets the CSV delimiter.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets the encoding, by a label `encoding_rs` knows (`windows-1252`, `latin1`, …).
    pub fn encoding(mut self, label: &str) -> Result<Self, InputError> {
        let encoding = encoding_rs::Encoding::for_label(label.trim().as_bytes())
            .ok_or_else(|| InputError::UnknownEncoding(label.to_owned()))?;
        self.encoding = (encoding != encoding_rs::UTF_8).then_some(encoding);
        Ok(self)
    }

    /// Sets what an empty cell means.
    pub fn empty(mut self, empty: EmptyCells) -> Self {
        self.empty = empty;
        self
    }

    /// Lower-cases keys (or not).
    pub fn key_lowercase(mut self, lowercase: bool) -> Self {
        self.key_lowercase = lowercase;
        self
    }
}

/// Why an input cannot be read at all (a row that cannot be read is a [`RowError`], and
/// the others go on).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A query cannot be run (the server cannot be reached, the SQL is refused).
    #[error("{source_name}: {message}")]
    Query {
        /// The query's source in words (`query on postgres://sync@db:5432/hr`).
        source_name: String,
        /// What went wrong.
        message: String,
    },
    /// The file cannot be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file holds nothing.
    #[error("{path} is empty: there is no header row and no row to sync")]
    Empty {
        /// The file.
        path: String,
    },
    /// The header row splits on another delimiter than the one given.
    #[error(
        "the header row of {path} is one column, `{header}`, which splits on {name}: pass --delimiter '{shown}'"
    )]
    Delimiter {
        /// The file.
        path: String,
        /// The header as read.
        header: String,
        /// The delimiter it splits on, in words.
        name: &'static str,
        /// How to write it on the command line.
        shown: &'static str,
    },
    /// A line is not UTF-8, and no encoding was given.
    #[error(
        "{path}: line {line} is not UTF-8; if the file comes from Excel or another Windows program, pass --encoding windows-1252 (or the file's encoding: latin1, utf-16, …)"
    )]
    NotUtf8 {
        /// The file.
        path: String,
        /// The first line that is not.
        line: u64,
    },
    /// An encoding label `encoding_rs` does not know.
    #[error(
        "`{0}` is not an encoding this program knows (try utf-8, windows-1252, latin1, utf-16le)"
    )]
    UnknownEncoding(String),
    /// The CSV header row cannot be read.
    #[error("cannot read the header row of {path}: {reason}")]
    Header {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The header (or the first JSON object) names a column twice: which would win is a
    /// guess, the key included.
    #[error("{path}: the column `{column}` is named twice; name each column once")]
    DuplicateColumn {
        /// The file.
        path: String,
        /// The column.
        column: String,
    },
    /// The first JSON line is not an object of column: value.
    #[error("{path}: line 1 {reason}; each line must be one object of column: value")]
    FirstLine {
        /// The file.
        path: String,
        /// What it is instead.
        reason: String,
    },
}

impl InputError {
    /// The same error, naming the input `name` instead of its path (standard input read
    /// through a private copy).
    pub fn renamed(self, name: &str) -> Self {
        let name = name.to_owned();
        match self {
            InputError::Io { source, .. } => InputError::Io { path: name, source },
            InputError::Empty { .. } => InputError::Empty { path: name },
            InputError::Delimiter {
                header,
                name: word,
                shown,
                ..
            } => InputError::Delimiter {
                path: name,
                header,
                name: word,
                shown,
            },
            InputError::NotUtf8 { line, .. } => InputError::NotUtf8 { path: name, line },
            InputError::Header { reason, .. } => InputError::Header { path: name, reason },
            InputError::FirstLine { reason, .. } => InputError::FirstLine { path: name, reason },
            InputError::DuplicateColumn { column, .. } => {
                InputError::DuplicateColumn { path: name, column }
            }
            other => other,
        }
    }
}

/// Opens the file at `path`; returns the columns known up front (CSV's header, or the
/// first JSON object's keys) and the rows.
pub fn open(path: &Path, options: &InputOptions) -> Result<(Vec<String>, Rows), InputError> {
    let name = path.display().to_string();
    let io = |source| InputError::Io {
        path: name.clone(),
        source,
    };
    if options.encoding.is_none() {
        if let Some(line) = first_non_utf8_line(File::open(path).map_err(io)?).map_err(io)? {
            return Err(InputError::NotUtf8 { path: name, line });
        }
    }
    let file = File::open(path).map_err(io)?;
    open_reader(&name, file, options)
}

/// Opens the file at `path` again, as [`open`] did, without checking its encoding again.
pub fn reopen(path: &Path, options: &InputOptions) -> Result<(Vec<String>, Rows), InputError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| InputError::Io {
        path: name.clone(),
        source,
    })?;
    open_reader(&name, file, options)
}

/// The first line of `reader` that is not UTF-8, if any.
fn first_non_utf8_line(reader: impl Read) -> std::io::Result<Option<u64>> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        number += 1;
        if std::str::from_utf8(&line).is_err() {
            return Ok(Some(number));
        }
    }
}

/// Decodes a reader of `encoding` into UTF-8, a buffer at a time.
struct Decoding<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    output: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.output.len() {
            if self.done {
                return Ok(0);
            }
            self.input.resize(1 << 14, 0);
            let read = self.inner.read(&mut self.input)?;
            let last = read == 0;
            let mut decoded = String::with_capacity(
                self.decoder
                    .max_utf8_buffer_length(read)
                    .unwrap_or(read * 3 + 16),
            );
            let (_, _, _) = self
                .decoder
                .decode_to_string(&self.input[..read], &mut decoded, last);
            self.output = decoded.into_bytes();
            self.at = 0;
            self.done = last;
        }
        let n = buf.len().min(self.output.len() - self.at);
        buf[..n].copy_from_slice(&self.output[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Opens any reader as the input named `name` (for messages).
pub fn open_reader<R: Read + Send + 'static>(
    name: &str,
    reader: R,
    options: &InputOptions,
) -> Result<(Vec<String>, Rows), InputError> {
    let reader: Box<dyn Read + Send> = match options.encoding {
        Some(encoding) => Box::new(Decoding {
            inner: reader,
            decoder: encoding.new_decoder_with_bom_removal(),
            input: Vec::new(),
            output: Vec::new(),
            at: 0,
            done: false,
        }),
        None => Box::new(reader),
    };
    let mut reader = BufReader::new(reader);
    // Peek at the first line: an empty file, and a header that splits on another
    // delimiter, are said as such.
    let mut first = Vec::new();
    reader
        .read_until(b'\n', &mut first)
        .map_err(|source| InputError::Io {
            path: name.to_owned(),
            source,
        })?;
    if first.trim_ascii().is_empty() {
        // A file of blank lines is as empty as one of none.
        let mut more = Vec::new();
        reader
            .read_to_end(&mut more)
            .map_err(|source| InputError::Io {
                path: name.to_owned(),
                source,
            })?;
        if more.trim_ascii().is_empty() {
            return Err(InputError::Empty {
                path: name.to_owned(),
            });
        }
        first.extend(more);
    }
    let whole = Cursor::new(first.clone()).chain(reader);
    match options.format {
        Format::Csv => csv_rows(name, whole, &first, options),
        Format::Jsonl => jsonl_rows(name, whole, &first),
    }
}

fn csv_rows<R: Read + Send + 'static>(
    name: &str,
    reader: R,
    first: &[u8],
    options: &InputOptions,
) -> Result<(Vec<String>, Rows), InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(options.delimiter)
        .flexible(false)
        .from_reader(reader);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| InputError::Header {
            path: name.to_owned(),
            reason: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    if let Some(column) = twice(&columns) {
        return Err(InputError::DuplicateColumn {
            path: name.to_owned(),
            column: crate::mapping::shortened(&column),
        });
    }
    if columns.len() == 1 {
        let header = String::from_utf8_lossy(first).trim().to_owned();
        for (byte, word, shown) in [
            (b';', "semicolons", ";"),
            (b'\t', "tabs", "\\t"),
            (b',', "commas", ","),
            (b'|', "bars", "|"),
        ] {
            if byte != options.delimiter && header.as_bytes().contains(&byte) {
                return Err(InputError::Delimiter {
                    path: name.to_owned(),
                    header,
                    name: word,
                    shown,
                });
            }
        }
    }
    let header = columns.clone();
    let empty = options.empty;
    // With CRLF line ends the reader has not yet counted a record's preceding `\n` when it
    // gives the record's line: one more is the file's line number.
    let crlf = u64::from(first.ends_with(b"\r\n"));
    let mut stopped = false;
    let rows = reader.into_records().map_while(move |record| {
        if stopped {
            return None;
        }
        Some(match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line()) + crlf;
                let row = header
                    .iter()
                    .zip(record.iter())
                    .filter_map(|(column, cell)| {
                        if cell.is_empty() {
                            (empty == EmptyCells::Clear).then(|| (column.clone(), Value::Null))
                        } else {
                            Some((column.clone(), Value::String(cell.to_owned())))
                        }
                    })
                    .collect();
                Ok((line, row))
            }
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line()) + crlf;
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

fn jsonl_rows<R: Read + Send + 'static>(
    name: &str,
    reader: R,
    first: &[u8],
) -> Result<(Vec<String>, Rows), InputError> {
    // The columns come from the first row: without them nothing can be mapped, so the
    // run stops here rather than failing every row.
    let columns = match strict_object(first) {
        Ok(Some(object)) => object.keys().cloned().collect(),
        Ok(None) => {
            return Err(InputError::FirstLine {
                path: name.to_owned(),
                reason: "is not a JSON object".to_owned(),
            });
        }
        Err(Twice(column)) => {
            return Err(InputError::DuplicateColumn {
                path: name.to_owned(),
                column: crate::mapping::shortened(&column),
            });
        }
        Err(Invalid(e)) => {
            return Err(InputError::FirstLine {
                path: name.to_owned(),
                reason: format!("is not JSON ({e})"),
            });
        }
    };
    let rows = BufReader::new(reader)
        .split(b'\n')
        .enumerate()
        .filter_map(|(index, line)| {
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
            Some(match strict_object(&bytes) {
                Ok(Some(row)) => Ok((line_number, row)),
                Ok(None) => Err(RowError {
                    line: line_number,
                    reason: "not a JSON object".into(),
                }),
                Err(Twice(column)) => Err(RowError {
                    line: line_number,
                    reason: format!(
                        "the key `{}` is given twice",
                        crate::mapping::shortened(&column)
                    ),
                }),
                Err(Invalid(e)) => Err(RowError {
                    line: line_number,
                    reason: format!("not valid JSON: {e}"),
                }),
            })
        });
    Ok((columns, Box::new(rows)))
}

/// Whether a value holds a NUL character at any depth (no vendor field takes one: it ends
/// strings in the systems behind them).
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// The first column named twice, if any.
fn twice(columns: &[String]) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    columns.iter().find(|c| !seen.insert(c.as_str())).cloned()
}

/// Why a line is not one JSON object of distinct keys.
enum NotAnObject {
    /// A key is given twice.
    Twice(String),
    /// Not JSON.
    Invalid(serde_json::Error),
}
use NotAnObject::{Invalid, Twice};

/// A JSON line as an object, refusing a key given twice (serde_json keeps the last);
/// `None` for JSON that is not an object.
fn strict_object(bytes: &[u8]) -> Result<Option<Map<String, Value>>, NotAnObject> {
    use serde::de::{self, Deserializer, MapAccess, Visitor};

    struct Strict;
    impl<'de> Visitor<'de> for Strict {
        type Value = Option<Map<String, Value>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut object = Map::new();
            while let Some(key) = access.next_key::<String>()? {
                if object.contains_key(&key) {
                    return Err(de::Error::custom(format!("\u{0}twice\u{0}{key}")));
                }
                let value: Value = access.next_value()?;
                object.insert(key, value);
            }
            Ok(Some(object))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }

    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = deserializer
        .deserialize_any(Strict)
        .and_then(|object| deserializer.end().map(|()| object));
    parsed.map_err(|e| {
        let text = e.to_string();
        match text.strip_prefix("\u{0}twice\u{0}") {
            Some(rest) => Twice(
                rest.rsplit_once(" at line")
                    .map_or(rest, |(key, _)| key)
                    .to_owned(),
            ),
            None => Invalid(e),
        }
    })
}

/// A row's key, as [`to_sync_row`] reads it, without the rest of the row: for a pass over
/// the input that only needs its keys.
///
/// `None` for a row outside the mapping's scope (`where`).
pub fn row_key(
    raw: RawRow,
    mapping: &Mapping,
    options: &InputOptions,
) -> Result<Option<(String, u64)>, RowError> {
    let (line, row) = raw?;
    if let Some(compute) = &mapping.compute {
        let in_scope = compute.in_scope(&row).map_err(|error| RowError {
            line,
            reason: error.to_string(),
        })?;
        if !in_scope {
            return Ok(None);
        }
    }
    let key = match &mapping.anchor {
        Some(anchor) => id_of(line, &row, anchor, "anchor")?,
        None => key_of(line, &row, mapping, options)?,
    };
    Ok(Some((key, line)))
}

/// The value of an identifying column (`what`: the key, the anchor): text with no control
/// character, or a number.
fn id_of(
    line: u64,
    row: &Map<String, Value>,
    column: &str,
    what: &str,
) -> Result<String, RowError> {
    let value = match row.get(column) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(RowError {
                line,
                reason: format!("no value in the {what} column `{column}`"),
            });
        }
    };
    if value.chars().any(char::is_control) {
        return Err(RowError {
            line,
            reason: format!(
                "the {what} {} holds a control character: no address has one",
                value.escape_debug()
            ),
        });
    }
    Ok(value)
}

fn key_of(
    line: u64,
    row: &Map<String, Value>,
    mapping: &Mapping,
    options: &InputOptions,
) -> Result<String, RowError> {
    let key = id_of(line, row, &mapping.key_column, "key")?;
    Ok(if options.key_lowercase {
        key.to_lowercase()
    } else {
        key
    })
}

/// Turns a raw row into a sync row through the mapping: the key from the key column
/// (lower-cased with `key_lowercase`), a change per mapped column. An empty cell or a
/// `null` clears its field with [`EmptyCells::Clear`], and is left out otherwise.
///
/// With computed fields, each gets what its template renders (an empty text is an empty
/// cell); a template that fails makes the row malformed. `None` for a row outside the
/// mapping's scope (`where`).
pub fn to_sync_row(
    raw: RawRow,
    mapping: &Mapping,
    options: &InputOptions,
) -> Result<Option<SyncRow>, RowError> {
    let (line, row) = raw?;
    let computed = match &mapping.compute {
        Some(compute) => match compute.apply(&row) {
            Ok(Some(values)) => values,
            Ok(None) => return Ok(None),
            Err(error) => {
                return Err(RowError {
                    line,
                    reason: format!("computed field {error}"),
                });
            }
        },
        None => Vec::new(),
    };
    let key = key_of(line, &row, mapping, options)?;
    let mut patch = ProfilePatch::new();
    for (column, field) in &mapping.fields {
        if row.get(column).is_some_and(holds_nul) {
            return Err(RowError {
                line,
                reason: format!("the column `{column}` holds a NUL character"),
            });
        }
        match row.get(column) {
            Some(Value::Null) if options.empty == EmptyCells::Clear => {
                patch.push(FieldChange::Remove {
                    path: field.clone(),
                });
            }
            None | Some(Value::Null) => {}
            Some(value) => patch = patch.set_path(field.clone(), value.clone()),
        }
    }
    for (field, value) in computed {
        if !value.is_empty() {
            patch = patch.set_path(field, Value::String(value));
        } else if options.empty == EmptyCells::Clear {
            patch.push(FieldChange::Remove { path: field });
        }
    }
    // Anchored, the state knows the person by the anchor, and the key is where the vendor
    // finds them (until the state links the anchor to the vendor's id).
    let (key, address) = match &mapping.anchor {
        Some(anchor) => (id_of(line, &row, anchor, "anchor")?, Some(key)),
        None => (key, None),
    };
    Ok(Some(SyncRow {
        line,
        user: mapping.key_kind.user(address.as_deref().unwrap_or(&key)),
        key,
        address,
        patch,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(
        text: &'static [u8],
        options: &InputOptions,
    ) -> Result<(Vec<String>, Vec<RawRow>), InputError> {
        let (columns, rows) = open_reader("in", text, options)?;
        Ok((columns, rows.collect()))
    }

    #[test]
    fn semicolons_and_tabs_are_read_with_their_delimiter_and_hinted_without() {
        let options = InputOptions::new(Format::Csv);
        let hint = read(b"email;first_name\na@x;A\n", &options).unwrap_err();
        assert!(hint.to_string().contains("pass --delimiter ';'"), "{hint}");
        let hint = read(b"email\tfirst_name\na@x\tA\n", &options).unwrap_err();
        assert!(hint.to_string().contains("--delimiter '\\t'"), "{hint}");
        let (columns, rows) = read(
            b"email\tfirst_name\na@x\tA\n",
            &options.clone().delimiter(b'\t'),
        )
        .unwrap();
        assert_eq!(columns, ["email", "first_name"]);
        assert_eq!(rows[0].as_ref().unwrap().1["first_name"], "A");
    }

    #[test]
    fn a_column_named_twice_is_refused_in_csv_and_json_lines() {
        let csv = read(
            b"email,name,email\na@x,A,b@x\n",
            &InputOptions::new(Format::Csv),
        );
        assert!(
            matches!(&csv, Err(InputError::DuplicateColumn { column, .. }) if column == "email"),
            "{:?}",
            csv.err()
        );
        let jsonl = InputOptions::new(Format::Jsonl);
        let first = read(b"{\"email\":\"a@x\",\"email\":\"b@x\"}\n", &jsonl);
        assert!(
            matches!(&first, Err(InputError::DuplicateColumn { column, .. }) if column == "email"),
            "{:?}",
            first.err()
        );
        let (_, rows) = read(
            b"{\"email\":\"a@x\"}\n{\"email\":\"a@x\",\"email\":\"b@x\"}\n[1]\n",
            &jsonl,
        )
        .unwrap();
        let reasons: Vec<String> = rows
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| e.reason.clone())
            .collect();
        assert_eq!(
            reasons,
            ["the key `email` is given twice", "not a JSON object"]
        );
    }

    #[test]
    fn a_key_with_a_control_character_and_a_value_with_nul_are_malformed() {
        let mapping = Mapping::from_flags(
            "email",
            profile_core::KeyKind::Email,
            &[("name".to_owned(), "name".to_owned())],
        )
        .unwrap();
        let options = InputOptions::new(Format::Jsonl);
        let text: &'static [u8] =
            b"{\"email\":\"a\\u001b[2J@x\",\"name\":\"A\"}\n{\"email\":\"b@x\",\"name\":\"B\\u0000\"}\n";
        let (_, rows) = open_reader("in", text, &options).unwrap();
        let reasons: Vec<String> = rows
            .map(|raw| to_sync_row(raw, &mapping, &options).unwrap_err().reason)
            .collect();
        assert_eq!(
            reasons,
            [
                "the key a\\u{1b}[2J@x holds a control character: no address has one",
                "the column `name` holds a NUL character"
            ]
        );
    }

    #[test]
    fn crlf_line_numbers_are_the_files() {
        let text: &'static [u8] = b"email,name\r\na@x,A\r\nb@x,\"B\r\nB\"\r\nc@x,C\r\n";
        let (_, rows) = read(text, &InputOptions::new(Format::Csv)).unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.as_ref().unwrap().0).collect();
        assert_eq!(lines, [2, 3, 5]);
        let (_, rows) = read(
            b"email,name\na@x,A\nb@x,\"B\nB\"\nc@x,C\n",
            &InputOptions::new(Format::Csv),
        )
        .unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.as_ref().unwrap().0).collect();
        assert_eq!(lines, [2, 3, 5]);
    }

    #[test]
    fn an_empty_file_says_so() {
        for text in [&b""[..], b"\n\n  \n"] {
            let error = open_reader("in.csv", text, &InputOptions::new(Format::Csv))
                .err()
                .unwrap();
            assert!(matches!(error, InputError::Empty { .. }), "{error}");
            assert_eq!(
                error.to_string(),
                "in.csv is empty: there is no header row and no row to sync"
            );
        }
    }

    #[test]
    fn windows_1252_is_decoded_when_named() {
        // "Zoë" in Windows-1252: ë is 0xEB.
        let bytes: &'static [u8] = b"email,name\nz@x,Zo\xeb\n";
        assert_eq!(first_non_utf8_line(bytes).unwrap(), Some(2));
        let options = InputOptions::new(Format::Csv)
            .encoding("windows-1252")
            .unwrap();
        let (_, rows) = read(bytes, &options).unwrap();
        assert_eq!(rows[0].as_ref().unwrap().1["name"], "Zoë");
        assert!(matches!(
            InputOptions::new(Format::Csv).encoding("klingon"),
            Err(InputError::UnknownEncoding(_))
        ));
    }

    #[test]
    fn empty_cells_are_skipped_or_cleared_and_keys_lowercased_on_request() {
        let mapping = Mapping::from_flags(
            "email",
            profile_core::KeyKind::Email,
            &[("name".to_owned(), "name".to_owned())],
        )
        .unwrap();
        let text: &'static [u8] = b"email,name\nJDoe@Example.com,\n";
        let skip = InputOptions::new(Format::Csv);
        let (_, mut rows) = open_reader("in", text, &skip).unwrap();
        let row = to_sync_row(rows.next().unwrap(), &mapping, &skip)
            .unwrap()
            .unwrap();
        assert!(row.patch.is_empty());
        assert_eq!(row.key, "JDoe@Example.com");
        let clear = skip.empty(EmptyCells::Clear).key_lowercase(true);
        let (_, mut rows) = open_reader("in", text, &clear).unwrap();
        let row = to_sync_row(rows.next().unwrap(), &mapping, &clear)
            .unwrap()
            .unwrap();
        assert_eq!(row.key, "jdoe@example.com");
        assert!(matches!(row.patch.changes(), [FieldChange::Remove { .. }]));
        // JSON Lines' null likewise.
        let jsonl = InputOptions::new(Format::Jsonl).empty(EmptyCells::Clear);
        let (_, mut rows) =
            open_reader("in", &b"{\"email\":\"a@x\",\"name\":null}\n"[..], &jsonl).unwrap();
        let row = to_sync_row(rows.next().unwrap(), &mapping, &jsonl)
            .unwrap()
            .unwrap();
        assert!(matches!(row.patch.changes(), [FieldChange::Remove { .. }]));
    }
}
