//! The Zendesk Sunshine walkthrough: the vendor documentation's coolbikes rider.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_core::{HttpTransport, Transport};
use profile_emulator::sunshine::{SEED_API_TOKEN, SEED_EMAIL, SunshineEmulator};
use profile_sunshine::{
    BaseUrl, Identifier, IdentifierQuery, ProfileContent, ProfileUpdate, SunshineAuth,
    SunshineClient,
};
use serde_json::json;

use super::{check, step};
use crate::printing::PrintingTransport;

fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

pub(crate) async fn run() -> Result<(), String> {
    let emulator = SunshineEmulator::start().await.map_err(fail)?;
    say!(
        "Zendesk Sunshine user profiles, against the built-in emulator at {}",
        emulator.base_url()
    );
    say!(
        "(in production the base URL is https://coolbikes.zendesk.com; nothing here leaves the machine)"
    );
    say!();

    let wire: Arc<dyn Transport> = Arc::new(PrintingTransport::new(
        HttpTransport::with_defaults().map_err(fail)?,
    ));
    let client = SunshineClient::builder(
        BaseUrl::parse(&emulator.base_url()).map_err(fail)?,
        SunshineAuth::api_token(SEED_EMAIL, SEED_API_TOKEN),
    )
    .transport(wire)
    .build()
    .map_err(fail)?;
    let rider: IdentifierQuery = "coolbikes:rider:email:jdoe@example.com"
        .parse()
        .map_err(fail)?;

    step(
        1,
        "create the coolbikes rider profile (PUT by identifier; nothing matches, so it is created)",
    );
    let content = ProfileContent::new()
        .name("sunshine_user")
        .identifier(Identifier::new("email", "jdoe@example.com"))
        .attribute("favorite_color", "red")
        .attribute("saddle_height", "85cm");
    let created = client
        .create_or_replace(&rider, &content)
        .await
        .map_err(fail)?;
    check(created.created, "201 Created, a new profile id")?;

    step(
        2,
        "patch name and saddle height (the documentation's PATCH example)",
    );
    let update = ProfileUpdate::new()
        .name("Jane Doe")
        .attribute("saddle_height", "87cm");
    let patched = client
        .patch_profile(&rider.clone().into(), &update)
        .await
        .map_err(fail)?;
    check(
        patched.name.as_deref() == Some("Jane Doe")
            && patched.attributes.get("saddle_height") == Some(&json!("87cm"))
            && patched.attributes.get("favorite_color") == Some(&json!("red")),
        "merged: name and saddle_height changed, favorite_color kept",
    )?;

    step(
        3,
        "patch attributes the profile does not have yet (the documentation's attributes example)",
    );
    let update = ProfileUpdate::new()
        .attributes(json!({"comm_pref": "email", "joined": "2018"}))
        .map_err(fail)?;
    let patched = client
        .patch_profile(&rider.clone().into(), &update)
        .await
        .map_err(fail)?;
    check(
        patched.attributes.len() == 4,
        "comm_pref and joined added; the other attributes unaffected",
    )?;

    step(
        4,
        "replace the profile (the documentation's PUT example): data not sent is gone",
    );
    let replacement = ProfileContent::new()
        .name("Jane Doe")
        .identifier(Identifier::new("email", "jdoe@example.com"))
        .attribute("favorite_color", "red")
        .attribute("saddle_height", "85cm");
    let replaced = client
        .create_or_replace(&rider, &replacement)
        .await
        .map_err(fail)?;
    check(
        !replaced.created
            && replaced.profile.id == created.profile.id
            && replaced.profile.created_at == created.profile.created_at
            && !replaced.profile.attributes.contains_key("comm_pref")
            && !replaced.profile.attributes.contains_key("joined"),
        "200 OK, same id and created_at; comm_pref and joined are gone",
    )?;

    step(5, "read a profile that does not exist");
    let nobody: IdentifierQuery = "coolbikes:rider:email:nobody@example.com"
        .parse()
        .map_err(fail)?;
    let missing = client.get_profile(&nobody.into()).await;
    check(
        missing.as_ref().is_err_and(|e| e.is_not_found()),
        "404 Not Found, reported as a typed not-found error",
    )?;

    say!("Done: every step behaved as the Zendesk documentation says.");
    Ok(())
}
