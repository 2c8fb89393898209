use std::time::Instant;

use async_trait::async_trait;

use super::Transport;
use crate::{ApiRequest, ApiResponse, Error};

/// Emits one `tracing` event per request: vendor, operation, method, path, status (or
/// error) and elapsed time. Never bodies, query strings or headers: they carry personal
/// data and credentials.
#[derive(Debug)]
pub struct TracingTransport<T> {
    inner: T,
}

impl<T: Transport> TracingTransport<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl<T: Transport> Transport for TracingTransport<T> {
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        let started = Instant::now();
        let result = self.inner.send(request).await;
        trace_outcome(request, &result, started);
        result
    }
}

/// The one event a request gets, once its answer (or error) is in.
fn trace_outcome(request: &ApiRequest, result: &Result<ApiResponse, Error>, started: Instant) {
    let elapsed_ms = started.elapsed().as_secs_f64() * 1_000.0;
    match result {
        Ok(response) => tracing::debug!(
            vendor = request.vendor(),
            operation = request.operation(),
            method = request.method().as_str(),
            path = request.path(),
            status = response.status(),
            elapsed_ms,
            "response"
        ),
        Err(error) => tracing::warn!(
            vendor = request.vendor(),
            operation = request.operation(),
            method = request.method().as_str(),
            path = request.path(),
            error = %error,
            elapsed_ms,
            "request failed"
        ),
    }
}
