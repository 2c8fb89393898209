//! Integration tests of profile-sunshine: request snapshots, and every documented behaviour
//! over real HTTP against the emulator on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod bad_input;
mod behaviour;
mod faults;
mod props;
mod responses;
mod secrets;
mod snapshots;
mod updater;

use profile_core::ClientSettings;
use profile_core::test_util::quick_retries;
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use profile_sunshine::{
    BaseUrl, IdentifierQuery, RetryPolicy, SunshineAuth, SunshineClient, SunshineClientBuilder,
};

/// The seed's example rider.
pub const RIDER: &str = "coolbikes:rider:email:jdoe@example.com";

pub fn rider() -> IdentifierQuery {
    RIDER.parse().unwrap()
}

pub fn seed_auth() -> SunshineAuth {
    SunshineAuth::api_token(SEED_EMAIL, SEED_API_TOKEN)
}

/// A client builder of `emulator` with quick retries.
pub fn builder(emulator: &SunshineEmulator, auth: SunshineAuth) -> SunshineClientBuilder {
    SunshineClient::builder(BaseUrl::parse(&emulator.base_url()).unwrap(), auth)
        .retry(quick_retries())
}

/// A client of `emulator` that sends every request once, never again.
pub fn never_retrying(emulator: &SunshineEmulator) -> SunshineClient {
    builder(emulator, seed_auth())
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

/// A running emulator and a client of it with quick retries.
pub async fn setup() -> (SunshineEmulator, SunshineClient) {
    let emulator = SunshineEmulator::start().await.unwrap();
    let client = builder(&emulator, seed_auth()).build().unwrap();
    (emulator, client)
}
