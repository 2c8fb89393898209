//! The LumApps walkthrough: the vendor documentation's user directory and custom fields.

use profile_core::ClientSettings;
use std::sync::Arc;

use futures_util::TryStreamExt;
use profile_core::{HttpTransport, Transport};
use profile_emulator::lumapps::{DEMO_CLIENT, LumAppsEmulator, SEED_CUSTOMER, SEED_INSTANCE};
use profile_lumapps::{
    BaseUrl, DirectoryModule, FieldRef, LumAppsAuth, LumAppsClient, StoredAt, UserLocator,
};
use serde_json::json;

use super::{check, step};
use crate::printing::PrintingTransport;

fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub(crate) async fn run() -> Result<(), String> {
    let emulator = LumAppsEmulator::start().await.map_err(fail)?;
    say!(
        "LumApps user directories, against the built-in emulator at {}",
        emulator.base_url()
    );
    say!(
        "(in production the base URL is your cell, https://go-cell-001.api.lumapps.com; nothing here leaves the machine)"
    );
    say!();
    let wire: Arc<dyn Transport> = Arc::new(PrintingTransport::new(
        HttpTransport::with_defaults().map_err(fail)?,
    ));
    // The application-token exchange, then bearer calls.
    let client = LumAppsClient::builder(
        BaseUrl::parse(&emulator.base_url()).map_err(fail)?,
        LumAppsAuth::application(
            SEED_CUSTOMER,
            DEMO_CLIENT.0,
            DEMO_CLIENT.1,
            "me@customer.com",
        ),
    )
    .transport(wire)
    .build()
    .map_err(fail)?;

    step(
        1,
        "find the instance's user directory modules (content/list, as the documentation does)",
    );
    let directories: Vec<DirectoryModule> = client
        .list_directories(SEED_INSTANCE, "en")
        .try_collect()
        .await
        .map_err(fail)?;
    let Some(directory) = directories.first() else {
        return Err("no user directory found".to_owned());
    };
    check(
        directories.len() == 1 && directory.id == "6486401110769664",
        "one user directory module, 6486401110769664 (its uid is the contentId of every call)",
    )?;

    step(2, "its profile fields, from template.components");
    for field in directory.schema.fields() {
        let place = match &field.bound_path {
            Some(path) => format!("bound: kept under apiProfile at {path}"),
            None => format!("kept under customProfile.{}", field.uuid),
        };
        say!(
            "   {:<14} {}  {place}",
            field.title("en").unwrap_or("?"),
            field.uuid
        );
    }
    say!();
    check(
        directory.schema.fields().len() == 2,
        "\"Title\" (bound) and \"Phone Number\" (only titled in fr)",
    )?;

    step(
        3,
        "set Title and Phone Number of me@customer.com by their titles: get the user, change two fields, save",
    );
    let me = UserLocator::Email("me@customer.com".into());
    let update = client
        .update_fields(
            directory,
            &me,
            &[
                (FieldRef::title("Title", "en"), json!("Support Leader")),
                (
                    FieldRef::title("Phone Number", "en"),
                    json!("00 11 22 33 44 55 66"),
                ),
            ],
        )
        .await
        .map_err(fail)?;

    step(4, "where each value was stored");
    for (uuid, at) in &update.stored {
        let Some(field) = directory.schema.fields().iter().find(|f| f.uuid == *uuid) else {
            continue;
        };
        let place = match at {
            StoredAt::ApiProfile { path } => format!("apiProfile.{}", path.replace('/', ".")),
            StoredAt::CustomProfile { uuid } => format!("customProfile.{uuid}"),
            _ => "elsewhere".to_owned(),
        };
        let value = field
            .value_in(&update.user)
            .map(ToString::to_string)
            .unwrap_or_default();
        say!(
            "   {:<14} ({uuid}) -> {place} = {value}",
            field.title("en").unwrap_or("?")
        );
    }
    say!();
    let stored = emulator.user("me@customer.com").ok_or("the user is gone")?;
    check(
        stored["apiProfile"]["organizations"]["title"] == "Support Leader"
            && stored["customProfile"]["b72127e4-867a-4aba-a843-70c11dc599ef"]
                == "00 11 22 33 44 55 66"
            && stored["settings"] == json!({"social": {"twitter": "@morgan"}}),
        "bound Title under apiProfile, Phone Number under customProfile; every other property kept",
    )?;

    say!("Done: every step behaved as the LumApps documentation says.");
    Ok(())
}
