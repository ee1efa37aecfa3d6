//! The `watch` command: JSON lines of state changes until Ctrl-C (SIGINT), then a clean exit.

mod common;

use std::time::Duration;

use common::{cli, everyone_left, signal, simulator};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn watch_reports_the_connection_and_stops_on_sigint() {
    watch_stops_on("-INT").await;
}

#[tokio::test]
async fn watch_stops_gracefully_on_sigterm() {
    watch_stops_on("-TERM").await;
}

async fn watch_stops_on(sent: &str) {
    let sim = simulator(&[]).await;
    let port = sim.addr().port().to_string();
    let mut child = cli(&["watch", "--port", &port, "--every", "1s", "--json"])
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
            if value["kind"] == "latency" && value["state"]["state"] == "connected" {
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
    signal(&child, sent);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits after the signal")
        .unwrap();
    assert!(status.success(), "{status:?}");
    everyone_left(&sim).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn json_lines_carry_the_same_sentences_as_the_text_output() {
    let sim = simulator(&["close-wait on"]).await;
    let port = sim.addr().port().to_string();
    let run = |json: bool| {
        let mut args = vec!["watch", "--port", &port, "--every", "1s"];
        if json {
            args.push("--json");
        }
        cli(&args)
    };
    let mut text = run(false).spawn().unwrap();
    let mut json = run(true).spawn().unwrap();
    let mut text_lines = BufReader::new(text.stdout.take().unwrap()).lines();
    let mut json_lines = BufReader::new(json.stdout.take().unwrap()).lines();
    let mut said = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while said.len() < 3 {
            let line = text_lines.next_line().await.unwrap().unwrap();
            if line.starts_with("state connected") || line.starts_with("latency") {
                said.push(line);
            }
        }
    })
    .await
    .expect("text lines");
    let mut texts = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while texts.len() < 3 {
            let line = json_lines.next_line().await.unwrap().unwrap();
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            let sentence = value["text"]
                .as_str()
                .unwrap_or_else(|| panic!("every JSON line says it in words: {line}"))
                .to_owned();
            if sentence.starts_with("state connected") || sentence.starts_with("latency") {
                texts.push(sentence);
            }
        }
    })
    .await
    .expect("json lines");
    let kinds = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(kinds(&said), kinds(&texts), "{said:?} vs {texts:?}");
    assert!(
        said.iter()
            .chain(&texts)
            .all(|l| !l.contains("Some(") && !l.contains("{\"")),
        "sentences, not debug output: {said:?} {texts:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_closed_stdout_ends_watch_without_a_panic() {
    let sim = simulator(&[]).await;
    let port = sim.addr().port().to_string();
    let mut child = cli(&["watch", "--port", &port, "--every", "100ms"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next_line().await.unwrap();
    drop(lines); // as `watch | head -1` does
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("watch ends once nobody reads it")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    sim.shutdown().await;
}

#[tokio::test]
async fn ctrl_c_to_the_whole_terminal_group_stops_watch_and_its_worker_gracefully() {
    let sim = simulator(&[]).await;
    let port = sim.addr().port().to_string();
    for _ in 0..3 {
        // A terminal's Ctrl-C goes to the whole foreground process group.
        let mut child = cli(&["watch", "--port", &port, "--json"])
            .process_group(0)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("\"state\":\"connected\"") {
                    return;
                }
            }
        })
        .await
        .expect("connected");
        let group = format!("-{}", child.id().unwrap());
        std::process::Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .unwrap();
        let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
            .await
            .expect("ends")
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(
            !stderr.contains("worker gone"),
            "the worker was stopped by watch, not by the Ctrl-C: {stderr}"
        );
        everyone_left(&sim).await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn both_client_ids_taken_is_said_in_the_text_output() {
    let sim = simulator(&[]).await;
    let mut holders = Vec::new();
    for id in [901, 902] {
        let holder =
            gatewatch_supervisor::BrokerClient::new(gatewatch_supervisor::SupervisorConfig {
                port: sim.addr().port(),
                client_id: id,
                fallback_client_id: None,
                ..gatewatch_supervisor::SupervisorConfig::default()
            })
            .unwrap();
        holder.start().await.unwrap();
        holders.push(holder);
    }
    tokio::time::timeout(Duration::from_secs(10), async {
        while sim.status().clients < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both ids held");
    let port = sim.addr().port().to_string();
    let mut child = cli(&["watch", "--port", &port]).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("state ") && line.contains("client ids 901 and 902 are both in use")
            {
                return;
            }
        }
        panic!("watch ended without saying both ids are taken");
    })
    .await
    .expect("a state line that says both client ids are in use");
    for holder in holders {
        holder.stop().await.unwrap();
    }
    sim.shutdown().await;
}
