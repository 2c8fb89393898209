//! Retries against faults: a plural append is never sent twice, whatever happens.

use profile_core::ClientSettings;
use std::time::Duration;

use profile_capture::{AttributePath, CaptureErrorKind, EntityLocator, EntityUpdate};
use profile_core::{RetryPolicy, SendState};
use serde_json::json;

use crate::{basic, builder, record, setup};

fn append() -> EntityUpdate {
    EntityUpdate::value_at(
        "user",
        EntityLocator::Id(5252),
        AttributePath::parse("/statuses").unwrap(),
        json!({"status": "suspended"}),
    )
}

/// How many `statuses` elements the seed's record 5252 holds (one before any append).
async fn statuses(client: &profile_capture::CaptureClient) -> usize {
    record(client, EntityLocator::Id(5252)).await["statuses"]
        .as_array()
        .unwrap()
        .len()
}

const LIMIT: &str = r#"{"stat":"error","code":510,"error":"api_limit_error","error_description":"too many simultaneous calls"}"#;

#[tokio::test]
async fn an_api_limit_error_inside_http_200_is_retried_even_for_an_append() {
    let (emulator, client) = setup().await;
    emulator.faults().respond_next(2, 200, LIMIT);
    client.update(&append()).await.unwrap();
    assert_eq!(emulator.faults().requests_seen(), 3);
    assert_eq!(statuses(&client).await, 2);
}

#[tokio::test]
async fn an_api_limit_error_that_outlasts_the_retries_is_rate_limited() {
    let (emulator, _) = setup().await;
    let client = builder(&emulator, basic())
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    emulator.faults().respond_next(1, 200, LIMIT);
    let err = client.update(&append()).await.unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&err),
        Some(CaptureErrorKind::ApiLimitError)
    );
    assert!(err.is_rate_limited() && err.is_retryable());
}

#[tokio::test]
async fn an_append_whose_connection_drops_is_not_resent() {
    let (emulator, client) = setup().await;
    emulator.faults().drop_next(1);
    let err = client.update(&append()).await.unwrap_err();
    assert_eq!(err.send_state(), SendState::MaybeSent);
    assert_eq!(
        emulator.faults().requests_seen(),
        1,
        "sent once, never again"
    );
    // The emulator applied it before the connection broke: exactly one new element.
    assert_eq!(statuses(&client).await, 2);
}

#[tokio::test]
async fn an_append_that_gets_a_503_is_not_resent() {
    let (emulator, client) = setup().await;
    emulator.faults().fail_next(1, 503);
    let err = client.update(&append()).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(emulator.faults().requests_seen(), 1);
}

#[tokio::test]
async fn an_element_update_whose_connection_drops_is_resent_and_applied_once() {
    let (emulator, client) = setup().await;
    emulator.faults().drop_next(1);
    let update = EntityUpdate::value_at(
        "user",
        EntityLocator::Id(5252),
        AttributePath::parse("/statuses#5253").unwrap(),
        json!({"status": "active"}),
    );
    client.update(&update).await.unwrap();
    assert_eq!(emulator.faults().requests_seen(), 2);
    assert_eq!(
        record(&client, EntityLocator::Id(5252)).await["statuses"],
        json!([{"id": 5253, "status": "active"}])
    );
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let (emulator, _) = setup().await;
    let client = builder(&emulator, basic())
        .retry(RetryPolicy::never())
        .http(profile_core::HttpConfig::default().with_request_timeout(Duration::from_millis(200)))
        .build()
        .unwrap();
    emulator.faults().delay_next(1, Duration::from_millis(600));
    assert!(client.update(&append()).await.unwrap_err().is_timeout());
}

const FAILED: &str = r#"{"stat":"error","code":500,"error":"unexpected_error","error_description":"Capture failed"}"#;

#[tokio::test]
async fn a_capture_500_is_retried_for_an_element_update_but_not_for_an_append() {
    let (emulator, client) = setup().await;
    emulator.faults().respond_next(1, 200, FAILED);
    let element = EntityUpdate::value_at(
        "user",
        EntityLocator::Id(5252),
        AttributePath::parse("/statuses#5253").unwrap(),
        json!({"status": "active"}),
    );
    client.update(&element).await.unwrap();
    assert_eq!(emulator.faults().requests_seen(), 2);

    emulator.faults().respond_next(1, 200, FAILED);
    let err = client.update(&append()).await.unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&err),
        Some(CaptureErrorKind::UnexpectedError)
    );
    assert_eq!(
        emulator.faults().requests_seen(),
        3,
        "the append was not resent"
    );
    assert_eq!(statuses(&client).await, 1);
}

#[tokio::test]
async fn an_answer_cut_short_is_resent_only_when_the_request_may_go_twice() {
    let (emulator, client) = setup().await;
    // Setting a value twice sets it once: sent again, and read whole.
    emulator.faults().truncate_next(1);
    let update =
        EntityUpdate::attributes("user", EntityLocator::Id(5252), json!({"givenName": "Ana"}))
            .unwrap();
    client.update(&update).await.unwrap();
    assert_eq!(emulator.faults().requests_seen(), 2);
    // An append is not: the half answer is an error, and the element is there once.
    emulator.faults().truncate_next(1);
    let err = client.update(&append()).await.unwrap_err();
    assert!(err.may_have_applied(), "{err:?}");
    assert_eq!(emulator.faults().requests_seen(), 3);
    assert_eq!(statuses(&client).await, 2);
}
