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

/// Real HTTP, with each request's `fields` parameter noted on the way.
#[derive(Debug)]
struct NotingFields {
    http: profile_core::HttpTransport,
    seen: std::sync::Mutex<Vec<(&'static str, Option<String>)>>,
}

#[async_trait::async_trait]
impl profile_core::Transport for NotingFields {
    async fn send(
        &self,
        request: &profile_core::ApiRequest,
    ) -> Result<profile_core::ApiResponse, profile_core::Error> {
        let fields = request
            .query_pairs()
            .iter()
            .find(|(name, _)| name == "fields")
            .map(|(_, value)| value.clone());
        self.seen
            .lock()
            .unwrap()
            .push((request.operation(), fields));
        self.http.send(request).await
    }
}

#[tokio::test]
async fn a_sync_listing_asks_only_for_the_ids_and_the_compared_fields() {
    use profile_core::{ClientSettings, FieldPath, KeyKind};

    let noting = Arc::new(NotingFields {
        http: profile_core::HttpTransport::new(&profile_core::HttpConfig::default()).unwrap(),
        seen: std::sync::Mutex::new(Vec::new()),
    });
    let (_emulator, client, directory) =
        crate::directory_with_an_engineer(120, 50, |b| b.transport(noting.clone())).await;
    let updater = LumAppsUpdater::new(client, directory, "en");
    let mut listed = Vec::new();
    let fields = [FieldPath::parse("Title").unwrap()];
    let all = updater
        .read_all(&KeyKind::Email, &fields, &mut |key, profile| {
            listed.push((key, profile))
        })
        .await
        .unwrap();
    assert!(all);
    assert_eq!(listed.len(), 121, "120 synthetic users and me@customer.com");
    let engineer = listed
        .iter()
        .find(|(key, _)| key == "user0000042@customer.com")
        .unwrap();
    assert_eq!(engineer.1.fields()["Title"], "Engineer");
    assert!(engineer.1.id().is_some());
    // Every page asked for the ids and the Title's bound path only.
    let pages: Vec<Option<String>> = noting
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(operation, _)| *operation == "list_users")
        .map(|(_, fields)| fields.clone())
        .collect();
    assert!(!pages.is_empty());
    for fields in pages {
        assert_eq!(
            fields.as_deref(),
            Some("more,cursor,items(email,uid,id,apiProfile/organizations/title)")
        );
    }
}
