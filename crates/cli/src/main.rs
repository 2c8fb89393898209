//! `profiles`: the profile-toolkit command line.
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// Prints a line to stdout; a closed pipe (`profiles demo | head`) ends the program quietly
/// instead of panicking.
macro_rules! say {
    () => { $crate::write_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::write_line(format_args!($($arg)*)) };
}

mod demo;
mod emulator;
mod printing;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Keep user profiles up to date in the SaaS tools that hold them.
#[derive(Debug, Parser)]
#[command(name = "profiles", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The vendors this build speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Vendor {
    /// Zendesk Sunshine user profiles.
    Sunshine,
    /// Akamai Identity Cloud (Janrain Capture) user records.
    Capture,
    /// LumApps user directories.
    Lumapps,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Walk through a vendor's documented story against its built-in emulator, printing every
    /// request and response. Nothing leaves the machine.
    Demo {
        /// Which vendor's walkthrough.
        #[arg(long, value_enum, default_value = "sunshine")]
        vendor: Vendor,
    },
    /// Run a vendor's emulator in the foreground for your own tests, until Ctrl-C.
    Emulator(emulator::EmulatorArgs),
}

pub(crate) fn write_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{args}").is_err() {
        std::process::exit(0);
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { vendor } => demo::run(vendor).await,
        Command::Emulator(args) => emulator::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
