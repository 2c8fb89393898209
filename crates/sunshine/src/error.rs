//! Input refused before anything is sent.

use profile_core::InvalidFieldPath;

use crate::{IdentifierQueryError, MAX_IDENTIFIERS};

/// Why an input was refused before anything was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SunshineInputError {
    /// The identifier query is malformed.
    #[error(transparent)]
    IdentifierQuery(#[from] IdentifierQueryError),
    /// An attribute key is empty.
    #[error("attribute keys cannot be empty")]
    EmptyAttributeKey,
    /// `attributes` must be a JSON object.
    #[error("attributes must be a JSON object, not {found}")]
    AttributesNotAnObject {
        /// The JSON type that was given.
        found: &'static str,
    },
    /// An identifier has an empty type or value.
    #[error("identifiers need a non-empty type and value")]
    EmptyIdentifier,
    /// More identifiers than Zendesk keeps on one profile.
    #[error("a profile has at most {MAX_IDENTIFIERS} identifiers; {count} were given")]
    TooManyIdentifiers {
        /// How many were given.
        count: usize,
    },
    /// A profile id that is empty or could not be a path segment.
    #[error("`{0}` is not a profile id")]
    InvalidProfileId(String),
    /// A Zendesk user id must be a positive number.
    #[error("`{0}` is not a Zendesk user id (a positive number)")]
    InvalidUserId(String),
    /// `source`, `type` and `user_id` cannot be changed (Zendesk ignores them in a PATCH;
    /// changing them would make a different profile).
    #[error("`{field}` is read-only; create a new profile with a PUT instead")]
    ReadOnlyField {
        /// The field.
        field: String,
    },
    /// A field path that does not name a profile property.
    #[error("`{path}` is not a profile field: use name, identifiers or attributes.<key>")]
    UnsupportedField {
        /// The path.
        path: String,
    },
    /// A value of the wrong JSON type for its field.
    #[error("`{path}` must be {expected}")]
    WrongType {
        /// The path.
        path: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A field path that does not parse.
    #[error(transparent)]
    FieldPath(#[from] InvalidFieldPath),
}

impl From<SunshineInputError> for profile_core::Error {
    fn from(error: SunshineInputError) -> Self {
        profile_core::Error::invalid_input(error)
    }
}
