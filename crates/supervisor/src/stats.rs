//! Rolling latency statistics over the last minute, quarter hour and hour.
//!
//! Samples are kept for the longest window (3 600 at one ping a second) and summarized on
//! demand; `now` is a parameter so the windows are tested without waiting. A ping that timed
//! out counts as lost; when its reply comes after all, that late reply's true round trip joins
//! the percentiles (a 1.5 s gateway reads 1.5 s, never the next ping's figure), while the ping
//! stays lost.

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

/// One window's figures; the percentiles cover every round trip measured, late replies included.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, TS)]
pub struct WindowStats {
    /// Pings sent in the window.
    pub sent: u32,
    /// Pings that got no answer within their timeout.
    pub lost: u32,
    /// Replies that came after their ping timed out (their pings are among the lost).
    pub late: u32,
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

/// What one sample says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// A ping answered within its timeout, with its round trip in µs.
    Answered(u64),
    /// A ping that got no answer within its timeout.
    Lost,
    /// The reply to a lost ping, come after all, with its true round trip in µs.
    Late(u64),
}

impl Sample {
    /// A ping's result: its round trip, or `None` when it was lost.
    pub fn ping(rtt_us: Option<u64>) -> Sample {
        rtt_us.map_or(Sample::Lost, Sample::Answered)
    }
}

/// How many of the newest answers the quick slow check takes the median of.
pub const RECENT_ANSWERS: usize = 10;

/// Ping samples over the last hour.
#[derive(Debug, Clone, Default)]
pub struct LatencyStats {
    samples: VecDeque<(Instant, Sample)>,
}

impl LatencyStats {
    /// Records a sample taken at `at`, dropping what has left the longest window.
    pub fn record(&mut self, at: Instant, sample: Sample) {
        self.samples.push_back((at, sample));
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
        for (at, sample) in self.samples.iter().rev() {
            if now.saturating_duration_since(*at) > span {
                break;
            }
            match sample {
                Sample::Answered(rtt) => {
                    stats.sent += 1;
                    answered.push(*rtt);
                }
                Sample::Lost => {
                    stats.sent += 1;
                    stats.lost += 1;
                }
                Sample::Late(rtt) => {
                    stats.late += 1;
                    answered.push(*rtt);
                }
            }
        }
        answered.sort_unstable();
        stats.p50_us = percentile(&answered, 0.50);
        stats.p95_us = percentile(&answered, 0.95);
        stats.p99_us = percentile(&answered, 0.99);
        stats.max_us = answered.last().copied();
        stats
    }

    /// The median round trip of the newest `n` answers of the last minute (late ones
    /// included), µs; `None` with fewer than `n` of them.
    pub fn recent_median(&self, now: Instant, n: usize) -> Option<u64> {
        let mut newest: Vec<u64> = self
            .samples
            .iter()
            .rev()
            .take_while(|(at, _)| now.saturating_duration_since(*at) <= WINDOWS[0].1)
            .filter_map(|(_, sample)| match sample {
                Sample::Answered(rtt) | Sample::Late(rtt) => Some(*rtt),
                Sample::Lost => None,
            })
            .take(n)
            .collect();
        if newest.len() < n {
            return None;
        }
        newest.sort_unstable();
        percentile(&newest, 0.50)
    }

    /// All three windows.
    pub fn summary(&self, now: Instant) -> Vec<(Window, WindowStats)> {
        WINDOWS
            .iter()
            .map(|(window, span)| (*window, self.window(now, *span)))
            .collect()
    }

    /// The newest ping's result (late replies aside): a round trip, or `None` when lost.
    pub fn last_ping(&self) -> Option<Option<u64>> {
        self.samples
            .iter()
            .rev()
            .find_map(|(_, sample)| match sample {
                Sample::Answered(rtt) => Some(Some(*rtt)),
                Sample::Lost => Some(None),
                Sample::Late(_) => None,
            })
    }
}

/// Nearest-rank percentile of sorted values (the history's per-minute rows use it too).
pub fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
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
            let sample = if second % 50 == 0 {
                Sample::Lost
            } else {
                Sample::Answered(1_000 + second)
            };
            stats.record(t0 + Duration::from_secs(second), sample);
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
        stats.record(t0, Sample::Answered(5));
        stats.record(t0 + Duration::from_secs(3601), Sample::Answered(6));
        assert_eq!(
            stats
                .window(t0 + Duration::from_secs(3601), Duration::from_secs(7200))
                .sent,
            1
        );
        assert_eq!(stats.last_ping(), Some(Some(6)));
    }

    #[test]
    fn late_replies_give_lost_pings_their_true_round_trip() {
        // A gateway at 1.5 s with an 800 ms timeout: every ping is lost, half of them are
        // answered late (a ping is not sent while an earlier one is still owed).
        let t0 = Instant::now();
        let mut stats = LatencyStats::default();
        for second in 0..60u64 {
            let at = t0 + Duration::from_secs(second);
            stats.record(at, Sample::Lost);
            if second % 2 == 0 {
                stats.record(at + Duration::from_millis(700), Sample::Late(1_500_000));
            }
        }
        let minute = stats.window(t0 + Duration::from_secs(60), Duration::from_secs(60));
        assert_eq!((minute.sent, minute.lost, minute.late), (60, 60, 30));
        assert_eq!(minute.p50_us, Some(1_500_000), "the true round trip");
        assert!((minute.loss() - 1.0).abs() < 1e-9);
        assert_eq!(stats.last_ping(), Some(None), "the last ping was lost");
    }
}
