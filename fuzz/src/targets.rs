//! One function per fuzz target: it panics when the property does not hold.

use std::borrow::Cow;

use profile_capture::{
    AttributePath, CaptureAuth, CaptureClient, EntityCount, EntityFind, EntityLocator, EntityRead,
    sign,
};
use profile_core::secrecy::SecretString;
use profile_core::{BaseUrl, Body, ClientSettings, RetryPolicy};
use profile_lumapps::{LumAppsAuth, LumAppsClient, UserLocator};
use profile_sunshine::{IdentifierQuery, ProfileLocator, SunshineAuth, SunshineClient};

use crate::{answer, block_on, pairs, transport};

/// Every vendor's response decoding, through the public clients: any status and body end
/// in a value or a typed error, never a panic, and never show a credential.
pub fn response_decoders(data: &[u8]) {
    let base = BaseUrl::parse("https://example.com").unwrap_or_else(|e| panic!("{e}"));
    let sunshine =
        SunshineClient::builder(base.clone(), SunshineAuth::api_token("a@b.c", "SECRET1"))
            .transport(transport(answer(data)))
            .retry(RetryPolicy::never())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
    let query: IdentifierQuery = "s:t:email:a@b.c".parse().unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = block_on(sunshine.get_profile(&ProfileLocator::Identifier(query))) {
        assert!(!e.to_string().contains("SECRET1"));
    }
    let capture = CaptureClient::builder(base.clone(), CaptureAuth::basic("id", "SECRET2"))
        .transport(transport(answer(data)))
        .retry(RetryPolicy::never())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = block_on(capture.entity(&EntityRead::new("user", EntityLocator::Id(1)))) {
        assert!(!e.to_string().contains("SECRET2"));
    }
    let lumapps = LumAppsClient::builder(base, LumAppsAuth::token("SECRET3"))
        .transport(transport(answer(data)))
        .retry(RetryPolicy::never())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Err(e) = block_on(lumapps.get_user("d1", &UserLocator::Email("a@b.c".into()))) {
        assert!(!e.to_string().contains("SECRET3"));
    }
}

/// The Sunshine identifier query parser: never panics; what parses prints back to itself.
pub fn identifier_query(text: &str) {
    if let Ok(query) = text.parse::<IdentifierQuery>() {
        let again: IdentifierQuery = query
            .to_string()
            .parse()
            .unwrap_or_else(|e| panic!("a printed query parses: {e}"));
        assert_eq!(again, query);
    }
}

/// The Capture attribute path parser: never panics; what parses keeps its text.
pub fn attribute_path(text: &str) {
    if let Ok(path) = AttributePath::parse(text) {
        assert_eq!(path.as_str(), text);
        let again = AttributePath::parse(path.as_str())
            .unwrap_or_else(|e| panic!("a parsed path parses again: {e}"));
        assert_eq!(again, path);
    }
}

/// The form encoder: whatever the fields, decoding the body gives them back.
pub fn form_encoder(text: &str) {
    let fields = pairs(text);
    let form: Vec<(Cow<'static, str>, String)> = fields
        .iter()
        .map(|(k, v)| (Cow::Owned(k.clone()), v.clone()))
        .collect();
    let encoded = Body::Form(form).encode();
    let decoded: Vec<(String, String)> =
        url::form_urlencoded::parse(&encoded).into_owned().collect();
    assert_eq!(decoded, fields);
}

/// The Capture request signer: never panics, and the same input signs the same, whatever
/// the order of the parameters.
pub fn capture_signer(text: &str) {
    let (head, rest) = text.split_once('\0').unwrap_or((text, ""));
    let (path, secret) = head.split_once('\n').unwrap_or((head, "secret"));
    let secret = SecretString::from(secret.to_owned());
    let params = pairs(rest);
    let signature = sign(path, "2016-03-13 19:39:17", &params, &secret);
    let mut reversed = params.clone();
    reversed.reverse();
    assert_eq!(
        sign(path, "2016-03-13 19:39:17", &reversed, &secret),
        signature
    );
}

/// Capture's `entity.find`, `entity.count` and `entityType` answers, through the public
/// client: any status and body end in a value or a typed error, never a panic, and never
/// show a credential.
pub fn capture_queries(data: &[u8]) {
    let base = BaseUrl::parse("https://example.com").unwrap_or_else(|e| panic!("{e}"));
    let client = |data: &[u8]| {
        CaptureClient::builder(base.clone(), CaptureAuth::basic("id", "SECRET4"))
            .transport(transport(answer(data)))
            .retry(RetryPolicy::never())
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let secret_free = |e: profile_core::Error| assert!(!e.to_string().contains("SECRET4"));
    if let Err(e) = block_on(client(data).find(&EntityFind::new("user").filter("id > 1"))) {
        secret_free(e);
    }
    if let Err(e) = block_on(client(data).count(&EntityCount::new("user"))) {
        secret_free(e);
    }
    match block_on(client(data).entity_type("user")) {
        Ok(schema) => {
            for def in &schema.attr_defs {
                let _unique_or_not = def.is_unique();
                assert!(schema.attribute(&def.name).is_some());
            }
        }
        Err(e) => secret_free(e),
    }
}

/// The rate limit's reading of Zendesk's headers (`X-Rate-Limit`, `ratelimit-limit`,
/// `-remaining`, `-reset`, whatever their text): two requests through a limit that follows
/// them always finish, and the second starts no later than the longest wait the headers
/// can ask for (an hour) plus a starting interval.
pub fn rate_limit_headers(text: &str) {
    use profile_core::{ApiResponse, RateLimit, RateLimitTransport, StatedLimit, Transport};
    use std::time::Duration;
    let mut response = ApiResponse::new(200, "{}");
    for (name, value) in pairs(text) {
        let name = match name.len() % 5 {
            0 => "x-rate-limit",
            1 => "x-rate-limit-remaining",
            2 => "ratelimit-limit",
            3 => "ratelimit-remaining",
            _ => "ratelimit-reset",
        };
        response = response.with_header(name, value);
    }
    let recorder = crate::RecordingTransport::new();
    recorder
        .push_response(response.clone())
        .push_response(response);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let base = BaseUrl::parse("https://example.com").unwrap_or_else(|e| panic!("{e}"));
    let request =
        profile_core::ApiRequest::new("fuzz", "op", profile_core::Method::Get, &base, "/x");
    runtime.block_on(async {
        let limited = RateLimitTransport::new(
            recorder,
            RateLimit::per_minute(60).following(StatedLimit::Adopt),
        );
        let started = tokio::time::Instant::now();
        limited
            .send(&request)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        limited
            .send(&request)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(started.elapsed() <= Duration::from_secs(3_600 + 2));
    });
}

/// The state database's stored `fields` read back, whatever the text in the file: a value
/// or nothing, never a panic; what this program writes reads back the same.
pub fn state_values(text: &str) {
    if let Some(fields) = profile_sync::store::decode_fields(text) {
        let written = profile_sync::store::encode_fields(&fields);
        assert_eq!(profile_sync::store::decode_fields(&written), Some(fields.clone()));
        // A stored path that parses prints back as stored (the state compares by it); one
        // that does not is left out of comparisons, never a panic.
        for path in fields.keys() {
            if let Ok(parsed) = profile_core::FieldPath::parse(path) {
                assert_eq!(&parsed.to_string(), path);
            }
        }
    }
}

/// The mapping file's reading: any text is a section or a typed error; a section is a
/// mapping or a typed error.
pub fn mapping_file(text: &str) {
    for vendor in ["sunshine", "capture", "lumapps"] {
        if let Ok(section) = profile_sync::mapping::Mapping::parse_section(text, vendor, "fuzz") {
            if let Ok(mapping) =
                profile_sync::mapping::Mapping::from_section(section, &Default::default())
            {
                assert!(!mapping.fields.is_empty() || mapping.compute.is_some());
                assert!(mapping.check_columns(&[]).is_err());
            }
        }
    }
}

/// A mapping file with templates, then the text of a row's cells after a line `---`: the
/// file is refused with a message or compiled; every row then renders or fails with a
/// reason, never a panic, and within the fuel limit's time (a template cannot make one row
/// cost seconds).
pub fn mapping_templates(text: &str) {
    let (file, cells) = text.split_once("\n---\n").unwrap_or((text, "Zoé;03/02/2021;FIN"));
    for vendor in ["sunshine", "capture", "lumapps"] {
        let Ok(section) = profile_sync::mapping::Mapping::parse_section(file, vendor, "fuzz") else {
            continue;
        };
        let Ok(mapping) = profile_sync::mapping::Mapping::from_section(section, &Default::default())
        else {
            continue;
        };
        let Some(compute) = &mapping.compute else {
            continue;
        };
        let columns: Vec<String> = compute.columns().map(str::to_owned).collect();
        let values: Vec<&str> = cells.split(';').collect();
        let mut row = serde_json::Map::new();
        for (at, column) in columns.iter().enumerate() {
            let value = values.get(at % values.len().max(1)).copied().unwrap_or("");
            row.insert(column.clone(), serde_json::Value::String(value.to_owned()));
        }
        let started = std::time::Instant::now();
        if let Ok(Some(values)) = compute.apply(&row) {
            assert_eq!(values.len(), compute.fields().len());
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "one row took {:?}",
            started.elapsed()
        );
    }
}

/// The CSV and JSON Lines readers: any bytes, with the delimiter and encoding the first
/// byte picks, give columns and rows, or a typed error; every row is a sync row or a
/// row error with a line number.
pub fn row_reader(data: &[u8]) {
    use profile_sync::input::{EmptyCells, Format, InputOptions, open_reader, to_sync_row};
    let (head, body) = data.split_at(data.len().min(1));
    let pick = head.first().copied().unwrap_or(0);
    let format = if pick & 1 == 0 { Format::Csv } else { Format::Jsonl };
    let mut options = InputOptions::new(format)
        .delimiter([b',', b';', b'\t', b'|'][usize::from(pick >> 1) % 4])
        .empty(if pick & 8 == 0 { EmptyCells::Skip } else { EmptyCells::Clear })
        .key_lowercase(pick & 16 != 0);
    if pick & 32 != 0 {
        options = options
            .encoding("windows-1252")
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let mapping = profile_sync::mapping::Mapping::from_flags(
        "email",
        profile_core::KeyKind::Email,
        &[("name".to_owned(), "name".to_owned())],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    if let Ok((_, rows)) = open_reader("fuzz", std::io::Cursor::new(body.to_vec()), &options) {
        for row in rows.take(10_000) {
            match to_sync_row(row, &mapping, &options) {
                Ok(Some(row)) => assert!(!row.key.is_empty()),
                Ok(None) => panic!("no scope, yet a row out of it"),
                Err(error) => assert!(!error.reason.is_empty()),
            }
        }
    }
}

/// Every target: its name, and its body over raw bytes (text targets take the bytes that
/// are UTF-8, as `fuzz_target!` does for a `&str` input).
pub const ALL: [(&str, fn(&[u8])); 11] = [
    ("response_decoders", response_decoders),
    ("row_reader", row_reader),
    ("state_values", |data| text(data, state_values)),
    ("mapping_file", |data| text(data, mapping_file)),
    ("mapping_templates", |data| text(data, mapping_templates)),
    ("capture_queries", capture_queries),
    ("rate_limit_headers", |data| text(data, rate_limit_headers)),
    ("identifier_query", |data| text(data, identifier_query)),
    ("attribute_path", |data| text(data, attribute_path)),
    ("form_encoder", |data| text(data, form_encoder)),
    ("capture_signer", |data| text(data, capture_signer)),
];

fn text(data: &[u8], target: fn(&str)) {
    if let Ok(text) = std::str::from_utf8(data) {
        target(text);
    }
}
