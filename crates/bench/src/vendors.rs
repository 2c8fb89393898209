//! Each vendor set up the same way for the benchmarks: an emulator holding `rows` users, an
//! SDK client, the update one row gets, and the same requests as raw bytes for a bare loop.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_capture::{CaptureAuth, CaptureClient, CaptureUpdater, EntityLocator, EntityUpdate};
use profile_core::{ApiRequest, BaseUrl, ProfileUpdater, RateLimit, RetryPolicy};
use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_2};
use profile_emulator::lumapps::{DEMO_TOKEN, LumAppsConfig, LumAppsEmulator, SEED_DIRECTORY};
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use profile_lumapps::{LumAppsAuth, LumAppsClient, LumAppsUpdater, UserLocator};
use profile_sunshine::{
    IdentifierQuery, ProfileLocator, ProfileUpdate, SunshineAuth, SunshineClient, SunshineUpdater,
};
use serde_json::{Value, json};

pub(crate) use crate::raw::RawRequest;

impl RawRequest {
    /// The bytes the SDK sends for `request`: its headers, and the `user-agent` the SDK's
    /// HTTP transport adds (both clients add `accept-encoding` and `host`).
    pub(crate) fn from(request: &ApiRequest) -> Self {
        let mut headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.expose().to_owned()))
            .collect();
        headers.push((
            "user-agent".to_owned(),
            profile_core::HttpConfig::default().user_agent,
        ));
        Self {
            method: reqwest::Method::from_bytes(request.method().as_str().as_bytes())
                .unwrap_or(reqwest::Method::GET),
            url: request.url(),
            headers,
            body: request.body().encode(),
        }
    }

    /// Sends like [`RawRequest::send`], and decodes the answer into a `serde_json::Value`
    /// as hand-written code that uses it would: `true` when it succeeded and is JSON.
    pub(crate) async fn send_decoding(&self, client: &reqwest::Client) -> bool {
        self.send_reading(client, |body| serde_json::from_slice::<Value>(body).is_ok())
            .await
    }
}

/// The emulators, kept alive while in use.
pub(crate) enum Emulator {
    Sunshine(SunshineEmulator),
    Capture(CaptureEmulator),
    LumApps(LumAppsEmulator),
}

impl Emulator {
    pub(crate) fn base_url(&self) -> String {
        match self {
            Emulator::Sunshine(e) => e.base_url(),
            Emulator::Capture(e) => e.base_url(),
            Emulator::LumApps(e) => e.base_url(),
        }
    }

    pub(crate) fn faults(&self) -> &profile_emulator::FaultController {
        match self {
            Emulator::Sunshine(e) => e.faults(),
            Emulator::Capture(e) => e.faults(),
            Emulator::LumApps(e) => e.faults(),
        }
    }
}

pub(crate) const VENDORS: [&str; 3] = ["sunshine", "capture", "lumapps"];

/// The e-mail of row `i`.
pub(crate) fn email(vendor: &str, i: usize) -> String {
    match vendor {
        "lumapps" => format!("user{i:07}@customer.com"),
        _ => format!("rider{i}@example.com"),
    }
}

/// An emulator of `vendor` holding users 0..rows.
pub(crate) async fn emulator(vendor: &str, rows: usize) -> Emulator {
    sunshine_or(
        vendor,
        rows,
        profile_emulator::sunshine::SunshineConfig::default(),
    )
    .await
}

/// The emulator of `vendor` holding `rows` users; a Sunshine one with `config`.
pub(crate) async fn sunshine_or(
    vendor: &str,
    rows: usize,
    config: profile_emulator::sunshine::SunshineConfig,
) -> Emulator {
    match vendor {
        "sunshine" => {
            let emulator = SunshineEmulator::start_with(config, profile_emulator::loopback(0))
                .await
                .expect("the emulator starts");
            let profiles: Vec<Value> = (0..rows)
                .map(|i| json!({"source": "coolbikes", "type": "rider", "identifiers": [{"type": "email", "value": email(vendor, i)}], "attributes": {"saddle_height": "85cm"}}))
                .collect();
            emulator.seed(&profiles).unwrap_or_default();
            Emulator::Sunshine(emulator)
        }
        "capture" => {
            let emulator = CaptureEmulator::start().await.expect("the emulator starts");
            let records: Vec<Value> = (0..rows)
                .map(|i| json!({"email": email(vendor, i), "givenName": "G"}))
                .collect();
            emulator.seed("user", &records).unwrap_or_default();
            Emulator::Capture(emulator)
        }
        _ => {
            let config = LumAppsConfig::default().synthetic_users(rows as u64);
            let emulator = LumAppsEmulator::start_with(config, profile_emulator::loopback(0))
                .await
                .expect("the emulator starts");
            Emulator::LumApps(emulator)
        }
    }
}

fn base(emulator: &Emulator) -> BaseUrl {
    BaseUrl::parse(&emulator.base_url()).unwrap_or_else(|e| panic!("{e}"))
}

/// An SDK client of `vendor` with no client-side limit beyond `in_flight`, default retries.
pub(crate) async fn updater(
    vendor: &str,
    emulator: &Emulator,
    limit: RateLimit,
) -> Arc<dyn ProfileUpdater> {
    let retry = RetryPolicy::default();
    match vendor {
        "sunshine" => {
            let client = SunshineClient::builder(
                base(emulator),
                SunshineAuth::api_token(SEED_EMAIL, SEED_API_TOKEN),
            )
            .rate_limit(limit)
            .retry(retry)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
            Arc::new(SunshineUpdater::new(client, "coolbikes", "rider"))
        }
        "capture" => {
            let client = CaptureClient::builder(
                base(emulator),
                CaptureAuth::basic(SEED_CLIENT_2.0, SEED_CLIENT_2.1),
            )
            .rate_limit(limit)
            .retry(retry)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
            Arc::new(CaptureUpdater::new(client, "user"))
        }
        _ => {
            let client = LumAppsClient::builder(base(emulator), LumAppsAuth::token(DEMO_TOKEN))
                .rate_limit(limit)
                .retry(retry)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            let directory = client
                .get_directory(SEED_DIRECTORY, "en")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            Arc::new(LumAppsUpdater::new(client, directory, "en"))
        }
    }
}

/// One update, called again and again by a sequential loop: `true` when it succeeded.
pub(crate) type UpdateCall =
    Box<dyn Fn() -> futures_util::future::BoxFuture<'static, bool> + Send + Sync>;

/// One update call through the SDK (the vendor's natural single write) and the same
/// request as bytes for the bare loop.
pub(crate) async fn single_update(vendor: &str, emulator: &Emulator) -> (UpdateCall, RawRequest) {
    let limit = RateLimit::unlimited();
    match vendor {
        "sunshine" => {
            let client = SunshineClient::builder(
                base(emulator),
                SunshineAuth::api_token(SEED_EMAIL, SEED_API_TOKEN),
            )
            .rate_limit(limit)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
            let query: IdentifierQuery = format!("coolbikes:rider:email:{}", email(vendor, 0))
                .parse()
                .unwrap_or_else(|e| panic!("{e}"));
            let locator = ProfileLocator::Identifier(query);
            let update = ProfileUpdate::new().attribute("saddle_height", "87cm");
            let raw = RawRequest::from(
                &client
                    .requests()
                    .patch_profile(&locator, &update)
                    .unwrap_or_else(|e| panic!("{e}")),
            );
            // The inputs are shared, not cloned per call: the loop measures the call only.
            let inputs = Arc::new((client, locator, update));
            let call = move || {
                let inputs = Arc::clone(&inputs);
                Box::pin(async move {
                    let (client, locator, update) = &*inputs;
                    client.patch_profile(locator, update).await.is_ok()
                }) as futures_util::future::BoxFuture<'static, bool>
            };
            (Box::new(call), raw)
        }
        "capture" => {
            let client = CaptureClient::builder(
                base(emulator),
                CaptureAuth::basic(SEED_CLIENT_2.0, SEED_CLIENT_2.1),
            )
            .rate_limit(limit)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
            let update = EntityUpdate::attributes(
                "user",
                EntityLocator::key("email", email(vendor, 0)),
                json!({"givenName": "Matt"}),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let raw = RawRequest::from(
                &client
                    .requests()
                    .update(&update)
                    .unwrap_or_else(|e| panic!("{e}")),
            );
            let inputs = Arc::new((client, update));
            let call = move || {
                let inputs = Arc::clone(&inputs);
                Box::pin(async move {
                    let (client, update) = &*inputs;
                    client.update(update).await.is_ok()
                }) as futures_util::future::BoxFuture<'static, bool>
            };
            (Box::new(call), raw)
        }
        _ => {
            let client = LumAppsClient::builder(base(emulator), LumAppsAuth::token(DEMO_TOKEN))
                .rate_limit(limit)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            let mut user = client
                .get_user(SEED_DIRECTORY, &UserLocator::Email(email(vendor, 0)))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            user.insert(
                "customProfile".into(),
                json!({"b72127e4-867a-4aba-a843-70c11dc599ef": "01 23"}),
            );
            let raw = RawRequest::from(
                &client
                    .requests()
                    .save_user(SEED_DIRECTORY, &user)
                    .unwrap_or_else(|e| panic!("{e}")),
            );
            let inputs = Arc::new((client, user));
            let call = move || {
                let inputs = Arc::clone(&inputs);
                Box::pin(async move {
                    let (client, user) = &*inputs;
                    client.save_user(SEED_DIRECTORY, user).await.is_ok()
                }) as futures_util::future::BoxFuture<'static, bool>
            };
            (Box::new(call), raw)
        }
    }
}

/// The read and the write one sync row costs, as bytes, for the bare ceiling loop.
pub(crate) async fn row_requests(
    vendor: &str,
    emulator: &Emulator,
    i: usize,
) -> (RawRequest, RawRequest) {
    let who = email(vendor, i);
    match vendor {
        "sunshine" => {
            let requests = profile_sunshine::SunshineRequests::new(
                base(emulator),
                &SunshineAuth::api_token(SEED_EMAIL, SEED_API_TOKEN),
            );
            let locator = ProfileLocator::Identifier(
                format!("coolbikes:rider:email:{who}")
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}")),
            );
            let read = requests.get_profile(&locator);
            let write = requests
                .patch_profile(
                    &locator,
                    &ProfileUpdate::new().attribute("saddle_height", "87cm"),
                )
                .unwrap_or_else(|e| panic!("{e}"));
            (RawRequest::from(&read), RawRequest::from(&write))
        }
        "capture" => {
            let clock = Arc::new(profile_core::time::SystemClock);
            let requests = profile_capture::CaptureRequests::new(
                base(emulator),
                CaptureAuth::basic(SEED_CLIENT_2.0, SEED_CLIENT_2.1),
                clock,
            );
            let locator = EntityLocator::key("email", who);
            // As the sync reads: only the attribute it compares.
            let read = requests
                .entity(
                    &profile_capture::EntityRead::new("user", locator.clone()).only(["givenName"]),
                )
                .unwrap_or_else(|e| panic!("{e}"));
            let update = EntityUpdate::attributes("user", locator, json!({"givenName": "Member"}))
                .unwrap_or_else(|e| panic!("{e}"));
            // As the sync sends it: without `include_record`, the record is not wanted back.
            let write = requests.update(&update).unwrap_or_else(|e| panic!("{e}"));
            (RawRequest::from(&read), RawRequest::from(&write))
        }
        _ => {
            let requests = profile_lumapps::LumAppsRequests::new(
                base(emulator),
                &LumAppsAuth::token(DEMO_TOKEN),
            );
            let read = requests
                .get_user(SEED_DIRECTORY, &UserLocator::Email(who.clone()))
                .unwrap_or_else(|e| panic!("{e}"));
            // The save sends the whole user as read, as any client must, with the field set.
            let Emulator::LumApps(lumapps) = emulator else {
                unreachable!()
            };
            let mut user = lumapps.user(&who).unwrap_or_default();
            user.insert(
                "customProfile".into(),
                json!({"be3363f3-4df8-4a93-b27c-9c8c69258801": "Engineer"}),
            );
            let write = requests
                .save_user(SEED_DIRECTORY, &user)
                .unwrap_or_else(|e| panic!("{e}"));
            (RawRequest::from(&read), RawRequest::from(&write))
        }
    }
}

/// The environment and arguments `profiles sync` needs for `vendor`.
pub(crate) fn sync_setup(
    vendor: &str,
    emulator: &Emulator,
) -> (
    Vec<(&'static str, String)>,
    Vec<String>,
    &'static str,
    &'static str,
) {
    let base = emulator.base_url();
    match vendor {
        "sunshine" => (
            vec![
                ("ZENDESK_BASE_URL", base),
                ("ZENDESK_EMAIL", SEED_EMAIL.into()),
                ("ZENDESK_API_TOKEN", SEED_API_TOKEN.into()),
            ],
            [
                "--source",
                "coolbikes",
                "--type",
                "rider",
                "--map",
                "value=attributes.saddle_height",
            ]
            .map(String::from)
            .to_vec(),
            "87cm",
            "email",
        ),
        "capture" => (
            vec![
                ("CAPTURE_BASE_URL", base),
                ("CAPTURE_CLIENT_ID", SEED_CLIENT_2.0.into()),
                ("CAPTURE_CLIENT_SECRET", SEED_CLIENT_2.1.into()),
            ],
            ["--map", "value=givenName"].map(String::from).to_vec(),
            "Member",
            "email",
        ),
        _ => (
            vec![
                ("LUMAPPS_BASE_URL", base),
                ("LUMAPPS_TOKEN", DEMO_TOKEN.into()),
            ],
            ["--directory", SEED_DIRECTORY, "--map", "value=Title"]
                .map(String::from)
                .to_vec(),
            "Engineer",
            "email",
        ),
    }
}
