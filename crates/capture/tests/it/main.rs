//! Integration tests of profile-capture: request snapshots, and every documented behaviour
//! and error code over real HTTP against the emulator on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod behaviour;
mod bulk;
mod errors;
mod props;
mod retries;
mod secrets;
mod snapshots;
mod updater;

use profile_capture::{
    BaseUrl, CaptureAuth, CaptureClient, CaptureClientBuilder, EntityLocator, EntityRead,
};
use profile_core::ClientSettings;
use profile_core::test_util::quick_retries;
use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
use serde_json::Value;

/// The record of the seed's first example.
pub const MATT_UUID: &str = "6bbe7e58-bede-41b8-940b-5614c7607a4e";

pub fn basic() -> CaptureAuth {
    CaptureAuth::basic(SEED_CLIENT_2.0, SEED_CLIENT_2.1)
}

/// A client builder of `emulator` with quick retries.
pub fn builder(emulator: &CaptureEmulator, auth: CaptureAuth) -> CaptureClientBuilder {
    CaptureClient::builder(BaseUrl::parse(&emulator.base_url()).unwrap(), auth)
        .retry(quick_retries())
}

/// A running emulator and a client of it with quick retries.
pub async fn setup() -> (CaptureEmulator, CaptureClient) {
    let emulator = CaptureEmulator::start().await.unwrap();
    let client = builder(&emulator, basic()).build().unwrap();
    (emulator, client)
}

pub async fn record(client: &CaptureClient, locator: EntityLocator) -> Value {
    client
        .entity(&EntityRead::new("user", locator))
        .await
        .unwrap()
}
