//! Capture's three ways of authenticating.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use profile_core::credentials::{
    CredentialError, basic_authorization, check_credential, token_authorization,
};
use profile_core::secrecy::{ExposeSecret, SecretString};
use profile_core::{HeaderValue, REDACTED};
use sha1::Sha1;

/// How to authenticate to Capture.
#[derive(Clone)]
#[non_exhaustive]
pub enum CaptureAuth {
    /// HTTP Basic with the API client's id and secret (Capture's recommendation).
    Basic {
        /// The API client's id.
        client_id: String,
        /// Its secret.
        client_secret: SecretString,
    },
    /// `Authorization: OAuth {access_token}` (the word is `OAuth`, not `Bearer`).
    OAuth {
        /// The access token.
        access_token: SecretString,
    },
    /// Signed requests: a `Date` header and `Authorization: Signature {client_id}:{hmac}`,
    /// an HMAC-SHA1 of the path, the date and the sorted parameters. The secret never
    /// travels.
    Signed {
        /// The API client's id.
        client_id: String,
        /// Its secret, the HMAC key.
        client_secret: SecretString,
    },
}

impl CaptureAuth {
    /// Refuses credentials that cannot be sent (empty, or holding a line break).
    pub(crate) fn check(&self) -> Result<(), CredentialError> {
        match self {
            CaptureAuth::Basic {
                client_id,
                client_secret,
            }
            | CaptureAuth::Signed {
                client_id,
                client_secret,
            } => {
                check_credential("the client id", client_id)?;
                check_credential("the client secret", client_secret.expose_secret())
            }
            CaptureAuth::OAuth { access_token } => {
                check_credential("the OAuth access token", access_token.expose_secret())
            }
        }
    }

    /// Basic authentication.
    pub fn basic(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        CaptureAuth::Basic {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }

    /// An OAuth access token.
    pub fn oauth(access_token: impl Into<String>) -> Self {
        CaptureAuth::OAuth {
            access_token: SecretString::from(access_token.into()),
        }
    }

    /// Signed requests.
    pub fn signed(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        CaptureAuth::Signed {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }

    /// The `Authorization` value of every request, for the schemes where it does not depend
    /// on the request (Basic, OAuth); `None` for signed requests.
    pub(crate) fn fixed_authorization(&self) -> Option<HeaderValue> {
        match self {
            CaptureAuth::Basic {
                client_id,
                client_secret,
            } => Some(basic_authorization(client_id, client_secret)),
            CaptureAuth::OAuth { access_token } => Some(token_authorization("OAuth", access_token)),
            CaptureAuth::Signed { .. } => None,
        }
    }

    /// The `Date` and `Authorization` headers of a signed request to `path` with these form
    /// `params`, at `date` (`%Y-%m-%d %H:%M:%S`, UTC); `None` for the other schemes, whose
    /// [`fixed_authorization`](Self::fixed_authorization) is sent instead.
    pub(crate) fn signed_headers(
        &self,
        path: &str,
        date: &str,
        params: &[(Cow<'static, str>, String)],
    ) -> Option<[(&'static str, HeaderValue); 2]> {
        let CaptureAuth::Signed {
            client_id,
            client_secret,
        } = self
        else {
            return None;
        };
        let signature = sign(path, date, params, client_secret);
        Some([
            ("date", HeaderValue::from(date.to_owned())),
            (
                "authorization",
                HeaderValue::secret(format!("Signature {client_id}:{signature}")),
            ),
        ])
    }
}

/// Capture's request signature: base64 of HMAC-SHA1, keyed with the client secret, over
/// `{path}\n{date}\n` followed by each `key=value` parameter (raw values, not
/// percent-encoded; sorted as whole strings; each ended by `\n`), leaving out `client_id`,
/// `client_secret` and `access_token`.
///
/// ```
/// use profile_capture::sign;
/// use profile_core::secrecy::SecretString;
///
/// // The vendor's own test vector.
/// let params = [
///     ("param1".to_owned(), "this is a string".to_owned()),
///     ("param2".to_owned(), "10".to_owned()),
///     ("param3".to_owned(), "one=1\ntwo=2,three=3".to_owned()),
/// ];
/// let signature = sign("/entity", "2000-01-01 01:01:01", &params, &SecretString::from("bar"));
/// assert_eq!(signature, "G3N5RxCVc0d6rDLmBRGvcg2hCVY=");
/// ```
pub fn sign<K: AsRef<str>, V: AsRef<str>>(
    path: &str,
    date: &str,
    params: &[(K, V)],
    client_secret: &SecretString,
) -> String {
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| !matches!(*k, "client_id" | "client_secret" | "access_token"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.sort();
    let mut data = format!("{path}\n{date}\n");
    for pair in pairs {
        data.push_str(&pair);
        data.push('\n');
    }
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(client_secret.expose_secret().as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl fmt::Debug for CaptureAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureAuth::Basic { client_id, .. } => f
                .debug_struct("Basic")
                .field("client_id", client_id)
                .field("client_secret", &REDACTED)
                .finish(),
            CaptureAuth::OAuth { .. } => f
                .debug_struct("OAuth")
                .field("access_token", &REDACTED)
                .finish(),
            CaptureAuth::Signed { client_id, .. } => f
                .debug_struct("Signed")
                .field("client_id", client_id)
                .field("client_secret", &REDACTED)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendor_test_vector_signs_as_documented() {
        let params = [
            ("param1".to_owned(), "this is a string".to_owned()),
            ("param2".to_owned(), "10".to_owned()),
            ("param3".to_owned(), "one=1\ntwo=2,three=3".to_owned()),
        ];
        let signature = sign(
            "/entity",
            "2000-01-01 01:01:01",
            &params,
            &SecretString::from("bar"),
        );
        assert_eq!(signature, "G3N5RxCVc0d6rDLmBRGvcg2hCVY=");
    }

    #[test]
    fn credentials_parameters_are_left_out_and_order_does_not_matter() {
        let secret = SecretString::from("bar");
        let a = [
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ];
        let b = [
            ("a".to_owned(), "1".to_owned()),
            ("client_id".to_owned(), "foo".to_owned()),
            ("b".to_owned(), "2".to_owned()),
            ("access_token".to_owned(), "t".to_owned()),
        ];
        assert_eq!(
            sign("/entity", "d", &a, &secret),
            sign("/entity", "d", &b, &secret)
        );
        assert_ne!(
            sign("/entity", "d", &a, &secret),
            sign("/entity.update", "d", &a, &secret)
        );
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        for auth in [
            CaptureAuth::basic("id", "s3cret"),
            CaptureAuth::oauth("s3cret"),
            CaptureAuth::signed("id", "s3cret"),
        ] {
            let debug = format!("{auth:?}");
            assert!(!debug.contains("s3cret"));
            assert!(debug.contains("** redacted **"));
        }
    }
}
