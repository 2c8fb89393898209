//! The transport stack against injected faults, over real HTTP.

use profile_core::ClientSettings;
use std::time::Duration;

use profile_core::{HttpConfig, SendState};
use profile_sunshine::{ProfileContent, ProfileUpdate, RetryPolicy};

use crate::{builder, never_retrying, rider, seed_auth, setup};

#[tokio::test]
async fn transient_failures_are_retried_and_the_write_applied_once() {
    let (emulator, client) = setup().await;
    emulator.faults().fail_next(1, 503);
    emulator.faults().fail_next(1, 502);
    let outcome = client
        .create_or_replace(
            &rider(),
            &ProfileContent::new().attribute("saddle_height", "85cm"),
        )
        .await
        .unwrap();
    assert!(outcome.created);
    assert_eq!(emulator.faults().requests_seen(), 3);
    assert_eq!(emulator.profiles().len(), 1);
}

#[tokio::test]
async fn a_429_is_waited_out_for_its_retry_after() {
    let (emulator, client) = setup().await;
    emulator.faults().rate_limit_next(1, Duration::from_secs(1));
    let started = std::time::Instant::now();
    client
        .create_or_replace(&rider(), &ProfileContent::new().attribute("a", 1))
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(emulator.faults().requests_seen(), 2);
}

#[tokio::test]
async fn a_429_that_is_not_retried_carries_its_retry_after() {
    let (emulator, _) = setup().await;
    let client = never_retrying(&emulator);
    emulator
        .faults()
        .rate_limit_next(1, Duration::from_secs(30));
    let err = client.get_profile(&rider().into()).await.unwrap_err();
    assert!(err.is_rate_limited() && err.is_retryable());
    let after = err.retry_after().unwrap();
    assert!(
        after > Duration::from_secs(28) && after <= Duration::from_secs(30),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_dropped_connection_after_the_write_is_reported_as_maybe_sent() {
    let (emulator, _) = setup().await;
    let client = never_retrying(&emulator);
    emulator.faults().drop_next(1);
    let err = client
        .create_or_replace(&rider(), &ProfileContent::new().attribute("a", 1))
        .await
        .unwrap_err();
    assert_eq!(err.send_state(), SendState::MaybeSent, "{err:?}");
    // The emulator applied it before dropping the connection.
    assert_eq!(emulator.profiles().len(), 1);
}

#[tokio::test]
async fn an_idempotent_patch_is_resent_after_a_dropped_connection() {
    let (emulator, client) = setup().await;
    client
        .create_or_replace(
            &rider(),
            &ProfileContent::new().attribute("saddle_height", "85cm"),
        )
        .await
        .unwrap();
    emulator.faults().drop_next(1);
    let patched = client
        .patch_profile(
            &rider().into(),
            &ProfileUpdate::new().attribute("saddle_height", "87cm"),
        )
        .await
        .unwrap();
    assert_eq!(patched.attributes["saddle_height"], "87cm");
    assert_eq!(emulator.faults().requests_seen(), 3);
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_is_a_timeout() {
    let (emulator, _) = setup().await;
    let client = builder(&emulator, seed_auth())
        .retry(RetryPolicy::never())
        .http(HttpConfig::default().with_request_timeout(Duration::from_millis(200)))
        .build()
        .unwrap();
    emulator.faults().delay_next(1, Duration::from_millis(600));
    let err = client.get_profile(&rider().into()).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.send_state(), SendState::MaybeSent);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_without_reading_it_all() {
    let (emulator, client) = setup().await;
    let big = "x".repeat(64 * 1024);
    client
        .create_or_replace(&rider(), &ProfileContent::new().attribute("blob", big))
        .await
        .unwrap();
    let small = builder(&emulator, seed_auth())
        .http(HttpConfig::default().with_max_response_bytes(16 * 1024))
        .build()
        .unwrap();
    let err = small.get_profile(&rider().into()).await.unwrap_err();
    assert!(
        matches!(
            err,
            profile_core::Error::ResponseTooLarge { limit: 16384, .. }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_connect_error_and_nothing_was_sent() {
    let emulator = profile_emulator::sunshine::SunshineEmulator::start()
        .await
        .unwrap();
    let client = never_retrying(&emulator);
    drop(emulator);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = client.get_profile(&rider().into()).await.unwrap_err();
    assert_eq!(err.send_state(), SendState::NotSent, "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn the_client_side_rate_limit_spaces_requests() {
    let (emulator, _) = setup().await;
    let client = builder(&emulator, seed_auth())
        .rate_limit(profile_core::RateLimit::per_minute(600))
        .build()
        .unwrap();
    client
        .create_or_replace(&rider(), &ProfileContent::new().name("Jo"))
        .await
        .unwrap();
    let seen = emulator.faults().requests_seen();
    let started = std::time::Instant::now();
    for _ in 0..4 {
        let profile = client.get_profile(&rider().into()).await.unwrap();
        assert_eq!(profile.name.as_deref(), Some("Jo"));
    }
    // 600 a minute is one every 100 ms (101 with the margin): the fourth starts 303 ms
    // after the first, and each was sent once.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emulator.faults().requests_seen() - seen, 4);
}

#[tokio::test]
async fn an_answer_cut_short_is_sent_again_and_decoded_whole() {
    use profile_sunshine::ProfileLocator;

    let (emulator, client) = setup().await;
    let locator = ProfileLocator::Identifier(rider());
    client
        .create_or_replace(&rider(), &ProfileContent::new().attribute("a", 1))
        .await
        .unwrap();
    // A PATCH is idempotent: its answer cut in half after the write, it goes again.
    emulator.faults().truncate_next(1);
    let seen = emulator.faults().requests_seen();
    let profile = client
        .patch_profile(&locator, &ProfileUpdate::new().attribute("a", 2))
        .await
        .unwrap();
    // Zendesk keeps every attribute value as a string.
    assert_eq!(profile.attributes["a"], "2");
    assert_eq!(emulator.faults().requests_seen() - seen, 2);
    assert_eq!(emulator.faults().injected().truncated, 1);
    // Without retries the half answer is an error that says it may have been applied.
    let once = never_retrying(&emulator);
    emulator.faults().truncate_next(1);
    let error = once
        .patch_profile(&locator, &ProfileUpdate::new().attribute("a", 3))
        .await
        .unwrap_err();
    assert!(
        matches!(error, profile_core::Error::CutShort { status: 200, .. }),
        "{error:?}"
    );
    assert!(error.may_have_applied());
}

/// The tracing layer emits one `response` event per attempt, over real HTTP and over a
/// transport of the caller's alike: neither route loses the event or doubles it.
#[tokio::test(flavor = "current_thread")]
async fn every_attempt_leaves_one_trace_event_with_its_status() {
    let captured = profile_core::test_util::capture_traces().expect("no other global subscriber");
    let (emulator, client) = setup().await;
    emulator.faults().fail_next(1, 503);
    client
        .create_or_replace(&rider(), &ProfileContent::new().attribute("a", 1))
        .await
        .unwrap();
    let events = |operation: &str| -> Vec<String> {
        captured
            .text()
            .lines()
            .filter(|l| l.contains(" response ") && l.contains(operation))
            .map(str::to_owned)
            .collect()
    };
    let sent = events("operation=\"create_or_replace\"");
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent[0].contains("attempt=1") && sent[0].contains("status=503"));
    assert!(sent[1].contains("attempt=2") && sent[1].contains("status=201"));

    // The same through a base transport of the caller's (plain HTTP, handed in).
    let http = profile_core::HttpTransport::new(&HttpConfig::default()).unwrap();
    let own = builder(&emulator, seed_auth())
        .transport(std::sync::Arc::new(http))
        .build()
        .unwrap();
    own.get_profile(&rider().into()).await.unwrap();
    let read = events("operation=\"get_profile\"");
    assert_eq!(read.len(), 1, "{read:#?}");
    assert!(read[0].contains("status=200"));
}

/// Zendesk states the account's limit in every answer: the client starts at the smallest
/// plan's 250 a minute and follows it, up or down, without a single 429.
#[tokio::test]
async fn the_limit_zendesk_states_is_adopted_up_and_down_without_a_429() {
    use profile_emulator::sunshine::{SunshineConfig, SunshineEmulator, SunshinePlan};
    use profile_sunshine::{RateLimit, StatedLimit};

    async fn enforcing(config: SunshineConfig) -> SunshineEmulator {
        let emulator = SunshineEmulator::start_with(config, profile_emulator::loopback(0))
            .await
            .unwrap();
        let seed = json_rider();
        emulator.seed(&[seed]).unwrap();
        emulator
    }

    // Up: an Enterprise Plus account (1,000 a minute, 61 ms apart) with the default client
    // (250 a minute, 243 ms apart, until the first answer states 1,000).
    let emulator = enforcing(SunshineConfig::default().plan(SunshinePlan::EnterprisePlus)).await;
    let client = builder(&emulator, seed_auth()).build().unwrap();
    let started = std::time::Instant::now();
    for _ in 0..12 {
        client.get_profile(&rider().into()).await.unwrap();
    }
    let elapsed = started.elapsed();
    // From the first answer on, the adopted pace: eleven gaps of 61 ms.
    assert!(elapsed >= Duration::from_millis(11 * 60), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(11 * 242),
        "not adopted: {elapsed:?}"
    );
    assert_eq!(emulator.rate_limited(), 0);

    // Down: an account allowing 60 a minute, with a client that starts at 6,000.
    let emulator = enforcing(SunshineConfig::default().rate_limit_per_minute(60)).await;
    let client = builder(&emulator, seed_auth())
        .rate_limit(RateLimit::per_minute(6_000).following(StatedLimit::Adopt))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..4 {
        client.get_profile(&rider().into()).await.unwrap();
    }
    // One a second once the first answer said 60: three gaps of 1.01 s.
    assert!(
        started.elapsed() >= Duration::from_millis(3_030),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(emulator.rate_limited(), 0);
}

fn json_rider() -> serde_json::Value {
    serde_json::json!({
        "source": "coolbikes",
        "type": "rider",
        "identifiers": [{"type": "email", "value": "jdoe@example.com"}],
        "attributes": {"saddle_height": "85cm"}
    })
}
