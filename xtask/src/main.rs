//! `cargo xtask`: the project's own commands.
//!
//! - `cargo xtask ci`: everything CI checks (format, clippy with warnings denied, every test
//!   with snapshots checked, docs with warnings denied, packaging of the library crates).
//! - `cargo xtask snapshots [--accept]`: run the snapshot tests; fail on any difference, or
//!   with `--accept` rewrite the snapshots.
//! - `cargo xtask bench [--smoke]`: the benchmarks (release build; `--smoke`: tiny sizes on
//!   the debug build, as CI runs them), a table on stdout and `target/bench/results.json`.
//! - `cargo xtask fuzz [SECONDS]`: every fuzz target under cargo-fuzz for that long each
//!   (default 60), and where a crash input was written.
//!
//! The tests and benchmarks that keep their state in PostgreSQL read its URL from
//! `PROFILES_TEST_POSTGRES`; `ci` and `bench` set it (see [`Postgres`]).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// The crates that are published, each of which must package on its own.
const LIBRARIES: &[&str] = &[
    "profile-core",
    "profile-sunshine",
    "profile-capture",
    "profile-lumapps",
    "profile-sync",
    "profile-emulator",
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("snapshots") => snapshots(args.iter().any(|a| a == "--accept")),
        Some("bench") => bench(args.iter().any(|a| a == "--smoke")),
        Some("fuzz") => match args.get(1).map(|s| s.parse::<u64>()) {
            None => fuzz(60),
            Some(Ok(seconds)) => fuzz(seconds),
            Some(Err(_)) => Err(format!("`{}` is not a number of seconds", args[1])),
        },
        _ => {
            eprintln!(
                "usage: cargo xtask ci | snapshots [--accept] | bench [--smoke] | fuzz [SECONDS]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // xtask/ sits right below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo(args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    println!("\n$ cargo {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(cargo)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    println!("  ({:.1}s)", started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}

/// Snapshot files insta left for review: any means a snapshot changed.
fn pending_snapshots() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    walk(&path, found);
                }
            } else if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&root(), &mut found);
    found
}

fn check_no_pending_snapshots() -> Result<(), String> {
    let pending = pending_snapshots();
    if pending.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "snapshots differ; review and accept with `cargo xtask snapshots --accept`:\n  {}",
            pending
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join("\n  ")
        ))
    }
}

fn snapshots(accept: bool) -> Result<(), String> {
    if accept {
        for stale in pending_snapshots() {
            let _ = std::fs::remove_file(stale);
        }
    }
    let update = if accept { "always" } else { "no" };
    // Snapshot tests live in each crate's `snapshots` test module.
    cargo(
        &["test", "--workspace", "--test", "it", "--", "snapshots::"],
        &[("INSTA_UPDATE", update), ("INSTA_FORCE_PASS", "0")],
    )?;
    check_no_pending_snapshots()
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Builds the `profiles` binary and the bench, then runs the bench.
fn bench(smoke: bool) -> Result<(), String> {
    bench_with(smoke, &Postgres::find()?)
}

/// The benchmarks, their PostgreSQL nights on `postgres`.
fn bench_with(smoke: bool, postgres: &Postgres) -> Result<(), String> {
    let (profile_flag, profile_dir, out) = if smoke {
        (None, "debug", "smoke.json")
    } else {
        (Some("--release"), "release", "results.json")
    };
    let mut build = vec![
        "build",
        "--locked",
        "--package",
        "profile-cli",
        "--package",
        "profile-bench",
    ];
    build.extend(profile_flag);
    cargo(&build, &[])?;
    let binary = target_dir()
        .join(profile_dir)
        .join(format!("profile-bench{}", env::consts::EXE_SUFFIX));
    let out = target_dir().join("bench").join(out);
    let mut command = Command::new(&binary);
    command
        .arg("--out")
        .arg(&out)
        .env("PROFILES_TEST_POSTGRES", &postgres.url)
        .current_dir(root());
    if smoke {
        command.arg("--smoke");
    }
    println!(
        "\n$ {}{}",
        binary.display(),
        if smoke { " --smoke" } else { "" }
    );
    let status = command
        .status()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if !status.success() {
        return Err("the benchmarks failed".to_owned());
    }
    if smoke {
        return Ok(());
    }
    write_performance_table(&out.with_extension("md"))
}

/// What a command prints, trimmed (empty when it cannot run).
fn output_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Puts the table the bench wrote between the markers of docs/performance.md, under the
/// commit it measured, the date and the machine: the page shows what this code measures.
fn write_performance_table(table: &Path) -> Result<(), String> {
    const BEGIN: &str = "<!-- bench:begin -->";
    const END: &str = "<!-- bench:end -->";
    let table = std::fs::read_to_string(table)
        .map_err(|e| format!("cannot read {}: {e}", table.display()))?;
    let page_path = root().join("docs").join("performance.md");
    let page = std::fs::read_to_string(&page_path)
        .map_err(|e| format!("cannot read {}: {e}", page_path.display()))?;
    let (Some(begin), Some(end)) = (page.find(BEGIN), page.find(END)) else {
        return Err(format!(
            "{} has no {BEGIN} … {END} markers",
            page_path.display()
        ));
    };
    let commit = output_of("git", &["rev-parse", "--short", "HEAD"]);
    let changed = output_of("git", &["status", "--porcelain", "--untracked-files=no"])
        .lines()
        .any(|line| !line.ends_with("docs/performance.md"));
    let date = output_of("date", &["-u", "+%Y-%m-%d"]);
    let section = format!(
        "{BEGIN}\n`cargo xtask bench` at commit `{commit}`{}, {date}, release build.\n{table}{END}",
        if changed {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    let page = format!("{}{section}{}", &page[..begin], &page[end + END.len()..]);
    std::fs::write(&page_path, page)
        .map_err(|e| format!("cannot write {}: {e}", page_path.display()))?;
    println!(
        "\nxtask: the table of {} is now this run's",
        page_path.display()
    );
    Ok(())
}

/// The fuzz targets, as `fuzz/Cargo.toml` names them.
const FUZZ_TARGETS: &[&str] = &[
    "response_decoders",
    "row_reader",
    "state_values",
    "mapping_file",
    "mapping_templates",
    "identifier_query",
    "attribute_path",
    "form_encoder",
    "capture_signer",
    "capture_queries",
    "rate_limit_headers",
];

/// The fuzz package, outside the workspace: every target builds on the stable toolchain,
/// and each target's body holds over the corpus kept in the repository.
fn fuzz_checks() -> Result<(), String> {
    let manifest = root().join("fuzz").join("Cargo.toml");
    let manifest = manifest.to_string_lossy();
    let target_dir = target_dir().join("fuzz-check");
    let target_dir = target_dir.to_string_lossy();
    let common = [
        "--manifest-path",
        manifest.as_ref(),
        "--locked",
        "--target-dir",
        target_dir.as_ref(),
    ];
    let mut build = vec!["build", "--bins"];
    build.extend(common);
    cargo(&build, &[])?;
    let mut test = vec!["test", "--test", "corpus"];
    test.extend(common);
    cargo(&test, &[])
}

/// Runs every fuzz target with cargo-fuzz for `seconds` each. New inputs go to
/// `target/fuzz-corpus/<target>/`, beside the kept corpus, which is only read.
fn fuzz(seconds: u64) -> Result<(), String> {
    let cargo_bin = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let has_fuzz = Command::new(&cargo_bin)
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        return Err("cargo-fuzz is not installed: `cargo install cargo-fuzz`".to_owned());
    }
    let mut failed = Vec::new();
    for target in FUZZ_TARGETS {
        let scratch = target_dir().join("fuzz-corpus").join(target);
        std::fs::create_dir_all(&scratch)
            .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
        let kept = root().join("fuzz").join("corpus").join(target);
        println!("\n$ cargo fuzz run -s none {target} ({seconds} s)");
        let status = Command::new(&cargo_bin)
            .args(["fuzz", "run", "-s", "none", target])
            .arg(&scratch)
            .arg(&kept)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(root().join("fuzz"))
            .status()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        if !status.success() {
            failed.push(format!(
                "{target}: see fuzz/artifacts/{target}/ for the input that failed"
            ));
        }
    }
    if failed.is_empty() {
        println!("\nfuzz: every target ran {seconds} s without a failure");
        Ok(())
    } else {
        Err(failed.join("\n"))
    }
}

/// What the tests open beyond the project: Debian's chromium, for the report page's
/// browser test. A missing one fails CI up front, with the command that installs it.
fn ci_needs() -> Result<(), String> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .any(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found {
        Ok(())
    } else {
        Err(
            "chromium is not installed, and the report page's test opens it: \
             `sudo apt-get install -y chromium` (.ci/run installs it when it is missing)"
                .to_owned(),
        )
    }
}

/// The PostgreSQL server the tests and benchmarks use, as `PROFILES_TEST_POSTGRES`: the
/// variable when it is set; else the server on 127.0.0.1:5432 when one answers (database
/// `test` when it has one, else `postgres`); else a throwaway cluster under
/// `target/postgres`, made with the system's `initdb` and started with `pg_ctl` (stopped
/// when the value is dropped); else an error with the command that installs PostgreSQL.
/// `PROFILES_TEST_POSTGRES_THROWAWAY=1` skips the server on 5432.
struct Postgres {
    url: String,
    /// The throwaway cluster's `pg_ctl` and data folder, and the user it runs as.
    cluster: Option<(PathBuf, PathBuf, Option<String>)>,
}

impl Postgres {
    fn find() -> Result<Self, String> {
        if let Ok(url) = env::var("PROFILES_TEST_POSTGRES") {
            return Ok(Self { url, cluster: None });
        }
        let throwaway = env::var("PROFILES_TEST_POSTGRES_THROWAWAY").is_ok_and(|v| v == "1");
        let answers = std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], 5432)),
            std::time::Duration::from_secs(2),
        )
        .is_ok();
        if answers && !throwaway {
            let has_test = Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-d",
                    "test",
                    "-Atc",
                    "SELECT 1",
                ])
                .output()
                .is_ok_and(|o| o.status.success());
            let database = if has_test { "test" } else { "postgres" };
            let url = format!("postgres://postgres@127.0.0.1:5432/{database}");
            println!("\npostgres: the server on 127.0.0.1:5432 ({url})");
            return Ok(Self { url, cluster: None });
        }
        Self::throwaway()
    }

    /// A cluster of the tests' own, under target/postgres.
    fn throwaway() -> Result<Self, String> {
        let bin = ["/usr/lib/postgresql"]
            .iter()
            .filter_map(|dir| std::fs::read_dir(dir).ok())
            .flat_map(|entries| entries.flatten().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .or_else(|| {
                Command::new("pg_config")
                    .arg("--bindir")
                    .output()
                    .ok()
                    .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
                    .filter(|bin| bin.join("initdb").exists())
            })
            .ok_or_else(|| {
                "no PostgreSQL server answers on 127.0.0.1:5432 and none is installed to start one \
                 for the tests: `sudo apt-get install -y postgresql` (or set PROFILES_TEST_POSTGRES \
                 to a server's URL)"
                    .to_owned()
            })?;
        let data = target_dir().join("postgres");
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        // initdb refuses to run as root: then the cluster is the `postgres` user's.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let user = root.then(|| "postgres".to_owned());
        if let Some(user) = &user {
            let owned = Command::new("chown")
                .args(["-R", user])
                .arg(&data)
                .status()
                .is_ok_and(|s| s.success());
            if !owned {
                return Err(format!("cannot give {} to the user {user}", data.display()));
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port: {e}"))?;
        let run = |program: &Path, args: &[&str]| -> Result<(), String> {
            let mut command = match &user {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(program);
                    c
                }
                None => Command::new(program),
            };
            let status = command
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()
                .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
            if status.success() {
                Ok(())
            } else {
                Err(format!("{} {} failed", program.display(), args.join(" ")))
            }
        };
        let cluster = data.join("cluster");
        let cluster_text = cluster.to_string_lossy().into_owned();
        run(
            &bin.join("initdb"),
            &[
                "-D",
                &cluster_text,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        )?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            data.display()
        );
        let log = data.join("server.log").to_string_lossy().into_owned();
        run(
            &bin.join("pg_ctl"),
            &[
                "-D",
                &cluster_text,
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        )?;
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        println!(
            "\npostgres: a throwaway cluster under {} ({url})",
            data.display()
        );
        Ok(Self {
            url,
            cluster: Some((bin.join("pg_ctl"), cluster, user)),
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some((pg_ctl, cluster, user)) = self.cluster.take() {
            let mut command = match &user {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(&pg_ctl);
                    c
                }
                None => Command::new(&pg_ctl),
            };
            let _ = command
                .arg("-D")
                .arg(&cluster)
                .args(["-m", "fast", "-w", "stop"])
                .stdout(std::process::Stdio::null())
                .status();
        }
    }
}

fn ci() -> Result<(), String> {
    let started = Instant::now();
    ci_needs()?;
    let postgres = Postgres::find()?;
    let pg = ("PROFILES_TEST_POSTGRES", postgres.url.as_str());
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(
        &["test", "--workspace", "--locked"],
        &[("INSTA_UPDATE", "no"), pg],
    )?;
    snapshots(false)?;
    fuzz_checks()?;
    // The benchmarks in their smoke sizes, so that they keep compiling and running.
    bench_with(true, &postgres)?;
    cargo(
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    // Each library packages on its own. `--exclude-lockfile`: a library's lockfile is never
    // used by its consumers, and resolving one would need the internal crates to be on
    // crates.io already.
    for library in LIBRARIES {
        cargo(
            &[
                "package",
                "--package",
                library,
                "--no-verify",
                "--allow-dirty",
                "--exclude-lockfile",
            ],
            &[],
        )?;
    }
    println!(
        "\nci: everything passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
