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
    /// Answer with this status and JSON body, without processing the request (a vendor's
    /// own refusal, such as Capture's `510 api_limit_error` inside an HTTP 200).
    Respond {
        /// The HTTP status.
        status: u16,
        /// The JSON body.
        body: String,
    },
}

#[derive(Debug, Default)]
struct FaultState {
    scripted: VecDeque<Fault>,
    latency: Option<Duration>,
    per_minute: Option<u32>,
    window: VecDeque<Instant>,
}

/// Controls the faults of one emulator. Cheap to clone; all clones control the same server.
#[derive(Clone, Debug, Default)]
pub struct FaultController {
    state: Arc<Mutex<FaultState>>,
    seen: Arc<AtomicU64>,
    rate_limited: Arc<AtomicU64>,
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
        self.lock().latency = latency;
    }

    /// Accepts at most `per_minute` requests in any 60-second window and answers the rest
    /// 429 with a `Retry-After` saying when a slot frees up (`None` for no limit).
    pub fn set_rate_limit_per_minute(&self, per_minute: Option<u32>) {
        let mut state = self.lock();
        state.per_minute = per_minute;
        state.window.clear();
    }

    /// Removes every fault and limit.
    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    /// Requests that reached the emulator, faults included.
    pub fn requests_seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Requests refused by the per-minute limit.
    pub fn rate_limited_count(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
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
        (state.scripted.pop_front(), state.latency)
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
    let (fault, latency) = faults.next_action();
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    match fault {
        None => next.run(request).await,
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
