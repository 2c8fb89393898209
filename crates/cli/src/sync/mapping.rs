//! Which column addresses the user and which columns go to which fields.

use std::collections::BTreeMap;
use std::path::Path;

use profile_core::{FieldPath, KeyKind};
use serde::Deserialize;

use crate::Vendor;

/// What addresses records at each vendor, beyond the connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    /// Sunshine: the profiles' source and type.
    pub(crate) source: Option<String>,
    pub(crate) profile_type: Option<String>,
    /// Capture: the entity type.
    pub(crate) type_name: Option<String>,
    /// LumApps: the directory and the language of field titles.
    pub(crate) directory: Option<String>,
    pub(crate) lang: Option<String>,
}

/// One vendor's section of a mapping file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Section {
    key: Option<String>,
    key_kind: Option<String>,
    source: Option<String>,
    #[serde(rename = "type")]
    profile_type: Option<String>,
    type_name: Option<String>,
    directory: Option<String>,
    lang: Option<String>,
    /// `update`, `upsert` or `mirror`.
    mode: Option<String>,
    /// What a mirror does to leavers.
    leavers: Option<LeaversSpec>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

/// The leaver action in a mapping file: `leavers = "delete"`, or
/// `leavers = { set = { "attributes.status" = "left" }, clear = ["Title"] }`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum LeaversSpec {
    Named(String),
    Fields {
        #[serde(default)]
        set: BTreeMap<String, toml::Value>,
        #[serde(default)]
        clear: Vec<String>,
    },
}

/// A mapping file: one section per vendor, so one file serves all three.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    sunshine: Option<Section>,
    capture: Option<Section>,
    lumapps: Option<Section>,
}

/// The resolved mapping of a sync.
#[derive(Clone, Debug)]
pub(crate) struct Mapping {
    pub(crate) key_column: String,
    pub(crate) key_kind: KeyKind,
    pub(crate) fields: Vec<(String, FieldPath)>,
    pub(crate) scope: Scope,
    /// The mode the file names, if any.
    pub(crate) mode: Option<String>,
    /// The leaver action the file names, if any.
    pub(crate) leavers: Option<LeaversSpec>,
}

/// The mapping flags of `profiles sync`.
#[derive(Clone, Debug, Default)]
pub(crate) struct MappingFlags {
    pub(crate) file: Option<std::path::PathBuf>,
    pub(crate) key: Option<String>,
    pub(crate) key_kind: Option<String>,
    pub(crate) maps: Vec<String>,
    pub(crate) scope: Scope,
}

impl Mapping {
    /// The file's section for `vendor` (if a file is given), with flags taking precedence.
    pub(crate) fn resolve(vendor: Vendor, flags: &MappingFlags) -> Result<Self, String> {
        let section = match &flags.file {
            Some(path) => read_section(path, vendor)?,
            None => Section::default(),
        };
        let mut fields = Vec::new();
        for (column, field) in &section.fields {
            fields.push((column.clone(), parse_field(field)?));
        }
        for pair in &flags.maps {
            let (column, field) = pair
                .split_once('=')
                .ok_or_else(|| format!("--map takes COLUMN=FIELD, not `{pair}`"))?;
            fields.retain(|(c, _)| c != column);
            fields.push((column.to_owned(), parse_field(field)?));
        }
        if fields.is_empty() {
            return Err("nothing to sync: map at least one column to a field (--map COLUMN=FIELD or a mapping file)".into());
        }
        let pick =
            |flag: &Option<String>, file: &Option<String>| flag.clone().or_else(|| file.clone());
        Ok(Self {
            key_column: pick(&flags.key, &section.key).unwrap_or_else(|| "email".to_owned()),
            key_kind: KeyKind::parse(
                &pick(&flags.key_kind, &section.key_kind).unwrap_or_else(|| "email".to_owned()),
            ),
            fields,
            scope: Scope {
                source: pick(&flags.scope.source, &section.source),
                profile_type: pick(&flags.scope.profile_type, &section.profile_type),
                type_name: pick(&flags.scope.type_name, &section.type_name),
                directory: pick(&flags.scope.directory, &section.directory),
                lang: pick(&flags.scope.lang, &section.lang),
            },
            mode: section.mode.clone(),
            leavers: section.leavers.clone(),
        })
    }

    /// Refuses a mapping that names a column the input does not have.
    pub(crate) fn check_columns(&self, columns: &[String]) -> Result<(), String> {
        let missing: Vec<&str> = std::iter::once(&self.key_column)
            .chain(self.fields.iter().map(|(c, _)| c))
            .filter(|c| !columns.contains(c))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the mapping names column(s) the input does not have: {}; the input has: {}",
                missing.join(", "),
                columns.join(", ")
            ))
        }
    }
}

fn parse_field(text: &str) -> Result<FieldPath, String> {
    FieldPath::parse(text).map_err(|e| format!("field `{text}`: {e}"))
}

fn read_section(path: &Path, vendor: Vendor) -> Result<Section, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read mapping file {}: {e}", path.display()))?;
    let file: MappingFile =
        toml::from_str(&text).map_err(|e| format!("mapping file {}: {e}", path.display()))?;
    let section = match vendor {
        Vendor::Sunshine => file.sunshine,
        Vendor::Capture => file.capture,
        Vendor::Lumapps => file.lumapps,
    };
    section.ok_or_else(|| {
        format!(
            "mapping file {} has no [{}] section",
            path.display(),
            vendor.name()
        )
    })
}
