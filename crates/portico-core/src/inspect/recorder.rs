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
use crate::store::TrafficStore;

/// At most this many records are written in one transaction.
const BATCH: usize = 2048;

/// How long the recorder lets exchanges gather before writing them.
const GATHER: Duration = Duration::from_millis(50);

/// Retention is applied at least this often.
const TRIM_EVERY: Duration = Duration::from_secs(30);

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
    let mut last_trim = Instant::now();
    let mut since_trim: u64 = 0;
    let mut bytes_since_trim: u64 = 0;
    loop {
        let first = tokio::select! {
            record = queue.recv() => record,
            () = stop.cancelled() => queue.try_recv().ok(),
        };
        let Some(first) = first else { return };
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
        let mut exchanges: Vec<Exchange> = Vec::new();
        let mut sockets = Vec::new();
        for record in batch {
            match record {
                Record::Exchange(e) => exchanges.push(*e),
                Record::WebSocket { id, stats } => sockets.push((id, stats)),
            }
        }
        // Summaries and search text cost allocations per exchange: only when someone listens
        // (a replay subscribes before it sends, so it is never missed).
        let summaries: Vec<LiveExchange> = if live.receiver_count() > 0 {
            exchanges
                .iter()
                .map(|e| LiveExchange {
                    summary: Summary::from(e),
                    text: search_text(e),
                })
                .collect()
        } else {
            Vec::new()
        };
        let writer = store.clone();
        let count = exchanges.len() as u64;
        since_trim += count;
        bytes_since_trim += exchanges
            .iter()
            .map(|e| (e.request_body.bytes.len() + e.response_body.bytes.len()) as u64 + 1024)
            .sum::<u64>();
        let max_bytes = retention.max_bytes.load(Ordering::Relaxed);
        // Trim on a timer, and sooner when a tenth of the count or size allowance has come in.
        let due = last_trim.elapsed() >= TRIM_EVERY
            || since_trim >= (retention.max_count.load(Ordering::Relaxed) / 10).max(1)
            || bytes_since_trim >= max_bytes / 10;
        let trim = due.then(|| {
            last_trim = Instant::now();
            since_trim = 0;
            bytes_since_trim = 0;
            let now_ms = crate::unix_millis();
            let age_ms = retention.max_age_secs.load(Ordering::Relaxed) as i64 * 1000;
            (
                retention.max_count.load(Ordering::Relaxed),
                now_ms - age_ms,
                max_bytes,
            )
        });
        let recycler = inspector.clone();
        let written = tokio::task::spawn_blocking(move || {
            let result = write(&writer, &exchanges, &sockets, trim);
            // Their preview buffers serve the next exchanges.
            recycler.recycle(exchanges);
            // A damaged `traffic.db` is moved aside for a new one: the next batch is stored.
            if let Err(failed) = &result
                && let Err(err) = writer.replace_if_damaged(&failed.error)
            {
                tracing::warn!("{err}");
            }
            result
        })
        .await;
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

/// One batch: the exchanges, the WebSocket counts, and retention when it is due.
fn write(
    store: &TrafficStore,
    exchanges: &[Exchange],
    sockets: &[(super::event::ExchangeId, super::event::WebSocketStats)],
    trim: Option<(u64, i64, u64)>,
) -> Result<(), WriteFailed> {
    let failed = |exchanges_lost| {
        move |error| WriteFailed {
            error,
            exchanges_lost,
        }
    };
    store.insert(exchanges).map_err(failed(true))?;
    for (id, stats) in sockets {
        store.update_websocket(*id, stats).map_err(failed(false))?;
    }
    if let Some((count, oldest, max_bytes)) = trim {
        store
            .trim(count, oldest, max_bytes)
            .map_err(failed(false))?;
    }
    Ok(())
}
