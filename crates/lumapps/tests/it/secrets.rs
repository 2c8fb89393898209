//! No client secret or token shows in traces (at TRACE), errors or Debug output, through a
//! token exchange, a refresh after 401, faults and failures.

use profile_emulator::lumapps::{DEMO_CLIENT, DEMO_TOKEN, SEED_CUSTOMER, SEED_DIRECTORY};
use profile_lumapps::{LumAppsAuth, UserLocator};

use crate::{builder, setup};

#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_traces_errors_or_debug() {
    let traces = profile_core::test_util::capture_traces().expect("no other global subscriber");
    let (emulator, _) = setup().await;
    let me = UserLocator::Email("me@customer.com".into());
    let app = builder(
        &emulator,
        LumAppsAuth::application(
            SEED_CUSTOMER,
            DEMO_CLIENT.0,
            DEMO_CLIENT.1,
            "me@customer.com",
        ),
    )
    .build()
    .unwrap();
    emulator.faults().fail_next(1, 503);
    app.get_user(SEED_DIRECTORY, &me).await.unwrap();
    emulator.revoke_tokens();
    app.get_user(SEED_DIRECTORY, &me).await.unwrap();
    let mut seen = vec![format!("{app:?}")];
    let bearer = builder(&emulator, LumAppsAuth::token(DEMO_TOKEN))
        .build()
        .unwrap();
    let wrong = builder(
        &emulator,
        LumAppsAuth::application(
            SEED_CUSTOMER,
            DEMO_CLIENT.0,
            "bad-secret-value",
            "me@customer.com",
        ),
    )
    .build()
    .unwrap();
    for err in [
        bearer
            .get_user(
                SEED_DIRECTORY,
                &UserLocator::Email("nobody@customer.com".into()),
            )
            .await
            .unwrap_err(),
        wrong.get_user(SEED_DIRECTORY, &me).await.unwrap_err(),
    ] {
        seen.push(err.to_string());
        seen.push(format!("{err:?}"));
    }
    seen.push(format!("{bearer:?}"));
    let logs = traces.text();
    assert!(
        logs.contains("operation=\"application_token\"") && logs.contains("status=401"),
        "{logs}"
    );
    // Personal data stays out of the logs: query strings and bodies are never traced.
    assert!(!logs.contains("me@customer.com"), "{logs}");
    seen.push(logs);
    for text in &seen {
        for secret in [
            DEMO_CLIENT.1,
            DEMO_TOKEN,
            "bad-secret-value",
            "lumapps-token-",
        ] {
            assert!(!text.contains(secret), "leaks {secret:?}:\n{text}");
        }
    }
}
