//! `profiles sync --metrics FILE`: the night in Prometheus' text exposition format, as
//! node_exporter's textfile collector reads it, written whole (a temporary file in the same
//! folder, then a rename): a scrape never sees half a file.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use profile_sync::NightReport;

const LAST_SUCCESS: &str = "profiles_sync_last_success_timestamp_seconds";

/// A label value as the format writes it: `\\`, `\"` and `\n` escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes the metrics of one night of `vendor`'s `scope` that exits with `code`.
pub(crate) fn write(
    path: &Path,
    vendor: &str,
    scope: &str,
    report: &NightReport,
    code: u8,
) -> std::io::Result<()> {
    let labels = format!("vendor=\"{}\",scope=\"{}\"", label(vendor), label(scope));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let s = &report.summary;
    let mut text = String::new();
    let mut metric = |name: &str, help: &str, values: &[(&str, f64)]| {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} gauge");
        for (extra, value) in values {
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!(",{extra}")
            };
            let _ = writeln!(text, "{name}{{{labels}{extra}}} {value}");
        }
    };
    let rows: Vec<(String, u64)> = [
        ("created", s.created),
        ("updated", s.updated),
        ("unchanged", s.unchanged),
        ("failed", s.failed),
        ("unknown", s.unknown),
        ("malformed", s.malformed),
        ("missing", s.missing),
        ("superseded", s.superseded),
        ("out_of_scope", s.out_of_scope),
        ("would_create", s.would_create),
        ("would_update", s.would_update),
    ]
    .into_iter()
    .map(|(outcome, n)| (format!("outcome=\"{outcome}\""), n))
    .collect();
    let rows: Vec<(&str, f64)> = rows.iter().map(|(l, n)| (l.as_str(), *n as f64)).collect();
    metric(
        "profiles_sync_rows",
        "Rows of the last sync, by outcome.",
        &rows,
    );
    metric(
        "profiles_sync_rows_total",
        "Rows the last sync read.",
        &[("", s.rows as f64)],
    );
    metric(
        "profiles_sync_requests",
        "Requests the last sync sent to the vendor.",
        &[("", report.requests.unwrap_or(0) as f64)],
    );
    metric(
        "profiles_sync_duration_seconds",
        "How long the last sync took.",
        &[("", s.elapsed.as_secs_f64())],
    );
    let held = report
        .leavers_held
        .as_ref()
        .map_or(0, |guard| guard.leavers);
    metric(
        "profiles_sync_leavers",
        "Leavers of the last sync, by what was done to them.",
        &[
            ("action=\"deleted\"", s.deleted as f64),
            ("action=\"retired\"", s.retired as f64),
            ("action=\"gone\"", s.gone as f64),
            ("action=\"held\"", held as f64),
        ],
    );
    metric(
        "profiles_sync_dry_run",
        "Whether the last sync was a dry run (1) or not (0).",
        &[("", if report.dry_run { 1.0 } else { 0.0 })],
    );
    metric(
        "profiles_sync_exit_code",
        "The last sync's exit code: 0 when every row succeeded.",
        &[("", f64::from(code))],
    );
    metric(
        "profiles_sync_last_run_timestamp_seconds",
        "When the last sync ended (Unix time).",
        &[("", now)],
    );
    // A night that did not succeed keeps the last success it had.
    let last_success = if code == 0 && !report.dry_run {
        Some(now)
    } else {
        earlier_success(path, &labels)
    };
    if let Some(at) = last_success {
        metric(
            LAST_SUCCESS,
            "When a sync of this scope last ended with exit code 0 (Unix time).",
            &[("", at)],
        );
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "metrics.prom".into());
    let temporary = folder
        .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf)
        .join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// The last success the file held for these labels, if it did.
fn earlier_success(path: &Path, labels: &str) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let prefix = format!("{LAST_SUCCESS}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok())
}
