//! The vendor-neutral layer: one way to read and update a user's profile at any vendor.

use std::fmt;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::Error;

/// A user, addressed the way a sync source knows them. Each vendor maps it to its own
/// addressing (a Sunshine identifier query, a Capture key attribute, a LumApps email) and
/// refuses, with [`Error::InvalidInput`], the forms it cannot use.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserRef {
    /// The vendor's own id of the profile or record.
    Id(String),
    /// The user's e-mail address.
    Email(String),
    /// Any unique attribute and its value (`employee_id` = `E-1042`).
    Key {
        /// The attribute's name.
        attribute: String,
        /// Its value.
        value: String,
    },
}

impl UserRef {
    /// By the vendor's id.
    pub fn id(id: impl Into<String>) -> Self {
        UserRef::Id(id.into())
    }

    /// By e-mail address.
    pub fn email(email: impl Into<String>) -> Self {
        UserRef::Email(email.into())
    }

    /// By a unique attribute.
    pub fn key(attribute: impl Into<String>, value: impl Into<String>) -> Self {
        UserRef::Key {
            attribute: attribute.into(),
            value: value.into(),
        }
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserRef::Id(id) => write!(f, "id {id}"),
            UserRef::Email(email) => write!(f, "email {email}"),
            UserRef::Key { attribute, value } => write!(f, "{attribute} {value}"),
        }
    }
}

/// How the values of a sync's key column address users: which [`UserRef`] each becomes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// The vendor's own id.
    Id,
    /// The e-mail address.
    Email,
    /// A unique attribute of that name.
    Attribute(String),
}

impl KeyKind {
    /// `email`, `id`, or any other text as the name of a unique attribute.
    pub fn parse(text: &str) -> Self {
        match text {
            "email" => KeyKind::Email,
            "id" => KeyKind::Id,
            other => KeyKind::Attribute(other.to_owned()),
        }
    }

    /// The user a key value addresses.
    pub fn user(&self, value: &str) -> UserRef {
        match self {
            KeyKind::Email => UserRef::email(value),
            KeyKind::Id => UserRef::id(value),
            KeyKind::Attribute(attribute) => UserRef::key(attribute.clone(), value),
        }
    }

    /// Its name, as [`parse`](Self::parse) reads it.
    pub fn name(&self) -> &str {
        match self {
            KeyKind::Email => "email",
            KeyKind::Id => "id",
            KeyKind::Attribute(attribute) => attribute,
        }
    }
}

/// What [`ProfileUpdater::check_fields`] found: the fields the vendor does not know, and
/// the names it does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldCheck {
    /// The fields asked about that the vendor's schema does not have.
    pub unknown: Vec<String>,
    /// The names the schema has (a pattern such as `attributes.*` where any name goes).
    pub known: Vec<String>,
}

impl FieldCheck {
    /// Every field asked about is known.
    pub fn all_known() -> Self {
        Self::default()
    }

    /// `unknown` are not in the schema, whose names are `known`.
    pub fn new(unknown: Vec<String>, known: Vec<String>) -> Self {
        Self { unknown, known }
    }

    /// Whether every field asked about is known.
    pub fn is_ok(&self) -> bool {
        self.unknown.is_empty()
    }
}

/// Why a field path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidFieldPath {
    /// The path has no segment at all.
    #[error("a field path cannot be empty")]
    Empty,
    /// `a..b`, `.a` or `a.`.
    #[error("field path `{0}` has an empty segment")]
    EmptySegment(String),
    /// More segments than [`FieldPath::MAX_DEPTH`]: no vendor nests fields that deep, and
    /// values that deep would be built and read by recursion.
    #[error(
        "field path `{shown}…` is {depth} segments deep; a field path has at most {} segments",
        FieldPath::MAX_DEPTH
    )]
    TooDeep {
        /// Its first segments.
        shown: String,
        /// How many it has.
        depth: usize,
    },
}

/// A path to a field of a profile: `name`, `attributes.saddle_height`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<String>,
}

impl FieldPath {
    /// The most segments a path has (the vendors' deepest documented fields have four).
    pub const MAX_DEPTH: usize = 32;

    /// Parses a dot-separated path. For a key that contains a dot, use
    /// [`FieldPath::from_segments`].
    pub fn parse(path: &str) -> Result<Self, InvalidFieldPath> {
        if path.is_empty() {
            return Err(InvalidFieldPath::Empty);
        }
        Self::from_segments(path.split('.'))
    }

    /// A path from its segments, taken literally.
    pub fn from_segments<I, S>(segments: I) -> Result<Self, InvalidFieldPath>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut kept: Vec<String> = Vec::new();
        let mut depth = 0;
        for segment in segments {
            depth += 1;
            if depth <= Self::MAX_DEPTH {
                kept.push(segment.into());
            }
        }
        if depth > Self::MAX_DEPTH {
            return Err(InvalidFieldPath::TooDeep {
                shown: kept.iter().take(4).cloned().collect::<Vec<_>>().join("."),
                depth,
            });
        }
        if kept.is_empty() {
            return Err(InvalidFieldPath::Empty);
        }
        if kept.iter().any(String::is_empty) {
            return Err(InvalidFieldPath::EmptySegment(kept.join(".")));
        }
        Ok(Self { segments: kept })
    }

    /// The segments, first to last.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Looks the path up in a JSON object.
    pub fn lookup<'a>(&self, object: &'a Map<String, Value>) -> Option<&'a Value> {
        let (first, rest) = self.segments.split_first()?;
        rest.iter()
            .try_fold(object.get(first)?, |value, segment| value.get(segment))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(segment)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldPath {
    type Err = InvalidFieldPath;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// One change of a [`ProfilePatch`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FieldChange {
    /// Set the field to a value.
    Set {
        /// Which field.
        path: FieldPath,
        /// The new value.
        value: Value,
    },
    /// Remove the field.
    Remove {
        /// Which field.
        path: FieldPath,
    },
}

impl FieldChange {
    /// The field the change is about.
    pub fn path(&self) -> &FieldPath {
        match self {
            FieldChange::Set { path, .. } | FieldChange::Remove { path } => path,
        }
    }

    /// Whether `profile` already holds what this change would write.
    pub fn is_satisfied_by(&self, profile: &Profile) -> bool {
        match self {
            FieldChange::Set { path, value } => profile.get(path) == Some(value),
            FieldChange::Remove { path } => {
                matches!(profile.get(path), None | Some(Value::Null))
            }
        }
    }
}

/// A vendor-neutral set of changes to one profile: fields set (to JSON values) or removed,
/// by path. A later change to a path replaces an earlier one.
///
/// ```
/// use profile_core::ProfilePatch;
/// let patch = ProfilePatch::new()
///     .set("name", "Jane Doe")?
///     .set("attributes.saddle_height", "87cm")?;
/// assert_eq!(patch.changes().len(), 2);
/// # Ok::<(), profile_core::InvalidFieldPath>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfilePatch {
    changes: Vec<FieldChange>,
}

impl ProfilePatch {
    /// No changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the field at a dot-separated path.
    pub fn set(self, path: &str, value: impl Into<Value>) -> Result<Self, InvalidFieldPath> {
        Ok(self.set_path(FieldPath::parse(path)?, value))
    }

    /// Removes the field at a dot-separated path.
    pub fn remove(self, path: &str) -> Result<Self, InvalidFieldPath> {
        Ok(self.remove_path(FieldPath::parse(path)?))
    }

    /// Sets the field at a path.
    pub fn set_path(mut self, path: FieldPath, value: impl Into<Value>) -> Self {
        self.push(FieldChange::Set {
            path,
            value: value.into(),
        });
        self
    }

    /// Removes the field at a path.
    pub fn remove_path(mut self, path: FieldPath) -> Self {
        self.push(FieldChange::Remove { path });
        self
    }

    /// Adds a change, replacing any earlier change of the same path.
    pub fn push(&mut self, change: FieldChange) {
        self.changes.retain(|c| c.path() != change.path());
        self.changes.push(change);
    }

    /// The changes, in order.
    pub fn changes(&self) -> &[FieldChange] {
        &self.changes
    }

    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes that `current` does not already hold: what a sync needs to write.
    pub fn pending_against(&self, current: &Profile) -> ProfilePatch {
        ProfilePatch {
            changes: self
                .changes
                .iter()
                .filter(|c| !c.is_satisfied_by(current))
                .cloned()
                .collect(),
        }
    }

    /// Applies the changes to a JSON object, creating intermediate objects as needed (and
    /// replacing a non-object that stands in the way).
    pub fn apply_to(&self, object: &mut Map<String, Value>) {
        for change in &self.changes {
            match change {
                FieldChange::Set { path, value } => set_at(object, path.segments(), value),
                FieldChange::Remove { path } => remove_at(object, path.segments()),
            }
        }
    }
}

fn set_at(object: &mut Map<String, Value>, segments: &[String], value: &Value) {
    match segments {
        [] => {}
        [last] => {
            object.insert(last.clone(), value.clone());
        }
        [first, rest @ ..] => {
            let entry = object
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                set_at(inner, rest, value);
            }
        }
    }
}

fn remove_at(object: &mut Map<String, Value>, segments: &[String]) {
    match segments {
        [] => {}
        [last] => {
            object.remove(last);
        }
        [first, rest @ ..] => {
            if let Some(Value::Object(inner)) = object.get_mut(first) {
                remove_at(inner, rest);
            }
        }
    }
}

/// A user's profile as a JSON object, the way its vendor returns it, plus its id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    id: Option<String>,
    fields: Map<String, Value>,
}

impl Profile {
    /// A profile from its id and fields.
    pub fn new(id: Option<String>, fields: Map<String, Value>) -> Self {
        Self { id, fields }
    }

    /// The vendor's id of the profile, if it has one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// All fields.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// The value at a path.
    pub fn get(&self, path: &FieldPath) -> Option<&Value> {
        path.lookup(&self.fields)
    }

    /// The fields, owned.
    pub fn into_fields(self) -> Map<String, Value> {
        self.fields
    }
}

/// Reads and updates one user's profile at one vendor, so that one program can drive every
/// vendor through `dyn ProfileUpdater`.
///
/// Each vendor crate implements it, documents how it maps [`UserRef`] and [`FieldPath`]s to
/// its API, and refuses what it cannot map with [`Error::InvalidInput`] before sending.
#[async_trait]
pub trait ProfileUpdater: Send + Sync {
    /// The vendor's short name (`"sunshine"`).
    fn vendor(&self) -> &'static str;

    /// Reads the user's profile.
    async fn get(&self, user: &UserRef) -> Result<Profile, Error>;

    /// Reads what [`apply_pending`](Self::apply_pending) compares `patch` against: at least
    /// every field the patch sets or removes. The default reads the whole profile
    /// ([`get`](Self::get)); a vendor that can be asked for some fields only (Capture's
    /// `attributes`) reads just those, which spares the vendor and the network the rest of
    /// each record.
    async fn get_for(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error> {
        let _ = patch;
        self.get(user).await
    }

    /// Applies the patch to the user's profile and returns the profile as it now is.
    async fn update(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error>;

    /// Applies the patch without returning the profile: what
    /// [`apply_pending`](Self::apply_pending) calls, as a sync has no use for the profile
    /// after the write. The default is [`update`](Self::update) with its answer dropped; a
    /// vendor that can leave the profile out of its answer, or the answer undecoded,
    /// overrides it.
    async fn write(&self, user: &UserRef, patch: &ProfilePatch) -> Result<(), Error> {
        self.update(user, patch).await.map(drop)
    }

    /// What of `patch` the profile `current` does not hold yet: the changes
    /// [`apply_pending`](Self::apply_pending) writes. The default compares values
    /// ([`ProfilePatch::pending_against`]); a vendor whose lists grow rather than being
    /// replaced (Capture's plurals) compares its own way, so that a sync run twice writes
    /// nothing the second time.
    fn pending(&self, patch: &ProfilePatch, current: &Profile) -> ProfilePatch {
        patch.pending_against(current)
    }

    /// Whether [`create`](Self::create) can make a profile for a user who has none (no by
    /// default).
    fn can_create(&self) -> bool {
        false
    }

    /// Whether a create whose outcome is unknown may be sent again as it is (a Sunshine
    /// `PUT ?identifier=` may; a Capture `entity.create` may not: the record is read by
    /// its key first). No by default.
    fn create_is_idempotent(&self) -> bool {
        false
    }

    /// Creates the profile of `user`, who has none, holding the fields `patch` sets (and
    /// the key `user` names, where the vendor keeps it as a field). Answers the vendor's
    /// id when it gives one. The default refuses with [`Error::InvalidInput`]: the vendor
    /// cannot create profiles this way.
    async fn create(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Option<String>, Error> {
        let _ = patch;
        Err(Error::invalid_input(format!(
            "{} cannot create a profile for {user} through this API",
            self.vendor()
        )))
    }

    /// How many users one [`create_many`](Self::create_many) takes, where the vendor
    /// creates in batches (Capture's `entity.bulkCreate`); `None` (the default) where it
    /// does not.
    fn batch_create(&self) -> Option<usize> {
        None
    }

    /// Creates each user of `users` (who have none), in as few calls as the vendor allows:
    /// per user, in order, what came of it. A user the vendor refuses because a unique
    /// value of theirs is taken is [`BatchCreated::Exists`]: never created twice. An error
    /// is the whole call's: it may or may not have created some of them (read them by key
    /// before sending anything again). The default refuses with [`Error::InvalidInput`].
    async fn create_many(
        &self,
        users: &[(UserRef, ProfilePatch)],
    ) -> Result<Vec<BatchCreated>, Error> {
        let _ = users;
        Err(Error::invalid_input(format!(
            "{} cannot create users in batches through this API",
            self.vendor()
        )))
    }

    /// Whether [`delete`](Self::delete) can remove a profile (no by default).
    fn can_delete(&self) -> bool {
        false
    }

    /// Deletes the profile of `user` (`id`: the vendor's id of it, when known). The default
    /// refuses with [`Error::InvalidInput`].
    async fn delete(&self, user: &UserRef, id: Option<&str>) -> Result<(), Error> {
        let _ = id;
        Err(Error::invalid_input(format!(
            "{} cannot delete the profile of {user} through this API",
            self.vendor()
        )))
    }

    /// Gives the profile whose vendor id is `id` the key `to` (an e-mail address, a unique
    /// attribute's value) in place of `from`, the key it was last known by (when known):
    /// what a sync that follows people by a permanent id does when a person's address
    /// changes at the source. The profile keeps its id and everything else it holds; a key
    /// that another profile holds is refused with the vendor's reason. A profile the vendor
    /// no longer has is [`Error::is_not_found`]. Answers whether anything was written (not
    /// when the profile holds the key already). The default refuses with
    /// [`Error::InvalidInput`]: the vendor's key cannot be changed through this API.
    async fn rekey(&self, id: &str, from: Option<&UserRef>, to: &UserRef) -> Result<bool, Error> {
        let _ = from;
        Err(Error::invalid_input(format!(
            "{} cannot change the key of profile {id} to {to} through this API",
            self.vendor()
        )))
    }

    /// Whether [`update`](Self::update) of a user the vendor does not have is refused as
    /// not found, changing nothing (a Sunshine `PATCH` by identifier answers 404): a sync
    /// that knows nothing of a user yet may then write first and read never, a user the
    /// vendor does not have being told by the answer. No by default.
    fn write_tells(&self) -> bool {
        false
    }

    /// Whether [`rekey`](Self::rekey) can send anything (yes by default). A vendor whose
    /// keys another system changes (LumApps: the identity provider) answers `false`: a sync
    /// then neither calls it nor shows a changed key as a change, in a dry run as in a run.
    fn rekey_writes(&self) -> bool {
        true
    }

    /// Whether [`write`](Self::write) changes only the fields it is given (the default).
    /// A vendor whose save replaces the whole user (LumApps) answers `false`, and a sync
    /// that knows what the profile holds still reads it before writing.
    fn write_merges(&self) -> bool {
        true
    }

    /// Requests sent to the vendor so far, each attempt counted, where the updater knows
    /// (the vendor crates' updaters do; the default does not).
    fn requests_sent(&self) -> Option<u64> {
        None
    }

    /// Checks a patch as the vendor crate would before sending it, with no request: the
    /// fields it can write and the shapes of their values. A sync refuses a row that fails
    /// it in a dry run as in a run. The default accepts every patch.
    fn check_patch(&self, patch: &ProfilePatch) -> Result<(), Error> {
        let _ = patch;
        Ok(())
    }

    /// Checks fields a sync will write against the vendor's schema, before the first row:
    /// which are unknown, and which names would do. The default knows no schema and
    /// accepts every field.
    async fn check_fields(&self, fields: &[FieldPath]) -> Result<FieldCheck, Error> {
        let _ = fields;
        Ok(FieldCheck::all_known())
    }

    /// Reads every profile this updater addresses in bulk, where the vendor can list them,
    /// and calls `each` with the profile's key (its value for `key`) and the profile,
    /// which holds at least `fields`. Answers `false`, having read nothing, where the
    /// vendor cannot list (the default): the caller then reads each user on their own.
    async fn read_all(
        &self,
        key: &KeyKind,
        fields: &[FieldPath],
        each: &mut (dyn FnMut(String, Profile) + Send),
    ) -> Result<bool, Error> {
        let _ = (key, fields, each);
        Ok(false)
    }

    /// At most how many profiles one request of [`read_all`](Self::read_all) names (its
    /// page size), where the updater lists. A sync weighs a first night's listing with it
    /// (a request a page) against the reads it spares the rows, and stops it where it
    /// cannot pay for itself. `None` (the default): the listing is never stopped for what
    /// it costs.
    fn listed_per_request(&self) -> Option<u64> {
        None
    }

    /// Reads the profile and writes only the changes of `patch` it does not hold yet
    /// (nothing when it holds them all, or when `dry_run`). Vendors whose update is itself a
    /// read-modify-write override it to read only once.
    async fn apply_pending(
        &self,
        user: &UserRef,
        patch: &ProfilePatch,
        dry_run: bool,
    ) -> Result<Applied, Error> {
        let before = self.get_for(user, patch).await?;
        let pending = self.pending(patch, &before);
        if pending.is_empty() || dry_run {
            return Ok(Applied {
                before,
                pending,
                written: false,
            });
        }
        self.write(user, &pending).await?;
        Ok(Applied {
            before,
            pending,
            written: true,
        })
    }
}

/// What [`ProfileUpdater::create_many`] did with one user.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchCreated {
    /// Created, with the vendor's id when it gave one.
    Created {
        /// The vendor's id.
        id: Option<String>,
    },
    /// Not created: a unique value of theirs (their e-mail) is another profile's, which
    /// may be theirs already. Read them by key and update.
    Exists {
        /// What the vendor said.
        reason: String,
    },
    /// Refused for its values, and not created.
    Refused {
        /// What the vendor said.
        reason: String,
    },
}

/// What [`ProfileUpdater::apply_pending`] found and did.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Applied {
    /// The profile as read by [`ProfileUpdater::get_for`]: whole, or only the fields the
    /// patch touches, as the vendor reads it.
    pub before: Profile,
    /// The changes it did not hold yet.
    pub pending: ProfilePatch,
    /// Whether they were written.
    pub written: bool,
}

impl Applied {
    /// What was found and done.
    pub fn new(before: Profile, pending: ProfilePatch, written: bool) -> Self {
        Self {
            before,
            pending,
            written,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn a_path_deeper_than_the_limit_is_refused_without_building_it() {
        let deep = vec!["a"; 20_000].join(".");
        let error = FieldPath::parse(&deep).unwrap_err();
        assert_eq!(
            error,
            InvalidFieldPath::TooDeep {
                shown: "a.a.a.a".into(),
                depth: 20_000
            }
        );
        assert!(error.to_string().contains("at most 32 segments"), "{error}");
        let limit = vec!["a"; FieldPath::MAX_DEPTH].join(".");
        assert_eq!(FieldPath::parse(&limit).unwrap().segments().len(), 32);
    }

    #[test]
    fn paths_parse_on_dots_and_refuse_empty_segments() {
        let path = FieldPath::parse("attributes.saddle_height").unwrap();
        assert_eq!(path.segments(), ["attributes", "saddle_height"]);
        assert_eq!(path.to_string(), "attributes.saddle_height");
        assert_eq!(FieldPath::parse(""), Err(InvalidFieldPath::Empty));
        for bad in [".a", "a.", "a..b"] {
            assert!(
                matches!(
                    FieldPath::parse(bad),
                    Err(InvalidFieldPath::EmptySegment(_))
                ),
                "{bad}"
            );
        }
        let dotted = FieldPath::from_segments(["attributes", "size.eu"]).unwrap();
        assert_eq!(dotted.segments().len(), 2);
    }

    #[test]
    fn a_later_change_of_the_same_path_replaces_the_earlier_one() {
        let patch = ProfilePatch::new()
            .set("name", "A")
            .unwrap()
            .set("name", "B")
            .unwrap();
        assert_eq!(patch.changes().len(), 1);
        assert_eq!(
            patch.changes()[0],
            FieldChange::Set {
                path: FieldPath::parse("name").unwrap(),
                value: json!("B")
            }
        );
    }

    #[test]
    fn pending_changes_are_those_the_profile_does_not_hold_yet() {
        let current = Profile::new(
            Some("1".into()),
            object(json!({"name": "Jane Doe", "attributes": {"saddle_height": "85cm", "old": 1}})),
        );
        let patch = ProfilePatch::new()
            .set("name", "Jane Doe")
            .unwrap()
            .set("attributes.saddle_height", "87cm")
            .unwrap()
            .remove("attributes.gone")
            .unwrap()
            .remove("attributes.old")
            .unwrap();
        let pending = patch.pending_against(&current);
        let paths: Vec<String> = pending
            .changes()
            .iter()
            .map(|c| c.path().to_string())
            .collect();
        assert_eq!(paths, ["attributes.saddle_height", "attributes.old"]);
    }

    #[test]
    fn applying_sets_nested_values_and_removes_fields() {
        let mut doc = object(json!({"name": "x", "attributes": {"a": 1, "b": 2}, "scalar": 5}));
        ProfilePatch::new()
            .set("attributes.a", 10)
            .unwrap()
            .remove("attributes.b")
            .unwrap()
            .set("new.deep.field", true)
            .unwrap()
            .set("scalar.inner", "v")
            .unwrap()
            .remove("missing.path")
            .unwrap()
            .apply_to(&mut doc);
        assert_eq!(
            Value::Object(doc),
            json!({"name": "x", "attributes": {"a": 10}, "scalar": {"inner": "v"}, "new": {"deep": {"field": true}}})
        );
    }
}
