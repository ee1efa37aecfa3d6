//! Retry delays: exponential growth up to a cap, with jitter, as a pure iterator.
//!
//! The jitter source is injected, so tests see exact delays; the supervisor uses a seeded
//! generator so that many monitors restarted together do not retry in lockstep.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// How retry delays grow.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BackoffConfig {
    /// The first delay.
    pub initial_ms: u64,
    /// The longest delay.
    pub max_ms: u64,
    /// Growth per attempt.
    pub multiplier: f64,
    /// Each delay is scaled by a random factor in `1 ± jitter` (0 to 1).
    pub jitter: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial_ms: 250,
            max_ms: 30_000,
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

/// The delays before retries 1, 2, 3, …
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: rand_chacha::ChaCha8Rng,
}

impl Backoff {
    /// A fresh sequence; `seed` drives the jitter.
    pub fn new(config: BackoffConfig, seed: u64) -> Self {
        Self {
            config,
            attempt: 0,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Starts again from the first delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many delays have been handed out since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay without jitter for `attempt` (0-based).
    pub fn base_delay(config: &BackoffConfig, attempt: u32) -> Duration {
        let grown = config.initial_ms as f64 * config.multiplier.powi(attempt.min(64) as i32);
        Duration::from_millis(grown.min(config.max_ms as f64) as u64)
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let base = Self::base_delay(&self.config, self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = self.config.jitter.clamp(0.0, 1.0);
        let factor = if jitter > 0.0 {
            self.rng.random_range(1.0 - jitter..=1.0 + jitter)
        } else {
            1.0
        };
        let max = Duration::from_millis(self.config.max_ms);
        Some(base.mul_f64(factor).min(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_without_jitter() {
        let config = BackoffConfig {
            initial_ms: 100,
            max_ms: 1_000,
            multiplier: 2.0,
            jitter: 0.0,
        };
        let delays: Vec<u64> = Backoff::new(config, 1)
            .take(6)
            .map(|d| d.as_millis() as u64)
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn jitter_stays_within_its_band_and_never_exceeds_the_cap() {
        let config = BackoffConfig {
            initial_ms: 1_000,
            max_ms: 4_000,
            multiplier: 2.0,
            jitter: 0.25,
        };
        let mut backoff = Backoff::new(config, 7);
        for attempt in 0..50 {
            let delay = backoff.next().unwrap().as_millis() as f64;
            let base = Backoff::base_delay(&config, attempt).as_millis() as f64;
            assert!(
                delay >= base * 0.75 - 1.0 && delay <= (base * 1.25).min(4_000.0) + 1.0,
                "attempt {attempt}: {delay}"
            );
        }
    }

    #[test]
    fn reset_starts_over() {
        let config = BackoffConfig {
            jitter: 0.0,
            ..BackoffConfig::default()
        };
        let mut backoff = Backoff::new(config, 1);
        backoff.next();
        backoff.next();
        assert_eq!(backoff.attempt(), 2);
        backoff.reset();
        assert_eq!(backoff.next(), Some(Duration::from_millis(250)));
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let config = BackoffConfig {
            jitter: 0.0,
            ..BackoffConfig::default()
        };
        assert_eq!(
            Backoff::base_delay(&config, u32::MAX),
            Duration::from_millis(30_000)
        );
    }
}
