//! Capture's answers: `stat` is read on every response, whatever the HTTP status.

use std::time::SystemTime;

use profile_core::{ApiError, ApiErrorKind, ApiRequest, ApiResponse, Error};
use serde_json::Value;

use crate::CaptureErrorKind;

/// The body of a `stat: ok` answer, or the error Capture (or the HTTP layer) answered with.
///
/// Capture answers most errors with HTTP 200 and `stat: error`; its rate limit (code 510,
/// too many simultaneous calls) comes that way and also as HTTP status 510 (what
/// janrain-datalib checks): both are [`ApiErrorKind::RateLimited`], which the retry loop
/// waits out. Codes 500 and 504 are [`ApiErrorKind::Unavailable`]: sent again only when the
/// call is idempotent.
pub(crate) fn read(
    request: &ApiRequest,
    response: &ApiResponse,
    now: SystemTime,
) -> Result<Value, Error> {
    if response.is_success() {
        let body: Value = response.decode(request)?;
        return match body.get("stat").and_then(Value::as_str) {
            Some("ok") => Ok(body),
            Some("error") => Err(capture_error(request, response, &body, now)),
            _ => Err(Error::UnexpectedResponse {
                vendor: request.vendor(),
                operation: request.operation(),
                status: response.status(),
                reason: "the answer has no `stat`".to_owned(),
                source: None,
            }),
        };
    }
    let (mut error, body) = response.read_error(request, now, &[])?;
    if let Some(body) = body.filter(|b| b.get("stat").and_then(Value::as_str) == Some("error")) {
        return Err(capture_error(request, response, &body, now));
    }
    if response.status() == 510 {
        error.kind = ApiErrorKind::RateLimited;
    }
    Err(error.into())
}

/// A `stat: error` body: its code, name, description and request token.
fn capture_error(
    request: &ApiRequest,
    response: &ApiResponse,
    body: &Value,
    now: SystemTime,
) -> Error {
    let code = body.get("code").and_then(Value::as_u64).unwrap_or(0) as u32;
    let kind = CaptureErrorKind::from_code(code);
    let mut error = ApiError::new(
        request.vendor(),
        request.operation(),
        response.status(),
        kind.api_kind(),
    )
    .with_code(code.to_string())
    .with_request_id(
        body.get("request_token")
            .and_then(Value::as_str)
            .map(str::to_owned),
    )
    .with_retry_after(profile_core::RetryAfter::from_response(response).map(|r| r.delay_from(now)));
    if let Some(name) = body.get("error").and_then(Value::as_str) {
        error = error.with_reason(name);
    }
    if let Some(description) = body.get("error_description").and_then(Value::as_str) {
        error = error.with_message(description);
    }
    error.into()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use profile_core::{BaseUrl, Method};
    use serde_json::json;

    use super::*;

    fn read_answer(response: ApiResponse) -> Result<Value, Error> {
        let base = BaseUrl::parse("https://x.janraincapture.com").unwrap();
        let request = ApiRequest::new(
            "capture",
            "entity.update",
            Method::Post,
            &base,
            "/entity.update",
        );
        read(&request, &response, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn errors_hidden_in_200_bodies_and_the_510_status_read_as_their_kinds() {
        let limit = json!({"stat": "error", "code": 510, "error": "api_limit_error"});
        let error = read_answer(ApiResponse::json(200, &limit)).unwrap_err();
        assert!(error.is_rate_limited());
        assert_eq!(error.vendor_code(), Some("510"));
        let error = read_answer(ApiResponse::new(510, "Too many").with_header("Retry-After", "2"))
            .unwrap_err();
        assert!(error.is_rate_limited());
        assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
        let failed = json!({"stat": "error", "code": 500, "error": "unexpected_error"});
        let error = read_answer(ApiResponse::json(200, &failed)).unwrap_err();
        assert_eq!(error.api_kind(), Some(ApiErrorKind::Unavailable));
        assert!(error.may_have_applied());
        let missing = json!({"stat": "error", "code": 310, "error": "record_not_found"});
        assert!(
            read_answer(ApiResponse::json(200, &missing))
                .unwrap_err()
                .is_not_found()
        );
        assert_eq!(
            read_answer(ApiResponse::json(200, &json!({"stat": "ok"}))).unwrap(),
            json!({"stat": "ok"})
        );
        let gateway = read_answer(ApiResponse::new(503, "")).unwrap_err();
        assert_eq!(gateway.api_kind(), Some(ApiErrorKind::Unavailable));
    }
}
