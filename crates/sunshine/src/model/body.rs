//! The bodies of a PATCH (a merge) and a PUT (a replace).

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Identifier, MAX_IDENTIFIERS, UserProfile, json_type};
use crate::SunshineInputError;

fn validate_attributes(attributes: &Map<String, Value>) -> Result<(), SunshineInputError> {
    if attributes.keys().any(|k| k.trim().is_empty()) {
        return Err(SunshineInputError::EmptyAttributeKey);
    }
    Ok(())
}

fn validate_identifiers(identifiers: &[Identifier]) -> Result<(), SunshineInputError> {
    if identifiers
        .iter()
        .any(|i| i.identifier_type.trim().is_empty() || i.value.trim().is_empty())
    {
        return Err(SunshineInputError::EmptyIdentifier);
    }
    if identifiers.len() > MAX_IDENTIFIERS {
        return Err(SunshineInputError::TooManyIdentifiers {
            count: identifiers.len(),
        });
    }
    Ok(())
}

fn attributes_object(value: Value) -> Result<Map<String, Value>, SunshineInputError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(SunshineInputError::AttributesNotAnObject {
            found: json_type(&other),
        }),
    }
}

/// The body of a PATCH: only the editable properties, so a read-only one (`source`,
/// `type`, `user_id`) cannot be put in.
///
/// Zendesk merges it into the profile: attributes named here are added or replaced, the
/// others stay; identifiers named here are added, existing ones are never changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileUpdate {
    name: Option<String>,
    attributes: Map<String, Value>,
    identifiers: Vec<Identifier>,
}

impl ProfileUpdate {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds or replaces one attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Merges every attribute of a JSON object; refuses anything that is not an object.
    pub fn attributes(mut self, attributes: Value) -> Result<Self, SunshineInputError> {
        self.attributes.extend(attributes_object(attributes)?);
        Ok(self)
    }

    /// Adds an identifier.
    pub fn identifier(mut self, identifier: Identifier) -> Self {
        self.identifiers.push(identifier);
        self
    }

    /// Whether the update changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.attributes.is_empty() && self.identifiers.is_empty()
    }

    /// The request body, validated.
    pub fn to_body(&self) -> Result<Value, SunshineInputError> {
        Ok(to_value(&self.body()?))
    }

    /// The request body, validated, borrowing from the update: what is sent.
    pub(crate) fn body(&self) -> Result<Envelope<UpdateBody<'_>>, SunshineInputError> {
        validate_attributes(&self.attributes)?;
        validate_identifiers(&self.identifiers)?;
        Ok(Envelope {
            profile: UpdateBody {
                name: self.name.as_deref(),
                attributes: Some(&self.attributes).filter(|a| !a.is_empty()),
                identifiers: Some(self.identifiers.as_slice()).filter(|i| !i.is_empty()),
            },
        })
    }
}

/// `{"profile": …}`, the shape of every body Zendesk takes.
#[derive(Serialize)]
pub(crate) struct Envelope<T> {
    profile: T,
}

/// A PATCH body: only what the update sets, in this order.
#[derive(Serialize)]
pub(crate) struct UpdateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identifiers: Option<&'a [Identifier]>,
}

/// A PUT body: `identifiers` and `attributes` always, `name` when set.
#[derive(Serialize)]
pub(crate) struct ContentBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    identifiers: &'a [Identifier],
    attributes: &'a Map<String, Value>,
}

/// These bodies hold only strings, maps with string keys and JSON values, which
/// `serde_json` always serializes.
fn to_value<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or_default()
}

/// The content of a PUT: everything a replace keeps. Whatever is not in it is gone after
/// the replace (use [`SunshineClient::merge_and_replace`](crate::SunshineClient::merge_and_replace)
/// to start from the current profile).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileContent {
    /// The person's name.
    pub name: Option<String>,
    /// The identifiers. A PUT by identifier query also keeps the identifier it was
    /// addressed by.
    pub identifiers: Vec<Identifier>,
    /// The attributes.
    pub attributes: Map<String, Value>,
}

impl ProfileContent {
    /// Empty content.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds an identifier.
    pub fn identifier(mut self, identifier: Identifier) -> Self {
        self.identifiers.push(identifier);
        self
    }

    /// Sets one attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Replaces all attributes with a JSON object; refuses anything that is not an object.
    pub fn attributes(mut self, attributes: Value) -> Result<Self, SunshineInputError> {
        self.attributes = attributes_object(attributes)?;
        Ok(self)
    }

    /// The request body, validated. `attributes` is always sent (Zendesk requires it).
    pub fn to_body(&self) -> Result<Value, SunshineInputError> {
        Ok(to_value(&self.body()?))
    }

    /// The request body, validated, borrowing from the content: what is sent.
    pub(crate) fn body(&self) -> Result<Envelope<ContentBody<'_>>, SunshineInputError> {
        validate_attributes(&self.attributes)?;
        validate_identifiers(&self.identifiers)?;
        Ok(Envelope {
            profile: ContentBody {
                name: self.name.as_deref(),
                identifiers: &self.identifiers,
                attributes: &self.attributes,
            },
        })
    }
}

impl From<&UserProfile> for ProfileContent {
    fn from(profile: &UserProfile) -> Self {
        Self {
            name: profile.name.clone(),
            identifiers: profile.identifiers.clone(),
            attributes: profile.attributes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_update_body_holds_only_what_was_set() {
        let body = ProfileUpdate::new()
            .name("Jane Doe")
            .attribute("saddle_height", "87cm")
            .to_body()
            .unwrap();
        assert_eq!(
            body,
            json!({"profile": {"name": "Jane Doe", "attributes": {"saddle_height": "87cm"}}})
        );
    }

    #[test]
    fn bad_attributes_and_identifiers_are_refused() {
        assert_eq!(
            ProfileUpdate::new().attributes(json!(["a"])),
            Err(SunshineInputError::AttributesNotAnObject { found: "an array" })
        );
        assert_eq!(
            ProfileUpdate::new().attribute("", 1).to_body(),
            Err(SunshineInputError::EmptyAttributeKey)
        );
        assert_eq!(
            ProfileContent::new()
                .identifier(Identifier::new("email", ""))
                .to_body(),
            Err(SunshineInputError::EmptyIdentifier)
        );
        let many = (0..21).fold(ProfileContent::new(), |c, i| {
            c.identifier(Identifier::new("external_id", i.to_string()))
        });
        assert_eq!(
            many.to_body(),
            Err(SunshineInputError::TooManyIdentifiers { count: 21 })
        );
    }
}
