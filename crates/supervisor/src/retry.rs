//! When to try again after a failure: exponential backoff with jitter, and a circuit breaker
//! that opens after too many failures in a row. One piece of code owns both, so the delay
//! and the breaker can never disagree; `now` is a parameter, so it is tested without sleeping.
//!
//! The supervisor keeps two: one for connect attempts (short delays, then a breaker whose
//! "open" means cheap probes instead of full start-ups, with full trials spaced out more
//! after each failed one), and one for respawning a worker that keeps dying (the first respawn
//! at once, then longer and longer waits, so a worker that crashes at start-up is spawned a
//! handful of times a minute, not in a loop).

use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// How delays grow and when the circuit opens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryConfig {
    /// The delay after the first failure (after the second, with `immediate_first`).
    pub initial_ms: u64,
    /// The longest delay while the circuit is closed.
    pub max_ms: u64,
    /// Growth per failure.
    pub multiplier: f64,
    /// Each delay is scaled by a random factor in `1 ± jitter` (0 to 1).
    pub jitter: f64,
    /// The first failure after a success is retried at once.
    pub immediate_first: bool,
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// While open: the wait before the first trial; it doubles after each failed trial.
    pub open_initial_ms: u64,
    /// While open: the longest wait between trials.
    pub open_max_ms: u64,
}

impl RetryConfig {
    /// Connect attempts: 250 ms doubling to 2 s; after five failures in a row, full attempts
    /// only as trials spaced 2 s, 4 s, … up to 30 s apart (the supervisor probes cheaply every
    /// 2 s meanwhile, and a trial also waits for a probe to be answered).
    pub fn connects() -> Self {
        Self {
            initial_ms: 250,
            max_ms: 2_000,
            multiplier: 2.0,
            jitter: 0.2,
            immediate_first: false,
            failure_threshold: 5,
            open_initial_ms: 2_000,
            open_max_ms: 30_000,
        }
    }

    /// Worker respawns: the first at once, then 1 s doubling to 30 s; after five quick deaths
    /// in a row, one respawn a minute.
    pub fn worker_respawns() -> Self {
        Self {
            initial_ms: 1_000,
            max_ms: 30_000,
            multiplier: 2.0,
            jitter: 0.2,
            immediate_first: true,
            failure_threshold: 5,
            open_initial_ms: 60_000,
            open_max_ms: 60_000,
        }
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self::connects()
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again at this instant.
    RetryAt(Instant),
    /// The circuit is open: no ordinary retries; the next trial may start at this instant.
    Open {
        /// The earliest trial.
        trial_at: Instant,
    },
}

/// Failures in a row, the delays they earn, and whether the circuit is open.
#[derive(Debug, Clone)]
pub struct Retry {
    config: RetryConfig,
    failures: u32,
    /// While open: the current wait between trials.
    trial_gap: Option<Duration>,
    rng: rand_chacha::ChaCha8Rng,
}

impl Retry {
    /// No failures yet; `seed` drives the jitter, so many monitors restarted together do not
    /// retry in lockstep, and a test sees the same delays every run.
    pub fn new(config: RetryConfig, seed: u64) -> Self {
        Self {
            config,
            failures: 0,
            trial_gap: None,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether the circuit is open.
    pub fn is_open(&self) -> bool {
        self.trial_gap.is_some()
    }

    /// A success: the count restarts and the circuit closes.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.trial_gap = None;
    }

    /// Records a failure at `now` and says when to try again.
    pub fn failed(&mut self, now: Instant) -> Verdict {
        self.failures = self.failures.saturating_add(1);
        let c = &self.config;
        if self.failures >= c.failure_threshold {
            let gap = match self.trial_gap {
                None => Duration::from_millis(c.open_initial_ms),
                Some(gap) => (gap * 2).min(Duration::from_millis(c.open_max_ms)),
            };
            self.trial_gap = Some(gap);
            return Verdict::Open {
                trial_at: now + gap,
            };
        }
        let step = if c.immediate_first {
            match self.failures {
                1 => return Verdict::RetryAt(now),
                n => n - 2,
            }
        } else {
            self.failures - 1
        };
        Verdict::RetryAt(now + self.jittered(base_delay(c, step)))
    }

    fn jittered(&mut self, base: Duration) -> Duration {
        let jitter = self.config.jitter.clamp(0.0, 1.0);
        let factor = if jitter > 0.0 {
            self.rng.random_range(1.0 - jitter..=1.0 + jitter)
        } else {
            1.0
        };
        base.mul_f64(factor)
            .min(Duration::from_millis(self.config.max_ms))
    }
}

/// The delay without jitter after failure `step + 1` (0-based), capped.
fn base_delay(config: &RetryConfig, step: u32) -> Duration {
    let grown = config.initial_ms as f64 * config.multiplier.powi(step.min(64) as i32);
    Duration::from_millis(grown.min(config.max_ms as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(config: RetryConfig) -> Retry {
        Retry::new(
            RetryConfig {
                jitter: 0.0,
                ..config
            },
            1,
        )
    }

    fn delays(retry: &mut Retry, t0: Instant, n: usize) -> Vec<Result<u64, u64>> {
        (0..n)
            .map(|_| match retry.failed(t0) {
                Verdict::RetryAt(at) => Ok((at - t0).as_millis() as u64),
                Verdict::Open { trial_at } => Err((trial_at - t0).as_millis() as u64),
            })
            .collect()
    }

    #[test]
    fn connect_retries_grow_to_two_seconds_then_open_with_trials_spaced_out() {
        let t0 = Instant::now();
        let mut retry = exact(RetryConfig::connects());
        assert_eq!(
            delays(&mut retry, t0, 9),
            [
                Ok(250),
                Ok(500),
                Ok(1_000),
                Ok(2_000),
                Err(2_000),
                Err(4_000),
                Err(8_000),
                Err(16_000),
                Err(30_000)
            ]
        );
        assert!(retry.is_open());
        assert_eq!(delays(&mut retry, t0, 2), [Err(30_000), Err(30_000)]);
        retry.succeeded();
        assert!(!retry.is_open());
        assert_eq!(retry.failures(), 0);
        assert_eq!(
            delays(&mut retry, t0, 1),
            [Ok(250)],
            "a success starts over"
        );
    }

    #[test]
    fn a_worker_that_keeps_dying_is_respawned_at_once_then_less_and_less_often() {
        let t0 = Instant::now();
        let mut retry = exact(RetryConfig::worker_respawns());
        assert_eq!(
            delays(&mut retry, t0, 7),
            [
                Ok(0),
                Ok(1_000),
                Ok(2_000),
                Ok(4_000),
                Err(60_000),
                Err(60_000),
                Err(60_000)
            ]
        );
    }

    #[test]
    fn jitter_stays_within_its_band_and_never_exceeds_the_cap() {
        let t0 = Instant::now();
        let config = RetryConfig {
            jitter: 0.25,
            failure_threshold: 1_000,
            ..RetryConfig::connects()
        };
        let mut retry = Retry::new(config, 7);
        for step in 0..50 {
            let Verdict::RetryAt(at) = retry.failed(t0) else {
                panic!("closed circuit")
            };
            let delay = (at - t0).as_millis() as f64;
            let base = base_delay(&config, step).as_millis() as f64;
            assert!(
                delay >= base * 0.75 - 1.0 && delay <= (base * 1.25).min(2_000.0) + 1.0,
                "failure {step}: {delay}"
            );
        }
    }

    #[test]
    fn huge_failure_counts_do_not_overflow() {
        assert_eq!(
            base_delay(&RetryConfig::connects(), u32::MAX),
            Duration::from_millis(2_000)
        );
    }
}
