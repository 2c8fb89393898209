//! [`ProfileUpdater`] for Capture.

use async_trait::async_trait;
use futures_util::StreamExt;
use profile_core::{
    BatchCreated, Error, FieldChange, FieldCheck, FieldPath, KeyKind, Profile, ProfilePatch,
    ProfileUpdater, UserRef,
};
use serde_json::{Map, Value};

use crate::model::is_attribute_name;
use crate::{
    AttrDef, BULK_CREATE_BYTES, BULK_CREATE_RECORDS, BulkCreated, CaptureClient, CaptureInputError,
    EntityBulkCreate, EntityCreate, EntityDelete, EntityLocator, EntityRead, EntityUpdate,
};

/// Records a bulk read asks for at a time: 20,000 users in 20 requests, one page in memory.
const BULK_PAGE: u32 = 1_000;

/// Drives Capture through the vendor-neutral [`ProfileUpdater`] trait, for records of one
/// entity type.
///
/// - [`UserRef::Id`] is the record's numeric `id` when it is a number, else its `uuid`;
///   [`UserRef::Email`] is `key_attribute=email`; [`UserRef::Key`] is any unique attribute
///   (its value sent as a JSON string).
/// - A patch becomes one `entity.update` with an `attributes` object (nested paths become
///   nested objects, which Capture merges); a removed field is set to `null`; the updated
///   record comes back with `include_record`.
/// - A sync ([`ProfileUpdater::apply_pending`]) reads only the top-level attributes its
///   patch names (`entity` with `attributes`), not the whole record.
/// - `id`, `uuid`, `created` and `lastUpdated` are refused before anything is sent.
/// - An array is written to a plural, which appends its elements; the sync writes only the
///   elements the record does not hold yet (see [`ProfileUpdater::pending`]).
#[derive(Clone, Debug)]
pub struct CaptureUpdater {
    client: CaptureClient,
    type_name: String,
    batch_records: usize,
    batch_bytes: usize,
}

impl CaptureUpdater {
    /// An updater of the records of `type_name` (usually `user`).
    pub fn new(client: CaptureClient, type_name: impl Into<String>) -> Self {
        Self {
            client,
            type_name: type_name.into(),
            batch_records: BULK_CREATE_RECORDS,
            batch_bytes: BULK_CREATE_BYTES,
        }
    }

    /// The largest `entity.bulkCreate` a sync sends: at most `records` records and about
    /// `bytes` bytes of them (Akamai's loader: 2,000 and 1 MB, the defaults). `records` 0
    /// creates one record a call with `entity.create`.
    pub fn batch_limits(mut self, records: usize, bytes: usize) -> Self {
        self.batch_records = records;
        self.batch_bytes = bytes.max(1);
        self
    }

    /// A record's attributes for a create: the patch's, and the key's.
    fn new_record(
        &self,
        user: &UserRef,
        patch: &ProfilePatch,
    ) -> Result<Map<String, Value>, Error> {
        let mut attributes = match attributes(patch)? {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        match user {
            UserRef::Email(email) => {
                attributes.insert("email".into(), Value::String(email.clone()));
            }
            UserRef::Key { attribute, value } => {
                attributes.insert(attribute.clone(), Value::String(value.clone()));
            }
            _ => {
                return Err(Error::invalid_input(
                    "a Capture record is created with its key attribute, not by id",
                ));
            }
        }
        Ok(attributes)
    }

    /// The `entity.update` that applies `patch` to the user's record.
    fn entity_update(&self, user: &UserRef, patch: &ProfilePatch) -> Result<EntityUpdate, Error> {
        Ok(EntityUpdate::attributes(
            self.type_name.clone(),
            locator(user)?,
            attributes(patch)?,
        )?)
    }
}

fn locator(user: &UserRef) -> Result<EntityLocator, CaptureInputError> {
    Ok(match user {
        UserRef::Id(id) => match id.parse::<u64>() {
            Ok(number) => EntityLocator::Id(number),
            Err(_) => EntityLocator::uuid(id.clone()),
        },
        UserRef::Email(email) => EntityLocator::key("email", email.clone()),
        UserRef::Key { attribute, value } => EntityLocator::key(attribute.clone(), value.clone()),
        _ => return Err(CaptureInputError::EmptyLocator),
    })
}

fn attributes(patch: &ProfilePatch) -> Result<Value, CaptureInputError> {
    let mut object = Map::new();
    for change in patch.changes() {
        if let Some(bad) = change
            .path()
            .segments()
            .iter()
            .find(|s| !is_attribute_name(s))
        {
            return Err(CaptureInputError::InvalidName(bad.clone()));
        }
    }
    // Removal is a write of null, which Capture stores as "no value".
    let mut as_sets = ProfilePatch::new();
    for change in patch.changes() {
        match change {
            FieldChange::Set { path, value } => {
                as_sets = as_sets.set_path(path.clone(), value.clone())
            }
            FieldChange::Remove { path } => as_sets = as_sets.set_path(path.clone(), Value::Null),
            _ => {}
        }
    }
    as_sets.apply_to(&mut object);
    Ok(Value::Object(object))
}

/// Whether the stored plural element `held` holds everything `wanted` names.
fn holds(held: &Value, wanted: &Value) -> bool {
    match (held, wanted) {
        (Value::Object(held), Value::Object(wanted)) => {
            wanted.iter().all(|(k, v)| held.get(k) == Some(v))
        }
        _ => held == wanted,
    }
}

fn to_profile(record: Value) -> Profile {
    match record {
        Value::Object(fields) => {
            let id = fields
                .get("uuid")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Profile::new(id, fields)
        }
        _ => Profile::default(),
    }
}

/// Whether `path` names an attribute of `defs`: through objects, down to a plural or a
/// `json` attribute (whose insides the schema does not describe).
fn in_schema(defs: &[AttrDef], path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    match defs.iter().find(|def| &def.name == first) {
        None => false,
        Some(_) if rest.is_empty() => true,
        Some(def) if def.kind == "json" => true,
        Some(def) if def.kind == "object" => in_schema(&def.attr_defs, rest),
        Some(_) => false,
    }
}

/// Every writable attribute path of `defs` (objects spelled `parent.child`).
fn schema_names(defs: &[AttrDef], prefix: &str, names: &mut Vec<String>) {
    for def in defs {
        let name = format!("{prefix}{}", def.name);
        if def.kind == "object" && !def.attr_defs.is_empty() {
            schema_names(&def.attr_defs, &format!("{name}."), names);
        } else if !matches!(def.name.as_str(), "id" | "uuid" | "created" | "lastUpdated") {
            names.push(name);
        }
    }
}

/// The attribute that holds a key's value in a record.
fn key_attribute(key: &KeyKind) -> &str {
    match key {
        KeyKind::Email => "email",
        KeyKind::Id => "id",
        other => other.name(),
    }
}

#[async_trait]
impl ProfileUpdater for CaptureUpdater {
    fn can_create(&self) -> bool {
        true
    }

    /// `entity.create` with the patch's attributes and the key's (the e-mail for
    /// [`UserRef::Email`], the attribute for [`UserRef::Key`]). Not idempotent: a create
    /// whose outcome is unknown must be followed by a read by key, never sent again blind;
    /// a record that already holds the key is refused with 361 (a conflict).
    async fn create(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Option<String>, Error> {
        let attributes = self.new_record(user, patch)?;
        let create = EntityCreate::new(self.type_name.clone(), Value::Object(attributes))?;
        let created = self.client.create(&create).await?;
        Ok(Some(created.uuid))
    }

    /// `entity.update` by `uuid` setting the key's attribute (`email` for
    /// [`UserRef::Email`]) to its new value: the record keeps its uuid, and Capture refuses
    /// an address another record holds (361, a unique violation).
    async fn rekey(&self, id: &str, from: Option<&UserRef>, to: &UserRef) -> Result<bool, Error> {
        let _ = from;
        let (attribute, value) = match to {
            UserRef::Email(email) => ("email", email),
            UserRef::Key { attribute, value } => (attribute.as_str(), value),
            _ => {
                return Err(Error::invalid_input(
                    "a Capture record's key is an attribute, not its id",
                ));
            }
        };
        let patch = ProfilePatch::new()
            .set(attribute, Value::String(value.clone()))
            .map_err(|error| Error::invalid_input(error.to_string()))?;
        self.write(&UserRef::Id(id.to_owned()), &patch).await?;
        Ok(true)
    }

    /// [`batch_limits`](CaptureUpdater::batch_limits)' count (2,000 by default).
    fn batch_create(&self) -> Option<usize> {
        (self.batch_records > 0).then_some(self.batch_records)
    }

    /// `entity.bulkCreate`, in calls of at most the batch's count and about its bytes, one
    /// after the other. A record refused for a unique value (361, "Attempted to update a
    /// duplicate value") is [`BatchCreated::Exists`].
    async fn create_many(
        &self,
        users: &[(UserRef, ProfilePatch)],
    ) -> Result<Vec<BatchCreated>, Error> {
        let mut records = Vec::with_capacity(users.len());
        for (user, patch) in users {
            records.push(Value::Object(self.new_record(user, patch)?));
        }
        let mut results = Vec::with_capacity(records.len());
        let mut batch: Vec<Value> = Vec::new();
        let mut bytes = 0;
        let mut records = records.into_iter().peekable();
        while let Some(record) = records.next() {
            bytes += record.to_string().len() + 1;
            batch.push(record);
            let next = records.peek().map_or(0, |r| r.to_string().len() + 1);
            let full = batch.len() >= self.batch_records.max(1)
                || bytes + next > self.batch_bytes
                || records.peek().is_none();
            if !full {
                continue;
            }
            let bulk = EntityBulkCreate::new(self.type_name.clone(), std::mem::take(&mut batch))?;
            bytes = 0;
            for created in self.client.bulk_create(&bulk).await? {
                results.push(match created {
                    BulkCreated::Created { uuid, .. } => BatchCreated::Created { id: Some(uuid) },
                    BulkCreated::Refused { code, description }
                        if code == Some(361) || description.contains("duplicate value") =>
                    {
                        BatchCreated::Exists {
                            reason: description,
                        }
                    }
                    BulkCreated::Refused { description, .. } => BatchCreated::Refused {
                        reason: description,
                    },
                });
            }
        }
        Ok(results)
    }

    fn can_delete(&self) -> bool {
        true
    }

    /// `entity.delete` by the record's key (or its uuid when known). A record already gone
    /// counts as deleted.
    async fn delete(&self, user: &UserRef, id: Option<&str>) -> Result<(), Error> {
        let target = match id {
            Some(uuid) => EntityLocator::uuid(uuid.to_owned()),
            None => locator(user)?,
        };
        match self
            .client
            .delete(&EntityDelete::new(self.type_name.clone(), target))
            .await
        {
            Err(error) if error.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// Reads the entity type's schema (`entityType`, one request) and looks each path up
    /// in it.
    async fn check_fields(&self, fields: &[FieldPath]) -> Result<FieldCheck, Error> {
        let schema = self.client.entity_type(&self.type_name).await?;
        let unknown = fields
            .iter()
            .filter(|path| !in_schema(&schema.attr_defs, path.segments()))
            .map(ToString::to_string)
            .collect();
        let mut known = Vec::new();
        schema_names(&schema.attr_defs, "", &mut known);
        Ok(FieldCheck::new(unknown, known))
    }

    /// `entity.find` paged by id, 1,000 records a request, with only the top-level
    /// attributes `fields` name and the key's.
    async fn read_all(
        &self,
        key: &KeyKind,
        fields: &[FieldPath],
        each: &mut (dyn FnMut(String, Profile) + Send),
    ) -> Result<bool, Error> {
        let attribute = key_attribute(key);
        let mut only: Vec<&str> = vec![attribute, "uuid"];
        for field in fields {
            if let Some(first) = field.segments().first() {
                if !only.contains(&first.as_str()) {
                    only.push(first.as_str());
                }
            }
        }
        let records = self
            .client
            .find_all(&self.type_name, None, &only, BULK_PAGE);
        futures_util::pin_mut!(records);
        while let Some(record) = records.next().await {
            let record = record?;
            let value = match record.get(attribute) {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Number(number)) => number.to_string(),
                _ => continue,
            };
            each(value, to_profile(record));
        }
        Ok(true)
    }

    fn vendor(&self) -> &'static str {
        "capture"
    }

    fn requests_sent(&self) -> Option<u64> {
        Some(self.client.requests_sent())
    }

    /// A listing's page: 1,000 records.
    fn listed_per_request(&self) -> Option<u64> {
        Some(u64::from(BULK_PAGE))
    }

    /// Plurals grow: an array written to a plural appends its elements. So an array in the
    /// patch is pending only for the elements the record does not hold yet (an element is
    /// held when a stored element has every key and value it names, `id` included when it
    /// names one), and only those are written. A sync run twice, or resumed after a crash,
    /// never appends the same element again.
    fn pending(&self, patch: &ProfilePatch, current: &Profile) -> ProfilePatch {
        let mut pending = ProfilePatch::new();
        for change in patch.changes() {
            if let FieldChange::Set {
                path,
                value: Value::Array(wanted),
            } = change
            {
                let held = match current.get(path) {
                    Some(Value::Array(held)) => held.as_slice(),
                    _ => &[],
                };
                let missing: Vec<Value> = wanted
                    .iter()
                    .filter(|w| !held.iter().any(|h| holds(h, w)))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    pending.push(FieldChange::Set {
                        path: path.clone(),
                        value: Value::Array(missing),
                    });
                }
            } else if !change.is_satisfied_by(current) {
                pending.push(change.clone());
            }
        }
        pending
    }

    async fn get(&self, user: &UserRef) -> Result<Profile, Error> {
        let read = EntityRead::new(self.type_name.clone(), locator(user)?);
        Ok(to_profile(self.client.entity(&read).await?))
    }

    /// Only the top-level attributes the patch names (`attributes`), each whole: a record's
    /// other attributes (plurals of hundreds of elements, say) are neither sent nor decoded.
    /// The record's `uuid` is read too, as the profile's id.
    async fn get_for(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error> {
        let mut names: Vec<&str> = Vec::new();
        for change in patch.changes() {
            if let Some(first) = change.path().segments().first() {
                if !names.contains(&first.as_str()) {
                    names.push(first.as_str());
                }
            }
        }
        if names.is_empty() {
            return self.get(user).await;
        }
        // The uuid too: a sync links the record to the person by it.
        if !names.contains(&"uuid") {
            names.push("uuid");
        }
        let read = EntityRead::new(self.type_name.clone(), locator(user)?).only(names);
        Ok(to_profile(self.client.entity(&read).await?))
    }

    /// The same update without `include_record`: the record is not sent back.
    async fn write(&self, user: &UserRef, patch: &ProfilePatch) -> Result<(), Error> {
        let update = self.entity_update(user, patch)?;
        self.client.update(&update).await.map(drop)
    }

    async fn update(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error> {
        let update = self.entity_update(user, patch)?.include_record(true);
        let outcome = self.client.update(&update).await?;
        match outcome.record {
            Some(record) => Ok(to_profile(record)),
            None => self.get(user).await,
        }
    }
}
