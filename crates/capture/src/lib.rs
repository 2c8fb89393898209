//! A typed client for Akamai Identity Cloud (Janrain Capture) user records:
//! [`entity.update`][docs] (partial updates, plural entries, optimistic preconditions),
//! `entity` and `entity.replace`, with all three authentication schemes (Basic, OAuth,
//! signed requests), every documented error code as a typed kind, and retries that never
//! append a plural element twice.
//!
//! ```
//! use profile_capture::{AttributePath, BaseUrl, CaptureAuth, CaptureClient, EntityLocator, EntityRead, EntityUpdate};
//! use serde_json::json;
//! # use profile_emulator::capture::CaptureEmulator;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = CaptureEmulator::start().await?;
//! # let base_url = emulator.base_url();
//! // base_url is https://my-app.janraincapture.com in production (here: a local emulator).
//! let client = CaptureClient::builder(
//!     BaseUrl::parse(&base_url)?,
//!     CaptureAuth::basic("ut4bgrra7w282jcfmypfqx9pzhqhjj2b", "unjze9nwkfuy6jpw838qpa7ad3hdnya6"),
//! )
//! .build()?;
//!
//! // The seed's first example: update two attributes of the record with this uuid.
//! let matt = EntityLocator::uuid("6bbe7e58-bede-41b8-940b-5614c7607a4e");
//! let update = EntityUpdate::attributes("user", matt.clone(), json!({"givenName": "Matt", "familyName": "Parker"}))?;
//! client.update(&update).await?;
//!
//! let record = client.entity(&EntityRead::new("user", matt)).await?;
//! assert_eq!(record["familyName"], "Parker");
//!
//! // The seed's second example: replace plural element 5253 of record 5252.
//! let path: AttributePath = "/statuses#5253".parse()?;
//! let update = EntityUpdate::value_at("user", EntityLocator::Id(5252), path, json!({"status": "active"}));
//! client.update(&update).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Capture answers most errors with HTTP 200 and `"stat": "error"`: every answer's `stat`
//! is read, and an error becomes a [`profile_core::Error`] whose
//! [`CaptureErrorKind::of`] says which documented code it is (`RecordNotFound`,
//! `TimestampMismatch`, `UnknownAttribute`, `ApiLimitError`, …), with Capture's code,
//! error name, description and `request_token`.
//!
//! For code that drives several vendors, [`CaptureUpdater`] implements the vendor-neutral
//! [`ProfileUpdater`](profile_core::ProfileUpdater).
//!
//! [docs]: https://techdocs.akamai.com/identity-cloud/reference/post-entity-update

mod auth;
mod client;
mod error;
mod model;
mod requests;
mod response;
mod updater;

pub use auth::{CaptureAuth, sign};
pub use client::{CaptureClient, CaptureClientBuilder, DEFAULT_MAX_IN_FLIGHT, UpdateOutcome};
pub use error::{CaptureErrorKind, CaptureInputError};
pub use model::{
    AttrDef, AttributePath, BULK_CREATE_BYTES, BULK_CREATE_RECORDS, BulkCreated, Created,
    EntityBulkCreate, EntityCount, EntityCreate, EntityDelete, EntityFind, EntityLocator,
    EntityRead, EntityReplace, EntityType, EntityUpdate, EntityValues, MAX_FIND_RESULTS,
    PathSegment, parse_json_value,
};
pub use profile_core::{BaseUrl, ClientSettings, Error, HttpConfig, RateLimit, RetryPolicy};
pub use requests::CaptureRequests;
pub use updater::CaptureUpdater;
