//! `gatewatch-cli`: `probe` (a timed stability test with a pass/fail exit code) and `watch`.

use std::io::IsTerminal;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use gatewatch_cli::{Target, probe, watch};

/// Headless Gatewatch for TWS and IB Gateway.
#[derive(Debug, Parser)]
#[command(version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes:
  0  probe: everything held; watch: stopped by Ctrl-C or SIGTERM
  1  probe: something fell short, or the probe was interrupted (its report says what)
  2  a flag or the settings are invalid";

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect, ping once a second and fetch data for a while, then report; exits 1 when
    /// anything fell short (lost pings, failed fetches, restarts, drops, CLOSE_WAIT sockets
    /// held by the gateway or by Gatewatch; other clients' are reported, not failed).
    /// Ctrl-C or SIGTERM ends it early: the report so far is printed, and it exits 1.
    #[command(after_help = EXIT_CODES)]
    Probe {
        #[command(flatten)]
        target: TargetArgs,
        /// How long to probe (e.g. 30s, 2m; at least 1 ms, at most 7 days).
        #[arg(long, default_value = "2m", value_parser = parse_duration)]
        duration: Duration,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print state changes and a latency line until Ctrl-C or SIGTERM.
    #[command(after_help = EXIT_CODES)]
    Watch {
        #[command(flatten)]
        target: TargetArgs,
        /// Time between latency lines (at least 1 ms, at most 7 days).
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        every: Duration,
        /// Print JSON lines (each with a `text` field that says what the text output says).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// Gateway host.
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_host)]
    host: String,
    /// API port: 4001/4002 IB Gateway live/paper, 7496/7497 TWS live/paper.
    #[arg(long, default_value_t = 4002, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// Client id for the monitor (0 to 2147483647); keep it apart from your bots' ids.
    #[arg(long, default_value_t = 901, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(0..))]
    client_id: i32,
    /// Tried once when the client id is in use (error 326); default: the client id + 1.
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(0..))]
    fallback_client_id: Option<i32>,
}

/// The longest duration the command line takes.
const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if duration < Duration::from_millis(1) {
        return Err("must be at least 1 ms".into());
    }
    if duration > MAX_DURATION {
        return Err("must be at most 7 days".into());
    }
    Ok(duration)
}

fn parse_host(text: &str) -> Result<String, String> {
    let host = text.trim();
    if host.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(host.to_owned())
    }
}

impl TryFrom<TargetArgs> for Target {
    type Error = anyhow::Error;

    fn try_from(args: TargetArgs) -> anyhow::Result<Self> {
        let fallback_client_id = match args.fallback_client_id {
            Some(id) if id == args.client_id => {
                anyhow::bail!("--fallback-client-id must differ from --client-id")
            }
            Some(id) => Some(id),
            None => args.client_id.checked_add(1),
        };
        Ok(Target {
            host: args.host,
            port: args.port,
            client_id: args.client_id,
            fallback_client_id,
        })
    }
}

/// Resolves at the first SIGINT (Ctrl-C) or SIGTERM.
async fn stop_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEWATCH_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
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
            let config = Target::try_from(target)?.config();
            let report = probe::run(config, duration, stop_signal()).await?;
            let text = if json {
                serde_json::to_string_pretty(&report)?
            } else {
                report.to_text()
            };
            gatewatch_cli::say(text.trim_end());
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
            let config = Target::try_from(target)?.config();
            watch::run(config, every, json, stop_signal()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
