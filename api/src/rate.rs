//! Rate limits: token buckets (the `governor` crate, GCRA) per agency, per
//! operator, and per peer address for failed authentications.
//!
//! This module owns the buckets and the decision "run or answer 429"; the HTTP
//! layer ([`crate::http`]) asks it after authentication and before anything
//! executes, so a refused request reads no data and writes no access-log entry.
//!
//! The buckets live in the process. With several hub processes behind a load
//! balancer each holds its own, so an agency gets at most N times its quota
//! (see the README, "Rate limits", for why that is enough).
//!
//! It must never log a token; it logs agency and operator ids only, at debug.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::auth::Caller;
use crate::config::RateLimits;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// Above this many remembered peer addresses, forgotten ones are dropped.
const MAX_PEERS: usize = 10_000;

/// Which bucket refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Operator,
    Agency,
    FailedAuthentication,
}

/// A refused request: which bucket, and when to try again.
#[derive(Clone, Debug)]
pub struct Refused {
    pub scope: Scope,
    /// Whole seconds, at least 1 (the `Retry-After` header).
    pub retry_after_secs: u64,
}

impl Refused {
    /// The message for the client.
    pub fn message(&self) -> String {
        let who = match self.scope {
            Scope::Operator => "this operator",
            Scope::Agency => "this agency",
            Scope::FailedAuthentication => "this address after failed authentications",
        };
        format!(
            "too many requests for {who}; retry after {} s",
            self.retry_after_secs
        )
    }
}

/// The buckets of one hub process.
pub struct Limiter {
    clock: DefaultClock,
    agency: Keyed<String>,
    operator: Keyed<(String, String)>,
    failed: Keyed<IpAddr>,
    /// Peers whose failed-authentication bucket is empty, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

/// A bucket of `burst` refilled at `per_minute`. A 0 (refused by
/// `Config::validate`, possible only when a test builds `Limits` by hand) is
/// taken as 1: the strictest limit, never none.
fn quota(per_minute: u32, burst: u32) -> Quota {
    let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(at_least_one(per_minute)).allow_burst(at_least_one(burst))
}

fn keyed<K: Hash + Eq + Clone>(q: Quota, clock: &DefaultClock) -> Keyed<K> {
    RateLimiter::new(q, DefaultKeyedStateStore::default(), clock.clone())
}

impl Limiter {
    /// The buckets for a configuration; `None` when limits are off.
    pub fn new(cfg: &RateLimits) -> Option<Limiter> {
        if !cfg.enabled {
            return None;
        }
        let clock = DefaultClock::default();
        Some(Limiter {
            agency: keyed(quota(cfg.agency_per_minute, cfg.agency_burst), &clock),
            operator: keyed(quota(cfg.operator_per_minute, cfg.operator_burst), &clock),
            failed: keyed(
                quota(cfg.failed_auth_per_minute, cfg.failed_auth_burst),
                &clock,
            ),
            blocked: Mutex::new(HashMap::new()),
            clock,
        })
    }

    fn take<K: Hash + Eq + Clone>(
        &self,
        limiter: &Keyed<K>,
        key: &K,
        cost: NonZeroU32,
        scope: Scope,
    ) -> Result<(), Refused> {
        match limiter.check_key_n(key, cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Refused {
                scope,
                retry_after_secs: whole_seconds(not_until.wait_time_from(self.clock.now())),
            }),
            // More operations at once than the bucket can ever hold.
            Err(_) => Err(Refused {
                scope,
                retry_after_secs: 60,
            }),
        }
    }

    /// Charge `operations` requests to the caller's operator, then to its
    /// agency. The operator's bucket is asked first, so one operator who
    /// spends theirs does not drain their colleagues' agency bucket.
    pub fn admit(&self, caller: &Caller, operations: usize) -> Result<(), Refused> {
        let r = &caller.requester;
        self.admit_as(&r.agency, &r.operator, operations)
    }

    /// [`Limiter::admit`] for a sender that has no token: a community's
    /// webhooks (operator `webhook:NAME`), once their signature is checked.
    pub fn admit_as(&self, agency: &str, operator: &str, operations: usize) -> Result<(), Refused> {
        let cost = NonZeroU32::new(u32::try_from(operations.max(1)).unwrap_or(u32::MAX))
            .unwrap_or(NonZeroU32::MIN);
        let refused = self
            .take(
                &self.operator,
                &(agency.to_string(), operator.to_string()),
                cost,
                Scope::Operator,
            )
            .and_then(|()| self.take(&self.agency, &agency.to_string(), cost, Scope::Agency));
        if let Err(e) = &refused {
            tracing::debug!(%agency, %operator, scope = ?e.scope, "rate limited");
        }
        refused
    }

    /// Whether a peer must wait (its failed-authentication bucket is empty);
    /// asked before its token is checked.
    pub fn blocked(&self, peer: Option<IpAddr>) -> Result<(), Refused> {
        let Some(ip) = peer else { return Ok(()) };
        let Ok(mut blocked) = self.blocked.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        match blocked.get(&ip) {
            Some(until) if *until > now => Err(Refused {
                scope: Scope::FailedAuthentication,
                retry_after_secs: whole_seconds(*until - now),
            }),
            Some(_) => {
                blocked.remove(&ip);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Count a failed authentication of a peer; when its bucket is empty the
    /// peer is blocked until it refills by one.
    pub fn failed_authentication(&self, peer: Option<IpAddr>) {
        let Some(ip) = peer else { return };
        if self.failed.len() > MAX_PEERS {
            self.failed.retain_recent();
        }
        if let Err(refused) = self.take(
            &self.failed,
            &ip,
            NonZeroU32::MIN,
            Scope::FailedAuthentication,
        ) && let Ok(mut blocked) = self.blocked.lock()
        {
            let now = Instant::now();
            if blocked.len() > MAX_PEERS {
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(ip, now + Duration::from_secs(refused.retry_after_secs));
            tracing::debug!(peer = %ip, "failed authentications: peer blocked");
        }
    }
}

/// A wait as whole seconds for `Retry-After`, rounded up, at least 1.
fn whole_seconds(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1000)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn turned_off_there_is_no_limiter() {
        let cfg = RateLimits {
            enabled: false,
            ..RateLimits::default()
        };
        assert!(Limiter::new(&cfg).is_none());
        assert!(Limiter::new(&RateLimits::default()).is_some());
    }

    #[test]
    fn a_peer_is_blocked_once_its_failures_exceed_the_burst() {
        let cfg = RateLimits {
            failed_auth_per_minute: 1,
            failed_auth_burst: 2,
            ..RateLimits::default()
        };
        let limiter = Limiter::new(&cfg).expect("on");
        let peer = Some(IpAddr::from([192, 0, 2, 7]));
        let other = Some(IpAddr::from([192, 0, 2, 8]));
        limiter.failed_authentication(peer);
        limiter.failed_authentication(peer);
        assert!(limiter.blocked(peer).is_ok());
        limiter.failed_authentication(peer);
        let refused = limiter.blocked(peer).expect_err("blocked");
        assert_eq!(refused.scope, Scope::FailedAuthentication);
        assert!(refused.retry_after_secs >= 1);
        assert!(limiter.blocked(other).is_ok());
        assert!(limiter.blocked(None).is_ok());
    }
}
