//! `profiles lumapps …` and LumApps in `profiles sync`: LumApps' flags, its client, its
//! updater, and one directory user's get and update.

use std::sync::Arc;

use clap::{Args, Subcommand};
use profile_core::{BaseUrl, ClientSettings, ProfileUpdater, RateLimit, RetryPolicy};
use profile_lumapps::{FieldRef, LumAppsAuth, LumAppsClient, LumAppsUpdater, UserLocator};
use serde_json::Value;

use crate::connect::{ClientCredentials, Endpoint, Politeness, SINGLE, given, need, pick};
use crate::error::CliError;
use crate::output::{Output, OutputArgs, dry, parse_set, print, print_labelled};

/// LumApps' bearer token, or what the application-token exchange needs beside the client.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "LumApps")]
pub(crate) struct LumAppsFlags {
    /// A bearer token (env: LUMAPPS_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// The organization id for the application-token exchange (env: LUMAPPS_CUSTOMER_ID).
    #[arg(long, value_name = "ID")]
    customer_id: Option<String>,
    /// The user the application acts as (env: LUMAPPS_USER_EMAIL).
    #[arg(long, value_name = "EMAIL")]
    user_email: Option<String>,
}

impl LumAppsFlags {
    /// The flags given, by name, for refusing them where they do not apply.
    pub(crate) fn given(&self) -> Vec<&'static str> {
        given(&[
            ("--token", self.token.is_some()),
            ("--customer-id", self.customer_id.is_some()),
            ("--user-email", self.user_email.is_some()),
        ])
    }

    /// A client of the cell.
    pub(crate) fn client(
        &self,
        endpoint: &Endpoint,
        credentials: &ClientCredentials,
        politeness: Politeness,
    ) -> Result<LumAppsClient, CliError> {
        let base = endpoint.base_url("LUMAPPS_BASE_URL")?;
        let auth = match pick(&self.token, "LUMAPPS_TOKEN") {
            Some(token) => LumAppsAuth::token(token),
            None => LumAppsAuth::application(
                need(
                    pick(&self.customer_id, "LUMAPPS_CUSTOMER_ID"),
                    "the LumApps token or customer id",
                    "--token or --customer-id",
                    "LUMAPPS_TOKEN or LUMAPPS_CUSTOMER_ID",
                )?,
                need(
                    pick(&credentials.client_id, "LUMAPPS_CLIENT_ID"),
                    "the LumApps client id",
                    "--client-id",
                    "LUMAPPS_CLIENT_ID",
                )?,
                need(
                    pick(&credentials.client_secret, "LUMAPPS_CLIENT_SECRET"),
                    "the LumApps client secret",
                    "--client-secret",
                    "LUMAPPS_CLIENT_SECRET",
                )?,
                need(
                    pick(&self.user_email, "LUMAPPS_USER_EMAIL"),
                    "the LumApps user e-mail",
                    "--user-email",
                    "LUMAPPS_USER_EMAIL",
                )?,
            ),
        };
        politeness
            .dress(
                LumAppsClient::builder(base.clone(), auth),
                RateLimit::unlimited(),
            )
            .retry(RetryPolicy::default())
            .build()
            .map_err(|e| CliError::vendor(e, &base))
    }

    /// The vendor-neutral updater of a sync, for one user directory, up to what it reads
    /// from LumApps: see [`PendingUpdater::read_template`].
    pub(crate) fn updater(
        &self,
        endpoint: &Endpoint,
        credentials: &ClientCredentials,
        directory: Option<String>,
        lang: Option<String>,
        politeness: Politeness,
    ) -> Result<PendingUpdater, CliError> {
        let directory = directory.ok_or(
            "LumApps needs the user directory: --directory (or `directory` in the mapping)",
        )?;
        Ok(PendingUpdater {
            client: self.client(endpoint, credentials, politeness)?,
            base: endpoint.base_url("LUMAPPS_BASE_URL")?,
            directory,
            lang: lang.unwrap_or_else(|| "en".to_owned()),
        })
    }
}

/// A sync's updater whose client is made and whose directory's template is not read yet.
pub(crate) struct PendingUpdater {
    client: LumAppsClient,
    base: BaseUrl,
    directory: String,
    lang: String,
}

impl PendingUpdater {
    /// The updater, once the directory's template is read: its fields are checked before
    /// any user is.
    pub(crate) async fn read_template(self) -> Result<Arc<dyn ProfileUpdater>, CliError> {
        let module = self
            .client
            .get_directory(&self.directory, &self.lang)
            .await
            .map_err(|e| CliError::vendor(e, &self.base))?;
        Ok(Arc::new(LumAppsUpdater::new(
            self.client,
            module,
            self.lang,
        )))
    }
}

/// The flags of one user's command.
#[derive(Debug, Args)]
pub(crate) struct Common {
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    endpoint: Endpoint,
    #[command(flatten)]
    credentials: ClientCredentials,
    #[command(flatten)]
    flags: LumAppsFlags,
}

impl Common {
    fn client(&self) -> Result<LumAppsClient, CliError> {
        self.flags.client(&self.endpoint, &self.credentials, SINGLE)
    }
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct Target {
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
        target: Target,
        /// The language of the field titles shown beside each directory field.
        #[arg(long, default_value = "en")]
        lang: String,
        #[command(flatten)]
        common: Common,
    },
    /// Set directory fields of one user by title (or uuid), keeping everything else.
    Update {
        /// The user directory module id.
        #[arg(long)]
        directory: String,
        #[command(flatten)]
        target: Target,
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

/// Where each directory field's value is in a user (`customProfile.{uuid}`, or
/// `apiProfile.{bound path}`), and its title in `lang`.
fn titles(
    module: &profile_lumapps::DirectoryModule,
    lang: &str,
) -> std::collections::HashMap<String, String> {
    let mut titles = std::collections::HashMap::new();
    for field in module.schema.fields() {
        let Some(title) = field.title(lang) else {
            continue;
        };
        titles.insert(format!("customProfile.{}", field.uuid), title.to_owned());
        if let Some(bound) = &field.bound_path {
            titles.insert(
                format!("apiProfile.{}", bound.replace('/', ".")),
                title.to_owned(),
            );
        }
    }
    titles
}

fn locator(target: &Target) -> Result<UserLocator, CliError> {
    match (&target.email, &target.uid) {
        (Some(email), _) => Ok(UserLocator::Email(email.clone())),
        (_, Some(uid)) => Ok(UserLocator::Uid(uid.clone())),
        _ => Err("give --email or --uid".into()),
    }
}

pub(crate) async fn run(command: LumAppsCommand) -> Result<(), CliError> {
    match command {
        LumAppsCommand::Get {
            directory,
            target,
            lang,
            common,
        } => {
            let user = locator(&target)?;
            let client = common.client()?;
            if common.output.dry_run {
                dry(&client
                    .requests()
                    .get_user(&directory, &user)
                    .map_err(CliError::Vendor)?);
                return Ok(());
            }
            let base = common.endpoint.base_url("LUMAPPS_BASE_URL")?;
            let found = client
                .get_user(&directory, &user)
                .await
                .map_err(|e| CliError::vendor(e, &base))?;
            if common.output.output == Output::Json {
                print(&Value::Object(found), Output::Json);
            } else {
                // The directory's template names each field: its title beside its path.
                let module = client
                    .get_directory(&directory, &lang)
                    .await
                    .map_err(|e| CliError::vendor(e, &base))?;
                let titles = titles(&module, &lang);
                print_labelled(&Value::Object(found), Output::Table, &|key| {
                    titles.get(key).cloned()
                });
            }
        }
        LumAppsCommand::Update {
            directory,
            target,
            lang,
            sets,
            common,
        } => {
            let user = locator(&target)?;
            let mut changes = Vec::new();
            for set in &sets {
                let (title, value) = parse_set(set)?;
                changes.push((FieldRef::title(title, lang.clone()), value));
            }
            let client = common.client()?;
            if common.output.dry_run {
                dry(&client
                    .requests()
                    .get_user(&directory, &user)
                    .map_err(CliError::Vendor)?);
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
            let base = common.endpoint.base_url("LUMAPPS_BASE_URL")?;
            let module = client
                .get_directory(&directory, &lang)
                .await
                .map_err(|e| CliError::vendor(e, &base))?;
            let update = client
                .update_fields(&module, &user, &changes)
                .await
                .map_err(|e| CliError::vendor(e, &base))?;
            let titles = titles(&module, &lang);
            print_labelled(&Value::Object(update.user), common.output.output, &|key| {
                titles.get(key).cloned()
            });
        }
    }
    Ok(())
}
