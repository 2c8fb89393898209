//! `profiles`: the profile-toolkit command line.
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// Prints a line to stdout; a closed pipe (`profiles demo | head`) ends the program quietly
/// instead of panicking.
macro_rules! say {
    () => { $crate::write_line(format_args!("")) };
    ($($arg:tt)*) => { $crate::write_line(format_args!($($arg)*)) };
}

mod capture;
mod connect;
mod demo;
mod emulator;
mod error;
mod lumapps;
mod output;
mod printing;
mod report;
mod sunshine;
mod sync;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Keep user profiles up to date in the SaaS tools that hold them.
///
/// `profiles sync` pushes an HR or CRM export (CSV or JSON Lines) into Zendesk Sunshine,
/// Akamai Identity Cloud (Capture) or LumApps every night, writing only what changed and
/// never going past the vendor's limit. `profiles sunshine|capture|lumapps get|update`
/// reads or changes one user; `profiles emulator` runs a local fake of a vendor to rehearse
/// against, and `profiles demo` tells three nights of a sync against it.
///
/// Exit codes: 0 done; 1 the vendor refused or the network failed (a sync: some rows
/// failed); 2 usage, configuration or input (nothing was sent, or the sync did not start);
/// 3 a sync stopped (credentials refused, vendor unreachable; run it again once fixed); 4 a
/// mirror's leavers held by the guard; 5 another run holds the sync's state (--wait waits
/// for it); 130 interrupted by Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "profiles", version, about, long_about)]
struct Cli {
    /// Print errors only: no progress, no summary, no warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Also log each request, attempt and retry decision to stderr (what
    /// `PROFILES_LOG=debug` does; `-vv` is `trace`). Credentials never show.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `-q` was given: only errors are printed.
pub(crate) fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Prints a line to stderr unless `-q`.
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::quiet() {
            $crate::write_note(format_args!($($arg)*));
        }
    };
}
pub(crate) use note;

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
    /// Three nights of an HR sync against a vendor's built-in emulator (joiners, movers,
    /// leavers held by the guard then approved), or with --calls its documented calls one by
    /// one. Nothing leaves the machine.
    Demo {
        /// Which vendor.
        #[arg(long, value_enum, default_value = "sunshine")]
        vendor: Vendor,
        /// Walk through the vendor's documented calls one by one instead, printing every
        /// request and response.
        #[arg(long)]
        calls: bool,
    },
    /// Run a vendor's emulator in the foreground for your own tests, until Ctrl-C.
    Emulator(emulator::EmulatorArgs),
    /// Push a CSV or JSON Lines export into one vendor: only what changed is written.
    Sync(Box<sync::SyncArgs>),
    /// Write one self-contained HTML page of the nights a state database holds: per scope,
    /// the last runs as a chart and a table (requests sent, duration), the latest night's
    /// failed rows with their reasons, changes per field, leavers, guard holds and drift.
    Report {
        /// The state database.
        #[arg(long, value_name = "FILE")]
        state: std::path::PathBuf,
        /// The page to write (readable by you alone, as the state is).
        #[arg(long, value_name = "PAGE.html")]
        out: std::path::PathBuf,
        /// How many runs of each scope, newest first.
        #[arg(long, value_name = "N", default_value_t = 30)]
        runs: usize,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// One Zendesk Sunshine profile.
    #[command(subcommand)]
    Sunshine(sunshine::SunshineCommand),
    /// One Capture record.
    #[command(subcommand)]
    Capture(capture::CaptureCommand),
    /// One LumApps directory user.
    #[command(subcommand)]
    Lumapps(lumapps::LumAppsCommand),
}

/// What the CLI knows of a vendor beyond its own module: one entry each.
pub(crate) struct VendorEntry {
    /// The vendor's name, as `--vendor` and the mapping file's section say it.
    pub(crate) name: &'static str,
    /// The variable holding its base URL.
    pub(crate) base_url_var: &'static str,
    /// The settings that address its records (mapping file keys and sync flags), each
    /// with its default.
    pub(crate) scope: &'static [(&'static str, &'static str)],
    /// Said of a joiner in a dry run.
    pub(crate) create_note: &'static str,
}

const SUNSHINE: VendorEntry = VendorEntry {
    name: "sunshine",
    base_url_var: "ZENDESK_BASE_URL",
    scope: &[("source", ""), ("type", "")],
    create_note: " (the first profile of someone Zendesk does not know creates a Zendesk user too)",
};
const CAPTURE: VendorEntry = VendorEntry {
    name: "capture",
    base_url_var: "CAPTURE_BASE_URL",
    scope: &[("type_name", "user")],
    create_note: "",
};
const LUMAPPS: VendorEntry = VendorEntry {
    name: "lumapps",
    base_url_var: "LUMAPPS_BASE_URL",
    scope: &[("directory", ""), ("lang", "en")],
    create_note: "",
};

impl VendorEntry {
    /// The state's name of a scope: its settings (the language of titles left out: it
    /// does not address records), `;`-separated.
    pub(crate) fn scope_name(&self, scope: &profile_sync::mapping::Scope) -> String {
        self.scope
            .iter()
            .filter(|(name, _)| *name != "lang")
            .map(|(name, default)| format!("{name}={}", scope.get(name).unwrap_or(default)))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Refuses a setting that is not this vendor's.
    pub(crate) fn check_scope(
        &self,
        scope: &profile_sync::mapping::Scope,
    ) -> Result<(), error::CliError> {
        match scope
            .names()
            .find(|name| !self.scope.iter().any(|(known, _)| known == name))
        {
            Some(name) => Err(error::CliError::Usage(format!(
                "mapping file: [{}] has no setting `{name}`; its settings are key, key_kind, mode, leavers, fields, {}",
                self.name,
                self.scope
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            None => Ok(()),
        }
    }
}

impl Vendor {
    pub(crate) fn entry(self) -> &'static VendorEntry {
        match self {
            Vendor::Sunshine => &SUNSHINE,
            Vendor::Capture => &CAPTURE,
            Vendor::Lumapps => &LUMAPPS,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        self.entry().name
    }
}

/// Text from an export or a vendor as it is printed: control characters (an ANSI escape
/// that would rewrite the terminal, a carriage return that would hide a line) are shown
/// escaped; line ends and tabs stay.
pub(crate) fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

pub(crate) fn write_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", printable(&args.to_string())).is_err() {
        std::process::exit(0);
    }
}

/// A line on stderr, its control characters escaped.
pub(crate) fn write_note(args: std::fmt::Arguments<'_>) {
    eprintln!("{}", printable(&args.to_string()));
}

/// Logs to standard error at the level named by `PROFILES_LOG` (`error` … `trace`), if set.
/// Credentials never show: requests carry them as redacted values.
fn init_logging(verbose: u8) {
    let level = match (std::env::var("PROFILES_LOG"), verbose) {
        (Ok(level), _) => level,
        (Err(_), 0) => return,
        (Err(_), 1) => "debug".to_owned(),
        (Err(_), _) => "trace".to_owned(),
    };
    match level.parse::<tracing_subscriber::filter::LevelFilter>() {
        Ok(level) => tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(level)
            .with_ansi(false)
            .init(),
        Err(_) => eprintln!(
            "warning: PROFILES_LOG={level} is not a level (error, warn, info, debug, trace); not logging"
        ),
    }
}

/// The command line, each vendor's commands naming that vendor's variables only (the
/// flags they share are written once, for every vendor).
fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut command = Cli::command();
    for (vendor, base_url, client) in [
        ("sunshine", "ZENDESK_BASE_URL", None),
        ("capture", "CAPTURE_BASE_URL", Some("CAPTURE")),
        ("lumapps", "LUMAPPS_BASE_URL", Some("LUMAPPS")),
    ] {
        command = command.mut_subcommand(vendor, |group| {
            let names: Vec<String> = group
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .collect();
            names.into_iter().fold(group, |group, name| {
                group.mut_subcommand(name, |mut one| {
                    let has = |one: &clap::Command, id: &str| {
                        one.get_arguments().any(|a| a.get_id() == id)
                    };
                    if has(&one, "base_url") {
                        one = one.mut_arg("base_url", |a| {
                            a.help(format!("The vendor's base URL (env: {base_url})"))
                        });
                    }
                    if let Some(prefix) = client.filter(|_| has(&one, "client_id")) {
                        one = one
                            .mut_arg("client_id", |a| {
                                a.help(format!("The API client id (env: {prefix}_CLIENT_ID)"))
                            })
                            .mut_arg("client_secret", |a| {
                                a.help(format!("The client secret (env: {prefix}_CLIENT_SECRET)"))
                            });
                    }
                    one
                })
            })
        });
    }
    command
}

/// The binary's allocator. A sync is thousands of small requests and JSON values a second;
/// with mimalloc the client spends about 12% less CPU on a night than with glibc's malloc,
/// whose frees and consolidations were a fifth of its profile. It is built without
/// transparent huge pages (the `no_thp` feature): each huge page's first touch had the
/// kernel zero 2 MiB while the night's one thread waited.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    use clap::FromArgMatches;
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    init_logging(cli.verbose);
    // The emulators serve other processes' tests: every core. The clients run on one
    // thread: a sync is all waiting on the network (its rows share one task, and the
    // connections' tasks are woken by the same thread), so a second thread only adds
    // hand-offs between the two: measured, 20–25% more CPU a row (the bulk benchmark
    // runs its bare loop on both runtimes).
    let runtime = match cli.command {
        Command::Emulator(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    };
    match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Demo { vendor, calls } => demo::run(vendor, calls)
            .await
            .map_err(error::CliError::Failed),
        Command::Emulator(args) => emulator::run(args).await,
        Command::Report { state, out, runs } => report::run(&state, &out, runs).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "profiles", &mut std::io::stdout());
            Ok(())
        }
        Command::Sunshine(command) => sunshine::run(command).await,
        Command::Capture(command) => capture::run(command).await,
        Command::Lumapps(command) => lumapps::run(command).await,
        // A sync that ran exits 1 when some rows failed.
        Command::Sync(args) => match sync::run(*args).await {
            Ok(false) => return ExitCode::from(1),
            Ok(true) => Ok(()),
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", printable(&error.report()));
            ExitCode::from(error.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
        super::command().debug_assert();
    }

    #[test]
    fn control_characters_are_printed_escaped_and_line_ends_kept() {
        assert_eq!(
            super::printable("rider\u{1b}[2J\r\u{0}@x\nnext\tcell"),
            "rider\\u{1b}[2J\\r\\u{0}@x\nnext\tcell"
        );
        assert!(matches!(
            super::printable("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn each_vendor_command_names_its_own_variables_only() {
        let mut command = super::command();
        for (vendor, own, others) in [
            ("sunshine", "ZENDESK_BASE_URL", ["CAPTURE_", "LUMAPPS_"]),
            ("capture", "CAPTURE_CLIENT_ID", ["ZENDESK_", "LUMAPPS_"]),
            ("lumapps", "LUMAPPS_CLIENT_SECRET", ["ZENDESK_", "CAPTURE_"]),
        ] {
            let get = command
                .find_subcommand_mut(vendor)
                .and_then(|c| c.find_subcommand_mut("get"))
                .unwrap();
            let help = get.render_help().to_string();
            assert!(help.contains(own), "{vendor}: {help}");
            for other in others {
                assert!(!help.contains(other), "{vendor} names {other}: {help}");
            }
        }
    }
}
