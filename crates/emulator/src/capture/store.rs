//! Capture records and the documented semantics of `entity.update`, `entity`,
//! `entity.replace` and `entity.create`, free of HTTP.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::filter::{Filter, compare, lookup};

use super::schema::{AttributeType, EntitySchema};

/// The attributes Capture maintains itself.
const SYSTEM: [&str; 4] = ["id", "uuid", "created", "lastUpdated"];

/// A Capture error: code, name, description.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub code: u32,
    pub error: &'static str,
    pub description: String,
}

pub(crate) fn fail<T>(code: u32, description: impl Into<String>) -> Result<T, Failure> {
    let error = match code {
        100 => "missing_argument",
        200 => "invalid_argument",
        201 => "duplicate_argument",
        205 => "invalid_auth_method",
        210 => "invalid_credentials",
        222 => "unknown_entity_type",
        223 => "unknown_attribute",
        310 => "record_not_found",
        330 => "timestamp_mismatch",
        340 => "invalid_data_format",
        341 => "invalid_json_type",
        361 => "unique_violation",
        402 => "invalid_client_credentials",
        403 => "client_permission_error",
        431 => "signature_does_not_match",
        _ => "unexpected_error",
    };
    Err(Failure {
        code,
        error,
        description: description.into(),
    })
}

/// The form parameters of one call.
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self, name: &str) -> Result<Option<Value>, Failure> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => serde_json::from_str(text)
                .map(Some)
                .or_else(|e| fail(340, format!("`{name}` is not valid JSON: {e}"))),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Segment<'a> {
    name: &'a str,
    element: Option<u64>,
}

fn parse_path(text: &str) -> Result<Vec<Segment<'_>>, Failure> {
    let body = text.strip_prefix('/').unwrap_or(text);
    if body.is_empty() {
        return Ok(Vec::new());
    }
    body.split('/')
        .map(|part| {
            let (name, element) = match part.split_once('#') {
                None => (part, None),
                Some((name, id)) => match id.parse::<u64>() {
                    Ok(id) => (name, Some(id)),
                    Err(_) => {
                        return fail(
                            200,
                            format!("`{text}`: a plural element id must be a number"),
                        );
                    }
                },
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return fail(200, format!("`{text}` is not an attribute path"));
            }
            Ok(Segment { name, element })
        })
        .collect()
}

fn now() -> String {
    capture_timestamp(SystemTime::now())
}

/// Checks a scalar against its type.
fn check_scalar(kind: &AttributeType, name: &str, value: &Value) -> Result<(), Failure> {
    let fits = match kind {
        _ if value.is_null() => true,
        AttributeType::String | AttributeType::DateTime => value.is_string(),
        AttributeType::Integer => value.is_i64() || value.is_u64(),
        AttributeType::Boolean => value.is_boolean(),
        AttributeType::Object(_) | AttributeType::Plural(_) | AttributeType::Json(_) => true,
    };
    if fits {
        Ok(())
    } else {
        fail(341, format!("`{name}` does not take {value}"))
    }
}

/// A record of `schema` with every attribute empty.
fn empty_of(schema: &EntitySchema) -> Map<String, Value> {
    schema
        .attributes()
        .map(|(name, attribute)| {
            let empty = match attribute.kind {
                AttributeType::Plural(_) => json!([]),
                _ => Value::Null,
            };
            (name.clone(), empty)
        })
        .collect()
}

/// The ids of one entity type's records and plural elements.
#[derive(Debug)]
struct Ids {
    next: u64,
}

impl Ids {
    fn next(&mut self) -> u64 {
        let id = self.next;
        self.next += 1;
        id
    }
}

/// Merges `value` (an object) into `target`, attribute by attribute, following `schema`;
/// with `replace`, `target` first loses everything `value` does not restate.
fn merge(
    target: &mut Map<String, Value>,
    schema: &EntitySchema,
    value: Value,
    replace: bool,
    ids: &mut Ids,
) -> Result<(), Failure> {
    let Value::Object(object) = value else {
        return fail(341, "the value must be a JSON object here");
    };
    if replace {
        let system: Map<String, Value> = target
            .iter()
            .filter(|(k, _)| SYSTEM.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        *target = empty_of(schema);
        target.extend(system);
    }
    for (name, value) in object {
        if SYSTEM.contains(&name.as_str()) {
            return fail(200, format!("`{name}` is maintained by Capture"));
        }
        let Some(attribute) = schema.get(&name) else {
            return fail(223, format!("the schema has no attribute `{name}`"));
        };
        match &attribute.kind {
            AttributeType::Object(inner) => {
                if value.is_null() {
                    target.insert(name, Value::Null);
                    continue;
                }
                let slot = target.entry(name).or_insert(Value::Null);
                if !slot.is_object() {
                    *slot = Value::Object(empty_of(inner));
                }
                if let Value::Object(map) = slot {
                    merge(map, inner, value, replace, ids)?;
                }
            }
            AttributeType::Plural(element) => {
                let slot = target.entry(name.clone()).or_insert_with(|| json!([]));
                if replace || value.is_null() || !slot.is_array() {
                    *slot = json!([]);
                }
                let elements = match value {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items,
                    single @ Value::Object(_) => vec![single],
                    other => return fail(341, format!("plural `{name}` does not take {other}")),
                };
                if let Value::Array(existing) = slot {
                    for item in elements {
                        append_or_replace(existing, element, item, ids)?;
                    }
                }
            }
            scalar => {
                check_scalar(scalar, &name, &value)?;
                target.insert(name, value);
            }
        }
    }
    Ok(())
}

/// A plural element: replaces the element with the same `id`, or is appended with a new id.
fn append_or_replace(
    existing: &mut Vec<Value>,
    schema: &EntitySchema,
    mut item: Value,
    ids: &mut Ids,
) -> Result<(), Failure> {
    let given = item
        .as_object_mut()
        .and_then(|o| o.remove("id"))
        .and_then(|id| id.as_u64());
    let mut element = empty_of(schema);
    merge(&mut element, schema, item, false, ids)?;
    match given.and_then(|id| {
        existing
            .iter()
            .position(|e| e.get("id").and_then(Value::as_u64) == Some(id))
    }) {
        Some(position) => {
            element.insert("id".into(), json!(given));
            existing[position] = Value::Object(element);
        }
        None => {
            element.insert("id".into(), json!(ids.next()));
            existing.push(Value::Object(element));
        }
    }
    Ok(())
}

/// Writes `value` at `path` inside `record`.
fn write_at(
    record: &mut Map<String, Value>,
    schema: &EntitySchema,
    path: &[Segment<'_>],
    value: Value,
    replace: bool,
    ids: &mut Ids,
) -> Result<(), Failure> {
    let Some((segment, rest)) = path.split_first() else {
        return merge(record, schema, value, replace, ids);
    };
    if SYSTEM.contains(&segment.name) {
        return fail(200, format!("`{}` is maintained by Capture", segment.name));
    }
    let Some(attribute) = schema.get(segment.name) else {
        return fail(
            223,
            format!("the schema has no attribute `{}`", segment.name),
        );
    };
    match (&attribute.kind, segment.element) {
        (AttributeType::Plural(element_schema), Some(id)) => {
            let Some(Value::Array(elements)) = record.get_mut(segment.name) else {
                return fail(200, format!("`{}` has no element {id}", segment.name));
            };
            let Some(element) = elements
                .iter_mut()
                .find(|e| e.get("id").and_then(Value::as_u64) == Some(id))
            else {
                return fail(200, format!("`{}` has no element {id}", segment.name));
            };
            let Value::Object(element) = element else {
                return fail(200, format!("`{}` has no element {id}", segment.name));
            };
            // Naming an element replaces its data ("the existing plural data is replaced").
            let replace_element = rest.is_empty() || replace;
            write_at(element, element_schema, rest, value, replace_element, ids)?;
            element.insert("id".into(), json!(id));
            Ok(())
        }
        (AttributeType::Plural(_), None) => {
            if !rest.is_empty() {
                return fail(
                    200,
                    format!("name an element of `{}` with #id", segment.name),
                );
            }
            if replace {
                // Replacing the whole plural: only the new elements remain.
                record.insert(segment.name.to_owned(), json!([]));
            }
            let mut wrapper = Map::new();
            wrapper.insert(segment.name.to_owned(), value);
            merge(record, schema, Value::Object(wrapper), false, ids)
        }
        (AttributeType::Object(inner), None) => {
            if rest.is_empty() && !replace {
                let mut wrapper = Map::new();
                wrapper.insert(segment.name.to_owned(), value);
                return merge(record, schema, Value::Object(wrapper), false, ids);
            }
            let slot = record.entry(segment.name.to_owned()).or_insert(Value::Null);
            if !slot.is_object() {
                *slot = Value::Object(empty_of(inner));
            }
            match slot {
                Value::Object(map) => write_at(map, inner, rest, value, replace, ids),
                _ => fail(200, "unreachable"),
            }
        }
        (_, Some(_)) => fail(
            200,
            format!(
                "`{}` is not a plural; only plural elements have ids",
                segment.name
            ),
        ),
        (scalar, None) => {
            if !rest.is_empty() {
                return fail(
                    223,
                    format!("`{}` has no attributes below it", segment.name),
                );
            }
            check_scalar(scalar, segment.name, &value)?;
            record.insert(segment.name.to_owned(), value);
            Ok(())
        }
    }
}

/// Reads the part of `record` at `path`.
fn read_at(record: &Map<String, Value>, path: &[Segment<'_>]) -> Result<Value, Failure> {
    let mut current = Value::Object(record.clone());
    for segment in path {
        let next = current.get(segment.name).cloned();
        let Some(next) = next else {
            return fail(
                223,
                format!("the record has no attribute `{}`", segment.name),
            );
        };
        current = match segment.element {
            None => next,
            Some(id) => next
                .as_array()
                .and_then(|items| {
                    items
                        .iter()
                        .find(|e| e.get("id").and_then(Value::as_u64) == Some(id))
                })
                .cloned()
                .map_or_else(
                    || fail(200, format!("`{}` has no element {id}", segment.name)),
                    Ok,
                )?,
        };
    }
    Ok(current)
}

#[derive(Debug)]
struct EntityStore {
    schema: EntitySchema,
    records: BTreeMap<u64, Map<String, Value>>,
    by_uuid: HashMap<String, u64>,
    /// Unique attribute → its value (as JSON text) → the record holding it: key lookups
    /// and uniqueness checks in constant time.
    unique: HashMap<String, HashMap<String, u64>>,
    ids: Ids,
}

impl EntityStore {
    fn unique_values(&self, record: &Map<String, Value>) -> Vec<(String, String)> {
        self.schema
            .attributes()
            .filter(|(_, attribute)| attribute.unique)
            .filter_map(|(name, _)| {
                let value = record.get(name).filter(|v| !v.is_null())?;
                Some((name.clone(), value.to_string()))
            })
            .collect()
    }

    /// The record that holds `value` in unique attribute `name`.
    fn holder(&self, name: &str, value: &Value) -> Option<u64> {
        self.unique.get(name)?.get(&value.to_string()).copied()
    }

    /// Removes a record and its index entries.
    fn remove(&mut self, id: u64) {
        let Some(old) = self.records.remove(&id) else {
            return;
        };
        for (name, value) in self.unique_values(&old) {
            if let Some(index) = self.unique.get_mut(&name) {
                index.remove(&value);
            }
        }
        if let Some(uuid) = old.get("uuid").and_then(Value::as_str) {
            self.by_uuid.remove(uuid);
        }
    }

    /// Stores a record, keeping the indexes right.
    fn put(&mut self, id: u64, record: Map<String, Value>) {
        if let Some(old) = self.records.get(&id) {
            for (name, value) in self.unique_values(old) {
                if let Some(index) = self.unique.get_mut(&name) {
                    if index.get(&value) == Some(&id) {
                        index.remove(&value);
                    }
                }
            }
        }
        for (name, value) in self.unique_values(&record) {
            self.unique.entry(name).or_default().insert(value, id);
        }
        if let Some(uuid) = record.get("uuid").and_then(Value::as_str) {
            self.by_uuid.insert(uuid.to_owned(), id);
        }
        self.records.insert(id, record);
    }
}

/// All entity types and their records.
#[derive(Debug)]
pub(crate) struct Store {
    types: BTreeMap<String, EntityStore>,
}

/// Whether a call writes over what it names (`entity.replace`) or merges into it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Update,
    Replace,
}

impl Store {
    pub(crate) fn new(types: BTreeMap<String, EntitySchema>) -> Self {
        Self {
            types: types
                .into_iter()
                .map(|(name, schema)| {
                    let store = EntityStore {
                        schema,
                        records: BTreeMap::new(),
                        by_uuid: HashMap::new(),
                        unique: HashMap::new(),
                        ids: Ids { next: 1 },
                    };
                    (name, store)
                })
                .collect(),
        }
    }

    /// Adds a record as given (for seeding); ids and plural element ids are taken as they are.
    pub(crate) fn insert_raw(&mut self, type_name: &str, record: Map<String, Value>) {
        let Some(entity) = self.types.get_mut(type_name) else {
            return;
        };
        let id = record.get("id").and_then(Value::as_u64).unwrap_or(0);
        let mut highest = id;
        for value in record.values() {
            if let Value::Array(items) = value {
                for item in items {
                    highest = highest.max(item.get("id").and_then(Value::as_u64).unwrap_or(0));
                }
            }
        }
        entity.ids.next = entity.ids.next.max(highest + 1);
        entity.put(id, record);
    }

    pub(crate) fn records(&self, type_name: &str) -> Vec<Value> {
        self.types
            .get(type_name)
            .map(|e| {
                e.records
                    .values()
                    .map(|r| Value::Object(r.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn entity(&mut self, params: &Params) -> Result<&mut EntityStore, Failure> {
        let Some(type_name) = params.get("type_name") else {
            return fail(100, "`type_name` is required");
        };
        match self.types.get_mut(type_name) {
            Some(entity) => Ok(entity),
            None => fail(222, format!("there is no entity type `{type_name}`")),
        }
    }

    /// Finds the record the locator names: exactly one of uuid, id, key_attribute.
    fn locate(entity: &EntityStore, params: &Params) -> Result<u64, Failure> {
        let (uuid, id, key) = (
            params.get("uuid"),
            params.get("id"),
            params.get("key_attribute"),
        );
        if uuid.is_some() && id.is_some() {
            return fail(201, "give `id` or `uuid`, not both");
        }
        if key.is_some() && (uuid.is_some() || id.is_some()) {
            return fail(201, "give `key_attribute` or `id` or `uuid`, not several");
        }
        let found = match (uuid, id, key) {
            (Some(uuid), _, _) => entity.by_uuid.get(uuid).copied(),
            (_, Some(id), _) => {
                let Ok(id) = id.parse::<u64>() else {
                    return fail(200, format!("`id` must be a number, not `{id}`"));
                };
                entity.records.contains_key(&id).then_some(id)
            }
            // `uuid` and `id` are unique attributes of every entity (janrain-datalib addresses
            // records by `key_attribute=uuid`).
            (_, _, Some("uuid")) => match params.json("key_value")? {
                Some(Value::String(uuid)) => entity.by_uuid.get(&uuid).copied(),
                Some(_) => return fail(340, "a uuid `key_value` is a JSON string"),
                None => return fail(100, "`key_value` is required with `key_attribute`"),
            },
            (_, _, Some("id")) => match params.json("key_value")? {
                Some(value) => value
                    .as_u64()
                    .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                    .filter(|id| entity.records.contains_key(id)),
                None => return fail(100, "`key_value` is required with `key_attribute`"),
            },
            (_, _, Some(attribute)) => {
                match entity.schema.get(attribute) {
                    None => return fail(223, format!("the schema has no attribute `{attribute}`")),
                    Some(a) if !a.unique => {
                        return fail(
                            200,
                            format!(
                                "`key_attribute` must name a unique attribute; `{attribute}` is not"
                            ),
                        );
                    }
                    Some(_) => {}
                }
                let Some(value) = params.json("key_value")? else {
                    return fail(100, "`key_value` is required with `key_attribute`");
                };
                entity.holder(attribute, &value)
            }
            (None, None, None) => {
                return fail(
                    100,
                    "give `uuid`, `id` or `key_attribute` to locate the record",
                );
            }
        };
        found.map_or_else(|| fail(310, "no record matches"), Ok)
    }

    /// The value written: `value` at `attribute_name`, or the `attributes` object.
    fn written(params: &Params) -> Result<Value, Failure> {
        match (params.json("attributes")?, params.json("value")?) {
            (Some(_), Some(_)) => fail(200, "give `attributes` or `value`, not both"),
            (Some(attributes), None) => Ok(attributes),
            (None, Some(value)) => Ok(value),
            (None, None) => fail(100, "`value` (or `attributes`) is required"),
        }
    }

    fn check_unique(
        entity: &EntityStore,
        id: u64,
        record: &Map<String, Value>,
    ) -> Result<(), Failure> {
        for (name, attribute) in entity.schema.attributes() {
            let Some(value) = record.get(name).filter(|v| !v.is_null()) else {
                continue;
            };
            if attribute.unique
                && entity
                    .holder(name, value)
                    .is_some_and(|holder| holder != id)
            {
                return fail(361, format!("another record already has this `{name}`"));
            }
        }
        Ok(())
    }

    /// `entity.update` (or `entity.replace`): returns the record, or the part under the
    /// path, for `include_record`.
    pub(crate) fn write(&mut self, params: &Params, mode: Write) -> Result<Value, Failure> {
        let entity = self.entity(params)?;
        let id = Self::locate(entity, params)?;
        let path_text = params.get("attribute_name").unwrap_or("");
        let path = parse_path(path_text)?;
        let value = Self::written(params)?;
        let Some(current) = entity.records.get(&id) else {
            return fail(310, "no record matches");
        };
        for (param, attribute) in [("created", "created"), ("lastUpdated", "lastUpdated")] {
            if let Some(expected) = params.get(param) {
                if current.get(attribute).and_then(Value::as_str) != Some(expected) {
                    return fail(
                        330,
                        format!("`{param}` does not match the record's {attribute}"),
                    );
                }
            }
        }
        let mut record = current.clone();
        write_at(
            &mut record,
            &entity.schema,
            &path,
            value,
            mode == Write::Replace,
            &mut entity.ids,
        )?;
        Self::check_unique(entity, id, &record)?;
        record.insert("lastUpdated".into(), json!(now()));
        let result = read_at(&record, &path)?;
        entity.put(id, record);
        Ok(result)
    }

    /// `entity`: the record, the part under the path, or only the attributes named by
    /// `attributes` (a JSON array of top-level attribute names).
    pub(crate) fn read(&mut self, params: &Params) -> Result<Value, Failure> {
        let entity = self.entity(params)?;
        let id = Self::locate(entity, params)?;
        let path = parse_path(params.get("attribute_name").unwrap_or(""))?;
        let only = match params.json("attributes")? {
            None => None,
            Some(_) if !path.is_empty() => {
                return fail(200, "give `attribute_name` or `attributes`, not both");
            }
            Some(Value::Array(names)) => {
                let mut wanted = Vec::with_capacity(names.len());
                for name in names {
                    let Value::String(name) = name else {
                        return fail(341, "`attributes` must be an array of attribute names");
                    };
                    if entity.schema.get(&name).is_none() && !SYSTEM.contains(&name.as_str()) {
                        return fail(223, format!("the schema has no attribute `{name}`"));
                    }
                    wanted.push(name);
                }
                Some(wanted)
            }
            Some(_) => return fail(341, "`attributes` must be an array of attribute names"),
        };
        let Some(record) = entity.records.get(&id) else {
            return fail(310, "no record matches");
        };
        match only {
            // In the record's order, as Capture answers.
            Some(wanted) => Ok(Value::Object(
                record
                    .iter()
                    .filter(|(name, _)| wanted.contains(name))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect(),
            )),
            None => read_at(record, &path),
        }
    }

    /// `entity.bulkCreate`: a record from each object of `all_attributes`, in order.
    pub(crate) fn bulk_create(&mut self, params: &Params) -> Result<Value, Failure> {
        let Some(Value::Array(records)) = params.json("all_attributes")? else {
            return fail(100, "`all_attributes` is required: a JSON array of records");
        };
        let type_name = params.get("type_name").unwrap_or_default().to_owned();
        let (mut uuids, mut ids) = (Vec::new(), Vec::new());
        for record in records {
            let one = Params(vec![
                ("type_name".to_owned(), type_name.clone()),
                ("attributes".to_owned(), record.to_string()),
            ]);
            match self.create(&one) {
                Ok((id, uuid)) => {
                    uuids.push(json!(uuid));
                    ids.push(json!(id));
                }
                Err(failure) => {
                    let refused = json!({
                        "stat": "error",
                        "code": failure.code,
                        "error": failure.error,
                        "error_description": if failure.code == 361 {
                            "Attempted to update a duplicate value".to_owned()
                        } else {
                            failure.description.clone()
                        },
                    });
                    uuids.push(refused.clone());
                    ids.push(refused);
                }
            }
        }
        Ok(json!({"stat": "ok", "uuid_results": uuids, "results": ids}))
    }

    /// `entity.create`: a new record from `attributes`.
    pub(crate) fn create(&mut self, params: &Params) -> Result<(u64, String), Failure> {
        let entity = self.entity(params)?;
        let Some(attributes) = params.json("attributes")? else {
            return fail(100, "`attributes` is required");
        };
        let id = entity.ids.next();
        let uuid = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            id,
            id.wrapping_mul(0x9E37_79B9)
        );
        let mut record = empty_of(&entity.schema);
        merge(
            &mut record,
            &entity.schema,
            attributes,
            false,
            &mut entity.ids,
        )?;
        Self::check_unique(entity, id, &record)?;
        if let Some((name, _)) = entity
            .schema
            .attributes()
            .find(|(name, a)| a.required && record.get(*name).is_none_or(Value::is_null))
        {
            return fail(362, format!("`{name}` is required"));
        }
        let stamp = now();
        record.insert("id".into(), json!(id));
        record.insert("uuid".into(), json!(uuid));
        record.insert("created".into(), json!(stamp));
        record.insert("lastUpdated".into(), json!(stamp));
        entity.put(id, record);
        Ok((id, uuid))
    }
}

/// `2016-03-13 19:39:17.856608 +0000`, Capture's spelling of a UTC time.
fn capture_timestamp(at: SystemTime) -> String {
    let rfc3339 = humantime::format_rfc3339_micros(at).to_string();
    format!(
        "{} +0000",
        rfc3339.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

/// At most this many results in one `entity.find` answer (Akamai's limit).
const MAX_RESULTS: u64 = 10_000;

impl Store {
    /// The names of a projection (`attributes`, a JSON array of top-level names), checked
    /// against the schema.
    fn projection(entity: &EntityStore, params: &Params) -> Result<Option<Vec<String>>, Failure> {
        match params.json("attributes")? {
            None => Ok(None),
            Some(Value::Array(names)) => {
                let mut wanted = Vec::with_capacity(names.len());
                for name in names {
                    let Value::String(name) = name else {
                        return fail(341, "`attributes` must be an array of attribute names");
                    };
                    let top = name.split('.').next().unwrap_or_default();
                    if entity.schema.get(top).is_none() && !SYSTEM.contains(&top) {
                        return fail(223, format!("the schema has no attribute `{name}`"));
                    }
                    wanted.push(top.to_owned());
                }
                Ok(Some(wanted))
            }
            Some(_) => fail(341, "`attributes` must be an array of attribute names"),
        }
    }

    fn filter(entity: &EntityStore, params: &Params) -> Result<Option<Filter>, Failure> {
        let Some(text) = params.get("filter").filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let filter = Filter::parse(text).or_else(|e| fail(200, format!("`filter`: {e}")))?;
        for path in filter.paths() {
            let top = path.first().map(String::as_str).unwrap_or_default();
            if entity.schema.get(top).is_none() && !SYSTEM.contains(&top) {
                return fail(223, format!("the schema has no attribute `{top}`"));
            }
        }
        Ok(Some(filter))
    }

    /// `entity.find`: the records the filter passes, sorted by `sort_on` (a JSON array of
    /// names, `-` first for descending), from `first_result` (1-based), at most
    /// `max_results` (up to 10,000), projected to `attributes`.
    pub(crate) fn find(&mut self, params: &Params) -> Result<Value, Failure> {
        let entity = self.entity(params)?;
        let filter = Self::filter(entity, params)?;
        let only = Self::projection(entity, params)?;
        let number = |name: &str, default: u64| -> Result<u64, Failure> {
            match params.get(name) {
                None => Ok(default),
                Some(text) => text
                    .trim()
                    .parse::<u64>()
                    .or_else(|_| fail(200, format!("`{name}` must be a number"))),
            }
        };
        let max_results = number("max_results", 100)?;
        if max_results == 0 || max_results > MAX_RESULTS {
            return fail(200, "`max_results` must be from 1 to 10000");
        }
        let first_result = number("first_result", 1)?.max(1);
        let sort_on: Vec<(Vec<String>, bool)> = match params.json("sort_on")? {
            None => Vec::new(),
            Some(Value::Array(names)) => names
                .iter()
                .filter_map(Value::as_str)
                .map(|name| match name.strip_prefix('-') {
                    Some(name) => (name.split('.').map(str::to_owned).collect(), true),
                    None => (name.split('.').map(str::to_owned).collect(), false),
                })
                .collect(),
            Some(_) => return fail(341, "`sort_on` must be an array of attribute names"),
        };
        // Records are kept in id order, as Capture's own index keeps them: a page in id
        // order starts at the filter's lowest id and stops once full.
        let floor = filter.as_ref().and_then(Filter::id_floor).unwrap_or(0);
        let passing = entity
            .records
            .range(floor..)
            .map(|(_, record)| record)
            .filter(|record| filter.as_ref().is_none_or(|f| f.accepts(record)));
        let in_id_order = sort_on.is_empty() || sort_on == [(vec!["id".to_owned()], false)];
        let mut matched: Vec<&Map<String, Value>> = if in_id_order {
            passing
                .skip((first_result - 1) as usize)
                .take(max_results as usize)
                .collect()
        } else {
            passing.collect()
        };
        if !in_id_order {
            matched.sort_by(|a, b| {
                for (path, descending) in &sort_on {
                    let ordering = match (lookup(a, path), lookup(b, path)) {
                        (Some(x), Some(y)) => compare(x, y).unwrap_or(std::cmp::Ordering::Equal),
                        (None, Some(_)) => std::cmp::Ordering::Less,
                        (Some(_), None) => std::cmp::Ordering::Greater,
                        (None, None) => std::cmp::Ordering::Equal,
                    };
                    let ordering = if *descending {
                        ordering.reverse()
                    } else {
                        ordering
                    };
                    if ordering != std::cmp::Ordering::Equal {
                        return ordering;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let (skip, take) = if in_id_order {
            (0, matched.len())
        } else {
            ((first_result - 1) as usize, max_results as usize)
        };
        let results: Vec<Value> = matched
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|record| match &only {
                Some(wanted) => Value::Object(
                    record
                        .iter()
                        .filter(|(name, _)| wanted.contains(name))
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect(),
                ),
                None => Value::Object(record.clone()),
            })
            .collect();
        Ok(json!({"stat": "ok", "result_count": results.len(), "results": results}))
    }

    /// `entity.count`: how many records the filter passes.
    pub(crate) fn count(&mut self, params: &Params) -> Result<Value, Failure> {
        let entity = self.entity(params)?;
        let filter = Self::filter(entity, params)?;
        let total = entity
            .records
            .values()
            .filter(|record| filter.as_ref().is_none_or(|f| f.accepts(record)))
            .count();
        Ok(json!({"stat": "ok", "total_count": total}))
    }

    /// `entity.delete`: the record the locator names is gone.
    pub(crate) fn delete(&mut self, params: &Params) -> Result<Value, Failure> {
        let entity = self.entity(params)?;
        let id = Self::locate(entity, params)?;
        entity.remove(id);
        Ok(json!({"stat": "ok"}))
    }

    /// `entityType`: the schema, as Capture describes it.
    pub(crate) fn entity_type(&mut self, params: &Params) -> Result<Value, Failure> {
        let Some(type_name) = params.get("type_name").map(str::to_owned) else {
            return fail(100, "`type_name` is required");
        };
        let entity = self.entity(params)?;
        Ok(json!({"stat": "ok", "schema": entity.schema.describe(&type_name)}))
    }
}
