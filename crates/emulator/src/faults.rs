//! Fault injection, shared by every emulator: failures, rate limits, latency and dropped
//! connections, scripted per request or as a standing condition.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

/// One injected fault.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status and a JSON error body; the request is not processed.
    Status(u16),
    /// Answer 429 with `Retry-After` (whole seconds, rounded up); not processed.
    RateLimited {
        /// The delay announced in `Retry-After`.
        retry_after: Duration,
    },
    /// Process the request after this delay (longer than the client's timeout, it becomes
    /// a timeout after the write was applied).
    Delay(Duration),
    /// Process the request (the write is applied), then drop the connection before the
    /// response is complete.
    DropConnection,
    /// Process the request (the write is applied), then answer with only the first half of
    /// the response body, framed as if it were whole: a proxy that cut the answer short.
    Truncate,
    /// Answer with this status and JSON body, without processing the request (a vendor's
    /// own refusal, such as Capture's `510 api_limit_error` inside an HTTP 200).
    Respond {
        /// The HTTP status.
        status: u16,
        /// The JSON body.
        body: String,
    },
}

/// Faults drawn at random for every request, from a seeded generator: the same seed gives
/// the same sequence of draws (which request gets which draw depends on arrival order).
///
/// Each field is a probability between 0 and 1; together they should not exceed 1.
///
/// ```
/// use std::time::Duration;
/// use profile_emulator::faults::RandomFaults;
///
/// let chaos = RandomFaults::new(42)
///     .unavailable(0.10)
///     .rate_limited(0.05, Duration::from_secs(1))
///     .drop_after_write(0.02)
///     .slow(0.02, Duration::from_millis(900))
///     .truncated(0.02);
/// assert_eq!(chaos.seed, 42);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RandomFaults {
    /// The generator's seed.
    pub seed: u64,
    /// Share of requests answered 503 without being processed.
    pub unavailable: f64,
    /// Share of requests answered 429 with `Retry-After`, not processed.
    pub rate_limited: f64,
    /// The delay those 429s announce.
    pub retry_after: Duration,
    /// Share of requests processed, then their connection dropped ([`Fault::DropConnection`]).
    pub drop_after_write: f64,
    /// Share of requests processed only after `slow_delay` ([`Fault::Delay`]).
    pub slow: f64,
    /// How slow the slow ones are (make it longer than the client's timeout).
    pub slow_delay: Duration,
    /// Share of requests processed, then answered with half a body ([`Fault::Truncate`]).
    pub truncated: f64,
}

impl RandomFaults {
    /// No faults yet, drawn with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            retry_after: Duration::from_secs(1),
            slow_delay: Duration::from_secs(2),
            ..Self::default()
        }
    }

    /// The mix the project's own fault tests and `profiles emulator --chaos` use: 10% 503,
    /// 5% 429 with `Retry-After: 1`, 2% dropped after the write, 2% answered after 2 s, 2%
    /// answered with half a body. Change any share with the methods below.
    pub fn typical(seed: u64) -> Self {
        Self::new(seed)
            .unavailable(0.10)
            .rate_limited(0.05, Duration::from_secs(1))
            .drop_after_write(0.02)
            .slow(0.02, Duration::from_secs(2))
            .truncated(0.02)
    }

    /// Answers a share of requests 503.
    pub fn unavailable(mut self, share: f64) -> Self {
        self.unavailable = share;
        self
    }

    /// Answers a share of requests 429 with `Retry-After: retry_after`.
    pub fn rate_limited(mut self, share: f64, retry_after: Duration) -> Self {
        self.rate_limited = share;
        self.retry_after = retry_after;
        self
    }

    /// Drops the connection of a share of requests after processing them.
    pub fn drop_after_write(mut self, share: f64) -> Self {
        self.drop_after_write = share;
        self
    }

    /// Processes a share of requests only after `delay`.
    pub fn slow(mut self, share: f64, delay: Duration) -> Self {
        self.slow = share;
        self.slow_delay = delay;
        self
    }

    /// Cuts the answer of a share of requests in half, after processing them.
    pub fn truncated(mut self, share: f64) -> Self {
        self.truncated = share;
        self
    }

    /// The fault for a draw in `[0, 1)`, if any.
    fn pick(&self, draw: f64) -> Option<Fault> {
        let table = [
            (self.unavailable, Fault::Status(503)),
            (
                self.rate_limited,
                Fault::RateLimited {
                    retry_after: self.retry_after,
                },
            ),
            (self.drop_after_write, Fault::DropConnection),
            (self.slow, Fault::Delay(self.slow_delay)),
            (self.truncated, Fault::Truncate),
        ];
        let mut bound = 0.0;
        for (share, fault) in table {
            bound += share.clamp(0.0, 1.0);
            if draw < bound {
                return Some(fault);
            }
        }
        None
    }
}

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug, Default)]
struct FaultState {
    scripted: VecDeque<Fault>,
    latency: Option<Duration>,
    answer_delay: Option<Duration>,
    answer_delay_on: Option<(String, Duration)>,
    per_minute: Option<u32>,
    window: VecDeque<Instant>,
    random: Option<(RandomFaults, SplitMix64)>,
}

/// How many faults of each kind the emulator injected (scripted, random or by the limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InjectedCounts {
    /// Error statuses (503 and the like).
    pub status: u64,
    /// 429s, the per-minute limit's included.
    pub rate_limited: u64,
    /// Slow answers.
    pub delayed: u64,
    /// Connections dropped after the write.
    pub dropped: u64,
    /// Answers cut in half after the write.
    pub truncated: u64,
    /// Custom answers.
    pub responded: u64,
}

#[derive(Debug, Default)]
struct Counters {
    status: AtomicU64,
    rate_limited: AtomicU64,
    delayed: AtomicU64,
    dropped: AtomicU64,
    truncated: AtomicU64,
    responded: AtomicU64,
}

/// Controls the faults of one emulator. Cheap to clone; all clones control the same server.
#[derive(Clone, Debug, Default)]
pub struct FaultController {
    state: Arc<Mutex<FaultState>>,
    seen: Arc<AtomicU64>,
    rate_limited: Arc<AtomicU64>,
    in_flight: Arc<AtomicU64>,
    injected: Arc<Counters>,
    /// Requests seen per method and path (`PATCH /api/v2/user_profiles`).
    routes: Arc<Mutex<std::collections::HashMap<String, u64>>>,
}

impl FaultController {
    /// A controller with no faults.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `fault` to each of the next `times` requests (after the ones already
    /// scripted).
    pub fn inject(&self, fault: Fault, times: usize) {
        let mut state = self.lock();
        state.scripted.extend(std::iter::repeat_n(fault, times));
    }

    /// The next `times` requests fail with `status`.
    pub fn fail_next(&self, times: usize, status: u16) {
        self.inject(Fault::Status(status), times);
    }

    /// The next `times` requests get 429 with `Retry-After`.
    pub fn rate_limit_next(&self, times: usize, retry_after: Duration) {
        self.inject(Fault::RateLimited { retry_after }, times);
    }

    /// The next `times` requests are processed after `delay`.
    pub fn delay_next(&self, times: usize, delay: Duration) {
        self.inject(Fault::Delay(delay), times);
    }

    /// The next `times` requests are processed, then their connection is dropped.
    pub fn drop_next(&self, times: usize) {
        self.inject(Fault::DropConnection, times);
    }

    /// The next `times` requests get this answer and are not processed.
    pub fn respond_next(&self, times: usize, status: u16, body: impl Into<String>) {
        self.inject(
            Fault::Respond {
                status,
                body: body.into(),
            },
            times,
        );
    }

    /// Adds `latency` to every request (`None` for none).
    pub fn set_latency(&self, latency: Option<Duration>) {
        // Zero is no delay at all, not a trip through the timer (about 1 ms a request).
        self.lock().latency = latency.filter(|l| !l.is_zero());
    }

    /// As [`set_answer_delay`](Self::set_answer_delay), for the requests to `path` only
    /// (`/entity.bulkCreate`): the calls before it are answered at once.
    pub fn set_answer_delay_on(&self, path: &str, delay: Option<Duration>) {
        self.lock().answer_delay_on = delay.map(|delay| (path.to_owned(), delay));
    }

    /// Processes every request at once but holds its answer back for `delay` (`None` for
    /// none): the write has landed while the client still waits, as when a client dies
    /// mid-request.
    pub fn set_answer_delay(&self, delay: Option<Duration>) {
        self.lock().answer_delay = delay;
    }

    /// Accepts at most `per_minute` requests in any 60-second window and answers the rest
    /// 429 with a `Retry-After` saying when a slot frees up (`None` for no limit).
    pub fn set_rate_limit_per_minute(&self, per_minute: Option<u32>) {
        let mut state = self.lock();
        state.per_minute = per_minute;
        state.window.clear();
    }

    /// The next `times` requests are processed, then answered with half their body.
    pub fn truncate_next(&self, times: usize) {
        self.inject(Fault::Truncate, times);
    }

    /// Draws a fault at random for every request not already given one by the script or
    /// the per-minute limit (`None` to stop).
    pub fn set_random(&self, random: Option<RandomFaults>) {
        self.lock().random = random.map(|r| {
            let rng = SplitMix64(r.seed);
            (r, rng)
        });
    }

    /// Removes every fault and limit.
    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    /// The requests seen with this method and path (`"PATCH"`, `"/api/v2/user_profiles"`),
    /// the query left out, faulted or not.
    pub fn requests_to(&self, method: &str, path: &str) -> u64 {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        routes
            .get(&format!("{method} {path}"))
            .copied()
            .unwrap_or(0)
    }

    /// Requests that reached the emulator, faults included.
    pub fn requests_seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Requests refused by the per-minute limit.
    pub fn rate_limited_count(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    /// Requests being handled right now (a slow fault still sleeping counts).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until no request is being handled, or `timeout` passes; returns whether it
    /// went idle. Use it before reading the state after a run with slow faults, whose
    /// writes land after the client has given up on them.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.in_flight() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// How many faults of each kind were injected so far.
    pub fn injected(&self) -> InjectedCounts {
        let c = &self.injected;
        InjectedCounts {
            status: c.status.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            delayed: c.delayed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            truncated: c.truncated.load(Ordering::Relaxed),
            responded: c.responded.load(Ordering::Relaxed),
        }
    }

    fn answer_delay(&self, path: &str) -> Option<Duration> {
        let state = self.lock();
        match &state.answer_delay_on {
            Some((on, delay)) if on == path => Some(*delay),
            _ => state.answer_delay,
        }
    }

    /// What to do with the request arriving now.
    fn next_action(&self) -> (Option<Fault>, Option<Duration>) {
        let mut state = self.lock();
        if let Some(limit) = state.per_minute {
            let now = Instant::now();
            let window = Duration::from_secs(60);
            while state
                .window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                state.window.pop_front();
            }
            if state.window.len() >= limit as usize {
                let oldest = state.window.front().copied().unwrap_or(now);
                let retry_after = (oldest + window).duration_since(now);
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
                return (Some(Fault::RateLimited { retry_after }), None);
            }
            state.window.push_back(now);
        }
        let latency = state.latency;
        if let Some(fault) = state.scripted.pop_front() {
            return (Some(fault), latency);
        }
        let fault = state.random.as_mut().and_then(|(random, rng)| {
            let draw = rng.next_unit();
            random.pick(draw)
        });
        (fault, latency)
    }

    fn count(&self, fault: &Fault) {
        let c = &self.injected;
        let counter = match fault {
            Fault::Status(_) => &c.status,
            Fault::RateLimited { .. } => &c.rate_limited,
            Fault::Delay(_) => &c.delayed,
            Fault::DropConnection => &c.dropped,
            Fault::Truncate => &c.truncated,
            Fault::Respond { .. } => &c.responded,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn error_response(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{"code": "InjectedFault", "title": message}]
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The middleware: put it outermost, so that faults hit before authentication.
pub async fn apply_faults(
    State(faults): State<FaultController>,
    request: Request,
    next: Next,
) -> Response {
    faults.seen.fetch_add(1, Ordering::Relaxed);
    let path = request.uri().path().to_owned();
    {
        let route = format!("{} {}", request.method(), path);
        let mut routes = faults.routes.lock().unwrap_or_else(|p| p.into_inner());
        *routes.entry(route).or_default() += 1;
    }
    let _in_flight = InFlight::enter(&faults.in_flight);
    let (fault, latency) = faults.next_action();
    if let Some(fault) = &fault {
        faults.count(fault);
    }
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    match fault {
        None => {
            let response = next.run(request).await;
            if let Some(delay) = faults.answer_delay(&path) {
                tokio::time::sleep(delay).await;
            }
            response
        }
        Some(Fault::Status(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            error_response(status, "fault injected by the emulator")
        }
        Some(Fault::RateLimited { retry_after }) => {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            if let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Some(Fault::Respond { status, body }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Some(Fault::Truncate) => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(half))
        }
        Some(Fault::DropConnection) => {
            let response = next.run(request).await;
            let (mut parts, _) = response.into_parts();
            // The head goes out, then the body fails: the server aborts the connection and
            // the client sees it break before the response is complete.
            parts.headers.remove(header::CONTENT_LENGTH);
            let failing = futures_util::stream::once(async {
                Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection dropped by fault injection",
                ))
            });
            Response::from_parts(parts, Body::from_stream(failing))
        }
    }
}

/// Counts a request in flight for as long as it lives (also when the client goes away and
/// the handler is dropped).
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_faults_come_in_the_asked_shares_and_repeat_with_the_seed() {
        let chaos = RandomFaults::typical(7);
        let draw = |seed| {
            let mut rng = SplitMix64(seed);
            (0..100_000)
                .map(|_| chaos.pick(rng.next_unit()))
                .collect::<Vec<_>>()
        };
        let faults = draw(7);
        assert_eq!(faults, draw(7));
        assert_ne!(faults, draw(8));
        let share = |f: &dyn Fn(&Fault) -> bool| {
            faults.iter().flatten().filter(|x| f(x)).count() as f64 / 100_000.0
        };
        let near = |got: f64, want: f64| (got - want).abs() < 0.005;
        assert!(near(share(&|f| *f == Fault::Status(503)), 0.10));
        assert!(near(
            share(&|f| matches!(f, Fault::RateLimited { .. })),
            0.05
        ));
        assert!(near(share(&|f| *f == Fault::DropConnection), 0.02));
        assert!(near(share(&|f| matches!(f, Fault::Delay(_))), 0.02));
        assert!(near(share(&|f| *f == Fault::Truncate), 0.02));
        assert!(near(
            faults.iter().filter(|f| f.is_none()).count() as f64 / 1e5,
            0.79
        ));
    }
}
