//! `profiles emulator`: a vendor emulator in the foreground.

use clap::Args;
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
}

pub(crate) async fn run(args: EmulatorArgs) -> Result<(), String> {
    match args.vendor {
        Vendor::Sunshine => {
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
