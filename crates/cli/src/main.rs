//! `gatewatch-cli`: `probe` (a timed stability test with a pass/fail exit code) and `watch`,
//! of a gateway given by flags or by its profile name in the desktop app's settings.

use std::io::IsTerminal;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use gatewatch_cli::profiles::{self, NamedTarget};
use gatewatch_cli::{Target, probe, watch};
use gatewatch_supervisor::SupervisorConfig;

/// Headless Gatewatch for TWS and IB Gateway.
#[derive(Debug, Parser)]
#[command(version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes:
  0  probe: everything held (with --all: on every gateway); watch, serve: stopped by Ctrl-C or SIGTERM
  1  probe: something fell short, or the probe was interrupted (its report says what)
  2  a flag or the settings are invalid, or no profile has the name given";

/// How the service writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per line.
    Json,
}

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
        /// Probe every enabled profile of the settings file at once: one report per gateway,
        /// and exit 0 only when every one passed.
        #[arg(long, conflicts_with_all = ["profile", "host", "port", "client_id", "fallback_client_id"])]
        all: bool,
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
    /// Watches every enabled profile of a settings file without a window, writing the same
    /// history database as the desktop app, until SIGTERM or SIGINT (workers stopped, history
    /// written), and serves /metrics, /healthz, /readyz and /api/v1/* over HTTP. Logs to
    /// stderr. Exits 2 for a settings file or an address that cannot be used.
    Serve {
        /// The settings file; default: the desktop app's. Only read.
        #[arg(long, value_name = "FILE")]
        settings: Option<std::path::PathBuf>,
        /// The history database; default: the desktop app's
        /// (~/.local/share/gatewatch/history.db on Linux).
        #[arg(long, value_name = "FILE")]
        db: Option<std::path::PathBuf>,
        /// Log lines as text or as JSON objects.
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
        /// Where the HTTP endpoints listen. Anything but loopback needs --token or
        /// --insecure-no-auth.
        #[arg(long, value_name = "ADDR", default_value = gatewatch_endpoints::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// A file whose first line is the bearer token every request but /healthz must carry.
        #[arg(long, value_name = "FILE")]
        token: Option<std::path::PathBuf>,
        /// Serve a non-loopback address without a token (a firewall keeps others out).
        #[arg(long, conflicts_with = "token")]
        insecure_no_auth: bool,
    },
    /// What the history database holds for one gateway profile: its incidents and its
    /// uptime per day (unexpected downtime only), since a time ago. Only reads.
    #[command(after_help = EXIT_CODES)]
    History {
        /// The gateway profile, by its name.
        #[arg(long, value_name = "NAME")]
        profile: String,
        /// The settings file; default: the desktop app's. Only read.
        #[arg(long, value_name = "FILE")]
        settings: Option<std::path::PathBuf>,
        /// The history database; default: the desktop app's
        /// (~/.local/share/gatewatch/history.db on Linux).
        #[arg(long, value_name = "FILE")]
        db: Option<std::path::PathBuf>,
        /// How far back (e.g. 24h, 7d).
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        since: Duration,
        /// JSON instead of text.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// The incidents as CSV instead of text.
        #[arg(long)]
        csv: bool,
        /// Per-minute latency (count, lost, min, p50, p95, p99, max) instead of the
        /// incidents, with --csv or --json.
        #[arg(long)]
        latency: bool,
    },
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// A gateway profile of the settings file, by its name (e.g. "TWS live"), instead of
    /// --host, --port and the client ids; its own monitoring settings apply.
    #[arg(long, value_name = "NAME",
          conflicts_with_all = ["host", "port", "client_id", "fallback_client_id"])]
    profile: Option<String>,
    /// The settings file for --profile and --all; default: the desktop app's
    /// (~/.config/gatewatch/settings.json on Linux). Only read, never changed.
    #[arg(long, value_name = "FILE")]
    settings: Option<std::path::PathBuf>,
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

impl TargetArgs {
    /// The gateway these flags name: a profile of the settings, or the ad-hoc flags.
    fn resolve(self) -> anyhow::Result<SupervisorConfig> {
        match &self.profile {
            Some(name) => {
                let settings = profiles::read(self.settings.as_deref())?;
                Ok(profiles::named(&settings, name)?.config)
            }
            None if self.settings.is_some() => {
                anyhow::bail!("--settings is read for --profile NAME or --all; give one of them")
            }
            None => Ok(Target::try_from(self)?.config()),
        }
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

/// Resolves at the first stop signal (`gatewatch_app::stop_signal`: SIGINT, SIGTERM,
/// SIGHUP; Ctrl-C and the console's close on Windows); never when none can be listened for.
async fn stop_signal() {
    if gatewatch_app::stop_signal().await.is_none() {
        tracing::warn!("cannot listen for stop signals: only killing the process ends it");
        std::future::pending::<()>().await;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The service says what it does (info); the other commands only what goes wrong.
    let (level, json) = match &cli.command {
        Command::Serve { log_format, .. } => {
            ("warn,gatewatch_cli=info", *log_format == LogFormat::Json)
        }
        _ => ("warn", false),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEWATCH_LOG")
        .unwrap_or_else(|_| level.into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).init();
    }
    match run(cli).await {
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
            all: true,
            duration,
            json,
        } => {
            let settings = profiles::read(target.settings.as_deref())?;
            let targets = profiles::enabled(&settings)?;
            probe_all(targets, duration, json).await
        }
        Command::Probe {
            target,
            all: false,
            duration,
            json,
        } => {
            let config = target.resolve()?;
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
        Command::Serve {
            settings,
            db,
            log_format: _,
            listen,
            token,
            insecure_no_auth,
        } => {
            let token = token
                .map(|path| gatewatch_endpoints::read_token(&path))
                .transpose()
                .map_err(|e| anyhow::anyhow!(e))?;
            let listen = gatewatch_endpoints::Listen {
                addr: listen,
                token,
                insecure_no_auth,
            };
            gatewatch_cli::serve::serve(settings.as_deref(), db, listen).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::History {
            profile,
            settings,
            db,
            since,
            json,
            csv,
            latency,
        } => {
            let settings = profiles::read(settings.as_deref())?;
            let target = profiles::named(&settings, &profile)?;
            let db = db
                .or_else(gatewatch_history::default_path)
                .ok_or_else(|| anyhow::anyhow!("no data directory for this user: give --db"))?;
            let now = gatewatch_supervisor::state::now_ms();
            let since_ms = now.saturating_sub(since.as_millis() as u64);
            let report = gatewatch_cli::history::read(&db, &target.id, since_ms, now, latency)?;
            let text = if json {
                serde_json::to_string_pretty(&report)?
            } else if csv {
                gatewatch_cli::history::to_csv(&report, latency)
            } else {
                gatewatch_cli::history::to_text(&report, now)
            };
            gatewatch_cli::say(text.trim_end());
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Watch {
            target,
            every,
            json,
        } => {
            let config = target.resolve()?;
            watch::run(config, every, json, stop_signal()).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// Probes every target at once (one signal stops them all) and prints one report per
/// gateway, then the overall result.
async fn probe_all(
    targets: Vec<NamedTarget>,
    duration: Duration,
    json: bool,
) -> anyhow::Result<std::process::ExitCode> {
    let (stop_all, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop_signal().await;
        let _ = stop_all.send(true);
    });
    let mut probes = tokio::task::JoinSet::new();
    for (index, target) in targets.iter().enumerate() {
        let mut stopped = stopped.clone();
        let config = target.config.clone();
        probes.spawn(async move {
            let stop = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            (index, probe::run(config, duration, stop).await)
        });
    }
    let mut reports = Vec::new();
    while let Some(done) = probes.join_next().await {
        let (index, report) = done?;
        reports.push((index, report?));
    }
    reports.sort_by_key(|(index, _)| *index);
    let failed: Vec<&str> = reports
        .iter()
        .filter(|(_, report)| !report.passed())
        .map(|(index, _)| targets[*index].name.as_str())
        .collect();
    if json {
        let all: Vec<serde_json::Value> = reports
            .iter()
            .map(|(index, report)| {
                serde_json::json!({
                    "gateway": targets[*index].id,
                    "name": targets[*index].name,
                    "report": report,
                })
            })
            .collect();
        gatewatch_cli::say(&serde_json::to_string_pretty(&all)?);
    } else {
        for (index, report) in &reports {
            let target = &targets[*index];
            gatewatch_cli::say(&format!(
                "== {} ({}:{}, client id {})",
                target.name, target.config.host, target.config.port, target.config.client_id
            ));
            gatewatch_cli::say(&report.to_text());
        }
        gatewatch_cli::say(&if failed.is_empty() {
            format!("overall      PASS: all {} gateways", reports.len())
        } else {
            format!(
                "overall      FAIL: {} of {} gateways fell short ({})",
                failed.len(),
                reports.len(),
                failed.join(", ")
            )
        });
    }
    Ok(if failed.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}
