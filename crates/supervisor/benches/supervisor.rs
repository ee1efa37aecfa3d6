//! The supervisor's figures, each beside a baseline measured in the same run against the same
//! simulator:
//!
//! - cold connect (spawn the worker → connected with accounts) vs the in-process `ibapi`
//!   connect and ib_async's in-process full connect (when the Python venv has ib_async);
//! - ping round trip through handle → worker → gateway → back vs `ibapi::server_time`;
//! - time to detect a killed simulator, a muted simulator, a killed worker and a hung worker,
//!   and time back to connected after each, and after a restart and a zombie spell, with the
//!   default retry settings;
//! - the worker's resident memory and CPU at one ping a second.
//!
//! `make bench` runs it in release; `-- --quick` does a few iterations (what `make test` runs).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;

use common::{event, until};
use gatewatch_sim::{SimConfig, Simulator};
use gatewatch_supervisor::state::EventKind;
use gatewatch_supervisor::{
    BrokerClient, ConnectionState, DegradedReason, Snapshot, SupervisorConfig,
};

async fn simulator_at(addr: &str) -> Simulator {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    Simulator::start(
        listener,
        SimConfig {
            tick: Duration::ZERO,
            ..SimConfig::default()
        },
    )
    .unwrap()
}

/// The default settings (1 s pings, 800 ms timeout, the default retries), pointed at `addr`.
fn config(addr: SocketAddr, client_id: i32) -> SupervisorConfig {
    SupervisorConfig {
        host: addr.ip().to_string(),
        port: addr.port(),
        client_id,
        fallback_client_id: None,
        worker_path: Some(common::binary("gatewatch-worker")),
        refresh_interval_ms: 3_600_000,
        ..SupervisorConfig::default()
    }
}

struct Figures(Vec<Duration>);

impl Figures {
    fn q(&self, q: f64) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        v[((v.len() - 1) as f64 * q).round() as usize]
    }
    fn line(&self, name: &str) -> String {
        format!(
            "{name:<56} n={:<4} median {:>10.1} µs  p95 {:>10.1} µs  p99 {:>10.1} µs",
            self.0.len(),
            us(self.q(0.5)),
            us(self.q(0.95)),
            us(self.q(0.99))
        )
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn connected(s: &Snapshot) -> bool {
    matches!(s.state, ConnectionState::Connected(_))
}

fn connected_event(e: &gatewatch_supervisor::SupervisorEvent) -> bool {
    matches!(
        e.kind,
        EventKind::StateChanged {
            state: ConnectionState::Connected(_)
        }
    )
}

fn proc_field(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Time a process has spent on a CPU, from the scheduler's own accounting (ns precision).
fn cpu_time(pid: u32) -> Duration {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Ping round trips written straight to a worker's stdin and read from its stdout: the
/// worker's share of the overhead, without the supervisor.
async fn worker_pipe_round_trips(addr: SocketAddr, pings: usize) -> Vec<Duration> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut child = tokio::process::Command::new(common::binary("gatewatch-worker"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let connect = format!(
        r#"{{"id":1,"type":"connect","host":"{}","port":{},"client_id":7100}}"#,
        addr.ip(),
        addr.port()
    );
    stdin
        .write_all(format!("{connect}\n").as_bytes())
        .await
        .unwrap();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains(r#""kind":"connected""#) {
            break;
        }
    }
    let mut samples = Vec::with_capacity(pings);
    for id in 2..pings as u64 + 2 {
        let started = Instant::now();
        stdin
            .write_all(
                format!("{{\"id\":{id},\"type\":\"ping\",\"timeout_ms\":1000}}\n").as_bytes(),
            )
            .await
            .unwrap();
        let reply = format!(r#""id":{id},"#);
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(&reply) {
                break;
            }
        }
        samples.push(started.elapsed());
    }
    samples
}

/// ib_async's in-process full connect, run by the Python venv `make python-test` creates;
/// `None` (with the reason printed) when it is not there.
fn ib_async_connect(addr: SocketAddr, n: usize) -> Option<(f64, f64)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/py-venv/bin/python");
    let script = root.join("tests/python/bench_ib_async_connect.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(addr.port().to_string())
        .arg(n.to_string())
        .output();
    match output {
        Ok(output) if output.status.success() => {
            let figures: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            Some((figures["median_us"].as_f64()?, figures["p95_us"].as_f64()?))
        }
        Ok(output) => {
            println!(
                "ib_async baseline skipped: {}",
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            None
        }
        Err(error) => {
            println!(
                "ib_async baseline skipped ({}: {error}); `make python-test` creates the venv",
                python.display()
            );
            None
        }
    }
}

/// Applies `fault`, waits until it has taken the connection down and at least `down` has
/// passed since it was applied, lifts it with `lift` (`None`: the fault lifts itself after
/// `down`, as `restart` does) and measures the time back to connected, counting from the
/// moment the gateway serves again. Waiting for the drop matters for a mute: it takes three
/// ping intervals of silence to count, so a shorter mute is (rightly) no outage at all.
async fn recovery_after(
    client: &BrokerClient,
    sim: &Simulator,
    fault: &[&str],
    lift: Option<&str>,
    down: Duration,
) -> Duration {
    until(client, 30.0, "connected before the fault", connected).await;
    let applied = Instant::now();
    for command in fault {
        sim.apply(command.parse().unwrap());
    }
    until(client, 30.0, "down after the fault", |s| !connected(s)).await;
    let mut events = client.subscribe();
    tokio::time::sleep(down.saturating_sub(applied.elapsed())).await;
    if let Some(lift) = lift {
        sim.apply(lift.parse().unwrap());
    }
    let back = Instant::now();
    event(
        &mut events,
        60.0,
        "connected after the fault",
        connected_event,
    )
    .await;
    back.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (connects, pings, detections, idle, outage) = if quick {
        (3, 20, 1, Duration::from_secs(1), Duration::from_secs(1))
    } else {
        (
            60,
            2000,
            5,
            Duration::from_secs(20),
            Duration::from_secs(20),
        )
    };
    let mut sim = simulator_at("127.0.0.1:0").await;
    let addr = sim.addr();
    println!(
        "gatewatch-supervisor bench: loopback, {} cpus, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if quick { "quick" } else { "full" }
    );

    // Cold connect.
    let mut baseline = Vec::new();
    for i in 0..connects {
        let started = Instant::now();
        let client = ibapi::Client::builder()
            .address(addr.to_string())
            .client_id(5000 + i)
            .connect()
            .await
            .unwrap();
        baseline.push(started.elapsed());
        client.disconnect().await;
    }
    let mut cold = Vec::new();
    for i in 0..connects {
        let started = Instant::now();
        let client = BrokerClient::new(config(addr, 6000 + i)).unwrap();
        client.start().await.unwrap();
        until(&client, 30.0, "state reached", |s| matches!(&s.state, ConnectionState::Connected(session) if !session.accounts.is_empty())).await;
        cold.push(started.elapsed());
        client.stop().await.unwrap();
    }
    let (baseline, cold) = (Figures(baseline), Figures(cold));
    println!("{}", baseline.line("in-process ibapi connect (baseline)"));
    if let Some((median, p95)) = ib_async_connect(addr, connects as usize) {
        println!(
            "{:<56} n={:<4} median {median:>10.1} µs  p95 {p95:>10.1} µs",
            "in-process ib_async full connect (baseline)", connects
        );
        println!(
            "{:<56} ×{:.2} of ib_async's in-process connect",
            "cold connect vs ib_async",
            us(cold.q(0.5)) / median
        );
    }
    println!(
        "{}   ×{:.1}",
        cold.line("cold connect: spawn worker → connected + accounts"),
        us(cold.q(0.5)) / us(baseline.q(0.5))
    );

    // Ping round trips.
    let client = BrokerClient::new(config(addr, 7000)).unwrap();
    client.start().await.unwrap();
    until(&client, 30.0, "state reached", connected).await;
    let direct = ibapi::Client::builder()
        .address(addr.to_string())
        .client_id(7001)
        .connect()
        .await
        .unwrap();
    let (mut via, mut base) = (Vec::new(), Vec::new());
    for _ in 0..pings {
        let started = Instant::now();
        direct.server_time().await.unwrap();
        base.push(started.elapsed());
        let started = Instant::now();
        client.ping().await.unwrap();
        via.push(started.elapsed());
    }
    direct.disconnect().await;
    let pipe = Figures(worker_pipe_round_trips(addr, pings).await);
    let (base, via) = (Figures(base), Figures(via));
    println!("{}", base.line("in-process ibapi server_time (baseline)"));
    println!(
        "{}",
        pipe.line("ping over the worker's pipes alone (no supervisor)")
    );
    println!("{}", via.line("ping: handle → worker → gateway → back"));
    println!(
        "{:<56} median {:>+10.1} µs  p99 {:>+10.1} µs",
        "added overhead",
        us(via.q(0.5)) - us(base.q(0.5)),
        us(via.q(0.99)) - us(base.q(0.99))
    );

    // Worker footprint at one ping a second.
    let pid = client.snapshot().worker.pid.unwrap();
    let cpu_before = cpu_time(pid);
    tokio::time::sleep(idle).await;
    let cpu = cpu_time(pid) - cpu_before;
    let rss_kb = proc_field(pid, "status", "VmRSS:").unwrap_or(0);
    println!(
        "{:<56} {:.1} MB",
        "worker resident memory (VmRSS)",
        rss_kb as f64 / 1024.0
    );
    println!(
        "{:<56} {:.3} % of one core over {:?} ({:.1} ms on CPU)",
        "worker CPU at 1 ping/s",
        cpu.as_secs_f64() / idle.as_secs_f64() * 100.0,
        idle,
        cpu.as_secs_f64() * 1000.0
    );

    // Detection and recovery.
    let mut events = client.subscribe();
    let (mut detect, mut back) = (Vec::new(), Vec::new());
    for _ in 0..detections {
        let started = Instant::now();
        sim.shutdown().await;
        event(&mut events, 30.0, "simulator killed", |e| {
            matches!(e.kind, EventKind::Disconnected { .. })
        })
        .await;
        detect.push(started.elapsed());
        let restarted = Instant::now();
        sim = simulator_at(&addr.to_string()).await;
        // Wait for the event, not the snapshot: the snapshot may not show the drop yet.
        event(&mut events, 30.0, "back to connected", connected_event).await;
        back.push(restarted.elapsed());
    }
    println!(
        "{}",
        Figures(detect).line("simulator killed → disconnected event")
    );
    println!("{}", Figures(back).line("simulator back → connected"));

    let (mut detect, mut back) = (Vec::new(), Vec::new());
    for _ in 0..detections.min(3) {
        let started = Instant::now();
        sim.apply("mute on".parse().unwrap());
        until(&client, 30.0, "state reached", |s| matches!(&s.state, ConnectionState::Degraded { reasons, .. } if reasons.iter().any(|r| matches!(r, DegradedReason::LostPings { .. })))).await;
        detect.push(started.elapsed());
        sim.apply("mute off".parse().unwrap());
        let unmuted = Instant::now();
        event(&mut events, 30.0, "connected after unmute", connected_event).await;
        back.push(unmuted.elapsed());
    }
    println!(
        "{}",
        Figures(detect).line("simulator muted → degraded (1 s pings, 0.8 s timeout)")
    );
    println!("{}", Figures(back).line("simulator unmuted → connected"));

    let secs = outage.as_secs_f64();
    let restart = format!("restart {secs}");
    for (fault, lift, name) in [
        (
            vec![restart.as_str()],
            None,
            "gateway restart (down, refusing)",
        ),
        (vec!["mute on"], Some("mute off"), "gateway muted"),
        (
            vec!["zombie on", "drop"],
            Some("zombie off"),
            "gateway zombie (dropped, new connections unanswered)",
        ),
    ] {
        let back = recovery_after(&client, &sim, &fault, lift, outage).await;
        println!(
            "{}",
            Figures(vec![back]).line(&format!("{name} {outage:?} → connected after return"))
        );
    }

    for (signal, name) in [
        ("-KILL", "worker killed"),
        ("-STOP", "worker hung (SIGSTOP)"),
    ] {
        let (mut detect, mut back) = (Vec::new(), Vec::new());
        for _ in 0..detections {
            // A fresh supervisor each time: a worker that dies young is respawned with a
            // growing delay, and these workers are all young.
            let client = BrokerClient::new(config(addr, 7200)).unwrap();
            let mut events = client.subscribe();
            client.start().await.unwrap();
            until(&client, 30.0, "state reached", connected).await;
            let pid = client.snapshot().worker.pid.unwrap();
            let started = Instant::now();
            std::process::Command::new("kill")
                .args([signal, &pid.to_string()])
                .status()
                .unwrap();
            event(&mut events, 30.0, name, |e| {
                matches!(e.kind, EventKind::WorkerRestarted { .. })
            })
            .await;
            detect.push(started.elapsed());
            until(&client, 30.0, "state reached", |s| {
                connected(s) && s.worker.pid != Some(pid)
            })
            .await;
            back.push(started.elapsed());
            client.stop().await.unwrap();
        }
        println!("{}", Figures(detect).line(&format!("{name} → replaced")));
        println!(
            "{}",
            Figures(back).line(&format!("{name} → connected again"))
        );
    }
    client.stop().await.unwrap();
    sim.shutdown().await;
}
