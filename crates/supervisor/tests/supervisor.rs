//! The supervisor with real worker processes against the simulator on loopback (and a
//! misbehaving fake worker where the point is a broken worker).

mod common;

use std::time::{Duration, Instant};

use common::*;
use gatewatch_protocol::{ErrorCode, Stage};
use gatewatch_supervisor::{BrokerClient, ConnectionState, DegradedReason, EventKind};

fn cmd(line: &str) -> gatewatch_sim::Command {
    line.parse().unwrap()
}

fn connected(s: &gatewatch_supervisor::Snapshot) -> bool {
    matches!(s.state, ConnectionState::Connected(_))
}

#[tokio::test]
async fn happy_path_connects_pings_refreshes_and_stops_cleanly() {
    let sim = simulator().await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    client.start().await.unwrap();
    let snapshot = until(&client, 10.0, "connected", connected).await;
    let ConnectionState::Connected(session) = &snapshot.state else {
        unreachable!()
    };
    assert_eq!(session.accounts, ["DU1234567", "DU7654321"]);
    assert_eq!(session.client_id, 901);
    let pid = snapshot.worker.pid.expect("a worker runs");

    let snapshot = until(&client, 5.0, "latency and data", |s| {
        s.latency.windows.first().is_some_and(|(_, w)| w.sent >= 3)
            && !s.positions.is_empty()
            && !s.account_summary.is_empty()
    })
    .await;
    assert_eq!(snapshot.positions.len(), 22);
    let minute = snapshot.latency.windows[0].1;
    assert_eq!(minute.lost, 0);
    assert!(minute.p50_us.is_some() && minute.p99_us >= minute.p50_us);
    assert_eq!(client.accounts().await.unwrap(), ["DU1234567", "DU7654321"]);
    assert_eq!(client.positions().await.unwrap().len(), 22);

    client.stop().await.unwrap();
    assert_eq!(client.snapshot().state, ConnectionState::Stopped);
    assert!(!process_alive(pid), "the worker is gone after stop");
    assert_eq!(defunct_children(), 0, "and reaped");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_gateway_started_late_is_connected_when_it_comes_up() {
    let sim = simulator().await;
    sim.apply(cmd("refuse closed"));
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    let failed = event(&mut events, 5.0, "connect failed", |e| {
        matches!(e.kind, EventKind::ConnectFailed { .. })
    })
    .await;
    let EventKind::ConnectFailed { error, .. } = failed.kind else {
        unreachable!()
    };
    assert_eq!(
        (error.code, error.stage),
        (ErrorCode::GatewayUnreachable, Some(Stage::TcpConnect))
    );
    until(&client, 5.0, "reconnecting", |s| {
        matches!(s.state, ConnectionState::Reconnecting { .. })
    })
    .await;
    sim.apply(cmd("refuse off"));
    until(&client, 10.0, "connected once the gateway is up", connected).await;
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn handshake_stalls_are_named_and_retried_with_backoff() {
    for (fault, stage) in [
        ("zombie on", Stage::VersionExchange),
        ("stall-start on", Stage::StartApi),
    ] {
        let sim = simulator().await;
        sim.apply(cmd(fault));
        let client = BrokerClient::new(fast_config(&sim)).unwrap();
        let mut events = client.subscribe();
        client.start().await.unwrap();
        let mut attempts = Vec::new();
        while attempts.len() < 3 {
            let failed = event(&mut events, 10.0, fault, |e| {
                matches!(e.kind, EventKind::ConnectFailed { .. })
            })
            .await;
            let EventKind::ConnectFailed { attempt, error } = failed.kind else {
                unreachable!()
            };
            assert_eq!(
                (error.code, error.stage),
                (ErrorCode::HandshakeTimeout, Some(stage)),
                "{fault}: {}",
                error.message
            );
            attempts.push((attempt, failed.at_ms));
        }
        assert_eq!(
            attempts.iter().map(|a| a.0).collect::<Vec<_>>(),
            [1, 2, 3],
            "{fault}: attempts count up"
        );
        sim.apply(cmd("clear"));
        until(&client, 10.0, "connected after the fault clears", connected).await;
        client.stop().await.unwrap();
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_muted_gateway_is_degraded_within_a_ping_interval_plus_timeout_then_reconnected() {
    let sim = simulator().await;
    let config = fast_config(&sim);
    let bound = Duration::from_millis(config.ping_interval_ms + config.ping_timeout_ms + 300);
    let client = BrokerClient::new(config).unwrap();
    client.start().await.unwrap();
    until(&client, 10.0, "connected", connected).await;
    let muted = Instant::now();
    sim.apply(cmd("mute on"));
    until(&client, 5.0, "degraded", |s| {
        matches!(&s.state, ConnectionState::Degraded { reasons, .. } if reasons.iter().any(|r| matches!(r, DegradedReason::LostPings { .. })))
    })
    .await;
    assert!(
        muted.elapsed() <= bound,
        "detected after {:?}, bound {bound:?}",
        muted.elapsed()
    );
    until(&client, 5.0, "reconnecting after lost pings", |s| {
        matches!(
            s.state,
            ConnectionState::Reconnecting { .. } | ConnectionState::Connecting { .. }
        )
    })
    .await;
    sim.apply(cmd("mute off"));
    until(&client, 10.0, "connected again", connected).await;
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dropped_gateway_is_reconnected_when_it_returns() {
    let sim = simulator().await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    until(&client, 10.0, "connected", connected).await;
    sim.apply(cmd("restart 0.5"));
    event(&mut events, 3.0, "disconnected", |e| {
        matches!(e.kind, EventKind::Disconnected { .. })
    })
    .await;
    until(&client, 3.0, "not connected", |s| !connected(s)).await;
    until(&client, 10.0, "connected after the restart", connected).await;
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_id_in_use_falls_back_once_and_says_so() {
    let sim = simulator().await;
    let holder = BrokerClient::new(fast_config(&sim)).unwrap();
    holder.start().await.unwrap();
    until(&holder, 10.0, "the first monitor holds 901", connected).await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    let fallback = event(&mut events, 10.0, "fallback", |e| {
        matches!(e.kind, EventKind::ClientIdFallback { .. })
    })
    .await;
    assert_eq!(
        fallback.kind,
        EventKind::ClientIdFallback { from: 901, to: 902 }
    );
    let snapshot = until(&client, 10.0, "connected with the fallback id", connected).await;
    let ConnectionState::Connected(session) = snapshot.state else {
        unreachable!()
    };
    assert_eq!(session.client_id, 902);
    client.stop().await.unwrap();
    holder.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_killed_worker_is_replaced_and_reconnects() {
    let sim = simulator().await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    client.start().await.unwrap();
    let before = until(&client, 10.0, "connected", connected).await;
    let pid = before.worker.pid.unwrap();
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let after = until(&client, 10.0, "a new worker, connected", |s| {
        connected(s) && s.worker.pid.is_some_and(|p| p != pid)
    })
    .await;
    assert_eq!(after.worker.restarts, 1);
    assert!(!process_alive(pid));
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stopped_worker_is_caught_by_the_heartbeat_and_replaced() {
    let sim = simulator().await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    let before = until(&client, 10.0, "connected", connected).await;
    let pid = before.worker.pid.unwrap();
    std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap();
    let restarted = event(&mut events, 5.0, "restart", |e| {
        matches!(e.kind, EventKind::WorkerRestarted { .. })
    })
    .await;
    let EventKind::WorkerRestarted { reason, .. } = restarted.kind else {
        unreachable!()
    };
    assert!(reason.contains("heartbeat"), "{reason}");
    until(&client, 10.0, "connected with a new worker", |s| {
        connected(s) && s.worker.pid.is_some_and(|p| p != pid)
    })
    .await;
    assert!(!process_alive(pid), "the stopped worker was killed");
    client.stop().await.unwrap();
    sim.shutdown().await;
}

/// The fake worker copied under a name that selects its `mode`.
fn fake_worker(mode: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gatewatch-fake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("fake_worker-{mode}"));
    std::fs::copy(example("fake_worker"), &path).unwrap();
    path
}

/// Runs the supervisor over the fake worker in `mode` and returns why it replaced it.
async fn restart_reason_with_fake_worker(mode: &str) -> String {
    let sim = simulator().await;
    let mut config = fast_config(&sim);
    config.worker_path = Some(fake_worker(mode));
    let client = BrokerClient::new(config).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    let restarted = event(&mut events, 5.0, mode, |e| {
        matches!(e.kind, EventKind::WorkerRestarted { .. })
    })
    .await;
    client.stop().await.unwrap();
    sim.shutdown().await;
    match restarted.kind {
        EventKind::WorkerRestarted { reason, .. } => reason,
        _ => unreachable!("matched above"),
    }
}

#[tokio::test]
async fn a_worker_writing_garbage_is_replaced() {
    let reason = restart_reason_with_fake_worker("garbage").await;
    assert!(reason.contains("unreadable"), "{reason}");
}

#[tokio::test]
async fn a_worker_speaking_another_protocol_version_is_refused_and_replaced() {
    let reason = restart_reason_with_fake_worker("wrong-version").await;
    assert!(reason.contains("protocol version 999"), "{reason}");
}

#[tokio::test]
async fn a_worker_that_crashes_on_its_first_request_is_replaced() {
    let reason = restart_reason_with_fake_worker("crash").await;
    assert!(reason.contains("exit"), "{reason}");
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures_and_closes_after_recovery() {
    let sim = simulator().await;
    sim.apply(cmd("refuse closed"));
    let mut config = fast_config(&sim);
    config.breaker.failure_threshold = 3;
    let client = BrokerClient::new(config).unwrap();
    client.start().await.unwrap();
    let open = until(&client, 10.0, "circuit open", |s| {
        matches!(s.state, ConnectionState::CircuitOpen { .. })
    })
    .await;
    let ConnectionState::CircuitOpen { failures, .. } = open.state else {
        unreachable!()
    };
    assert_eq!(failures, 3);
    sim.apply(cmd("refuse off"));
    until(
        &client,
        10.0,
        "the trial after the cool-down connects",
        connected,
    )
    .await;
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn pause_stops_retries_until_resumed() {
    let sim = simulator().await;
    sim.apply(cmd("refuse closed"));
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    event(&mut events, 5.0, "first failure", |e| {
        matches!(e.kind, EventKind::ConnectFailed { .. })
    })
    .await;
    client.pause(None).await.unwrap();
    until(&client, 2.0, "paused", |s| {
        matches!(s.state, ConnectionState::Paused { until_ms: None })
    })
    .await;
    while events.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(800)).await;
    let attempts = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e.kind, EventKind::ConnectFailed { .. }))
        .count();
    assert!(
        attempts <= 1,
        "at most the attempt in flight when paused may fail; got {attempts}"
    );
    sim.apply(cmd("refuse off"));
    client.resume().await.unwrap();
    until(&client, 10.0, "connected after resume", connected).await;
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn the_gateways_close_wait_pile_up_is_reported_as_the_gateways() {
    let sim = simulator().await;
    sim.apply(cmd("close-wait on"));
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    client.start().await.unwrap();
    // The worker's version probe connection is closed by the worker and parked by the
    // simulator: a gateway-side CLOSE_WAIT.
    let snapshot = until(&client, 10.0, "gateway zombies seen", |s| {
        s.zombies.gateway > 0
    })
    .await;
    assert_eq!(snapshot.zombies.ours, 0, "none of ours");
    assert!(snapshot.zombies.advice().unwrap().contains("restart"));
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_worker() {
    let sim = simulator().await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    client.start().await.unwrap();
    let pid = until(&client, 10.0, "connected", connected)
        .await
        .worker
        .pid
        .unwrap();
    drop(client);
    within(5.0, "worker gone", async {
        while process_alive(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn two_hundred_reconnect_cycles_leak_nothing() {
    let sim = simulator().await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    client.start().await.unwrap();
    until(&client, 10.0, "connected", connected).await;
    let fds_before = open_fds();
    let mut events = client.subscribe();
    for cycle in 0..200 {
        client.reconnect_now().await.unwrap();
        event(&mut events, 10.0, &format!("cycle {cycle}"), |e| {
            matches!(
                &e.kind,
                EventKind::StateChanged {
                    state: ConnectionState::Connected(_)
                }
            )
        })
        .await;
    }
    let snapshot = client.snapshot();
    assert!(connected(&snapshot));
    assert_eq!(snapshot.worker.restarts, 0, "reconnects reuse the worker");
    let pid = snapshot.worker.pid.unwrap();
    assert_eq!(
        gatewatch_supervisor::zombie::scan(sim.addr().port(), Some(pid)).ours,
        0,
        "no CLOSE_WAIT of ours"
    );
    assert_eq!(defunct_children(), 0);
    let fds_after = open_fds();
    assert!(
        fds_after <= fds_before + 4,
        "file descriptors grew from {fds_before} to {fds_after}"
    );
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn handle_pings_answer_while_connected_and_fail_fast_otherwise() {
    let sim = simulator().await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    assert_eq!(
        client.ping().await,
        Err(gatewatch_supervisor::ClientError::NotConnected),
        "stopped"
    );
    client.start().await.unwrap();
    until(&client, 10.0, "connected", connected).await;
    for _ in 0..20 {
        assert!(client.ping().await.expect("a round trip") > 0);
    }
    sim.apply(cmd("mute on"));
    let started = Instant::now();
    let muted = within(5.0, "muted ping", client.ping()).await;
    assert!(muted.is_err(), "{muted:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the ping timeout: {:?}",
        started.elapsed()
    );
    sim.apply(cmd("mute off"));
    client.stop().await.unwrap();
    assert_eq!(
        client.ping().await,
        Err(gatewatch_supervisor::ClientError::NotConnected)
    );
    sim.shutdown().await;
}
