//! The Sunshine fake refuses what Zendesk refuses.

use reqwest::Method;
use serde_json::Value;

use crate::{authed, emulator};

async fn put(body: &str, query: &str) -> (u16, Value) {
    let (emulator, client) = emulator().await;
    let url = format!("{}/api/v2/user_profiles{query}", emulator.base_url());
    let response = authed(&client, Method::PUT, url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

const RIDER: &str = "?identifier=coolbikes%3Arider%3Aemail%3Ajdoe%40example.com";

#[tokio::test]
async fn malformed_bodies_and_queries_get_400_with_a_zendesk_error() {
    let cases = [
        ("not json", RIDER, "InvalidJSON"),
        (r#"{"name":"x"}"#, RIDER, "InvalidPayload"),
        (
            r#"{"profile":{"attributes":"87cm"}}"#,
            RIDER,
            "InvalidPayload",
        ),
        (
            r#"{"profile":{"attributes":{"":1}}}"#,
            RIDER,
            "InvalidPayload",
        ),
        (
            r#"{"profile":{"attributes":{},"identifiers":[{"type":"email"}]}}"#,
            RIDER,
            "InvalidPayload",
        ),
        (r#"{"profile":{"name":"x"}}"#, RIDER, "InvalidPayload"),
        (r#"{"profile":{"attributes":{}}}"#, "", "MissingIdentifier"),
        (
            r#"{"profile":{"attributes":{}}}"#,
            "?identifier=coolbikes%3Arider%3Aemail",
            "InvalidIdentifierQuery",
        ),
        (
            r#"{"profile":{"attributes":{}}}"#,
            "?identifier=zendesk%3Auser%3Aemail%3Aa%40b.c",
            "InvalidSource",
        ),
    ];
    for (body, query, code) in cases {
        let (status, json) = put(body, query).await;
        assert_eq!(status, 400, "{body} {query}");
        assert_eq!(json["errors"][0]["code"], code, "{body} {query}: {json}");
    }
}

#[tokio::test]
async fn more_than_twenty_identifiers_are_refused() {
    let identifiers: Vec<Value> = (0..21)
        .map(|i| serde_json::json!({"type": "external_id", "value": format!("id-{i}")}))
        .collect();
    let body =
        serde_json::json!({"profile": {"attributes": {}, "identifiers": identifiers}}).to_string();
    let (status, json) = put(&body, RIDER).await;
    assert_eq!(status, 400);
    assert_eq!(json["errors"][0]["code"], "TooManyIdentifiers");
}

#[tokio::test]
async fn responses_carry_a_request_id_and_the_rate_limit_headers() {
    let (emulator, client) = emulator().await;
    let response = authed(
        &client,
        Method::GET,
        format!("{}/api/v2/user_profiles{RIDER}", emulator.base_url()),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("emulator-")
    );
    assert_eq!(response.headers()["x-rate-limit"], "700");
    let first: u32 = response.headers()["x-rate-limit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let again = authed(
        &client,
        Method::GET,
        format!("{}/api/v2/user_profiles{RIDER}", emulator.base_url()),
    )
    .send()
    .await
    .unwrap();
    let second: u32 = again.headers()["x-rate-limit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One fewer, unless the clock minute turned between the two requests.
    assert!(
        second == first - 1 || second == 699,
        "{first} then {second}"
    );
}
