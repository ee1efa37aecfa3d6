//! The stability probe: connect, ping and fetch for a fixed time, then report.

use std::time::{Duration, Instant};

use gatewatch_supervisor::state::EventKind;
use gatewatch_supervisor::stats::LatencyStats;
use gatewatch_supervisor::zombie::{self, ZombieCount};
use gatewatch_supervisor::{BrokerClient, ConnectionState, SupervisorConfig};
use serde::Serialize;

/// How often positions and the account summary are fetched during a probe.
const FETCH_EVERY: Duration = Duration::from_secs(10);

/// What a probe saw.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// Time from start to the first connection, ms; `None` if it never connected.
    pub connect_ms: Option<f64>,
    /// The negotiated server version.
    pub server_version: Option<i32>,
    /// Pings answered.
    pub pings_ok: u32,
    /// Pings sent.
    pub pings_total: u32,
    /// Median round trip, µs.
    pub p50_us: Option<u64>,
    /// 95th percentile, µs.
    pub p95_us: Option<u64>,
    /// 99th percentile, µs.
    pub p99_us: Option<u64>,
    /// Position and summary fetches that succeeded.
    pub fetches_ok: u32,
    /// Fetches attempted.
    pub fetches_total: u32,
    /// Worker replacements.
    pub restarts: u64,
    /// Times the connection dropped.
    pub disconnects: u32,
    /// CLOSE_WAIT sockets on the port before the probe.
    pub zombies_before: ZombieCount,
    /// And after.
    pub zombies_after: ZombieCount,
    /// The last connect error, if any.
    pub last_error: Option<String>,
    /// What fell short; empty when the probe passed.
    pub failures: Vec<String>,
}

impl ProbeReport {
    /// Whether everything held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    fn judge(&mut self) {
        let mut fail = |text: String| self.failures.push(text);
        if self.connect_ms.is_none() {
            fail(format!(
                "never connected{}",
                self.last_error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
        if self.pings_total == 0 || self.pings_ok < self.pings_total {
            fail(format!(
                "pings answered {}/{}",
                self.pings_ok, self.pings_total
            ));
        }
        if self.fetches_ok < self.fetches_total || self.fetches_total == 0 {
            fail(format!(
                "data fetches {}/{}",
                self.fetches_ok, self.fetches_total
            ));
        }
        if self.restarts > 0 {
            fail(format!("the worker was replaced {} time(s)", self.restarts));
        }
        if self.disconnects > 0 {
            fail(format!(
                "the connection dropped {} time(s)",
                self.disconnects
            ));
        }
        let after = self.zombies_after;
        if after.gateway > 0 || after.ours > 0 {
            fail(
                after
                    .advice()
                    .unwrap_or_else(|| "sockets stuck in CLOSE_WAIT".into()),
            );
        }
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let us = |v: Option<u64>| {
            v.map(|v| format!("{:.2} ms", v as f64 / 1000.0))
                .unwrap_or_else(|| "-".into())
        };
        let mut text = format!(
            "connect      {}\nserver       {}\npings        {}/{} ok   p50 {}   p95 {}   p99 {}\nfetches      {}/{} ok\nrestarts     {}\ndisconnects  {}\nclose-wait   before: gateway {} ours {} others {}   after: gateway {} ours {} others {}\n",
            self.connect_ms
                .map(|ms| format!("{ms:.1} ms"))
                .unwrap_or_else(|| "never".into()),
            self.server_version
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            self.pings_ok,
            self.pings_total,
            us(self.p50_us),
            us(self.p95_us),
            us(self.p99_us),
            self.fetches_ok,
            self.fetches_total,
            self.restarts,
            self.disconnects,
            self.zombies_before.gateway,
            self.zombies_before.ours,
            self.zombies_before.other_clients,
            self.zombies_after.gateway,
            self.zombies_after.ours,
            self.zombies_after.other_clients,
        );
        if self.passed() {
            text.push_str("result       PASS\n");
        } else {
            text.push_str(&format!(
                "result       FAIL: {}\n",
                self.failures.join("; ")
            ));
        }
        text
    }
}

/// Runs the probe for `duration`.
pub async fn run(config: SupervisorConfig, duration: Duration) -> anyhow::Result<ProbeReport> {
    let port = config.port;
    let zombies_before = tokio::task::spawn_blocking(move || zombie::scan(port, None)).await?;
    let client = BrokerClient::new(config)?;
    let mut events = client.subscribe();
    let started = Instant::now();
    client.start().await?;
    let deadline = started + duration;
    let mut report = ProbeReport {
        connect_ms: None,
        server_version: None,
        pings_ok: 0,
        pings_total: 0,
        p50_us: None,
        p95_us: None,
        p99_us: None,
        fetches_ok: 0,
        fetches_total: 0,
        restarts: 0,
        disconnects: 0,
        zombies_before,
        zombies_after: ZombieCount::default(),
        last_error: None,
        failures: Vec::new(),
    };
    let mut stats = LatencyStats::default();
    let mut next_fetch: Option<Instant> = None;
    loop {
        let wake = next_fetch.map(|at| at.min(deadline)).unwrap_or(deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {
                if Instant::now() >= deadline {
                    break;
                }
                next_fetch = Some(Instant::now() + FETCH_EVERY);
                for ok in [client.positions().await.is_ok(), client.account_summary(Vec::new()).await.is_ok()] {
                    report.fetches_total += 1;
                    report.fetches_ok += u32::from(ok);
                }
            }
            event = events.recv() => match event.map(|e| e.kind) {
                Ok(EventKind::StateChanged { state: ConnectionState::Connected(session) }) if report.connect_ms.is_none() => {
                    report.connect_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                    report.server_version = Some(session.server_version);
                    next_fetch = Some(Instant::now());
                }
                Ok(EventKind::Ping { rtt_us }) => {
                    report.pings_total += 1;
                    report.pings_ok += u32::from(rtt_us.is_some());
                    stats.record(Instant::now(), rtt_us);
                }
                Ok(EventKind::Disconnected { .. }) => report.disconnects += 1,
                Ok(EventKind::ConnectFailed { error, .. }) => report.last_error = Some(format!("{:?} at {:?}: {}", error.code, error.stage, error.message)),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => tracing::warn!(missed, "probe fell behind the events"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    let window = stats.window(Instant::now(), duration + Duration::from_secs(1));
    (report.p50_us, report.p95_us, report.p99_us) = (window.p50_us, window.p95_us, window.p99_us);
    report.restarts = client.snapshot().worker.restarts;
    client.stop().await?;
    report.zombies_after = tokio::task::spawn_blocking(move || zombie::scan(port, None)).await?;
    report.judge();
    Ok(report)
}
