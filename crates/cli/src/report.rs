//! `profiles report`: one self-contained HTML page of the nights a state database holds,
//! per scope (inline CSS and SVG; no script, no font, nothing from the network), rendered
//! with an escaping template: a value in the state never becomes markup.

use std::collections::BTreeMap;
use std::path::Path;

use profile_sync::store::{RowRecord, RunRecord};
use serde::Serialize;
use serde_json::Value;

use crate::error::CliError;

const TEMPLATE: &str = include_str!("report.html");
const CHART_HEIGHT: f64 = 200.0;
const BAR: f64 = 24.0;
const GAP: f64 = 12.0;

#[derive(Serialize)]
struct Page {
    state: String,
    generated: String,
    version: &'static str,
    runs: usize,
    scopes: Vec<ScopePage>,
}

#[derive(Serialize)]
struct ScopePage {
    vendor: String,
    base_url: String,
    name: String,
    key_kind: String,
    nights: Vec<Night>,
    chart: Chart,
    latest: Option<Latest>,
    hold: Option<Hold>,
}

#[derive(Serialize)]
struct Night {
    run: i64,
    started: String,
    took: String,
    dry_run: bool,
    status: String,
    stop_reason: String,
    created: u64,
    updated: u64,
    unchanged: u64,
    failed: u64,
    retired: u64,
    drifted: u64,
    requests: String,
}

#[derive(Serialize, Default)]
struct Chart {
    width: f64,
    height: f64,
    bars: Vec<Bar>,
}

#[derive(Serialize)]
struct Bar {
    run: i64,
    x: f64,
    width: f64,
    label: String,
    segments: Vec<Segment>,
}

#[derive(Serialize)]
struct Segment {
    class: &'static str,
    y: f64,
    height: f64,
    title: String,
}

#[derive(Serialize)]
struct Latest {
    run: i64,
    failures: Vec<Row>,
    fields: Vec<FieldCount>,
    leavers: Vec<Row>,
    drift: Vec<Row>,
}

#[derive(Serialize)]
struct Row {
    line: u64,
    key: String,
    outcome: &'static str,
    code: String,
    detail: String,
}

#[derive(Serialize)]
struct FieldCount {
    name: String,
    count: u64,
}

#[derive(Serialize)]
struct Hold {
    count: usize,
    at: String,
    approved: bool,
    keys: Vec<String>,
}

fn count(summary: &Value, names: &[&str]) -> u64 {
    names
        .iter()
        .map(|name| summary.get(*name).and_then(Value::as_u64).unwrap_or(0))
        .sum()
}

impl Night {
    fn of(run: &RunRecord) -> Self {
        let summary = run.summary.clone().unwrap_or(Value::Null);
        let took = summary
            .get("elapsed")
            .and_then(Value::as_f64)
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s"));
        Self {
            run: run.id.0,
            started: run.started_at.clone(),
            took,
            dry_run: run.dry_run(),
            status: run.status.clone(),
            stop_reason: run.stop_reason.clone().unwrap_or_default(),
            created: count(&summary, &["created"]),
            updated: count(&summary, &["updated"]),
            unchanged: count(&summary, &["unchanged"]),
            failed: count(&summary, &["failed", "unknown", "malformed"]),
            retired: count(&summary, &["deleted", "retired", "gone"]),
            drifted: count(&summary, &["drifted"]),
            requests: summary
                .get("requests")
                .and_then(Value::as_u64)
                .map_or_else(|| "-".to_owned(), |n| n.to_string()),
        }
    }
}

/// The chart of the nights that changed something (not the dry runs), oldest first.
fn chart(nights: &[Night]) -> Chart {
    let real: Vec<&Night> = nights.iter().rev().filter(|n| !n.dry_run).collect();
    let total = |n: &Night| n.created + n.updated + n.unchanged + n.failed + n.retired;
    let most = real.iter().map(|n| total(n)).max().unwrap_or(0).max(1) as f64;
    let bars = real
        .iter()
        .enumerate()
        .map(|(index, night)| {
            let x = GAP + index as f64 * (BAR + GAP);
            let mut y = CHART_HEIGHT;
            let mut segments = Vec::new();
            for (class, value) in [
                ("unchanged", night.unchanged),
                ("updated", night.updated),
                ("created", night.created),
                ("retired", night.retired),
                ("failed", night.failed),
            ] {
                if value == 0 {
                    continue;
                }
                let height = (value as f64 / most * CHART_HEIGHT).max(1.0);
                y -= height;
                segments.push(Segment {
                    class,
                    y: (y * 10.0).round() / 10.0,
                    height: (height * 10.0).round() / 10.0,
                    title: format!("{value} {class}"),
                });
            }
            Bar {
                run: night.run,
                x,
                width: BAR,
                label: format!(
                    "run #{}, {}: {} created, {} updated, {} unchanged, {} failed, {} retired, {} requests",
                    night.run,
                    night.started,
                    night.created,
                    night.updated,
                    night.unchanged,
                    night.failed,
                    night.retired,
                    night.requests
                ),
                segments,
            }
        })
        .collect::<Vec<_>>();
    Chart {
        width: (GAP + bars.len() as f64 * (BAR + GAP)).max(200.0),
        height: CHART_HEIGHT,
        bars,
    }
}

/// `profiles report --state FILE --out PAGE.html [--runs N]`.
pub(crate) async fn run(state: &Path, out: &Path, runs: usize) -> Result<(), CliError> {
    let store = crate::sync::open_existing_state(state).await?;
    let failed = |e: profile_sync::store::StateError| CliError::Failed(e.to_string());
    let history = store.history(runs.max(1)).await.map_err(failed)?;
    let mut scopes = Vec::with_capacity(history.len());
    let mut total_nights = 0;
    for scope in history {
        let nights: Vec<Night> = scope.runs.iter().map(Night::of).collect();
        total_nights += nights.len();
        let latest = match scope.runs.iter().find(|run| !run.dry_run()) {
            Some(run) => {
                let chain = store.run_chain(run.id).await.map_err(failed)?;
                let rows = store.run_rows(&chain).await.map_err(failed)?;
                Some(latest(run.id.0, &rows))
            }
            None => None,
        };
        let hold = store
            .leaver_hold(scope.id)
            .await
            .map_err(failed)?
            .map(|hold| Hold {
                count: hold.keys.len(),
                at: hold.at,
                approved: hold.approved,
                keys: hold.keys,
            });
        scopes.push(ScopePage {
            vendor: scope.scope.vendor,
            base_url: scope.scope.base_url,
            name: scope.scope.name,
            key_kind: scope.scope.key_kind,
            chart: chart(&nights),
            nights,
            latest,
            hold,
        });
    }
    let page = Page {
        // The store in words: a PostgreSQL URL's password is never shown.
        state: store.describe(),
        generated: profile_sync::store::now(),
        version: env!("CARGO_PKG_VERSION"),
        runs,
        scopes,
    };
    let html = render(&page)?;
    crate::sync::write_private(out, html.as_bytes())
        .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", out.display())))?;
    crate::note!(
        "report: wrote {} ({} scope(s), {total_nights} run(s))",
        out.display(),
        page.scopes.len()
    );
    Ok(())
}

fn latest(run: i64, rows: &[profile_sync::store::RunRow]) -> Latest {
    let view = |row: &profile_sync::store::RunRow| Row {
        line: row.line,
        key: row.key.clone(),
        outcome: row.outcome.as_str(),
        code: row.code.clone().unwrap_or_default(),
        detail: row.detail.clone().unwrap_or_default(),
    };
    let mut fields: BTreeMap<String, u64> = BTreeMap::new();
    for row in rows {
        if matches!(row.outcome, RowRecord::Updated | RowRecord::Created) {
            for field in row.detail.as_deref().unwrap_or("").split(", ") {
                if !field.is_empty() {
                    *fields.entry(field.to_owned()).or_default() += 1;
                }
            }
        }
    }
    let mut fields: Vec<FieldCount> = fields
        .into_iter()
        .map(|(name, count)| FieldCount { name, count })
        .collect();
    fields.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    Latest {
        run,
        failures: rows
            .iter()
            .filter(|r| r.outcome.is_failure() || r.outcome == RowRecord::Missing)
            .map(view)
            .collect(),
        fields,
        leavers: rows
            .iter()
            .filter(|r| matches!(r.outcome, RowRecord::Deleted | RowRecord::Retired))
            .map(view)
            .collect(),
        drift: rows
            .iter()
            .filter(|r| matches!(r.outcome, RowRecord::Drift | RowRecord::Corrected))
            .map(view)
            .collect(),
    }
}

fn render(page: &Page) -> Result<String, CliError> {
    let mut env = minijinja::Environment::new();
    // The name ends in .html: every value is escaped.
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| CliError::Failed(format!("the report's template: {e}")))?;
    env.get_template("report.html")
        .and_then(|template| template.render(minijinja::value::Serde(page)))
        .map_err(|e| CliError::Failed(format!("cannot render the report: {e}")))
}
