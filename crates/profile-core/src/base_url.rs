//! A validated vendor base URL.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use url::{Host, Url};

/// The root every request of one client is sent under, e.g.
/// `https://coolbikes.zendesk.com` or `http://127.0.0.1:8080` for an emulator.
///
/// Only `https` is accepted, except for loopback hosts (`localhost`, `127.0.0.0/8`, `::1`),
/// where plain `http` is fine because nothing leaves the machine. Anything else over plain
/// `http` would send credentials in clear text, so it needs the explicit opt-in
/// [`BaseUrl::parse_allowing_plain_http`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl(
    // Shared: every request holds a copy, which is then a reference count, not two strings.
    Arc<Inner>,
);

struct Inner {
    // Kept without a trailing slash so that paths (which start with `/`) append cleanly.
    root: String,
    // The same, parsed once: requests are built from a copy of it rather than by parsing
    // their whole URL again (host parsing is most of the cost of a parse).
    parsed: Url,
    // The same with each fixed request path (a `&'static str`) set, for the few paths a
    // client calls again and again: setting a path re-reads it character by character.
    with_fixed_path: Mutex<Vec<(&'static str, Url)>>,
}

/// At most this many fixed paths are remembered per base URL (a vendor crate has a handful).
const FIXED_PATHS: usize = 32;

// Two base URLs are the same when their text is: the rest is derived from it.
impl PartialEq for Inner {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root
    }
}

impl Eq for Inner {}

impl std::hash::Hash for Inner {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.root.hash(state);
    }
}

/// Why a base URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidBaseUrl {
    /// The text is not a URL at all. (The text itself is not repeated: it may hold a secret.)
    #[error("base URL is not a URL: {reason}")]
    NotAUrl {
        /// What the URL parser said.
        reason: String,
    },
    /// Only `https` (and `http` for loopback) are spoken.
    #[error("base URL scheme `{scheme}` is not supported: use https")]
    UnsupportedScheme {
        /// The scheme that was given.
        scheme: String,
    },
    /// Plain `http` to a host that is not loopback would expose credentials.
    #[error(
        "base URL uses plain http to `{host}`, which is not a loopback address: use https, \
         or opt in explicitly with BaseUrl::parse_allowing_plain_http"
    )]
    PlainHttpToRemoteHost {
        /// The host that would have been contacted without TLS.
        host: String,
    },
    /// User names and passwords belong in the client's credentials, not in the URL, where they
    /// would end up in logs.
    #[error("base URL must not carry a user name or password: pass credentials to the client")]
    CarriesCredentials,
    /// A query or fragment on the base would be silently mixed into every request.
    #[error("base URL must not have a query string or fragment")]
    HasQueryOrFragment,
}

impl BaseUrl {
    /// Parses and validates a base URL (https, or http to a loopback host).
    pub fn parse(input: &str) -> Result<Self, InvalidBaseUrl> {
        Self::parse_inner(input, false)
    }

    /// Like [`BaseUrl::parse`], but also accepts plain `http` to any host. Use it only for a
    /// test server on a private network you control: credentials travel unencrypted.
    pub fn parse_allowing_plain_http(input: &str) -> Result<Self, InvalidBaseUrl> {
        Self::parse_inner(input, true)
    }

    fn parse_inner(input: &str, allow_plain_http: bool) -> Result<Self, InvalidBaseUrl> {
        let url = Url::parse(input.trim()).map_err(|e| InvalidBaseUrl::NotAUrl {
            reason: match e {
                url::ParseError::RelativeUrlWithoutBase => {
                    "it has no scheme; write it as https://host".to_owned()
                }
                e => e.to_string(),
            },
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InvalidBaseUrl::CarriesCredentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(InvalidBaseUrl::HasQueryOrFragment);
        }
        match url.scheme() {
            "https" => {}
            "http" => {
                if !allow_plain_http && !is_loopback(url.host()) {
                    return Err(InvalidBaseUrl::PlainHttpToRemoteHost {
                        host: url.host_str().unwrap_or_default().to_owned(),
                    });
                }
            }
            other => {
                return Err(InvalidBaseUrl::UnsupportedScheme {
                    scheme: other.to_owned(),
                });
            }
        }
        let root = url.as_str().trim_end_matches('/').to_owned();
        Ok(Self(Arc::new(Inner {
            root,
            parsed: url,
            with_fixed_path: Mutex::new(Vec::new()),
        })))
    }

    /// The base URL with `path` (percent-encoded, starting with `/`) appended to its own.
    pub(crate) fn with_path(&self, path: &str) -> Url {
        let mut url = self.0.parsed.clone();
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }

    /// The same as [`BaseUrl::with_path`], remembered for a path fixed in the code.
    pub(crate) fn with_fixed_path(&self, path: &'static str) -> Url {
        // A poisoned lock only loses the shortcut.
        let Ok(mut known) = self.0.with_fixed_path.lock() else {
            return self.with_path(path);
        };
        if let Some((_, url)) = known.iter().find(|(known, _)| *known == path) {
            return url.clone();
        }
        let url = self.with_path(path);
        if known.len() < FIXED_PATHS {
            known.push((path, url.clone()));
        }
        url
    }

    /// The base URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0.root
    }
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.root)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", self.0.root)
    }
}

impl std::str::FromStr for BaseUrl {
    type Err = InvalidBaseUrl;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_accepted_and_the_trailing_slash_dropped() {
        let url = BaseUrl::parse("https://coolbikes.zendesk.com/").unwrap();
        assert_eq!(url.as_str(), "https://coolbikes.zendesk.com");
    }

    #[test]
    fn a_path_prefix_is_kept() {
        let url = BaseUrl::parse("https://go-cell-001.api.lumapps.com/_ah/api/").unwrap();
        assert_eq!(url.as_str(), "https://go-cell-001.api.lumapps.com/_ah/api");
    }

    #[test]
    fn plain_http_is_accepted_for_loopback_hosts_only() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:3000",
            "http://[::1]:9000",
        ] {
            assert!(BaseUrl::parse(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://coolbikes.zendesk.com",
            "http://10.0.0.1",
            "http://192.168.1.1",
        ] {
            assert!(
                matches!(
                    BaseUrl::parse(refused),
                    Err(InvalidBaseUrl::PlainHttpToRemoteHost { .. })
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn plain_http_to_a_remote_host_needs_the_explicit_opt_in() {
        let url = BaseUrl::parse_allowing_plain_http("http://test-server.internal").unwrap();
        assert_eq!(url.as_str(), "http://test-server.internal");
    }

    #[test]
    fn other_schemes_credentials_queries_and_garbage_are_refused() {
        assert!(matches!(
            BaseUrl::parse("ftp://example.com"),
            Err(InvalidBaseUrl::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            BaseUrl::parse("https://user:pw@example.com"),
            Err(InvalidBaseUrl::CarriesCredentials)
        ));
        assert!(matches!(
            BaseUrl::parse("https://example.com/?token=x"),
            Err(InvalidBaseUrl::HasQueryOrFragment)
        ));
        assert!(matches!(
            BaseUrl::parse("not a url"),
            Err(InvalidBaseUrl::NotAUrl { .. })
        ));
    }

    #[test]
    fn the_credentials_error_does_not_repeat_the_password() {
        let err = BaseUrl::parse("https://user:hunter2@example.com").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }
}
