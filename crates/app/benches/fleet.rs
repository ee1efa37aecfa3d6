//! The app core watching many gateways at once: CPU and memory of the app core and of all
//! its workers with 1, 4 and 8 gateways at one ping a second; the same 8 as the headless
//! service runs them, with its HTTP endpoints and `/metrics` scraped every second (fifteen
//! times Prometheus' default rate), against the 8 without in the same run; and whether one gateway's
//! pings are delayed by another's outage (the p99 of gateway A's round trips with and
//! without a neighbour's gateway killed and restarted every 10 s).
//!
//! Each simulator is a `gatewatch-sim` process of its own, so the bench process is the app
//! core alone. `cargo bench -p gatewatch-app --bench fleet` (full) or `-- --quick` (a smoke
//! run that checks the bench still works; `make test` runs it).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatewatch_app::{App, AppOptions, UiSnapshot};
use gatewatch_settings::{GatewayProfile, Settings};
use gatewatch_supervisor::{ConnectionState, EventKind};

fn binary(name: &str) -> PathBuf {
    let path = gatewatch_supervisor::config::sibling_binary(name).unwrap();
    assert!(
        path.exists(),
        "{} missing: build the workspace binaries first",
        path.display()
    );
    path
}

/// A `gatewatch-sim` process on loopback.
struct SimProcess {
    child: Child,
    port: u16,
}

impl SimProcess {
    /// Starts one on `port` (0: a free one) and waits until it listens.
    fn start(port: u16) -> SimProcess {
        let mut child = Command::new(binary("gatewatch-sim"))
            .args(["--port", &port.to_string(), "--tick-ms", "1000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let port = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("api="))
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        SimProcess { child, port }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// CPU time of every thread of process `pid`, from the scheduler's own accounting.
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn connected(s: &UiSnapshot, n: usize) -> bool {
    s.gateways.len() == n
        && s.gateways.iter().all(|g| {
            matches!(
                g.snapshot.state,
                ConnectionState::Connected(_) | ConnectionState::Degraded { .. }
            )
        })
}

async fn until(app: &App, what: &str, condition: impl Fn(&UiSnapshot) -> bool) {
    tokio::time::timeout(Duration::from_secs(60), async {
        while !condition(&app.snapshot()) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: not within 60 s"));
}

/// An app core watching one gateway per simulator, pinging once a second (the default).
async fn app_for(dir: &tempfile::TempDir, sims: &[SimProcess]) -> App {
    let settings = Settings {
        profiles: sims
            .iter()
            .enumerate()
            .map(|(i, sim)| GatewayProfile {
                id: format!("g{i}"),
                name: format!("Gateway {i}"),
                port: sim.port,
                schedule: gatewatch_supervisor::calendar::GatewaySchedule::none(),
                ..GatewayProfile::default()
            })
            .collect(),
        ..Settings::default()
    };
    let path = dir.path().join("settings.json");
    std::fs::write(&path, serde_json::to_string(&settings).unwrap()).unwrap();
    let app = App::start(AppOptions {
        demo: false,
        settings_path: Some(path),
        worker_path: Some(binary("gatewatch-worker")),
        history_path: Some(dir.path().join("history.db")),
    })
    .await
    .unwrap();
    until(&app, "all connected", |s| connected(s, sims.len())).await;
    app
}

/// Scrapes `/metrics` at `addr` every second until dropped; counts the scrapes.
async fn scrape_every_second(
    addr: std::net::SocketAddr,
    scrapes: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut body = Vec::new();
        stream.read_to_end(&mut body).await.unwrap();
        assert!(body.starts_with(b"HTTP/1.1 200"), "a scrape failed");
        scrapes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// CPU and RSS of the app core and its workers watching `n` gateways for `measure`; with
/// `serve`, as the headless service: the endpoints served and `/metrics` scraped every second.
async fn load(n: usize, measure: Duration, serve: bool) -> f64 {
    let sims: Vec<SimProcess> = (0..n).map(|_| SimProcess::start(0)).collect();
    let dir = tempfile::tempdir().unwrap();
    let app = app_for(&dir, &sims).await;
    let scrapes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let scraper = if serve {
        let mut listen = gatewatch_endpoints::Listen::loopback();
        listen.addr = "127.0.0.1:0".parse().unwrap();
        let listener = gatewatch_endpoints::bind(&listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(gatewatch_endpoints::serve(
            listener,
            gatewatch_endpoints::router(app.clone(), None),
            std::future::pending(),
        ));
        Some(tokio::spawn(scrape_every_second(addr, scrapes.clone())))
    } else {
        None
    };
    // Let start-up settle: connects, first fetches.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let me = std::process::id();
    let workers: Vec<u32> = app
        .snapshot()
        .gateways
        .iter()
        .filter_map(|g| g.snapshot.worker.pid)
        .collect();
    assert_eq!(workers.len(), n);
    let workers_cpu = || workers.iter().map(|pid| cpu_time(*pid)).sum::<Duration>();
    let (app_before, workers_before) = (cpu_time(me), workers_cpu());
    let started = Instant::now();
    tokio::time::sleep(measure).await;
    let elapsed = started.elapsed().as_secs_f64();
    let app_cpu = (cpu_time(me) - app_before).as_secs_f64() / elapsed * 100.0;
    let workers_cpu = (workers_cpu() - workers_before).as_secs_f64() / elapsed * 100.0;
    let workers_rss: u64 = workers.iter().map(|pid| rss_kb(*pid)).sum();
    println!(
        "{n} gateway{:<2}{} app core CPU {app_cpu:>6.3} % of a core   workers CPU {workers_cpu:>6.3} % (all {n})   app core RSS {:>5.1} MB   workers RSS {:>5.1} MB (all {n})",
        if n == 1 { "" } else { "s" },
        if serve {
            format!(
                " as the service ({} scrapes):",
                scrapes.load(std::sync::atomic::Ordering::Relaxed)
            )
        } else {
            String::new()
        },
        rss_kb(me) as f64 / 1024.0,
        workers_rss as f64 / 1024.0,
    );
    if let Some(scraper) = scraper {
        scraper.abort();
    }
    app.shutdown().await;
    app_cpu
}

/// Gateway g0's answered round trips, µs, over `span`, while `during` runs.
async fn round_trips_of_g0(
    app: &App,
    span: Duration,
    during: impl std::future::Future<Output = ()>,
) -> Vec<u64> {
    let mut events = app.subscribe();
    let collect = async {
        let mut rtts = Vec::new();
        let deadline = tokio::time::Instant::now() + span;
        while let Ok(Ok(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
            if event.gateway == "g0"
                && let EventKind::Ping {
                    rtt_us: Some(us), ..
                } = event.event.kind
            {
                rtts.push(us);
            }
        }
        rtts
    };
    let (rtts, ()) = tokio::join!(collect, during);
    rtts
}

fn quantile_ms(values: &mut [u64], q: f64) -> f64 {
    values.sort_unstable();
    values[((values.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
}

/// Gateway A's round trips among four gateways, first with quiet neighbours, then with one
/// neighbour's gateway killed (and started again on its port) every `kill_every`.
async fn neighbour_outage(span: Duration, kill_every: Duration) {
    let mut sims: Vec<SimProcess> = (0..4).map(|_| SimProcess::start(0)).collect();
    let dir = tempfile::tempdir().unwrap();
    let app = app_for(&dir, &sims).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut quiet = round_trips_of_g0(&app, span, async {}).await;
    let port = sims[1].port;
    let mut kills = 0;
    let neighbour = &mut sims[1];
    let mut noisy = round_trips_of_g0(&app, span, async {
        let end = Instant::now() + span;
        while Instant::now() + kill_every < end {
            tokio::time::sleep(kill_every / 2).await;
            neighbour.kill();
            kills += 1;
            tokio::time::sleep(kill_every / 2).await;
            *neighbour = SimProcess::start(port);
        }
    })
    .await;
    let (a, b) = (quiet.len(), noisy.len());
    assert!(a > 0 && b > 0, "gateway A answered no ping");
    let line = |name: &str, n: usize, values: &mut [u64]| {
        println!(
            "{name:<52} n={n:<4} p50 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms",
            quantile_ms(values, 0.5),
            quantile_ms(values, 0.99),
            quantile_ms(values, 1.0)
        )
    };
    line("gateway A's pings, neighbours quiet", a, &mut quiet);
    line(
        &format!("gateway A's pings, a neighbour killed {kills}× ({kill_every:?} apart)"),
        b,
        &mut noisy,
    );
    println!(
        "p99 with the neighbour's outages / without            ×{:.2}",
        quantile_ms(&mut noisy, 0.99) / quantile_ms(&mut quiet, 0.99)
    );
    app.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (measure, span, kill_every) = if quick {
        (
            Duration::from_secs(2),
            Duration::from_secs(5),
            Duration::from_secs(2),
        )
    } else {
        (
            Duration::from_secs(30),
            Duration::from_secs(120),
            Duration::from_secs(10),
        )
    };
    println!(
        "gatewatch-app fleet bench: loopback, {} cpus, {}, 1 ping/s per gateway",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if quick { "quick" } else { "full" }
    );
    let mut eight = 0.0;
    for n in [1, 4, 8] {
        eight = load(n, measure, false).await;
    }
    let service = load(8, measure, true).await;
    println!(
        "8 gateways: app core CPU as the service scraped every second / without endpoints   ×{:.2}",
        service / eight
    );
    neighbour_outage(span, kill_every).await;
}
