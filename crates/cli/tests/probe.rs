//! The `probe` command end to end: the real CLI, supervisor and worker against the simulator.

mod common;

use std::time::Duration;

use common::{cli, everyone_left, signal, simulator};

async fn probe(sim: &gatewatch_sim::Simulator, duration: &str) -> (bool, serde_json::Value) {
    probe_with(sim, &["--duration", duration]).await
}

async fn probe_with(sim: &gatewatch_sim::Simulator, args: &[&str]) -> (bool, serde_json::Value) {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        cli(&["probe", "--port", &sim.addr().port().to_string(), "--json"])
            .args(args)
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
        failures.contains("never connected") && failures.contains("version exchange"),
        "{failures}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_gateway_down_when_the_probe_starts_fails_it_though_it_comes_back() {
    let sim = simulator(&["refuse closed", "after 2 refuse off"]).await;
    let (passed, report) = probe(&sim, "5s").await;
    assert!(!passed, "{report:#}");
    assert!(
        report["connect_ms"].as_f64().unwrap() >= 1_500.0,
        "{report:#}"
    );
    assert!(
        report["connect_failures"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
    let failures = report["failures"].to_string();
    assert!(
        failures.contains("connect attempt(s) failed (the last: ") && failures.contains("refused"),
        "{failures}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_gateway_that_loses_ib_fails_the_probe_though_it_answers_pings() {
    // 1100 a second in, a broken farm after two: the socket and the pings are fine.
    let sim = simulator(&["after 1 notice 1100", "after 2 notice 2103 usfarm"]).await;
    let (passed, report) = probe(&sim, "4s").await;
    assert!(!passed, "{report:#}");
    assert_eq!(report["pings_ok"], report["pings_total"], "{report:#}");
    assert_eq!(
        report["ib_trouble"],
        serde_json::json!([
            "its connection to IB lost (1100)",
            "data farm usfarm broken (2103)"
        ])
    );
    let failures = report["failures"].to_string();
    assert!(
        failures.contains("the gateway reported its connection to IB lost (1100)"),
        "{failures}"
    );
    assert!(
        failures.contains("degraded when the probe ended"),
        "{failures}"
    );
    assert_eq!(
        report["gateway"],
        format!("127.0.0.1:{}, client id 901", sim.addr().port())
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

#[tokio::test]
async fn a_one_second_probe_of_a_healthy_gateway_passes() {
    let sim = simulator(&[]).await;
    for _ in 0..5 {
        let (passed, report) = probe(&sim, "1s").await;
        assert!(passed, "{report:#}");
        assert!(report["pings_total"].as_u64().unwrap() >= 1, "{report:#}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_gateway_slower_than_the_ping_timeout_fails_with_its_true_round_trip() {
    let sim = simulator(&["latency 1500"]).await;
    let (passed, report) = probe(&sim, "10s").await;
    assert!(!passed, "{report:#}");
    assert_eq!(
        report["pings_ok"], 0,
        "no ping answered within 800 ms: {report:#}"
    );
    assert!(report["late_replies"].as_u64().unwrap() >= 1, "{report:#}");
    let p50 = report["p50_us"]
        .as_u64()
        .expect("late replies give a median");
    assert!(
        (1_500_000..1_700_000).contains(&p50),
        "the true 1.5 s round trip, not a shifted one: {p50} µs"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_largest_client_id_is_accepted_without_a_fallback() {
    let sim = simulator(&[]).await;
    let (passed, report) =
        probe_with(&sim, &["--duration", "1s", "--client-id", "2147483647"]).await;
    assert!(passed, "{report:#}");
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_flag_values_are_refused_with_exit_2_and_a_message_that_names_them() {
    for args in [
        &["watch", "--every", "0s"][..],
        &["probe", "--duration", "0s"],
        &["probe", "--duration", "soon"],
        &["probe", "--port", "0"],
        &["probe", "--port", "70000"],
        &["probe", "--client-id", "-1"],
        &["probe", "--client-id", "2147483648"],
        &["probe", "--host", " "],
        &["probe", "--client-id", "5", "--fallback-client-id", "5"],
    ] {
        let output = cli(args).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let flag = args.iter().rev().find(|a| a.starts_with("--")).unwrap();
        assert!(
            stderr.contains(flag),
            "{args:?}: the message names {flag}: {stderr}"
        );
    }
}

#[tokio::test]
async fn an_interrupted_probe_prints_its_report_so_far_and_fails() {
    let sim = simulator(&[]).await;
    for sent in ["-INT", "-TERM"] {
        let port = sim.addr().port().to_string();
        let child = cli(&["probe", "--port", &port, "--duration", "1m"])
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        signal(&child, sent);
        let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
            .await
            .expect("ends after the signal")
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{sent}: {text}");
        assert!(text.contains("(interrupted)"), "{sent}: {text}");
        assert!(
            text.contains("result       FAIL: interrupted after"),
            "{sent}: {text}"
        );
        assert!(text.contains("server       213"), "{sent}: {text}");
        everyone_left(&sim).await;
    }
    sim.shutdown().await;
}
