//! [`ProfileUpdater`] for LumApps.

use async_trait::async_trait;
use futures_util::StreamExt;
use profile_core::{
    Applied, Error, FieldChange, FieldCheck, FieldPath, KeyKind, Profile, ProfilePatch,
    ProfileUpdater, UserRef,
};
use serde_json::{Map, Value, json};

use crate::{DirectoryModule, FieldRef, LumAppsClient, LumAppsInputError, UserLocator};

/// Drives one LumApps user directory through the vendor-neutral [`ProfileUpdater`] trait.
///
/// - [`UserRef::Email`] is the user's e-mail; [`UserRef::Id`] their LumApps uid;
///   [`UserRef::Key`] with attribute `email` is the e-mail too.
/// - Field paths are one segment: a field's title in the updater's language, or its uuid.
///   The profile it returns has one entry per directory field (by title, the value read
///   where LumApps keeps it) plus `email`, so a sync can compare before it writes.
/// - An update is one read and one save of the whole user (nothing else changes);
///   removing a field writes `null`.
#[derive(Clone, Debug)]
pub struct LumAppsUpdater {
    client: LumAppsClient,
    directory: DirectoryModule,
    lang: String,
}

impl LumAppsUpdater {
    /// An updater of `directory`'s fields, named by their titles in `lang`.
    pub fn new(client: LumAppsClient, directory: DirectoryModule, lang: impl Into<String>) -> Self {
        Self {
            client,
            directory,
            lang: lang.into(),
        }
    }

    fn field_ref(&self, name: &str) -> FieldRef {
        if self
            .directory
            .schema
            .fields()
            .iter()
            .any(|f| f.uuid == name)
        {
            FieldRef::Uuid(name.to_owned())
        } else {
            FieldRef::title(name, self.lang.clone())
        }
    }

    fn profile(&self, user: &Map<String, Value>) -> Profile {
        let mut fields = Map::new();
        if let Some(email) = user.get("email") {
            fields.insert("email".into(), email.clone());
        }
        for field in self.directory.schema.fields() {
            if let Some(title) = field.title(&self.lang) {
                fields.insert(
                    title.to_owned(),
                    field.value_in(user).cloned().unwrap_or(Value::Null),
                );
            }
        }
        let id = user
            .get("uid")
            .or_else(|| user.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Profile::new(id, fields)
    }
}

fn locator(user: &UserRef) -> Result<UserLocator, LumAppsInputError> {
    match user {
        UserRef::Email(email) => Ok(UserLocator::Email(email.clone())),
        UserRef::Id(uid) => Ok(UserLocator::Uid(uid.clone())),
        UserRef::Key { attribute, value } if attribute == "email" => {
            Ok(UserLocator::Email(value.clone()))
        }
        other => Err(LumAppsInputError::UnsupportedField(other.to_string())),
    }
}

#[async_trait]
impl ProfileUpdater for LumAppsUpdater {
    fn vendor(&self) -> &'static str {
        "lumapps"
    }

    fn requests_sent(&self) -> Option<u64> {
        Some(self.client.requests_sent())
    }

    /// A listing's page: the client's page size.
    fn listed_per_request(&self) -> Option<u64> {
        Some(u64::from(self.client.page_size()))
    }

    /// A save replaces the whole user: a sync reads before it writes.
    fn write_merges(&self) -> bool {
        false
    }

    /// Nothing to send: a LumApps user's address comes from the identity provider (a rename
    /// there keeps the user's uid), and a directory save does not change it. A sync that
    /// follows the user by uid finds them under whatever address they now have.
    fn rekey_writes(&self) -> bool {
        false
    }

    async fn rekey(&self, id: &str, from: Option<&UserRef>, to: &UserRef) -> Result<bool, Error> {
        let _ = (id, from, to);
        Ok(false)
    }

    /// Each path is one field of the directory's template, by its title in the updater's
    /// language or by its uuid (the template was read when the updater was made).
    async fn check_fields(&self, fields: &[FieldPath]) -> Result<FieldCheck, Error> {
        let schema = self.directory.schema.fields();
        let unknown = fields
            .iter()
            .filter(|path| {
                !matches!(path.segments(), [name] if schema.iter().any(|f| {
                    f.uuid == *name || f.title(&self.lang) == Some(name.as_str())
                }))
            })
            .map(ToString::to_string)
            .collect();
        let known = schema
            .iter()
            .filter_map(|f| f.title(&self.lang).map(str::to_owned))
            .collect();
        Ok(FieldCheck::new(unknown, known))
    }

    /// `user/directory/list` of everyone: enabled and disabled, hidden included; each user
    /// cut down to what is compared: the address, the ids and where each of `fields` lives
    /// (LumApps' `fields` selector; whole users when a field is not the template's).
    async fn read_all(
        &self,
        key: &KeyKind,
        fields: &[FieldPath],
        each: &mut (dyn FnMut(String, Profile) + Send),
    ) -> Result<bool, Error> {
        let users = match self.listing_selector(fields) {
            Some(selector) => self
                .client
                .list_all_users_partial(&self.directory.id, &selector)
                .left_stream(),
            None => self
                .client
                .list_all_users(&self.directory.id)
                .right_stream(),
        };
        futures_util::pin_mut!(users);
        while let Some(user) = users.next().await {
            let user = user?;
            let value = match key {
                KeyKind::Id => user.get("uid").or_else(|| user.get("id")),
                _ => user.get("email"),
            };
            let Some(value) = value.and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            each(value, self.profile(&user));
        }
        Ok(true)
    }

    async fn get(&self, user: &UserRef) -> Result<Profile, Error> {
        let user = self
            .client
            .get_user(&self.directory.id, &locator(user)?)
            .await?;
        Ok(self.profile(&user))
    }

    async fn update(&self, user: &UserRef, patch: &ProfilePatch) -> Result<Profile, Error> {
        let changes = self.changes(patch)?;
        let update = self
            .client
            .update_fields(&self.directory, &locator(user)?, &changes)
            .await?;
        Ok(self.profile(&update.user))
    }

    /// One read, then a save only if something differs: the user read is the one saved.
    async fn apply_pending(
        &self,
        user: &UserRef,
        patch: &ProfilePatch,
        dry_run: bool,
    ) -> Result<Applied, Error> {
        let changes = self.changes(patch)?;
        let mut current = self
            .client
            .get_user(&self.directory.id, &locator(user)?)
            .await?;
        let before = self.profile(&current);
        let pending = patch.pending_against(&before);
        if pending.is_empty() || dry_run {
            return Ok(Applied::new(before, pending, false));
        }
        self.client
            .apply_fields(&self.directory, &mut current, &changes)?;
        self.client
            .save_user_unread(&self.directory.id, &current)
            .await?;
        Ok(Applied::new(before, pending, true))
    }
}

impl LumAppsUpdater {
    /// The partial response a listing asks for when only `fields` are compared: the user's
    /// address and ids, and where each field's value lives (its bound `apiProfile` path, or
    /// `customProfile`). A user directory's users carry much more (names, pictures, the
    /// identity provider's whole profile), none of which a sync reads. `None` (the whole
    /// users) when a field is not one of the template's or its path cannot be selected.
    fn listing_selector(&self, fields: &[FieldPath]) -> Option<String> {
        let mut parts = vec!["email".to_owned(), "uid".to_owned(), "id".to_owned()];
        for path in fields {
            let [name] = path.segments() else {
                return None;
            };
            let field = self
                .directory
                .schema
                .fields()
                .iter()
                .find(|f| f.uuid == *name || f.title(&self.lang) == Some(name.as_str()))?;
            let part = match &field.bound_path {
                Some(bound) => {
                    let selectable = bound.split('/').all(|segment| {
                        !segment.is_empty()
                            && segment
                                .bytes()
                                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'))
                    });
                    if !selectable {
                        return None;
                    }
                    format!("apiProfile/{bound}")
                }
                None => "customProfile".to_owned(),
            };
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
        Some(parts.join(","))
    }

    fn changes(&self, patch: &ProfilePatch) -> Result<Vec<(FieldRef, Value)>, Error> {
        let mut changes = Vec::with_capacity(patch.changes().len());
        for change in patch.changes() {
            let [name] = change.path().segments() else {
                return Err(LumAppsInputError::UnsupportedField(change.path().to_string()).into());
            };
            let value = match change {
                FieldChange::Set { value, .. } => value.clone(),
                _ => json!(null),
            };
            changes.push((self.field_ref(name), value));
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use profile_core::BaseUrl;

    fn updater() -> LumAppsUpdater {
        let directory = DirectoryModule::from_content(&json!({
            "id": "6486401110769664",
            "type": "user_directory",
            "template": {"components": [
                {"uuid": "be3363f3-4df8-4a93-b27c-9c8c69258801", "title": {"en": "Title"},
                 "type": "inputText",
                 "properties": {"isBound": true, "boundMap": {"text": "organizations/title"}}},
                {"uuid": "b72127e4-867a-4aba-a843-70c11dc599ef", "title": {"en": "Phone Number"},
                 "type": "inputText", "properties": {}},
                {"uuid": "0c2f7a52-0000-4000-8000-000000000001", "title": {"en": "Desk"},
                 "type": "inputText",
                 "properties": {"isBound": true, "boundMap": {"text": "locations/desk code"}}},
            ]},
        }))
        .unwrap();
        let client = LumAppsClient::builder(
            BaseUrl::parse("https://go-cell-001.api.lumapps.com").unwrap(),
            crate::LumAppsAuth::token("t"),
        )
        .build()
        .unwrap();
        LumAppsUpdater::new(client, directory, "en")
    }

    fn paths(names: &[&str]) -> Vec<FieldPath> {
        names.iter().map(|n| FieldPath::parse(n).unwrap()).collect()
    }

    #[test]
    fn a_listing_selects_the_ids_and_where_each_compared_field_lives() {
        let updater = updater();
        assert_eq!(
            updater
                .listing_selector(&paths(&["Title", "Phone Number"]))
                .as_deref(),
            Some("email,uid,id,apiProfile/organizations/title,customProfile")
        );
        // By uuid too; a path named twice is asked once.
        assert_eq!(
            updater
                .listing_selector(&paths(&[
                    "b72127e4-867a-4aba-a843-70c11dc599ef",
                    "Phone Number"
                ]))
                .as_deref(),
            Some("email,uid,id,customProfile")
        );
        // Whole users when a field is not the template's, or its path cannot be selected.
        assert_eq!(updater.listing_selector(&paths(&["Shoe size"])), None);
        assert_eq!(updater.listing_selector(&paths(&["Desk"])), None);
    }
}
