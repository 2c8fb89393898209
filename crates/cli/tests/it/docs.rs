//! Every `profiles sync` command of the README and docs/cli.md runs as written, from the
//! `examples/` folder, against an emulator loaded with `examples/seeds/`: a documented
//! command that stops working fails here.

use std::path::{Path, PathBuf};

use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsConfig, LumAppsEmulator};
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The commands of the ```sh blocks of `text` that start with `profiles sync --vendor`,
/// continuation lines joined.
fn sync_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_shell = !in_shell && (trimmed == "```sh" || trimmed == "```bash");
            continue;
        }
        if !in_shell {
            continue;
        }
        if let Some(command) = current.as_mut() {
            command.push(' ');
            command.push_str(trimmed.trim_end_matches('\\').trim());
            if !trimmed.ends_with('\\') {
                commands.push(current.take().unwrap());
            }
            continue;
        }
        if trimmed.starts_with("profiles sync --vendor") {
            let text = trimmed.trim_end_matches('\\').trim().to_owned();
            if trimmed.ends_with('\\') {
                current = Some(text);
            } else {
                commands.push(text);
            }
        }
    }
    commands
}

/// Splits a command line into words, as a shell does for plain words and "quoted ones".
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in command.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn copy_examples(to: &Path) {
    let from = root().join("examples");
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

fn seed(name: &str) -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(root().join("examples/seeds").join(name)).unwrap())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_sync_command_runs_against_the_emulators() {
    let mut commands = Vec::new();
    for doc in ["README.md", "docs/cli.md", "examples/README.md"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        commands.extend(sync_commands(&text).into_iter().map(|c| (doc, c)));
    }
    assert!(commands.len() >= 8, "{commands:?}");
    for vendor in ["sunshine", "capture", "lumapps"] {
        assert!(
            commands
                .iter()
                .any(|(_, c)| c.contains(&format!("--vendor {vendor}"))),
            "no documented {vendor} sync"
        );
    }
    for (doc, command) in commands {
        // A query's database is the user's (the postgres tests sync the rows of a query
        // on the test server).
        if command.contains("--input postgres://") {
            continue;
        }
        let dir = crate::scratch_dir("docs");
        copy_examples(&dir);
        let mut words = words(&command);
        // A state in PostgreSQL: the test server's, in a schema of this command's own.
        if let Some(at) = words.iter().position(|w| w.starts_with("postgres://")) {
            words[at] = crate::postgres::state_url("docs");
        }
        let vendor = words[3].as_str();
        // Each command against a fresh emulator holding the example seeds.
        let (env, _keep): (Vec<(&str, String)>, Box<dyn std::any::Any>) = match vendor {
            "sunshine" => {
                let emulator = SunshineEmulator::start().await.unwrap();
                emulator.seed(&seed("riders.json")).unwrap();
                (
                    vec![
                        ("ZENDESK_BASE_URL", emulator.base_url()),
                        ("ZENDESK_EMAIL", SEED_EMAIL.to_owned()),
                        ("ZENDESK_API_TOKEN", SEED_API_TOKEN.to_owned()),
                    ],
                    Box::new(emulator),
                )
            }
            "capture" => {
                let emulator = CaptureEmulator::start().await.unwrap();
                emulator.seed("user", &seed("members.json")).unwrap();
                (
                    vec![
                        ("CAPTURE_BASE_URL", emulator.base_url()),
                        ("CAPTURE_CLIENT_ID", SEED_CLIENT_2.0.to_owned()),
                        ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_2.1.to_owned()),
                    ],
                    Box::new(emulator),
                )
            }
            _ => {
                let emulator = LumAppsEmulator::start_with(
                    LumAppsConfig::default().synthetic_users(100),
                    profile_emulator::loopback(0),
                )
                .await
                .unwrap();
                (
                    vec![
                        ("LUMAPPS_BASE_URL", emulator.base_url()),
                        ("LUMAPPS_TOKEN", DEMO_TOKEN.to_owned()),
                    ],
                    Box::new(emulator),
                )
            }
        };
        let output = tokio::process::Command::new(crate::PROFILES)
            .args(&words[1..])
            .current_dir(&dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{doc}: `{command}` stopped working:\n{stderr}"
        );
        assert!(stderr.contains("sync: "), "{doc}: `{command}`: {stderr}");
    }
}

#[test]
fn the_credentials_the_examples_export_are_those_the_emulators_take() {
    let text = std::fs::read_to_string(root().join("examples/README.md")).unwrap();
    let exported = |name: &str| {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("examples/README.md exports no {name}"))
            .to_owned()
    };
    assert_eq!(exported("CAPTURE_CLIENT_ID"), SEED_CLIENT_2.0);
    assert_eq!(exported("CAPTURE_CLIENT_SECRET"), SEED_CLIENT_2.1);
    assert_eq!(
        exported("ZENDESK_API_TOKEN"),
        profile_emulator::sunshine::SEED_API_TOKEN
    );
    assert_eq!(
        exported("ZENDESK_EMAIL"),
        profile_emulator::sunshine::SEED_EMAIL
    );
    assert_eq!(
        exported("LUMAPPS_TOKEN"),
        profile_emulator::lumapps::DEMO_TOKEN
    );
}

#[test]
fn the_command_reader_joins_lines_and_keeps_quoted_words() {
    let text = "```sh\nprofiles sync --vendor lumapps --input hr.csv \\\n    --map \"phone=Phone Number\"\n```\n```text\nprofiles sync --vendor x\n```\n";
    let commands = sync_commands(text);
    assert_eq!(
        commands,
        ["profiles sync --vendor lumapps --input hr.csv --map \"phone=Phone Number\""]
    );
    assert_eq!(words(&commands[0]).last().unwrap(), "phone=Phone Number");
}
