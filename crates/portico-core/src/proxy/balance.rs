//! A route's upstreams as the proxy uses them: which one takes a request (the route's
//! [`Policy`]), how many requests each has in flight, and whether each is down — passively,
//! after failed requests, for a cool-down, or actively, by the health monitor's probes.
//!
//! The state lives in a [`Pool`] per route that survives route-table rebuilds while the
//! route's upstream list stays the same, so editing another route resets nothing.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicUsize, Ordering};

use crate::config::{Balancing, Policy, RouteId, Upstream};

/// The cookie that pins a browser to one upstream (policy `cookie`), per route.
pub fn sticky_cookie_name(route: RouteId) -> String {
    format!("portico-upstream-{route}")
}

/// One upstream of a route, with its live state.
#[derive(Debug)]
pub struct Member {
    /// The upstream.
    pub upstream: Upstream,
    /// Its stable short name (a hash of its URL), the sticky cookie's value.
    pub key: String,
    in_flight: AtomicU32,
    fails: AtomicU32,
    /// Unix ms until which failed requests keep it down; 0 when they do not.
    down_until: AtomicI64,
    /// The health monitor's last probe failed.
    probe_down: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl Member {
    fn new(upstream: Upstream) -> Member {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        upstream.to_string().hash(&mut hasher);
        Member {
            key: format!("{:08x}", hasher.finish() as u32),
            upstream,
            in_flight: AtomicU32::new(0),
            fails: AtomicU32::new(0),
            down_until: AtomicI64::new(0),
            probe_down: AtomicBool::new(false),
            last_error: Mutex::new(None),
        }
    }

    /// Requests in flight to it now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Failed requests in a row.
    pub fn failures(&self) -> u32 {
        self.fails.load(Ordering::Relaxed)
    }

    /// Until when (Unix ms) failed requests keep it down, if they do now.
    pub fn down_until(&self, now_ms: i64) -> Option<i64> {
        let until = self.down_until.load(Ordering::Relaxed);
        (until > now_ms).then_some(until)
    }

    /// Whether the last probe failed.
    pub fn probe_down(&self) -> bool {
        self.probe_down.load(Ordering::Relaxed)
    }

    /// Whether it may take requests now.
    pub fn usable(&self, now_ms: i64) -> bool {
        !self.probe_down() && self.down_until(now_ms).is_none()
    }

    /// The last error a request or probe met.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_error(&self, error: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error;
    }

    /// A probe's verdict. A passing active check also clears failed requests: the upstream
    /// says it is healthy.
    pub fn probed(&self, result: Result<(), String>, active_check: bool) {
        match result {
            Ok(()) => {
                self.probe_down.store(false, Ordering::Relaxed);
                if active_check {
                    self.fails.store(0, Ordering::Relaxed);
                    self.down_until.store(0, Ordering::Relaxed);
                }
            }
            Err(error) => {
                self.probe_down.store(true, Ordering::Relaxed);
                self.set_error(Some(error));
            }
        }
    }
}

/// A request in flight to a member; dropping it ends the count.
#[derive(Debug)]
pub struct InFlight(std::sync::Arc<Pool>, usize);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(member) = self.0.members.get(self.1) {
            member.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A route's upstreams and their state.
#[derive(Debug)]
pub struct Pool {
    members: Vec<Member>,
    next: AtomicUsize,
}

impl Pool {
    /// A fresh pool for `upstreams`.
    pub fn new(upstreams: &[Upstream]) -> Pool {
        Pool {
            members: upstreams.iter().cloned().map(Member::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Whether `other` has the same upstreams in the same order.
    pub fn serves_same(&self, other: &Pool) -> bool {
        self.members.len() == other.members.len()
            && self
                .members
                .iter()
                .zip(&other.members)
                .all(|(a, b)| a.upstream == b.upstream)
    }

    /// Every member, in the route's order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The member that takes the next request from `client` (with the route's sticky
    /// `cookie`, if it sent one), skipping those in `tried` and those down; `None` when none
    /// is left.
    pub fn pick(
        &self,
        policy: Policy,
        client: IpAddr,
        cookie: Option<&str>,
        tried: &[usize],
        now_ms: i64,
    ) -> Option<usize> {
        let n = self.members.len();
        let open = |i: &usize| !tried.contains(i) && self.members[*i].usable(now_ms);
        let in_turn = || {
            let start = self.next.fetch_add(1, Ordering::Relaxed);
            (0..n).map(move |k| (start + k) % n)
        };
        match policy {
            Policy::RoundRobin => in_turn().find(open),
            Policy::First => (0..n).find(open),
            Policy::LeastConn => in_turn()
                .filter(open)
                .min_by_key(|i| self.members[*i].in_flight()),
            Policy::RandomTwo => {
                let open: Vec<usize> = (0..n).filter(open).collect();
                match open.len() {
                    0 => None,
                    1 => Some(open[0]),
                    len => {
                        let a = random_below(len);
                        let b = (a + 1 + random_below(len - 1)) % len;
                        let (a, b) = (open[a], open[b]);
                        Some(
                            if self.members[b].in_flight() < self.members[a].in_flight() {
                                b
                            } else {
                                a
                            },
                        )
                    }
                }
            }
            // Rendezvous hashing: each address prefers the upstream scoring highest with it,
            // so one upstream going down moves only its own clients.
            Policy::IpHash => (0..n).filter(open).max_by_key(|i| {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                (client, &self.members[*i].key).hash(&mut hasher);
                hasher.finish()
            }),
            Policy::Cookie => cookie
                .and_then(|key| self.members.iter().position(|m| m.key == key))
                .filter(open)
                .or_else(|| in_turn().find(open)),
        }
    }

    /// Count a request in flight to member `i` until the returned guard drops.
    pub fn start(self: &std::sync::Arc<Self>, i: usize) -> InFlight {
        if let Some(member) = self.members.get(i) {
            member.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        InFlight(self.clone(), i)
    }

    /// Member `i` answered.
    pub fn succeeded(&self, i: usize) {
        if let Some(member) = self.members.get(i)
            && member.fails.load(Ordering::Relaxed) != 0
        {
            member.fails.store(0, Ordering::Relaxed);
            member.down_until.store(0, Ordering::Relaxed);
        }
    }

    /// Member `i` failed a request with `error`: after `max_fails` in a row it is down for
    /// the cool-down.
    pub fn failed(&self, i: usize, balancing: &Balancing, error: String, now_ms: i64) {
        let Some(member) = self.members.get(i) else {
            return;
        };
        member.set_error(Some(error));
        let fails = member.fails.fetch_add(1, Ordering::Relaxed) + 1;
        if fails >= balancing.max_fails {
            let cooldown = i64::try_from(balancing.fail_cooldown_ms).unwrap_or(i64::MAX);
            member
                .down_until
                .store(now_ms.saturating_add(cooldown), Ordering::Relaxed);
        }
    }
}

/// A random number in `0..n` (`n` > 0): two distinct picks per request need no better.
fn random_below(n: usize) -> usize {
    let random = getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_nanos()))
    });
    (random % n as u64) as usize
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn pool(n: u16) -> Arc<Pool> {
        let upstreams: Vec<Upstream> = (0..n)
            .map(|i| Upstream::parse(&(3000 + i).to_string()).expect("upstream"))
            .collect();
        Arc::new(Pool::new(&upstreams))
    }

    /// Who asks, as the proxy passes it to [`Pool::pick`].
    #[derive(Debug, Clone, Copy)]
    struct Asker<'a> {
        client: IpAddr,
        cookie: Option<&'a str>,
    }

    fn pick(pool: &Pool, policy: Policy, a: Asker<'_>, tried: &[usize], now: i64) -> Option<usize> {
        pool.pick(policy, a.client, a.cookie, tried, now)
    }

    const ASKER: Asker<'static> = Asker {
        client: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        cookie: None,
    };

    fn counts(pool: &Pool, policy: Policy, asks: usize, asker: Asker<'_>) -> Vec<usize> {
        let mut counts = vec![0; pool.members().len()];
        for _ in 0..asks {
            counts[pick(pool, policy, asker, &[], 0).expect("one is up")] += 1;
        }
        counts
    }

    #[test]
    fn round_robin_takes_each_in_turn_and_skips_the_down() {
        let pool = pool(3);
        assert_eq!(
            counts(&pool, Policy::RoundRobin, 300, ASKER),
            [100, 100, 100]
        );
        pool.members()[1].probed(Err("refused".into()), false);
        assert_eq!(counts(&pool, Policy::RoundRobin, 300, ASKER)[1], 0);
    }

    #[test]
    fn first_fails_over_in_order_and_back() {
        let pool = pool(3);
        let balancing = Balancing::default();
        assert_eq!(counts(&pool, Policy::First, 10, ASKER), [10, 0, 0]);
        pool.failed(0, &balancing, "refused".into(), 0);
        assert_eq!(pick(&pool, Policy::First, ASKER, &[], 1), Some(1));
        // After the cool-down it is tried again.
        let later = i64::try_from(balancing.fail_cooldown_ms).expect("ms") + 1;
        assert_eq!(pick(&pool, Policy::First, ASKER, &[], later), Some(0));
        assert_eq!(pick(&pool, Policy::First, ASKER, &[0, 1], later), Some(2));
        assert_eq!(pick(&pool, Policy::First, ASKER, &[0, 1, 2], later), None);
    }

    #[test]
    fn max_fails_counts_failures_in_a_row() {
        let pool = pool(2);
        let balancing = Balancing {
            max_fails: 2,
            ..Balancing::default()
        };
        pool.failed(0, &balancing, "reset".into(), 0);
        assert!(pool.members()[0].usable(0));
        pool.succeeded(0);
        pool.failed(0, &balancing, "reset".into(), 0);
        assert!(pool.members()[0].usable(0), "a success in between resets");
        pool.failed(0, &balancing, "reset".into(), 0);
        assert!(!pool.members()[0].usable(0));
        assert_eq!(pool.members()[0].last_error().as_deref(), Some("reset"));
    }

    #[test]
    fn least_conn_and_random_two_prefer_the_idle() {
        let pool = pool(3);
        let _busy: Vec<InFlight> = (0..5).map(|_| pool.start(0)).collect();
        let _one = pool.start(1);
        for _ in 0..20 {
            assert_eq!(pick(&pool, Policy::LeastConn, ASKER, &[], 0), Some(2));
        }
        let spread = counts(&pool, Policy::RandomTwo, 600, ASKER);
        assert!(spread[0] < spread[1] && spread[1] < spread[2], "{spread:?}");
        drop(_busy);
        assert_eq!(pool.members()[0].in_flight(), 0);
    }

    #[test]
    fn ip_hash_is_stable_per_address_and_moves_only_the_down_ones_clients() {
        let pool = pool(4);
        let asker = |last: u8| Asker {
            client: IpAddr::from([127, 0, 0, last]),
            cookie: None,
        };
        let before: Vec<usize> = (1..=40)
            .map(|c| pick(&pool, Policy::IpHash, asker(c), &[], 0).expect("up"))
            .collect();
        for (c, want) in (1..=40).zip(&before) {
            assert_eq!(pick(&pool, Policy::IpHash, asker(c), &[], 0), Some(*want));
        }
        assert!(
            before
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 1
        );
        pool.members()[before[0]].probed(Err("down".into()), false);
        for (c, was) in (1..=40).zip(&before) {
            let now = pick(&pool, Policy::IpHash, asker(c), &[], 0).expect("up");
            if *was != before[0] {
                assert_eq!(now, *was, "client {c} kept its upstream");
            } else {
                assert_ne!(now, *was);
            }
        }
    }

    #[test]
    fn cookie_pins_to_the_named_member_while_it_is_up() {
        let pool = pool(3);
        let key = pool.members()[2].key.clone();
        let asker = Asker {
            client: IpAddr::from([127, 0, 0, 1]),
            cookie: Some(&key),
        };
        assert_eq!(counts(&pool, Policy::Cookie, 10, asker), [0, 0, 10]);
        pool.members()[2].probed(Err("down".into()), false);
        assert_eq!(counts(&pool, Policy::Cookie, 10, asker)[2], 0);
        let stale = Asker {
            client: asker.client,
            cookie: Some("nonsense"),
        };
        assert_eq!(
            counts(&pool, Policy::Cookie, 10, stale)
                .iter()
                .sum::<usize>(),
            10
        );
    }
}
