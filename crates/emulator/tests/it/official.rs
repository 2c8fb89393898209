//! The requests the vendors' official Python clients send, reproduced byte for byte from
//! their source (janrain-python-api 0.5.0's `Api.call`, janrain-datalib's
//! `SchemaRecord.update`, lumapps-sdk's `iter_call`), are accepted by the emulators.
//!
//! What those clients put on the wire: janrain-python-api posts the parameters form-encoded
//! in the order it holds them (its defaults, then the call's), values that are objects as
//! Python's `json.dumps` writes them (`", "` and `": "` between items), with
//! `User-Agent: janrain-python-api 0.5.0` and `Accept-encoding: gzip`; unsigned, the
//! client's id and secret go as form parameters; signed, they do not, and a `Date` header
//! (`%Y-%m-%d %H:%M:%S`, UTC) and `Authorization: Signature {client_id}:{base64 hmac-sha1}`
//! over `{path}\n{date}\n` and the sorted `key=value` lines go instead. janrain-datalib
//! addresses a record by `key_attribute=uuid` with the uuid as a JSON string.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
use profile_emulator::lumapps::{
    DEMO_TOKEN, LumAppsConfig, LumAppsEmulator, SEED_CUSTOMER, SEED_DIRECTORY,
};
use serde_json::Value;
use sha1::Sha1;

/// The record of the seed's first example.
const MATT_UUID: &str = "6bbe7e58-bede-41b8-940b-5614c7607a4e";

/// Python's `urlencode` of the pairs (`quote_plus`: letters, digits and `_.-~` kept,
/// space as `+`, everything else `%XX`).
fn python_urlencode(pairs: &[(&str, &str)]) -> String {
    let quote = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// janrain-python-api's `generate_signature`, on the unencoded parameters.
fn python_signature(path: &str, date: &str, params: &[(&str, &str)], secret: &str) -> String {
    let mut lines: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    lines.sort();
    let mut data = format!("{path}\n{date}\n");
    if !lines.is_empty() {
        data.push_str(&lines.join("\n"));
        data.push('\n');
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn python_client_request(url: String, body: String) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("User-Agent", "janrain-python-api 0.5.0")
        .header("Accept-encoding", "gzip")
        .header("Accept", "*/*")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
}

/// Posts `params` to `path` signed as janrain-python-api signs them, and reads the answer.
async fn signed(emulator: &CaptureEmulator, path: &str, params: &[(&str, &str)]) -> Value {
    let (id, secret) = SEED_CLIENT_2;
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .trim_end_matches('Z')
        .replacen('T', " ", 1);
    let signature = python_signature(path, &date, params, secret);
    let url = format!("{}{path}", emulator.base_url());
    stat(
        python_client_request(url, python_urlencode(params))
            .header("Date", &date)
            .header("Authorization", format!("Signature {id}:{signature}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn stat(response: reqwest::Response) -> Value {
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn janrain_python_api_unsigned_sends_the_client_in_the_form_and_is_accepted() {
    let emulator = CaptureEmulator::start().await.unwrap();
    let (id, secret) = SEED_CLIENT_2;
    // Api(url, {"client_id": …, "client_secret": …}, sign_requests=False)
    //     .call("entity", type_name="user", uuid=MATT_UUID)
    let body = python_urlencode(&[
        ("client_id", id),
        ("client_secret", secret),
        ("type_name", "user"),
        ("uuid", MATT_UUID),
    ]);
    let answer = stat(
        python_client_request(format!("{}/entity", emulator.base_url()), body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer["stat"], "ok", "{answer}");
    assert_eq!(answer["result"]["uuid"], MATT_UUID);
    // A wrong secret in the form is refused as Basic's is.
    let body = python_urlencode(&[
        ("client_id", id),
        ("client_secret", "wrong"),
        ("type_name", "user"),
        ("uuid", MATT_UUID),
    ]);
    let refused = stat(
        python_client_request(format!("{}/entity", emulator.base_url()), body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused["code"], 402, "{refused}");
}

#[tokio::test]
async fn janrain_python_api_signed_and_janrain_datalib_record_update_are_accepted() {
    let emulator = CaptureEmulator::start().await.unwrap();
    // SchemaRecord(app, "user", MATT_UUID).update({"givenName": "Matthew"}): key_value is
    // the uuid as a JSON string, attributes as json.dumps writes them.
    let key_value = format!("\"{MATT_UUID}\"");
    let by_uuid = [
        ("type_name", "user"),
        ("key_attribute", "uuid"),
        ("key_value", key_value.as_str()),
    ];
    let mut update = by_uuid.to_vec();
    update.push(("attributes", r#"{"givenName": "Matthew"}"#));
    let answer = signed(&emulator, "/entity.update", &update).await;
    assert_eq!(answer["stat"], "ok", "{answer}");
    // Read back by `key_attribute=uuid`, and by `id`, the other unique attribute every
    // entity has.
    let record = signed(&emulator, "/entity", &by_uuid).await;
    assert_eq!(record["result"]["givenName"], "Matthew", "{record}");
    let id = record["result"]["id"].to_string();
    let by_id = [
        ("type_name", "user"),
        ("key_attribute", "id"),
        ("key_value", id.as_str()),
    ];
    let again = signed(&emulator, "/entity", &by_id).await;
    assert_eq!(again["result"]["uuid"], MATT_UUID, "{again}");
}

#[tokio::test]
async fn lumapps_sdk_iter_call_of_the_directory_list_is_accepted_page_after_page() {
    let emulator = LumAppsEmulator::start_with(
        LumAppsConfig::default().synthetic_users(250),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let url = format!(
        "{}/_ah/api/lumsites/v1/user/directory/list",
        emulator.base_url()
    );
    // iter_call("user/directory/list", body={"contentId": …}): the body as json.dumps
    // writes it, the cursor of each page put back into the body.
    let mut cursor: Option<String> = None;
    let mut users = 0;
    for _ in 0..20 {
        let body = match &cursor {
            None => format!(r#"{{"contentId": "{SEED_DIRECTORY}"}}"#),
            Some(c) => format!(r#"{{"contentId": "{SEED_DIRECTORY}", "cursor": "{c}"}}"#),
        };
        let response = client
            .post(&url)
            .header("authorization", format!("Bearer {DEMO_TOKEN}"))
            .header("LumApps-Organization-Id", SEED_CUSTOMER)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let page: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        users += page["items"].as_array().map_or(0, Vec::len);
        if page["more"] != true {
            cursor = None;
            break;
        }
        cursor = page["cursor"].as_str().map(str::to_owned);
    }
    assert!(cursor.is_none(), "the listing ended");
    // LumApps' default listing: 250 synthetic users less the 25 disabled and the 13 hidden,
    // and me@customer.com.
    assert_eq!(users, 213);
}
