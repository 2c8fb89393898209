//! One snapshot per request example of the seed, with the seed's values.

use profile_core::secrecy::SecretString;
use profile_lumapps::{BaseUrl, LumAppsAuth, LumAppsRequests, UserLocator};
use serde_json::{Value, json};

fn requests() -> LumAppsRequests {
    LumAppsRequests::new(
        BaseUrl::parse("https://go-cell-001.api.lumapps.com").unwrap(),
        &LumAppsAuth::token("<your_token>"),
    )
}

/// The seed's body, with one change: `instanceId` goes as a list, as LumApps' own API
/// description declares it (the seed writes the string "xxx"; the older rendering even
/// leaves it unquoted). The seed's placeholder instance "xxx" is kept.
#[test]
fn seed_example_content_list_of_user_directories() {
    insta::assert_snapshot!(
        requests()
            .list_directories("xxx", "en", None)
            .unwrap()
            .render()
    );
}

#[test]
fn content_get_of_the_seed_module() {
    insta::assert_snapshot!(
        requests()
            .get_content("6486401110769664", "en")
            .unwrap()
            .render()
    );
}

#[test]
fn seed_example_user_directory_get() {
    let me = UserLocator::Email("me@customer.com".into());
    insta::assert_snapshot!(
        requests()
            .get_user("6486401110769664", &me)
            .unwrap()
            .render()
    );
}

/// The seed's save: the user as read (here a small one), both custom fields set under
/// `customProfile.{uuid}` as the seed does (even the bound "Title"), and `contentId`.
#[test]
fn seed_example_user_directory_save() {
    let user = json!({
        "id": "5629499534213120",
        "email": "me@customer.com",
        "firstName": "Morgan",
        "customProfile": {
            "be3363f3-4df8-4a93-b27c-9c8c69258801": "Support Leader",
            "b72127e4-867a-4aba-a843-70c11dc599ef": "00 11 22 33 44 55 66"
        }
    });
    let Value::Object(user) = user else {
        unreachable!()
    };
    insta::assert_snapshot!(
        requests()
            .save_user("6486401110769664", &user)
            .unwrap()
            .render()
    );
}

/// The seed calls `user/directory/list` with `contentId` only; `maxResults` is the page size
/// this client asks for (a string, as the API declares it).
#[test]
fn seed_example_user_directory_list() {
    insta::assert_snapshot!(
        requests()
            .list_users("6486401110769664", None, 100)
            .unwrap()
            .render()
    );
}

#[test]
fn user_directory_list_next_page() {
    insta::assert_snapshot!(
        requests()
            .list_users("6486401110769664", Some("pos-100"), 100)
            .unwrap()
            .render()
    );
}

#[test]
fn application_token_exchange() {
    let request = requests()
        .application_token(
            "4664706704080896",
            "demo-client",
            &SecretString::from("demo-secret"),
            "me@customer.com",
        )
        .unwrap();
    insta::assert_snapshot!(request.render());
}
