//! One snapshot per request: the seed's two examples with the seed's own values, and every
//! other operation. Credentials are redacted in all of them.

use profile_core::secrecy::ExposeSecret as _;
use profile_sunshine::{
    BaseUrl, Identifier, ProfileContent, ProfileId, ProfileLocator, ProfileUpdate, SunshineAuth,
    SunshineRequests, UserId,
};

use crate::{rider, seed_auth};

fn requests() -> SunshineRequests {
    SunshineRequests::new(
        BaseUrl::parse("https://coolbikes.zendesk.com").unwrap(),
        &seed_auth(),
    )
}

fn profile_id() -> ProfileId {
    ProfileId::new("01E06HXMJ8RJ6C0MR142D6FBSA").unwrap()
}

/// The seed writes the address as "[email protected]" (an e-mail obfuscator's rendering);
/// the identifier query beside it shows the real one, jdoe@example.com.
#[test]
fn seed_example_patch_by_identifier() {
    let update = ProfileUpdate::new()
        .name("Jane Doe")
        .attribute("saddle_height", "87cm");
    let request = requests().patch_profile(&rider().into(), &update).unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn seed_example_put_by_identifier() {
    let content = ProfileContent::new()
        .name("Jane Doe")
        .identifier(Identifier::new("email", "jdoe@example.com"))
        .attribute("favorite_color", "red")
        .attribute("saddle_height", "85cm");
    let request = requests().create_or_replace(&rider(), &content).unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn get_profile_by_identifier() {
    insta::assert_snapshot!(requests().get_profile(&rider().into()).render());
}

#[test]
fn get_profile_by_id() {
    insta::assert_snapshot!(
        requests()
            .get_profile(&ProfileLocator::Id(profile_id()))
            .render()
    );
}

#[test]
fn list_user_profiles() {
    insta::assert_snapshot!(requests().list_user_profiles(UserId(81_123_613)).render());
}

#[test]
fn patch_profile_by_id_adding_an_identifier() {
    let update = ProfileUpdate::new().identifier(Identifier::new("phone_number", "+15551234567"));
    let request = requests()
        .patch_profile(&ProfileLocator::Id(profile_id()), &update)
        .unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn create_or_replace_for_user() {
    let content = ProfileContent::new()
        .name("Jane Doe")
        .attribute("saddle_height", "85cm");
    let request = requests()
        .create_or_replace_for_user(UserId(81_123_613), &rider(), &content)
        .unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn replace_profile_by_id() {
    let content = ProfileContent::new()
        .identifier(Identifier::new("email", "jdoe@example.com"))
        .attribute("saddle_height", "85cm");
    let request = requests().replace_profile(&profile_id(), &content).unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn delete_profile() {
    insta::assert_snapshot!(requests().delete_profile(&profile_id()).render());
}

#[test]
fn get_profile_with_oauth() {
    let requests = SunshineRequests::new(
        BaseUrl::parse("https://coolbikes.zendesk.com").unwrap(),
        &SunshineAuth::oauth("oauth-access-token-123"),
    );
    insta::assert_snapshot!(requests.get_profile(&rider().into()).render());
}

/// The snapshot shows `** redacted **`; this proves the real header is still the seed's
/// credential, `devs@coolbikes.com/token:{token}` in HTTP Basic.
#[test]
fn the_redacted_header_carries_the_seed_credential() {
    let request = requests().get_profile(&rider().into());
    let header = request
        .header_value("authorization")
        .unwrap()
        .expose()
        .to_owned();
    assert_eq!(
        header,
        "Basic ZGV2c0Bjb29sYmlrZXMuY29tL3Rva2VuOjZ3aUlCV2JHa0JNbzFtUkRNdVZ3a3cxRVBzTmtlVWo5NVBJejJha3Y="
    );
    let SunshineAuth::ApiToken { token, .. } = seed_auth() else {
        unreachable!()
    };
    for snapshot in [request.render(), format!("{request:?}")] {
        assert!(!snapshot.contains(&header[6..]));
        assert!(!snapshot.contains(token.expose_secret()));
    }
}
