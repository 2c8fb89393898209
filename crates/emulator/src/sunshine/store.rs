//! The emulated Sunshine data and its documented semantics, free of HTTP.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use serde_json::{Map, Value, json};

/// At most this many identifiers per profile (Zendesk's limit).
const MAX_IDENTIFIERS: usize = 20;
/// Source and type names are at most this long.
const MAX_NAME_LEN: usize = 40;
/// The first Zendesk user id handed out (the documentation's example user).
const FIRST_USER_ID: u64 = 81_123_613;

/// An identifier query: `source:type:identifier_type:identifier_value`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Query {
    pub source: String,
    pub kind: String,
    pub id_type: String,
    pub id_value: String,
}

impl Query {
    /// Splits on the first three colons: the value may hold more.
    pub(crate) fn parse(text: &str) -> Result<Self, Failure> {
        let mut parts = text.splitn(4, ':');
        let mut next = || parts.next().filter(|p| !p.is_empty()).map(str::to_owned);
        match (next(), next(), next(), next()) {
            (Some(source), Some(kind), Some(id_type), Some(id_value)) => {
                let id_value = normalize(&id_type, &id_value);
                Ok(Self {
                    source,
                    kind,
                    id_type,
                    id_value,
                })
            }
            _ => Err(Failure::bad_request(
                "InvalidIdentifierQuery",
                "identifier must be source:type:identifier_type:identifier_value, all four non-empty",
            )),
        }
    }

    fn key(&self) -> IndexKey {
        (
            self.source.clone(),
            self.kind.clone(),
            self.id_type.clone(),
            self.id_value.clone(),
        )
    }
}

type IndexKey = (String, String, String, String);

/// Zendesk lower-cases e-mail and twitter identifier values.
fn normalize(id_type: &str, value: &str) -> String {
    if id_type.eq_ignore_ascii_case("email") || id_type.eq_ignore_ascii_case("twitter") {
        value.to_lowercase()
    } else {
        value.to_owned()
    }
}

/// A refusal, as HTTP status, Zendesk error code and title.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub status: u16,
    pub code: &'static str,
    pub title: String,
}

impl Failure {
    pub(crate) fn bad_request(code: &'static str, title: impl Into<String>) -> Self {
        Self {
            status: 400,
            code,
            title: title.into(),
        }
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self {
            status: 404,
            code: "NotFound",
            title: format!("{what} not found"),
        }
    }
}

#[derive(Clone, Debug)]
struct StoredProfile {
    id: String,
    user_id: u64,
    source: String,
    kind: String,
    name: Option<String>,
    identifiers: Vec<(String, String)>,
    attributes: Map<String, Value>,
    created_at: String,
    updated_at: String,
}

impl StoredProfile {
    fn render(&self) -> Value {
        let mut profile = Map::new();
        profile.insert("id".into(), json!(self.id));
        profile.insert("user_id".into(), json!(self.user_id.to_string()));
        profile.insert("source".into(), json!(self.source));
        profile.insert("type".into(), json!(self.kind));
        if let Some(name) = &self.name {
            profile.insert("name".into(), json!(name));
        }
        profile.insert("attributes".into(), Value::Object(self.attributes.clone()));
        profile.insert("created_at".into(), json!(self.created_at));
        profile.insert("updated_at".into(), json!(self.updated_at));
        profile.insert(
            "identifiers".into(),
            Value::Array(
                self.identifiers
                    .iter()
                    .map(|(t, v)| json!({"type": t, "value": v}))
                    .collect(),
            ),
        );
        Value::Object(profile)
    }
}

/// What a request body says about a profile, after validation.
#[derive(Debug, Default)]
pub(crate) struct Content {
    name: Option<String>,
    attributes: Option<Map<String, Value>>,
    identifiers: Vec<(String, String)>,
}

impl Content {
    /// Reads `{"profile": {...}}`. `source`, `type`, `user_id` and unknown properties are
    /// ignored, as the vendor documents for PATCH.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, Failure> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Failure::bad_request("InvalidJSON", format!("body is not JSON: {e}")))?;
        let Some(Value::Object(profile)) = value.get("profile") else {
            return Err(Failure::bad_request(
                "InvalidPayload",
                "body must be an object with a `profile` object",
            ));
        };
        let name = match profile.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name.clone()),
            Some(_) => {
                return Err(Failure::bad_request(
                    "InvalidPayload",
                    "`name` must be a string",
                ));
            }
        };
        let attributes = match profile.get("attributes") {
            None => None,
            Some(Value::Object(map)) => {
                if map.keys().any(String::is_empty) {
                    return Err(Failure::bad_request(
                        "InvalidPayload",
                        "attribute keys cannot be empty",
                    ));
                }
                // "All profile properties are strings, including number values": Zendesk
                // stores a number or a boolean as its text.
                Some(
                    map.iter()
                        .map(|(key, value)| (key.clone(), as_stored(value)))
                        .collect(),
                )
            }
            Some(_) => {
                return Err(Failure::bad_request(
                    "InvalidPayload",
                    "`attributes` must be an object",
                ));
            }
        };
        let identifiers = match profile.get("identifiers") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match (item.get("type"), item.get("value")) {
                    (Some(Value::String(t)), Some(Value::String(v)))
                        if !t.is_empty() && !v.is_empty() =>
                    {
                        Ok((t.clone(), normalize(t, v)))
                    }
                    _ => Err(Failure::bad_request(
                        "InvalidPayload",
                        "each identifier needs a non-empty string `type` and `value`",
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(Failure::bad_request(
                    "InvalidPayload",
                    "`identifiers` must be an array",
                ));
            }
        };
        Ok(Self {
            name,
            attributes,
            identifiers,
        })
    }
}

/// Whether a PUT created the profile or replaced it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Put {
    Created(Value),
    Replaced(Value),
}

/// All profiles and users of one emulated account.
#[derive(Debug)]
pub(crate) struct Store {
    profiles: BTreeMap<String, StoredProfile>,
    index: HashMap<IndexKey, String>,
    users_by_email: HashMap<String, u64>,
    users: BTreeMap<u64, ()>,
    next_user_id: u64,
    next_profile: u64,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            profiles: BTreeMap::new(),
            index: HashMap::new(),
            users_by_email: HashMap::new(),
            users: BTreeMap::new(),
            next_user_id: FIRST_USER_ID,
            next_profile: 0,
        }
    }
}

impl Store {
    fn now() -> String {
        humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
    }

    /// A 26-character, ULID-like id (Crockford base32), increasing with time and count.
    fn new_profile_id(&mut self) -> String {
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        self.next_profile += 1;
        let millis = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let value: u128 = ((millis & 0xFFFF_FFFF_FFFF) << 80) | u128::from(self.next_profile);
        (0..26)
            .rev()
            .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
            .collect()
    }

    fn find(&self, query: &Query) -> Option<&StoredProfile> {
        self.index
            .get(&query.key())
            .and_then(|id| self.profiles.get(id))
    }

    pub(crate) fn all(&self) -> Vec<Value> {
        self.profiles.values().map(StoredProfile::render).collect()
    }

    pub(crate) fn get_by_query(&self, query: &Query) -> Result<Value, Failure> {
        self.find(query)
            .map(StoredProfile::render)
            .ok_or_else(|| Failure::not_found("Profile"))
    }

    pub(crate) fn get_by_id(&self, id: &str) -> Result<Value, Failure> {
        self.profiles
            .get(id)
            .map(StoredProfile::render)
            .ok_or_else(|| Failure::not_found("Profile"))
    }

    pub(crate) fn list_for_user(&self, user_id: &str) -> Result<Vec<Value>, Failure> {
        let user_id = self.known_user(user_id)?;
        Ok(self
            .profiles
            .values()
            .filter(|p| p.user_id == user_id)
            .map(StoredProfile::render)
            .collect())
    }

    fn known_user(&self, user_id: &str) -> Result<u64, Failure> {
        user_id
            .parse::<u64>()
            .ok()
            .filter(|id| self.users.contains_key(id))
            .ok_or_else(|| Failure::not_found("User"))
    }

    /// PATCH: merges attributes (keeping the others), sets the name, adds identifiers that
    /// are not there yet (never replacing one); source, type and user_id are ignored.
    pub(crate) fn patch(&mut self, id: &str, content: Content) -> Result<Value, Failure> {
        let Some(profile) = self.profiles.get(id) else {
            return Err(Failure::not_found("Profile"));
        };
        let mut updated = profile.clone();
        if let Some(name) = content.name {
            updated.name = Some(name);
        }
        if let Some(attributes) = content.attributes {
            updated.attributes.extend(attributes);
        }
        for identifier in content.identifiers {
            if !updated.identifiers.contains(&identifier) {
                updated.identifiers.push(identifier);
            }
        }
        if updated.identifiers.len() > MAX_IDENTIFIERS {
            return Err(too_many_identifiers());
        }
        updated.updated_at = Self::now();
        Ok(self.save(updated))
    }

    pub(crate) fn patch_by_query(
        &mut self,
        query: &Query,
        content: Content,
    ) -> Result<Value, Failure> {
        let id = self
            .find(query)
            .map(|p| p.id.clone())
            .ok_or_else(|| Failure::not_found("Profile"))?;
        self.patch(&id, content)
    }

    /// PUT by identifier query: replaces the content of the profile it finds (keeping id,
    /// created_at, source, type and user), or creates one. The queried identifier is always
    /// kept, so the same PUT sent twice finds the same profile.
    pub(crate) fn put_by_query(
        &mut self,
        query: &Query,
        content: Content,
        for_user: Option<&str>,
    ) -> Result<Put, Failure> {
        let for_user = for_user.map(|u| self.known_user(u)).transpose()?;
        let attributes = content
            .attributes
            .ok_or_else(|| Failure::bad_request("InvalidPayload", "`attributes` is required"))?;
        let mut identifiers = content.identifiers;
        let queried = (query.id_type.clone(), query.id_value.clone());
        if !identifiers.contains(&queried) {
            identifiers.insert(0, queried);
        }
        identifiers.dedup();
        if identifiers.len() > MAX_IDENTIFIERS {
            return Err(too_many_identifiers());
        }
        let now = Self::now();
        if let Some(existing) = self.find(query) {
            let mut replaced = existing.clone();
            replaced.name = content.name;
            replaced.attributes = attributes;
            replaced.identifiers = identifiers;
            replaced.updated_at = now;
            return Ok(Put::Replaced(self.save(replaced)));
        }
        if query.source.eq_ignore_ascii_case("zendesk") {
            return Err(Failure::bad_request(
                "InvalidSource",
                "the source `zendesk` is reserved",
            ));
        }
        if query.source.len() > MAX_NAME_LEN || query.kind.len() > MAX_NAME_LEN {
            return Err(Failure::bad_request(
                "InvalidPayload",
                format!("source and type names are at most {MAX_NAME_LEN} characters"),
            ));
        }
        let user_id = match for_user {
            Some(user_id) => user_id,
            None => self.user_for(&identifiers),
        };
        let profile = StoredProfile {
            id: self.new_profile_id(),
            user_id,
            source: query.source.clone(),
            kind: query.kind.clone(),
            name: content.name,
            identifiers,
            attributes,
            created_at: now.clone(),
            updated_at: now,
        };
        Ok(Put::Created(self.save(profile)))
    }

    /// PUT by profile id: replaces the content; 404 when there is no such profile.
    pub(crate) fn put_by_id(&mut self, id: &str, content: Content) -> Result<Value, Failure> {
        let Some(existing) = self.profiles.get(id) else {
            return Err(Failure::not_found("Profile"));
        };
        let attributes = content
            .attributes
            .ok_or_else(|| Failure::bad_request("InvalidPayload", "`attributes` is required"))?;
        if content.identifiers.len() > MAX_IDENTIFIERS {
            return Err(too_many_identifiers());
        }
        let mut replaced = existing.clone();
        replaced.name = content.name;
        replaced.attributes = attributes;
        replaced.identifiers = content.identifiers;
        replaced.updated_at = Self::now();
        Ok(self.save(replaced))
    }

    pub(crate) fn delete(&mut self, id: &str) -> Result<(), Failure> {
        let profile = self
            .profiles
            .remove(id)
            .ok_or_else(|| Failure::not_found("Profile"))?;
        self.unindex(&profile);
        Ok(())
    }

    /// The Zendesk user a new profile belongs to: the one that already has one of its
    /// e-mail addresses, or a new one.
    fn user_for(&mut self, identifiers: &[(String, String)]) -> u64 {
        let emails: Vec<&String> = identifiers
            .iter()
            .filter(|(t, _)| t.eq_ignore_ascii_case("email"))
            .map(|(_, v)| v)
            .collect();
        if let Some(user) = emails.iter().find_map(|e| self.users_by_email.get(*e)) {
            return *user;
        }
        let user = self.next_user_id;
        self.next_user_id += 1;
        self.users.insert(user, ());
        for email in emails {
            self.users_by_email.insert(email.clone(), user);
        }
        user
    }

    fn unindex(&mut self, profile: &StoredProfile) {
        for (t, v) in &profile.identifiers {
            let key = (
                profile.source.clone(),
                profile.kind.clone(),
                t.clone(),
                v.clone(),
            );
            if self.index.get(&key) == Some(&profile.id) {
                self.index.remove(&key);
            }
        }
    }

    fn save(&mut self, profile: StoredProfile) -> Value {
        if let Some(old) = self.profiles.remove(&profile.id) {
            self.unindex(&old);
        }
        for (t, v) in &profile.identifiers {
            self.index.insert(
                (
                    profile.source.clone(),
                    profile.kind.clone(),
                    t.clone(),
                    v.clone(),
                ),
                profile.id.clone(),
            );
        }
        let rendered = profile.render();
        self.profiles.insert(profile.id.clone(), profile);
        rendered
    }
}

fn too_many_identifiers() -> Failure {
    Failure::bad_request(
        "TooManyIdentifiers",
        format!("a profile has at most {MAX_IDENTIFIERS} identifiers"),
    )
}

/// A value as Zendesk stores it in a profile: numbers and booleans as their text, at any
/// depth; strings, nulls, and the shape of arrays and objects as they are.
fn as_stored(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(as_stored).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), as_stored(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(value: Value) -> Content {
        Content::parse(value.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn the_query_splits_on_the_first_three_colons_and_lowercases_emails() {
        let q = Query::parse("coolbikes:rider:email:JDoe@Example.com").unwrap();
        assert_eq!(q.id_value, "jdoe@example.com");
        let q = Query::parse("crm:contact:external_id:urn:x:1").unwrap();
        assert_eq!(q.id_value, "urn:x:1");
        for bad in ["", "a:b:c", "a::c:d", ":b:c:d", "a:b:c:"] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_26_crockford_characters_and_unique() {
        let mut store = Store::default();
        let a = store.new_profile_id();
        let b = store.new_profile_id();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
    }

    #[test]
    fn a_put_without_attributes_is_refused() {
        let mut store = Store::default();
        let q = Query::parse("coolbikes:rider:email:jdoe@example.com").unwrap();
        let err = store
            .put_by_query(&q, content(json!({"profile": {"name": "x"}})), None)
            .unwrap_err();
        assert_eq!(err.status, 400);
    }
}
