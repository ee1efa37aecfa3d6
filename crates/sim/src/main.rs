//! `gatewatch-sim`: the gateway simulator as a command. Parses flags, installs logging and
//! hands over to [`gatewatch_sim::Simulator`].

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use gatewatch_sim::{
    CaptureTo, Command, Latency, RefuseMode, SimConfig, Simulator, command, control, market::Market,
};

/// A TWS / IB Gateway simulator: the real TWS API wire protocol (classic text and protobuf),
/// two paper accounts with moving prices, and injectable faults.
///
/// On start it prints one line to stdout, `gatewatch-sim listening api=ADDR [control=ADDR]`,
/// then logs to stderr (filter with GATEWATCH_LOG, e.g. GATEWATCH_LOG=debug). Ctrl-C or
/// SIGTERM stops it cleanly.
#[derive(Debug, Parser)]
#[command(version, after_long_help = after_help())]
struct Args {
    /// API port (4002 is IB Gateway's paper port); 0 picks a free one.
    #[arg(long, default_value_t = 4002)]
    port: u16,
    /// Address to bind the API and control ports to. Loopback unless you mean otherwise.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Control port for switching faults at run time (off unless given; 0 picks a free one).
    #[arg(long)]
    control_port: Option<u16>,
    /// Play IBC's command server on this port (off unless given; 0 picks a free one; IBC's
    /// convention is 7462): RECONNECTDATA re-announces the data farms, RESTART is a soft
    /// restart (the API port refuses for a few seconds, the session is kept).
    #[arg(long)]
    ibc_port: Option<u16>,
    /// Highest server version to offer: 213 serves protobuf clients, 178 or 200 forces classic
    /// text, 201-212 plays a gateway that mixes the encodings per message family.
    #[arg(long, default_value_t = 213, value_parser = clap::value_parser!(i32).range(100..=213))]
    max_version: i32,
    /// Concurrent API clients accepted before new ones are turned away (TWS allows 32).
    #[arg(long, default_value_t = 32)]
    max_clients: usize,
    /// Managed account ids, comma-separated (`U…` live, `DU…` paper); each holds one of the
    /// two opening books in turn. Default: the paper accounts DU1234567 and DU7654321.
    #[arg(long, value_delimiter = ',', value_parser = parse_account_id, conflicts_with = "live")]
    accounts: Vec<String>,
    /// Play a live gateway: the accounts U1234567 and U7654321 (as `--accounts` would).
    #[arg(long)]
    live: bool,
    /// Seed of the price walk: the same seed gives the same prices tick after tick.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Milliseconds per market tick (price step, PnL and portfolio updates); 0 freezes prices.
    #[arg(long, default_value_t = 1000)]
    tick_ms: u64,
    /// Scenario file: fault commands, one per line, usually `after SECS …` or `every SECS …`.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Refuse connections from the start: `closed` (nothing listens) or `reset` (RST on accept).
    #[arg(long, value_parser = parse_refuse)]
    refuse: Option<RefuseMode>,
    /// Zombie gateway: accept TCP but never answer the version exchange.
    #[arg(long)]
    zombie: bool,
    /// Answer the version exchange but never send nextValidId.
    #[arg(long)]
    stall_start: bool,
    /// Keep sockets open and answer nothing (half-open).
    #[arg(long)]
    mute: bool,
    /// Milliseconds added to every reply.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Up to this many milliseconds of random jitter, plus or minus, on top of --latency-ms.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Leave the server side of client-closed sockets open, so they pile up in CLOSE_WAIT.
    #[arg(long)]
    close_wait: bool,
    /// Any fault command to apply at start (repeatable), e.g. --exec "every 30 drop".
    #[arg(long = "exec", value_name = "COMMAND", value_parser = parse_command)]
    commands: Vec<Command>,
    /// Seconds a connection may take to send its hello and startApi before it is closed, as a
    /// gateway drops a socket that never speaks (zombie and stall-start connections are exempt).
    #[arg(long, default_value = "5", value_parser = parse_seconds)]
    handshake_timeout: Duration,
    /// Append every frame clients send to FILE as JSON lines {"connection":N,"hex":"…"}, to
    /// compare what different clients put on the wire.
    #[arg(long, value_name = "FILE")]
    capture: Option<PathBuf>,
    /// Print the accounts, positions and account summary for --seed as JSON, and exit.
    #[arg(long)]
    dump_market: bool,
}

fn after_help() -> String {
    format!(
        "Fault commands (control port, scenario file and --exec all take these):\n\n{}\n\
         Recipes: `notice 1100` then `after 30 notice 1102` (IB link lost and restored); \
         `every 20 notice 2103` with `every 20 after 5 notice 2104` (a flapping farm); \
         `every 10 drop` (a flapping link); `restart 90` (the nightly restart).",
        command::HELP
    )
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() && secs <= 86_400.0 => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err("expected a number of seconds above 0 (at most 86400)".into()),
    }
}

fn parse_refuse(text: &str) -> Result<RefuseMode, String> {
    match format!("refuse {text}").parse() {
        Ok(Command::Refuse(mode)) => Ok(mode),
        _ => Err("expected off, closed or reset".into()),
    }
}

fn parse_command(text: &str) -> Result<Command, String> {
    text.parse().map_err(|e: gatewatch_sim::CommandError| e.0)
}

/// An account id as IB writes them: letters then digits, nothing that would break a
/// comma-separated managedAccounts message.
fn parse_account_id(text: &str) -> Result<String, String> {
    let ok =
        !text.is_empty() && text.len() <= 32 && text.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not an account id (letters and digits, e.g. U1234567 or DU1234567)"
        ))
    }
}

impl Args {
    fn account_ids(&self) -> Vec<String> {
        if self.live {
            gatewatch_sim::book::LIVE_ACCOUNT_IDS
                .map(String::from)
                .to_vec()
        } else {
            self.accounts.clone()
        }
    }

    fn startup_commands(&self) -> anyhow::Result<Vec<Command>> {
        let mut commands = Vec::new();
        if let Some(mode) = self.refuse {
            commands.push(Command::Refuse(mode));
        }
        let switches = [
            (self.zombie, Command::Zombie(true)),
            (self.stall_start, Command::StallStart(true)),
            (self.mute, Command::Mute(true)),
            (self.close_wait, Command::CloseWait(true)),
        ];
        commands.extend(switches.into_iter().filter(|(on, _)| *on).map(|(_, c)| c));
        if self.latency_ms > 0 || self.jitter_ms > 0 {
            commands.push(Command::Latency(Latency {
                fixed_ms: self.latency_ms,
                jitter_ms: self.jitter_ms,
            }));
        }
        if let Some(path) = &self.scenario {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read scenario {}", path.display()))?;
            commands.extend(
                control::parse_scenario(&text)
                    .with_context(|| format!("scenario {}", path.display()))?,
            );
        }
        commands.extend(self.commands.iter().cloned());
        Ok(commands)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GATEWATCH_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();

    if args.dump_market {
        let market = Market::with_ids(args.seed, &args.account_ids());
        println!("{}", serde_json::to_string_pretty(&market.dump())?);
        return Ok(());
    }

    let config = SimConfig {
        max_version: args.max_version,
        max_clients: args.max_clients,
        seed: args.seed,
        tick: Duration::from_millis(args.tick_ms),
        startup: args.startup_commands()?,
        handshake_timeout: args.handshake_timeout,
        capture: args
            .capture
            .clone()
            .map(CaptureTo::File)
            .unwrap_or_default(),
        account_ids: args.account_ids(),
    };
    let api = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.bind, args.port))?;
    let simulator = Simulator::start(api, config)?;
    let mut ready = format!("gatewatch-sim listening api={}", simulator.addr());
    if let Some(port) = args.control_port {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, port))
            .await
            .with_context(|| format!("cannot listen for control on {}:{port}", args.bind))?;
        ready.push_str(&format!(" control={}", listener.local_addr()?));
        tokio::spawn(control::serve(listener, simulator.clone()));
    }
    if let Some(port) = args.ibc_port {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, port))
            .await
            .with_context(|| format!("cannot listen for IBC commands on {}:{port}", args.bind))?;
        ready.push_str(&format!(" ibc={}", listener.local_addr()?));
        tokio::spawn(gatewatch_sim::ibc::serve(listener, simulator.clone()));
    }
    println!("{ready}");
    std::io::stdout().flush()?;
    tracing::info!(max_version = args.max_version, seed = args.seed, "{ready}");

    stop_signal().await?;
    tracing::info!("stopping");
    simulator.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
