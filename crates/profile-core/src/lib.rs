//! The shared core of the profile-toolkit vendor crates.
//!
//! Every vendor crate (`profile-sunshine`, `profile-capture`, `profile-lumapps`) works the
//! same way, one way down:
//!
//! 1. a method builds an [`ApiRequest`]: a plain value (method, URL, query, headers, body,
//!    idempotency) that can be inspected, rendered with credentials redacted
//!    ([`ApiRequest::render`]) and snapshot-tested without any network;
//! 2. the vendor client's [`ApiClient`] (built from a [`ClientConfig`], whose setters every
//!    vendor builder shares through [`ClientSettings`]) hands it to a [`Transport`]: real
//!    HTTP (or a transport of your own) under [`TracingTransport`] and
//!    [`RateLimitTransport`];
//! 3. inside the retry loop ([`ApiClient::execute`]) the vendor crate reads each answer
//!    once, into typed values or into an [`Error`] that says how far the request got
//!    ([`Error::send_state`]) and what the vendor said; the loop decides from that typed
//!    error whether to send again ([`retry::AttemptOutcome::of`]).
//!
//! On top sits a vendor-neutral layer, [`ProfileUpdater`], so that one program can drive any
//! vendor through `dyn ProfileUpdater` with a [`UserRef`] and a [`ProfilePatch`].
//!
//! ```
//! use profile_core::{ApiRequest, BaseUrl, HeaderValue, Method};
//! use serde_json::json;
//!
//! let base = BaseUrl::parse("https://coolbikes.zendesk.com")?;
//! let request = ApiRequest::new("sunshine", "patch_profile", Method::Patch, &base, "/api/v2/user_profiles")
//!     .query("identifier", "coolbikes:rider:email:jdoe@example.com")
//!     .header("authorization", HeaderValue::secret("Basic c2VjcmV0"))
//!     .json(json!({"profile": {"name": "Jane Doe"}}));
//!
//! assert_eq!(
//!     request.url(),
//!     "https://coolbikes.zendesk.com/api/v2/user_profiles?identifier=coolbikes%3Arider%3Aemail%3Ajdoe%40example.com"
//! );
//! // Credentials never show, neither in renderings nor in Debug output.
//! assert!(request.render().contains("authorization: ** redacted **"));
//! assert!(!format!("{request:?}").contains("c2VjcmV0"));
//! # Ok::<(), profile_core::InvalidBaseUrl>(())
//! ```
//!
//! ## Features
//! - `rustls` (default): TLS through rustls.
//! - `native-tls`: TLS through the platform's library instead.
//! - `test-util`: `RecordingTransport`, which records requests and replays canned
//!   responses, and `test_util::capture_traces`, which collects this thread's tracing
//!   output at TRACE level.

mod base_url;
mod client;
pub mod credentials;
mod error;
mod paginate;
mod profile;
mod request;
mod response;
pub mod retry;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;
pub mod time;
mod transport;

pub use base_url::{BaseUrl, InvalidBaseUrl};
pub use client::{ApiClient, ClientConfig, ClientSettings};
pub use error::{ApiError, ApiErrorKind, BoxError, Error, SendState};
pub use paginate::{Page, paginate};
pub use profile::{
    Applied, BatchCreated, FieldChange, FieldCheck, FieldPath, InvalidFieldPath, KeyKind, Profile,
    ProfilePatch, ProfileUpdater, UserRef,
};
pub use request::{
    ApiRequest, Body, HeaderValue, Idempotency, Method, REDACTED, encode_path_segment,
};
pub use response::ApiResponse;
pub use retry::{RetryAfter, RetryPolicy};
#[cfg(any(test, feature = "test-util"))]
pub use test_util::RecordingTransport;
pub use transport::{
    HttpConfig, HttpTransport, RateLimit, RateLimitTransport, StatedLimit, TracingTransport,
    Transport,
};

/// Re-exported so that callers build credentials without adding `secrecy` themselves.
pub use secrecy;
