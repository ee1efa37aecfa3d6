//! The stability probe: connect, ping and fetch for a fixed time (or until interrupted), then
//! report. The report is one value: the text and the JSON are two renderings of it.

use std::time::{Duration, Instant};

use gatewatch_supervisor::state::{EventKind, now_ms};
use gatewatch_supervisor::stats::{LatencyStats, Sample};
use gatewatch_supervisor::zombie::{self, ZombieCount};
use gatewatch_supervisor::{BrokerClient, ConnectionState, SupervisorConfig};
use serde::Serialize;

use crate::text;

/// How often positions and the account summary are fetched during a probe.
const FETCH_EVERY: Duration = Duration::from_secs(10);

/// What a probe saw.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The gateway probed: `host:port, client id N`.
    pub gateway: String,
    /// How long the probe ran, ms.
    pub ran_ms: u64,
    /// It was stopped by a signal before its time was up.
    pub interrupted: bool,
    /// Time from start to the first connection, ms; `None` if it never connected.
    pub connect_ms: Option<f64>,
    /// The negotiated server version.
    pub server_version: Option<i32>,
    /// Pings answered within their timeout.
    pub pings_ok: u32,
    /// Pings sent.
    pub pings_total: u32,
    /// Replies that came after their ping had timed out (those pings are not ok).
    pub late_replies: u32,
    /// Median round trip, µs (late replies included, at their true round trip).
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
    /// Connect attempts that failed (refused, timed out, client id in use …).
    pub connect_failures: u32,
    /// IB-side trouble the gateway announced during the probe (1100 lost IB, 2110 server
    /// link broken, a data farm broken), as sentences, in order.
    pub ib_trouble: Vec<String>,
    /// Why the connection was degraded when the probe ended; empty when it was not.
    pub degraded_at_end: Vec<String>,
    /// CLOSE_WAIT sockets on the port before the probe.
    pub zombies_before: ZombieCount,
    /// And after.
    pub zombies_after: ZombieCount,
    /// The last connect error, as a sentence.
    pub last_error: Option<String>,
    /// The connection's state when the probe ended, as a sentence.
    pub state_at_end: String,
    /// What fell short, as sentences; empty when the probe passed.
    pub failures: Vec<String>,
    /// The outage the gateway's calendar expected during the probe (a planned restart, a
    /// server reset): shortfalls inside it do not fail the probe.
    pub expected_outage: Option<String>,
    /// Shortfalls seen outside an expected outage (drops, lost pings, failed connects and
    /// fetches, IB trouble); any one of them fails the probe, window or not.
    pub unexpected_trouble: u32,
    /// What probably happened, when the gateway stayed down past an expected outage's window
    /// and grace time during the probe (even if it came back later): that fails it.
    pub overdue: Option<String>,
    /// `pass`, `expected` (fell short inside an outage the calendar expects) or `fail`.
    pub result: &'static str,
}

impl ProbeReport {
    /// Whether everything held, or fell short only inside an outage the calendar expects.
    pub fn passed(&self) -> bool {
        self.result != "fail"
    }

    fn judge(&mut self) {
        self.find_failures();
        if let Some(advice) = &self.overdue {
            self.failures.push(format!("overdue: {advice}"));
        }
        let excused = self.expected_outage.is_some()
            && self.unexpected_trouble == 0
            && self.overdue.is_none()
            && !self.interrupted;
        self.result = match (self.failures.is_empty(), excused) {
            (true, _) => "pass",
            (false, true) => "expected",
            (false, false) => "fail",
        };
    }

    fn find_failures(&mut self) {
        let mut fail = |text: String| self.failures.push(text);
        if self.interrupted {
            fail(format!(
                "interrupted after {:.1} s",
                self.ran_ms as f64 / 1000.0
            ));
        }
        if self.connect_ms.is_none() {
            fail(match &self.last_error {
                Some(error) => format!("never connected: {error}"),
                None => format!(
                    "never connected ({} when the probe ended)",
                    self.state_at_end
                ),
            });
        }
        if self.pings_total == 0 || self.pings_ok < self.pings_total {
            fail(format!(
                "pings answered in time {}/{}",
                self.pings_ok, self.pings_total
            ));
        }
        if self.fetches_ok < self.fetches_total || self.fetches_total == 0 {
            fail(format!(
                "data fetches {}/{}",
                self.fetches_ok, self.fetches_total
            ));
        }
        if self.connect_failures > 0 && self.connect_ms.is_some() {
            fail(format!(
                "{} connect attempt(s) failed{}",
                self.connect_failures,
                self.last_error
                    .as_ref()
                    .map(|e| format!(" (the last: {e})"))
                    .unwrap_or_default()
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
        if !self.ib_trouble.is_empty() {
            fail(format!(
                "the gateway reported {}",
                self.ib_trouble.join(", ")
            ));
        }
        if !self.degraded_at_end.is_empty() {
            fail(format!(
                "degraded when the probe ended: {}",
                self.degraded_at_end.join("; ")
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
        let us = |v: Option<u64>| v.map(text::millis).unwrap_or_else(|| "-".into());
        let zombies = |z: &ZombieCount| {
            format!(
                "gateway {} ours {} others {}",
                z.gateway, z.ours, z.other_clients
            )
        };
        let mut lines = vec![
            format!("gateway      {}", self.gateway),
            format!(
                "ran          {:.1} s{}",
                self.ran_ms as f64 / 1000.0,
                if self.interrupted {
                    " (interrupted)"
                } else {
                    ""
                }
            ),
            format!(
                "connect      {}",
                self.connect_ms
                    .map(|ms| format!("{ms:.1} ms"))
                    .unwrap_or_else(|| "never".into())
            ),
            format!(
                "server       {}",
                self.server_version
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into())
            ),
            format!(
                "pings        {}/{} answered in time   p50 {}   p95 {}   p99 {}{}",
                self.pings_ok,
                self.pings_total,
                us(self.p50_us),
                us(self.p95_us),
                us(self.p99_us),
                if self.late_replies > 0 {
                    format!("   ({} answered late)", self.late_replies)
                } else {
                    String::new()
                }
            ),
            format!("fetches      {}/{} ok", self.fetches_ok, self.fetches_total),
            format!("restarts     {} of the worker", self.restarts),
            format!("disconnects  {}", self.disconnects),
            format!(
                "IB trouble   {}",
                if self.ib_trouble.is_empty() {
                    "none".to_owned()
                } else {
                    self.ib_trouble.join(", ")
                }
            ),
            if zombie::AVAILABLE {
                format!(
                    "close-wait   before: {}   after: {}",
                    zombies(&self.zombies_before),
                    zombies(&self.zombies_after)
                )
            } else {
                format!("close-wait   {}", zombie::NOT_AVAILABLE)
            },
        ];
        lines.push(format!("state        {}", self.state_at_end));
        if let Some(error) = &self.last_error {
            lines.push(format!("last error   {error}"));
        }
        if let Some(outage) = &self.expected_outage {
            lines.push(format!(
                "calendar     the gateway was expected to be down during {outage}"
            ));
        }
        lines.push(match self.result {
            "pass" => "result       PASS".into(),
            "expected" => format!(
                "result       EXPECTED (all of it inside {}, not a failure): {}",
                self.expected_outage
                    .as_deref()
                    .unwrap_or("an expected outage"),
                self.failures.join("; ")
            ),
            _ => format!("result       FAIL: {}", self.failures.join("; ")),
        });
        lines.join("\n") + "\n"
    }
}

/// Fetches positions and the account summary every [`FETCH_EVERY`], reporting each fetch's
/// success, so a slow fetch never holds up the probe's own clock or its event counting.
async fn fetch_periodically(
    client: BrokerClient,
    results: tokio::sync::mpsc::UnboundedSender<bool>,
) {
    loop {
        let positions = client.positions().await.is_ok();
        let summary = client.account_summary(Vec::new()).await.is_ok();
        if results.send(positions).is_err() || results.send(summary).is_err() {
            return;
        }
        tokio::time::sleep(FETCH_EVERY).await;
    }
}

/// Runs the probe for `duration`, or until `stop` resolves (then the report says it was
/// interrupted, and fails).
pub async fn run(
    config: SupervisorConfig,
    duration: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<ProbeReport> {
    let port = config.port;
    let gateway = format!(
        "{}:{}, client id {}",
        config.host, config.port, config.client_id
    );
    let zombies_before = scan_close_wait(port).await?;
    let client = BrokerClient::new(config)?;
    let mut events = client.subscribe();
    let started = Instant::now();
    client.start().await?;
    let deadline = started + duration;
    let mut report = ProbeReport {
        gateway,
        ran_ms: 0,
        interrupted: false,
        connect_ms: None,
        server_version: None,
        pings_ok: 0,
        pings_total: 0,
        late_replies: 0,
        p50_us: None,
        p95_us: None,
        p99_us: None,
        fetches_ok: 0,
        fetches_total: 0,
        restarts: 0,
        disconnects: 0,
        connect_failures: 0,
        ib_trouble: Vec::new(),
        degraded_at_end: Vec::new(),
        zombies_before,
        zombies_after: ZombieCount::default(),
        last_error: None,
        state_at_end: String::new(),
        failures: Vec::new(),
        expected_outage: None,
        unexpected_trouble: 0,
        overdue: None,
        result: "fail",
    };
    let mut stats = LatencyStats::default();
    let mut excuses = Excuses::default();
    let (fetched_tx, mut fetched) = tokio::sync::mpsc::unbounded_channel::<bool>();
    let mut fetcher: Option<tokio::task::JoinHandle<()>> = None;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => {
                report.interrupted = true;
                break;
            }
            _ = tokio::time::sleep_until(deadline.into()) => break,
            Some(ok) = fetched.recv() => {
                report.fetches_total += 1;
                report.fetches_ok += u32::from(ok);
                if !ok {
                    excuses.trouble();
                }
            }
            event = events.recv() => match event.map(|e| e.kind) {
                Ok(kind) => {
                    match &kind {
                        EventKind::StateChanged { state } => {
                            excuses.state(state);
                            if let Some((outage, _)) = state.outage()
                                && report.expected_outage.is_none()
                            {
                                report.expected_outage = Some(format!("the {} ({})", outage.label, outage.local));
                            }
                            if let ConnectionState::Overdue { .. } = state {
                                report.overdue = state.outage_phrase();
                            }
                        }
                        EventKind::Ping { rtt_us: None, .. }
                        | EventKind::Ping { late: true, .. }
                        | EventKind::Disconnected { .. }
                        | EventKind::ConnectFailed { .. }
                        | EventKind::WorkerRestarted { .. } => excuses.trouble(),
                        EventKind::Notice(notice) if ib_trouble(notice).is_some() => excuses.trouble(),
                        _ => {}
                    }
                    match kind {
                        EventKind::StateChanged { state: ConnectionState::Connected(session) } if report.connect_ms.is_none() => {
                            report.connect_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
                            report.server_version = Some(session.server_version);
                            fetcher = Some(tokio::spawn(fetch_periodically(client.clone(), fetched_tx.clone())));
                        }
                        EventKind::Ping { rtt_us, late: false } => {
                            report.pings_total += 1;
                            report.pings_ok += u32::from(rtt_us.is_some());
                            stats.record(Instant::now(), Sample::ping(rtt_us));
                        }
                        EventKind::Ping { rtt_us: Some(rtt_us), late: true } => {
                            report.late_replies += 1;
                            stats.record(Instant::now(), Sample::Late(rtt_us));
                        }
                        EventKind::Disconnected { .. } => report.disconnects += 1,
                        EventKind::Notice(notice) => {
                            if let Some(trouble) = ib_trouble(&notice) {
                                report.ib_trouble.push(trouble);
                            }
                        }
                        EventKind::ConnectFailed { error, .. } => {
                            report.connect_failures += 1;
                            report.last_error = Some(error.to_string());
                        }
                        _ => {}
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => tracing::warn!(missed, "probe fell behind the events"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    // A fetch still in flight at the end is neither a success nor a failure: not counted.
    if let Some(fetcher) = fetcher {
        fetcher.abort();
    }
    report.ran_ms = started.elapsed().as_millis() as u64;
    let window = stats.window(Instant::now(), started.elapsed() + Duration::from_secs(1));
    (report.p50_us, report.p95_us, report.p99_us) = (window.p50_us, window.p95_us, window.p99_us);
    let snapshot = client.snapshot();
    report.restarts = snapshot.worker.restarts;
    if report.connect_ms.is_none()
        && let Some(error) = snapshot.last_error
    {
        report.last_error = Some(error.to_string());
    }
    report.state_at_end = text::state(&snapshot.state, now_ms());
    if let ConnectionState::Degraded { reasons, .. } = &snapshot.state {
        report.degraded_at_end = reasons.iter().map(ToString::to_string).collect();
    }
    if let ConnectionState::Overdue { .. } = &snapshot.state {
        report.overdue = snapshot.state.outage_phrase();
    }
    report.unexpected_trouble = excuses.unexpected();
    client.stop().await?;
    report.zombies_after = scan_close_wait(port).await?;
    report.judge();
    Ok(report)
}

/// The CLOSE_WAIT sockets on `port`; none counted where the platform cannot say (the
/// report then says so instead of showing counts).
async fn scan_close_wait(port: u16) -> anyhow::Result<ZombieCount> {
    if !zombie::AVAILABLE {
        return Ok(ZombieCount::default());
    }
    tokio::task::spawn_blocking(move || zombie::scan(port, None))
        .await?
        .map_err(anyhow::Error::msg)
}

/// Which shortfalls an expected outage excuses. A shortfall seen while the state is expected
/// (`scheduled_restart`, `server_reset`) is excused; one seen otherwise waits for the next
/// state, since the event that begins a spell (the drop, the lost ping, the 1100) comes
/// before the state that says whether the calendar expected it; anything left waiting at
/// the end, or followed by a state that is not expected, counts.
#[derive(Debug, Default)]
struct Excuses {
    expected_now: bool,
    waiting: u32,
    unexpected: u32,
}

impl Excuses {
    fn trouble(&mut self) {
        if !self.expected_now {
            self.waiting += 1;
        }
    }

    fn state(&mut self, state: &ConnectionState) {
        self.expected_now = matches!(
            state,
            ConnectionState::ScheduledRestart { .. } | ConnectionState::ServerReset { .. }
        );
        if !self.expected_now {
            self.unexpected += self.waiting;
        }
        self.waiting = 0;
    }

    fn unexpected(&self) -> u32 {
        self.unexpected + self.waiting
    }
}

/// A notice that says the gateway cannot serve a trader (lost IB, its server link broken, a
/// data farm broken), as a sentence; `None` for the others (farm OK, restored, warnings).
fn ib_trouble(notice: &gatewatch_protocol::notice::Notice) -> Option<String> {
    use gatewatch_protocol::notice::NoticeCategory;
    match notice.category {
        NoticeCategory::ConnectivityLost => Some("its connection to IB lost (1100)".into()),
        NoticeCategory::ServerLinkBroken => Some("its link to its server broken (2110)".into()),
        NoticeCategory::FarmBroken => Some(format!(
            "data farm {} broken ({})",
            notice.farm.as_deref().unwrap_or("?"),
            notice.code
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(name: &str) -> ConnectionState {
        let reconnecting = ConnectionState::Reconnecting {
            attempt: 1,
            next_try_ms: 0,
        };
        let outage = gatewatch_supervisor::calendar::Occurrence {
            kind: gatewatch_supervisor::calendar::OccurrenceKind::DailyRestart,
            label: "nightly restart".into(),
            starts_ms: 0,
            ends_ms: Some(1),
            expected_from_ms: 0,
            expected_until_ms: 1,
            overdue_at_ms: Some(2),
            needs_2fa: false,
            ibc_login: false,
            local: "Sun 23:45 EST".into(),
        };
        match name {
            "expected" => ConnectionState::ScheduledRestart {
                outage,
                connection: Box::new(reconnecting),
            },
            "overdue" => ConnectionState::Overdue {
                outage,
                connection: Box::new(reconnecting),
            },
            "reconnecting" => reconnecting,
            _ => ConnectionState::Stopped,
        }
    }

    #[test]
    fn only_shortfalls_inside_an_expected_outage_are_excused() {
        // The drop that begins a planned restart comes before the state that says so.
        let mut e = Excuses::default();
        e.trouble();
        e.state(&state("expected"));
        e.trouble();
        e.trouble();
        e.state(&state("stopped"));
        assert_eq!(e.unexpected(), 0);
        // A drop before the window: its own state is not expected.
        let mut e = Excuses::default();
        e.trouble();
        e.state(&state("reconnecting"));
        e.state(&state("expected"));
        assert_eq!(e.unexpected(), 1);
        // A drop after the window, with nothing after it.
        let mut e = Excuses::default();
        e.state(&state("expected"));
        e.state(&state("stopped"));
        e.trouble();
        assert_eq!(e.unexpected(), 1);
        // Retries while overdue are not excused.
        let mut e = Excuses::default();
        e.state(&state("overdue"));
        e.trouble();
        e.state(&state("stopped"));
        assert_eq!(e.unexpected(), 1);
    }
}
