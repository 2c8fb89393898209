//! One snapshot per request example of the seed, built from the seed's own values, plus
//! signed and OAuth variants and the other calls.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use profile_capture::{
    AttributePath, BaseUrl, CaptureAuth, CaptureRequests, EntityLocator, EntityRead, EntityReplace,
    EntityUpdate, parse_json_value,
};
use profile_core::time::FixedClock;
use profile_emulator::capture::{SEED_CLIENT_1, SEED_CLIENT_2};
use serde_json::json;

use crate::MATT_UUID;

/// The request builders with the seed's second Basic client (its header can be decoded).
fn basic_requests() -> CaptureRequests {
    requests(CaptureAuth::basic(SEED_CLIENT_2.0, SEED_CLIENT_2.1))
}

fn requests(auth: CaptureAuth) -> CaptureRequests {
    // 2016-03-13 19:39:17 UTC: a fixed clock, so signed requests are repeatable.
    let clock = Arc::new(FixedClock(UNIX_EPOCH + Duration::from_secs(1_457_897_957)));
    CaptureRequests::new(
        BaseUrl::parse("https://my-app.janraincapture.com").unwrap(),
        auth,
        clock,
    )
}

fn example_1() -> EntityUpdate {
    EntityUpdate::attributes(
        "user",
        EntityLocator::uuid(MATT_UUID),
        json!({"givenName": "Matt", "familyName": "Parker"}),
    )
    .unwrap()
}

fn example_2() -> EntityUpdate {
    EntityUpdate::value_at(
        "user",
        EntityLocator::Id(5252),
        AttributePath::parse("/statuses#5253").unwrap(),
        json!({"status": "active"}),
    )
}

/// The seed sends `value='{"Gary Jackson"}'`, which is not JSON (an object needs a key), so
/// Capture could not parse it. `displayName` is a string attribute and the parameter table
/// says `value` may be "a single value (for example "Fred")": the intended value is the
/// JSON string `"Gary Jackson"`, and that is what is sent. The literal text is refused
/// before sending, with a typed error (see `errors::the_seed_s_broken_value_is_refused`).
fn example_3() -> EntityUpdate {
    assert!(parse_json_value(r#"{"Gary Jackson"}"#).is_err());
    EntityUpdate::value_at(
        "user",
        EntityLocator::key("email", "gjack@example.com"),
        AttributePath::parse("displayName").unwrap(),
        json!("Gary Jackson"),
    )
}

#[test]
fn seed_example_1_update_by_uuid_with_attributes() {
    let request = requests(CaptureAuth::basic(SEED_CLIENT_1.0, SEED_CLIENT_1.1))
        .update(&example_1())
        .unwrap();
    insta::assert_snapshot!(request.render());
}

/// The seed's second Basic header is cut short (`aW1fYV...NfbXk=`); any client will do.
#[test]
fn seed_example_2_update_of_plural_element_5253() {
    let request = basic_requests().update(&example_2()).unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn seed_example_3_update_by_key_attribute() {
    let request = basic_requests().update(&example_3()).unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn seed_example_1_signed() {
    let request = requests(CaptureAuth::signed(SEED_CLIENT_1.0, SEED_CLIENT_1.1))
        .update(&example_1())
        .unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn seed_example_2_with_oauth() {
    let request = requests(CaptureAuth::oauth("access-token-123"))
        .update(&example_2())
        .unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn update_with_preconditions_and_include_record() {
    let update = example_1()
        .if_created("2016-03-13 19:39:17.856608 +0000")
        .if_last_updated("2016-03-13 19:39:17.856608 +0000")
        .include_record(true);
    let request = basic_requests().update(&update).unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn append_to_a_plural_is_not_idempotent() {
    let append = EntityUpdate::value_at(
        "user",
        EntityLocator::Id(5252),
        AttributePath::parse("/statuses").unwrap(),
        json!({"status": "suspended"}),
    );
    let request = basic_requests().update(&append).unwrap();
    assert!(!request.is_idempotent());
    insta::assert_snapshot!(request.render());
}

#[test]
fn entity_read_of_a_sub_path() {
    let read = EntityRead::new("user", EntityLocator::Id(5252))
        .at(AttributePath::parse("/statuses").unwrap());
    let request = basic_requests().entity(&read).unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn entity_read_of_some_attributes() {
    let read = EntityRead::new("user", EntityLocator::key("email", "gjack@example.com"))
        .only(["givenName", "primaryAddress"]);
    let request = basic_requests().entity(&read).unwrap();
    insta::assert_snapshot!(request.render());
}

#[test]
fn a_read_takes_a_path_or_names_whichever_was_given_last() {
    let render = |read: &EntityRead| basic_requests().entity(read).unwrap().render();
    let locator = EntityLocator::Id(5252);
    let whole = EntityRead::new("user", locator.clone());
    let path = AttributePath::parse("/statuses").unwrap();
    // No names: the whole record.
    assert_eq!(
        render(&whole.clone().only(Vec::<String>::new())),
        render(&whole)
    );
    assert_eq!(
        render(&whole.clone().only(["givenName"]).at(path.clone())),
        render(&whole.clone().at(path.clone()))
    );
    assert_eq!(
        render(&whole.clone().at(path).only(["givenName"])),
        render(&whole.only(["givenName"]))
    );
}

#[test]
fn entity_replace() {
    let replace = EntityReplace::attributes(
        "user",
        EntityLocator::uuid(MATT_UUID),
        json!({"givenName": "Matt"}),
    )
    .unwrap();
    let request = basic_requests().replace(&replace).unwrap();
    insta::assert_snapshot!(request.render());
}

/// The snapshot redacts the signature; this pins it: HMAC-SHA1 over
/// `/entity.update\n2016-03-13 19:39:17\n` and the sorted parameters.
#[test]
fn the_signed_request_carries_date_and_signature() {
    let request = requests(CaptureAuth::signed(SEED_CLIENT_1.0, SEED_CLIENT_1.1))
        .update(&example_1())
        .unwrap();
    assert_eq!(
        request.header_value("date").unwrap().expose(),
        "2016-03-13 19:39:17"
    );
    let authorization = request.header_value("authorization").unwrap();
    assert!(authorization.is_secret());
    let expected = profile_capture::sign(
        "/entity.update",
        "2016-03-13 19:39:17",
        &[
            ("type_name", "user"),
            ("uuid", MATT_UUID),
            (
                "attributes",
                r#"{"givenName":"Matt","familyName":"Parker"}"#,
            ),
        ],
        &profile_core::secrecy::SecretString::from(SEED_CLIENT_1.1),
    );
    assert_eq!(
        authorization.expose(),
        format!("Signature {}:{expected}", SEED_CLIENT_1.0)
    );
}

#[test]
fn entity_bulk_create() {
    let bulk = profile_capture::EntityBulkCreate::new(
        "user",
        vec![
            json!({"email": "new1@example.com", "givenName": "One"}),
            json!({"email": "new2@example.com", "givenName": "Two"}),
        ],
    )
    .unwrap();
    let request = basic_requests().bulk_create(&bulk).unwrap();
    insta::assert_snapshot!(request.render());
}
