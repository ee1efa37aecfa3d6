//! Demo mode: two embedded simulators on loopback, so `make demo` shows a workstation's
//! usual pair on a machine with no gateway. "TWS live (demo)" plays an older TWS on a live
//! account (classic text at server version 178, `U…` account ids); "Gateway paper (demo)"
//! plays a current IB Gateway on the paper accounts (protobuf at 213). Each runs its own
//! fault scenario, so every state a monitor must show comes by within a few minutes.

use gatewatch_settings::GatewayProfile;
use gatewatch_sim::{SimConfig, Simulator};

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

/// Starts both demo simulators.
pub async fn start() -> Result<Vec<DemoGateway>, AppError> {
    let live = start_one(
        "tws-live-demo",
        "TWS live (demo)",
        LIVE_SCENARIO,
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
        gatewatch_sim::DEMO_SCENARIO,
        SimConfig::default(),
    )
    .await?;
    Ok(vec![live, paper])
}

async fn start_one(
    id: &str,
    name: &str,
    scenario: &str,
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
        // Each demo gateway is a simulator of its own: the same client ids are fine.
        ..GatewayProfile::default()
    };
    Ok(DemoGateway { profile, simulator })
}
