//! Shared by the command line's tests: a simulator on loopback, the real binary, and waits
//! that fail instead of hanging.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

/// A simulator on 127.0.0.1 with these fault commands applied at start.
pub async fn simulator(startup: &[&str]) -> gatewatch_sim::Simulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = gatewatch_sim::SimConfig {
        startup: startup.iter().map(|c| c.parse().unwrap()).collect(),
        ..gatewatch_sim::SimConfig::default()
    };
    gatewatch_sim::Simulator::start(listener, config).unwrap()
}

/// `gatewatch-cli` with `args`, its stdout piped, killed if the test drops it.
pub fn cli(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatewatch-cli"));
    command
        .args(args)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Sends `signal` (`-INT`, `-TERM`) to a child process.
pub fn signal(child: &tokio::process::Child, signal: &str) {
    std::process::Command::new("kill")
        .args([signal, &child.id().unwrap().to_string()])
        .status()
        .unwrap();
}

/// Fails unless every client has left the simulator within 3 s.
pub async fn everyone_left(sim: &gatewatch_sim::Simulator) {
    tokio::time::timeout(Duration::from_secs(3), async {
        while sim.status().clients > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the monitor's worker has left the gateway");
}

/// A plain HTTP/1.1 GET on loopback, with a bearer token if given: the status and body.
pub async fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}
