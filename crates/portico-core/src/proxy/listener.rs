//! Binding the HTTP listeners (port 80 when allowed, else 8080) and serving connections with
//! hyper-util's HTTP/1.1 + HTTP/2 server, with graceful shutdown.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

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
    /// How long an HTTP/1 client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may take to finish once shutdown starts.
    pub grace: Duration,
    /// Serve only this route, whatever the request's `Host` (a route shared on the LAN).
    pub shared_route: Option<crate::config::RouteId>,
}

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accept connections on `listener` and serve them with `proxy` until `stop` is cancelled;
/// then stop accepting, let in-flight requests finish for at most `grace`, and return.
/// With `tls`, every connection is a TLS connection (HTTP/2 or HTTP/1.1 by ALPN).
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
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
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
        // The slot travels with the connection's task and is given back when the task ends,
        // however the connection ends.
        let (slot, over_limit) = proxy.admit_connection(client.ip());
        let info = ConnInfo {
            client,
            local,
            tls: tls.is_some(),
            over_limit,
            shared_route: opts.shared_route,
        };
        let proxy = proxy.clone();
        // The request's future is boxed here, so the connection holds a pointer while it is
        // idle: hyper keeps a slot the size of the service's future for every connection, and
        // `Proxy::handle`'s whole state machine in it cost each idle keep-alive connection
        // tens of KiB.
        let service = service_fn(move |req| {
            let proxy = proxy.clone();
            let handled: std::pin::Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
                let req = req.map(|body: hyper::body::Incoming| body.map_err(Into::into).boxed());
                Ok::<_, Infallible>(proxy.handle(req, info).await)
            });
            handled
        });
        match &tls {
            None => {
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _slot = slot;
                    if let Err(err) = conn.await {
                        tracing::debug!(%client, "connection ended: {err}");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let _slot = slot;
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    let stream = match handshake {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(err)) => {
                            tracing::debug!(%client, "TLS handshake failed: {err}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%client, "TLS handshake timed out");
                            return;
                        }
                    };
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    if let Err(err) = watcher.watch(conn).await {
                        tracing::debug!(%client, "connection ended: {err}");
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(opts.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(%local, "connections still open after {:?}; closing them", opts.grace);
    }
}
