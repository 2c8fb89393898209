//! The LumApps emulator: user directory modules, users, and the application-token
//! exchange.
//!
//! Routes: `POST /_ah/api/lumsites/v1/content/list`, `GET …/content/get`,
//! `GET …/user/directory/get`, `POST …/user/directory/save`, `POST …/user/directory/list`,
//! and `POST /v2/organizations/{customer_id}/application-token`. Lists page with
//! `{"items", "more", "cursor"}`, the cursor going back in the body. `user/directory/get` and
//! `user/directory/list` honour the `fields` query parameter (a partial response, see
//! `partial`).
//!
//! Started with no options it holds the documentation's instance (6288388086038528), customer
//! (4664706704080896), the user directory module 6486401110769664 with its two fields
//! ("Title", bound to `organizations/title`, and "Phone Number"), a news page (a content
//! that is not a directory), and the user me@customer.com. It accepts the bearer token
//! `demo-token`, and exchanges the client pair `demo-client` / `demo-secret` for tokens.
//!
//! A save needs `contentId`. Like LumApps, a save stores a bound field's value, written
//! under `customProfile.{uuid}`, at its bound path under `apiProfile` (taken as written:
//! `organizations/title` is `apiProfile.organizations.title`), and an unbound field's under
//! `customProfile.{uuid}`; every other property is kept as sent.

mod directory;
mod partial;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::Emulator;
use directory::{Synthetic, Users};

/// The documentation's instance.
pub const SEED_INSTANCE: &str = "6288388086038528";
/// The documentation's customer (organization).
pub const SEED_CUSTOMER: &str = "4664706704080896";
/// The documentation's user directory module.
pub const SEED_DIRECTORY: &str = "6486401110769664";
/// The documentation's "Title" field, bound to `organizations/title`.
pub const TITLE_FIELD: &str = "be3363f3-4df8-4a93-b27c-9c8c69258801";
/// The documentation's "Phone Number" field.
pub const PHONE_FIELD: &str = "b72127e4-867a-4aba-a843-70c11dc599ef";
/// A content of the instance that is not a user directory.
pub const NEWS_PAGE: &str = "5700000000000001";
/// The bearer token accepted by default.
pub const DEMO_TOKEN: &str = "demo-token";
/// The application client accepted by default for the token exchange.
pub const DEMO_CLIENT: (&str, &str) = ("demo-client", "demo-secret");

/// What the emulator holds and accepts.
#[derive(Clone, Debug)]
pub struct LumAppsConfig {
    tokens: Vec<String>,
    clients: Vec<(String, String)>,
    token_lifetime: Duration,
    synthetic_users: u64,
    synthetic_title: Option<String>,
    synthetic_extra_fields: usize,
}

impl Default for LumAppsConfig {
    fn default() -> Self {
        Self {
            tokens: vec![DEMO_TOKEN.to_owned()],
            clients: vec![(DEMO_CLIENT.0.to_owned(), DEMO_CLIENT.1.to_owned())],
            token_lifetime: Duration::from_secs(3_600),
            synthetic_users: 0,
            synthetic_title: None,
            synthetic_extra_fields: 0,
        }
    }
}

impl LumAppsConfig {
    /// Also accepts this bearer token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.tokens.push(token.into());
        self
    }

    /// Also exchanges this client pair for tokens.
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.clients.push((id.into(), secret.into()));
        self
    }

    /// How long exchanged tokens live (`expires_in`).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Adds `count` synthetic users (`user0000000@customer.com` …) to the documentation's directory,
    /// generated when asked for rather than held in memory. Among them, as in a real
    /// directory, every tenth is disabled (`user0000009`, `user0000019`, …) and every
    /// twentieth hidden (`user0000004`, `user0000024`, …): `user/directory/list` shows them
    /// only when asked (`status: DISABLED`, `showHidden: true`).
    pub fn synthetic_users(mut self, count: u64) -> Self {
        self.synthetic_users = count;
        self
    }

    /// Gives every synthetic user this job title (the "Title" field,
    /// `apiProfile.organizations.title`); by default they have none.
    pub fn synthetic_title(mut self, title: impl Into<String>) -> Self {
        self.synthetic_title = Some(title.into());
        self
    }

    /// Adds `count` text fields to the directory's template, "Extra 1" … "Extra {count}",
    /// which every synthetic user holds as `E{k}-{index:07}` (`E1-0000042`): a wider
    /// directory, for benchmarks of many fields.
    pub fn synthetic_extra_fields(mut self, count: usize) -> Self {
        self.synthetic_extra_fields = count;
        self
    }
}

/// The uuid of the template's field "Extra {k}".
pub(crate) fn extra_field_uuid(k: usize) -> String {
    format!("00000000-0000-4000-8000-{k:012}")
}

fn seed_directory() -> Value {
    json!({
        "title": {"en": "Users Directory"},
        "id": SEED_DIRECTORY,
        "uid": SEED_DIRECTORY,
        "instance": SEED_INSTANCE,
        "customer": SEED_CUSTOMER,
        "isDefaultUserDirectory": false,
        "type": "user_directory",
        "status": "LIVE",
        "slug": {"en": "users-directory"},
        "template": {
            "components": [
                {
                    "uuid": TITLE_FIELD,
                    "title": {"en": "Title"},
                    "type": "inputText",
                    "properties": {
                        "index": 0,
                        "isBound": true,
                        "boundMap": {"text": "organizations/title", "name": "API_PROFILE_FIELD_TITLE"},
                        "icon": "bank"
                    },
                    "status": "LIVE"
                },
                {
                    "uuid": PHONE_FIELD,
                    "title": {"fr": "Phone Number"},
                    "type": "inputText",
                    "properties": {"editFeeds": [], "availableValues": [{}], "icon": "account"},
                    "status": "LIVE"
                }
            ],
            "heritable": false,
            "createdAt": "2018-04-12T07:43:23.624150",
            "uid": ""
        }
    })
}

fn seed_user() -> Map<String, Value> {
    let user = json!({
        "id": "5629499534213120",
        "uid": "5629499534213120",
        "email": "me@customer.com",
        "firstName": "Morgan",
        "lastName": "Lee",
        "fullName": "Morgan Lee",
        "lang": "en",
        "status": "enabled",
        "customer": SEED_CUSTOMER,
        "settings": {"social": {"twitter": "@morgan"}},
        "apiProfile": {"name": {"givenName": "Morgan", "familyName": "Lee"}, "organizations": {"department": "Support"}}
    });
    match user {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The shared state behind the routes.
#[derive(Debug)]
pub struct LumAppsState {
    config: LumAppsConfig,
    contents: Vec<Value>,
    users: Mutex<Users>,
    /// The synthetic users, made outside the lock of `users`.
    synthetic: Arc<Synthetic>,
    issued: Mutex<HashMap<String, Instant>>,
    counter: AtomicU64,
}

impl LumAppsState {
    fn users(&self) -> MutexGuard<'_, Users> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn issued(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.issued.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A user of the directory by e-mail, as stored.
    pub fn user(&self, email: &str) -> Option<Map<String, Value>> {
        let found = self.users().find_email(email)?;
        Some(self.synthetic.make(found))
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.config.tokens.iter().any(|t| t == token)
            || self
                .issued()
                .get(token)
                .is_some_and(|expiry| Instant::now() < *expiry)
    }
}

/// A refusal in LumApps' legacy error format; becomes a response at the handler's edge.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    reason: &'static str,
    message: &'static str,
}

fn refuse(status: StatusCode, reason: &'static str, message: &'static str) -> Refusal {
    Refusal {
        status,
        reason,
        message,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "code": self.status.as_u16(),
            "errors": [{"domain": "global", "message": self.message, "reason": self.reason}],
            "message": self.message,
        }});
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

fn error(status: StatusCode, reason: &'static str, message: &'static str) -> Response {
    refuse(status, reason, message).into_response()
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials")
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(refuse(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "the body must be a JSON object",
        )),
    }
}

/// Decodes a cursor (a position), refusing one this emulator did not hand out.
fn position(cursor: Option<&Value>) -> Result<u64, Refusal> {
    match cursor.and_then(Value::as_str) {
        None | Some("") => Ok(0),
        Some(c) => c
            .strip_prefix("pos-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "badRequest", "invalid cursor")),
    }
}

fn max_results(body: &Map<String, Value>) -> Result<u64, Refusal> {
    match body.get("maxResults") {
        None => Ok(30),
        Some(Value::String(s)) => s
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(1_000))
            .ok_or_else(|| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "badRequest",
                    "maxResults must be a number from 1",
                )
            }),
        Some(Value::Number(n)) => Ok(n.as_u64().unwrap_or(30).clamp(1, 1_000)),
        Some(_) => Err(refuse(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "maxResults must be a string",
        )),
    }
}

fn page_body(items: Vec<Value>, more: bool, next: u64) -> Value {
    let mut body = json!({"items": items, "more": more});
    if more {
        body["cursor"] = json!(format!("pos-{next}"));
    }
    body
}

/// The routes, for embedding in a server of your own.
pub fn router(config: LumAppsConfig) -> (Router, Arc<LumAppsState>) {
    let synthetic = Arc::new(Synthetic::new(
        config.synthetic_users,
        "customer.com",
        config.synthetic_title.clone(),
        config.synthetic_extra_fields,
    ));
    let mut users = Users::new(synthetic.clone());
    let mut directory = seed_directory();
    if let Some(Value::Array(components)) = directory.pointer_mut("/template/components") {
        for k in 1..=config.synthetic_extra_fields {
            components.push(json!({
                "uuid": extra_field_uuid(k),
                "title": {"en": format!("Extra {k}")},
                "type": "inputText",
                "properties": {},
                "status": "LIVE"
            }));
        }
    }
    users.insert(seed_user());
    let news = json!({"id": NEWS_PAGE, "uid": NEWS_PAGE, "instance": SEED_INSTANCE, "customer": SEED_CUSTOMER,
                      "type": "news", "title": {"en": "Company news"}, "status": "LIVE"});
    let state = Arc::new(LumAppsState {
        config,
        contents: vec![directory, news],
        users: Mutex::new(users),
        synthetic,
        issued: Mutex::new(HashMap::new()),
        counter: AtomicU64::new(1),
    });
    let legacy = Router::new()
        .route("/_ah/api/lumsites/v1/content/list", post(content_list))
        .route("/_ah/api/lumsites/v1/content/get", get(content_get))
        .route(
            "/_ah/api/lumsites/v1/user/directory/get",
            get(directory_get),
        )
        .route(
            "/_ah/api/lumsites/v1/user/directory/save",
            post(directory_save),
        )
        .route(
            "/_ah/api/lumsites/v1/user/directory/list",
            post(directory_list),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_bearer,
        ));
    let router = legacy
        .route(
            "/v2/organizations/{customer}/application-token",
            post(application_token),
        )
        .with_state(state.clone());
    (router, state)
}

/// Refuses every legacy call without a valid bearer token (the token exchange itself uses
/// HTTP Basic and is outside this layer).
async fn require_bearer(
    State(state): State<Arc<LumAppsState>>,
    request: Request,
    next: Next,
) -> Response {
    if state.authorized(request.headers()) {
        next.run(request).await
    } else {
        unauthorized()
    }
}

async fn content_list(
    State(state): State<Arc<LumAppsState>>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let body = body_object(&body)?;
    let strings = |key: &str| -> Vec<String> {
        match body.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        }
    };
    let (instances, types, excluded) = (
        strings("instanceId"),
        strings("type"),
        strings("excludeType"),
    );
    let matching: Vec<Value> = state
        .contents
        .iter()
        .filter(|c| {
            let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            (instances.is_empty() || instances.contains(&field("instance")))
                && (types.is_empty() || types.contains(&field("type")))
                && !excluded.contains(&field("type"))
        })
        .cloned()
        .collect();
    let (start, count) = (position(body.get("cursor"))?, max_results(&body)?);
    let end = start.saturating_add(count).min(matching.len() as u64);
    let items = matching
        .get(start as usize..end as usize)
        .unwrap_or(&[])
        .to_vec();
    Ok(ok(page_body(items, end < matching.len() as u64, end)))
}

async fn content_get(
    State(state): State<Arc<LumAppsState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    let uid = query
        .get("uid")
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "badRequest", "uid is required"))?;
    state
        .contents
        .iter()
        .find(|c| c.get("uid").and_then(Value::as_str) == Some(uid))
        .map(|content| ok(content.clone()))
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "notFound", "CONTENT_NOT_FOUND"))
}

fn known_directory(state: &LumAppsState, id: Option<&str>) -> Result<Value, Refusal> {
    let Some(id) = id.filter(|id| !id.is_empty()) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "contentId is required",
        ));
    };
    state
        .contents
        .iter()
        .find(|c| {
            c.get("uid").and_then(Value::as_str) == Some(id)
                && c.get("type").and_then(Value::as_str) == Some("user_directory")
        })
        .cloned()
        .ok_or_else(|| {
            refuse(
                StatusCode::NOT_FOUND,
                "notFound",
                "USER_DIRECTORY_NOT_FOUND",
            )
        })
}

async fn directory_get(
    State(state): State<Arc<LumAppsState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    known_directory(&state, query.get("contentId").map(String::as_str))?;
    let found = match (query.get("email"), query.get("uid")) {
        (Some(email), _) => state.users().find_email(email),
        (None, Some(uid)) => state.users().find_uid(uid),
        (None, None) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "badRequest",
                "email or uid is required",
            ));
        }
    };
    let selection = selection(&query)?;
    found
        .map(|found| state.synthetic.make(found))
        .map(|user| ok(partial(selection.as_ref(), Value::Object(user))))
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "notFound", "USER_NOT_FOUND"))
}

/// The partial response asked for with `fields`, if any: a selector that does not parse
/// is refused, as Google's API front end does.
fn selection(query: &HashMap<String, String>) -> Result<Option<partial::Selection>, Refusal> {
    match query.get("fields") {
        None => Ok(None),
        Some(text) => partial::Selection::parse(text).map(Some).ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "invalidParameter",
                "Invalid field selection",
            )
        }),
    }
}

fn partial(selection: Option<&partial::Selection>, body: Value) -> Value {
    match selection {
        Some(selection) => selection.apply(body),
        None => body,
    }
}

/// Moves the values of bound fields from `customProfile.{uuid}` to their `apiProfile` path.
fn store_bound_fields(user: &mut Map<String, Value>, directory: &Value) {
    let components = directory
        .pointer("/template/components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for component in components {
        let (Some(uuid), Some(path)) = (
            component.get("uuid").and_then(Value::as_str),
            component
                .pointer("/properties/boundMap/text")
                .and_then(Value::as_str),
        ) else {
            continue;
        };
        if component.pointer("/properties/isBound") != Some(&json!(true)) {
            continue;
        }
        let Some(value) = user
            .get_mut("customProfile")
            .and_then(Value::as_object_mut)
            .and_then(|custom| custom.remove(uuid))
        else {
            continue;
        };
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let Some((last, parents)) = segments.split_last() else {
            continue;
        };
        let mut target = user.entry("apiProfile").or_insert_with(|| json!({}));
        for segment in parents {
            if !target.is_object() {
                *target = json!({});
            }
            let Value::Object(map) = target else { break };
            target = map
                .entry((*segment).to_owned())
                .or_insert_with(|| json!({}));
        }
        if !target.is_object() {
            *target = json!({});
        }
        if let Value::Object(map) = target {
            map.insert((*last).to_owned(), value);
        }
    }
}

async fn directory_save(
    State(state): State<Arc<LumAppsState>>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let mut user = body_object(&body)?;
    let directory = known_directory(&state, user.get("contentId").and_then(Value::as_str))?;
    let email = user
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            refuse(
                StatusCode::BAD_REQUEST,
                "badRequest",
                "the user has no email",
            )
        })?;
    user.remove("contentId");
    store_bound_fields(&mut user, &directory);
    let mut users = state.users();
    let (id, uid) = users
        .ids_of(&email)
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "notFound", "USER_NOT_FOUND"))?;
    // Identity is the server's: id and uid stay what they were.
    for (key, value) in [("id", id), ("uid", uid)] {
        if let Some(value) = value {
            user.insert(key.to_owned(), value);
        }
    }
    users.insert(user.clone());
    drop(users);
    Ok(ok(Value::Object(user)))
}

async fn directory_list(
    State(state): State<Arc<LumAppsState>>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let selection = selection(&query)?;
    let body = body_object(&body)?;
    known_directory(&state, body.get("contentId").and_then(Value::as_str))?;
    let (start, count) = (position(body.get("cursor"))?, max_results(&body)?);
    let disabled = match body.get("status").and_then(Value::as_str) {
        None => false,
        Some(s) if s.eq_ignore_ascii_case("enabled") => false,
        Some(s) if s.eq_ignore_ascii_case("disabled") => true,
        Some(_) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "badRequest",
                "status must be ENABLED or DISABLED",
            ));
        }
    };
    let hidden = body.get("showHidden").and_then(Value::as_bool) == Some(true);
    let (found, next, more) =
        state
            .users()
            .page_shown(start, count, directory::Shown { disabled, hidden });
    // Of a synthetic user, only what the selector keeps is made.
    let kept = selection
        .as_ref()
        .map(|selection| selection.inside("items"));
    let keep = |name: &str| match kept {
        None | Some(Some(None)) => true,
        Some(None) => false,
        Some(Some(Some(inside))) => inside.keeps(name),
    };
    let items = found
        .into_iter()
        .map(|found| Value::Object(state.synthetic.make_keeping(found, keep)))
        .collect();
    Ok(ok(partial(
        selection.as_ref(),
        page_body(items, more, next),
    )))
}

async fn application_token(
    State(state): State<Arc<LumAppsState>>,
    Path(customer): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if customer != SEED_CUSTOMER {
        return error(StatusCode::NOT_FOUND, "notFound", "ORGANIZATION_NOT_FOUND");
    }
    let pair = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|d| String::from_utf8(d).ok());
    let known = pair
        .as_deref()
        .and_then(|p| p.split_once(':'))
        .is_some_and(|(id, secret)| {
            state
                .config
                .clients
                .iter()
                .any(|(i, s)| i == id && s == secret)
        });
    if !known {
        return unauthorized();
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return error(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "grant_type must be client_credentials",
        );
    }
    let Some(email) = form.get("user_email").filter(|e| !e.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "user_email is required",
        );
    };
    if state.users().find_email(email).is_none() {
        return error(StatusCode::BAD_REQUEST, "badRequest", "unknown user_email");
    }
    let token = format!(
        "lumapps-token-{:06}",
        state.counter.fetch_add(1, Ordering::Relaxed)
    );
    state
        .issued()
        .insert(token.clone(), Instant::now() + state.config.token_lifetime);
    ok(
        json!({"access_token": token, "token_type": "Bearer", "expires_in": state.config.token_lifetime.as_secs()}),
    )
}

/// A running LumApps emulator.
pub type LumAppsEmulator = Emulator<LumAppsState>;

impl Emulator<LumAppsState> {
    /// Starts with the default configuration on a free port of 127.0.0.1.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(LumAppsConfig::default(), crate::loopback(0)).await
    }

    /// Starts with `config` on `addr`.
    pub async fn start_with(config: LumAppsConfig, addr: SocketAddr) -> io::Result<Self> {
        let (router, state) = router(config);
        Emulator::serve(router, state, addr).await
    }

    /// A user by e-mail, as stored.
    pub fn user(&self, email: &str) -> Option<Map<String, Value>> {
        self.state().user(email)
    }

    /// Adds (or replaces) directory users, each a JSON object with an `email`. Returns how
    /// many.
    pub fn seed(&self, users: &[Value]) -> Result<usize, String> {
        let mut store = self.state().users();
        for (index, user) in users.iter().enumerate() {
            match user {
                Value::Object(map) if map.get("email").and_then(Value::as_str).is_some() => {
                    store.insert(map.clone())
                }
                _ => return Err(format!("user {index} is not an object with an email")),
            }
        }
        Ok(users.len())
    }

    /// Renames a user seeded with [`seed`](Self::seed), as the identity provider does when
    /// a person's address changes: the same id and uid, found under `to` and no longer
    /// under `from`. Answers whether such a user was there.
    pub fn rename(&self, from: &str, to: &str) -> bool {
        self.state().users().rename(from, to)
    }

    /// Makes every exchanged token invalid (as if they had expired), so that the next call
    /// with one answers 401.
    pub fn revoke_tokens(&self) {
        self.state().issued().clear();
    }

    /// Tokens exchanged so far.
    pub fn tokens_issued(&self) -> u64 {
        self.state().counter.load(Ordering::Relaxed) - 1
    }
}
