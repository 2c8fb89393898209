//! What `entity.find`, `entity.count`, `entity.delete`, `entity.create` and `entityType`
//! take, and what `entityType` answers.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use super::{EntityLocator, check_type_name, is_attribute_name};
use crate::CaptureInputError;

/// Akamai's limit on the results of one `entity.find`.
pub const MAX_FIND_RESULTS: u32 = 10_000;

/// An `entity.find`: the records a filter passes, sorted, a page at a time, projected to
/// some attributes.
///
/// Find and count are eventually consistent at Akamai: a record just created can be
/// missing for minutes. "Not found by find" never means "create it": look a record up
/// with `entity` by its key first.
///
/// ```
/// use profile_capture::EntityFind;
/// // Akamai's way through a large set: sorted by id, each page after the last id seen.
/// let page = EntityFind::new("user")
///     .filter("id > 5250")
///     .sort_on(["id"])
///     .only(["id", "email", "givenName"])
///     .max_results(10_000);
/// # let _ = page;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct EntityFind {
    type_name: String,
    filter: Option<String>,
    sort_on: Vec<String>,
    only: Vec<String>,
    max_results: Option<u32>,
    first_result: Option<u32>,
}

impl EntityFind {
    /// Every record of `type_name`, in Capture's order, 100 at a time.
    pub fn new(type_name: impl Into<String>) -> Self {
        Self {
            type_name: type_name.into(),
            filter: None,
            sort_on: Vec::new(),
            only: Vec::new(),
            max_results: None,
            first_result: None,
        }
    }

    /// Only the records this filter passes, in Capture's filter language (`id > 1000`,
    /// `email = 'a@b.c'`: strings in single quotes).
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Sorted on these attributes (`-` first for descending: `-lastUpdated`).
    pub fn sort_on<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sort_on = names.into_iter().map(Into::into).collect();
        self
    }

    /// Only these top-level attributes of each record.
    pub fn only<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.only = names.into_iter().map(Into::into).collect();
        self
    }

    /// At most this many results (1 to [`MAX_FIND_RESULTS`]).
    pub fn max_results(mut self, max: u32) -> Self {
        self.max_results = Some(max);
        self
    }

    /// From this result on (1-based).
    pub fn first_result(mut self, first: u32) -> Self {
        self.first_result = Some(first);
        self
    }

    /// The entity type.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    pub(crate) fn form(&self) -> Result<Vec<(Cow<'static, str>, String)>, CaptureInputError> {
        check_type_name(&self.type_name)?;
        let mut fields: Vec<(Cow<'static, str>, String)> =
            vec![("type_name".into(), self.type_name.clone())];
        if let Some(filter) = self.filter.as_ref().filter(|f| !f.trim().is_empty()) {
            fields.push(("filter".into(), filter.clone()));
        }
        let names = |names: &[String]| -> Result<String, CaptureInputError> {
            for name in names {
                let bare = name.strip_prefix('-').unwrap_or(name);
                if !bare.split('.').all(is_attribute_name) {
                    return Err(CaptureInputError::InvalidName(name.clone()));
                }
            }
            Ok(Value::from(names.to_vec()).to_string())
        };
        if !self.sort_on.is_empty() {
            fields.push(("sort_on".into(), names(&self.sort_on)?));
        }
        if !self.only.is_empty() {
            fields.push(("attributes".into(), names(&self.only)?));
        }
        if let Some(max) = self.max_results {
            if max == 0 || max > MAX_FIND_RESULTS {
                return Err(CaptureInputError::OutOfRange {
                    name: "max_results",
                    min: 1,
                    max: MAX_FIND_RESULTS,
                });
            }
            fields.push(("max_results".into(), max.to_string()));
        }
        if let Some(first) = self.first_result {
            fields.push(("first_result".into(), first.max(1).to_string()));
        }
        Ok(fields)
    }
}

/// An `entity.count`: how many records of a type a filter passes (eventually consistent,
/// as find is).
#[derive(Clone, Debug, PartialEq)]
pub struct EntityCount {
    type_name: String,
    filter: Option<String>,
}

impl EntityCount {
    /// Every record of `type_name`.
    pub fn new(type_name: impl Into<String>) -> Self {
        Self {
            type_name: type_name.into(),
            filter: None,
        }
    }

    /// Only the records this filter passes.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    pub(crate) fn form(&self) -> Result<Vec<(Cow<'static, str>, String)>, CaptureInputError> {
        check_type_name(&self.type_name)?;
        let mut fields: Vec<(Cow<'static, str>, String)> =
            vec![("type_name".into(), self.type_name.clone())];
        if let Some(filter) = self.filter.as_ref().filter(|f| !f.trim().is_empty()) {
            fields.push(("filter".into(), filter.clone()));
        }
        Ok(fields)
    }
}

/// An `entity.delete` of one record, by uuid, id or a unique attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityDelete {
    type_name: String,
    locator: EntityLocator,
}

impl EntityDelete {
    /// Deletes the record `locator` names.
    pub fn new(type_name: impl Into<String>, locator: EntityLocator) -> Self {
        Self {
            type_name: type_name.into(),
            locator,
        }
    }

    pub(crate) fn form(&self) -> Result<Vec<(Cow<'static, str>, String)>, CaptureInputError> {
        check_type_name(&self.type_name)?;
        let mut fields: Vec<(Cow<'static, str>, String)> =
            vec![("type_name".into(), self.type_name.clone())];
        self.locator.form_fields(&mut fields)?;
        Ok(fields)
    }
}

/// An `entity.create` of one record from its attributes (a JSON object). Not
/// idempotent: a create whose outcome is unknown must be looked up by key before it is
/// ever sent again.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityCreate {
    type_name: String,
    attributes: Value,
}

impl EntityCreate {
    /// Creates a record holding `attributes`.
    pub fn new(type_name: impl Into<String>, attributes: Value) -> Result<Self, CaptureInputError> {
        if !attributes.is_object() {
            return Err(CaptureInputError::AttributesNotAnObject);
        }
        Ok(Self {
            type_name: type_name.into(),
            attributes,
        })
    }

    pub(crate) fn form(&self) -> Result<Vec<(Cow<'static, str>, String)>, CaptureInputError> {
        check_type_name(&self.type_name)?;
        Ok(vec![
            ("type_name".into(), self.type_name.clone()),
            ("attributes".into(), self.attributes.to_string()),
        ])
    }
}

/// `entity.bulkCreate`: many records of one type in one call, each a JSON object of
/// attributes. Not idempotent, like `entity.create`: a batch whose answer is lost must be
/// reconciled by reading its keys before anything of it is sent again. Akamai's loader
/// keeps a batch under about 1 MB or 2,000 records ([`BULK_CREATE_RECORDS`],
/// [`BULK_CREATE_BYTES`]); only clients with the `owner` or `direct_access` feature may call
/// it.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityBulkCreate {
    type_name: String,
    records: Vec<Value>,
}

/// The most records Akamai's loader sends in one `entity.bulkCreate`.
pub const BULK_CREATE_RECORDS: usize = 2_000;
/// About the largest `all_attributes` Akamai's loader sends in one `entity.bulkCreate`.
pub const BULK_CREATE_BYTES: usize = 1_000_000;

impl EntityBulkCreate {
    /// Creates one record for each of `records` (attribute objects), in their order.
    pub fn new(
        type_name: impl Into<String>,
        records: Vec<Value>,
    ) -> Result<Self, CaptureInputError> {
        if records.iter().any(|record| !record.is_object()) {
            return Err(CaptureInputError::AttributesNotAnObject);
        }
        Ok(Self {
            type_name: type_name.into(),
            records,
        })
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub(crate) fn form(&self) -> Result<Vec<(Cow<'static, str>, String)>, CaptureInputError> {
        check_type_name(&self.type_name)?;
        Ok(vec![
            ("type_name".into(), self.type_name.clone()),
            (
                "all_attributes".into(),
                Value::Array(self.records.clone()).to_string(),
            ),
        ])
    }
}

/// One record's result in an `entity.bulkCreate` answer, in the order sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BulkCreated {
    /// Created, with this uuid (and id, when the answer's `results` gives it).
    Created {
        /// The record's uuid.
        uuid: String,
        /// The record's id.
        id: Option<u64>,
    },
    /// Refused (a unique value another record holds: "Attempted to update a duplicate
    /// value"), with Capture's description; nothing was created for it.
    Refused {
        /// Capture's error code, when the answer gives one (361: a unique value taken).
        code: Option<u64>,
        /// What Capture said.
        description: String,
    },
}

/// What `entity.create` answered: the new record's id and uuid.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Created {
    /// The record's id.
    pub id: u64,
    /// The record's uuid.
    pub uuid: String,
}

/// An entity type as `entityType` describes it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct EntityType {
    /// Its name (`user`).
    pub name: String,
    /// Its attributes.
    pub attr_defs: Vec<AttrDef>,
}

/// One attribute of an entity type.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct AttrDef {
    /// Its name.
    pub name: String,
    /// Its type (`string`, `boolean`, `integer`, `dateTime`, `date`, `id`, `uuid`,
    /// `object`, `plural`, `json`, …), as Capture spells it.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its constraints (`unique`, `required`, …), as Capture lists them.
    #[serde(default, deserialize_with = "constraints")]
    pub constraints: Vec<String>,
    /// The attributes of an object or of a plural's elements.
    #[serde(default)]
    pub attr_defs: Vec<AttrDef>,
}

impl AttrDef {
    /// Whether no two records may share a value (usable as a key).
    pub fn is_unique(&self) -> bool {
        self.constraints.iter().any(|c| c == "unique")
    }

    /// Whether a record must have a value.
    pub fn is_required(&self) -> bool {
        self.constraints.iter().any(|c| c == "required")
    }
}

impl EntityType {
    /// The attribute at a dotted path (`primaryAddress.city`), if the schema has it.
    pub fn attribute(&self, path: &str) -> Option<&AttrDef> {
        let mut defs = &self.attr_defs;
        let mut found = None;
        for name in path.split('.') {
            let def = defs.iter().find(|d| d.name == name)?;
            defs = &def.attr_defs;
            found = Some(def);
        }
        found
    }
}

/// Constraints as a list, one string, or an object of flags: Capture has answered all
/// three.
fn constraints<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::String(one) => vec![one],
        Value::Object(flags) => flags
            .into_iter()
            .filter(|(_, on)| on != &Value::Bool(false) && !on.is_null())
            .map(|(name, _)| name)
            .collect(),
        _ => Vec::new(),
    })
}
