//! The supervisor's settings: typed, with defaults, validated before use.

use std::path::PathBuf;

use gatewatch_calendar::{CalendarData, CalendarSettings, GatewaySchedule, Schedule};
use gatewatch_protocol::Timeouts;
use serde::{Deserialize, Serialize};

use crate::retry::RetryConfig;

/// Everything the supervisor needs to watch one gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SupervisorConfig {
    /// Gateway host.
    pub host: String,
    /// Gateway API port.
    pub port: u16,
    /// The client id the monitor claims (keep it apart from the trader's bots).
    pub client_id: i32,
    /// Tried once when the client id is in use (326); `None` to never fall back.
    pub fallback_client_id: Option<i32>,
    /// Per-stage connect timeouts and the data request timeout.
    pub timeouts: Timeouts,
    /// Time between pings.
    pub ping_interval_ms: u64,
    /// How long a ping may take before it counts as lost.
    pub ping_timeout_ms: u64,
    /// The last minute's median round trip above this marks the connection slow (degraded).
    pub slow_ping_ms: u64,
    /// Consecutive lost pings before the connection is reconnected.
    pub reconnect_after_lost_pings: u32,
    /// Time between worker heartbeats.
    pub heartbeat_interval_ms: u64,
    /// A heartbeat unanswered this long means the worker is hung: it is replaced.
    pub heartbeat_timeout_ms: u64,
    /// Time between refreshes of positions and the account summary.
    pub refresh_interval_ms: u64,
    /// Time between CLOSE_WAIT scans.
    pub zombie_scan_interval_ms: u64,
    /// Delays between connect attempts, and when full attempts give way to probes.
    pub connect_retry: RetryConfig,
    /// While full connects are suspended: time between probes (a TCP connect and the
    /// version exchange, each probe on a connection of its own).
    pub probe_interval_ms: u64,
    /// Delays before respawning a worker that keeps dying.
    pub worker_retry: RetryConfig,
    /// A worker that lived this long before dying is not counted as dying young: it is
    /// respawned at once.
    pub worker_stable_after_ms: u64,
    /// The worker binary; default: `GATEWATCH_WORKER`, else `gatewatch-worker` next to this executable.
    pub worker_path: Option<PathBuf>,
    /// How long a stopping worker gets to exit before it is killed.
    pub stop_grace_ms: u64,
    /// Consecutive unreadable lines from the worker before it counts as faulty.
    pub garbage_limit: u32,
    /// The gateway's calendar (restarts, server resets); `None`: no outage is expected.
    pub calendar: Option<CalendarConfig>,
}

/// One gateway's calendar settings and the shared margins.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CalendarConfig {
    /// Region, daily restart, IBC.
    pub schedule: GatewaySchedule,
    /// Margins, grace, reminders, server-window overrides.
    pub settings: CalendarSettings,
}

impl CalendarConfig {
    /// The compiled schedule, with the shipped calendar data.
    pub fn compile(&self) -> Result<Schedule, gatewatch_calendar::CalendarError> {
        Schedule::compile(&self.schedule, &self.settings, &CalendarData::shipped())
    }
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 4002,
            client_id: 901,
            fallback_client_id: Some(902),
            timeouts: Timeouts::default(),
            ping_interval_ms: 1_000,
            ping_timeout_ms: 800,
            slow_ping_ms: 250,
            reconnect_after_lost_pings: 3,
            heartbeat_interval_ms: 500,
            heartbeat_timeout_ms: 1_500,
            refresh_interval_ms: 30_000,
            zombie_scan_interval_ms: 10_000,
            connect_retry: RetryConfig::connects(),
            probe_interval_ms: 2_000,
            worker_retry: RetryConfig::worker_respawns(),
            worker_stable_after_ms: 10_000,
            worker_path: None,
            stop_grace_ms: 2_000,
            garbage_limit: 20,
            calendar: None,
        }
    }
}

/// A setting that cannot work, named by its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConfigError {
    /// The field, as spelled in the settings.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl SupervisorConfig {
    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Every problem, in field order, so a settings form can mark each bad field at once.
    pub fn problems(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, field: &str, problem: &str| {
            if !ok {
                problems.push(ConfigError {
                    field: field.to_owned(),
                    problem: problem.to_owned(),
                });
            }
        };
        check(!self.host.trim().is_empty(), "host", "must not be empty");
        check(self.port != 0, "port", "must be between 1 and 65535");
        check(self.client_id >= 0, "client_id", "must be 0 or more");
        check(
            self.fallback_client_id
                .is_none_or(|id| id >= 0 && id != self.client_id),
            "fallback_client_id",
            "must be 0 or more and differ from client_id",
        );
        let positive = [
            ("ping_interval_ms", self.ping_interval_ms),
            ("ping_timeout_ms", self.ping_timeout_ms),
            ("slow_ping_ms", self.slow_ping_ms),
            ("heartbeat_interval_ms", self.heartbeat_interval_ms),
            ("heartbeat_timeout_ms", self.heartbeat_timeout_ms),
            ("refresh_interval_ms", self.refresh_interval_ms),
            ("zombie_scan_interval_ms", self.zombie_scan_interval_ms),
            ("probe_interval_ms", self.probe_interval_ms),
        ];
        for (field, value) in positive {
            check(value > 0, field, "must be above zero");
        }
        for (name, value) in self.timeouts.named() {
            check(value > 0, &format!("timeouts.{name}"), "must be above zero");
        }
        check(
            self.ping_timeout_ms <= self.ping_interval_ms,
            "ping_timeout_ms",
            "must not exceed ping_interval_ms (one ping in flight at a time)",
        );
        check(
            self.reconnect_after_lost_pings > 0,
            "reconnect_after_lost_pings",
            "must be 1 or more",
        );
        for (prefix, retry) in [
            ("connect_retry", &self.connect_retry),
            ("worker_retry", &self.worker_retry),
        ] {
            retry_problems(prefix, retry, &mut check);
        }
        if let Some(Err(e)) = self.calendar.as_ref().map(CalendarConfig::compile) {
            problems.push(ConfigError {
                field: format!("calendar.{}", e.field),
                problem: e.problem,
            });
        }
        problems
    }

    /// Where the worker binary is: the setting, `GATEWATCH_WORKER`, or next to this executable.
    pub fn resolve_worker_path(&self) -> std::io::Result<PathBuf> {
        if let Some(path) = &self.worker_path {
            return Ok(path.clone());
        }
        if let Some(path) = std::env::var_os("GATEWATCH_WORKER") {
            return Ok(PathBuf::from(path));
        }
        sibling_binary("gatewatch-worker")
    }
}

/// The problems of one retry policy, its fields named under `prefix`.
fn retry_problems(prefix: &str, retry: &RetryConfig, check: &mut impl FnMut(bool, &str, &str)) {
    let field = |name: &str| format!("{prefix}.{name}");
    check(
        retry.initial_ms > 0,
        &field("initial_ms"),
        "must be above zero",
    );
    check(
        retry.max_ms >= retry.initial_ms,
        &field("max_ms"),
        "must be at least initial_ms",
    );
    check(
        retry.multiplier >= 1.0 && retry.multiplier.is_finite(),
        &field("multiplier"),
        "must be 1 or more",
    );
    check(
        (0.0..=1.0).contains(&retry.jitter),
        &field("jitter"),
        "must be between 0 and 1",
    );
    check(
        retry.failure_threshold > 0,
        &field("failure_threshold"),
        "must be 1 or more",
    );
    check(
        retry.open_initial_ms > 0 && retry.open_max_ms >= retry.open_initial_ms,
        &field("open_max_ms"),
        "must be at least open_initial_ms, which must be above zero",
    );
}

/// A binary installed next to the running executable. Test and bench executables live one
/// folder deeper (`target/<profile>/deps`), so the parent folder is tried as well.
pub fn sibling_binary(name: &str) -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let dir = exe
        .parent()
        .ok_or_else(|| std::io::Error::other("the executable has no folder"))?;
    let beside = dir.join(&file);
    if beside.exists() {
        return Ok(beside);
    }
    match dir.parent().map(|up| up.join(&file)) {
        Some(above) if above.exists() => Ok(above),
        _ => Ok(beside),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SupervisorConfig::default().validate().unwrap();
    }

    #[test]
    fn each_problem_names_its_field() {
        let field = |change: fn(&mut SupervisorConfig)| {
            let mut config = SupervisorConfig::default();
            change(&mut config);
            config.validate().unwrap_err().field
        };
        assert_eq!(field(|c| c.port = 0), "port");
        assert_eq!(field(|c| c.host = " ".into()), "host");
        assert_eq!(
            field(|c| c.fallback_client_id = Some(c.client_id)),
            "fallback_client_id"
        );
        assert_eq!(field(|c| c.ping_timeout_ms = 5_000), "ping_timeout_ms");
        assert_eq!(
            field(|c| c.timeouts.start_api_ms = 0),
            "timeouts.start_api_ms"
        );
        assert_eq!(
            field(|c| c.connect_retry.jitter = 2.0),
            "connect_retry.jitter"
        );
        assert_eq!(
            field(|c| c.worker_retry.failure_threshold = 0),
            "worker_retry.failure_threshold"
        );
    }

    #[test]
    fn problems_lists_every_bad_field() {
        let config = SupervisorConfig {
            port: 0,
            client_id: -1,
            ping_interval_ms: 0,
            ..SupervisorConfig::default()
        };
        let fields: Vec<String> = config.problems().into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            ["port", "client_id", "ping_interval_ms", "ping_timeout_ms"]
        );
    }
}
