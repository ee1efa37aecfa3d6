//! The history database on real files: migrations from an empty file and from every earlier
//! schema version, WAL mode, batches written whole, a corrupt or newer file kept aside, and a
//! writer killed with SIGKILL mid-write, many times, leaving an intact database.

use std::path::Path;
use std::time::Duration;

use gatewatch_history::{Batch, EventRow, History, MIGRATIONS, PingRow, SCHEMA_VERSION, minutes};

fn count(history: &History, table: &str) -> i64 {
    history
        .connection()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn integrity(path: &Path) -> String {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

fn batch(n: u64) -> Batch {
    let pings: Vec<PingRow> = (0..60)
        .map(|i| PingRow {
            at_ms: n * 60_000 + i * 1_000,
            rtt_us: (i % 10 != 0).then_some(400 + i),
        })
        .collect();
    Batch {
        events: vec![EventRow {
            gateway: "paper".into(),
            at_ms: n * 60_000,
            kind: "state".into(),
            text: format!("state: connected ({n})"),
            expected: false,
        }],
        minutes: minutes(&pings)
            .into_iter()
            .map(|m| ("paper".into(), m))
            .collect(),
        pings: pings.into_iter().map(|p| ("paper".into(), p)).collect(),
        ..Batch::default()
    }
}

#[test]
fn a_new_database_is_migrated_to_the_current_schema_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let opened = History::open(&path).unwrap();
    assert_eq!((opened.migrated_from, opened.problem), (0, None));
    let history = opened.history;
    let version: u32 = history
        .connection()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = history
        .connection()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn every_earlier_schema_version_opens_and_keeps_its_rows() {
    // Version 0 is an empty SQLite file (as an interrupted first start leaves it); version n
    // is the database exactly as the first n migrations leave it, with an event and two
    // minutes of latency written as that release wrote them.
    for version in 0..=SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        {
            let connection = rusqlite::Connection::open(&path).unwrap();
            connection
                .execute_batch("CREATE TABLE IF NOT EXISTS keep (x INTEGER)")
                .unwrap();
            for migration in &MIGRATIONS[..version as usize] {
                connection.execute_batch(migration).unwrap();
            }
            if version > 0 {
                connection
                    .execute_batch(
                        "INSERT INTO events (gateway, at_ms, kind, text) VALUES ('paper', 1, 'state', 'connected');
                         INSERT INTO latency_minute (gateway, minute_ms, count, lost, max_us, p50_us)
                             VALUES ('paper', 600000, 60, 0, 900, 400), ('paper', 660000, 60, 10, 700, 500);",
                    )
                    .unwrap();
            }
            connection
                .pragma_update(None, "user_version", version)
                .unwrap();
        }
        let opened = History::open(&path).unwrap();
        assert_eq!(opened.migrated_from, version);
        assert!(opened.problem.is_none());
        if version > 0 {
            let history = &opened.history;
            assert_eq!(count(history, "events"), 1, "version {version}");
        }
        // Migration 2 fills the 10-minute rows from the minutes already there.
        if version == 1 {
            let history = &opened.history;
            let rolled: (i64, i64, i64, i64) = history
                .connection()
                .query_row(
                    "SELECT count, lost, max_us, p50_weighted_us / answered FROM latency_10min",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .unwrap();
            assert_eq!(
                rolled,
                (120, 10, 900, (400 * 60 + 500 * 50) / 110),
                "version {version}: the minutes rolled up"
            );
        }
    }
}

#[test]
fn a_batch_is_written_whole_and_a_minute_written_twice_keeps_the_later_figures() {
    let dir = tempfile::tempdir().unwrap();
    let mut history = History::open(&dir.path().join("history.db"))
        .unwrap()
        .history;
    history.write(&batch(7)).unwrap();
    assert_eq!(count(&history, "pings"), 60);
    assert_eq!(count(&history, "events"), 1);
    let (n, lost): (i64, i64) = history
        .connection()
        .query_row(
            "SELECT count, lost FROM latency_minute WHERE gateway = 'paper' AND minute_ms = ?1",
            [7 * 60_000],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((n, lost), (60, 6));
    let mut again = batch(7);
    again.minutes[0].1.lost = 0;
    again.pings.clear();
    again.events.clear();
    history.write(&again).unwrap();
    assert_eq!(count(&history, "latency_minute"), 1);
    let lost: i64 = history
        .connection()
        .query_row("SELECT lost FROM latency_minute", [], |r| r.get(0))
        .unwrap();
    assert_eq!(lost, 0);
}

#[test]
fn a_minute_shared_by_two_runs_counts_the_pings_of_both() {
    let dir = tempfile::tempdir().unwrap();
    let mut history = History::open(&dir.path().join("history.db"))
        .unwrap()
        .history;
    // The first run's pings of the minute (every fifth lost), then the app killed and a new
    // run's pings of the same minute: only pings in the batches, as the app writes them.
    let pings = |seconds: std::ops::Range<u64>| Batch {
        pings: seconds
            .map(|s| {
                (
                    "paper".to_owned(),
                    PingRow {
                        at_ms: 420_000 + s * 1000,
                        rtt_us: (s % 5 != 0).then_some(500 + s),
                    },
                )
            })
            .collect(),
        ..Batch::default()
    };
    history.write(&pings(0..25)).unwrap();
    history.write(&pings(35..60)).unwrap();
    let row: (i64, i64, i64, i64) = history
        .connection()
        .query_row(
            "SELECT count, lost, max_us, (SELECT count FROM latency_10min) FROM latency_minute",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        row,
        (50, 10, 559, 50),
        "both runs' pings, in the minute and its 10 minutes"
    );
}

#[test]
fn a_corrupt_file_is_kept_aside_and_a_new_database_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let garbage = b"this is not a database, it is a text file that happens to be here".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let opened = History::open(&path).unwrap();
    let problem = opened.problem.expect("reported");
    assert!(problem.to_string().contains("kept as"), "{problem}");
    assert_eq!(
        std::fs::read(&problem.kept_as).unwrap(),
        garbage,
        "kept as it was"
    );
    let mut history = opened.history;
    history.write(&batch(1)).unwrap();
    assert_eq!(count(&history, "events"), 1);
}

#[test]
fn a_database_from_a_newer_release_is_kept_aside_not_downgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch("CREATE TABLE future (x INTEGER)")
            .unwrap();
        connection
            .pragma_update(None, "user_version", SCHEMA_VERSION + 5)
            .unwrap();
    }
    let opened = History::open(&path).unwrap();
    let problem = opened.problem.expect("reported");
    assert!(problem.what.contains("newer Gatewatch"), "{}", problem.what);
    let old = rusqlite::Connection::open(&problem.kept_as).unwrap();
    let version: u32 = old
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(
        version,
        SCHEMA_VERSION + 5,
        "left as the newer release wrote it"
    );
}

/// Run by the test below in a child process: writes batches as fast as it can until killed.
#[test]
#[ignore = "run as a child by a_writer_killed_mid_write_leaves_an_intact_database_with_whole_batches"]
fn child_writer() {
    let Some(path) = std::env::var_os("GATEWATCH_HISTORY_CHILD") else {
        return;
    };
    let mut history = History::open(Path::new(&path)).unwrap().history;
    for n in 0.. {
        history.write(&batch(n)).unwrap();
    }
}

#[test]
fn a_writer_killed_mid_write_leaves_an_intact_database_with_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let mut last = 0;
    for round in 0..10 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_writer", "--ignored", "--test-threads=1"])
            .env("GATEWATCH_HISTORY_CHILD", &path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + 37 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_eq!(integrity(&path), "ok", "round {round}");
        let history = History::open(&path).unwrap();
        assert!(history.problem.is_none(), "round {round}");
        let events = count(&history.history, "events");
        let pings = count(&history.history, "pings");
        assert_eq!(pings, events * 60, "whole batches only (round {round})");
        assert!(events >= last, "nothing committed is lost (round {round})");
        last = events;
    }
    assert!(last > 0, "the children wrote something");
}

#[test]
fn incidents_are_read_back_per_gateway_over_a_span_with_open_ones() {
    use gatewatch_history::{IncidentRow, incidents};
    let dir = tempfile::tempdir().unwrap();
    let mut history = History::open(&dir.path().join("history.db"))
        .unwrap()
        .history;
    let row = |id, gateway: &str, started_ms, ended_ms| IncidentRow {
        id,
        gateway: gateway.into(),
        kind: "down".into(),
        started_ms,
        ended_ms,
        cause: "the gateway closed the connection".into(),
        stage: Some("tcp_connect".into()),
        notices: "1100".into(),
        expected: id == 2,
        outage: (id == 2).then(|| "nightly restart".into()),
        close_wait: None,
    };
    let mut batch = Batch {
        incidents: vec![
            row(1, "paper", 1_000, Some(2_000)),
            row(2, "paper", 10_000, Some(70_000)),
            row(3, "live", 11_000, None),
            row(4, "paper", 80_000, None),
        ],
        ..Batch::default()
    };
    history.write(&batch).unwrap();
    // An open incident is written again when it ends: the same id, replaced.
    batch.incidents = vec![row(4, "paper", 80_000, Some(90_000))];
    history.write(&batch).unwrap();
    let paper = incidents(history.connection(), Some("paper"), 5_000).unwrap();
    let ids: Vec<i64> = paper.iter().map(|i| i.id).collect();
    assert_eq!(ids, [2, 4], "the one over before the span is left out");
    assert_eq!(paper[1].ended_ms, Some(90_000));
    assert_eq!(
        paper[0],
        row(2, "paper", 10_000, Some(70_000)),
        "every field round trips"
    );
    let all = incidents(history.connection(), None, 0).unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[2].ended_ms, None, "live is still down");

    // The run that wrote it is gone (killed): the next run ends it where the first one last
    // wrote that it was watching (its last event was earlier: nothing is logged while the
    // circuit is open), saying it was not watched to its end.
    history
        .write(&Batch {
            events: vec![EventRow {
                gateway: "live".into(),
                at_ms: 30_000,
                kind: "failure".into(),
                text: "connect attempt 9 failed".into(),
                expected: false,
            }],
            watched: vec![(
                "live".into(),
                gatewatch_history::WatchSpan {
                    id: 1,
                    from_ms: 0,
                    until_ms: 41_000,
                },
            )],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(
        gatewatch_history::close_abandoned(history.connection()).unwrap(),
        1
    );
    let live = incidents(history.connection(), Some("live"), 0).unwrap();
    assert_eq!(live[0].ended_ms, Some(41_000));
    assert_eq!(
        live[0].cause,
        format!(
            "the gateway closed the connection; {}",
            gatewatch_history::UNWATCHED
        )
    );
}

#[test]
fn pruning_keeps_raw_pings_two_days_minutes_ninety_and_events_a_year() {
    use gatewatch_history::Retention;
    let dir = tempfile::tempdir().unwrap();
    let mut history = History::open(&dir.path().join("history.db"))
        .unwrap()
        .history;
    let day = 86_400_000_u64;
    let now = 400 * day;
    for age_days in [1, 3, 100, 366] {
        let mut b = batch((now - age_days * day) / 60_000);
        b.events[0].at_ms = now - age_days * day;
        b.watched.push((
            "paper".into(),
            gatewatch_history::WatchSpan {
                id: age_days as i64,
                from_ms: now - age_days * day,
                until_ms: now - age_days * day + 60_000,
            },
        ));
        history.write(&b).unwrap();
    }
    let deleted = history.prune(now, &Retention::default()).unwrap();
    assert!(deleted > 0);
    let oldest = |table: &str, column: &str| -> i64 {
        history
            .connection()
            .query_row(&format!("SELECT min({column}) FROM {table}"), [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert!(
        oldest("pings", "at_ms") >= (now - 2 * day) as i64,
        "raw pings: 48 h"
    );
    assert!(
        oldest("latency_minute", "minute_ms") >= (now - 90 * day) as i64,
        "minutes: 90 days"
    );
    assert_eq!(
        count(&history, "latency_minute"),
        2,
        "the 1- and 3-day-old minutes stay"
    );
    assert_eq!(count(&history, "events"), 3, "events older than a year go");
    assert_eq!(
        count(&history, "watched"),
        3,
        "watched stretches older than a year go with the incidents they measure"
    );
}

#[test]
fn a_full_database_is_an_error_naming_the_file_and_nothing_of_the_batch_is_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let mut history = History::open(&path).unwrap().history;
    history.write(&batch(0)).unwrap();
    // SQLite's page limit: growing past it fails as a full disk does (SQLITE_FULL).
    let pages: i64 = history
        .connection()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    history
        .connection()
        .pragma_update(None, "max_page_count", pages)
        .unwrap();
    let big = Batch {
        pings: (0..20_000)
            .map(|i| {
                (
                    "paper".to_owned(),
                    PingRow {
                        at_ms: 10_000_000 + i,
                        rtt_us: Some(i),
                    },
                )
            })
            .collect(),
        ..batch(1)
    };
    let error = history.write(&big).unwrap_err().to_string();
    assert!(
        error.contains("history.db") && error.contains("full"),
        "{error}"
    );
    assert_eq!(
        count(&history, "events"),
        1,
        "the failed batch left nothing"
    );
    history
        .connection()
        .pragma_update(None, "max_page_count", 1_000_000)
        .unwrap();
    history.write(&big).unwrap();
    assert_eq!(count(&history, "pings"), 60 + 20_000);
    assert_eq!(integrity(&path), "ok");
}
