//! One writer per state scope, standard input, and joiners written without a read: the
//! real binary against the Sunshine emulator.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::PROFILES;
use crate::sync::{
    SUNSHINE_MAP, dir, env_refs, report, riders_csv, sunshine_env, sunshine_with_riders, sync,
};

/// Starts `profiles sync {args}` (its standard error to `stderr`) and waits until the
/// emulator has seen its first requests.
pub(crate) async fn start_slow_night(
    args: &[&str],
    env: &[(&'static str, String)],
    faults: &profile_emulator::FaultController,
    stderr: Stdio,
) -> tokio::process::Child {
    let seen = faults.requests_seen();
    let child = Command::new(PROFILES)
        .arg("sync")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while faults.requests_seen() < seen + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        faults.requests_seen() >= seen + 2,
        "the first night started"
    );
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_a_held_state_exits_5_sending_nothing_and_with_wait_runs_after() {
    let n = 12;
    let emulator = sunshine_with_riders(n).await;
    let dir = dir();
    let (input, state) = (dir.join("riders.csv"), dir.join("state.db"));
    riders_csv(&input, n);
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    // Two requests a second: the first night (12 reads, 8 writes) takes about ten seconds.
    let mut slow = args.clone();
    slow.extend(["--rate", "120", "--concurrency", "1"]);
    let mut first = start_slow_night(&slow, &env, emulator.faults(), Stdio::null()).await;

    // The state is private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A second run on the same state: exit 5 at once, naming the holder, not one request.
    let mut second = args.clone();
    second.extend(["--rate", "0", "-v"]);
    let began = Instant::now();
    let (code, _, stderr) = sync(&second, &env_refs(&env)).await;
    assert_eq!(code, 5, "{stderr}");
    assert!(began.elapsed() < Duration::from_secs(5), "it did not wait");
    let pid = first.id().unwrap();
    assert!(
        stderr.contains(&format!("process {pid} on")) && stderr.contains("--wait"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("/api/v2/user_profiles"),
        "a request was sent: {stderr}"
    );

    // With --wait, it runs once the first is done: everything is then known, nothing sent.
    second.push("--wait");
    second.push("60s");
    let (code, _, stderr) = sync(&second, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("waiting for it"), "{stderr}");
    assert!(first.wait().await.unwrap().success());
    assert!(
        stderr.contains("12 of the unchanged known from the state"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_killed_mid_night_does_not_lock_the_scope() {
    let n = 12;
    let emulator = sunshine_with_riders(n).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    riders_csv(&input, n);
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    let mut slow = args.clone();
    slow.extend(["--rate", "120", "--concurrency", "1"]);
    let mut killed = start_slow_night(&slow, &env, emulator.faults(), Stdio::null()).await;
    killed.kill().await.unwrap();

    // The same command at once: the dead holder's lease is taken over.
    args.extend(["--rate", "0", "--report", report_path.to_str().unwrap()]);
    let began = Instant::now();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(began.elapsed() < Duration::from_secs(10));
    assert!(stderr.contains("did not finish; this run"), "{stderr}");
    let heights: Vec<String> = emulator
        .profiles()
        .iter()
        .map(|p| {
            p["attributes"]["saddle_height"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let wanted = (0..n).filter(|i| i % 3 != 0).count();
    assert_eq!(heights.iter().filter(|h| *h == "87cm").count(), wanted);
    assert_eq!(report(&report_path)["runs"].as_array().unwrap().len(), 2);
    // The report names people: it is private to its owner, as the state is.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&report_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_without_reading_first_creates_the_joiners() {
    let emulator = sunshine_with_riders(2).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    riders_csv(&input, 5);
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--mode",
        "upsert",
        "--no-read-first",
        "--rate",
        "0",
    ]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2 updated, 3 created"), "{stderr}");
    assert_eq!(emulator.profiles().len(), 5);
    // Written as they were, without one read.
    assert_eq!(
        emulator
            .faults()
            .requests_to("GET", "/api/v2/user_profiles"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_on_standard_input_is_synced_like_a_file() {
    let emulator = sunshine_with_riders(6).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    riders_csv(&input, 6);
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend(["--input", "-", "--rate", "0"]);
    let mut child = Command::new(PROFILES)
        .arg("sync")
        .args(&args)
        .envs(env_refs(&env))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&std::fs::read(&input).unwrap())
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("sync: 6 rows"), "{stderr}");
    assert!(
        stderr.contains("4 updated, 0 created, 2 unchanged"),
        "{stderr}"
    );
    // An empty standard input says so, naming it.
    let output = Command::new(PROFILES)
        .arg("sync")
        .args(&args)
        .envs(env_refs(&env))
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("standard input is empty"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_removed_while_a_night_runs_stops_it_with_exit_2() {
    let n = 12;
    let emulator = sunshine_with_riders(n).await;
    let dir = dir();
    let (input, state) = (dir.join("riders.csv"), dir.join("state.db"));
    riders_csv(&input, n);
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    args.extend(["--rate", "120", "--concurrency", "1"]);
    let child = start_slow_night(&args, &env, emulator.faults(), Stdio::piped()).await;
    assert!(state.exists(), "the night opened its state");
    for suffix in ["", "-wal", "-shm"] {
        let mut name = state.clone().into_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(std::path::PathBuf::from(name));
    }
    stops_with(
        child,
        Duration::from_secs(30),
        2,
        "removed or replaced while this run was using it",
    )
    .await;
}

/// Waits up to `within` for a run started with its standard error piped to stop, and
/// asserts it exited `code` saying `words`.
pub(crate) async fn stops_with(
    child: tokio::process::Child,
    within: Duration,
    code: i32,
    words: &str,
) {
    let output = tokio::time::timeout(within, child.wait_with_output())
        .await
        .expect("the run stops")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(words), "{stderr}");
}

/// A file made read-only for this test, and writable again when dropped (so that its
/// folder can be removed): 0444 for a user, immutable for root, whom permissions do not stop.
#[cfg(unix)]
struct ReadOnly(std::path::PathBuf);

#[cfg(unix)]
impl ReadOnly {
    fn make(path: &std::path::Path) -> Self {
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if root {
            let made = std::process::Command::new("chattr")
                .arg("+i")
                .arg(path)
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                made,
                "as root, a read-only file needs `chattr +i` (e2fsprogs, on ext4 or similar): run the tests as another user, or where chattr works"
            );
        } else {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        }
        Self(path.to_owned())
    }
}

#[cfg(unix)]
impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o600));
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_state_is_refused_with_exit_2_saying_so() {
    let emulator = sunshine_with_riders(3).await;
    // On the project's own disk, where the file attributes root needs are supported.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "read-only-{}-{}",
        std::process::id(),
        emulator.base_url().rsplit(':').next().unwrap_or("0")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (input, state) = (dir.join("riders.csv"), dir.join("state.db"));
    riders_csv(&input, 3);
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    args.extend(["--rate", "0"]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let seen = emulator.faults().requests_seen();
    let guard = ReadOnly::make(&state);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    drop(guard);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot be used: it is read-only"),
        "{stderr}"
    );
    assert!(stderr.contains("move it aside and run again"), "{stderr}");
    assert_eq!(emulator.faults().requests_seen(), seen, "nothing was sent");
    let _ = std::fs::remove_dir_all(&dir);
}
