//! Zendesk's profiles, their ids and locators, and the bodies that change them.

mod body;
mod identifier;

pub use body::{ProfileContent, ProfileUpdate};
pub use identifier::{IdentifierQuery, IdentifierQueryError, MAX_NAME_LEN};

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::SunshineInputError;

/// At most this many identifiers per profile (Zendesk's limit).
pub const MAX_IDENTIFIERS: usize = 20;

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A profile id (a 26-character ULID at Zendesk).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ProfileId(String);

impl ProfileId {
    /// Validates an id: not empty, no `/`, not `.` or `..` (which would change the path).
    pub fn new(id: impl Into<String>) -> Result<Self, SunshineInputError> {
        let id = id.into();
        if id.trim().is_empty() || id.contains('/') || id == "." || id == ".." {
            return Err(SunshineInputError::InvalidProfileId(id));
        }
        Ok(Self(id))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ProfileId {
    type Err = SunshineInputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A Zendesk user id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserId(pub u64);

impl std::str::FromStr for UserId {
    type Err = SunshineInputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<u64>()
            .ok()
            .filter(|id| *id > 0)
            .map(UserId)
            .ok_or_else(|| SunshineInputError::InvalidUserId(s.to_owned()))
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which profile a call is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProfileLocator {
    /// By profile id.
    Id(ProfileId),
    /// By identifier query.
    Identifier(IdentifierQuery),
}

impl From<IdentifierQuery> for ProfileLocator {
    fn from(query: IdentifierQuery) -> Self {
        ProfileLocator::Identifier(query)
    }
}

impl From<ProfileId> for ProfileLocator {
    fn from(id: ProfileId) -> Self {
        ProfileLocator::Id(id)
    }
}

/// One identifier of a profile.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    /// Its type (`email`, `phone_number`, `external_id`, …).
    #[serde(rename = "type")]
    pub identifier_type: String,
    /// Its value.
    pub value: String,
}

impl Identifier {
    /// An identifier.
    pub fn new(identifier_type: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            identifier_type: identifier_type.into(),
            value: value.into(),
        }
    }
}

/// A profile as Zendesk returns it. Properties this crate does not know are kept in
/// `other`, so nothing is lost on a read-modify-write.
///
/// `user_id` is read from a string or a number (Zendesk has sent both).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UserProfile {
    /// The profile id.
    pub id: String,
    /// The Zendesk user the profile belongs to.
    pub user_id: Option<String>,
    /// The application the profile comes from.
    pub source: String,
    /// The kind of profile in that application.
    #[serde(rename = "type")]
    pub profile_type: String,
    /// The person's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The attributes.
    pub attributes: Map<String, Value>,
    /// The identifiers.
    pub identifiers: Vec<Identifier>,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When it was last updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Properties this crate does not model.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

// Written by hand rather than derived: `#[serde(flatten)]` (for `other`) makes serde buffer
// every property into an intermediate tree before reading it, which was most of the cost
// of decoding an answer (callgrind of `profile-bench --profile-sdk sunshine`).
impl<'de> Deserialize<'de> for UserProfile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ProfileVisitor)
    }
}

/// A property name of a profile.
enum ProfileKey {
    Id,
    UserId,
    Source,
    Type,
    Name,
    Attributes,
    Identifiers,
    CreatedAt,
    UpdatedAt,
    Other(String),
}

impl<'de> Deserialize<'de> for ProfileKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = ProfileKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<ProfileKey, E> {
                Ok(match key {
                    "id" => ProfileKey::Id,
                    "user_id" => ProfileKey::UserId,
                    "source" => ProfileKey::Source,
                    "type" => ProfileKey::Type,
                    "name" => ProfileKey::Name,
                    "attributes" => ProfileKey::Attributes,
                    "identifiers" => ProfileKey::Identifiers,
                    "created_at" => ProfileKey::CreatedAt,
                    "updated_at" => ProfileKey::UpdatedAt,
                    other => ProfileKey::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

struct ProfileVisitor;

/// Sets a property read once; a second occurrence is an error, as a derived impl makes it.
fn once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

impl<'de> Visitor<'de> for ProfileVisitor {
    type Value = UserProfile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a user profile object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UserProfile, A::Error> {
        let (mut id, mut user_id, mut source, mut profile_type) = (None, None, None, None);
        let (mut name, mut attributes, mut identifiers) = (None, None, None);
        let (mut created_at, mut updated_at) = (None, None);
        let mut other = Map::new();
        while let Some(key) = map.next_key::<ProfileKey>()? {
            match key {
                ProfileKey::Id => once(&mut id, "id", map.next_value::<String>()?)?,
                ProfileKey::UserId => {
                    let value = match map.next_value::<Value>()? {
                        Value::String(s) => Some(s),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    };
                    once(&mut user_id, "user_id", value)?;
                }
                ProfileKey::Source => once(&mut source, "source", map.next_value::<String>()?)?,
                ProfileKey::Type => once(&mut profile_type, "type", map.next_value::<String>()?)?,
                ProfileKey::Name => once(&mut name, "name", map.next_value::<Option<String>>()?)?,
                ProfileKey::Attributes => once(
                    &mut attributes,
                    "attributes",
                    map.next_value::<Map<String, Value>>()?,
                )?,
                ProfileKey::Identifiers => once(
                    &mut identifiers,
                    "identifiers",
                    map.next_value::<Vec<Identifier>>()?,
                )?,
                ProfileKey::CreatedAt => once(
                    &mut created_at,
                    "created_at",
                    map.next_value::<Option<String>>()?,
                )?,
                ProfileKey::UpdatedAt => once(
                    &mut updated_at,
                    "updated_at",
                    map.next_value::<Option<String>>()?,
                )?,
                ProfileKey::Other(key) => {
                    other.insert(key, map.next_value::<Value>()?);
                }
            }
        }
        Ok(UserProfile {
            id: id.ok_or_else(|| de::Error::missing_field("id"))?,
            user_id: user_id.flatten(),
            source: source.ok_or_else(|| de::Error::missing_field("source"))?,
            profile_type: profile_type.ok_or_else(|| de::Error::missing_field("type"))?,
            name: name.flatten(),
            attributes: attributes.unwrap_or_default(),
            identifiers: identifiers.unwrap_or_default(),
            created_at: created_at.flatten(),
            updated_at: updated_at.flatten(),
            other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_that_would_change_the_path_are_refused() {
        for bad in ["", " ", ".", "..", "a/b"] {
            assert!(ProfileId::new(bad).is_err(), "{bad:?}");
        }
        assert!("0".parse::<UserId>().is_err());
        assert_eq!("81123613".parse::<UserId>().unwrap(), UserId(81_123_613));
    }

    #[test]
    fn the_seed_response_decodes_and_keeps_unknown_properties() {
        let profile: UserProfile = serde_json::from_value(json!({
            "id": "01E06HXMJ8RJ6C0MR142D6FBSA", "user_id": "81123613", "source": "coolbikes",
            "type": "rider", "name": "Jane Doe",
            "attributes": {"favorite_color": "red", "saddle_height": "87cm"},
            "created_at": "2020-02-03T22:14:48Z", "updated_at": "2020-03-11T01:20:28Z",
            "identifiers": [{"type": "email", "value": "jdoe@example.com"}],
            "future_property": 1
        }))
        .unwrap();
        assert_eq!(profile.user_id.as_deref(), Some("81123613"));
        assert_eq!(profile.other.get("future_property"), Some(&json!(1)));
        let numeric: UserProfile = serde_json::from_value(json!({
            "id": "x", "user_id": 81123613, "source": "s", "type": "t"
        }))
        .unwrap();
        assert_eq!(numeric.user_id.as_deref(), Some("81123613"));
    }

    #[test]
    fn a_profile_decodes_as_the_derived_flatten_did() {
        // What `#[derive(Deserialize)]` with `#[serde(flatten)] other` accepted and refused.
        let minimal: UserProfile =
            serde_json::from_str(r#"{"id":"x","source":"s","type":"t"}"#).unwrap();
        assert_eq!(minimal.user_id, None);
        assert!(minimal.attributes.is_empty() && minimal.identifiers.is_empty());
        assert!(minimal.other.is_empty());
        let nulls: UserProfile = serde_json::from_str(
            r#"{"id":"x","source":"s","type":"t","user_id":null,"name":null,"created_at":null}"#,
        )
        .unwrap();
        assert_eq!(
            (nulls.user_id, nulls.name, nulls.created_at),
            (None, None, None)
        );
        for bad in [
            r#"{"source":"s","type":"t"}"#,
            r#"{"id":"x","type":"t"}"#,
            r#"{"id":"x","source":"s"}"#,
            r#"{"id":1,"source":"s","type":"t"}"#,
            r#"{"id":"x","source":"s","type":"t","attributes":[]}"#,
            r#"{"id":"x","source":"s","type":"t","identifiers":[{"type":"email"}]}"#,
            r#"{"id":"x","id":"y","source":"s","type":"t"}"#,
            r#"["x","s","t"]"#,
        ] {
            assert!(serde_json::from_str::<UserProfile>(bad).is_err(), "{bad}");
        }
        // Unknown properties come back out where they were, on a read-modify-write.
        let text = r#"{"id":"x","user_id":"7","source":"s","type":"t","attributes":{"a":1},"identifiers":[],"future":{"b":[1]}}"#;
        let profile: UserProfile = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_value(&profile).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }
}
