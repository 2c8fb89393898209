//! Which column addresses the user and which columns go to which fields: from flags and a
//! TOML mapping file with one section per vendor, so one file serves all three.
//!
//! ```
//! use profile_sync::mapping::Mapping;
//!
//! let file = r#"
//! [sunshine]
//! key = "email"
//! anchor = "employee_id"
//! source = "coolbikes"
//! type = "rider"
//! mode = "upsert"
//! [sunshine.fields]
//! saddle = "attributes.saddle_height"
//! "#;
//! let section = Mapping::parse_section(file, "sunshine", "mapping.toml")?;
//! let mapping = Mapping::from_section(section, &Default::default())?;
//! assert_eq!(mapping.fields[0].1.to_string(), "attributes.saddle_height");
//! assert_eq!(mapping.scope.get("source"), Some("coolbikes"));
//! // People are followed by their employee id: a scope of its own in the state.
//! assert_eq!(mapping.anchor.as_deref(), Some("employee_id"));
//! assert_eq!(mapping.scope_key_kind(), "anchor:employee_id");
//! # Ok::<(), profile_sync::mapping::MappingError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use profile_core::{FieldPath, InvalidFieldPath, KeyKind};
use serde::Deserialize;

use crate::compute::{Compute, ComputeSpec, Place};

/// What addresses records at a vendor beyond the connection, by setting name
/// (`source`, `type`, `type_name`, `directory`, `lang`: each vendor says which it takes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope(pub BTreeMap<String, String>);

impl Scope {
    /// A setting's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value of `name`, owned.
    pub fn value(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    /// Sets `name` when `value` is given.
    pub fn with(mut self, name: &str, value: Option<String>) -> Self {
        if let Some(value) = value {
            self.0.insert(name.to_owned(), value);
        }
        self
    }

    /// The settings' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// One vendor's section of a mapping file.
#[derive(Clone, Debug, Default, Deserialize)]
#[non_exhaustive]
pub struct Section {
    /// The key column.
    pub key: Option<String>,
    /// What the key is (`email`, `id`, an attribute).
    pub key_kind: Option<String>,
    /// The column holding the source's permanent id of a person (an employee id): the
    /// state follows them by it, whatever their key becomes.
    pub anchor: Option<String>,
    /// `update`, `upsert` or `mirror`.
    pub mode: Option<String>,
    /// What a mirror does to leavers.
    pub leavers: Option<LeaversSpec>,
    /// Column → field.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Field → template: computed fields (`name = "{{ first }} {{ last }}"`).
    #[serde(default)]
    pub computed: BTreeMap<String, String>,
    /// Lookup tables for the `lookup` filter: table → code → value.
    #[serde(default)]
    pub lookups: BTreeMap<String, BTreeMap<String, String>>,
    /// The scope: an expression over the row (`status == 'active'`); rows outside it are
    /// not synced (and, in mirror mode, a managed person outside it is a leaver).
    #[serde(rename = "where")]
    pub scope_filter: Option<String>,
    /// Lower-case every key as it is sent.
    pub key_lowercase: Option<bool>,
    /// The most leavers one run retires: a count (`25`) or a share (`"10%"`).
    pub max_leavers: Option<toml::Value>,
    /// Rows in flight at once.
    pub concurrency: Option<toml::Value>,
    /// Requests a minute (`600`, `"600/min"`; 0 for no limit).
    pub rate: Option<toml::Value>,
    /// The vendor's own settings (what addresses its records): every other key.
    #[serde(flatten)]
    pub scope: BTreeMap<String, toml::Value>,
    /// Where the section was read (`nightly.toml`), for messages.
    #[serde(skip)]
    pub origin: Option<String>,
}

/// How the input is read, from a mapping file's `[input]` table: what the `--delimiter`,
/// `--encoding`, `--format` and `--empty` flags say, which win over it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InputSettings {
    /// The byte between cells (`";"`, `"tab"`).
    pub delimiter: Option<String>,
    /// The encoding's label (`windows-1252`).
    pub encoding: Option<String>,
    /// `csv` or `jsonl`.
    pub format: Option<String>,
    /// `skip` or `clear`.
    pub empty: Option<String>,
}

/// Settings of a nightly run that a mapping file's vendor section may carry beside the
/// mapping; the flags of the same names win.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunSettings {
    /// `key_lowercase`.
    pub key_lowercase: Option<bool>,
    /// `max_leavers`, as written (`25`, `10%`).
    pub max_leavers: Option<String>,
    /// `concurrency`, as written.
    pub concurrency: Option<String>,
    /// `rate`, as written (`600`, `600/min`).
    pub rate: Option<String>,
}

/// The leaver action in a mapping file: `leavers = "delete"`, or
/// `leavers = { set = { "attributes.status" = "left" }, clear = ["Title"] }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum LeaversSpec {
    /// An action by name (`delete`).
    Named(String),
    /// Fields to write, and fields to clear.
    Fields {
        /// Field → value.
        #[serde(default)]
        set: BTreeMap<String, toml::Value>,
        /// Fields to clear.
        #[serde(default)]
        clear: Vec<String>,
    },
}

/// A mapping file.
/// A mapping file: one section per vendor, by its name.
type MappingFile = BTreeMap<String, Section>;

/// Why a mapping cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The file cannot be read.
    #[error("cannot read mapping file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a mapping file.
    #[error("mapping file {path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// What TOML or the schema said.
        reason: String,
    },
    /// The file has no section for the vendor.
    #[error("mapping file {path} has no [{vendor}] section")]
    NoSection {
        /// The file.
        path: String,
        /// The vendor.
        vendor: String,
    },
    /// A field path is not one.
    #[error("field `{text}`: {source}")]
    Field {
        /// As written.
        text: String,
        /// Why.
        #[source]
        source: InvalidFieldPath,
    },
    /// A vendor setting of the section that is not text.
    #[error("mapping file: `{name}` {reason}")]
    Setting {
        /// The setting.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// `--map` without `=`.
    #[error("--map takes COLUMN=FIELD, not `{0}`")]
    MapFlag(String),
    /// `--compute` without `=`.
    #[error("--compute takes FIELD=TEMPLATE, not `{0}`")]
    ComputeFlag(String),
    /// A template, filter, lookup table or date format that cannot be used.
    #[error("{0}")]
    Template(#[from] crate::compute::TemplateError),
    /// A column and a computed field are mapped to one field.
    #[error(
        "the column `{column}` and a computed value are both mapped to `{field}`: one would overwrite the other; keep one"
    )]
    ComputedConflict {
        /// The field.
        field: String,
        /// The column.
        column: String,
    },
    /// Two columns are mapped to one field.
    #[error(
        "the columns `{first}` and `{second}` are both mapped to `{field}`: one would overwrite the other; map each field from one column"
    )]
    Conflict {
        /// The field.
        field: String,
        /// One column.
        first: String,
        /// The other.
        second: String,
    },
    /// No column is mapped.
    #[error(
        "nothing to sync: map at least one column to a field (--map COLUMN=FIELD or a mapping file)"
    )]
    Nothing,
    /// Columns the mapping names are not in the input.
    #[error(
        "the mapping names column(s) the input does not have: {}; the input has: {}",
        .missing.join(", "),
        .columns.join(", ")
    )]
    MissingColumns {
        /// Those missing.
        missing: Vec<String>,
        /// Those the input has.
        columns: Vec<String>,
    },
}

/// The resolved mapping of a sync.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Mapping {
    /// The column that addresses the user.
    pub key_column: String,
    /// What its values are.
    pub key_kind: KeyKind,
    /// The column holding the source's permanent id of a person, if any: the state then
    /// knows people by it and links it to the vendor's id, so that a changed key (a new
    /// e-mail address) is an update of the same person.
    pub anchor: Option<String>,
    /// Column → field, in order.
    pub fields: Vec<(String, FieldPath)>,
    /// What addresses records at the vendor.
    pub scope: Scope,
    /// The mode the file names, if any.
    pub mode: Option<String>,
    /// The leaver action the file names, if any.
    pub leavers: Option<LeaversSpec>,
    /// Computed fields and the scope, compiled: `None` when there are none.
    pub compute: Option<Arc<Compute>>,
    /// How the input is read, as the file's `[input]` table says.
    pub input: InputSettings,
    /// Run settings the file's section carries.
    pub settings: RunSettings,
}

/// The mapping flags of `profiles sync`: they take precedence over the file's section.
#[derive(Clone, Debug, Default)]
pub struct MappingFlags {
    /// The mapping file.
    pub file: Option<PathBuf>,
    /// `--key`.
    pub key: Option<String>,
    /// `--key-kind`.
    pub key_kind: Option<String>,
    /// `--anchor`.
    pub anchor: Option<String>,
    /// `--map COLUMN=FIELD`, each.
    pub maps: Vec<String>,
    /// `--compute FIELD=TEMPLATE`, each.
    pub computes: Vec<String>,
    /// `--where EXPR`.
    pub scope_filter: Option<String>,
    /// The vendor's scope flags.
    pub scope: Scope,
}

fn parse_field(text: &str) -> Result<FieldPath, MappingError> {
    FieldPath::parse(text).map_err(|source| MappingError::Field {
        text: shortened(text),
        source,
    })
}

/// A text from a file or a flag as a message shows it: at most 60 characters.
pub fn shortened(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

impl Mapping {
    /// The file's section for `vendor` (if a file is given), with flags taking precedence.
    pub fn resolve(vendor: &str, flags: &MappingFlags) -> Result<Self, MappingError> {
        let (section, input) = match &flags.file {
            Some(path) => read_section(path, vendor)?,
            None => (Section::default(), InputSettings::default()),
        };
        let mut mapping = Self::from_section(section, flags)?;
        mapping.input = input;
        Ok(mapping)
    }

    /// The `[vendor]` section of a mapping file's text (`origin` names it in errors).
    pub fn parse_section(text: &str, vendor: &str, origin: &str) -> Result<Section, MappingError> {
        Self::parse_file(text, vendor, origin).map(|(section, _)| section)
    }

    /// The `[vendor]` section of a mapping file's text and its `[input]` table.
    pub fn parse_file(
        text: &str,
        vendor: &str,
        origin: &str,
    ) -> Result<(Section, InputSettings), MappingError> {
        let parse = |reason: String| MappingError::Parse {
            path: origin.to_owned(),
            reason,
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
        let input = match table.remove("input") {
            Some(value) => InputSettings::deserialize(value)
                .map_err(|e| parse(format!("[input]: {}", e.message())))?,
            None => InputSettings::default(),
        };
        let mut file: MappingFile = MappingFile::deserialize(toml::Value::Table(table))
            .map_err(|e| parse(e.message().to_owned()))?;
        let mut section = file.remove(vendor).ok_or_else(|| MappingError::NoSection {
            path: origin.to_owned(),
            vendor: vendor.to_owned(),
        })?;
        section.origin = Some(format!("{origin} [{vendor}"));
        Ok((section, input))
    }

    /// A section with flags on top.
    pub fn from_section(section: Section, flags: &MappingFlags) -> Result<Self, MappingError> {
        let mut fields = Vec::new();
        for (column, field) in &section.fields {
            fields.push((column.clone(), parse_field(field)?));
        }
        for pair in &flags.maps {
            let (column, field) = pair
                .split_once('=')
                .ok_or_else(|| MappingError::MapFlag(pair.clone()))?;
            fields.retain(|(c, _)| c != column);
            fields.push((column.to_owned(), parse_field(field)?));
        }
        let compute = compute_of(&section, flags)?;
        if fields.is_empty() && compute.as_ref().is_none_or(|c| c.fields().is_empty()) {
            return Err(MappingError::Nothing);
        }
        if let Some(compute) = &compute {
            for path in compute.fields() {
                if let Some((column, _)) = fields.iter().find(|(_, f)| f == path) {
                    return Err(MappingError::ComputedConflict {
                        field: path.to_string(),
                        column: column.clone(),
                    });
                }
            }
        }
        // Two columns into one field: one would silently win, row by row.
        for (index, (column, field)) in fields.iter().enumerate() {
            if let Some((other, _)) = fields[..index].iter().find(|(_, f)| f == field) {
                return Err(MappingError::Conflict {
                    field: field.to_string(),
                    first: other.clone(),
                    second: column.clone(),
                });
            }
        }
        let pick =
            |flag: &Option<String>, file: &Option<String>| flag.clone().or_else(|| file.clone());
        Ok(Self {
            key_column: pick(&flags.key, &section.key).unwrap_or_else(|| "email".to_owned()),
            key_kind: KeyKind::parse(
                &pick(&flags.key_kind, &section.key_kind).unwrap_or_else(|| "email".to_owned()),
            ),
            anchor: pick(&flags.anchor, &section.anchor),
            fields,
            scope: {
                let mut scope = Scope::default();
                for (name, value) in &section.scope {
                    let Some(text) = value.as_str() else {
                        return Err(MappingError::Setting {
                            name: name.clone(),
                            reason: format!("is {}, not text", value.type_str()),
                        });
                    };
                    scope.0.insert(name.clone(), text.to_owned());
                }
                for (name, value) in &flags.scope.0 {
                    scope.0.insert(name.clone(), value.clone());
                }
                scope
            },
            mode: section.mode.clone(),
            leavers: section.leavers.clone(),
            compute,
            input: InputSettings::default(),
            settings: RunSettings {
                key_lowercase: section.key_lowercase,
                max_leavers: section.max_leavers.as_ref().map(setting_text),
                concurrency: section.concurrency.as_ref().map(setting_text),
                rate: section.rate.as_ref().map(setting_text),
            },
        })
    }

    /// A mapping of `key_column` (as `key_kind`) and `COLUMN → FIELD` pairs, no file.
    pub fn from_flags(
        key_column: &str,
        key_kind: KeyKind,
        fields: &[(String, String)],
    ) -> Result<Self, MappingError> {
        let mut mapping = Self::from_section(
            Section::default(),
            &MappingFlags {
                key: Some(key_column.to_owned()),
                maps: fields.iter().map(|(c, f)| format!("{c}={f}")).collect(),
                ..MappingFlags::default()
            },
        )?;
        mapping.key_kind = key_kind;
        Ok(mapping)
    }

    /// The key the state knows a row's user by: the anchor's value when the mapping has
    /// one, as it is; else the key's, an e-mail address without regard to case (the
    /// vendors match addresses so, or hold one address in one case).
    pub fn state_key(&self, key: String) -> String {
        match &self.anchor {
            Some(_) => key,
            None => crate::night::state_key(&self.key_kind, key),
        }
    }

    /// The kind of key a state's scope records: the key's kind, or `anchor:COLUMN` when
    /// people are followed by an anchor (a scope of its own: switching anchors on or off
    /// starts a new state rather than making everyone a leaver).
    pub fn scope_key_kind(&self) -> String {
        match &self.anchor {
            Some(anchor) => format!("anchor:{anchor}"),
            None => self.key_kind.name().to_owned(),
        }
    }

    /// Refuses a mapping that names a column the input does not have.
    pub fn check_columns(&self, columns: &[String]) -> Result<(), MappingError> {
        let computed = self.compute.iter().flat_map(|c| c.columns());
        let mut missing: Vec<String> = std::iter::once(self.key_column.as_str())
            .chain(self.anchor.as_deref())
            .chain(self.fields.iter().map(|(c, _)| c.as_str()))
            .chain(computed)
            .filter(|c| !columns.iter().any(|have| have == c))
            .map(str::to_owned)
            .collect();
        missing.dedup();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(MappingError::MissingColumns {
                missing,
                columns: columns.to_vec(),
            })
        }
    }
}

fn read_section(path: &Path, vendor: &str) -> Result<(Section, InputSettings), MappingError> {
    let text = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Mapping::parse_file(&text, vendor, &path.display().to_string())
}

/// A setting as its text: `25`, `"10%"`, `600`.
fn setting_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => other.type_str().to_owned(),
    }
}

/// The computed fields and scope of a section, with the flags' on top, compiled.
fn compute_of(
    section: &Section,
    flags: &MappingFlags,
) -> Result<Option<Arc<Compute>>, MappingError> {
    let mut spec = ComputeSpec::default();
    let origin = section.origin.as_deref().unwrap_or("mapping file [");
    let table = |name: &str| Place::file_table(&format!("{origin}.{name}]"));
    for (field, template) in &section.computed {
        spec.field(table("computed"), field, template);
    }
    for (name, entries) in &section.lookups {
        spec.lookup(name, entries.clone());
    }
    if let Some(expression) = &section.scope_filter {
        spec.scope(Place::file_table(&format!("{origin}] where")), expression);
    }
    for pair in &flags.computes {
        let (field, template) = pair
            .split_once('=')
            .ok_or_else(|| MappingError::ComputeFlag(shortened(pair)))?;
        spec.field(Place::flag("--compute"), field.trim(), template);
    }
    if let Some(expression) = &flags.scope_filter {
        spec.scope(Place::flag("--where"), expression);
    }
    if spec.is_empty() {
        return Ok(None);
    }
    Ok(Some(Arc::new(Compute::new(spec)?)))
}
