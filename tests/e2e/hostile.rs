//! Hostile or broken servers: answers that are not JSON, JSON of the wrong shape, bodies
//! over the limit (declared or endless), a redirect to another host, a cursor that comes
//! back, a server that never answers, and bytes that are not HTTP. Every client call ends
//! in a typed error, within a bound of time, and nothing panics.
//!
//! The server here is a raw TCP listener on 127.0.0.1 writing exactly the bytes each case
//! needs, which no well-behaved HTTP framework would.

use profile_core::ClientSettings;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use profile_capture::{CaptureAuth, CaptureClient, EntityLocator, EntityRead};
use profile_core::{Error, HttpConfig, RetryPolicy};
use profile_lumapps::{LumAppsAuth, LumAppsClient, UserLocator};
use profile_sunshine::{BaseUrl, IdentifierQuery, ProfileLocator, SunshineAuth, SunshineClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with each connection.
#[derive(Clone)]
enum Answer {
    /// Writes these bytes, then closes.
    Bytes(Vec<u8>),
    /// Writes this head, then body chunks forever (until the client goes away).
    Endless(String),
    /// Never writes anything.
    Silence,
}

fn http(status: &str, content_type: &str, body: &str) -> Answer {
    Answer::Bytes(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A server answering every request with `answer(n)` (n counts requests from 0); returns
/// its base URL and the number of connections it accepted.
async fn server(
    answer: impl Fn(usize) -> Answer + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let answer = Arc::new(answer);
    let counter = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let answer = answer(n);
            tokio::spawn(serve(stream, answer));
        }
    });
    (base, count)
}

async fn serve(mut stream: TcpStream, answer: Answer) {
    // Read the request head and whatever body came with it; the content does not matter.
    let mut buffer = vec![0u8; 64 * 1024];
    let mut read = 0;
    while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer[read..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => read += n,
        }
        if read == buffer.len() {
            break;
        }
    }
    match answer {
        Answer::Bytes(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Answer::Endless(head) => {
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
            while stream.write_all(chunk.as_bytes()).await.is_ok() {}
        }
        Answer::Silence => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

/// Small limits, so that the bounds are reached quickly; no retries, so each case is one
/// request.
fn config() -> HttpConfig {
    HttpConfig::default()
        .with_request_timeout(Duration::from_millis(500))
        .with_max_response_bytes(64 * 1024)
}

fn sunshine(base: &str) -> SunshineClient {
    SunshineClient::builder(
        BaseUrl::parse(base).unwrap(),
        SunshineAuth::api_token(
            "devs@coolbikes.com",
            "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv",
        ),
    )
    .http(config())
    .retry(RetryPolicy::never())
    .build()
    .unwrap()
}

fn capture(base: &str) -> CaptureClient {
    CaptureClient::builder(
        BaseUrl::parse(base).unwrap(),
        CaptureAuth::basic("im_a_client_id", "im_a_secret"),
    )
    .http(config())
    .retry(RetryPolicy::never())
    .build()
    .unwrap()
}

fn lumapps(base: &str) -> LumAppsClient {
    LumAppsClient::builder(BaseUrl::parse(base).unwrap(), LumAppsAuth::token("tok"))
        .http(config())
        .retry(RetryPolicy::never())
        .build()
        .unwrap()
}

/// Runs one call of each vendor against a server answering with `answer`, each within
/// five seconds, and returns the three errors.
async fn each_vendor(
    answer: impl Fn(usize) -> Answer + Send + Sync + Clone + 'static,
) -> Vec<Error> {
    async fn bounded<T: std::fmt::Debug>(call: impl Future<Output = Result<T, Error>>) -> Error {
        tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .expect("the call ends in bounded time")
            .expect_err("the call fails")
    }
    let (base, _) = server(answer.clone()).await;
    let query: IdentifierQuery = "coolbikes:rider:email:jdoe@example.com".parse().unwrap();
    let sunshine = bounded(sunshine(&base).get_profile(&ProfileLocator::Identifier(query))).await;
    let (base, _) = server(answer.clone()).await;
    let read = EntityRead::new("user", EntityLocator::Id(5250));
    let capture = bounded(capture(&base).entity(&read)).await;
    let (base, _) = server(answer).await;
    let lumapps =
        bounded(lumapps(&base).get_user("d1", &UserLocator::Email("jdoe@customer.com".into())))
            .await;
    vec![sunshine, capture, lumapps]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_that_is_not_json_is_an_unexpected_response() {
    let errors = each_vendor(|_| http("200 OK", "text/html", "<html>maintenance</html>")).await;
    for error in errors {
        assert!(
            matches!(error, Error::UnexpectedResponse { status: 200, .. }),
            "{error:?}"
        );
        assert!(
            error.may_have_applied(),
            "an unreadable success is not proof of failure"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_of_the_wrong_shape_is_an_unexpected_response() {
    let errors = each_vendor(|_| http("200 OK", "application/json", "[1, 2, 3]")).await;
    for error in errors {
        assert!(
            matches!(error, Error::UnexpectedResponse { status: 200, .. }),
            "{error:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_declared_over_the_limit_is_not_read() {
    let errors = each_vendor(|_| {
        Answer::Bytes(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000000\r\n\r\n{"
                .to_vec(),
        )
    })
    .await;
    for error in errors {
        assert!(
            matches!(error, Error::ResponseTooLarge { limit: 65_536, .. }),
            "{error:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_body_is_cut_at_the_limit() {
    let errors = each_vendor(|_| {
        Answer::Endless(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_owned(),
        )
    })
    .await;
    for error in errors {
        assert!(
            matches!(error, Error::ResponseTooLarge { limit: 65_536, .. }),
            "{error:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_is_not_followed() {
    // The "other host" counts its visitors: our credentials must never reach it.
    let (elsewhere, visits) = server(|_| http("200 OK", "application/json", "{}")).await;
    let location = format!("{elsewhere}/steal");
    let errors = each_vendor(move |_| {
        Answer::Bytes(
            format!(
                "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .into_bytes(),
        )
    })
    .await;
    for error in errors {
        assert!(
            matches!(error, Error::UnexpectedResponse { status: 302, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("redirect"), "{error}");
    }
    assert_eq!(
        visits.load(Ordering::SeqCst),
        0,
        "nothing went to the other host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_a_timeout() {
    let errors = each_vendor(|_| Answer::Silence).await;
    for error in errors {
        assert!(error.is_timeout(), "{error:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_http_are_a_connection_error() {
    let errors = each_vendor(|_| Answer::Bytes(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec())).await;
    for error in errors {
        assert!(matches!(error, Error::Connection { .. }), "{error:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_comes_back_ends_the_listing_with_an_error() {
    // Pages of one user each; the cursors go a → b → a → … for ever.
    let (base, requests) = server(|n| {
        let cursor = if n % 2 == 0 { "a" } else { "b" };
        http(
            "200 OK",
            "application/json",
            &format!(r#"{{"items":[{{"id":"u{n}","email":"u{n}@customer.com"}}],"more":true,"cursor":"{cursor}"}}"#),
        )
    })
    .await;
    let users: Vec<Result<_, Error>> = tokio::time::timeout(
        Duration::from_secs(5),
        lumapps(&base).list_users("d1").collect(),
    )
    .await
    .expect("the listing ends");
    // Pages 1 (→ a) and 2 (→ b) are yielded; page 3 points back to a and ends it.
    assert_eq!(users.len(), 3, "two pages of users, then the error");
    assert!(users[..2].iter().all(Result::is_ok));
    assert!(
        matches!(users[2], Err(Error::RepeatedCursor { .. })),
        "{:?}",
        users[2]
    );
    assert_eq!(requests.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_http_cannot_carry_is_refused_before_anything_is_sent() {
    use profile_core::{ApiRequest, HeaderValue, HttpTransport, Method, Transport};

    let (base, connections) = server(|_| http("200 OK", "application/json", "{}")).await;
    let base = BaseUrl::parse(&base).unwrap();
    let transport = HttpTransport::new(&config()).unwrap();
    let request = || ApiRequest::new("test", "op", Method::Get, &base, "/x");
    let refused = [
        // A line break in a value fixed in the program, in one built at run time, in a
        // credential; a space in a name.
        request().header("x-fixed", "a\r\nb"),
        request().header("x-built", format!("a\n{}", "b")),
        request().header("authorization", HeaderValue::secret("Bearer a\nb")),
        request().header("bad name", "a"),
    ];
    for request in refused {
        let error = transport.send(&request).await.unwrap_err();
        assert!(error.is_invalid_input(), "{error:?}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
    // The same shapes with values HTTP carries go out.
    let sent = request()
        .header("x-fixed", "a")
        .header("x-built", format!("a{}", "b"))
        .header("authorization", HeaderValue::secret("Bearer ab"));
    assert_eq!(transport.send(&sent).await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_answered_by_a_success_that_does_not_parse_is_sent_again() {
    // A maintenance page first, then the profile.
    let (base, requests) = server(|n| {
        if n == 0 {
            http("200 OK", "text/html", "<html>maintenance</html>")
        } else {
            http(
                "200 OK",
                "application/json",
                r#"{"profile": {"id": "p1", "source": "coolbikes", "type": "rider", "identifiers": [], "attributes": {}}}"#,
            )
        }
    })
    .await;
    let client = SunshineClient::builder(
        BaseUrl::parse(&base).unwrap(),
        SunshineAuth::api_token(
            "devs@coolbikes.com",
            "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv",
        ),
    )
    .http(config())
    .retry(RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(20)))
    .build()
    .unwrap();
    let query: IdentifierQuery = "coolbikes:rider:email:jdoe@example.com".parse().unwrap();
    let profile = client
        .get_profile(&ProfileLocator::Identifier(query))
        .await
        .unwrap();
    assert_eq!(profile.id, "p1");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_of_eleven_days_holds_the_requests_behind_it_two_seconds_at_most() {
    use profile_core::RateLimit;
    // Every answer a 429 that asks for 999,999 seconds.
    let (base, requests) = server(|_| {
        Answer::Bytes(
            b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 999999\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                .to_vec(),
        )
    })
    .await;
    let client = SunshineClient::builder(
        BaseUrl::parse(&base).unwrap(),
        SunshineAuth::api_token(
            "devs@coolbikes.com",
            "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv",
        ),
    )
    .http(config())
    .retry(RetryPolicy::default().with_max_retry_after(Duration::from_secs(2)))
    .rate_limit(RateLimit::per_minute(6_000))
    .build()
    .unwrap();
    let query: IdentifierQuery = "coolbikes:rider:email:jdoe@example.com".parse().unwrap();
    let started = std::time::Instant::now();
    for _ in 0..2 {
        let error = tokio::time::timeout(
            Duration::from_secs(10),
            client.get_profile(&ProfileLocator::Identifier(query.clone())),
        )
        .await
        .expect("no eleven-day wait")
        .unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
    }
    // The first call ends at once (the wait asked is over the policy's bound); the second
    // waited for the bound, not for what the vendor said.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_whose_reads_answer_pages_that_do_not_parse_fails_the_row_and_never_says_applied() {
    use profile_core::KeyKind;
    use profile_sunshine::SunshineUpdater;
    use profile_sync::input::{Format, InputOptions};
    use profile_sync::mapping::Mapping;
    use profile_sync::source::FileSource;
    use profile_sync::store::{MemoryState, ScopeKey};
    use profile_sync::{Night, SyncOptions};

    let (base, requests) =
        server(|_| http("200 OK", "text/html", "<html>maintenance</html>")).await;
    let client = SunshineClient::builder(
        BaseUrl::parse(&base).unwrap(),
        SunshineAuth::api_token(
            "devs@coolbikes.com",
            "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv",
        ),
    )
    .http(config())
    .retry(RetryPolicy::default().with_backoff(Duration::from_millis(5), Duration::from_millis(20)))
    .build()
    .unwrap();
    let path = std::env::temp_dir().join(format!("hostile-night-{}.csv", std::process::id()));
    std::fs::write(&path, "email,saddle\njdoe@example.com,87cm\n").unwrap();
    let mut source = FileSource::open(&path, InputOptions::new(Format::Csv)).unwrap();
    let mapping = Mapping::from_flags(
        "email",
        KeyKind::Email,
        &[("saddle".into(), "attributes.saddle_height".into())],
    )
    .unwrap();
    let scope = ScopeKey {
        vendor: "sunshine".into(),
        base_url: base.clone(),
        name: "source=coolbikes;type=rider".into(),
        key_kind: "email".into(),
    };
    let report = Night::new(
        Arc::new(SunshineUpdater::new(client, "coolbikes", "rider")),
        Arc::new(MemoryState::new()),
        scope,
        mapping,
    )
    .options(SyncOptions::default())
    .run(&mut source, |_| {})
    .await
    .unwrap();
    let _ = std::fs::remove_file(&path);
    // The read was sent again (it is idempotent), then failed: nothing was written.
    assert!(requests.load(Ordering::SeqCst) > 1);
    assert_eq!((report.summary.failed, report.summary.unknown), (1, 0));
    assert!(
        report.failures[0].detail.starts_with("the read failed"),
        "{:?}",
        report.failures
    );
}
