//! The `probe` command end to end: the real CLI, supervisor and worker against the simulator.

use std::time::Duration;

async fn simulator(startup: &[&str]) -> gatewatch_sim::Simulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = gatewatch_sim::SimConfig {
        startup: startup.iter().map(|c| c.parse().unwrap()).collect(),
        ..gatewatch_sim::SimConfig::default()
    };
    gatewatch_sim::Simulator::start(listener, config).unwrap()
}

async fn probe(sim: &gatewatch_sim::Simulator, duration: &str) -> (bool, serde_json::Value) {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_gatewatch-cli"))
            .args([
                "probe",
                "--port",
                &sim.addr().port().to_string(),
                "--duration",
                duration,
                "--json",
            ])
            .output(),
    )
    .await
    .expect("the probe ends on time")
    .unwrap();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    (output.status.success(), report)
}

#[tokio::test]
async fn a_healthy_gateway_passes_with_every_ping_answered() {
    let sim = simulator(&[]).await;
    let (passed, report) = probe(&sim, "4s").await;
    assert!(passed, "{report:#}");
    assert_eq!(report["server_version"], 213);
    assert!(report["pings_total"].as_u64().unwrap() >= 2, "{report:#}");
    assert_eq!(report["pings_ok"], report["pings_total"]);
    assert!(report["fetches_ok"].as_u64().unwrap() >= 2);
    assert!(report["failures"].as_array().unwrap().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_zombie_gateway_fails_the_probe_and_says_why() {
    let sim = simulator(&["zombie on"]).await;
    let (passed, report) = probe(&sim, "4s").await;
    assert!(!passed, "{report:#}");
    assert!(report["connect_ms"].is_null());
    let failures = report["failures"].to_string();
    assert!(
        failures.contains("never connected") && failures.contains("VersionExchange"),
        "{failures}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_flapping_gateway_fails_on_its_drops() {
    let sim = simulator(&["every 1.5 drop"]).await;
    let (passed, report) = probe(&sim, "4s").await;
    assert!(!passed, "{report:#}");
    assert!(report["disconnects"].as_u64().unwrap() >= 1, "{report:#}");
    sim.shutdown().await;
}
