//! Every behaviour the seed describes, over HTTP against the emulator.

use profile_capture::{
    AttributePath, CaptureAuth, CaptureErrorKind, EntityLocator, EntityRead, EntityReplace,
    EntityUpdate,
};
use profile_emulator::capture::{DEMO_ACCESS_TOKEN, SEED_CLIENT_1, SEED_TIMESTAMP};
use serde_json::json;

use crate::{MATT_UUID, builder, record, setup};

#[tokio::test]
async fn seed_example_1_updates_only_the_named_attributes() {
    let (_emulator, client) = setup().await;
    let matt = EntityLocator::uuid(MATT_UUID);
    let before = record(&client, matt.clone()).await;
    let update = EntityUpdate::attributes(
        "user",
        matt.clone(),
        json!({"givenName": "Matt", "familyName": "Parker"}),
    )
    .unwrap();
    let outcome = client.update(&update).await.unwrap();
    assert_eq!(
        outcome.record, None,
        "the seed's answer is just {{\"stat\":\"ok\"}}"
    );
    let after = record(&client, matt).await;
    assert_eq!(
        (after["givenName"].as_str(), after["familyName"].as_str()),
        (Some("Matt"), Some("Parker"))
    );
    // "attributes not included in the API call are ignored and aren't changed in any way"
    for unchanged in ["displayName", "email", "statuses", "uuid", "id", "created"] {
        assert_eq!(after[unchanged], before[unchanged], "{unchanged}");
    }
    assert_ne!(after["lastUpdated"], before["lastUpdated"]);
}

#[tokio::test]
async fn seed_example_2_replaces_plural_element_5253_in_place() {
    let (_emulator, client) = setup().await;
    let update = EntityUpdate::value_at(
        "user",
        EntityLocator::Id(5252),
        AttributePath::parse("/statuses#5253").unwrap(),
        json!({"status": "active"}),
    );
    client.update(&update).await.unwrap();
    let after = record(&client, EntityLocator::Id(5252)).await;
    assert_eq!(after["statuses"], json!([{"id": 5253, "status": "active"}]));
}

#[tokio::test]
async fn seed_example_3_finds_the_record_by_key_attribute() {
    let (_emulator, client) = setup().await;
    let gary = EntityLocator::key("email", "gjack@example.com");
    let update = EntityUpdate::value_at(
        "user",
        gary.clone(),
        AttributePath::parse("displayName").unwrap(),
        json!("Gary Jackson"),
    );
    client.update(&update).await.unwrap();
    let after = record(&client, gary).await;
    assert_eq!(after["displayName"], "Gary Jackson");
    assert_eq!(after["givenName"], "Gary");
}

#[tokio::test]
async fn a_plural_value_without_an_element_id_is_appended_with_a_new_id() {
    let (_emulator, client) = setup().await;
    let update = EntityUpdate::value_at(
        "user",
        EntityLocator::Id(5252),
        AttributePath::parse("/statuses").unwrap(),
        json!({"status": "suspended"}),
    );
    client.update(&update).await.unwrap();
    let statuses = record(&client, EntityLocator::Id(5252)).await["statuses"].clone();
    let statuses = statuses.as_array().unwrap();
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0], json!({"id": 5253, "status": "inactive"}));
    assert_eq!(statuses[1]["status"], "suspended");
    assert!(statuses[1]["id"].as_u64().unwrap() > 5254);
}

#[tokio::test]
async fn plural_elements_in_an_attributes_object_are_appended_unless_they_carry_an_id() {
    let (_emulator, client) = setup().await;
    let update = EntityUpdate::attributes(
        "user",
        EntityLocator::Id(5252),
        json!({"statuses": [{"id": 5253, "status": "active"}, {"status": "new"}]}),
    )
    .unwrap();
    let outcome = client.update(&update.include_record(true)).await.unwrap();
    let statuses = outcome.record.unwrap()["statuses"].clone();
    assert_eq!(statuses[0], json!({"id": 5253, "status": "active"}));
    assert_eq!(statuses[1]["status"], "new");
    assert_eq!(statuses.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn include_record_returns_the_record_or_the_part_under_the_path() {
    let (_emulator, client) = setup().await;
    let whole = EntityUpdate::attributes(
        "user",
        EntityLocator::uuid(MATT_UUID),
        json!({"givenName": "Matt"}),
    )
    .unwrap()
    .include_record(true);
    let record = client.update(&whole).await.unwrap().record.unwrap();
    assert_eq!(record["uuid"], MATT_UUID);
    assert_eq!(record["givenName"], "Matt");
    let element = EntityUpdate::value_at(
        "user",
        EntityLocator::Id(5252),
        AttributePath::parse("/statuses#5253").unwrap(),
        json!({"status": "active"}),
    )
    .include_record(true);
    assert_eq!(
        client.update(&element).await.unwrap().record,
        Some(json!({"id": 5253, "status": "active"}))
    );
}

#[tokio::test]
async fn entity_reads_a_record_or_a_sub_path() {
    let (_emulator, client) = setup().await;
    let read = EntityRead::new("user", EntityLocator::Id(5252))
        .at(AttributePath::parse("/statuses#5253").unwrap());
    assert_eq!(
        client.entity(&read).await.unwrap(),
        json!({"id": 5253, "status": "inactive"})
    );
    let whole = client
        .entity(&EntityRead::new("user", EntityLocator::Id(5252)))
        .await
        .unwrap();
    assert_eq!(whole["created"], SEED_TIMESTAMP);
}

#[tokio::test]
async fn entity_reads_only_the_attributes_asked_for() {
    let (_emulator, client) = setup().await;
    let gary = EntityLocator::key("email", "gjack@example.com");
    let whole = record(&client, gary.clone()).await;
    let some = client
        .entity(&EntityRead::new("user", gary.clone()).only(["statuses", "givenName"]))
        .await
        .unwrap();
    // Each whole, and nothing else; in the record's order.
    assert_eq!(
        some,
        json!({"givenName": whole["givenName"], "statuses": whole["statuses"]})
    );
    assert_eq!(
        some.as_object().unwrap().keys().collect::<Vec<_>>(),
        whole
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k == "givenName" || *k == "statuses")
            .collect::<Vec<_>>()
    );
    // A name the schema does not have is Capture's 223, as in an update.
    let err = client
        .entity(&EntityRead::new("user", gary.clone()).only(["favouriteColour"]))
        .await
        .unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&err),
        Some(CaptureErrorKind::UnknownAttribute)
    );
    // A name Capture cannot have is refused before anything is sent.
    let err = client
        .entity(&EntityRead::new("user", gary).only(["given name"]))
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
}

#[tokio::test]
async fn the_last_updated_precondition_is_an_optimistic_lock() {
    let (_emulator, client) = setup().await;
    let matt = EntityLocator::uuid(MATT_UUID);
    let seen = record(&client, matt.clone()).await["lastUpdated"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(seen, SEED_TIMESTAMP);
    let first = EntityUpdate::attributes("user", matt.clone(), json!({"displayName": "Matt P."}))
        .unwrap()
        .if_last_updated(&seen);
    client.update(&first).await.unwrap();
    // A writer that read before the first write fails instead of overwriting it.
    let stale = EntityUpdate::attributes("user", matt.clone(), json!({"displayName": "Stale"}))
        .unwrap()
        .if_last_updated(&seen);
    let err = client.update(&stale).await.unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&err),
        Some(CaptureErrorKind::TimestampMismatch)
    );
    assert_eq!(
        err.api_kind(),
        Some(profile_core::ApiErrorKind::PreconditionFailed)
    );
    assert_eq!(
        record(&client, matt.clone()).await["displayName"],
        "Matt P."
    );
    // `created` is checked the same way.
    let wrong = EntityUpdate::attributes("user", matt, json!({"displayName": "x"}))
        .unwrap()
        .if_created("2001-01-01 00:00:00.000000 +0000");
    assert_eq!(
        CaptureErrorKind::of(&client.update(&wrong).await.unwrap_err()),
        Some(CaptureErrorKind::TimestampMismatch)
    );
}

#[tokio::test]
async fn timestamps_are_in_capture_s_format() {
    let (_emulator, client) = setup().await;
    let update =
        EntityUpdate::attributes("user", EntityLocator::Id(5254), json!({"givenName": "G."}))
            .unwrap()
            .include_record(true);
    let record = client.update(&update).await.unwrap().record.unwrap();
    let stamp = record["lastUpdated"].as_str().unwrap();
    // 2016-03-13 19:39:17.856608 +0000
    assert_eq!(stamp.len(), 32, "{stamp}");
    assert_eq!(&stamp[4..5], "-");
    assert_eq!(&stamp[19..20], ".");
    assert!(stamp.ends_with(" +0000"));
}

#[tokio::test]
async fn replace_drops_what_it_does_not_restate_but_keeps_the_record() {
    let (_emulator, client) = setup().await;
    let matt = EntityLocator::uuid(MATT_UUID);
    let replace = EntityReplace::attributes(
        "user",
        matt.clone(),
        json!({"givenName": "Matt", "email": "matt@example.com"}),
    )
    .unwrap();
    client.replace(&replace).await.unwrap();
    let after = record(&client, matt).await;
    assert_eq!(after["givenName"], "Matt");
    assert_eq!(after["familyName"], serde_json::Value::Null);
    assert_eq!(after["statuses"], json!([]));
    assert_eq!(
        (after["id"].as_u64(), after["uuid"].as_str()),
        (Some(5250), Some(MATT_UUID))
    );
    assert_eq!(after["created"], SEED_TIMESTAMP);
}

#[tokio::test]
async fn all_three_authentication_schemes_are_accepted() {
    let (emulator, _) = setup().await;
    for auth in [
        CaptureAuth::basic(SEED_CLIENT_1.0, SEED_CLIENT_1.1),
        CaptureAuth::oauth(DEMO_ACCESS_TOKEN),
        CaptureAuth::signed(SEED_CLIENT_1.0, SEED_CLIENT_1.1),
    ] {
        let client = builder(&emulator, auth.clone()).build().unwrap();
        let update = EntityUpdate::attributes(
            "user",
            EntityLocator::Id(5254),
            json!({"familyName": "Jackson"}),
        )
        .unwrap();
        client
            .update(&update)
            .await
            .unwrap_or_else(|e| panic!("{auth:?}: {e}"));
    }
}

#[tokio::test]
async fn a_changed_key_value_finds_the_record_and_the_old_one_does_not() {
    let (_emulator, client) = setup().await;
    let update = EntityUpdate::attributes(
        "user",
        EntityLocator::key("email", "gjack@example.com"),
        json!({"email": "gary@example.com"}),
    )
    .unwrap();
    client.update(&update).await.unwrap();
    assert_eq!(
        record(&client, EntityLocator::key("email", "gary@example.com")).await["id"],
        5254
    );
    let old = client
        .entity(&EntityRead::new(
            "user",
            EntityLocator::key("email", "gjack@example.com"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&old),
        Some(CaptureErrorKind::RecordNotFound)
    );
    // The freed value can be taken by another record.
    let take = EntityUpdate::attributes(
        "user",
        EntityLocator::Id(5250),
        json!({"email": "gjack@example.com"}),
    )
    .unwrap();
    client.update(&take).await.unwrap();
}
