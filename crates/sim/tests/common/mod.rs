//! Helpers shared by the simulator's integration tests: a simulator on a free loopback port,
//! real `ibapi` clients with bounded waits, and a deadline for every await.
#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::time::Duration;

use gatewatch_sim::{SimConfig, Simulator};
use ibapi::Client;

/// Starts a simulator on 127.0.0.1 with an OS-chosen port.
pub async fn start(config: SimConfig) -> Simulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    Simulator::start(listener, config).expect("simulator starts")
}

/// A simulator whose prices never move, so values can be compared exactly.
pub fn frozen() -> SimConfig {
    SimConfig {
        tick: Duration::ZERO,
        ..SimConfig::default()
    }
}

/// Fails the test if `future` takes longer than `secs`; a hang is a failure, never a wait.
pub async fn within<T>(secs: f64, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs_f64(secs), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no result within {secs} s"))
}

/// The `ibapi` builder the tests use: no hidden reconnects, one-shot requests bounded.
pub fn builder(sim: &Simulator, client_id: i32) -> ibapi::ClientBuilder {
    Client::builder()
        .address(sim.addr().to_string())
        .client_id(client_id)
        .max_reconnect_attempts(0)
        .one_shot_timeout(Duration::from_secs(2))
}

/// Connects a real `ibapi` client, failing the test on error or after 5 s.
pub async fn connect(sim: &Simulator, client_id: i32) -> Client {
    within(5.0, "connect", builder(sim, client_id).connect())
        .await
        .expect("ibapi connects to the simulator")
}

/// Polls `condition` every 5 ms until it holds, failing after `secs`.
pub async fn eventually(secs: f64, what: &str, mut condition: impl FnMut() -> bool) {
    within(secs, what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// Reads data items from an `ibapi` subscription until one for which `is_end` holds (not
/// returned); a notice or a decode error fails the test, and so does a wait over 5 s.
pub async fn data_until<T, S>(stream: &mut S, what: &str, is_end: impl Fn(&T) -> bool) -> Vec<T>
where
    S: futures::Stream<Item = Result<ibapi::subscriptions::SubscriptionItem<T>, ibapi::Error>>
        + Unpin,
{
    use futures::StreamExt;
    use ibapi::subscriptions::SubscriptionItem;
    within(5.0, what, async {
        let mut items = Vec::new();
        loop {
            match stream
                .next()
                .await
                .expect("subscription ended early")
                .expect("item decodes")
            {
                SubscriptionItem::Data(item) if is_end(&item) => return items,
                SubscriptionItem::Data(item) => items.push(item),
                SubscriptionItem::Notice(notice) => panic!("{what}: unexpected notice {notice:?}"),
            }
        }
    })
    .await
}
