//! Upstream connections: HTTP/1.1 connections to each upstream address, kept open and
//! reused (each lane has its own pool, see `lanes`).
//!
//! A connection goes back to its pool as soon as its response's head has arrived, and is
//! taken again once it is ready for another request (its response body read to the end): a
//! request looks through the pool for a ready one instead of a task per request waiting for
//! the connection to become ready to put it back. A connection the upstream closed is
//! dropped when found; one idle for [`IDLE_TIMEOUT`] is closed by the pool's reaper.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use super::ProxyBody;
use super::resolve::Resolver;

/// How long connecting to an upstream may take. Loopback connects are instant; this bounds
/// upstreams on other hosts that drop packets.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection no request has used for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How often the reaper looks for connections idle too long.
const REAP_EVERY: Duration = Duration::from_secs(15);

/// At most this many connections are kept per upstream address, those with a response
/// still streaming included (a load test's hundreds of concurrent requests keep theirs);
/// more are closed once their response ends.
const MAX_KEPT: usize = 1024;

/// Why a request did not get a response.
#[derive(Debug)]
pub(super) enum SendError {
    /// No connection could be made: the request was never sent.
    Connect(super::BoxError),
    /// The connection failed while the request was sent or its response awaited.
    Send(hyper::Error),
}

/// One pool of upstream connections.
#[derive(Debug)]
pub(super) struct UpstreamPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connector: HttpConnector<Resolver>,
    kept: Mutex<Kept>,
    /// [`IDLE_TIMEOUT`] and [`REAP_EVERY`], shorter in tests.
    idle_timeout: Duration,
    reap_every: Duration,
}

#[derive(Debug, Default)]
struct Kept {
    by_address: HashMap<Authority, VecDeque<Idle>>,
    reaping: bool,
}

#[derive(Debug)]
struct Idle {
    sender: SendRequest<ProxyBody>,
    since: Instant,
}

impl UpstreamPool {
    /// An empty pool.
    pub(super) fn new() -> UpstreamPool {
        UpstreamPool::with_timeouts(IDLE_TIMEOUT, REAP_EVERY)
    }

    fn with_timeouts(idle_timeout: Duration, reap_every: Duration) -> UpstreamPool {
        let mut connector = HttpConnector::new_with_resolver(Resolver::new());
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        UpstreamPool {
            inner: Arc::new(Inner {
                connector,
                kept: Mutex::new(Kept::default()),
                idle_timeout,
                reap_every,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.inner.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Send `req` (its URI absolute: the upstream's address and the path) on a kept
    /// connection to that address, or a new one. A request a kept connection closed before
    /// taking (the upstream ended it while it was idle) is sent again on another.
    pub(super) async fn send(
        &self,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, SendError> {
        let uri = req.uri().clone();
        let Some(address) = uri.authority().cloned() else {
            return Err(SendError::Connect("the upstream URL has no address".into()));
        };
        *req.uri_mut() = origin_form(&uri);
        loop {
            let (mut sender, reused) = match self.take(&address) {
                Some(sender) => (sender, true),
                None => (self.connect(&uri).await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    self.keep(address, sender);
                    return Ok(resp);
                }
                Err(mut err) => match err.take_message() {
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(SendError::Send(err.into_error())),
                },
            }
        }
    }

    /// A kept connection to `address` ready for a request; closed ones found on the way are
    /// dropped.
    fn take(&self, address: &Authority) -> Option<SendRequest<ProxyBody>> {
        let mut kept = self.lock();
        let idle = kept.by_address.get_mut(address)?;
        let mut i = 0;
        while i < idle.len() {
            let Some(entry) = idle.get(i) else { break };
            if entry.sender.is_closed() {
                idle.remove(i);
            } else if entry.sender.is_ready() {
                return idle.remove(i).map(|entry| entry.sender);
            } else {
                i += 1;
            }
        }
        None
    }

    /// Keep `sender` (its response streaming) for the next request to `address`.
    fn keep(&self, address: Authority, sender: SendRequest<ProxyBody>) {
        if sender.is_closed() {
            return;
        }
        let mut kept = self.lock();
        if !kept.reaping {
            kept.reaping = true;
            tokio::spawn(reap(Arc::downgrade(&self.inner)));
        }
        let idle = kept.by_address.entry(address).or_default();
        if idle.len() < MAX_KEPT {
            idle.push_back(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// A new connection for `uri`'s address, ready for a request; its task runs on the
    /// calling thread's runtime (a lane's, for a lane's pool).
    async fn connect(&self, uri: &Uri) -> Result<SendRequest<ProxyBody>, SendError> {
        let mut connector = self.inner.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|err| SendError::Connect(err.into()))?;
        let stream = connector
            .call(uri.clone())
            .await
            .map_err(|err| SendError::Connect(err.into()))?;
        let (mut sender, conn) = http1::Builder::new()
            .handshake(stream)
            .await
            .map_err(SendError::Send)?;
        tokio::spawn(async move {
            if let Err(err) = conn.with_upgrades().await {
                tracing::debug!("upstream connection ended: {err}");
            }
        });
        sender.ready().await.map_err(SendError::Send)?;
        Ok(sender)
    }
}

/// Close the connections of `pool` idle for [`IDLE_TIMEOUT`], every [`REAP_EVERY`], for as
/// long as the pool exists.
async fn reap(pool: Weak<Inner>) {
    let Some(every) = pool.upgrade().map(|inner| inner.reap_every) else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = pool.upgrade() else { return };
        let mut kept = inner.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.by_address.retain(|_, idle| {
            idle.retain(|entry| {
                let expired =
                    entry.sender.is_ready() && entry.since.elapsed() >= inner.idle_timeout;
                !(entry.sender.is_closed() || expired)
            });
            !idle.is_empty()
        });
    }
}

/// `uri` as an HTTP/1.1 request line names it to an origin server: path and query only.
fn origin_form(uri: &Uri) -> Uri {
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    Uri::from(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn get(addr: std::net::SocketAddr) -> Request<ProxyBody> {
        Request::get(format!("http://{addr}/"))
            .header(http::header::HOST, addr.to_string())
            .body(
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed(),
            )
            .expect("request")
    }

    /// An upstream that answers every request on a connection with `ok` and keeps it open;
    /// the channel says when a connection ends and how many requests it served.
    async fn keep_alive_upstream() -> (std::net::SocketAddr, tokio::sync::mpsc::Receiver<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (ended, ends) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            for _ in 0..8 {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let ended = ended.clone();
                tokio::spawn(async move {
                    let mut served = 0;
                    let mut buf = vec![0; 4096];
                    let mut head = Vec::new();
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                        while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                            head.drain(..end + 4);
                            served += 1;
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(answer).await.is_err() {
                                break;
                            }
                        }
                    }
                    let _ = ended.send(served).await;
                });
            }
        });
        (addr, ends)
    }

    #[tokio::test]
    async fn a_connection_is_reused_then_closed_once_idle_too_long() {
        let (addr, mut ends) = keep_alive_upstream().await;
        let pool =
            UpstreamPool::with_timeouts(Duration::from_millis(400), Duration::from_millis(100));
        let started = Instant::now();
        for _ in 0..3 {
            let resp = pool.send(get(addr)).await.expect("answered");
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(&body[..], b"ok");
        }
        // One connection served all three, and the pool closed it once it had been idle for
        // the timeout, not before.
        let served = tokio::time::timeout(Duration::from_secs(5), ends.recv())
            .await
            .expect("closed within 5 s")
            .expect("a connection ended");
        assert_eq!(served, 3, "the three requests shared one connection");
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "closed early"
        );
        assert!(ends.try_recv().is_err(), "no other connection was opened");
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_replaced() {
        // Each connection answers one request, then the upstream closes it (as a dev server
        // does after its keep-alive timeout) without saying so in the response.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            for _ in 0..8 {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    let _ = stream.read(&mut buf).await;
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                });
            }
        });
        let pool = UpstreamPool::new();
        for round in 0..3 {
            let resp = pool.send(get(addr)).await.expect("answered");
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(&body[..], b"ok", "round {round}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let err = UpstreamPool::new()
            .send(get(addr))
            .await
            .expect_err("refused");
        assert!(matches!(err, SendError::Connect(_)), "{err:?}");
    }
}
