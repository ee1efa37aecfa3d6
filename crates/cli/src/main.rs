//! `gatewatch-cli`: `probe` (a timed stability test with a pass/fail exit code) and `watch`.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use gatewatch_cli::{Target, probe, watch};

/// Headless Gatewatch for TWS and IB Gateway.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect, ping once a second and fetch data for a while, then report; exits 1 when
    /// anything fell short (lost pings, failed fetches, restarts, drops, CLOSE_WAIT sockets).
    Probe {
        #[command(flatten)]
        target: TargetArgs,
        /// How long to probe (e.g. 30s, 2m).
        #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
        duration: Duration,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print state changes and a latency line until Ctrl-C.
    Watch {
        #[command(flatten)]
        target: TargetArgs,
        /// Time between latency lines.
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        every: Duration,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// Gateway host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// API port: 4001/4002 IB Gateway live/paper, 7496/7497 TWS live/paper.
    #[arg(long, default_value_t = 4002)]
    port: u16,
    /// Client id for the monitor (the next id is the fallback on 326).
    #[arg(long, default_value_t = 901)]
    client_id: i32,
}

impl From<TargetArgs> for Target {
    fn from(args: TargetArgs) -> Self {
        Target {
            host: args.host,
            port: args.port,
            client_id: args.client_id,
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEWATCH_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("gatewatch-cli: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Probe {
            target,
            duration,
            json,
        } => {
            let report = probe::run(Target::from(target).config(), duration).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(if report.passed() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            })
        }
        Command::Watch {
            target,
            every,
            json,
        } => {
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            watch::run(Target::from(target).config(), every, json, stop).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
