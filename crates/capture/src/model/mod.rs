//! What `entity.update`, `entity` and `entity.replace` take: locators, values, and the
//! attribute paths of Capture's records.

mod path;
mod query;

pub use path::{AttributePath, PathSegment};
pub use query::{
    AttrDef, BULK_CREATE_BYTES, BULK_CREATE_RECORDS, BulkCreated, Created, EntityBulkCreate,
    EntityCount, EntityCreate, EntityDelete, EntityFind, EntityType, MAX_FIND_RESULTS,
};

use serde_json::{Map, Value};
use std::borrow::Cow;

use crate::CaptureInputError;
pub(crate) use path::is_attribute_name;

/// Parses text that must be JSON (a `value`, a `key_value`), with a typed error.
///
/// ```
/// use profile_capture::parse_json_value;
/// assert_eq!(parse_json_value(r#""Gary Jackson""#)?, "Gary Jackson");
/// // The seed's third example writes `{"Gary Jackson"}`, which is not JSON.
/// assert!(parse_json_value(r#"{"Gary Jackson"}"#).is_err());
/// # Ok::<(), profile_capture::CaptureInputError>(())
/// ```
pub fn parse_json_value(text: &str) -> Result<Value, CaptureInputError> {
    serde_json::from_str(text).map_err(|e| CaptureInputError::InvalidJson {
        text: text.chars().take(80).collect(),
        reason: e.to_string(),
    })
}

/// Which record a call is about: by uuid, by id, or by a unique attribute. An enum, so two
/// locators can never be sent together.
#[derive(Clone, Debug, PartialEq)]
pub enum EntityLocator {
    /// `uuid=…`
    Uuid(String),
    /// `id=…`
    Id(u64),
    /// `key_attribute=…&key_value=…`: the value is sent as JSON text, so a string keeps
    /// its quotes (`"gjack@example.com"`).
    Key {
        /// A unique attribute of the schema (`email`).
        attribute: String,
        /// Its value.
        value: Value,
    },
}

impl EntityLocator {
    /// By uuid.
    pub fn uuid(uuid: impl Into<String>) -> Self {
        EntityLocator::Uuid(uuid.into())
    }

    /// By a unique attribute.
    pub fn key(attribute: impl Into<String>, value: impl Into<Value>) -> Self {
        EntityLocator::Key {
            attribute: attribute.into(),
            value: value.into(),
        }
    }

    pub(crate) fn form_fields(
        &self,
        fields: &mut Vec<(Cow<'static, str>, String)>,
    ) -> Result<(), CaptureInputError> {
        match self {
            EntityLocator::Uuid(uuid) => {
                if uuid.trim().is_empty() {
                    return Err(CaptureInputError::EmptyLocator);
                }
                fields.push(("uuid".into(), uuid.clone()));
            }
            EntityLocator::Id(id) => fields.push(("id".into(), id.to_string())),
            EntityLocator::Key { attribute, value } => {
                if attribute.is_empty() {
                    return Err(CaptureInputError::EmptyLocator);
                }
                if !is_attribute_name(attribute) {
                    return Err(CaptureInputError::InvalidName(attribute.clone()));
                }
                if value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()) {
                    return Err(CaptureInputError::EmptyLocator);
                }
                fields.push(("key_attribute".into(), attribute.clone()));
                fields.push(("key_value".into(), value.to_string()));
            }
        }
        Ok(())
    }
}

/// What an update or a replace writes.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EntityValues {
    /// `attributes={…}`: a JSON object at the record's root.
    Attributes(Map<String, Value>),
    /// `attribute_name=…&value=…`: a JSON value at a path.
    At {
        /// Where.
        path: AttributePath,
        /// What.
        value: Value,
    },
}

const SYSTEM_ATTRIBUTES: [&str; 4] = ["id", "uuid", "created", "lastUpdated"];

impl EntityValues {
    fn form_fields(
        &self,
        fields: &mut Vec<(Cow<'static, str>, String)>,
    ) -> Result<(), CaptureInputError> {
        match self {
            EntityValues::Attributes(attributes) => {
                if let Some(system) = attributes
                    .keys()
                    .find(|k| SYSTEM_ATTRIBUTES.contains(&k.as_str()))
                {
                    return Err(CaptureInputError::ReadOnlyAttribute(system.clone()));
                }
                if let Some(bad) = attributes.keys().find(|k| !is_attribute_name(k)) {
                    return Err(CaptureInputError::InvalidName(bad.clone()));
                }
                // Serialized from the map as it is; a map of JSON values always serializes.
                fields.push((
                    "attributes".into(),
                    serde_json::to_string(attributes).unwrap_or_default(),
                ));
            }
            EntityValues::At { path, value } => {
                if let Some(first) = path.segments().first() {
                    if SYSTEM_ATTRIBUTES.contains(&first.name.as_str()) {
                        return Err(CaptureInputError::ReadOnlyAttribute(first.name.clone()));
                    }
                } else if !value.is_object() {
                    return Err(CaptureInputError::AttributesNotAnObject);
                }
                fields.push(("attribute_name".into(), path.to_string()));
                fields.push(("value".into(), value.to_string()));
            }
        }
        Ok(())
    }

    /// Whether writing these values could append to a plural, so that sending them twice
    /// could add the same element twice. Without the schema this is answered
    /// conservatively: any JSON array, or an object written to a path that does not end at
    /// a plural element (`/statuses` with `{"status": …}` appends one), counts.
    pub fn may_append_to_plural(&self) -> bool {
        fn has_array(value: &Value) -> bool {
            match value {
                Value::Array(_) => true,
                Value::Object(map) => map.values().any(has_array),
                _ => false,
            }
        }
        match self {
            EntityValues::Attributes(attributes) => attributes.values().any(has_array),
            EntityValues::At { path, value } => {
                has_array(value)
                    || (value.is_object() && !path.is_root() && !path.ends_at_plural_element())
            }
        }
    }
}

pub(crate) fn check_type_name(type_name: &str) -> Result<(), CaptureInputError> {
    if is_attribute_name(type_name) {
        Ok(())
    } else {
        Err(CaptureInputError::InvalidName(type_name.to_owned()))
    }
}

/// Capture timestamps: `2016-03-13 19:39:17.856608 +0000` (fraction and zone optional).
fn check_timestamp(text: &str) -> Result<(), CaptureInputError> {
    let bytes = text.as_bytes();
    let shape = b"dddd-dd-dd dd:dd:dd";
    let matches = bytes.len() >= shape.len()
        && shape.iter().zip(bytes).all(|(s, b)| {
            if *s == b'd' {
                b.is_ascii_digit()
            } else {
                s == b
            }
        });
    if matches {
        Ok(())
    } else {
        Err(CaptureInputError::InvalidTimestamp(text.to_owned()))
    }
}

/// An `entity.update`: partial values for one record; what is not named is left alone.
///
/// ```
/// use profile_capture::{EntityLocator, EntityUpdate};
/// use serde_json::json;
///
/// // The seed's first example.
/// let update = EntityUpdate::attributes(
///     "user",
///     EntityLocator::uuid("6bbe7e58-bede-41b8-940b-5614c7607a4e"),
///     json!({"givenName": "Matt", "familyName": "Parker"}),
/// )?;
/// assert!(!update.values().may_append_to_plural());
/// # Ok::<(), profile_capture::CaptureInputError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct EntityUpdate {
    type_name: String,
    locator: EntityLocator,
    values: EntityValues,
    created: Option<String>,
    last_updated: Option<String>,
    include_record: bool,
}

impl EntityUpdate {
    /// Writes a JSON object of attributes at the record's root (`attributes=`).
    pub fn attributes(
        type_name: impl Into<String>,
        locator: EntityLocator,
        attributes: Value,
    ) -> Result<Self, CaptureInputError> {
        let Value::Object(attributes) = attributes else {
            return Err(CaptureInputError::AttributesNotAnObject);
        };
        Ok(Self::new(
            type_name.into(),
            locator,
            EntityValues::Attributes(attributes),
        ))
    }

    /// Writes one JSON value at a path (`attribute_name=` and `value=`).
    pub fn value_at(
        type_name: impl Into<String>,
        locator: EntityLocator,
        path: AttributePath,
        value: Value,
    ) -> Self {
        Self::new(type_name.into(), locator, EntityValues::At { path, value })
    }

    fn new(type_name: String, locator: EntityLocator, values: EntityValues) -> Self {
        Self {
            type_name,
            locator,
            values,
            created: None,
            last_updated: None,
            include_record: false,
        }
    }

    /// Applies only if the record's `created` is exactly this (else error 330).
    pub fn if_created(mut self, timestamp: impl Into<String>) -> Self {
        self.created = Some(timestamp.into());
        self
    }

    /// Applies only if the record's `lastUpdated` is exactly this (else error 330): the
    /// optimistic lock of a read-compare-update.
    pub fn if_last_updated(mut self, timestamp: impl Into<String>) -> Self {
        self.last_updated = Some(timestamp.into());
        self
    }

    /// Asks for the updated record (or the part under the path) in the answer.
    pub fn include_record(mut self, include: bool) -> Self {
        self.include_record = include;
        self
    }

    /// The values written.
    pub fn values(&self) -> &EntityValues {
        &self.values
    }

    /// The form fields, in the order the seed's examples send them.
    pub(crate) fn form(&self) -> Result<Vec<(Cow<'static, str>, String)>, CaptureInputError> {
        check_type_name(&self.type_name)?;
        let mut fields = Vec::with_capacity(6);
        fields.push(("type_name".into(), self.type_name.clone()));
        self.locator.form_fields(&mut fields)?;
        self.values.form_fields(&mut fields)?;
        for (name, timestamp) in [
            ("created", &self.created),
            ("lastUpdated", &self.last_updated),
        ] {
            if let Some(timestamp) = timestamp {
                check_timestamp(timestamp)?;
                fields.push((name.into(), timestamp.clone()));
            }
        }
        if self.include_record {
            fields.push(("include_record".into(), "true".into()));
        }
        Ok(fields)
    }
}

/// An `entity` read: one record, the part of it under a path, or some of its attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityRead {
    type_name: String,
    locator: EntityLocator,
    path: Option<AttributePath>,
    only: Vec<String>,
}

impl EntityRead {
    /// The whole record.
    pub fn new(type_name: impl Into<String>, locator: EntityLocator) -> Self {
        Self {
            type_name: type_name.into(),
            locator,
            path: None,
            only: Vec::new(),
        }
    }

    /// Only the part under `path` (`attribute_name`). Replaces a choice made with
    /// [`only`](Self::only).
    pub fn at(mut self, path: AttributePath) -> Self {
        self.path = Some(path).filter(|p| !p.is_root());
        self.only.clear();
        self
    }

    /// Only these top-level attributes (`attributes`, a JSON array of names such as
    /// `givenName` or `primaryAddress`), each whole: the answer is an object holding just
    /// them. No names means the whole record. Replaces a path given with [`at`](Self::at).
    ///
    /// ```
    /// use profile_capture::{EntityLocator, EntityRead};
    /// let read = EntityRead::new("user", EntityLocator::key("email", "jdoe@example.com"))
    ///     .only(["givenName", "primaryAddress"]);
    /// # let _ = read;
    /// ```
    pub fn only<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.only = names.into_iter().map(Into::into).collect();
        if !self.only.is_empty() {
            self.path = None;
        }
        self
    }

    pub(crate) fn form(&self) -> Result<Vec<(Cow<'static, str>, String)>, CaptureInputError> {
        check_type_name(&self.type_name)?;
        let mut fields = Vec::with_capacity(6);
        fields.push(("type_name".into(), self.type_name.clone()));
        self.locator.form_fields(&mut fields)?;
        if let Some(path) = &self.path {
            fields.push(("attribute_name".into(), path.to_string()));
        }
        if !self.only.is_empty() {
            if let Some(bad) = self.only.iter().find(|name| !is_attribute_name(name)) {
                return Err(CaptureInputError::InvalidName(bad.clone()));
            }
            fields.push((
                "attributes".into(),
                Value::from(self.only.clone()).to_string(),
            ));
        }
        Ok(fields)
    }
}

/// An `entity.replace`: the record (or the part under a path) becomes exactly these
/// values; whatever is not in them is gone.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityReplace {
    inner: EntityUpdate,
}

impl EntityReplace {
    /// Replaces the whole record's attributes with this object.
    pub fn attributes(
        type_name: impl Into<String>,
        locator: EntityLocator,
        attributes: Value,
    ) -> Result<Self, CaptureInputError> {
        Ok(Self {
            inner: EntityUpdate::attributes(type_name, locator, attributes)?,
        })
    }

    /// Replaces the part under `path` with `value`.
    pub fn value_at(
        type_name: impl Into<String>,
        locator: EntityLocator,
        path: AttributePath,
        value: Value,
    ) -> Self {
        Self {
            inner: EntityUpdate::value_at(type_name, locator, path, value),
        }
    }

    /// Asks for the record in the answer.
    pub fn include_record(mut self, include: bool) -> Self {
        self.inner = self.inner.include_record(include);
        self
    }

    pub(crate) fn form(&self) -> Result<Vec<(Cow<'static, str>, String)>, CaptureInputError> {
        self.inner.form()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_value_is_sent_as_json_so_a_string_keeps_its_quotes() {
        let mut fields = Vec::new();
        EntityLocator::key("email", "gjack@example.com")
            .form_fields(&mut fields)
            .unwrap();
        assert_eq!(
            fields[1],
            ("key_value".into(), "\"gjack@example.com\"".to_owned())
        );
        let mut fields = Vec::new();
        EntityLocator::key("employeeNumber", 1042)
            .form_fields(&mut fields)
            .unwrap();
        assert_eq!(fields[1].1, "1042");
    }

    #[test]
    fn empty_locators_are_refused() {
        for locator in [
            EntityLocator::uuid(""),
            EntityLocator::key("email", ""),
            EntityLocator::key("", "x"),
        ] {
            assert_eq!(
                locator.form_fields(&mut Vec::new()),
                Err(CaptureInputError::EmptyLocator)
            );
        }
        assert_eq!(
            EntityLocator::key("e mail", "x").form_fields(&mut Vec::new()),
            Err(CaptureInputError::InvalidName("e mail".into()))
        );
    }

    #[test]
    fn plural_appends_are_recognised_conservatively() {
        let at = |path: &str, value: Value| EntityValues::At {
            path: path.parse().unwrap(),
            value,
        };
        assert!(at("/statuses", json!({"status": "active"})).may_append_to_plural());
        assert!(at("/statuses", json!([{"status": "active"}])).may_append_to_plural());
        assert!(!at("/statuses#5253", json!({"status": "active"})).may_append_to_plural());
        assert!(!at("displayName", json!("Gary Jackson")).may_append_to_plural());
        let attributes = |v: Value| EntityValues::Attributes(v.as_object().unwrap().clone());
        assert!(!attributes(json!({"givenName": "Matt"})).may_append_to_plural());
        assert!(attributes(json!({"statuses": [{"status": "x"}]})).may_append_to_plural());
    }

    #[test]
    fn bad_updates_are_refused() {
        let uuid = EntityLocator::uuid("6bbe7e58-bede-41b8-940b-5614c7607a4e");
        assert_eq!(
            EntityUpdate::attributes("user", uuid.clone(), json!("x")),
            Err(CaptureInputError::AttributesNotAnObject)
        );
        let err = EntityUpdate::attributes("user", uuid.clone(), json!({"uuid": "x"}))
            .unwrap()
            .form();
        assert_eq!(
            err,
            Err(CaptureInputError::ReadOnlyAttribute("uuid".into()))
        );
        let err = EntityUpdate::attributes("us er", uuid.clone(), json!({}))
            .unwrap()
            .form();
        assert_eq!(err, Err(CaptureInputError::InvalidName("us er".into())));
        let err = EntityUpdate::attributes("user", uuid, json!({"a": 1}))
            .unwrap()
            .if_last_updated("yesterday")
            .form();
        assert_eq!(
            err,
            Err(CaptureInputError::InvalidTimestamp("yesterday".into()))
        );
    }
}
