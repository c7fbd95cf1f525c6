//! Upstream health: every few seconds each enabled route's upstream gets a TCP connect, and
//! the result (up or down, how long the connect took, since when) is kept for the admin API
//! and the UI's health dots. A change is reported as it happens.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hyper_util::client::legacy::connect::dns::Name;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use super::RouteTable;
use super::resolve::Resolver;
use crate::config::{RouteId, Upstream};

/// How often every upstream is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// How long a connect may take before the upstream counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// What the last probe of a route's upstream found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RouteHealth {
    /// The route.
    pub route_id: RouteId,
    /// The upstream probed.
    pub upstream: String,
    /// Whether it accepted a connection.
    pub up: bool,
    /// How long the connect took, in milliseconds (when up).
    #[schema(required = true)]
    pub latency_ms: Option<f64>,
    /// Why it is down (when down).
    #[schema(required = true)]
    pub error: Option<String>,
    /// When it was last probed, Unix milliseconds.
    pub checked_at: i64,
    /// Since when it has been up (or down), Unix milliseconds.
    pub since: i64,
}

/// The latest health of every proxying route. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct HealthMonitor {
    latest: Arc<RwLock<HashMap<RouteId, RouteHealth>>>,
}

impl HealthMonitor {
    /// The latest probe of every enabled proxying route, by route id.
    pub fn all(&self) -> Vec<RouteHealth> {
        let latest = self.latest.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<RouteHealth> = latest.values().cloned().collect();
        all.sort_by_key(|h| h.route_id);
        all
    }

    /// Probe every enabled proxying route in `table` now; call `changed` for each whose
    /// up/down state changed (or that is new).
    pub async fn probe_all(&self, table: &RouteTable, changed: &(dyn Fn(&RouteHealth) + Sync)) {
        let targets: Vec<(RouteId, Upstream)> = table
            .routes()
            .iter()
            .filter(|r| r.enabled)
            .filter_map(|r| Some((r.id, r.upstream()?.clone())))
            .collect();
        let probes = targets.iter().map(|(id, upstream)| async move {
            let started = Instant::now();
            let result = connect(upstream).await;
            (*id, upstream, result, started.elapsed())
        });
        let results = futures_util::future::join_all(probes).await;
        let now = crate::unix_millis();
        let mut latest = self.latest.write().unwrap_or_else(|p| p.into_inner());
        let live: Vec<RouteId> = targets.iter().map(|(id, _)| *id).collect();
        latest.retain(|id, _| live.contains(id));
        for (id, upstream, result, took) in results {
            let up = result.is_ok();
            let previous = latest.get(&id);
            let same = previous.is_some_and(|p| p.up == up && p.upstream == upstream.to_string());
            let health = RouteHealth {
                route_id: id,
                upstream: upstream.to_string(),
                up,
                latency_ms: up.then_some(took.as_secs_f64() * 1000.0),
                error: result.err(),
                checked_at: now,
                since: if same {
                    previous.map_or(now, |p| p.since)
                } else {
                    now
                },
            };
            if !same {
                changed(&health);
            }
            latest.insert(id, health);
        }
    }

    /// Probe every [`PROBE_EVERY`] until `stop`.
    pub async fn run(
        self,
        table: Arc<ArcSwap<RouteTable>>,
        stop: CancellationToken,
        changed: impl Fn(&RouteHealth) + Sync,
    ) {
        loop {
            let snapshot = table.load_full();
            self.probe_all(&snapshot, &changed).await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(PROBE_EVERY) => {}
            }
        }
    }
}

/// A TCP connect to the upstream, to the addresses forwarding would use (the proxy's own
/// [`Resolver`]: both loopbacks for `localhost` names, the system resolver for the rest).
async fn connect(upstream: &Upstream) -> Result<(), String> {
    let host = upstream
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = upstream.port();
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let name =
                Name::from_str(host).map_err(|e| format!("{host} is not a host name: {e}"))?;
            match tokio::time::timeout(CONNECT_TIMEOUT, Resolver::new().call(name)).await {
                Ok(Ok(found)) => found.map(|addr| SocketAddr::new(addr.ip(), port)).collect(),
                Ok(Err(err)) => return Err(format!("{host} does not resolve: {err}")),
                Err(_) => return Err(format!("resolving {host} took over a second")),
            }
        }
    };
    let mut last = format!("{host} has no address");
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(err)) => last = format!("{addr}: {err}"),
            Err(_) => last = format!("{addr}: no answer within a second"),
        }
    }
    Err(last)
}
