//! What came back from a vendor.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A response as received: status, headers and the whole body.
///
/// Transports return an `ApiResponse` for every HTTP status; turning a non-success status
/// (or a vendor's error body) into an [`Error`](crate::Error) is the vendor crate's job,
/// because only it knows the vendor's error format.
#[derive(Clone)]
pub struct ApiResponse {
    status: u16,
    // Lower-case names; a handful of entries, so a vector beats a map.
    headers: Vec<(String, String)>,
    body: Bytes,
    earlier_attempt_may_have_applied: bool,
}

impl ApiResponse {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            earlier_attempt_may_have_applied: false,
        }
    }

    /// A JSON response (sets `content-type`).
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::new(status, serde_json::to_vec(body).unwrap_or_default())
            .with_header("content-type", "application/json")
    }

    /// Adds a header (name lower-cased).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub(crate) fn reserve_headers(&mut self, count: usize) {
        self.headers.reserve(count);
    }

    /// Adds a header whose name is already lower case (as `http` keeps them).
    pub(crate) fn push_lowercase_header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
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

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers, lower-case names, in the order received.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The raw body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Decodes the body as JSON.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
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
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}
