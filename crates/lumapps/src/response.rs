//! LumApps' answers and its legacy error body.

use std::time::SystemTime;

use profile_core::{ApiErrorKind, ApiRequest, ApiResponse, Error};
use serde::de::DeserializeOwned;
use serde_json::Value;

const RATE_LIMIT: &[u8] = b"RATE_LIMIT_EXCEEDED";

fn rate_limited(response: &ApiResponse) -> bool {
    response.status() == 400
        && response
            .body()
            .windows(RATE_LIMIT.len())
            .any(|w| w == RATE_LIMIT)
}

/// The JSON body of a success as `T`, or the error LumApps answered with:
/// `{"error": {"code", "errors": [{"domain", "message", "reason"}], "message"}}`. A 400 that
/// says `RATE_LIMIT_EXCEEDED` is LumApps' rate limit (nothing was done; the retry loop
/// waits and sends again), as is a 429.
/// With `T` = [`IgnoredAny`](serde::de::IgnoredAny), the body is only checked to be one whole
/// JSON document, for a call whose answer is not used.
pub(crate) fn read<T: DeserializeOwned>(
    request: &ApiRequest,
    response: &ApiResponse,
    now: SystemTime,
) -> Result<T, Error> {
    if response.is_success() {
        return response.decode(request);
    }
    let (mut error, body) = response.read_error(request, now, &[])?;
    if rate_limited(response) {
        error.kind = ApiErrorKind::RateLimited;
    }
    if let Some(body) = body.as_ref().and_then(|b| b.get("error")) {
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
    Err(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_answer(response: ApiResponse) -> Result<Value, Error> {
        read_answer_as(response)
    }

    fn read_answer_as<T: DeserializeOwned>(response: ApiResponse) -> Result<T, Error> {
        let base = profile_core::BaseUrl::parse("https://sites.lumapps.com").unwrap();
        let request = ApiRequest::new(
            "lumapps",
            "save_user",
            profile_core::Method::Post,
            &base,
            "/x",
        );
        read(&request, &response, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn a_success_must_be_whole_json() {
        assert!(read_answer(ApiResponse::new(200, r#"{"id":"1","n":1e3}"#)).is_ok());
        for (body, cut_short) in [("", true), (r#"{"id":"1""#, true), ("not json", false)] {
            let error = read_answer(ApiResponse::new(200, body)).unwrap_err();
            assert_eq!(
                matches!(error, Error::CutShort { .. }),
                cut_short,
                "{body:?}: {error}"
            );
            assert!(error.may_have_applied(), "{body:?}: {error}");
            // An answer that is not used is checked all the same.
            let unread =
                read_answer_as::<serde::de::IgnoredAny>(ApiResponse::new(200, body)).unwrap_err();
            assert_eq!(
                matches!(unread, Error::CutShort { .. }),
                cut_short,
                "{body:?}: {unread}"
            );
        }
        assert!(
            read_answer_as::<serde::de::IgnoredAny>(ApiResponse::new(200, r#"{"id":"1"}"#)).is_ok()
        );
        let refused = json!({"error": {"code": 404, "message": "USER_NOT_FOUND", "errors": [{"reason": "notFound"}]}});
        let error = read_answer(ApiResponse::json(404, &refused)).unwrap_err();
        assert_eq!(error.status(), Some(404));
        assert_eq!(
            error.api_error().unwrap().reason.as_deref(),
            Some("notFound")
        );
    }

    #[test]
    fn a_400_saying_rate_limit_exceeded_is_the_rate_limit() {
        let body = json!({"error": {"code": 400, "message": "RATE_LIMIT_EXCEEDED", "errors": [{"reason": "badRequest"}]}});
        assert!(
            read_answer(ApiResponse::json(400, &body))
                .unwrap_err()
                .is_rate_limited()
        );
        let other = json!({"error": {"code": 400, "message": "Invalid contentId"}});
        let error = read_answer(ApiResponse::json(400, &other)).unwrap_err();
        assert!(!error.is_rate_limited());
        assert_eq!(error.api_kind(), Some(ApiErrorKind::InvalidRequest));
        assert!(
            read_answer(ApiResponse::new(429, ""))
                .unwrap_err()
                .is_rate_limited()
        );
    }
}
