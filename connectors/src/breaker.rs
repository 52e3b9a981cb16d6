//! A circuit breaker per upstream: after `threshold` failed fetches in a row
//! the upstream is left alone for a cool-down that doubles with every failed
//! trial (up to `max_cooldown`); after the cool-down one trial fetch is let
//! through, and a success closes the circuit.
//!
//! Hand-written (forty lines) rather than a crate: the engine needs the state
//! itself (open until when, how many failures) for `rete sync status` and the
//! integrators' GraphQL status, which `failsafe`'s future wrappers do not
//! expose. The state is per process: a `rete sync run` is a short process that
//! already stops after its retries; the breaker protects an upstream from the
//! scheduler of a long-running `rete serve`.

use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Breaker {
    threshold: u32,
    base_cooldown: Duration,
    max_cooldown: Duration,
    failures: u32,
    open_until: Option<Instant>,
    cooldown: Duration,
}

/// What the breaker says about the next fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Closed,
    /// Open: no fetch until this long from now.
    Open(Duration),
}

impl Breaker {
    pub fn new(threshold: u32, base_cooldown: Duration, max_cooldown: Duration) -> Breaker {
        Breaker {
            threshold,
            base_cooldown,
            max_cooldown,
            failures: 0,
            open_until: None,
            cooldown: base_cooldown,
        }
    }

    pub fn gate(&self, now: Instant) -> Gate {
        match self.open_until {
            Some(until) if until > now => Gate::Open(until - now),
            _ => Gate::Closed,
        }
    }

    pub fn success(&mut self) {
        self.failures = 0;
        self.open_until = None;
        self.cooldown = self.base_cooldown;
    }

    pub fn failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        // A failed trial after a cool-down reopens at once, for longer.
        let trial_failed = self.open_until.is_some();
        if self.failures >= self.threshold || trial_failed {
            if trial_failed {
                self.cooldown = (self.cooldown * 2).min(self.max_cooldown);
            }
            self.open_until = Some(now + self.cooldown);
        }
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_lets_one_trial_through_after_the_cooldown() {
        let s = Duration::from_secs;
        let mut b = Breaker::new(3, s(10), s(60));
        let t0 = Instant::now();
        b.failure(t0);
        b.failure(t0);
        assert_eq!(b.gate(t0), Gate::Closed);
        b.failure(t0);
        assert_eq!(b.gate(t0), Gate::Open(s(10)));
        // After the cool-down, a trial goes through; it fails: open for twice as long.
        assert_eq!(b.gate(t0 + s(10)), Gate::Closed);
        b.failure(t0 + s(10));
        assert_eq!(b.gate(t0 + s(10)), Gate::Open(s(20)));
        b.failure(t0 + s(30));
        b.failure(t0 + s(70));
        b.failure(t0 + s(200));
        assert_eq!(b.gate(t0 + s(200)), Gate::Open(s(60)), "capped");
        b.success();
        assert_eq!(b.gate(t0 + s(200)), Gate::Closed);
        assert_eq!(b.failures(), 0);
    }
}
