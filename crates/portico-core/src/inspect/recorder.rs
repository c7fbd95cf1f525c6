//! The recorder: drains the capture queue in batches, writes them to the traffic store off
//! the request path, fans summaries out to live subscribers, and applies retention.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::capture::{Inspector, Record};
use super::event::{Exchange, Summary};
use crate::store::{KnownPreview, TrafficStore};

/// At most this many records are written in one transaction.
const BATCH: usize = 2048;

/// How long the recorder lets exchanges gather before writing them.
const GATHER: Duration = Duration::from_millis(50);

/// After this long without an exchange, capture frees what it keeps for the next ones
/// ([`Inspector::shed`]); 2 s in this module's tests.
const SHED_AFTER: Duration = if cfg!(test) {
    Duration::from_secs(2)
} else {
    Duration::from_secs(30)
};

/// Retention is applied at least this often.
const TRIM_EVERY: Duration = Duration::from_secs(30);

/// What a row takes in the database, about, for when to apply the size bound.
const ROW_BYTES: u64 = 1024;

/// What live subscribers receive.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Live {
    /// A new exchange.
    Exchange(Box<LiveExchange>),
    /// Capture dropped exchanges because it could not keep up (total since start).
    Dropped {
        /// Total dropped.
        total: u64,
    },
}

/// A new exchange as live subscribers see it: its summary, and the text free-text filters
/// search (the URL and the headers, as the full-text index holds them).
#[derive(Debug, Clone, Serialize)]
pub struct LiveExchange {
    /// What the stream sends.
    #[serde(flatten)]
    pub summary: Summary,
    /// The URL, then one `name: value` line per request and response header; empty when
    /// nobody was listening as it was recorded.
    #[serde(skip)]
    pub text: String,
}

/// The URL and the headers of `e`, as free text searches them (what the full-text index holds).
pub fn search_text(e: &Exchange) -> String {
    let mut text = crate::store::search_url(&e.scheme, &e.host, &e.path, e.query.as_deref());
    text.push('\n');
    text.push_str(e.request_headers.as_text());
    text.push_str(e.response_headers.as_text());
    text
}

/// How much traffic to keep; changed live from the settings.
#[derive(Debug)]
pub struct Retention {
    /// At most this many exchanges.
    pub max_count: AtomicU64,
    /// None older than this, in seconds.
    pub max_age_secs: AtomicU64,
    /// At most this many bytes of database pages in use.
    pub max_bytes: AtomicU64,
}

/// When retention is due: on a timer, and sooner once a tenth of the count or size allowance
/// has come in since it was last applied.
#[derive(Debug)]
struct TrimClock {
    last: Instant,
    rows: u64,
    bytes: u64,
}

impl TrimClock {
    fn new() -> TrimClock {
        TrimClock {
            last: Instant::now(),
            rows: 0,
            bytes: 0,
        }
    }

    /// `rows` were stored, adding `bytes`: the bounds to trim to when that is due, as
    /// `(max count, oldest start time in Unix ms, max bytes)`.
    fn stored(&mut self, retention: &Retention, rows: u64, bytes: u64) -> Option<(u64, i64, u64)> {
        self.rows += rows;
        self.bytes += bytes;
        let max_count = retention.max_count.load(Ordering::Relaxed);
        let max_bytes = retention.max_bytes.load(Ordering::Relaxed);
        let due = self.last.elapsed() >= TRIM_EVERY
            || self.rows >= (max_count / 10).max(1)
            || self.bytes >= max_bytes / 10;
        if !due {
            return None;
        }
        *self = TrimClock::new();
        let age_ms = retention.max_age_secs.load(Ordering::Relaxed) as i64 * 1000;
        Some((max_count, crate::unix_millis() - age_ms, max_bytes))
    }
}

impl Retention {
    /// Keep `count` exchanges for at most `days`, in at most `max_mb` MiB.
    pub fn new(count: u64, days: u64, max_mb: u64) -> Arc<Retention> {
        Arc::new(Retention {
            max_count: AtomicU64::new(count),
            max_age_secs: AtomicU64::new(days * 86_400),
            max_bytes: AtomicU64::new(max_mb << 20),
        })
    }
}

/// Drain `queue` into `store` until `stop`, then write what is left.
pub async fn run(
    mut queue: mpsc::Receiver<Record>,
    store: TrafficStore,
    live: broadcast::Sender<Live>,
    inspector: Inspector,
    retention: Arc<Retention>,
    stop: CancellationToken,
) {
    let mut dropped_seen = 0;
    // Moved to each batch's writer and back.
    let mut clock = TrimClock::new();
    // Nothing is kept before the first exchange.
    let mut shed = true;
    loop {
        let first = tokio::select! {
            record = queue.recv() => record,
            () = stop.cancelled() => queue.try_recv().ok(),
            () = tokio::time::sleep(SHED_AFTER), if !shed => {
                shed = true;
                let freed = inspector.shed();
                tracing::debug!("no traffic for {SHED_AFTER:?}: capture freed {freed} bytes kept for the next exchanges");
                continue;
            }
        };
        let Some(first) = first else { return };
        shed = false;
        // Let a batch gather: one wake-up per interval instead of one per exchange keeps
        // the recorder's cost off busy proxies (on few cores every wake-up is a proxy
        // request not served).
        // A backlog is written straight away.
        // So is one whose body previews pass a few MiB: large bodies would otherwise pile up
        // in memory for the whole interval.
        if !stop.is_cancelled() && queue.len() < BATCH / 4 && !inspector.backlog_is_large() {
            tokio::select! {
                () = tokio::time::sleep(GATHER) => {}
                () = inspector.large_backlog() => {}
                () = stop.cancelled() => {}
            }
        }
        let mut batch = Vec::with_capacity(BATCH.min(queue.len() + 1));
        batch.push(first);
        if !queue.is_empty() {
            // Returns at once: there is something to take.
            queue.recv_many(&mut batch, BATCH - 1).await;
        }
        inspector.taken(&batch);
        let mut sockets = Vec::new();
        let mut captured = Vec::with_capacity(batch.len());
        for record in batch {
            match record {
                Record::Exchange(e, repeated) => captured.push((e, repeated)),
                Record::WebSocket { id, stats } => sockets.push((id, stats)),
            }
        }
        // Exchanges end in another order than they began (ids are given as requests arrive):
        // in id order nearly every row is appended at the table's end, where SQLite fills a
        // page and starts the next instead of splitting pages in the middle (a fifth to a
        // quarter of an insert's cost, measured).
        captured.sort_unstable_by_key(|(e, _)| e.id);
        let (exchanges, known): (Vec<Box<Exchange>>, Vec<Option<Arc<KnownPreview>>>) =
            captured.into_iter().unzip();
        // Summaries and search text cost allocations per exchange: only when someone listens
        // (a replay subscribes before it sends, so it is never missed).
        let summaries: Vec<LiveExchange> = if live.receiver_count() > 0 {
            exchanges
                .iter()
                .map(|e| LiveExchange {
                    summary: Summary::from(&**e),
                    text: search_text(e),
                })
                .collect()
        } else {
            Vec::new()
        };
        let writer = store.clone();
        let count = exchanges.len() as u64;
        let recycler = inspector.clone();
        let retention = Arc::clone(&retention);
        let mut trim_clock = std::mem::replace(&mut clock, TrimClock::new());
        let written = tokio::task::spawn_blocking(move || {
            let result = write(
                &writer,
                &exchanges,
                &known,
                &sockets,
                &retention,
                &mut trim_clock,
            );
            // The exchanges and their preview buffers serve the next requests.
            recycler.recycle(exchanges, result.as_deref().unwrap_or_default());
            // A damaged `traffic.db` is moved aside for a new one: the next batch is stored.
            if let Err(failed) = &result
                && let Err(err) = writer.replace_if_damaged(&failed.error)
            {
                tracing::warn!("{err}");
            }
            (result.map(drop), trim_clock)
        })
        .await;
        let written = written.map(|(result, trim_clock)| {
            clock = trim_clock;
            result
        });
        // A full disk or a broken file stops capture, never proxying. The status says why
        // while it lasts; the log says when it starts, changes and ends, not every batch.
        let (failure, lost) = match written {
            Ok(Ok(())) => (None, false),
            Ok(Err(failed)) => (Some(failed.error.to_string()), failed.exchanges_lost),
            Err(err) => (Some(format!("the capture writer failed: {err}")), true),
        };
        match failure {
            None => {
                if inspector.store_recovered() {
                    tracing::info!(
                        "captured traffic is stored again ({} exchanges could not be stored)",
                        inspector.not_stored()
                    );
                }
            }
            Some(error) => {
                if inspector.store_failed(if lost { count } else { 0 }, error.clone()) {
                    tracing::warn!("captured traffic is not stored: {error}");
                }
            }
        }
        // Live views are not shown exchanges that cannot be opened afterwards.
        if !lost {
            for summary in summaries {
                let _ = live.send(Live::Exchange(Box::new(summary)));
            }
        }
        let dropped = inspector.dropped();
        if dropped != dropped_seen {
            dropped_seen = dropped;
            let _ = live.send(Live::Dropped { total: dropped });
        }
    }
}

/// Why a batch was not written in full.
struct WriteFailed {
    error: crate::store::Error,
    /// The exchanges themselves were not stored (rather than a WebSocket's counts or
    /// retention failing after them).
    exchanges_lost: bool,
}

/// Write one batch (exchanges with the stored previews their responses repeated, and
/// WebSocket counts), then apply retention when it is due; returns the keys the exchanges'
/// response previews were stored under.
fn write(
    store: &TrafficStore,
    exchanges: &[Box<Exchange>],
    known: &[Option<Arc<KnownPreview>>],
    sockets: &[(super::event::ExchangeId, super::event::WebSocketStats)],
    retention: &Retention,
    clock: &mut TrimClock,
) -> Result<Vec<Option<crate::store::PreviewKey>>, WriteFailed> {
    let failed = |exchanges_lost| {
        move |error| WriteFailed {
            error,
            exchanges_lost,
        }
    };
    let inserted = store
        .insert_captured(exchanges, known)
        .map_err(failed(true))?;
    for (id, stats) in sockets {
        store.update_websocket(*id, stats).map_err(failed(false))?;
    }
    // Previews count as written: one that repeats a stored preview takes no more space.
    let rows = exchanges.len() as u64;
    let added = inserted.body_bytes + rows * ROW_BYTES;
    if let Some((count, oldest, max_bytes)) = clock.stored(retention, rows, added) {
        store
            .trim(count, oldest, max_bytes)
            .map_err(failed(false))?;
    }
    Ok(inserted.response_keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Once traffic has stopped for [`SHED_AFTER`], the buffers, previews and exchanges
    /// capture kept for the next exchanges are freed, and capture goes on as before.
    #[tokio::test]
    async fn capture_frees_what_it_keeps_once_traffic_stops() {
        let dir = tempfile::tempdir().expect("dir");
        let store = TrafficStore::open_dir(dir.path()).expect("traffic store");
        let (inspector, queue) = Inspector::new(64, 1 << 20, 0);
        let (live, _) = broadcast::channel(16);
        let stop = CancellationToken::new();
        let recorder = tokio::spawn(run(
            queue,
            store.clone(),
            live,
            inspector.clone(),
            Retention::new(1000, 7, 100),
            stop.clone(),
        ));
        let large = |id: i64| {
            let mut exchange = Box::new(Exchange::empty());
            exchange.id = id;
            exchange.response_body.bytes = vec![7; 100 << 10];
            exchange.response_body.size = 100 << 10;
            Record::Exchange(exchange, None)
        };
        // Whether capture keeps anything within `within`, or keeps nothing, looked at every
        // 20 ms.
        let becomes = |kept: bool, within: Duration| {
            let inspector = inspector.clone();
            async move {
                let deadline = Instant::now() + within;
                while (inspector.kept_bytes() > 0) != kept {
                    if Instant::now() > deadline {
                        return false;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                true
            }
        };
        inspector.submit(large(1));
        assert!(
            becomes(true, Duration::from_secs(5)).await,
            "the stored preview is kept for the next responses"
        );
        tokio::time::sleep(SHED_AFTER / 4).await;
        assert!(
            inspector.kept_bytes() > 0,
            "kept while traffic may come back"
        );
        assert!(
            becomes(false, SHED_AFTER + Duration::from_secs(3)).await,
            "freed once there was no traffic for {SHED_AFTER:?}"
        );
        // Capture goes on: the next exchange is stored and its preview kept again.
        inspector.submit(large(2));
        assert!(becomes(true, Duration::from_secs(5)).await, "kept again");
        stop.cancel();
        recorder.await.expect("recorder ends");
        assert_eq!(
            store.max_id().expect("newest id"),
            2,
            "both exchanges stored"
        );
    }

    #[test]
    fn retention_is_due_after_a_tenth_of_the_count_or_of_the_bytes_written() {
        let retention = Retention::new(1000, 7, 10); // 1,000 rows, 10 MiB
        let mut clock = TrimClock::new();
        assert_eq!(clock.stored(&retention, 99, 0), None);
        let (count, _, max_bytes) = clock.stored(&retention, 1, 0).expect("100 rows");
        assert_eq!((count, max_bytes), (1000, 10 << 20));
        // Repeats of a stored preview add no bytes, so only what was written counts.
        assert_eq!(clock.stored(&retention, 1, (1 << 20) - 1), None);
        assert!(
            clock.stored(&retention, 1, 1).is_some(),
            "a tenth of 10 MiB"
        );
        assert_eq!(clock.stored(&retention, 1, 0), None, "started over");
    }
}
