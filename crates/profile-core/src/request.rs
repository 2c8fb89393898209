//! The plain-value request every vendor crate builds before anything is sent.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;

use crate::BaseUrl;

/// What a redacted credential is rendered as, everywhere.
pub const REDACTED: &str = "** redacted **";

/// The HTTP methods the vendors use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether HTTP defines the method as idempotent (RFC 9110 §9.2.2).
    fn is_idempotent_by_definition(self) -> bool {
        matches!(self, Method::Get | Method::Put | Method::Delete)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header value: plain text, or a credential that is never shown.
#[derive(Clone)]
pub enum HeaderValue {
    /// Shown as is in snapshots, `--dry-run` output and `Debug`.
    Plain(Cow<'static, str>),
    /// Sent as is, shown as [`REDACTED`] everywhere else.
    Secret(Arc<SecretString>),
}

impl HeaderValue {
    /// A credential header value.
    pub fn secret(value: impl Into<String>) -> Self {
        HeaderValue::Secret(Arc::new(SecretString::from(value.into())))
    }

    /// The value to put on the wire. Only transports call this.
    pub fn expose(&self) -> &str {
        match self {
            HeaderValue::Plain(v) => v,
            HeaderValue::Secret(v) => v.expose_secret(),
        }
    }

    /// The value as it may be shown to a person: secrets redacted.
    pub fn display(&self) -> &str {
        match self {
            HeaderValue::Plain(v) => v,
            HeaderValue::Secret(_) => REDACTED,
        }
    }

    /// Whether this value is a credential.
    pub fn is_secret(&self) -> bool {
        matches!(self, HeaderValue::Secret(_))
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.display())
    }
}

impl From<&'static str> for HeaderValue {
    fn from(value: &'static str) -> Self {
        HeaderValue::Plain(Cow::Borrowed(value))
    }
}

impl From<String> for HeaderValue {
    fn from(value: String) -> Self {
        HeaderValue::Plain(Cow::Owned(value))
    }
}

/// The body of a request.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document (`application/json`).
    Json(Value),
    /// A JSON document already serialized from a typed value (`application/json`): sent
    /// as it is, without building a [`Value`] first, and shown like [`Body::Json`].
    SerializedJson(Bytes),
    /// Form fields in the order they are sent (`application/x-www-form-urlencoded`).
    Form(Vec<(Cow<'static, str>, String)>),
}

impl Body {
    /// The bytes put on the wire.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Body::Empty => Vec::new(),
            // Serializing a `Value` cannot fail: its map keys are always strings.
            Body::Json(value) => serde_json::to_vec(value).unwrap_or_default(),
            Body::SerializedJson(bytes) => bytes.to_vec(),
            Body::Form(fields) => encode_form(fields),
        }
    }

    /// The bytes put on the wire, shared rather than copied where they are already
    /// serialized (a request resent by the retry layer is encoded again otherwise).
    pub fn encoded(&self) -> Bytes {
        match self {
            Body::SerializedJson(bytes) => bytes.clone(),
            body => Bytes::from(body.encode()),
        }
    }
}

/// Whether a request may be sent a second time when the first attempt's fate is unknown.
///
/// This decides what the retry layer may do after a timeout or a dropped connection: an
/// idempotent request is resent, a non-idempotent one (a Capture plural append, say) is
/// never resent once it may have reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Sending it twice has the same effect as sending it once.
    Idempotent,
    /// Sending it twice may apply it twice.
    NotIdempotent,
}

/// A request, fully built, that has not been sent: method, URL, query, headers and body.
///
/// Vendor crates build these with pure functions; a [`Transport`](crate::Transport) sends
/// them. [`ApiRequest::render`] shows one with credentials redacted, which is what the
/// snapshot tests and `--dry-run` print.
#[derive(Clone, Debug)]
pub struct ApiRequest {
    vendor: &'static str,
    operation: &'static str,
    method: Method,
    base_url: BaseUrl,
    // Names and fixed paths are mostly literals: borrowed, they cost no allocation.
    path: Cow<'static, str>,
    query: Vec<(Cow<'static, str>, String)>,
    headers: Vec<(Cow<'static, str>, HeaderValue)>,
    body: Body,
    idempotency: Idempotency,
}

impl ApiRequest {
    /// Starts a request. `path` is appended to the base URL and must start with `/`; build
    /// it with [`encode_path_segment`] for any part that comes from user input.
    ///
    /// `vendor` and `operation` name the call in traces and errors (`"sunshine"`,
    /// `"patch_profile"`). The idempotency defaults to HTTP's definition of the method
    /// (GET, PUT, DELETE are idempotent); vendor crates override it where they know better.
    pub fn new(
        vendor: &'static str,
        operation: &'static str,
        method: Method,
        base_url: &BaseUrl,
        path: impl Into<Cow<'static, str>>,
    ) -> Self {
        let idempotency = if method.is_idempotent_by_definition() {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        Self {
            vendor,
            operation,
            method,
            base_url: base_url.clone(),
            path: path.into(),
            query: Vec::new(),
            // Room for the usual three (`accept`, `authorization`, `content-type`) and one more.
            headers: Vec::with_capacity(4),
            body: Body::Empty,
            idempotency,
        }
    }

    /// Appends a query parameter (order is kept).
    pub fn query(mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets a header, replacing any earlier value of the same name. Names are lower-cased.
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<HeaderValue>,
    ) -> Self {
        let mut name = name.into();
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            name = Cow::Owned(name.to_ascii_lowercase());
        }
        // At most one of each name is ever held, so the first found is the only one.
        if let Some(earlier) = self.headers.iter().position(|(n, _)| *n == name) {
            self.headers.remove(earlier);
        }
        self.headers.push((name, value.into()));
        self
    }

    /// Sets a JSON body and its `content-type`.
    pub fn json(self, body: Value) -> Self {
        let mut this = self.header("content-type", "application/json");
        this.body = Body::Json(body);
        this
    }

    /// Sets a JSON body serialized from `body` now, and its `content-type`: for a typed
    /// body, which then needs no [`Value`] built from it. Fails only where `serde_json`
    /// does (a map whose keys are not strings, a `Serialize` impl that errs).
    pub fn json_of<T: Serialize + ?Sized>(self, body: &T) -> Result<Self, serde_json::Error> {
        // Room for a whole user object (LumApps saves ~300 bytes and up) from the start:
        // `to_vec` starts at 128 bytes and would grow twice on the way.
        let mut bytes = Vec::with_capacity(512);
        serde_json::to_writer(&mut bytes, body)?;
        let mut this = self.header("content-type", "application/json");
        this.body = Body::SerializedJson(Bytes::from(bytes));
        Ok(this)
    }

    /// Sets a form body and its `content-type`.
    pub fn form(self, fields: Vec<(Cow<'static, str>, String)>) -> Self {
        let mut this = self.header("content-type", "application/x-www-form-urlencoded");
        this.body = Body::Form(fields);
        this
    }

    /// Overrides whether the request may be sent twice.
    pub fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// The vendor's short name, for traces and errors.
    pub fn vendor(&self) -> &'static str {
        self.vendor
    }

    /// The operation's name, for traces and errors.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The base URL the path is appended to.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base_url
    }

    /// The path (percent-encoded), starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query parameters in the order they are sent (not encoded).
    pub fn query_pairs(&self) -> &[(Cow<'static, str>, String)] {
        &self.query
    }

    /// The headers (lower-case names) in the order they were set.
    pub fn headers(&self) -> &[(Cow<'static, str>, HeaderValue)] {
        &self.headers
    }

    /// The first header of that name, if any.
    pub fn header_value(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// Whether the request may be sent twice.
    pub fn idempotency_kind(&self) -> Idempotency {
        self.idempotency
    }

    /// Whether the request may be sent twice.
    pub fn is_idempotent(&self) -> bool {
        self.idempotency == Idempotency::Idempotent
    }

    /// The full URL with the query string percent-encoded (`:` as `%3A`, as the vendors'
    /// own samples do). May carry personal data: never log it.
    pub fn url(&self) -> String {
        let mut url = String::with_capacity(self.base_url.as_str().len() + self.path.len() + 64);
        url.push_str(self.base_url.as_str());
        url.push_str(&self.path);
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(
                &url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&self.query)
                    .finish(),
            );
        }
        url
    }

    /// The full URL, parsed: the same as [`ApiRequest::url`], built from the base URL parsed
    /// once rather than by parsing the whole text again.
    pub(crate) fn parsed_url(&self) -> url::Url {
        let mut url = match &self.path {
            Cow::Borrowed(fixed) => self.base_url.with_fixed_path(fixed),
            Cow::Owned(path) => self.base_url.with_path(path),
        };
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        url
    }

    /// Renders the request for a person or a snapshot: method and URL, the query decoded
    /// and sorted, the headers sorted with credentials redacted, the body as pretty JSON or
    /// as decoded form fields, and whether it may be sent twice.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} {}", self.method, self.url());
        if !self.query.is_empty() {
            out.push_str("query:\n");
            let mut query: Vec<_> = self.query.iter().collect();
            query.sort();
            for (name, value) in query {
                let _ = writeln!(out, "  {name} = {value}");
            }
        }
        if !self.headers.is_empty() {
            out.push_str("headers:\n");
            let mut headers: Vec<_> = self.headers.iter().collect();
            headers.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, value) in headers {
                let _ = writeln!(out, "  {name}: {}", value.display());
            }
        }
        match &self.body {
            Body::Empty => {}
            Body::Json(value) => render_json(&mut out, value),
            Body::SerializedJson(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(value) => render_json(&mut out, &value),
                Err(_) => {
                    out.push_str("body (not json):\n");
                    let _ = writeln!(out, "  {}", String::from_utf8_lossy(bytes));
                }
            },
            Body::Form(fields) => {
                out.push_str("body (form):\n");
                for (name, value) in fields {
                    let _ = writeln!(out, "  {name} = {value}");
                }
            }
        }
        let _ = writeln!(
            out,
            "idempotent: {}",
            if self.is_idempotent() { "yes" } else { "no" }
        );
        out
    }
}

/// Upper-case hexadecimal digits, for `%XX` escapes.
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Which bytes a form keeps as they are: `*-._` and ASCII letters and digits.
static FORM_KEEPS: [bool; 256] = {
    let mut keeps = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        keeps[byte] = b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_');
        byte += 1;
    }
    keeps
};

/// `application/x-www-form-urlencoded`, as the WHATWG URL standard serializes it (and the
/// `url` crate's `form_urlencoded`): `*-._` and ASCII letters and digits as they are, space
/// as `+`, every other byte as `%XX`. Written out here because it runs on every Capture
/// request, where the general serializer cost several instructions a byte.
fn encode_form(fields: &[(Cow<'static, str>, String)]) -> Vec<u8> {
    fn push_encoded(out: &mut Vec<u8>, text: &str) {
        for &byte in text.as_bytes() {
            if FORM_KEEPS[usize::from(byte)] {
                out.push(byte);
            } else if byte == b' ' {
                out.push(b'+');
            } else {
                out.extend_from_slice(&[
                    b'%',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0x0f)],
                ]);
            }
        }
    }
    // Room for the worst case (every byte as `%XX`) from the start: the buffer never grows,
    // and each byte costs a table look-up and a push.
    let worst: usize = fields
        .iter()
        .map(|(k, v)| 3 * (k.len() + v.len()) + 2)
        .sum();
    let mut out = Vec::with_capacity(worst);
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        push_encoded(&mut out, name);
        out.push(b'=');
        push_encoded(&mut out, value);
    }
    out
}

fn render_json(out: &mut String, value: &Value) {
    out.push_str("body (json):\n");
    let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
    for line in pretty.lines() {
        let _ = writeln!(out, "  {line}");
    }
}

/// Percent-encodes one path segment: everything but RFC 3986's unreserved characters.
///
/// ```
/// assert_eq!(profile_core::encode_path_segment("a b/c"), "a%20b%2Fc");
/// ```
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> BaseUrl {
        BaseUrl::parse("https://example.com").unwrap()
    }

    #[test]
    fn a_typed_json_body_is_sent_and_shown_as_the_same_value_would_be() {
        let value = json!({"profile": {"name": "Jane", "attributes": {"b": 1, "a": [true]}}});
        let from_value =
            ApiRequest::new("v", "op", Method::Post, &base(), "/x").json(value.clone());
        let typed = ApiRequest::new("v", "op", Method::Post, &base(), "/x")
            .json_of(&value)
            .unwrap();
        assert!(matches!(typed.body(), Body::SerializedJson(_)));
        assert_eq!(typed.render(), from_value.render());
        assert_eq!(typed.body().encode(), from_value.body().encode());
        assert_eq!(&typed.body().encoded()[..], &from_value.body().encode()[..]);
        assert_eq!(
            typed.header_value("content-type").unwrap().expose(),
            "application/json"
        );
    }

    #[test]
    fn fixed_paths_give_the_same_url_from_the_remembered_copy() {
        for root in ["https://example.com", "https://example.com/base/"] {
            let base = BaseUrl::parse(root).unwrap();
            for _ in 0..2 {
                for path in ["/entity", "/entity.update", "/api/v2/user_profiles", "/"] {
                    let request = ApiRequest::new("v", "op", Method::Get, &base, path)
                        .query("identifier", "a:b c");
                    assert_eq!(
                        request.parsed_url().as_str(),
                        url::Url::parse(&request.url()).unwrap().as_str()
                    );
                    // An owned path of the same text goes the long way, to the same URL.
                    let owned = ApiRequest::new("v", "op", Method::Get, &base, path.to_owned())
                        .query("identifier", "a:b c");
                    assert_eq!(owned.parsed_url(), request.parsed_url());
                }
            }
        }
    }

    #[test]
    fn idempotency_follows_the_method_unless_overridden() {
        let get = ApiRequest::new("v", "op", Method::Get, &base(), "/x");
        let patch = ApiRequest::new("v", "op", Method::Patch, &base(), "/x");
        assert!(get.is_idempotent());
        assert!(!patch.is_idempotent());
        assert!(patch.idempotency(Idempotency::Idempotent).is_idempotent());
    }

    #[test]
    fn the_query_is_percent_encoded_in_the_url_and_decoded_in_the_rendering() {
        let req = ApiRequest::new("v", "op", Method::Get, &base(), "/api")
            .query("identifier", "coolbikes:rider:email:jdoe@example.com");
        assert_eq!(
            req.url(),
            "https://example.com/api?identifier=coolbikes%3Arider%3Aemail%3Ajdoe%40example.com"
        );
        assert!(
            req.render()
                .contains("identifier = coolbikes:rider:email:jdoe@example.com")
        );
    }

    #[test]
    fn secret_headers_are_redacted_in_debug_and_rendering_but_sent_as_is() {
        let req = ApiRequest::new("v", "op", Method::Post, &base(), "/x")
            .header("Authorization", HeaderValue::secret("Basic c2VjcmV0"))
            .json(json!({"a": 1}));
        assert!(!format!("{req:?}").contains("c2VjcmV0"));
        assert!(!req.render().contains("c2VjcmV0"));
        assert!(req.render().contains("authorization: ** redacted **"));
        assert_eq!(
            req.header_value("authorization").unwrap().expose(),
            "Basic c2VjcmV0"
        );
    }

    #[test]
    fn setting_a_header_twice_keeps_the_last_value() {
        let req = ApiRequest::new("v", "op", Method::Get, &base(), "/x")
            .header("Accept", "text/plain")
            .header("accept", "application/json");
        assert_eq!(req.headers().len(), 1);
        assert_eq!(
            req.header_value("ACCEPT").unwrap().expose(),
            "application/json"
        );
    }

    #[test]
    fn form_bodies_are_encoded_in_order() {
        let body = Body::Form(vec![
            ("type_name".into(), "user".into()),
            ("value".into(), "{\"a\":\"b c\"}".into()),
        ]);
        assert_eq!(
            String::from_utf8(body.encode()).unwrap(),
            "type_name=user&value=%7B%22a%22%3A%22b+c%22%7D"
        );
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_path_segment("01E06HXMJ8"), "01E06HXMJ8");
        assert_eq!(encode_path_segment("../x?y#z"), "..%2Fx%3Fy%23z");
        assert_eq!(encode_path_segment("é"), "%C3%A9");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn a_form_body_decodes_to_the_same_fields(
            fields in proptest::collection::vec(("\\PC{0,20}", "\\PC{0,40}"), 0..8)
        ) {
            let encoded = Body::Form(
                fields.iter().map(|(k, v)| (Cow::Owned(k.clone()), v.clone())).collect(),
            )
            .encode();
            let decoded: Vec<(String, String)> = url::form_urlencoded::parse(&encoded)
                .into_owned()
                .collect();
            prop_assert_eq!(decoded, fields);
        }

        #[test]
        fn a_form_body_is_encoded_as_the_url_crate_encodes_it(
            fields in proptest::collection::vec(("\\PC{0,20}", any::<String>()), 0..6)
        ) {
            let ours = Body::Form(
                fields.iter().map(|(k, v)| (Cow::Owned(k.clone()), v.clone())).collect(),
            )
            .encode();
            let theirs = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&fields)
                .finish();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), theirs);
        }

        #[test]
        fn a_path_segment_stays_one_segment(segment in "\\PC{0,40}") {
            let encoded = encode_path_segment(&segment);
            prop_assert!(!encoded.contains(['/', '?', '#', ' ']));
            let decoded: String = url::form_urlencoded::parse(format!("x={}", encoded.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            prop_assert_eq!(decoded, segment);
        }

        #[test]
        fn the_parsed_url_is_the_url(
            base in prop::sample::select(vec![
                "https://coolbikes.zendesk.com",
                "https://example.com/api/",
                "http://127.0.0.1:8080",
                "https://xn--bcher-kva.example",
            ]),
            segments in proptest::collection::vec("\\PC{0,12}", 0..4),
            query in proptest::collection::vec(("\\PC{0,10}", "\\PC{0,20}"), 0..3),
        ) {
            let base = BaseUrl::parse(base).unwrap();
            let path: String = segments
                .iter()
                .map(|s| format!("/{}", encode_path_segment(s)))
                .collect();
            let path = if path.is_empty() { "/".to_owned() } else { path };
            let mut request = ApiRequest::new("test", "op", Method::Get, &base, path);
            for (name, value) in &query {
                request = request.query(name.clone(), value.clone());
            }
            let parsed = request.parsed_url();
            let reparsed = url::Url::parse(&request.url()).unwrap();
            prop_assert_eq!(parsed.as_str(), reparsed.as_str());
        }

        #[test]
        fn any_answer_reads_as_a_typed_error_of_its_status_or_decodes_as_serde_json_says(
            status in 100u16..600,
            body in proptest::collection::vec(any::<u8>(), 0..200),
            retry_after in "[ -~]{0,30}",
        ) {
            use std::time::{Duration, SystemTime};
            use crate::{ApiErrorKind, Error, RetryAfter};
            let response = crate::ApiResponse::new(status, body.clone())
                .with_header("content-type", "application/json")
                .with_header("retry-after", retry_after.clone());
            let base = BaseUrl::parse("https://example.com").unwrap();
            let request = ApiRequest::new("test", "op", Method::Get, &base, "/x");
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
            let as_serde = serde_json::from_slice::<serde_json::Value>(&body);
            match response.read_error(&request, now, &["x-request-id"]) {
                Err(Error::UnexpectedResponse { status: got, .. }) => {
                    prop_assert!((300..400).contains(&status));
                    prop_assert_eq!(got, status);
                }
                Ok((error, json)) => {
                    prop_assert!(!(300..400).contains(&status));
                    prop_assert_eq!(error.status, status);
                    prop_assert_eq!(error.kind, ApiErrorKind::from_status(status));
                    prop_assert_eq!(json.is_some(), as_serde.is_ok());
                    prop_assert_eq!(
                        error.retry_after,
                        RetryAfter::parse(&retry_after).map(|r| r.delay_from(now))
                    );
                }
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
            match (response.decode::<serde_json::Value>(&request), as_serde) {
                (Ok(ours), Ok(theirs)) => prop_assert_eq!(ours, theirs),
                (Err(Error::CutShort { .. }), Err(theirs)) => prop_assert!(theirs.is_eof()),
                (Err(Error::UnexpectedResponse { .. }), Err(theirs)) => {
                    prop_assert!(!theirs.is_eof())
                }
                (ours, theirs) => prop_assert!(false, "{ours:?} against {theirs:?}"),
            }
        }
    }
}
