//! The nightly sync of profile-toolkit as a library call: rows from a source, one vendor
//! through its vendor-neutral [`ProfileUpdater`](profile_core::ProfileUpdater)
//! (`profile-sunshine`, `profile-capture`, `profile-lumapps`), and a state store that
//! remembers what the vendor confirmed, so that a night costs only what changed.
//!
//! A [`Night`] does everything `profiles sync` does and returns a typed [`NightReport`]:
//! it takes the scope's lease (one writer per scope), reads the source's keys (a key on
//! two lines is synced once, from its last line), checks the mapping against the vendor's
//! schema, reads everyone in bulk on a scope's first night (stopped where that listing
//! cannot pay for itself in the reads it spares the rows: see
//! [`ProfileUpdater::listed_per_request`](profile_core::ProfileUpdater::listed_per_request)),
//! does the rows (a row the state shows unchanged costs no request; a user the state knows
//! from a write is marked in doubt, durably, before each write, the rows in flight sharing
//! commits), retires leavers behind the mass-leaver guard, and reports.
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::{Arc, Mutex};
//! # use async_trait::async_trait;
//! # use profile_core::{ApiError, ApiErrorKind, Error, Profile, ProfilePatch, ProfileUpdater, UserRef};
//! # use serde_json::{Map, Value};
//! # #[derive(Debug, Default)]
//! # struct Memory(Mutex<HashMap<String, Map<String, Value>>>);
//! # #[async_trait]
//! # impl ProfileUpdater for Memory {
//! #     fn vendor(&self) -> &'static str { "memory" }
//! #     async fn get(&self, user: &UserRef) -> Result<Profile, Error> {
//! #         match self.0.lock().unwrap().get(&user.to_string()) {
//! #             Some(fields) => Ok(Profile::new(None, fields.clone())),
//! #             None => Err(ApiError::new("memory", "get", 404, ApiErrorKind::NotFound).into()),
//! #         }
//! #     }
//! #     async fn update(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error> {
//! #         let mut profiles = self.0.lock().unwrap();
//! #         let fields = profiles.entry(user.to_string()).or_default();
//! #         patch.apply_to(fields);
//! #         Ok(Profile::new(None, fields.clone()))
//! #     }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("profile-sync-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let export = dir.join("hr.csv");
//! # std::fs::write(&export, "email,title\njdoe@example.com,Engineer\n")?;
//! # let vendor = Arc::new(Memory::default());
//! # vendor.0.lock().unwrap().insert("email jdoe@example.com".into(), Map::new());
//! use profile_core::KeyKind;
//! use profile_sync::input::{Format, InputOptions};
//! use profile_sync::mapping::Mapping;
//! use profile_sync::source::FileSource;
//! use profile_sync::store::{ScopeKey, SqliteState};
//! use profile_sync::{Night, SyncMode, SyncOptions};
//!
//! // `vendor` is a vendor client's updater (here one kept in memory).
//! let store = Arc::new(SqliteState::open(&dir.join("state.db"))?);
//! let scope = ScopeKey {
//!     vendor: "memory".into(),
//!     base_url: "memory:".into(),
//!     name: "employees".into(),
//!     key_kind: "email".into(),
//! };
//! let mapping = Mapping::from_flags("email", KeyKind::Email, &[("title".into(), "title".into())])?;
//! for night in 1..=2 {
//!     let mut source = FileSource::open(&export, InputOptions::new(Format::Csv))?;
//!     let report = Night::new(vendor.clone(), store.clone(), scope.clone(), mapping.clone())
//!         .options(SyncOptions::default().with_mode(SyncMode::Update))
//!         .run(&mut source, |_event| {})
//!         .await?;
//!     assert!(report.succeeded());
//!     // The first night writes Jane's title; the second knows it from the state.
//!     let (updated, from_state) = (report.summary.updated, report.summary.from_state);
//!     assert_eq!((updated, from_state), if night == 1 { (1, 0) } else { (0, 1) });
//! }
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! The seams: a [`source::RowSource`] gives the rows (a CSV or JSON Lines file, standard
//! input, or with the default feature `postgres` the rows of a SQL query,
//! `source::QuerySource`); a [`store::StateStore`] keeps the state ([`store::SqliteState`]
//! in a file, `store::PostgresState` in PostgreSQL, shared by machines and containers,
//! [`store::MemoryState`] for a night that starts from what the vendor holds), and every
//! store passes [`store::conformance::check`].
//!
//! The night above, its state in PostgreSQL and its rows from a query (the URLs read as
//! `psql` reads them, with the libpq variables for what they leave out; see `pg`):
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn night(vendor: std::sync::Arc<dyn profile_core::ProfileUpdater>, scope: profile_sync::store::ScopeKey, mapping: profile_sync::mapping::Mapping) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use profile_sync::Night;
//! use profile_sync::source::QuerySource;
//! use profile_sync::store::PostgresState;
//!
//! let store = Arc::new(PostgresState::connect("postgres://profiles@ops-db.internal/ops").await?);
//! let mut rows = QuerySource::open(
//!     "postgres://reader@hr-db.internal/hr",
//!     "SELECT work_email AS email, job_title AS title FROM staff WHERE active",
//! )
//! .await?;
//! let report = Night::new(vendor, store, scope, mapping).run(&mut rows, |_| {}).await?;
//! println!("{} updated", report.summary.updated);
//! # Ok(())
//! # }
//! ```

pub mod compute;
pub mod input;
mod intents;
mod leavers;
pub mod mapping;
mod night;
mod outcome;
#[cfg(feature = "postgres")]
pub mod pg;
mod report;
mod row;
pub mod source;
pub mod store;

pub use leavers::{LeaverAction, LeaverGuard, LeaverLimit};
pub use night::{Night, NightError, NightEvent, ScopeLease, SyncStop};
pub use outcome::{FieldDiff, RowError, RowOutcome, SyncMode, SyncOptions, SyncRow, SyncSummary};
pub use report::{FailedRow, Failure, NightReport, WholeRun};
pub use row::{BulkRead, RowReport, row_hash};

#[cfg(test)]
mod tests;
