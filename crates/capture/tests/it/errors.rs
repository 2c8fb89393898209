//! Every documented error code the emulator produces, mapped to its typed kind; and bad
//! input refused before anything is sent.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_capture::{
    AttributePath, BaseUrl, CaptureAuth, CaptureClient, CaptureErrorKind, CaptureInputError,
    EntityLocator, EntityUpdate, parse_json_value,
};
use profile_core::credentials::basic_authorization;
use profile_core::secrecy::SecretString;
use profile_core::{ApiRequest, Error, Method, RecordingTransport};
use profile_emulator::capture::{SEED_CLIENT_1, SEED_CLIENT_2};
use serde_json::{Value, json};

use crate::{MATT_UUID, basic, builder, setup};

async fn kind_of(client: &CaptureClient, update: EntityUpdate) -> (CaptureErrorKind, Error) {
    let err = client.update(&update).await.unwrap_err();
    let kind = CaptureErrorKind::of(&err).unwrap_or_else(|| panic!("not a Capture error: {err:?}"));
    (kind, err)
}

fn attributes(locator: EntityLocator, value: Value) -> EntityUpdate {
    EntityUpdate::attributes("user", locator, value).unwrap()
}

#[tokio::test]
async fn an_error_carries_code_name_description_and_request_token() {
    let (_emulator, client) = setup().await;
    let (kind, err) = kind_of(
        &client,
        attributes(
            EntityLocator::uuid("00000000-0000-4000-8000-000000000000"),
            json!({"givenName": "x"}),
        ),
    )
    .await;
    assert_eq!(kind, CaptureErrorKind::RecordNotFound);
    assert!(err.is_not_found());
    let api = err.api_error().unwrap();
    assert_eq!(api.status, 200, "Capture answers errors with HTTP 200");
    assert_eq!(api.code.as_deref(), Some("310"));
    assert_eq!(api.reason.as_deref(), Some("record_not_found"));
    assert_eq!(api.message.as_deref(), Some("no record matches"));
    assert!(
        api.request_id
            .as_deref()
            .unwrap()
            .starts_with("emulator-token-")
    );
    assert!(err.to_string().contains("(310 record_not_found)"), "{err}");
}

#[tokio::test]
async fn each_documented_error_maps_to_its_kind() {
    let (emulator, client) = setup().await;
    let matt = || EntityLocator::uuid(MATT_UUID);
    let cases: Vec<(EntityUpdate, CaptureErrorKind)> = vec![
        (
            attributes(matt(), json!({"nickname": "x"})),
            CaptureErrorKind::UnknownAttribute,
        ),
        (
            EntityUpdate::value_at(
                "user",
                matt(),
                AttributePath::parse("/statuses#9999").unwrap(),
                json!({"status": "x"}),
            ),
            CaptureErrorKind::InvalidArgument,
        ),
        (
            attributes(
                EntityLocator::key("givenName", "Gary"),
                json!({"displayName": "x"}),
            ),
            CaptureErrorKind::InvalidArgument,
        ),
        (
            EntityUpdate::attributes("customer", matt(), json!({"a": 1})).unwrap(),
            CaptureErrorKind::UnknownEntityType,
        ),
        (
            attributes(matt(), json!({"givenName": 5})),
            CaptureErrorKind::InvalidJsonType,
        ),
        (
            attributes(matt(), json!({"email": "gjack@example.com"})),
            CaptureErrorKind::UniqueViolation,
        ),
        (
            attributes(
                EntityLocator::key("email", "nobody@example.com"),
                json!({"givenName": "x"}),
            ),
            CaptureErrorKind::RecordNotFound,
        ),
    ];
    for (update, expected) in cases {
        let (kind, err) = kind_of(&client, update).await;
        assert_eq!(kind, expected, "{err}");
    }
    // Nothing was changed by any of them.
    let matt_now = emulator
        .records("user")
        .into_iter()
        .find(|r| r["uuid"] == MATT_UUID)
        .unwrap();
    assert_eq!(matt_now["givenName"], "Matthew");
}

#[tokio::test]
async fn authentication_failures_have_their_codes() {
    let (emulator, _) = setup().await;
    let update = || attributes(EntityLocator::Id(5254), json!({"givenName": "x"}));
    let cases = [
        (
            CaptureAuth::basic(SEED_CLIENT_1.0, "wrong-secret"),
            CaptureErrorKind::InvalidClientCredentials,
        ),
        (
            CaptureAuth::basic("unknown-client", "x"),
            CaptureErrorKind::InvalidClientCredentials,
        ),
        (
            CaptureAuth::oauth("not-a-token"),
            CaptureErrorKind::InvalidCredentials,
        ),
        (
            CaptureAuth::signed(SEED_CLIENT_1.0, SEED_CLIENT_2.1),
            CaptureErrorKind::SignatureDoesNotMatch,
        ),
        (
            CaptureAuth::signed("unknown-client", "x"),
            CaptureErrorKind::InvalidClientCredentials,
        ),
    ];
    for (auth, expected) in cases {
        let client = builder(&emulator, auth.clone()).build().unwrap();
        let (kind, err) = kind_of(&client, update()).await;
        assert_eq!(kind, expected, "{auth:?}");
        assert!(err.is_unauthorized());
    }
}

/// Requests the typed client cannot build, sent raw to show the emulator refuses them too.
async fn raw(fields: &[(&str, &str)], authorized: bool) -> Value {
    raw_to("/entity.update", fields, authorized).await
}

async fn raw_to(path: &'static str, fields: &[(&str, &str)], authorized: bool) -> Value {
    let (emulator, client) = setup().await;
    let mut request = ApiRequest::new(
        "capture",
        "raw",
        Method::Post,
        &BaseUrl::parse(&emulator.base_url()).unwrap(),
        path,
    )
    .form(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned().into(), (*v).to_owned()))
            .collect(),
    );
    if authorized {
        request = request.header(
            "authorization",
            basic_authorization(SEED_CLIENT_2.0, &SecretString::from(SEED_CLIENT_2.1)),
        );
    }
    let response = client.send(&request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json_body().unwrap()
}

#[tokio::test]
async fn a_read_takes_a_path_or_attribute_names_not_both() {
    let read = |extra: &'static [(&'static str, &'static str)]| async move {
        let mut fields = vec![("type_name", "user"), ("id", "5252")];
        fields.extend_from_slice(extra);
        raw_to("/entity", &fields, true).await
    };
    let both = read(&[
        ("attribute_name", "/statuses"),
        ("attributes", r#"["givenName"]"#),
    ])
    .await;
    assert_eq!(
        (both["code"].as_u64(), both["error"].as_str()),
        (Some(200), Some("invalid_argument"))
    );
    let not_names = read(&[("attributes", r#"{"givenName": true}"#)]).await;
    assert_eq!(not_names["code"].as_u64(), Some(341), "{not_names}");
    let names = read(&[("attributes", r#"["statuses"]"#)]).await;
    assert_eq!(
        names["result"],
        json!({"statuses": [{"id": 5253, "status": "inactive"}]})
    );
}

#[tokio::test]
async fn both_id_and_uuid_is_a_duplicate_argument() {
    let body = raw(
        &[
            ("type_name", "user"),
            ("id", "5250"),
            ("uuid", MATT_UUID),
            ("attributes", "{}"),
        ],
        true,
    )
    .await;
    assert_eq!(
        (body["code"].as_u64(), body["error"].as_str()),
        (Some(201), Some("duplicate_argument"))
    );
}

#[tokio::test]
async fn no_locator_is_a_missing_argument() {
    let body = raw(
        &[
            ("type_name", "user"),
            ("attributes", r#"{"givenName":"x"}"#),
        ],
        true,
    )
    .await;
    assert_eq!(
        (body["code"].as_u64(), body["error"].as_str()),
        (Some(100), Some("missing_argument"))
    );
}

#[tokio::test]
async fn a_value_that_is_not_json_is_an_invalid_data_format() {
    let body = raw(
        &[
            ("type_name", "user"),
            ("id", "5254"),
            ("attribute_name", "displayName"),
            ("value", r#"{"Gary Jackson"}"#),
        ],
        true,
    )
    .await;
    assert_eq!(
        (body["code"].as_u64(), body["error"].as_str()),
        (Some(340), Some("invalid_data_format"))
    );
}

#[tokio::test]
async fn no_authentication_is_an_invalid_auth_method() {
    let body = raw(
        &[("type_name", "user"), ("id", "5254"), ("attributes", "{}")],
        false,
    )
    .await;
    assert_eq!(
        (body["code"].as_u64(), body["error"].as_str()),
        (Some(205), Some("invalid_auth_method"))
    );
}

#[tokio::test]
async fn the_seed_s_first_basic_header_works_verbatim_despite_its_extra_padding() {
    let (emulator, client) = setup().await;
    let request = ApiRequest::new("capture", "raw", Method::Post, &BaseUrl::parse(&emulator.base_url()).unwrap(), "/entity")
        .form(vec![("type_name".into(), "user".into()), ("uuid".into(), MATT_UUID.into())])
        .header(
            "authorization",
            profile_core::HeaderValue::secret(
                "Basic c2dueXZ1czZwYzRqbTdraHIybmVxNWdzODlnYnIyZXE6d3Q0YzN1bjl3a2tjZnZ5a25xeDQ0eW5jNDc2YWZzNjg==",
            ),
        );
    let body: Value = client.send(&request).await.unwrap().json_body().unwrap();
    assert_eq!(body["stat"], "ok", "{body}");
}

fn input_error(err: Error) -> CaptureInputError {
    match err {
        Error::InvalidInput(source) => source
            .downcast_ref::<CaptureInputError>()
            .cloned()
            .expect("a CaptureInputError"),
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let recorder = Arc::new(RecordingTransport::new());
    let client = CaptureClient::builder(
        BaseUrl::parse("https://my-app.janraincapture.com").unwrap(),
        basic(),
    )
    .transport(recorder.clone())
    .build()
    .unwrap();
    let cases = [
        (
            attributes(EntityLocator::uuid(""), json!({"a": 1})),
            CaptureInputError::EmptyLocator,
        ),
        (
            attributes(EntityLocator::key("email", ""), json!({"a": 1})),
            CaptureInputError::EmptyLocator,
        ),
        (
            attributes(EntityLocator::Id(1), json!({"uuid": "x"})),
            CaptureInputError::ReadOnlyAttribute("uuid".into()),
        ),
        (
            attributes(EntityLocator::Id(1), json!({"a": 1})).if_last_updated("last tuesday"),
            CaptureInputError::InvalidTimestamp("last tuesday".into()),
        ),
        (
            EntityUpdate::attributes("user type", EntityLocator::Id(1), json!({})).unwrap(),
            CaptureInputError::InvalidName("user type".into()),
        ),
        (
            EntityUpdate::value_at(
                "user",
                EntityLocator::Id(1),
                AttributePath::root(),
                json!("not an object"),
            ),
            CaptureInputError::AttributesNotAnObject,
        ),
    ];
    for (update, expected) in cases {
        assert_eq!(
            input_error(client.update(&update).await.unwrap_err()),
            expected
        );
    }
    assert!(recorder.requests().is_empty());
    assert!(matches!(
        EntityUpdate::attributes("user", EntityLocator::Id(1), json!(["x"])),
        Err(CaptureInputError::AttributesNotAnObject)
    ));
    assert!(matches!(
        AttributePath::parse("/statuses#abc"),
        Err(CaptureInputError::InvalidAttributePath { .. })
    ));
}

#[test]
fn the_seed_s_broken_value_is_refused_with_the_reason() {
    let err = parse_json_value(r#"{"Gary Jackson"}"#).unwrap_err();
    let CaptureInputError::InvalidJson { text, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(text, r#"{"Gary Jackson"}"#);
    assert!(!reason.is_empty());
    assert!(
        err.to_string()
            .starts_with(r#"`{"Gary Jackson"}` is not valid JSON"#)
    );
}
