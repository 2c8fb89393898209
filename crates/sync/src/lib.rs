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

//!
//! # Remembering between nights
//!
//! With a [`StateStore`] ([`SqliteState`], one SQLite file), the sync remembers what the
//! vendor confirmed for each user: [`sync_with_state`] sends nothing for a row the state
//! shows unchanged, writes a changed row without reading it first where the vendor merges
//! what it is sent ([`ProfileUpdater::write_merges`](profile_core::ProfileUpdater::write_merges)),
//! and marks each user in doubt, durably, before its write, so that a run killed mid-way is
//! finished by running it again. [`read_everyone`] reads every user at once where the vendor
//! can list (the first night, or a verify).
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use std::sync::atomic::{AtomicUsize, Ordering};
//! # use async_trait::async_trait;
//! # use profile_core::{ApiError, ApiErrorKind, Error, Profile, ProfilePatch, ProfileUpdater, UserRef};
//! # use serde_json::{Map, Value};
//! use profile_core::{FieldPath, KeyKind};
//! use profile_sync::state::{RunEnd, ScopeKey};
//! use profile_sync::{SqliteState, StateContext, StateStore, SyncOptions, SyncRow, sync_with_state};
//!
//! # #[derive(Debug, Default)]
//! # struct Memory(Mutex<HashMap<String, Map<String, Value>>>, AtomicUsize);
//! # #[async_trait]
//! # impl ProfileUpdater for Memory {
//! #     fn vendor(&self) -> &'static str { "memory" }
//! #     async fn get(&self, user: &UserRef) -> Result<Profile, Error> {
//! #         self.1.fetch_add(1, Ordering::SeqCst);
//! #         let profiles = self.0.lock().unwrap();
//! #         match profiles.get(&user.to_string()) {
//! #             Some(fields) => Ok(Profile::new(None, fields.clone())),
//! #             None => Err(ApiError::new("memory", "get", 404, ApiErrorKind::NotFound).into()),
//! #         }
//! #     }
//! #     async fn update(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error> {
//! #         self.1.fetch_add(1, Ordering::SeqCst);
//! #         let mut profiles = self.0.lock().unwrap();
//! #         let fields = profiles.entry(user.to_string()).or_default();
//! #         patch.apply_to(fields);
//! #         Ok(Profile::new(None, fields.clone()))
//! #     }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // `vendor` is a vendor-neutral updater that counts the requests it is sent.
//! # let vendor = Arc::new(Memory::default());
//! # let known = serde_json::json!({"name": "J. Doe"});
//! # vendor.0.lock().unwrap().insert("email jdoe@example.com".into(), known.as_object().unwrap().clone());
//! let dir = std::env::temp_dir().join(format!("profile-sync-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let store = Arc::new(SqliteState::open(&dir.join("state.db"))?);
//! let scope = store.scope(&ScopeKey {
//!     vendor: "memory".into(),
//!     base_url: "memory:".into(),
//!     name: "everyone".into(),
//!     key_kind: "email".into(),
//! })?;
//! let rows = || {
//!     let row = SyncRow {
//!         line: 2,
//!         key: "jdoe@example.com".to_owned(),
//!         user: UserRef::email("jdoe@example.com"),
//!         patch: ProfilePatch::new().set("name", "Jane Doe").unwrap(),
//!     };
//!     futures_util::stream::iter([Ok(row)])
//! };
//! let mut requests = Vec::new();
//! for _night in 0..2 {
//!     let (run, _) = store.begin_run(scope, "export.csv", &serde_json::json!({}))?;
//!     let mut keys = [("jdoe@example.com".to_owned(), 2)].into_iter();
//!     store.load_input_keys(&mut keys)?;
//!     let ctx = StateContext {
//!         store: store.clone(),
//!         scope,
//!         run,
//!         key_kind: KeyKind::Email,
//!         fields: vec![FieldPath::parse("name")?],
//!     };
//!     let before = vendor.1.load(Ordering::SeqCst);
//!     let (summary, stop) =
//!         sync_with_state(vendor.clone(), &ctx, rows(), &SyncOptions::default(), None, |_| {}).await;
//!     assert!(stop.is_none());
//!     store.end_run(run, &RunEnd::Finished, &serde_json::to_value(&summary)?)?;
//!     requests.push(vendor.1.load(Ordering::SeqCst) - before);
//! }
//! // The first night reads Jane (unknown to the state) and writes her name; the second
//! // sends nothing.
//! assert_eq!(requests, [2, 0]);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

mod engine;
pub mod input;
pub mod mapping;
pub mod state;
mod stateful;

pub use engine::{
    FieldDiff, RowError, RowOutcome, SyncMode, SyncOptions, SyncRow, SyncSummary, sync_rows,
};
pub use state::{SqliteState, StateStore};
pub use stateful::{
    BulkRead, LeaverAction, LeaverGuard, LeaverLimit, RowReport, StateContext, SyncStop,
    guard_leavers, read_everyone, retire_leavers, row_hash, sync_with_state,
};
