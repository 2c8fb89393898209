//! `profiles emulator`: a vendor emulator in the foreground.

use clap::Args;
use profile_emulator::capture::{CaptureConfig, CaptureEmulator};
use profile_emulator::lumapps::{LumAppsConfig, LumAppsEmulator};
use profile_emulator::sunshine::{SunshineConfig, SunshineEmulator};

use crate::Vendor;

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// Which vendor to emulate.
    #[arg(long, value_enum)]
    vendor: Vendor,
    /// The port on 127.0.0.1 (0 picks a free one; the line printed at start says which).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Accept this Zendesk API token, as EMAIL:TOKEN (repeatable). Without any, the seed's
    /// example credential devs@coolbikes.com / 6wiIBW… is accepted.
    #[arg(long = "api-token", value_name = "EMAIL:TOKEN")]
    api_tokens: Vec<String>,
    /// Accept this OAuth bearer token (repeatable).
    #[arg(long = "bearer-token", value_name = "TOKEN")]
    bearer_tokens: Vec<String>,
    /// Capture and LumApps: also accept this API client, as CLIENT_ID:CLIENT_SECRET
    /// (repeatable; the seed's clients, and LumApps' demo-client, are always accepted).
    #[arg(long = "client", value_name = "ID:SECRET")]
    clients: Vec<String>,
    /// Capture: also accept this OAuth access token (repeatable).
    #[arg(long = "access-token", value_name = "TOKEN")]
    access_tokens: Vec<String>,
    /// LumApps: also accept this bearer token (repeatable; `demo-token` always works).
    #[arg(long = "token", value_name = "TOKEN")]
    tokens: Vec<String>,
    /// LumApps: add this many synthetic users to the directory, generated on demand.
    #[arg(long = "users", value_name = "N", default_value_t = 0)]
    users: u64,
}

fn refuse_foreign(flag: &str, given: bool, vendor: &str) -> Result<(), String> {
    if given {
        Err(format!("{flag} does not apply to --vendor {vendor}"))
    } else {
        Ok(())
    }
}

pub(crate) async fn run(args: EmulatorArgs) -> Result<(), String> {
    match args.vendor {
        Vendor::Lumapps => {
            refuse_foreign("--api-token", !args.api_tokens.is_empty(), "lumapps")?;
            refuse_foreign("--bearer-token", !args.bearer_tokens.is_empty(), "lumapps")?;
            refuse_foreign("--access-token", !args.access_tokens.is_empty(), "lumapps")?;
            let mut config = LumAppsConfig::default().synthetic_users(args.users);
            for token in &args.tokens {
                config = config.token(token.clone());
            }
            for pair in &args.clients {
                let (id, secret) = pair
                    .split_once(':')
                    .ok_or_else(|| "--client takes CLIENT_ID:CLIENT_SECRET".to_owned())?;
                config = config.client(id, secret);
            }
            let emulator =
                LumAppsEmulator::start_with(config, profile_emulator::loopback(args.port))
                    .await
                    .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
            say!("listening on {}", emulator.base_url());
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Ok(()),
                () = emulator.wait() => Err("the emulator stopped".to_owned()),
            }
        }
        Vendor::Capture => {
            refuse_foreign("--token", !args.tokens.is_empty(), "capture")?;
            refuse_foreign("--users", args.users > 0, "capture")?;
            refuse_foreign("--api-token", !args.api_tokens.is_empty(), "capture")?;
            refuse_foreign("--bearer-token", !args.bearer_tokens.is_empty(), "capture")?;
            let mut config = CaptureConfig::default();
            for pair in &args.clients {
                let (id, secret) = pair
                    .split_once(':')
                    .ok_or_else(|| "--client takes CLIENT_ID:CLIENT_SECRET".to_owned())?;
                config = config.client(id, secret);
            }
            for token in &args.access_tokens {
                config = config.access_token(token.clone());
            }
            let emulator =
                CaptureEmulator::start_with(config, profile_emulator::loopback(args.port))
                    .await
                    .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
            say!("listening on {}", emulator.base_url());
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Ok(()),
                () = emulator.wait() => Err("the emulator stopped".to_owned()),
            }
        }
        Vendor::Sunshine => {
            refuse_foreign("--token", !args.tokens.is_empty(), "sunshine")?;
            refuse_foreign("--users", args.users > 0, "sunshine")?;
            refuse_foreign("--client", !args.clients.is_empty(), "sunshine")?;
            refuse_foreign("--access-token", !args.access_tokens.is_empty(), "sunshine")?;
            let mut config = if args.api_tokens.is_empty() && args.bearer_tokens.is_empty() {
                SunshineConfig::default()
            } else {
                SunshineConfig::without_credentials()
            };
            for pair in &args.api_tokens {
                let (email, token) = pair
                    .split_once(':')
                    .ok_or_else(|| "--api-token takes EMAIL:TOKEN".to_owned())?;
                config = config.api_token(email, token);
            }
            for token in &args.bearer_tokens {
                config = config.bearer_token(token.clone());
            }
            let emulator =
                SunshineEmulator::start_with(config, profile_emulator::loopback(args.port))
                    .await
                    .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
            say!("listening on {}", emulator.base_url());
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Ok(()),
                () = emulator.wait() => Err("the emulator stopped".to_owned()),
            }
        }
    }
}
