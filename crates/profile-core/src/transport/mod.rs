//! Sending requests: one small trait and decorators that wrap it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{ApiRequest, ApiResponse, Error};

mod http;
mod rate_limit;
mod retrying;
mod stack;
mod traced;

pub use http::{HttpConfig, HttpTransport};
pub use rate_limit::{RateLimit, RateLimitTransport};
pub use retrying::RetryTransport;
pub use stack::TransportStack;
pub use traced::TracingTransport;

/// Sends an [`ApiRequest`] and returns the response, whatever its status.
///
/// Object-safe, so a client holds an `Arc<dyn Transport>` and decorators stack freely.
/// Implementations return `Ok` for every HTTP status: reading a vendor's error body is the
/// vendor crate's job.
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends one request once (decorators may send it more than once).
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error>;
}

/// What `send` returns once `async_trait` has written it out.
type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<ApiResponse, Error>> + Send + 'a>>;

// A pointer hands on the future of what it points to, rather than boxing it once more:
// every request goes through two of these.
macro_rules! send_through_pointer {
    ($($pointer:ident),+) => {$(
        impl<T: Transport + ?Sized> Transport for $pointer<T> {
            fn send<'life0, 'life1, 'async_trait>(
                &'life0 self,
                request: &'life1 ApiRequest,
            ) -> SendFuture<'async_trait>
            where
                'life0: 'async_trait,
                'life1: 'async_trait,
                Self: 'async_trait,
            {
                (**self).send(request)
            }
        }
    )+};
}

send_through_pointer!(Arc, Box);
