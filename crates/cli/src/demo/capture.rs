//! The Capture walkthrough: the vendor documentation's three `entity.update` examples.

use profile_core::ClientSettings;
use std::sync::Arc;

use profile_capture::{
    AttributePath, BaseUrl, CaptureAuth, CaptureClient, CaptureErrorKind, EntityLocator,
    EntityRead, EntityUpdate, parse_json_value,
};
use profile_core::{HttpTransport, Transport};
use profile_emulator::capture::{CaptureEmulator, SEED_CLIENT_1, SEED_CLIENT_2};
use serde_json::{Value, json};

use super::{check, step};
use crate::printing::PrintingTransport;

fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn show(label: &str, value: &Value) {
    say!("   {label}:");
    for line in serde_json::to_string_pretty(value)
        .unwrap_or_default()
        .lines()
    {
        say!("     {line}");
    }
    say!();
}

pub(crate) async fn run() -> Result<(), String> {
    let emulator = CaptureEmulator::start().await.map_err(fail)?;
    say!(
        "Akamai Identity Cloud (Janrain Capture), against the built-in emulator at {}",
        emulator.base_url()
    );
    say!(
        "(in production the base URL is https://my-app.janraincapture.com; nothing here leaves the machine)"
    );
    say!();
    let base = BaseUrl::parse(&emulator.base_url()).map_err(fail)?;
    let wire: Arc<dyn Transport> = Arc::new(PrintingTransport::new(
        HttpTransport::with_defaults().map_err(fail)?,
    ));
    // The documentation's examples authenticate with Basic; the second client signs its requests to show the third scheme.
    let client = CaptureClient::builder(
        base.clone(),
        CaptureAuth::basic(SEED_CLIENT_1.0, SEED_CLIENT_1.1),
    )
    .transport(wire.clone())
    .build()
    .map_err(fail)?;
    let signed = CaptureClient::builder(
        base.clone(),
        CaptureAuth::signed(SEED_CLIENT_2.0, SEED_CLIENT_2.1),
    )
    .transport(wire)
    .build()
    .map_err(fail)?;
    let quiet = CaptureClient::builder(base, CaptureAuth::basic(SEED_CLIENT_2.0, SEED_CLIENT_2.1))
        .build()
        .map_err(fail)?;
    let read = |locator: EntityLocator| {
        let quiet = quiet.clone();
        async move {
            quiet
                .entity(&EntityRead::new("user", locator))
                .await
                .map_err(fail)
        }
    };

    step(
        1,
        "update givenName and familyName of the record with uuid 6bbe7e58-… (the documentation's first example)",
    );
    let matt = EntityLocator::uuid("6bbe7e58-bede-41b8-940b-5614c7607a4e");
    let before = read(matt.clone()).await?;
    show("record before", &before);
    let update = EntityUpdate::attributes(
        "user",
        matt.clone(),
        json!({"givenName": "Matt", "familyName": "Parker"}),
    )
    .map_err(fail)?;
    client.update(&update).await.map_err(fail)?;
    let after = read(matt.clone()).await?;
    show("record after", &after);
    check(
        after["givenName"] == "Matt"
            && after["familyName"] == "Parker"
            && after["displayName"] == before["displayName"]
            && after["email"] == before["email"],
        "givenName and familyName changed; attributes not in the call unchanged",
    )?;

    step(
        2,
        "replace element 5253 of the statuses plural of record 5252 (the documentation's second example, signed)",
    );
    let ada = EntityLocator::Id(5252);
    show("statuses before", &read(ada.clone()).await?["statuses"]);
    let path = AttributePath::parse("/statuses#5253").map_err(fail)?;
    let update = EntityUpdate::value_at("user", ada.clone(), path, json!({"status": "active"}));
    signed.update(&update).await.map_err(fail)?;
    let statuses = read(ada).await?["statuses"].clone();
    show("statuses after", &statuses);
    check(
        statuses == json!([{"id": 5253, "status": "active"}]),
        "element 5253 replaced in place; nothing appended",
    )?;

    step(
        3,
        "set displayName of the record whose email is gjack@example.com (the documentation's third example)",
    );
    let broken = r#"{"Gary Jackson"}"#;
    match parse_json_value(broken) {
        Err(e) => say!(
            "   The documentation writes value='{broken}'; that is refused before sending: {e}"
        ),
        Ok(_) => return Err("the documentation's broken value should not parse".to_owned()),
    }
    say!("   It means the JSON string \"Gary Jackson\", which is what is sent.");
    say!();
    let gary = EntityLocator::key("email", "gjack@example.com");
    show("record before", &read(gary.clone()).await?);
    let path = AttributePath::parse("displayName").map_err(fail)?;
    let update = EntityUpdate::value_at("user", gary.clone(), path, json!("Gary Jackson"))
        .include_record(true);
    let outcome = client.update(&update).await.map_err(fail)?;
    let after = read(gary.clone()).await?;
    show("record after", &after);
    check(
        after["displayName"] == "Gary Jackson" && outcome.record.is_some(),
        "displayName set; key_value sent as JSON text (\"gjack@example.com\", quotes kept)",
    )?;

    step(
        4,
        "an update with a stale lastUpdated precondition is refused (optimistic lock)",
    );
    let stale =
        EntityUpdate::attributes("user", gary.clone(), json!({"displayName": "Someone Else"}))
            .map_err(fail)?
            .if_last_updated(profile_emulator::capture::SEED_TIMESTAMP);
    let refused = client.update(&stale).await;
    let kept = read(gary).await?["displayName"] == "Gary Jackson";
    check(
        kept && refused
            .as_ref()
            .is_err_and(|e| CaptureErrorKind::of(e) == Some(CaptureErrorKind::TimestampMismatch)),
        "error 330 timestamp_mismatch; the record keeps \"Gary Jackson\"",
    )?;

    say!("Done: every step behaved as the Capture documentation says.");
    Ok(())
}
