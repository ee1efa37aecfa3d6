//! The history database's size and speed: how big a gateway's day is at one ping a second,
//! what writing costs (CPU per minute for four gateways, batched every 2 s as the app does,
//! against one transaction per ping), and how long the window's reads take on a database
//! seeded with 90 days of four gateways (the 30-day chart of four gateways: one query on the
//! 10-minute rows, downsampled in SQL, against the same on the minutes and against reading
//! every minute row and bucketing in Rust).
//!
//! `cargo bench -p gatewatch-app --bench history` (full: 90 days) or `-- --quick` (3 days; a
//! smoke run that checks the bench still works; `make test` runs it).

use std::path::Path;
use std::time::{Duration, Instant};

use gatewatch_app::LatencyRange;
use gatewatch_app::history::Feed;
use gatewatch_history::{Batch, History, PingRow, Source};
use gatewatch_supervisor::{EventKind, SupervisorEvent};

const GATEWAYS: [&str; 4] = ["live", "paper", "vps", "advisor"];
const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

/// This thread's CPU time, from the scheduler's own accounting.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// A round trip that looks like a gateway's: 300–700 µs, a slow one now and then, one in
/// 500 lost.
fn rtt(n: u64) -> Option<u64> {
    let x = n.wrapping_mul(6_364_136_223_846_793_005).rotate_left(17);
    match x % 500 {
        0 => None,
        1..=5 => Some(20_000 + x % 80_000),
        _ => Some(300 + x % 400),
    }
}

fn ping(at_ms: u64, n: u64) -> SupervisorEvent {
    SupervisorEvent {
        at_ms,
        kind: EventKind::Ping {
            rtt_us: rtt(n),
            late: false,
        },
    }
}

fn file_size(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

fn checkpoint(history: &History) {
    history
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
}

/// Feeds `minutes` minutes of `gateways` at one ping a second through the app's own feed,
/// writing every 2 s as the app does, starting at `from_ms`; returns this thread's CPU time.
fn write_like_the_app(
    history: &mut History,
    gateways: &[&str],
    from_ms: u64,
    minutes: u64,
) -> Duration {
    let mut feed = Feed::new(0, 0);
    let cpu = thread_cpu();
    for second in 0..minutes * 60 {
        let at = from_ms + second * 1000;
        for (g, gateway) in gateways.iter().enumerate() {
            feed.record(gateway, &ping(at, second * 7 + g as u64), None);
        }
        if second % 2 == 1 {
            history.write(&feed.take(at)).unwrap();
        }
    }
    history
        .write(&feed.take(from_ms + minutes * 60_000))
        .unwrap();
    thread_cpu() - cpu
}

/// The baseline: the same pings, one transaction each.
fn write_one_by_one(
    history: &mut History,
    gateways: &[&str],
    from_ms: u64,
    minutes: u64,
) -> Duration {
    let cpu = thread_cpu();
    for second in 0..minutes * 60 {
        let at = from_ms + second * 1000;
        for (g, gateway) in gateways.iter().enumerate() {
            let batch = Batch {
                pings: vec![(
                    gateway.to_string(),
                    PingRow {
                        at_ms: at,
                        rtt_us: rtt(second * 7 + g as u64),
                    },
                )],
                ..Batch::default()
            };
            history.write(&batch).unwrap();
        }
    }
    thread_cpu() - cpu
}

/// `days` of per-minute rows of four gateways and the last 48 h of raw pings, written
/// directly (the feed's rows, without its per-second cost), ending at `now_ms`.
fn seed(history: &mut History, days: u64, now_ms: u64) {
    let start = (now_ms - days * DAY) / MINUTE * MINUTE;
    let raw_from = now_ms - 2 * DAY;
    let mut n = 0;
    for chunk_start in (start..now_ms).step_by((60 * MINUTE) as usize) {
        let mut batch = Batch::default();
        for gateway in GATEWAYS {
            let pings: Vec<PingRow> = (0..3600)
                .map(|s| {
                    n += 1;
                    PingRow {
                        at_ms: chunk_start + s * 1000,
                        rtt_us: rtt(n),
                    }
                })
                .filter(|p| p.at_ms < now_ms)
                .collect();
            batch.minutes.extend(
                gatewatch_history::minutes(&pings)
                    .into_iter()
                    .map(|m| (gateway.to_owned(), m)),
            );
            if chunk_start + 60 * MINUTE > raw_from {
                batch.pings.extend(
                    pings
                        .into_iter()
                        .filter(|p| p.at_ms >= raw_from)
                        .map(|p| (gateway.to_owned(), p)),
                );
            }
        }
        history.write(&batch).unwrap();
    }
    checkpoint(history);
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(f());
                started.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let days = if quick { 3 } else { 90 };
    let runs = if quick { 3 } else { 21 };
    let dir = tempfile::tempdir().unwrap();
    println!(
        "history bench ({}): {} gateways, 1 ping/s",
        if quick { "quick" } else { "full" },
        GATEWAYS.len()
    );

    // Size of one gateway's day, through the app's own feed: bytes per table and index, from
    // SQLite's own page accounting (dbstat).
    let day_minutes = if quick { 60 } else { 24 * 60 };
    let one = dir.path().join("one-day.db");
    let mut history = History::open(&one).unwrap().history;
    write_like_the_app(&mut history, &GATEWAYS[..1], 0, day_minutes);
    checkpoint(&history);
    let bytes = |tables: &[&str]| -> f64 {
        tables
            .iter()
            .map(|name| {
                history
                    .connection()
                    .query_row(
                        "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?1",
                        [name],
                        |r| r.get::<_, i64>(0),
                    )
                    .unwrap() as f64
            })
            .sum::<f64>()
            * (24 * 60) as f64
            / day_minutes as f64
    };
    let raw_day = bytes(&["pings", "pings_by_time"]);
    let minute_day = bytes(&["latency_minute", "latency_10min"]);
    println!(
        "size of one gateway's day: raw pings {:.2} MB, per-minute and 10-minute rows {:.1} KB{}",
        raw_day / 1e6,
        minute_day / 1e3,
        if quick { " (from one hour, ×24)" } else { "" }
    );
    println!(
        "  at the default retention (raw 48 h, minutes 90 days): {:.1} MB per gateway",
        (2.0 * raw_day + 90.0 * minute_day) / 1e6
    );
    drop(history);

    let write_minutes = if quick { 2 } else { 20 };
    let batched_db = dir.path().join("batched.db");
    let mut history = History::open(&batched_db).unwrap().history;
    let batched =
        write_like_the_app(&mut history, &GATEWAYS, 0, write_minutes) / write_minutes as u32;
    let single_db = dir.path().join("single.db");
    let mut history = History::open(&single_db).unwrap().history;
    let single = write_one_by_one(&mut history, &GATEWAYS, 0, write_minutes) / write_minutes as u32;
    println!(
        "write CPU per minute, 4 gateways: batched every 2 s {} ({:.3} % of a core); one transaction per ping {} (×{:.1})",
        ms(batched),
        batched.as_secs_f64() / 60.0 * 100.0,
        ms(single),
        single.as_secs_f64() / batched.as_secs_f64().max(1e-9)
    );
    drop(history);

    // The window's reads on a seeded database.
    let seeded = dir.path().join("seeded.db");
    let now = 1_800_000_000_000_u64;
    let mut history = History::open(&seeded).unwrap().history;
    let started = Instant::now();
    seed(&mut history, days, now);
    println!(
        "seeded {days} days × {} gateways in {:.1} s: {:.1} MB",
        GATEWAYS.len(),
        started.elapsed().as_secs_f64(),
        file_size(&seeded) as f64 / 1e6
    );
    let reader = gatewatch_history::rusqlite::Connection::open_with_flags(
        &seeded,
        gatewatch_history::rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let month = 30 * DAY;
    let from = (now - month) / (30 * MINUTE) * (30 * MINUTE);
    let rollup_30d = time(runs, || {
        gatewatch_history::buckets(
            &reader,
            Source::TenMinutes,
            &GATEWAYS,
            from,
            now,
            30 * MINUTE,
        )
        .unwrap()
    });
    let minutes_30d = time(runs, || {
        gatewatch_history::buckets(&reader, Source::Minutes, &GATEWAYS, from, now, 30 * MINUTE)
            .unwrap()
    });
    let rust_30d = time(runs, || {
        let mut query = reader
            .prepare_cached(
                "SELECT gateway, minute_ms, count, lost, max_us FROM latency_minute
                 WHERE gateway = ?1 AND minute_ms >= ?2 AND minute_ms < ?3 ORDER BY minute_ms",
            )
            .unwrap();
        let mut buckets = std::collections::BTreeMap::<(String, u64), (u64, u64, u64)>::new();
        for gateway in GATEWAYS {
            let rows = query
                .query_map(
                    gatewatch_history::rusqlite::params![gateway, from as i64, now as i64],
                    |r| {
                        Ok((
                            r.get::<_, i64>(1)? as u64,
                            r.get::<_, u64>(2)?,
                            r.get::<_, u64>(3)?,
                            r.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64,
                        ))
                    },
                )
                .unwrap();
            for row in rows {
                let (minute, count, lost, max) = row.unwrap();
                let entry = buckets
                    .entry((gateway.to_owned(), (minute - from) / (30 * MINUTE)))
                    .or_default();
                entry.0 += count;
                entry.1 += lost;
                entry.2 = entry.2.max(max);
            }
        }
        buckets
    });
    let ratio = |baseline: Duration| baseline.as_secs_f64() / rollup_30d.as_secs_f64().max(1e-9);
    println!(
        "30-day chart of 4 gateways, one query on the 10-minute rows downsampled in SQL: {}",
        ms(rollup_30d)
    );
    println!(
        "  baselines: the same query on the minutes {} (×{:.1}); every minute row read and bucketed in Rust {} (×{:.1})",
        ms(minutes_30d),
        ratio(minutes_30d),
        ms(rust_30d),
        ratio(rust_30d)
    );
    let names: Vec<&str> = GATEWAYS.to_vec();
    for range in [
        LatencyRange::FiveMinutes,
        LatencyRange::Hour,
        LatencyRange::Day,
        LatencyRange::Week,
        LatencyRange::Month,
    ] {
        let took = time(runs, || {
            gatewatch_app::past::latency(&seeded, &names, range, now).unwrap()
        });
        let one = time(runs, || {
            gatewatch_app::past::latency(&seeded, &names[..1], range, now).unwrap()
        });
        println!(
            "window's latency read {:?} (open, buckets, exact percentiles where kept): 4 gateways {}, 1 gateway {}",
            range,
            ms(took),
            ms(one)
        );
    }
}
