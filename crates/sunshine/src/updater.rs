//! [`ProfileUpdater`] for Sunshine.

use async_trait::async_trait;
use profile_core::{
    Error, FieldChange, FieldCheck, FieldPath, Profile, ProfilePatch, ProfileUpdater, UserRef,
};
use serde_json::Value;

use crate::model::json_type;
use crate::{
    Identifier, IdentifierQuery, ProfileContent, ProfileId, ProfileLocator, ProfileUpdate,
    SunshineClient, SunshineInputError,
};

/// Drives Sunshine through the vendor-neutral [`ProfileUpdater`] trait, for profiles of one
/// source and type.
///
/// - [`UserRef::Id`] is a profile id; [`UserRef::Email`] becomes the identifier query
///   `{source}:{type}:email:{email}`; [`UserRef::Key`] becomes
///   `{source}:{type}:{attribute}:{value}`.
/// - Field paths: `name`, `attributes.<key>` (deeper paths reach inside an attribute's
///   object), and `identifiers` (a JSON array of `{type, value}`).
/// - When every change sets `name` or a whole attribute, the update is one PATCH (a merge).
///   Anything a merge cannot express (removing a field, changing inside an attribute's
///   object, replacing the identifiers) is done as Zendesk advises: read the profile, apply
///   the patch, and replace it by id.
/// - `source`, `type`, `user_id`, `id`, `created_at` and `updated_at` are read-only:
///   a patch that sets them is refused before anything is sent.
#[derive(Clone, Debug)]
pub struct SunshineUpdater {
    client: SunshineClient,
    source: String,
    profile_type: String,
}

impl SunshineUpdater {
    /// An updater of the `source`/`profile_type` profiles (`coolbikes`/`rider`).
    pub fn new(
        client: SunshineClient,
        source: impl Into<String>,
        profile_type: impl Into<String>,
    ) -> Self {
        Self {
            client,
            source: source.into(),
            profile_type: profile_type.into(),
        }
    }

    /// The PATCH body a vendor-neutral patch is sent as when a merge can express it, or
    /// `None` when it takes a read and a replace (removing a field, changing inside an
    /// attribute's object, replacing the identifiers). A patch the updater refuses (a
    /// read-only field, a `name` that is not a string) is refused here the same way: the
    /// one rule `profiles sunshine update` and `profiles sync` share.
    pub fn merge_of(patch: &ProfilePatch) -> Result<Option<ProfileUpdate>, SunshineInputError> {
        Ok(match plan(patch)? {
            Plan::Merge(update) => Some(update),
            Plan::ReadModifyReplace => None,
        })
    }

    fn locator(&self, user: &UserRef) -> Result<ProfileLocator, SunshineInputError> {
        let query = |kind: &str, value: &str| {
            IdentifierQuery::new(self.source.clone(), self.profile_type.clone(), kind, value)
                .map(ProfileLocator::Identifier)
                .map_err(SunshineInputError::from)
        };
        match user {
            UserRef::Id(id) => Ok(ProfileLocator::Id(ProfileId::new(id.clone())?)),
            UserRef::Email(email) => query("email", email),
            UserRef::Key { attribute, value } => query(attribute, value),
            _ => Err(SunshineInputError::UnsupportedField {
                path: user.to_string(),
            }),
        }
    }
}

/// How a patch is sent.
enum Plan {
    /// One PATCH.
    Merge(ProfileUpdate),
    /// GET, apply, PUT by id.
    ReadModifyReplace,
}

fn plan(patch: &ProfilePatch) -> Result<Plan, SunshineInputError> {
    let mut update = ProfileUpdate::new();
    let mut merge = true;
    for change in patch.changes() {
        let segments = change.path().segments();
        let path = change.path().to_string();
        match (segments[0].as_str(), segments.len(), change) {
            ("source" | "type" | "user_id" | "id" | "created_at" | "updated_at", _, _) => {
                return Err(SunshineInputError::ReadOnlyField {
                    field: segments[0].clone(),
                });
            }
            (
                "name",
                1,
                FieldChange::Set {
                    value: Value::String(name),
                    ..
                },
            ) => {
                update = update.name(name.clone());
            }
            ("name", 1, FieldChange::Set { .. }) => {
                return Err(SunshineInputError::WrongType {
                    path,
                    expected: "a string",
                });
            }
            ("name", 1, _) => merge = false,
            ("attributes", 1, FieldChange::Set { value, .. }) => {
                if !value.is_object() {
                    return Err(SunshineInputError::AttributesNotAnObject {
                        found: json_type(value),
                    });
                }
                // Setting the whole object replaces the attributes: not a merge.
                merge = false;
            }
            ("attributes", 2, FieldChange::Set { value, .. }) => {
                update = update.attribute(segments[1].clone(), value.clone());
            }
            ("attributes", n, _) if n >= 2 => merge = false,
            ("identifiers", 1, FieldChange::Set { value, .. }) => {
                serde_json::from_value::<Vec<Identifier>>(value.clone()).map_err(|_| {
                    SunshineInputError::WrongType {
                        path,
                        expected: "an array of {type, value} objects",
                    }
                })?;
                merge = false;
            }
            _ => return Err(SunshineInputError::UnsupportedField { path }),
        }
    }
    Ok(if merge {
        Plan::Merge(update)
    } else {
        Plan::ReadModifyReplace
    })
}

/// A profile object as Zendesk returned it, as a vendor-neutral `Profile`.
fn to_profile(fields: serde_json::Map<String, Value>) -> Profile {
    let id = fields.get("id").and_then(Value::as_str).map(str::to_owned);
    Profile::new(id, fields)
}

fn content_from(
    fields: &serde_json::Map<String, Value>,
) -> Result<ProfileContent, SunshineInputError> {
    let mut content = ProfileContent::new();
    content.name = match fields.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => {
            return Err(SunshineInputError::WrongType {
                path: "name".into(),
                expected: "a string",
            });
        }
    };
    if let Some(identifiers) = fields.get("identifiers") {
        content.identifiers = serde_json::from_value(identifiers.clone()).map_err(|_| {
            SunshineInputError::WrongType {
                path: "identifiers".into(),
                expected: "an array of {type, value} objects",
            }
        })?;
    }
    match fields.get("attributes") {
        None | Some(Value::Null) => {}
        Some(attributes) => content = content.attributes(attributes.clone())?,
    }
    Ok(content)
}

#[async_trait]
impl ProfileUpdater for SunshineUpdater {
    fn vendor(&self) -> &'static str {
        "sunshine"
    }

    fn requests_sent(&self) -> Option<u64> {
        Some(self.client.requests_sent())
    }

    /// The checks [`update`](ProfileUpdater::update) makes before it sends anything: the
    /// fields a profile has, read-only ones refused, and the shapes of `name`, `attributes`
    /// and `identifiers`.
    fn check_patch(&self, patch: &ProfilePatch) -> Result<(), Error> {
        plan(patch).map(drop).map_err(Error::from)
    }

    fn can_create(&self) -> bool {
        true
    }

    /// A `PATCH` by identifier of a profile Zendesk does not have answers 404 and creates
    /// nothing.
    fn write_tells(&self) -> bool {
        true
    }

    /// `PUT ?identifier=` is idempotent: sent twice, it leaves one profile.
    fn create_is_idempotent(&self) -> bool {
        true
    }

    /// `PUT /api/v2/user_profiles?identifier={source}:{type}:{kind}:{value}` with the
    /// patch's fields: Zendesk creates the profile with that identifier, and, when no
    /// Zendesk user has it yet, a Zendesk user too. A user addressed by profile id cannot be
    /// created.
    async fn create(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Option<String>, Error> {
        let ProfileLocator::Identifier(query) = self.locator(user)? else {
            return Err(Error::invalid_input(
                "a Sunshine profile is created by identifier, not by profile id",
            ));
        };
        let mut fields = serde_json::Map::new();
        patch.apply_to(&mut fields);
        let content = content_from(&fields)?;
        let outcome = self.client.create_or_replace(&query, &content).await?;
        Ok(Some(outcome.profile.id))
    }

    /// Reads the profile by id, then replaces it by id (`PUT /api/v2/user_profiles/{id}`)
    /// with its name, attributes and every other identifier kept: the identifier of the
    /// key's type that held `from` gives way to one holding `to`. A PATCH cannot do it: it
    /// adds identifiers and never removes one. Nothing is written when the profile holds
    /// `to` already and not `from`.
    async fn rekey(&self, id: &str, from: Option<&UserRef>, to: &UserRef) -> Result<bool, Error> {
        let identifier = |user: &UserRef| match user {
            UserRef::Email(email) => Some(("email".to_owned(), email.clone())),
            UserRef::Key { attribute, value } => Some((attribute.clone(), value.clone())),
            _ => None,
        };
        let Some((kind, new)) = identifier(to) else {
            return Err(Error::invalid_input(
                "a Sunshine profile's key is an identifier, not its profile id",
            ));
        };
        let old = from.and_then(identifier).map(|(_, value)| value);
        // Zendesk keeps e-mail (and twitter) identifiers lower-cased.
        let same = |a: &str, b: &str| a == b || (kind == "email" && a.eq_ignore_ascii_case(b));
        let id = ProfileId::new(id.to_owned())?;
        let requests = self.client.requests();
        let fields = self
            .client
            .profile_fields(requests.get_profile(&ProfileLocator::Id(id.clone())))
            .await?;
        let mut content = content_from(&fields)?;
        let held = |value: &str| {
            content
                .identifiers
                .iter()
                .any(|i| i.identifier_type == kind && same(&i.value, value))
        };
        if held(&new)
            && !old
                .as_deref()
                .is_some_and(|old| !same(old, &new) && held(old))
        {
            return Ok(false);
        }
        content.identifiers.retain(|i| {
            !(i.identifier_type == kind && old.as_deref().is_some_and(|old| same(&i.value, old)))
        });
        if !content
            .identifiers
            .iter()
            .any(|i| i.identifier_type == kind && same(&i.value, &new))
        {
            content.identifiers.push(Identifier::new(kind.clone(), new));
        }
        let request = requests.replace_profile(&id, &content)?;
        self.client.profile_fields(request).await.map(|_| true)
    }

    fn can_delete(&self) -> bool {
        true
    }

    /// `DELETE /api/v2/user_profiles/{id}`, after a read by identifier when the id is not
    /// known. A profile already gone counts as deleted.
    async fn delete(&self, user: &UserRef, id: Option<&str>) -> Result<(), Error> {
        let id = match id {
            Some(id) => ProfileId::new(id.to_owned())?,
            None => match self.client.get_profile(&self.locator(user)?).await {
                Ok(profile) => ProfileId::new(profile.id)?,
                Err(error) if error.is_not_found() => return Ok(()),
                Err(error) => return Err(error),
            },
        };
        match self.client.delete_profile(&id).await {
            Err(error) if error.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// A profile has `name`, `identifiers` and any `attributes.<key>`; nothing else can be
    /// written. Zendesk has no schema of attributes to ask, so no request is made.
    async fn check_fields(&self, fields: &[FieldPath]) -> Result<FieldCheck, Error> {
        let unknown = fields
            .iter()
            .filter(|path| {
                !matches!(
                    path.segments(),
                    [only] if only == "name" || only == "identifiers"
                ) && !matches!(path.segments(), [first, _, ..] if first == "attributes")
            })
            .map(ToString::to_string)
            .collect();
        Ok(FieldCheck::new(
            unknown,
            vec![
                "name".to_owned(),
                "identifiers".to_owned(),
                "attributes.<key>".to_owned(),
            ],
        ))
    }

    async fn get(&self, user: &UserRef) -> Result<Profile, Error> {
        let locator = self.locator(user)?;
        let request = self.client.requests().get_profile(&locator);
        Ok(to_profile(self.client.profile_fields(request).await?))
    }

    /// Zendesk stores every attribute value as a string ("All profile properties are
    /// strings, including number values"): an attribute the input holds as `42` is held by
    /// the profile as `"42"`, and is not written again for that. What is pending, and
    /// written, is the text Zendesk would store.
    fn pending(&self, patch: &ProfilePatch, current: &Profile) -> ProfilePatch {
        let mut stored = ProfilePatch::new();
        for change in patch.changes() {
            let under_attributes = change
                .path()
                .segments()
                .first()
                .is_some_and(|s| s == "attributes");
            match change {
                FieldChange::Set { path, value } if under_attributes => {
                    stored = stored.set_path(path.clone(), as_stored(value));
                }
                other => stored.push(other.clone()),
            }
        }
        stored.pending_against(current)
    }

    async fn update(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error> {
        let locator = self.locator(user)?;
        let requests = self.client.requests();
        match plan(patch)? {
            Plan::Merge(update) => {
                let request = requests.patch_profile(&locator, &update)?;
                Ok(to_profile(self.client.profile_fields(request).await?))
            }
            Plan::ReadModifyReplace => {
                let mut fields = self
                    .client
                    .profile_fields(requests.get_profile(&locator))
                    .await?;
                let id =
                    ProfileId::new(fields.get("id").and_then(Value::as_str).unwrap_or_default())?;
                patch.apply_to(&mut fields);
                let content = content_from(&fields)?;
                let request = requests.replace_profile(&id, &content)?;
                Ok(to_profile(self.client.profile_fields(request).await?))
            }
        }
    }
}

/// A value as Zendesk stores it in a profile: numbers and booleans as their text, at any
/// depth.
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
