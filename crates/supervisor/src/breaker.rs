//! The circuit breaker: after N consecutive failed connects it opens, stops retrying for a
//! cool-down, then lets one attempt through. `now` is a parameter, so it is tested without
//! sleeping.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long it stays open before one trial attempt.
    pub cool_down_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down_ms: 60_000,
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    /// Attempts go through.
    Closed,
    /// No attempts until the instant.
    Open {
        /// When one trial attempt may go through.
        until: Instant,
    },
    /// One trial attempt is allowed; its result closes or re-opens the circuit.
    HalfOpen,
}

/// Counts consecutive failures.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    failures: u32,
    open_until: Option<Instant>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            failures: 0,
            open_until: None,
        }
    }

    /// The state at `now`.
    pub fn state(&self, now: Instant) -> Circuit {
        match self.open_until {
            Some(until) if now < until => Circuit::Open { until },
            Some(_) => Circuit::HalfOpen,
            None => Circuit::Closed,
        }
    }

    /// Whether an attempt may start at `now`.
    pub fn allows(&self, now: Instant) -> bool {
        !matches!(self.state(now), Circuit::Open { .. })
    }

    /// Records a failed attempt; returns the instant the circuit reopens to, if it opened.
    pub fn record_failure(&mut self, now: Instant) -> Option<Instant> {
        self.failures = self.failures.saturating_add(1);
        let trial_failed = self.open_until.is_some();
        if trial_failed || self.failures >= self.config.failure_threshold {
            let until = now + Duration::from_millis(self.config.cool_down_ms);
            self.open_until = Some(until);
            return Some(until);
        }
        None
    }

    /// Records a success: the circuit closes and the count restarts.
    pub fn record_success(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            cool_down_ms: 1_000,
        })
    }

    #[test]
    fn opens_after_the_threshold_and_half_opens_after_the_cool_down() {
        let mut b = breaker();
        let t0 = Instant::now();
        assert_eq!(b.record_failure(t0), None);
        assert_eq!(b.record_failure(t0), None);
        assert!(b.allows(t0));
        let until = b.record_failure(t0).expect("third failure opens");
        assert_eq!(until, t0 + Duration::from_secs(1));
        assert!(!b.allows(t0 + Duration::from_millis(999)));
        assert_eq!(b.state(t0 + Duration::from_secs(1)), Circuit::HalfOpen);
        assert!(
            b.allows(t0 + Duration::from_secs(1)),
            "one trial after the cool-down"
        );
    }

    #[test]
    fn a_failed_trial_reopens_and_a_success_closes() {
        let mut b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            b.record_failure(t0);
        }
        let trial = t0 + Duration::from_secs(1);
        assert!(
            b.record_failure(trial).is_some(),
            "a failed trial opens at once"
        );
        assert!(!b.allows(trial + Duration::from_millis(500)));
        b.record_success();
        assert_eq!(b.state(trial), Circuit::Closed);
        assert_eq!(b.failures(), 0);
    }
}
