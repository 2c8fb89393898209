//! No credential ever shows: not in Debug, Display, tracing output (at TRACE, with faults and
//! errors), renderings or errors.

use std::time::Duration;

use profile_core::ProfilePatch;
use profile_core::{ProfileUpdater, UserRef};
use profile_emulator::sunshine::SEED_API_TOKEN;
use profile_sunshine::{
    BaseUrl, ProfileContent, ProfileUpdate, SunshineAuth, SunshineClient, SunshineUpdater,
};

use crate::{builder, never_retrying, rider, setup};

/// The seed's Basic credential, base64-encoded as it goes on the wire.
const ENCODED: &str =
    "ZGV2c0Bjb29sYmlrZXMuY29tL3Rva2VuOjZ3aUlCV2JHa0JNbzFtUkRNdVZ3a3cxRVBzTmtlVWo5NVBJejJha3Y=";

fn assert_clean(what: &str, text: &str) {
    for secret in [SEED_API_TOKEN, ENCODED, "oauth-secret-xyz"] {
        assert!(!text.contains(secret), "{what} leaks a credential:\n{text}");
    }
}

#[test]
fn auth_and_client_debug_output_is_redacted() {
    let auth = SunshineAuth::api_token("devs@coolbikes.com", SEED_API_TOKEN);
    assert_eq!(
        format!("{auth:?}"),
        r#"ApiToken { email: "devs@coolbikes.com", token: "** redacted **" }"#
    );
    let oauth = SunshineAuth::oauth("oauth-secret-xyz");
    assert_eq!(format!("{oauth:?}"), r#"OAuth { token: "** redacted **" }"#);
    let client = SunshineClient::builder(
        BaseUrl::parse("https://coolbikes.zendesk.com").unwrap(),
        auth,
    )
    .build()
    .unwrap();
    assert_clean("client Debug", &format!("{client:?}"));
    let request = client.requests().get_profile(&rider().into());
    assert_clean("request Debug", &format!("{request:?}"));
    assert_clean("request rendering", &request.render());
}

#[tokio::test(flavor = "current_thread")]
async fn tracing_at_trace_level_and_errors_never_show_credentials() {
    let captured = profile_core::test_util::capture_traces().expect("no other global subscriber");

    let (emulator, client) = setup().await;
    let mut messages = Vec::new();
    emulator.faults().fail_next(1, 503);
    emulator.faults().rate_limit_next(1, Duration::from_secs(1));
    client
        .create_or_replace(&rider(), &ProfileContent::new().attribute("a", 1))
        .await
        .unwrap();
    emulator.faults().drop_next(1);
    client
        .patch_profile(&rider().into(), &ProfileUpdate::new().attribute("a", 2))
        .await
        .unwrap();
    let updater = SunshineUpdater::new(client.clone(), "coolbikes", "rider");
    updater
        .update(
            &UserRef::email("jdoe@example.com"),
            &ProfilePatch::new().remove("attributes.a").unwrap(),
        )
        .await
        .unwrap();
    // Errors of every kind: not found, unauthorized, rate limited, dropped connection.
    let nobody = "coolbikes:rider:email:nobody@example.com"
        .parse::<profile_sunshine::IdentifierQuery>()
        .unwrap();
    messages.push(client.get_profile(&nobody.into()).await.unwrap_err());
    let wrong = builder(&emulator, crate::seed_auth()).build().unwrap();
    emulator
        .faults()
        .rate_limit_next(1, Duration::from_secs(500));
    messages.push(wrong.get_profile(&rider().into()).await.unwrap_err());
    let never = never_retrying(&emulator);
    emulator.faults().drop_next(1);
    messages.push(never.get_profile(&rider().into()).await.unwrap_err());
    let oauth = SunshineClient::builder(
        BaseUrl::parse(&emulator.base_url()).unwrap(),
        SunshineAuth::oauth("oauth-secret-xyz"),
    )
    .build()
    .unwrap();
    messages.push(oauth.get_profile(&rider().into()).await.unwrap_err());

    assert_eq!(messages.len(), 4);
    for error in &messages {
        assert_clean("error Display", &error.to_string());
        assert_clean("error Debug", &format!("{error:?}"));
    }
    let logs = captured.text();
    // The capture did see the traffic, with the fields we promise and without query strings.
    assert!(logs.contains("vendor=\"sunshine\""), "{logs}");
    assert!(logs.contains("status=503"), "{logs}");
    assert!(logs.contains("attempt=2"), "{logs}");
    assert!(
        !logs.contains("identifier="),
        "query strings must not be logged:\n{logs}"
    );
    assert!(
        !logs.contains("jdoe@example.com"),
        "personal data in logs:\n{logs}"
    );
    assert_clean("trace output", &logs);
}
