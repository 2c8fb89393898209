//! Zendesk's error bodies in their several shapes, and answers this crate cannot read, each
//! mapped to a typed error (replayed through the recording transport).

use profile_core::ClientSettings;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use profile_core::{ApiErrorKind, ApiResponse, BaseUrl, Error, RecordingTransport, RetryPolicy};
use profile_sunshine::SunshineClient;
use serde_json::json;

use crate::{rider, seed_auth};

async fn answer(response: ApiResponse) -> Error {
    let recorder = Arc::new(RecordingTransport::new());
    recorder.push_response(response);
    let client = SunshineClient::builder(
        BaseUrl::parse("https://coolbikes.zendesk.com").unwrap(),
        seed_auth(),
    )
    .transport(recorder)
    .retry(RetryPolicy::never())
    .build()
    .unwrap();
    client.get_profile(&rider().into()).await.unwrap_err()
}

#[tokio::test]
async fn the_profiles_api_error_list_gives_code_message_and_request_id() {
    let err = answer(
        ApiResponse::json(
            422,
            &json!({"errors": [{"code": "InvalidAttribute", "title": "Invalid attribute", "detail": "joined must be a string", "id": "x"}]}),
        )
        .with_header("X-Zendesk-Request-Id", "req-42"),
    )
    .await;
    let api = err.api_error().unwrap();
    assert_eq!(api.kind, ApiErrorKind::InvalidRequest);
    assert_eq!(api.code.as_deref(), Some("InvalidAttribute"));
    assert_eq!(
        api.message.as_deref(),
        Some("Invalid attribute: joined must be a string")
    );
    assert_eq!(api.request_id.as_deref(), Some("req-42"));
    assert_eq!(
        err.to_string(),
        "sunshine get_profile failed with HTTP 422 (InvalidAttribute): Invalid attribute: joined must be a string [request id req-42]"
    );
}

#[tokio::test]
async fn a_text_429_with_an_http_date_is_rate_limited_with_its_delay() {
    let at = SystemTime::now() + Duration::from_secs(90);
    let err = answer(
        ApiResponse::new(
            429,
            "Rate limit for ticket updates exceeded, please wait before updating this ticket again",
        )
        .with_header("content-type", "text/plain")
        .with_header("retry-after", httpdate::fmt_http_date(at)),
    )
    .await;
    assert!(err.is_rate_limited() && err.is_retryable());
    let delay = err.retry_after().unwrap();
    assert!(
        delay > Duration::from_secs(85) && delay <= Duration::from_secs(90),
        "{delay:?}"
    );
    assert!(
        err.api_error()
            .unwrap()
            .message
            .as_deref()
            .unwrap()
            .starts_with("Rate limit")
    );
}

#[tokio::test]
async fn an_authentication_error_body_gives_its_message() {
    let err = answer(ApiResponse::json(
        401,
        &json!({"error": "Couldn't authenticate you"}),
    ))
    .await;
    assert!(err.is_unauthorized());
    assert_eq!(
        err.api_error().unwrap().message.as_deref(),
        Some("Couldn't authenticate you")
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let err = answer(
        ApiResponse::new(302, "").with_header("location", "https://elsewhere.example/steal"),
    )
    .await;
    match err {
        Error::UnexpectedResponse {
            status: 302,
            ref reason,
            ..
        } => assert!(reason.contains("redirect")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_success_that_is_not_json_or_of_the_wrong_shape_is_an_unexpected_response() {
    for body in [
        "<html>maintenance</html>",
        r#"{"profiles": []}"#,
        r#"{"profile": {"id": 5}}"#,
    ] {
        let err = answer(ApiResponse::new(200, body)).await;
        assert!(
            matches!(
                err,
                Error::UnexpectedResponse {
                    status: 200,
                    source: Some(_),
                    ..
                }
            ),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_server_error_without_a_body_keeps_its_status() {
    let err = answer(ApiResponse::new(500, "")).await;
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.api_kind(), Some(ApiErrorKind::ServerError));
    assert!(!err.is_retryable());
}
