//! Errors, rate limits and bad input.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_core::{Error, RecordingTransport, RetryPolicy};
use profile_emulator::lumapps::{DEMO_TOKEN, NEWS_PAGE, SEED_DIRECTORY};
use profile_lumapps::{
    BaseUrl, FieldRef, LumAppsAuth, LumAppsClient, LumAppsInputError, UserLocator,
};
use serde_json::json;

use crate::{builder, seed_directory, setup};

const RATE_LIMITED: &str = r#"{"error":{"code":400,"errors":[{"domain":"global","message":"RATE_LIMIT_EXCEEDED","reason":"badRequest"}],"message":"RATE_LIMIT_EXCEEDED"}}"#;

fn input_error(err: Error) -> LumAppsInputError {
    match err {
        Error::InvalidInput(source) => source
            .downcast_ref::<LumAppsInputError>()
            .cloned()
            .expect("a LumAppsInputError"),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn a_400_rate_limit_is_retried() {
    let (emulator, client) = setup().await;
    emulator.faults().respond_next(2, 400, RATE_LIMITED);
    client
        .get_user(
            SEED_DIRECTORY,
            &UserLocator::Email("me@customer.com".into()),
        )
        .await
        .unwrap();
    assert_eq!(emulator.faults().requests_seen(), 3);
}

#[tokio::test]
async fn a_rate_limit_that_outlasts_the_retries_is_rate_limited() {
    let (emulator, _) = setup().await;
    let client = builder(&emulator, LumAppsAuth::token(DEMO_TOKEN))
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    emulator.faults().respond_next(1, 400, RATE_LIMITED);
    let err = client
        .get_user(
            SEED_DIRECTORY,
            &UserLocator::Email("me@customer.com".into()),
        )
        .await
        .unwrap_err();
    assert!(err.is_rate_limited() && err.is_retryable(), "{err}");
    emulator
        .faults()
        .rate_limit_next(1, std::time::Duration::from_secs(5));
    let err = client
        .get_user(
            SEED_DIRECTORY,
            &UserLocator::Email("me@customer.com".into()),
        )
        .await
        .unwrap_err();
    assert!(err.is_rate_limited());
    assert!(err.retry_after().is_some());
}

#[tokio::test]
async fn the_legacy_error_body_gives_code_reason_and_message() {
    let (_emulator, client) = setup().await;
    let err = client
        .get_user("1234", &UserLocator::Email("me@customer.com".into()))
        .await
        .unwrap_err();
    let api = err.api_error().unwrap();
    assert_eq!(
        (api.status, api.code.as_deref(), api.reason.as_deref()),
        (404, Some("404"), Some("notFound"))
    );
    assert_eq!(api.message.as_deref(), Some("USER_DIRECTORY_NOT_FOUND"));
}

#[tokio::test]
async fn a_module_that_is_not_a_user_directory_is_refused() {
    let (_emulator, client) = setup().await;
    let err = client.get_directory(NEWS_PAGE, "en").await.unwrap_err();
    assert_eq!(
        input_error(err),
        LumAppsInputError::NotAUserDirectory {
            id: NEWS_PAGE.into(),
            kind: "news".into()
        }
    );
}

#[tokio::test]
async fn an_unknown_field_or_a_value_outside_available_values_is_refused_before_sending() {
    let (emulator, client) = setup().await;
    let mut directory = seed_directory(&client).await;
    let before = emulator.faults().requests_seen();
    let me = UserLocator::Email("me@customer.com".into());
    let err = client
        .update_fields(
            &directory,
            &me,
            &[(FieldRef::title("Mobile", "en"), json!("1"))],
        )
        .await
        .unwrap_err();
    assert_eq!(
        input_error(err),
        LumAppsInputError::UnknownField("Mobile".into())
    );
    // Give "Title" a list of available values, as a directory admin can.
    let mut with_values: serde_json::Value = serde_json::json!({
        "type": "user_directory", "uid": SEED_DIRECTORY,
        "template": {"components": [{"uuid": "t", "title": {"en": "Level"}, "type": "inputText",
            "properties": {"availableValues": [{"en": "Junior", "fr": "Junior"}, {"en": "Senior", "fr": "Confirmé"}]}}]}
    });
    directory = profile_lumapps::DirectoryModule::from_content(&with_values).unwrap();
    let err = client
        .update_fields(
            &directory,
            &me,
            &[(FieldRef::title("Level", "en"), json!("Principal"))],
        )
        .await
        .unwrap_err();
    assert_eq!(
        input_error(err),
        LumAppsInputError::ValueNotAvailable {
            field: "Level".into(),
            value: "Principal".into()
        }
    );
    assert!(directory.schema.fields()[0].allows(&json!("Confirmé")));
    assert_eq!(
        emulator.faults().requests_seen(),
        before,
        "nothing was sent"
    );
    with_values["type"] = json!("page");
    assert!(profile_lumapps::DirectoryModule::from_content(&with_values).is_err());
}

#[tokio::test]
async fn a_save_without_a_directory_or_identity_cannot_be_built() {
    let recorder = Arc::new(RecordingTransport::new());
    let client = LumAppsClient::builder(
        BaseUrl::parse("https://go-cell-001.api.lumapps.com").unwrap(),
        LumAppsAuth::token("t"),
    )
    .transport(recorder.clone())
    .build()
    .unwrap();
    let user = json!({"email": "me@customer.com"})
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(
        input_error(client.save_user("", &user).await.unwrap_err()),
        LumAppsInputError::Empty("the directory id")
    );
    let anonymous = json!({"firstName": "x"}).as_object().unwrap().clone();
    assert_eq!(
        input_error(
            client
                .save_user(SEED_DIRECTORY, &anonymous)
                .await
                .unwrap_err()
        ),
        LumAppsInputError::UserWithoutIdentity
    );
    assert!(recorder.requests().is_empty());
}

#[tokio::test]
async fn the_emulator_refuses_a_save_without_content_id() {
    let (emulator, _client) = setup().await;
    let request = profile_core::ApiRequest::new(
        "lumapps",
        "raw",
        profile_core::Method::Post,
        &BaseUrl::parse(&emulator.base_url()).unwrap(),
        "/_ah/api/lumsites/v1/user/directory/save",
    )
    .header(
        "authorization",
        profile_core::HeaderValue::secret(format!("Bearer {DEMO_TOKEN}")),
    )
    .json(json!({"email": "me@customer.com", "customProfile": {}}));
    let transport = profile_core::HttpTransport::with_defaults().unwrap();
    let answer = profile_core::Transport::send(&transport, &request)
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(String::from_utf8_lossy(answer.body()).contains("contentId is required"));
}

#[tokio::test]
async fn an_answer_cut_short_is_sent_again_and_decoded_whole() {
    let (emulator, client) = setup().await;
    let me = UserLocator::Email("me@customer.com".into());
    emulator.faults().truncate_next(1);
    let mut user = client.get_user(SEED_DIRECTORY, &me).await.unwrap();
    assert_eq!(user["email"], "me@customer.com");
    assert_eq!(emulator.faults().requests_seen(), 2);
    // A save sets the whole user: sent again, the saved user read whole.
    user.insert("firstName".into(), json!("Ana"));
    emulator.faults().truncate_next(1);
    let saved = client.save_user(SEED_DIRECTORY, &user).await.unwrap();
    assert_eq!(saved["firstName"], "Ana");
    assert_eq!(emulator.faults().requests_seen(), 4);
    assert_eq!(emulator.faults().injected().truncated, 2);
}
