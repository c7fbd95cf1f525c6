//! The LAN listeners: one HTTPS listener per shared route, the CA page while anything is
//! shared, started and stopped to match the routes, and what the API says about each.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Error, ca_page, qr_svg, url};
use crate::config::{IpList, Route, RouteId, share_allow_list};
use crate::proxy::{ListenSpec, Listeners, Proxy, ServeOptions};
use crate::tls::Tls;

/// A route's sharing as the API and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ShareInfo {
    /// The route.
    pub route_id: i64,
    /// The route's host and path, e.g. `app.localhost/`.
    pub route: String,
    /// Whether the route is switched to shared (and not expired).
    pub shared: bool,
    /// Whether its LAN listener is up now.
    pub listening: bool,
    /// The address devices on the network open, e.g. `https://192.168.1.20:51234/`.
    #[schema(required = true)]
    pub url: Option<String>,
    /// The page that helps a device install Portico's CA, e.g.
    /// `http://192.168.1.20:51235/ca`.
    #[schema(required = true)]
    pub ca_url: Option<String>,
    /// The LAN address shared on.
    #[schema(required = true)]
    pub lan_address: Option<String>,
    /// When sharing stops by itself, in Unix milliseconds.
    #[schema(required = true)]
    pub expires_at: Option<u64>,
    /// Who may connect (the route's `share_allow_ips`, or the private ranges).
    pub allow_ips: Vec<String>,
    /// `url` as a QR code (SVG).
    #[schema(required = true)]
    pub qr_svg: Option<String>,
    /// `ca_url` as a QR code (SVG).
    #[schema(required = true)]
    pub ca_qr_svg: Option<String>,
    /// Why the route is shared but not listening, and what to do.
    #[schema(required = true)]
    pub problem: Option<String>,
}

/// The LAN listeners. Cheap to share behind an `Arc`; every change goes through
/// [`Sharing::sync`].
#[derive(Debug)]
pub struct Sharing {
    proxy: Proxy,
    tls: Tls,
    opts: ServeOptions,
    stop: CancellationToken,
    tasks: TaskTracker,
    running: tokio::sync::Mutex<Running>,
}

#[derive(Debug, Default)]
struct Running {
    lan: Option<IpAddr>,
    /// Why there is no LAN address (or the CA cannot vouch for it).
    lan_problem: Option<String>,
    routes: HashMap<RouteId, Listening>,
    problems: HashMap<RouteId, String>,
    ca: Option<Listening>,
    /// The CA page's port once chosen, reused while Portico runs so printed links keep
    /// working.
    ca_port: Option<u16>,
}

#[derive(Debug)]
struct Listening {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Where sharing should be, as the engine sees it.
#[derive(Debug, Clone)]
pub enum Lan {
    /// Share on this address.
    At(IpAddr),
    /// Nothing can be shared; the reason, said to the user.
    Unavailable(String),
}

impl Sharing {
    /// Listeners that serve through `proxy` with certificates from `tls`; they stop when
    /// `stop` is cancelled and are tracked by `tasks` (so shutdown waits for them).
    pub fn new(
        proxy: Proxy,
        tls: Tls,
        opts: ServeOptions,
        stop: CancellationToken,
        tasks: TaskTracker,
    ) -> Self {
        Sharing {
            proxy,
            tls,
            opts,
            stop,
            tasks,
            running: tokio::sync::Mutex::default(),
        }
    }

    /// Make the listeners match `routes` at `now_ms`: each route that is shared (enabled,
    /// not expired) listens on `lan:share_port`, the others do not, and the CA
    /// page listens on `lan:ca_port` while any does. A port that cannot be bound is
    /// reported through [`Sharing::info`], not as an error, so one busy port does not stop
    /// the others.
    pub async fn sync(&self, routes: &[Route], lan: Lan, ca_port: Option<u16>, now_ms: u64) {
        let mut running = self.running.lock().await;
        let wanted: Vec<&Route> = routes.iter().filter(|r| r.shared_at(now_ms)).collect();
        let ip = match lan {
            Lan::At(ip) => {
                running.lan_problem = None;
                Some(ip)
            }
            Lan::Unavailable(reason) => {
                running.lan_problem = (!wanted.is_empty()).then_some(reason);
                None
            }
        };
        if running.lan != ip {
            // A new address: every listener moves.
            running.routes.clear();
            running.ca = None;
            running.lan = ip;
        }
        let keep: Vec<RouteId> = wanted.iter().map(|r| r.id).collect();
        running.routes.retain(|id, _| keep.contains(id));
        running.problems.retain(|id, _| keep.contains(id));
        let Some(ip) = ip else {
            running.routes.clear();
            running.ca = None;
            return;
        };
        for route in &wanted {
            // A route shared without a port (imported, or set offline) takes a free one each
            // time its listener starts; sharing it through the engine stores one.
            let addr = SocketAddr::new(ip, route.share_port.unwrap_or(0));
            let same =
                |l: &Listening| l.addr == addr || (route.share_port.is_none() && l.addr.ip() == ip);
            if running.routes.get(&route.id).is_some_and(same) {
                continue;
            }
            running.routes.remove(&route.id);
            match self.listen_route(route, addr).await {
                Ok(listening) => {
                    tracing::info!(route = %route.host, %addr, "shared on the network");
                    running.problems.remove(&route.id);
                    running.routes.insert(route.id, listening);
                }
                Err(err) => {
                    tracing::warn!(route = %route.host, "{err}");
                    running.problems.insert(route.id, err.to_string());
                }
            }
        }
        if wanted.is_empty() {
            running.ca = None;
            return;
        }
        let port = ca_port.or(running.ca_port).unwrap_or(0);
        let current = running.ca.as_ref().map(|l| l.addr);
        if current.is_some_and(|a| ca_port.is_none_or(|p| a.port() == p)) {
            return;
        }
        running.ca = None;
        match self.listen_ca(SocketAddr::new(ip, port)).await {
            Ok(listening) => {
                running.ca_port = Some(listening.addr.port());
                running.ca = Some(listening);
            }
            // A remembered port taken meanwhile: any free one will do.
            Err(_) if ca_port.is_none() && port != 0 => {
                match self.listen_ca(SocketAddr::new(ip, 0)).await {
                    Ok(listening) => {
                        running.ca_port = Some(listening.addr.port());
                        running.ca = Some(listening);
                    }
                    Err(err) => tracing::warn!("the CA page is not served: {err}"),
                }
            }
            Err(err) => tracing::warn!("the CA page is not served: {err}"),
        }
    }

    async fn listen_route(&self, route: &Route, addr: SocketAddr) -> Result<Listening, Error> {
        let socket = bind(addr).await?;
        let addr = socket.local_addr().unwrap_or(addr);
        let config = self
            .tls
            .fixed_config(&addr.ip().to_string())
            .map_err(|source| Error::Ca {
                ip: addr.ip(),
                source,
            })?;
        let stop = self.stop.child_token();
        let opts = ServeOptions {
            shared_route: Some(route.id),
            ..self.opts
        };
        self.tasks.spawn(crate::proxy::serve(
            socket,
            self.proxy.clone(),
            opts,
            Some(tokio_rustls::TlsAcceptor::from(config)),
            stop.clone(),
        ));
        Ok(Listening { addr, stop })
    }

    async fn listen_ca(&self, addr: SocketAddr) -> Result<Listening, Error> {
        let socket = bind(addr).await?;
        let addr = socket.local_addr().unwrap_or(addr);
        let stop = self.stop.child_token();
        let allowed = share_allow_list(&IpList::default());
        self.tasks.spawn(ca_page::serve(
            socket,
            self.tls.clone(),
            allowed,
            stop.clone(),
        ));
        tracing::info!(%addr, "serving the CA page for devices on the network");
        Ok(Listening { addr, stop })
    }

    /// The addresses listening now: each shared route's and the CA page's.
    pub async fn addrs(&self) -> Vec<SocketAddr> {
        let running = self.running.lock().await;
        running
            .routes
            .values()
            .chain(&running.ca)
            .map(|l| l.addr)
            .collect()
    }

    /// What `route`'s sharing looks like now.
    pub async fn info(&self, route: &Route, now_ms: u64) -> ShareInfo {
        let running = self.running.lock().await;
        let shared = route.shared_at(now_ms);
        let listening = running.routes.get(&route.id).map(|l| l.addr);
        let path = route.path.as_str();
        let path = if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        };
        let url = listening.map(|addr| url("https", addr, &path));
        let ca_url = running
            .ca
            .as_ref()
            .filter(|_| listening.is_some())
            .map(|l| super::url("http", l.addr, "/ca"));
        let problem = if !shared || listening.is_some() {
            None
        } else if !route.enabled {
            Some("the route is disabled; enable it to share it".to_owned())
        } else {
            running
                .problems
                .get(&route.id)
                .or(running.lan_problem.as_ref())
                .cloned()
                .or_else(|| Some("starting…".to_owned()))
        };
        ShareInfo {
            route_id: route.id,
            route: format!("{}{}", route.host, route.path),
            shared,
            listening: listening.is_some(),
            qr_svg: url.as_deref().and_then(qr_svg),
            ca_qr_svg: ca_url.as_deref().and_then(qr_svg),
            url,
            ca_url,
            lan_address: running.lan.map(|ip| ip.to_string()),
            expires_at: route.share_expires_at.filter(|_| shared),
            allow_ips: share_allow_list(&route.share_allow_ips).to_strings(),
            problem,
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, Error> {
    match Listeners::bind(&ListenSpec::Addr(addr)).await {
        Ok(mut listeners) => Ok(listeners.sockets.remove(0)),
        Err(crate::proxy::Error::Bind { addr, source }) => Err(Error::Bind { addr, source }),
        Err(other) => Err(Error::Bind {
            addr,
            source: std::io::Error::other(other.to_string()),
        }),
    }
}
