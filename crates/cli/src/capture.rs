//! `profiles capture …` and Capture in `profiles sync`: Akamai's flags, its client, its
//! updater, and one record's get and update.

use std::sync::Arc;

use clap::{Args, Subcommand};
use profile_capture::{
    AttributePath, CaptureAuth, CaptureClient, CaptureUpdater, EntityLocator, EntityRead,
    EntityUpdate,
};
use profile_core::{FieldPath, ProfilePatch, ProfileUpdater, RateLimit};
use serde_json::{Map, Value};

use crate::connect::{ClientCredentials, Endpoint, Politeness, SINGLE, env, given, need, pick};
use crate::error::CliError;
use crate::output::{OutputArgs, dry, parse_set, print};

/// Capture's ways to authenticate beyond the client's id and secret.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Akamai Identity Cloud (Capture)")]
pub(crate) struct CaptureFlags {
    /// Sign requests instead of Basic authentication (env: CAPTURE_SIGNED=1).
    #[arg(long)]
    signed: bool,
    /// An OAuth access token instead (env: CAPTURE_ACCESS_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    access_token: Option<String>,
}

impl CaptureFlags {
    /// The flags given, by name, for refusing them where they do not apply.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        given(&[
            ("--signed", self.signed),
            ("--access-token", self.access_token.is_some()),
        ])
    }

    /// A client of the application, at most `politeness.max_in_flight` calls at once.
    pub(crate) fn client(
        &self,
        endpoint: &Endpoint,
        credentials: &ClientCredentials,
        politeness: Politeness,
    ) -> Result<CaptureClient, CliError> {
        let base = endpoint.base_url("CAPTURE_BASE_URL")?;
        let auth = match pick(&self.access_token, "CAPTURE_ACCESS_TOKEN") {
            Some(token) => CaptureAuth::oauth(token),
            None => {
                let id = need(
                    pick(&credentials.client_id, "CAPTURE_CLIENT_ID"),
                    "the Capture client id",
                    "--client-id",
                    "CAPTURE_CLIENT_ID",
                )?;
                let secret = need(
                    pick(&credentials.client_secret, "CAPTURE_CLIENT_SECRET"),
                    "the Capture client secret",
                    "--client-secret",
                    "CAPTURE_CLIENT_SECRET",
                )?;
                if self.signed || env("CAPTURE_SIGNED").is_some_and(|v| v == "1" || v == "true") {
                    CaptureAuth::signed(id, secret)
                } else {
                    CaptureAuth::basic(id, secret)
                }
            }
        };
        politeness
            .dress(
                CaptureClient::builder(base.clone(), auth),
                RateLimit::unlimited(),
            )
            .build()
            .map_err(|e| CliError::vendor(e, &base))
    }

    /// The vendor-neutral updater of a sync, for records of one entity type.
    pub(crate) fn updater(
        &self,
        endpoint: &Endpoint,
        credentials: &ClientCredentials,
        type_name: Option<String>,
        politeness: Politeness,
        (records, bytes): (Option<usize>, Option<usize>),
    ) -> Result<Arc<dyn ProfileUpdater>, CliError> {
        Ok(Arc::new(
            CaptureUpdater::new(
                self.client(endpoint, credentials, politeness)?,
                type_name.unwrap_or_else(|| "user".to_owned()),
            )
            .batch_limits(
                records.unwrap_or(profile_capture::BULK_CREATE_RECORDS),
                bytes.unwrap_or(profile_capture::BULK_CREATE_BYTES),
            ),
        ))
    }
}

/// The flags of one record's command.
#[derive(Debug, Args)]
pub(crate) struct Common {
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(flatten)]
    credentials: ClientCredentials,
    #[command(flatten)]
    flags: CaptureFlags,
}

impl Common {
    fn client(&self) -> Result<CaptureClient, CliError> {
        self.flags.client(&self.endpoint, &self.credentials, SINGLE)
    }
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct Target {
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
        target: Target,
        /// The entity type.
        #[arg(long, default_value = "user")]
        type_name: String,
        #[command(flatten)]
        common: Common,
    },
    /// Update attributes of one record (entity.update): nested attributes as a.b, or a
    /// Capture path such as /primaryAddress/city or a plural's element, /statuses#5253/status.
    Update {
        #[command(flatten)]
        target: Target,
        /// The entity type.
        #[arg(long, default_value = "user")]
        type_name: String,
        /// An attribute to set, as PATH=VALUE (the value is JSON when it parses as JSON);
        /// a path starting with / is sent as Capture's attribute_name, one call each.
        #[arg(long = "set", value_name = "PATH=VALUE", required = true)]
        sets: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
}

fn locator(target: &Target) -> Result<EntityLocator, CliError> {
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

pub(crate) async fn run(command: CaptureCommand) -> Result<(), CliError> {
    match command {
        CaptureCommand::Get {
            target,
            type_name,
            common,
        } => {
            let read = EntityRead::new(type_name, locator(&target)?);
            let client = common.client()?;
            if common.output.dry_run {
                dry(&client.requests().entity(&read).map_err(CliError::Vendor)?);
                return Ok(());
            }
            let base = common.endpoint.base_url("CAPTURE_BASE_URL")?;
            let record = client
                .entity(&read)
                .await
                .map_err(|e| CliError::vendor(e, &base))?;
            print(&record, common.output.output);
        }
        CaptureCommand::Update {
            target,
            type_name,
            sets,
            common,
        } => {
            let locator = locator(&target)?;
            // `a.b=…` sets go together as one `attributes` object; a Capture path
            // (`/statuses#5253/status=…`, `/primaryAddress/city=…`) is its own
            // `attribute_name` + `value` update, as Capture takes one path a call.
            let mut patch = ProfilePatch::new();
            let mut updates = Vec::new();
            for set in &sets {
                let (field, value) = parse_set(set)?;
                if field.starts_with('/') {
                    let path =
                        AttributePath::parse(&field).map_err(|e| CliError::Usage(e.to_string()))?;
                    updates.push(
                        EntityUpdate::value_at(type_name.clone(), locator.clone(), path, value)
                            .include_record(true),
                    );
                } else {
                    let path =
                        FieldPath::parse(&field).map_err(|e| CliError::Usage(e.to_string()))?;
                    patch = patch.set_path(path, value);
                }
            }
            if !patch.is_empty() {
                let mut attributes = Map::new();
                patch.apply_to(&mut attributes);
                let update = EntityUpdate::attributes(
                    type_name.clone(),
                    locator.clone(),
                    Value::Object(attributes),
                )
                .map_err(|e| CliError::Usage(e.to_string()))?
                .include_record(true);
                updates.insert(0, update);
            }
            let client = common.client()?;
            if common.output.dry_run {
                for update in &updates {
                    dry(&client.requests().update(update).map_err(CliError::Vendor)?);
                }
                return Ok(());
            }
            let base = common.endpoint.base_url("CAPTURE_BASE_URL")?;
            for update in &updates {
                client
                    .update(update)
                    .await
                    .map_err(|e| CliError::vendor(e, &base))?;
            }
            // The record as it now is.
            let record = client
                .entity(&EntityRead::new(type_name, locator))
                .await
                .map_err(|e| CliError::vendor(e, &base))?;
            print(&record, common.output.output);
        }
    }
    Ok(())
}
