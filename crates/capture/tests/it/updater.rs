//! Capture through the vendor-neutral `dyn ProfileUpdater`.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_capture::{CaptureInputError, CaptureUpdater};
use profile_core::{Error, ProfilePatch, ProfileUpdater, UserRef};
use serde_json::{Value, json};

use crate::{MATT_UUID, setup};

#[tokio::test]
async fn a_patch_is_one_update_and_returns_the_record() {
    let (emulator, client) = setup().await;
    let updater: Arc<dyn ProfileUpdater> = Arc::new(CaptureUpdater::new(client, "user"));
    let patch = ProfilePatch::new()
        .set("displayName", "Gary Jackson")
        .unwrap()
        .remove("familyName")
        .unwrap();
    let profile = updater
        .update(&UserRef::email("gjack@example.com"), &patch)
        .await
        .unwrap();
    assert_eq!(emulator.faults().requests_seen(), 1);
    assert_eq!(profile.fields()["displayName"], "Gary Jackson");
    assert_eq!(profile.fields()["familyName"], Value::Null);
    assert!(patch.pending_against(&profile).is_empty());
    assert_eq!(updater.vendor(), "capture");
}

#[tokio::test]
async fn users_are_found_by_uuid_id_email_and_key() {
    let (_emulator, client) = setup().await;
    let updater = CaptureUpdater::new(client, "user");
    let by_uuid = updater.get(&UserRef::id(MATT_UUID)).await.unwrap();
    let by_id = updater.get(&UserRef::id("5250")).await.unwrap();
    let by_email = updater
        .get(&UserRef::email("mpark@example.com"))
        .await
        .unwrap();
    let by_key = updater
        .get(&UserRef::key("email", "mpark@example.com"))
        .await
        .unwrap();
    assert_eq!(by_uuid, by_id);
    assert_eq!(by_id, by_email);
    assert_eq!(by_email, by_key);
    assert_eq!(by_uuid.id(), Some(MATT_UUID));
    assert_eq!(by_uuid.fields()["statuses"], json!([]));
}

#[tokio::test]
async fn system_attributes_are_refused_before_sending() {
    let (emulator, client) = setup().await;
    let updater = CaptureUpdater::new(client, "user");
    for field in ["uuid", "id", "created", "lastUpdated"] {
        let patch = ProfilePatch::new().set(field, "x").unwrap();
        let err = updater
            .update(&UserRef::id(MATT_UUID), &patch)
            .await
            .unwrap_err();
        let Error::InvalidInput(source) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            source.downcast_ref::<CaptureInputError>(),
            Some(&CaptureInputError::ReadOnlyAttribute(field.into()))
        );
    }
    assert_eq!(emulator.faults().requests_seen(), 0);
}

#[tokio::test]
async fn a_plural_synced_twice_gets_its_element_once() {
    // alane (id 5252) holds one status, element 5253 "inactive".
    let (emulator, client) = setup().await;
    let updater: Arc<dyn ProfileUpdater> = Arc::new(CaptureUpdater::new(client, "user"));
    let user = UserRef::email("alane@example.com");
    let patch = ProfilePatch::new()
        .set("statuses", json!([{"status": "onboarded"}]))
        .unwrap();
    let first = updater.apply_pending(&user, &patch, false).await.unwrap();
    assert!(first.written);
    let second = updater.apply_pending(&user, &patch, false).await.unwrap();
    assert!(!second.written && second.pending.is_empty());
    // Two reads and one write.
    assert_eq!(emulator.faults().requests_seen(), 3);
    let statuses = updater.get(&user).await.unwrap().fields()["statuses"].clone();
    let onboarded: Vec<&Value> = statuses
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "onboarded")
        .collect();
    assert_eq!(onboarded.len(), 1, "{statuses}");
    assert_eq!(
        statuses.as_array().unwrap().len(),
        2,
        "the old element stays"
    );

    // Only the elements not held yet are written.
    let more = ProfilePatch::new()
        .set(
            "statuses",
            json!([{"status": "onboarded"}, {"status": "trained"}]),
        )
        .unwrap();
    let third = updater.apply_pending(&user, &more, false).await.unwrap();
    assert_eq!(
        third.pending.changes()[0],
        profile_core::FieldChange::Set {
            path: profile_core::FieldPath::parse("statuses").unwrap(),
            value: json!([{"status": "trained"}])
        }
    );
}

#[tokio::test]
async fn a_sync_write_asks_for_no_record_back() {
    use profile_capture::{CaptureAuth, CaptureClient};
    use profile_core::{ApiResponse, BaseUrl, Body, RecordingTransport};

    let recorder = Arc::new(RecordingTransport::new());
    recorder.push_response(ApiResponse::json(
        200,
        &json!({"stat": "ok", "result": {"email": "gjack@example.com", "givenName": "G"}}),
    ));
    recorder.push_response(ApiResponse::json(200, &json!({"stat": "ok"})));
    let client = CaptureClient::builder(
        BaseUrl::parse("https://my-app.janraincapture.com").unwrap(),
        CaptureAuth::basic("client", "secret"),
    )
    .transport(recorder.clone())
    .build()
    .unwrap();
    let updater = CaptureUpdater::new(client, "user");
    let patch = ProfilePatch::new().set("givenName", "Gary").unwrap();
    let applied = updater
        .apply_pending(&UserRef::email("gjack@example.com"), &patch, false)
        .await
        .unwrap();
    assert!(applied.written);
    let requests = recorder.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path(), "/entity.update");
    let Body::Form(fields) = requests[1].body() else {
        panic!("a form body")
    };
    assert!(
        fields
            .iter()
            .any(|(k, v)| k == "attributes" && v.contains("Gary"))
    );
    assert!(!fields.iter().any(|(k, _)| k == "include_record"));
}

#[tokio::test]
async fn a_sync_reads_only_the_attributes_its_patch_names() {
    // alane (id 5252) holds one status, element 5253 "inactive".
    let (emulator, client) = setup().await;
    let updater: Arc<dyn ProfileUpdater> = Arc::new(CaptureUpdater::new(client, "user"));
    let user = UserRef::email("alane@example.com");
    let whole = updater.get(&user).await.unwrap();
    let patch = ProfilePatch::new()
        .set("displayName", "Alice Lane")
        .unwrap()
        .set("givenName", whole.fields()["givenName"].clone())
        .unwrap()
        .set("statuses", json!([{"status": "inactive"}]))
        .unwrap();
    let applied = updater.apply_pending(&user, &patch, true).await.unwrap();
    let mut read: Vec<&String> = applied.before.fields().keys().collect();
    read.sort();
    // The uuid too, which links the record to the person.
    assert_eq!(read, ["displayName", "givenName", "statuses", "uuid"]);
    assert_eq!(applied.before.id(), whole.id());
    assert_eq!(
        applied.before.fields()["statuses"],
        whole.fields()["statuses"]
    );
    // Compared as against the whole record: only displayName differs.
    assert_eq!(
        applied.pending,
        ProfilePatch::new()
            .set("displayName", "Alice Lane")
            .unwrap()
    );
    assert_eq!(applied.pending, updater.pending(&patch, &whole));
    // One read for `get`, one for the dry run; nothing written.
    assert_eq!(emulator.faults().requests_seen(), 2);
}
