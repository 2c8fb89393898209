//! Where a vendor is and how to authenticate: flags first, then environment variables.
//! Credentials are never printed.

use profile_core::ClientSettings;
use std::sync::Arc;

use clap::Args;
use profile_capture::{CaptureAuth, CaptureClient, CaptureUpdater};
use profile_core::{BaseUrl, InvalidBaseUrl, ProfileUpdater, RateLimit, RetryPolicy};
use profile_lumapps::{LumAppsAuth, LumAppsClient, LumAppsUpdater};
use profile_sunshine::{SunshineAuth, SunshineClient, SunshineUpdater};

use crate::Vendor;

/// Connection settings shared by every command that talks to a vendor.
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct Connection {
    /// The vendor's base URL (env: ZENDESK_BASE_URL, CAPTURE_BASE_URL or LUMAPPS_BASE_URL).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Allow plain http to a host that is not loopback (credentials travel unencrypted).
    #[arg(long)]
    allow_plain_http: bool,
    /// Zendesk: the agent e-mail of the API token (env: ZENDESK_EMAIL).
    #[arg(long, value_name = "EMAIL")]
    agent_email: Option<String>,
    /// Zendesk: the API token (env: ZENDESK_API_TOKEN; prefer the environment).
    #[arg(long, value_name = "TOKEN")]
    api_token: Option<String>,
    /// Zendesk: an OAuth token instead (env: ZENDESK_OAUTH_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    oauth_token: Option<String>,
    /// Capture and LumApps: the API client id (env: CAPTURE_CLIENT_ID or LUMAPPS_CLIENT_ID).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Capture and LumApps: the client secret (env: CAPTURE_CLIENT_SECRET or LUMAPPS_CLIENT_SECRET).
    #[arg(long, value_name = "SECRET")]
    client_secret: Option<String>,
    /// Capture: sign requests instead of Basic authentication (env: CAPTURE_SIGNED=1).
    #[arg(long)]
    signed: bool,
    /// Capture: an OAuth access token instead (env: CAPTURE_ACCESS_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    access_token: Option<String>,
    /// LumApps: a bearer token (env: LUMAPPS_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// LumApps: the organization id for the application-token exchange (env: LUMAPPS_CUSTOMER_ID).
    #[arg(long, value_name = "ID")]
    customer_id: Option<String>,
    /// LumApps: the user the application acts as (env: LUMAPPS_USER_EMAIL).
    #[arg(long, value_name = "EMAIL")]
    user_email: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn pick(flag: &Option<String>, name: &str) -> Option<String> {
    flag.clone().or_else(|| env(name))
}

fn need(value: Option<String>, what: &str, flag: &str, var: &str) -> Result<String, String> {
    value.ok_or_else(|| format!("{what} is missing: pass {flag} or set {var}"))
}

/// The clients' transport settings for a sync or a single call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Politeness {
    pub(crate) per_minute: Option<u32>,
    pub(crate) max_in_flight: usize,
}

impl Politeness {
    fn limit(self, default_per_minute: Option<u32>) -> RateLimit {
        let per_minute = self.per_minute.or(default_per_minute).unwrap_or(0);
        RateLimit::per_minute(per_minute).with_max_in_flight(self.max_in_flight)
    }
}

impl Connection {
    fn base_url(&self, var: &str) -> Result<BaseUrl, String> {
        let text = need(pick(&self.base_url, var), "the base URL", "--base-url", var)?;
        let parsed = if self.allow_plain_http {
            BaseUrl::parse_allowing_plain_http(&text)
        } else {
            BaseUrl::parse(&text)
        };
        parsed.map_err(|e| match e {
            InvalidBaseUrl::PlainHttpToRemoteHost { .. } => format!(
                "{}; pass --allow-plain-http to send credentials unencrypted anyway",
                e.to_string()
                    .split(", or opt in")
                    .next()
                    .unwrap_or_default()
            ),
            e => e.to_string(),
        })
    }

    pub(crate) fn sunshine(&self, politeness: Politeness) -> Result<SunshineClient, String> {
        let base = self.base_url("ZENDESK_BASE_URL")?;
        let auth = match pick(&self.oauth_token, "ZENDESK_OAUTH_TOKEN") {
            Some(token) => SunshineAuth::oauth(token),
            None => SunshineAuth::api_token(
                need(
                    pick(&self.agent_email, "ZENDESK_EMAIL"),
                    "the Zendesk e-mail",
                    "--agent-email",
                    "ZENDESK_EMAIL",
                )?,
                need(
                    pick(&self.api_token, "ZENDESK_API_TOKEN"),
                    "the Zendesk API token",
                    "--api-token",
                    "ZENDESK_API_TOKEN",
                )?,
            ),
        };
        SunshineClient::builder(base, auth)
            .rate_limit(politeness.limit(Some(profile_sunshine::DEFAULT_RATE_LIMIT_PER_MINUTE)))
            .build()
            .map_err(|e| e.to_string())
    }

    pub(crate) fn capture(&self, politeness: Politeness) -> Result<CaptureClient, String> {
        let base = self.base_url("CAPTURE_BASE_URL")?;
        let auth = match pick(&self.access_token, "CAPTURE_ACCESS_TOKEN") {
            Some(token) => CaptureAuth::oauth(token),
            None => {
                let id = need(
                    pick(&self.client_id, "CAPTURE_CLIENT_ID"),
                    "the Capture client id",
                    "--client-id",
                    "CAPTURE_CLIENT_ID",
                )?;
                let secret = need(
                    pick(&self.client_secret, "CAPTURE_CLIENT_SECRET"),
                    "the Capture client secret",
                    "--client-secret",
                    "CAPTURE_CLIENT_SECRET",
                )?;
                if self.signed || env("CAPTURE_SIGNED").is_some_and(|v| v == "1" || v == "true") {
                    CaptureAuth::signed(id, secret)
                } else {
                    CaptureAuth::basic(id, secret)
                }
            }
        };
        CaptureClient::builder(base, auth)
            .rate_limit(politeness.limit(None))
            .build()
            .map_err(|e| e.to_string())
    }

    pub(crate) fn lumapps(&self, politeness: Politeness) -> Result<LumAppsClient, String> {
        let base = self.base_url("LUMAPPS_BASE_URL")?;
        let auth = match pick(&self.token, "LUMAPPS_TOKEN") {
            Some(token) => LumAppsAuth::token(token),
            None => LumAppsAuth::application(
                need(
                    pick(&self.customer_id, "LUMAPPS_CUSTOMER_ID"),
                    "the LumApps token or customer id",
                    "--token or --customer-id",
                    "LUMAPPS_TOKEN or LUMAPPS_CUSTOMER_ID",
                )?,
                need(
                    pick(&self.client_id, "LUMAPPS_CLIENT_ID"),
                    "the LumApps client id",
                    "--client-id",
                    "LUMAPPS_CLIENT_ID",
                )?,
                need(
                    pick(&self.client_secret, "LUMAPPS_CLIENT_SECRET"),
                    "the LumApps client secret",
                    "--client-secret",
                    "LUMAPPS_CLIENT_SECRET",
                )?,
                need(
                    pick(&self.user_email, "LUMAPPS_USER_EMAIL"),
                    "the LumApps user e-mail",
                    "--user-email",
                    "LUMAPPS_USER_EMAIL",
                )?,
            ),
        };
        LumAppsClient::builder(base, auth)
            .rate_limit(politeness.limit(None))
            .retry(RetryPolicy::default())
            .build()
            .map_err(|e| e.to_string())
    }
}

/// What addresses records at each vendor, beyond the connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    /// Sunshine: the profiles' source and type.
    pub(crate) source: Option<String>,
    pub(crate) profile_type: Option<String>,
    /// Capture: the entity type.
    pub(crate) type_name: Option<String>,
    /// LumApps: the directory and the language of field titles.
    pub(crate) directory: Option<String>,
    pub(crate) lang: Option<String>,
}

/// The vendor-neutral updater for a sync.
pub(crate) async fn updater(
    vendor: Vendor,
    connection: &Connection,
    scope: &Scope,
    politeness: Politeness,
) -> Result<Arc<dyn ProfileUpdater>, String> {
    Ok(match vendor {
        Vendor::Sunshine => {
            let source = scope.source.clone().ok_or(
                "Sunshine needs the profiles' source: --source (or `source` in the mapping)",
            )?;
            let kind = scope
                .profile_type
                .clone()
                .ok_or("Sunshine needs the profiles' type: --type (or `type` in the mapping)")?;
            Arc::new(SunshineUpdater::new(
                connection.sunshine(politeness)?,
                source,
                kind,
            ))
        }
        Vendor::Capture => Arc::new(CaptureUpdater::new(
            connection.capture(politeness)?,
            scope.type_name.clone().unwrap_or_else(|| "user".to_owned()),
        )),
        Vendor::Lumapps => {
            let directory = scope.directory.clone().ok_or(
                "LumApps needs the user directory: --directory (or `directory` in the mapping)",
            )?;
            let lang = scope.lang.clone().unwrap_or_else(|| "en".to_owned());
            let client = connection.lumapps(politeness)?;
            let module = client
                .get_directory(&directory, &lang)
                .await
                .map_err(|e| e.to_string())?;
            Arc::new(LumAppsUpdater::new(client, module, lang))
        }
    })
}
