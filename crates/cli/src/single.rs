//! `profiles <vendor> get|update`: one user, the vendor's own way of addressing them.

use clap::{Args, Subcommand};
use profile_capture::{EntityLocator, EntityRead, EntityUpdate};
use profile_core::{ApiRequest, FieldPath, ProfilePatch};
use profile_lumapps::{FieldRef, UserLocator};
use profile_sunshine::{IdentifierQuery, ProfileId, ProfileLocator, ProfileUpdate};
use serde_json::{Map, Value};

use crate::connect::{Connection, Politeness};

/// How to print what comes back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    /// One `field  value` line per leaf.
    #[default]
    Table,
    /// The JSON as the vendor returned it.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Print the request that would be sent (credentials redacted) and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// How to print the result.
    #[arg(long, value_enum, default_value = "table")]
    output: Output,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct SunshineTarget {
    /// The profile's identifier query, source:type:identifier_type:value.
    #[arg(long)]
    identifier: Option<String>,
    /// The profile id.
    #[arg(long)]
    id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SunshineCommand {
    /// Read one profile.
    Get {
        #[command(flatten)]
        target: SunshineTarget,
        #[command(flatten)]
        common: Common,
    },
    /// Merge fields into one profile (PATCH): `name` or `attributes.KEY`.
    Update {
        #[command(flatten)]
        target: SunshineTarget,
        /// A field to set, as FIELD=VALUE (the value is JSON when it parses as JSON).
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        sets: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct CaptureTarget {
    /// The record's uuid.
    #[arg(long)]
    uuid: Option<String>,
    /// The record's id.
    #[arg(long)]
    id: Option<u64>,
    /// A unique attribute and its value, as ATTRIBUTE=VALUE (e.g. email=gjack@example.com).
    #[arg(long, value_name = "ATTRIBUTE=VALUE")]
    key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CaptureCommand {
    /// Read one record.
    Get {
        #[command(flatten)]
        target: CaptureTarget,
        /// The entity type.
        #[arg(long, default_value = "user")]
        type_name: String,
        #[command(flatten)]
        common: Common,
    },
    /// Update attributes of one record (entity.update); nested paths as a.b.
    Update {
        #[command(flatten)]
        target: CaptureTarget,
        /// The entity type.
        #[arg(long, default_value = "user")]
        type_name: String,
        /// An attribute to set, as PATH=VALUE (the value is JSON when it parses as JSON).
        #[arg(long = "set", value_name = "PATH=VALUE", required = true)]
        sets: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct LumAppsTarget {
    /// The user's e-mail.
    #[arg(long)]
    email: Option<String>,
    /// The user's uid.
    #[arg(long)]
    uid: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LumAppsCommand {
    /// Read one user of a directory.
    Get {
        /// The user directory module id.
        #[arg(long)]
        directory: String,
        #[command(flatten)]
        target: LumAppsTarget,
        #[command(flatten)]
        common: Common,
    },
    /// Set directory fields of one user by title (or uuid), keeping everything else.
    Update {
        /// The user directory module id.
        #[arg(long)]
        directory: String,
        #[command(flatten)]
        target: LumAppsTarget,
        /// The language of the field titles.
        #[arg(long, default_value = "en")]
        lang: String,
        /// A field to set, as TITLE=VALUE (the value is JSON when it parses as JSON).
        #[arg(long = "set", value_name = "TITLE=VALUE", required = true)]
        sets: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
}

const SINGLE: Politeness = Politeness {
    per_minute: None,
    max_in_flight: 1,
};

/// `FIELD=VALUE`, the value parsed as JSON when it is JSON, else taken as a string.
fn parse_set(text: &str) -> Result<(String, Value), String> {
    let (field, value) = text
        .split_once('=')
        .ok_or_else(|| format!("--set takes FIELD=VALUE, not `{text}`"))?;
    if field.trim().is_empty() {
        return Err(format!("--set `{text}` names no field"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((field.trim().to_owned(), value))
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

fn print(value: &Value, output: Output) {
    match output {
        Output::Json => say!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        ),
        Output::Table => {
            let mut rows = Vec::new();
            flatten("", value, &mut rows);
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (key, value) in rows {
                say!("{key:<width$}  {value}");
            }
        }
    }
}

fn dry(request: &ApiRequest) {
    say!("{}", request.render().trim_end());
    say!("(dry run: nothing was sent)");
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn sunshine_locator(target: &SunshineTarget) -> Result<ProfileLocator, String> {
    match (&target.identifier, &target.id) {
        (Some(q), _) => Ok(ProfileLocator::Identifier(
            q.parse::<IdentifierQuery>().map_err(err)?,
        )),
        (_, Some(id)) => Ok(ProfileLocator::Id(ProfileId::new(id.clone()).map_err(err)?)),
        _ => Err("give --identifier or --id".into()),
    }
}

pub(crate) async fn sunshine(command: SunshineCommand) -> Result<(), String> {
    match command {
        SunshineCommand::Get { target, common } => {
            let locator = sunshine_locator(&target)?;
            let client = common.connection.sunshine(SINGLE)?;
            if common.dry_run {
                dry(&client.requests().get_profile(&locator));
                return Ok(());
            }
            let profile = client.get_profile(&locator).await.map_err(err)?;
            print(&serde_json::to_value(profile).map_err(err)?, common.output);
        }
        SunshineCommand::Update {
            target,
            sets,
            common,
        } => {
            let locator = sunshine_locator(&target)?;
            let mut update = ProfileUpdate::new();
            for set in &sets {
                let (field, value) = parse_set(set)?;
                update = match (field.as_str(), field.strip_prefix("attributes.")) {
                    ("name", _) => match value {
                        Value::String(name) => update.name(name),
                        other => update.name(other.to_string()),
                    },
                    (_, Some(key)) if !key.is_empty() => update.attribute(key, value),
                    _ => {
                        return Err(format!(
                            "`{field}` cannot be set with a PATCH: use name or attributes.KEY"
                        ));
                    }
                };
            }
            let client = common.connection.sunshine(SINGLE)?;
            if common.dry_run {
                dry(&client
                    .requests()
                    .patch_profile(&locator, &update)
                    .map_err(err)?);
                return Ok(());
            }
            let profile = client.patch_profile(&locator, &update).await.map_err(err)?;
            print(&serde_json::to_value(profile).map_err(err)?, common.output);
        }
    }
    Ok(())
}

fn capture_locator(target: &CaptureTarget) -> Result<EntityLocator, String> {
    match (&target.uuid, target.id, &target.key) {
        (Some(uuid), _, _) => Ok(EntityLocator::uuid(uuid.clone())),
        (_, Some(id), _) => Ok(EntityLocator::Id(id)),
        (_, _, Some(pair)) => {
            let (attribute, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("--key takes ATTRIBUTE=VALUE, not `{pair}`"))?;
            Ok(EntityLocator::key(attribute, value))
        }
        _ => Err("give --uuid, --id or --key".into()),
    }
}

pub(crate) async fn capture(command: CaptureCommand) -> Result<(), String> {
    match command {
        CaptureCommand::Get {
            target,
            type_name,
            common,
        } => {
            let read = EntityRead::new(type_name, capture_locator(&target)?);
            let client = common.connection.capture(SINGLE)?;
            if common.dry_run {
                dry(&client.requests().entity(&read).map_err(err)?);
                return Ok(());
            }
            print(&client.entity(&read).await.map_err(err)?, common.output);
        }
        CaptureCommand::Update {
            target,
            type_name,
            sets,
            common,
        } => {
            let mut patch = ProfilePatch::new();
            for set in &sets {
                let (field, value) = parse_set(set)?;
                patch = patch.set_path(FieldPath::parse(&field).map_err(err)?, value);
            }
            let mut attributes = Map::new();
            patch.apply_to(&mut attributes);
            let update = EntityUpdate::attributes(
                type_name,
                capture_locator(&target)?,
                Value::Object(attributes),
            )
            .map_err(err)?
            .include_record(true);
            let client = common.connection.capture(SINGLE)?;
            if common.dry_run {
                dry(&client.requests().update(&update).map_err(err)?);
                return Ok(());
            }
            let outcome = client.update(&update).await.map_err(err)?;
            print(&outcome.record.unwrap_or(Value::Null), common.output);
        }
    }
    Ok(())
}

fn lumapps_locator(target: &LumAppsTarget) -> Result<UserLocator, String> {
    match (&target.email, &target.uid) {
        (Some(email), _) => Ok(UserLocator::Email(email.clone())),
        (_, Some(uid)) => Ok(UserLocator::Uid(uid.clone())),
        _ => Err("give --email or --uid".into()),
    }
}

pub(crate) async fn lumapps(command: LumAppsCommand) -> Result<(), String> {
    match command {
        LumAppsCommand::Get {
            directory,
            target,
            common,
        } => {
            let user = lumapps_locator(&target)?;
            let client = common.connection.lumapps(SINGLE)?;
            if common.dry_run {
                dry(&client.requests().get_user(&directory, &user).map_err(err)?);
                return Ok(());
            }
            print(
                &Value::Object(client.get_user(&directory, &user).await.map_err(err)?),
                common.output,
            );
        }
        LumAppsCommand::Update {
            directory,
            target,
            lang,
            sets,
            common,
        } => {
            let user = lumapps_locator(&target)?;
            let mut changes = Vec::new();
            for set in &sets {
                let (title, value) = parse_set(set)?;
                changes.push((FieldRef::title(title, lang.clone()), value));
            }
            let client = common.connection.lumapps(SINGLE)?;
            if common.dry_run {
                dry(&client.requests().get_user(&directory, &user).map_err(err)?);
                say!(
                    "then: POST user/directory/save with the user as read, contentId {directory}, and:"
                );
                for (field, value) in &changes {
                    if let FieldRef::Title { title, .. } = field {
                        say!("  {title} = {value}");
                    }
                }
                return Ok(());
            }
            let module = client.get_directory(&directory, &lang).await.map_err(err)?;
            let update = client
                .update_fields(&module, &user, &changes)
                .await
                .map_err(err)?;
            print(&Value::Object(update.user), common.output);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_are_json_when_they_parse_as_json() {
        assert_eq!(
            parse_set("a=1").unwrap(),
            ("a".into(), serde_json::json!(1))
        );
        assert_eq!(
            parse_set("a=87cm").unwrap(),
            ("a".into(), serde_json::json!("87cm"))
        );
        assert_eq!(
            parse_set("a=\"2018\"").unwrap(),
            ("a".into(), serde_json::json!("2018"))
        );
        assert_eq!(
            parse_set("a=x=y").unwrap(),
            ("a".into(), serde_json::json!("x=y"))
        );
        assert!(parse_set("novalue").is_err());
        assert!(parse_set("=v").is_err());
    }
}
