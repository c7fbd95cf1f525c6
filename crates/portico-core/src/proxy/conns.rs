//! Counting what each client address has open: connections at the listeners (the
//! `max_conns_per_ip` setting) and requests in flight on a route (a route's
//! `max_conns_per_ip`). A count is held by a [`ConnSlot`] and given back when the slot is
//! dropped, however the connection or request ends (closed, reset, failed handshake, shutdown,
//! a task that panicked). The map is touched only when a limit is set.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Open counts per key (a client address, or a route and a client address).
#[derive(Debug)]
pub struct ConnCounts<K: Eq + Hash = IpAddr> {
    counts: Mutex<HashMap<K, u64>>,
}

impl<K: Eq + Hash> Default for ConnCounts<K> {
    fn default() -> Self {
        ConnCounts {
            counts: Mutex::default(),
        }
    }
}

/// One counted connection or request; dropping it gives the count back.
#[derive(Debug)]
pub struct ConnSlot<K: Eq + Hash + Clone = IpAddr> {
    counts: Arc<ConnCounts<K>>,
    key: K,
}

impl<K: Eq + Hash + Clone> ConnCounts<K> {
    /// Count one more for `key` when it has fewer than `limit` open, else `None` (and
    /// nothing is counted).
    pub fn acquire(self: &Arc<Self>, key: K, limit: u64) -> Option<ConnSlot<K>> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= limit {
            if *count == 0 {
                counts.remove(&key);
            }
            return None;
        }
        *count += 1;
        Some(ConnSlot {
            counts: self.clone(),
            key,
        })
    }

    /// How many `key` has open (counted while a limit was set).
    pub fn open(&self, key: &K) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(key).copied().unwrap_or(0)
    }
}

impl<K: Eq + Hash + Clone> Drop for ConnSlot<K> {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            // An address with nothing open leaves the map, so it stays as small as what is open.
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// `::ffff:127.0.0.2` as `127.0.0.2`: one client, one count, on a dual-stack socket.
pub(super) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_up_to_the_limit_and_give_back_on_drop() {
        let counts: Arc<ConnCounts> = Arc::default();
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let first = counts.acquire(a, 2).expect("1 of 2");
        let second = counts.acquire(a, 2).expect("2 of 2");
        assert!(counts.acquire(a, 2).is_none(), "over the limit");
        assert_eq!(counts.open(&a), 2, "a refusal is not counted");
        let other = counts.acquire(b, 2).expect("another address");
        drop(first);
        assert_eq!(counts.open(&a), 1);
        let third = counts.acquire(a, 2).expect("room again");
        drop((second, third, other));
        assert_eq!(counts.open(&a), 0);
        assert!(
            counts.counts.lock().expect("lock").is_empty(),
            "nothing left behind"
        );
    }
}
