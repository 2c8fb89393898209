//! Zendesk credentials.

use std::fmt;

use profile_core::credentials::{
    CredentialError, basic_authorization, check_credential, token_authorization,
};
use profile_core::secrecy::{ExposeSecret, SecretString};
use profile_core::{HeaderValue, REDACTED};

/// How to authenticate to Zendesk.
#[derive(Clone)]
#[non_exhaustive]
pub enum SunshineAuth {
    /// An API token: HTTP Basic with `{email}/token` and the token.
    ApiToken {
        /// The agent's e-mail address.
        email: String,
        /// The API token.
        token: SecretString,
    },
    /// An OAuth access token: `Authorization: Bearer {token}`.
    OAuth {
        /// The access token.
        token: SecretString,
    },
}

impl SunshineAuth {
    /// Refuses credentials that cannot be sent (empty, or holding a line break).
    pub(crate) fn check(&self) -> Result<(), CredentialError> {
        match self {
            SunshineAuth::ApiToken { email, token } => {
                check_credential("the agent e-mail of the API token", email)?;
                check_credential("the API token", token.expose_secret())
            }
            SunshineAuth::OAuth { token } => {
                check_credential("the OAuth access token", token.expose_secret())
            }
        }
    }

    /// An API token for an agent's e-mail address.
    pub fn api_token(email: impl Into<String>, token: impl Into<String>) -> Self {
        SunshineAuth::ApiToken {
            email: email.into(),
            token: SecretString::from(token.into()),
        }
    }

    /// An OAuth access token.
    pub fn oauth(token: impl Into<String>) -> Self {
        SunshineAuth::OAuth {
            token: SecretString::from(token.into()),
        }
    }

    pub(crate) fn authorization(&self) -> HeaderValue {
        match self {
            SunshineAuth::ApiToken { email, token } => {
                basic_authorization(&format!("{email}/token"), token)
            }
            SunshineAuth::OAuth { token } => token_authorization("Bearer", token),
        }
    }
}

impl fmt::Debug for SunshineAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SunshineAuth::ApiToken { email, .. } => f
                .debug_struct("ApiToken")
                .field("email", email)
                .field("token", &REDACTED)
                .finish(),
            SunshineAuth::OAuth { .. } => {
                f.debug_struct("OAuth").field("token", &REDACTED).finish()
            }
        }
    }
}
