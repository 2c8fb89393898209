//! LumApps through the vendor-neutral `dyn ProfileUpdater`.

use std::sync::Arc;

use profile_core::{ProfilePatch, ProfileUpdater, UserRef};
use profile_emulator::lumapps::TITLE_FIELD;
use profile_lumapps::LumAppsUpdater;
use serde_json::{Value, json};

use crate::{seed_directory, setup};

#[tokio::test]
async fn fields_are_read_and_written_by_title() {
    let (emulator, client) = setup().await;
    let directory = seed_directory(&client).await;
    let updater: Arc<dyn ProfileUpdater> = Arc::new(LumAppsUpdater::new(client, directory, "en"));
    let me = UserRef::email("me@customer.com");
    let before = updater.get(&me).await.unwrap();
    assert_eq!(before.fields()["Title"], Value::Null);
    let patch = ProfilePatch::new()
        .set("Title", "Support Leader")
        .unwrap()
        .set("Phone Number", "00 11 22 33 44 55 66")
        .unwrap();
    assert_eq!(patch.pending_against(&before).changes().len(), 2);
    let after = updater.update(&me, &patch).await.unwrap();
    assert!(patch.pending_against(&after).is_empty());
    assert_eq!(after.fields()["email"], "me@customer.com");
    assert_eq!(
        emulator.user("me@customer.com").unwrap()["apiProfile"]["organizations"]["title"],
        "Support Leader"
    );
    // By uuid too.
    let by_uuid = ProfilePatch::new().set(TITLE_FIELD, "Lead").unwrap();
    let after = updater.update(&me, &by_uuid).await.unwrap();
    assert_eq!(after.fields()["Title"], json!("Lead"));
}

#[tokio::test]
async fn an_unknown_field_is_refused() {
    let (emulator, client) = setup().await;
    let directory = seed_directory(&client).await;
    let before = emulator.faults().requests_seen();
    let updater = LumAppsUpdater::new(client, directory, "en");
    let patch = ProfilePatch::new().set("Shoe size", "44").unwrap();
    let err = updater
        .update(&UserRef::email("me@customer.com"), &patch)
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert_eq!(emulator.faults().requests_seen(), before);
}

#[tokio::test]
async fn apply_pending_reads_once_and_saves_only_a_change() {
    let (emulator, client) = setup().await;
    let directory = seed_directory(&client).await;
    let updater = LumAppsUpdater::new(client, directory, "en");
    let me = UserRef::email("me@customer.com");
    let patch = ProfilePatch::new().set("Title", "Support Leader").unwrap();
    let before = emulator.faults().requests_seen();
    let applied = updater.apply_pending(&me, &patch, false).await.unwrap();
    assert!(applied.written);
    assert_eq!(
        emulator.faults().requests_seen() - before,
        2,
        "one read, one save"
    );
    let again = updater.apply_pending(&me, &patch, false).await.unwrap();
    assert!(!again.written && again.pending.is_empty());
    assert_eq!(
        emulator.faults().requests_seen() - before,
        3,
        "then one read only"
    );
    assert_eq!(
        emulator.user("me@customer.com").unwrap()["apiProfile"]["organizations"]["title"],
        "Support Leader"
    );
}
