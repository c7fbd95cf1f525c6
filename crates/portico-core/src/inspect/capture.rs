//! Capturing one exchange as it passes: a [`Capture`] is opened when the request arrives,
//! filled in by the proxy (route, upstream, status, error), and fed by [`TeeBody`] wrappers
//! that copy the first bytes of each body while it streams. When the response body ends (or
//! the client goes away) the exchange is handed to the [`Inspector`]'s bounded queue; if the
//! queue is full it is dropped and counted, and the request is never delayed.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use super::event::{Exchange, ExchangeId, WebSocketStats};
use crate::store::{KnownPreview, PreviewKey};

/// Default capture limit per body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Default queue length between the proxy and the recorder.
pub const DEFAULT_QUEUE: usize = 4096;

/// What travels from the proxy to the recorder.
#[derive(Debug)]
pub enum Record {
    /// A finished exchange, and the stored preview its response repeated (its own response
    /// preview is then empty).
    Exchange(Box<Exchange>, Option<Arc<KnownPreview>>),
    /// The final counts of an upgraded connection.
    WebSocket {
        /// The exchange of its upgrade.
        id: ExchangeId,
        /// The counts.
        stats: WebSocketStats,
    },
}

impl Record {
    /// The memory its body previews hold.
    fn preview_bytes(&self) -> usize {
        match self {
            Record::Exchange(e, _) => {
                e.request_body.bytes.capacity() + e.response_body.bytes.capacity()
            }
            Record::WebSocket { .. } => 0,
        }
    }
}

/// Marks a request as a replay of an earlier exchange (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct ReplayOf(pub ExchangeId);

/// The id an exchange was captured under (a response extension).
#[derive(Debug, Clone, Copy)]
pub struct CapturedAs(pub ExchangeId);

/// Previews at least this large take their buffer from the pool of buffers given back by the
/// recorder ([`Inspector::recycle`]); smaller ones are left to the allocator, which reuses
/// them well.
const POOLED_MIN: usize = 16 << 10;

/// The pool keeps at most this many bytes of buffers…
const POOL_BYTES: usize = 32 << 20;

/// …and at most this many buffers, so looking for one stays short.
const POOL_BUFFERS: usize = 512;

/// At most this many recently stored large response previews are kept to compare the next
/// responses of the same requests with…
const RECENT_PREVIEWS: usize = 64;

/// …holding at most this many bytes.
const RECENT_BYTES: usize = 16 << 20;

/// At most this many exchanges the recorder is done with are kept for the next requests to
/// fill in: their strings and small previews are reused instead of allocated on a worker and
/// freed on the recorder's thread for every exchange…
const SPARE_EXCHANGES: usize = 1024;

/// …each holding at most this many bytes of strings and previews.
const SPARE_EXCHANGE_BYTES: usize = 8 << 10;

/// Previews waiting for the recorder past this many bytes wake it before its gathering
/// interval is over, so large bodies do not pile up in memory for the whole interval.
const EARLY_BATCH_BYTES: usize = 8 << 20;

/// The capture switchboard shared by every connection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Inspector {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    queue: mpsc::Sender<Record>,
    dropped: AtomicU64,
    /// Exchanges the recorder could not store (a full disk, a broken file), since start.
    not_stored: AtomicU64,
    /// Why the last write failed, while writes fail.
    store_error: std::sync::Mutex<Option<String>>,
    paused: AtomicBool,
    body_limit: AtomicUsize,
    next_id: AtomicI64,
    /// Large preview buffers given back by the recorder, for the next exchanges. Allocating
    /// a fresh 100 KiB buffer for every exchange and freeing it on the recorder's thread a
    /// batch later made the allocator give the pages back and fault them in again: a
    /// tenth of the proxy's time with capture on (`docs/BENCHMARKS.md`).
    pool: Mutex<Pool>,
    /// Large response previews the recorder stored lately, by [`fingerprint`]: a dev server
    /// answers the same bytes again and again (a bundle on every reload, a poll that did not
    /// change), and comparing them as they stream costs a third of copying and hashing them.
    recent: Mutex<VecDeque<(u64, Arc<KnownPreview>)>>,
    /// Exchanges to fill in again ([`SPARE_EXCHANGES`]).
    #[expect(
        clippy::vec_box,
        reason = "an exchange goes in its box to the recorder and back"
    )]
    spare: Mutex<Vec<Box<Exchange>>>,
    /// Responses that were the bytes of a recently stored preview, since start.
    repeats: AtomicU64,
    /// Bytes of previews submitted and not yet taken by the recorder.
    queued_bytes: AtomicUsize,
    /// Wakes the recorder when `queued_bytes` passes [`EARLY_BATCH_BYTES`].
    backlog: tokio::sync::Notify,
}

/// Buffers kept for reuse and their total capacity.
#[derive(Debug, Default)]
struct Pool {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl Inspector {
    /// An inspector whose records go to the returned receiver (at most `queue` waiting); ids
    /// continue after `last_id`.
    pub fn new(
        queue: usize,
        body_limit: usize,
        last_id: ExchangeId,
    ) -> (Inspector, mpsc::Receiver<Record>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let inspector = Inspector {
            inner: Arc::new(Shared {
                queue: tx,
                dropped: AtomicU64::new(0),
                not_stored: AtomicU64::new(0),
                store_error: std::sync::Mutex::new(None),
                paused: AtomicBool::new(false),
                body_limit: AtomicUsize::new(body_limit),
                next_id: AtomicI64::new(last_id + 1),
                pool: Mutex::new(Pool::default()),
                recent: Mutex::new(VecDeque::new()),
                spare: Mutex::new(Vec::new()),
                repeats: AtomicU64::new(0),
                queued_bytes: AtomicUsize::new(0),
                backlog: tokio::sync::Notify::new(),
            }),
        };
        (inspector, rx)
    }

    /// A fresh exchange id (for exchanges imported from HAR files).
    pub fn allocate_id(&self) -> ExchangeId {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Exchanges dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Responses captured as a repeat of a recently stored preview (compared as they streamed,
    /// not copied), since start.
    pub fn repeats(&self) -> u64 {
        self.inner.repeats.load(Ordering::Relaxed)
    }

    /// Exchanges captured but not stored because writing failed, since start.
    pub fn not_stored(&self) -> u64 {
        self.inner.not_stored.load(Ordering::Relaxed)
    }

    /// Why storing captured traffic fails, while it does (cleared by the next write that
    /// succeeds).
    pub fn store_error(&self) -> Option<String> {
        self.lock_store_error().clone()
    }

    /// `count` exchanges could not be stored, because of `error`; returns whether this is news
    /// (the first failure, or another reason than the last), for the log.
    pub fn store_failed(&self, count: u64, error: String) -> bool {
        self.inner.not_stored.fetch_add(count, Ordering::Relaxed);
        let mut last = self.lock_store_error();
        let news = last.as_deref() != Some(error.as_str());
        *last = Some(error);
        news
    }

    /// A write succeeded; returns whether writes had been failing until now.
    pub fn store_recovered(&self) -> bool {
        self.lock_store_error().take().is_some()
    }

    fn lock_store_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.inner
            .store_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Whether capture is paused.
    pub fn paused(&self) -> bool {
        self.inner.paused.load(Ordering::Relaxed)
    }

    /// Pause or resume capture.
    pub fn set_paused(&self, paused: bool) {
        self.inner.paused.store(paused, Ordering::Relaxed);
    }

    /// Change the per-body capture limit.
    pub fn set_body_limit(&self, limit: usize) {
        self.inner.body_limit.store(limit, Ordering::Relaxed);
    }

    /// Hand a record to the recorder without waiting; count it as dropped when the queue
    /// is full.
    pub fn submit(&self, record: Record) {
        let bytes = record.preview_bytes();
        if self.inner.queue.try_send(record).is_err() {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if bytes > 0 {
            let before = self.inner.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
            if before < EARLY_BATCH_BYTES && before + bytes >= EARLY_BATCH_BYTES {
                self.inner.backlog.notify_one();
            }
        }
    }

    /// The recorder took `records` off the queue.
    pub fn taken(&self, records: &[Record]) {
        let bytes: usize = records.iter().map(Record::preview_bytes).sum();
        if bytes > 0 {
            // Never below zero: only what `submit` counted is taken back.
            let _ = self.inner.queued_bytes.fetch_update(
                Ordering::Relaxed,
                Ordering::Relaxed,
                |queued| Some(queued.saturating_sub(bytes)),
            );
        }
    }

    /// Whether previews waiting for the recorder have passed the size at which a batch is
    /// written without waiting for the rest of the gathering interval.
    pub fn backlog_is_large(&self) -> bool {
        self.inner.queued_bytes.load(Ordering::Relaxed) >= EARLY_BATCH_BYTES
    }

    /// Return once previews waiting for the recorder pass that size.
    pub async fn large_backlog(&self) {
        self.inner.backlog.notified().await;
    }

    /// A buffer for a preview of `want` bytes: a recycled one when the pool has one large
    /// enough (and not more than twice as large), else a new one.
    fn preview_buffer(&self, want: usize) -> Vec<u8> {
        if want >= POOLED_MIN {
            let mut pool = self.lock_pool();
            let fits = |b: &Vec<u8>| b.capacity() >= want && b.capacity() / 2 <= want;
            if let Some(i) = pool.buffers.iter().rposition(fits) {
                let buffer = pool.buffers.swap_remove(i);
                pool.bytes -= buffer.capacity();
                return buffer;
            }
        }
        Vec::with_capacity(want)
    }

    /// The recorder is done with `exchanges`; `response_keys` are the keys their response
    /// previews were stored under ([`crate::store::Inserted`]; empty when unknown). Large
    /// complete response previews are kept to compare later responses to the same request
    /// with, the other large buffers go to the pool, and the exchanges, with their small
    /// previews, are kept for the next requests to fill in, each as far as there is room.
    pub fn recycle(&self, exchanges: Vec<Box<Exchange>>, response_keys: &[Option<PreviewKey>]) {
        let mut spare = Vec::with_capacity(exchanges.len() * 2);
        let mut stored = Vec::new();
        let mut reusable = Vec::new();
        for (i, mut exchange) in exchanges.into_iter().enumerate() {
            let complete = exchange.response_body.bytes.len() as u64 == exchange.response_body.size;
            let large = exchange.response_body.bytes.capacity() >= POOLED_MIN;
            match response_keys.get(i).copied().flatten() {
                Some(key) if large && complete => {
                    let response = std::mem::take(&mut exchange.response_body.bytes);
                    let fingerprint = fingerprint(&exchange, response.len());
                    stored.push((fingerprint, KnownPreview::new(response, key)));
                }
                _ if large => spare.push(std::mem::take(&mut exchange.response_body.bytes)),
                _ => {}
            }
            if exchange.request_body.bytes.capacity() >= POOLED_MIN {
                spare.push(std::mem::take(&mut exchange.request_body.bytes));
            }
            // Small previews stay with their exchange, which the next request fills in.
            if exchange_memory(&exchange) <= SPARE_EXCHANGE_BYTES {
                reusable.push(exchange);
            }
        }
        if !reusable.is_empty() {
            let mut kept = self.lock_spare();
            let room = SPARE_EXCHANGES.saturating_sub(kept.len());
            kept.extend(reusable.into_iter().take(room));
        }
        self.remember(stored, &mut spare);
        self.give_back(spare);
    }

    /// Keep `stored` previews, by fingerprint, for the next responses to be compared with;
    /// the buffers of those already kept, replaced or pushed out go to `spare`.
    fn remember(&self, stored: Vec<(u64, KnownPreview)>, spare: &mut Vec<Vec<u8>>) {
        if stored.is_empty() {
            return;
        }
        let mut recent = self.lock_recent();
        let unshared = |old: Arc<KnownPreview>| Arc::into_inner(old).map(KnownPreview::into_bytes);
        for (fingerprint, known) in stored {
            let size = known.bytes().len();
            let same =
                |(f, k): &(u64, Arc<KnownPreview>)| *f == fingerprint && k.bytes().len() == size;
            if let Some(at) = recent.iter().position(same) {
                if recent[at].1.key() == known.key() {
                    // Already kept (a batch often holds several copies).
                    spare.push(known.into_bytes());
                    continue;
                }
                // The response to that request changed: the new bytes replace the old.
                spare.extend(recent.remove(at).and_then(|(_, old)| unshared(old)));
            }
            recent.push_back((fingerprint, Arc::new(known)));
            while recent.len() > RECENT_PREVIEWS
                || recent.iter().map(|(_, k)| k.bytes().len()).sum::<usize>() > RECENT_BYTES
            {
                spare.extend(recent.pop_front().and_then(|(_, old)| unshared(old)));
            }
        }
    }

    /// Keep large `buffers` for the next previews, as far as the pool has room; the rest is
    /// freed.
    fn give_back(&self, buffers: Vec<Vec<u8>>) {
        let mut pool = self.lock_pool();
        for mut buffer in buffers {
            let size = buffer.capacity();
            if size >= POOLED_MIN
                && pool.bytes + size <= POOL_BYTES
                && pool.buffers.len() < POOL_BUFFERS
            {
                buffer.clear();
                pool.bytes += size;
                pool.buffers.push(buffer);
            }
        }
    }

    /// Free what capture keeps for the next exchanges (pooled preview buffers, recent
    /// previews, spare exchanges): for when traffic has stopped, so a burst's memory does not
    /// stay with an idle engine. The next exchanges allocate afresh. Returns the bytes freed,
    /// about.
    pub(crate) fn shed(&self) -> usize {
        let freed = self.kept_bytes();
        drop(std::mem::take(&mut *self.lock_pool()));
        drop(std::mem::take(&mut *self.lock_recent()));
        drop(std::mem::take(&mut *self.lock_spare()));
        freed
    }

    /// What capture keeps for the next exchanges now, in bytes, about (see [`Inspector::shed`]).
    pub(crate) fn kept_bytes(&self) -> usize {
        self.lock_pool().bytes
            + self
                .lock_recent()
                .iter()
                .map(|(_, k)| k.bytes().len())
                .sum::<usize>()
            + self
                .lock_spare()
                .iter()
                .map(|e| exchange_memory(e))
                .sum::<usize>()
    }

    /// An exchange to fill in: one the recorder is done with, or a new one.
    fn spare_exchange(&self) -> Box<Exchange> {
        let spare = self.lock_spare().pop();
        spare.unwrap_or_else(|| Box::new(Exchange::empty()))
    }

    #[expect(
        clippy::vec_box,
        reason = "an exchange goes in its box to the recorder and back"
    )]
    fn lock_spare(&self) -> MutexGuard<'_, Vec<Box<Exchange>>> {
        self.inner.spare.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The stored preview of `size` bytes kept for requests with this fingerprint.
    fn known(&self, fingerprint: u64, size: usize) -> Option<Arc<KnownPreview>> {
        self.lock_recent()
            .iter()
            .rev()
            .find(|(f, k)| *f == fingerprint && k.bytes().len() == size)
            .map(|(_, k)| Arc::clone(k))
    }

    fn lock_recent(&self) -> MutexGuard<'_, VecDeque<(u64, Arc<KnownPreview>)>> {
        self.inner.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        self.inner.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open a capture for a request (`None` while paused).
    pub fn begin<B>(&self, req: &http::Request<B>, start: RequestStart<'_>) -> Option<Capture> {
        if self.paused() {
            return None;
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let uri = req.uri();
        let head = head_size(
            // `METHOD target HTTP/1.1\r\n`; the target is the path and query (origin form).
            req.method().as_str().len() + uri.path_and_query().map_or(1, |p| p.as_str().len()) + 12,
            req.headers(),
        );
        // Filled in place: every field is named, so none keeps an earlier exchange's value.
        let mut exchange = self.spare_exchange();
        let Exchange {
            id: exchange_id,
            started_at,
            method,
            scheme,
            host,
            path,
            query,
            version,
            client,
            route_id,
            route,
            upstream,
            status,
            duration_ms,
            ttfb_ms,
            bytes_in,
            bytes_out,
            error,
            error_side,
            error_code,
            request_headers,
            response_headers,
            request_body,
            response_body,
            websocket,
            replay_of,
            imported,
            cache,
            compression,
        } = &mut *exchange;
        *exchange_id = id;
        *started_at = crate::unix_millis();
        set(method, req.method().as_str());
        set(scheme, if start.tls { "https" } else { "http" });
        set(host, start.host);
        set(path, uri.path());
        set_opt(query, uri.query());
        set(version, version_name(req.version()));
        client.clear();
        let _ = write!(client, "{}", start.client);
        *route_id = None;
        *route = None;
        *upstream = None;
        *status = None;
        *duration_ms = 0.0;
        *ttfb_ms = None;
        *bytes_in = head;
        *bytes_out = 0;
        *error = None;
        *error_side = None;
        *error_code = None;
        request_headers.fill_from_map(req.headers());
        // HTTP/2 carries the host (and port) in `:authority`, not in a Host header; keep it
        // so the URL can be rebuilt (curl, HAR, replay).
        if let Some(authority) = uri.authority()
            && !req.headers().contains_key(http::header::HOST)
        {
            request_headers.push_front(":authority", authority.as_str());
        }
        response_headers.clear();
        for preview in [request_body, response_body] {
            preview.bytes.clear();
            preview.size = 0;
        }
        *websocket = None;
        *replay_of = req.extensions().get::<ReplayOf>().map(|r| r.0);
        *imported = false;
        *cache = None;
        *compression = None;
        Some(Capture {
            id,
            inner: Arc::new(Mutex::new(Partial {
                exchange,
                started: Instant::now(),
                limit: self.inner.body_limit.load(Ordering::Relaxed),
                finished: false,
                cancelled: false,
                repeat: None,
            })),
            inspector: self.clone(),
        })
    }
}

/// What the proxy knows when a request arrives.
#[derive(Debug, Clone, Copy)]
pub struct RequestStart<'a> {
    /// The host name the client asked for.
    pub host: &'a str,
    /// The client's address.
    pub client: std::net::SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
}

fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    }
}

/// `value` in `slot`, in the memory `slot` has when it is enough.
fn set(slot: &mut String, value: &str) {
    slot.clear();
    slot.push_str(value);
}

/// [`set`] for an optional string.
fn set_opt(slot: &mut Option<String>, value: Option<&str>) {
    match (slot.as_mut(), value) {
        (Some(kept), Some(value)) => set(kept, value),
        (_, value) => *slot = value.map(str::to_owned),
    }
}

/// The heap memory an exchange's strings and previews hold.
fn exchange_memory(e: &Exchange) -> usize {
    let strings = [
        &e.method, &e.scheme, &e.host, &e.path, &e.version, &e.client,
    ];
    let optional = [
        &e.query,
        &e.route,
        &e.upstream,
        &e.error,
        &e.error_side,
        &e.error_code,
        &e.cache,
        &e.compression,
    ];
    strings.iter().map(|s| s.capacity()).sum::<usize>()
        + optional
            .iter()
            .flat_map(|s| s.as_ref())
            .map(String::capacity)
            .sum::<usize>()
        + e.request_headers.capacity()
        + e.response_headers.capacity()
        + e.request_body.bytes.capacity()
        + e.response_body.bytes.capacity()
}

/// What a response preview of `size` bytes is kept under: the request's method and URL.
fn fingerprint(exchange: &Exchange, size: usize) -> u64 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for part in [&exchange.method, &exchange.host, &exchange.path] {
        hasher.update(part.as_bytes());
        hasher.update(b"\0");
    }
    hasher.update(exchange.query.as_deref().unwrap_or_default().as_bytes());
    hasher.update(&(size as u64).to_le_bytes());
    hasher.digest()
}

/// Bytes of a message head: the start line plus `name: value\r\n` per header and the blank line.
fn head_size(start_line: usize, headers: &HeaderMap) -> u64 {
    let fields: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    (start_line + fields + 2) as u64
}

struct Partial {
    /// Boxed from the spare list to the recorder and back: it is never copied on the way.
    exchange: Box<Exchange>,
    started: Instant,
    limit: usize,
    finished: bool,
    cancelled: bool,
    /// The response so far is the first `.1` bytes of this stored preview (and its own
    /// preview is empty).
    repeat: Option<(Arc<KnownPreview>, usize)>,
}

impl Partial {
    /// The preview of one side's body.
    fn preview_mut(&mut self, side: Side) -> &mut Vec<u8> {
        match side {
            Side::Request => &mut self.exchange.request_body.bytes,
            Side::Response => &mut self.exchange.response_body.bytes,
        }
    }
}

/// One exchange being captured; shared by the proxy and the two body tees.
#[derive(Clone)]
pub struct Capture {
    id: ExchangeId,
    inner: Arc<Mutex<Partial>>,
    inspector: Inspector,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture").field("id", &self.id()).finish()
    }
}

/// Which body a tee watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The request body, client → upstream.
    Request,
    /// The response body, upstream (or Portico) → client.
    Response,
}

impl Capture {
    fn lock(&self) -> MutexGuard<'_, Partial> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exchange's id (also after it was recorded).
    pub fn id(&self) -> ExchangeId {
        self.id
    }

    /// The route and upstream the request matched.
    pub fn route(&self, id: i64, label: &str, upstream: &str) {
        let mut p = self.lock();
        p.exchange.route_id = Some(id);
        set_opt(&mut p.exchange.route, Some(label));
        set_opt(&mut p.exchange.upstream, Some(upstream));
    }

    /// The upstream that served the request (one of several the route balances over).
    pub fn upstream(&self, upstream: &str) {
        set_opt(&mut self.lock().exchange.upstream, Some(upstream));
    }

    /// Keep only the scheme of a request header's value (`Basic [redacted]`), so that a
    /// credential the route checks is never stored or shown.
    pub fn redact_request_header(&self, name: &http::header::HeaderName) {
        let mut p = self.lock();
        p.exchange.request_headers.map_values(|key, value| {
            (key == name.as_str()).then(|| match value.split_once(' ') {
                Some((scheme, _)) => format!("{scheme} [redacted]"),
                None => "[redacted]".to_owned(),
            })
        });
    }

    /// The route does not want its traffic captured: nothing is recorded.
    pub fn cancel(&self) {
        self.lock().cancelled = true;
    }

    /// The upstream's response headers arrived now.
    pub fn upstream_answered(&self) {
        let mut p = self.lock();
        p.exchange.ttfb_ms = Some(p.started.elapsed().as_secs_f64() * 1000.0);
    }

    /// What went wrong, who caused it, and Portico's code for it.
    pub fn error(&self, message: String, side: &str, code: Option<&str>) {
        let mut p = self.lock();
        p.exchange.error = Some(message);
        p.exchange.error_side = Some(side.to_owned());
        p.exchange.error_code = code.map(str::to_owned);
    }

    /// What the route's cache and compression did.
    pub fn features(&self, cache: Option<&str>, compression: Option<&str>) {
        let mut p = self.lock();
        p.exchange.cache = cache.map(str::to_owned);
        p.exchange.compression = compression.map(str::to_owned);
    }

    /// The response head sent to the client.
    pub fn response<B>(&self, resp: &http::Response<B>) {
        let mut p = self.lock();
        p.exchange.status = Some(resp.status().as_u16());
        p.exchange.response_headers.fill_from_map(resp.headers());
        p.exchange.bytes_out += head_size(17, resp.headers());
        if resp.status() == http::StatusCode::SWITCHING_PROTOCOLS {
            p.exchange.websocket = Some(WebSocketStats::default());
        }
    }

    /// Wrap a body so its bytes are counted and its first bytes kept.
    pub fn tee<B: Body>(&self, side: Side, body: B) -> TeeBody<B> {
        // Size the preview once when the length is known, instead of growing (and copying)
        // it chunk by chunk.
        if let Some(len) = body.size_hint().exact() {
            let large = {
                let mut p = self.lock();
                let want = usize::try_from(len).unwrap_or(usize::MAX).min(p.limit);
                if want < POOLED_MIN {
                    p.preview_mut(side).reserve_exact(want);
                    None
                } else {
                    // A whole response the size of one stored lately for the same request
                    // may well be the same bytes again.
                    let whole = side == Side::Response && want as u64 == len;
                    Some((want, whole.then(|| fingerprint(&p.exchange, want))))
                }
            };
            if let Some((want, fingerprint)) = large {
                // Looked up and taken outside the capture's lock: they have locks of their own.
                let known = fingerprint.and_then(|f| self.inspector.known(f, want));
                let buffer = known.is_none().then(|| self.inspector.preview_buffer(want));
                let mut p = self.lock();
                if p.preview_mut(side).is_empty() && p.repeat.is_none() {
                    match (known, buffer) {
                        (Some(known), _) => p.repeat = Some((known, 0)),
                        (None, Some(buffer)) => *p.preview_mut(side) = buffer,
                        (None, None) => {}
                    }
                }
            }
        }
        TeeBody {
            ended: body.is_end_stream(),
            inner: body,
            side,
            capture: Some(self.clone()),
        }
    }

    fn data(&self, side: Side, chunk: &[u8]) {
        let mut p = self.lock();
        let limit = p.limit;
        let Partial {
            exchange, repeat, ..
        } = &mut *p;
        let (preview, wire) = match side {
            Side::Request => (&mut exchange.request_body, &mut exchange.bytes_in),
            Side::Response => (&mut exchange.response_body, &mut exchange.bytes_out),
        };
        preview.size += chunk.len() as u64;
        *wire += chunk.len() as u64;
        if side == Side::Response
            && let Some((known, matched)) = repeat
        {
            let end = *matched + chunk.len();
            if known.bytes().get(*matched..end) == Some(chunk) {
                *matched = end;
                return;
            }
            // Other bytes: from here on the preview is a copy, starting with what matched.
            let size = known.bytes().len();
            let mut bytes = self.inspector.preview_buffer(size);
            bytes.extend_from_slice(&known.bytes()[..*matched]);
            preview.bytes = bytes;
            *repeat = None;
        }
        let room = limit.saturating_sub(preview.bytes.len());
        preview
            .bytes
            .extend_from_slice(&chunk[..room.min(chunk.len())]);
    }

    /// The response is over (ended, failed, or the client left): record the exchange once.
    pub fn finish(&self, problem: Option<(String, &str)>) {
        let (exchange, repeated) = {
            let mut p = self.lock();
            if p.finished {
                return;
            }
            p.finished = true;
            if p.cancelled {
                return;
            }
            p.exchange.duration_ms = p.started.elapsed().as_secs_f64() * 1000.0;
            let repeated = match p.repeat.take() {
                Some((known, matched)) if matched == known.bytes().len() => {
                    self.inspector.inner.repeats.fetch_add(1, Ordering::Relaxed);
                    Some(known)
                }
                Some((known, matched)) => {
                    // The response ended early: keep the part it did send.
                    p.exchange
                        .response_body
                        .bytes
                        .extend_from_slice(&known.bytes()[..matched]);
                    None
                }
                None => None,
            };
            if let Some((message, side)) = problem
                && p.exchange.error.is_none()
            {
                p.exchange.error = Some(message);
                p.exchange.error_side = Some(side.to_owned());
            }
            // Hand the boxed exchange on rather than copy it.
            (
                std::mem::replace(&mut p.exchange, Box::new(Exchange::empty())),
                repeated,
            )
        };
        self.inspector.submit(Record::Exchange(exchange, repeated));
    }

    /// The inspector this capture reports to.
    pub fn inspector(&self) -> &Inspector {
        &self.inspector
    }
}

pin_project_lite::pin_project! {
    /// A body that passes every frame through unchanged while the [`Capture`] counts it and
    /// keeps its first bytes. The response tee records the exchange when the body ends.
    pub struct TeeBody<B> {
        #[pin]
        inner: B,
        side: Side,
        capture: Option<Capture>,
        // The body has said it is over; it may then be dropped without a last poll.
        ended: bool,
    }

    impl<B> PinnedDrop for TeeBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.side == Side::Response && let Some(capture) = this.capture.take() {
                if *this.ended {
                    capture.finish(None);
                } else {
                    capture.finish(Some((
                        "the client closed the connection before the response ended".into(),
                        "client",
                    )));
                }
            }
        }
    }
}

impl<B> Body for TeeBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(capture)) = (frame.data_ref(), this.capture.as_ref()) {
                    capture.data(*this.side, data);
                }
                // Every announced byte has passed: the client has the whole body, even if
                // the end is held back a moment (the cache storing its copy) and the client
                // leaves first.
                *this.ended =
                    this.inner.is_end_stream() || this.inner.size_hint().exact() == Some(0);
                if *this.side == Side::Response
                    && *this.ended
                    && let Some(capture) = this.capture.take()
                {
                    capture.finish(None);
                }
            }
            Poll::Ready(Some(Err(err))) => {
                if let Some(capture) = this.capture.take() {
                    let message = match this.side {
                        Side::Request => format!("the request body failed: {err}"),
                        Side::Response => format!("the response body failed: {err}"),
                    };
                    let blame = if *this.side == Side::Request {
                        "client"
                    } else {
                        "upstream"
                    };
                    if *this.side == Side::Response {
                        capture.finish(Some((message, blame)));
                    } else {
                        capture.error(message, blame, None);
                    }
                }
            }
            Poll::Ready(None) => {
                if *this.side == Side::Response
                    && let Some(capture) = this.capture.take()
                {
                    capture.finish(None);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Capture one exchange of `req` answered with `resp` through `inspector`, with every
    /// optional part set when `full`; returns what reached the recorder.
    async fn capture_one(
        inspector: &Inspector,
        queue: &mut mpsc::Receiver<Record>,
        req: http::Request<()>,
        full: bool,
    ) -> Exchange {
        let client = "127.0.0.2:4000".parse().expect("address");
        let start = RequestStart {
            host: "app.localhost",
            client,
            tls: full,
        };
        let capture = inspector.begin(&req, start).expect("capturing");
        if full {
            capture.route(7, "app.localhost/api", "http://127.0.0.1:5173");
            capture.error(
                "the upstream failed".into(),
                "upstream",
                Some("upstream-reset"),
            );
            capture.features(Some("hit"), Some("gzip"));
            capture.upstream_answered();
        }
        let body = http_body_util::Full::new(Bytes::from_static(b"request body"));
        let mut tee = std::pin::pin!(capture.tee(Side::Request, body));
        while std::future::poll_fn(|cx| tee.as_mut().poll_frame(cx))
            .await
            .is_some()
        {}
        let resp = http::Response::builder()
            .status(if full { 502 } else { 200 })
            .header("x-answer", if full { "first" } else { "second" })
            .body(())
            .expect("response");
        capture.response(&resp);
        let body = http_body_util::Full::new(Bytes::from_static(b"response body"));
        let mut tee = std::pin::pin!(capture.tee(Side::Response, body));
        while std::future::poll_fn(|cx| tee.as_mut().poll_frame(cx))
            .await
            .is_some()
        {}
        match queue.recv().await {
            Some(Record::Exchange(exchange, None)) => *exchange,
            other => panic!("an exchange, not {other:?}"),
        }
    }

    /// An exchange the recorder gives back is filled in again by the next request: nothing of
    /// the earlier exchange may show in the later one.
    #[tokio::test]
    async fn a_reused_exchange_keeps_nothing_of_the_one_before() {
        let (inspector, mut queue) = Inspector::new(8, 1 << 20, 0);
        let mut first = http::Request::post("https://app.localhost/api/items?sort=new")
            .header("x-first", "1")
            .body(())
            .expect("request");
        first.extensions_mut().insert(ReplayOf(3));
        let used = capture_one(&inspector, &mut queue, first, true).await;
        assert_eq!(used.route.as_deref(), Some("app.localhost/api"));
        assert_eq!(used.replay_of, Some(3));
        inspector.recycle(vec![Box::new(used)], &[]);
        assert_eq!(inspector.lock_spare().len(), 1);

        let second = || {
            http::Request::get("/plain")
                .header("x-second", "2")
                .body(())
                .expect("request")
        };
        let reused = capture_one(&inspector, &mut queue, second(), false).await;
        assert!(inspector.lock_spare().is_empty(), "the spare one was taken");
        let (fresh_inspector, mut fresh_queue) = Inspector::new(8, 1 << 20, 1);
        let fresh = capture_one(&fresh_inspector, &mut fresh_queue, second(), false).await;
        let same_clock = |mut e: Exchange| {
            e.started_at = 0;
            e.duration_ms = 0.0;
            e
        };
        assert_eq!(same_clock(reused), same_clock(fresh));
    }

    /// A body that sends all its announced bytes, then holds back its end.
    struct HeldEnd {
        sent: bool,
    }

    impl Body for HeldEnd {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.sent {
                return Poll::Pending;
            }
            self.sent = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"whole")))))
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(if self.sent { 0 } else { 5 })
        }
    }

    #[tokio::test]
    async fn a_response_whose_every_byte_passed_is_complete_though_its_end_was_held_back() {
        let (inspector, mut queue) = Inspector::new(8, 1 << 20, 0);
        let req = http::Request::get("/held").body(()).expect("request");
        let start = RequestStart {
            host: "app.localhost",
            client: "127.0.0.2:4000".parse().expect("address"),
            tls: false,
        };
        let capture = inspector.begin(&req, start).expect("capturing");
        capture.response(&http::Response::new(()));
        let mut tee = Box::pin(capture.tee(Side::Response, HeldEnd { sent: false }));
        let frame = std::future::poll_fn(|cx| tee.as_mut().poll_frame(cx)).await;
        assert!(frame.is_some_and(|f| f.is_ok()), "the body's bytes");
        // The client leaves before the end comes.
        drop(tee);
        match queue.recv().await {
            Some(Record::Exchange(exchange, _)) => {
                assert_eq!(exchange.error, None, "recorded as cut off");
                assert_eq!(exchange.response_body.size, 5);
            }
            other => panic!("an exchange, not {other:?}"),
        }
    }

    fn with_response_preview(bytes: Vec<u8>) -> Box<Exchange> {
        let mut exchange = Box::new(Exchange::empty());
        exchange.response_body.bytes = bytes;
        exchange
    }

    #[test]
    fn large_preview_buffers_are_reused_within_the_pool_bounds() {
        let (inspector, _queue) = Inspector::new(8, 1 << 20, 0);
        let mut big = inspector.preview_buffer(100 << 10);
        big.extend_from_slice(b"old preview");
        let at = big.as_ptr();
        inspector.recycle(vec![with_response_preview(big)], &[]);
        // A preview of about the same size gets it back, empty.
        let again = inspector.preview_buffer(90 << 10);
        assert_eq!(again.as_ptr(), at);
        assert!(again.is_empty());
        inspector.recycle(vec![with_response_preview(again)], &[]);
        // A much smaller one does not take it.
        let small = inspector.preview_buffer(20 << 10);
        assert_ne!(small.as_ptr(), at);
        assert!(small.capacity() >= 20 << 10);
        // Small buffers are left to the allocator.
        inspector.recycle(vec![with_response_preview(Vec::with_capacity(1024))], &[]);
        assert_eq!(inspector.lock_pool().buffers.len(), 1);
        // The pool stops at its size.
        let many = (0..64)
            .map(|_| with_response_preview(Vec::with_capacity(1 << 20)))
            .collect();
        inspector.recycle(many, &[]);
        let pool = inspector.lock_pool();
        assert!(pool.bytes <= POOL_BYTES, "{}", pool.bytes);
        assert!(pool.bytes > POOL_BYTES / 2, "{}", pool.bytes);
        assert_eq!(
            pool.bytes,
            pool.buffers.iter().map(Vec::capacity).sum::<usize>()
        );
    }

    #[tokio::test]
    async fn a_large_backlog_of_previews_wakes_the_recorder_early() {
        let (inspector, mut queue) = Inspector::new(64, 1 << 20, 0);
        let record = || Record::Exchange(with_response_preview(Vec::with_capacity(1 << 20)), None);
        for _ in 0..(EARLY_BATCH_BYTES >> 20) - 1 {
            inspector.submit(record());
        }
        assert!(!inspector.backlog_is_large());
        inspector.submit(record());
        assert!(inspector.backlog_is_large());
        tokio::time::timeout(std::time::Duration::from_secs(1), inspector.large_backlog())
            .await
            .expect("the recorder is woken");
        let mut taken = Vec::new();
        queue.recv_many(&mut taken, 64).await;
        inspector.taken(&taken);
        assert!(!inspector.backlog_is_large());
        assert_eq!(inspector.inner.queued_bytes.load(Ordering::Relaxed), 0);
    }
}
