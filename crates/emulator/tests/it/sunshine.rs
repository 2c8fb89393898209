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

#[tokio::test]
async fn a_plan_is_announced_in_every_rate_limit_header_and_enforced() {
    use profile_emulator::sunshine::{SunshineConfig, SunshineEmulator, SunshinePlan};
    assert_eq!(
        [
            SunshinePlan::Team,
            SunshinePlan::Growth,
            SunshinePlan::Professional,
            SunshinePlan::Enterprise,
            SunshinePlan::EnterprisePlus,
        ]
        .map(SunshinePlan::per_minute),
        [250, 250, 500, 700, 1_000]
    );
    let emulator = SunshineEmulator::start_with(
        SunshineConfig::default().rate_limit_per_minute(3),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/api/v2/user_profiles{RIDER}", emulator.base_url());
    let mut seen = Vec::new();
    for _ in 0..4 {
        let response = authed(&client, Method::GET, url.clone())
            .send()
            .await
            .unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        seen.push((
            response.status().as_u16(),
            header("x-rate-limit"),
            header("x-rate-limit-remaining"),
            header("ratelimit-limit"),
            header("ratelimit-remaining"),
            header("ratelimit-reset").map(|r| r.parse::<u64>().unwrap()),
            header("retry-after"),
        ));
    }
    let some = |s: &str| Some(s.to_owned());
    for (i, remaining) in ["2", "1", "0"].into_iter().enumerate() {
        let (status, limit, left, limit2, left2, reset, retry) = &seen[i];
        assert_eq!(*status, 404, "{seen:?}");
        assert_eq!((limit, left), (&some("3"), &some(remaining)));
        assert_eq!((limit2, left2), (&some("3"), &some(remaining)));
        assert!(matches!(reset, Some(59 | 60)), "{seen:?}");
        assert_eq!(retry, &None);
    }
    // The fourth in the same minute is refused, and says when a request leaves the window.
    let (status, _, left, _, _, reset, retry) = &seen[3];
    assert_eq!(*status, 429);
    assert_eq!(left, &some("0"));
    assert_eq!(retry.as_deref().map(|r| r.parse::<u64>().unwrap()), *reset);
    assert_eq!(emulator.rate_limited(), 1);
}

#[tokio::test]
async fn by_default_700_a_minute_is_announced_and_nothing_enforced() {
    let (emulator, client) = emulator().await;
    let url = format!("{}/api/v2/user_profiles{RIDER}", emulator.base_url());
    let response = authed(&client, Method::GET, url).send().await.unwrap();
    assert_eq!(response.headers()["x-rate-limit"], "700");
    assert_eq!(response.headers()["ratelimit-limit"], "700");
    assert_eq!(response.headers()["ratelimit-remaining"], "699");
    assert_eq!(emulator.rate_limited(), 0);
}

#[tokio::test]
async fn attribute_numbers_and_booleans_are_stored_as_text_as_zendesk_does() {
    let (status, body) = put(
        r#"{"profile":{"attributes":{"visits":42,"ratio":1.5,"vip":true,"none":null,"nested":{"n":[1,"a"]}}}}"#,
        RIDER,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        body["profile"]["attributes"],
        serde_json::json!({"visits": "42", "ratio": "1.5", "vip": "true", "none": null, "nested": {"n": ["1", "a"]}})
    );
}
