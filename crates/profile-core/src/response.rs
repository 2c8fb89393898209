//! What came back from a vendor.

use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;

use crate::{ApiError, ApiErrorKind, ApiRequest, Error, RetryAfter};

/// A response as received: status, headers and the whole body.
///
/// Transports return an `ApiResponse` for every HTTP status; turning a non-success status
/// (or a vendor's error body) into an [`Error`](crate::Error) is the vendor crate's job,
/// because only it knows the vendor's error format.
#[derive(Clone)]
pub struct ApiResponse {
    status: u16,
    // As the HTTP client received them: kept rather than copied out, header by header.
    headers: HeaderMap,
    body: Bytes,
}

impl ApiResponse {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        }
    }

    /// A JSON response (sets `content-type`).
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::new(status, serde_json::to_vec(body).unwrap_or_default())
            .with_header("content-type", "application/json")
    }

    /// Adds a header (names are case-insensitive). A name or value that HTTP cannot carry
    /// (a space in the name, a line break in the value) is left out: no server could have
    /// sent it.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::try_from(value.into()),
        ) {
            self.headers.append(name, value);
        }
        self
    }

    /// Sets the headers as the HTTP client received them.
    pub(crate) fn with_header_map(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of a header, by case-insensitive name; `None` also when the value
    /// is not visible ASCII text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// All headers with text values: lower-case names, values of one name in the order
    /// received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
    }

    /// The raw body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Decodes a success's JSON body as `T`, for `request`'s vendor crate: a body that ends
    /// before its document does is [`Error::CutShort`] (the answer was cut on the way, and
    /// the retry loop may send an idempotent request again); any other body that does not
    /// decode is [`Error::UnexpectedResponse`].
    pub fn decode<T: DeserializeOwned>(&self, request: &ApiRequest) -> Result<T, Error> {
        self.json_body().map_err(|e| {
            let (vendor, operation, status) = (request.vendor(), request.operation(), self.status);
            if e.is_eof() {
                Error::CutShort {
                    vendor,
                    operation,
                    status,
                    source: Box::new(e),
                }
            } else {
                Error::UnexpectedResponse {
                    vendor,
                    operation,
                    status,
                    reason: "the body is not the JSON this call returns".to_owned(),
                    source: Some(Box::new(e)),
                }
            }
        })
    }

    /// What every vendor reads the same way from an answer that is not a success, leaving
    /// only its own error body to the vendor crate.
    ///
    /// A redirect is an [`Error::UnexpectedResponse`] (it is never followed). Otherwise the
    /// error carries the status and its usual kind, the request id from the first of
    /// `request_id_headers` present, the `Retry-After` as a delay from `now` (the client's
    /// clock), and, for a body that is not JSON, its text as the message. A JSON body is
    /// returned beside it, parsed once, for the vendor to read its code and message from.
    pub fn read_error(
        &self,
        request: &ApiRequest,
        now: SystemTime,
        request_id_headers: &[&str],
    ) -> Result<(ApiError, Option<serde_json::Value>), Error> {
        let status = self.status;
        if (300..400).contains(&status) {
            return Err(Error::UnexpectedResponse {
                vendor: request.vendor(),
                operation: request.operation(),
                status,
                reason: "the server answered with a redirect, which is not followed".to_owned(),
                source: None,
            });
        }
        let mut error = ApiError::new(
            request.vendor(),
            request.operation(),
            status,
            ApiErrorKind::from_status(status),
        )
        .with_request_id(
            request_id_headers
                .iter()
                .find_map(|name| self.header(name))
                .map(str::to_owned),
        )
        .with_retry_after(RetryAfter::from_response(self).map(|r| r.delay_from(now)));
        let body = self.json_body::<serde_json::Value>().ok();
        if body.is_none() {
            let text = self.text_excerpt(200);
            if !text.trim().is_empty() {
                error = error.with_message(text.trim().to_owned());
            }
        }
        Ok((error, body))
    }

    /// Decodes the body as JSON.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        // The whole body checked as UTF-8 in one pass is cheaper than `from_slice` checking
        // each string as it reads it (about 2k of the 23k instructions that decoding a
        // 300-byte LumApps user takes). A body that is not UTF-8 goes the byte way, for
        // the same error `from_slice` gives.
        match std::str::from_utf8(&self.body) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(&self.body),
        }
    }

    /// The body as text, invalid UTF-8 replaced, cut to `max_chars` characters: for error
    /// messages built from bodies that are not JSON.
    pub fn text_excerpt(&self, max_chars: usize) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut excerpt: String = text.chars().take(max_chars).collect();
        if text.chars().nth(max_chars).is_some() {
            excerpt.push('…');
        }
        excerpt
    }
}

impl fmt::Debug for ApiResponse {
    // Bodies may carry personal data: Debug shows the size only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiResponse")
            .field("status", &self.status)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_by_any_case_and_unsendable_ones_are_left_out() {
        let response = ApiResponse::new(200, "")
            .with_header("Retry-After", "3")
            .with_header("x-request-id", "abc")
            .with_header("bad name", "x")
            .with_header("x-broken", "line\nbreak");
        assert_eq!(response.header("retry-after"), Some("3"));
        assert_eq!(response.header("X-REQUEST-ID"), Some("abc"));
        assert_eq!(response.header("x-broken"), None);
        let mut all: Vec<_> = response.headers().collect();
        all.sort();
        assert_eq!(all, [("retry-after", "3"), ("x-request-id", "abc")]);
    }

    #[test]
    fn a_json_body_decodes_as_serde_json_reads_bytes() {
        use serde_json::Value;
        let bodies: [&[u8]; 6] = [
            br#"{"name":"Zo\u00eb","city":"K\xc3\xb8benhavn"}"#,
            br#"{"a":"\xff"}"#,
            b"{\"a\":1",
            b"\xff{}",
            b"[1, 2.5, null, true]",
            b"",
        ];
        for body in bodies {
            let ours = ApiResponse::new(200, body.to_vec()).json_body::<Value>();
            let bytes = serde_json::from_slice::<Value>(body);
            match (ours, bytes) {
                (Ok(ours), Ok(bytes)) => assert_eq!(ours, bytes),
                (Err(ours), Err(bytes)) => assert_eq!(ours.to_string(), bytes.to_string()),
                (ours, bytes) => panic!("{body:?}: {ours:?} against {bytes:?}"),
            }
        }
        let text = ApiResponse::new(200, "{\"city\":\"K\u{f8}benhavn\"}").json_body::<Value>();
        assert_eq!(text.unwrap()["city"], "K\u{f8}benhavn");
    }
}
