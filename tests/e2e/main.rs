//! End to end across crates: the same vendor-neutral code driving every vendor through
//! `dyn ProfileUpdater`, against the emulators over HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs,
    unreachable_pub
)]

use profile_core::ClientSettings;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use profile_core::{Profile, ProfilePatch, ProfileUpdater, RateLimit, UserRef};
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use profile_sunshine::{
    BaseUrl, Identifier, IdentifierQuery, ProfileContent, SunshineAuth, SunshineClient,
    SunshineUpdater,
};
use serde_json::json;

/// What a sync does for one row: read, write only what differs, report.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Updated,
    Unchanged,
}

async fn sync_row(updater: &dyn ProfileUpdater, user: &UserRef, wanted: &ProfilePatch) -> Outcome {
    let current: Profile = updater.get(user).await.unwrap();
    let pending = wanted.pending_against(&current);
    if pending.is_empty() {
        return Outcome::Unchanged;
    }
    let after = updater.update(user, &pending).await.unwrap();
    assert!(wanted.pending_against(&after).is_empty());
    Outcome::Updated
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_neutral_sync_writes_only_what_changed() {
    let emulator = SunshineEmulator::start().await.unwrap();
    let client = SunshineClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        SunshineAuth::api_token(SEED_EMAIL, SEED_API_TOKEN),
    )
    .rate_limit(RateLimit::unlimited().with_max_in_flight(8))
    .build()
    .unwrap();
    let users: usize = 60;
    for i in 0..users {
        let query: IdentifierQuery = format!("coolbikes:rider:email:rider{i}@example.com")
            .parse()
            .unwrap();
        let content = ProfileContent::new()
            .identifier(Identifier::new("email", format!("rider{i}@example.com")))
            .attribute("saddle_height", "85cm")
            .attribute("favorite_color", "red");
        client.create_or_replace(&query, &content).await.unwrap();
    }
    let updater: Arc<dyn ProfileUpdater> =
        Arc::new(SunshineUpdater::new(client, "coolbikes", "rider"));

    // Every third rider already has the wanted height.
    let rows: Vec<(UserRef, ProfilePatch)> = (0..users)
        .map(|i| {
            let height = if i.is_multiple_of(3) { "85cm" } else { "87cm" };
            let patch = ProfilePatch::new()
                .set("attributes.saddle_height", height)
                .unwrap();
            (UserRef::email(format!("rider{i}@example.com")), patch)
        })
        .collect();
    let outcomes: Vec<Outcome> = stream::iter(rows.iter())
        .map(|(user, patch)| {
            let updater = updater.clone();
            async move { sync_row(updater.as_ref(), user, patch).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    let unchanged = outcomes
        .iter()
        .filter(|o| **o == Outcome::Unchanged)
        .count();
    assert_eq!(unchanged, 20);
    assert_eq!(outcomes.len() - unchanged, 40);
    // A read per row, plus one PATCH per changed row: nothing written twice.
    assert_eq!(emulator.faults().requests_seen(), 60 + 60 + 40);
    for profile in emulator.profiles() {
        let email = profile["identifiers"][0]["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let i: usize = email
            .trim_start_matches("rider")
            .trim_end_matches("@example.com")
            .parse()
            .unwrap();
        let height = if i.is_multiple_of(3) { "85cm" } else { "87cm" };
        assert_eq!(
            profile["attributes"],
            json!({"saddle_height": height, "favorite_color": "red"})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_sync_code_drives_capture() {
    use profile_capture::{CaptureAuth, CaptureClient, CaptureUpdater};
    use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};

    let emulator = CaptureEmulator::start().await.unwrap();
    let client = CaptureClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        CaptureAuth::basic(SEED_CLIENT_2.0, SEED_CLIENT_2.1),
    )
    .build()
    .unwrap();
    let updater: Arc<dyn ProfileUpdater> = Arc::new(CaptureUpdater::new(client, "user"));
    let rows = [
        ("mpark@example.com", "Parker"),
        ("alane@example.com", "Lane"), // already so: unchanged
        ("gjack@example.com", "Jackson-Smith"),
    ];
    let mut outcomes = Vec::new();
    for (email, family) in rows {
        let patch = ProfilePatch::new().set("familyName", family).unwrap();
        outcomes.push(sync_row(updater.as_ref(), &UserRef::email(email), &patch).await);
    }
    assert_eq!(
        outcomes,
        [Outcome::Updated, Outcome::Unchanged, Outcome::Updated]
    );
    // Three reads and two updates.
    assert_eq!(emulator.faults().requests_seen(), 5);
    let families: Vec<String> = emulator
        .records("user")
        .iter()
        .map(|r| r["familyName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(families, ["Parker", "Lane", "Jackson-Smith"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_sync_code_drives_lumapps() {
    use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsConfig, LumAppsEmulator, SEED_DIRECTORY};
    use profile_lumapps::{LumAppsAuth, LumAppsClient, LumAppsUpdater};

    let emulator = LumAppsEmulator::start_with(
        LumAppsConfig::default().synthetic_users(30),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let client = LumAppsClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        LumAppsAuth::token(DEMO_TOKEN),
    )
    .build()
    .unwrap();
    let directory = client.get_directory(SEED_DIRECTORY, "en").await.unwrap();
    let updater: Arc<dyn ProfileUpdater> = Arc::new(LumAppsUpdater::new(client, directory, "en"));
    let rows: Vec<(UserRef, ProfilePatch)> = (0..30)
        .map(|i| {
            let user = UserRef::email(format!("user{i:07}@customer.com"));
            (
                user,
                ProfilePatch::new()
                    .set("Title", format!("Engineer {i}"))
                    .unwrap(),
            )
        })
        .collect();
    for (user, patch) in &rows[..10] {
        sync_row(updater.as_ref(), user, patch).await;
    }
    let before = emulator.faults().requests_seen();
    let outcomes: Vec<Outcome> = stream::iter(rows.iter())
        .map(|(user, patch)| {
            let updater = updater.clone();
            async move { sync_row(updater.as_ref(), user, patch).await }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Outcome::Unchanged)
            .count(),
        10
    );
    // 30 reads, and for each of the 20 changed rows a read and a save.
    assert_eq!(emulator.faults().requests_seen() - before, 30 + 20 * 2);
    let stored = emulator.user("user0000029@customer.com").unwrap();
    assert_eq!(
        stored["apiProfile"]["organizations"]["title"],
        "Engineer 29"
    );
}

mod faults;
mod hostile;
