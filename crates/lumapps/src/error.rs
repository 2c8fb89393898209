//! Input refused before anything is sent.

/// Why an input was refused before anything was sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LumAppsInputError {
    /// No field of the directory has this title (or uuid).
    #[error("the directory has no field `{0}`")]
    UnknownField(String),
    /// Two fields have this title: name the field by uuid instead.
    #[error("several fields are titled `{0}`; name the field by its uuid")]
    AmbiguousTitle(String),
    /// The value is not one of the field's available values.
    #[error("`{value}` is not an available value of field `{field}`")]
    ValueNotAvailable {
        /// The field's title (or uuid).
        field: String,
        /// The value.
        value: String,
    },
    /// The content is not a user directory module.
    #[error("content `{id}` is a `{kind}`, not a user directory")]
    NotAUserDirectory {
        /// The content's id.
        id: String,
        /// Its type.
        kind: String,
    },
    /// An empty directory id, e-mail or uid.
    #[error("{0} cannot be empty")]
    Empty(&'static str),
    /// A user object to save must say who it is.
    #[error("the user to save has neither an `email` nor an `id`")]
    UserWithoutIdentity,
    /// A field change the vendor-neutral layer cannot map.
    #[error("`{0}` is not a field of this directory: use a field title or uuid")]
    UnsupportedField(String),
}

impl From<LumAppsInputError> for profile_core::Error {
    fn from(error: LumAppsInputError) -> Self {
        profile_core::Error::invalid_input(error)
    }
}
