use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tracing::Instrument;

use super::{ReadBody, Transport, read_success};
use crate::retry::{
    AttemptOutcome, ResponseClassifier, RetryDecision, RetryPolicy, classify_by_status, decide,
};
use crate::time::{Clock, Jitter, Sleep, SystemClock, TokioSleep};
use crate::{ApiRequest, ApiResponse, Error, Method, SendState};

/// Sends a request again when [`decide`] says so, sleeping in between.
///
/// Each attempt runs inside a `tracing` span `attempt` carrying its number, so the events
/// of the layers below say which attempt they belong to.
pub struct RetryTransport<T> {
    inner: T,
    policy: RetryPolicy,
    classifier: ResponseClassifier,
    clock: Arc<dyn Clock>,
    sleep: Arc<dyn Sleep>,
    jitter: Arc<Jitter>,
}

impl<T: Transport> RetryTransport<T> {
    /// Wraps `inner` with `policy`, classifying responses by HTTP status.
    pub fn new(inner: T, policy: RetryPolicy) -> Self {
        Self {
            inner,
            policy,
            classifier: classify_by_status,
            clock: Arc::new(SystemClock),
            sleep: Arc::new(TokioSleep),
            jitter: Arc::new(Jitter::from_time()),
        }
    }

    /// Uses a vendor's own reading of responses (for errors hidden in 200 bodies).
    pub fn with_classifier(mut self, classifier: ResponseClassifier) -> Self {
        self.classifier = classifier;
        self
    }

    /// Uses another clock (for `Retry-After` dates).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses another way of waiting.
    pub fn with_sleep(mut self, sleep: Arc<dyn Sleep>) -> Self {
        self.sleep = sleep;
        self
    }

    /// Uses another jitter source (a seeded one makes delays repeatable).
    pub fn with_jitter(mut self, jitter: Arc<Jitter>) -> Self {
        self.jitter = jitter;
        self
    }
}

impl<T: fmt::Debug> fmt::Debug for RetryTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryTransport")
            .field("policy", &self.policy)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<T: Transport> Transport for RetryTransport<T> {
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        self.attempts(request, None).await
    }

    async fn send_reading(
        &self,
        request: &ApiRequest,
        read: &mut ReadBody<'_>,
    ) -> Result<ApiResponse, Error> {
        self.attempts(request, Some(read)).await
    }
}

impl<T: Transport> RetryTransport<T> {
    /// Sends until an answer is final, handing each successful one to `read` (if any)
    /// before judging it.
    async fn attempts(
        &self,
        request: &ApiRequest,
        mut read: Option<&mut ReadBody<'_>>,
    ) -> Result<ApiResponse, Error> {
        let mut attempt = 1;
        // Whether an attempt that was sent again may have been applied.
        let mut uncertain = false;
        loop {
            let mut result = self
                .inner
                .send(request)
                .instrument(tracing::debug_span!("attempt", attempt))
                .await;
            if let (Ok(response), Some(read)) = (&mut result, read.as_mut()) {
                read_success(response, read);
            }
            let outcome = match &result {
                Ok(response) => (self.classifier)(response),
                Err(error) => match error.send_state() {
                    SendState::NotSent if !error.is_invalid_input() => AttemptOutcome::NotSent,
                    SendState::MaybeSent => AttemptOutcome::MaybeSent,
                    _ => AttemptOutcome::Done,
                },
            };
            // The common case, a final answer the first time, needs no decision (and no
            // clock or jitter read for one).
            if attempt == 1 && matches!(outcome, AttemptOutcome::Done) {
                return result;
            }
            let decision = decide(
                &self.policy,
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
                        return after_uncertain_attempts(request, result);
                    }
                    return result;
                }
            }
        }
    }
}

/// The last attempt's result, saying that an earlier one may have been applied: a caller
/// must not take "refused" or "could not connect" for "nothing happened".
fn after_uncertain_attempts(
    request: &ApiRequest,
    result: Result<ApiResponse, Error>,
) -> Result<ApiResponse, Error> {
    match result {
        Ok(mut response) => {
            response.mark_earlier_attempt_may_have_applied();
            Ok(response)
        }
        Err(error) if !error.may_have_applied() && !error.is_invalid_input() => {
            Err(Error::Connection {
                vendor: request.vendor(),
                operation: request.operation(),
                source: format!("an earlier attempt may have been applied; the last: {error}")
                    .into(),
            })
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::RecordingTransport;
    use crate::{BaseUrl, Idempotency};

    fn request(idempotency: Idempotency) -> ApiRequest {
        let base = BaseUrl::parse("https://example.com").unwrap();
        ApiRequest::new("test", "op", Method::Post, &base, "/x").idempotency(idempotency)
    }

    fn retrying(recorder: &Arc<RecordingTransport>) -> RetryTransport<Arc<RecordingTransport>> {
        let policy = RetryPolicy::default()
            .with_max_attempts(4)
            .with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        RetryTransport::new(recorder.clone(), policy).with_jitter(Arc::new(Jitter::seeded(7)))
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
            .push_response(ApiResponse::new(200, "ok"));
        let started = tokio::time::Instant::now();
        let response = retrying(&recorder)
            .send(&request(Idempotency::Idempotent))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
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
        let response = retrying(&recorder)
            .send(&request(Idempotency::Idempotent))
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        assert!(response.earlier_attempt_may_have_applied());

        // Could not connect at the end: not "nothing was sent" either.
        let recorder = Arc::new(RecordingTransport::new());
        recorder.push_response(ApiResponse::new(503, ""));
        for _ in 0..3 {
            recorder.push_error(not_sent());
        }
        let error = retrying(&recorder)
            .send(&request(Idempotency::Idempotent))
            .await
            .unwrap_err();
        assert_eq!(error.send_state(), SendState::MaybeSent);
        assert!(error.may_have_applied());

        // Refusals alone prove nothing was applied; and a read never applies anything.
        let recorder = Arc::new(RecordingTransport::new());
        for _ in 0..4 {
            recorder.push_response(ApiResponse::new(429, ""));
        }
        let response = retrying(&recorder)
            .send(&request(Idempotency::Idempotent))
            .await
            .unwrap();
        assert!(!response.earlier_attempt_may_have_applied());
        let recorder = Arc::new(RecordingTransport::new());
        recorder.push_error(maybe_sent());
        recorder.push_response(ApiResponse::new(429, ""));
        let base = BaseUrl::parse("https://example.com").unwrap();
        let read = ApiRequest::new("test", "op", Method::Get, &base, "/x");
        let response = retrying(&recorder).send(&read).await;
        assert!(!response.unwrap().earlier_attempt_may_have_applied());
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_for_exactly() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_response(ApiResponse::new(429, "").with_header("Retry-After", "7"))
            .push_response(ApiResponse::new(200, ""));
        let started = tokio::time::Instant::now();
        retrying(&recorder)
            .send(&request(Idempotency::NotIdempotent))
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(7));
        assert_eq!(recorder.requests().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_is_not_idempotent_is_never_resent_once_it_may_have_arrived() {
        for first in [Err(maybe_sent()), Ok(ApiResponse::new(503, ""))] {
            let recorder = Arc::new(RecordingTransport::new());
            match first {
                Ok(r) => recorder.push_response(r),
                Err(e) => recorder.push_error(e),
            };
            recorder.push_response(ApiResponse::new(200, ""));
            let _ = retrying(&recorder)
                .send(&request(Idempotency::NotIdempotent))
                .await;
            assert_eq!(recorder.requests().len(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idempotent_request_is_resent_after_a_dropped_connection() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_error(maybe_sent())
            .push_response(ApiResponse::new(200, ""));
        retrying(&recorder)
            .send(&request(Idempotency::Idempotent))
            .await
            .unwrap();
        assert_eq!(recorder.requests().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn any_request_is_resent_when_nothing_left_the_machine() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_error(not_sent())
            .push_response(ApiResponse::new(200, ""));
        retrying(&recorder)
            .send(&request(Idempotency::NotIdempotent))
            .await
            .unwrap();
        assert_eq!(recorder.requests().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_input_and_final_answers_are_not_retried() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder.push_error(Error::invalid_input("bad header"));
        assert!(
            retrying(&recorder)
                .send(&request(Idempotency::Idempotent))
                .await
                .is_err()
        );
        recorder.push_response(ApiResponse::new(404, ""));
        let response = retrying(&recorder)
            .send(&request(Idempotency::Idempotent))
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(recorder.requests().len(), 2);
    }

    fn json(status: u16, body: &'static str) -> ApiResponse {
        ApiResponse::new(status, body).with_header("content-type", "application/json")
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_decodes_each_success_once_and_an_answer_cut_short_is_sent_again() {
        use crate::BodyRead;
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_response(json(200, r#"{"id":"1","name":"Jo"#))
            .push_response(json(200, r#"{"id":"1","name":"Jo"}"#));
        // Through an `Arc`, as clients hold their stack: the pointer passes the reader on.
        let transport: Arc<dyn Transport> = Arc::new(retrying(&recorder));
        let mut reads = Vec::new();
        let response = transport
            .send_reading(
                &request(Idempotency::Idempotent),
                &mut |response: &ApiResponse| {
                    let (body, read) = response.read_json::<serde_json::Value>();
                    reads.push((body.is_ok(), read));
                    read
                },
            )
            .await
            .unwrap();
        assert_eq!(recorder.requests().len(), 2);
        assert_eq!(reads, [(false, BodyRead::CutShort), (true, BodyRead::Json)]);
        assert!(response.body_is_json());
    }

    #[tokio::test(start_paused = true)]
    async fn the_retry_layer_takes_the_readers_word_for_the_body() {
        use crate::BodyRead;
        // (what the reader says, the body, whether the request goes again)
        let cases = [
            // Taken as it is, without a second check of its own...
            (BodyRead::Json, "{not json", false),
            (BodyRead::CutShort, "{}", true),
            // ...unless the reader cannot tell: then the layer checks.
            (BodyRead::Unknown, "{\"a\":", true),
            (BodyRead::Unknown, "{}", false),
        ];
        for (said, body, resent) in cases {
            let recorder = Arc::new(RecordingTransport::new());
            recorder
                .push_response(json(200, body))
                .push_response(json(200, "{}"));
            let mut calls = 0;
            retrying(&recorder)
                .send_reading(&request(Idempotency::Idempotent), &mut |_: &ApiResponse| {
                    calls += 1;
                    // The second answer is whole.
                    if calls == 1 { said } else { BodyRead::Json }
                })
                .await
                .unwrap();
            let sent = if resent { 2 } else { 1 };
            assert_eq!(recorder.requests().len(), sent, "{said:?} {body}");
            assert_eq!(calls, sent, "{said:?} {body}");
        }
        // Answers that are not successes are not handed to the reader.
        let recorder = Arc::new(RecordingTransport::new());
        recorder.push_response(json(404, "{}"));
        let mut calls = 0;
        retrying(&recorder)
            .send_reading(&request(Idempotency::Idempotent), &mut |_: &ApiResponse| {
                calls += 1;
                BodyRead::Json
            })
            .await
            .unwrap();
        assert_eq!(calls, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn send_decoding_decodes_a_success_and_leaves_an_error_answer_alone() {
        let recorder = Arc::new(RecordingTransport::new());
        recorder
            .push_response(json(200, r#"{"id":"1"}"#))
            .push_response(json(200, r#"["not", "an", "object"]"#))
            .push_response(json(404, r#"{"error":"nope"}"#));
        let (transport, request) = (retrying(&recorder), request(Idempotency::Idempotent));
        let decode = || {
            crate::send_decoding::<std::collections::BTreeMap<String, String>>(&transport, &request)
        };
        let (_, body) = decode().await.unwrap();
        assert_eq!(body.unwrap().unwrap()["id"], "1");
        // Well-formed JSON of another shape: an error to report, not an answer to resend.
        let (response, body) = decode().await.unwrap();
        assert!(body.unwrap().is_err());
        assert_eq!(response.status(), 200);
        let (response, body) = decode().await.unwrap();
        assert!(body.is_none());
        assert_eq!(response.status(), 404);
        assert_eq!(recorder.requests().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_answer_is_returned_when_attempts_run_out() {
        let recorder = Arc::new(RecordingTransport::new());
        for _ in 0..5 {
            recorder.push_response(ApiResponse::new(503, ""));
        }
        let response = retrying(&recorder)
            .send(&request(Idempotency::Idempotent))
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(recorder.requests().len(), 4);
    }
}
