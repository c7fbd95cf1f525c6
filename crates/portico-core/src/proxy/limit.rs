//! Request rate limits per client address: a token bucket (GCRA, `governor`) per address,
//! refilled at the limit's rate and holding up to one second's worth (so a page load's burst
//! of requests passes). A refused request learns how long to wait (`Retry-After`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Forget idle clients' buckets once per this many checks, so the state stays small.
const TIDY_EVERY: u64 = 4096;

/// A per-client limit of `per_sec` requests a second.
#[derive(Debug)]
pub struct RateLimit {
    per_sec: u64,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    checks: AtomicU64,
}

impl RateLimit {
    /// A limit of `per_sec` requests a second per client (1 to `u32::MAX`; more is clamped).
    pub fn new(per_sec: u64) -> RateLimit {
        let rate =
            NonZeroU32::new(u32::try_from(per_sec).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
        RateLimit {
            per_sec,
            limiter: RateLimiter::keyed(Quota::per_second(rate)),
            checks: AtomicU64::new(0),
        }
    }

    /// The limit, in requests a second.
    pub fn per_sec(&self) -> u64 {
        self.per_sec
    }

    /// `Ok` when `client` may send a request now, else how long until it may.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % TIDY_EVERY == TIDY_EVERY - 1 {
            self.limiter.retain_recent();
        }
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// `Retry-After` for a wait: whole seconds, at least 1.
pub(super) fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_gets_its_own_bucket_of_one_seconds_worth() {
        let limit = RateLimit::new(3);
        let a: IpAddr = "127.0.0.2".parse().expect("ip");
        let b: IpAddr = "::ffff:127.0.0.3".parse().expect("ip");
        for _ in 0..3 {
            assert_eq!(limit.check(a), Ok(()));
        }
        let wait = limit.check(a).expect_err("the fourth within a second");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(334),
            "{wait:?}"
        );
        assert_eq!(limit.check(b), Ok(()), "another client is not limited");
        assert_eq!(
            limit.check("127.0.0.3".parse().expect("ip")),
            Ok(()),
            "mapped = v4, 2 of 3"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(200)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
    }
}
