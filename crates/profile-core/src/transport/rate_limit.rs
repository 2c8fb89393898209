use std::fmt;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::Transport;
use crate::retry::RetryAfter;
use crate::{ApiRequest, ApiResponse, Error};

/// A client-side limit: requests per minute, and requests in flight at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests started per minute, evenly spaced; `None` for no limit.
    pub per_minute: Option<NonZeroU32>,
    /// Requests in flight at once; `None` for no limit.
    pub max_in_flight: Option<NonZeroUsize>,
    /// What the limit the vendor states in its answers does to `per_minute`.
    pub stated: StatedLimit,
}

/// What a limit the vendor states in its answers (`X-Rate-Limit` or `ratelimit-limit`,
/// taken as requests a minute) does to the client's own, while it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatedLimit {
    /// Nothing: the client keeps its own limit.
    #[default]
    Ignore,
    /// The client adopts it, lower or higher: its own limit is only where it starts (for
    /// a vendor whose plans differ, start at the lowest).
    Adopt,
    /// The client adopts it when it is lower than its own, which stays the ceiling (a limit
    /// the user chose, to leave room for other integrations).
    LowerOnly,
}

impl RateLimit {
    /// No limit at all.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// At most `per_minute` requests a minute (0 means no limit).
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            per_minute: NonZeroU32::new(per_minute),
            ..Self::default()
        }
    }

    /// Also at most `max` requests in flight at once (0 means no limit).
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = NonZeroUsize::new(max);
        self
    }

    /// Follows the limit the vendor states in its answers, as `stated` says.
    pub fn following(mut self, stated: StatedLimit) -> Self {
        self.stated = stated;
        self
    }
}

/// The pace now: when the next request may start, and how far apart starts are.
#[derive(Debug)]
struct Pace {
    next_start: Instant,
    /// When the last request started.
    last_start: Option<Instant>,
    /// `None`: no per-minute limit.
    per_minute: Option<u32>,
}

/// The spacing of `per_minute` starts: 1% under the limit, as the vendor counts arrivals,
/// which jitter (the first request also opens the connection); 0.6 s a minute of slack
/// absorbs that.
fn interval(per_minute: u32) -> Duration {
    Duration::from_secs(60) / per_minute.max(1) * 101 / 100
}

/// The limit an answer states, in requests a minute: Zendesk's `X-Rate-Limit`, or the IETF
/// draft's `ratelimit-limit` (its leading number).
fn stated_per_minute(response: &ApiResponse) -> Option<u32> {
    ["x-rate-limit", "ratelimit-limit"]
        .iter()
        .find_map(|name| leading_number(response.header(name)?))
        .filter(|n| *n > 0)
}

/// How long until the vendor accepts requests again, when an answer says none remain:
/// `X-Rate-Limit-Remaining` or `ratelimit-remaining` at 0, with `ratelimit-reset` seconds.
fn exhausted_for(response: &ApiResponse) -> Option<Duration> {
    let remaining = ["x-rate-limit-remaining", "ratelimit-remaining"]
        .iter()
        .find_map(|name| leading_number(response.header(name)?))?;
    if remaining > 0 {
        return None;
    }
    let reset = leading_number(response.header("ratelimit-reset")?)?;
    Some(Duration::from_secs(u64::from(reset.min(3_600))))
}

fn leading_number(text: &str) -> Option<u32> {
    let text = text.trim();
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// Holds each request until the limit lets it start.
///
/// Starts are spaced evenly (one every `60 s / per_minute`, plus 1% for network jitter)
/// rather than let through in a burst at the start of each minute: a vendor counting over a
/// sliding window then never sees more than the limit. When the vendor answers 429 with a
/// `Retry-After`, every request behind it waits that long too, rather than each running into
/// the same wall. With [`StatedLimit::Adopt`] or [`StatedLimit::LowerOnly`], the spacing
/// follows the limit the vendor states in its answers, and an answer that says no request
/// remains in the vendor's window holds the next ones back until it resets.
pub struct RateLimitTransport<T> {
    inner: T,
    limit: RateLimit,
    /// The longest a vendor's answer holds the requests back (its `Retry-After`, its
    /// window's reset): a `Retry-After: 999999` must not freeze a run for eleven days.
    max_hold: Duration,
    /// Never held across an await: a plain lock, taken and given back at once.
    pace: Mutex<Pace>,
    in_flight: Option<Semaphore>,
}

impl<T: Transport> RateLimitTransport<T> {
    /// Wraps `inner` with `limit`.
    pub fn new(inner: T, limit: RateLimit) -> Self {
        Self {
            inner,
            limit,
            max_hold: crate::RetryPolicy::default().max_retry_after,
            pace: Mutex::new(Pace {
                next_start: Instant::now(),
                last_start: None,
                per_minute: limit.per_minute.map(NonZeroU32::get),
            }),
            in_flight: limit.max_in_flight.map(|n| Semaphore::new(n.get())),
        }
    }

    /// Holds requests back at most `max` for what an answer says (`Retry-After`, a
    /// window's reset); the client sets it to its retry policy's
    /// [`max_retry_after`](crate::RetryPolicy::max_retry_after), the same bound the retry
    /// loop puts on a vendor's delay.
    pub fn with_max_hold(mut self, max: Duration) -> Self {
        self.max_hold = max;
        self
    }

    fn pace(&self) -> MutexGuard<'_, Pace> {
        // Nothing is left half-changed by a panic while it is held.
        self.pace.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until a request may start, and takes that start. A slot is taken when it has
    /// come, not booked ahead: requests waiting when the pace changes (a limit the vendor
    /// stated, a hold-back) start at the new pace.
    async fn wait_for_slot(&self) {
        loop {
            let wait_until = {
                let mut pace = self.pace();
                let now = Instant::now();
                if now >= pace.next_start {
                    if let Some(per_minute) = pace.per_minute {
                        // On the cadence, from the slot's own time rather than from when
                        // this task woke (which is a little later each time); after an idle
                        // spell, from now, so that no burst makes up for it.
                        let every = interval(per_minute);
                        let base = if now.duration_since(pace.next_start) < every {
                            pace.next_start
                        } else {
                            now
                        };
                        pace.next_start = base + every;
                    }
                    pace.last_start = Some(now);
                    return;
                }
                pace.next_start
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// Takes what an answer says of the vendor's limit.
    fn heed(&self, response: &ApiResponse) {
        let now = Instant::now();
        let mut pace = self.pace();
        if response.status() == 429 {
            if let Some(RetryAfter::Delay(delay)) = RetryAfter::from_response(response) {
                pace.next_start = pace.next_start.max(now + delay.min(self.max_hold));
            }
        }
        if self.limit.stated == StatedLimit::Ignore {
            return;
        }
        if let Some(wait) = exhausted_for(response) {
            pace.next_start = pace.next_start.max(now + wait.min(self.max_hold));
        }
        let Some(stated) = stated_per_minute(response) else {
            return;
        };
        let own = self.limit.per_minute.map(NonZeroU32::get);
        let adopted = match (self.limit.stated, own) {
            (StatedLimit::Adopt, _) | (StatedLimit::LowerOnly, None) => stated,
            (StatedLimit::LowerOnly, Some(own)) => stated.min(own),
            _ => return,
        };
        if pace.per_minute != Some(adopted) {
            // A lower limit takes effect from the next start: it is pushed back to one new
            // interval from now at the least, so the starts already made count against it.
            // A higher one brings the next start forward to one new interval after the last.
            if pace.per_minute.is_none_or(|before| adopted < before) {
                pace.next_start = pace.next_start.max(now + interval(adopted));
            } else if let Some(last) = pace.last_start {
                pace.next_start = pace.next_start.min(last + interval(adopted));
            }
            tracing::debug!(
                per_minute = adopted,
                "adopting the vendor's stated rate limit"
            );
            pace.per_minute = Some(adopted);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for RateLimitTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitTransport")
            .field("limit", &self.limit)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<T: Transport> Transport for RateLimitTransport<T> {
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        let _permit = match &self.in_flight {
            // The semaphore is never closed, so acquiring cannot fail.
            Some(semaphore) => semaphore.acquire().await.ok(),
            None => None,
        };
        self.wait_for_slot().await;
        let result = self.inner.send(request).await;
        if let Ok(response) = &result {
            self.heed(response);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::join_all;

    use super::*;
    use crate::RecordingTransport;
    use crate::{BaseUrl, Method};

    fn request() -> ApiRequest {
        let base = BaseUrl::parse("https://example.com").unwrap();
        ApiRequest::new("test", "op", Method::Get, &base, "/x")
    }

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_evenly_at_the_limit() {
        let limited = Arc::new(RateLimitTransport::new(
            RecordingTransport::new(),
            RateLimit::per_minute(60),
        ));
        let started = Instant::now();
        let finished = join_all((0..5).map(|_| {
            let limited = limited.clone();
            async move {
                limited.send(&request()).await.unwrap();
                started.elapsed()
            }
        }))
        .await;
        let mut millis: Vec<u128> = finished.iter().map(|d| d.as_millis()).collect();
        millis.sort();
        // One a second, plus the 1% margin.
        assert_eq!(millis, [0, 1_010, 2_020, 3_030, 4_040]);
    }

    #[derive(Debug, Default)]
    struct Slow {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    #[async_trait]
    impl Transport for Slow {
        async fn send(&self, _: &ApiRequest) -> Result<ApiResponse, Error> {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(1)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(ApiResponse::new(200, ""))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_maximum_are_in_flight() {
        let slow = Arc::new(Slow::default());
        let limited = Arc::new(RateLimitTransport::new(
            slow.clone(),
            RateLimit::unlimited().with_max_in_flight(3),
        ));
        join_all((0..10).map(|_| {
            let limited = limited.clone();
            async move { limited.send(&request()).await.unwrap() }
        }))
        .await;
        assert_eq!(slow.most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_with_retry_after_holds_back_the_requests_behind_it() {
        let recorder = RecordingTransport::new();
        recorder
            .push_response(ApiResponse::new(429, "").with_header("Retry-After", "30"))
            .push_response(ApiResponse::new(200, ""));
        let limited = RateLimitTransport::new(recorder, RateLimit::per_minute(600));
        let started = Instant::now();
        limited.send(&request()).await.unwrap();
        limited.send(&request()).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_vendors_hold_back_is_bounded_by_the_longest_the_client_waits() {
        let recorder = RecordingTransport::new();
        recorder
            .push_response(ApiResponse::new(429, "").with_header("Retry-After", "999999"))
            .push_response(ApiResponse::new(200, ""));
        let limited = RateLimitTransport::new(recorder, RateLimit::per_minute(600))
            .with_max_hold(Duration::from_secs(60));
        let started = Instant::now();
        limited.send(&request()).await.unwrap();
        limited.send(&request()).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn the_stated_limit_is_adopted_down_and_up_or_only_down() {
        let stating =
            |limit: u32| ApiResponse::new(200, "").with_header("X-Rate-Limit", limit.to_string());
        // Adopt: starts at 60/min (1 s apart), then the vendor says 600 (0.1 s), then 30 (2 s).
        let recorder = RecordingTransport::new();
        recorder
            .push_response(stating(600))
            .push_response(stating(600))
            .push_response(stating(30))
            .push_response(stating(30));
        let limited = RateLimitTransport::new(
            recorder,
            RateLimit::per_minute(60).following(StatedLimit::Adopt),
        );
        let started = Instant::now();
        let mut at = Vec::new();
        for _ in 0..4 {
            limited.send(&request()).await.unwrap();
            at.push(started.elapsed().as_millis());
        }
        // The second start is brought forward to 101 ms after the first, the fourth pushed
        // back to 2.02 s after the third.
        assert_eq!(at, [0, 101, 202, 2_222]);
        // LowerOnly: a higher stated limit leaves the user's 60/min alone.
        let recorder = RecordingTransport::new();
        recorder
            .push_response(stating(600))
            .push_response(stating(600));
        let limited = RateLimitTransport::new(
            recorder,
            RateLimit::per_minute(60).following(StatedLimit::LowerOnly),
        );
        let started = Instant::now();
        limited.send(&request()).await.unwrap();
        limited.send(&request()).await.unwrap();
        limited.send(&request()).await.unwrap();
        assert_eq!(started.elapsed().as_millis(), 2_020);
    }

    #[tokio::test(start_paused = true)]
    async fn no_request_remaining_holds_back_until_the_window_resets() {
        let recorder = RecordingTransport::new();
        recorder.push_response(
            ApiResponse::new(200, "")
                .with_header("ratelimit-limit", "250")
                .with_header("ratelimit-remaining", "0")
                .with_header("ratelimit-reset", "12"),
        );
        let limited = RateLimitTransport::new(
            recorder,
            RateLimit::per_minute(250).following(StatedLimit::LowerOnly),
        );
        let started = Instant::now();
        limited.send(&request()).await.unwrap();
        limited.send(&request()).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(12));
    }
}
