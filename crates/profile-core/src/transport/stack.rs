use std::sync::Arc;

use super::{
    HttpConfig, HttpTransport, RateLimit, RateLimitTransport, RetryTransport, TracingTransport,
    Transport,
};
use crate::Error;
use crate::retry::{ResponseClassifier, RetryPolicy, classify_by_status};

/// The settings every vendor client assembles its transport from:
/// `retry → rate limit → tracing → HTTP` (or a transport of your own at the bottom).
///
/// Retry sits outside the rate limit so that every resend waits for its own slot; tracing
/// sits right on the wire so that its timings are the vendor's, not the queue's. Over real
/// HTTP the transport emits the tracing event itself (the same event [`TracingTransport`]
/// emits, one per attempt), which spares every request one layer to cross; a transport of
/// your own is wrapped in [`TracingTransport`].
#[derive(Clone, Debug)]
pub struct TransportStack {
    http: HttpConfig,
    base: Option<Arc<dyn Transport>>,
    retry: RetryPolicy,
    rate_limit: RateLimit,
    classifier: ResponseClassifier,
}

impl Default for TransportStack {
    fn default() -> Self {
        Self {
            http: HttpConfig::default(),
            base: None,
            retry: RetryPolicy::default(),
            rate_limit: RateLimit::unlimited(),
            classifier: classify_by_status,
        }
    }
}

impl TransportStack {
    /// The defaults: real HTTP, [`RetryPolicy::default`], no rate limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Settings of the HTTP transport (ignored when a base transport is given).
    pub fn http(mut self, config: HttpConfig) -> Self {
        self.http = config;
        self
    }

    /// Sends through this transport instead of real HTTP (a recorder in tests, a proxy of
    /// your own). Retry, rate limit and tracing still wrap it.
    pub fn base_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.base = Some(transport);
        self
    }

    /// The retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The client-side rate limit.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// How the retry layer reads responses (vendors with errors in 200 bodies set this).
    pub fn classifier(mut self, classifier: ResponseClassifier) -> Self {
        self.classifier = classifier;
        self
    }

    /// Assembles the stack.
    pub fn build(self) -> Result<Arc<dyn Transport>, Error> {
        // The HTTP transport emits the tracing layer's event itself, which spares every
        // request a layer to cross; a transport of the caller's gets the layer.
        let traced: Arc<dyn Transport> = match self.base {
            Some(base) => Arc::new(TracingTransport::new(base)),
            None => Arc::new(HttpTransport::new(&self.http)?.traced()),
        };
        // Without a limit the rate-limit layer would only pass requests through: it is left
        // out rather than crossed by every request.
        if self.rate_limit == RateLimit::unlimited() {
            let retrying = RetryTransport::new(traced, self.retry).with_classifier(self.classifier);
            return Ok(Arc::new(retrying));
        }
        let limited = RateLimitTransport::new(traced, self.rate_limit);
        let retrying = RetryTransport::new(limited, self.retry).with_classifier(self.classifier);
        Ok(Arc::new(retrying))
    }
}
