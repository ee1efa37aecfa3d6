//! Every fault, observed by a real `ibapi` client (or a raw socket where the fault is about
//! bytes), switched on and off while the simulator runs.

mod common;

use std::time::{Duration, Instant};

use common::{builder, connect, eventually, frozen, start, within};
use gatewatch_sim::wire::frame::read_frame;
use gatewatch_sim::{Command, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn cmd(line: &str) -> Command {
    line.parse().expect("valid command")
}

/// How a connect attempt ended, in the terms the worker will report.
#[derive(Debug, PartialEq)]
enum Outcome {
    Connected,
    Refused,
    Rejected,
    Hung,
}

async fn try_connect(sim: &gatewatch_sim::Simulator, client_id: i32, wait: Duration) -> Outcome {
    match tokio::time::timeout(wait, builder(sim, client_id).connect()).await {
        Err(_) => Outcome::Hung,
        Ok(Ok(_)) => Outcome::Connected,
        Ok(Err(ibapi::Error::Io(e))) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Outcome::Refused
        }
        Ok(Err(_)) => Outcome::Rejected,
    }
}

/// Asserts how a connect attempt with `client_id` ends within `wait`.
async fn expect_connect(
    sim: &gatewatch_sim::Simulator,
    client_id: i32,
    wait: Duration,
    expected: Outcome,
    why: &str,
) {
    let outcome = try_connect(sim, client_id, wait).await;
    assert_eq!(outcome, expected, "client {client_id}: {why}");
}

#[tokio::test]
async fn refuse_closed_means_nothing_listens_until_lifted() {
    let sim = start(frozen()).await;
    sim.apply(cmd("refuse closed"));
    eventually(2.0, "port closed", || {
        std::net::TcpStream::connect(sim.addr()).is_err()
    })
    .await;
    expect_connect(&sim, 1, Duration::from_secs(2), Outcome::Refused, "").await;
    sim.apply(cmd("refuse off"));
    eventually(2.0, "port open again", || {
        std::net::TcpStream::connect(sim.addr()).is_ok()
    })
    .await;
    expect_connect(&sim, 1, Duration::from_secs(2), Outcome::Connected, "").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn refuse_reset_accepts_then_resets() {
    let sim = start(frozen()).await;
    sim.apply(cmd("refuse reset"));
    expect_connect(
        &sim,
        1,
        Duration::from_secs(2),
        Outcome::Rejected,
        "EOF or RST before the reply",
    )
    .await;
    sim.apply(cmd("refuse off"));
    expect_connect(&sim, 1, Duration::from_secs(2), Outcome::Connected, "").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn zombie_gateway_accepts_tcp_but_never_answers_the_version_exchange() {
    let sim = start(frozen()).await;
    sim.apply(cmd("zombie on"));
    expect_connect(&sim, 1, Duration::from_millis(500), Outcome::Hung, "").await;
    // The raw view: TCP connects, the hello goes out, no reply ever comes.
    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(b"API\0\0\0\0\x09v100..226").await.unwrap();
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), raw.read(&mut byte))
            .await
            .is_err(),
        "zombie must stay silent"
    );
    sim.apply(cmd("zombie off"));
    expect_connect(&sim, 2, Duration::from_secs(2), Outcome::Connected, "").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn stall_start_answers_the_version_but_never_sends_next_valid_id() {
    let sim = start(frozen()).await;
    sim.apply(cmd("stall-start on"));
    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(b"API\0\0\0\0\x09v213..226").await.unwrap();
    let reply = within(2.0, "version reply", read_frame(&mut raw))
        .await
        .unwrap()
        .expect("a version reply");
    assert!(
        reply.starts_with(b"213\0"),
        "the version exchange is answered"
    );
    raw.write_all(&[0, 0, 0, 6, 0, 0, 1, 0x0f, 0x08, 0x07])
        .await
        .unwrap(); // startApi, client 7
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), raw.read(&mut byte))
            .await
            .is_err(),
        "nothing after startApi"
    );
    expect_connect(
        &sim,
        1,
        Duration::from_millis(500),
        Outcome::Hung,
        "ibapi waits for nextValidId",
    )
    .await;
    sim.apply(cmd("stall-start off"));
    expect_connect(&sim, 2, Duration::from_secs(2), Outcome::Connected, "").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn mute_keeps_the_socket_open_and_answers_nothing() {
    let sim = start(frozen()).await;
    let client = within(
        5.0,
        "connect",
        builder(&sim, 1)
            .one_shot_timeout(Duration::from_millis(300))
            .connect(),
    )
    .await
    .unwrap();
    sim.apply(cmd("mute on"));
    let muted = within(3.0, "muted request", client.server_time()).await;
    assert!(
        matches!(muted, Err(ibapi::Error::Timeout)),
        "expected a timeout, got {muted:?}"
    );
    assert!(
        client.is_connected(),
        "a half-open socket still looks connected to the client"
    );
    sim.apply(cmd("mute off"));
    within(3.0, "unmuted request", client.server_time())
        .await
        .expect("answers resume");
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_reply() {
    let sim = start(frozen()).await;
    let client = connect(&sim, 1).await;
    sim.apply(cmd("latency 150 20"));
    for _ in 0..3 {
        let started = Instant::now();
        within(3.0, "slow request", client.server_time())
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(130),
            "reply came after {:?}",
            started.elapsed()
        );
    }
    sim.apply(cmd("latency 0"));
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_after_a_delay_and_flapping_drops_are_observed() {
    let sim = start(frozen()).await;
    let client = connect(&sim, 1).await;
    let started = Instant::now();
    sim.apply(cmd("after 0.3 drop"));
    eventually(3.0, "delayed drop", || !client.is_connected()).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "dropped too early: {:?}",
        started.elapsed()
    );

    sim.apply(cmd("every 0.2 drop"));
    for flap in 0..2 {
        let client = connect(&sim, 2).await;
        eventually(3.0, "flapping drop", || !client.is_connected()).await;
        eprintln!("flap {flap} observed");
    }
    sim.apply(cmd("cancel"));
    assert_eq!(sim.status().timers, 0);
    sim.shutdown().await;
}

async fn next_notice(stream: &mut ibapi::subscriptions::NoticeStream) -> i32 {
    within(3.0, "notice", stream.next())
        .await
        .expect("notice stream open")
        .code
}

#[tokio::test]
async fn ib_notices_reach_the_clients_notice_stream() {
    let sim = start(frozen()).await;
    let (client, mut notices) = within(
        5.0,
        "connect",
        builder(&sim, 1).connect_with_notice_stream(),
    )
    .await
    .unwrap();
    for farm_ok in [2104, 2106, 2158] {
        assert_eq!(
            next_notice(&mut notices).await,
            farm_ok,
            "start-up farm notices in gateway order"
        );
    }
    sim.apply(cmd("notice 1100"));
    sim.apply(cmd("after 0.1 notice 1102"));
    assert_eq!(next_notice(&mut notices).await, 1100);
    assert_eq!(next_notice(&mut notices).await, 1102);
    sim.apply(cmd("notice 1100"));
    sim.apply(cmd("after 0.1 notice 1101"));
    assert_eq!(next_notice(&mut notices).await, 1100);
    assert_eq!(next_notice(&mut notices).await, 1101);
    for (broken, ok) in [(2103, 2104), (2105, 2106), (2157, 2158)] {
        sim.apply(cmd(&format!("notice {broken}")));
        sim.apply(cmd(&format!("after 0.05 notice {ok}")));
        assert_eq!(next_notice(&mut notices).await, broken);
        assert_eq!(next_notice(&mut notices).await, ok);
    }
    assert!(client.is_connected(), "notices do not close the connection");
    sim.shutdown().await;
}

#[tokio::test]
async fn port_reset_sends_1300_then_closes() {
    let sim = start(frozen()).await;
    let (client, mut notices) = within(
        5.0,
        "connect",
        builder(&sim, 1).connect_with_notice_stream(),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        next_notice(&mut notices).await;
    }
    sim.apply(cmd("port-reset"));
    let notice = within(3.0, "1300", notices.next()).await.unwrap();
    assert_eq!(notice.code, 1300);
    assert!(
        notice.message.contains(&sim.addr().port().to_string()),
        "names the port: {}",
        notice.message
    );
    eventually(2.0, "closed after 1300", || !client.is_connected()).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn daily_restart_drops_everyone_refuses_then_accepts() {
    let sim = start(frozen()).await;
    let client = connect(&sim, 1).await;
    sim.apply(cmd("restart 0.6"));
    eventually(2.0, "restart drops the client", || !client.is_connected()).await;
    expect_connect(
        &sim,
        1,
        Duration::from_secs(1),
        Outcome::Refused,
        "refused during the restart",
    )
    .await;
    within(3.0, "back after the restart", async {
        while try_connect(&sim, 1, Duration::from_secs(1)).await != Outcome::Connected {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    sim.shutdown().await;
}

/// Counts sockets on `port` in CLOSE_WAIT (state 08 in /proc/net/tcp) on the local side.
fn close_wait_on_port(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local_port = cols
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            local_port == Some(port) && cols.get(3) == Some(&"08")
        })
        .count()
}

#[tokio::test]
async fn close_wait_leaves_the_gateway_side_open_after_clients_leave() {
    let sim = start(frozen()).await;
    sim.apply(cmd("close-wait on"));
    for client_id in 1..=3 {
        // Read everything the gateway sent, then drop the client: its socket closes with a
        // FIN, as a crashed process's does (unread data would make it an RST instead).
        let (client, mut notices) = within(
            5.0,
            "connect",
            builder(&sim, client_id).connect_with_notice_stream(),
        )
        .await
        .unwrap();
        for _ in 0..3 {
            next_notice(&mut notices).await;
        }
        drop(client);
    }
    eventually(3.0, "three parked sockets", || sim.status().parked == 3).await;
    eventually(3.0, "kernel shows CLOSE_WAIT", || {
        close_wait_on_port(sim.addr().port()) == 3
    })
    .await;
    expect_connect(
        &sim,
        1,
        Duration::from_secs(2),
        Outcome::Rejected,
        "a wedged gateway still holds the id (326)",
    )
    .await;
    sim.apply(cmd("close-wait off"));
    eventually(3.0, "parked sockets released", || sim.status().parked == 0).await;
    eventually(3.0, "CLOSE_WAIT gone", || {
        close_wait_on_port(sim.addr().port()) == 0
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn the_33rd_concurrent_client_is_turned_away() {
    let sim = start(frozen()).await;
    let mut clients = Vec::new();
    for client_id in 0..32 {
        clients.push(connect(&sim, client_id).await);
    }
    assert_eq!(sim.status().connections, 32);
    expect_connect(&sim, 99, Duration::from_secs(2), Outcome::Rejected, "").await;
    clients.pop().unwrap().disconnect().await;
    eventually(2.0, "a slot frees up", || sim.status().connections == 31).await;
    expect_connect(&sim, 99, Duration::from_secs(2), Outcome::Connected, "").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn clear_lifts_every_fault_at_once() {
    let sim = start(SimConfig {
        startup: vec![cmd("mute on"), cmd("latency 50"), cmd("every 10 drop")],
        ..frozen()
    })
    .await;
    assert!(sim.status().faults.mute && sim.status().timers == 1);
    assert_eq!(sim.execute("clear").unwrap(), "ok");
    let status = sim.status();
    assert_eq!(status.faults, gatewatch_sim::Faults::default());
    assert_eq!(status.timers, 0);
    expect_connect(&sim, 1, Duration::from_secs(2), Outcome::Connected, "").await;
    sim.shutdown().await;
}
