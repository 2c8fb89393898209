//! Properties, with a bounded number of cases: whatever the answer, it decodes or is a
//! typed error, and LumApps' rate limit is read from its status or its message.

use std::sync::Arc;

use profile_core::{ApiResponse, ClientSettings, RecordingTransport, RetryPolicy};
use profile_lumapps::{BaseUrl, LumAppsAuth, LumAppsClient, UserLocator};
use proptest::prelude::*;
use serde_json::json;

fn client_answering(response: ApiResponse) -> LumAppsClient {
    let transport = Arc::new(RecordingTransport::new());
    transport.push_response(response);
    LumAppsClient::builder(
        BaseUrl::parse("https://go-cell-001.api.lumapps.com").unwrap(),
        LumAppsAuth::token("a-bearer-token"),
    )
    .transport(transport)
    .retry(RetryPolicy::never())
    .build()
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_answer_decodes_or_is_a_typed_error(
        status in 100u16..600,
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let client = client_answering(
            ApiResponse::new(status, body).with_header("content-type", "application/json"),
        );
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let user = UserLocator::Email("jdoe@customer.com".into());
        if let Err(error) = runtime.block_on(client.get_user("d1", &user)) {
            prop_assert!(!error.to_string().contains("a-bearer-token"), "{}", error);
        }
    }

    #[test]
    fn a_rate_limit_is_read_from_its_status_or_its_message(
        status in 400u16..600,
        message in "\\PC{0,40}",
        limited in any::<bool>(),
    ) {
        let message = if limited {
            format!("{message}RATE_LIMIT_EXCEEDED")
        } else {
            message.replace("RATE_LIMIT_EXCEEDED", "")
        };
        let body = json!({"error": {"code": status, "message": message}});
        let client = client_answering(ApiResponse::json(status, &body));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let user = UserLocator::Email("jdoe@customer.com".into());
        let error = runtime.block_on(client.get_user("d1", &user)).unwrap_err();
        prop_assert_eq!(error.status(), Some(status));
        prop_assert_eq!(error.is_rate_limited(), status == 429 || (status == 400 && limited));
        prop_assert_eq!(error.api_error().and_then(|e| e.message.clone()), Some(message));
    }
}
