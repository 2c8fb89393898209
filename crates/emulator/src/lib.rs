//! Stateful local emulators of the vendor APIs that profile-toolkit speaks, for testing sync
//! code without the vendor: each runs in-process on `127.0.0.1` (port 0 picks a free one),
//! keeps its data in memory, follows the vendor's documented semantics, checks credentials,
//! and takes injected faults ([`FaultController`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use profile_emulator::sunshine::SunshineEmulator;
//!
//! let emulator = SunshineEmulator::start().await?;
//! assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
//!
//! // The next request gets a 503, the one after a 429 with Retry-After.
//! emulator.faults().fail_next(1, 503);
//! emulator.faults().rate_limit_next(1, std::time::Duration::from_secs(2));
//! # Ok(())
//! # }
//! ```
//!
//! The `profiles` command line runs the same emulators in the foreground:
//! `profiles emulator --vendor sunshine --port 8080`.

pub mod capture;
pub mod faults;
pub mod lumapps;
mod server;
pub mod sunshine;

pub use faults::{Fault, FaultController, InjectedCounts, RandomFaults};
pub use server::{Emulator, RunningServer, loopback};
