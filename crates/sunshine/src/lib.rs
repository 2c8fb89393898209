//! A typed client for [Zendesk Sunshine user profiles][docs]: read, merge (PATCH),
//! create-or-replace (PUT) and delete the profiles your applications keep about Zendesk
//! users, with identifier queries validated before anything is sent, retries that never
//! apply a change twice, and a client-side rate limit.
//!
//! ```
//! use profile_sunshine::{
//!     BaseUrl, ClientSettings, IdentifierQuery, ProfileContent, ProfileUpdate, RateLimit,
//!     SunshineAuth, SunshineClient,
//! };
//! # use profile_emulator::sunshine::SunshineEmulator;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = SunshineEmulator::start().await?;
//! # let base_url = emulator.base_url();
//! // base_url is https://coolbikes.zendesk.com in production (here: a local emulator).
//! let client = SunshineClient::builder(
//!     BaseUrl::parse(&base_url)?,
//!     SunshineAuth::api_token("devs@coolbikes.com", "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv"),
//! )
//! // The settings every vendor client shares (retry, rate limit, HTTP, transport, clock)
//! // are the `ClientSettings` trait's: here, a Professional plan's profiles limit.
//! .rate_limit(RateLimit::per_minute(500))
//! .build()?;
//!
//! let rider: IdentifierQuery = "coolbikes:rider:email:jdoe@example.com".parse()?;
//!
//! // PUT creates the profile when the identifier query finds none.
//! let content = ProfileContent::new()
//!     .name("sunshine_user")
//!     .attribute("favorite_color", "red")
//!     .attribute("saddle_height", "85cm");
//! let outcome = client.create_or_replace(&rider, &content).await?;
//! assert!(outcome.created);
//!
//! // PATCH merges: saddle_height changes, favorite_color stays.
//! let update = ProfileUpdate::new().name("Jane Doe").attribute("saddle_height", "87cm");
//! let profile = client.patch_profile(&rider.clone().into(), &update).await?;
//! assert_eq!(profile.attributes["saddle_height"], "87cm");
//! assert_eq!(profile.attributes["favorite_color"], "red");
//! # Ok(())
//! # }
//! ```
//!
//! Every call is first built as a plain [`ApiRequest`](profile_core::ApiRequest) by
//! [`SunshineRequests`] (inspect or print one with `client.requests()`), then sent through
//! the transport stack of [`profile_core`]. Errors are [`profile_core::Error`]s: check
//! [`Error::is_not_found`], [`Error::is_rate_limited`], [`Error::retry_after`] and the
//! vendor's [`Error::vendor_code`] and [`Error::request_id`]; input refused before sending
//! is an [`Error::InvalidInput`] whose source is a [`SunshineInputError`].
//!
//! For code that drives several vendors, [`SunshineUpdater`] implements the vendor-neutral
//! [`ProfileUpdater`](profile_core::ProfileUpdater).
//!
//! [docs]: https://developer.zendesk.com/api-reference/ticketing/users/profiles_api/profiles_api/

mod auth;
mod client;
mod error;
mod model;
mod requests;
mod response;
mod updater;

pub use auth::SunshineAuth;
pub use client::{
    DEFAULT_RATE_LIMIT_PER_MINUTE, ReplaceOutcome, SunshineClient, SunshineClientBuilder,
};
pub use error::SunshineInputError;
pub use model::{
    Identifier, IdentifierQuery, IdentifierQueryError, MAX_IDENTIFIERS, MAX_NAME_LEN,
    ProfileContent, ProfileId, ProfileLocator, ProfileUpdate, UserId, UserProfile,
};
pub use profile_core::{
    BaseUrl, ClientSettings, Error, HttpConfig, RateLimit, RetryPolicy, StatedLimit,
};
pub use requests::SunshineRequests;
pub use updater::SunshineUpdater;
