//! A request as bytes, sent by a bare reqwest loop: the bulk ceiling and the overhead
//! benchmark's bare loop send these, the same bytes the SDK sends. `profile-bench` hands
//! them to `profile-bench-ceiling` as JSON: each binary uses one direction of it.

use serde_json::{Value, json};

/// A request as bytes, for the bare reqwest loop.
#[derive(Clone)]
pub(crate) struct RawRequest {
    pub(crate) method: reqwest::Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl RawRequest {
    /// As JSON, to hand to the ceiling's process (the bodies are text: JSON or a form).
    #[allow(dead_code)]
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "method": self.method.as_str(),
            "url": self.url,
            "headers": self.headers,
            "body": String::from_utf8_lossy(&self.body),
        })
    }

    /// Back from [`RawRequest::to_json`].
    #[allow(dead_code)]
    pub(crate) fn from_json(value: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        Self {
            method: reqwest::Method::from_bytes(text(&value["method"]).as_bytes())
                .unwrap_or(reqwest::Method::GET),
            url: text(&value["url"]),
            headers: value["headers"]
                .as_array()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|pair| (text(&pair[0]), text(&pair[1])))
                        .collect()
                })
                .unwrap_or_default(),
            body: text(&value["body"]).into_bytes(),
        }
    }

    /// Sends it: `true` when the answer is a success and its body was read whole.
    pub(crate) async fn send(&self, client: &reqwest::Client) -> bool {
        self.send_reading(client, |_| true).await
    }

    /// Sends it, and hands the answer's body to `read`: `true` when the answer is a
    /// success and `read` says so.
    pub(crate) async fn send_reading(
        &self,
        client: &reqwest::Client,
        read: impl Fn(&[u8]) -> bool,
    ) -> bool {
        let mut builder = client.request(self.method.clone(), &self.url);
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        match builder.body(self.body.clone()).send().await {
            Ok(response) => {
                let ok = response.status().is_success();
                match response.bytes().await {
                    Ok(body) => ok && read(&body),
                    Err(_) => false,
                }
            }
            Err(_) => false,
        }
    }
}
