//! `profiles emulator`: a vendor emulator in the foreground.

use clap::Args;
use profile_emulator::capture::{CaptureConfig, CaptureEmulator};
use profile_emulator::lumapps::{LumAppsConfig, LumAppsEmulator, SEED_DIRECTORY};
use profile_emulator::sunshine::{SunshineConfig, SunshineEmulator, SunshinePlan};

use crate::Vendor;
use crate::connect::refuse_foreign;
use crate::error::CliError;

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// Which vendor to emulate.
    #[arg(long, value_enum)]
    vendor: Vendor,
    /// The port on 127.0.0.1 (0 picks a free one; the line printed at start says which).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Accept this Zendesk API token, as EMAIL:TOKEN (repeatable). Without any, the documentation's
    /// example credential devs@coolbikes.com / 6wiIBW… is accepted.
    #[arg(long = "api-token", value_name = "EMAIL:TOKEN")]
    api_tokens: Vec<String>,
    /// Accept this OAuth bearer token (repeatable).
    #[arg(long = "bearer-token", value_name = "TOKEN")]
    bearer_tokens: Vec<String>,
    /// Capture and LumApps: also accept this API client, as CLIENT_ID:CLIENT_SECRET
    /// (repeatable; the documentation's clients, and LumApps' demo-client, are always accepted).
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
    /// Load records at start from a JSON file holding an array: Sunshine profiles
    /// (`{"source", "type", "identifiers", "attributes", "name"}`), Capture `user`
    /// attribute objects, or LumApps users (objects with an `email`).
    #[arg(long, value_name = "FILE")]
    seed: Option<std::path::PathBuf>,
    /// Capture: the entity type to serve, from a JSON file of the shape `entityType`
    /// answers (`{"schema": {"name": "user", "attr_defs": [...]}}`), so that you rehearse
    /// with your own attributes; the documentation's records are then not loaded.
    #[arg(long, value_name = "FILE")]
    schema: Option<std::path::PathBuf>,
    /// Fault: add this latency to every request, in milliseconds (0: none).
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// Accept at most N requests in any 60 seconds; answer the rest 429 with Retry-After.
    /// Sunshine also announces it in its rate-limit headers, as `--plan` does.
    #[arg(long, value_name = "N/min", value_parser = parse_per_minute)]
    rate_limit: Option<u32>,
    /// Sunshine: announce and enforce a Zendesk plan's profiles limit: team and growth 250,
    /// professional 500, enterprise 700, enterprise-plus 1,000 requests a minute. Without
    /// it, 700 is announced and nothing enforced.
    #[arg(long, value_enum, conflicts_with = "rate_limit")]
    plan: Option<Plan>,
    /// Fault: fail the first N requests with --fail-status.
    #[arg(long, value_name = "N", default_value_t = 0)]
    fail_first: usize,
    /// The status of --fail-first.
    #[arg(long, value_name = "STATUS", default_value_t = 503)]
    fail_status: u16,
    /// Fault: draw a fault at random for every request, from this seed: 10% 503, 5% 429
    /// with Retry-After 1, 2% dropped after the write, 2% answered after 2 s, 2% answered
    /// with half a body.
    #[arg(long, value_name = "SEED")]
    chaos: Option<u64>,
}

/// Zendesk's plans, for `--plan`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Plan {
    Team,
    Growth,
    Professional,
    Enterprise,
    EnterprisePlus,
}

impl From<Plan> for SunshinePlan {
    fn from(plan: Plan) -> Self {
        match plan {
            Plan::Team => SunshinePlan::Team,
            Plan::Growth => SunshinePlan::Growth,
            Plan::Professional => SunshinePlan::Professional,
            Plan::Enterprise => SunshinePlan::Enterprise,
            Plan::EnterprisePlus => SunshinePlan::EnterprisePlus,
        }
    }
}

fn parse_per_minute(text: &str) -> Result<u32, String> {
    text.trim_end_matches("/min")
        .parse()
        .map_err(|_| format!("`{text}` is not a rate; write it as N or N/min"))
}

fn read_seed(path: &Option<std::path::PathBuf>) -> Result<Vec<serde_json::Value>, String> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match serde_json::from_slice(&text) {
        Ok(serde_json::Value::Array(items)) => Ok(items),
        Ok(_) => Err(format!("{} must hold a JSON array", path.display())),
        Err(e) => Err(format!("{} is not JSON: {e}", path.display())),
    }
}

/// Applies the standing faults, says where it listens and what it holds, and serves until
/// Ctrl-C.
async fn serve<S>(
    emulator: profile_emulator::Emulator<S>,
    args: &EmulatorArgs,
    holding: String,
) -> Result<(), String> {
    apply_faults(emulator.faults(), args);
    say!("listening on {}", emulator.base_url());
    // On stderr: the first line of stdout is the one scripts read, and they may close it.
    eprintln!("holding {holding}");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        () = emulator.wait() => Err("the emulator stopped".to_owned()),
    }
}

fn apply_faults(faults: &profile_emulator::FaultController, args: &EmulatorArgs) {
    if let Some(ms) = args.latency_ms {
        faults.set_latency(Some(std::time::Duration::from_millis(ms)));
    }
    // Sunshine enforces its own limit, announced in its headers.
    if args.vendor != Vendor::Sunshine {
        faults.set_rate_limit_per_minute(args.rate_limit);
    }
    if args.fail_first > 0 {
        faults.fail_next(args.fail_first, args.fail_status);
    }
    faults.set_random(args.chaos.map(profile_emulator::RandomFaults::typical));
}

pub(crate) async fn run(args: EmulatorArgs) -> Result<(), CliError> {
    match args.vendor {
        Vendor::Lumapps => {
            refuse_foreign("--plan", args.plan.is_some(), "lumapps")?;
            refuse_foreign("--schema", args.schema.is_some(), "lumapps")?;
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
                    .map_err(|e| {
                        CliError::Failed(format!("cannot listen on 127.0.0.1:{}: {e}", args.port))
                    })?;
            let seeded = emulator.seed(&read_seed(&args.seed)?)?;
            let holding = format!(
                "{} users in directory {SEED_DIRECTORY}: me@customer.com, {} synthetic, {seeded} from --seed",
                1 + args.users + seeded as u64,
                args.users
            );
            serve(emulator, &args, holding)
                .await
                .map_err(CliError::Failed)
        }
        Vendor::Capture => {
            refuse_foreign("--plan", args.plan.is_some(), "capture")?;
            refuse_foreign("--token", !args.tokens.is_empty(), "capture")?;
            refuse_foreign("--users", args.users > 0, "capture")?;
            refuse_foreign("--api-token", !args.api_tokens.is_empty(), "capture")?;
            refuse_foreign("--bearer-token", !args.bearer_tokens.is_empty(), "capture")?;
            let mut config = CaptureConfig::default();
            let mut type_name = "user".to_owned();
            if let Some(path) = &args.schema {
                let text = std::fs::read(path)
                    .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
                let description: serde_json::Value = serde_json::from_slice(&text)
                    .map_err(|e| CliError::Usage(format!("{} is not JSON: {e}", path.display())))?;
                config = config
                    .schema_from_entity_type(&description)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
                if let Some(name) = description
                    .pointer("/schema/name")
                    .or_else(|| description.get("name"))
                    .and_then(serde_json::Value::as_str)
                {
                    type_name = name.to_owned();
                }
            }
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
                    .map_err(|e| {
                        CliError::Failed(format!("cannot listen on 127.0.0.1:{}: {e}", args.port))
                    })?;
            emulator.seed(&type_name, &read_seed(&args.seed)?)?;
            let holding = format!(
                "{} `{type_name}` records",
                emulator.records(&type_name).len()
            );
            serve(emulator, &args, holding)
                .await
                .map_err(CliError::Failed)
        }
        Vendor::Sunshine => {
            refuse_foreign("--schema", args.schema.is_some(), "sunshine")?;
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
            if let Some(plan) = args.plan {
                config = config.plan(plan.into());
            }
            if let Some(per_minute) = args.rate_limit {
                config = config.rate_limit_per_minute(per_minute);
            }
            let emulator =
                SunshineEmulator::start_with(config, profile_emulator::loopback(args.port))
                    .await
                    .map_err(|e| {
                        CliError::Failed(format!("cannot listen on 127.0.0.1:{}: {e}", args.port))
                    })?;
            emulator.seed(&read_seed(&args.seed)?)?;
            let holding = format!("{} profiles", emulator.profiles().len());
            serve(emulator, &args, holding)
                .await
                .map_err(CliError::Failed)
        }
    }
}
