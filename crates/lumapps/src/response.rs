//! LumApps' answers and its legacy error body.

use std::time::SystemTime;

use profile_core::retry::{AttemptOutcome, RetryAfter, classify_by_status};
use profile_core::{ApiError, ApiErrorKind, ApiRequest, ApiResponse, Error};
use serde_json::Value;

const RATE_LIMIT: &[u8] = b"RATE_LIMIT_EXCEEDED";

fn rate_limited(response: &ApiResponse) -> bool {
    response.status() == 400
        && response
            .body()
            .windows(RATE_LIMIT.len())
            .any(|w| w == RATE_LIMIT)
}

/// How the retry layer reads LumApps' answers: by status, and a 400 that says
/// `RATE_LIMIT_EXCEEDED` is a rate limit (nothing was done; any request may go again).
pub fn classify(response: &ApiResponse) -> AttemptOutcome {
    if rate_limited(response) {
        return AttemptOutcome::Throttled(RetryAfter::from_response(response));
    }
    classify_by_status(response)
}

/// The JSON body of a success, or the error LumApps answered with:
/// `{"error": {"code", "errors": [{"domain", "message", "reason"}], "message"}}`.
pub(crate) fn read(
    request: &ApiRequest,
    response: &ApiResponse,
    decoded: Option<Decoded>,
) -> Result<Value, Error> {
    read_answer(request, response, decoded).map_err(|e| e.noting_attempts_of(response))
}

/// A success's body as [`profile_core::send_decoding`] decoded it.
pub(crate) type Decoded = Result<Value, serde_json::Error>;

/// Like [`read`], for a caller that does not need the body: a success whose body is JSON is
/// `Ok` without building it.
pub(crate) fn check(request: &ApiRequest, response: &ApiResponse) -> Result<(), Error> {
    if response.is_success() && response.body_is_json() {
        return Ok(());
    }
    read(request, response, None).map(drop)
}

fn read_answer(
    request: &ApiRequest,
    response: &ApiResponse,
    decoded: Option<Decoded>,
) -> Result<Value, Error> {
    let status = response.status();
    if response.is_success() {
        let decoded = decoded.unwrap_or_else(|| response.json_body());
        return decoded.map_err(|e| Error::UnexpectedResponse {
            vendor: request.vendor(),
            operation: request.operation(),
            status,
            reason: "the body is not JSON".to_owned(),
            source: Some(Box::new(e)),
        });
    }
    if (300..400).contains(&status) {
        return Err(Error::UnexpectedResponse {
            vendor: request.vendor(),
            operation: request.operation(),
            status,
            reason: "the server answered with a redirect, which is not followed".to_owned(),
            source: None,
        });
    }
    let kind = if rate_limited(response) {
        ApiErrorKind::RateLimited
    } else {
        ApiErrorKind::from_status(status)
    };
    let mut error = ApiError::new(request.vendor(), request.operation(), status, kind)
        .with_retry_after(
            RetryAfter::from_response(response).map(|r| r.delay_from(SystemTime::now())),
        );
    match response
        .json_body::<Value>()
        .ok()
        .and_then(|b| b.get("error").cloned())
    {
        Some(body) => {
            let first = body
                .get("errors")
                .and_then(Value::as_array)
                .and_then(|e| e.first());
            if let Some(reason) = first.and_then(|e| e.get("reason")).and_then(Value::as_str) {
                error = error.with_reason(reason);
            }
            if let Some(code) = body.get("code").and_then(Value::as_u64) {
                error = error.with_code(code.to_string());
            }
            let message = body
                .get("message")
                .or_else(|| first.and_then(|e| e.get("message")))
                .and_then(Value::as_str);
            if let Some(message) = message {
                error = error.with_message(message);
            }
        }
        None => {
            let text = response.text_excerpt(200);
            if !text.trim().is_empty() {
                error = error.with_message(text.trim().to_owned());
            }
        }
    }
    Err(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_success_is_checked_as_json_without_being_read() {
        let base = profile_core::BaseUrl::parse("https://sites.lumapps.com").unwrap();
        let request = ApiRequest::new(
            "lumapps",
            "save_user",
            profile_core::Method::Post,
            &base,
            "/x",
        );
        assert!(check(&request, &ApiResponse::new(200, r#"{"id":"1","n":1e999}"#)).is_ok());
        for cut_short in ["", r#"{"id":"1""#, "not json"] {
            let error = check(&request, &ApiResponse::new(200, cut_short)).unwrap_err();
            assert!(
                error.to_string().contains("the body is not JSON"),
                "{cut_short:?}: {error}"
            );
        }
        let refused = json!({"error": {"code": 404, "message": "USER_NOT_FOUND", "errors": [{"reason": "notFound"}]}});
        let error = check(&request, &ApiResponse::json(404, &refused)).unwrap_err();
        assert_eq!(error.status(), Some(404));
    }

    #[test]
    fn a_400_saying_rate_limit_exceeded_is_throttled() {
        let body = json!({"error": {"code": 400, "message": "RATE_LIMIT_EXCEEDED", "errors": [{"reason": "badRequest"}]}});
        assert_eq!(
            classify(&ApiResponse::json(400, &body)),
            AttemptOutcome::Throttled(None)
        );
        let other = json!({"error": {"code": 400, "message": "Invalid contentId"}});
        assert_eq!(
            classify(&ApiResponse::json(400, &other)),
            AttemptOutcome::Done
        );
        assert!(matches!(
            classify(&ApiResponse::new(429, "")),
            AttemptOutcome::Throttled(_)
        ));
    }
}
