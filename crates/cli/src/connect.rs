//! What every vendor's connection shares: where the vendor is, the client credentials of
//! Capture and LumApps, and how polite to be. Flags first, then environment variables.
//! Credentials are never printed.

use std::sync::Arc;

use clap::Args;
use profile_core::{
    ApiRequest, ApiResponse, BaseUrl, ClientSettings, HttpConfig, HttpTransport, InvalidBaseUrl,
    RateLimit, StatedLimit, Transport,
};

use crate::error::CliError;

/// Where the vendor is.
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct Endpoint {
    /// The vendor's base URL (env: ZENDESK_BASE_URL, CAPTURE_BASE_URL or LUMAPPS_BASE_URL).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Allow plain http to a host that is not loopback (credentials travel unencrypted).
    #[arg(long)]
    allow_plain_http: bool,
}

/// An API client's id and secret (Capture and LumApps).
#[derive(Clone, Debug, Default, Args)]
pub(crate) struct ClientCredentials {
    /// The API client id (env: CAPTURE_CLIENT_ID or LUMAPPS_CLIENT_ID).
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// The client secret (env: CAPTURE_CLIENT_SECRET or LUMAPPS_CLIENT_SECRET).
    #[arg(long, value_name = "SECRET")]
    pub(crate) client_secret: Option<String>,
}

impl ClientCredentials {
    /// Whether any of these flags was given.
    pub(crate) fn given(&self) -> bool {
        self.client_id.is_some() || self.client_secret.is_some()
    }
}

pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The flag's value, else the environment variable's.
pub(crate) fn pick(flag: &Option<String>, name: &str) -> Option<String> {
    flag.clone().or_else(|| env(name))
}

/// A value that must be there, with what to do when it is not.
pub(crate) fn need(
    value: Option<String>,
    what: &str,
    flag: &str,
    var: &str,
) -> Result<String, CliError> {
    value.ok_or_else(|| CliError::Usage(format!("{what} is missing: pass {flag} or set {var}")))
}

/// The clients' transport settings for a sync or a single call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Politeness {
    pub(crate) per_minute: Option<u32>,
    pub(crate) max_in_flight: usize,
    /// Print each request as it is sent (`profiles sync --only`).
    pub(crate) show_requests: bool,
}

/// One call at a time, at the vendor's default pace.
pub(crate) const SINGLE: Politeness = Politeness {
    per_minute: None,
    max_in_flight: 1,
    show_requests: false,
};

impl Politeness {
    /// The client's limit: `--rate N` as a ceiling that a lower limit stated by the vendor
    /// still lowers (`--rate 0`: none at all), else the vendor's default.
    pub(crate) fn limit(self, default: RateLimit) -> RateLimit {
        let limit = match self.per_minute {
            Some(0) => RateLimit::unlimited(),
            Some(n) => RateLimit::per_minute(n).following(StatedLimit::LowerOnly),
            None => default,
        };
        limit.with_max_in_flight(self.max_in_flight)
    }

    /// A client builder with these settings: the rate limit (`default` unless `--rate`
    /// says otherwise), and each request printed as it is sent when asked.
    pub(crate) fn dress<B: ClientSettings>(self, builder: B, default: RateLimit) -> B {
        let builder = builder.rate_limit(self.limit(default));
        if self.show_requests {
            let http = HttpTransport::new(&HttpConfig::default()).map_err(|e| e.to_string());
            builder.transport(Arc::new(Shown(http)))
        } else {
            builder
        }
    }
}

/// A transport that prints each request as the snapshots render it (credentials
/// redacted) on standard error, then sends it, and prints the answer's status.
#[derive(Debug)]
struct Shown(Result<HttpTransport, String>);

#[async_trait::async_trait]
impl Transport for Shown {
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, profile_core::Error> {
        let transport = self
            .0
            .as_ref()
            .map_err(|reason| profile_core::Error::invalid_input(reason.clone()))?;
        crate::note!("request:\n{}", indent(&request.render()));
        let answer = transport.send(request).await;
        match &answer {
            Ok(response) => crate::note!("answer: {}", response.status()),
            Err(error) => crate::note!("answer: {error}"),
        }
        answer
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Endpoint {
    /// The base URL, from `--base-url` or the variable `var`.
    pub(crate) fn base_url(&self, var: &str) -> Result<BaseUrl, CliError> {
        let text = need(pick(&self.base_url, var), "the base URL", "--base-url", var)?;
        let parsed = if self.allow_plain_http {
            BaseUrl::parse_allowing_plain_http(&text)
        } else {
            BaseUrl::parse(&text)
        };
        parsed.map_err(|e| match e {
            InvalidBaseUrl::PlainHttpToRemoteHost { host } => CliError::Usage(format!(
                "base URL uses plain http to `{host}`, which is not a loopback address: use \
                 https; pass --allow-plain-http to send credentials unencrypted anyway"
            )),
            e => CliError::Usage(e.to_string()),
        })
    }
}

/// The names of the flags that were given, of `flags` (name, given).
pub(crate) fn given(flags: &[(&'static str, bool)]) -> Vec<&'static str> {
    flags
        .iter()
        .filter_map(|(flag, given)| given.then_some(*flag))
        .collect()
}

/// Refuses a flag of another vendor, rather than ignoring it.
pub(crate) fn refuse_foreign(flag: &str, given: bool, vendor: &str) -> Result<(), CliError> {
    if given {
        Err(CliError::Usage(format!(
            "{flag} does not apply to --vendor {vendor}"
        )))
    } else {
        Ok(())
    }
}
