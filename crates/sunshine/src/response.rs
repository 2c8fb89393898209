//! Turning Zendesk's answers into typed values or errors.

use std::time::SystemTime;

use profile_core::{ApiError, ApiErrorKind, ApiRequest, ApiResponse, Error, RetryAfter};
use serde_json::Value;

/// The decoded body of a success (decoded by [`profile_core::send_decoding`]), or the error
/// an answer maps to.
pub(crate) fn decode<T>(
    request: &ApiRequest,
    response: &ApiResponse,
    body: Option<Result<T, serde_json::Error>>,
) -> Result<T, Error> {
    match body {
        Some(Ok(value)) => Ok(value),
        Some(Err(e)) => Err(Error::UnexpectedResponse {
            vendor: request.vendor(),
            operation: request.operation(),
            status: response.status(),
            reason: "the body is not the JSON this call returns".to_owned(),
            source: Some(Box::new(e)),
        }),
        None => Err(error_from(request, response)),
    }
}

/// Maps a non-success answer: `{"errors":[{"code","title","detail"}]}` (the profiles API),
/// `{"error": "..."}` (authentication), or any text (a 429 may come as text/plain).
pub(crate) fn error_from(request: &ApiRequest, response: &ApiResponse) -> Error {
    error_from_answer(request, response).noting_attempts_of(response)
}

fn error_from_answer(request: &ApiRequest, response: &ApiResponse) -> Error {
    let status = response.status();
    if (300..400).contains(&status) {
        return Error::UnexpectedResponse {
            vendor: request.vendor(),
            operation: request.operation(),
            status,
            reason: "the server answered with a redirect, which is not followed".to_owned(),
            source: None,
        };
    }
    let mut error = ApiError::new(
        request.vendor(),
        request.operation(),
        status,
        ApiErrorKind::from_status(status),
    )
    .with_request_id(
        response
            .header("x-zendesk-request-id")
            .or_else(|| response.header("x-request-id"))
            .map(str::to_owned),
    )
    .with_retry_after(RetryAfter::from_response(response).map(|r| r.delay_from(SystemTime::now())));
    match response.json_body::<Value>() {
        Ok(body) => {
            if let Some(first) = body
                .get("errors")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
            {
                if let Some(code) = first.get("code").and_then(Value::as_str) {
                    error = error.with_code(code);
                }
                let title = first.get("title").and_then(Value::as_str);
                let detail = first.get("detail").and_then(Value::as_str);
                match (title, detail) {
                    (Some(t), Some(d)) => error = error.with_message(format!("{t}: {d}")),
                    (Some(m), None) | (None, Some(m)) => error = error.with_message(m),
                    (None, None) => {}
                }
            } else if let Some(message) = body.get("error").and_then(Value::as_str) {
                error = error.with_message(message);
                if let Some(description) = body.get("description").and_then(Value::as_str) {
                    error = error.with_message(format!("{message}: {description}"));
                }
            }
        }
        Err(_) => {
            let text = response.text_excerpt(200);
            if !text.trim().is_empty() {
                error = error.with_message(text.trim().to_owned());
            }
        }
    }
    error.into()
}
