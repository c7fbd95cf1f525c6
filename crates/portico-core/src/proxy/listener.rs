//! Binding the HTTP listeners (port 80 when allowed, else 8080) and serving connections with
//! hyper's HTTP/1.1 and HTTP/2 servers, with graceful shutdown; idle HTTP/1 connections are
//! parked without hyper's buffers (see [`PARK_AFTER`]).

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Error;
use super::forward::{ConnInfo, Proxy};
use super::load::Load;

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenSpec {
    /// The preferred port on loopback (127.0.0.1 and ::1); if it cannot be bound, the
    /// fallback port, with a [`Fallback`] saying why.
    Default {
        /// Tried first (80 for HTTP).
        preferred: u16,
        /// Used when the preferred port cannot be bound (8080 for HTTP).
        fallback: u16,
    },
    /// Exactly this address (port 0 picks a free one).
    Addr(SocketAddr),
}

/// Why the preferred port was not used.
#[derive(Debug, Clone)]
pub struct Fallback {
    /// The port that was wanted.
    pub wanted: u16,
    /// The port used instead.
    pub used: u16,
    /// Why the wanted port could not be bound.
    pub reason: io::ErrorKind,
}

impl Fallback {
    /// One clear line for the user: what happened and how to get the preferred port.
    /// `exe` is the program to name in the `setcap` command; `scheme` is `http` or `https`.
    pub fn explain(&self, exe: &Path, scheme: &str) -> String {
        let Fallback { wanted, used, .. } = self;
        if self.reason == io::ErrorKind::AddrInUse {
            return format!(
                "port {wanted} is in use by another program, so Portico listens on {used} instead \
                 ({scheme}://app.localhost:{used}). Stop that program (see: sudo ss -ltnp 'sport = :{wanted}') to use port {wanted}."
            );
        }
        format!(
            "port {wanted} needs privileges, so Portico listens on {used} instead ({scheme}://app.localhost:{used}). \
             To use port {wanted}, run once: sudo setcap cap_net_bind_service=+ep {exe} \
             (or allow low ports for everyone: sudo sysctl net.ipv4.ip_unprivileged_port_start={wanted})",
            exe = exe.display()
        )
    }
}

/// Bound listeners, ready to serve.
#[derive(Debug)]
pub struct Listeners {
    /// The sockets, in order.
    pub sockets: Vec<TcpListener>,
    /// Set when the preferred port could not be used.
    pub fallback: Option<Fallback>,
}

impl Listeners {
    /// Bind according to `spec`.
    pub async fn bind(spec: &ListenSpec) -> Result<Listeners, Error> {
        match spec {
            ListenSpec::Addr(addr) => Ok(Listeners {
                sockets: vec![bind_one(*addr).await?],
                fallback: None,
            }),
            ListenSpec::Default {
                preferred,
                fallback,
            } => {
                let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
                let (first, fell_back) = match bind_one(SocketAddr::new(v4, *preferred)).await {
                    Ok(socket) => (socket, None),
                    Err(Error::Bind { source, .. }) => {
                        let socket = bind_one(SocketAddr::new(v4, *fallback)).await?;
                        let note = Fallback {
                            wanted: *preferred,
                            used: *fallback,
                            reason: source.kind(),
                        };
                        (socket, Some(note))
                    }
                    Err(other) => return Err(other),
                };
                let port = first.local_addr().map_err(|source| Error::Bind {
                    addr: SocketAddr::new(v4, *preferred),
                    source,
                })?;
                // The port really used (the fallback may be 0: any free port).
                let fell_back = fell_back.map(|note| Fallback {
                    used: port.port(),
                    ..note
                });
                let mut sockets = vec![first];
                // Browsers may resolve *.localhost to ::1 first; serve it too when the
                // machine has IPv6 loopback.
                let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port.port());
                match bind_one(v6).await {
                    Ok(socket) => sockets.push(socket),
                    Err(err) => tracing::debug!("not listening on IPv6 loopback: {err}"),
                }
                Ok(Listeners {
                    sockets,
                    fallback: fell_back,
                })
            }
        }
    }

    /// The addresses actually bound.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.sockets
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }
}

async fn bind_one(addr: SocketAddr) -> Result<TcpListener, Error> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(|source| Error::Bind { addr, source })?;
    // Restarting Portico must not wait for old connections in TIME_WAIT.
    socket
        .set_reuseaddr(true)
        .map_err(|source| Error::Bind { addr, source })?;
    socket
        .bind(addr)
        .map_err(|source| Error::Bind { addr, source })?;
    socket
        .listen(1024)
        .map_err(|source| Error::Bind { addr, source })
}

/// Options for [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long a client may take to send a request's headers (HTTP/1), to complete its TLS
    /// handshake (at most 10 s), and how long a connection may stay without a request in
    /// flight, whatever its protocol.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may take to finish once shutdown starts.
    pub grace: Duration,
    /// Serve only this route, whatever the request's `Host` (a route shared on the LAN).
    pub shared_route: Option<crate::config::RouteId>,
}

/// How long a client may take to complete the TLS handshake, at most: less when the header
/// read timeout is shorter, since a handshake is the first thing a client must send.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP/2 streams one connection may have open at once (nginx's default). More are refused
/// with `REFUSED_STREAM`, so one connection cannot start unbounded work upstream.
const H2_MAX_CONCURRENT_STREAMS: u32 = 128;

/// HTTP/2 streams a client may open and reset before the server has accepted them (the
/// "rapid reset" attack, CVE-2023-44487); past it the connection ends with `GOAWAY`
/// (`ENHANCE_YOUR_CALM`).
const H2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;

/// HTTP/2 streams the server may reset for a client's protocol errors before it ends the
/// connection.
const H2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;

/// The largest HTTP/2 request header list accepted (names, values and 32 bytes each, as
/// RFC 9113 counts); a larger one is answered 431 by the HTTP/2 layer. HTTP/1 heads are
/// bounded by hyper's read buffer (about 400 KiB; 431 beyond it) and then by the proxy at
/// the same 64 KiB (`proxy::MAX_HEAD_BYTES`).
const H2_MAX_HEADER_LIST_SIZE: u32 = super::MAX_HEAD_BYTES as u32;

/// How long an HTTP/1 connection may stay quiet before it is parked: hyper's read and write
/// buffers (8 KiB each, 24 KiB once the read buffer has grown) are given back, and the
/// connection waits on its socket with nothing allocated but the socket until the client
/// sends again. Busy keep-alive connections (a benchmark, a page loading) never pause this
/// long, so they keep their buffers; a browser's idle connections cost a few KiB each
/// instead of about 30.
const PARK_AFTER: Duration = Duration::from_secs(1);

/// The HTTP/2 connection preface (RFC 9113 §3.4): a plain connection that starts with it
/// speaks HTTP/2 with prior knowledge; anything else is HTTP/1.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The connection builders every proxy listener serves with: HTTP/1.1 with upgrades and the
/// header read timeout, HTTP/2 with the limits above.
struct Builders {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
}

fn builders(opts: &ServeOptions) -> Builders {
    let mut http1 = http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(H2_MAX_LOCAL_ERROR_RESET_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST_SIZE);
    Builders { http1, http2 }
}

/// What one connection is served with.
struct Conn<'a, S> {
    builders: &'a Builders,
    load: &'a Arc<Load>,
    service: S,
    busy: &'a Arc<Busy>,
    opts: ServeOptions,
    stop: &'a CancellationToken,
    client: SocketAddr,
}

/// Accept connections on `listener` and serve them with `proxy` until `stop` is cancelled;
/// then stop accepting, let in-flight requests finish for at most `grace`, and return.
/// With `tls`, every connection is a TLS connection (HTTP/2 or HTTP/1.1 by ALPN); without,
/// a connection whose first bytes are the HTTP/2 preface is HTTP/2, any other HTTP/1.1.
///
/// A connection with no request in flight for the header read timeout is closed, whatever
/// its protocol: hyper's own timeout covers an HTTP/1 head once it has begun, but not a
/// client that connects and sends nothing nor an idle HTTP/2 connection. An HTTP/1
/// connection quiet for [`PARK_AFTER`] is parked (see there) until then.
pub async fn serve(
    listener: TcpListener,
    proxy: Proxy,
    opts: ServeOptions,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) {
    let Ok(local) = listener.local_addr() else {
        return;
    };
    let builders = Arc::new(builders(&opts));
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, client) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%local, "accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {err}");
        }
        // Both guards travel with the connection's task and are given back when the task
        // ends, however the connection ends.
        let load = proxy.load().clone();
        let open = load.connection();
        let (slot, over_limit) = proxy.admit_connection(client.ip());
        let info = ConnInfo {
            client,
            local,
            tls: tls.is_some(),
            over_limit,
            shared_route: opts.shared_route,
        };
        let busy = Arc::new(Busy::default());
        let service = {
            let proxy = proxy.clone();
            let busy = busy.clone();
            // The request's future is boxed here, so the connection holds a pointer while it
            // is idle: hyper keeps a slot the size of the service's future for every
            // connection, and `Proxy::handle`'s whole state machine in it cost each idle
            // keep-alive connection tens of KiB.
            service_fn(move |req| {
                let proxy = proxy.clone();
                let working = busy.start();
                let handled: std::pin::Pin<Box<dyn Future<Output = _> + Send>> =
                    Box::pin(async move {
                        // HTTP/1 bodies left unread are read on (see `Lingering`); an
                        // HTTP/2 stream is reset on its own, without the connection.
                        let http1 = req.version() < http::Version::HTTP_2;
                        let req = req.map(|body: hyper::body::Incoming| {
                            if http1 {
                                super::body::Lingering::new(body)
                                    .map_err(Into::into)
                                    .boxed()
                            } else {
                                body.map_err(Into::into).boxed()
                            }
                        });
                        Ok::<_, Infallible>(proxy.handle_holding(req, info, working).await)
                    });
                handled
            })
        };
        let builders = builders.clone();
        let stop = stop.clone();
        let tls = tls.clone();
        proxy.spawn_connection(&connections, stream, move |stream| async move {
            let _open = open;
            let _slot = slot;
            let conn = Conn {
                builders: &builders,
                load: &load,
                service,
                busy: &busy,
                opts,
                stop: &stop,
                client,
            };
            serve_connection(stream, tls, conn).await;
        });
    }
    drop(listener);
    connections.close();
    // Each connection ends within `grace` of the stop (see `drive_http1`); this bound is a second
    // line for one that does not.
    if tokio::time::timeout(opts.grace + Duration::from_secs(1), connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(%local, "connections still open after {:?}", opts.grace);
    }
}

/// The service every connection is served with.
trait ConnService:
    hyper::service::Service<
        http::Request<hyper::body::Incoming>,
        Response = http::Response<super::ProxyBody>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Unpin
    + Send
    + 'static
{
}

impl<S> ConnService for S where
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<super::ProxyBody>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Unpin
        + Send
        + 'static
{
}

/// Serve one accepted connection, plain or TLS.
///
/// A task is as large as the largest state of its future, for its whole life: the TLS path
/// (a rustls connection inline) and the HTTP/2 path are boxed so that a plain HTTP/1
/// connection, parked most of the time, does not carry them.
async fn serve_connection<S: ConnService>(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    conn: Conn<'_, S>,
) {
    match tls {
        None => serve_plain(stream, conn).await,
        Some(acceptor) => Box::pin(serve_tls(stream, &acceptor, conn)).await,
    }
}

/// A plain connection: nothing is allocated for it until its first bytes come (within the
/// header read timeout), which also tell HTTP/2 with prior knowledge from HTTP/1.
async fn serve_plain<S: ConnService>(stream: TcpStream, conn: Conn<'_, S>) {
    let first = tokio::select! {
        () = conn.stop.cancelled() => return,
        first = tokio::time::timeout(conn.opts.header_read_timeout, starts_http2(&stream)) => first,
    };
    match first {
        Ok(Ok(true)) => Box::pin(drive_http2(TokioIo::new(stream), conn)).await,
        Ok(Ok(false)) => drive_http1(stream, conn).await,
        Ok(Err(err)) => tracing::debug!(client = %conn.client, "connection failed: {err}"),
        Err(_) => tracing::debug!(client = %conn.client, "closing the connection: nothing sent"),
    }
}

/// Whether a plain connection's first bytes are the HTTP/2 preface; they are looked at, not
/// taken, so the protocol's server reads them again.
async fn starts_http2(stream: &TcpStream) -> io::Result<bool> {
    let mut first = [0; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut first).await?;
        if n == 0 || first[..n] != H2_PREFACE[..n] {
            // Ended, or not the preface: HTTP/1 (which answers what it was sent).
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        // The start of the preface so far: the socket stays readable, so look again after
        // a moment instead of at once.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A TLS connection: the handshake (within its limit), then HTTP/2 or HTTP/1.1 by ALPN.
async fn serve_tls<S: ConnService>(stream: TcpStream, acceptor: &TlsAcceptor, conn: Conn<'_, S>) {
    let limit = conn.opts.header_read_timeout.min(TLS_HANDSHAKE_TIMEOUT);
    // Boxed: the handshake's state is large and would otherwise stay in every connection's
    // task for its whole life.
    let handshake = Box::pin(tokio::time::timeout(limit, acceptor.accept(stream)));
    let handshake = tokio::select! {
        () = conn.stop.cancelled() => return,
        handshake = handshake => handshake,
    };
    match handshake {
        Ok(Ok(stream)) => {
            if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                drive_http2(TokioIo::new(stream), conn).await;
            } else {
                drive_http1(stream, conn).await;
            }
        }
        Ok(Err(err)) => tracing::debug!(client = %conn.client, "TLS handshake failed: {err}"),
        Err(_) => tracing::debug!(client = %conn.client, "TLS handshake timed out after {limit:?}"),
    }
}

/// Serve an HTTP/2 connection until it ends; when the engine stops or no request has been
/// in flight for the header read timeout, shut it down gracefully (`GOAWAY`) and drop it if
/// it has not ended within the grace period.
async fn drive_http2<I, S>(io: I, conn: Conn<'_, S>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: ConnService,
{
    let Conn {
        builders,
        service,
        busy,
        opts,
        stop,
        client,
        ..
    } = conn;
    let mut served = Box::pin(builders.http2.serve_connection(io, service));
    let why = tokio::select! {
        result = served.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%client, "connection ended: {err}");
            }
            return;
        }
        () = stop.cancelled() => "Portico is stopping",
        _ = busy.rest(opts.header_read_timeout, None) => "idle",
    };
    tracing::debug!(%client, "closing the connection: {why}");
    served.as_mut().graceful_shutdown();
    finish(served, opts.grace, client).await;
}

/// Serve an HTTP/1 connection until it ends. Like [`drive_http2`] it is closed when the
/// engine stops or after the header read timeout without a request; in between, once it
/// has been quiet for [`PARK_AFTER`], hyper's connection is ended without closing the
/// socket (it reads end-of-file at its next read, see [`Parkable`]), and a new one is
/// started when the client sends again.
async fn drive_http1<T: Socket, S: ConnService>(socket: T, conn: Conn<'_, S>) {
    let Conn {
        builders,
        load,
        service,
        busy,
        opts,
        stop,
        client,
    } = conn;
    let mut io = Parkable {
        socket,
        busy: busy.clone(),
        leftover: Bytes::new(),
    };
    let mut parked = false;
    loop {
        if parked && io.leftover.is_empty() {
            // Parked: the idle time so far is PARK_AFTER; the rest of the header read
            // timeout is waited here.
            let _parked = load.parked();
            let woken = tokio::select! {
                woken = io.socket.tcp().readable() => woken,
                () = stop.cancelled() => return,
                () = tokio::time::sleep(opts.header_read_timeout.saturating_sub(PARK_AFTER)) => {
                    tracing::debug!(%client, "closing the parked connection: idle");
                    return;
                }
            };
            if let Err(err) = woken {
                tracing::debug!(%client, "connection failed: {err}");
                return;
            }
        }
        busy.parking.store(false, Ordering::Relaxed);
        let mut served = Box::new(
            builders
                .http1
                .serve_connection(TokioIo::new(io), service.clone())
                .with_upgrades(),
        );
        let why = tokio::select! {
            result = &mut *served => {
                if let Err(err) = result {
                    tracing::debug!(%client, "connection ended: {err}");
                }
                return;
            }
            () = stop.cancelled() => Some("Portico is stopping"),
            rest = busy.rest(opts.header_read_timeout, Some(PARK_AFTER)) => match rest {
                Rest::Idle => Some("idle"),
                Rest::Quiet => None,
            },
        };
        if let Some(why) = why {
            tracing::debug!(%client, "closing the connection: {why}");
            let mut served = std::pin::Pin::new(served);
            served.as_mut().graceful_shutdown();
            finish(served, opts.grace, client).await;
            return;
        }
        // Nothing in flight, nothing unread, nothing unflushed: hyper's next read sees the
        // end of the stream and the connection ends as if the client had closed it, except
        // that the socket is kept (see `Parkable`).
        busy.parking.store(true, Ordering::Relaxed);
        match tokio::time::timeout(opts.grace, &mut *served).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::debug!(%client, "connection ended while parking: {err}");
                return;
            }
            Err(_) => {
                tracing::debug!(%client, "connection did not park within {:?}", opts.grace);
                return;
            }
        }
        let Some(parts) = served.into_parts() else {
            return;
        };
        io = parts.io.into_inner();
        // A copy: the bytes left over are a view of hyper's whole read buffer, which would
        // otherwise stay allocated while the connection is parked (usually nothing is left).
        io.leftover = if parts.read_buf.is_empty() {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(&parts.read_buf)
        };
        parked = true;
    }
}

/// Wait at most `grace` for a connection being shut down gracefully to end, then drop it.
async fn finish<F>(served: F, grace: Duration, client: SocketAddr)
where
    F: Future<Output = Result<(), hyper::Error>>,
{
    match tokio::time::timeout(grace, served).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::debug!(%client, "connection ended: {err}"),
        Err(_) => tracing::debug!(%client, "connection dropped after {grace:?}"),
    }
}

/// The transport under a connection, plain TCP or TLS over it: a parked connection waits
/// on the TCP socket itself.
trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    fn tcp(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Socket for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// An HTTP/1 connection's transport as hyper sees it. It tells [`Busy`] when bytes were
/// read and whether everything written was flushed; while parking it answers a read with
/// the end of the stream and a shutdown with success, so hyper's connection ends cleanly
/// and gives the socket back open. Bytes hyper had read but not used come first next time.
struct Parkable<T> {
    socket: T,
    busy: Arc<Busy>,
    leftover: Bytes,
}

impl<T: Socket> AsyncRead for Parkable<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.leftover.is_empty() {
            let n = self.leftover.len().min(buf.remaining());
            buf.put_slice(&self.leftover.split_to(n));
            return Poll::Ready(Ok(()));
        }
        if self.busy.parking.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.socket).poll_read(cx, buf);
        if buf.filled().len() > before {
            // Only this connection's task counts, so no read-modify-write is needed.
            let reads = self.busy.reads.load(Ordering::Relaxed);
            self.busy.reads.store(reads + 1, Ordering::Relaxed);
        }
        polled
    }
}

impl<T: Socket> AsyncWrite for Parkable<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.busy.unflushed.store(true, Ordering::Relaxed);
        std::pin::Pin::new(&mut self.socket).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.busy.unflushed.store(true, Ordering::Relaxed);
        std::pin::Pin::new(&mut self.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let flushed = std::pin::Pin::new(&mut self.socket).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            self.busy.unflushed.store(false, Ordering::Relaxed);
        }
        flushed
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if self.busy.parking.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.socket).poll_shutdown(cx)
    }
}

/// The requests in flight on one connection, and a signal when that number changes; for
/// HTTP/1, also what [`Parkable`] saw of its transport.
#[derive(Debug, Default)]
struct Busy {
    requests: AtomicUsize,
    changed: Notify,
    /// Reads that returned bytes. This field, `reads_when_idle`, `unflushed` and `parking`
    /// are written and read by the connection's own task only (atomics because `Busy` is
    /// shared with the service), so they need no ordering.
    reads: AtomicU64,
    /// `reads` when the last request in flight ended.
    reads_when_idle: AtomicU64,
    /// Something was written and not yet flushed.
    unflushed: AtomicBool,
    /// The connection is being parked: reads see the end of the stream.
    parking: AtomicBool,
}

/// One request in flight on a connection; dropping it (with the response body) ends it.
#[derive(Debug)]
struct Working(Arc<Busy>);

impl Busy {
    fn start(self: &Arc<Self>) -> Working {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        Working(self.clone())
    }

    /// Return [`Rest::Idle`] once no request has been in flight for `close_after` without a
    /// break; with `park_after`, [`Rest::Quiet`] first if the connection has been quiet
    /// (see [`Busy::is_quiet`]) for that long, looked at again every `park_after` while it
    /// is not. One future with one timer, polled at every wake-up of the connection.
    async fn rest(&self, close_after: Duration, park_after: Option<Duration>) -> Rest {
        let timer = tokio::time::sleep(close_after);
        tokio::pin!(timer);
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the count is read, so a change in between is not missed.
            changed.as_mut().enable();
            if self.requests.load(Ordering::SeqCst) != 0 {
                changed.await;
                continue;
            }
            let idle_since = tokio::time::Instant::now();
            let close_at = idle_since + close_after;
            let mut look_at = park_after.map(|every| idle_since + every);
            loop {
                let wake_at = look_at.map_or(close_at, |at| at.min(close_at));
                timer.as_mut().reset(wake_at);
                tokio::select! {
                    () = timer.as_mut() => {}
                    // A request began or ended: count the idle time from the start.
                    () = changed.as_mut() => break,
                }
                if wake_at >= close_at {
                    return Rest::Idle;
                }
                if self.is_quiet() {
                    return Rest::Quiet;
                }
                look_at = park_after.map(|every| wake_at + every);
            }
        }
    }

    /// No request in flight, no byte read since the last one ended (no next request has
    /// begun), and nothing written left unflushed.
    fn is_quiet(&self) -> bool {
        self.requests.load(Ordering::SeqCst) == 0
            && self.reads.load(Ordering::Relaxed) == self.reads_when_idle.load(Ordering::Relaxed)
            && !self.unflushed.load(Ordering::Relaxed)
    }
}

/// Why [`Busy::rest`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    /// No request for the whole header read timeout: close.
    Idle,
    /// Quiet for the parking pause: park.
    Quiet,
}

impl Drop for Working {
    fn drop(&mut self) {
        if self.0.requests.fetch_sub(1, Ordering::SeqCst) == 1 {
            let reads = self.0.reads.load(Ordering::Relaxed);
            self.0.reads_when_idle.store(reads, Ordering::Relaxed);
        }
        self.0.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection's task is as large as its future's largest state for its whole life,
    /// parked or not. The TLS path and the HTTP/2 path are boxed, so a plain HTTP/1
    /// connection's stays around 1 KiB (in a debug build; smaller in release).
    #[tokio::test]
    async fn a_plain_connection_task_stays_small() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let opts = ServeOptions {
            header_read_timeout: Duration::from_secs(1),
            grace: Duration::from_secs(1),
            shared_route: None,
        };
        let builders = builders(&opts);
        let load = Arc::new(Load::default());
        let busy = Arc::new(Busy::default());
        let stop = CancellationToken::new();
        let service = service_fn(|_req: http::Request<hyper::body::Incoming>| async {
            Ok::<_, Infallible>(http::Response::new(super::super::ProxyBody::default()))
        });
        let conn = || Conn {
            builders: &builders,
            load: &load,
            service,
            busy: &busy,
            opts,
            stop: &stop,
            client: addr,
        };
        let stream = TcpStream::connect(addr).await.expect("connect");
        let served = serve_connection(stream, None, conn());
        let size = std::mem::size_of_val(&served);
        assert!(size <= 2048, "a connection's future is {size} bytes");
    }
}
