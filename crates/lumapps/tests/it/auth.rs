//! Bearer tokens and the application-token exchange.

use std::time::Duration;

use profile_emulator::lumapps::{
    DEMO_CLIENT, LumAppsConfig, LumAppsEmulator, SEED_CUSTOMER, SEED_DIRECTORY,
};
use profile_lumapps::{LumAppsAuth, UserLocator};

use crate::{builder, setup};

fn application() -> LumAppsAuth {
    LumAppsAuth::application(
        SEED_CUSTOMER,
        DEMO_CLIENT.0,
        DEMO_CLIENT.1,
        "me@customer.com",
    )
}

fn me() -> UserLocator {
    UserLocator::Email("me@customer.com".into())
}

#[tokio::test]
async fn the_exchanged_token_is_cached_across_calls() {
    let (emulator, _) = setup().await;
    let client = builder(&emulator, application()).build().unwrap();
    for _ in 0..3 {
        client.get_user(SEED_DIRECTORY, &me()).await.unwrap();
    }
    assert_eq!(emulator.tokens_issued(), 1);
}

#[tokio::test]
async fn a_401_fetches_a_new_token_and_retries_once() {
    let (emulator, _) = setup().await;
    let client = builder(&emulator, application()).build().unwrap();
    client.get_user(SEED_DIRECTORY, &me()).await.unwrap();
    emulator.revoke_tokens();
    client.get_user(SEED_DIRECTORY, &me()).await.unwrap();
    assert_eq!(emulator.tokens_issued(), 2);
}

#[tokio::test]
async fn a_save_that_meets_a_revoked_token_is_sent_again_with_a_new_one() {
    let (emulator, _) = setup().await;
    let client = builder(&emulator, application()).build().unwrap();
    let mut user = client.get_user(SEED_DIRECTORY, &me()).await.unwrap();
    user.insert("firstName".into(), "Renamed".into());
    emulator.revoke_tokens();
    client.save_user(SEED_DIRECTORY, &user).await.unwrap();
    assert_eq!(emulator.tokens_issued(), 2);
    let saved = client.get_user(SEED_DIRECTORY, &me()).await.unwrap();
    assert_eq!(saved["firstName"], "Renamed");
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    let emulator = LumAppsEmulator::start_with(
        LumAppsConfig::default().token_lifetime(Duration::from_secs(1)),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let client = builder(&emulator, application()).build().unwrap();
    client.get_user(SEED_DIRECTORY, &me()).await.unwrap();
    // A 1 s token is refreshed at half its life.
    tokio::time::sleep(Duration::from_millis(600)).await;
    client.get_user(SEED_DIRECTORY, &me()).await.unwrap();
    assert_eq!(emulator.tokens_issued(), 2);
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized() {
    let (emulator, _) = setup().await;
    let bearer = builder(&emulator, LumAppsAuth::token("wrong"))
        .build()
        .unwrap();
    assert!(
        bearer
            .get_user(SEED_DIRECTORY, &me())
            .await
            .unwrap_err()
            .is_unauthorized()
    );
    let app = builder(
        &emulator,
        LumAppsAuth::application(
            SEED_CUSTOMER,
            DEMO_CLIENT.0,
            "wrong-secret",
            "me@customer.com",
        ),
    )
    .build()
    .unwrap();
    let err = app.get_user(SEED_DIRECTORY, &me()).await.unwrap_err();
    assert!(err.is_unauthorized());
    assert_eq!(err.api_error().unwrap().operation, "application_token");
}

#[test]
fn debug_output_never_shows_a_secret() {
    let debug = format!("{:?} {:?}", application(), LumAppsAuth::token("tok-secret"));
    assert!(
        !debug.contains(DEMO_CLIENT.1) && !debug.contains("tok-secret"),
        "{debug}"
    );
    assert!(debug.contains("** redacted **"));
}
