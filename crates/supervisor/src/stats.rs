//! Rolling latency statistics over the last minute, quarter hour and hour.
//!
//! Samples are kept for the longest window (3 600 at one ping a second) and summarized on
//! demand; `now` is a parameter so the windows are tested without waiting.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The windows the statistics cover.
pub const WINDOWS: [(Window, Duration); 3] = [
    (Window::OneMinute, Duration::from_secs(60)),
    (Window::FifteenMinutes, Duration::from_secs(15 * 60)),
    (Window::OneHour, Duration::from_secs(60 * 60)),
];

/// A statistics window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// The last 60 s.
    OneMinute,
    /// The last 15 min.
    FifteenMinutes,
    /// The last hour.
    OneHour,
}

/// One window's figures; the percentiles cover answered pings only.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, TS)]
pub struct WindowStats {
    /// Pings sent in the window.
    pub sent: u32,
    /// Pings that got no answer.
    pub lost: u32,
    /// Median round trip, µs.
    pub p50_us: Option<u64>,
    /// 95th percentile, µs.
    pub p95_us: Option<u64>,
    /// 99th percentile, µs.
    pub p99_us: Option<u64>,
    /// Slowest answered ping, µs.
    pub max_us: Option<u64>,
}

impl WindowStats {
    /// Lost pings as a fraction of those sent (0 when none were sent).
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.lost as f64 / self.sent as f64
        }
    }
}

/// Ping samples: a round trip in µs, or `None` for a ping that got no answer.
#[derive(Debug, Clone, Default)]
pub struct LatencyStats {
    samples: VecDeque<(Instant, Option<u64>)>,
}

impl LatencyStats {
    /// Records a sample taken at `at`, dropping what has left the longest window.
    pub fn record(&mut self, at: Instant, rtt_us: Option<u64>) {
        self.samples.push_back((at, rtt_us));
        let keep = WINDOWS[WINDOWS.len() - 1].1;
        while let Some((first, _)) = self.samples.front() {
            if at.saturating_duration_since(*first) > keep {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    /// The figures for the samples within `span` of `now`.
    pub fn window(&self, now: Instant, span: Duration) -> WindowStats {
        let mut answered: Vec<u64> = Vec::new();
        let mut stats = WindowStats::default();
        for (at, rtt) in self.samples.iter().rev() {
            if now.saturating_duration_since(*at) > span {
                break;
            }
            stats.sent += 1;
            match rtt {
                Some(rtt) => answered.push(*rtt),
                None => stats.lost += 1,
            }
        }
        answered.sort_unstable();
        stats.p50_us = percentile(&answered, 0.50);
        stats.p95_us = percentile(&answered, 0.95);
        stats.p99_us = percentile(&answered, 0.99);
        stats.max_us = answered.last().copied();
        stats
    }

    /// All three windows.
    pub fn summary(&self, now: Instant) -> Vec<(Window, WindowStats)> {
        WINDOWS
            .iter()
            .map(|(window, span)| (*window, self.window(now, *span)))
            .collect()
    }

    /// The newest sample.
    pub fn last(&self) -> Option<Option<u64>> {
        self.samples.back().map(|(_, rtt)| *rtt)
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.50), Some(50));
        assert_eq!(percentile(&values, 0.95), Some(95));
        assert_eq!(percentile(&values, 0.99), Some(99));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn windows_see_only_their_own_samples_and_count_losses() {
        let t0 = Instant::now();
        let mut stats = LatencyStats::default();
        for second in 0..3600u64 {
            let rtt = if second % 50 == 0 {
                None
            } else {
                Some(1_000 + second)
            };
            stats.record(t0 + Duration::from_secs(second), rtt);
        }
        let now = t0 + Duration::from_secs(3599);
        let minute = stats.window(now, Duration::from_secs(60));
        assert_eq!(minute.sent, 61, "samples at 3539..=3599");
        assert_eq!(
            minute.lost, 1,
            "only the loss at 3550 is in the last minute"
        );
        assert_eq!(minute.max_us, Some(1_000 + 3599));
        let hour = stats.window(now, Duration::from_secs(3600));
        assert_eq!(hour.sent, 3600);
        assert_eq!(hour.lost, 72);
        assert!((hour.loss() - 0.02).abs() < 1e-9);
    }

    #[test]
    fn samples_older_than_an_hour_are_dropped() {
        let t0 = Instant::now();
        let mut stats = LatencyStats::default();
        stats.record(t0, Some(5));
        stats.record(t0 + Duration::from_secs(3601), Some(6));
        assert_eq!(
            stats
                .window(t0 + Duration::from_secs(3601), Duration::from_secs(7200))
                .sent,
            1
        );
        assert_eq!(stats.last(), Some(Some(6)));
    }
}
