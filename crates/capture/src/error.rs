//! Input refused before anything is sent, and Capture's error codes.

use profile_core::{ApiErrorKind, Error};

/// Why an input was refused before anything was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureInputError {
    /// An attribute path that does not parse.
    #[error("attribute path `{path}` is not valid: {reason}")]
    InvalidAttributePath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A locator with nothing in it.
    #[error("the record locator is empty: give a uuid, an id, or a key attribute and value")]
    EmptyLocator,
    /// An attribute or entity type name that Capture cannot have.
    #[error("`{0}` is not a valid name: use letters, digits and `_`")]
    InvalidName(String),
    /// Text that must be JSON and is not.
    #[error("`{text}` is not valid JSON: {reason}")]
    InvalidJson {
        /// The text (cut to 80 characters).
        text: String,
        /// What the parser said.
        reason: String,
    },
    /// The values of an update must be a JSON object at the record's root.
    #[error("the attributes of an update must be a JSON object")]
    AttributesNotAnObject,
    /// A precondition timestamp that is not in Capture's format.
    #[error("`{0}` is not a Capture timestamp (like 2016-03-13 19:39:17.856608 +0000)")]
    InvalidTimestamp(String),
    /// A number outside the range Capture takes.
    #[error("`{name}` must be from {min} to {max}")]
    OutOfRange {
        /// The parameter.
        name: &'static str,
        /// The smallest it may be.
        min: u32,
        /// The largest it may be.
        max: u32,
    },
    /// `id`, `uuid`, `created` and `lastUpdated` are kept by Capture.
    #[error("`{0}` is maintained by Capture and cannot be set")]
    ReadOnlyAttribute(String),
}

impl From<CaptureInputError> for profile_core::Error {
    fn from(error: CaptureInputError) -> Self {
        profile_core::Error::invalid_input(error)
    }
}

macro_rules! kinds {
    ($($variant:ident = $code:literal, $name:literal, $class:ident, $doc:literal;)*) => {
        /// Every error code Capture documents for these calls, by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum CaptureErrorKind {
            $(#[doc = $doc] $variant,)*
            /// A code this crate does not know.
            Other(u32),
        }

        impl CaptureErrorKind {
            /// The kind of a numeric code.
            pub fn from_code(code: u32) -> Self {
                match code {
                    $($code => CaptureErrorKind::$variant,)*
                    other => CaptureErrorKind::Other(other),
                }
            }

            /// The numeric code.
            pub fn code(self) -> u32 {
                match self {
                    $(CaptureErrorKind::$variant => $code,)*
                    CaptureErrorKind::Other(code) => code,
                }
            }

            /// Capture's symbolic name (`record_not_found`).
            pub fn name(self) -> &'static str {
                match self {
                    $(CaptureErrorKind::$variant => $name,)*
                    CaptureErrorKind::Other(_) => "unknown_error",
                }
            }

            /// The vendor-neutral class.
            pub fn api_kind(self) -> ApiErrorKind {
                match self {
                    $(CaptureErrorKind::$variant => ApiErrorKind::$class,)*
                    CaptureErrorKind::Other(_) => ApiErrorKind::Other,
                }
            }
        }
    };
}

kinds! {
    MissingArgument = 100, "missing_argument", InvalidRequest, "100: a required parameter is missing.";
    InvalidArgument = 200, "invalid_argument", InvalidRequest, "200: a parameter is not valid.";
    DuplicateArgument = 201, "duplicate_argument", InvalidRequest, "201: parameters that exclude each other were both given (id and uuid).";
    InvalidAuthMethod = 205, "invalid_auth_method", Unauthorized, "205: this authentication method is not allowed here.";
    InvalidCredentials = 210, "invalid_credentials", Unauthorized, "210: the credentials are not valid.";
    UnknownEntityType = 222, "unknown_entity_type", InvalidRequest, "222: no such entity type.";
    UnknownAttribute = 223, "unknown_attribute", InvalidRequest, "223: no such attribute in the schema.";
    RecordNotFound = 310, "record_not_found", NotFound, "310: no record matches the locator.";
    TimestampMismatch = 330, "timestamp_mismatch", PreconditionFailed, "330: the created / lastUpdated precondition does not hold.";
    InvalidDataFormat = 340, "invalid_data_format", InvalidRequest, "340: a value is not in the expected format.";
    InvalidJsonType = 341, "invalid_json_type", InvalidRequest, "341: a JSON value has the wrong type for its attribute.";
    ConstraintViolation = 360, "constraint_violation", InvalidRequest, "360: a schema constraint is violated.";
    UniqueViolation = 361, "unique_violation", Conflict, "361: a unique attribute's value is already taken.";
    MissingRequiredAttribute = 362, "missing_required_attribute", InvalidRequest, "362: a required attribute is missing.";
    InvalidClientCredentials = 402, "invalid_client_credentials", Unauthorized, "402: the API client id or secret is wrong.";
    ClientPermissionError = 403, "client_permission_error", Forbidden, "403: the API client may not make this call.";
    AccessTokenExpired = 414, "access_token_expired", Unauthorized, "414: the access token has expired.";
    SignatureDoesNotMatch = 431, "signature_does_not_match", Unauthorized, "431: the request signature does not match.";
    ApiFeatureDisabled = 480, "api_feature_disabled", Forbidden, "480: the feature is disabled for this application.";
    UnexpectedError = 500, "unexpected_error", Unavailable, "500: Capture failed (it may pass; the call may have been applied).";
    Timeout = 504, "timeout", Unavailable, "504: Capture timed out (the call may have been applied).";
    ApiLimitError = 510, "api_limit_error", RateLimited, "510: too many simultaneous calls.";
    TriggeredError = 540, "triggered_error", InvalidRequest, "540: a rule configured on the application refused the change.";
}

impl CaptureErrorKind {
    /// The Capture kind of an error, if Capture answered with one.
    pub fn of(error: &Error) -> Option<Self> {
        let api = error.api_error()?;
        (api.vendor == crate::requests::VENDOR)
            .then(|| api.code.as_deref()?.parse().ok())
            .flatten()
            .map(Self::from_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_round_trips_and_has_a_class() {
        let codes = [
            100, 200, 201, 205, 210, 222, 223, 310, 330, 340, 341, 360, 361, 362, 402, 403, 414,
            431, 480, 500, 504, 510, 540,
        ];
        for code in codes {
            let kind = CaptureErrorKind::from_code(code);
            assert!(!matches!(kind, CaptureErrorKind::Other(_)), "{code}");
            assert_eq!(kind.code(), code);
        }
        assert_eq!(
            CaptureErrorKind::from_code(310).api_kind(),
            ApiErrorKind::NotFound
        );
        assert_eq!(
            CaptureErrorKind::from_code(330).api_kind(),
            ApiErrorKind::PreconditionFailed
        );
        assert_eq!(
            CaptureErrorKind::from_code(510).api_kind(),
            ApiErrorKind::RateLimited
        );
        assert_eq!(
            CaptureErrorKind::from_code(999),
            CaptureErrorKind::Other(999)
        );
    }
}
