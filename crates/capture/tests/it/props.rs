//! Properties, with a bounded number of cases: the attribute path parser, the signer and
//! the response decoder never panic; valid paths survive a round trip; a signature
//! depends on every signed parameter and not on their order.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_capture::{AttributePath, CaptureAuth, CaptureClient, EntityLocator, EntityRead, sign};
use profile_core::secrecy::SecretString;
use profile_core::{ApiResponse, BaseUrl, RecordingTransport, RetryPolicy};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    // `client_id`, `client_secret` and `access_token` are never signed.
    proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,30}", 1..6).prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "client_id" | "client_secret" | "access_token"))
            .collect()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_parses_to_a_path_that_keeps_it_or_is_refused_as_a_bad_path(text in "\\PC{0,80}") {
        match AttributePath::parse(&text) {
            Ok(path) => {
                prop_assert_eq!(path.as_str(), text.as_str());
                prop_assert_eq!(AttributePath::parse(path.as_str()).unwrap(), path);
            }
            Err(error) => prop_assert!(
                matches!(error, profile_capture::CaptureInputError::InvalidAttributePath { .. }),
                "{error:?}"
            ),
        }
    }

    #[test]
    fn a_valid_path_survives_parsing(
        names in proptest::collection::vec(("[A-Za-z_][A-Za-z0-9_]{0,15}", proptest::option::of(1u64..1_000_000)), 1..5)
    ) {
        let text: String = names
            .iter()
            .map(|(name, id)| match id {
                Some(id) => format!("/{name}#{id}"),
                None => format!("/{name}"),
            })
            .collect();
        let path = AttributePath::parse(&text).unwrap();
        prop_assert_eq!(path.as_str(), text.as_str());
        prop_assert_eq!(path.segments().len(), names.len());
        prop_assert_eq!(path.ends_at_plural_element(), names.last().unwrap().1.is_some());
    }

    #[test]
    fn a_signature_ignores_order_and_depends_on_every_value(
        path in "/[a-z.]{1,20}",
        params in params(),
        secret in "[A-Za-z0-9]{1,40}",
        change in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!params.is_empty());
        let secret = SecretString::from(secret);
        let date = "2016-03-13 19:39:17";
        let signature = sign(&path, date, &params, &secret);
        let mut reversed = params.clone();
        reversed.reverse();
        prop_assert_eq!(&sign(&path, date, &reversed, &secret), &signature);
        let mut changed = params.clone();
        let i = change.index(changed.len());
        changed[i].1.push('!');
        prop_assert_ne!(sign(&path, date, &changed, &secret), signature);
    }

    #[test]
    fn any_answer_decodes_or_is_a_typed_error(
        status in 100u16..600,
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let transport = Arc::new(RecordingTransport::new());
        transport.push_response(
            ApiResponse::new(status, body).with_header("content-type", "application/json"),
        );
        let client = CaptureClient::builder(
            BaseUrl::parse("https://coolbikes.janraincapture.com").unwrap(),
            CaptureAuth::basic("im_a_client_id", "im_a_secret"),
        )
        .transport(transport)
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let read = EntityRead::new("user", EntityLocator::Id(5250));
        if let Err(error) = runtime.block_on(client.entity(&read)) {
            prop_assert!(!error.to_string().contains("im_a_secret"), "{}", error);
        }
    }

    #[test]
    fn a_rate_limit_is_read_from_the_capture_code_whatever_the_status(
        status in prop_oneof![Just(200u16), 400u16..600],
        code in prop_oneof![Just(510u32), 100u32..600],
    ) {
        let transport = Arc::new(RecordingTransport::new());
        transport.push_response(ApiResponse::json(
            status,
            &serde_json::json!({"stat": "error", "code": code, "error": "some_error"}),
        ));
        let client = CaptureClient::builder(
            BaseUrl::parse("https://coolbikes.janraincapture.com").unwrap(),
            CaptureAuth::basic("im_a_client_id", "im_a_secret"),
        )
        .transport(transport)
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let read = EntityRead::new("user", EntityLocator::Id(5250));
        let error = runtime.block_on(client.entity(&read)).unwrap_err();
        let code_text = code.to_string();
        prop_assert_eq!(error.vendor_code(), Some(code_text.as_str()));
        prop_assert_eq!(error.status(), Some(status));
        prop_assert_eq!(error.is_rate_limited(), code == 510);
    }
}
