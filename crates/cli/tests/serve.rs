//! `gatewatch-cli serve` as a service runs it: the real binary, its workers and a simulator on
//! loopback; SIGTERM stops the workers and leaves a whole history database; a settings file
//! it cannot use is refused at once, naming the field, and left as it was.

mod common;

use std::time::Duration;

use common::{cli, everyone_left, signal, simulator};
use tokio::io::{AsyncBufReadExt, BufReader};

fn settings(dir: &tempfile::TempDir, port: u16) -> String {
    let path = dir.path().join("settings.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"profiles":[{{"id":"paper","name":"Gateway paper","port":{port},"client_id":901,
                "schedule":{{"region":null,"daily":{{"action":"none"}}}}}}],
                "monitoring":{{"ping_interval_ms":200,"ping_timeout_ms":150}}}}"#
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn serve_watches_until_sigterm_then_stops_its_workers_and_leaves_a_whole_history() {
    let sim = simulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(&dir, sim.addr().port());
    let db = dir.path().join("history.db");
    let mut child = cli(&[
        "serve",
        "--settings",
        &settings,
        "--db",
        db.to_str().unwrap(),
        "--log-format",
        "json",
    ])
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let log: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if log["fields"]["state"] == "connected" && log["fields"]["gateway"] == "paper" {
                return;
            }
        }
        panic!("serve ended before connecting");
    })
    .await
    .expect("connected within 20 s");
    tokio::time::sleep(Duration::from_millis(2_500)).await; // a write of the history
    signal(&child, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("it stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    everyone_left(&sim).await;

    let history = gatewatch_history::History::open(&db).unwrap();
    assert!(history.problem.is_none());
    let connection = history.history.connection();
    let check: String = connection
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let (connects, pings, watched): (i64, i64, i64) = connection
        .query_row(
            "SELECT (SELECT count(*) FROM connects WHERE gateway = 'paper' AND ok),
                    (SELECT count(*) FROM pings WHERE gateway = 'paper'),
                    (SELECT count(*) FROM watched WHERE gateway = 'paper')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((connects, watched), (1, 1));
    assert!(pings >= 5, "{pings} pings written");
}

#[tokio::test]
async fn serve_refuses_a_settings_file_it_cannot_use_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(&dir, 0);
    let before = std::fs::read_to_string(&settings).unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        cli(&["serve", "--settings", &settings])
            .stderr(std::process::Stdio::piped())
            .output(),
    )
    .await
    .expect("it exits at once")
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("profiles[0].port"), "{said}");
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), before);
}
