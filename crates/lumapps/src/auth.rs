//! LumApps credentials: a bearer token, or the application-token exchange.

use std::fmt;

use profile_core::REDACTED;
use profile_core::credentials::{CredentialError, check_credential};
use profile_core::secrecy::{ExposeSecret, SecretString};

/// How to authenticate to LumApps.
#[derive(Clone)]
#[non_exhaustive]
pub enum LumAppsAuth {
    /// A bearer token you already hold.
    Token(SecretString),
    /// An application's client id and secret, exchanged for a token on behalf of a user
    /// (`POST /v2/organizations/{customer_id}/application-token`). The token is cached
    /// until shortly before it expires, and fetched again once when a call answers 401.
    Application {
        /// The organization (customer) id.
        customer_id: String,
        /// The application's client id.
        client_id: String,
        /// Its secret.
        client_secret: SecretString,
        /// The user the calls act as.
        user_email: String,
    },
}

impl LumAppsAuth {
    /// Refuses credentials that cannot be sent (empty, or holding a line break).
    pub(crate) fn check(&self) -> Result<(), CredentialError> {
        match self {
            LumAppsAuth::Token(token) => check_credential("the token", token.expose_secret()),
            LumAppsAuth::Application {
                customer_id,
                client_id,
                client_secret,
                user_email,
            } => {
                check_credential("the customer id", customer_id)?;
                check_credential("the client id", client_id)?;
                check_credential("the client secret", client_secret.expose_secret())?;
                check_credential("the user e-mail", user_email)
            }
        }
    }

    /// A bearer token.
    pub fn token(token: impl Into<String>) -> Self {
        LumAppsAuth::Token(SecretString::from(token.into()))
    }

    /// The application-token exchange.
    pub fn application(
        customer_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        user_email: impl Into<String>,
    ) -> Self {
        LumAppsAuth::Application {
            customer_id: customer_id.into(),
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            user_email: user_email.into(),
        }
    }
}

impl fmt::Debug for LumAppsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LumAppsAuth::Token(_) => f.debug_tuple("Token").field(&REDACTED).finish(),
            LumAppsAuth::Application {
                customer_id,
                client_id,
                user_email,
                ..
            } => f
                .debug_struct("Application")
                .field("customer_id", customer_id)
                .field("client_id", client_id)
                .field("client_secret", &REDACTED)
                .field("user_email", user_email)
                .finish(),
        }
    }
}
