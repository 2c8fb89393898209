//! A request as bytes, sent by a bare reqwest loop: the bulk ceiling and the overhead
//! benchmark's bare loop send these, the same bytes the SDK sends.

/// A request as bytes, for the bare reqwest loop.
#[derive(Clone)]
pub(crate) struct RawRequest {
    pub(crate) method: reqwest::Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl RawRequest {
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
