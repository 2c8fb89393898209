//! Credentials: held as `secrecy` secrets, turned into header values that are never shown.

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use crate::HeaderValue;

pub use secrecy::SecretString as Secret;

/// An `Authorization: Basic …` value for a user name and password.
pub fn basic_authorization(user: &str, password: &SecretString) -> HeaderValue {
    let mut plain = String::with_capacity(user.len() + 1 + password.expose_secret().len());
    plain.push_str(user);
    plain.push(':');
    plain.push_str(password.expose_secret());
    let encoded = base64::engine::general_purpose::STANDARD.encode(plain.as_bytes());
    // Overwrite the clear-text copy before it is freed.
    zero(plain);
    HeaderValue::secret(format!("Basic {encoded}"))
}

/// An `Authorization` value of the form `{scheme} {token}` (`Bearer`, Capture's `OAuth`).
pub fn token_authorization(scheme: &str, token: &SecretString) -> HeaderValue {
    HeaderValue::secret(format!("{scheme} {}", token.expose_secret()))
}

/// A credential that cannot be used; the message names the credential, never its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The credential is empty.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// The credential holds a line break or another control character, which cannot go
    /// into an HTTP header (often a trailing newline read from a file).
    #[error(
        "{0} contains a line break or another control character (was it read from a file with its trailing newline?)"
    )]
    ControlCharacter(&'static str),
}

/// Checks that the credential `what` can be sent: not empty (or only spaces), and free of
/// control characters.
///
/// ```
/// use profile_core::credentials::{CredentialError, check_credential};
///
/// assert_eq!(check_credential("the API token", "abc"), Ok(()));
/// assert_eq!(
///     check_credential("the API token", "abc\n"),
///     Err(CredentialError::ControlCharacter("the API token"))
/// );
/// assert_eq!(check_credential("the API token", " "), Err(CredentialError::Empty("the API token")));
/// ```
pub fn check_credential(what: &'static str, value: &str) -> Result<(), CredentialError> {
    if value.trim().is_empty() {
        return Err(CredentialError::Empty(what));
    }
    if value.chars().any(char::is_control) {
        return Err(CredentialError::ControlCharacter(what));
    }
    Ok(())
}

fn zero(text: String) {
    let mut bytes = text.into_bytes();
    bytes.iter_mut().for_each(|b| *b = 0);
    std::hint::black_box(&bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_authorization_encodes_user_and_password() {
        let value = basic_authorization(
            "devs@coolbikes.com/token",
            &SecretString::from("6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv"),
        );
        assert_eq!(
            value.expose(),
            "Basic ZGV2c0Bjb29sYmlrZXMuY29tL3Rva2VuOjZ3aUlCV2JHa0JNbzFtUkRNdVZ3a3cxRVBzTmtlVWo5NVBJejJha3Y="
        );
        assert!(value.is_secret());
        assert_eq!(format!("{value:?}"), "\"** redacted **\"");
    }

    #[test]
    fn token_authorization_uses_the_given_scheme() {
        let value = token_authorization("Bearer", &SecretString::from("abc"));
        assert_eq!(value.expose(), "Bearer abc");
        assert_eq!(value.display(), "** redacted **");
    }
}
