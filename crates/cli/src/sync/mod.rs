//! `profiles sync`: push a CSV or JSON Lines export into one vendor.

mod metrics;
mod progress;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use profile_core::ProfileUpdater;
use profile_sync::input::{EmptyCells, Format, InputError, InputOptions};
use profile_sync::mapping::{LeaversSpec, Mapping, MappingFlags, Scope};
use profile_sync::source::{FileSource, Filtered, QuerySource, RowSource, RowTest};
use profile_sync::store::{MemoryState, PostgresState, ScopeKey, SqliteState, StateStore};
use profile_sync::{
    LeaverAction, LeaverLimit, Night, NightError, NightEvent, NightReport, RowOutcome, RowReport,
    ScopeLease, SyncMode, SyncOptions, SyncStop, SyncSummary,
};
use serde_json::json;

use crate::capture::CaptureFlags;
use crate::connect::{ClientCredentials, Endpoint, Politeness, refuse_foreign};
use crate::error::CliError;
use crate::lumapps::LumAppsFlags;
use crate::sunshine::SunshineFlags;
use crate::{Vendor, VendorEntry};
use progress::Progress;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    /// The vendor to write to.
    #[arg(long, value_enum, required = true)]
    vendor: Option<Vendor>,
    /// The input: CSV with a header row, or JSON Lines; `-` reads standard input; or a
    /// PostgreSQL database (`postgres://…`), whose rows `--query` selects.
    #[arg(long, value_name = "FILE|URL", required = true)]
    input: Option<PathBuf>,
    /// With `--input postgres://…`: the SELECT whose rows are synced (its column names
    /// are the fields), run in a read-only transaction and read through a cursor.
    #[arg(long, value_name = "SQL", conflicts_with = "query_file")]
    query: Option<String>,
    /// As `--query`, from a file.
    #[arg(long, value_name = "FILE")]
    query_file: Option<PathBuf>,
    /// What to do with users the vendor does not have, and with leavers: update (movers
    /// only), upsert (create joiners), mirror (upsert, and retire leavers). Default: the
    /// mapping file's `mode`, else update.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Mirror: what a leaver gets; `delete` deletes their profile (Sunshine, Capture).
    #[arg(long, value_name = "ACTION", value_parser = ["delete"])]
    leavers: Option<String>,
    /// Mirror: write FIELD=VALUE to each leaver instead (repeatable; an empty VALUE clears
    /// the field).
    #[arg(long = "leaver-set", value_name = "FIELD=VALUE")]
    leaver_set: Vec<String>,
    /// Mirror: the most leavers one run retires, a count (25) or a percentage of the users
    /// the state manages (10%, the default). Above it, nothing is done to any leaver.
    #[arg(long, value_name = "N|P%", value_parser = parse_limit)]
    max_leavers: Option<LeaverLimit>,
    /// Mirror: approve exactly this many leavers, once, whatever --max-leavers says.
    #[arg(long, value_name = "N")]
    allow_leavers: Option<u64>,
    /// The input's format (default: from the extension; .jsonl/.ndjson/.json are JSON Lines).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// CSV: the byte between cells (default `,`; `;` and `tab` are common in exports).
    #[arg(long, value_name = "CHAR", value_parser = parse_delimiter)]
    delimiter: Option<u8>,
    /// The input's encoding when it is not UTF-8 (`windows-1252` for Excel's exports,
    /// `latin1`, `utf-16le`, …).
    #[arg(long, value_name = "LABEL")]
    encoding: Option<String>,
    /// What an empty cell (or a JSON null) does: `skip` leaves the field alone (default),
    /// `clear` clears it.
    #[arg(long, value_enum)]
    empty: Option<EmptyArg>,
    /// Lower-case every key as it is sent (e-mail keys are matched without regard to case
    /// anyway).
    #[arg(long)]
    key_lowercase: bool,
    /// A TOML mapping file with a `[sunshine]`, `[capture]` and/or `[lumapps]` section.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// The column that addresses the user (default: email).
    #[arg(long, value_name = "COLUMN")]
    key: Option<String>,
    /// What the key is: email, id, or the name of a unique attribute (default: email).
    #[arg(long, value_name = "KIND")]
    key_kind: Option<String>,
    /// The column holding the source's permanent id of a person (an employee id, a CRM
    /// id): the state links it to the vendor's id the first night and follows the person by
    /// it, so that a changed key (a new e-mail address) updates the same person. Needs
    /// --state to matter (see "Who is who: keys and anchors" in docs/cli.md).
    #[arg(long, value_name = "COLUMN")]
    anchor: Option<String>,
    /// Map a column to a profile field, as COLUMN=FIELD (repeatable; adds to the file's).
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    maps: Vec<String>,
    /// Compute a field from the row with a template, as FIELD=TEMPLATE (repeatable; adds to
    /// the file's `[VENDOR.computed]`): `--compute 'name={{ first }} {{ last | upper }}'`.
    #[arg(long = "compute", value_name = "FIELD=TEMPLATE")]
    computes: Vec<String>,
    /// Sync only the rows where this expression over the row is true (`status ==
    /// 'active'`); in mirror mode a managed person outside it is a leaver.
    #[arg(long = "where", value_name = "EXPR")]
    scope_filter: Option<String>,
    /// Sunshine: the profiles' source.
    #[arg(long, help_heading = "Zendesk Sunshine")]
    source: Option<String>,
    /// Sunshine: the profiles' type.
    #[arg(long = "type", help_heading = "Zendesk Sunshine")]
    profile_type: Option<String>,
    /// Capture: the entity type (default: user).
    #[arg(long, help_heading = "Akamai Identity Cloud (Capture)")]
    type_name: Option<String>,
    /// One person through the whole pipeline ("provision on demand"): prints their input
    /// row, each computed value, what the state or the vendor holds against it and every
    /// request sent (with --dry-run, the changes it would send). Leavers are not looked for.
    #[arg(long, value_name = "KEY")]
    only: Option<String>,
    /// Capture: the most joiners one `entity.bulkCreate` creates (default 2,000, as
    /// Akamai's loader; 0 creates each with `entity.create`).
    #[arg(
        long,
        value_name = "N",
        help_heading = "Akamai Identity Cloud (Capture)"
    )]
    batch_records: Option<usize>,
    /// Capture: about the most bytes of records one `entity.bulkCreate` sends (default
    /// 1,000,000).
    #[arg(
        long,
        value_name = "BYTES",
        help_heading = "Akamai Identity Cloud (Capture)"
    )]
    batch_bytes: Option<usize>,
    /// LumApps: the user directory module id.
    #[arg(long, help_heading = "LumApps")]
    directory: Option<String>,
    /// LumApps: the language of field titles (default: en).
    #[arg(long, help_heading = "LumApps")]
    lang: Option<String>,
    /// Rows in flight at once (default: the mapping file's `concurrency`, else 8).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Requests a minute, client side (default: the vendor's usual limit; 0 for none).
    #[arg(long, value_name = "N/min", value_parser = parse_rate)]
    rate: Option<u32>,
    /// Read and compare only; print what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write every row without reading the profile first, and without a state.
    #[arg(long, conflicts_with_all = ["state", "verify"])]
    no_read_first: bool,
    /// The state database: a SQLite file (created on first use), or PostgreSQL
    /// (`postgres://…`; the libpq variables PGHOST, PGUSER, PGPASSWORD … fill in what the
    /// URL leaves out): what the vendor last confirmed for each user, so that a night sends
    /// only what changed and an interrupted run is finished by running the same command
    /// again.
    #[arg(long, value_name = "FILE|URL")]
    state: Option<PathBuf>,
    /// Write the night's metrics to FILE in Prometheus' text format (for node_exporter's
    /// textfile collector): rows by outcome, requests sent, duration, leavers, the exit
    /// code and the last success, written whole (write, then rename).
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// When another run holds the state's scope, wait up to this long for it (`90s`,
    /// `10m`) instead of exiting with code 5 at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
    wait: Option<std::time::Duration>,
    /// Read everyone at the vendor (in bulk where it can list) and compare with the state:
    /// report each field changed at the vendor since, and correct it (unless --dry-run).
    #[arg(long)]
    verify: bool,
    /// Removed: --state FILE keeps what a journal kept, and more.
    #[arg(long, value_name = "FILE", hide = true)]
    journal: Option<PathBuf>,
    /// Removed: run the same command with --state FILE again.
    #[arg(long, value_name = "FILE", hide = true)]
    resume: Option<PathBuf>,
    /// What to print on stdout at the end: nothing but the dry run's diffs (text), or the
    /// summary as JSON (json).
    #[arg(long, value_enum, default_value = "text")]
    output: SyncOutput,
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
    /// The vendor: clap requires `--vendor` unless a subcommand is given, and
    /// `sync status` never asks.
    fn vendor(&self) -> Vendor {
        self.vendor.unwrap_or(Vendor::Sunshine)
    }

    /// Refuses the flags of the vendors this sync is not for: a flag that would be ignored
    /// is a mistake to point out, not to pass over.
    fn refuse_other_vendors(&self) -> Result<(), CliError> {
        let vendor = self.vendor().name();
        let mut foreign: Vec<&str> = Vec::new();
        if self.vendor() != Vendor::Sunshine {
            foreign.extend(self.sunshine.given());
            if self.source.is_some() {
                foreign.push("--source");
            }
            if self.profile_type.is_some() {
                foreign.push("--type");
            }
        }
        if self.vendor() != Vendor::Capture {
            foreign.extend(self.capture.given());
            if self.type_name.is_some() {
                foreign.push("--type-name");
            }
            if self.batch_records.is_some() {
                foreign.push("--batch-records");
            }
            if self.batch_bytes.is_some() {
                foreign.push("--batch-bytes");
            }
        }
        if self.vendor() != Vendor::Lumapps {
            foreign.extend(self.lumapps.given());
            if self.directory.is_some() {
                foreign.push("--directory");
            }
            if self.lang.is_some() {
                foreign.push("--lang");
            }
        }
        if self.vendor() == Vendor::Sunshine && self.credentials.given() {
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

    /// The vendor's updater, made up to its first request (see [`PendingUpdater`]).
    fn updater(&self, scope: &Scope, politeness: Politeness) -> Result<PendingUpdater, CliError> {
        Ok(match self.vendor() {
            Vendor::Sunshine => PendingUpdater::Made(self.sunshine.updater(
                &self.endpoint,
                scope.value("source"),
                scope.value("type"),
                politeness,
            )?),
            Vendor::Capture => PendingUpdater::Made(self.capture.updater(
                &self.endpoint,
                &self.credentials,
                scope.value("type_name"),
                politeness,
                (self.batch_records, self.batch_bytes),
            )?),
            Vendor::Lumapps => PendingUpdater::LumApps(self.lumapps.updater(
                &self.endpoint,
                &self.credentials,
                scope.value("directory"),
                scope.value("lang"),
                politeness,
            )?),
        })
    }
}

/// A vendor's updater made up to its first request: its client (the HTTP client, which
/// reads the system's trust roots) is made while the state opens; what it reads from the
/// vendor waits for the scope's lease.
enum PendingUpdater {
    /// Made whole: it reads nothing before the night.
    Made(Arc<dyn ProfileUpdater>),
    /// LumApps's, which reads its directory's template first.
    LumApps(crate::lumapps::PendingUpdater),
}

impl PendingUpdater {
    async fn finish(self) -> Result<Arc<dyn ProfileUpdater>, CliError> {
        match self {
            Self::Made(updater) => Ok(updater),
            Self::LumApps(pending) => pending.read_template().await,
        }
    }
}

/// `profiles sync status`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SyncCommand {
    /// The rows that did not succeed, per user, with their codes and dates (the dead
    /// letters): those the next run retries, and those it sends again only once their row
    /// changes.
    Status {
        /// The state database: a SQLite file, or `postgres://…`.
        #[arg(long, value_name = "FILE|URL")]
        state: PathBuf,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Removes users from a state database by key, in every scope: the way out for a key
    /// that no longer exists anywhere (a leaver whose record went by another way). The
    /// next run that has the key reads the user at the vendor as on a first night.
    Forget {
        /// The state database: a SQLite file, or `postgres://…`.
        #[arg(long, value_name = "FILE|URL")]
        state: PathBuf,
        /// The keys, as the state holds them.
        #[arg(value_name = "KEY", required = true)]
        keys: Vec<String>,
    },
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FormatArg {
    /// Delimited values with a header row; every cell is a string.
    Csv,
    /// One JSON object per line; values are taken as they are.
    Jsonl,
}

/// `--empty`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EmptyArg {
    /// Leave the field as it is.
    Skip,
    /// Clear the field.
    Clear,
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => Err(format!("`{text}` is not one character: write , ; | or tab")),
    }
}

/// `--mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ModeArg {
    /// Movers only: a user the vendor does not have is `missing`.
    Update,
    /// Create joiners (Sunshine, Capture).
    Upsert,
    /// Upsert, and retire leavers: managed users gone from the input.
    Mirror,
}

fn parse_limit(text: &str) -> Result<LeaverLimit, String> {
    text.parse()
}

/// What `profiles sync` prints on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SyncOutput {
    /// The dry run's diffs, a line each.
    Text,
    /// The closing report as one JSON document.
    Json,
}

fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); write it as 90s, 10m or 1h"))
}

fn parse_rate(text: &str) -> Result<u32, String> {
    text.trim_end_matches("/min")
        .parse()
        .map_err(|_| format!("`{text}` is not a rate; write it as N or N/min"))
}

fn show(value: &Option<serde_json::Value>) -> String {
    value
        .as_ref()
        .map_or("(none)".to_owned(), ToString::to_string)
}

/// A refusal of the credentials before the first row stops the sync as one during the rows
/// does (exit 3): no row can succeed until they are fixed.
fn credentials_refused(error: CliError) -> CliError {
    match &error {
        CliError::Vendor(inner)
            if matches!(
                inner.api_kind(),
                Some(
                    profile_core::ApiErrorKind::Unauthorized
                        | profile_core::ApiErrorKind::Forbidden
                )
            ) =>
        {
            CliError::Stopped(format!("the vendor refused the credentials: {inner}"))
        }
        _ => error,
    }
}

fn state_error(error: profile_sync::store::StateError) -> CliError {
    CliError::Failed(error.to_string())
}

/// The state `--state` names: PostgreSQL for a `postgres://` URL, else a SQLite file
/// (created on first use).
pub(crate) async fn open_state(path: &std::path::Path) -> Result<Arc<dyn StateStore>, CliError> {
    let opened: Result<Arc<dyn StateStore>, _> = match path.to_str() {
        Some(url) if profile_sync::pg::is_url(url) => PostgresState::connect(url)
            .await
            .map(|store| Arc::new(store) as Arc<dyn StateStore>),
        // On a thread of its own: the file's creation and schema are done beside the
        // caller's work.
        _ => {
            let path = path.to_owned();
            match tokio::task::spawn_blocking(move || SqliteState::open(&path)).await {
                Ok(opened) => opened.map(|store| Arc::new(store) as Arc<dyn StateStore>),
                Err(e) => return Err(CliError::Failed(format!("cannot open the state: {e}"))),
            }
        }
    };
    opened.map_err(|e| {
        if e.is_unusable() {
            CliError::Usage(e.to_string())
        } else {
            CliError::Failed(e.to_string())
        }
    })
}

/// As [`open_state`], for commands that read a state: a SQLite file must exist.
pub(crate) async fn open_existing_state(
    path: &std::path::Path,
) -> Result<Arc<dyn StateStore>, CliError> {
    let url = path.to_str().is_some_and(profile_sync::pg::is_url);
    if !url && !path.exists() {
        return Err(CliError::Usage(format!(
            "no state database at {}",
            path.display()
        )));
    }
    open_state(path).await
}

/// `profiles sync forget`: keys removed from a state database.
async fn forget(path: &std::path::Path, keys: &[String]) -> Result<(), CliError> {
    let store = open_existing_state(path).await?;
    let removed = store.forget(keys).await.map_err(state_error)?;
    crate::note!(
        "sync forget: {removed} of {} keys removed from {}{}",
        keys.len(),
        store.describe(),
        if removed < keys.len() as u64 {
            " (the others were not in it)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `profiles sync status`: the dead letters of a state database.
async fn status(path: &std::path::Path, as_json: bool) -> Result<(), CliError> {
    let store = open_existing_state(path).await?;
    let letters = store.dead_letters().await.map_err(state_error)?;
    if as_json {
        say!(
            "{}",
            serde_json::to_string_pretty(&letters).unwrap_or_default()
        );
        return Ok(());
    }
    if letters.is_empty() {
        say!("every user's last row succeeded: nothing to retry");
        return Ok(());
    }
    say!(
        "{:<40} {:<32} {:<8} {:<22} {:<24} {:<6} REASON",
        "SCOPE",
        "KEY",
        "OUTCOME",
        "CODE",
        "SINCE",
        "RETRY"
    );
    for letter in &letters {
        say!(
            "{:<40} {:<32} {:<8} {:<22} {:<24} {:<6} {}",
            letter.scope,
            letter.key,
            letter.outcome,
            letter.code.as_deref().unwrap_or("-"),
            letter.at.as_deref().unwrap_or("-"),
            if letter.retried { "next" } else { "change" },
            letter.reason.as_deref().unwrap_or("")
        );
    }
    say!(
        "{} users; RETRY next: the next run tries them again; change: only once their row changes",
        letters.len()
    );
    // A key that fails as a leaver, or that the vendor does not have, may exist nowhere
    // any more: forgetting it is the way out.
    let stuck: Vec<&str> = letters
        .iter()
        .filter(|l| {
            l.outcome == "missing"
                || l.reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("as a leaver"))
        })
        .map(|l| l.key.as_str())
        .collect();
    if let Some(first) = stuck.first() {
        say!(
            "{} of them are leavers that failed or users the vendor does not have: if the key exists nowhere any more, remove it with `profiles sync forget --state {} {first}`",
            stuck.len(),
            path.display()
        );
    }
    Ok(())
}

/// A leaver field's value: JSON when it parses as JSON, else a string; empty clears it.
fn leaver_value(text: &str) -> serde_json::Value {
    if text.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

/// The mode and the leaver action, from the flags, else the mapping file.
fn mode_and_leavers(
    args: &SyncArgs,
    mapping: &Mapping,
) -> Result<(SyncMode, Option<LeaverAction>), CliError> {
    let mode = match (args.mode, mapping.mode.as_deref()) {
        (Some(ModeArg::Update), _) | (None, None | Some("update")) => SyncMode::Update,
        (Some(ModeArg::Upsert), _) | (None, Some("upsert")) => SyncMode::Upsert,
        (Some(ModeArg::Mirror), _) | (None, Some("mirror")) => SyncMode::Mirror,
        (None, Some(other)) => {
            return Err(CliError::Usage(format!(
                "mapping file: mode `{other}` is not update, upsert or mirror"
            )));
        }
    };
    let flag_given = args.leavers.is_some() || !args.leaver_set.is_empty();
    if args.leavers.is_some() && !args.leaver_set.is_empty() {
        return Err("--leavers delete and --leaver-set are two leaver actions: give one".into());
    }
    let set = |pairs: Vec<(String, serde_json::Value)>| -> Result<LeaverAction, CliError> {
        let mut patch = profile_core::ProfilePatch::new();
        for (field, value) in pairs {
            let path = profile_core::FieldPath::parse(&field).map_err(|e| {
                CliError::Usage(format!(
                    "leaver field `{}`: {e}",
                    profile_sync::mapping::shortened(&field)
                ))
            })?;
            patch = patch.set_path(path, value);
        }
        Ok(LeaverAction::Set(patch))
    };
    let action = if args.leavers.is_some() {
        Some(LeaverAction::Delete)
    } else if !args.leaver_set.is_empty() {
        let mut pairs = Vec::new();
        for pair in &args.leaver_set {
            let (field, value) = pair.split_once('=').ok_or_else(|| {
                CliError::Usage(format!("--leaver-set takes FIELD=VALUE, not `{pair}`"))
            })?;
            pairs.push((field.to_owned(), leaver_value(value)));
        }
        Some(set(pairs)?)
    } else {
        match &mapping.leavers {
            None => None,
            Some(LeaversSpec::Named(name)) if name == "delete" => Some(LeaverAction::Delete),
            Some(LeaversSpec::Named(other)) => {
                return Err(CliError::Usage(format!(
                    "mapping file: leavers = \"{other}\" is not an action: write \"delete\", or {{ set = {{ FIELD = VALUE }} }}"
                )));
            }
            Some(LeaversSpec::Fields { set: fields, clear }) => {
                let mut pairs: Vec<(String, serde_json::Value)> = fields
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
                    .collect();
                pairs.extend(clear.iter().map(|k| (k.clone(), serde_json::Value::Null)));
                Some(set(pairs)?)
            }
            Some(_) => {
                return Err(CliError::Usage(
                    "mapping file: `leavers` is not an action this version knows".into(),
                ));
            }
        }
    };
    match (mode, &action) {
        (SyncMode::Mirror, None) => Err(CliError::Usage(
            "--mode mirror needs the leaver action: --leavers delete, or --leaver-set FIELD=VALUE \
             (or `leavers` in the mapping file)"
                .into(),
        )),
        (SyncMode::Mirror, _) => Ok((mode, action)),
        (_, Some(_)) if flag_given => Err(CliError::Usage(
            "--leavers and --leaver-set apply to --mode mirror".into(),
        )),
        _ => Ok((mode, None)),
    }
}

/// The input: a file, standard input for `-`, or a query on PostgreSQL.
async fn open_source(
    args: &SyncArgs,
    path: &std::path::Path,
    options: InputOptions,
) -> Result<Box<dyn RowSource>, CliError> {
    let url = path.to_str().filter(|p| profile_sync::pg::is_url(p));
    let query = match (&args.query, &args.query_file) {
        (Some(query), _) => Some(query.clone()),
        (None, Some(file)) => Some(std::fs::read_to_string(file).map_err(|e| {
            CliError::Usage(format!("cannot read --query-file {}: {e}", file.display()))
        })?),
        (None, None) => None,
    };
    match (url, query) {
        (Some(url), Some(query)) => QuerySource::open(url, &query)
            .await
            .map(|source| Box::new(source) as Box<dyn RowSource>)
            .map_err(|e| match e {
                InputError::Query { .. } => CliError::Failed(e.to_string()),
                other => CliError::Usage(other.to_string()),
            }),
        (Some(_), None) => Err(CliError::Usage(
            "--input postgres://… reads the rows of a query: give --query 'SELECT …' or --query-file FILE".into(),
        )),
        (None, Some(_)) => Err(CliError::Usage(
            "--query and --query-file read from PostgreSQL: give --input postgres://…".into(),
        )),
        (None, None) => {
            let opened = if path == std::path::Path::new("-") {
                FileSource::stdin(options)
            } else {
                FileSource::open(path, options)
            };
            opened
                .map(|source| Box::new(source) as Box<dyn RowSource>)
                .map_err(|e| CliError::Usage(e.to_string()))
        }
    }
}

/// The rows `--only KEY` keeps: those whose key (e-mail keys without regard to case) or
/// anchor is KEY.
fn only_rows(mapping: &Mapping, key: &str) -> RowTest {
    let key = key.trim().to_owned();
    let mapping = mapping.clone();
    Arc::new(move |row| {
        let text = |column: &str| match row.get(column) {
            Some(serde_json::Value::String(text)) => Some(text.trim().to_owned()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let by_anchor = mapping
            .anchor
            .as_deref()
            .is_some_and(|anchor| text(anchor).as_deref() == Some(key.as_str()));
        let by_key = text(&mapping.key_column).is_some_and(|value| {
            value == key
                || (mapping.key_kind == profile_core::KeyKind::Email
                    && value.eq_ignore_ascii_case(&key))
        });
        by_anchor || by_key
    })
}

/// `--only`: the person's input row and computed values, before the night sends anything.
async fn show_only(
    source: &mut dyn RowSource,
    mapping: &Mapping,
    key: &str,
    keep: &RowTest,
) -> Result<(), CliError> {
    use futures_util::StreamExt;
    let mut rows = source.rows().map_err(|e| CliError::Usage(e.to_string()))?;
    let mut found = 0;
    while let Some(raw) = rows.next().await {
        let Ok((line, row)) = raw else { continue };
        if !keep(&row) {
            continue;
        }
        found += 1;
        crate::note!("only: line {line} of {}", source.name());
        for (column, value) in &row {
            crate::note!("  {column} = {value}");
        }
        let Some(compute) = &mapping.compute else {
            continue;
        };
        match compute.apply(&row) {
            Ok(None) => crate::note!("  outside the scope (where): not synced"),
            Ok(Some(values)) => {
                for (field, value) in values {
                    crate::note!("  computed {field} = {value:?}");
                }
            }
            Err(error) => crate::note!("  computed field {error}: the row is malformed"),
        }
    }
    if found == 0 {
        return Err(CliError::Usage(format!(
            "--only {key}: no row of {} has that key",
            source.name()
        )));
    }
    Ok(())
}

/// A mapping file's setting refused, named.
fn file_setting(name: &str, reason: impl std::fmt::Display) -> CliError {
    CliError::Usage(format!("mapping file: `{name}`: {reason}"))
}

/// How the input is read: the flags, else the mapping file's `[input]` table.
fn input_options(
    args: &SyncArgs,
    mapping: &Mapping,
    path: &std::path::Path,
) -> Result<InputOptions, CliError> {
    let file = &mapping.input;
    let format = match (args.format, file.format.as_deref()) {
        (Some(FormatArg::Csv), _) | (None, Some("csv")) => Format::Csv,
        (Some(FormatArg::Jsonl), _) | (None, Some("jsonl")) => Format::Jsonl,
        (None, Some(other)) => {
            return Err(file_setting(
                "format",
                format!("`{other}` is not csv or jsonl"),
            ));
        }
        (None, None) => Format::guess(path),
    };
    let empty = match (args.empty, file.empty.as_deref()) {
        (Some(EmptyArg::Clear), _) | (None, Some("clear")) => EmptyCells::Clear,
        (Some(EmptyArg::Skip), _) | (None, Some("skip") | None) => EmptyCells::Skip,
        (None, Some(other)) => {
            return Err(file_setting(
                "empty",
                format!("`{other}` is not skip or clear"),
            ));
        }
    };
    let key_lowercase = args.key_lowercase || mapping.settings.key_lowercase == Some(true);
    let mut options = InputOptions::new(format)
        .empty(empty)
        .key_lowercase(key_lowercase);
    let delimiter = match (args.delimiter, &file.delimiter) {
        (Some(delimiter), _) => Some(delimiter),
        (None, Some(text)) => {
            Some(parse_delimiter(text).map_err(|e| file_setting("delimiter", e))?)
        }
        (None, None) => None,
    };
    if let Some(delimiter) = delimiter {
        options = options.delimiter(delimiter);
    }
    if let Some(label) = args.encoding.as_ref().or(file.encoding.as_ref()) {
        options = options
            .encoding(label)
            .map_err(|e| CliError::Usage(e.to_string()))?;
    }
    Ok(options)
}

/// The run settings a nightly line carries: the flags, else the mapping file's section.
struct RunSettings {
    concurrency: usize,
    rate: Option<u32>,
    max_leavers: LeaverLimit,
}

impl RunSettings {
    fn of(args: &SyncArgs, mapping: &Mapping) -> Result<Self, CliError> {
        let file = &mapping.settings;
        let concurrency = match (args.concurrency, &file.concurrency) {
            (Some(n), _) => n,
            (None, Some(text)) => text
                .parse()
                .map_err(|_| file_setting("concurrency", format!("`{text}` is not a count")))?,
            (None, None) => 8,
        };
        let rate = match (args.rate, &file.rate) {
            (Some(rate), _) => Some(rate),
            (None, Some(text)) => Some(parse_rate(text).map_err(|e| file_setting("rate", e))?),
            (None, None) => None,
        };
        let max_leavers = match (args.max_leavers, &file.max_leavers) {
            (Some(limit), _) => limit,
            (None, Some(text)) => parse_limit(text).map_err(|e| file_setting("max_leavers", e))?,
            (None, None) => LeaverLimit::default(),
        };
        Ok(Self {
            concurrency: concurrency.max(1),
            rate,
            max_leavers,
        })
    }
}

/// The mapping, from the flags and the mapping file, checked against the vendor's settings.
fn mapping(args: &SyncArgs) -> Result<Mapping, CliError> {
    let entry = args.vendor().entry();
    let scope = Scope::default()
        .with("source", args.source.clone())
        .with("type", args.profile_type.clone())
        .with("type_name", args.type_name.clone())
        .with("directory", args.directory.clone())
        .with("lang", args.lang.clone());
    let flags = MappingFlags {
        file: args.mapping.clone(),
        key: args.key.clone(),
        key_kind: args.key_kind.clone(),
        anchor: args.anchor.clone(),
        maps: args.maps.clone(),
        computes: args.computes.clone(),
        scope_filter: args.scope_filter.clone(),
        scope,
    };
    let mapping =
        Mapping::resolve(entry.name, &flags).map_err(|e| CliError::Usage(e.to_string()))?;
    entry.check_scope(&mapping.scope)?;
    Ok(mapping)
}

/// A night's error as the CLI says it, with its exit code.
fn night_error(error: NightError) -> CliError {
    match error {
        NightError::Busy { .. } => CliError::Busy(format!(
            "{error}; it exits when done (or pass --wait DURATION to wait for it)"
        )),
        NightError::Refused(_) => CliError::Stopped(error.to_string()),
        // A state that cannot be used is refused the same way wherever it is found.
        NightError::State(state) if state.is_unusable() => CliError::Usage(state.to_string()),
        NightError::Vendor(inner) => CliError::Vendor(inner),
        error if error.is_usage() => CliError::Usage(error.to_string()),
        error => CliError::Failed(error.to_string()),
    }
}

/// Ctrl-C: stop taking rows, give those in flight a few seconds, write the summary and
/// the report; a second Ctrl-C leaves the rows in flight at once (the run is still recorded
/// as interrupted); a third leaves the program.
fn cancel_on_ctrl_c() -> (
    Arc<std::sync::atomic::AtomicBool>,
    Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (cancel, abandon) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (first, second) = (cancel.clone(), abandon.clone());
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        first.store(true, Ordering::SeqCst);
        crate::note!(
            "\ninterrupted: finishing the rows in flight for up to 5 s (Ctrl-C again to leave them now)"
        );
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        second.store(true, Ordering::SeqCst);
        crate::note!(
            "leaving the rows in flight: a write already sent is read back by the next run"
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
    (cancel, abandon)
}

/// `profiles sync`: flags → options → night → print. Answers whether every row succeeded.
pub(crate) async fn run(args: SyncArgs) -> Result<bool, CliError> {
    match &args.command {
        Some(SyncCommand::Status { state, json }) => {
            status(state, *json).await?;
            return Ok(true);
        }
        Some(SyncCommand::Forget { state, keys }) => {
            forget(state, keys).await?;
            return Ok(true);
        }
        None => {}
    }
    let input_path = args
        .input
        .clone()
        .ok_or_else(|| CliError::Usage("--input is required".into()))?;
    args.refuse_other_vendors()?;
    if args.journal.is_some() || args.resume.is_some() {
        return Err(CliError::Usage(
            "--journal and --resume were replaced by --state FILE: one database for every night; \
             run the same command again to finish an interrupted run"
                .into(),
        ));
    }
    let entry = args.vendor().entry();
    let mapping = mapping(&args)?;
    let (mode, leaver_action) = mode_and_leavers(&args, &mapping)?;
    if mode == SyncMode::Mirror && args.state.is_none() {
        return Err(night_error(NightError::MirrorNeedsState));
    }
    if mode == SyncMode::Mirror
        && matches!(leaver_action, Some(LeaverAction::Delete))
        && mapping.key_kind == profile_core::KeyKind::Email
        && mapping.anchor.is_none()
    {
        crate::note!(
            "warning: leavers are deleted and people are keyed by e-mail: a person whose address changes is deleted, then created anew; follow people by a permanent id with --anchor COLUMN (see \"Who is who: keys and anchors\" in docs/cli.md)"
        );
    }
    let input_options = input_options(&args, &mapping, &input_path)?;
    let settings = RunSettings::of(&args, &mapping)?;
    let mut source = open_source(&args, &input_path, input_options.clone()).await?;
    mapping
        .check_columns(source.columns())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let (mode, leaver_action) = match &args.only {
        Some(_) if leaver_action.is_some() => {
            crate::note!("--only: one person; leavers are not looked for");
            (SyncMode::Upsert, None)
        }
        _ => (mode, leaver_action),
    };
    let mut source: Box<dyn RowSource> = match &args.only {
        Some(key) => {
            let keep = only_rows(&mapping, key);
            show_only(source.as_mut(), &mapping, key, &keep).await?;
            Box::new(Filtered::new(source, keep))
        }
        None => source,
    };
    let base_url = args.endpoint.base_url(entry.base_url_var)?;
    let politeness = Politeness {
        per_minute: settings.rate,
        max_in_flight: settings.concurrency,
        show_requests: args.only.is_some(),
    };
    // The updater's client is made while the state opens (neither sends a request).
    let opening = async {
        match &args.state {
            Some(path) => open_state(path).await,
            None => Ok(Arc::new(MemoryState::new()) as Arc<dyn StateStore>),
        }
    };
    let making = async { args.updater(&mapping.scope, politeness) };
    let (store, pending) = tokio::join!(opening, making);
    let store = store?;
    let scope_name = entry.scope_name(&mapping.scope);
    let scope = ScopeKey {
        vendor: entry.name.to_owned(),
        base_url: base_url.to_string(),
        name: entry.scope_name(&mapping.scope),
        key_kind: mapping.scope_key_kind(),
    };
    // The lease before the first request: building an updater may read (LumApps' template).
    let lease = ScopeLease::take(store.clone(), &scope, args.wait, |held| {
        crate::note!("sync: another run holds this scope ({held}): waiting for it");
    })
    .await
    .map_err(night_error)?;
    let updater = pending?.finish().await.map_err(credentials_refused)?;
    let (cancel, abandon) = cancel_on_ctrl_c();
    let options = SyncOptions::default()
        .with_cancel(cancel)
        .with_abandon(abandon)
        .with_concurrency(settings.concurrency)
        .with_dry_run(args.dry_run)
        .with_verify(args.verify)
        .with_mode(mode)
        .with_read_first(!args.no_read_first);
    // Freeing an in-memory state record by record costs a few per cent of a night, and the
    // process ends right after: it is left to the operating system.
    let leave_to_exit = (!store.persistent()).then(|| store.clone());
    let mut night = Night::new(updater, store, scope, mapping.clone())
        .options(options)
        .row_rules(input_options)
        .with_lease(lease)
        .record_options(json!({
            "vendor": entry.name,
            "concurrency": settings.concurrency,
            "rate": settings.rate,
            "dry_run": args.dry_run,
            "verify": args.verify,
            "mode": mode,
            "fields": mapping.fields.iter().map(|(_, f)| f.to_string())
                .chain(mapping.compute.iter().flat_map(|c| c.fields().iter().map(ToString::to_string)))
                .collect::<Vec<_>>(),
        }));
    let leaver_fields = match &leaver_action {
        Some(LeaverAction::Set(patch)) => leaver_values(patch),
        _ => String::new(),
    };
    if let Some(action) = leaver_action {
        night = night.leavers(action, settings.max_leavers, args.allow_leavers);
    }
    let terminal = std::io::stderr().is_terminal();
    let mut progress = Progress::new(terminal, crate::quiet(), None, args.dry_run);
    let with_state = args.state.is_some();
    let report = night
        .run(source.as_mut(), |event| {
            tell(
                &args,
                entry,
                (with_state, &leaver_fields),
                &mut progress,
                event,
            )
        })
        .await
        .map_err(|e| credentials_refused(night_error(e)))?;
    progress.finish();
    std::mem::forget(leave_to_exit);
    finish(&args, with_state, &report)?;
    let outcome = match &report.stopped {
        Some(SyncStop::Interrupted) => Err(CliError::Interrupted),
        Some(SyncStop::State(state)) if state.is_unusable() => {
            Err(CliError::Usage(state.to_string()))
        }
        Some(stop) => Err(CliError::Stopped(stop.to_string())),
        None => match &report.leavers_held {
            Some(held) => Err(CliError::LeaversHeld(held.to_string())),
            None => Ok(report.summary.all_succeeded()),
        },
    };
    if let Some(path) = &args.metrics {
        let code = match &outcome {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(error) => error.exit_code(),
        };
        metrics::write(path, entry.name, &scope_name, &report, code)
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
    }
    outcome
}

/// Prints what the night tells as it goes: warnings, drift, a dry run's diffs, progress.
fn tell(
    args: &SyncArgs,
    entry: &VendorEntry,
    (with_state, leaver_fields): (bool, &str),
    progress: &mut Progress,
    event: NightEvent<'_>,
) {
    match event {
        NightEvent::Continues { earlier, run } if with_state => crate::note!(
            "sync: run {} did not finish; this run (run {}) finishes it",
            earlier.0,
            run.0
        ),
        NightEvent::Total(total) => progress.set_total(total),
        NightEvent::Duplicate { key, lines } => {
            let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
            crate::note!(
                "warning: the key {key} is on lines {}: the last one is synced, the others are left out",
                lines.join(", ")
            );
        }
        NightEvent::BulkRead { read, took } if read.listed => crate::note!(
            "sync: read {} users from {} in {:.1}s{}",
            read.profiles,
            entry.name,
            took.as_secs_f64(),
            if args.verify {
                format!(
                    ", {} changed there since the state saw them",
                    read.drift.len()
                )
            } else {
                String::new()
            }
        ),
        NightEvent::BulkRead { read, took } if read.stopped => crate::note!(
            "sync: stopped reading everyone from {} after {} users in {:.1}s: it would cost more requests than it spares the rows",
            entry.name,
            read.profiles,
            took.as_secs_f64(),
        ),
        NightEvent::BulkReadFailed(why) => {
            crate::note!("warning: {why}; reading each user on their own instead");
        }
        NightEvent::Row(report) => {
            progress.tick(&report.outcome, report.from_state);
            print_row(entry, report);
            if args.only.is_some() {
                let outcome = serde_json::to_value(&report.outcome).unwrap_or_default();
                crate::note!(
                    "only: line {} {}: {}{}",
                    report.line,
                    report.key,
                    outcome,
                    if report.from_state {
                        " (the state shows it unchanged: no request)"
                    } else {
                        ""
                    }
                );
            }
        }
        NightEvent::LeaversNotLooked { malformed } => crate::note!(
            "warning: {malformed} rows could not be read: leavers are not looked for while the input has unreadable rows (their users would look gone)"
        ),
        NightEvent::Leavers { leavers, managed } => crate::note!(
            "sync: {leavers} of the {managed} managed users are gone from the input: {}",
            match (args.leavers.is_some(), args.dry_run) {
                (true, true) => "would delete them",
                (true, false) => "deleting them",
                (false, true) => "would write their leaver fields",
                (false, false) => "writing their leaver fields",
            }
        ),
        NightEvent::Leaver(report) if args.dry_run => {
            say!(
                "leaver {}: {}",
                report.key,
                leaver_words(&report.outcome, leaver_fields)
            );
        }
        _ => {}
    }
}

/// The values a leaver gets, as a dry run shows them: `attributes.status = "left", Title
/// cleared`.
fn leaver_values(patch: &profile_core::ProfilePatch) -> String {
    patch
        .changes()
        .iter()
        .map(|change| match change {
            profile_core::FieldChange::Set { path, value } => format!("{path} = {value}"),
            other => format!("{} cleared", other.path()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A leaver's outcome in words.
fn leaver_words(outcome: &RowOutcome, fields: &str) -> String {
    match outcome {
        RowOutcome::WouldRetire { deleted: true } => "would be deleted".into(),
        RowOutcome::WouldRetire { deleted: false } => format!("would get {fields}"),
        RowOutcome::Retired { deleted: true } => "deleted".into(),
        RowOutcome::Retired { deleted: false } => "given the leaver fields".into(),
        RowOutcome::Gone => "gone from the vendor already".into(),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v["outcome"].as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

/// A row's drift, and a dry run's diff.
fn print_row(entry: &VendorEntry, report: &RowReport) {
    let (line, key) = (report.line, &report.key);
    for drift in &report.drift {
        crate::note!(
            "drift: line {line} {key}: {}: the state had {}, {} has {}",
            drift.field,
            show(&drift.from),
            entry.name,
            show(&drift.to)
        );
    }
    match &report.outcome {
        RowOutcome::WouldCreate { changes } => {
            let fields: Vec<String> = changes
                .iter()
                .map(|c| format!("{} = {}", c.field, show(&c.to)))
                .collect();
            say!(
                "line {line} {key}: would create it with {}{}",
                fields.join(", "),
                entry.create_note
            );
        }
        RowOutcome::WouldUpdate { changes } => {
            for change in changes {
                say!(
                    "line {line} {key}: {}: {} -> {}",
                    change.field,
                    show(&change.from),
                    show(&change.to)
                );
            }
        }
        _ => {}
    }
}

/// The closing summary, a few lines of at most 80 columns.
fn summary_lines(
    summary: &SyncSummary,
    requests: Option<u64>,
    with_state: bool,
    dry_run: bool,
) -> Vec<String> {
    let s = summary;
    let mut lines = vec![
        format!(
            "sync: {} rows in {:.1}s ({:.0} rows/s){}",
            s.rows,
            s.elapsed.as_secs_f64(),
            s.rows_per_second(),
            requests.map_or(String::new(), |n| format!("; {n} requests sent"))
        ),
        format!(
            "  {} updated, {} created, {} unchanged, {} missing",
            s.updated, s.created, s.unchanged, s.missing
        ),
    ];
    if with_state {
        lines.push(format!(
            "  {} of the unchanged known from the state, with no request",
            s.from_state
        ));
    }
    lines.push(format!(
        "  {} failed, {} unknown, {} malformed, {} duplicates",
        s.failed, s.unknown, s.malformed, s.superseded
    ));
    if dry_run {
        lines.push(format!(
            "  dry run: {} would update, {} would be created, {} would retire",
            s.would_update, s.would_create, s.would_retire
        ));
    }
    if s.out_of_scope > 0 {
        lines.push(format!(
            "  {} outside the scope (where), not synced",
            s.out_of_scope
        ));
    }
    if s.deleted + s.retired + s.gone > 0 {
        lines.push(format!(
            "  leavers: {} deleted, {} given leaver fields, {} gone already",
            s.deleted, s.retired, s.gone
        ));
    }
    lines
}

/// Writes a file readable by its owner alone (0600), as the state is: a report names
/// people and their failures.
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    options.open(path)?.write_all(bytes)
}

/// Prints the closing summary and the failures (and the JSON report with `--output json`),
/// and writes the report file.
fn finish(args: &SyncArgs, with_state: bool, report: &NightReport) -> Result<(), CliError> {
    for line in summary_lines(&report.summary, report.requests, with_state, args.dry_run) {
        crate::note!("{line}");
    }
    // The JSON document of the report, built only when it is printed or written.
    let document = || {
        let mut document = serde_json::to_value(report).unwrap_or_default();
        document["state"] = json!(args.state.as_ref().map(|p| p.display().to_string()));
        document
    };
    if args.output == SyncOutput::Json {
        say!(
            "{}",
            serde_json::to_string_pretty(&document()).unwrap_or_default()
        );
    }
    if let Some(path) = &args.report {
        write_private(
            path,
            &serde_json::to_vec_pretty(&document()).unwrap_or_default(),
        )
        .map_err(|e| CliError::Failed(format!("cannot write report {}: {e}", path.display())))?;
    }
    for failure in report.failures.iter().take(20) {
        crate::note!(
            "  line {} {}: {} {}",
            failure.line,
            failure.key,
            serde_json::to_value(failure.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            failure.detail
        );
    }
    if report.failures.len() > 20 {
        crate::note!("  … and {} more (see --report)", report.failures.len() - 20);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closing_summary_fits_in_80_columns_even_for_a_million_rows() {
        let n = 1_000_000;
        let summary = SyncSummary {
            rows: n,
            updated: n,
            unchanged: n,
            would_update: n,
            failed: n,
            unknown: n,
            malformed: n,
            superseded: n,
            created: n,
            would_create: n,
            missing: n,
            deleted: n,
            retired: n,
            would_retire: n,
            gone: n,
            from_state: n,
            elapsed: std::time::Duration::from_secs(12_345),
            ..SyncSummary::default()
        };
        let lines = summary_lines(&summary, Some(n), true, true);
        assert_eq!(lines.len(), 6);
        for line in &lines {
            assert!(line.chars().count() <= 80, "{} columns: {line}", line.len());
        }
        assert!(
            lines[0].ends_with("; 1000000 requests sent"),
            "{}",
            lines[0]
        );
        let without_state = summary_lines(&summary, None, false, false);
        assert!(
            !without_state
                .iter()
                .any(|l| l.contains("known from the state"))
        );
    }
}
