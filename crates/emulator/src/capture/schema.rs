//! Entity type schemas, and the `entityType` shape they are read from and described in.

use std::collections::BTreeMap;

use serde_json::{Value, json};

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
    /// Any JSON value (Capture's `json`, and the types the emulator does not check:
    /// `decimal`, `password`, …, kept under their name).
    Json(String),
}

/// One attribute of a schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// Its type.
    pub kind: AttributeType,
    /// Whether no two records may share a value (usable as `key_attribute`).
    pub unique: bool,
    /// Whether a record must have a value (`entity.create` without one is 362).
    pub required: bool,
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
        self.attributes.insert(
            name.to_owned(),
            Attribute {
                kind,
                unique,
                required: false,
            },
        );
        self
    }

    /// Makes an attribute required (a record must have a value).
    pub fn required(mut self, name: &str) -> Self {
        if let Some(attribute) = self.attributes.get_mut(name) {
            attribute.required = true;
        }
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

    /// The `user` schema the emulator starts with: what the documentation's examples touch.
    pub fn seed_user() -> Self {
        Self::new()
            .string("givenName")
            .string("familyName")
            .string("displayName")
            .unique_string("email")
            .plural("statuses", Self::new().string("status"))
    }

    /// Reads a schema from what `entityType` answers: the whole answer, its `schema`, or
    /// the `attr_defs` array itself. Each def has `name`, `type` (`string`, `integer`,
    /// `boolean`, `dateTime`, `date`, `object`, `plural`, `json`, …; `id` and `uuid` are
    /// every entity's own and are skipped), optional `constraints` (`unique`, `required`)
    /// and, for objects and plurals, nested `attr_defs`.
    pub fn from_entity_type(description: &Value) -> Result<Self, String> {
        let defs = description
            .pointer("/schema/attr_defs")
            .or_else(|| description.get("attr_defs"))
            .unwrap_or(description);
        let Value::Array(defs) = defs else {
            return Err("an entityType schema has an `attr_defs` array".to_owned());
        };
        let mut schema = Self::new();
        for (index, def) in defs.iter().enumerate() {
            let name = def
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("attribute {index} has no `name`"))?;
            let kind = def.get("type").and_then(Value::as_str).unwrap_or("string");
            let nested = || -> Result<EntitySchema, String> {
                match def.get("attr_defs") {
                    Some(inner) => {
                        Self::from_entity_type(inner).map_err(|e| format!("`{name}`: {e}"))
                    }
                    None => Ok(Self::new()),
                }
            };
            let kind = match kind {
                "id" | "uuid" => continue,
                "string" => AttributeType::String,
                "integer" => AttributeType::Integer,
                "boolean" => AttributeType::Boolean,
                "dateTime" | "date" => AttributeType::DateTime,
                "object" => AttributeType::Object(nested()?),
                "plural" => AttributeType::Plural(nested()?),
                other => AttributeType::Json(other.to_owned()),
            };
            let constraint = |wanted: &str| match def.get("constraints") {
                Some(Value::Array(list)) => list.iter().any(|c| c == wanted),
                Some(Value::String(one)) => one == wanted,
                Some(Value::Object(map)) => map.get(wanted).is_some_and(|v| v != false),
                _ => false,
            };
            schema.attributes.insert(
                name.to_owned(),
                Attribute {
                    kind,
                    unique: constraint("unique"),
                    required: constraint("required"),
                },
            );
        }
        Ok(schema)
    }

    /// The schema as `entityType` answers it (with `id`, `uuid`, `created` and
    /// `lastUpdated`, which every entity has).
    pub fn describe(&self, name: &str) -> Value {
        let mut defs = vec![
            json!({"name": "id", "type": "id", "constraints": ["unique", "required"]}),
            json!({"name": "uuid", "type": "uuid", "constraints": ["unique", "required"]}),
            json!({"name": "created", "type": "dateTime"}),
            json!({"name": "lastUpdated", "type": "dateTime"}),
        ];
        defs.extend(self.attr_defs());
        json!({"name": name, "attr_defs": defs})
    }

    fn attr_defs(&self) -> Vec<Value> {
        self.attributes
            .iter()
            .map(|(name, attribute)| {
                let (kind, nested) = match &attribute.kind {
                    AttributeType::String => ("string", None),
                    AttributeType::Integer => ("integer", None),
                    AttributeType::Boolean => ("boolean", None),
                    AttributeType::DateTime => ("dateTime", None),
                    AttributeType::Object(inner) => ("object", Some(inner)),
                    AttributeType::Plural(inner) => ("plural", Some(inner)),
                    AttributeType::Json(kind) => (kind.as_str(), None),
                };
                let mut def = json!({"name": name, "type": kind});
                let constraints: Vec<&str> = [
                    ("unique", attribute.unique),
                    ("required", attribute.required),
                ]
                .into_iter()
                .filter_map(|(c, on)| on.then_some(c))
                .collect();
                if !constraints.is_empty() {
                    def["constraints"] = json!(constraints);
                }
                if let Some(inner) = nested {
                    def["attr_defs"] = json!(inner.attr_defs());
                }
                def
            })
            .collect()
    }
}
