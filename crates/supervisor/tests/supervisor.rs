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
    config.connect_retry.failure_threshold = 3;
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
    let back = Instant::now();
    until(
        &client,
        10.0,
        "the first probe answered brings a full connect",
        connected,
    )
    .await;
    assert!(
        back.elapsed() < Duration::from_secs(2),
        "within a probe interval (200 ms here) of the gateway's return: {:?}",
        back.elapsed()
    );
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

/// A trading bot that connects, says hello and closes with a FIN: on a wedged gateway its
/// socket stays in CLOSE_WAIT on the gateway's side.
async fn bot_that_leaves(sim: &gatewatch_sim::Simulator) {
    use tokio::io::AsyncWriteExt;
    let mut bot = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    bot.write_all(b"API\0\0\0\0\x09v100..178").await.unwrap();
    // Read the version reply: closing with unread data would be a reset, not a FIN.
    within(
        2.0,
        "version reply",
        gatewatch_sim::wire::frame::read_frame(&mut bot),
    )
    .await
    .unwrap();
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_gateways_close_wait_pile_up_is_reported_as_the_gateways() {
    let sim = simulator().await;
    sim.apply(cmd("close-wait on"));
    bot_that_leaves(&sim).await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    client.start().await.unwrap();
    let snapshot = until(&client, 10.0, "gateway zombies seen", |s| {
        s.zombies.gateway > 0
    })
    .await;
    assert_eq!(snapshot.zombies.gateway, 1, "the bot's, and none of ours");
    assert_eq!(snapshot.zombies.ours, 0);
    assert!(snapshot.zombies.advice().unwrap().contains("restart"));
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn reconnects_to_a_wedged_gateway_add_nothing_to_its_close_wait_pile() {
    let sim = simulator().await;
    sim.apply(cmd("close-wait on"));
    bot_that_leaves(&sim).await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    until(&client, 10.0, "connected", connected).await;
    for round in 0..3 {
        sim.apply(cmd("drop"));
        event(&mut events, 5.0, &format!("drop {round}"), |e| {
            matches!(e.kind, EventKind::Disconnected { .. })
        })
        .await;
        until(&client, 10.0, "connected again", connected).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let port = sim.addr().port();
    let count = gatewatch_supervisor::zombie::scan(port, None).unwrap();
    assert_eq!(
        count.gateway, 1,
        "still only the bot's socket after three reconnects: {count:?}"
    );
    client.stop().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        gatewatch_supervisor::zombie::scan(port, None)
            .unwrap()
            .gateway,
        1,
        "stopping adds none either"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_reply_after_the_ping_timeout_is_never_credited_to_the_next_ping() {
    // Fast config: pings every 100 ms, 80 ms timeout, slow above 500 ms.
    for max_version in [213, 178] {
        let sim = simulator_at(max_version).await;
        let mut config = fast_config(&sim);
        config.slow_ping_ms = 100;
        let client = BrokerClient::new(config).unwrap();
        client.start().await.unwrap();
        until(&client, 10.0, "connected", connected).await;

        sim.apply(cmd("latency 150"));
        let slow = until(&client, 10.0, "a minute's median from late replies", |s| {
            s.latency.windows.first().is_some_and(|(_, minute)| {
                minute.late >= 5 && minute.p50_us.is_some_and(|p50| p50 >= 150_000)
            })
        })
        .await;
        let ConnectionState::Degraded { reasons, .. } = &slow.state else {
            panic!(
                "{max_version}: a gateway slower than the ping timeout is not healthy: {:?}",
                slow.state
            )
        };
        assert!(
            reasons
                .iter()
                .any(|r| matches!(r, DegradedReason::LostPings { .. })),
            "{max_version}: {reasons:?}"
        );
        let minute = slow.latency.windows[0].1;
        assert!(
            minute.p50_us.unwrap() < 250_000,
            "{max_version}: the true round trip of 150 ms, not a shifted one: {minute:?}"
        );
        assert_eq!(
            slow.worker.restarts, 0,
            "{max_version}: a slow gateway is not a dead one"
        );

        sim.apply(cmd("latency 40"));
        let fast = until(&client, 10.0, "answered within the timeout", |s| {
            connected(s)
                && s.latency
                    .last_rtt_us
                    .flatten()
                    .is_some_and(|rtt| rtt < 80_000)
        })
        .await;
        let last = fast.latency.last_rtt_us.flatten().unwrap();
        assert!(
            (40_000..60_000).contains(&last),
            "{max_version}: 40 ms measured as {last} µs"
        );
        client.stop().await.unwrap();
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_steady_problem_is_one_state_change_not_one_per_ping() {
    let sim = simulator().await;
    let mut config = fast_config(&sim);
    config.ping_interval_ms = 200;
    config.ping_timeout_ms = 150;
    config.slow_ping_ms = 20;
    let client = BrokerClient::new(config).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    until(&client, 10.0, "connected", connected).await;
    sim.apply(cmd("latency 60"));
    until(&client, 10.0, "degraded", |s| {
        matches!(s.state, ConnectionState::Degraded { .. })
    })
    .await;
    while events.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_secs(2)).await;
    let changes: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e.kind, EventKind::StateChanged { .. }))
        .collect();
    assert!(
        changes.is_empty(),
        "ten slow pings in a steady state changed nothing: {changes:?}"
    );
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn both_client_ids_taken_is_said_plainly_and_each_round_starts_with_the_configured_id() {
    let sim = simulator().await;
    let mut holders = Vec::new();
    for id in [901, 902] {
        let mut config = fast_config(&sim);
        (config.client_id, config.fallback_client_id) = (id, None);
        let holder = BrokerClient::new(config).unwrap();
        holder.start().await.unwrap();
        until(&holder, 10.0, "holder connected", connected).await;
        holders.push(holder);
    }
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    let mut tried = Vec::new();
    while tried.len() < 6 {
        let failed = event(&mut events, 10.0, "a 326", |e| {
            matches!(e.kind, EventKind::ConnectFailed { .. })
        })
        .await;
        let EventKind::ConnectFailed { error, .. } = failed.kind else {
            unreachable!()
        };
        assert_eq!(error.code, ErrorCode::ClientIdInUse);
        let id = if error.message.contains("901") {
            901
        } else {
            902
        };
        tried.push(id);
    }
    assert_eq!(tried, [901, 902, 901, 902, 901, 902]);
    let snapshot = client.snapshot();
    let error = snapshot.last_error.unwrap().message;
    assert!(
        error.contains("client ids 901 and 902 are both in use"),
        "{error}"
    );
    client.stop().await.unwrap();
    for holder in holders {
        holder.stop().await.unwrap();
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_worker_that_dies_at_once_is_respawned_a_handful_of_times_not_in_a_loop() {
    let sim = simulator().await;
    let mut config = fast_config(&sim);
    config.worker_path = Some(fake_worker("crash"));
    config.worker_retry = gatewatch_supervisor::retry::RetryConfig {
        jitter: 0.0,
        ..gatewatch_supervisor::retry::RetryConfig::worker_respawns()
    };
    let client = BrokerClient::new(config).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let restarts = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e.kind, EventKind::WorkerRestarted { .. }))
        .count();
    assert!(
        (3..=5).contains(&restarts),
        "respawned at once, then after 1, 2, 4 s: {restarts} in 10 s"
    );
    assert!(client.snapshot().last_error.is_some());
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
        gatewatch_supervisor::zombie::scan(sim.addr().port(), Some(pid))
            .unwrap()
            .ours,
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

#[tokio::test]
async fn a_steady_300_ms_gateway_reads_300_ms_and_stays_connected() {
    for max_version in [213, 178] {
        let sim = simulator_at(max_version).await;
        sim.apply(cmd("latency 300 50"));
        let mut config = fast_config(&sim);
        (config.ping_interval_ms, config.ping_timeout_ms) = (400, 380);
        let client = BrokerClient::new(config).unwrap();
        client.start().await.unwrap();
        let snapshot = until(&client, 30.0, "twenty pings", |s| {
            s.latency.windows.first().is_some_and(|(_, w)| w.sent >= 20)
        })
        .await;
        let minute = snapshot.latency.windows[0].1;
        let p50 = minute.p50_us.unwrap();
        assert!(
            (270_000..=330_000).contains(&p50),
            "{max_version}: a 300 ± 50 ms gateway read as {p50} µs"
        );
        assert_eq!(minute.lost, 0, "{max_version}: {minute:?}");
        assert!(connected(&snapshot), "{max_version}: {:?}", snapshot.state);
        client.stop().await.unwrap();
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn with_the_default_retries_a_restarted_gateway_is_back_within_seconds_of_its_return() {
    let sim = simulator().await;
    let config = gatewatch_supervisor::SupervisorConfig {
        host: "127.0.0.1".into(),
        port: sim.addr().port(),
        worker_path: Some(binary("gatewatch-worker")),
        ..gatewatch_supervisor::SupervisorConfig::default()
    };
    let client = BrokerClient::new(config).unwrap();
    client.start().await.unwrap();
    until(&client, 10.0, "connected", connected).await;
    sim.apply(cmd("restart 8"));
    until(&client, 10.0, "probing while the gateway is down", |s| {
        matches!(s.state, ConnectionState::CircuitOpen { .. })
    })
    .await;
    within(10.0, "the gateway's return", async {
        while sim.status().faults.refuse != gatewatch_sim::RefuseMode::Off {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let back = Instant::now();
    until(&client, 10.0, "connected again", connected).await;
    assert!(
        back.elapsed() < Duration::from_secs(5),
        "connected {:?} after the gateway came back",
        back.elapsed()
    );
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_gateway_slower_than_the_timeout_but_inside_the_silence_limit_keeps_its_connection() {
    // Fast config: pings every 100 ms, 80 ms timeout, replaced after 300 ms without a reply.
    let sim = simulator().await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    until(&client, 10.0, "connected", connected).await;
    sim.apply(cmd("latency 250"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let drops: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| matches!(e.kind, EventKind::Disconnected { .. }))
        .collect();
    assert!(
        drops.is_empty(),
        "a slow gateway is not a dead one: {drops:?}"
    );
    assert_eq!(
        sim.requests_seen().get(&71),
        Some(&1),
        "one session from start to end"
    );
    let snapshot = client.snapshot();
    let minute = snapshot.latency.windows[0].1;
    assert!(
        minute.late >= 5 && minute.p50_us.is_some_and(|p50| p50 >= 250_000),
        "{minute:?}"
    );
    client.stop().await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_silent_gateway_is_replaced_and_the_replacement_is_announced() {
    let sim = simulator().await;
    let client = BrokerClient::new(fast_config(&sim)).unwrap();
    let mut events = client.subscribe();
    client.start().await.unwrap();
    until(&client, 10.0, "connected", connected).await;
    sim.apply(cmd("mute on"));
    let dropped = event(&mut events, 5.0, "the replacement", |e| {
        matches!(e.kind, EventKind::Disconnected { .. })
    })
    .await;
    let EventKind::Disconnected { cause, message } = dropped.kind else {
        unreachable!()
    };
    assert_eq!(cause, gatewatch_protocol::DisconnectCause::Unresponsive);
    assert!(message.contains("no reply to any ping"), "{message}");
    sim.apply(cmd("mute off"));
    until(&client, 10.0, "connected again", connected).await;
    client.stop().await.unwrap();
    sim.shutdown().await;
}
