//! The shell's commands over Tauri's IPC (mock runtime), on an app core watching the demo
//! simulator through the real worker: what the UI receives, errors included.

use std::time::Duration;

use gatewatch_app::{App, AppOptions};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindowBuilder};

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
    };
    let app = tauri::async_runtime::block_on(App::start(options)).expect("the app core starts");
    let tauri_app = gatewatch_desktop::with_commands(mock_builder())
        .build(mock_context(noop_assets()))
        .unwrap();
    tauri_app.manage(app.clone());
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
        if snapshot["state"]["state"] == "connected" || std::time::Instant::now() > deadline {
            break snapshot;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(snapshot["state"]["state"], "connected", "{snapshot}");
    assert_eq!(snapshot["accounts"][0]["id"], "DU1234567");
    assert_eq!(snapshot["demo"], true);

    let mut settings: serde_json::Value =
        get_ipc_response(&webview, request("get_settings", serde_json::json!({})))
            .unwrap()
            .deserialize()
            .unwrap();
    settings["gateway"]["port"] = 0.into();
    let refused = get_ipc_response(
        &webview,
        request("save_settings", serde_json::json!({ "settings": settings })),
    )
    .unwrap_err();
    assert_eq!(refused["code"], "invalid_settings", "{refused}");
    assert_eq!(refused["fields"][0]["field"], "gateway.port");
    assert!(!dir.path().join("settings.json").exists(), "nothing saved");

    let latency: serde_json::Value = get_ipc_response(
        &webview,
        request("get_latency", serde_json::json!({ "windowSecs": 300 })),
    )
    .unwrap()
    .deserialize()
    .unwrap();
    assert!(latency["t"].is_array());

    tauri::async_runtime::block_on(app.shutdown());
}
