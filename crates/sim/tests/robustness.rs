//! Bad input closes only the connection that sent it: the simulator keeps serving everyone
//! else. Also the control port and the binary, driven as a user would.

mod common;

use std::process::Stdio;

use common::{connect, eventually, frozen, start, within};
use gatewatch_sim::wire::frame::{encode_frame, read_frame};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Sends `bytes` on a fresh connection and expects the simulator to close it.
async fn closed_after(sim: &gatewatch_sim::Simulator, bytes: &[u8]) {
    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(bytes).await.unwrap();
    let mut sink = Vec::new();
    // A close with unread input may arrive as a reset rather than EOF: either ends the read.
    let _ = within(
        3.0,
        "simulator closes the bad connection",
        raw.read_to_end(&mut sink),
    )
    .await;
    let extra = raw
        .write_all(b"more")
        .await
        .and(raw.read(&mut [0u8; 1]).await);
    assert!(
        matches!(extra, Ok(0) | Err(_)),
        "connection must be closed, got {extra:?}"
    );
}

const HELLO_213: &[u8] = b"API\0\0\0\0\x09v213..226";

/// Starts the `gatewatch-sim` binary with `args`; returns it and its ready line.
async fn spawn_binary(args: &[&str]) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatewatch-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = within(10.0, "ready line", stdout.next_line())
        .await
        .unwrap()
        .unwrap();
    (child, ready)
}

/// The address after `name` (`api=`, `control=`) in the ready line.
fn address(ready: &str, name: &str) -> std::net::SocketAddr {
    ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .unwrap_or_else(|| panic!("{ready}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn malformed_truncated_and_oversized_frames_close_only_their_connection() {
    let sim = start(frozen()).await;
    let bystander = connect(&sim, 1).await;

    closed_after(&sim, b"GET / HTTP/1.1\r\n\r\n").await;
    closed_after(&sim, b"API\0\0\0\0\x05hello").await; // not a version hello
    closed_after(&sim, b"API\0\xff\xff\xff\xff").await; // oversized length
    closed_after(&sim, b"API\0\0\0\0\0").await; // empty frame
    closed_after(&sim, b"API\0\0\0\0\x09v300..400").await; // no common version
    let mut bad_start = HELLO_213.to_vec();
    bad_start.extend_from_slice(&[0, 0, 0, 6, 0, 0, 1, 0x0f, 0xff, 0xff]); // startApi, broken protobuf
    closed_after(&sim, &bad_start).await;
    let mut truncated = HELLO_213.to_vec();
    truncated.extend_from_slice(&[0, 0, 0, 50, 0, 0]); // frame cut short, then EOF
    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(&truncated).await.unwrap();
    raw.shutdown().await.unwrap();
    drop(raw);

    within(3.0, "bystander still served", bystander.server_time())
        .await
        .expect("other clients are unaffected");
    eventually(3.0, "bad connections released", || {
        sim.status().connections == 1
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn order_messages_are_refused_as_by_a_read_only_gateway() {
    let sim = start(frozen()).await;
    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(b"API\0\0\0\0\x09v100..178").await.unwrap();
    let mut reader = BufReader::new(raw);
    let mut frames = Vec::new();
    let next_frame = async |reader: &mut BufReader<TcpStream>| {
        read_frame(reader).await.unwrap().expect("a frame")
    };
    frames.push(within(2.0, "version", next_frame(&mut reader)).await);
    let start_api = encode_frame(b"71\x002\x003\x00\x00");
    reader.get_mut().write_all(&start_api).await.unwrap();
    for _ in 0..5 {
        frames.push(within(2.0, "start-up", next_frame(&mut reader)).await); // accounts, id, 3 farms
    }
    let place_order = encode_frame(b"3\x0045\x00");
    reader.get_mut().write_all(&place_order).await.unwrap();
    let refusal = within(2.0, "refusal", next_frame(&mut reader)).await;
    assert!(
        refusal.starts_with(b"4\x002\x00-1\x00321\x00"),
        "{:?}",
        String::from_utf8_lossy(&refusal)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn control_port_switches_faults_and_explains_mistakes() {
    let sim = start(frozen()).await;
    let control = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let control_addr = control.local_addr().unwrap();
    tokio::spawn(gatewatch_sim::control::serve(control, sim.clone()));

    let stream = TcpStream::connect(control_addr).await.unwrap();
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    let mut ask = async |line: &str| {
        writer
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        within(2.0, line, lines.next_line()).await.unwrap().unwrap()
    };
    assert_eq!(ask("mute on").await, "ok");
    assert!(sim.status().faults.mute);
    assert!(ask("status").await.contains("mute=on"));
    assert_eq!(ask("mute perhaps").await, "err `mute` takes on or off");
    assert_eq!(ask("clear").await, "ok");
    assert!(!sim.status().faults.mute);
    let long = "x".repeat(gatewatch_sim::control::MAX_LINE + 10);
    assert!(ask(&long).await.starts_with("err line longer than"));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_binary_prints_where_it_listens_serves_and_stops_on_sigterm() {
    let (mut child, ready) = spawn_binary(&[
        "--port",
        "0",
        "--control-port",
        "0",
        "--tick-ms",
        "0",
        "--latency-ms",
        "1",
    ])
    .await;
    let (api, control) = (address(&ready, "api="), address(&ready, "control="));
    assert!(
        api.ip().is_loopback() && control.ip().is_loopback(),
        "loopback by default: {ready}"
    );

    let client = within(
        5.0,
        "connect",
        ibapi::Client::builder()
            .address(api.to_string())
            .client_id(1)
            .connect(),
    )
    .await
    .unwrap();
    let mut control = TcpStream::connect(control).await.unwrap();
    control.write_all(b"status\n").await.unwrap();
    let mut reply = vec![0u8; 512];
    let n = within(2.0, "status", control.read(&mut reply))
        .await
        .unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(
        reply.contains("latency=1+-0ms") && reply.contains("clients=1"),
        "{reply}"
    );
    drop(client);

    let pid = child.id().unwrap() as i32;
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = within(5.0, "clean exit", child.wait()).await.unwrap();
    assert!(status.success(), "SIGTERM stops it cleanly: {status:?}");
}

#[tokio::test]
async fn help_documents_every_flag_and_command() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatewatch-sim"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "--port",
        "--bind",
        "--control-port",
        "--max-version",
        "--max-clients",
        "--seed",
        "--tick-ms",
        "--scenario",
        "--refuse",
        "--zombie",
        "--stall-start",
        "--mute",
        "--latency-ms",
        "--jitter-ms",
        "--close-wait",
        "--exec",
        "--dump-market",
        "--handshake-timeout",
        "--capture",
        "refuse off|closed|reset",
        "zombie on|off",
        "stall-start on|off",
        "mute on|off",
        "latency MS",
        "close-wait on|off",
        "drop",
        "notice CODE",
        "port-reset",
        "restart SECS",
        "after SECS",
        "every SECS",
        "cancel",
        "clear",
        "status",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[tokio::test]
async fn idle_connections_are_dropped_after_the_handshake_timeout_so_real_clients_get_in() {
    let sim = start(gatewatch_sim::SimConfig {
        handshake_timeout: std::time::Duration::from_millis(300),
        ..frozen()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..40 {
        // Beyond 32 the simulator turns connections away at once; the rest sit idle.
        if let Ok(socket) = TcpStream::connect(sim.addr()).await {
            idle.push(socket);
        }
    }
    eventually(2.0, "every client slot taken", || {
        sim.status().connections == 32
    })
    .await;
    eventually(3.0, "idle connections dropped", || {
        sim.status().connections == 0
    })
    .await;
    for socket in &mut idle {
        let closed = within(2.0, "the idle socket is closed", socket.read(&mut [0u8; 1])).await;
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    }
    within(
        3.0,
        "a real client after the flood",
        connect(&sim, 1).await.server_time(),
    )
    .await
    .expect("served");
    sim.shutdown().await;
}

#[tokio::test]
async fn fault_held_connections_are_not_dropped_by_the_handshake_timeout() {
    let sim = start(gatewatch_sim::SimConfig {
        handshake_timeout: std::time::Duration::from_millis(200),
        ..frozen()
    })
    .await;
    sim.apply("zombie on".parse().unwrap());
    let mut held = TcpStream::connect(sim.addr()).await.unwrap();
    held.write_all(HELLO_213).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(sim.status().connections, 1, "a zombie gateway holds it");
    sim.shutdown().await;
}

/// Resident memory of a process, in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn huge_frame_headers_cost_no_memory_and_the_binary_keeps_serving() {
    let (mut child, ready) = spawn_binary(&["--port", "0", "--tick-ms", "0"]).await;
    let pid = child.id().unwrap();
    let api = address(&ready, "api=");
    let before = rss_kb(pid);
    // 20 connections each announce a 16 MiB frame and send 4 MiB of it.
    let mut floods = Vec::new();
    for _ in 0..20 {
        floods.push(tokio::spawn(async move {
            let mut socket = TcpStream::connect(api).await.unwrap();
            let mut bytes = HELLO_213.to_vec();
            bytes.extend_from_slice(&[0x00, 0xff, 0xff, 0xff]);
            if socket.write_all(&bytes).await.is_ok() {
                let chunk = vec![0x41u8; 64 * 1024];
                for _ in 0..64 {
                    if socket.write_all(&chunk).await.is_err() {
                        break; // closed by the simulator: the point
                    }
                }
            }
        }));
    }
    let mut peak = 0;
    for flood in floods {
        within(20.0, "flood connection", flood).await.unwrap();
        peak = peak.max(rss_kb(pid));
    }
    let after = rss_kb(pid);
    eprintln!("simulator RSS: {before} kB before, {peak} kB peak, {after} kB after");
    assert!(
        after < 20 * 1024,
        "RSS back under 20 MB after the flood: {after} kB (before {before}, peak {peak})"
    );
    let client = within(
        5.0,
        "connect",
        ibapi::Client::builder()
            .address(api.to_string())
            .client_id(1)
            .connect(),
    )
    .await
    .expect("still serving");
    within(2.0, "server time", client.server_time())
        .await
        .unwrap();
    let _ = child.start_kill();
}
