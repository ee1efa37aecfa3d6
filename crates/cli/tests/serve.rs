//! `gatewatch-cli serve` as a service runs it: the real binary, its workers and two simulators
//! on loopback; its endpoints over real HTTP (token, metrics, readiness across a gateway
//! restart, the JSON API); SIGTERM stops the endpoints and the workers and leaves a whole
//! history database; a settings file, an address or a token it cannot use is refused at once,
//! saying why, and the settings file is left as it was.

mod common;

use std::time::Duration;

use std::net::SocketAddr;

use common::{cli, everyone_left, http_get, signal, simulator};
use tokio::io::{AsyncBufReadExt, BufReader};

fn settings(dir: &tempfile::TempDir, ports: &[(&str, u16)]) -> String {
    let path = dir.path().join("settings.json");
    let profiles: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, (id, port))| {
            format!(
                r#"{{"id":"{id}","name":"Gateway {id}","port":{port},"client_id":{},
                "schedule":{{"region":null,"daily":{{"action":"none"}}}}}}"#,
                901 + i
            )
        })
        .collect();
    std::fs::write(
        &path,
        format!(
            r#"{{"profiles":[{}],"monitoring":{{"ping_interval_ms":200,"ping_timeout_ms":150}}}}"#,
            profiles.join(",")
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// Polls `path` until `done` says yes about its status and body, within `secs`.
async fn until(
    addr: SocketAddr,
    path: &str,
    secs: u64,
    done: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let (status, body) = http_get(addr, path, Some(TOKEN)).await;
        if done(status, &body) {
            return (status, body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} still {status} after {secs} s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn serve_answers_its_endpoints_until_sigterm_then_stops_its_workers_and_leaves_a_whole_history()
 {
    let a = simulator(&[]).await;
    let b = simulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(&dir, &[("a", a.addr().port()), ("b", b.addr().port())]);
    let db = dir.path().join("history.db");
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let mut child = cli(&[
        "serve",
        "--settings",
        &settings,
        "--db",
        db.to_str().unwrap(),
        "--log-format",
        "json",
        "--listen",
        "127.0.0.1:0",
        "--token",
        token.to_str().unwrap(),
    ])
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Every log line goes on a channel, so the pipe never fills while the test talks HTTP.
    let (logs, mut log) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let _ = logs.send(value);
        }
    });
    let mut addr = None;
    let mut connected = std::collections::BTreeSet::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while addr.is_none() || connected.len() < 2 {
            let line = log.recv().await.expect("serve ended before connecting");
            if let Some(listen) = line["fields"]["listen"].as_str() {
                addr = Some(listen.parse::<SocketAddr>().unwrap());
            }
            if line["fields"]["state"] == "connected" {
                connected.insert(line["fields"]["gateway"].as_str().unwrap().to_owned());
            }
        }
    })
    .await
    .expect("listening and both connected within 20 s");
    let addr = addr.unwrap();

    assert_eq!(
        http_get(addr, "/healthz", None).await.0,
        200,
        "no token needed"
    );
    let (status, body) = http_get(addr, "/metrics", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        http_get(addr, "/readyz", Some("0123456789abcdef0123456789abcdeX"))
            .await
            .0,
        401
    );
    let (_, metrics) = until(addr, "/metrics", 10, |status, body| {
        status == 200 && body.contains(r#"gatewatch_pings_sent_total{gateway="b"}"#)
    })
    .await;
    for gateway in ["a", "b"] {
        assert!(
            metrics.contains(&format!("gatewatch_up{{gateway=\"{gateway}\"}} 1\n")),
            "{metrics}"
        );
    }
    assert!(
        metrics.contains("process_resident_memory_bytes "),
        "{metrics}"
    );
    assert!(metrics.ends_with("# EOF\n"));
    let (status, ready) = http_get(addr, "/readyz", Some(TOKEN)).await;
    assert_eq!(status, 200, "{ready}");

    // Gateway b restarts: its port closes for 6 s and it must come back by itself.
    b.execute("restart 6").unwrap();
    let (_, body) = until(addr, "/readyz", 10, |status, _| status == 503).await;
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["not_ready"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["not_ready"][0]["gateway"], "b");
    assert_eq!(body["not_ready"][0]["state"], "down", "{body}");
    let (_, metrics) = http_get(addr, "/metrics", Some(TOKEN)).await;
    assert!(
        metrics.contains("gatewatch_up{gateway=\"b\"} 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatewatch_up{gateway=\"a\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatewatch_state{gateway=\"b\",state=\"down\"} 1\n"),
        "{metrics}"
    );
    until(addr, "/readyz", 40, |status, _| status == 200).await;
    let (_, metrics) = http_get(addr, "/metrics", Some(TOKEN)).await;
    assert!(
        metrics.contains("gatewatch_disconnects_total{gateway=\"b\",cause=\"gateway_closed\"} 1\n"),
        "{metrics}"
    );

    let (status, snapshot) = http_get(addr, "/api/v1/snapshot", Some(TOKEN)).await;
    assert_eq!(status, 200);
    let snapshot: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
    assert_eq!(snapshot["gateways"].as_array().unwrap().len(), 2);
    let (_, incidents) = until(addr, "/api/v1/incidents?since=1h", 10, |status, body| {
        status == 200 && body.contains("\"gateway\":\"b\"")
    })
    .await;
    let incidents: serde_json::Value = serde_json::from_str(&incidents).unwrap();
    assert_eq!(incidents[0]["kind"], "down", "{incidents}");
    let (status, bad) = http_get(addr, "/api/v1/incidents?since=yesterday", Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert!(bad.contains("since"), "{bad}");

    let workers: Vec<u64> = snapshot["gateways"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["worker"]["pid"].as_u64().expect("a worker runs"))
        .collect();
    signal(&child, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("it stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    everyone_left(&a).await;
    everyone_left(&b).await;
    for pid in workers {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} outlived the service"
        );
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens after it stopped"
    );

    let history = gatewatch_history::History::open(&db).unwrap();
    assert!(history.problem.is_none());
    let connection = history.history.connection();
    let check: String = connection
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let (connects, pings, watched): (i64, i64, i64) = connection
        .query_row(
            "SELECT (SELECT count(*) FROM connects WHERE gateway = 'a' AND ok),
                    (SELECT count(*) FROM pings WHERE gateway = 'a'),
                    (SELECT count(*) FROM watched WHERE gateway = 'a')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((connects, watched), (1, 1));
    assert!(pings >= 5, "{pings} pings written");
}

/// `serve` with `args` after `--settings FILE`: its exit code and what it said.
async fn refused(settings: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["serve", "--settings", settings];
    all.extend_from_slice(args);
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        cli(&all).stderr(std::process::Stdio::piped()).output(),
    )
    .await
    .expect("it exits at once")
    .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn serve_refuses_a_port_in_use_and_an_open_address_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(&dir, &[("a", 4002)]);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, said) = refused(&settings, &["--listen", &addr]).await;
    assert_eq!(code, Some(2));
    assert!(
        said.contains(&format!("{addr} is already in use")),
        "{said}"
    );
    let (code, said) = refused(&settings, &["--listen", "0.0.0.0:0"]).await;
    assert_eq!(code, Some(2));
    assert!(
        said.contains("refusing to listen on 0.0.0.0:0 without a token"),
        "{said}"
    );
    let short = dir.path().join("short-token");
    std::fs::write(&short, "secret\n").unwrap();
    let (code, said) = refused(&settings, &["--token", short.to_str().unwrap()]).await;
    assert_eq!(code, Some(2));
    assert!(said.contains("use at least 16"), "{said}");
}

#[tokio::test]
async fn serve_refuses_a_settings_file_it_cannot_use_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(&dir, &[("a", 0)]);
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
