//! Shared by the endpoints' tests: a real app core on its embedded simulators (demo mode).

use gatewatch_app::{App, AppOptions};

/// The app core in demo mode, with the real worker, its settings in `dir`, no history.
pub async fn demo_app(dir: &tempfile::TempDir) -> App {
    let worker = gatewatch_supervisor::config::sibling_binary("gatewatch-worker").unwrap();
    assert!(worker.exists(), "build the workspace binaries first");
    App::start(AppOptions {
        demo: true,
        settings_path: Some(dir.path().join("settings.json")),
        worker_path: Some(worker),
        history_path: None,
    })
    .await
    .unwrap()
}
