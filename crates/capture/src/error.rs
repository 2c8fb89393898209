//! Capture's answers: `stat` is read on every response, whatever the HTTP status.

use profile_core::retry::{AttemptOutcome, RetryAfter, classify_by_status};
use profile_core::{ApiError, ApiErrorKind, ApiRequest, ApiResponse, Error};
use serde_json::Value;

macro_rules! kinds {
    ($($variant:ident = $code:literal, $name:literal, $class:ident, $doc:literal;)*) => {
        /// Every error code Capture documents for these calls, by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum CaptureErrorKind {
            $(#[doc = $doc] $variant,)*
            /// A code this crate does not know.
            Other(u32),
        }

        impl CaptureErrorKind {
            /// The kind of a numeric code.
            pub fn from_code(code: u32) -> Self {
                match code {
                    $($code => CaptureErrorKind::$variant,)*
                    other => CaptureErrorKind::Other(other),
                }
            }

            /// The numeric code.
            pub fn code(self) -> u32 {
                match self {
                    $(CaptureErrorKind::$variant => $code,)*
                    CaptureErrorKind::Other(code) => code,
                }
            }

            /// Capture's symbolic name (`record_not_found`).
            pub fn name(self) -> &'static str {
                match self {
                    $(CaptureErrorKind::$variant => $name,)*
                    CaptureErrorKind::Other(_) => "unknown_error",
                }
            }

            /// The vendor-neutral class.
            pub fn api_kind(self) -> ApiErrorKind {
                match self {
                    $(CaptureErrorKind::$variant => ApiErrorKind::$class,)*
                    CaptureErrorKind::Other(_) => ApiErrorKind::Other,
                }
            }
        }
    };
}

kinds! {
    MissingArgument = 100, "missing_argument", InvalidRequest, "100: a required parameter is missing.";
    InvalidArgument = 200, "invalid_argument", InvalidRequest, "200: a parameter is not valid.";
    DuplicateArgument = 201, "duplicate_argument", InvalidRequest, "201: parameters that exclude each other were both given (id and uuid).";
    InvalidAuthMethod = 205, "invalid_auth_method", Unauthorized, "205: this authentication method is not allowed here.";
    InvalidCredentials = 210, "invalid_credentials", Unauthorized, "210: the credentials are not valid.";
    UnknownEntityType = 222, "unknown_entity_type", InvalidRequest, "222: no such entity type.";
    UnknownAttribute = 223, "unknown_attribute", InvalidRequest, "223: no such attribute in the schema.";
    RecordNotFound = 310, "record_not_found", NotFound, "310: no record matches the locator.";
    TimestampMismatch = 330, "timestamp_mismatch", PreconditionFailed, "330: the created / lastUpdated precondition does not hold.";
    InvalidDataFormat = 340, "invalid_data_format", InvalidRequest, "340: a value is not in the expected format.";
    InvalidJsonType = 341, "invalid_json_type", InvalidRequest, "341: a JSON value has the wrong type for its attribute.";
    ConstraintViolation = 360, "constraint_violation", InvalidRequest, "360: a schema constraint is violated.";
    UniqueViolation = 361, "unique_violation", Conflict, "361: a unique attribute's value is already taken.";
    MissingRequiredAttribute = 362, "missing_required_attribute", InvalidRequest, "362: a required attribute is missing.";
    InvalidClientCredentials = 402, "invalid_client_credentials", Unauthorized, "402: the API client id or secret is wrong.";
    ClientPermissionError = 403, "client_permission_error", Forbidden, "403: the API client may not make this call.";
    AccessTokenExpired = 414, "access_token_expired", Unauthorized, "414: the access token has expired.";
    SignatureDoesNotMatch = 431, "signature_does_not_match", Unauthorized, "431: the request signature does not match.";
    ApiFeatureDisabled = 480, "api_feature_disabled", Forbidden, "480: the feature is disabled for this application.";
    UnexpectedError = 500, "unexpected_error", ServerError, "500: Capture failed.";
    Timeout = 504, "timeout", ServerError, "504: Capture timed out.";
    ApiLimitError = 510, "api_limit_error", RateLimited, "510: too many simultaneous calls.";
    TriggeredError = 540, "triggered_error", InvalidRequest, "540: a rule configured on the application refused the change.";
}

impl CaptureErrorKind {
    /// The Capture kind of an error, if Capture answered with one.
    pub fn of(error: &Error) -> Option<Self> {
        let api = error.api_error()?;
        (api.vendor == crate::requests::VENDOR)
            .then(|| api.code.as_deref()?.parse().ok())
            .flatten()
            .map(Self::from_code)
    }
}

fn error_body(response: &ApiResponse) -> Option<Value> {
    // Cheap test first: most successful bodies never mention "error".
    if !mentions_error(response.body()) {
        return None;
    }
    let body: Value = response.json_body().ok()?;
    (body.get("stat").and_then(Value::as_str) == Some("error")).then_some(body)
}

/// Whether `"error"` (with its quotes) occurs in `body`; a vectorized search, as this runs
/// on every answer.
fn mentions_error(body: &[u8]) -> bool {
    memchr::memmem::find(body, b"\"error\"").is_some()
}

/// How the retry layer reads Capture's answers: HTTP statuses first, then `stat: error`
/// bodies. 510 (too many simultaneous calls) means nothing was done, so any request may
/// go again; 500 and 504 may have done it, so only idempotent ones do.
pub fn classify(response: &ApiResponse) -> AttemptOutcome {
    match classify_by_status(response) {
        AttemptOutcome::Done => {}
        other => return other,
    }
    let code = error_body(response)
        .and_then(|body| body.get("code").and_then(Value::as_u64))
        .unwrap_or(0);
    match code {
        510 => AttemptOutcome::Throttled(RetryAfter::from_response(response)),
        500 | 504 => AttemptOutcome::Transient(RetryAfter::from_response(response)),
        _ => AttemptOutcome::Done,
    }
}

fn unexpected(
    request: &ApiRequest,
    response: &ApiResponse,
    reason: &str,
    source: Option<serde_json::Error>,
) -> Error {
    Error::UnexpectedResponse {
        vendor: request.vendor(),
        operation: request.operation(),
        status: response.status(),
        reason: reason.to_owned(),
        source: source.map(|e| Box::new(e) as profile_core::BoxError),
    }
}

/// The body of a `stat: ok` answer, or the error Capture (or the HTTP layer) answered with.
/// `decoded` is the body of a success as [`profile_core::send_decoding`] decoded it; any
/// other answer's body is decoded here.
pub(crate) fn read(
    request: &ApiRequest,
    response: &ApiResponse,
    decoded: Option<Result<Value, serde_json::Error>>,
) -> Result<Value, Error> {
    read_answer(request, response, decoded).map_err(|e| e.noting_attempts_of(response))
}

fn read_answer(
    request: &ApiRequest,
    response: &ApiResponse,
    decoded: Option<Result<Value, serde_json::Error>>,
) -> Result<Value, Error> {
    let status = response.status();
    if (300..400).contains(&status) {
        return Err(unexpected(
            request,
            response,
            "the server answered with a redirect, which is not followed",
            None,
        ));
    }
    let body: Value = match decoded.unwrap_or_else(|| response.json_body()) {
        Ok(body) => body,
        Err(e) if response.is_success() => {
            return Err(unexpected(
                request,
                response,
                "the body is not JSON",
                Some(e),
            ));
        }
        Err(_) => {
            // An HTTP-level failure without a Capture body (a gateway's 503, say).
            let mut error = ApiError::new(
                request.vendor(),
                request.operation(),
                status,
                ApiErrorKind::from_status(status),
            )
            .with_retry_after(
                RetryAfter::from_response(response)
                    .map(|r| r.delay_from(std::time::SystemTime::now())),
            );
            let text = response.text_excerpt(200);
            if !text.trim().is_empty() {
                error = error.with_message(text.trim().to_owned());
            }
            return Err(error.into());
        }
    };
    match body.get("stat").and_then(Value::as_str) {
        Some("ok") if response.is_success() => Ok(body),
        Some("error") => {
            let code = body.get("code").and_then(Value::as_u64).unwrap_or(0) as u32;
            let kind = CaptureErrorKind::from_code(code);
            let mut error = ApiError::new(
                request.vendor(),
                request.operation(),
                status,
                kind.api_kind(),
            )
            .with_code(code.to_string())
            .with_request_id(
                body.get("request_token")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
            .with_retry_after(
                RetryAfter::from_response(response)
                    .map(|r| r.delay_from(std::time::SystemTime::now())),
            );
            if let Some(name) = body.get("error").and_then(Value::as_str) {
                error = error.with_reason(name);
            }
            if let Some(description) = body.get("error_description").and_then(Value::as_str) {
                error = error.with_message(description);
            }
            Err(error.into())
        }
        _ if !response.is_success() => Err(ApiError::new(
            request.vendor(),
            request.operation(),
            status,
            ApiErrorKind::from_status(status),
        )
        .into()),
        _ => Err(unexpected(
            request,
            response,
            "the answer has no `stat`",
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_found_wherever_it_is_mentioned() {
        for (body, expected) in [
            (&b"{\"stat\":\"error\",\"code\":510}"[..], true),
            (b"{\"error\":\"x\"}", true),
            (b"\"error\"", true),
            (b"{\"stat\":\"ok\",\"result\":{\"errors\":[]}}", false),
            (b"{\"stat\":\"ok\",\"note\":\"no error here\"}", false),
            (b"\"\"\"error", false),
            (b"", false),
        ] {
            assert_eq!(
                mentions_error(body),
                expected,
                "{}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(
                mentions_error(body),
                body.windows(7).any(|w| w == b"\"error\"")
            );
        }
    }
    use serde_json::json;

    #[test]
    fn every_documented_code_round_trips_and_has_a_class() {
        let codes = [
            100, 200, 201, 205, 210, 222, 223, 310, 330, 340, 341, 360, 361, 362, 402, 403, 414,
            431, 480, 500, 504, 510, 540,
        ];
        for code in codes {
            let kind = CaptureErrorKind::from_code(code);
            assert!(!matches!(kind, CaptureErrorKind::Other(_)), "{code}");
            assert_eq!(kind.code(), code);
        }
        assert_eq!(
            CaptureErrorKind::from_code(310).api_kind(),
            ApiErrorKind::NotFound
        );
        assert_eq!(
            CaptureErrorKind::from_code(330).api_kind(),
            ApiErrorKind::PreconditionFailed
        );
        assert_eq!(
            CaptureErrorKind::from_code(510).api_kind(),
            ApiErrorKind::RateLimited
        );
        assert_eq!(
            CaptureErrorKind::from_code(999),
            CaptureErrorKind::Other(999)
        );
    }

    #[test]
    fn the_classifier_reads_errors_hidden_in_200_bodies() {
        let limit = ApiResponse::json(
            200,
            &json!({"stat": "error", "code": 510, "error": "api_limit_error"}),
        );
        assert_eq!(classify(&limit), AttemptOutcome::Throttled(None));
        let failed = ApiResponse::json(
            200,
            &json!({"stat": "error", "code": 500, "error": "unexpected_error"}),
        );
        assert_eq!(classify(&failed), AttemptOutcome::Transient(None));
        let missing = ApiResponse::json(
            200,
            &json!({"stat": "error", "code": 310, "error": "record_not_found"}),
        );
        assert_eq!(classify(&missing), AttemptOutcome::Done);
        assert_eq!(
            classify(&ApiResponse::json(200, &json!({"stat": "ok"}))),
            AttemptOutcome::Done
        );
        assert_eq!(
            classify(&ApiResponse::new(503, "")),
            AttemptOutcome::Transient(None)
        );
    }
}
