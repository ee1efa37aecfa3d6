//! The worker's own gateway client puts the same bytes on the wire as rust-ibapi 5 for the
//! same calls at server version 213. The simulator records every frame (`CaptureTo::Memory`);
//! `ibapi` connects with client id 11 and makes the monitoring calls, then the real worker
//! process connects with the same id and makes the same calls, and the first frame of each
//! message id is compared byte for byte. Both number their requests from 1 500 000 000, and
//! the account summary is each one's first numbered request, so even its request id matches.
//! The version hello differs by design: ibapi offers `v213..226`, the worker `v100..226`, to
//! reach classic-text gateways too. (`tests/python/test_same_bytes.py` makes the same
//! comparison with the official Python client at 213, 200 and 178.)

mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use gatewatch_protocol::ToWorker;
use gatewatch_sim::{CaptureTo, SimConfig, Simulator};
use harness::{Worker, within};
use ibapi::accounts::types::{AccountGroup, AccountId};
use ibapi::accounts::{AccountSummaryResult, AccountUpdate, PositionUpdate};
use ibapi::subscriptions::SubscriptionItem;

const CLIENT_ID: i32 = 11;
const TAGS: [&str; 3] = ["NetLiquidation", "BuyingPower", "TotalCashValue"];

/// The message ids both clients send for these calls, by name.
const COMPARED: [(u32, &str); 8] = [
    (71, "startApi"),
    (49, "reqCurrentTime"),
    (17, "reqManagedAccts"),
    (61, "reqPositions"),
    (64, "cancelPositions"),
    (62, "reqAccountSummary"),
    (63, "cancelAccountSummary"),
    (6, "reqAccountUpdates (subscribe)"),
];

async fn ibapi_calls(sim: &Simulator) {
    let client = within(
        5.0,
        "ibapi connect",
        ibapi::Client::builder()
            .address(sim.addr().to_string())
            .client_id(CLIENT_ID)
            .max_reconnect_attempts(0)
            .connect(),
    )
    .await
    .unwrap();
    within(5.0, "server time", client.server_time())
        .await
        .unwrap();
    let accounts = within(5.0, "accounts", client.managed_accounts())
        .await
        .unwrap();
    let mut positions = client.positions().await.unwrap();
    while let Some(Ok(item)) = within(5.0, "positions", positions.next()).await {
        if matches!(item, SubscriptionItem::Data(PositionUpdate::PositionEnd)) {
            break;
        }
    }
    positions.cancel().await;
    let mut summary = client
        .account_summary(&AccountGroup("All".into()), &TAGS)
        .await
        .unwrap();
    while let Some(Ok(item)) = within(5.0, "summary", summary.next()).await {
        if matches!(item, SubscriptionItem::Data(AccountSummaryResult::End)) {
            break;
        }
    }
    summary.cancel().await;
    let mut updates = client
        .account_updates(&AccountId(accounts[0].clone()))
        .await
        .unwrap();
    while let Some(Ok(item)) = within(5.0, "account updates", updates.next()).await {
        if matches!(item, SubscriptionItem::Data(AccountUpdate::End)) {
            break;
        }
    }
    updates.cancel().await;
    client.disconnect().await;
}

async fn worker_calls(sim: &Simulator) {
    let mut worker = Worker::spawn().await;
    worker.connect(sim, CLIENT_ID).await.expect("connect");
    for command in [
        ToWorker::Ping { timeout_ms: 5_000 },
        ToWorker::GetAccounts {},
        ToWorker::GetAccountSummary {
            tags: TAGS.map(str::to_owned).to_vec(),
        },
        ToWorker::GetPositions {},
        ToWorker::Shutdown {},
    ] {
        worker.request(command, 10.0).await.expect("answered");
    }
    worker.wait_exit(5.0).await;
}

/// The first body of each message id, per connection (protobuf ids are the canonical + 200).
fn first_frames(sim: &Simulator) -> BTreeMap<u64, BTreeMap<u32, Vec<u8>>> {
    let mut frames: BTreeMap<u64, BTreeMap<u32, Vec<u8>>> = BTreeMap::new();
    for frame in sim.captured() {
        let Some(id) = frame.body.first_chunk::<4>() else {
            continue;
        };
        let wire_id = u32::from_be_bytes(*id);
        let msg_id = if wire_id > 200 {
            wire_id - 200
        } else {
            wire_id
        };
        frames
            .entry(frame.connection)
            .or_default()
            .entry(msg_id)
            .or_insert(frame.body);
    }
    frames
}

#[tokio::test]
async fn the_worker_sends_what_rust_ibapi_sends() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Simulator::start(
        listener,
        SimConfig {
            tick: Duration::ZERO,
            capture: CaptureTo::Memory,
            ..SimConfig::default()
        },
    )
    .unwrap();
    ibapi_calls(&sim).await;
    within(5.0, "ibapi's client id released", async {
        while sim.status().clients > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    worker_calls(&sim).await;
    let frames = first_frames(&sim);
    let connections: Vec<&BTreeMap<u32, Vec<u8>>> = frames.values().collect();
    assert_eq!(connections.len(), 2, "one connection each");
    let (ibapi, worker) = (connections[0], connections[1]);
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    for (msg_id, name) in COMPARED {
        let (Some(theirs), Some(ours)) = (ibapi.get(&msg_id), worker.get(&msg_id)) else {
            panic!("{name} not sent by both: ibapi {ibapi:?}, worker {worker:?}");
        };
        assert_eq!(
            hex(ours),
            hex(theirs),
            "{name}: the worker's bytes, then rust-ibapi's"
        );
    }
    sim.shutdown().await;
}
