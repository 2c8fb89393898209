//! What every vendor client is built from: one configuration whose setters are written
//! once ([`ClientSettings`]), and the client core ([`ApiClient`]) whose retry loop sends,
//! reads and decides.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::Instrument;

use crate::retry::{AttemptOutcome, RetryDecision, RetryPolicy, decide};
use crate::time::{Clock, Jitter, Sleep, SystemClock, TokioSleep};
use crate::{
    ApiRequest, ApiResponse, Error, HttpConfig, HttpTransport, Method, RateLimit,
    RateLimitTransport, TracingTransport, Transport,
};

/// The settings every vendor client shares: retry policy, rate limit, HTTP settings (or a
/// transport of your own), clock, sleep and jitter. Each vendor builder holds one, with
/// that vendor's defaults, and offers its setters through [`ClientSettings`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    http: HttpConfig,
    transport: Option<Arc<dyn Transport>>,
    retry: RetryPolicy,
    rate_limit: RateLimit,
    clock: Arc<dyn Clock>,
    sleep: Arc<dyn Sleep>,
    jitter: Option<Arc<Jitter>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            http: HttpConfig::default(),
            transport: None,
            retry: RetryPolicy::default(),
            rate_limit: RateLimit::unlimited(),
            clock: Arc::new(SystemClock),
            sleep: Arc::new(TokioSleep),
            jitter: None,
        }
    }
}

impl ClientConfig {
    /// The defaults: real HTTP, [`RetryPolicy::default`], no rate limit, the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// The clock the client reads (for `Retry-After` dates and request signatures).
    pub fn clock_ref(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Assembles the client: `rate limit → tracing → HTTP` (or your transport) under the
    /// retry loop. Retry sits outside the rate limit so that every resend waits for its own
    /// slot; tracing sits right on the wire so that its timings are the vendor's.
    pub fn build(self) -> Result<ApiClient, Error> {
        let base: Arc<dyn Transport> = match self.transport {
            Some(transport) => transport,
            None => Arc::new(HttpTransport::new(&self.http)?),
        };
        let traced = TracingTransport::new(base);
        let transport: Arc<dyn Transport> = if self.rate_limit == RateLimit::unlimited() {
            Arc::new(traced)
        } else {
            Arc::new(
                RateLimitTransport::new(traced, self.rate_limit)
                    .with_max_hold(self.retry.max_retry_after),
            )
        };
        Ok(ApiClient {
            transport,
            retry: self.retry,
            clock: self.clock,
            sleep: self.sleep,
            jitter: self.jitter.unwrap_or_else(|| Arc::new(Jitter::from_time())),
            sent: Arc::default(),
        })
    }
}

/// The setters every vendor client builder shares, written once. A vendor builder only
/// says where its [`ClientConfig`] is.
pub trait ClientSettings: Sized {
    /// The configuration the setters change.
    fn config_mut(&mut self) -> &mut ClientConfig;

    /// The retry policy (default: [`RetryPolicy::default`]).
    fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config_mut().retry = policy;
        self
    }

    /// The client-side rate limit (each vendor documents its default).
    fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.config_mut().rate_limit = limit;
        self
    }

    /// Timeouts, body limits and user agent of the HTTP transport.
    fn http(mut self, config: HttpConfig) -> Self {
        self.config_mut().http = config;
        self
    }

    /// Sends through this transport instead of real HTTP (a proxy of your own, a recorder
    /// in tests); the rate limit, tracing and the retry loop still wrap it.
    fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.config_mut().transport = Some(transport);
        self
    }

    /// The clock read for `Retry-After` dates and request signatures (default: the system's).
    fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.config_mut().clock = clock;
        self
    }

    /// How the retry loop waits (default: tokio's timer).
    fn sleep(mut self, sleep: Arc<dyn Sleep>) -> Self {
        self.config_mut().sleep = sleep;
        self
    }

    /// The jitter of the backoff (a seeded one makes delays repeatable).
    fn jitter(mut self, jitter: Arc<Jitter>) -> Self {
        self.config_mut().jitter = Some(jitter);
        self
    }
}

impl ClientSettings for ClientConfig {
    fn config_mut(&mut self) -> &mut ClientConfig {
        self
    }
}

/// The core every vendor client holds: its transport stack and the retry loop.
///
/// Cheap to clone; clones share connections and the rate limit.
#[derive(Clone)]
pub struct ApiClient {
    transport: Arc<dyn Transport>,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    sleep: Arc<dyn Sleep>,
    jitter: Arc<Jitter>,
    /// Attempts handed to the transport, by this client and its clones.
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("retry", &self.retry)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// The client's clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// Requests this client and its clones have handed to the transport so far, each
    /// attempt of a retried call counted.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends `request` once through the stack (rate limit, tracing), without retrying or
    /// reading the answer: for printing a raw exchange.
    pub async fn send_once(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.transport.send(request).await
    }

    /// Sends `request` and reads each answer with `read` (handed the answer and the
    /// client's clock's now), sending again when the outcome says so.
    ///
    /// The decision reads the typed error (see [`AttemptOutcome::of`] and
    /// [`decide`]): a rate limit is waited out, a vendor failing for now or an answer cut
    /// short is sent again only when the request is idempotent, a request that never left
    /// is sent again. Each answer is read once, here. When the loop stops after an attempt
    /// that may have been applied, the error it returns says so
    /// ([`Error::may_have_applied`]).
    pub async fn execute<T, R>(&self, request: &ApiRequest, read: R) -> Result<T, Error>
    where
        T: Send,
        R: Fn(&ApiResponse, SystemTime) -> Result<T, Error> + Sync,
    {
        let mut attempt = 1;
        // Whether an attempt that was sent again may have been applied.
        let mut uncertain = false;
        loop {
            self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let sent = self
                .transport
                .send(request)
                .instrument(tracing::debug_span!("attempt", attempt))
                .await;
            let result = sent.and_then(|response| read(&response, self.clock.now()));
            let outcome = match &result {
                Ok(_) => return result,
                Err(error) => AttemptOutcome::of(error),
            };
            let decision = decide(
                &self.retry,
                attempt,
                request.idempotency_kind(),
                outcome,
                self.jitter.next_unit(),
                self.clock.now(),
            );
            match decision {
                RetryDecision::Retry { delay } => {
                    tracing::debug!(
                        vendor = request.vendor(),
                        operation = request.operation(),
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        ?outcome,
                        "retrying"
                    );
                    uncertain |= matches!(
                        outcome,
                        AttemptOutcome::MaybeSent | AttemptOutcome::Transient(_)
                    );
                    drop(result);
                    self.sleep.sleep(delay).await;
                    attempt += 1;
                }
                RetryDecision::Stop(reason) => {
                    if attempt > 1 || !matches!(outcome, AttemptOutcome::Done) {
                        tracing::debug!(
                            vendor = request.vendor(),
                            operation = request.operation(),
                            attempt,
                            ?reason,
                            "not retrying"
                        );
                    }
                    if uncertain && request.method() != Method::Get {
                        return result.map_err(Error::after_uncertain_attempts);
                    }
                    return result;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{BaseUrl, Idempotency, RecordingTransport, SendState};

    fn request(idempotency: Idempotency) -> ApiRequest {
        let base = BaseUrl::parse("https://example.com").unwrap();
        ApiRequest::new("test", "op", Method::Post, &base, "/x").idempotency(idempotency)
    }

    fn client(recorder: &Arc<RecordingTransport>) -> ApiClient {
        let policy = RetryPolicy::default()
            .with_max_attempts(4)
            .with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        ClientConfig::new()
            .transport(recorder.clone())
            .retry(policy)
            .jitter(Arc::new(Jitter::seeded(7)))
            .build()
            .unwrap()
    }

    /// Reads an answer the way a vendor crate does: a success's JSON body (if any) is
    /// decoded, any other answer is an error read by status.
    async fn run(client: &ApiClient, request: &ApiRequest) -> Result<u16, Error> {
        client
            .execute(request, |response, now| {
                if response.is_success() {
                    if !response.body().is_empty() {
                        response.decode::<serde_json::Value>(request)?;
                    }
                    return Ok(response.status());
                }
                let (error, _) = response.read_error(request, now, &["x-request-id"])?;
                Err(error.into())
            })
            .await
    }

    fn maybe_sent() -> Error {
        Error::Connection {
            vendor: "test",
            operation: "op",
            source: "connection reset".into(),
        }
    }

    fn not_sent() -> Error {
        Error::Connect {
            vendor: "test",
            operation: "op",
            source: "connection refused".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_statuses_are_retried_until_success_within_the_backoff_ceilings() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_response(ApiResponse::new(503, ""))
            .push_response(ApiResponse::new(502, ""))
            .push_response(ApiResponse::new(200, ""));
        let started = tokio::time::Instant::now();
        let status = run(&client(&recorder), &request(Idempotency::Idempotent)).await;
        assert_eq!(status.unwrap(), 200);
        assert_eq!(recorder.requests().len(), 3);
        // Full jitter: the two waits lie under the ceilings of 100 ms and 200 ms.
        assert!(started.elapsed() <= Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_after_an_attempt_that_may_have_arrived_says_so() {
        // Dropped after the write, then refused until the attempts run out: the last answer
        // is a 429, but the first attempt may have been applied.
        let recorder = Arc::new(RecordingTransport::new());
        recorder.push_error(maybe_sent());
        for _ in 0..3 {
            recorder.push_response(ApiResponse::new(429, ""));
        }
        let error = run(&client(&recorder), &request(Idempotency::Idempotent))
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(429));
        assert!(error.may_have_applied());
        assert!(error.api_error().unwrap().earlier_attempt_may_have_applied);

        // Could not connect at the end: not "nothing was sent" either.
        let recorder = Arc::new(RecordingTransport::new());
        recorder.push_response(ApiResponse::new(503, ""));
        for _ in 0..3 {
            recorder.push_error(not_sent());
        }
        let error = run(&client(&recorder), &request(Idempotency::Idempotent))
            .await
            .unwrap_err();
        assert_eq!(error.send_state(), SendState::MaybeSent);
        assert!(error.may_have_applied());

        // Refusals alone prove nothing was applied; and a read never applies anything.
        let recorder = Arc::new(RecordingTransport::new());
        for _ in 0..4 {
            recorder.push_response(ApiResponse::new(429, ""));
        }
        let error = run(&client(&recorder), &request(Idempotency::Idempotent))
            .await
            .unwrap_err();
        assert!(error.is_rate_limited() && !error.may_have_applied());
        let recorder = Arc::new(RecordingTransport::new());
        recorder.push_error(maybe_sent());
        for _ in 0..3 {
            recorder.push_response(ApiResponse::new(429, ""));
        }
        let base = BaseUrl::parse("https://example.com").unwrap();
        let read = ApiRequest::new("test", "op", Method::Get, &base, "/x");
        let error = run(&client(&recorder), &read).await.unwrap_err();
        assert!(error.is_rate_limited() && !error.may_have_applied());
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_for_exactly() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_response(ApiResponse::new(429, "").with_header("Retry-After", "7"))
            .push_response(ApiResponse::new(200, ""));
        let started = tokio::time::Instant::now();
        run(&client(&recorder), &request(Idempotency::NotIdempotent))
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(7));
        assert_eq!(recorder.requests().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_503_with_retry_after_is_waited_out_as_a_429_is() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_response(ApiResponse::new(503, "").with_header("Retry-After", "5"))
            .push_response(ApiResponse::new(200, ""));
        let started = tokio::time::Instant::now();
        run(&client(&recorder), &request(Idempotency::Idempotent))
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        assert_eq!(recorder.requests().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_date_is_read_with_the_injected_clock() {
        use crate::time::FixedClock;
        // The vendor asks for a date 9 s after the client's (fixed) now.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_471);
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_response(
                ApiResponse::new(429, "")
                    .with_header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
            )
            .push_response(ApiResponse::new(200, ""));
        let client = ClientConfig::new()
            .transport(recorder.clone())
            .clock(Arc::new(FixedClock(now)))
            .build()
            .unwrap();
        let started = tokio::time::Instant::now();
        run(&client, &request(Idempotency::NotIdempotent))
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(9));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_is_not_idempotent_is_never_resent_once_it_may_have_arrived() {
        let cut_short = ApiResponse::new(200, r#"{"id":"1","name":"Jo"#);
        for first in [
            Err(maybe_sent()),
            Ok(ApiResponse::new(503, "")),
            Ok(cut_short),
        ] {
            let recorder = Arc::new(RecordingTransport::new());
            match first {
                Ok(r) => recorder.push_response(r),
                Err(e) => recorder.push_error(e),
            };
            recorder.push_response(ApiResponse::new(200, ""));
            let error = run(&client(&recorder), &request(Idempotency::NotIdempotent))
                .await
                .unwrap_err();
            assert!(error.may_have_applied(), "{error}");
            assert_eq!(recorder.requests().len(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idempotent_request_is_resent_after_a_dropped_connection_or_an_answer_cut_short() {
        let cut_short = ApiResponse::new(200, r#"{"id":"1","name":"Jo"#);
        for first in [Err(maybe_sent()), Ok(cut_short)] {
            let recorder = Arc::new(RecordingTransport::new());
            match first {
                Ok(r) => recorder.push_response(r),
                Err(e) => recorder.push_error(e),
            };
            recorder.push_response(ApiResponse::new(200, r#"{"id":"1"}"#));
            let status = run(&client(&recorder), &request(Idempotency::Idempotent)).await;
            assert_eq!(status.unwrap(), 200);
            assert_eq!(recorder.requests().len(), 2);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn any_request_is_resent_when_nothing_left_the_machine() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_error(not_sent())
            .push_response(ApiResponse::new(200, ""));
        run(&client(&recorder), &request(Idempotency::NotIdempotent))
            .await
            .unwrap();
        assert_eq!(recorder.requests().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_input_well_formed_surprises_and_final_answers_are_not_retried() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder.push_error(Error::invalid_input("bad header"));
        let error = run(&client(&recorder), &request(Idempotency::Idempotent)).await;
        assert!(error.unwrap_err().is_invalid_input());
        recorder.push_response(ApiResponse::new(404, ""));
        let error = run(&client(&recorder), &request(Idempotency::Idempotent)).await;
        assert!(error.unwrap_err().is_not_found());
        // A success the reader cannot read, for a request that is not idempotent: it may
        // have been applied, so it is reported, not sent again.
        recorder.push_response(ApiResponse::new(200, "not json"));
        let error = run(&client(&recorder), &request(Idempotency::NotIdempotent)).await;
        assert!(matches!(
            error.unwrap_err(),
            Error::UnexpectedResponse { status: 200, .. }
        ));
        assert_eq!(recorder.requests().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idempotent_request_answered_by_an_unreadable_success_is_sent_again() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_response(ApiResponse::new(200, "<html>maintenance</html>"))
            .push_response(ApiResponse::new(200, r#"{"id":"1"}"#));
        let status = run(&client(&recorder), &request(Idempotency::Idempotent)).await;
        assert_eq!(status.unwrap(), 200);
        assert_eq!(recorder.requests().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_answer_is_returned_when_attempts_run_out() {
        let recorder = Arc::new(RecordingTransport::new());
        for _ in 0..5 {
            recorder.push_response(ApiResponse::new(503, ""));
        }
        let error = run(&client(&recorder), &request(Idempotency::Idempotent))
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(503));
        assert_eq!(recorder.requests().len(), 4);
    }
}
