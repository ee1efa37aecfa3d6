//! Shared by the supervisor's tests: the real worker binary, a simulator on loopback, fast
//! timings, and waits that fail instead of hanging.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::time::Duration;

use gatewatch_protocol::Timeouts;
use gatewatch_sim::{SimConfig, Simulator};
use gatewatch_supervisor::retry::RetryConfig;
use gatewatch_supervisor::{BrokerClient, Snapshot, SupervisorConfig, SupervisorEvent};
use tokio::sync::broadcast;

/// A binary of the workspace (`make test` builds them before the tests).
pub fn binary(name: &str) -> PathBuf {
    let path = gatewatch_supervisor::config::sibling_binary(name).unwrap();
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (make test does)",
        path.display()
    );
    path
}

/// An example of this package (cargo test builds them).
pub fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    deps.parent().unwrap().join("examples").join(name)
}

/// A simulator on 127.0.0.1 with frozen prices.
pub async fn simulator() -> Simulator {
    simulator_at(213).await
}

/// A simulator on 127.0.0.1 with frozen prices, capped at `max_version`.
pub async fn simulator_at(max_version: i32) -> Simulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Simulator::start(
        listener,
        SimConfig {
            max_version,
            tick: Duration::ZERO,
            ..SimConfig::default()
        },
    )
    .unwrap()
}

/// Settings with fast timings so failures show in well under a second.
pub fn fast_config(sim: &Simulator) -> SupervisorConfig {
    SupervisorConfig {
        host: "127.0.0.1".into(),
        port: sim.addr().port(),
        client_id: 901,
        fallback_client_id: Some(902),
        timeouts: Timeouts {
            tcp_connect_ms: 500,
            version_exchange_ms: 300,
            start_api_ms: 500,
            first_ping_ms: 500,
            request_ms: 2_000,
        },
        ping_interval_ms: 100,
        ping_timeout_ms: 80,
        slow_ping_ms: 500,
        reconnect_after_lost_pings: 3,
        heartbeat_interval_ms: 100,
        heartbeat_timeout_ms: 400,
        refresh_interval_ms: 1_000,
        zombie_scan_interval_ms: 200,
        connect_retry: RetryConfig {
            initial_ms: 50,
            max_ms: 400,
            jitter: 0.0,
            failure_threshold: 50,
            open_initial_ms: 200,
            open_max_ms: 2_000,
            ..RetryConfig::connects()
        },
        probe_interval_ms: 200,
        worker_retry: RetryConfig {
            initial_ms: 100,
            max_ms: 1_000,
            jitter: 0.0,
            ..RetryConfig::worker_respawns()
        },
        worker_stable_after_ms: 10_000,
        worker_path: Some(binary("gatewatch-worker")),
        stop_grace_ms: 1_000,
        garbage_limit: 20,
        calendar: None,
    }
}

/// Fails the test if `future` takes longer than `secs`.
pub async fn within<T>(secs: f64, what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs_f64(secs), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {secs} s"))
}

/// Waits until the snapshot satisfies `condition`.
pub async fn until(
    client: &BrokerClient,
    secs: f64,
    what: &str,
    condition: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let mut watch = client.watch();
    within(secs, what, async {
        loop {
            {
                let snapshot = watch.borrow_and_update();
                if condition(&snapshot) {
                    return snapshot.clone();
                }
            }
            watch.changed().await.expect("supervisor running");
        }
    })
    .await
}

/// Waits for an event satisfying `condition`.
pub async fn event(
    events: &mut broadcast::Receiver<SupervisorEvent>,
    secs: f64,
    what: &str,
    condition: impl Fn(&SupervisorEvent) -> bool,
) -> SupervisorEvent {
    within(secs, what, async {
        loop {
            match events.recv().await {
                Ok(event) if condition(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("{what}: event stream closed"),
            }
        }
    })
    .await
}

/// Whether process `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.split_whitespace().nth(2).is_some_and(|s| s != "Z"))
}

/// Children of this process that have exited but were not reaped.
pub fn defunct_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            let after_name = stat.rsplit(") ").next().unwrap_or("");
            let mut fields = after_name.split_whitespace();
            let state = fields.next();
            let parent = fields.next();
            state == Some("Z") && parent == Some(me.as_str())
        })
        .count()
}

/// File descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
