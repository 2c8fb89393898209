//! The emulator over raw HTTP: fault injection, and the Sunshine fake's refusals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod faults;
mod official;
mod sunshine;

use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};

pub async fn emulator() -> (SunshineEmulator, reqwest::Client) {
    (
        SunshineEmulator::start().await.unwrap(),
        reqwest::Client::new(),
    )
}

pub fn authed(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
) -> reqwest::RequestBuilder {
    client
        .request(method, url)
        .basic_auth(format!("{SEED_EMAIL}/token"), Some(SEED_API_TOKEN))
}
