//! Sleep and resume, told from the clocks: the monotonic clock stands still while the
//! computer sleeps and the wall clock does not, so a wall-clock step well beyond the
//! monotonic one between two looks means the computer was asleep (or its clock was set
//! forward, which needs the same re-check). Used where no OS signal is at hand; the app
//! looks every couple of seconds.

use std::time::Instant;

/// A wall-clock gap beyond the monotonic one this large counts as sleep, ms (NTP slews the
/// clock by far less).
pub const SLEEP_THRESHOLD_MS: u64 = 10_000;

/// A spell of sleep, epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asleep {
    /// When it fell asleep (at the latest).
    pub from_ms: u64,
    /// When it woke up.
    pub to_ms: u64,
}

/// Compares the two clocks from look to look.
#[derive(Debug, Clone, Default)]
pub struct SleepWatch {
    last: Option<(Instant, u64)>,
}

impl SleepWatch {
    /// Takes a look at both clocks; returns the sleep since the last look, if there was one.
    pub fn observe(&mut self, mono: Instant, wall_ms: u64) -> Option<Asleep> {
        let last = self.last.replace((mono, wall_ms));
        let (last_mono, last_wall) = last?;
        let awake_ms = mono.saturating_duration_since(last_mono).as_millis() as u64;
        let wall_step = wall_ms.checked_sub(last_wall)?;
        (wall_step > awake_ms + SLEEP_THRESHOLD_MS).then(|| Asleep {
            from_ms: last_wall + awake_ms,
            to_ms: wall_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_wall_clock_jump_beyond_the_monotonic_one_is_sleep() {
        let mut watch = SleepWatch::default();
        let t0 = Instant::now();
        assert_eq!(watch.observe(t0, 1_000_000), None, "the first look");
        assert_eq!(
            watch.observe(t0 + Duration::from_secs(2), 1_002_000),
            None,
            "both moved alike"
        );
        assert_eq!(
            watch.observe(t0 + Duration::from_secs(4), 1_004_000 + 8 * 3_600_000),
            Some(Asleep {
                from_ms: 1_004_000,
                to_ms: 1_004_000 + 8 * 3_600_000
            })
        );
        assert_eq!(
            watch.observe(t0 + Duration::from_secs(6), 1_006_000 + 8 * 3_600_000),
            None
        );
        assert_eq!(
            watch.observe(t0 + Duration::from_secs(8), 1_000),
            None,
            "a clock set back is not sleep"
        );
        assert_eq!(
            watch.observe(t0 + Duration::from_secs(10), 1_000 + 2_000 + 5_000),
            None,
            "a few seconds of drift are not sleep"
        );
    }
}
