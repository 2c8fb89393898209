//! A night you can look at: the report page in a real browser, the metrics file, and the
//! documented SQL queries, against the emulators.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::sync::{SUNSHINE_MAP, dir, env_refs, report, sunshine_env, sunshine_with_riders, sync};

/// Debian's chromium, headless, as the CI machine runs it (installed by `.ci/run`).
fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    let binary = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("no chromium: install it with `apt-get install -y chromium` (.ci/run does)");
    Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

/// Where CI keeps what a test leaves to look at.
fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Three nights of Sunshine riders: one that writes, a dry run, and one with a refused row
/// and a key holding markup.
async fn three_nights() -> (
    PathBuf,
    PathBuf,
    profile_emulator::sunshine::SunshineEmulator,
) {
    let emulator = sunshine_with_riders(6).await;
    let dir = dir();
    let (input, state) = (dir.join("riders.csv"), dir.join("state.db"));
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    let (input_text, state_text) = (input.to_str().unwrap(), state.to_str().unwrap());
    args.extend(["--input", input_text, "--state", state_text, "--rate", "0"]);
    crate::sync::riders_csv(&input, 6);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let mut dry = args.clone();
    dry.push("--dry-run");
    let (code, _, stderr) = sync(&dry, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    std::fs::write(
        &input,
        "email,saddle,tags\nrider0@example.com,90cm,\nrider1@example.com,91cm,not-a-list\n<script>alert(1)</script>@example.com,80cm,\n",
    )
    .unwrap();
    let mut third = args.clone();
    third.extend(["--map", "tags=identifiers"]);
    let (code, _, stderr) = sync(&third, &env_refs(&env)).await;
    assert_eq!(code, 1, "rider1's row is refused: {stderr}");
    (dir, state, emulator)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_page_shows_each_night_in_a_real_browser_and_escapes_the_state() {
    let (dir, state, _emulator) = three_nights().await;
    let page = dir.join("nights.html");
    let output = tokio::process::Command::new(crate::PROFILES)
        .args(["report", "--state", state.to_str().unwrap(), "--out"])
        .arg(&page)
        .args(["--runs", "10"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("(1 scope(s), 3 run(s))"), "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing from the network, no script.
    for banned in ["<script", "http://", "https://", "<link", "@import", "url("] {
        let outside_text = html.replace("http://127.0.0.1", "");
        assert!(!outside_text.contains(banned), "the page holds {banned}");
    }
    let url = format!("file://{}", page.display());
    let profile = dir.join("chromium");
    let dom = chromium(&["--dump-dom", &url], &profile);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(dom.contains("<h1>The nights of"), "{dom}");
    // One chart mark per night that changed something: the dry run is left out of it.
    assert_eq!(dom.matches("<g class=\"night\"").count(), 2, "{dom}");
    // The nights' counts, newest first: the third night updated rider0, the first wrote all
    // 6 riders (a first night writes first: it cannot tell unchanged from updated).
    assert!(
        dom.contains("<td class=\"n updated-count\">6</td>"),
        "{dom}"
    );
    assert!(
        dom.contains("<td class=\"n updated-count\">1</td>"),
        "{dom}"
    );
    assert!(dom.contains("dry run</span>"), "{dom}");
    // The latest night's refused row with its reason; the key holding markup as text.
    assert!(
        dom.contains("must be an array of {type, value} objects"),
        "{dom}"
    );
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;@example.com"),
        "{dom}"
    );
    assert!(!dom.contains("<script>alert(1)"), "{dom}");
    // Screenshots at 1280 px and a phone's width, kept as CI artefacts.
    for (name, size) in [("report.png", "1280,1000"), ("report-phone.png", "390,844")] {
        let shot = artefacts().join(name);
        let _ = std::fs::remove_file(&shot);
        let out = chromium(
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("--window-size={size}"),
                &url,
            ],
            &profile,
        );
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 10_000,
            "{name}: {size} bytes; {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One metric sample line: `name{labels} value`, as the exposition format has it.
fn sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let (head, value) = line.rsplit_once(' ').expect("a value");
    let value: f64 = value.parse().expect("a number");
    let (name, labels) = match head.split_once('{') {
        Some((name, rest)) => (name, rest.strip_suffix('}').expect("labels end with }")),
        None => (head, ""),
    };
    assert!(
        name.chars().enumerate().all(|(i, c)| c == '_'
            || c == ':'
            || c.is_ascii_alphabetic()
            || (i > 0 && c.is_ascii_digit())),
        "{name}"
    );
    let mut pairs = Vec::new();
    let mut rest = labels;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
        assert!(
            key.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()),
            "{key}"
        );
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("a closed label value") {
                (_, '\\') => value.push(chars.next().expect("an escape").1),
                (at, '"') => break at,
                (_, c) => value.push(c),
            }
        };
        pairs.push((key.to_owned(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    (name.to_owned(), pairs, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_file_is_valid_exposition_format_and_counts_the_night() {
    let emulator = sunshine_with_riders(6).await;
    let dir = dir();
    let (input, metrics, report_path) = (
        dir.join("riders.csv"),
        dir.join("profiles.prom"),
        dir.join("report.json"),
    );
    crate::sync::riders_csv(&input, 8);
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--metrics",
        metrics.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
        "--rate",
        "0",
    ]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let summary = report(&report_path)["summary"].clone();
    let requests = report(&report_path)["requests"].as_u64().unwrap();
    let text = std::fs::read_to_string(&metrics).unwrap();
    let mut samples = Vec::new();
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge");
            typed.insert(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(
                rest.split_once(' ')
                    .is_some_and(|(_, help)| !help.is_empty())
            );
        } else {
            let (name, labels, value) = sample(line);
            assert!(typed.contains(&name), "{name} has no TYPE line before it");
            assert_eq!(labels[0], ("vendor".to_owned(), "sunshine".to_owned()));
            assert_eq!(labels[1].0, "scope");
            samples.push((name, labels, value));
        }
    }
    let get = |name: &str, extra: Option<(&str, &str)>| {
        samples
            .iter()
            .find(|(n, labels, _)| {
                n == name
                    && extra.is_none_or(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
            .unwrap_or_else(|| panic!("no {name} {extra:?} in\n{text}"))
    };
    for outcome in ["updated", "unchanged", "missing", "failed"] {
        assert_eq!(
            get("profiles_sync_rows", Some(("outcome", outcome))),
            summary[outcome].as_f64().unwrap(),
            "{outcome}"
        );
    }
    assert_eq!(get("profiles_sync_rows_total", None), 8.0);
    assert_eq!(get("profiles_sync_requests", None), requests as f64);
    assert_eq!(get("profiles_sync_exit_code", None), 0.0);
    let success = get("profiles_sync_last_success_timestamp_seconds", None);
    assert!(success > 1.7e9, "{success}");
    // A night that fails keeps the last success, and says its exit code.
    std::fs::write(
        &input,
        "email,saddle\nrider0@example.com,85cm\nrider\u{1b}1@example.com,85cm\n",
    )
    .unwrap();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains(
            "profiles_sync_exit_code{vendor=\"sunshine\",scope=\"source=coolbikes;type=rider\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains(&format!("profiles_sync_last_success_timestamp_seconds{{vendor=\"sunshine\",scope=\"source=coolbikes;type=rider\"}} {success}")), "{text}");
    // Written whole: no temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The queries of docs/cli.md's code blocks fenced as `fence` (`sql` for SQLite's,
/// `postgresql` for psql's), one per statement.
pub(crate) fn documented_queries(fence: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md"))
            .unwrap();
    let mut queries = Vec::new();
    for block in text.split(&format!("```{fence}\n")).skip(1) {
        let block = block.split("```").next().unwrap();
        for query in block.split(';') {
            let query: String = query
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            if !query.trim().is_empty() {
                queries.push(query);
            }
        }
    }
    queries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_queries_name_the_vendor_and_scope_and_skip_dry_runs() {
    let (_dir, state, _emulator) = three_nights().await;
    let queries = documented_queries("sql");
    assert_eq!(queries.len(), 3, "{queries:?}");
    let db = rusqlite::Connection::open(&state).unwrap();
    for query in &queries {
        let mut statement = db.prepare(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let columns: Vec<String> = statement
            .column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(&columns[..2], ["vendor", "scope"], "{query}");
        let rows: Vec<Vec<Value>> = statement
            .query_map([], |row| {
                (0..columns.len())
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(n) => n.into(),
                            rusqlite::types::ValueRef::Real(x) => x.into(),
                            rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                            rusqlite::types::ValueRef::Blob(_) => Value::Null,
                        })
                    })
                    .collect()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!rows.is_empty(), "{query}: no rows");
        assert_eq!(rows[0][0], "sunshine", "{query}");
    }
    // The first query's "last night" is the third, not the dry run after the first.
    let failed: Vec<String> = db
        .prepare(&queries[0])
        .unwrap()
        .query_map([], |row| row.get::<_, String>(2))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(failed, ["rider1@example.com"], "{failed:?}");
}
