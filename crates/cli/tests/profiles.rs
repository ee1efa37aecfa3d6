//! Gateways by profile name from a settings file: `probe --profile`, `probe --all` over
//! two simulators (one healthy, one a zombie), and the errors for a wrong name or file.

mod common;

use std::time::Duration;

use common::{cli, simulator};

/// No server region and no daily restart: what these tests see cannot depend on the hour.
fn no_calendar() -> serde_json::Value {
    serde_json::json!({"region": null, "daily": {"action": "none"}})
}

/// A settings file with three profiles: two enabled, on `healthy` and `zombie`, and a
/// disabled one on a port nothing listens on.
fn settings(dir: &tempfile::TempDir, healthy: u16, zombie: u16) -> std::path::PathBuf {
    let path = dir.path().join("settings.json");
    let text = serde_json::json!({
        "profiles": [
            {"id": "live", "name": "TWS live", "port": healthy, "client_id": 901, "schedule": no_calendar()},
            {"id": "paper", "name": "Gateway paper", "port": zombie, "client_id": 901, "schedule": no_calendar()},
            {"id": "old", "name": "Old VPS", "port": 1, "enabled": false},
        ]
    });
    std::fs::write(&path, text.to_string()).unwrap();
    path
}

async fn run(args: &[&str]) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(30), cli(args).output())
        .await
        .expect("the command ends on time")
        .unwrap()
}

#[tokio::test]
async fn probe_all_checks_every_enabled_profile_and_fails_if_one_falls_short() {
    let (healthy, zombie) = (simulator(&[]).await, simulator(&["zombie on"]).await);
    let dir = tempfile::tempdir().unwrap();
    let file = settings(&dir, healthy.addr().port(), zombie.addr().port());
    let file = file.to_str().unwrap();

    let output = run(&["probe", "--all", "--settings", file, "--duration", "3s"]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("== TWS live (127.0.0.1:"), "{text}");
    assert!(text.contains("== Gateway paper (127.0.0.1:"), "{text}");
    assert!(
        !text.contains("Old VPS"),
        "a disabled profile is not probed: {text}"
    );
    assert!(
        text.contains("overall      FAIL: 1 of 2 gateways fell short (Gateway paper)"),
        "{text}"
    );

    let output = run(&[
        "probe",
        "--all",
        "--settings",
        file,
        "--duration",
        "3s",
        "--json",
    ])
    .await;
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reports[0]["gateway"], "live");
    assert!(
        reports[0]["report"]["failures"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(reports[1]["name"], "Gateway paper");
    assert_eq!(reports[1]["report"]["connect_ms"], serde_json::Value::Null);
    healthy.shutdown().await;
    zombie.shutdown().await;
}

#[tokio::test]
async fn probe_profile_takes_one_gateway_by_name() {
    let (healthy, zombie) = (simulator(&[]).await, simulator(&["zombie on"]).await);
    let dir = tempfile::tempdir().unwrap();
    let file = settings(&dir, healthy.addr().port(), zombie.addr().port());
    let file = file.to_str().unwrap();
    let output = run(&[
        "probe",
        "--profile",
        "tws LIVE",
        "--settings",
        file,
        "--duration",
        "2s",
        "--json",
    ])
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["server_version"], 213);
    healthy.shutdown().await;
    zombie.shutdown().await;
}

#[tokio::test]
async fn a_misspelt_key_is_named_in_a_warning() {
    let sim = simulator(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let text = format!(
        r#"{{"profiles":[{{"id":"x","name":"X","port":{},"clientId":77}}]}}"#,
        sim.addr().port()
    );
    std::fs::write(&path, text).unwrap();
    let output = run(&[
        "probe",
        "--profile",
        "X",
        "--settings",
        path.to_str().unwrap(),
        "--duration",
        "1s",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "settings Gatewatch does not know, ignored (defaults used): profiles[0].clientId"
        ),
        "{stderr}"
    );
    assert!(
        output.status.success(),
        "the probe still runs, with client id 901"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_name_or_file_is_refused_with_exit_2_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = settings(&dir, 4002, 4003);
    let file = file.to_str().unwrap();
    let missing = dir.path().join("nothing.json");
    let cases: [(&[&str], &str); 5] = [
        (
            &["probe", "--profile", "VPS", "--settings", file],
            "no gateway profile is called \"VPS\"; the settings have \"TWS live\", \"Gateway paper\", \"Old VPS\"",
        ),
        (
            &[
                "watch",
                "--profile",
                "TWS live",
                "--settings",
                missing.to_str().unwrap(),
            ],
            "no settings file at",
        ),
        (
            &["probe", "--profile", "TWS live", "--port", "4001"],
            "--port",
        ),
        (&["probe", "--all", "--host", "10.0.0.1"], "--host"),
        (
            &["probe", "--settings", file],
            "--settings is read for --profile NAME or --all",
        ),
    ];
    for (args, expected) in cases {
        let output = run(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let unchanged = std::fs::read_to_string(file).unwrap();
    assert!(unchanged.contains("Old VPS"), "the file is only read");
}

/// A settings file with one profile on `port` whose daily restart (UTC) began a second ago
/// and takes a minute: the whole probe runs inside the window.
fn inside_a_restart(dir: &tempfile::TempDir, port: u16) -> std::path::PathBuf {
    let secs = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400
        - 1)
        % 86_400;
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    let path = dir.path().join("settings.json");
    let text = serde_json::json!({
        "profiles": [{
            "id": "paper", "name": "Gateway paper", "port": port,
            "schedule": {"region": null, "daily": {"action": "restart", "time": time, "time_zone": "UTC"}},
        }],
        "calendar": {"margin_secs": 5, "restart_takes_secs": 60, "grace_secs": 60},
    });
    std::fs::write(&path, text.to_string()).unwrap();
    path
}

#[tokio::test]
async fn a_probe_inside_a_planned_restart_says_so_rather_than_failing_and_watch_shows_it() {
    let down = simulator(&["refuse closed"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = inside_a_restart(&dir, down.addr().port());
    let file = file.to_str().unwrap();

    let probe = [
        "probe",
        "--profile",
        "Gateway paper",
        "--settings",
        file,
        "--duration",
        "2s",
    ];
    let output = run(&probe).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("result       EXPECTED (all of it inside the ")
            && text.contains(" restart (")
            && text.contains(" UTC), not a failure): "),
        "{text}"
    );
    assert!(
        text.contains("never connected"),
        "the shortfall is still told: {text}"
    );

    let output = run(&[&probe[..], &["--json"]].concat()).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["result"], "expected");
    assert_eq!(report["overdue"], serde_json::Value::Null);
    assert_eq!(report["unexpected_trouble"], 0);
    down.shutdown().await;
}
