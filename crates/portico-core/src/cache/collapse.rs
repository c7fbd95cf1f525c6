//! Request collapsing: concurrent misses for one key elect a leader that fetches; the others
//! wait on a `watch` channel for the leader to say "stored" (look again, it is there) or
//! "released" (go upstream yourselves, all at once).
//!
//! A key whose last fetch was not storable is remembered for [`PASS_TTL`] ("hit-for-pass",
//! as Varnish calls it): requests for it neither wait nor lead, so uncacheable URLs never
//! queue behind one another. No lock is held across an await: the map's mutex guards only
//! insertions and removals.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::store::Key;

/// How long a key whose response was not storable skips collapsing.
pub(super) const PASS_TTL: Duration = Duration::from_secs(30);

/// Past this many slots, expired pass markers are swept on insertion.
const SWEEP_ABOVE: usize = 1024;

/// The state a leader publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flight {
    /// Still fetching.
    Pending,
    /// The response is in the store.
    Stored,
    /// Nothing to wait for; `pass` when the response was not storable (so the waiters
    /// should forward the client's validators untouched).
    Released { pass: bool },
}

/// What a waiter learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Waited {
    /// Look in the store again.
    Stored,
    /// Go upstream without collapsing.
    Released { pass: bool },
}

/// The answer to "I need to fetch this key".
pub(super) enum Join {
    /// Fetch it; waiters depend on the [`Leader`] being resolved (dropping it releases them).
    Lead(Leader),
    /// Another request is fetching it: wait.
    Wait(watch::Receiver<Flight>),
    /// The key was recently not storable: fetch without collapsing.
    Alone,
}

enum Slot {
    Fetching {
        id: u64,
        rx: watch::Receiver<Flight>,
    },
    Pass {
        until: Instant,
    },
}

/// The keys being fetched and the keys recently found not storable.
#[derive(Default)]
pub(super) struct Flights {
    slots: Mutex<HashMap<Key, Slot>>,
    next_id: AtomicU64,
}

impl Flights {
    /// Lead the fetch of `key`, wait for the current leader, or go alone.
    pub(super) fn join(self: &Arc<Self>, key: &Key) -> Join {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.get(key) {
            Some(Slot::Fetching { rx, .. }) => return Join::Wait(rx.clone()),
            Some(Slot::Pass { until }) if *until > Instant::now() => return Join::Alone,
            _ => {}
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(Flight::Pending);
        sweep(&mut slots);
        slots.insert(key.clone(), Slot::Fetching { id, rx });
        Join::Lead(Leader {
            flights: self.clone(),
            key: key.clone(),
            id,
            tx,
            done: false,
        })
    }

    /// Forget that `key` was not storable (it just was).
    pub(super) fn clear_pass(&self, key: &Key) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(slots.get(key), Some(Slot::Pass { .. })) {
            slots.remove(key);
        }
    }

    /// End the leader `id`'s slot, leaving a pass marker when asked.
    fn end(&self, key: &Key, id: u64, pass: bool) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(slots.get(key), Some(Slot::Fetching { id: current, .. }) if *current == id) {
            slots.remove(key);
        }
        if pass {
            sweep(&mut slots);
            slots.insert(
                key.clone(),
                Slot::Pass {
                    until: Instant::now() + PASS_TTL,
                },
            );
        }
    }

    /// Slots held, for tests.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

fn sweep(slots: &mut HashMap<Key, Slot>) {
    if slots.len() > SWEEP_ABOVE {
        let now = Instant::now();
        slots.retain(|_, slot| match slot {
            Slot::Fetching { .. } => true,
            Slot::Pass { until } => *until > now,
        });
    }
}

/// The request fetching a key for others. Dropping it unresolved (an upstream error, the
/// client gone mid-body) releases the waiters.
pub(super) struct Leader {
    flights: Arc<Flights>,
    key: Key,
    id: u64,
    tx: watch::Sender<Flight>,
    done: bool,
}

impl Leader {
    /// The response is in the store: waiters look again.
    pub(super) fn stored(mut self) {
        self.finish(Flight::Stored, false);
    }

    /// Waiters go upstream themselves; `pass` when the response was not storable, which
    /// also makes the next requests for the key skip collapsing for [`PASS_TTL`].
    pub(super) fn release(mut self, pass: bool) {
        self.finish(Flight::Released { pass }, pass);
    }

    fn finish(&mut self, flight: Flight, pass: bool) {
        self.done = true;
        // Remove the slot before telling the waiters, so that a released waiter that looks
        // again never finds this flight still in the map.
        self.flights.end(&self.key, self.id, pass);
        self.tx.send_replace(flight);
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if !self.done {
            self.finish(Flight::Released { pass: false }, false);
        }
    }
}

/// Wait at most `limit` for the leader behind `rx`.
pub(super) async fn wait(mut rx: watch::Receiver<Flight>, limit: Duration) -> Waited {
    let waited = tokio::time::timeout(limit, async {
        match rx.wait_for(|f| *f != Flight::Pending).await {
            Ok(flight) => *flight,
            Err(_closed) => Flight::Released { pass: false },
        }
    })
    .await;
    match waited {
        Ok(Flight::Stored) => Waited::Stored,
        Ok(Flight::Released { pass }) => Waited::Released { pass },
        Ok(Flight::Pending) | Err(_) => Waited::Released { pass: false },
    }
}
