//! `profiles sunshine …` and Sunshine in `profiles sync`: Zendesk's flags, its client, its
//! updater, and one profile's get and update.

use std::sync::Arc;

use clap::{Args, Subcommand};
use profile_core::{FieldPath, ProfilePatch, ProfileUpdater, RateLimit, StatedLimit};
use profile_sunshine::{
    IdentifierQuery, ProfileId, ProfileLocator, SunshineAuth, SunshineClient, SunshineUpdater,
};
use serde_json::Value;

use crate::connect::{Endpoint, Politeness, SINGLE, given, need, pick};
use crate::error::CliError;
use crate::output::{OutputArgs, dry, parse_set, print};

/// Zendesk's credentials.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Zendesk Sunshine")]
pub(crate) struct SunshineFlags {
    /// The agent e-mail of the API token (env: ZENDESK_EMAIL).
    #[arg(long, value_name = "EMAIL")]
    agent_email: Option<String>,
    /// The API token (env: ZENDESK_API_TOKEN; prefer the environment).
    #[arg(long, value_name = "TOKEN")]
    api_token: Option<String>,
    /// An OAuth token instead (env: ZENDESK_OAUTH_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    oauth_token: Option<String>,
}

impl SunshineFlags {
    /// The flags given, by name, for refusing them where they do not apply.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        given(&[
            ("--agent-email", self.agent_email.is_some()),
            ("--api-token", self.api_token.is_some()),
            ("--oauth-token", self.oauth_token.is_some()),
        ])
    }

    /// A client of the account, at the pace `politeness` asks (by default Zendesk's
    /// profiles limit).
    pub(crate) fn client(
        &self,
        endpoint: &Endpoint,
        politeness: Politeness,
    ) -> Result<SunshineClient, CliError> {
        let base = endpoint.base_url("ZENDESK_BASE_URL")?;
        let auth = match pick(&self.oauth_token, "ZENDESK_OAUTH_TOKEN") {
            Some(token) => SunshineAuth::oauth(token),
            None => SunshineAuth::api_token(
                need(
                    pick(&self.agent_email, "ZENDESK_EMAIL"),
                    "the Zendesk e-mail",
                    "--agent-email",
                    "ZENDESK_EMAIL",
                )?,
                need(
                    pick(&self.api_token, "ZENDESK_API_TOKEN"),
                    "the Zendesk API token",
                    "--api-token",
                    "ZENDESK_API_TOKEN",
                )?,
            ),
        };
        politeness
            .dress(
                SunshineClient::builder(base.clone(), auth),
                RateLimit::per_minute(profile_sunshine::DEFAULT_RATE_LIMIT_PER_MINUTE)
                    .following(StatedLimit::Adopt),
            )
            .build()
            .map_err(|e| CliError::vendor(e, &base))
    }

    /// The vendor-neutral updater of a sync, for the profiles of one source and type.
    pub(crate) fn updater(
        &self,
        endpoint: &Endpoint,
        source: Option<String>,
        profile_type: Option<String>,
        politeness: Politeness,
    ) -> Result<Arc<dyn ProfileUpdater>, CliError> {
        let source = source
            .ok_or("Sunshine needs the profiles' source: --source (or `source` in the mapping)")?;
        let kind = profile_type
            .ok_or("Sunshine needs the profiles' type: --type (or `type` in the mapping)")?;
        Ok(Arc::new(SunshineUpdater::new(
            self.client(endpoint, politeness)?,
            source,
            kind,
        )))
    }
}

/// The flags of one profile's command.
#[derive(Debug, Args)]
pub(crate) struct Common {
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(flatten)]
    flags: SunshineFlags,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct Target {
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
        target: Target,
        #[command(flatten)]
        common: Common,
    },
    /// Merge fields into one profile (PATCH): `name` or `attributes.KEY`.
    Update {
        #[command(flatten)]
        target: Target,
        /// A field to set, as FIELD=VALUE (the value is JSON when it parses as JSON).
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        sets: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
}

fn locator(target: &Target) -> Result<ProfileLocator, CliError> {
    match (&target.identifier, &target.id) {
        (Some(q), _) => Ok(ProfileLocator::Identifier(
            q.parse::<IdentifierQuery>()
                .map_err(|e| CliError::Usage(e.to_string()))?,
        )),
        (_, Some(id)) => Ok(ProfileLocator::Id(
            ProfileId::new(id.clone()).map_err(|e| CliError::Usage(e.to_string()))?,
        )),
        _ => Err("give --identifier or --id".into()),
    }
}

pub(crate) async fn run(command: SunshineCommand) -> Result<(), CliError> {
    match command {
        SunshineCommand::Get { target, common } => {
            let locator = locator(&target)?;
            let client = common.flags.client(&common.endpoint, SINGLE)?;
            if common.output.dry_run {
                dry(&client.requests().get_profile(&locator));
                return Ok(());
            }
            let base = common.endpoint.base_url("ZENDESK_BASE_URL")?;
            let profile = client
                .get_profile(&locator)
                .await
                .map_err(|e| CliError::vendor(e, &base))?;
            print(
                &serde_json::to_value(profile).unwrap_or(Value::Null),
                common.output.output,
            );
        }
        SunshineCommand::Update {
            target,
            sets,
            common,
        } => {
            let locator = locator(&target)?;
            // The fields are read as a sync reads them, by the updater's own rule.
            let mut patch = ProfilePatch::new();
            for set in &sets {
                let (field, value) = parse_set(set)?;
                let path = FieldPath::parse(&field).map_err(|e| CliError::Usage(e.to_string()))?;
                patch = patch.set_path(path, value);
            }
            let update = SunshineUpdater::merge_of(&patch)
                .map_err(|e| CliError::Usage(e.to_string()))?
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "`{}` cannot be set with a PATCH: use name or attributes.KEY",
                        sets.join(" ")
                    ))
                })?;
            let client = common.flags.client(&common.endpoint, SINGLE)?;
            if common.output.dry_run {
                dry(&client
                    .requests()
                    .patch_profile(&locator, &update)
                    .map_err(CliError::Vendor)?);
                return Ok(());
            }
            let base = common.endpoint.base_url("ZENDESK_BASE_URL")?;
            let profile = client
                .patch_profile(&locator, &update)
                .await
                .map_err(|e| CliError::vendor(e, &base))?;
            print(
                &serde_json::to_value(profile).unwrap_or(Value::Null),
                common.output.output,
            );
        }
    }
    Ok(())
}
