//! `profiles demo`: three nights of a sync against the built-in emulator, or with
//! `--calls`, each vendor's documented calls one by one.

mod capture;
mod lumapps;
mod nights;
mod sunshine;

use crate::Vendor;

pub(crate) async fn run(vendor: Vendor, calls: bool) -> Result<(), String> {
    if !calls {
        return nights::run(vendor).await;
    }
    match vendor {
        Vendor::Sunshine => sunshine::run().await,
        Vendor::Capture => capture::run().await,
        Vendor::Lumapps => lumapps::run().await,
    }
}

/// Prints a step's title.
fn step(number: u32, title: &str) {
    say!("== Step {number}: {title}");
    say!();
}

/// Checks what the vendor documents; the demo fails if it does not hold.
fn check(holds: bool, what: &str) -> Result<(), String> {
    if holds {
        say!("   ok: {what}");
        say!();
        Ok(())
    } else {
        Err(format!("expected: {what}"))
    }
}
