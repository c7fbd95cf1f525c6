//! What the proxy has open right now: client connections at every proxy listener (and how
//! many of them are parked), requests being answered, and upgraded connections (WebSockets). The listeners and the proxy keep
//! the counts themselves with guards given back on drop, so every way a connection or a
//! request ends (finished, reset, timed out, cancelled, a task that panicked) is counted.
//! The engine's status reports them; a count that does not come back to rest is a leak.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::task::TaskTracker;

/// The live counts. Shared by the listeners, the proxy and the engine's status.
#[derive(Debug, Default)]
pub struct Load {
    connections: AtomicU64,
    parked: AtomicU64,
    requests: AtomicU64,
    tunnels: TaskTracker,
}

/// What is open, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LoadStatus {
    /// Client connections open to the proxy listeners (HTTP, HTTPS, shared routes),
    /// including those still in their TLS handshake.
    pub connections: u64,
    /// Of those, idle HTTP/1 connections parked: waiting for their client's next request
    /// with their buffers given back.
    pub parked: u64,
    /// Requests being answered: from arrival until their response body has been sent or
    /// abandoned.
    pub requests: u64,
    /// Upgraded connections (WebSockets) joined to their upstream.
    pub tunnels: u64,
}

/// Which count a [`Held`] holds.
#[derive(Debug, Clone, Copy)]
enum Counter {
    Connection,
    Parked,
    Request,
}

/// One counted connection or request; dropping it gives the count back.
#[derive(Debug)]
pub struct Held {
    load: Arc<Load>,
    counter: Counter,
}

impl Load {
    fn counter(&self, counter: Counter) -> &AtomicU64 {
        match counter {
            Counter::Connection => &self.connections,
            Counter::Parked => &self.parked,
            Counter::Request => &self.requests,
        }
    }

    fn hold(self: &Arc<Self>, counter: Counter) -> Held {
        self.counter(counter).fetch_add(1, Ordering::Relaxed);
        Held {
            load: self.clone(),
            counter,
        }
    }

    /// Count an accepted connection until the returned guard is dropped.
    pub fn connection(self: &Arc<Self>) -> Held {
        self.hold(Counter::Connection)
    }

    /// Count a parked connection until the returned guard is dropped.
    pub fn parked(self: &Arc<Self>) -> Held {
        self.hold(Counter::Parked)
    }

    /// Count a request until the returned guard is dropped.
    pub fn request(self: &Arc<Self>) -> Held {
        self.hold(Counter::Request)
    }

    /// The tasks joining upgraded connections.
    pub fn tunnels(&self) -> &TaskTracker {
        &self.tunnels
    }

    /// The counts now.
    pub fn status(&self) -> LoadStatus {
        LoadStatus {
            connections: self.connections.load(Ordering::Relaxed),
            parked: self.parked.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            tunnels: self.tunnels.len() as u64,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.load
            .counter(self.counter)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_until_dropped() {
        let load = Arc::new(Load::default());
        let conn = load.connection();
        let (a, b) = (load.request(), load.request());
        assert_eq!(
            load.status(),
            LoadStatus {
                connections: 1,
                parked: 0,
                requests: 2,
                tunnels: 0
            }
        );
        drop((conn, a));
        assert_eq!(load.status().connections, 0);
        assert_eq!(load.status().requests, 1);
        drop(b);
        assert_eq!(load.status().requests, 0);
    }
}
