//! `gatewatch-cli history` against a seeded database: the incident list and the uptime table
//! as text, the same facts as JSON, and the incidents as CSV that reads back field by field.

mod common;

use std::time::Duration;

use common::cli;
use gatewatch_history::{Batch, History, IncidentRow, MinuteStats, WatchSpan};

async fn run(args: &[&str]) -> std::process::Output {
    tokio::time::timeout(Duration::from_secs(30), cli(args).output())
        .await
        .expect("the command ends on time")
        .unwrap()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A settings file naming the profile `paper`, and a database with its three incidents of
/// the last two days (one expected, one with a comma and quotes in its cause, one still
/// going) and one of another gateway.
fn seed(dir: &tempfile::TempDir) -> (String, String, u64) {
    let settings = dir.path().join("settings.json");
    std::fs::write(
        &settings,
        r#"{"profiles":[{"id":"paper","name":"Gateway paper","port":4002}]}"#,
    )
    .unwrap();
    let db = dir.path().join("history.db");
    let now = now_ms();
    let row =
        |id, gateway: &str, started_ms: u64, ended_ms: Option<u64>, expected: bool, cause: &str| {
            IncidentRow {
                id,
                gateway: gateway.into(),
                kind: "down".into(),
                started_ms,
                ended_ms,
                cause: cause.into(),
                stage: Some("tcp_connect".into()),
                notices: String::new(),
                expected,
                outage: expected.then(|| "nightly restart".into()),
                close_wait: None,
            }
        };
    let mut history = History::open(&db).unwrap().history;
    history
        .write(&Batch {
            incidents: vec![
                row(
                    1,
                    "paper",
                    now - 30 * 3_600_000,
                    Some(now - 30 * 3_600_000 + 58_000),
                    true,
                    "the gateway closed the connection",
                ),
                row(
                    2,
                    "paper",
                    now - 5 * 3_600_000,
                    Some(now - 5 * 3_600_000 + 240_000),
                    false,
                    "refused, \"port closed\"",
                ),
                row(3, "paper", now - 60_000, None, false, "no reply"),
                row(4, "live", now - 60_000, None, false, "not this one"),
            ],
            minutes: seeded_minutes(now),
            // Watched for the last 40 hours, without a break.
            watched: vec![(
                "paper".into(),
                WatchSpan {
                    id: 1,
                    from_ms: now - 40 * 3_600_000,
                    until_ms: now,
                },
            )],
            ..Batch::default()
        })
        .unwrap();
    (
        settings.to_str().unwrap().to_owned(),
        db.to_str().unwrap().to_owned(),
        now,
    )
}

/// Three minutes of paper's latency an hour ago, and one of another gateway.
fn seeded_minutes(now: u64) -> Vec<(String, MinuteStats)> {
    let minute = |n: u64, gateway: &str| {
        let minute_ms = (now - 3_600_000) / 60_000 * 60_000 + n * 60_000;
        (
            gateway.to_owned(),
            MinuteStats {
                minute_ms,
                count: 60,
                lost: n as u32,
                min_us: Some(300 + n),
                p50_us: Some(400 + n),
                p95_us: Some(900 + n),
                p99_us: Some(1_500 + n),
                max_us: if n == 2 { None } else { Some(2_000 + n) },
            },
        )
    };
    vec![
        minute(0, "paper"),
        minute(1, "paper"),
        minute(2, "paper"),
        minute(0, "live"),
    ]
}

/// `history` of the profile "Gateway paper" with these files.
fn history_of_paper<'a>(settings: &'a str, db: &'a str) -> Vec<&'a str> {
    vec![
        "history",
        "--profile",
        "Gateway paper",
        "--settings",
        settings,
        "--db",
        db,
    ]
}

#[tokio::test]
async fn history_lists_a_profiles_incidents_and_uptime_as_text_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, db, _now) = seed(&dir);
    let mut args = history_of_paper(&settings, &db);
    args.extend(["--since", "2d"]);
    let output = run(&args).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("3 incident(s), 2 unexpected"), "{text}");
    assert!(
        text.contains(", 58 s, nightly restart (expected): the gateway closed the connection"),
        "{text}"
    );
    assert!(text.contains(", 4 min 0 s: refused"), "{text}");
    assert!(text.contains("now (still going)"), "{text}");
    assert!(
        !text.contains("not this one"),
        "another gateway's incident: {text}"
    );
    assert!(text.contains("uptime per day"), "{text}");
    assert!(
        text.lines().filter(|l| l.ends_with("not watched")).count() <= 1,
        "at most the day before the 40 hours watched: {text}"
    );

    let output = run(&[&args[..], &["--json"]].concat()).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["gateway"], "paper");
    assert_eq!(report["incidents"].as_array().unwrap().len(), 3);
    let unexpected: u64 = report["uptime"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["unexpected_down_ms"].as_u64().unwrap())
        .sum();
    assert!(
        (300_000..310_000).contains(&unexpected),
        "4 min + 1 min so far: {unexpected}"
    );

    let output = run(&[&args[..], &["--csv"]].concat()).await;
    let csv = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "id,gateway,kind,started_ms,ended_ms,duration_ms,expected,outage,cause,stage,notices,close_wait"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[2].contains(",240000,false,,\"refused, \"\"port closed\"\"\",tcp_connect,"),
        "{csv}"
    );
    assert!(
        lines[1].contains(",58000,true,nightly restart,the gateway closed the connection,"),
        "{csv}"
    );
}

#[tokio::test]
async fn per_minute_latency_comes_back_from_csv_as_it_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, db, now) = seed(&dir);
    let mut args = history_of_paper(&settings, &db);
    args.extend(["--since", "2h", "--csv", "--latency"]);
    let output = run(&args).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let read: Vec<(String, MinuteStats)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let num = |i: usize| r[i].parse::<u64>().ok();
            (
                r[0].to_owned(),
                MinuteStats {
                    minute_ms: num(1).unwrap(),
                    count: num(2).unwrap() as u32,
                    lost: num(3).unwrap() as u32,
                    min_us: num(4),
                    p50_us: num(5),
                    p95_us: num(6),
                    p99_us: num(7),
                    max_us: num(8),
                },
            )
        })
        .collect();
    let written: Vec<_> = seeded_minutes(now)
        .into_iter()
        .filter(|(g, _)| g == "paper")
        .collect();
    assert_eq!(
        read, written,
        "every field of every minute, the empty max included"
    );
}

#[tokio::test]
async fn history_without_a_database_says_where_it_looked_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, _, _) = seed(&dir);
    let missing = dir.path().join("none.db");
    let output = run(&history_of_paper(&settings, missing.to_str().unwrap())).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no history database at") && stderr.contains("none.db"),
        "{stderr}"
    );
}
