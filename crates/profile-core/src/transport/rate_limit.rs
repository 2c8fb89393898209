use std::fmt;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Mutex, Semaphore};
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
            max_in_flight: None,
        }
    }

    /// Also at most `max` requests in flight at once (0 means no limit).
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = NonZeroUsize::new(max);
        self
    }
}

/// Holds each request until the limit lets it start.
///
/// Starts are spaced evenly (one every `60 s / per_minute`, plus 1% for network jitter)
/// rather than let through in a burst at the start of each minute: a vendor counting over a
/// sliding window then never sees more than the limit. When the vendor answers 429 with a `Retry-After`, every
/// request behind it waits that long too, rather than each running into the same wall.
pub struct RateLimitTransport<T> {
    inner: T,
    limit: RateLimit,
    interval: Option<Duration>,
    next_start: Mutex<Instant>,
    in_flight: Option<Semaphore>,
}

impl<T: Transport> RateLimitTransport<T> {
    /// Wraps `inner` with `limit`.
    pub fn new(inner: T, limit: RateLimit) -> Self {
        Self {
            inner,
            limit,
            // 1% under the limit: the vendor counts arrivals, which jitter (the first
            // request also opens the connection); 0.6 s a minute of slack absorbs that.
            interval: limit
                .per_minute
                .map(|n| Duration::from_secs(60) / n.get() * 101 / 100),
            next_start: Mutex::new(Instant::now()),
            in_flight: limit.max_in_flight.map(|n| Semaphore::new(n.get())),
        }
    }

    async fn wait_for_slot(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let start = {
            let mut next = self.next_start.lock().await;
            let start = (*next).max(Instant::now());
            *next = start + interval;
            start
        };
        tokio::time::sleep_until(start).await;
    }

    async fn hold_back_until(&self, until: Instant) {
        let mut next = self.next_start.lock().await;
        if *next < until {
            *next = until;
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
            if response.status() == 429 {
                if let Some(RetryAfter::Delay(delay)) = RetryAfter::from_response(response) {
                    self.hold_back_until(Instant::now() + delay).await;
                }
            }
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
}
