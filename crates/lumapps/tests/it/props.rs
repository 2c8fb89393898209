//! Properties, with a bounded number of cases: the response decoder and classifier never
//! panic, whatever the answer.

use std::sync::Arc;

use profile_core::{ApiResponse, RecordingTransport, RetryPolicy};
use profile_lumapps::{BaseUrl, LumAppsAuth, LumAppsClient, UserLocator};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_answer_decodes_or_is_a_typed_error(
        status in 100u16..600,
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let transport = Arc::new(RecordingTransport::new());
        transport.push_response(
            ApiResponse::new(status, body).with_header("content-type", "application/json"),
        );
        let client = LumAppsClient::builder(
            BaseUrl::parse("https://go-cell-001.api.lumapps.com").unwrap(),
            LumAppsAuth::token("a-bearer-token"),
        )
        .transport(transport)
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let user = UserLocator::Email("jdoe@customer.com".into());
        if let Err(error) = runtime.block_on(client.get_user("d1", &user)) {
            prop_assert!(!error.to_string().contains("a-bearer-token"), "{}", error);
        }
    }

    #[test]
    fn the_classifier_takes_any_answer(status in 100u16..600, body in "\\PC{0,200}") {
        let _ = profile_lumapps::classify(&ApiResponse::new(status, body));
    }
}
