use std::time::{Duration, Instant};

use reqwest::Method;

use crate::{authed, emulator};

fn profile_url(base: &str) -> String {
    format!("{base}/api/v2/user_profiles/01E06HXMJ8RJ6C0MR142D6FBSA")
}

#[tokio::test]
async fn scripted_faults_hit_the_next_requests_in_order_then_stop() {
    let (emulator, client) = emulator().await;
    emulator.faults().fail_next(1, 503);
    emulator
        .faults()
        .rate_limit_next(1, Duration::from_millis(1_500));
    let url = profile_url(&emulator.base_url());
    let first = authed(&client, Method::GET, url.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 503);
    let body: serde_json::Value = serde_json::from_slice(&first.bytes().await.unwrap()).unwrap();
    assert_eq!(body["errors"][0]["code"], "InjectedFault");
    let second = authed(&client, Method::GET, url.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(second.status().as_u16(), 429);
    // Whole seconds, rounded up.
    assert_eq!(second.headers()["retry-after"], "2");
    let third = authed(&client, Method::GET, url).send().await.unwrap();
    assert_eq!(third.status().as_u16(), 404);
    assert_eq!(emulator.faults().requests_seen(), 3);
}

#[tokio::test]
async fn faults_come_before_authentication() {
    let (emulator, client) = emulator().await;
    emulator.faults().fail_next(1, 502);
    let anonymous = client
        .get(profile_url(&emulator.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 502);
}

#[tokio::test]
async fn the_per_minute_limit_answers_429_with_the_wait_until_a_slot_frees() {
    let (emulator, client) = emulator().await;
    emulator.faults().set_rate_limit_per_minute(Some(3));
    let url = profile_url(&emulator.base_url());
    for _ in 0..3 {
        let ok = authed(&client, Method::GET, url.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status().as_u16(), 404);
    }
    let limited = authed(&client, Method::GET, url.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((59..=60).contains(&wait), "{wait}");
    assert_eq!(emulator.faults().rate_limited_count(), 1);
    emulator.faults().set_rate_limit_per_minute(None);
    let again = authed(&client, Method::GET, url).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 404);
}

#[tokio::test]
async fn latency_delays_every_request() {
    let (emulator, client) = emulator().await;
    emulator
        .faults()
        .set_latency(Some(Duration::from_millis(150)));
    let url = profile_url(&emulator.base_url());
    let started = Instant::now();
    for _ in 0..2 {
        authed(&client, Method::GET, url.clone())
            .send()
            .await
            .unwrap();
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_dropped_connection_breaks_the_response_after_the_request_was_handled() {
    let (emulator, client) = emulator().await;
    emulator.faults().drop_next(1);
    let url = format!(
        "{}/api/v2/user_profiles?identifier=coolbikes%3Arider%3Aemail%3Ajdoe%40example.com",
        emulator.base_url()
    );
    let result = async {
        let response = authed(&client, Method::PUT, url.clone())
            .header("content-type", "application/json")
            .body(r#"{"profile":{"attributes":{"a":1}}}"#)
            .send()
            .await?;
        response.bytes().await
    }
    .await;
    assert!(
        result.is_err(),
        "the response must not arrive whole: {result:?}"
    );
    assert_eq!(
        emulator.profiles().len(),
        1,
        "the write was applied before the drop"
    );
}
