//! The `watch` command: JSON lines of state changes until Ctrl-C (SIGINT), then a clean exit.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn watch_reports_the_connection_and_stops_on_sigint() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim =
        gatewatch_sim::Simulator::start(listener, gatewatch_sim::SimConfig::default()).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatewatch-cli"))
        .args([
            "watch",
            "--port",
            &sim.addr().port().to_string(),
            "--every",
            "1s",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut states = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if let Some(state) = value["kind"]
                .as_str()
                .filter(|k| *k == "state_changed")
                .and(value["state"]["state"].as_str())
            {
                states.push(state.to_owned());
            }
            if value["state"] == "connected" && value["latency"]["windows"].is_array() {
                break; // a periodic latency line while connected
            }
        }
    })
    .await
    .expect("watch reports a connection");
    assert!(
        states.contains(&"connecting".to_owned()) && states.contains(&"connected".to_owned()),
        "{states:?}"
    );
    std::process::Command::new("kill")
        .args(["-INT", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits after SIGINT")
        .unwrap();
    assert!(status.success(), "{status:?}");
    tokio::time::timeout(Duration::from_secs(3), async {
        while sim.status().clients > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("its worker has left the gateway");
    sim.shutdown().await;
}
