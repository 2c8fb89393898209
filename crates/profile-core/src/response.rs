//! What came back from a vendor.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;

/// What reading an answer's body showed of it: see [`Transport::send_reading`].
///
/// [`Transport::send_reading`]: crate::Transport::send_reading
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyRead {
    /// The body is one well-formed JSON document.
    Json,
    /// The body ends before the JSON document does: the answer was cut short.
    CutShort,
    /// The reader cannot tell: it stopped early, at a value of a shape it did not expect or
    /// at bytes that are not JSON (the retry layer then checks the body itself).
    Unknown,
}

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
    earlier_attempt_may_have_applied: bool,
    // Whether the body is well-formed JSON, once a reader has found out
    // ([`ApiResponse::note_body_read`]) or the body has been checked: it is checked once,
    // however many ask (the retry layer, then a caller that only checks the answer).
    body_is_json: OnceLock<bool>,
}

impl ApiResponse {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
            earlier_attempt_may_have_applied: false,
            body_is_json: OnceLock::new(),
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
        self.body_is_json = OnceLock::new();
        self
    }

    /// Records what a reader of the body found (see [`Transport::send_reading`]), so that
    /// [`ApiResponse::body_is_json`] need not check the body again.
    ///
    /// [`Transport::send_reading`]: crate::Transport::send_reading
    pub fn note_body_read(&mut self, read: BodyRead) {
        self.body_is_json = match read {
            BodyRead::Json => OnceLock::from(true),
            BodyRead::CutShort => OnceLock::from(false),
            BodyRead::Unknown => OnceLock::new(),
        };
    }

    /// Whether an attempt before the one that gave this answer may have been applied (the
    /// retry layer sent the request again after a timeout, a dropped connection or a 5xx).
    /// An error read from this answer then does not prove that nothing was applied.
    pub fn earlier_attempt_may_have_applied(&self) -> bool {
        self.earlier_attempt_may_have_applied
    }

    /// Records that an earlier attempt may have been applied (the retry layer's job).
    pub fn mark_earlier_attempt_may_have_applied(&mut self) {
        self.earlier_attempt_may_have_applied = true;
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

    /// Whether the body is exactly one well-formed JSON document, checked in one pass
    /// without building anything (about a quarter of the cost of parsing it into
    /// `serde::de::IgnoredAny`). Bytes inside strings are not checked as UTF-8.
    pub fn body_is_json(&self) -> bool {
        *self
            .body_is_json
            .get_or_init(|| crate::json_check::is_well_formed(&self.body))
    }

    /// Whether the `content-type` says the body is JSON.
    pub(crate) fn declares_json(&self) -> bool {
        // By the constant name, which `HeaderMap` finds without parsing a name.
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("json"))
    }

    /// Decodes the body as JSON, and says what that showed of the body: for a reader handed
    /// to [`Transport::send_reading`].
    ///
    /// [`Transport::send_reading`]: crate::Transport::send_reading
    pub fn read_json<T: DeserializeOwned>(&self) -> (Result<T, serde_json::Error>, BodyRead) {
        let decoded = self.json_body();
        let read = match &decoded {
            Ok(_) => BodyRead::Json,
            // The document stopped before its end: cut short, whatever its shape.
            Err(error) if error.is_eof() => BodyRead::CutShort,
            // Stopped at a value of another shape, or at bytes that are not JSON (the
            // retry layer's own check decides which).
            Err(_) => BodyRead::Unknown,
        };
        (decoded, read)
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
