//! No credential, token or signature shows in traces (at TRACE), errors or Debug output.

use profile_capture::{CaptureAuth, CaptureErrorKind, EntityLocator, EntityUpdate};
use profile_emulator::capture::{DEMO_ACCESS_TOKEN, SEED_CLIENT_1};
use serde_json::json;

use crate::{builder, setup};

#[tokio::test(flavor = "current_thread")]
async fn no_secret_in_traces_errors_or_debug() {
    let traces = profile_core::test_util::capture_traces().expect("no other global subscriber");
    let (emulator, _) = setup().await;
    let mut seen = Vec::new();
    for auth in [
        CaptureAuth::basic(SEED_CLIENT_1.0, SEED_CLIENT_1.1),
        CaptureAuth::oauth(DEMO_ACCESS_TOKEN),
        CaptureAuth::signed(SEED_CLIENT_1.0, SEED_CLIENT_1.1),
        CaptureAuth::signed(SEED_CLIENT_1.0, "wrong-secret-value"),
    ] {
        let client = builder(&emulator, auth).build().unwrap();
        emulator.faults().fail_next(1, 503);
        let update =
            EntityUpdate::attributes("user", EntityLocator::Id(5254), json!({"givenName": "G"}))
                .unwrap();
        let request = client.requests().update(&update).unwrap();
        seen.push(format!("{client:?}"));
        seen.push(request.render());
        seen.push(format!("{request:?}"));
        match client.update(&update).await {
            Ok(_) => {}
            Err(err) => {
                assert_eq!(
                    CaptureErrorKind::of(&err),
                    Some(CaptureErrorKind::SignatureDoesNotMatch)
                );
                seen.push(err.to_string());
                seen.push(format!("{err:?}"));
            }
        }
    }
    let logs = traces.text();
    assert!(
        logs.contains("vendor=\"capture\"") && logs.contains("status=503"),
        "{logs}"
    );
    seen.push(logs);
    let basic = "dXQ0YmdycmE3dzI4MmpjZm15cGZxeDlwemhxaGpqMmI6";
    for text in &seen {
        for secret in [
            SEED_CLIENT_1.1,
            DEMO_ACCESS_TOKEN,
            "wrong-secret-value",
            "Signature ",
            basic,
            "c2dueXZ1czZwYzRqbTdraHIybmVxNWdzODlnYnIyZXE6",
        ] {
            assert!(!text.contains(secret), "leaks {secret:?}:\n{text}");
        }
    }
}
