//! `profiles demo`: three nights of an HR sync against the built-in emulator, with a state
//! database in a temporary folder: joiners created, movers written (only what changed),
//! leavers retired after the mass-leaver guard held them once.

use std::path::{Path, PathBuf};

use profile_emulator::FaultController;
use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsConfig, LumAppsEmulator};
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};

use crate::Vendor;

/// People in the export: an e-mail and one field's value each.
const PEOPLE: usize = 12;

enum Running {
    Sunshine(SunshineEmulator),
    Capture(CaptureEmulator),
    LumApps(LumAppsEmulator),
}

impl Running {
    fn faults(&self) -> &FaultController {
        match self {
            Running::Sunshine(e) => e.faults(),
            Running::Capture(e) => e.faults(),
            Running::LumApps(e) => e.faults(),
        }
    }

    fn base_url(&self) -> String {
        match self {
            Running::Sunshine(e) => e.base_url(),
            Running::Capture(e) => e.base_url(),
            Running::LumApps(e) => e.base_url(),
        }
    }
}

/// What differs between vendors: the emulator, the flags, the people's keys and values.
struct Story {
    running: Running,
    env: Vec<(&'static str, String)>,
    /// The vendor's flags of `profiles sync`.
    flags: Vec<&'static str>,
    /// Person `i`'s key.
    email: fn(usize) -> String,
    /// The export's one mapped column, its value before and after a move.
    column: &'static str,
    values: [&'static str; 2],
    /// What happens to a leaver, in words.
    leavers: &'static str,
}

async fn story(vendor: Vendor) -> Result<Story, String> {
    let failed = |e: std::io::Error| format!("the emulator could not start: {e}");
    Ok(match vendor {
        Vendor::Sunshine => {
            let emulator = SunshineEmulator::start().await.map_err(failed)?;
            Story {
                env: vec![
                    ("ZENDESK_BASE_URL", emulator.base_url()),
                    ("ZENDESK_EMAIL", SEED_EMAIL.to_owned()),
                    ("ZENDESK_API_TOKEN", SEED_API_TOKEN.to_owned()),
                ],
                running: Running::Sunshine(emulator),
                flags: vec![
                    "--source",
                    "coolbikes",
                    "--type",
                    "rider",
                    "--map",
                    "saddle=attributes.saddle_height",
                    "--leavers",
                    "delete",
                ],
                email: |i| format!("rider{i}@example.com"),
                column: "saddle",
                values: ["85cm", "87cm"],
                leavers: "deleted (DELETE of the profile)",
            }
        }
        Vendor::Capture => {
            let emulator = CaptureEmulator::start().await.map_err(failed)?;
            Story {
                env: vec![
                    ("CAPTURE_BASE_URL", emulator.base_url()),
                    ("CAPTURE_CLIENT_ID", SEED_CLIENT_2.0.to_owned()),
                    ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_2.1.to_owned()),
                ],
                running: Running::Capture(emulator),
                flags: vec!["--map", "family=familyName", "--leavers", "delete"],
                email: |i| format!("member{i}@example.com"),
                column: "family",
                values: ["Smith", "Jones"],
                leavers: "deleted (entity.delete)",
            }
        }
        Vendor::Lumapps => {
            let emulator = LumAppsEmulator::start_with(
                LumAppsConfig::default().synthetic_users(PEOPLE as u64),
                profile_emulator::loopback(0),
            )
            .await
            .map_err(failed)?;
            Story {
                env: vec![
                    ("LUMAPPS_BASE_URL", emulator.base_url()),
                    ("LUMAPPS_TOKEN", DEMO_TOKEN.to_owned()),
                ],
                running: Running::LumApps(emulator),
                flags: vec![
                    "--directory",
                    "6486401110769664",
                    "--map",
                    "title=Title",
                    "--leaver-set",
                    "Title=",
                ],
                email: |i| format!("user{i:07}@customer.com"),
                column: "title",
                values: ["Engineer", "Lead"],
                leavers: "given an empty Title (LumApps users cannot be deleted through its API)",
            }
        }
    })
}

fn write_export(
    path: &Path,
    story: &Story,
    people: &[usize],
    moved: &[usize],
) -> Result<(), String> {
    let mut csv = format!("email,{}\n", story.column);
    for &i in people {
        let value = story.values[usize::from(moved.contains(&i))];
        csv.push_str(&format!("{},{value}\n", (story.email)(i)));
    }
    std::fs::write(path, csv).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Runs `profiles sync` (this very binary) and prints what it said; returns its exit code.
async fn night(
    story: &Story,
    vendor: Vendor,
    input: &Path,
    state: &Path,
    extra: &[&str],
) -> Result<i32, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut args: Vec<String> = vec![
        "sync".into(),
        "--vendor".into(),
        vendor.name().into(),
        "--input".into(),
        input.display().to_string(),
        "--mode".into(),
        "mirror".into(),
        "--state".into(),
        state.display().to_string(),
    ];
    args.extend(story.flags.iter().map(|s| (*s).to_owned()));
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    say!("$ profiles {}", args.join(" "));
    let before = story.running.faults().requests_seen();
    let mut command = std::process::Command::new(exe);
    command
        .args(&args)
        .envs(story.env.iter().map(|(k, v)| (k.to_owned(), v.clone())));
    // The emulator answers from this process's runtime while the child runs.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|e| format!("cannot run profiles sync: {e}"))?
        .map_err(|e| format!("cannot run profiles sync: {e}"))?;
    let sent = story.running.faults().requests_seen() - before;
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        say!("  {line}");
    }
    let code = output.status.code().unwrap_or(-1);
    say!("  -> exit {code}; {sent} requests reached the emulator");
    say!();
    Ok(code)
}

fn expect(code: i32, wanted: i32, what: &str) -> Result<(), String> {
    if code == wanted {
        Ok(())
    } else {
        Err(format!("{what}: the sync exited {code}, not {wanted}"))
    }
}

pub(crate) async fn run(vendor: Vendor) -> Result<(), String> {
    let story = story(vendor).await?;
    let dir: PathBuf = std::env::temp_dir().join(format!("profiles-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let (input, state) = (dir.join("export.csv"), dir.join("state.db"));
    say!(
        "Three nights of an HR export synced into the {} emulator at {}, remembered in {}",
        vendor.name(),
        story.running.base_url(),
        state.display()
    );
    say!("(credentials come from the environment: {})", {
        let names: Vec<&str> = story.env.iter().map(|(k, _)| *k).collect();
        names.join(", ")
    });
    say!();
    let everyone: Vec<usize> = (0..PEOPLE).collect();

    say!("== Night 1: {PEOPLE} joiners");
    write_export(&input, &story, &everyone, &[])?;
    let code = night(&story, vendor, &input, &state, &[]).await?;
    expect(code, 0, "night 1")?;

    say!("== Night 2: two movers; everyone else is known from the state and costs nothing");
    write_export(&input, &story, &everyone, &[3, 7])?;
    let code = night(&story, vendor, &input, &state, &[]).await?;
    expect(code, 0, "night 2")?;

    say!("== Night 3: three leavers, more than the guard's 10% of the people managed");
    let staying: Vec<usize> = everyone
        .iter()
        .copied()
        .filter(|i| *i < PEOPLE - 3)
        .collect();
    write_export(&input, &story, &staying, &[3, 7])?;
    let code = night(&story, vendor, &input, &state, &[]).await?;
    expect(code, 4, "night 3, held by the guard")?;
    say!("   The guard held them: nothing was done to any leaver. They did leave, so:");
    say!();
    let code = night(&story, vendor, &input, &state, &["--allow-leavers", "3"]).await?;
    expect(code, 0, "night 3, approved")?;
    say!(
        "Done: the joiners were created, the movers written, the leavers {}.",
        story.leavers
    );
    if matches!(vendor, Vendor::Lumapps) {
        say!(
            "(LumApps directory users cannot be created through its API: night 1 wrote the titles of users the directory already had.)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
