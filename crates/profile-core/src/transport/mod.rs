//! Sending requests: one small trait and decorators that wrap it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use serde::de::DeserializeOwned;

use crate::{ApiRequest, ApiResponse, BodyRead, Error};

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

/// Reads a successful answer's body for a caller, inside the retry loop: see
/// [`Transport::send_reading`]. It keeps what it decodes and returns what that showed.
pub type ReadBody<'a> = dyn FnMut(&ApiResponse) -> BodyRead + Send + 'a;

/// Sends an [`ApiRequest`] and returns the response, whatever its status.
///
/// Object-safe, so a client holds an `Arc<dyn Transport>` and decorators stack freely.
/// Implementations return `Ok` for every HTTP status: reading a vendor's error body is the
/// vendor crate's job.
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends one request once (decorators may send it more than once).
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error>;

    /// Sends like [`Transport::send`], handing every successful (2xx) answer to `read`
    /// before the answer is judged.
    ///
    /// A caller that decodes the body anyway decodes it here, once: the retry layer then
    /// takes what the decoding showed ([`BodyRead`]) instead of checking the JSON itself a
    /// second time (an answer cut short is still sent again, as with `send`). `read` may be
    /// called once per attempt; what it keeps from the last call belongs to the answer
    /// returned, when that answer is a success.
    ///
    /// The default sends, then reads a successful answer once. Layers that send more than
    /// once ([`RetryTransport`]) and pointers (`Arc`, `Box`) pass `read` on.
    async fn send_reading(
        &self,
        request: &ApiRequest,
        read: &mut ReadBody<'_>,
    ) -> Result<ApiResponse, Error> {
        let mut response = self.send(request).await?;
        read_success(&mut response, read);
        Ok(response)
    }
}

/// Hands a successful answer to `read` and keeps what it showed of the body; any other
/// answer is left alone. What every layer that reads does with each answer it gets.
pub(crate) fn read_success(response: &mut ApiResponse, read: &mut ReadBody<'_>) {
    if response.is_success() {
        let body = read(response);
        response.note_body_read(body);
    }
}

/// Sends `request` through `transport` and decodes a successful answer's JSON body as `T`,
/// in the one pass that also tells the retry layer whether the body came whole (see
/// [`Transport::send_reading`]).
///
/// Returns the answer, and for a success the decoded body (or why it did not decode); for
/// any other status `None`, the body left to the caller's error reading.
pub async fn send_decoding<T: DeserializeOwned + Send>(
    transport: &dyn Transport,
    request: &ApiRequest,
) -> Result<(ApiResponse, Option<Result<T, serde_json::Error>>), Error> {
    let mut decoded = None;
    let response = transport
        .send_reading(request, &mut |response: &ApiResponse| {
            let (body, read) = response.read_json::<T>();
            decoded = Some(body);
            read
        })
        .await?;
    if !response.is_success() {
        return Ok((response, None));
    }
    // A transport that did not call `read` (it has no business not to) is made up for.
    let body = decoded.unwrap_or_else(|| response.json_body());
    Ok((response, Some(body)))
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

            fn send_reading<'life0, 'life1, 'life2, 'life3, 'async_trait>(
                &'life0 self,
                request: &'life1 ApiRequest,
                read: &'life2 mut ReadBody<'life3>,
            ) -> SendFuture<'async_trait>
            where
                'life0: 'async_trait,
                'life1: 'async_trait,
                'life2: 'async_trait,
                'life3: 'async_trait,
                Self: 'async_trait,
            {
                (**self).send_reading(request, read)
            }
        }
    )+};
}

send_through_pointer!(Arc, Box);
