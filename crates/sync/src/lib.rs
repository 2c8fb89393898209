//! The bulk sync engine of profile-toolkit: many input rows, one vendor, driven through the
//! vendor-neutral [`ProfileUpdater`](profile_core::ProfileUpdater) of `profile-sunshine`,
//! `profile-capture` or `profile-lumapps`.
//!
//! [`sync_rows`] pulls rows from a stream only as slots free up (memory stays flat however
//! long the input), reads each profile, writes only the fields that differ, and reports one
//! [`RowOutcome`] per row: updated, unchanged, failed, or unknown when a write may have been
//! applied. Politeness and retries are the vendor client's own rate limit and retry policy.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//!
//! use async_trait::async_trait;
//! use profile_core::{ApiError, ApiErrorKind, Error, Profile, ProfilePatch, ProfileUpdater, UserRef};
//! use profile_sync::{RowOutcome, SyncOptions, SyncRow, sync_rows};
//! use serde_json::{Map, Value};
//!
//! /// A vendor kept in memory (a real program passes a vendor client's updater).
//! #[derive(Debug, Default)]
//! struct Memory(Mutex<HashMap<String, Map<String, Value>>>);
//!
//! #[async_trait]
//! impl ProfileUpdater for Memory {
//!     fn vendor(&self) -> &'static str {
//!         "memory"
//!     }
//!     async fn get(&self, user: &UserRef) -> Result<Profile, Error> {
//!         let profiles = self.0.lock().unwrap();
//!         match profiles.get(&user.to_string()) {
//!             Some(fields) => Ok(Profile::new(None, fields.clone())),
//!             None => Err(ApiError::new("memory", "get", 404, ApiErrorKind::NotFound).into()),
//!         }
//!     }
//!     async fn update(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error> {
//!         let mut profiles = self.0.lock().unwrap();
//!         let fields = profiles.entry(user.to_string()).or_default();
//!         patch.apply_to(fields);
//!         Ok(Profile::new(None, fields.clone()))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let vendor = Arc::new(Memory::default());
//! let jane = UserRef::email("jdoe@example.com");
//! let known = serde_json::json!({"name": "J. Doe"});
//! vendor.0.lock().unwrap().insert(jane.to_string(), known.as_object().unwrap().clone());
//! let row = SyncRow {
//!     line: 2,
//!     key: "jdoe@example.com".to_owned(),
//!     user: jane,
//!     patch: ProfilePatch::new().set("name", "Jane Doe")?,
//! };
//! let rows = futures_util::stream::iter([Ok(row.clone()), Ok(SyncRow { line: 3, ..row })]);
//! let mut outcomes = Vec::new();
//! let summary = sync_rows(vendor, rows, &SyncOptions::default().with_concurrency(1), |line, _, outcome| {
//!     outcomes.push((line, outcome.clone()))
//! })
//! .await;
//! // The first row writes the name; the second finds it already there and sends nothing.
//! assert_eq!((summary.updated, summary.unchanged), (1, 1));
//! assert_eq!(outcomes[1], (3, RowOutcome::Unchanged));
//! # Ok(())
//! # }
//! ```

mod engine;
pub mod state;
mod stateful;

pub use engine::{FieldDiff, RowError, RowOutcome, SyncOptions, SyncRow, SyncSummary, sync_rows};
pub use state::{SqliteState, StateStore};
pub use stateful::{
    BulkRead, RowReport, StateContext, SyncStop, read_everyone, row_hash, sync_with_state,
};
