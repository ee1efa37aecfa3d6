//! The shell's commands over Tauri's IPC (mock runtime), on an app core watching the two demo
//! simulators through real workers: what the UI receives, errors included.

use std::time::Duration;

use gatewatch_app::{App, AppOptions};
use tauri::WebviewWindowBuilder;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;

fn request(cmd: &str, body: serde_json::Value) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    }
}

#[test]
fn commands_answer_with_snapshots_settings_and_field_errors() {
    let dir = tempfile::tempdir().unwrap();
    let options = AppOptions {
        demo: true,
        settings_path: Some(dir.path().join("settings.json")),
        worker_path: None,
        history_path: Some(dir.path().join("history.db")),
    };
    let app = tauri::async_runtime::block_on(App::start(options)).expect("the app core starts");
    let tauri_app = gatewatch_desktop::with_commands(mock_builder())
        .build(mock_context(noop_assets()))
        .unwrap();
    gatewatch_desktop::manage(&tauri_app, app.clone());
    let webview = WebviewWindowBuilder::new(&tauri_app, "main", Default::default())
        .build()
        .unwrap();

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let snapshot = loop {
        let snapshot: serde_json::Value =
            get_ipc_response(&webview, request("get_snapshot", serde_json::json!({})))
                .unwrap()
                .deserialize()
                .unwrap();
        let states: Vec<&serde_json::Value> = snapshot["gateways"]
            .as_array()
            .map(|g| g.iter().map(|g| &g["state"]["state"]).collect())
            .unwrap_or_default();
        if (states.len() == 2 && states.iter().all(|s| *s == "connected"))
            || std::time::Instant::now() > deadline
        {
            break snapshot;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let paper = &snapshot["gateways"][1];
    assert_eq!(paper["state"]["state"], "connected", "{snapshot}");
    assert_eq!(paper["id"], "gateway-paper-demo");
    assert_eq!(paper["accounts"][0]["id"], "DU1234567");
    assert_eq!(snapshot["gateways"][0]["accounts"][0]["id"], "U1234567");
    assert_eq!(snapshot["demo"], true);

    let mut settings: serde_json::Value =
        get_ipc_response(&webview, request("get_settings", serde_json::json!({})))
            .unwrap()
            .deserialize()
            .unwrap();
    let saved = get_ipc_response(
        &webview,
        request(
            "save_settings",
            serde_json::json!({ "settings": settings.clone() }),
        ),
    );
    assert!(saved.is_ok(), "valid settings are saved: {saved:?}");
    settings["profiles"][1]["port"] = 0.into();
    let refused = get_ipc_response(
        &webview,
        request("save_settings", serde_json::json!({ "settings": settings })),
    )
    .unwrap_err();
    assert_eq!(refused["code"], "invalid_settings", "{refused}");
    assert_eq!(refused["fields"][0]["field"], "profiles[1].port");
    assert!(!dir.path().join("settings.json").exists(), "nothing saved");

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let latency = loop {
        let latency: serde_json::Value = get_ipc_response(
            &webview,
            request(
                "get_latency",
                serde_json::json!({ "gateways": ["gateway-paper-demo"], "range": "5m" }),
            ),
        )
        .unwrap()
        .deserialize::<serde_json::Value>()
        .unwrap()[0]
            .clone();
        if latency["t"].as_array().is_some_and(|t| !t.is_empty())
            || std::time::Instant::now() > deadline
        {
            break latency;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        latency["t"].as_array().is_some_and(|t| !t.is_empty()),
        "{latency}"
    );

    let unknown = get_ipc_response(
        &webview,
        request("reconnect_now", serde_json::json!({ "gateway": "nope" })),
    )
    .unwrap_err();
    assert_eq!(unknown["code"], "unknown_gateway", "{unknown}");
    get_ipc_response(
        &webview,
        request(
            "reconnect_now",
            serde_json::json!({ "gateway": "gateway-paper-demo" }),
        ),
    )
    .unwrap();

    tauri::async_runtime::block_on(app.shutdown());
}
