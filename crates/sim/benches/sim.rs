//! Round trips against the simulator with the `ibapi` crate, beside raw-socket baselines
//! measured in the same run:
//!
//! - connect: TCP connect alone, vs `ibapi` connect through nextValidId and managedAccounts;
//! - server time: one reqCurrentTime frame over a raw socket, vs `ibapi::Client::server_time`.
//!
//! `cargo bench -p gatewatch-sim` for the figures; `-- --quick` runs a few iterations only
//! (what `make test` does, to keep the bench working).

use std::time::{Duration, Instant};

use gatewatch_sim::{SimConfig, Simulator};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

struct Figures {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Figures {
    fn measure(name: &'static str, samples: Vec<Duration>) -> Self {
        let mut samples = samples;
        samples.sort();
        Self { name, samples }
    }

    fn quantile(&self, q: f64) -> Duration {
        let index = ((self.samples.len() - 1) as f64 * q).round() as usize;
        self.samples[index]
    }

    fn print(&self, baseline: Option<&Figures>) {
        let (median, p99) = (self.quantile(0.5), self.quantile(0.99));
        print!(
            "{:<44} n={:<5} median {:>9.1} µs   p99 {:>9.1} µs",
            self.name,
            self.samples.len(),
            us(median),
            us(p99)
        );
        if let Some(base) = baseline {
            print!(
                "   ×{:.1} baseline median",
                us(median) / us(base.quantile(0.5))
            );
        }
        println!();
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn time_each(runs: usize, mut f: impl AsyncFnMut()) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    samples
}

/// A client that knows only enough protocol to ask for the time: the floor for a round trip.
async fn raw_client(sim: &Simulator) -> TcpStream {
    let mut stream = TcpStream::connect(sim.addr()).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream.write_all(b"API\0\0\0\0\x09v213..226").await.unwrap();
    read_frame(&mut stream).await; // version reply
    stream
        .write_all(&[0, 0, 0, 6, 0, 0, 1, 0x0f, 0x08, 0x2a])
        .await
        .unwrap(); // startApi, client 42
    for _ in 0..5 {
        read_frame(&mut stream).await; // accounts, next id, three farm notices
    }
    stream
}

async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    gatewatch_sim::wire::frame::read_frame(stream)
        .await
        .unwrap()
        .expect("the simulator answers")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (connects, round_trips) = if quick { (5, 20) } else { (300, 3000) };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulator::start(
        listener,
        SimConfig {
            tick: Duration::ZERO,
            ..SimConfig::default()
        },
    )
    .unwrap();
    let addr = sim.addr();
    println!(
        "gatewatch-sim bench: loopback, {} cpus, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if quick { "quick" } else { "full" }
    );

    let tcp = Figures::measure(
        "tcp connect (baseline)",
        time_each(connects, async || {
            drop(TcpStream::connect(addr).await.unwrap());
        })
        .await,
    );
    let mut client_id = 0;
    let ibapi_connect = Figures::measure(
        "ibapi connect → nextValidId",
        time_each(connects, async || {
            client_id += 1;
            let client = ibapi::Client::builder()
                .address(addr.to_string())
                .client_id(client_id)
                .connect()
                .await
                .unwrap();
            client.disconnect().await;
        })
        .await,
    );

    let mut raw = raw_client(&sim).await;
    let raw_time = Figures::measure(
        "raw reqCurrentTime round trip (baseline)",
        time_each(round_trips, async || {
            raw.write_all(&[0, 0, 0, 4, 0, 0, 0, 0xf9]).await.unwrap();
            read_frame(&mut raw).await;
        })
        .await,
    );
    let client = ibapi::Client::builder()
        .address(addr.to_string())
        .client_id(9000)
        .connect()
        .await
        .unwrap();
    let ibapi_time = Figures::measure(
        "ibapi server_time round trip",
        time_each(round_trips, async || {
            client.server_time().await.unwrap();
        })
        .await,
    );

    tcp.print(None);
    ibapi_connect.print(Some(&tcp));
    raw_time.print(None);
    ibapi_time.print(Some(&raw_time));
    sim.shutdown().await;
}
