//! Bad input gets a typed error before anything is sent.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_core::{BaseUrl, Error, InvalidBaseUrl, RecordingTransport};
use profile_sunshine::{
    IdentifierQuery, IdentifierQueryError, ProfileContent, ProfileUpdate, SunshineClient,
    SunshineInputError,
};
use serde_json::json;

use crate::{rider, seed_auth};

fn recorded_client() -> (Arc<RecordingTransport>, SunshineClient) {
    let recorder = Arc::new(RecordingTransport::new());
    let client = SunshineClient::builder(
        BaseUrl::parse("https://coolbikes.zendesk.com").unwrap(),
        seed_auth(),
    )
    .transport(recorder.clone())
    .build()
    .unwrap();
    (recorder, client)
}

fn input_error(err: &Error) -> &SunshineInputError {
    match err {
        Error::InvalidInput(source) => source.downcast_ref().expect("a SunshineInputError"),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn a_malformed_identifier_query_is_refused() {
    let err = "coolbikes:rider:jdoe@example.com"
        .parse::<IdentifierQuery>()
        .unwrap_err();
    assert!(matches!(err, IdentifierQueryError::MissingParts(_)));
    assert!(
        err.to_string()
            .contains("source:type:identifier_type:identifier_value")
    );
}

#[tokio::test]
async fn an_empty_attribute_key_is_refused_before_sending() {
    let (recorder, client) = recorded_client();
    let err = client
        .patch_profile(&rider().into(), &ProfileUpdate::new().attribute("", "x"))
        .await
        .unwrap_err();
    assert_eq!(input_error(&err), &SunshineInputError::EmptyAttributeKey);
    assert!(recorder.requests().is_empty());
}

#[tokio::test]
async fn attributes_that_are_not_an_object_are_refused() {
    let err = ProfileContent::new().attributes(json!("87cm")).unwrap_err();
    assert_eq!(
        err,
        SunshineInputError::AttributesNotAnObject { found: "a string" }
    );
    assert_eq!(
        err.to_string(),
        "attributes must be a JSON object, not a string"
    );
}

#[test]
fn a_plain_http_base_url_that_is_not_loopback_is_refused() {
    let err = BaseUrl::parse("http://coolbikes.zendesk.com").unwrap_err();
    assert!(matches!(err, InvalidBaseUrl::PlainHttpToRemoteHost { .. }));
    assert!(err.to_string().contains("use https"));
}

#[tokio::test]
async fn valid_input_does_reach_the_transport() {
    // The counterpart of the refusals above: the recorder sees what passes validation.
    let (recorder, client) = recorded_client();
    recorder.push_response(profile_core::ApiResponse::json(
        200,
        &json!({"profile": {"id": "x", "source": "coolbikes", "type": "rider"}}),
    ));
    client
        .patch_profile(&rider().into(), &ProfileUpdate::new().attribute("a", 1))
        .await
        .unwrap();
    assert_eq!(recorder.requests().len(), 1);
}
