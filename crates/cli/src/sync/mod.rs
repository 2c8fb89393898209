//! `profiles sync`: push a CSV or JSON Lines export into one vendor.

mod input;
mod journal;
mod mapping;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::stream;
use profile_core::ProfileUpdater;
use profile_sync::{RowOutcome, SyncOptions, SyncSummary, sync_rows};
use serde_json::json;

use crate::Vendor;
use crate::capture::CaptureFlags;
use crate::connect::{ClientCredentials, Endpoint, Politeness, refuse_foreign};
use crate::error::CliError;
use crate::lumapps::LumAppsFlags;
use crate::sunshine::SunshineFlags;
use input::Format;
use journal::{Journal, finished_rows};
use mapping::{Mapping, MappingFlags, Scope};

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The vendor to write to.
    #[arg(long, value_enum)]
    vendor: Vendor,
    /// The input: CSV with a header row, or JSON Lines.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The input's format (default: from the extension; .jsonl/.ndjson/.json are JSON Lines).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// A TOML mapping file with a `[sunshine]`, `[capture]` and/or `[lumapps]` section.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// The column that addresses the user (default: email).
    #[arg(long, value_name = "COLUMN")]
    key: Option<String>,
    /// What the key is: email, id, or the name of a unique attribute (default: email).
    #[arg(long, value_name = "KIND")]
    key_kind: Option<String>,
    /// Map a column to a profile field, as COLUMN=FIELD (repeatable; adds to the file's).
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    maps: Vec<String>,
    /// Sunshine: the profiles' source.
    #[arg(long, help_heading = "Zendesk Sunshine")]
    source: Option<String>,
    /// Sunshine: the profiles' type.
    #[arg(long = "type", help_heading = "Zendesk Sunshine")]
    profile_type: Option<String>,
    /// Capture: the entity type (default: user).
    #[arg(long, help_heading = "Akamai Identity Cloud (Capture)")]
    type_name: Option<String>,
    /// LumApps: the user directory module id.
    #[arg(long, help_heading = "LumApps")]
    directory: Option<String>,
    /// LumApps: the language of field titles (default: en).
    #[arg(long, help_heading = "LumApps")]
    lang: Option<String>,
    /// Rows in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Requests a minute, client side (default: the vendor's usual limit; 0 for none).
    #[arg(long, value_name = "N/min", value_parser = parse_rate)]
    rate: Option<u32>,
    /// Read and compare only; print what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write every row without reading the profile first.
    #[arg(long)]
    no_read_first: bool,
    /// Record each row's outcome here (JSON Lines).
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Resume from this journal: skip the rows it records as done, read before writing the
    /// others, and append to it.
    #[arg(long, value_name = "JOURNAL", conflicts_with = "journal")]
    resume: Option<PathBuf>,
    /// Write the closing summary, with the failed rows, as JSON here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    endpoint: Endpoint,
    /// Capture and LumApps: the API client.
    #[command(flatten)]
    credentials: ClientCredentials,
    #[command(flatten)]
    sunshine: SunshineFlags,
    #[command(flatten)]
    capture: CaptureFlags,
    #[command(flatten)]
    lumapps: LumAppsFlags,
}

impl SyncArgs {
    /// Refuses the flags of the vendors this sync is not for: a flag that would be ignored
    /// is a mistake to point out, not to pass over.
    fn refuse_other_vendors(&self) -> Result<(), CliError> {
        let vendor = self.vendor.name();
        let mut foreign: Vec<&str> = Vec::new();
        if self.vendor != Vendor::Sunshine {
            foreign.extend(self.sunshine.given());
            if self.source.is_some() {
                foreign.push("--source");
            }
            if self.profile_type.is_some() {
                foreign.push("--type");
            }
        }
        if self.vendor != Vendor::Capture {
            foreign.extend(self.capture.given());
            if self.type_name.is_some() {
                foreign.push("--type-name");
            }
        }
        if self.vendor != Vendor::Lumapps {
            foreign.extend(self.lumapps.given());
            if self.directory.is_some() {
                foreign.push("--directory");
            }
            if self.lang.is_some() {
                foreign.push("--lang");
            }
        }
        if self.vendor == Vendor::Sunshine && self.credentials.given() {
            foreign.push(if self.credentials.client_id.is_some() {
                "--client-id"
            } else {
                "--client-secret"
            });
        }
        match foreign.first() {
            Some(flag) => refuse_foreign(flag, true, vendor),
            None => Ok(()),
        }
    }

    async fn updater(
        &self,
        scope: &Scope,
        politeness: Politeness,
    ) -> Result<Arc<dyn ProfileUpdater>, CliError> {
        match self.vendor {
            Vendor::Sunshine => self.sunshine.updater(
                &self.endpoint,
                scope.source.clone(),
                scope.profile_type.clone(),
                politeness,
            ),
            Vendor::Capture => self.capture.updater(
                &self.endpoint,
                &self.credentials,
                scope.type_name.clone(),
                politeness,
            ),
            Vendor::Lumapps => {
                self.lumapps
                    .updater(
                        &self.endpoint,
                        &self.credentials,
                        scope.directory.clone(),
                        scope.lang.clone(),
                        politeness,
                    )
                    .await
            }
        }
    }
}

fn parse_rate(text: &str) -> Result<u32, String> {
    text.trim_end_matches("/min")
        .parse()
        .map_err(|_| format!("`{text}` is not a rate; write it as N or N/min"))
}

/// Progress on stderr: a line redrawn in place on a terminal, else a line every few seconds.
struct Progress {
    started: Instant,
    last: Instant,
    terminal: bool,
    /// The rows to do, when known (counted up front for a terminal, to give an ETA).
    total: Option<u64>,
    skipped: u64,
    done: u64,
    failed: u64,
    unchanged: u64,
}

impl Progress {
    fn new(terminal: bool, total: Option<u64>) -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
            terminal,
            total,
            skipped: 0,
            done: 0,
            failed: 0,
            unchanged: 0,
        }
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = self.done as f64 / secs;
        let mut line = format!(
            "{} rows done, {} failed, {} unchanged, {} skipped by the journal, {:.0} rows/s",
            self.done, self.failed, self.unchanged, self.skipped, rate
        );
        if let Some(total) = self.total {
            let left = total.saturating_sub(self.done + self.skipped);
            if rate > 0.0 {
                line.push_str(&format!(", {left} to go, ETA {:.0}s", left as f64 / rate));
            }
        }
        line
    }

    fn tick(&mut self, outcome: &RowOutcome) {
        self.done += 1;
        match outcome {
            RowOutcome::Unchanged => self.unchanged += 1,
            RowOutcome::Failed { .. }
            | RowOutcome::Unknown { .. }
            | RowOutcome::Malformed { .. } => self.failed += 1,
            _ => {}
        }
        let every = if self.terminal {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last.elapsed() >= every {
            self.last = Instant::now();
            if self.terminal {
                eprint!("\r\x1b[2K{}", self.line());
            } else {
                eprintln!("progress: {}", self.line());
            }
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
    }
}

pub(crate) async fn run(args: SyncArgs) -> Result<SyncSummary, CliError> {
    args.refuse_other_vendors()?;
    let flags = MappingFlags {
        file: args.mapping.clone(),
        key: args.key.clone(),
        key_kind: args.key_kind.clone(),
        maps: args.maps.clone(),
        scope: Scope {
            source: args.source.clone(),
            profile_type: args.profile_type.clone(),
            type_name: args.type_name.clone(),
            directory: args.directory.clone(),
            lang: args.lang.clone(),
        },
    };
    let mapping = Mapping::resolve(args.vendor, &flags)?;
    let format = args.format.unwrap_or_else(|| Format::guess(&args.input));
    let (columns, rows) = input::open(&args.input, format)?;
    // Everything that can be refused is refused before the first request.
    mapping.check_columns(&columns)?;
    let done = match &args.resume {
        Some(path) => finished_rows(path)?,
        None => Default::default(),
    };
    let mut journal = match (&args.resume, &args.journal) {
        (Some(path), _) => Some(Journal::open(path, true)?),
        (None, Some(path)) => Some(Journal::open(path, false)?),
        (None, None) => None,
    };
    let politeness = Politeness {
        per_minute: args.rate,
        max_in_flight: args.concurrency.max(1),
    };
    let updater = args.updater(&mapping.scope, politeness).await?;
    let options = SyncOptions::default()
        .with_concurrency(args.concurrency)
        .with_dry_run(args.dry_run)
        // A resume always reads first: a row whose write may have been applied is checked
        // before anything is sent again.
        .with_read_first(!args.no_read_first || args.resume.is_some());

    let skipped = std::cell::Cell::new(0u64);
    let rows = rows
        .map(|raw| input::to_sync_row(raw, &mapping))
        .filter(|row| match row {
            Ok(row) if done.get(&row.line) == Some(&row.key) => {
                skipped.set(skipped.get() + 1);
                false
            }
            _ => true,
        });
    let terminal = std::io::stderr().is_terminal();
    // On a terminal the rows are counted first (a quick pass over the file) for an ETA.
    let total = if terminal {
        input::open(&args.input, format)
            .ok()
            .map(|(_, rows)| rows.count() as u64)
    } else {
        None
    };
    let mut progress = Progress::new(terminal, total);
    let mut failures = Vec::new();
    let mut journal_error = None;
    let summary = sync_rows(
        updater,
        stream::iter(rows),
        &options,
        |line, key, outcome| {
            progress.skipped = skipped.get();
            progress.tick(outcome);
            if let RowOutcome::WouldUpdate { changes } = outcome {
                for change in changes {
                    let show = |v: &Option<serde_json::Value>| {
                        v.as_ref().map_or("(none)".to_owned(), ToString::to_string)
                    };
                    say!(
                        "line {line} {key}: {}: {} -> {}",
                        change.field,
                        show(&change.from),
                        show(&change.to)
                    );
                }
            }
            if !outcome.is_success() {
                failures.push(json!({"line": line, "key": key, "result": outcome}));
            }
            if let Some(journal) = journal.as_mut() {
                if let Err(e) = journal.record(line, key, outcome) {
                    journal_error.get_or_insert(e.to_string());
                }
            }
        },
    )
    .await;
    progress.finish();

    eprintln!(
        "sync: {} rows in {:.1}s ({:.0} rows/s): {} updated, {} unchanged, {} would update, {} failed, {} unknown, {} malformed{}",
        summary.rows,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second(),
        summary.updated,
        summary.unchanged,
        summary.would_update,
        summary.failed,
        summary.unknown,
        summary.malformed,
        if skipped.get() > 0 {
            format!("; {} already done by the journal", skipped.get())
        } else {
            String::new()
        },
    );
    for failure in failures.iter().take(20) {
        eprintln!(
            "  line {} {}: {} {}",
            failure["line"],
            failure["key"].as_str().unwrap_or(""),
            failure["result"]["outcome"].as_str().unwrap_or(""),
            failure["result"]["reason"].as_str().unwrap_or("")
        );
    }
    if failures.len() > 20 {
        eprintln!("  … and {} more (see --report)", failures.len() - 20);
    }
    if let Some(path) = &args.report {
        let report = json!({
            "vendor": args.vendor.name(),
            "input": args.input.display().to_string(),
            "dry_run": args.dry_run,
            "summary": summary,
            "skipped_by_journal": skipped.get(),
            "failures": failures,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&report).unwrap_or_default()).map_err(
            |e| CliError::Failed(format!("cannot write report {}: {e}", path.display())),
        )?;
    }
    if let Some(error) = journal_error {
        return Err(CliError::Failed(format!(
            "the journal could not be written: {error}"
        )));
    }
    Ok(summary)
}
