//! `profile-bench`: how fast profile-toolkit is, against the limit, in one run. Run it with
//! `cargo xtask bench` (release build, full sizes) or `cargo xtask bench --smoke`.
//!
//! `--only overhead,bulk` runs some of the benchmarks. `--profile-sdk VENDOR N [--bare]`
//! runs only the SDK's (or the bare client's) update loop, set up as the overhead benchmark
//! is (for callgrind: the difference of the two counts is what the SDK adds).
//! `--bulk-rows N` shrinks the bulk benchmark to one round of N rows, and
//! `PROFILE_BENCH_WRAP="valgrind --tool=callgrind"` runs its two children (the `profiles
//! sync` and the bare loop) under that command. The bare loop is the binary
//! `profile-bench-ceiling`, built beside this one: it runs on the allocator `profiles` runs
//! with, where the rest of the bench (its emulators, its memory children) keeps the system's.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod measure;
mod raw;
mod vendors;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use measure::{Result, children_cpu_time, cpu_time, peak_rss_kib, print_table, thread_cpu_time};
use profile_core::RateLimit;
use serde_json::{Value, json};
use vendors::{VENDORS, email, emulator, row_requests, single_update, sync_setup};

/// How big each benchmark is.
struct Sizes {
    sequential: usize,
    bulk_rows: usize,
    bulk_rounds: usize,
    concurrency: usize,
    polite_per_minute: u32,
    polite_requests: usize,
    /// Zendesk plan limits to hold (requests a minute), each with its requests: more than
    /// the limit, so that the run crosses a window.
    plans: [(u32, usize); 2],
    stream_users: [u64; 2],
    sync_rows: [usize; 2],
    capacity: Duration,
    /// Users per vendor in the nights with a state database, and the emulator's limit on
    /// the second night (requests a minute).
    night_users: usize,
    night_limit: u32,
}

const FULL: Sizes = Sizes {
    sequential: 5_000,
    bulk_rows: 20_000,
    bulk_rounds: 5,
    concurrency: 32,
    polite_per_minute: 1_200,
    polite_requests: 1_500,
    plans: [(250, 300), (1_000, 1_100)],
    stream_users: [100_000, 1_000_000],
    sync_rows: [100_000, 1_000_000],
    capacity: Duration::from_secs(5),
    night_users: 20_000,
    night_limit: 700,
};

const SMOKE: Sizes = Sizes {
    sequential: 200,
    bulk_rows: 300,
    bulk_rounds: 1,
    concurrency: 8,
    polite_per_minute: 6_000,
    polite_requests: 100,
    plans: [(6_000, 60), (12_000, 60)],
    stream_users: [2_000, 20_000],
    sync_rows: [500, 2_000],
    capacity: Duration::from_millis(500),
    night_users: 500,
    night_limit: 6_000,
};

fn profiles_binary() -> PathBuf {
    sibling_binary("profiles")
}

/// A binary built beside this one (`profiles`, or the bare loop `profile-bench-ceiling`).
fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the bench's own path");
    exe.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A bulk benchmark's child process; with `PROFILE_BENCH_WRAP` set (say to
/// `valgrind --tool=callgrind`), run under that command, to count where each child's
/// instructions go.
fn child_command(program: PathBuf) -> tokio::process::Command {
    let wrapper = std::env::var("PROFILE_BENCH_WRAP").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    match words.next() {
        Some(first) => {
            let mut command = tokio::process::Command::new(first);
            command.args(words).arg(program);
            command
        }
        None => tokio::process::Command::new(program),
    }
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("profile-bench-{}-{name}", std::process::id()))
}

/// Where a benchmark's night keeps its state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Store {
    /// A SQLite file in the temporary folder.
    Sqlite,
    /// A schema of its own on the server `PROFILES_TEST_POSTGRES` names (`cargo xtask
    /// bench` sets it).
    Postgres,
}

impl Store {
    /// The `--state` value of a state named `name`, new and empty.
    async fn fresh(self, name: &str) -> std::ffi::OsString {
        match self {
            Store::Sqlite => {
                let path = temp_file(&format!("{name}.db"));
                remove_state(&path);
                path.into_os_string()
            }
            Store::Postgres => {
                let schema = pg_schema(name);
                drop_schema(&schema).await;
                let url = pg_url();
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}schema={schema}").into()
            }
        }
    }

    /// Removes the state `fresh(name)` made.
    async fn remove(self, name: &str) {
        match self {
            Store::Sqlite => remove_state(&temp_file(&format!("{name}.db"))),
            Store::Postgres => drop_schema(&pg_schema(name)).await,
        }
    }

    /// How a result names it: nothing for SQLite, the default.
    fn label(self) -> &'static str {
        match self {
            Store::Sqlite => "",
            Store::Postgres => " (PostgreSQL state)",
        }
    }
}

/// The benchmarks' PostgreSQL server.
fn pg_url() -> String {
    std::env::var("PROFILES_TEST_POSTGRES").expect(
        "PROFILES_TEST_POSTGRES names the PostgreSQL server of the benchmarks (cargo xtask bench sets it)",
    )
}

fn pg_schema(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("bench_{name}_{}", std::process::id())
}

/// A client of the benchmarks' server, for their own tables.
async fn pg_client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("the benchmarks' PostgreSQL server answers");
    tokio::spawn(connection);
    client
}

async fn drop_schema(schema: &str) {
    pg_client()
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .expect("drop a benchmark's schema");
}

/// An emulator served by a runtime of its own, on a thread of its own, until dropped.
struct EmulatorThread {
    emulator: Option<vendors::Emulator>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmulatorThread {
    fn start(vendor: &'static str, rows: usize) -> Self {
        let (ready, started) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let _ = ready.send(emulator(vendor, rows).await);
                let _ = stopped.await;
            });
        });
        Self {
            emulator: Some(started.recv().expect("the emulator starts")),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn emulator(&self) -> &vendors::Emulator {
        self.emulator.as_ref().expect("running")
    }
}

impl Drop for EmulatorThread {
    fn drop(&mut self) {
        drop(self.emulator.take());
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// 1. The SDK's cost over a bare reqwest loop sending the same bytes, sequentially.
///
/// The emulator runs on one thread and the client loops on another, each on a runtime of
/// its own, so that every request of either loop crosses between the same two threads.
/// (On one shared runtime, where the emulator's connection task of each loop happened to
/// land decided more of the ratio, from run to run, than the SDK did.)
fn overhead(vendor: &'static str, n: usize, results: &mut Vec<Result>) {
    let server = EmulatorThread::start(vendor, 1);
    let mut measured = Vec::new();
    on_client_thread(overhead_loops(vendor, n, server.emulator(), &mut measured));
    results.extend(measured);
}

/// Runs `work` to completion on a thread of its own, with a single-threaded runtime of its
/// own (the client side of the sequential loops).
fn on_client_thread<T: Send>(work: impl std::future::Future<Output = T> + Send) -> T {
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime")
                        .block_on(work)
                })
                .join()
                .expect("the client thread finishes")
        })
    })
}

/// The bare loop's update, called the way the SDK's is ([`single_update`]): through a
/// boxed closure that clones a shared handle and returns a boxed future. The harness then
/// costs both sides the same, and the ratio measures the SDK alone.
fn bare_call(raw: vendors::RawRequest) -> vendors::UpdateCall {
    bare_loop_call(raw, false)
}

/// The bare loop's update, and its answer decoded into a `serde_json::Value`, as
/// hand-written code that uses the answer does: a comparison for context, not the goal's.
fn bare_decoding_call(raw: vendors::RawRequest) -> vendors::UpdateCall {
    bare_loop_call(raw, true)
}

fn bare_loop_call(raw: vendors::RawRequest, decode: bool) -> vendors::UpdateCall {
    let inputs = Arc::new((reqwest::Client::new(), raw));
    Box::new(move || {
        let inputs = Arc::clone(&inputs);
        Box::pin(async move {
            let (client, raw) = &*inputs;
            if decode {
                raw.send_decoding(client).await
            } else {
                raw.send(client).await
            }
        })
    })
}

/// Rounds of the overhead benchmark (each loop runs `n / ROUNDS` updates a round).
const ROUNDS: usize = 10;

/// What a loop of calls took.
#[derive(Clone, Copy, Default)]
struct Timed {
    /// Wall time.
    wall: Duration,
    /// The process's CPU time: the client's and the emulator's.
    cpu: Duration,
    /// The client thread's CPU time alone.
    client_cpu: Duration,
}

impl std::ops::Add for Timed {
    type Output = Timed;

    fn add(self, other: Timed) -> Timed {
        Timed {
            wall: self.wall + other.wall,
            cpu: self.cpu + other.cpu,
            client_cpu: self.client_cpu + other.client_cpu,
        }
    }
}

/// Time and CPU time of `n` calls of `call` (run on the client thread).
async fn timed(call: &vendors::UpdateCall, n: usize, what: &str) -> Timed {
    let (cpu, client_cpu, started) = (cpu_time(), thread_cpu_time(), Instant::now());
    for _ in 0..n {
        assert!(call().await, "{what}: an update failed");
    }
    Timed {
        wall: started.elapsed(),
        cpu: cpu_time() - cpu,
        client_cpu: thread_cpu_time() - client_cpu,
    }
}

/// The two loops' times, totals and the median of the rounds' ratios `a / b`.
struct Paired {
    ratio: f64,
    per_round: usize,
    a: Timed,
    b: Timed,
}

/// Runs `a` and `b` in alternating rounds, so that drift of the machine hits both alike,
/// and in turns (`a` first in even rounds, `b` first in odd ones), so that neither gains
/// from always coming first or second; the ratio is the median of the rounds'.
async fn paired(a: &vendors::UpdateCall, b: &vendors::UpdateCall, n: usize, what: &str) -> Paired {
    let per_round = (n / ROUNDS).max(1);
    let (mut total_a, mut total_b) = (Timed::default(), Timed::default());
    let mut ratios = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let (ta, tb) = if round % 2 == 0 {
            let ta = timed(a, per_round, what).await;
            (ta, timed(b, per_round, what).await)
        } else {
            let tb = timed(b, per_round, what).await;
            (timed(a, per_round, what).await, tb)
        };
        ratios.push(ta.wall.as_secs_f64() / tb.wall.as_secs_f64());
        total_a = total_a + ta;
        total_b = total_b + tb;
    }
    Paired {
        ratio: median(ratios),
        per_round,
        a: total_a,
        b: total_b,
    }
}

async fn overhead_loops(
    vendor: &str,
    n: usize,
    emulator: &vendors::Emulator,
    results: &mut Vec<Result>,
) {
    let (call, raw) = single_update(vendor, emulator).await;
    let bare = bare_call(raw.clone());
    for _ in 0..50 {
        assert!(call().await && bare().await, "{vendor}: warm-up failed");
    }
    let measured = paired(&call, &bare, n, vendor).await;
    let n = measured.per_round * ROUNDS;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    results.push(
        Result::new(
            "overhead",
            format!("{vendor}: SDK / bare, {n} sequential (median of {ROUNDS})"),
            measured.ratio,
            "ratio",
        )
        .goal("<= 1.10"),
    );
    let rows = [
        ("SDK time per update", measured.a.wall),
        ("bare time per update", measured.b.wall),
        ("SDK CPU per update (+emulator)", measured.a.cpu),
        ("bare CPU per update (+emulator)", measured.b.cpu),
        ("SDK client-thread CPU per update", measured.a.client_cpu),
        ("bare client-thread CPU per update", measured.b.client_cpu),
    ];
    for (name, value) in rows {
        results.push(Result::new(
            "overhead",
            format!("{vendor}: {name}"),
            per(value),
            "µs",
        ));
    }
    // For context, not the goal: the SDK against bare code that also decodes the answer
    // it gets (the SDK returns it decoded), so that what is left is the SDK's own cost.
    let decoding = bare_decoding_call(raw.clone());
    let against_decoding = paired(&call, &decoding, n, vendor).await;
    results.push(Result::new(
        "overhead",
        format!("{vendor}: SDK / bare decoding the answer (median of {ROUNDS})"),
        against_decoding.ratio,
        "ratio",
    ));
    // The method checked (A/A): each loop against a second one of its own kind, measured
    // the same way. An unbiased method gives ratios near 1; how far they stray is the noise
    // of one run.
    let (second_sdk, _) = single_update(vendor, emulator).await;
    let second_bare = bare_call(raw);
    for (name, a, b) in [
        ("bare / bare", &bare, &second_bare),
        ("SDK / SDK", &call, &second_sdk),
    ] {
        let checked = paired(a, b, n, vendor).await;
        results.push(Result::new(
            "overhead",
            format!("{vendor}: method check, {name} (median of {ROUNDS})"),
            checked.ratio,
            "ratio",
        ));
    }
}

fn write_csv(vendor: &str, rows: usize, value: &str) -> PathBuf {
    use std::io::Write;
    let path = temp_file(&format!("{vendor}-{rows}.csv"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("a temporary file"));
    writeln!(file, "email,value").expect("write");
    for i in 0..rows {
        writeln!(file, "{},{value}", email(vendor, i)).expect("write");
    }
    path
}

/// 2. `profiles sync` against a bare concurrent loop doing the same read and write per row.
///
/// Both run in a child process (the same two processes, client and emulator, sharing the
/// same two cores), `rounds` times, each against a fresh emulator. A round runs the bare
/// loop on one thread (as `profiles sync` runs) before and after each sync (without a
/// state, with SQLite, with PostgreSQL), so that each sync is compared with the two
/// ceilings measured next to it (their mean): the machine's speed drifts by tens of
/// percent within a minute, and a ceiling measured seconds later is another machine. The
/// bare loop also runs once a round on tokio's multi-thread runtime; the ceiling is the
/// faster of the two. The ratio is the median of the rounds' ratios, the other numbers the
/// rounds' medians.
async fn bulk(
    vendor: &str,
    rows: usize,
    concurrency: usize,
    rounds: usize,
    results: &mut Vec<Result>,
) {
    let (mut sync_rates, mut ceiling_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sync_cpus, mut ceiling_cpus) = (Vec::new(), Vec::new());
    let (mut threaded_rates, mut state_rates, mut state_ratios) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut pg_rates, mut pg_ratios) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        // Ceiling, sync, ceiling, sync with SQLite, ceiling, sync with PostgreSQL, ceiling.
        let (first_ceiling, ceiling_cpu) =
            bulk_ceiling(vendor, rows, concurrency, "one-thread").await;
        let (sync_rate, sync_cpu) = bulk_sync(vendor, rows, concurrency, None).await;
        let (second_ceiling, _) = bulk_ceiling(vendor, rows, concurrency, "one-thread").await;
        let (state_rate, _) = bulk_sync(vendor, rows, concurrency, Some(Store::Sqlite)).await;
        let (third_ceiling, _) = bulk_ceiling(vendor, rows, concurrency, "one-thread").await;
        let (pg_rate, _) = bulk_sync(vendor, rows, concurrency, Some(Store::Postgres)).await;
        let (fourth_ceiling, _) = bulk_ceiling(vendor, rows, concurrency, "one-thread").await;
        let (threaded_rate, _) = bulk_ceiling(vendor, rows, concurrency, "multi-thread").await;
        // Each sync against the ceilings on either side of it, or the multi-thread runtime
        // if it was faster.
        let beside = |before: f64, after: f64| f64::max((before + after) / 2.0, threaded_rate);
        ratios.push(sync_rate / beside(first_ceiling, second_ceiling));
        state_ratios.push(state_rate / beside(second_ceiling, third_ceiling));
        state_rates.push(state_rate);
        pg_ratios.push(pg_rate / beside(third_ceiling, fourth_ceiling));
        pg_rates.push(pg_rate);
        sync_rates.push(sync_rate);
        ceiling_rates.push((first_ceiling + second_ceiling) / 2.0);
        threaded_rates.push(threaded_rate);
        sync_cpus.push(sync_cpu);
        ceiling_cpus.push(ceiling_cpu);
    }
    results.push(Result::new(
        "bulk",
        format!("{vendor}: profiles sync, {rows} rows, c={concurrency}"),
        median(sync_rates),
        "updates/s",
    ));
    results.push(Result::new(
        "bulk",
        format!("{vendor}: bare read+write loop, c={concurrency}, one thread"),
        median(ceiling_rates),
        "updates/s",
    ));
    results.push(Result::new(
        "bulk",
        format!("{vendor}: the same, tokio multi-thread runtime"),
        median(threaded_rates),
        "updates/s",
    ));
    results.push(Result::new(
        "bulk",
        format!("{vendor}: profiles sync CPU per row"),
        median(sync_cpus),
        "µs",
    ));
    results.push(Result::new(
        "bulk",
        format!("{vendor}: bare loop CPU per row, one thread"),
        median(ceiling_cpus),
        "µs",
    ));
    results.push(
        Result::new(
            "bulk",
            format!("{vendor}: sync / ceiling{}", rounds_note(&ratios)),
            median(ratios),
            "ratio",
        )
        .goal(">= 0.80"),
    );
    results.push(Result::new(
        "bulk",
        format!("{vendor}: profiles sync --state (first night), {rows} rows"),
        median(state_rates),
        "updates/s",
    ));
    results.push(
        Result::new(
            "bulk",
            format!(
                "{vendor}: sync --state / ceiling{}",
                rounds_note(&state_ratios)
            ),
            median(state_ratios),
            "ratio",
        )
        .goal(">= 0.80"),
    );
    results.push(Result::new(
        "bulk",
        format!("{vendor}: profiles sync --state postgres:// (first night), {rows} rows"),
        median(pg_rates),
        "updates/s",
    ));
    results.push(
        Result::new(
            "bulk",
            format!(
                "{vendor}: sync --state postgres:// / ceiling{}",
                rounds_note(&pg_ratios)
            ),
            median(pg_ratios),
            "ratio",
        )
        .goal(">= 0.70"),
    );
}

/// `, median of N (rounds LOW–HIGH)` for more than one round: how far the rounds of one
/// run spread, beside their median.
fn rounds_note(values: &[f64]) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(", median of {} (rounds {low:.2}–{high:.2})", values.len())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// One `profiles sync` of `rows` changing rows (with a new state in `state`, if any):
/// updates a second, and the child's CPU time per row in µs.
async fn bulk_sync(
    vendor: &str,
    rows: usize,
    concurrency: usize,
    state: Option<Store>,
) -> (f64, f64) {
    let emulator = emulator(vendor, rows).await;
    let (env, args, value, _) = sync_setup(vendor, &emulator);
    let input = write_csv(vendor, rows, value);
    let name = format!("bulk-{vendor}");
    let mut state_args: Vec<std::ffi::OsString> = Vec::new();
    if let Some(store) = state {
        state_args.push("--state".into());
        state_args.push(store.fresh(&name).await);
    }
    let (started, children_cpu) = (Instant::now(), children_cpu_time());
    let output = child_command(profiles_binary())
        .args(["sync", "--vendor", vendor, "--input"])
        .arg(&input)
        .args(["--concurrency", &concurrency.to_string(), "--rate", "0"])
        .args(&state_args)
        .args(&args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .output()
        .await
        .expect("profiles sync runs");
    let (sync_time, sync_cpu) = (started.elapsed(), children_cpu_time() - children_cpu);
    assert!(
        output.status.success(),
        "{vendor}: sync failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_file(&input);
    if let Some(store) = state {
        store.remove(&name).await;
    }
    (
        rows as f64 / sync_time.as_secs_f64(),
        sync_cpu.as_secs_f64() * 1e6 / rows as f64,
    )
}

/// The same rows' reads and writes, prebuilt, sent by a bare reqwest loop in a child
/// process on `runtime` (`one-thread` or `multi-thread`): updates a second, and the child's
/// CPU time per row in µs (which also covers reading its prebuilt requests, about what the
/// sync spends reading its CSV).
async fn bulk_ceiling(vendor: &str, rows: usize, concurrency: usize, runtime: &str) -> (f64, f64) {
    let emulator = emulator_for_ceiling(vendor, rows).await;
    let requests_file = temp_file(&format!("{vendor}-ceiling.jsonl"));
    {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(&requests_file).expect("a temporary file"),
        );
        for i in 0..rows {
            let (read, write) = row_requests(vendor, &emulator, i).await;
            writeln!(file, "{}", json!([read.to_json(), write.to_json()])).expect("write");
        }
    }
    let children_cpu = children_cpu_time();
    let output = child_command(sibling_binary("profile-bench-ceiling"))
        .arg(&requests_file)
        .arg(concurrency.to_string())
        .arg(runtime)
        .stderr(Stdio::inherit())
        .output()
        .await
        .expect("the ceiling child runs");
    let ceiling_cpu = children_cpu_time() - children_cpu;
    let _ = std::fs::remove_file(&requests_file);
    let answer: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the child's answer");
    assert_eq!(
        answer["ok"].as_u64(),
        Some(rows as u64),
        "{vendor}: the bare loop failed rows"
    );
    let seconds = answer["seconds"].as_f64().unwrap_or(f64::NAN);
    (
        rows as f64 / seconds,
        ceiling_cpu.as_secs_f64() * 1e6 / rows as f64,
    )
}

async fn emulator_for_ceiling(vendor: &str, rows: usize) -> vendors::Emulator {
    emulator(vendor, rows).await
}

/// 3. The client at the vendor's limit: the share of the limit achieved, and the 429s seen.
async fn politeness(per_minute: u32, requests: usize, results: &mut Vec<Result>) {
    let emulator = emulator("sunshine", 1).await;
    emulator
        .faults()
        .set_rate_limit_per_minute(Some(per_minute));
    let updater = vendors::updater(
        "sunshine",
        &emulator,
        RateLimit::per_minute(per_minute).with_max_in_flight(8),
    )
    .await;
    let (achieved, ok) = read_repeatedly(updater, requests).await;
    results.push(
        Result::new(
            "politeness",
            format!("sunshine: achieved / limit of {per_minute}/min"),
            achieved / f64::from(per_minute),
            "ratio",
        )
        .goal(">= 0.95"),
    );
    results.push(
        Result::new(
            "politeness",
            format!("sunshine: 429s in {requests} requests"),
            emulator.faults().rate_limited_count() as f64,
            "count",
        )
        .goal("0"),
    );
    results.push(
        Result::new(
            "politeness",
            "sunshine: requests lost",
            (requests - ok) as f64,
            "count",
        )
        .goal("0"),
    );
}

/// Reads one Sunshine profile `requests` times, 8 in flight: the requests a minute achieved,
/// and how many succeeded.
async fn read_repeatedly(
    updater: std::sync::Arc<dyn profile_core::ProfileUpdater>,
    requests: usize,
) -> (f64, usize) {
    let user = profile_core::UserRef::email(email("sunshine", 0));
    let started = Instant::now();
    let ok = stream::iter(0..requests)
        .map(|_| {
            let (updater, user) = (updater.clone(), user.clone());
            async move { updater.get(&user).await.is_ok() }
        })
        .buffer_unordered(8)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    // n requests spaced evenly span n - 1 intervals.
    ((requests as f64 - 1.0) / elapsed * 60.0, ok)
}

/// 3b. The client at a Zendesk plan's limit, as a user runs it: the emulator announces and
/// enforces the plan's limit in its headers, the client starts at its default (250 a minute)
/// and follows what Zendesk states.
async fn politeness_at_plan(per_minute: u32, requests: usize, results: &mut Vec<Result>) {
    let config =
        profile_emulator::sunshine::SunshineConfig::default().rate_limit_per_minute(per_minute);
    let emulator = vendors::sunshine_or("sunshine", 1, config).await;
    let vendors::Emulator::Sunshine(sunshine) = &emulator else {
        unreachable!("a Sunshine emulator")
    };
    let limit = RateLimit::per_minute(profile_sunshine::DEFAULT_RATE_LIMIT_PER_MINUTE)
        .following(profile_core::StatedLimit::Adopt)
        .with_max_in_flight(8);
    let updater = vendors::updater("sunshine", &emulator, limit).await;
    let (achieved, ok) = read_repeatedly(updater, requests).await;
    results.push(
        Result::new(
            "politeness",
            format!("sunshine plan of {per_minute}/min, default client: achieved / limit"),
            achieved / f64::from(per_minute),
            "ratio",
        )
        .goal(">= 0.95"),
    );
    results.push(
        Result::new(
            "politeness",
            format!("sunshine plan of {per_minute}/min: 429s, lost in {requests} requests"),
            (sunshine.rate_limited() + (requests - ok) as u64) as f64,
            "count",
        )
        .goal("0"),
    );
}

/// The child process of the memory benchmark: streams every user of a directory.
async fn child_stream_users(base_url: &str) {
    let client = profile_lumapps::LumAppsClient::builder(
        profile_core::BaseUrl::parse(base_url).expect("a base URL"),
        profile_lumapps::LumAppsAuth::token(profile_emulator::lumapps::DEMO_TOKEN),
    )
    .page_size(1_000)
    .build()
    .expect("a client");
    let users = client
        .list_all_users(profile_emulator::lumapps::SEED_DIRECTORY)
        .try_fold(0u64, |n, _| std::future::ready(Ok(n + 1)))
        .await
        .expect("the listing");
    println!(
        "{}",
        json!({"users": users, "peak_rss_kib": peak_rss_kib("self")})
    );
}

/// Runs of the streaming child at each size.
const STREAM_RUNS: usize = 3;

/// 4. Peak resident memory of streaming a directory, and of a dry-run sync, at two sizes.
async fn memory(sizes: &Sizes, results: &mut Vec<Result>) {
    let mut stream_peaks = Vec::new();
    for users in sizes.stream_users {
        let config = profile_emulator::lumapps::LumAppsConfig::default().synthetic_users(users);
        let emulator = profile_emulator::lumapps::LumAppsEmulator::start_with(
            config,
            profile_emulator::loopback(0),
        )
        .await
        .expect("an emulator");
        // A child's peak moves by a megabyte or so from one run to the next (the
        // allocator's arenas, one a worker thread): the median of three.
        let started = Instant::now();
        let mut peaks = Vec::new();
        for _ in 0..STREAM_RUNS {
            let output = tokio::process::Command::new(std::env::current_exe().expect("self"))
                .args(["--child-stream-users", &emulator.base_url()])
                .output()
                .await
                .expect("the child runs");
            let report: serde_json::Value =
                serde_json::from_slice(&output.stdout).expect("the child's report");
            assert_eq!(report["users"].as_u64(), Some(users + 1), "every user once");
            peaks.push(report["peak_rss_kib"].as_u64().unwrap_or(0) as f64 / 1024.0);
        }
        let peak = median(peaks);
        stream_peaks.push(peak);
        results.push(
            Result::new(
                "memory",
                format!("stream {users} LumApps users: peak RSS, median of {STREAM_RUNS}"),
                peak,
                "MiB",
            )
            .goal("< 64"),
        );
        results.push(Result::new(
            "memory",
            format!("stream {users} LumApps users: rate"),
            (users * STREAM_RUNS as u64) as f64 / started.elapsed().as_secs_f64(),
            "users/s",
        ));
    }
    results.push(
        Result::new(
            "memory",
            "stream: large / small peak",
            stream_peaks[1] / stream_peaks[0],
            "ratio",
        )
        .goal("<= 1.10"),
    );

    let mut sync_peaks = Vec::new();
    let mut plain_rate = 0.0;
    for rows in sizes.sync_rows {
        let (peak, rate) = no_change_night(rows, false).await;
        sync_peaks.push(peak);
        plain_rate = rate;
        results.push(
            Result::new(
                "memory",
                format!("no-change night of {rows} rows (--state): peak RSS"),
                peak,
                "MiB",
            )
            .goal("< 64"),
        );
        results.push(Result::new(
            "memory",
            format!("no-change night of {rows} rows (--state): rate"),
            rate,
            "rows/s",
        ));
    }
    results.push(
        Result::new(
            "memory",
            "no-change night: large / small peak",
            sync_peaks[1] / sync_peaks[0],
            "ratio",
        )
        .goal("<= 1.10"),
    );
    // The same night, its rows from a query on PostgreSQL, streamed through a cursor.
    let rows = sizes.sync_rows[1];
    let (peak, rate) = query_night(rows).await;
    results.push(
        Result::new(
            "memory",
            format!("no-change night of {rows} rows from a PostgreSQL query (--state): peak RSS"),
            peak,
            "MiB",
        )
        .goal("< 64"),
    );
    results.push(Result::new(
        "memory",
        format!("no-change night of {rows} rows from a PostgreSQL query (--state): rate"),
        rate,
        "rows/s",
    ));
    // The same night, its three fields computed by templates from the row's columns.
    let rows = sizes.sync_rows[1];
    let (peak, rate) = no_change_night(rows, true).await;
    results.push(
        Result::new(
            "memory",
            format!("no-change night of {rows} rows, 3 computed fields (--state): peak RSS"),
            peak,
            "MiB",
        )
        .goal("< 64"),
    );
    results.push(Result::new(
        "memory",
        format!("no-change night of {rows} rows, 3 computed fields (--state): rate"),
        rate,
        "rows/s",
    ));
    results.push(Result::new(
        "memory",
        "no-change night: 3 computed fields / plain mapping, rows a second",
        rate / plain_rate,
        "ratio",
    ));
}

/// A LumApps night of `rows` rows that changes nothing, after a first night that filled
/// the state: its peak resident memory (MiB) and rows a second. With `computed`, the
/// directory has two more fields and all three are computed by templates.
async fn no_change_night(rows: usize, computed: bool) -> (f64, f64) {
    // Every synthetic user already holds what the export gives: after the first night, a
    // night is rows compared with the state and nothing sent.
    let config = profile_emulator::lumapps::LumAppsConfig::default()
        .synthetic_users(rows as u64)
        .synthetic_title("Engineer")
        .synthetic_extra_fields(if computed { 2 } else { 0 });
    let emulator = profile_emulator::lumapps::LumAppsEmulator::start_with(
        config,
        profile_emulator::loopback(0),
    )
    .await
    .expect("an emulator");
    let input = if computed {
        write_computed_csv(rows)
    } else {
        write_csv("lumapps", rows, "Engineer")
    };
    let state = temp_file(&format!("memory-{rows}-{computed}.db"));
    remove_state(&state);
    let wrapped = vendors::Emulator::LumApps(emulator);
    let night = |state: &Path| {
        let mut command = night_command("lumapps", &wrapped, &input, state, None);
        if computed {
            // The plain mapping's `--map value=Title` gives way to templates.
            let (env, _, _, _) = vendors::sync_setup("lumapps", &wrapped);
            command = tokio::process::Command::new(profiles_binary());
            command
                .args([
                    "sync",
                    "--vendor",
                    "lumapps",
                    "--concurrency",
                    "32",
                    "--rate",
                    "0",
                ])
                .arg("--input")
                .arg(&input)
                .arg("--state")
                .arg(state)
                .args(["--directory", profile_emulator::lumapps::SEED_DIRECTORY])
                .args(["--compute", "Title={{ job | trim | title }}"])
                .args(["--compute", "Extra 1={{ ('e1-' ~ n) | upper }}"])
                .args(["--compute", "Extra 2={{ 'E2-' ~ n | trim }}"])
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        }
        command
    };
    let first = night(&state).output().await.expect("profiles sync runs");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let seen = wrapped.faults().requests_seen();
    let started = Instant::now();
    let peak = peak_rss_of(night(&state)).await;
    let elapsed = started.elapsed();
    // Only the directory's template is read: every row is settled by the state.
    assert_eq!(wrapped.faults().requests_seen() - seen, 1);
    let _ = std::fs::remove_file(&input);
    remove_state(&state);
    (peak as f64 / 1024.0, rows as f64 / elapsed.as_secs_f64())
}

/// A LumApps night of `rows` rows that changes nothing, its rows the result of a SELECT on
/// PostgreSQL, after a first night from the same query that filled the state: peak
/// resident memory (MiB) and rows a second.
async fn query_night(rows: usize) -> (f64, f64) {
    let config = profile_emulator::lumapps::LumAppsConfig::default()
        .synthetic_users(rows as u64)
        .synthetic_title("Engineer");
    let emulator = profile_emulator::lumapps::LumAppsEmulator::start_with(
        config,
        profile_emulator::loopback(0),
    )
    .await
    .expect("an emulator");
    let wrapped = vendors::Emulator::LumApps(emulator);
    let source = pg_schema("query-source");
    drop_schema(&source).await;
    pg_client()
        .await
        .batch_execute(&format!(
            "CREATE SCHEMA {source};
             CREATE TABLE {source}.people AS
                SELECT 'user' || lpad(g::text, 7, '0') || '@customer.com' AS email,
                       'Engineer' AS value
                FROM generate_series(0, {rows} - 1) g;"
        ))
        .await
        .expect("the query's table");
    let query = format!("SELECT email, value FROM {source}.people");
    let state = temp_file(&format!("query-{rows}.db"));
    remove_state(&state);
    let url = pg_url();
    let night = || {
        let mut command = night_command("lumapps", &wrapped, &url, &state, None);
        command.args(["--query", &query]);
        command
    };
    let first = night().output().await.expect("profiles sync runs");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let seen = wrapped.faults().requests_seen();
    let started = Instant::now();
    let peak = peak_rss_of(night()).await;
    let elapsed = started.elapsed();
    assert_eq!(wrapped.faults().requests_seen() - seen, 1);
    remove_state(&state);
    drop_schema(&source).await;
    (peak as f64 / 1024.0, rows as f64 / elapsed.as_secs_f64())
}

/// Runs `command` to its end (it must succeed) and answers its peak resident memory in
/// KiB, sampled every 20 ms.
async fn peak_rss_of(mut command: tokio::process::Command) -> u64 {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("profiles sync runs");
    let pid = child.id().map(|p| p.to_string()).unwrap_or_default();
    let mut peak = 0;
    loop {
        if let Some(now) = peak_rss_kib(&pid) {
            peak = peak.max(now);
        }
        tokio::select! {
            status = child.wait() => { assert!(status.is_ok_and(|s| s.success())); break; }
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    peak
}

/// The export the computed no-change night reads: a job title to trim and capitalise, and
/// each user's number, from which the two extra fields are made.
fn write_computed_csv(rows: usize) -> PathBuf {
    use std::io::Write;
    let path = temp_file(&format!("lumapps-computed-{rows}.csv"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("a temporary file"));
    writeln!(file, "email,job,n").expect("write");
    for i in 0..rows {
        writeln!(file, "{}, engineer ,{i:07}", email("lumapps", i)).expect("write");
    }
    path
}

/// A Capture emulator holding none of the bench's people.
async fn emulator_for_joiners() -> vendors::Emulator {
    emulator("capture", 0).await
}

fn remove_state(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// `profiles sync` of `input` into `emulator` with a state database, at `rate` requests a
/// minute (none when `None`).
fn night_command(
    vendor: &str,
    emulator: &vendors::Emulator,
    input: impl AsRef<std::ffi::OsStr>,
    state: impl AsRef<std::ffi::OsStr>,
    rate: Option<u32>,
) -> tokio::process::Command {
    let (env, args, _, _) = sync_setup(vendor, emulator);
    let mut command = tokio::process::Command::new(profiles_binary());
    command
        .args(["sync", "--vendor", vendor, "--concurrency", "32", "--rate"])
        .arg(rate.unwrap_or(0).to_string())
        .arg("--input")
        .arg(input)
        .arg("--state")
        .arg(state)
        .args(&args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command
}

/// 6. Two nights with a state database, per vendor.
///
/// The first reads everyone (in bulk where the vendor can list); the second has 2% of the
/// rows changed, at an emulator limit.
async fn nights(vendor: &'static str, sizes: &Sizes, store: Store, results: &mut Vec<Result>) {
    let users = sizes.night_users;
    let emulator = match vendor {
        "lumapps" => {
            let config = profile_emulator::lumapps::LumAppsConfig::default()
                .synthetic_users(users as u64)
                .synthetic_title("Engineer");
            vendors::Emulator::LumApps(
                profile_emulator::lumapps::LumAppsEmulator::start_with(
                    config,
                    profile_emulator::loopback(0),
                )
                .await
                .expect("an emulator"),
            )
        }
        _ => emulator(vendor, users).await,
    };
    // What the emulator holds, then a new value for every fiftieth user.
    let held = match vendor {
        "sunshine" => "85cm",
        "capture" => "G",
        _ => "Engineer",
    };
    let state_name = format!("nights-{vendor}");
    let state = store.fresh(&state_name).await;
    let label = store.label();
    let first_input = write_csv(vendor, users, held);
    let seen = emulator.faults().requests_seen();
    let started = Instant::now();
    let first = night_command(vendor, &emulator, &first_input, &state, None)
        .output()
        .await
        .expect("profiles sync runs");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first_requests = emulator.faults().requests_seen() - seen;
    results.push(Result::new(
        "nights",
        format!("{vendor}: first night of {users}{label}: requests"),
        first_requests as f64,
        "requests",
    ));
    results.push(Result::new(
        "nights",
        format!("{vendor}: first night of {users}{label}: wall time"),
        started.elapsed().as_secs_f64(),
        "s",
    ));
    if vendor == "sunshine" && store == Store::Sqlite {
        // Every person exists: a first night that writes first costs one request each.
        let result = Result::new(
            "nights",
            format!("sunshine: first night of {users}: requests per existing person"),
            first_requests as f64 / users as f64,
            "ratio",
        );
        results.push(result.goal("<= 1.00"));
    }
    if vendor == "capture" && store == Store::Sqlite {
        // A new account: every person is a joiner, created in batches.
        let empty = emulator_for_joiners().await;
        let input = write_csv("capture-joiners", users, held);
        let state = temp_file("nights-capture-joiners.db");
        remove_state(&state);
        let mut command = night_command("capture", &empty, &input, &state, None);
        command.args(["--mode", "upsert"]);
        let output = command.output().await.expect("profiles sync runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let result = Result::new(
            "nights",
            format!("capture: first night of {users} joiners: requests"),
            empty.faults().requests_seen() as f64,
            "requests",
        );
        // The goal is set for 20,000 joiners (2,000 a batch).
        results.push(if users >= 20_000 {
            result.goal("<= 30")
        } else {
            result
        });
        let _ = std::fs::remove_file(&input);
        remove_state(&state);
    }
    if vendor == "capture" && store == Store::Sqlite {
        let finds = emulator.faults().requests_to("POST", "/entity.find");
        let result = Result::new(
            "nights",
            format!("capture: first night: entity.find requests for {users} records"),
            finds as f64,
            "requests",
        );
        // The goal is set for 20,000 records (1,000 a request).
        results.push(if users >= 20_000 {
            result.goal("<= 25")
        } else {
            result
        });
    }

    let second_input = {
        use std::io::Write;
        let path = temp_file(&format!("{vendor}-night2.csv"));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("a file"));
        writeln!(file, "email,value").expect("write");
        for i in 0..users {
            let value = if i % 50 == 0 { "Changed" } else { held };
            writeln!(file, "{},{value}", email(vendor, i)).expect("write");
        }
        path
    };
    let changed = users.div_ceil(50);
    // The next night comes a day later: the first night's requests are out of Zendesk's
    // window (it would rightly make the client wait otherwise).
    if let vendors::Emulator::Sunshine(sunshine) = &emulator {
        sunshine.forget_rate_window();
    }
    emulator
        .faults()
        .set_rate_limit_per_minute(Some(sizes.night_limit));
    let seen = emulator.faults().requests_seen();
    let started = Instant::now();
    let second = night_command(
        vendor,
        &emulator,
        &second_input,
        &state,
        Some(sizes.night_limit),
    )
    .output()
    .await
    .expect("profiles sync runs");
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    emulator.faults().set_rate_limit_per_minute(None);
    let requests = emulator.faults().requests_seen() - seen;
    // LumApps reads a user before it saves it (its save replaces the whole user).
    let per_row = if vendor == "lumapps" { 2.0 } else { 1.0 };
    results.push(
        Result::new(
            "nights",
            format!(
                "{vendor}: second night, {changed} of {users} changed{label}: requests / changed rows"
            ),
            requests as f64 / changed as f64,
            "ratio",
        )
        .goal(if vendor == "lumapps" {
            "<= 2.02"
        } else {
            "<= 1.02"
        }),
    );
    let floor = changed as f64 * per_row / f64::from(sizes.night_limit) * 60.0;
    results.push(
        Result::new(
            "nights",
            format!(
                "{vendor}: second night at {}/min{label}: wall time / (writes ÷ limit)",
                sizes.night_limit
            ),
            elapsed / floor,
            "ratio",
        )
        .goal("<= 1.10"),
    );
    for path in [&first_input, &second_input] {
        let _ = std::fs::remove_file(path);
    }
    store.remove(&state_name).await;
}

/// 5. Requests a second each emulator serves to a bare client at concurrency 32.
async fn capacity(vendor: &str, duration: Duration, results: &mut Vec<Result>) {
    let emulator = emulator(vendor, 1).await;
    let (read, _) = row_requests(vendor, &emulator, 0).await;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let served: usize = stream::iter(0..32)
        .map(|_| {
            let (client, read) = (client.clone(), read.clone());
            async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    if read.send(&client).await {
                        n += 1;
                    }
                }
                n
            }
        })
        .buffer_unordered(32)
        .fold(0, |sum, n| std::future::ready(sum + n))
        .await;
    results.push(Result::new(
        "capacity",
        format!("{vendor} emulator, reads, c=32"),
        served as f64 / started.elapsed().as_secs_f64(),
        "requests/s",
    ));
}

fn write_results(path: &Path, smoke: bool, machine: &Value, results: &[Result]) {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let document = json!({
        "mode": if smoke { "smoke" } else { "full" },
        "machine": machine,
        "results": results.iter().map(Result::json).collect::<Vec<_>>(),
    });
    std::fs::write(
        path,
        serde_json::to_vec_pretty(&document).unwrap_or_default(),
    )
    .expect("the results file");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(args));
}

async fn run(args: Vec<String>) {
    // For callgrind: only the SDK's update loop of one vendor (or with `--bare`, the bare
    // loop sending the same bytes).
    if let Some(position) = args.iter().position(|a| a == "--profile-sdk") {
        let vendor = args[position + 1].as_str();
        let n: usize = args
            .get(position + 2)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000);
        let vendor = VENDORS
            .into_iter()
            .find(|v| *v == vendor)
            .expect("a vendor");
        // Set up as the overhead benchmark is: emulator and client on a thread each.
        let server = EmulatorThread::start(vendor, 1);
        let bare_loop = args.iter().any(|a| a == "--bare");
        on_client_thread(async {
            let (call, raw) = single_update(vendor, server.emulator()).await;
            if bare_loop {
                // The same loop through a bare reqwest client: the difference of the two
                // instruction counts is the SDK's own cost.
                let bare = bare_call(raw);
                for _ in 0..n {
                    assert!(bare().await);
                }
            } else {
                for _ in 0..n {
                    assert!(call().await);
                }
            }
        });
        return;
    }
    if let Some(position) = args.iter().position(|a| a == "--child-stream-users") {
        child_stream_users(&args[position + 1]).await;
        return;
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let out = args
        .iter()
        .position(|a| a == "--out")
        .map(|i| PathBuf::from(&args[i + 1]))
        .unwrap_or_else(|| PathBuf::from("target/bench/results.json"));
    let mut sizes = if smoke { SMOKE } else { FULL };
    // `--bulk-rows N`: a smaller bulk benchmark (one round), for profiling its children.
    if let Some(rows) = args
        .iter()
        .position(|a| a == "--bulk-rows")
        .and_then(|i| args.get(i + 1)?.parse().ok())
    {
        sizes.bulk_rows = rows;
        sizes.bulk_rounds = 1;
    }
    // `--only overhead,bulk` runs some of the benchmarks, for iterating on one of them.
    let only: Option<Vec<&str>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.contains(&name));
    // `--vendors lumapps` runs the per-vendor benchmarks of some vendors only.
    let vendors: Option<Vec<&str>> = args
        .iter()
        .position(|a| a == "--vendors")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').collect());
    let mut results = Vec::new();
    let total = Instant::now();
    for vendor in VENDORS
        .into_iter()
        .filter(|v| vendors.as_ref().is_none_or(|o| o.contains(v)))
    {
        if wanted("overhead") {
            eprintln!("bench: {vendor}: overhead");
            overhead(vendor, sizes.sequential, &mut results);
        }
        if wanted("bulk") {
            eprintln!("bench: {vendor}: bulk");
            bulk(
                vendor,
                sizes.bulk_rows,
                sizes.concurrency,
                sizes.bulk_rounds,
                &mut results,
            )
            .await;
        }
        if wanted("capacity") {
            eprintln!("bench: {vendor}: capacity");
            capacity(vendor, sizes.capacity, &mut results).await;
        }
        if wanted("nights") {
            eprintln!("bench: {vendor}: nights with a state database");
            nights(vendor, &sizes, Store::Sqlite, &mut results).await;
            eprintln!("bench: {vendor}: nights with the state in PostgreSQL");
            nights(vendor, &sizes, Store::Postgres, &mut results).await;
        }
    }
    if wanted("politeness") {
        eprintln!("bench: politeness");
        politeness(sizes.polite_per_minute, sizes.polite_requests, &mut results).await;
        for (per_minute, requests) in sizes.plans {
            eprintln!("bench: politeness at a plan of {per_minute}/min");
            politeness_at_plan(per_minute, requests, &mut results).await;
        }
    }
    if wanted("memory") {
        eprintln!("bench: memory");
        memory(&sizes, &mut results).await;
    }
    let machine = measure::machine();
    println!("{}", measure::machine_line(&machine));
    print_table(&results);
    write_results(&out, smoke, &machine, &results);
    let table = out.with_extension("md");
    std::fs::write(&table, measure::markdown(&machine, &results)).expect("the table file");
    eprintln!(
        "bench: done in {:.0}s; results in {}",
        total.elapsed().as_secs_f64(),
        out.display()
    );
}
