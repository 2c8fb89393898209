//! Mapping without scripts: computed fields, lookups, the scope, the file's settings and
//! `--only`, against the emulators.

use serde_json::Value;

use crate::sync::{SUNSHINE_MAP, dir, env_refs, report, sunshine_env, sunshine_with_riders, sync};

/// The riders' profiles by their e-mail identifier.
fn profile(emulator: &profile_emulator::sunshine::SunshineEmulator, email: &str) -> Value {
    emulator
        .profiles()
        .into_iter()
        .find(|p| p["identifiers"][0]["value"] == email)
        .unwrap_or_else(|| panic!("no profile {email}"))
}

/// A French HR export, `;`-separated, Windows-1252, as Excel writes it.
fn french_export(path: &std::path::Path, rows: &[(&str, &str, &str, &str, &str, &str)]) {
    let mut text = String::from("email;prenom;nom;entree;service;statut\r\n");
    for (email, first, last, hired, service, status) in rows {
        text.push_str(&format!(
            "{email};{first};{last};{hired};{service};{status}\r\n"
        ));
    }
    // Latin-1's letters are Windows-1252's, byte for byte.
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    std::fs::write(path, bytes).unwrap();
}

const MAPPING: &str = r#"
[input]
delimiter = ";"
encoding = "windows-1252"

[sunshine]
key = "email"
source = "coolbikes"
type = "rider"
rate = 0
concurrency = 2
where = "statut == 'actif'"
[sunshine.computed]
name = "{{ prenom | trim | title }} {{ nom | upper }}"
"attributes.login" = "{{ (prenom ~ '.' ~ nom) | ascii | lower | replace(' ', '') }}"
"attributes.hired" = "{{ entree | date(from='%d/%m/%Y', to='%Y-%m-%d') }}"
"attributes.department" = "{{ service | lookup('services') | default('Autre') }}"
"attributes.team" = "{{ service | default('none') }}"
[sunshine.lookups.services]
FIN = "Finance"
RH = "Ressources humaines"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_french_export_is_synced_through_every_filter_with_no_script() {
    let emulator = sunshine_with_riders(4).await;
    let dir = dir();
    let (input, mapping, report_path) = (
        dir.join("rh.csv"),
        dir.join("nightly.toml"),
        dir.join("report.json"),
    );
    std::fs::write(&mapping, MAPPING).unwrap();
    french_export(
        &input,
        &[
            (
                "rider0@example.com",
                "  zoé ",
                "Lefèvre",
                "03/02/2021",
                "FIN",
                "actif",
            ),
            (
                "rider1@example.com",
                "Jérôme",
                "Dupont",
                "15/09/2019",
                "XX",
                "actif",
            ),
            (
                "rider2@example.com",
                "Anaïs",
                "Strauß",
                "01/12/2022",
                "",
                "actif",
            ),
            (
                "rider3@example.com",
                "Loïc",
                "Garçon",
                "11/11/2011",
                "RH",
                "parti",
            ),
        ],
    );
    let env = sunshine_env(&emulator.base_url());
    let args = [
        "--vendor",
        "sunshine",
        "--mapping",
        mapping.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
    ];
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let zoe = profile(&emulator, "rider0@example.com");
    assert_eq!(zoe["name"], "Zoé LEFÈVRE", "trim, title, upper");
    assert_eq!(
        zoe["attributes"]["login"], "zoe.lefevre",
        "~, ascii, lower, replace"
    );
    assert_eq!(zoe["attributes"]["hired"], "2021-02-03", "date");
    assert_eq!(zoe["attributes"]["department"], "Finance", "lookup");
    assert_eq!(zoe["attributes"]["team"], "FIN");
    let jerome = profile(&emulator, "rider1@example.com");
    assert_eq!(
        jerome["attributes"]["department"], "Autre",
        "an unknown code, then default"
    );
    let anais = profile(&emulator, "rider2@example.com");
    assert_eq!(anais["attributes"]["login"], "anais.strauss");
    assert_eq!(
        anais["attributes"]["team"], "none",
        "an empty cell, then default"
    );
    assert_eq!(anais["attributes"]["department"], "Autre");
    // Outside the scope: not synced.
    let loic = profile(&emulator, "rider3@example.com");
    assert!(loic["attributes"].get("login").is_none(), "{loic}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (
            summary["updated"].as_u64(),
            summary["out_of_scope"].as_u64()
        ),
        (Some(3), Some(1)),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 outside the scope (where), not synced"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistake_in_a_template_is_refused_before_any_request() {
    let emulator = sunshine_with_riders(2).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    crate::sync::riders_csv(&input, 2);
    let env = sunshine_env(&emulator.base_url());
    let seen = emulator.faults().requests_seen();
    let cases = [
        (
            "name={{ email | shout }}",
            "--compute: `name`: unknown filter `shout`",
        ),
        (
            "name={{ email | lookup('teams') }}",
            "no lookup table `teams`",
        ),
        ("name={{ email ", "--compute: `name`: syntax error"),
        (
            "name={{ hired | date(from='%d/%m/%Y') }}",
            "date takes both formats",
        ),
        (
            "name={{ nosuchcolumn }}",
            "the input does not have: nosuchcolumn",
        ),
    ];
    for (compute, wanted) in cases {
        let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
        args.extend(["--input", input.to_str().unwrap(), "--compute", compute]);
        let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
        assert_eq!(code, 2, "{compute}: {stderr}");
        assert!(stderr.contains(wanted), "{compute}: {stderr}");
    }
    // In a mapping file, the place names the file and the table.
    let mapping = dir.join("bad.toml");
    std::fs::write(
        &mapping,
        "[sunshine]\nsource = \"coolbikes\"\ntype = \"rider\"\n[sunshine.computed]\nname = \"{{ email | upper | shout }}\"\n",
    )
    .unwrap();
    let args = [
        "--vendor",
        "sunshine",
        "--mapping",
        mapping.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ];
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("bad.toml [sunshine.computed]: `name`: unknown filter `shout`"),
        "{stderr}"
    );
    // A column and a computed value into one field.
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--compute",
        "attributes.saddle_height={{ saddle }}cm",
    ]);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "the column `saddle` and a computed value are both mapped to `attributes.saddle_height`"
        ),
        "{stderr}"
    );
    assert_eq!(emulator.faults().requests_seen(), seen, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_whose_date_does_not_parse_is_malformed_and_not_sent() {
    let emulator = sunshine_with_riders(3).await;
    let dir = dir();
    let (input, report_path) = (dir.join("riders.csv"), dir.join("report.json"));
    std::fs::write(
        &input,
        "email,hired\nrider0@example.com,03/02/2021\nrider1@example.com,2021-02-03\nrider2@example.com,31/02/2021\n",
    )
    .unwrap();
    let env = sunshine_env(&emulator.base_url());
    let args = [
        "--vendor",
        "sunshine",
        "--source",
        "coolbikes",
        "--type",
        "rider",
        "--input",
        input.to_str().unwrap(),
        "--compute",
        "attributes.hired={{ hired | date(from='%d/%m/%Y', to='%Y-%m-%d') }}",
        "--report",
        report_path.to_str().unwrap(),
        "--rate",
        "0",
    ];
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 1, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (summary["updated"].as_u64(), summary["malformed"].as_u64()),
        (Some(1), Some(2))
    );
    let failures = report(&report_path)["failures"].to_string();
    assert!(
        failures.contains("`2021-02-03` is not a date in the format `%d/%m/%Y`"),
        "{failures}"
    );
    assert!(
        failures.contains("`31/02/2021` is not a date"),
        "{failures}"
    );
    // One read and one write for rider0; nothing for the two others.
    assert_eq!(
        emulator
            .faults()
            .requests_to("PATCH", "/api/v2/user_profiles"),
        1
    );
    assert!(
        profile(&emulator, "rider1@example.com")["attributes"]
            .get("hired")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_person_who_falls_out_of_scope_is_a_mirror_leaver() {
    let emulator = sunshine_with_riders(10).await;
    let dir = dir();
    let (input, state, report_path) = (
        dir.join("riders.csv"),
        dir.join("state.db"),
        dir.join("report.json"),
    );
    let export = |terminated: Option<usize>| {
        let mut csv = String::from("email,saddle,status\n");
        for i in 0..10 {
            let status = if Some(i) == terminated {
                "terminated"
            } else {
                "active"
            };
            csv.push_str(&format!("rider{i}@example.com,85cm,{status}\n"));
        }
        std::fs::write(&input, csv).unwrap();
    };
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
        "--mode",
        "mirror",
        "--leaver-set",
        "attributes.status=left",
        "--where",
        "status == 'active'",
        "--rate",
        "0",
    ]);
    export(None);
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    export(Some(4));
    // The dry run shows the values the leaver would get.
    let mut dry = args.clone();
    dry.push("--dry-run");
    let (code, stdout, stderr) = sync(&dry, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("leaver rider4@example.com: would get attributes.status = \"left\""),
        "{stdout}"
    );
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    let summary = &report(&report_path)["summary"];
    assert_eq!(
        (
            summary["retired"].as_u64(),
            summary["out_of_scope"].as_u64()
        ),
        (Some(1), Some(1)),
        "{stderr}"
    );
    assert_eq!(
        profile(&emulator, "rider4@example.com")["attributes"]["status"],
        "left"
    );
    assert!(
        profile(&emulator, "rider3@example.com")["attributes"]
            .get("status")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_runs_one_person_through_the_pipeline_and_shows_each_step() {
    let emulator = sunshine_with_riders(5).await;
    let dir = dir();
    let input = dir.join("riders.csv");
    std::fs::write(
        &input,
        "email,first,last,saddle\nrider0@example.com,Zoé,Lefèvre,85cm\nRider3@Example.com,Noël,Hervé,85cm\nrider4@example.com,A,B,85cm\n",
    )
    .unwrap();
    let env = sunshine_env(&emulator.base_url());
    let mut args: Vec<&str> = SUNSHINE_MAP.to_vec();
    args.extend([
        "--input",
        input.to_str().unwrap(),
        "--compute",
        "name={{ first }} {{ last | upper }}",
        "--only",
        "rider3@example.com",
        "--rate",
        "0",
    ]);
    let mut dry = args.clone();
    dry.push("--dry-run");
    let (code, stdout, stderr) = sync(&dry, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    for wanted in [
        "only: line 3 of",
        "  first = \"Noël\"",
        "  computed name = \"Noël HERVÉ\"",
        "GET http://",
        "authorization: ** redacted **",
    ] {
        assert!(stderr.contains(wanted), "{wanted}: {stderr}");
    }
    assert!(stdout.contains("name: \"R\" -> \"Noël HERVÉ\""), "{stdout}");
    assert!(
        !stderr.contains(profile_emulator::sunshine::SEED_API_TOKEN),
        "{stderr}"
    );
    let seen = emulator.faults().requests_seen();
    let (code, _, stderr) = sync(&args, &env_refs(&env)).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("PATCH http://"), "{stderr}");
    assert!(stderr.contains("\"name\": \"Noël HERVÉ\""), "{stderr}");
    assert!(
        stderr.contains("only: line 3 rider3@example.com"),
        "{stderr}"
    );
    // One read, one write: nobody else.
    assert_eq!(emulator.faults().requests_seen() - seen, 2, "{stderr}");
    assert_eq!(
        profile(&emulator, "rider3@example.com")["name"],
        "Noël HERVÉ"
    );
    assert_eq!(profile(&emulator, "rider0@example.com")["name"], "R");
    // A key that no row has.
    let mut missing = args.clone();
    let at = missing
        .iter()
        .position(|a| *a == "rider3@example.com")
        .unwrap();
    missing[at] = "nobody@example.com";
    let (code, _, stderr) = sync(&missing, &env_refs(&env)).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--only nobody@example.com: no row of"),
        "{stderr}"
    );
}
