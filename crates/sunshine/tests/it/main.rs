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

pub fn builder(emulator: &SunshineEmulator) -> SunshineClientBuilder {
    SunshineClient::builder(BaseUrl::parse(&emulator.base_url()).unwrap(), seed_auth())
}

/// A client of `emulator` that sends every request once, never again.
pub fn never_retrying(emulator: &SunshineEmulator) -> SunshineClient {
    builder(emulator)
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

/// A running emulator and a client of it with fast retries.
pub async fn setup() -> (SunshineEmulator, SunshineClient) {
    let emulator = SunshineEmulator::start().await.unwrap();
    let client = builder(&emulator)
        .retry(RetryPolicy::default().with_backoff(
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(50),
        ))
        .build()
        .unwrap();
    (emulator, client)
}
