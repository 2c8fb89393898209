//! Entity type schemas.

use std::collections::BTreeMap;

/// The type of one attribute.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AttributeType {
    /// A JSON string.
    String,
    /// A JSON integer.
    Integer,
    /// A JSON boolean.
    Boolean,
    /// A timestamp, as a string.
    DateTime,
    /// A nested object with its own attributes.
    Object(EntitySchema),
    /// A list of elements, each with an `id` assigned by Capture.
    Plural(EntitySchema),
}

/// One attribute of a schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// Its type.
    pub kind: AttributeType,
    /// Whether no two records may share a value (usable as `key_attribute`).
    pub unique: bool,
}

/// The attributes of an entity type (or of an object or plural element).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntitySchema {
    attributes: BTreeMap<String, Attribute>,
}

impl EntitySchema {
    /// No attributes.
    pub fn new() -> Self {
        Self::default()
    }

    fn with(mut self, name: &str, kind: AttributeType, unique: bool) -> Self {
        self.attributes
            .insert(name.to_owned(), Attribute { kind, unique });
        self
    }

    /// Adds a string attribute.
    pub fn string(self, name: &str) -> Self {
        self.with(name, AttributeType::String, false)
    }

    /// Adds a string attribute whose values are unique across records.
    pub fn unique_string(self, name: &str) -> Self {
        self.with(name, AttributeType::String, true)
    }

    /// Adds an integer attribute.
    pub fn integer(self, name: &str) -> Self {
        self.with(name, AttributeType::Integer, false)
    }

    /// Adds a boolean attribute.
    pub fn boolean(self, name: &str) -> Self {
        self.with(name, AttributeType::Boolean, false)
    }

    /// Adds a timestamp attribute.
    pub fn date_time(self, name: &str) -> Self {
        self.with(name, AttributeType::DateTime, false)
    }

    /// Adds an object attribute.
    pub fn object(self, name: &str, schema: EntitySchema) -> Self {
        self.with(name, AttributeType::Object(schema), false)
    }

    /// Adds a plural attribute.
    pub fn plural(self, name: &str, element: EntitySchema) -> Self {
        self.with(name, AttributeType::Plural(element), false)
    }

    /// An attribute by name.
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes.get(name)
    }

    /// Every attribute.
    pub fn attributes(&self) -> impl Iterator<Item = (&String, &Attribute)> {
        self.attributes.iter()
    }

    /// The `user` schema the emulator starts with: what the seed's examples touch.
    pub fn seed_user() -> Self {
        Self::new()
            .string("givenName")
            .string("familyName")
            .string("displayName")
            .unique_string("email")
            .plural("statuses", Self::new().string("status"))
    }
}
