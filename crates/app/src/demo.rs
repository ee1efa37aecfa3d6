//! Demo mode: two embedded simulators on loopback, so `make demo` shows a workstation's
//! usual pair on a machine with no gateway. "TWS live (demo)" plays an older TWS on a live
//! account (classic text at server version 178, `U…` account ids); "Gateway paper (demo)"
//! plays a current IB Gateway on the paper accounts (protobuf at 213). Each runs its own
//! fault scenario, so every state a monitor must show comes by within a few minutes.
//!
//! The calendar is compressed too: "TWS live (demo)" has its daily restart set 45 s after
//! the start and its simulator restarts right then, back within the window (shown as an
//! expected restart, no notification); "Gateway paper (demo)" restarts at 100 s and stays
//! down 50 s, past its window and grace, so it is overdue (one notification), then back.
//! A restart is taken to last 15 s, with 5 s of margin and 10 s of grace.

use gatewatch_settings::GatewayProfile;
use gatewatch_sim::{SimConfig, Simulator};
use gatewatch_supervisor::calendar::{
    CalendarSettings, DailyAction, DailyRestart, GatewaySchedule,
};

use crate::AppError;

/// A demo gateway: the simulator and the profile that watches it.
pub struct DemoGateway {
    pub profile: GatewayProfile,
    pub simulator: Simulator,
}

/// The live-like gateway's scenario: an older TWS that drops now and then and restarts.
const LIVE_SCENARIO: &str = "\
latency 4 2
every 60 after 20 notice 2103
every 60 after 26 notice 2104
every 200 after 90 drop
every 300 after 150 restart 15
";

/// Seconds after the start of the live gateway's planned restart, and how long it is down.
const LIVE_RESTART: (u64, u64) = (45, 12);
/// The paper gateway's: it overstays its window.
const PAPER_RESTART: (u64, u64) = (100, 50);

/// The demo's compressed calendar margins.
pub fn calendar_settings() -> CalendarSettings {
    CalendarSettings {
        margin_secs: 5,
        restart_takes_secs: 15,
        grace_secs: 10,
        ..CalendarSettings::default()
    }
}

/// A daily restart `after_secs` from now, on the UTC clock (`HH:MM:SS`).
fn restart_in(after_secs: u64) -> GatewaySchedule {
    let secs = (gatewatch_supervisor::state::now_ms() / 1000 + after_secs) % 86_400;
    GatewaySchedule {
        daily: DailyRestart {
            action: DailyAction::Restart,
            time: format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
            time_zone: Some("UTC".into()),
        },
        // No server region: the demo's states must not depend on the hour it runs at.
        region: None,
        ..GatewaySchedule::default()
    }
}

/// The scenario line that restarts the simulator on that schedule.
fn planned(restart: (u64, u64)) -> String {
    format!("after {} restart {}\n", restart.0, restart.1)
}

/// Starts both demo simulators.
pub async fn start() -> Result<Vec<DemoGateway>, AppError> {
    let live = start_one(
        "tws-live-demo",
        "TWS live (demo)",
        &format!("{LIVE_SCENARIO}{}", planned(LIVE_RESTART)),
        restart_in(LIVE_RESTART.0),
        SimConfig {
            max_version: 178,
            seed: 2,
            account_ids: gatewatch_sim::book::LIVE_ACCOUNT_IDS
                .map(String::from)
                .to_vec(),
            ..SimConfig::default()
        },
    )
    .await?;
    let paper = start_one(
        "gateway-paper-demo",
        "Gateway paper (demo)",
        &format!("{}{}", gatewatch_sim::DEMO_SCENARIO, planned(PAPER_RESTART)),
        restart_in(PAPER_RESTART.0),
        SimConfig::default(),
    )
    .await?;
    Ok(vec![live, paper])
}

async fn start_one(
    id: &str,
    name: &str,
    scenario: &str,
    schedule: GatewaySchedule,
    config: SimConfig,
) -> Result<DemoGateway, AppError> {
    let startup = gatewatch_sim::control::parse_scenario(scenario)
        .map_err(|e| AppError::new("startup", format!("{name}: {e}")))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| AppError::new("startup", format!("{name}: {e}")))?;
    let simulator = Simulator::start(listener, SimConfig { startup, ..config })
        .map_err(|e| AppError::new("startup", format!("{name}: {e}")))?;
    tracing::info!(addr = %simulator.addr(), name, "demo simulator started");
    let profile = GatewayProfile {
        id: id.into(),
        name: name.into(),
        host: simulator.addr().ip().to_string(),
        port: simulator.addr().port(),
        schedule,
        // Each demo gateway is a simulator of its own: the same client ids are fine.
        ..GatewayProfile::default()
    };
    Ok(DemoGateway { profile, simulator })
}
