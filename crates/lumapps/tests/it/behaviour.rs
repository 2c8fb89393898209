//! Every behaviour the seed describes, over HTTP against the emulator.

use futures_util::TryStreamExt;
use profile_emulator::lumapps::{
    DEMO_TOKEN, LumAppsConfig, LumAppsEmulator, PHONE_FIELD, SEED_CUSTOMER, SEED_DIRECTORY,
    SEED_INSTANCE, TITLE_FIELD,
};
use profile_lumapps::{BaseUrl, FieldRef, FieldType, LumAppsAuth, StoredAt, UserLocator};
use serde_json::{Value, json};

use crate::{builder, directory_with_an_engineer, seed_directory, setup};

fn me() -> UserLocator {
    UserLocator::Email("me@customer.com".into())
}

#[tokio::test]
async fn the_module_template_becomes_a_typed_schema() {
    let (_emulator, client) = setup().await;
    let directory = seed_directory(&client).await;
    assert_eq!(directory.instance.as_deref(), Some(SEED_INSTANCE));
    assert_eq!(directory.customer.as_deref(), Some(SEED_CUSTOMER));
    let fields = directory.schema.fields();
    assert_eq!(fields.len(), 2);
    assert_eq!(
        (fields[0].uuid.as_str(), fields[0].title("en")),
        (TITLE_FIELD, Some("Title"))
    );
    assert_eq!(fields[0].bound_path.as_deref(), Some("organizations/title"));
    assert_eq!(fields[0].field_type, FieldType::InputText);
    // "Phone Number" has only a French title, no binding, and `availableValues: [{}]`.
    assert_eq!(fields[1].title("en"), Some("Phone Number"));
    assert_eq!(fields[1].bound_path, None);
    assert!(fields[1].available_values.is_empty());
    // content/get by id gives the same module.
    assert_eq!(
        client.get_directory(SEED_DIRECTORY, "en").await.unwrap(),
        directory
    );
}

#[tokio::test]
async fn bound_title_lands_under_api_profile_and_phone_under_custom_profile() {
    let (emulator, client) = setup().await;
    let directory = seed_directory(&client).await;
    let update = client
        .update_fields(
            &directory,
            &me(),
            &[
                (FieldRef::title("Title", "en"), json!("Support Leader")),
                (
                    FieldRef::title("Phone Number", "en"),
                    json!("00 11 22 33 44 55 66"),
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        update.stored,
        [
            (
                TITLE_FIELD.to_owned(),
                StoredAt::ApiProfile {
                    path: "organizations/title".into()
                }
            ),
            (
                PHONE_FIELD.to_owned(),
                StoredAt::CustomProfile {
                    uuid: PHONE_FIELD.into()
                }
            ),
        ]
    );
    let stored = emulator.user("me@customer.com").unwrap();
    // The seed's warning: bound value under apiProfile (at boundMap.text, taken as written),
    // unbound under customProfile.{uuid}.
    assert_eq!(
        stored["apiProfile"]["organizations"]["title"],
        "Support Leader"
    );
    assert_eq!(
        stored["customProfile"],
        json!({PHONE_FIELD: "00 11 22 33 44 55 66"})
    );
    // Reading a field resolves through the schema.
    assert_eq!(
        directory.schema.fields()[0].value_in(&stored),
        Some(&json!("Support Leader"))
    );
    assert_eq!(
        directory.schema.fields()[1].value_in(&stored),
        Some(&json!("00 11 22 33 44 55 66"))
    );
}

#[tokio::test]
async fn a_save_keeps_every_property_the_caller_did_not_change() {
    let (emulator, client) = setup().await;
    let directory = seed_directory(&client).await;
    let before = emulator.user("me@customer.com").unwrap();
    client
        .update_fields(
            &directory,
            &me(),
            &[(
                FieldRef::Uuid(PHONE_FIELD.into()),
                json!("+33 1 23 45 67 89"),
            )],
        )
        .await
        .unwrap();
    let after = emulator.user("me@customer.com").unwrap();
    for (key, value) in &before {
        if key != "customProfile" {
            assert_eq!(after.get(key), Some(value), "{key} changed");
        }
    }
    // Including what this crate does not model, and the bound field's sibling.
    assert_eq!(after["settings"], json!({"social": {"twitter": "@morgan"}}));
    assert_eq!(
        after["apiProfile"]["organizations"]["department"],
        "Support"
    );
    assert!(
        after.get("contentId").is_none(),
        "contentId addresses the save; it is not stored"
    );
}

#[tokio::test]
async fn a_user_without_custom_profile_gets_one() {
    let (emulator, client) = setup().await;
    let directory = seed_directory(&client).await;
    assert!(
        emulator
            .user("me@customer.com")
            .unwrap()
            .get("customProfile")
            .is_none()
    );
    client
        .update_fields(
            &directory,
            &me(),
            &[(FieldRef::title("Phone Number", "fr"), json!("01"))],
        )
        .await
        .unwrap();
    assert_eq!(
        emulator.user("me@customer.com").unwrap()["customProfile"][PHONE_FIELD],
        "01"
    );
}

#[tokio::test]
async fn users_are_read_by_email_or_uid() {
    let (_emulator, client) = setup().await;
    let by_email = client.get_user(SEED_DIRECTORY, &me()).await.unwrap();
    let by_uid = client
        .get_user(SEED_DIRECTORY, &UserLocator::Uid("5629499534213120".into()))
        .await
        .unwrap();
    assert_eq!(by_email, by_uid);
    let missing = client
        .get_user(
            SEED_DIRECTORY,
            &UserLocator::Email("nobody@customer.com".into()),
        )
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}

#[tokio::test]
async fn pagination_returns_every_user_exactly_once() {
    let emulator = LumAppsEmulator::start_with(
        LumAppsConfig::default().synthetic_users(2_345),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let client = builder(&emulator, LumAppsAuth::token(DEMO_TOKEN))
        .page_size(100)
        .build()
        .unwrap();
    let users: Vec<_> = client
        .list_all_users(SEED_DIRECTORY)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        users.len(),
        2_346,
        "2,345 synthetic users and me@customer.com"
    );
    let mut emails: Vec<&str> = users.iter().map(|u| u["email"].as_str().unwrap()).collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 2_346, "no user twice");
    // The 2,112 enabled users in 22 pages of 100, the 234 disabled ones in 3: one request
    // each.
    assert_eq!(emulator.faults().requests_seen(), 25);
}

#[tokio::test]
async fn a_saved_synthetic_user_is_listed_once_with_its_changes() {
    let (_emulator, client, _) = directory_with_an_engineer(50, 7, |b| b).await;
    let users: Vec<_> = client
        .list_all_users(SEED_DIRECTORY)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(users.len(), 51);
    let saved: Vec<&serde_json::Map<String, Value>> = users
        .iter()
        .filter(|u| u["email"] == "user0000042@customer.com")
        .collect();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0]["apiProfile"]["organizations"]["title"], "Engineer");
}

#[tokio::test]
async fn a_partial_listing_carries_only_what_was_selected_page_for_page() {
    let (emulator, client, _) = directory_with_an_engineer(250, 100, |b| b).await;
    let before = emulator.faults().requests_seen();
    let users: Vec<serde_json::Map<String, Value>> = client
        .list_all_users_partial(SEED_DIRECTORY, "email,uid,apiProfile/organizations/title")
        .try_collect()
        .await
        .unwrap();
    // Everyone, in as many pages as a whole listing: 227 enabled users in 3 pages, the 25
    // disabled in 1.
    assert_eq!(users.len(), 251);
    assert_eq!(emulator.faults().requests_seen() - before, 4);
    for user in &users {
        assert!(
            user.keys()
                .all(|k| ["email", "uid", "apiProfile"].contains(&k.as_str())),
            "{user:?}"
        );
        assert!(
            user["uid"].is_string() && user["email"].is_string(),
            "{user:?}"
        );
    }
    let saved = users
        .iter()
        .find(|u| u["email"] == "user0000042@customer.com")
        .unwrap();
    assert_eq!(
        Value::Object(saved.clone()),
        json!({"email": "user0000042@customer.com", "uid": saved["uid"],
               "apiProfile": {"organizations": {"title": "Engineer"}}})
    );
    // A selector LumApps cannot read is refused, not ignored.
    let refused = client
        .list_all_users_partial(SEED_DIRECTORY, "email,(uid")
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused}");
}

#[tokio::test]
async fn a_listing_shows_enabled_visible_users_by_default_and_everyone_when_asked() {
    let emulator = LumAppsEmulator::start_with(
        LumAppsConfig::default().synthetic_users(100),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let client = builder(&emulator, LumAppsAuth::token(DEMO_TOKEN))
        .page_size(30)
        .build()
        .unwrap();
    let email = |u: &serde_json::Map<String, Value>| u["email"].as_str().unwrap().to_owned();
    let shown: Vec<String> = client
        .list_users(SEED_DIRECTORY)
        .map_ok(|u| email(&u))
        .try_collect()
        .await
        .unwrap();
    // 100 synthetic users less the 10 disabled (…9) and the 5 hidden (…4, …24, …),
    // and me@customer.com.
    assert_eq!(shown.len(), 86, "{shown:?}");
    assert!(!shown.contains(&"user0000009@customer.com".to_owned()));
    assert!(!shown.contains(&"user0000004@customer.com".to_owned()));
    let everyone: Vec<serde_json::Map<String, Value>> = client
        .list_all_users(SEED_DIRECTORY)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(everyone.len(), 101);
    let disabled = everyone
        .iter()
        .filter(|u| u.get("status") == Some(&json!("disabled")))
        .count();
    let hidden = everyone
        .iter()
        .filter(|u| u.get("isHidden") == Some(&json!(true)))
        .count();
    assert_eq!((disabled, hidden), (10, 5));
    // What was asked: LumApps' own parameters.
    let request = client
        .requests()
        .list_users_of_status(
            SEED_DIRECTORY,
            None,
            30,
            profile_lumapps::UserStatus::Disabled,
        )
        .unwrap();
    let body = request.render();
    assert!(
        body.contains(r#""status": "DISABLED""#) && body.contains(r#""showHidden": true"#),
        "{body}"
    );
}

#[test]
fn the_organization_id_is_sent_as_lumapps_own_sdk_sends_it() {
    let base = BaseUrl::parse("https://go-cell-001.api.lumapps.com").unwrap();
    let application = profile_lumapps::LumAppsRequests::new(
        base.clone(),
        &LumAppsAuth::application("4664706704080896", "client", "secret", "me@customer.com"),
    );
    let request = application.get_content("1", "en").unwrap();
    assert_eq!(
        request
            .header_value("lumapps-organization-id")
            .map(|v| v.expose()),
        Some("4664706704080896")
    );
    let token = profile_lumapps::LumAppsRequests::new(base, &LumAppsAuth::token("t"));
    let request = token.get_content("1", "en").unwrap();
    assert!(request.header_value("lumapps-organization-id").is_none());
    let request = token
        .with_organization_id("4664706704080896")
        .get_content("1", "en")
        .unwrap();
    assert_eq!(
        request
            .header_value("lumapps-organization-id")
            .map(|v| v.expose()),
        Some("4664706704080896")
    );
}
