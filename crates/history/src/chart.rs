//! The latency chart read back from the database: any range in at most a few thousand
//! buckets, downsampled in SQL by one query for every gateway asked, so that 30 days of four
//! gateways draw without a stall. Short ranges come from the raw pings (kept 48 h by default),
//! long ones from the per-minute rows.
//!
//! What a bucket says is exact where it can be: its count, its lost pings and its slowest
//! answer. Percentiles cannot be merged, so a bucket of minutes carries the count-weighted
//! mean of its minutes' medians and is called that, never "p50"; exact percentiles over a
//! range come from the raw pings ([`raw_span`]).

use gatewatch_supervisor::stats::percentile;
use rusqlite::{Connection, params};

/// Where a range is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The raw pings: one row per ping.
    Pings,
    /// The per-minute rows.
    Minutes,
    /// The 10-minute rows (buckets of 10 minutes or more).
    TenMinutes,
}

/// One bucket of one gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The gateway profile's id.
    pub gateway: String,
    /// The bucket's start, epoch ms.
    pub start_ms: u64,
    /// Pings sent.
    pub count: u32,
    /// Pings lost.
    pub lost: u32,
    /// The slowest answer, µs.
    pub slowest_us: Option<u64>,
    /// Minutes only: the count-weighted mean of the minutes' medians, µs.
    pub typical_us: Option<u64>,
}

/// The buckets of `gateways` in `[from_ms, to_ms)`, `bucket_ms` wide (aligned on `from_ms`),
/// oldest first per gateway, in one query; buckets with no pings are absent.
pub fn buckets(
    connection: &Connection,
    source: Source,
    gateways: &[&str],
    from_ms: u64,
    to_ms: u64,
    bucket_ms: u64,
) -> rusqlite::Result<Vec<Bucket>> {
    let sql = match source {
        Source::Pings => {
            "SELECT gateway, (at_ms - ?1) / ?3 AS b, count(*), sum(rtt_us IS NULL), max(rtt_us), NULL
             FROM pings
             WHERE gateway IN (SELECT value FROM json_each(?4)) AND at_ms >= ?1 AND at_ms < ?2
             GROUP BY gateway, b ORDER BY gateway, b"
        }
        Source::Minutes => {
            "SELECT gateway, (minute_ms - ?1) / ?3 AS b, sum(count), sum(lost), max(max_us),
                    sum(p50_us * (count - lost)) / nullif(sum(CASE WHEN p50_us IS NOT NULL THEN count - lost END), 0)
             FROM latency_minute
             WHERE gateway IN (SELECT value FROM json_each(?4)) AND minute_ms >= ?1 AND minute_ms < ?2
             GROUP BY gateway, b ORDER BY gateway, b"
        }
        Source::TenMinutes => {
            "SELECT gateway, (start_ms - ?1) / ?3 AS b, sum(count), sum(lost), max(max_us),
                    sum(p50_weighted_us) / nullif(sum(answered), 0)
             FROM latency_10min
             WHERE gateway IN (SELECT value FROM json_each(?4)) AND start_ms >= ?1 AND start_ms < ?2
             GROUP BY gateway, b ORDER BY gateway, b"
        }
    };
    let names = serde_json::to_string(gateways).expect("strings serialize");
    let bucket_ms = bucket_ms.max(1);
    let mut query = connection.prepare_cached(sql)?;
    let rows = query.query_map(
        params![from_ms as i64, to_ms as i64, bucket_ms as i64, names],
        |r| {
            Ok(Bucket {
                gateway: r.get(0)?,
                start_ms: from_ms + r.get::<_, i64>(1)?.max(0) as u64 * bucket_ms,
                count: r.get(2)?,
                lost: r.get(3)?,
                slowest_us: r.get::<_, Option<i64>>(4)?.map(|v| v.max(0) as u64),
                typical_us: r.get::<_, Option<i64>>(5)?.map(|v| v.max(0) as u64),
            })
        },
    )?;
    rows.collect()
}

/// `gateway`'s raw pings in a span: how many, and the answered round trips, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSpan {
    /// Pings sent, lost ones included.
    pub pings: u64,
    /// The answered round trips, µs, ascending.
    pub sorted_us: Vec<u64>,
}

impl RawSpan {
    /// The exact percentile `q` (nearest rank) of the answered pings.
    pub fn percentile(&self, q: f64) -> Option<u64> {
        percentile(&self.sorted_us, q)
    }
}

/// `gateway`'s raw pings in `[from_ms, to_ms)`.
pub fn raw_span(
    connection: &Connection,
    gateway: &str,
    from_ms: u64,
    to_ms: u64,
) -> rusqlite::Result<RawSpan> {
    let mut query = connection.prepare_cached(
        "SELECT rtt_us FROM pings WHERE gateway = ?1 AND at_ms >= ?2 AND at_ms < ?3",
    )?;
    let mut pings = 0;
    let mut sorted_us = Vec::new();
    let rows = query.query_map(params![gateway, from_ms as i64, to_ms as i64], |r| {
        r.get::<_, Option<i64>>(0)
    })?;
    for rtt in rows {
        pings += 1;
        sorted_us.extend(rtt?.map(|v| v.max(0) as u64));
    }
    // Sorting here is faster than SQLite's ORDER BY into a temporary b-tree.
    sorted_us.sort_unstable();
    Ok(RawSpan { pings, sorted_us })
}

/// The oldest raw ping of `gateway` kept, epoch ms.
pub fn oldest_ping(connection: &Connection, gateway: &str) -> rusqlite::Result<Option<u64>> {
    connection
        .prepare_cached("SELECT min(at_ms) FROM pings WHERE gateway = ?1")?
        .query_row([gateway], |r| r.get::<_, Option<i64>>(0))
        .map(|v| v.map(|v| v.max(0) as u64))
}

/// `gateway`'s per-minute rows from `since_ms` on, oldest first (for the CSV export).
pub fn minute_rows(
    connection: &Connection,
    gateway: &str,
    since_ms: u64,
) -> rusqlite::Result<Vec<crate::MinuteStats>> {
    let mut query = connection.prepare_cached(
        "SELECT minute_ms, count, lost, min_us, p50_us, p95_us, p99_us, max_us
         FROM latency_minute WHERE gateway = ?1 AND minute_ms >= ?2 ORDER BY minute_ms",
    )?;
    let us = |v: Option<i64>| v.map(|v| v.max(0) as u64);
    let rows = query.query_map(params![gateway, since_ms as i64], |r| {
        Ok(crate::MinuteStats {
            minute_ms: r.get::<_, i64>(0)?.max(0) as u64,
            count: r.get(1)?,
            lost: r.get(2)?,
            min_us: us(r.get(3)?),
            p50_us: us(r.get(4)?),
            p95_us: us(r.get(5)?),
            p99_us: us(r.get(6)?),
            max_us: us(r.get(7)?),
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, History, PingRow, minutes};

    fn seeded() -> (tempfile::TempDir, History) {
        let dir = tempfile::tempdir().unwrap();
        let mut history = History::open(&dir.path().join("h.db")).unwrap().history;
        let mut batch = Batch::default();
        for gateway in ["a", "b"] {
            // Two minutes of a ping a second: 1–60 ms, then 100 ms with every 10th lost.
            let pings: Vec<PingRow> = (0..120)
                .map(|s| PingRow {
                    at_ms: 600_000 + s * 1000,
                    rtt_us: match s {
                        0..60 => Some((s + 1) * 1000),
                        _ if s % 10 == 0 => None,
                        _ => Some(100_000),
                    },
                })
                .collect();
            batch
                .minutes
                .extend(minutes(&pings).into_iter().map(|m| (gateway.to_owned(), m)));
            batch
                .pings
                .extend(pings.into_iter().map(|p| (gateway.to_owned(), p)));
        }
        history.write(&batch).unwrap();
        (dir, history)
    }

    #[test]
    fn minutes_fold_into_buckets_with_exact_counts_and_slowest() {
        let (_dir, history) = seeded();
        let rows = buckets(
            history.connection(),
            Source::Minutes,
            &["a", "b"],
            600_000,
            720_000,
            120_000,
        )
        .unwrap();
        assert_eq!(rows.len(), 2, "one bucket per gateway: {rows:?}");
        let a = &rows[0];
        assert_eq!(
            (a.gateway.as_str(), a.start_ms, a.count, a.lost),
            ("a", 600_000, 120, 6)
        );
        assert_eq!(a.slowest_us, Some(100_000));
        // Minute 1: median 30 ms (nearest rank of 1..=60 ms) × 60 answered; minute 2: 100 ms
        // × 54 answered → (30·60 + 100·54) / 114.
        assert_eq!(a.typical_us, Some((30_000 * 60 + 100_000 * 54) / 114));
        let rolled = buckets(
            history.connection(),
            Source::TenMinutes,
            &["a", "b"],
            600_000,
            720_000,
            1_800_000,
        )
        .unwrap();
        assert_eq!(
            rolled
                .iter()
                .map(|b| (b.count, b.lost, b.slowest_us, b.typical_us))
                .collect::<Vec<_>>(),
            rows.iter()
                .map(|b| (b.count, b.lost, b.slowest_us, b.typical_us))
                .collect::<Vec<_>>(),
            "the 10-minute rows say what their minutes say"
        );
    }

    #[test]
    fn raw_pings_give_buckets_and_exact_percentiles() {
        let (_dir, history) = seeded();
        let rows = buckets(
            history.connection(),
            Source::Pings,
            &["b"],
            600_000,
            660_000,
            10_000,
        )
        .unwrap();
        assert_eq!(rows.len(), 6);
        assert!(
            rows.iter()
                .all(|b| b.gateway == "b" && b.count == 10 && b.lost == 0)
        );
        assert_eq!(rows[5].slowest_us, Some(60_000));
        let lost: u32 = buckets(
            history.connection(),
            Source::Pings,
            &["b"],
            600_000,
            720_000,
            60_000,
        )
        .unwrap()
        .iter()
        .map(|b| b.lost)
        .sum();
        assert_eq!(lost, 6);
        let span = raw_span(history.connection(), "a", 600_000, 660_000).unwrap();
        assert_eq!(span.pings, 60);
        assert_eq!(
            (span.percentile(0.5), span.percentile(0.95)),
            (Some(30_000), Some(57_000))
        );
        let lossy = raw_span(history.connection(), "a", 660_000, 720_000).unwrap();
        assert_eq!((lossy.pings, lossy.sorted_us.len()), (60, 54));
        assert_eq!(
            raw_span(history.connection(), "a", 0, 1000)
                .unwrap()
                .percentile(0.5),
            None
        );
        assert_eq!(
            oldest_ping(history.connection(), "a").unwrap(),
            Some(600_000)
        );
        assert_eq!(minute_rows(history.connection(), "a", 0).unwrap().len(), 2);
    }
}
