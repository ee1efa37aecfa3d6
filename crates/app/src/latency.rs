//! A day of ping samples for the latency chart, and the downsampling that keeps the chart
//! smooth: however long the window, the UI gets at most a few thousand points, each bucket
//! showing its slowest answer and whether any ping in it was lost.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One day at one ping a second.
pub const HISTORY_MS: u64 = 24 * 60 * 60 * 1000;

/// Ping samples, oldest first.
#[derive(Debug, Clone, Default)]
pub struct LatencyHistory {
    samples: VecDeque<(u64, Option<u32>)>,
}

/// What the chart draws.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct LatencySeries {
    /// Bucket times, seconds since the Unix epoch.
    pub t: Vec<f64>,
    /// The slowest answered ping in each bucket, ms; `None` when none was answered.
    pub rtt_ms: Vec<Option<f64>>,
    /// Times of buckets in which a ping was lost.
    pub lost_t: Vec<f64>,
    /// Buckets of minutes only: the count-weighted mean of the minutes' medians, ms (not a
    /// percentile: percentiles of minutes cannot be merged). Empty otherwise.
    pub typical_ms: Vec<Option<f64>>,
    /// The exact median of every answered ping in the range, ms, where the raw pings cover it.
    pub p50_ms: Option<f64>,
    /// The exact 95th percentile likewise, ms.
    pub p95_ms: Option<f64>,
    /// Pings in the range, and how many were lost.
    pub pings: u64,
    /// Lost pings in the range.
    pub lost: u64,
    /// How wide a bucket is, seconds.
    pub bucket_secs: f64,
    /// Where it was read from: `memory` (no history kept), `pings` or `minutes`.
    pub source: String,
    /// What the chart cannot show, in words (a range longer than what is kept).
    pub note: Option<String>,
}

impl LatencySeries {
    /// `rtts` (answered, µs, any order) as the range's exact p50 and p95.
    pub fn set_percentiles(&mut self, mut rtts: Vec<u64>) {
        rtts.sort_unstable();
        let ms = |q| gatewatch_supervisor::stats::percentile(&rtts, q).map(|us| us as f64 / 1000.0);
        self.p50_ms = ms(0.5);
        self.p95_ms = ms(0.95);
    }
}

impl LatencyHistory {
    /// Records a sample (`None` for a lost ping) and forgets what is older than a day.
    pub fn record(&mut self, at_ms: u64, rtt_us: Option<u64>) {
        self.samples
            .push_back((at_ms, rtt_us.map(|us| us.min(u64::from(u32::MAX)) as u32)));
        while self
            .samples
            .front()
            .is_some_and(|(first, _)| at_ms.saturating_sub(*first) > HISTORY_MS)
        {
            self.samples.pop_front();
        }
    }

    /// The last `window_ms` before `now_ms`, in at most `max_points` buckets.
    pub fn series(&self, now_ms: u64, window_ms: u64, max_points: usize) -> LatencySeries {
        let start = now_ms.saturating_sub(window_ms);
        let bucket_ms = (window_ms / max_points.max(1) as u64).max(1);
        let mut series = LatencySeries {
            bucket_secs: bucket_ms as f64 / 1000.0,
            source: "memory".into(),
            ..LatencySeries::default()
        };
        let mut answered = Vec::new();
        let mut current: Option<(u64, Option<u32>, bool)> = None;
        let flush = |series: &mut LatencySeries,
                     (bucket, slowest, lost): (u64, Option<u32>, bool)| {
            let t = (start + bucket * bucket_ms) as f64 / 1000.0;
            series.t.push(t);
            series.rtt_ms.push(slowest.map(|us| f64::from(us) / 1000.0));
            if lost {
                series.lost_t.push(t);
            }
        };
        for (at, rtt) in self
            .samples
            .iter()
            .filter(|(at, _)| *at >= start && *at <= now_ms)
        {
            series.pings += 1;
            match rtt {
                Some(us) => answered.push(u64::from(*us)),
                None => series.lost += 1,
            }
            let bucket = (at - start) / bucket_ms;
            match &mut current {
                Some((b, slowest, lost)) if *b == bucket => {
                    *slowest = (*slowest).max(*rtt);
                    *lost |= rtt.is_none();
                }
                _ => {
                    if let Some(done) = current.take() {
                        flush(&mut series, done);
                    }
                    current = Some((bucket, *rtt, rtt.is_none()));
                }
            }
        }
        if let Some(done) = current {
            flush(&mut series, done);
        }
        series.set_percentiles(answered);
        series
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_samples_comes_back_in_bounded_buckets_with_losses_marked() {
        let mut history = LatencyHistory::default();
        let day_s = 24 * 3600;
        for s in 0..day_s {
            let rtt = if s % 1000 == 0 {
                None
            } else {
                Some(500 + s % 7)
            };
            history.record(s * 1000, rtt);
        }
        let now = (day_s - 1) * 1000;
        let series = history.series(now, HISTORY_MS, 2000);
        assert!(series.t.len() <= 2001, "{} points", series.t.len());
        assert_eq!(series.t.len(), series.rtt_ms.len());
        assert_eq!(series.lost_t.len(), 87, "each lost ping's bucket is marked");
        assert!(
            series
                .rtt_ms
                .iter()
                .flatten()
                .all(|ms| (0.5..=0.507).contains(ms))
        );
        let five_minutes = history.series(now, 300_000, 2000);
        assert_eq!(five_minutes.t.len(), 301, "short windows keep every sample");
        assert_eq!((series.pings, series.lost), (86_400, 87));
        assert_eq!(
            series.p50_ms,
            Some(0.503),
            "the median of every answered ping"
        );
    }

    #[test]
    fn samples_older_than_a_day_are_forgotten() {
        let mut history = LatencyHistory::default();
        history.record(0, Some(1));
        history.record(HISTORY_MS + 1, Some(2));
        assert_eq!(
            history.series(HISTORY_MS + 1, 2 * HISTORY_MS, 10).t.len(),
            1
        );
    }
}
