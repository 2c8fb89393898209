//! The Akamai Identity Cloud (Janrain Capture) emulator.
//!
//! Routes (form-encoded `POST`s under the application's base URL): `/entity.update`,
//! `/entity`, `/entity.replace`, `/entity.create`, `/entity.find`, `/entity.count`,
//! `/entity.delete` and `/entityType` (also `GET /entityType?type_name=…`). Answers are JSON with HTTP 200, errors
//! included (`{"stat": "error", "code": 310, "error": "record_not_found", …}`), as Capture
//! answers most of them.
//!
//! Semantics follow Capture's documentation: a partial update leaves unnamed attributes
//! alone; plural values are appended with new element ids unless an element id is given
//! (`/statuses#5253`), which replaces that element; unknown attributes are 223, a missing
//! record 310, both `id` and `uuid` 201, a failed `created` / `lastUpdated` precondition
//! 330; `key_attribute` must name a unique attribute; `include_record` returns the record,
//! or the part under `attribute_name`; `/entity` with `attributes` (a JSON array of
//! top-level names) returns only those; `lastUpdated` and `created` use Capture's timestamp
//! format (`2016-03-13 19:39:17.856608 +0000`).
//!
//! Authentication: HTTP Basic with a known client id and secret (else 402), `OAuth
//! {token}` with a known access token (else 210), a signature (`Date` and `Signature
//! {client_id}:{hmac}`, else 431), or, the legacy way, `client_id` and `client_secret` as
//! form parameters (else 402); no authentication at all is 205. `key_attribute` takes any
//! unique attribute of the schema, and `uuid` and `id`, which every entity has.

mod filter;
mod schema;
mod store;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha1::Sha1;

pub use schema::{Attribute, AttributeType, EntitySchema};
use store::{Failure, Params, Store, Write, fail};

use crate::Emulator;

/// The client id and secret in the documentation's first example's Basic header.
pub const SEED_CLIENT_1: (&str, &str) = (
    "sgnyvus6pc4jm7khr2neq5gs89gbr2eq",
    "wt4c3un9wkkcfvyknqx44ync476afs68",
);
/// The client id and secret in the documentation's third example's Basic header.
pub const SEED_CLIENT_2: (&str, &str) = (
    "ut4bgrra7w282jcfmypfqx9pzhqhjj2b",
    "unjze9nwkfuy6jpw838qpa7ad3hdnya6",
);
/// The OAuth access token the emulator accepts by default (the documentation shows none).
pub const DEMO_ACCESS_TOKEN: &str = "capture-demo-access-token";
/// The `created` and `lastUpdated` of the seeded records.
pub const SEED_TIMESTAMP: &str = "2016-03-13 19:39:17.856608 +0000";

/// What the emulator accepts and holds at start.
#[derive(Clone, Debug)]
pub struct CaptureConfig {
    clients: Vec<(String, String)>,
    login_clients: Vec<String>,
    access_tokens: Vec<String>,
    types: BTreeMap<String, EntitySchema>,
    seed_records: bool,
}

impl Default for CaptureConfig {
    /// The `user` type with [`EntitySchema::seed_user`], the documentation's records (uuid
    /// 6bbe7e58-…, id 5252 with statuses element 5253, email gjack@example.com), the two
    /// client pairs of the documentation's Basic headers, and [`DEMO_ACCESS_TOKEN`].
    fn default() -> Self {
        Self {
            clients: [SEED_CLIENT_1, SEED_CLIENT_2]
                .iter()
                .map(|(id, secret)| ((*id).to_owned(), (*secret).to_owned()))
                .collect(),
            login_clients: Vec::new(),
            access_tokens: vec![DEMO_ACCESS_TOKEN.to_owned()],
            types: BTreeMap::from([("user".to_owned(), EntitySchema::seed_user())]),
            seed_records: true,
        }
    }
}

impl CaptureConfig {
    /// No credentials, no types, no records: add what you need.
    pub fn empty() -> Self {
        Self {
            clients: Vec::new(),
            login_clients: Vec::new(),
            access_tokens: Vec::new(),
            types: BTreeMap::new(),
            seed_records: false,
        }
    }

    /// Also accepts this API client (Basic and signed requests).
    pub fn client(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.clients.push((client_id.into(), client_secret.into()));
        self
    }

    /// Also accepts this API client, as one with neither the `owner` nor the
    /// `direct_access` feature (a login client): every call but `entity.bulkCreate`.
    pub fn login_client(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        let client_id = client_id.into();
        self.login_clients.push(client_id.clone());
        self.clients.push((client_id, client_secret.into()));
        self
    }

    /// Also accepts this OAuth access token.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_tokens.push(token.into());
        self
    }

    /// Adds (or replaces) an entity type.
    pub fn entity_type(mut self, name: impl Into<String>, schema: EntitySchema) -> Self {
        self.types.insert(name.into(), schema);
        self
    }

    /// Adds (or replaces) the entity type an `entityType` answer describes (its
    /// `schema.name`, `user` when it names none), for rehearsing with your own attributes.
    /// The documentation's records, whose attributes may not fit it, are not loaded.
    pub fn schema_from_entity_type(mut self, description: &Value) -> Result<Self, String> {
        let schema = EntitySchema::from_entity_type(description)?;
        let name = description
            .pointer("/schema/name")
            .or_else(|| description.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("user")
            .to_owned();
        self.types.insert(name, schema);
        self.seed_records = false;
        Ok(self)
    }
}

fn seed_records(store: &mut Store) {
    let record = |id: u64,
                  uuid: &str,
                  given: &str,
                  family: &str,
                  display: &str,
                  email: &str,
                  statuses: Value| {
        let mut map = Map::new();
        for (k, v) in [
            ("id", json!(id)),
            ("uuid", json!(uuid)),
            ("created", json!(SEED_TIMESTAMP)),
            ("lastUpdated", json!(SEED_TIMESTAMP)),
            ("givenName", json!(given)),
            ("familyName", json!(family)),
            ("displayName", json!(display)),
            ("email", json!(email)),
            ("statuses", statuses),
        ] {
            map.insert(k.to_owned(), v);
        }
        map
    };
    let records = [
        record(
            5250,
            "6bbe7e58-bede-41b8-940b-5614c7607a4e",
            "Matthew",
            "Park",
            "Matt Park",
            "mpark@example.com",
            json!([]),
        ),
        record(
            5252,
            "0e5d2f7a-3c1b-4d8e-9f6a-5b4c3d2e1f00",
            "Ada",
            "Lane",
            "Ada Lane",
            "alane@example.com",
            json!([{"id": 5253, "status": "inactive"}]),
        ),
        record(
            5254,
            "b3f1c2d4-7e8a-4f5b-9c6d-1a2b3c4d5e6f",
            "Gary",
            "Jackson",
            "G. Jackson",
            "gjack@example.com",
            json!([]),
        ),
    ];
    for r in records {
        store.insert_raw("user", r);
    }
}

/// The shared state behind the routes.
#[derive(Debug)]
pub struct CaptureState {
    clients: Vec<(String, String)>,
    login_clients: Vec<String>,
    access_tokens: Vec<String>,
    store: Mutex<Store>,
    tokens: AtomicU64,
}

impl CaptureState {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every record of an entity type.
    pub fn records(&self, type_name: &str) -> Vec<Value> {
        self.store().records(type_name)
    }

    fn secret_of(&self, client_id: &str) -> Option<&str> {
        self.clients
            .iter()
            .find(|(id, _)| id == client_id)
            .map(|(_, s)| s.as_str())
    }

    /// Whether the caller (already authorized) is a client with the `owner` or
    /// `direct_access` feature: not an end user's access token, not a login client.
    fn may_bulk_create(&self, headers: &HeaderMap, params: &Params) -> bool {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let client = if let Some(encoded) = value.strip_prefix("Basic ") {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(encoded.trim().trim_end_matches('='))
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .and_then(|d| d.split_once(':').map(|(id, _)| id.to_owned()))
        } else if let Some(signature) = value.strip_prefix("Signature ") {
            signature.split_once(':').map(|(id, _)| id.to_owned())
        } else if value.is_empty() {
            params.get("client_id").map(str::to_owned)
        } else {
            None
        };
        client.is_some_and(|id| !self.login_clients.contains(&id))
    }

    fn authorize(&self, headers: &HeaderMap, path: &str, params: &Params) -> Result<(), Failure> {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            // The legacy way, janrain-python-api's unsigned mode: the client's id and
            // secret as form parameters.
            if let (Some(id), Some(secret)) = (params.get("client_id"), params.get("client_secret"))
            {
                return if self.secret_of(id) == Some(secret) {
                    Ok(())
                } else {
                    fail(402, "the client id or secret is not valid")
                };
            }
            return fail(
                205,
                "no authentication: use Basic, OAuth or a signed request",
            );
        };
        if let Some(encoded) = value.strip_prefix("Basic ") {
            // Padding is not insisted on: the documentation's own first example carries one `=` too many.
            let engine = base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
            );
            let decoded = engine
                .decode(encoded.trim().trim_end_matches('='))
                .ok()
                .and_then(|d| String::from_utf8(d).ok());
            let pair = decoded.as_deref().and_then(|d| d.split_once(':'));
            return match pair {
                Some((id, secret)) if self.secret_of(id) == Some(secret) => Ok(()),
                _ => fail(402, "the client id or secret is not valid"),
            };
        }
        if let Some(token) = value.strip_prefix("OAuth ") {
            return if self.access_tokens.iter().any(|t| t == token) {
                Ok(())
            } else {
                fail(210, "the access token is not valid")
            };
        }
        if let Some(signature) = value.strip_prefix("Signature ") {
            let Some((client_id, given)) = signature.split_once(':') else {
                return fail(431, "the signature must be {client_id}:{signature}");
            };
            let Some(secret) = self.secret_of(client_id) else {
                return fail(402, "the client id is not valid");
            };
            let Some(date) = headers.get(header::DATE).and_then(|v| v.to_str().ok()) else {
                return fail(431, "a signed request needs a Date header");
            };
            return if expected_signature(path, date, &params.0, secret) == given {
                Ok(())
            } else {
                fail(431, "the signature does not match")
            };
        }
        fail(205, "unsupported authentication scheme")
    }
}

/// The signature Capture expects, computed here independently of the client's signer.
fn expected_signature(path: &str, date: &str, params: &[(String, String)], secret: &str) -> String {
    let mut lines: Vec<String> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "client_id" | "client_secret" | "access_token"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    lines.sort();
    let data = format!(
        "{path}\n{date}\n{}",
        lines.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The routes, for embedding in a server of your own.
pub fn router(config: CaptureConfig) -> (Router, Arc<CaptureState>) {
    let mut store = Store::new(config.types);
    if config.seed_records {
        seed_records(&mut store);
    }
    let state = Arc::new(CaptureState {
        clients: config.clients,
        login_clients: config.login_clients,
        access_tokens: config.access_tokens,
        store: Mutex::new(store),
        tokens: AtomicU64::new(1),
    });
    let router = Router::new()
        .route("/entity.update", post(update))
        .route("/entity", post(entity))
        .route("/entity.replace", post(replace))
        .route("/entity.create", post(create))
        .route("/entity.bulkCreate", post(bulk_create))
        .route("/entity.find", post(find))
        .route("/entity.count", post(count))
        .route("/entity.delete", post(delete))
        .route("/entityType", post(entity_type).get(entity_type_by_query))
        .with_state(state.clone());
    (router, state)
}

/// A running Capture emulator.
pub type CaptureEmulator = Emulator<CaptureState>;

impl Emulator<CaptureState> {
    /// Starts with the default configuration on a free port of 127.0.0.1.
    pub async fn start() -> io::Result<Self> {
        Self::start_with(CaptureConfig::default(), crate::loopback(0)).await
    }

    /// Starts with `config` on `addr`.
    pub async fn start_with(config: CaptureConfig, addr: SocketAddr) -> io::Result<Self> {
        let (router, state) = router(config);
        Emulator::serve(router, state, addr).await
    }

    /// Every record of an entity type.
    pub fn records(&self, type_name: &str) -> Vec<Value> {
        self.state().records(type_name)
    }

    /// Creates records of `type_name` from attribute objects, as `entity.create` would.
    /// Returns how many.
    pub fn seed(&self, type_name: &str, records: &[Value]) -> Result<usize, String> {
        let mut store = self.state().store();
        for (index, attributes) in records.iter().enumerate() {
            let params = Params(vec![
                ("type_name".to_owned(), type_name.to_owned()),
                ("attributes".to_owned(), attributes.to_string()),
            ]);
            store
                .create(&params)
                .map_err(|f| format!("record {index}: {} {}", f.code, f.description))?;
        }
        Ok(records.len())
    }
}

fn answer(state: &CaptureState, result: Result<Value, Failure>) -> Response {
    let body = match result {
        Ok(body) => body,
        Err(failure) => json!({
            "stat": "error",
            "code": failure.code,
            "error": failure.error,
            "error_description": failure.description,
            "request_token": format!("emulator-token-{:08}", state.tokens.fetch_add(1, Ordering::Relaxed)),
        }),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn params(body: &[u8]) -> Params {
    Params(
        form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

fn handle(
    state: &CaptureState,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    call: impl FnOnce(&mut Store, &Params) -> Result<Value, Failure>,
) -> Response {
    let params = params(body);
    let result = state
        .authorize(headers, path, &params)
        .and_then(|()| call(&mut state.store(), &params));
    answer(state, result)
}

fn include_record(params: &Params) -> bool {
    params
        .get("include_record")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

async fn update(
    State(state): State<Arc<CaptureState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&state, &headers, "/entity.update", &body, Write::Update)
}

async fn replace(
    State(state): State<Arc<CaptureState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    write(&state, &headers, "/entity.replace", &body, Write::Replace)
}

/// `entity.update` and `entity.replace`: one call, differing only in what happens to what
/// the values do not restate.
fn write(
    state: &CaptureState,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    mode: Write,
) -> Response {
    handle(state, headers, path, body, |store, params| {
        let record = store.write(params, mode)?;
        Ok(if include_record(params) {
            json!({"stat": "ok", "result": record})
        } else {
            json!({"stat": "ok"})
        })
    })
}

async fn entity(
    State(state): State<Arc<CaptureState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &headers, "/entity", &body, |store, params| {
        Ok(json!({"stat": "ok", "result": store.read(params)?}))
    })
}

async fn create(
    State(state): State<Arc<CaptureState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(
        &state,
        &headers,
        "/entity.create",
        &body,
        |store, params| {
            let (id, uuid) = store.create(params)?;
            Ok(json!({"stat": "ok", "id": id, "uuid": uuid}))
        },
    )
}

/// `entity.bulkCreate`: each record of `all_attributes` created as `entity.create` would,
/// in order; a record refused for its values is an error object in `uuid_results` (and
/// `results`), and the others are created all the same. Owner and direct_access clients
/// only (the code and wording of the refusal are inferred: Akamai documents the rule, not
/// the answer).
async fn bulk_create(
    State(state): State<Arc<CaptureState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let allowed = state.may_bulk_create(&headers, &params(&body));
    handle(
        &state,
        &headers,
        "/entity.bulkCreate",
        &body,
        |store, params| {
            if !allowed {
                return store::fail(
                    403,
                    "entity.bulkCreate needs a client with the owner or direct_access feature",
                );
            }
            store.bulk_create(params)
        },
    )
}

async fn find(State(state): State<Arc<CaptureState>>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&state, &headers, "/entity.find", &body, Store::find)
}

async fn count(
    State(state): State<Arc<CaptureState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &headers, "/entity.count", &body, Store::count)
}

async fn delete(
    State(state): State<Arc<CaptureState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &headers, "/entity.delete", &body, Store::delete)
}

async fn entity_type(
    State(state): State<Arc<CaptureState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &headers, "/entityType", &body, Store::entity_type)
}

/// `GET /entityType?type_name=user`, as Akamai's reference shows it.
async fn entity_type_by_query(
    State(state): State<Arc<CaptureState>>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    handle(
        &state,
        &headers,
        "/entityType",
        query.as_bytes(),
        Store::entity_type,
    )
}
