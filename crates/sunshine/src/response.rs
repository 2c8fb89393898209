//! Turning Zendesk's answers into typed values or errors.

use std::time::SystemTime;

use profile_core::{ApiRequest, ApiResponse, Error};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Where Zendesk puts its request id.
const REQUEST_ID_HEADERS: &[&str] = &["x-zendesk-request-id", "x-request-id"];

/// The decoded body of a success, or the error the answer maps to.
pub(crate) fn read<T: DeserializeOwned>(
    request: &ApiRequest,
    response: &ApiResponse,
    now: SystemTime,
) -> Result<T, Error> {
    if response.is_success() {
        return response.decode(request);
    }
    Err(error_from(request, response, now))
}

/// Maps a non-success answer: `{"errors":[{"code","title","detail"}]}` (the profiles API),
/// `{"error": "..."}` (authentication), or any text (a 429 may come as text/plain).
pub(crate) fn error_from(request: &ApiRequest, response: &ApiResponse, now: SystemTime) -> Error {
    let (mut error, body) = match response.read_error(request, now, REQUEST_ID_HEADERS) {
        Ok(read) => read,
        Err(error) => return error,
    };
    let Some(body) = body else {
        return error.into();
    };
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
    error.into()
}
