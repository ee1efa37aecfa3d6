//! What one scrape of `/metrics` costs: the time to render and the size of the exposition for
//! 1 and 8 gateways with a day's worth of counts (farms, notices, failures, every histogram
//! bucket in use), against a baseline measured in the same run: serialising the same
//! gateways' supervisor snapshots to JSON, as `/api/v1/snapshot` does.
//!
//! `cargo bench -p gatewatch-endpoints --bench metrics` (full) or `-- --quick` (a smoke run
//! that checks the bench still works; `make test` runs it).

use std::time::{Duration, Instant};

use gatewatch_app::GatewayReading;
use gatewatch_app::tally::Tally;
use gatewatch_protocol::notice::Notice;
use gatewatch_protocol::{DisconnectCause, Encoding, ErrorCode, Stage, StageTimes, WorkerError};
use gatewatch_supervisor::state::SessionInfo;
use gatewatch_supervisor::{ConnectionState, EventKind, Snapshot, SupervisorEvent};

fn session() -> SessionInfo {
    SessionInfo {
        server_version: 213,
        encoding: Encoding::Protobuf,
        accounts: vec!["DU1234567".into(), "DU7654321".into()],
        client_id: 901,
        since_ms: 1,
        stage_us: StageTimes {
            tcp_connect: 150,
            version_exchange: 900,
            start_api: 3_000,
            first_ping: 400,
        },
    }
}

/// A gateway after a day at one ping a second: 86 400 pings spread over every bucket, a few
/// drops and failures, five farms and their notices.
fn reading(i: usize) -> GatewayReading {
    let mut tally = Tally::default();
    let mut at = |kind| {
        tally.observe(&SupervisorEvent { at_ms: 1, kind });
    };
    at(EventKind::StateChanged {
        state: ConnectionState::Connected(session()),
    });
    for n in 0..86_400u64 {
        at(EventKind::Ping {
            rtt_us: (n % 500 != 0).then_some(50 + (n * 7919) % 3_000_000),
            late: false,
        });
    }
    for farm in ["usfarm", "eufarm", "cashfarm", "ushmds", "secdefnj"] {
        at(EventKind::Notice(Notice::new(
            2104,
            format!("Market data farm connection is OK:{farm}"),
        )));
    }
    at(EventKind::Notice(Notice::new(
        1100,
        "Connectivity between IB and TWS has been lost.",
    )));
    at(EventKind::Disconnected {
        cause: DisconnectCause::GatewayClosed,
        message: String::new(),
    });
    at(EventKind::ConnectFailed {
        attempt: 1,
        error: WorkerError::at(Stage::TcpConnect, ErrorCode::GatewayUnreachable, "refused"),
    });
    at(EventKind::StateChanged {
        state: ConnectionState::Connected(SessionInfo {
            since_ms: 2,
            ..session()
        }),
    });
    GatewayReading {
        id: format!("gateway-{i}"),
        name: format!("Gateway {i}"),
        host: "127.0.0.1".into(),
        port: 4002,
        snapshot: Snapshot {
            state: ConnectionState::Connected(session()),
            ..Snapshot::default()
        },
        tally,
        expected_outage: None,
    }
}

/// The median of `rounds` timings of `f`.
fn median(rounds: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(rounds);
    let mut size = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        size = std::hint::black_box(f());
        times.push(started.elapsed());
    }
    times.sort_unstable();
    (times[rounds / 2], size)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 20 } else { 2_000 };
    println!(
        "gatewatch-endpoints metrics bench: {rounds} renders each, median, {}",
        if quick { "quick" } else { "full" }
    );
    let mut figures = Vec::new();
    for n in [1, 8] {
        let readings: Vec<GatewayReading> = (0..n).map(reading).collect();
        let (render, bytes) = median(rounds, || {
            gatewatch_endpoints::exposition::render(readings.clone(), None, 2).len()
        });
        let snapshots: Vec<Snapshot> = readings.iter().map(|r| r.snapshot.clone()).collect();
        let (json, json_bytes) = median(rounds, || {
            let cloned = readings.clone();
            std::hint::black_box(&cloned);
            serde_json::to_string(&snapshots).unwrap().len()
        });
        let samples = gatewatch_endpoints::exposition::render(readings.clone(), None, 2)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count();
        println!(
            "{n} gateway{:<2} /metrics {:>8.1} µs  {:>6.1} KB  {samples:>5} samples   baseline: snapshots as JSON {:>7.1} µs  {:>5.1} KB   ×{:.2} the baseline's time",
            if n == 1 { "" } else { "s" },
            render.as_secs_f64() * 1e6,
            bytes as f64 / 1024.0,
            json.as_secs_f64() * 1e6,
            json_bytes as f64 / 1024.0,
            render.as_secs_f64() / json.as_secs_f64(),
        );
        figures.push(render);
    }
    println!(
        "8 gateways / 1 gateway render time          ×{:.2}",
        figures[1].as_secs_f64() / figures[0].as_secs_f64()
    );
}
