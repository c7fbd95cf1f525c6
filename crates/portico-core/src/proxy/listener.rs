//! Binding the HTTP listeners (port 80 when allowed, else 8080) and serving connections with
//! hyper-util's HTTP/1.1 + HTTP/2 server, with graceful shutdown.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Error;
use super::forward::{ConnInfo, Proxy};

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

/// The connection builder every proxy listener serves with: HTTP/1.1 and HTTP/2, upgrades,
/// the header read timeout, and the head and HTTP/2 limits above.
fn connection_builder(opts: &ServeOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(H2_MAX_LOCAL_ERROR_RESET_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST_SIZE);
    builder
}

/// Accept connections on `listener` and serve them with `proxy` until `stop` is cancelled;
/// then stop accepting, let in-flight requests finish for at most `grace`, and return.
/// With `tls`, every connection is a TLS connection (HTTP/2 or HTTP/1.1 by ALPN).
///
/// A connection with no request in flight for the header read timeout is closed, whatever
/// its protocol: hyper's own timeout covers an HTTP/1 head once it has begun, but not a
/// client that connects and sends nothing (hyper-util waits for the first bytes to tell
/// HTTP/1 from HTTP/2 without a limit) nor an idle HTTP/2 connection.
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
    let builder = Arc::new(connection_builder(&opts));
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
        let open = proxy.load().connection();
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
                        let req =
                            req.map(|body: hyper::body::Incoming| body.map_err(Into::into).boxed());
                        Ok::<_, Infallible>(proxy.handle_holding(req, info, working).await)
                    });
                handled
            })
        };
        let builder = builder.clone();
        let stop = stop.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let _open = open;
            let _slot = slot;
            let Some(acceptor) = tls else {
                drive(
                    TokioIo::new(stream),
                    &builder,
                    service,
                    &busy,
                    opts,
                    &stop,
                    client,
                )
                .await;
                return;
            };
            let limit = opts.header_read_timeout.min(TLS_HANDSHAKE_TIMEOUT);
            let handshake = tokio::select! {
                () = stop.cancelled() => return,
                handshake = tokio::time::timeout(limit, acceptor.accept(stream)) => handshake,
            };
            match handshake {
                Ok(Ok(stream)) => {
                    drive(
                        TokioIo::new(stream),
                        &builder,
                        service,
                        &busy,
                        opts,
                        &stop,
                        client,
                    )
                    .await;
                }
                Ok(Err(err)) => tracing::debug!(%client, "TLS handshake failed: {err}"),
                Err(_) => tracing::debug!(%client, "TLS handshake timed out after {limit:?}"),
            }
        });
    }
    drop(listener);
    connections.close();
    // Each connection ends within `grace` of the stop (see `drive`); this bound is a second
    // line for one that does not.
    if tokio::time::timeout(opts.grace + Duration::from_secs(1), connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(%local, "connections still open after {:?}", opts.grace);
    }
}

/// Serve one connection until it ends; when the engine stops or no request has been in
/// flight for the header read timeout, shut it down gracefully (HTTP/2: `GOAWAY`) and drop
/// it if it has not ended within the grace period.
async fn drive<I, S>(
    io: I,
    builder: &auto::Builder<TokioExecutor>,
    service: S,
    busy: &Busy,
    opts: ServeOptions,
    stop: &CancellationToken,
    client: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<super::ProxyBody>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let why = tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%client, "connection ended: {err}");
            }
            return;
        }
        () = stop.cancelled() => "Portico is stopping",
        () = busy.idle_for(opts.header_read_timeout) => "idle",
    };
    tracing::debug!(%client, "closing the connection: {why}");
    conn.as_mut().graceful_shutdown();
    match tokio::time::timeout(opts.grace, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::debug!(%client, "connection ended: {err}"),
        Err(_) => tracing::debug!(%client, "connection dropped after {:?}", opts.grace),
    }
}

/// The requests in flight on one connection, and a signal when that number changes.
#[derive(Debug, Default)]
struct Busy {
    requests: AtomicUsize,
    changed: Notify,
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

    /// Return once no request has been in flight for `limit` without a break.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the count is read, so a change in between is not missed.
            changed.as_mut().enable();
            if self.requests.load(Ordering::SeqCst) == 0 {
                tokio::select! {
                    () = tokio::time::sleep(limit) => return,
                    () = changed => {}
                }
            } else {
                changed.await;
            }
        }
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}
