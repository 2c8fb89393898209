//! Every row of `docs/errors.md`: a bad input, the typed error it gets before anything is
//! sent, and the message a person reads. The table is read from the page itself, so the
//! page and these tests cannot drift apart.

use profile_core::ClientSettings;
use std::collections::BTreeSet;
use std::path::Path;

use profile_capture::{
    AttributePath, CaptureAuth, CaptureClient, CaptureInputError, EntityLocator, EntityUpdate,
    parse_json_value,
};
use profile_core::credentials::CredentialError;
use profile_core::{BaseUrl, Error, FieldPath, HttpConfig, ProfilePatch, ProfileUpdater, UserRef};
use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsEmulator, SEED_DIRECTORY};
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use profile_lumapps::{LumAppsAuth, LumAppsClient, LumAppsInputError, LumAppsUpdater};
use profile_sunshine::{
    IdentifierQuery, ProfileId, SunshineAuth, SunshineClient, SunshineInputError, SunshineUpdater,
    UserId,
};
use serde_json::json;
use tokio::process::Command;

use crate::PROFILES;

const PAGE: &str = include_str!("../../../../docs/errors.md");

/// One documented row: id, what the user gets (a type and variant, or for the command
/// line `exit 2`, `malformed row`), and the start of the message.
#[derive(Debug)]
struct Row {
    id: String,
    gets: String,
    message: String,
}

fn documented() -> Vec<Row> {
    PAGE.lines()
        .filter(|line| line.starts_with("| E"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 4, "four cells: {line}");
            Row {
                id: cells[0].to_owned(),
                gets: cells[2].trim_matches('`').to_owned(),
                message: cells[3].replace("\\|", "|"),
            }
        })
        .collect()
}

/// Unwraps the typed input error inside an [`Error::InvalidInput`].
fn inner<E: std::error::Error + 'static>(error: &Error) -> &E {
    match error {
        Error::InvalidInput(source) => source
            .downcast_ref::<E>()
            .unwrap_or_else(|| panic!("not a {}: {error:?}", std::any::type_name::<E>())),
        other => panic!("not invalid input: {other:?}"),
    }
}

async fn sunshine() -> (SunshineEmulator, SunshineUpdater) {
    let emulator = SunshineEmulator::start().await.unwrap();
    let client = SunshineClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        SunshineAuth::api_token(SEED_EMAIL, SEED_API_TOKEN),
    )
    .build()
    .unwrap();
    (emulator, SunshineUpdater::new(client, "coolbikes", "rider"))
}

async fn capture() -> (CaptureEmulator, CaptureClient) {
    let emulator = CaptureEmulator::start().await.unwrap();
    let client = CaptureClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        CaptureAuth::basic(SEED_CLIENT_2.0, SEED_CLIENT_2.1),
    )
    .build()
    .unwrap();
    (emulator, client)
}

/// The error of a Capture update, which must fail before anything is sent.
async fn capture_update(update: Result<EntityUpdate, CaptureInputError>) -> CaptureInputError {
    let update = match update {
        Ok(update) => update,
        Err(error) => return error,
    };
    let (emulator, client) = capture().await;
    let error = client.update(&update).await.unwrap_err();
    assert_eq!(emulator.faults().requests_seen(), 0, "nothing is sent");
    inner::<CaptureInputError>(&error).clone()
}

/// The error of a vendor-neutral update, which must fail before anything is sent.
async fn sunshine_patch(path: &str, value: serde_json::Value) -> SunshineInputError {
    let (emulator, updater) = sunshine().await;
    let patch = ProfilePatch::new().set(path, value).unwrap();
    let error = updater
        .update(&UserRef::email("jdoe@example.com"), &patch)
        .await
        .unwrap_err();
    assert_eq!(emulator.faults().requests_seen(), 0, "nothing is sent");
    inner::<SunshineInputError>(&error).clone()
}

fn variant<T: std::fmt::Debug>(value: &T) -> String {
    let debug = format!("{value:?}");
    let end = debug.find([' ', '(', '{']).unwrap_or(debug.len());
    debug[..end].to_owned()
}

fn typed<E: std::error::Error + std::fmt::Debug>(error: E) -> (String, String) {
    let name = std::any::type_name::<E>().rsplit("::").next().unwrap();
    (format!("{name}::{}", variant(&error)), error.to_string())
}

/// A sync run by the real binary against a Sunshine emulator that must see no request.
async fn cli_sync(
    args: &[&str],
    files: &[(&str, &[u8])],
    env: &[(&str, &str)],
) -> (String, String) {
    let emulator = SunshineEmulator::start().await.unwrap();
    let dir = crate::scratch_dir("errors");
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    let report = dir.join("report.json");
    let base = emulator.base_url();
    let output = Command::new(PROFILES)
        .current_dir(&dir)
        .arg("sync")
        .args(args)
        .args(["--report", report.to_str().unwrap()])
        .env("ZENDESK_BASE_URL", &base)
        .env("ZENDESK_EMAIL", SEED_EMAIL)
        .env("ZENDESK_API_TOKEN", SEED_API_TOKEN)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let code = output.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // A malformed row is reported in the report and the run goes on; anything else stops
    // the run before it starts.
    let result = if code == 1 && Path::new(&report).exists() {
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let failure = &report["failures"][0];
        assert_eq!(failure["outcome"], "malformed", "{report}");
        (
            "malformed row".to_owned(),
            failure["detail"].as_str().unwrap().to_owned(),
        )
    } else {
        assert_eq!(code, 2, "{stderr}");
        let message = stderr
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(&stderr)
            .to_owned();
        ("exit 2".to_owned(), message)
    };
    assert_eq!(
        emulator.faults().requests_seen(),
        0,
        "nothing is sent: {stderr}"
    );
    result
}

const SYNC_MAP: [&str; 8] = [
    "--vendor",
    "sunshine",
    "--source",
    "coolbikes",
    "--type",
    "rider",
    "--map",
    "saddle=attributes.saddle_height",
];

fn with_map<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = SYNC_MAP.to_vec();
    args.extend_from_slice(extra);
    args
}

async fn run(id: &str) -> (String, String) {
    let csv_input = ["--input", "riders.csv"];
    match id {
        // Zendesk Sunshine: identifier queries, ids and fields.
        "E01" => typed(
            "coolbikes:rider:email"
                .parse::<IdentifierQuery>()
                .unwrap_err(),
        ),
        "E02" => typed(
            "coolbikes::email:jdoe@example.com"
                .parse::<IdentifierQuery>()
                .unwrap_err(),
        ),
        "E03" => typed(
            "zendesk:rider:email:jdoe@example.com"
                .parse::<IdentifierQuery>()
                .unwrap_err(),
        ),
        "E04" => typed(
            format!("{}:rider:email:jdoe@example.com", "c".repeat(41))
                .parse::<IdentifierQuery>()
                .unwrap_err(),
        ),
        "E05" => typed(ProfileId::new("../users").unwrap_err()),
        "E06" => typed("-42".parse::<UserId>().unwrap_err()),
        "E07" => typed(sunshine_patch("color", json!("red")).await),
        "E08" => typed(sunshine_patch("created_at", json!("2020-01-01")).await),
        "E09" => typed(sunshine_patch("name", json!(42)).await),
        // Capture: attribute paths, names, values.
        "E10" => typed(AttributePath::parse("/statuses#first").unwrap_err()),
        "E11" => typed(AttributePath::parse("/primaryAddress//city").unwrap_err()),
        "E12" => typed(AttributePath::parse("/primary address/city").unwrap_err()),
        "E13" => typed(
            capture_update(EntityUpdate::attributes(
                "us er",
                EntityLocator::Id(5250),
                json!({"givenName": "Matt"}),
            ))
            .await,
        ),
        "E14" => typed(
            capture_update(EntityUpdate::attributes(
                "user",
                EntityLocator::Id(5250),
                json!(["Matt"]),
            ))
            .await,
        ),
        "E15" => typed(
            capture_update(EntityUpdate::attributes(
                "user",
                EntityLocator::Id(5250),
                json!({"uuid": "6bbe7e58-bede-41b8-940b-5614c7607a4e"}),
            ))
            .await,
        ),
        "E16" => typed(parse_json_value("{\"Gary Jackson\"}").unwrap_err()),
        "E17" => typed(
            capture_update(
                EntityUpdate::attributes(
                    "user",
                    EntityLocator::Id(5250),
                    json!({"givenName": "Matt"}),
                )
                .map(|u| u.if_last_updated("yesterday")),
            )
            .await,
        ),
        "E18" => typed(
            capture_update(EntityUpdate::attributes(
                "user",
                EntityLocator::key("e-mail", "mpark@example.com"),
                json!({"givenName": "Matt"}),
            ))
            .await,
        ),
        // LumApps: fields of the directory's template.
        "E19" | "E20" => {
            let emulator = LumAppsEmulator::start().await.unwrap();
            let client = LumAppsClient::builder(
                BaseUrl::parse(&emulator.base_url()).unwrap(),
                LumAppsAuth::token(DEMO_TOKEN),
            )
            .build()
            .unwrap();
            let directory = client.get_directory(SEED_DIRECTORY, "en").await.unwrap();
            let updater = LumAppsUpdater::new(client, directory, "en");
            let seen = emulator.faults().requests_seen();
            let path = if id == "E19" {
                "Shoe size"
            } else {
                "Title.first"
            };
            let patch = ProfilePatch::new().set(path, "42").unwrap();
            let error = updater
                .update(&UserRef::email("jdoe@customer.com"), &patch)
                .await
                .unwrap_err();
            assert_eq!(emulator.faults().requests_seen(), seen, "nothing is sent");
            typed(inner::<LumAppsInputError>(&error).clone())
        }
        // Every vendor: field paths, base URLs, credentials, sizes.
        "E21" => typed(FieldPath::parse("").unwrap_err()),
        "E22" => typed(FieldPath::parse("attributes..saddle_height").unwrap_err()),
        "E23" => typed(BaseUrl::parse("http://coolbikes.zendesk.com").unwrap_err()),
        "E24" => typed(BaseUrl::parse("ftp://coolbikes.zendesk.com").unwrap_err()),
        "E25" => typed(BaseUrl::parse("coolbikes.zendesk.com").unwrap_err()),
        "E26" => typed(BaseUrl::parse("https://devs:secret@coolbikes.zendesk.com").unwrap_err()),
        "E27" => typed(BaseUrl::parse("https://coolbikes.zendesk.com/?locale=en").unwrap_err()),
        "E28" | "E29" => {
            let token = if id == "E28" {
                ""
            } else {
                "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv\n"
            };
            let error = SunshineClient::builder(
                BaseUrl::parse("https://coolbikes.zendesk.com").unwrap(),
                SunshineAuth::api_token(SEED_EMAIL, token),
            )
            .build()
            .unwrap_err();
            let credential = inner::<CredentialError>(&error).clone();
            assert!(!error.to_string().contains("6wiIBW"), "never the secret");
            typed(credential)
        }
        "E30" => {
            let emulator = SunshineEmulator::start().await.unwrap();
            let client = SunshineClient::builder(
                BaseUrl::parse(&emulator.base_url()).unwrap(),
                SunshineAuth::api_token(SEED_EMAIL, SEED_API_TOKEN),
            )
            .http(HttpConfig::default().with_max_request_bytes(1024 * 1024))
            .build()
            .unwrap();
            let updater = SunshineUpdater::new(client, "coolbikes", "rider");
            let patch = ProfilePatch::new()
                .set("attributes.biography", "x".repeat(2 * 1024 * 1024))
                .unwrap();
            let error = updater
                .update(&UserRef::email("jdoe@example.com"), &patch)
                .await
                .unwrap_err();
            assert_eq!(emulator.faults().requests_seen(), 0, "nothing is sent");
            assert!(error.is_invalid_input());
            ("Error::InvalidInput".to_owned(), error.to_string())
        }
        // The command line: input files, mappings, settings.
        "E31" => {
            cli_sync(
                &with_map(&csv_input),
                &[(
                    "riders.csv",
                    b"email,saddle\nrider1@example.com,87cm,extra\n",
                )],
                &[],
            )
            .await
        }
        "E32" => {
            cli_sync(
                &with_map(&csv_input),
                &[("riders.csv", b"email,saddle\n,87cm\n")],
                &[],
            )
            .await
        }
        "E33" => {
            cli_sync(
                &with_map(&csv_input),
                &[("riders.csv", b"email,saddle\nrider1@example.com,87\xffcm\n")],
                &[],
            )
            .await
        }
        "E34" => {
            cli_sync(
                &with_map(&["--input", "riders.jsonl"]),
                &[("riders.jsonl", b"[\"rider1@example.com\", \"87cm\"]\n")],
                &[],
            )
            .await
        }
        "E35" => {
            cli_sync(
                &[
                    "--vendor",
                    "sunshine",
                    "--input",
                    "riders.csv",
                    "--mapping",
                    "mapping.toml",
                ],
                &[
                    ("riders.csv", b"email,saddle\n"),
                    ("mapping.toml", b"[sunshine\nkey = \"email\"\n"),
                ],
                &[],
            )
            .await
        }
        "E36" => {
            cli_sync(
                &[
                    "--vendor",
                    "sunshine",
                    "--source",
                    "coolbikes",
                    "--type",
                    "rider",
                    "--map",
                    "shoe=attributes.shoe_size",
                    "--input",
                    "riders.csv",
                ],
                &[("riders.csv", b"email,saddle\nrider1@example.com,87cm\n")],
                &[],
            )
            .await
        }
        "E37" => {
            cli_sync(
                &[
                    "--vendor",
                    "sunshine",
                    "--source",
                    "coolbikes",
                    "--type",
                    "rider",
                    "--map",
                    "saddle=attributes.",
                    "--input",
                    "riders.csv",
                ],
                &[("riders.csv", b"email,saddle\nrider1@example.com,87cm\n")],
                &[],
            )
            .await
        }
        "E38" => {
            cli_sync(
                &with_map(&csv_input),
                &[("riders.csv", b"email,saddle\n")],
                &[("ZENDESK_API_TOKEN", "")],
            )
            .await
        }
        "E39" => {
            cli_sync(
                &with_map(&["--input", "riders.csv", "--rate", "fast"]),
                &[("riders.csv", b"email,saddle\n")],
                &[],
            )
            .await
        }
        "E40" => {
            cli_sync(
                &with_map(&csv_input),
                &[("riders.csv", b"email,saddle\n")],
                &[("ZENDESK_BASE_URL", "http://coolbikes.zendesk.com")],
            )
            .await
        }
        "E41" => cli_sync(&with_map(&["--input", "missing.csv"]), &[], &[]).await,
        "E42" => {
            let deep = format!("saddle=attributes{}", ".x".repeat(20_000));
            cli_sync(
                &[
                    "--vendor",
                    "sunshine",
                    "--source",
                    "coolbikes",
                    "--type",
                    "rider",
                    "--map",
                    &deep,
                    "--input",
                    "riders.csv",
                ],
                &[("riders.csv", b"email,saddle\nrider1@example.com,87cm\n")],
                &[],
            )
            .await
        }
        "E43" => {
            cli_sync(
                &with_map(&csv_input),
                &[(
                    "riders.csv",
                    b"email,saddle,email\nrider1@example.com,87cm,x@y\n",
                )],
                &[],
            )
            .await
        }
        "E44" => {
            cli_sync(
                &with_map(&["--input", "riders.jsonl"]),
                &[(
                    "riders.jsonl",
                    b"{\"email\":\"rider1@example.com\",\"saddle\":\"87cm\",\"email\":\"x@y\"}\n",
                )],
                &[],
            )
            .await
        }
        "E45" => {
            cli_sync(
                &with_map(&csv_input),
                &[(
                    "riders.csv",
                    b"email,saddle\nrider\x1b[2J@example.com,87cm\n",
                )],
                &[],
            )
            .await
        }
        "E46" => {
            cli_sync(
                &with_map(&csv_input),
                &[("riders.csv", b"email,saddle\nrider1@example.com,87\x00cm\n")],
                &[],
            )
            .await
        }
        "E47" => {
            let other = crate::scratch_dir("errors-foreign").join("other.db");
            {
                let conn = rusqlite::Connection::open(&other).unwrap();
                conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
                    .unwrap();
            }
            let bytes = std::fs::read(&other).unwrap();
            cli_sync(
                &with_map(&["--input", "riders.csv", "--state", "other.db"]),
                &[("riders.csv", b"email,saddle\n"), ("other.db", &bytes)],
                &[],
            )
            .await
        }
        "E49" => {
            cli_sync(
                &[
                    "--vendor",
                    "sunshine",
                    "--source",
                    "coolbikes",
                    "--type",
                    "rider",
                    "--map",
                    "first=name",
                    "--map",
                    "last=name",
                    "--input",
                    "riders.csv",
                ],
                &[(
                    "riders.csv",
                    b"email,first,last\nrider1@example.com,Ann,Lee\n",
                )],
                &[],
            )
            .await
        }
        "E48" => {
            cli_sync(
                &with_map(&["--input", "riders.csv", "--state", "damaged.db"]),
                &[
                    ("riders.csv", b"email,saddle\n"),
                    ("damaged.db", &[0x5a; 8192]),
                ],
                &[],
            )
            .await
        }
        other => panic!("docs/errors.md has a row {other} that no test runs"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_bad_input_gets_its_documented_error_before_anything_is_sent() {
    let rows = documented();
    assert!(rows.len() >= 30, "at least 30 rows, found {}", rows.len());
    let ids: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "ids are unique");
    let mut wrong = Vec::new();
    for row in &rows {
        let (gets, message) = run(&row.id).await;
        if gets != row.gets || !message.starts_with(&row.message) {
            wrong.push(format!(
                "| {} | … | `{gets}` | `{message}` |  (documented: `{}`, `{}`)",
                row.id, row.gets, row.message
            ));
        }
    }
    assert!(wrong.is_empty(), "rows that differ:\n{}", wrong.join("\n"));
}

#[test]
fn the_error_page_has_no_untested_row() {
    // `run` panics on an id it does not know; this keeps the list of ids in step.
    let ids: Vec<String> = documented().into_iter().map(|r| r.id).collect();
    let expected: Vec<String> = (1..=49).map(|n| format!("E{n:02}")).collect();
    assert_eq!(ids, expected);
}
