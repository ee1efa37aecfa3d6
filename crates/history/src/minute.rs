//! Pings folded into per-minute rows: count, lost, min, p50, p95, p99, max of the answered.

use gatewatch_supervisor::stats::percentile;

use crate::PingRow;

/// One minute of one gateway's pings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MinuteStats {
    /// The minute's start, epoch ms.
    pub minute_ms: u64,
    /// Pings sent.
    pub count: u32,
    /// Pings lost.
    pub lost: u32,
    /// Of the answered, µs.
    pub min_us: Option<u64>,
    /// Median of the answered, µs.
    pub p50_us: Option<u64>,
    /// 95th percentile of the answered, µs.
    pub p95_us: Option<u64>,
    /// 99th percentile of the answered, µs.
    pub p99_us: Option<u64>,
    /// Slowest answered, µs.
    pub max_us: Option<u64>,
}

/// The per-minute rows of `pings` (any order), oldest minute first. Percentiles by the
/// nearest-rank method.
pub fn minutes(pings: &[PingRow]) -> Vec<MinuteStats> {
    let mut by_minute: std::collections::BTreeMap<u64, (u32, Vec<u64>)> = Default::default();
    for ping in pings {
        let entry = by_minute.entry(ping.at_ms / 60_000 * 60_000).or_default();
        entry.0 += 1;
        entry.1.extend(ping.rtt_us);
    }
    by_minute
        .into_iter()
        .map(|(minute_ms, (count, mut rtts))| {
            rtts.sort_unstable();
            let rank = |q: f64| percentile(&rtts, q);
            MinuteStats {
                minute_ms,
                count,
                lost: count - rtts.len() as u32,
                min_us: rtts.first().copied(),
                p50_us: rank(0.50),
                p95_us: rank(0.95),
                p99_us: rank(0.99),
                max_us: rtts.last().copied(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_fold_into_minutes_with_lost_ones_counted_apart() {
        let mut pings: Vec<PingRow> = (1..=100)
            .map(|n| PingRow {
                at_ms: 60_000 + n * 500,
                rtt_us: Some(n * 10),
            })
            .collect();
        pings.push(PingRow {
            at_ms: 60_100,
            rtt_us: None,
        });
        pings.push(PingRow {
            at_ms: 180_000,
            rtt_us: None,
        });
        let rows = minutes(&pings);
        assert_eq!(rows.len(), 2);
        // 60 000 … 119 999: pings 1–119 would fit; n*500 < 60 000 → n ≤ 119; here n ≤ 100.
        let first = rows[0];
        assert_eq!((first.minute_ms, first.count, first.lost), (60_000, 101, 1));
        assert_eq!(
            (
                first.min_us,
                first.p50_us,
                first.p95_us,
                first.p99_us,
                first.max_us
            ),
            (Some(10), Some(500), Some(950), Some(990), Some(1000))
        );
        let second = rows[1];
        assert_eq!(
            (second.minute_ms, second.count, second.lost),
            (180_000, 1, 1)
        );
        assert_eq!(second.p50_us, None);
    }
}
