//! A user directory module and the profile fields its template defines.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::LumAppsInputError;

/// A field's type. Types this crate does not know are kept, not rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// `inputText` (the legacy API's text field).
    InputText,
    /// Any other type the vendor sends (`string`, `phone`, `date`, …), as sent.
    Other(String),
}

impl FieldType {
    fn from_text(text: &str) -> Self {
        match text {
            "inputText" => FieldType::InputText,
            other => FieldType::Other(other.to_owned()),
        }
    }
}

/// One custom profile field of a user directory.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FieldSchema {
    /// The field's uuid: its key under `customProfile`.
    pub uuid: String,
    /// Its title per language (`{"en": "Title"}`; may hold only `fr`).
    pub titles: BTreeMap<String, String>,
    /// Its type.
    pub field_type: FieldType,
    /// For a bound field, the `/`-separated path under `apiProfile` where LumApps keeps
    /// its value (`organizations/title`), from `properties.boundMap.text`.
    pub bound_path: Option<String>,
    /// The allowed values, if the field restricts them (each a string, or an object of
    /// translations). Empty means any value.
    pub available_values: Vec<Value>,
}

impl FieldSchema {
    /// The title in `lang`, else the first title there is.
    pub fn title(&self, lang: &str) -> Option<&str> {
        self.titles
            .get(lang)
            .or_else(|| self.titles.values().next())
            .map(String::as_str)
    }

    /// Whether a value is allowed: any value when the field lists none, else one of the
    /// listed values (a string, or any translation of one).
    pub fn allows(&self, value: &Value) -> bool {
        if self.available_values.is_empty() {
            return true;
        }
        self.available_values.iter().any(|allowed| match allowed {
            Value::Object(translations) => translations.values().any(|t| t == value),
            other => other == value,
        })
    }

    /// Where the field's value is read from in a user object: the bound `apiProfile` path,
    /// or `customProfile.{uuid}`.
    pub fn value_in<'a>(&self, user: &'a Map<String, Value>) -> Option<&'a Value> {
        match &self.bound_path {
            Some(path) => path
                .split('/')
                .try_fold(user.get("apiProfile")?, |v, segment| v.get(segment)),
            None => user.get("customProfile")?.get(&self.uuid),
        }
    }

    fn from_component(component: &Value) -> Option<Self> {
        let uuid = component.get("uuid")?.as_str()?.to_owned();
        let titles = component
            .get("title")
            .and_then(Value::as_object)
            .map(|t| {
                t.iter()
                    .filter_map(|(lang, title)| Some((lang.clone(), title.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let properties = component.get("properties");
        let bound = properties
            .and_then(|p| p.get("isBound"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let bound_path = properties
            .and_then(|p| p.get("boundMap"))
            .and_then(|m| m.get("text"))
            .and_then(Value::as_str)
            .filter(|path| bound && !path.is_empty())
            .map(|path| path.trim_matches('/').to_owned());
        // `[{}]` (the seed's Phone Number) lists nothing: empty entries are not values.
        let available_values = properties
            .and_then(|p| p.get("availableValues"))
            .and_then(Value::as_array)
            .map(|values| {
                values
                    .iter()
                    .filter(|v| match v {
                        Value::Object(o) => !o.is_empty(),
                        Value::String(s) => !s.is_empty(),
                        Value::Null => false,
                        _ => true,
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            uuid,
            titles,
            field_type: FieldType::from_text(
                component.get("type").and_then(Value::as_str).unwrap_or(""),
            ),
            bound_path,
            available_values,
        })
    }
}

/// Which field: by its title in a language, or by uuid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldRef {
    /// By title, as the directory shows it in `lang`.
    Title {
        /// The title.
        title: String,
        /// The language of the title (`en`).
        lang: String,
    },
    /// By uuid.
    Uuid(String),
}

impl FieldRef {
    /// By title in a language.
    pub fn title(title: impl Into<String>, lang: impl Into<String>) -> Self {
        FieldRef::Title {
            title: title.into(),
            lang: lang.into(),
        }
    }
}

/// The fields of a user directory module, from its `template.components`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DirectorySchema {
    fields: Vec<FieldSchema>,
}

impl DirectorySchema {
    /// The fields, in the template's order.
    pub fn fields(&self) -> &[FieldSchema] {
        &self.fields
    }

    /// Finds a field. A title matches in the given language first; a field whose only
    /// title is in another language (the seed's "Phone Number" has only `fr`) matches by
    /// that title too. Two fields with the same title are an error, not a guess.
    pub fn resolve(&self, field: &FieldRef) -> Result<&FieldSchema, LumAppsInputError> {
        match field {
            FieldRef::Uuid(uuid) => self
                .fields
                .iter()
                .find(|f| f.uuid == *uuid)
                .ok_or_else(|| LumAppsInputError::UnknownField(uuid.clone())),
            FieldRef::Title { title, lang } => {
                let in_lang: Vec<&FieldSchema> = self
                    .fields
                    .iter()
                    .filter(|f| f.titles.get(lang) == Some(title))
                    .collect();
                let candidates = if in_lang.is_empty() {
                    self.fields
                        .iter()
                        .filter(|f| {
                            !f.titles.contains_key(lang) && f.titles.values().any(|t| t == title)
                        })
                        .collect()
                } else {
                    in_lang
                };
                match candidates.as_slice() {
                    [one] => Ok(one),
                    [] => Err(LumAppsInputError::UnknownField(title.clone())),
                    _ => Err(LumAppsInputError::AmbiguousTitle(title.clone())),
                }
            }
        }
    }
}

/// A user directory module: a content of type `user_directory`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DirectoryModule {
    /// Its id (`uid`): the `contentId` of every directory call.
    pub id: String,
    /// The instance (site) it belongs to.
    pub instance: Option<String>,
    /// The customer (organization) it belongs to.
    pub customer: Option<String>,
    /// Its title per language.
    pub titles: BTreeMap<String, String>,
    /// Whether it is the instance's default user directory.
    pub is_default: bool,
    /// Its fields.
    pub schema: DirectorySchema,
}

impl DirectoryModule {
    /// Reads a content object; refuses one that is not a user directory.
    pub fn from_content(content: &Value) -> Result<Self, LumAppsInputError> {
        let kind = content.get("type").and_then(Value::as_str).unwrap_or("");
        let id = content
            .get("uid")
            .or_else(|| content.get("id"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if kind != "user_directory" {
            return Err(LumAppsInputError::NotAUserDirectory {
                id,
                kind: kind.to_owned(),
            });
        }
        let fields = content
            .get("template")
            .and_then(|t| t.get("components"))
            .and_then(Value::as_array)
            .map(|components| {
                components
                    .iter()
                    .filter_map(FieldSchema::from_component)
                    .collect()
            })
            .unwrap_or_default();
        let text = |key: &str| content.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            id,
            instance: text("instance"),
            customer: text("customer"),
            titles: content
                .get("title")
                .and_then(Value::as_object)
                .map(|t| {
                    t.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            is_default: content
                .get("isDefaultUserDirectory")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            schema: DirectorySchema { fields },
        })
    }
}
