//! The Zendesk Sunshine user profiles emulator.
//!
//! Routes (all under the account's base URL):
//!
//! | call | route |
//! |---|---|
//! | get by identifier / patch / create-or-replace | `GET`, `PATCH`, `PUT /api/v2/user_profiles?identifier=…` |
//! | get / patch / replace / delete by id | `GET`, `PATCH`, `PUT`, `DELETE /api/v2/user_profiles/{id}` |
//! | list a user's profiles | `GET /api/v2/users/{user_id}/profiles` |
//! | create-or-replace for a user | `PUT /api/v2/users/{user_id}/profiles?identifier=…` |
//!
//! Semantics follow Zendesk's documentation: PATCH merges attributes and keeps the others,
//! adds identifiers and never replaces one, and ignores `source`, `type` and `user_id`; PUT
//! replaces the content but keeps the id and `created_at`, and creates (201) when the
//! identifier query finds nothing; 404 when a profile or user is not found; e-mail and
//! twitter identifier values are lower-cased; at most 20 identifiers; the source `zendesk`
//! is reserved. Where Zendesk does not say, the emulator chooses (and the tests pin it):
//! an identifier query splits on its first three colons, so the value may hold more; a PUT
//! by identifier always keeps the identifier it was addressed by.
//!
//! Every request needs `Authorization: Basic` with `{email}/token:{api_token}`, or
//! `Authorization: Bearer {token}`; anything else gets 401.
//!
//! Every answer carries the profiles API's rate-limit headers: `X-Rate-Limit` and
//! `X-Rate-Limit-Remaining`, and the newer `ratelimit-limit`, `ratelimit-remaining` and
//! `ratelimit-reset` (seconds until a request leaves the 60-second window). By default the
//! emulator announces 700 a minute and enforces nothing; with a plan
//! ([`SunshineConfig::plan`], `profiles emulator --plan`) or a limit of your own
//! ([`SunshineConfig::rate_limit_per_minute`]) it answers 429 with `Retry-After` past it, as
//! Zendesk does.

mod store;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::Emulator;
use store::{Content, Failure, Put, Query, Store};

/// The API token in the documentation's examples, accepted by default.
pub const SEED_EMAIL: &str = "devs@coolbikes.com";
/// The API token in the documentation's examples, accepted by default.
pub const SEED_API_TOKEN: &str = "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv";

/// Zendesk's plans, by their profiles API limit (requests a minute), separate from and
/// smaller than the Support API's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SunshinePlan {
    /// 250 a minute.
    Team,
    /// 250 a minute.
    Growth,
    /// 500 a minute.
    Professional,
    /// 700 a minute.
    Enterprise,
    /// 1,000 a minute.
    EnterprisePlus,
}

impl SunshinePlan {
    /// The plan's profiles API limit, in requests a minute.
    pub fn per_minute(self) -> u32 {
        match self {
            SunshinePlan::Team | SunshinePlan::Growth => 250,
            SunshinePlan::Professional => 500,
            SunshinePlan::Enterprise => 700,
            SunshinePlan::EnterprisePlus => 1_000,
        }
    }
}

/// What the emulator accepts and announces.
#[derive(Clone, Debug)]
pub struct SunshineConfig {
    api_tokens: Vec<(String, String)>,
    bearer_tokens: Vec<String>,
    rate_limit: u32,
    enforced: bool,
}

impl Default for SunshineConfig {
    /// Accepts the documentation's API token (`devs@coolbikes.com/token:6wiIBW…`) and announces a
    /// rate limit of 700 requests a minute (a common Zendesk plan).
    fn default() -> Self {
        Self {
            api_tokens: vec![(SEED_EMAIL.to_owned(), SEED_API_TOKEN.to_owned())],
            bearer_tokens: Vec::new(),
            rate_limit: 700,
            enforced: false,
        }
    }
}

impl SunshineConfig {
    /// Accepts no credentials at all until some are added.
    pub fn without_credentials() -> Self {
        Self {
            api_tokens: Vec::new(),
            bearer_tokens: Vec::new(),
            rate_limit: 700,
            enforced: false,
        }
    }

    /// Announces and enforces a plan's profiles limit.
    pub fn plan(self, plan: SunshinePlan) -> Self {
        self.rate_limit_per_minute(plan.per_minute())
    }

    /// Announces and enforces a limit of `per_minute` requests in any 60 seconds: past it,
    /// 429 with `Retry-After` saying when a request leaves the window.
    pub fn rate_limit_per_minute(mut self, per_minute: u32) -> Self {
        self.rate_limit = per_minute.max(1);
        self.enforced = true;
        self
    }

    /// Also accepts this API token (`{email}/token:{token}`).
    pub fn api_token(mut self, email: impl Into<String>, token: impl Into<String>) -> Self {
        self.api_tokens.push((email.into(), token.into()));
        self
    }

    /// Also accepts this OAuth bearer token.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_tokens.push(token.into());
        self
    }

    /// The limit announced in the rate-limit headers, without enforcing it.
    pub fn announced_rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limit = per_minute;
        self.enforced = false;
        self
    }
}

/// The shared state behind the routes.
#[derive(Debug)]
pub struct SunshineState {
    config: SunshineConfig,
    store: Mutex<Store>,
    request_ids: AtomicU64,
    /// When the requests of the last 60 seconds arrived.
    window: Mutex<VecDeque<Instant>>,
    rate_limited: AtomicU64,
}

/// Where a request stands against the limit.
struct Standing {
    remaining: u32,
    /// Until a request leaves the window.
    reset: Duration,
    refused: bool,
}

impl SunshineState {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every stored profile, rendered as the API would.
    pub fn profiles(&self) -> Vec<Value> {
        self.store().all()
    }

    /// How many requests the limit answered 429.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    /// Forgets the requests of the current 60-second window, as if a minute had passed
    /// with none.
    pub fn forget_rate_window(&self) {
        self.window
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Counts a request arriving now against the 60-second window (unless the enforced
    /// limit refuses it) and says where it stands.
    fn arrive(&self) -> Standing {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= minute)
        {
            window.pop_front();
        }
        let limit = self.config.rate_limit as usize;
        let refused = self.config.enforced && window.len() >= limit;
        if !refused {
            window.push_back(now);
            // Announced only: the window need not hold more than the limit's worth.
            if window.len() > limit {
                window.pop_front();
            }
        }
        let reset = window.front().map_or(Duration::ZERO, |oldest| {
            (*oldest + minute).duration_since(now)
        });
        Standing {
            remaining: limit.saturating_sub(window.len()) as u32,
            reset,
            refused,
        }
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        if let Some(token) = value.strip_prefix("Bearer ") {
            return self.config.bearer_tokens.iter().any(|t| t == token);
        }
        let Some(encoded) = value.strip_prefix("Basic ") else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, token)) = decoded.split_once(':') else {
            return false;
        };
        let Some(email) = user.strip_suffix("/token") else {
            return false;
        };
        self.config
            .api_tokens
            .iter()
            .any(|(e, t)| e.eq_ignore_ascii_case(email) && t == token)
    }
}

/// The routes, for embedding in a server of your own. Add
/// [`faults::apply_faults`](crate::faults::apply_faults) around them if you want fault injection.
pub fn router(config: SunshineConfig) -> (Router, Arc<SunshineState>) {
    let state = Arc::new(SunshineState {
        config,
        store: Mutex::new(Store::default()),
        request_ids: AtomicU64::new(1),
        window: Mutex::new(VecDeque::new()),
        rate_limited: AtomicU64::new(0),
    });
    let router = Router::new()
        .route(
            "/api/v2/user_profiles",
            get(get_by_query).patch(patch_by_query).put(put_by_query),
        )
        .route(
            "/api/v2/user_profiles/{id}",
            get(get_by_id)
                .patch(patch_by_id)
                .put(put_by_id)
                .delete(delete_by_id),
        )
        .route(
            "/api/v2/users/{user_id}/profiles",
            get(list_for_user).put(put_for_user),
        )
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state.clone());
    (router, state)
}

/// A running Sunshine emulator.
pub type SunshineEmulator = Emulator<SunshineState>;

impl Emulator<SunshineState> {
    /// Starts with the default configuration on a free port of 127.0.0.1.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(SunshineConfig::default(), crate::loopback(0)).await
    }

    /// Starts with `config` on `addr`.
    pub async fn start_with(config: SunshineConfig, addr: SocketAddr) -> io::Result<Self> {
        let (router, state) = router(config);
        Emulator::serve(router, state, addr).await
    }

    /// Every stored profile, as the API would render it.
    pub fn profiles(&self) -> Vec<Value> {
        self.state().profiles()
    }

    /// How many requests the plan's limit answered 429.
    pub fn rate_limited(&self) -> u64 {
        self.state().rate_limited()
    }

    /// Forgets the requests of the current 60-second window (a test's "the next night
    /// comes a day later").
    pub fn forget_rate_window(&self) {
        self.state().forget_rate_window();
    }

    /// Adds profiles, each `{"source", "type", "name"?, "identifiers": [{"type", "value"}],
    /// "attributes"?}`, as a PUT by their first identifier would. Returns how many.
    pub fn seed(&self, profiles: &[Value]) -> Result<usize, String> {
        let mut store = self.state().store();
        for (index, profile) in profiles.iter().enumerate() {
            let text = |key: &str| profile.get(key).and_then(Value::as_str).unwrap_or("");
            let first = profile.pointer("/identifiers/0");
            let (Some(id_type), Some(id_value)) = (
                first.and_then(|i| i.get("type")).and_then(Value::as_str),
                first.and_then(|i| i.get("value")).and_then(Value::as_str),
            ) else {
                return Err(format!("profile {index} has no identifier"));
            };
            let query = Query::parse(&format!(
                "{}:{}:{id_type}:{id_value}",
                text("source"),
                text("type")
            ))
            .map_err(|f| format!("profile {index}: {}", f.title))?;
            let mut body = profile.clone();
            if body.get("attributes").is_none() {
                body["attributes"] = json!({});
            }
            let content = Content::parse(json!({"profile": body}).to_string().as_bytes())
                .map_err(|f| format!("profile {index}: {}", f.title))?;
            store
                .put_by_query(&query, content, None)
                .map_err(|f| format!("profile {index}: {}", f.title))?;
        }
        Ok(profiles.len())
    }
}

async fn authenticate(
    State(state): State<Arc<SunshineState>>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = state.request_ids.fetch_add(1, Ordering::Relaxed);
    let standing = state.arrive();
    let reset_secs = standing.reset.as_secs() + u64::from(standing.reset.subsec_nanos() > 0);
    let mut response = if standing.refused {
        state.rate_limited.fetch_add(1, Ordering::Relaxed);
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, reset_secs.max(1).to_string())],
            "Too Many Requests",
        )
            .into_response()
    } else if state.authorized(request.headers()) {
        next.run(request).await
    } else {
        // Zendesk's own 401 body.
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"error": "Couldn't authenticate you"}).to_string(),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&format!("emulator-{request_id:08}")) {
        headers.insert("x-request-id", id);
    }
    for (name, value) in [
        ("x-rate-limit", state.config.rate_limit),
        ("x-rate-limit-remaining", standing.remaining),
        ("ratelimit-limit", state.config.rate_limit),
        ("ratelimit-remaining", standing.remaining),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    headers.insert("ratelimit-reset", HeaderValue::from(reset_secs));
    response
}

fn failure(failure: Failure) -> Response {
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"errors": [{"code": failure.code, "title": failure.title}]});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn profile_response(status: StatusCode, profile: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"profile": profile}).to_string(),
    )
        .into_response()
}

fn identifier(raw: Option<String>) -> Result<Query, Failure> {
    let raw = raw.unwrap_or_default();
    let value = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{raw}")
            .parse()
            .map_err(|_| Failure::bad_request("InvalidQuery", "bad query string"))?,
    )
    .map_err(|_| Failure::bad_request("InvalidQuery", "bad query string"))?
    .0
    .into_iter()
    .find(|(k, _)| k == "identifier")
    .map(|(_, v)| v)
    .ok_or_else(|| {
        Failure::bad_request(
            "MissingIdentifier",
            "the `identifier` query parameter is required",
        )
    })?;
    Query::parse(&value)
}

fn respond(result: Result<Value, Failure>) -> Response {
    match result {
        Ok(profile) => profile_response(StatusCode::OK, profile),
        Err(f) => failure(f),
    }
}

async fn get_by_query(
    State(state): State<Arc<SunshineState>>,
    RawQuery(raw): RawQuery,
) -> Response {
    respond(identifier(raw).and_then(|q| state.store().get_by_query(&q)))
}

async fn patch_by_query(
    State(state): State<Arc<SunshineState>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    respond(identifier(raw).and_then(|q| {
        let content = Content::parse(&body)?;
        state.store().patch_by_query(&q, content)
    }))
}

fn put_response(result: Result<Put, Failure>) -> Response {
    match result {
        Ok(Put::Created(profile)) => profile_response(StatusCode::CREATED, profile),
        Ok(Put::Replaced(profile)) => profile_response(StatusCode::OK, profile),
        Err(f) => failure(f),
    }
}

async fn put_by_query(
    State(state): State<Arc<SunshineState>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    put_response(identifier(raw).and_then(|q| {
        let content = Content::parse(&body)?;
        state.store().put_by_query(&q, content, None)
    }))
}

async fn put_for_user(
    State(state): State<Arc<SunshineState>>,
    Path(user_id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    put_response(identifier(raw).and_then(|q| {
        let content = Content::parse(&body)?;
        state.store().put_by_query(&q, content, Some(&user_id))
    }))
}

async fn get_by_id(State(state): State<Arc<SunshineState>>, Path(id): Path<String>) -> Response {
    respond(state.store().get_by_id(&id))
}

async fn patch_by_id(
    State(state): State<Arc<SunshineState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond(Content::parse(&body).and_then(|content| state.store().patch(&id, content)))
}

async fn put_by_id(
    State(state): State<Arc<SunshineState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    respond(Content::parse(&body).and_then(|content| state.store().put_by_id(&id, content)))
}

async fn delete_by_id(State(state): State<Arc<SunshineState>>, Path(id): Path<String>) -> Response {
    match state.store().delete(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(f) => failure(f),
    }
}

async fn list_for_user(
    State(state): State<Arc<SunshineState>>,
    Path(user_id): Path<String>,
) -> Response {
    match state.store().list_for_user(&user_id) {
        Ok(profiles) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"profiles": profiles}).to_string(),
        )
            .into_response(),
        Err(f) => failure(f),
    }
}
