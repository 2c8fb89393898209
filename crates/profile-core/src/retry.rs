//! The retry policy: a pure decision from an attempt's outcome to "wait this long and try
//! again" or "stop", kept apart from the loop that sends, decodes and sleeps (see
//! [`ApiClient::execute`](crate::ApiClient::execute)).

use std::time::{Duration, SystemTime};

use crate::{ApiErrorKind, ApiResponse, Error, Idempotency};

/// How many times to try and how long to wait in between.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included. `1` means never retry.
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry; it doubles with each retry.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// The longest server-given `Retry-After` we wait for. A longer one is not shortened
    /// (coming back before the vendor asked would only earn another refusal): the call
    /// stops and the error carries the delay for the caller to schedule.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the number of attempts in all (at least 1).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Sets the first backoff ceiling and the largest one.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the longest `Retry-After` waited for.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The backoff ceiling after attempt `attempt` (1-based): `initial × 2^(attempt−1)`,
    /// capped at `max_backoff`.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}

/// A server's `Retry-After`: a number of seconds or an HTTP date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this long.
    Delay(Duration),
    /// Wait until then.
    At(SystemTime),
}

impl RetryAfter {
    /// Parses a `Retry-After` value (`"120"`, `"1.5"`, or `"Wed, 21 Oct 2015 07:28:00 GMT"`).
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(RetryAfter::Delay(Duration::from_secs(seconds)));
        }
        if let Ok(seconds) = value.parse::<f64>() {
            if seconds.is_finite() && seconds >= 0.0 {
                return Duration::try_from_secs_f64(seconds)
                    .ok()
                    .map(RetryAfter::Delay);
            }
            return None;
        }
        httpdate::parse_http_date(value).ok().map(RetryAfter::At)
    }

    /// The delay from `now` (a date in the past means no delay).
    pub fn delay_from(self, now: SystemTime) -> Duration {
        match self {
            RetryAfter::Delay(d) => d,
            RetryAfter::At(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
        }
    }

    /// Reads the `Retry-After` header of a response.
    pub fn from_response(response: &ApiResponse) -> Option<Self> {
        response.header("retry-after").and_then(Self::parse)
    }
}

/// What an attempt came to, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The vendor answered and there is nothing to retry (success, or a final refusal).
    Done,
    /// The vendor refused to process the request for now (429, Capture's 510): nothing was
    /// applied, so even a non-idempotent request may be sent again.
    Throttled(Option<RetryAfter>),
    /// The vendor failed in a way that may pass (502, 503, 504). The request may have been
    /// applied, so only an idempotent one is sent again.
    Transient(Option<RetryAfter>),
    /// Nothing left the machine (the connection could not be made).
    NotSent,
    /// The request may have reached the server; its fate is unknown.
    MaybeSent,
}

impl AttemptOutcome {
    /// How an attempt that ended in `error` reads: the vendor's rate limit (a 429, Capture's
    /// 510, LumApps' `RATE_LIMIT_EXCEEDED`) is throttled; a vendor failing for now (502,
    /// 503, 504, Capture's 500 and 504) or an answer cut short is transient; otherwise it
    /// depends on whether the request left the machine. Input refused before sending and
    /// every other answer are done.
    pub fn of(error: &Error) -> Self {
        match error {
            Error::InvalidInput(_) => AttemptOutcome::Done,
            Error::Connect { .. } => AttemptOutcome::NotSent,
            Error::Timeout { .. } | Error::Connection { .. } => AttemptOutcome::MaybeSent,
            Error::CutShort { .. } => AttemptOutcome::Transient(None),
            // A success whose body cannot be read (a proxy's maintenance page, JSON of
            // another shape): the request may have been applied, so as a 503 it is sent
            // again only when it is idempotent.
            Error::UnexpectedResponse { status, .. } if (200..300).contains(status) => {
                AttemptOutcome::Transient(None)
            }
            Error::Api(e) => {
                let after = e.retry_after.map(RetryAfter::Delay);
                match e.kind {
                    ApiErrorKind::RateLimited => AttemptOutcome::Throttled(after),
                    ApiErrorKind::Unavailable => AttemptOutcome::Transient(after),
                    _ => AttemptOutcome::Done,
                }
            }
            _ => AttemptOutcome::Done,
        }
    }
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Wait, then send again.
    Retry {
        /// How long to wait.
        delay: Duration,
    },
    /// Return the outcome to the caller.
    Stop(StopReason),
}

/// Why the retry loop stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// There was nothing to retry.
    Done,
    /// All attempts were used.
    AttemptsExhausted,
    /// The request may have been applied and is not idempotent: sending it again could
    /// apply it twice.
    NotIdempotent,
    /// The vendor asked for a longer wait than the policy allows.
    RetryAfterTooLong,
}

/// The retry decision, as a pure function.
///
/// `attempt` is the 1-based number of the attempt that just ended; `jitter` is a value in
/// `[0, 1)`; `now` is only used to turn a `Retry-After` date into a delay.
pub fn decide(
    policy: &RetryPolicy,
    attempt: u32,
    idempotency: Idempotency,
    outcome: AttemptOutcome,
    jitter: f64,
    now: SystemTime,
) -> RetryDecision {
    let (retry_after, allowed) = match outcome {
        AttemptOutcome::Done => return RetryDecision::Stop(StopReason::Done),
        AttemptOutcome::Throttled(after) => (after, true),
        AttemptOutcome::NotSent => (None, true),
        AttemptOutcome::Transient(after) => (after, idempotency == Idempotency::Idempotent),
        AttemptOutcome::MaybeSent => (None, idempotency == Idempotency::Idempotent),
    };
    if !allowed {
        return RetryDecision::Stop(StopReason::NotIdempotent);
    }
    if attempt >= policy.max_attempts {
        return RetryDecision::Stop(StopReason::AttemptsExhausted);
    }
    let delay = match retry_after {
        Some(after) => {
            let delay = after.delay_from(now);
            if delay > policy.max_retry_after {
                return RetryDecision::Stop(StopReason::RetryAfterTooLong);
            }
            delay
        }
        // Full jitter: anywhere between zero and the ceiling.
        None => policy
            .backoff_ceiling(attempt)
            .mul_f64(jitter.clamp(0.0, 1.0)),
    };
    RetryDecision::Retry { delay }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttemptOutcome::*;
    use Idempotency::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
            .with_max_attempts(4)
            .with_backoff(ms(100), ms(1_000))
            .with_max_retry_after(Duration::from_secs(60))
    }

    #[test]
    fn the_decision_table() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let secs = |n| Some(RetryAfter::Delay(Duration::from_secs(n)));
        let at = |n| Some(RetryAfter::At(now + Duration::from_secs(n)));
        let retry = |d| RetryDecision::Retry { delay: d };
        let stop = RetryDecision::Stop;
        // (attempt, idempotency, outcome, jitter, expected)
        let table = [
            (1, Idempotent, Done, 0.5, stop(StopReason::Done)),
            (1, NotIdempotent, Done, 0.5, stop(StopReason::Done)),
            // Backoff: full jitter under a doubling ceiling, capped.
            (1, Idempotent, NotSent, 0.5, retry(ms(50))),
            (2, Idempotent, NotSent, 0.5, retry(ms(100))),
            (3, Idempotent, NotSent, 0.5, retry(ms(200))),
            (3, Idempotent, NotSent, 0.0, retry(ms(0))),
            (
                1,
                Idempotent,
                MaybeSent,
                0.999,
                retry(ms(100).mul_f64(0.999)),
            ),
            // Nothing left the machine: safe for any request.
            (1, NotIdempotent, NotSent, 0.5, retry(ms(50))),
            // The request may have been applied: only idempotent requests go again.
            (
                1,
                NotIdempotent,
                MaybeSent,
                0.5,
                stop(StopReason::NotIdempotent),
            ),
            (
                1,
                NotIdempotent,
                Transient(None),
                0.5,
                stop(StopReason::NotIdempotent),
            ),
            (1, Idempotent, Transient(None), 0.5, retry(ms(50))),
            // Throttling means not processed: safe for any request; Retry-After is obeyed.
            (
                1,
                NotIdempotent,
                Throttled(secs(7)),
                0.5,
                retry(Duration::from_secs(7)),
            ),
            (1, Idempotent, Throttled(None), 0.5, retry(ms(50))),
            (
                1,
                Idempotent,
                Transient(secs(2)),
                0.9,
                retry(Duration::from_secs(2)),
            ),
            // An HTTP date becomes a delay from now; a date in the past means now.
            (
                1,
                Idempotent,
                Throttled(at(30)),
                0.5,
                retry(Duration::from_secs(30)),
            ),
            (
                1,
                Idempotent,
                Throttled(Some(RetryAfter::At(now - Duration::from_secs(5)))),
                0.5,
                retry(Duration::ZERO),
            ),
            // A wait longer than the cap is handed back rather than shortened.
            (
                1,
                Idempotent,
                Throttled(secs(61)),
                0.5,
                stop(StopReason::RetryAfterTooLong),
            ),
            (
                1,
                Idempotent,
                Throttled(at(3600)),
                0.5,
                stop(StopReason::RetryAfterTooLong),
            ),
            // The attempt budget ends it all.
            (
                4,
                Idempotent,
                NotSent,
                0.5,
                stop(StopReason::AttemptsExhausted),
            ),
            (
                4,
                Idempotent,
                Throttled(secs(1)),
                0.5,
                stop(StopReason::AttemptsExhausted),
            ),
        ];
        for (i, (attempt, idem, outcome, jitter, expected)) in table.into_iter().enumerate() {
            assert_eq!(
                decide(&policy(), attempt, idem, outcome, jitter, now),
                expected,
                "row {i}: attempt {attempt}, {idem:?}, {outcome:?}"
            );
        }
    }

    #[test]
    fn the_backoff_ceiling_doubles_and_is_capped() {
        let p = policy();
        let ceilings: Vec<_> = (1..=6).map(|a| p.backoff_ceiling(a)).collect();
        assert_eq!(
            ceilings,
            [ms(100), ms(200), ms(400), ms(800), ms(1_000), ms(1_000)]
        );
        // Very large attempt numbers neither overflow nor exceed the cap.
        assert_eq!(p.backoff_ceiling(u32::MAX), ms(1_000));
    }

    #[test]
    fn never_means_one_attempt() {
        let decision = decide(
            &RetryPolicy::never(),
            1,
            Idempotent,
            NotSent,
            0.5,
            SystemTime::now(),
        );
        assert_eq!(decision, RetryDecision::Stop(StopReason::AttemptsExhausted));
    }

    #[test]
    fn retry_after_parses_seconds_fractions_and_http_dates() {
        assert_eq!(
            RetryAfter::parse("120"),
            Some(RetryAfter::Delay(Duration::from_secs(120)))
        );
        assert_eq!(
            RetryAfter::parse(" 1.5 "),
            Some(RetryAfter::Delay(ms(1_500)))
        );
        let date = RetryAfter::parse("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(date, RetryAfter::At(expected));
        for bad in ["", "soon", "-3", "NaN", "inf"] {
            assert_eq!(RetryAfter::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn errors_read_as_throttled_transient_unsent_or_done() {
        use crate::ApiError;
        let api = |status| -> Error {
            ApiError::new("v", "op", status, ApiErrorKind::from_status(status)).into()
        };
        let limited: Error = ApiError::new("v", "op", 200, ApiErrorKind::RateLimited)
            .with_retry_after(Some(Duration::from_secs(3)))
            .into();
        assert_eq!(
            AttemptOutcome::of(&limited),
            Throttled(Some(RetryAfter::Delay(Duration::from_secs(3))))
        );
        assert_eq!(AttemptOutcome::of(&api(429)), Throttled(None));
        for status in [502, 503, 504] {
            assert_eq!(AttemptOutcome::of(&api(status)), Transient(None));
        }
        for status in [400, 401, 404, 409, 500, 501] {
            assert_eq!(AttemptOutcome::of(&api(status)), Done);
        }
        let cut_short = Error::CutShort {
            vendor: "v",
            operation: "op",
            status: 200,
            source: "eof".into(),
        };
        assert_eq!(AttemptOutcome::of(&cut_short), Transient(None));
        let unreadable = |status| Error::UnexpectedResponse {
            vendor: "v",
            operation: "op",
            status,
            reason: "not JSON".into(),
            source: None,
        };
        // An unreadable success is sent again as a 503 would be (idempotent requests only);
        // an unreadable refusal is final.
        assert_eq!(AttemptOutcome::of(&unreadable(200)), Transient(None));
        assert_eq!(AttemptOutcome::of(&unreadable(400)), Done);
        let refused = Error::Connect {
            vendor: "v",
            operation: "op",
            source: "refused".into(),
        };
        assert_eq!(AttemptOutcome::of(&refused), NotSent);
        let timeout = Error::Timeout {
            vendor: "v",
            operation: "op",
            source: "slow".into(),
        };
        assert_eq!(AttemptOutcome::of(&timeout), MaybeSent);
        assert_eq!(AttemptOutcome::of(&Error::invalid_input("bad")), Done);
    }
}
