//! Sending requests: one small trait and decorators that wrap it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{ApiRequest, ApiResponse, Error};

mod http;
mod rate_limit;
mod traced;

pub use http::{HttpConfig, HttpTransport};
pub use rate_limit::{RateLimit, RateLimitTransport, StatedLimit};
pub use traced::TracingTransport;

/// Sends an [`ApiRequest`] once and returns the response, whatever its status.
///
/// Object-safe, so a client holds an `Arc<dyn Transport>` and decorators
/// ([`RateLimitTransport`], [`TracingTransport`], one of your own) stack freely.
/// Implementations return `Ok` for every HTTP status: reading a vendor's answer, and
/// deciding whether to send again, is the client's job
/// ([`ApiClient::execute`](crate::ApiClient::execute)).
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends one request once.
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        (**self).send(request).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        (**self).send(request).await
    }
}
