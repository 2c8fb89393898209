//! Properties, with a bounded number of cases: the identifier query parser and the
//! response decoder never panic, and what is valid survives a round trip.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_core::{ApiResponse, RecordingTransport, RetryPolicy};
use profile_sunshine::{BaseUrl, IdentifierQuery, ProfileLocator, SunshineAuth, SunshineClient};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

fn client(transport: Arc<RecordingTransport>) -> SunshineClient {
    SunshineClient::builder(
        BaseUrl::parse("https://coolbikes.zendesk.com").unwrap(),
        SunshineAuth::api_token("devs@coolbikes.com", "token"),
    )
    .transport(transport)
    .retry(RetryPolicy::never())
    .build()
    .unwrap()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_parses_to_a_query_that_prints_back_or_is_refused_with_a_reason(text in "\\PC{0,80}") {
        match text.parse::<IdentifierQuery>() {
            Ok(query) => {
                // Four parts at least, and the printed query parses to the same.
                prop_assert!(text.matches(':').count() >= 3, "{text:?}");
                prop_assert_eq!(query.to_string().parse::<IdentifierQuery>().unwrap(), query);
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn a_valid_query_survives_display_and_parse(
        source in "[a-z][a-z0-9_]{0,39}",
        kind in "[a-z][a-z0-9_]{0,39}",
        id_type in "[a-z][a-z0-9_]{0,20}",
        value in "[^\\x00-\\x1f]{1,60}",
    ) {
        prop_assume!(source != "zendesk");
        // Zendesk trims an identifier's value: one with spaces around it is another value.
        prop_assume!(!value.trim().is_empty() && value.trim() == value);
        let query = IdentifierQuery::new(&source, &kind, &id_type, &value).unwrap();
        let again: IdentifierQuery = query.to_string().parse().unwrap();
        prop_assert_eq!(again.identifier_value(), value.as_str());
        prop_assert_eq!(again, query);
    }

    #[test]
    fn any_answer_decodes_or_is_a_typed_error(
        status in 100u16..600,
        body in proptest::collection::vec(any::<u8>(), 0..300),
        json in any::<bool>(),
    ) {
        let transport = Arc::new(RecordingTransport::new());
        let mut response = ApiResponse::new(status, body);
        if json {
            response = response.with_header("content-type", "application/json");
        }
        transport.push_response(response);
        let client = client(transport);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let query: IdentifierQuery = "coolbikes:rider:email:jdoe@example.com".parse().unwrap();
        let result = runtime.block_on(client.get_profile(&ProfileLocator::Identifier(query)));
        if let Err(error) = result {
            prop_assert!(!error.to_string().is_empty());
            prop_assert!(!error.to_string().contains("token"), "{}", error);
        }
    }
}
