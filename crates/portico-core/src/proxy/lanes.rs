//! Thread-per-core serving: each accepted connection lives on one of a few single-threaded
//! runtimes ("lanes"), one per core, with the upstream connections its requests use.
//!
//! On the engine's shared work-stealing runtime a connection's task, the upstream
//! connection's task and the timers they set move between worker threads; each move is a
//! cross-core wake-up and cache misses on the task's state. A lane keeps a client connection,
//! its requests and their upstream connections (each lane has its own pool) on one thread.
//! Connections are handed to the lanes in turn as they are accepted.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

thread_local! {
    /// The lane this thread runs, if it runs one.
    static LANE: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The lanes of one proxy. Dropping it ends their threads (their tasks are dropped).
#[derive(Debug)]
pub(super) struct Lanes {
    handles: Vec<Handle>,
    next: AtomicUsize,
    stop: CancellationToken,
}

impl Lanes {
    /// Start `count` lanes (at least one), each a thread running a single-threaded runtime.
    pub(super) fn start(count: usize) -> std::io::Result<Lanes> {
        let count = count.max(1);
        let stop = CancellationToken::new();
        let mut handles = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("portico-lane-{index}"))
                .spawn(move || {
                    LANE.with(|lane| lane.set(Some(index)));
                    runtime.block_on(stop.cancelled());
                })?;
        }
        Ok(Lanes {
            handles,
            next: AtomicUsize::new(0),
            stop,
        })
    }

    /// How many lanes there are.
    pub(super) fn len(&self) -> usize {
        self.handles.len()
    }

    /// Run `task` on the next lane in turn.
    pub(super) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let lane = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        drop(self.handles[lane].spawn(task));
    }

    /// The lane the calling thread runs, if any.
    pub(super) fn current() -> Option<usize> {
        LANE.with(Cell::get)
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
