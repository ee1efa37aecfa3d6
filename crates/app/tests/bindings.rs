//! The TypeScript types the UI uses are generated from the Rust types (ts-rs) and checked in
//! under `ui/src/lib/backend/bindings/`; this test fails when they drift. After an intended
//! change, regenerate with `GATEWATCH_BLESS=1 cargo test -p gatewatch-app --test bindings`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gatewatch_app::{
    AppError, Applied, ExportKind, GatewayEvent, IbcLever, IncidentView, LatencyRange,
    LatencySeries, MorningSummary, UiSnapshot, UptimeDay,
};
use gatewatch_settings::Settings;
use gatewatch_supervisor::SupervisorEvent;
use ts_rs::{Config, TS};

fn checked_in() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/backend/bindings")
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read_to_string(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn typescript_bindings_match_the_rust_types() {
    let generated = tempfile::tempdir().unwrap();
    // JSON numbers: the u64 fields (times in ms, round trips in µs) stay far below 2^53.
    let cfg = Config::new()
        .with_large_int("number")
        .with_out_dir(generated.path());
    UiSnapshot::export_all(&cfg).unwrap();
    Settings::export_all(&cfg).unwrap();
    AppError::export_all(&cfg).unwrap();
    LatencySeries::export_all(&cfg).unwrap();
    SupervisorEvent::export_all(&cfg).unwrap();
    GatewayEvent::export_all(&cfg).unwrap();
    Applied::export_all(&cfg).unwrap();
    IbcLever::export_all(&cfg).unwrap();
    LatencyRange::export_all(&cfg).unwrap();
    IncidentView::export_all(&cfg).unwrap();
    UptimeDay::export_all(&cfg).unwrap();
    MorningSummary::export_all(&cfg).unwrap();
    ExportKind::export_all(&cfg).unwrap();
    let fresh = read_dir(generated.path());
    if std::env::var_os("GATEWATCH_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(checked_in());
        std::fs::create_dir_all(checked_in()).unwrap();
        for (name, text) in &fresh {
            std::fs::write(checked_in().join(name), text).unwrap();
        }
    }
    let stored = read_dir(&checked_in());
    assert!(
        fresh.len() > 20,
        "expected every type to be exported: {:?}",
        fresh.keys()
    );
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        stored.keys().collect::<Vec<_>>(),
        "the set of generated types changed: regenerate (see this file's doc comment)"
    );
    for (name, text) in &fresh {
        assert_eq!(
            text, &stored[name],
            "ui/src/lib/backend/bindings/{name} drifted from the Rust type: regenerate"
        );
    }
}
