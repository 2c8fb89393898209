//! `profiles sync`: push a CSV or JSON Lines export into one vendor.

mod progress;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use futures_util::stream;
use profile_core::ProfileUpdater;
use profile_sync::state::{RunEnd, ScopeKey};
use profile_sync::{
    LeaverAction, LeaverLimit, RowOutcome, SqliteState, StateContext, StateStore, SyncMode,
    SyncOptions, SyncSummary, guard_leavers, read_everyone, retire_leavers, sync_rows,
    sync_with_state,
};
use serde_json::json;

use crate::Vendor;
use crate::capture::CaptureFlags;
use crate::connect::{ClientCredentials, Endpoint, Politeness, refuse_foreign};
use crate::error::CliError;
use crate::lumapps::LumAppsFlags;
use crate::sunshine::SunshineFlags;
use profile_sync::input::{self, EmptyCells, Format, InputOptions};
use profile_sync::mapping::{LeaversSpec, Mapping, MappingFlags, Scope};
use progress::Progress;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    /// The vendor to write to.
    #[arg(long, value_enum, required = true)]
    vendor: Option<Vendor>,
    /// The input: CSV with a header row, or JSON Lines.
    #[arg(long, value_name = "FILE", required = true)]
    input: Option<PathBuf>,
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
    #[arg(long, value_enum, default_value = "skip")]
    empty: EmptyArg,
    /// Lower-case every key (e-mail addresses: Capture matches them exactly, Zendesk and
    /// LumApps do not).
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
    /// Write every row without reading the profile first, and without a state.
    #[arg(long, conflicts_with_all = ["state", "verify"])]
    no_read_first: bool,
    /// The state database (SQLite; created on first use): what the vendor last confirmed
    /// for each user, so that a night sends only what changed and an interrupted run is
    /// finished by running the same command again.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
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

    async fn updater(
        &self,
        scope: &Scope,
        politeness: Politeness,
    ) -> Result<Arc<dyn ProfileUpdater>, CliError> {
        match self.vendor() {
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

/// `profiles sync status`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SyncCommand {
    /// The rows that did not succeed, per user, with their codes and dates (the dead
    /// letters): those the next run retries, and those it sends again only once their row
    /// changes.
    Status {
        /// The state database.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
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

fn parse_rate(text: &str) -> Result<u32, String> {
    text.trim_end_matches("/min")
        .parse()
        .map_err(|_| format!("`{text}` is not a rate; write it as N or N/min"))
}

/// The state database of a run: the user's `--state FILE`, or a file of its own in the
/// temporary folder, removed at the end (each such run starts from what the vendor holds).
struct StateFile {
    path: PathBuf,
    temporary: bool,
}

impl StateFile {
    fn new(state: Option<&PathBuf>) -> Self {
        match state {
            Some(path) => Self {
                path: path.clone(),
                temporary: false,
            },
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                Self {
                    path: std::env::temp_dir()
                        .join(format!("profiles-sync-{}-{nanos}.db", std::process::id())),
                    temporary: true,
                }
            }
        }
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        if self.temporary {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = self.path.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(name));
            }
        }
    }
}

fn base_url_var(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Sunshine => "ZENDESK_BASE_URL",
        Vendor::Capture => "CAPTURE_BASE_URL",
        Vendor::Lumapps => "LUMAPPS_BASE_URL",
    }
}

/// What addresses the records of a sync at its vendor, as the state names its scope.
fn scope_name(vendor: Vendor, scope: &Scope) -> String {
    let or =
        |value: &Option<String>, default: &str| value.clone().unwrap_or_else(|| default.to_owned());
    match vendor {
        Vendor::Sunshine => format!(
            "source={};type={}",
            or(&scope.source, ""),
            or(&scope.profile_type, "")
        ),
        Vendor::Capture => format!("type_name={}", or(&scope.type_name, "user")),
        Vendor::Lumapps => format!("directory={}", or(&scope.directory, "")),
    }
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

fn state_error(error: profile_sync::state::StateError) -> CliError {
    CliError::Failed(error.to_string())
}

/// `profiles sync status`: the dead letters of a state database.
fn status(path: &std::path::Path, as_json: bool) -> Result<(), CliError> {
    if !path.exists() {
        return Err(CliError::Usage(format!(
            "no state database at {}",
            path.display()
        )));
    }
    let store = SqliteState::open(path)
        .map_err(|e| CliError::Usage(format!("cannot use the state database: {e}")))?;
    let letters = store.dead_letters().map_err(state_error)?;
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
        "{:<32} {:<8} {:<22} {:<24} {:<6} REASON",
        "KEY",
        "OUTCOME",
        "CODE",
        "SINCE",
        "RETRY"
    );
    for letter in &letters {
        say!(
            "{:<32} {:<8} {:<22} {:<24} {:<6} {}",
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
            let path = profile_core::FieldPath::parse(&field)
                .map_err(|e| CliError::Usage(format!("leaver field `{field}`: {e}")))?;
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

pub(crate) async fn run(args: SyncArgs) -> Result<SyncSummary, CliError> {
    if let Some(SyncCommand::Status { state, json }) = &args.command {
        status(state, *json)?;
        return Ok(SyncSummary::default());
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
    let mapping = Mapping::resolve(args.vendor().name(), &flags)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let (mode, leaver_action) = mode_and_leavers(&args, &mapping)?;
    if mode != SyncMode::Update && args.state.is_none() && mode == SyncMode::Mirror {
        return Err(CliError::Usage(
            "--mode mirror needs --state FILE: leavers are the users an earlier run managed".into(),
        ));
    }
    let format = match args.format {
        Some(FormatArg::Csv) => Format::Csv,
        Some(FormatArg::Jsonl) => Format::Jsonl,
        None => Format::guess(&input_path),
    };
    let mut input_options = InputOptions::new(format)
        .empty(match args.empty {
            EmptyArg::Skip => EmptyCells::Skip,
            EmptyArg::Clear => EmptyCells::Clear,
        })
        .key_lowercase(args.key_lowercase);
    if let Some(delimiter) = args.delimiter {
        input_options = input_options.delimiter(delimiter);
    }
    if let Some(label) = &args.encoding {
        input_options = input_options
            .encoding(label)
            .map_err(|e| CliError::Usage(e.to_string()))?;
    }
    let input_error = |e: input::InputError| CliError::Usage(e.to_string());
    let (columns, _) = input::open(&input_path, &input_options).map_err(input_error)?;
    // Everything that can be refused is refused before the first request.
    mapping
        .check_columns(&columns)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let base_url = args.endpoint.base_url(base_url_var(args.vendor()))?;
    let politeness = Politeness {
        per_minute: args.rate,
        max_in_flight: args.concurrency.max(1),
    };
    let updater = args
        .updater(&mapping.scope, politeness)
        .await
        .map_err(credentials_refused)?;
    let fields: Vec<profile_core::FieldPath> =
        mapping.fields.iter().map(|(_, f)| f.clone()).collect();
    let mut checked = fields.clone();
    match &leaver_action {
        Some(LeaverAction::Set(patch)) => {
            checked.extend(patch.changes().iter().map(|c| c.path().clone()));
        }
        Some(LeaverAction::Delete) if !updater.can_delete() => {
            return Err(CliError::Usage(format!(
                "{} profiles cannot be deleted through its API: give leavers fields to set \
                 instead (--leaver-set FIELD=VALUE; an empty VALUE clears a field)",
                updater.vendor()
            )));
        }
        _ => {}
    }
    let check = updater
        .check_fields(&checked)
        .await
        .map_err(|e| credentials_refused(CliError::vendor(e, &base_url)))?;
    if !check.is_ok() {
        return Err(CliError::Usage(format!(
            "the mapping names field(s) {} does not have: {}; its fields are: {}",
            updater.vendor(),
            check.unknown.join(", "),
            check.known.join(", ")
        )));
    }
    // Ctrl-C: stop taking rows, let those in flight finish, write the summary and the
    // report; a second Ctrl-C leaves at once.
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            crate::note!(
                "\ninterrupted: finishing the rows in flight (Ctrl-C again to leave at once)"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let options = SyncOptions::default()
        .with_cancel(cancel)
        .with_concurrency(args.concurrency)
        .with_dry_run(args.dry_run)
        .with_verify(args.verify)
        .with_mode(mode)
        .with_read_first(!args.no_read_first);
    let terminal = std::io::stderr().is_terminal();
    // With a state, the key pre-pass counts the rows; without one, a terminal counts them.
    let total = if terminal && args.no_read_first {
        input::reopen(&input_path, &input_options)
            .ok()
            .map(|(_, rows)| rows.count() as u64)
    } else {
        None
    };
    let mut progress = Progress::new(terminal, crate::quiet(), total, args.dry_run);

    if args.no_read_first {
        let (_, rows) = input::reopen(&input_path, &input_options).map_err(input_error)?;
        let rows = rows.map(|raw| input::to_sync_row(raw, &mapping, &input_options));
        let mut failures = Vec::new();
        let summary = sync_rows(
            updater,
            stream::iter(rows),
            &options,
            |line, key, outcome| {
                progress.tick(outcome, false);
                if !outcome.is_success() {
                    let result = json!(outcome);
                    failures.push(json!({
                        "line": line,
                        "key": key,
                        "outcome": result["outcome"],
                        "code": result["code"],
                        "detail": result["reason"],
                    }));
                }
            },
        )
        .await;
        progress.finish();
        let report = json!({
            "vendor": args.vendor().name(),
            "input": input_path.display().to_string(),
            "dry_run": args.dry_run,
            "summary": summary,
            "failures": failures,
        });
        finish(&args, &summary, &report)?;
        if options.cancelled() {
            return Err(CliError::Interrupted);
        }
        return Ok(summary);
    }

    let file = StateFile::new(args.state.as_ref());
    let store = Arc::new(
        SqliteState::open(&file.path)
            .map_err(|e| CliError::Usage(format!("cannot use the state database: {e}")))?,
    );
    let scope_key = ScopeKey {
        vendor: updater.vendor().to_owned(),
        base_url: base_url.to_string(),
        name: scope_name(args.vendor(), &mapping.scope),
        key_kind: mapping.key_kind.name().to_owned(),
    };
    let scope = store.scope(&scope_key).map_err(state_error)?;
    let run_options = json!({
        "vendor": args.vendor().name(),
        "concurrency": args.concurrency,
        "rate": args.rate,
        "dry_run": args.dry_run,
        "verify": args.verify,
        "mode": mode,
        "fields": fields.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    let (run, continues) = store
        .begin_run(scope, &input_path.display().to_string(), &run_options)
        .map_err(state_error)?;
    if let (Some(earlier), false) = (continues, file.temporary) {
        crate::note!(
            "sync: run {} did not finish; this run (run {}) finishes it",
            earlier.0,
            run.0
        );
    }
    // The keys first: a key on two lines is synced once, from its last line.
    let (_, rows) = input::reopen(&input_path, &input_options).map_err(input_error)?;
    let counted = std::cell::Cell::new(0u64);
    let mut keys = rows
        .inspect(|_| counted.set(counted.get() + 1))
        .map(|raw| input::to_sync_row(raw, &mapping, &input_options))
        .filter_map(Result::ok)
        .map(|row| (row.key, row.line));
    let duplicates = store.load_input_keys(&mut keys).map_err(state_error)?;
    // The rows to do, for the progress line's "to go" and ETA, on a terminal or not.
    progress.set_total(counted.get());
    for (key, lines) in duplicates.iter().take(20) {
        let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
        crate::note!(
            "warning: the key {key} is on lines {}: the last one is synced, the others are left out",
            lines.join(", ")
        );
    }
    if duplicates.len() > 20 {
        crate::note!(
            "warning: … and {} more keys on several lines (see --report)",
            duplicates.len() - 20
        );
    }
    let ctx = StateContext {
        store: store.clone(),
        scope,
        run,
        key_kind: mapping.key_kind.clone(),
        fields: fields.clone(),
    };
    let first_night = !store.has_users(scope).map_err(state_error)?;
    let mut bulk = None;
    if first_night || args.verify {
        let started = Instant::now();
        match read_everyone(updater.as_ref(), &ctx, args.verify).await {
            Ok(read) => {
                if read.listed {
                    crate::note!(
                        "sync: read {} users from {} in {:.1}s{}",
                        read.profiles,
                        updater.vendor(),
                        started.elapsed().as_secs_f64(),
                        if args.verify {
                            format!(
                                ", {} changed there since the state saw them",
                                read.drift.len()
                            )
                        } else {
                            String::new()
                        }
                    );
                }
                bulk = Some(read);
            }
            Err(stop) => {
                let reason = stop.to_string();
                let _ = store.end_run(run, &RunEnd::Stopped(reason.clone()), &json!({}));
                return Err(CliError::Stopped(reason));
            }
        }
    }

    let (_, rows) = input::reopen(&input_path, &input_options).map_err(input_error)?;
    let rows = rows.map(|raw| input::to_sync_row(raw, &mapping, &input_options));
    let mut malformed = Vec::new();
    let (summary, stop) = sync_with_state(
        updater.clone(),
        &ctx,
        stream::iter(rows),
        &options,
        bulk.as_ref(),
        |report| {
            progress.tick(&report.outcome, report.from_state);
            let (line, key) = (report.line, &report.key);
            for drift in &report.drift {
                crate::note!(
                    "drift: line {line} {key}: {}: the state had {}, {} has {}",
                    drift.field,
                    show(&drift.from),
                    args.vendor().name(),
                    show(&drift.to)
                );
            }
            if let RowOutcome::WouldCreate { changes } = &report.outcome {
                let fields: Vec<String> = changes
                    .iter()
                    .map(|c| format!("{} = {}", c.field, show(&c.to)))
                    .collect();
                say!(
                    "line {line} {key}: would create it with {}{}",
                    fields.join(", "),
                    if args.vendor() == Vendor::Sunshine {
                        " (the first profile of someone Zendesk does not know creates a Zendesk user too)"
                    } else {
                        ""
                    }
                );
            }
            if let RowOutcome::WouldUpdate { changes } = &report.outcome {
                for change in changes {
                    say!(
                        "line {line} {key}: {}: {} -> {}",
                        change.field,
                        show(&change.from),
                        show(&change.to)
                    );
                }
            }
            match &report.outcome {
                RowOutcome::Malformed { reason } => {
                    malformed.push(json!({"line": line, "outcome": "malformed", "detail": reason}));
                }
                // Refused before and unchanged since: not sent, so not in the database's
                // rows of this run, but still a failure to show.
                RowOutcome::Failed { reason, code, .. } if report.from_state => {
                    malformed.push(json!({
                        "line": line,
                        "key": key,
                        "outcome": "failed",
                        "code": code,
                        "detail": reason,
                    }));
                }
                _ => {}
            }
        },
    )
    .await;
    progress.finish();
    let mut summary = summary;
    let mut stop = stop;
    let mut held: Option<String> = None;
    if let (SyncMode::Mirror, Some(action), None) = (mode, &leaver_action, &stop) {
        if summary.malformed > 0 {
            crate::note!(
                "warning: {} rows could not be read: leavers are not looked for while the input has unreadable rows (their users would look gone)",
                summary.malformed
            );
        } else {
            let (leavers, managed) = store.leavers(scope).map_err(state_error)?;
            if !leavers.is_empty() {
                match guard_leavers(
                    leavers.len() as u64,
                    managed,
                    args.max_leavers.unwrap_or_default(),
                    args.allow_leavers,
                ) {
                    Err(guard) => held = Some(guard.to_string()),
                    Ok(()) => {
                        crate::note!(
                            "sync: {} of the {managed} managed users are gone from the input: {}",
                            leavers.len(),
                            match (action, args.dry_run) {
                                (LeaverAction::Delete, true) => "would delete them",
                                (LeaverAction::Delete, false) => "deleting them",
                                (_, true) => "would write their leaver fields",
                                (_, false) => "writing their leaver fields",
                            }
                        );
                        let (retired, leaver_stop) = retire_leavers(
                            updater.clone(),
                            &ctx,
                            leavers,
                            action,
                            &options,
                            |report| {
                                if args.dry_run {
                                    say!("leaver {}: {:?}", report.key, report.outcome);
                                }
                            },
                        )
                        .await;
                        summary.deleted += retired.deleted;
                        summary.retired += retired.retired;
                        summary.would_retire += retired.would_retire;
                        summary.failed += retired.failed;
                        summary.unknown += retired.unknown;
                        stop = leaver_stop;
                    }
                }
            }
        }
    }
    let end = match &stop {
        None => RunEnd::Finished,
        Some(stop) => RunEnd::Stopped(stop.to_string()),
    };
    store
        .end_run(
            run,
            &end,
            &serde_json::to_value(&summary).unwrap_or_default(),
        )
        .map_err(state_error)?;

    // The report covers the whole run, from the database: the parts an interrupted run
    // did, and this one.
    let chain = store.run_chain(run).map_err(state_error)?;
    let rows = store.run_rows(&chain).map_err(state_error)?;
    let count = |outcome: &str| rows.iter().filter(|r| r.outcome == outcome).count();
    let mut failures: Vec<serde_json::Value> = rows
        .iter()
        .filter(|r| matches!(r.outcome.as_str(), "failed" | "unknown"))
        .map(|r| json!(r))
        .collect();
    failures.extend(malformed);
    failures.sort_by_key(|f| f["line"].as_u64());
    let report = json!({
        "vendor": args.vendor().name(),
        "input": input_path.display().to_string(),
        "dry_run": args.dry_run,
        "state": args.state.as_ref().map(|p| p.display().to_string()),
        "runs": chain.iter().map(|r| r.0).collect::<Vec<_>>(),
        "stopped": stop.as_ref().map(ToString::to_string),
        "leavers_held": held,
        "summary": summary,
        "whole_run": {
            "updated": count("updated") + count("corrected"),
            "drift": count("drift") + count("corrected"),
            "failed": count("failed"),
            "unknown": count("unknown"),
            "created": count("created"),
            "missing": count("missing"),
            "deleted": count("deleted"),
            "retired": count("retired"),
        },
        "duplicates": duplicates
            .iter()
            .map(|(key, lines)| json!({"key": key, "lines": lines}))
            .collect::<Vec<_>>(),
        "failures": failures,
        "changed": rows.iter().filter(|r| r.outcome != "failed" && r.outcome != "unknown").collect::<Vec<_>>(),
    });
    finish(&args, &summary, &report)?;
    for failure in failures.iter().take(20) {
        crate::note!(
            "  line {} {}: {} {}",
            failure["line"],
            failure["key"].as_str().unwrap_or(""),
            failure["outcome"].as_str().unwrap_or(""),
            failure["detail"].as_str().unwrap_or("")
        );
    }
    if failures.len() > 20 {
        crate::note!("  … and {} more (see --report)", failures.len() - 20);
    }
    match stop {
        Some(profile_sync::SyncStop::Interrupted) => return Err(CliError::Interrupted),
        Some(stop) => return Err(CliError::Stopped(stop.to_string())),
        None => {}
    }
    if let Some(held) = held {
        return Err(CliError::LeaversHeld(held));
    }
    Ok(summary)
}

/// Prints the closing line (and the JSON report with `--output json`) and writes the
/// report file.
fn finish(
    args: &SyncArgs,
    summary: &SyncSummary,
    report: &serde_json::Value,
) -> Result<(), CliError> {
    crate::note!(
        "sync: {} rows in {:.1}s ({:.0} rows/s): {} updated, {} created, {} unchanged ({} known from the state, no request), {} missing, {} failed, {} unknown, {} malformed, {} left out as duplicates{}{}",
        summary.rows,
        summary.elapsed.as_secs_f64(),
        summary.rows_per_second(),
        summary.updated,
        summary.created,
        summary.unchanged,
        summary.from_state,
        summary.missing,
        summary.failed,
        summary.unknown,
        summary.malformed,
        summary.superseded,
        if args.dry_run {
            format!(
                "; dry run: {} would update, {} would be created, {} leavers would be retired",
                summary.would_update, summary.would_create, summary.would_retire
            )
        } else {
            String::new()
        },
        if summary.deleted + summary.retired > 0 {
            format!(
                "; leavers: {} deleted, {} given their leaver fields",
                summary.deleted, summary.retired
            )
        } else {
            String::new()
        },
    );
    if args.output == SyncOutput::Json {
        say!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    }
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(report).unwrap_or_default()).map_err(
            |e| CliError::Failed(format!("cannot write report {}: {e}", path.display())),
        )?;
    }
    Ok(())
}
