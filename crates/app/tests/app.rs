//! The app core headless, against real workers and simulators over loopback: demo mode with
//! its two embedded gateways, several gateway profiles side by side, settings changes that
//! touch only the gateways they change, and settings that are refused, migrated or corrupt.

use std::path::PathBuf;
use std::time::Duration;

use gatewatch_app::{App, AppOptions, GatewayView, LogKind, UiSnapshot};
use gatewatch_settings::{GatewayProfile, Settings};
use gatewatch_sim::{SimConfig, Simulator};
use gatewatch_supervisor::ConnectionState;
use gatewatch_supervisor::calendar::GatewaySchedule;

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
        // Nothing expected: what a test sees cannot depend on the hour it runs at.
        schedule: GatewaySchedule::none(),
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
    app_with_settings(dir, settings).await
}

/// An app with exactly these settings, from a file in `dir`.
async fn app_with_settings(dir: &tempfile::TempDir, settings: Settings) -> App {
    let path = dir.path().join("settings.json");
    std::fs::write(&path, serde_json::to_string(&settings).unwrap()).unwrap();
    App::start(AppOptions {
        demo: false,
        settings_path: Some(path),
        worker_path: Some(worker()),
        history_path: Some(dir.path().join("history.db")),
    })
    .await
    .expect("the app starts")
}

async fn demo_app(dir: &tempfile::TempDir) -> App {
    let options = AppOptions {
        demo: true,
        settings_path: Some(dir.path().join("settings.json")),
        worker_path: Some(worker()),
        history_path: Some(dir.path().join("history.db")),
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
            && s.gateways.iter().all(|g| {
                app.recent_latency(&g.id, 60)
                    .rtt_ms
                    .iter()
                    .flatten()
                    .count()
                    >= 3
            })
    })
    .await;
    let c_port = c.addr().port();
    let samples = |id: &str| app.recent_latency(id, 600).rtt_ms.iter().flatten().count();
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
        history_path: Some(dir.path().join("history.db")),
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

/// A daily restart `after_secs` from now on the UTC clock, and no server region.
fn restart_in(after_secs: u64) -> GatewaySchedule {
    let secs = (gatewatch_supervisor::state::now_ms() / 1000 + after_secs) % 86_400;
    GatewaySchedule {
        daily: gatewatch_supervisor::calendar::DailyRestart {
            action: gatewatch_supervisor::calendar::DailyAction::Restart,
            time: format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
            time_zone: Some("UTC".into()),
        },
        ..GatewaySchedule::none()
    }
}

/// Restarts `sim` for `down_secs` when the wall clock reaches the next whole second
/// `after_secs` from `start_ms` (as the gateway's own restart timer would).
fn restart_on_schedule(sim: &Simulator, start_ms: u64, after_secs: u64, down_secs: u64) {
    let at_ms = (start_ms / 1000 + after_secs) * 1000;
    let sim = sim.clone();
    tokio::spawn(async move {
        let wait = at_ms.saturating_sub(gatewatch_supervisor::state::now_ms());
        tokio::time::sleep(Duration::from_millis(wait)).await;
        sim.execute(&format!("restart {down_secs}")).unwrap();
    });
}

#[tokio::test]
async fn a_planned_restart_is_expected_and_a_gateway_that_stays_down_is_overdue_once() {
    let (on_time, late) = (simulator().await, simulator().await);
    let start_ms = gatewatch_supervisor::state::now_ms();
    let mut settings = Settings {
        profiles: vec![
            GatewayProfile {
                schedule: restart_in(3),
                ..profile("on-time", "On time", &on_time)
            },
            GatewayProfile {
                schedule: restart_in(3),
                ..profile("late", "Late", &late)
            },
        ],
        ..Settings::default()
    };
    // A restart takes 3 s, 1 s of margin, 2 s of grace: overdue 6 s after the restart time.
    settings.calendar.margin_secs = 1;
    settings.calendar.restart_takes_secs = 3;
    settings.calendar.grace_secs = 2;
    settings.monitoring.ping_interval_ms = 200;
    settings.monitoring.ping_timeout_ms = 150;
    settings.notifications.hold_secs = 1;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_settings(&dir, settings.clone()).await;
    until(&app, 15, "both connected", all_connected).await;
    restart_on_schedule(&on_time, start_ms, 3, 2);
    restart_on_schedule(&late, start_ms, 3, 12);

    // The alert policy the desktop shell runs, fed as the shell feeds it.
    let mut alerts = gatewatch_alerts::FleetAlerts::default();
    let mut said = Vec::new();
    let mut states: Vec<(String, &'static str)> = Vec::new();
    // On a Sunday after 01:00 ET this restart is the week's first: the re-login one.
    let mut relogin = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let snapshot = app.snapshot();
        for g in &snapshot.gateways {
            let name = g.snapshot.state.name();
            relogin |= g.snapshot.state.outage().is_some_and(|(o, _)| o.needs_2fa);
            if states
                .iter()
                .rev()
                .find(|(id, _)| *id == g.id)
                .map(|(_, s)| *s)
                != Some(name)
            {
                states.push((g.id.clone(), name));
            }
            said.extend(alerts.observe(
                &g.id,
                &g.name,
                &settings.notifications,
                &g.snapshot,
                std::time::Instant::now(),
            ));
        }
        let late_back = states.iter().any(|(id, s)| id == "late" && *s == "overdue")
            && snapshot.gateways.iter().all(is_connected);
        if late_back
            && said
                .iter()
                .any(|a| a.recovered && a.condition == gatewatch_alerts::Condition::Overdue)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let of = |id: &str| -> Vec<&str> {
        states
            .iter()
            .filter(|(g, _)| g == id)
            .map(|(_, s)| *s)
            .collect()
    };
    assert!(
        of("on-time").contains(&"scheduled_restart"),
        "the on-time restart is expected: {:?}",
        of("on-time")
    );
    assert!(!of("on-time").contains(&"overdue"), "{:?}", of("on-time"));
    assert_eq!(of("on-time").last(), Some(&"connected"));
    let late_states = of("late");
    let expected_at = late_states.iter().position(|s| *s == "scheduled_restart");
    let overdue_at = late_states.iter().position(|s| *s == "overdue");
    assert!(
        matches!((expected_at, overdue_at), (Some(e), Some(o)) if e < o),
        "expected, then overdue: {late_states:?}"
    );
    let titles: Vec<String> = said.iter().map(|a| a.title.clone()).collect();
    let mut expected = vec!["Late did not come back", "Late is back"];
    if relogin {
        expected.insert(0, "On time is back after the weekly re-login");
    }
    assert_eq!(
        titles, expected,
        "one overdue alert and its end, no alarm for the on-time restart: {said:?}"
    );
    let overdue = &said[usize::from(relogin)];
    let restart = if relogin {
        "weekly re-login restart"
    } else {
        "nightly restart"
    };
    assert!(
        overdue
            .body
            .contains(&format!("did not come back after its {restart}")),
        "{}",
        overdue.body
    );
    app.shutdown().await;
    on_time.shutdown().await;
    late.shutdown().await;
}

#[tokio::test]
async fn after_a_sleep_every_gateway_is_rechecked_at_once_and_the_gap_is_logged() {
    let sim = simulator().await;
    let mut settings = Settings {
        profiles: vec![profile("paper", "Gateway paper", &sim)],
        ..Settings::default()
    };
    // A ping every 30 s: a ping within a second or two of the wake-up is the re-check.
    settings.monitoring.ping_interval_ms = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_settings(&dir, settings).await;
    until(&app, 15, "connected", all_connected).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut events = app.subscribe();
    let now = gatewatch_supervisor::state::now_ms();
    assert!(
        app.observe_clocks(std::time::Instant::now(), now)
            .await
            .is_none()
    );
    let eight_hours = 8 * 3_600_000;
    let entry = app
        .observe_clocks(std::time::Instant::now(), now + eight_hours)
        .await
        .expect("a wall clock eight hours ahead of the monotonic one is sleep");
    assert_eq!(entry.kind, LogKind::Note);
    assert!(
        entry.text.starts_with("this computer was asleep ") && entry.text.contains("(8 h 00 min)"),
        "{}",
        entry.text
    );
    let pinged = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if let Ok(event) = events.recv().await
                && matches!(
                    event.event.kind,
                    gatewatch_supervisor::EventKind::Ping { .. }
                )
            {
                return;
            }
        }
    })
    .await;
    assert!(
        pinged.is_ok(),
        "the gateway was re-checked at once, not 30 s later"
    );
    let logged = app.snapshot().recent_events;
    assert_eq!(
        logged
            .iter()
            .filter(|e| e.text.starts_with("this computer was asleep"))
            .count(),
        1
    );
    assert_eq!(
        logged.last().map(|e| e.gateway.as_str()),
        Some(""),
        "{logged:?}"
    );
    app.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn ibc_levers_reach_ibc_only_where_it_is_set_and_say_what_it_answered() {
    let sim = simulator().await;
    let ibc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ibc_port = ibc.local_addr().unwrap().port();
    tokio::spawn(gatewatch_sim::ibc::serve(ibc, sim.clone()));
    let other = simulator().await;
    let mut with_ibc = profile("paper", "Gateway paper", &sim);
    with_ibc.schedule.ibc.command_server = Some(gatewatch_supervisor::calendar::HostPort {
        host: "127.0.0.1".into(),
        port: ibc_port,
    });
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(&dir, vec![with_ibc, profile("live", "TWS live", &other)]).await;
    let snapshot = until(&app, 15, "connected", all_connected).await;
    assert!(gateway(&snapshot, "paper").ibc_levers);
    assert!(!gateway(&snapshot, "live").ibc_levers);

    let answer = app
        .pull_ibc_lever("paper", gatewatch_app::IbcLever::ReconnectData)
        .await
        .unwrap();
    assert_eq!(answer, "OK");
    let answer = app
        .pull_ibc_lever("paper", gatewatch_app::IbcLever::SoftRestart)
        .await
        .unwrap();
    assert_eq!(answer, "OK Restart in progress");
    assert_eq!(sim.ibc_commands(), ["RECONNECTDATA", "EXIT", "RESTART"]);
    // The soft restart drops the gateway's clients for a few seconds: expected, since the
    // user asked for it; it comes back.
    let down = until(&app, 5, "dropped by the soft restart", |s| {
        !is_connected(gateway(s, "paper"))
    })
    .await;
    let state = &gateway(&down, "paper").snapshot.state;
    assert_eq!(state.name(), "scheduled_restart", "{state:?}");
    assert_eq!(
        state.outage().unwrap().0.label,
        "soft restart you asked for"
    );
    until(&app, 20, "back after the soft restart", all_connected).await;

    let refused = app
        .pull_ibc_lever("live", gatewatch_app::IbcLever::SoftRestart)
        .await
        .unwrap_err();
    assert_eq!(refused.code, "no_ibc");
    let log = app.snapshot().recent_events;
    assert!(
        log.iter().any(|e| e.gateway == "paper"
            && e.text.contains(
                "IBC soft restart (no 2FA): asked by you; IBC answered OK Restart in progress"
            )),
        "{log:?}"
    );
    app.shutdown().await;
    sim.shutdown().await;
    other.shutdown().await;
}

#[tokio::test]
async fn a_drop_and_its_recovery_are_kept_as_one_incident_across_app_restarts() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    for run in 1..=2_i64 {
        let app = app_with(&dir, vec![profile("paper", "Gateway paper", &sim)]).await;
        assert_eq!(app.history_path(), Some(db.clone()));
        until(&app, 15, "connected", all_connected).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        sim.execute("restart 2").unwrap();
        until(&app, 5, "down", |s| !all_connected(s)).await;
        until(&app, 20, "back", all_connected).await;
        app.shutdown().await; // writes what is waiting

        let history = gatewatch_history::History::open(&db).unwrap();
        assert!(history.problem.is_none());
        let connection = history.history.connection();
        let incidents: Vec<(i64, String, i64, i64, String, bool)> = connection
            .prepare(
                "SELECT id, kind, started_ms, ended_ms, cause, expected FROM incidents ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            incidents.len() as i64,
            run,
            "one incident per drop, kept: {incidents:?}"
        );
        let (id, kind, started, ended, cause, expected) = incidents.last().unwrap().clone();
        assert_eq!((id, kind.as_str(), expected), (run, "down", false));
        let lasted = ended - started;
        assert!(
            (1_500..15_000).contains(&lasted),
            "down about 2 s: {lasted} ms"
        );
        assert!(cause.contains("closed the connection"), "{cause}");
        let pings: i64 = connection
            .query_row(
                "SELECT count(*) FROM pings WHERE gateway = 'paper'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let minutes: i64 = connection
            .query_row(
                "SELECT coalesce(sum(count), 0) FROM latency_minute",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            pings >= 3 && minutes > 0,
            "pings {pings}, per-minute count {minutes}"
        );
        let logged: i64 = connection
            .query_row(
                "SELECT count(*) FROM events WHERE gateway = 'paper' AND text LIKE 'disconnected:%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(logged, run, "the log's drop lines are kept too");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_window_reads_the_night_back_after_the_app_restarts() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let first_run_ended;
    {
        let app = app_with(&dir, vec![profile("paper", "Gateway paper", &sim)]).await;
        until(&app, 15, "connected", all_connected).await;
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        sim.execute("restart 2").unwrap();
        until(&app, 5, "down", |s| !all_connected(s)).await;
        until(&app, 20, "back", all_connected).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        app.shutdown().await;
        first_run_ended = gatewatch_supervisor::state::now_ms();
    }
    let app = app_with(&dir, vec![profile("paper", "Gateway paper", &sim)]).await;
    // Read at once: what the chart shows was written by the first run.
    let [hour]: [gatewatch_app::LatencySeries; 1] = app
        .latency(vec!["paper".into()], gatewatch_app::LatencyRange::Hour)
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(hour.source, "pings");
    let before_restart = hour
        .t
        .iter()
        .filter(|t| (**t * 1000.0) as u64 <= first_run_ended)
        .count();
    assert!(
        before_restart >= 1 && hour.pings >= 5,
        "the first run's pings: {hour:?}"
    );
    assert!(hour.p50_ms.is_some_and(|p| p > 0.0), "{hour:?}");
    let [day]: [gatewatch_app::LatencySeries; 1] = app
        .latency(vec!["paper".into()], gatewatch_app::LatencyRange::Day)
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(day.source, "minutes");
    assert!(!day.t.is_empty() && day.pings >= 5, "{day:?}");
    assert_eq!(
        (day.pings, day.p50_ms.is_some()),
        (hour.pings, true),
        "every ping is still kept raw: the day's percentiles are exact"
    );

    let incidents = app.incidents(Some("paper".into()), 0).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let incident = &incidents[0];
    assert!(!incident.expected);
    assert!(
        incident.line.starts_with("Down ") && incident.line.contains("closed the connection"),
        "{}",
        incident.line
    );
    let lasted = incident.ended_ms.unwrap() - incident.started_ms;
    assert!(
        (1_500..15_000).contains(&lasted),
        "down about 2 s: {lasted}"
    );

    let uptime = app.uptime("paper".into(), 30).await.unwrap();
    assert_eq!(uptime.len(), 30);
    let today = uptime.last().unwrap();
    assert_eq!(today.unexpected_down_ms, lasted);
    assert!(today.uptime.unwrap() < 1.0);
    assert!(
        today.watched_ms < 120_000,
        "only the minutes watched count: {}",
        today.watched_ms
    );
    assert!(
        uptime[..29].iter().all(|d| d.uptime.is_none()),
        "days before this test were not watched"
    );

    let summary = app.morning_summary().await.unwrap().unwrap();
    assert_eq!((summary.incidents, summary.unexpected), (1, 1));
    assert!(
        summary
            .text
            .contains("1 incident, 1 unexpected (Gateway paper, "),
        "{}",
        summary.text
    );

    let exports = dir.path().join("exports");
    let history = app.history_path().unwrap();
    for (kind, header) in [
        (gatewatch_app::ExportKind::Incidents, "id,gateway,kind,"),
        (
            gatewatch_app::ExportKind::Latency,
            "gateway,minute_ms,count,",
        ),
    ] {
        let file = gatewatch_app::past::export_csv(
            &history,
            &exports,
            "paper",
            kind,
            0,
            gatewatch_supervisor::state::now_ms(),
        )
        .unwrap();
        let csv = std::fs::read_to_string(&file).unwrap();
        assert!(csv.starts_with(header), "{csv}");
        assert!(csv.lines().count() >= 2, "{csv}");
    }

    let connection = gatewatch_history::History::open(&history).unwrap().history;
    let connects: Vec<(bool, Option<i64>)> = connection
        .connection()
        .prepare("SELECT ok, version_us FROM connects WHERE gateway = 'paper' ORDER BY at_ms")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        connects.iter().filter(|(ok, _)| *ok).count() >= 2,
        "the first connect and the one after the restart: {connects:?}"
    );
    assert!(
        connects
            .iter()
            .filter(|(ok, _)| *ok)
            .all(|(_, us)| us.is_some_and(|us| us > 0)),
        "with their stage times: {connects:?}"
    );
    app.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_history_folder_that_cannot_be_written_is_reported_and_monitoring_goes_on() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let mut mode = std::fs::metadata(&locked).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o555);
    std::fs::set_permissions(&locked, mode).unwrap();
    // Root writes into a read-only folder anyway; a folder under a plain file cannot be
    // created by anyone.
    let folder = if std::fs::write(locked.join("probe"), b"").is_ok() {
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"").unwrap();
        file.join("gatewatch")
    } else {
        locked.join("gatewatch")
    };
    let path = dir.path().join("settings.json");
    let settings = Settings {
        profiles: vec![profile("paper", "Gateway paper", &sim)],
        ..Settings::default()
    };
    std::fs::write(&path, serde_json::to_string(&settings).unwrap()).unwrap();
    let app = App::start(AppOptions {
        demo: false,
        settings_path: Some(path),
        worker_path: Some(worker()),
        history_path: Some(folder.join("history.db")),
    })
    .await
    .expect("the app starts without its history");
    let snapshot = until(&app, 15, "connected all the same", all_connected).await;
    let problem = snapshot.history_problem.expect("the window is told");
    assert!(
        problem.contains("no history kept") && problem.contains("gatewatch"),
        "{problem}"
    );
    assert_eq!(app.history_path(), None);
    let refused = app.incidents(None, 0).await.unwrap_err();
    assert_eq!(refused.code, "no_history");
    app.shutdown().await;
    sim.shutdown().await;
}
