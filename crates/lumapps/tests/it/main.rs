//! Integration tests of profile-lumapps: request snapshots, and every documented behaviour
//! over real HTTP against the emulator on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod auth;
mod behaviour;
mod errors;
mod props;
mod secrets;
mod snapshots;
mod updater;

use futures_util::TryStreamExt;
use profile_core::ClientSettings;
use profile_core::test_util::quick_retries;
use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsEmulator, SEED_DIRECTORY, SEED_INSTANCE};
use profile_lumapps::{BaseUrl, DirectoryModule, LumAppsAuth, LumAppsClient, LumAppsClientBuilder};

/// A client builder of `emulator` with quick retries.
pub fn builder(emulator: &LumAppsEmulator, auth: LumAppsAuth) -> LumAppsClientBuilder {
    LumAppsClient::builder(BaseUrl::parse(&emulator.base_url()).unwrap(), auth)
        .retry(quick_retries())
}

/// A running emulator and a client of it with quick retries.
pub async fn setup() -> (LumAppsEmulator, LumAppsClient) {
    let emulator = LumAppsEmulator::start().await.unwrap();
    let client = builder(&emulator, LumAppsAuth::token(DEMO_TOKEN))
        .build()
        .unwrap();
    (emulator, client)
}

pub async fn seed_directory(client: &LumAppsClient) -> DirectoryModule {
    let all: Vec<DirectoryModule> = client
        .list_directories(SEED_INSTANCE, "en")
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, SEED_DIRECTORY);
    all[0].clone()
}

/// A directory of `users` synthetic users, read `page_size` at a time by a client that
/// `client` finishes building, where user0000042@customer.com was saved with the Title
/// "Engineer".
pub async fn directory_with_an_engineer(
    users: u64,
    page_size: u32,
    client: impl FnOnce(LumAppsClientBuilder) -> LumAppsClientBuilder,
) -> (LumAppsEmulator, LumAppsClient, DirectoryModule) {
    let emulator = LumAppsEmulator::start_with(
        profile_emulator::lumapps::LumAppsConfig::default().synthetic_users(users),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let client = client(builder(&emulator, LumAppsAuth::token(DEMO_TOKEN)).page_size(page_size))
        .build()
        .unwrap();
    let directory = seed_directory(&client).await;
    client
        .update_fields(
            &directory,
            &profile_lumapps::UserLocator::Email("user0000042@customer.com".into()),
            &[(
                profile_lumapps::FieldRef::title("Title", "en"),
                serde_json::json!("Engineer"),
            )],
        )
        .await
        .unwrap();
    (emulator, client, directory)
}
