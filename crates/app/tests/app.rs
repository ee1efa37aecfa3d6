//! The app core headless, against real workers and simulators over loopback: demo mode with
//! its two embedded gateways, several gateway profiles side by side, settings changes that
//! touch only the gateways they change, and settings that are refused, migrated or corrupt.

use std::path::PathBuf;
use std::time::Duration;

use gatewatch_app::{App, AppOptions, GatewayView, LogKind, UiSnapshot};
use gatewatch_settings::{GatewayProfile, Settings};
use gatewatch_sim::{SimConfig, Simulator};
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
        let states: Vec<String> = app
            .snapshot()
            .gateways
            .iter()
            .map(|g| g.status_line.clone())
            .collect();
        panic!("{what}: not within {secs} s; {states:?}")
    })
}

fn is_connected(g: &GatewayView) -> bool {
    matches!(
        g.snapshot.state,
        ConnectionState::Connected(_) | ConnectionState::Degraded { .. }
    )
}

fn all_connected(s: &UiSnapshot) -> bool {
    !s.gateways.is_empty() && s.gateways.iter().all(is_connected)
}

fn gateway<'a>(s: &'a UiSnapshot, id: &str) -> &'a GatewayView {
    s.gateways.iter().find(|g| g.id == id).unwrap_or_else(|| {
        panic!(
            "no gateway {id} in {:?}",
            s.gateways.iter().map(|g| &g.id).collect::<Vec<_>>()
        )
    })
}

/// A simulator with frozen prices on a free loopback port.
async fn simulator() -> Simulator {
    simulator_at(0).await
}

fn profile(id: &str, name: &str, sim: &Simulator) -> GatewayProfile {
    GatewayProfile {
        id: id.into(),
        name: name.into(),
        port: sim.addr().port(),
        ..GatewayProfile::default()
    }
}

/// An app watching `profiles`, from a settings file in `dir`; pings every 200 ms so tests
/// see samples quickly.
async fn app_with(dir: &tempfile::TempDir, profiles: Vec<GatewayProfile>) -> App {
    let mut settings = Settings {
        profiles,
        ..Settings::default()
    };
    settings.monitoring.ping_interval_ms = 200;
    settings.monitoring.ping_timeout_ms = 150;
    let path = dir.path().join("settings.json");
    std::fs::write(&path, serde_json::to_string(&settings).unwrap()).unwrap();
    App::start(AppOptions {
        demo: false,
        settings_path: Some(path),
        worker_path: Some(worker()),
    })
    .await
    .expect("the app starts")
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
async fn demo_mode_watches_a_live_like_and_a_paper_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let app = demo_app(&dir).await;
    let snapshot = until(&app, 20, "both demo gateways connected", all_connected).await;
    assert!(snapshot.demo);
    let live = &snapshot.gateways[0];
    let paper = &snapshot.gateways[1];
    assert_eq!(
        (live.name.as_str(), paper.name.as_str()),
        ("TWS live (demo)", "Gateway paper (demo)")
    );
    let badges = |g: &GatewayView| -> Vec<(String, bool)> {
        g.accounts.iter().map(|a| (a.id.clone(), a.paper)).collect()
    };
    assert_eq!(
        badges(live),
        [
            ("U1234567".to_owned(), false),
            ("U7654321".to_owned(), false)
        ]
    );
    assert_eq!(
        badges(paper),
        [
            ("DU1234567".to_owned(), true),
            ("DU7654321".to_owned(), true)
        ]
    );
    let session = |g: &GatewayView| match &g.snapshot.state {
        ConnectionState::Connected(s) | ConnectionState::Degraded { session: s, .. } => {
            (s.server_version, s.encoding)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        session(live),
        (178, gatewatch_protocol::Encoding::ClassicText)
    );
    assert_eq!(
        session(paper),
        (213, gatewatch_protocol::Encoding::Protobuf)
    );
    let snapshot = until(&app, 15, "positions and latency on both", |s| {
        s.gateways
            .iter()
            .all(|g| g.snapshot.positions.len() == 22 && g.snapshot.latency.last_rtt_us.is_some())
    })
    .await;
    assert!(
        snapshot.gateways[0]
            .status_line
            .starts_with("TWS live (demo): "),
        "{}",
        snapshot.gateways[0].status_line
    );
    for id in ["tws-live-demo", "gateway-paper-demo"] {
        assert!(
            snapshot.recent_events.iter().any(|e| e.gateway == id
                && e.kind == LogKind::State
                && e.text == "state: connected"),
            "{id}: {:?}",
            snapshot.recent_events
        );
    }
    // A settings change in demo mode applies, and is never written.
    let mut settings = app.settings();
    settings.profiles[0].name = "Renamed".into();
    app.save_settings(settings).await.unwrap();
    assert_eq!(app.snapshot().gateways[0].name, "Renamed");
    assert!(
        !dir.path().join("settings.json").exists(),
        "demo mode writes no settings"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn one_gateway_down_leaves_its_neighbours_connected_with_their_history() {
    let (a, b, c) = (simulator().await, simulator().await, simulator().await);
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(
        &dir,
        vec![
            profile("a", "TWS live", &a),
            profile("b", "Gateway paper", &b),
            profile("c", "VPS", &c),
        ],
    )
    .await;
    let before = until(&app, 20, "all three connected", |s| {
        all_connected(s)
            && s.gateways
                .iter()
                .all(|g| app.latency(&g.id, 60).rtt_ms.iter().flatten().count() >= 3)
    })
    .await;
    let c_port = c.addr().port();
    let samples = |id: &str| app.latency(id, 600).rtt_ms.iter().flatten().count();
    let (a_samples, b_samples) = (samples("a"), samples("b"));

    c.shutdown().await;
    let after = until(&app, 10, "only VPS down", |s| {
        !is_connected(gateway(s, "c"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after_more = app.snapshot();
    for id in ["a", "b"] {
        let view = gateway(&after_more, id);
        assert!(is_connected(view), "{id}: {}", view.status_line);
        let was = gateway(&before, id);
        assert_eq!(
            view.since_ms, was.since_ms,
            "{id}: connected without a break"
        );
        assert_eq!(
            view.snapshot.worker.pid, was.snapshot.worker.pid,
            "{id}: same worker"
        );
    }
    assert!(
        samples("a") > a_samples && samples("b") > b_samples,
        "their pings go on"
    );
    assert!(
        gateway(&after, "c").status_line.starts_with("VPS: "),
        "{}",
        gateway(&after, "c").status_line
    );
    assert!(
        after.status_line.starts_with("VPS: "),
        "the worst gateway leads: {}",
        after.status_line
    );

    let c = simulator_at(c_port).await;
    until(&app, 15, "VPS back", all_connected).await;
    app.shutdown().await;
    for sim in [a, b, c] {
        sim.shutdown().await;
    }
}

/// A simulator with frozen prices on `port` of 127.0.0.1 (0: a free one).
async fn simulator_at(port: u16) -> Simulator {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    Simulator::start(
        listener,
        SimConfig {
            tick: Duration::ZERO,
            ..SimConfig::default()
        },
    )
    .unwrap()
}

/// The worker pid and connected-since of each gateway.
fn identities(s: &UiSnapshot) -> Vec<(String, Option<u32>, u64)> {
    s.gateways
        .iter()
        .map(|g| (g.id.clone(), g.snapshot.worker.pid, g.since_ms))
        .collect()
}

#[tokio::test]
async fn editing_adding_disabling_and_removing_a_profile_touch_only_that_profile() {
    let (a, b, c) = (simulator().await, simulator().await, simulator().await);
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(
        &dir,
        vec![
            profile("a", "TWS live", &a),
            profile("b", "Gateway paper", &b),
        ],
    )
    .await;
    let before = until(&app, 20, "both connected", all_connected).await;
    let kept = |s: &UiSnapshot, id: &str| {
        let then = identities(&before)
            .into_iter()
            .find(|(i, ..)| i == id)
            .unwrap();
        let now = identities(s).into_iter().find(|(i, ..)| i == id).unwrap();
        assert_eq!(now, then, "{id} kept its worker and its connection");
    };

    // Edit b's client id: b restarts, a does not.
    let mut settings = app.settings();
    settings.profiles[1].client_id = 4242;
    let applied = app.save_settings(settings).await.unwrap();
    assert_eq!(
        (applied.restarted, applied.started, applied.stopped),
        (vec!["b".to_owned()], vec![], vec![])
    );
    let s = until(&app, 15, "b on its new client id", |s| {
        matches!(&gateway(s, "b").snapshot.state, ConnectionState::Connected(session) | ConnectionState::Degraded { session, .. } if session.client_id == 4242)
    })
    .await;
    kept(&s, "a");

    // Rename a: nothing restarts.
    let mut settings = app.settings();
    settings.profiles[0].name = "TWS live 2".into();
    let applied = app.save_settings(settings).await.unwrap();
    assert_eq!(applied, gatewatch_app::Applied::default());
    assert_eq!(gateway(&app.snapshot(), "a").name, "TWS live 2");
    kept(&app.snapshot(), "a");

    // Add c (no id: one is given from its name): only c starts.
    let mut settings = app.settings();
    settings.profiles.push(GatewayProfile {
        id: String::new(),
        ..profile("", "VPS tunnel", &c)
    });
    let applied = app.save_settings(settings).await.unwrap();
    assert_eq!(applied.started, ["vps-tunnel"]);
    assert!(applied.restarted.is_empty() && applied.stopped.is_empty());
    let s = until(&app, 15, "three connected", |s| {
        s.gateways.len() == 3 && all_connected(s)
    })
    .await;
    kept(&s, "a");

    // Disable a: only a stops, and it leaves the gateway.
    let mut settings = app.settings();
    settings.profiles[0].enabled = false;
    let applied = app.save_settings(settings).await.unwrap();
    assert_eq!(applied.stopped, ["a"]);
    let s = app.snapshot();
    assert_eq!(
        s.gateways.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        ["b", "vps-tunnel"]
    );
    tokio::time::timeout(Duration::from_secs(3), async {
        while a.status().clients > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a's worker left its gateway");

    // Remove the VPS: only it stops; the file keeps what was saved.
    let mut settings = app.settings();
    settings.profiles.retain(|p| p.id != "vps-tunnel");
    let applied = app.save_settings(settings.clone()).await.unwrap();
    assert_eq!(applied.stopped, ["vps-tunnel"]);
    let stored: Settings =
        serde_json::from_str(&std::fs::read_to_string(app.settings_path()).unwrap()).unwrap();
    assert_eq!(stored, settings);
    app.shutdown().await;
    for sim in [a, b, c] {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn saving_settings_with_the_same_client_id_never_collides_with_itself() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(&dir, vec![profile("p", "Gateway paper", &sim)]).await;
    until(&app, 15, "connected", all_connected).await;
    let mut events = app.subscribe();
    for round in 0..3u64 {
        let mut settings = app.settings();
        settings.monitoring.ping_interval_ms = 1_000 + 100 * round;
        let applied = app.save_settings(settings).await.unwrap();
        assert_eq!(applied.restarted, ["p"]);
        until(&app, 15, "reconnected", |s| {
            matches!(&s.gateways[0].snapshot.state, ConnectionState::Connected(session) | ConnectionState::Degraded { session, .. } if session.client_id == 901)
        })
        .await;
    }
    let collisions: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|e| {
            matches!(
                &e.event.kind,
                gatewatch_supervisor::EventKind::ClientIdFallback { .. }
            ) || matches!(&e.event.kind, gatewatch_supervisor::EventKind::ConnectFailed { error, .. }
                    if error.code == gatewatch_protocol::ErrorCode::ClientIdInUse)
        })
        .collect();
    assert!(
        collisions.is_empty(),
        "the old supervisor had let go of 901 before the new one claimed it: {collisions:?}"
    );
    app.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_settings_are_refused_per_field_and_nothing_changes() {
    let (a, b) = (simulator().await, simulator().await);
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(
        &dir,
        vec![
            profile("a", "TWS live", &a),
            profile("b", "Gateway paper", &b),
        ],
    )
    .await;
    let file_before = std::fs::read_to_string(app.settings_path()).unwrap();
    let settings_before = app.settings();
    let mut bad = app.settings();
    bad.profiles[1].port = 0;
    bad.profiles[1].name = " tws LIVE".into();
    bad.monitoring.ping_timeout_ms = 60_000;
    let error = app.save_settings(bad).await.unwrap_err();
    assert_eq!(error.code, "invalid_settings");
    let fields: Vec<&str> = error.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "monitoring.ping_timeout_ms",
            "profiles[1].port",
            "profiles[1].name"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(app.settings_path()).unwrap(),
        file_before,
        "nothing saved"
    );
    assert_eq!(app.settings(), settings_before);
    let unknown = app.reconnect_now("nope").await.unwrap_err();
    assert_eq!(unknown.code, "unknown_gateway");
    app.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_one_gateway_settings_file_is_migrated_and_watched() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let old = format!(
        r#"{{"gateway":{{"host":"127.0.0.1","port":{},"client_id":901}},"notifications":{{"hold_secs":9}}}}"#,
        sim.addr().port()
    );
    std::fs::write(&path, &old).unwrap();
    let app = App::start(AppOptions {
        demo: false,
        settings_path: Some(path.clone()),
        worker_path: Some(worker()),
    })
    .await
    .unwrap();
    let snapshot = until(&app, 15, "the migrated gateway connected", all_connected).await;
    assert_eq!(snapshot.gateways.len(), 1);
    assert_eq!(snapshot.settings_ignored, Vec::<String>::new());
    let kept = snapshot
        .settings_migrated_from
        .expect("the migration is reported");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), old);
    assert_eq!(app.settings().notifications.hold_secs, 9);
    app.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_settings_file_is_reported_and_defaults_are_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("settings.json"), "not json at all").unwrap();
    let app = demo_app(&dir).await;
    let snapshot = app.snapshot();
    let problem = snapshot.settings_problem.expect("the problem is reported");
    assert!(problem.contains("kept as"), "{problem}");
    assert_eq!(
        app.settings().notifications,
        Settings::default().notifications
    );
    app.shutdown().await;
}
