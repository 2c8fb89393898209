//! Sunshine through the vendor-neutral `dyn ProfileUpdater`.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_core::{Error, ProfilePatch, ProfileUpdater, UserRef};
use profile_sunshine::{Identifier, ProfileContent, SunshineInputError, SunshineUpdater};
use serde_json::json;

use crate::{rider, setup};

async fn updater_with_rider() -> (
    profile_emulator::sunshine::SunshineEmulator,
    Arc<dyn ProfileUpdater>,
) {
    let (emulator, client) = setup().await;
    let content = ProfileContent::new()
        .name("sunshine_user")
        .identifier(Identifier::new("email", "jdoe@example.com"))
        .attribute("favorite_color", "red")
        .attribute("saddle_height", "85cm");
    client.create_or_replace(&rider(), &content).await.unwrap();
    (
        emulator,
        Arc::new(SunshineUpdater::new(client, "coolbikes", "rider")),
    )
}

#[tokio::test]
async fn a_merge_patch_is_one_request() {
    let (emulator, updater) = updater_with_rider().await;
    let before = emulator.faults().requests_seen();
    let patch = ProfilePatch::new()
        .set("name", "Jane Doe")
        .unwrap()
        .set("attributes.saddle_height", "87cm")
        .unwrap();
    let profile = updater
        .update(&UserRef::email("jdoe@example.com"), &patch)
        .await
        .unwrap();
    assert_eq!(emulator.faults().requests_seen() - before, 1);
    assert_eq!(profile.fields()["name"], "Jane Doe");
    assert_eq!(
        profile.fields()["attributes"],
        json!({"favorite_color": "red", "saddle_height": "87cm"})
    );
    assert!(patch.pending_against(&profile).is_empty());
}

#[tokio::test]
async fn removing_an_attribute_reads_applies_and_replaces() {
    let (emulator, updater) = updater_with_rider().await;
    let before = emulator.faults().requests_seen();
    let patch = ProfilePatch::new()
        .remove("attributes.favorite_color")
        .unwrap()
        .set("attributes.address.city", "Lyon")
        .unwrap();
    let profile = updater
        .update(&UserRef::email("jdoe@example.com"), &patch)
        .await
        .unwrap();
    assert_eq!(emulator.faults().requests_seen() - before, 2);
    assert_eq!(
        profile.fields()["attributes"],
        json!({"saddle_height": "85cm", "address": {"city": "Lyon"}})
    );
    assert_eq!(profile.fields()["name"], "sunshine_user");
    assert_eq!(
        profile.fields()["identifiers"],
        json!([{"type": "email", "value": "jdoe@example.com"}])
    );
}

#[tokio::test]
async fn get_by_id_key_and_email_find_the_same_profile() {
    let (_emulator, updater) = updater_with_rider().await;
    let by_email = updater
        .get(&UserRef::email("jdoe@example.com"))
        .await
        .unwrap();
    let by_key = updater
        .get(&UserRef::key("email", "jdoe@example.com"))
        .await
        .unwrap();
    let by_id = updater
        .get(&UserRef::id(by_email.id().unwrap()))
        .await
        .unwrap();
    assert_eq!(by_email, by_key);
    assert_eq!(by_email, by_id);
    assert_eq!(updater.vendor(), "sunshine");
}

#[tokio::test]
async fn read_only_and_unknown_fields_are_refused_before_sending() {
    let (emulator, updater) = updater_with_rider().await;
    let before = emulator.faults().requests_seen();
    for (path, expected) in [
        (
            "source",
            SunshineInputError::ReadOnlyField {
                field: "source".into(),
            },
        ),
        (
            "type",
            SunshineInputError::ReadOnlyField {
                field: "type".into(),
            },
        ),
        (
            "user_id",
            SunshineInputError::ReadOnlyField {
                field: "user_id".into(),
            },
        ),
        (
            "nickname",
            SunshineInputError::UnsupportedField {
                path: "nickname".into(),
            },
        ),
    ] {
        let patch = ProfilePatch::new().set(path, "x").unwrap();
        let err = updater
            .update(&UserRef::email("jdoe@example.com"), &patch)
            .await
            .unwrap_err();
        let Error::InvalidInput(source) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(source.downcast_ref::<SunshineInputError>(), Some(&expected));
    }
    assert_eq!(emulator.faults().requests_seen(), before);
}

#[tokio::test]
async fn an_unknown_user_is_not_found() {
    let (_emulator, updater) = updater_with_rider().await;
    let patch = ProfilePatch::new().set("name", "x").unwrap();
    let err = updater
        .update(&UserRef::email("nobody@example.com"), &patch)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn a_sync_write_is_one_patch_and_is_applied() {
    let (emulator, updater) = updater_with_rider().await;
    let user = UserRef::email("jdoe@example.com");
    let patch = ProfilePatch::new()
        .set("attributes.saddle_height", "87cm")
        .unwrap();
    let before = emulator.faults().requests_seen();
    let applied = updater.apply_pending(&user, &patch, false).await.unwrap();
    assert!(applied.written);
    // The read, then the PATCH, whose answer is only checked.
    assert_eq!(emulator.faults().requests_seen() - before, 2);
    let profile = updater.get(&user).await.unwrap();
    assert_eq!(profile.fields()["attributes"]["saddle_height"], "87cm");
    assert_eq!(profile.fields()["attributes"]["favorite_color"], "red");
}

#[tokio::test]
async fn a_sync_write_that_zendesk_refuses_is_a_typed_error() {
    let (emulator, seeded) = updater_with_rider().await;
    let client = crate::builder(&emulator, crate::seed_auth())
        .retry(profile_sunshine::RetryPolicy::default().with_max_attempts(1))
        .build()
        .unwrap();
    let updater = SunshineUpdater::new(client, "coolbikes", "rider");
    let user = UserRef::email("jdoe@example.com");
    let patch = ProfilePatch::new()
        .set("attributes.saddle_height", "90cm")
        .unwrap();
    // One request a minute: the read passes, the PATCH is answered 429.
    emulator.faults().set_rate_limit_per_minute(Some(1));
    let error = updater
        .apply_pending(&user, &patch, false)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(429), "{error:?}");
    assert!(!error.may_have_applied(), "{error:?}");
    emulator.faults().set_rate_limit_per_minute(None);
    let profile = seeded.get(&user).await.unwrap();
    assert_eq!(profile.fields()["attributes"]["saddle_height"], "85cm");
}

/// Zendesk keeps every attribute value as a string: an input holding `42` is written once,
/// and the next night's `42` against the stored `"42"` writes nothing.
#[tokio::test]
async fn a_number_stored_as_text_by_zendesk_is_not_written_again() {
    let (emulator, updater) = updater_with_rider().await;
    let user = UserRef::email("jdoe@example.com");
    let patch = ProfilePatch::new()
        .set("attributes.visits", 42)
        .unwrap()
        .set("attributes.vip", true)
        .unwrap();
    let first = updater.apply_pending(&user, &patch, false).await.unwrap();
    assert!(first.written);
    let stored = updater.get(&user).await.unwrap();
    assert_eq!(stored.fields()["attributes"]["visits"], "42");
    assert_eq!(stored.fields()["attributes"]["vip"], "true");
    let before = emulator.faults().requests_seen();
    let second = updater.apply_pending(&user, &patch, false).await.unwrap();
    assert!(!second.written && second.pending.is_empty());
    // One read, no write.
    assert_eq!(emulator.faults().requests_seen() - before, 1);
    // A changed number is still a change.
    let changed = ProfilePatch::new().set("attributes.visits", 43).unwrap();
    assert!(
        updater
            .apply_pending(&user, &changed, false)
            .await
            .unwrap()
            .written
    );
}
