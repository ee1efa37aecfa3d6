//! The app core headless: demo mode with the embedded simulator and the real worker, the
//! event log, and settings that are refused or applied.

use std::path::PathBuf;
use std::time::Duration;

use gatewatch_app::{App, AppOptions, LogKind, UiSnapshot};
use gatewatch_supervisor::ConnectionState;

fn worker() -> PathBuf {
    let path = gatewatch_supervisor::config::sibling_binary("gatewatch-worker").unwrap();
    assert!(
        path.exists(),
        "{} missing: build the workspace binaries first (make test does)",
        path.display()
    );
    path
}

async fn until(
    app: &App,
    secs: u64,
    what: &str,
    condition: impl Fn(&UiSnapshot) -> bool,
) -> UiSnapshot {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            let snapshot = app.snapshot();
            if condition(&snapshot) {
                return snapshot;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{what}: not within {secs} s; state {:?}",
            app.snapshot().snapshot.state
        )
    })
}

fn connected(s: &UiSnapshot) -> bool {
    matches!(
        s.snapshot.state,
        ConnectionState::Connected(_) | ConnectionState::Degraded { .. }
    )
}

async fn demo_app(dir: &tempfile::TempDir) -> App {
    let options = AppOptions {
        demo: true,
        settings_path: Some(dir.path().join("settings.json")),
        worker_path: Some(worker()),
    };
    App::start(options).await.expect("the app starts")
}

#[tokio::test]
async fn demo_mode_watches_the_embedded_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(&dir).await;
    let snapshot = until(&app, 15, "connected to the demo gateway", connected).await;
    assert!(snapshot.demo);
    let ids: Vec<(&str, bool)> = snapshot
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a.paper))
        .collect();
    assert_eq!(ids, [("DU1234567", true), ("DU7654321", true)]);
    let snapshot = until(&app, 15, "positions and latency", |s| {
        !s.snapshot.positions.is_empty() && s.snapshot.latency.last_rtt_us.is_some()
    })
    .await;
    assert_eq!(snapshot.snapshot.positions.len(), 22);
    assert!(
        snapshot.status_line.starts_with("Connected")
            || snapshot.status_line.starts_with("Degraded"),
        "{}",
        snapshot.status_line
    );
    assert!(
        snapshot
            .recent_events
            .iter()
            .any(|e| e.kind == LogKind::State && e.text == "state: connected"),
        "{:?}",
        snapshot.recent_events
    );
    assert!(
        !dir.path().join("settings.json").exists(),
        "demo mode writes no settings"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn invalid_settings_are_refused_per_field_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(&dir).await;
    let mut bad = app.settings();
    bad.gateway.port = 0;
    bad.monitoring.ping_timeout_ms = 60_000;
    let error = app.save_settings(bad).await.unwrap_err();
    assert_eq!(error.code, "invalid_settings");
    let fields: Vec<&str> = error.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["gateway.port", "monitoring.ping_timeout_ms"]);
    assert!(!dir.path().join("settings.json").exists(), "nothing saved");
    assert_eq!(app.settings(), gatewatch_settings::Settings::default());
    app.shutdown().await;
}

#[tokio::test]
async fn saved_settings_are_applied_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(&dir).await;
    until(&app, 15, "connected", connected).await;
    let mut settings = app.settings();
    settings.gateway.client_id = 4242;
    app.save_settings(settings.clone()).await.unwrap();
    let snapshot = until(&app, 15, "reconnected with the new client id", |s| {
        matches!(&s.snapshot.state, ConnectionState::Connected(session) | ConnectionState::Degraded { session, .. } if session.client_id == 4242)
    })
    .await;
    assert!(connected(&snapshot));
    let stored: gatewatch_settings::Settings =
        serde_json::from_str(&std::fs::read_to_string(app.settings_path()).unwrap()).unwrap();
    assert_eq!(stored, settings);
    app.shutdown().await;
}

#[tokio::test]
async fn saving_settings_with_the_same_client_id_never_collides_with_itself() {
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(&dir).await;
    until(&app, 15, "connected", connected).await;
    let mut events = app.subscribe();
    for round in 0..3u64 {
        let mut settings = app.settings();
        settings.monitoring.ping_interval_ms = 1_000 + 100 * round;
        app.save_settings(settings).await.unwrap();
        until(&app, 15, "reconnected", |s| {
            matches!(&s.snapshot.state, ConnectionState::Connected(session) | ConnectionState::Degraded { session, .. } if session.client_id == 901)
        })
        .await;
    }
    let collisions: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| {
            matches!(
                &e.kind,
                gatewatch_supervisor::EventKind::ClientIdFallback { .. }
            ) || matches!(&e.kind, gatewatch_supervisor::EventKind::ConnectFailed { error, .. }
                    if error.code == gatewatch_protocol::ErrorCode::ClientIdInUse)
        })
        .collect();
    assert!(
        collisions.is_empty(),
        "the old supervisor had let go of 901 before the new one claimed it: {collisions:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_settings_file_is_reported_and_defaults_are_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("settings.json"), "not json at all").unwrap();
    let app = demo_app(&dir).await;
    let snapshot = app.snapshot();
    let problem = snapshot.settings_problem.expect("the problem is reported");
    assert!(problem.contains("kept as"), "{problem}");
    assert_eq!(app.settings(), gatewatch_settings::Settings::default());
    app.shutdown().await;
}
