//! A typed client for [LumApps][docs] user directories: the profile fields a user directory
//! module defines, set by title or uuid, checked against the module's template before
//! anything is sent, saved with a read-modify-write that keeps every other property of the
//! user.
//!
//! ```
//! use futures_util::TryStreamExt;
//! use profile_lumapps::{BaseUrl, FieldRef, LumAppsAuth, LumAppsClient, UserLocator};
//! use serde_json::json;
//! # use profile_emulator::lumapps::LumAppsEmulator;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = LumAppsEmulator::start().await?;
//! # let base_url = emulator.base_url();
//! // base_url is your cell, https://go-cell-001.api.lumapps.com (here: a local emulator).
//! let client = LumAppsClient::builder(BaseUrl::parse(&base_url)?, LumAppsAuth::token("demo-token")).build()?;
//!
//! // Find the instance's user directories and the fields their templates define.
//! let directories: Vec<_> = client.list_directories("6288388086038528", "en").try_collect().await?;
//! let directory = &directories[0];
//!
//! // Set Title and Phone Number by their titles; nothing else of the user changes.
//! let me = UserLocator::Email("me@customer.com".into());
//! let update = client
//!     .update_fields(directory, &me, &[
//!         (FieldRef::title("Title", "en"), json!("Support Leader")),
//!         (FieldRef::title("Phone Number", "en"), json!("00 11 22 33 44 55 66")),
//!     ])
//!     .await?;
//! // "Title" is bound to organizations/title: LumApps keeps it under apiProfile.
//! assert_eq!(update.user["apiProfile"]["organizations"]["title"], "Support Leader");
//! assert_eq!(update.user["customProfile"]["b72127e4-867a-4aba-a843-70c11dc599ef"], "00 11 22 33 44 55 66");
//! # Ok(())
//! # }
//! ```
//!
//! Authentication is a bearer token ([`LumAppsAuth::token`]) or the application-token
//! exchange ([`LumAppsAuth::application`]), whose token is cached until shortly before it
//! expires and fetched again once when a call answers 401. Errors are
//! [`profile_core::Error`]s built from LumApps' legacy error body; a rate limit (HTTP 429,
//! or 400 with `RATE_LIMIT_EXCEEDED`) is retried after a backoff.
//!
//! For code that drives several vendors, [`LumAppsUpdater`] implements the vendor-neutral
//! [`ProfileUpdater`](profile_core::ProfileUpdater).
//!
//! [docs]: https://docs.lumapps.com/docs/explore-l3478312087412986

mod auth;
mod client;
mod error;
mod model;
mod requests;
mod response;
mod updater;

pub use auth::LumAppsAuth;
pub use client::{DEFAULT_PAGE_SIZE, FieldsUpdate, LumAppsClient, LumAppsClientBuilder, StoredAt};
pub use error::LumAppsInputError;
pub use model::{DirectoryModule, DirectorySchema, FieldRef, FieldSchema, FieldType};
pub use profile_core::{BaseUrl, ClientSettings, Error, HttpConfig, RateLimit, RetryPolicy};
pub use requests::{LumAppsRequests, UserLocator, UserStatus};
pub use updater::LumAppsUpdater;
