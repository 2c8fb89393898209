//! Every behaviour the seed document describes, over HTTP against the emulator.

use profile_core::{ApiRequest, BaseUrl, HeaderValue, Method};
use profile_sunshine::{
    Identifier, IdentifierQuery, ProfileContent, ProfileId, ProfileLocator, ProfileUpdate,
    SunshineAuth, SunshineClient, UserId,
};
use serde_json::json;

use crate::{builder, rider, seed_auth, setup};

/// The seed's starting point: the rider profile as it is before the PATCH example.
async fn create_seed_rider(client: &SunshineClient) -> profile_sunshine::UserProfile {
    let content = ProfileContent::new()
        .name("sunshine_user")
        .identifier(Identifier::new("email", "jdoe@example.com"))
        .attribute("favorite_color", "red")
        .attribute("saddle_height", "85cm");
    client
        .create_or_replace(&rider(), &content)
        .await
        .unwrap()
        .profile
}

#[tokio::test]
async fn patch_merges_attributes_and_keeps_the_others() {
    let (_emulator, client) = setup().await;
    create_seed_rider(&client).await;
    let update = ProfileUpdate::new()
        .name("Jane Doe")
        .attribute("saddle_height", "87cm");
    let patched = client
        .patch_profile(&rider().into(), &update)
        .await
        .unwrap();
    // The seed's response: name and saddle_height updated, favorite_color untouched.
    assert_eq!(patched.name.as_deref(), Some("Jane Doe"));
    assert_eq!(
        serde_json::Value::Object(patched.attributes),
        json!({"favorite_color": "red", "saddle_height": "87cm"})
    );
    assert_eq!(
        (patched.source.as_str(), patched.profile_type.as_str()),
        ("coolbikes", "rider")
    );
}

#[tokio::test]
async fn patch_adds_a_property_missing_from_the_profile() {
    let (_emulator, client) = setup().await;
    create_seed_rider(&client).await;
    let update = ProfileUpdate::new()
        .attributes(json!({"comm_pref": "email", "joined": "2018"}))
        .unwrap();
    let patched = client
        .patch_profile(&rider().into(), &update)
        .await
        .unwrap();
    assert_eq!(patched.attributes["comm_pref"], "email");
    assert_eq!(patched.attributes["joined"], "2018");
    assert_eq!(patched.attributes["saddle_height"], "85cm");
}

#[tokio::test]
async fn patch_adds_identifiers_and_never_replaces_one() {
    let (_emulator, client) = setup().await;
    create_seed_rider(&client).await;
    // "Attempting to update one (such as updating an email address) adds a new identifier".
    let update = ProfileUpdate::new().identifier(Identifier::new("email", "jane@example.com"));
    let patched = client
        .patch_profile(&rider().into(), &update)
        .await
        .unwrap();
    assert_eq!(
        patched.identifiers,
        [
            Identifier::new("email", "jdoe@example.com"),
            Identifier::new("email", "jane@example.com")
        ]
    );
    // Both identifiers now find the same profile.
    let by_new: IdentifierQuery = "coolbikes:rider:email:jane@example.com".parse().unwrap();
    assert_eq!(
        client.get_profile(&by_new.into()).await.unwrap().id,
        patched.id
    );
}

#[tokio::test]
async fn patch_ignores_source_type_and_user_id() {
    let (emulator, client) = setup().await;
    let created = create_seed_rider(&client).await;
    // The typed ProfileUpdate cannot hold these, so send the raw body the seed warns about.
    let request = ApiRequest::new(
        "sunshine",
        "patch_profile",
        Method::Patch,
        &BaseUrl::parse(&emulator.base_url()).unwrap(),
        format!("/api/v2/user_profiles/{}", created.id),
    )
    .header("authorization", HeaderValue::secret(format!(
        "Basic {}",
        "ZGV2c0Bjb29sYmlrZXMuY29tL3Rva2VuOjZ3aUlCV2JHa0JNbzFtUkRNdVZ3a3cxRVBzTmtlVWo5NVBJejJha3Y="
    )))
    .json(json!({"profile": {"source": "other", "type": "walker", "user_id": "1", "name": "Jane Doe"}}));
    let response = client.send(&request).await.unwrap();
    assert_eq!(response.status(), 200);
    let after = client
        .get_profile(&ProfileLocator::Id(
            ProfileId::new(created.id.clone()).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(after.source, "coolbikes");
    assert_eq!(after.profile_type, "rider");
    assert_eq!(after.user_id, created.user_id);
    assert_eq!(after.name.as_deref(), Some("Jane Doe"));
}

#[tokio::test]
async fn patch_of_an_unknown_profile_is_not_found() {
    let (_emulator, client) = setup().await;
    let update = ProfileUpdate::new().name("Nobody");
    let by_query = client
        .patch_profile(&rider().into(), &update)
        .await
        .unwrap_err();
    assert!(by_query.is_not_found(), "{by_query}");
    assert_eq!(by_query.status(), Some(404));
    assert_eq!(by_query.vendor_code(), Some("NotFound"));
    assert!(by_query.request_id().is_some());
    let by_id = ProfileLocator::Id(ProfileId::new("01E06HXMJ8RJ6C0MR142D6FBSA").unwrap());
    assert!(
        client
            .patch_profile(&by_id, &update)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn put_creates_a_profile_when_nothing_matches() {
    let (emulator, client) = setup().await;
    let content = ProfileContent::new()
        .name("Jane Doe")
        .identifier(Identifier::new("email", "jdoe@example.com"))
        .attribute("favorite_color", "red")
        .attribute("saddle_height", "85cm");
    let outcome = client.create_or_replace(&rider(), &content).await.unwrap();
    assert!(outcome.created, "the seed's PUT answers 201");
    assert_eq!(outcome.profile.id.len(), 26);
    assert_eq!(outcome.profile.user_id.as_deref(), Some("81123613"));
    assert_eq!(emulator.profiles().len(), 1);
}

#[tokio::test]
async fn put_replaces_the_content_but_keeps_the_id_and_created_at() {
    let (_emulator, client) = setup().await;
    let created = create_seed_rider(&client).await;
    let replacement = ProfileContent::new()
        .name("Jane Doe")
        .attribute("saddle_height", "87cm");
    let outcome = client
        .create_or_replace(&rider(), &replacement)
        .await
        .unwrap();
    assert!(!outcome.created);
    assert_eq!(outcome.profile.id, created.id);
    assert_eq!(outcome.profile.created_at, created.created_at);
    // "any data not included in the new version is lost"
    assert!(!outcome.profile.attributes.contains_key("favorite_color"));
    assert_eq!(outcome.profile.attributes["saddle_height"], "87cm");
    // The identifier the PUT was addressed by stays, so the profile is still found by it.
    assert_eq!(
        outcome.profile.identifiers,
        [Identifier::new("email", "jdoe@example.com")]
    );
}

#[tokio::test]
async fn put_sent_twice_creates_once() {
    let (emulator, client) = setup().await;
    let content = ProfileContent::new().attribute("saddle_height", "85cm");
    assert!(
        client
            .create_or_replace(&rider(), &content)
            .await
            .unwrap()
            .created
    );
    assert!(
        !client
            .create_or_replace(&rider(), &content)
            .await
            .unwrap()
            .created
    );
    assert_eq!(emulator.profiles().len(), 1);
}

#[tokio::test]
async fn replace_by_id_keeps_the_record_and_drops_unsent_data() {
    let (_emulator, client) = setup().await;
    let created = create_seed_rider(&client).await;
    let id = ProfileId::new(created.id.clone()).unwrap();
    let content = ProfileContent::new()
        .identifier(Identifier::new("email", "jdoe@example.com"))
        .attribute("saddle_height", "90cm");
    let replaced = client.replace_profile(&id, &content).await.unwrap();
    assert_eq!(replaced.id, created.id);
    assert_eq!(replaced.name, None);
    assert_eq!(
        serde_json::Value::Object(replaced.attributes),
        json!({"saddle_height": "90cm"})
    );
    let missing = ProfileId::new("01E06HXMJ8RJ6C0MR142D6FBSA").unwrap();
    assert!(
        client
            .replace_profile(&missing, &content)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn merge_and_replace_keeps_what_the_edit_leaves_alone() {
    let (_emulator, client) = setup().await;
    create_seed_rider(&client).await;
    let replaced = client
        .merge_and_replace(&rider().into(), |content| {
            content.attributes.remove("favorite_color");
            content
                .attributes
                .insert("saddle_height".into(), json!("88cm"));
        })
        .await
        .unwrap();
    assert_eq!(replaced.name.as_deref(), Some("sunshine_user"));
    assert_eq!(
        serde_json::Value::Object(replaced.attributes),
        json!({"saddle_height": "88cm"})
    );
    assert_eq!(
        replaced.identifiers,
        [Identifier::new("email", "jdoe@example.com")]
    );
}

#[tokio::test]
async fn get_by_identifier_and_by_id_return_the_same_profile() {
    let (_emulator, client) = setup().await;
    let created = create_seed_rider(&client).await;
    let by_query = client.get_profile(&rider().into()).await.unwrap();
    let by_id = client
        .get_profile(&ProfileLocator::Id(
            ProfileId::new(created.id.clone()).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(by_query, by_id);
    assert_eq!(by_query, created);
}

#[tokio::test]
async fn an_unknown_identifier_is_not_found() {
    let (_emulator, client) = setup().await;
    let nobody: IdentifierQuery = "coolbikes:rider:email:nobody@example.com".parse().unwrap();
    let err = client.get_profile(&nobody.into()).await.unwrap_err();
    assert!(err.is_not_found());
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn email_identifier_values_are_matched_without_regard_to_case() {
    let (_emulator, client) = setup().await;
    let shouting: IdentifierQuery = "coolbikes:rider:email:JDoe@Example.COM".parse().unwrap();
    let created = client
        .create_or_replace(
            &shouting,
            &ProfileContent::new().attribute("saddle_height", "85cm"),
        )
        .await
        .unwrap();
    assert_eq!(
        created.profile.identifiers,
        [Identifier::new("email", "jdoe@example.com")]
    );
    assert_eq!(
        client.get_profile(&rider().into()).await.unwrap().id,
        created.profile.id
    );
}

#[tokio::test]
async fn an_identifier_value_may_contain_colons() {
    let (_emulator, client) = setup().await;
    let urn: IdentifierQuery = "crm:contact:external_id:urn:crm:42".parse().unwrap();
    let created = client
        .create_or_replace(&urn, &ProfileContent::new().attribute("tier", "gold"))
        .await
        .unwrap();
    assert_eq!(
        created.profile.identifiers,
        [Identifier::new("external_id", "urn:crm:42")]
    );
    assert_eq!(
        client.get_profile(&urn.into()).await.unwrap().id,
        created.profile.id
    );
}

#[tokio::test]
async fn a_user_s_profiles_are_listed_and_created_for_that_user() {
    let (_emulator, client) = setup().await;
    let rider_profile = create_seed_rider(&client).await;
    let user: UserId = rider_profile.user_id.as_deref().unwrap().parse().unwrap();
    let shop: IdentifierQuery = "coolbikes:shopper:email:jdoe@example.com".parse().unwrap();
    let outcome = client
        .create_or_replace_for_user(user, &shop, &ProfileContent::new().attribute("visits", 3))
        .await
        .unwrap();
    assert!(outcome.created);
    assert_eq!(outcome.profile.user_id, rider_profile.user_id);
    let listed = client.list_user_profiles(user).await.unwrap();
    let mut types: Vec<_> = listed.iter().map(|p| p.profile_type.as_str()).collect();
    types.sort();
    assert_eq!(types, ["rider", "shopper"]);
    let err = client.list_user_profiles(UserId(999)).await.unwrap_err();
    assert!(err.is_not_found());
    let err = client
        .create_or_replace_for_user(UserId(999), &shop, &ProfileContent::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found());
}

#[tokio::test]
async fn delete_removes_the_profile() {
    let (emulator, client) = setup().await;
    let created = create_seed_rider(&client).await;
    let id = ProfileId::new(created.id).unwrap();
    client.delete_profile(&id).await.unwrap();
    assert!(emulator.profiles().is_empty());
    assert!(
        client
            .get_profile(&rider().into())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(client.delete_profile(&id).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_401() {
    let (emulator, _client) = setup().await;
    let client = SunshineClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        SunshineAuth::api_token("devs@coolbikes.com", "not-the-token"),
    )
    .build()
    .unwrap();
    let err = client.get_profile(&rider().into()).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err}");
    assert_eq!(
        err.api_error().unwrap().message.as_deref(),
        Some("Couldn't authenticate you")
    );
}

#[tokio::test]
async fn an_oauth_bearer_token_is_accepted_when_configured() {
    use profile_emulator::sunshine::{SunshineConfig, SunshineEmulator};
    let emulator = SunshineEmulator::start_with(
        SunshineConfig::without_credentials().bearer_token("oauth-123"),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let base = BaseUrl::parse(&emulator.base_url()).unwrap();
    let oauth = SunshineClient::builder(base.clone(), SunshineAuth::oauth("oauth-123"))
        .build()
        .unwrap();
    let created = oauth
        .create_or_replace(&rider(), &ProfileContent::new().attribute("a", 1))
        .await
        .unwrap();
    assert!(created.created);
    // The seed's API token is not configured on this emulator.
    let token = builder(&emulator, seed_auth()).build().unwrap();
    assert!(
        token
            .get_profile(&rider().into())
            .await
            .unwrap_err()
            .is_unauthorized()
    );
}
