//! `profiles demo`: each vendor's documented story against its built-in emulator.

mod capture;
mod lumapps;
mod sunshine;

use crate::Vendor;

pub(crate) async fn run(vendor: Vendor) -> Result<(), String> {
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
