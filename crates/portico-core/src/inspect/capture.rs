//! Capturing one exchange as it passes: a [`Capture`] is opened when the request arrives,
//! filled in by the proxy (route, upstream, status, error), and fed by [`TeeBody`] wrappers
//! that copy the first bytes of each body while it streams. When the response body ends (or
//! the client goes away) the exchange is handed to the [`Inspector`]'s bounded queue; if the
//! queue is full it is dropped and counted, and the request is never delayed.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use super::event::{Exchange, ExchangeId, Preview, WebSocketStats};
use super::headers::Headers;

/// Default capture limit per body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Default queue length between the proxy and the recorder.
pub const DEFAULT_QUEUE: usize = 4096;

/// What travels from the proxy to the recorder.
#[derive(Debug)]
pub enum Record {
    /// A finished exchange.
    Exchange(Box<Exchange>),
    /// The final counts of an upgraded connection.
    WebSocket {
        /// The exchange of its upgrade.
        id: ExchangeId,
        /// The counts.
        stats: WebSocketStats,
    },
}

/// Marks a request as a replay of an earlier exchange (a request extension).
#[derive(Debug, Clone, Copy)]
pub struct ReplayOf(pub ExchangeId);

/// The id an exchange was captured under (a response extension).
#[derive(Debug, Clone, Copy)]
pub struct CapturedAs(pub ExchangeId);

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
        if self.inner.queue.try_send(record).is_err() {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Open a capture for a request (`None` while paused).
    pub fn begin<B>(&self, req: &http::Request<B>, start: RequestStart<'_>) -> Option<Capture> {
        if self.paused() {
            return None;
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let uri = req.uri();
        let started_at = crate::unix_millis();
        let mut request_headers = Headers::from_map(req.headers());
        // HTTP/2 carries the host (and port) in `:authority`, not in a Host header; keep it
        // so the URL can be rebuilt (curl, HAR, replay).
        if let Some(authority) = uri.authority()
            && !req.headers().contains_key(http::header::HOST)
        {
            request_headers.push_front(":authority", authority.as_str());
        }
        let head = head_size(
            // `METHOD target HTTP/1.1\r\n`; the target is the path and query (origin form).
            req.method().as_str().len() + uri.path_and_query().map_or(1, |p| p.as_str().len()) + 12,
            req.headers(),
        );
        let exchange = Exchange {
            id,
            started_at,
            method: req.method().to_string(),
            scheme: if start.tls { "https" } else { "http" }.to_owned(),
            host: start.host.to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            version: version_name(req.version()).to_owned(),
            client: start.client.to_string(),
            route_id: None,
            route: None,
            upstream: None,
            status: None,
            duration_ms: 0.0,
            ttfb_ms: None,
            bytes_in: head,
            bytes_out: 0,
            error: None,
            error_side: None,
            error_code: None,
            request_headers,
            response_headers: Headers::new(),
            request_body: Preview::default(),
            response_body: Preview::default(),
            websocket: None,
            replay_of: req.extensions().get::<ReplayOf>().map(|r| r.0),
            imported: false,
            cache: None,
            compression: None,
        };
        Some(Capture {
            id,
            inner: Arc::new(Mutex::new(Partial {
                exchange,
                started: Instant::now(),
                limit: self.inner.body_limit.load(Ordering::Relaxed),
                finished: false,
                cancelled: false,
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

/// Bytes of a message head: the start line plus `name: value\r\n` per header and the blank line.
fn head_size(start_line: usize, headers: &HeaderMap) -> u64 {
    let fields: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    (start_line + fields + 2) as u64
}

struct Partial {
    exchange: Exchange,
    started: Instant,
    limit: usize,
    finished: bool,
    cancelled: bool,
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
        p.exchange.route = Some(label.to_owned());
        p.exchange.upstream = Some(upstream.to_owned());
    }

    /// The upstream that served the request (one of several the route balances over).
    pub fn upstream(&self, upstream: &str) {
        self.lock().exchange.upstream = Some(upstream.to_owned());
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
        p.exchange.response_headers = Headers::from_map(resp.headers());
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
            let mut p = self.lock();
            let want = usize::try_from(len).unwrap_or(usize::MAX).min(p.limit);
            match side {
                Side::Request => p.exchange.request_body.bytes.reserve_exact(want),
                Side::Response => p.exchange.response_body.bytes.reserve_exact(want),
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
        let exchange = &mut p.exchange;
        let (preview, wire) = match side {
            Side::Request => (&mut exchange.request_body, &mut exchange.bytes_in),
            Side::Response => (&mut exchange.response_body, &mut exchange.bytes_out),
        };
        preview.size += chunk.len() as u64;
        *wire += chunk.len() as u64;
        let room = limit.saturating_sub(preview.bytes.len());
        preview
            .bytes
            .extend_from_slice(&chunk[..room.min(chunk.len())]);
    }

    /// The response is over (ended, failed, or the client left): record the exchange once.
    pub fn finish(&self, problem: Option<(String, &str)>) {
        let exchange = {
            let mut p = self.lock();
            if p.finished {
                return;
            }
            p.finished = true;
            if p.cancelled {
                return;
            }
            p.exchange.duration_ms = p.started.elapsed().as_secs_f64() * 1000.0;
            if let Some((message, side)) = problem
                && p.exchange.error.is_none()
            {
                p.exchange.error = Some(message);
                p.exchange.error_side = Some(side.to_owned());
            }
            // Move the exchange out rather than copy its body previews.
            std::mem::replace(&mut p.exchange, Exchange::empty())
        };
        self.inspector.submit(Record::Exchange(Box::new(exchange)));
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
                *this.ended = this.inner.is_end_stream();
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
