//! A transport that prints every request (credentials redacted) and response.

use async_trait::async_trait;
use profile_core::{ApiRequest, ApiResponse, Error, Transport};

/// Prints each exchange to stdout, then passes it on.
#[derive(Debug)]
pub(crate) struct PrintingTransport<T> {
    inner: T,
}

impl<T: Transport> PrintingTransport<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self { inner }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Keys whose values are credentials, in the bodies of token exchanges and the like.
const SECRET_KEYS: [&str; 5] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
];

/// Replaces the values of credential keys, at any depth, with the redaction marker.
fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) {
                    *inner = serde_json::Value::String(profile_core::REDACTED.to_owned());
                } else {
                    redact(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

pub(crate) fn render_response(response: &ApiResponse) -> String {
    let mut out = format!("HTTP {} {}\n", response.status(), reason(response.status()));
    if !response.body().is_empty() {
        match response.json_body::<serde_json::Value>() {
            Ok(mut json) => {
                redact(&mut json);
                let pretty = serde_json::to_string_pretty(&json).unwrap_or_default();
                for line in pretty.lines() {
                    out.push_str("  ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
            Err(_) => {
                out.push_str("  ");
                out.push_str(&response.text_excerpt(500));
                out.push('\n');
            }
        }
    }
    out
}

#[async_trait]
impl<T: Transport> Transport for PrintingTransport<T> {
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        say!(
            "--> {}",
            request.render().trim_end().replace('\n', "\n    ")
        );
        let result = self.inner.send(request).await;
        match &result {
            Ok(response) => say!(
                "<-- {}",
                render_response(response).trim_end().replace('\n', "\n    ")
            ),
            Err(error) => say!("<-- error: {error}"),
        }
        say!();
        result
    }
}
