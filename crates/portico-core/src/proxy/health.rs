//! Upstream health. Every upstream of every enabled proxying route is probed: a TCP connect
//! every [`PROBE_EVERY`], or, for a route with an active health check, a `GET` of its path
//! at its interval. Probe verdicts feed the route's [`Pool`] (a failed probe takes an
//! upstream out of balancing until one passes), and together with failed requests (the
//! pool's passive state) they make each upstream's health, kept for the admin API and the
//! UI. Every change is reported as it happens.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::{Request, header};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use super::RouteTable;
use super::balance::Pool;
use super::resolve::Resolver;
use crate::config::{HealthCheck, RouteId, Upstream};

/// How often every upstream gets a TCP connect (routes without an active health check).
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// How often probes are started and health is re-read (failed requests change it too).
const TICK: Duration = Duration::from_millis(250);

/// How long a connect may take before the upstream counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// One upstream's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpstreamHealth {
    /// The upstream.
    pub upstream: String,
    /// Whether it takes requests now: its last probe passed and failed requests have not
    /// put it to rest.
    pub up: bool,
    /// How long the last probe took, in milliseconds (when it passed).
    #[schema(required = true)]
    pub latency_ms: Option<f64>,
    /// What went wrong last (when down).
    #[schema(required = true)]
    pub error: Option<String>,
    /// How it is probed: `connect` (TCP) or `http` (the route's health check).
    pub probe: String,
    /// When it was last probed, Unix milliseconds.
    pub checked_at: i64,
    /// Since when it has been up (or down), Unix milliseconds.
    pub since: i64,
    /// Failed requests in a row.
    pub failures: u32,
    /// Until when failed requests keep it out of balancing, Unix milliseconds.
    #[schema(required = true)]
    pub resting_until: Option<i64>,
    /// Requests in flight to it (routes with several upstreams).
    pub in_flight: u32,
}

/// A route's health: up when any of its upstreams is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RouteHealth {
    /// The route.
    pub route_id: RouteId,
    /// The route's first upstream.
    pub upstream: String,
    /// Whether any of its upstreams takes requests.
    pub up: bool,
    /// How long the first upstream that is up took to probe, in milliseconds.
    #[schema(required = true)]
    pub latency_ms: Option<f64>,
    /// Why it is down (when down): each upstream's last error.
    #[schema(required = true)]
    pub error: Option<String>,
    /// When it was last probed, Unix milliseconds.
    pub checked_at: i64,
    /// Since when it has been up (or down), Unix milliseconds.
    pub since: i64,
    /// Each upstream, in the route's order.
    pub upstreams: Vec<UpstreamHealth>,
}

/// A change of health, for the event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// The route.
    pub route_id: RouteId,
    /// The upstream whose state changed.
    pub upstream: String,
    /// Whether that upstream is up now.
    pub up: bool,
    /// Whether the route has an upstream up now.
    pub route_up: bool,
    /// What went wrong (when down).
    pub error: Option<String>,
}

/// The last probe of one upstream.
#[derive(Debug, Clone, Default)]
struct Probe {
    done: Option<ProbeResult>,
    running: bool,
    next: Option<Instant>,
}

#[derive(Debug, Clone)]
struct ProbeResult {
    result: Result<f64, String>,
    at: i64,
}

type ProbeKey = (RouteId, String);

/// The latest health of every proxying route. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HealthMonitor {
    latest: Arc<RwLock<HashMap<RouteId, RouteHealth>>>,
    probes: Arc<Mutex<HashMap<ProbeKey, Probe>>>,
    client: Client<HttpConnector<Resolver>, Empty<bytes::Bytes>>,
}

impl Default for HealthMonitor {
    fn default() -> Self {
        let mut connector = HttpConnector::new_with_resolver(Resolver::new());
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        HealthMonitor {
            latest: Arc::default(),
            probes: Arc::default(),
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(connector),
        }
    }
}

impl HealthMonitor {
    /// The health of every enabled proxying route whose upstreams were all probed, by id.
    pub fn all(&self) -> Vec<RouteHealth> {
        let latest = self.latest.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<RouteHealth> = latest.values().cloned().collect();
        all.sort_by_key(|h| h.route_id);
        all
    }

    fn lock_probes(&self) -> std::sync::MutexGuard<'_, HashMap<ProbeKey, Probe>> {
        self.probes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start the probes that are due, then re-read every route's health; call `changed` for
    /// each upstream whose up/down state changed.
    fn tick(&self, table: &RouteTable, changed: &(dyn Fn(HealthChange) + Sync)) {
        let now = Instant::now();
        let routes: Vec<(RouteId, &Arc<Pool>, Option<&HealthCheck>)> = table
            .routes()
            .iter()
            .filter(|r| r.enabled && r.upstream().is_some())
            .filter_map(|r| Some((r.id, table.pool(r.id)?, r.balancing.health_check.as_ref())))
            .collect();
        {
            let mut probes = self.lock_probes();
            probes.retain(|(id, upstream), _| {
                routes.iter().any(|(rid, pool, _)| {
                    rid == id
                        && pool
                            .members()
                            .iter()
                            .any(|m| m.upstream.to_string() == *upstream)
                })
            });
            for (id, pool, check) in &routes {
                for (i, member) in pool.members().iter().enumerate() {
                    let probe = probes
                        .entry((*id, member.upstream.to_string()))
                        .or_default();
                    if probe.running || probe.next.is_some_and(|next| next > now) {
                        continue;
                    }
                    let every = check.map_or(PROBE_EVERY, |c| Duration::from_millis(c.interval_ms));
                    probe.running = true;
                    probe.next = Some(now + every);
                    let monitor = self.clone();
                    let pool = Arc::clone(pool);
                    let check = check.cloned();
                    let key = (*id, member.upstream.to_string());
                    tokio::spawn(async move {
                        monitor.probe(key, pool, i, check).await;
                    });
                }
            }
        }
        self.refresh(&routes, changed);
    }

    /// Probe member `i` of `pool` once and record the verdict.
    async fn probe(&self, key: ProbeKey, pool: Arc<Pool>, i: usize, check: Option<HealthCheck>) {
        let Some(member) = pool.members().get(i) else {
            return;
        };
        let started = Instant::now();
        let result = match &check {
            Some(check) => self.check(&member.upstream, check).await,
            None => connect(&member.upstream).await,
        };
        let took = started.elapsed().as_secs_f64() * 1000.0;
        member.probed(result.clone(), check.is_some());
        let mut probes = self.lock_probes();
        if let Some(probe) = probes.get_mut(&key) {
            probe.running = false;
            probe.done = Some(ProbeResult {
                result: result.map(|()| took),
                at: crate::unix_millis(),
            });
        }
    }

    /// An active health check: `GET path` answered with the expected status in time.
    async fn check(&self, upstream: &Upstream, check: &HealthCheck) -> Result<(), String> {
        let url = format!(
            "http://{}{}{}",
            upstream.authority(),
            upstream.base_path(),
            check.path
        );
        let req = Request::get(&url)
            .header(header::USER_AGENT, "Portico health check")
            .body(Empty::new())
            .map_err(|e| format!("{url} is not a valid URL: {e}"))?;
        let timeout = Duration::from_millis(check.timeout_ms);
        match tokio::time::timeout(timeout, self.client.request(req)).await {
            Err(_) => Err(format!("GET {url}: no answer within {timeout:?}")),
            Ok(Err(err)) => Err(format!("GET {url}: {}", error_chain(&err))),
            Ok(Ok(resp)) if check.accepts(resp.status().as_u16()) => Ok(()),
            Ok(Ok(resp)) => Err(format!(
                "GET {url} answered {}, expected {}",
                resp.status().as_u16(),
                check
                    .expect_status
                    .map_or_else(|| "2xx or 3xx".to_owned(), |s| s.to_string())
            )),
        }
    }

    /// Re-read every route's health from its probes and pool; report changes.
    fn refresh(
        &self,
        routes: &[(RouteId, &Arc<Pool>, Option<&HealthCheck>)],
        changed: &(dyn Fn(HealthChange) + Sync),
    ) {
        let now = crate::unix_millis();
        // Probes write under this lock only when they finish; it is held for one pass.
        let probes = self.lock_probes();
        let mut latest = self.latest.write().unwrap_or_else(|p| p.into_inner());
        latest.retain(|id, _| routes.iter().any(|(rid, ..)| rid == id));
        for (id, pool, check) in routes {
            let previous = latest.get(id);
            let mut upstreams = Vec::with_capacity(pool.members().len());
            for member in pool.members() {
                let name = member.upstream.to_string();
                let Some(done) = probes
                    .get(&(*id, name.clone()))
                    .and_then(|p| p.done.clone())
                else {
                    break;
                };
                let balanced = pool.members().len() > 1;
                let resting_until = member.down_until(now).filter(|_| balanced);
                let up = done.result.is_ok() && resting_until.is_none();
                let error = match (&done.result, resting_until) {
                    (Err(error), _) => Some(error.clone()),
                    (Ok(_), Some(_)) => member.last_error(),
                    (Ok(_), None) => None,
                };
                let before = previous.and_then(|p| p.upstreams.iter().find(|u| u.upstream == name));
                upstreams.push(UpstreamHealth {
                    since: match before {
                        Some(b) if b.up == up => b.since,
                        _ => now,
                    },
                    upstream: name,
                    up,
                    latency_ms: done.result.as_ref().ok().copied(),
                    error,
                    probe: if check.is_some() { "http" } else { "connect" }.to_owned(),
                    checked_at: done.at,
                    failures: if balanced { member.failures() } else { 0 },
                    resting_until,
                    in_flight: member.in_flight(),
                });
            }
            if upstreams.len() != pool.members().len() {
                continue; // not every upstream probed yet
            }
            let up = upstreams.iter().any(|u| u.up);
            let errors: Vec<String> = upstreams
                .iter()
                .filter_map(|u| u.error.as_ref().map(|e| (u, e)))
                .map(|(u, e)| {
                    if upstreams.len() == 1 {
                        e.clone()
                    } else {
                        format!("{}: {e}", u.upstream)
                    }
                })
                .collect();
            for u in &upstreams {
                let was =
                    previous.and_then(|p| p.upstreams.iter().find(|b| b.upstream == u.upstream));
                if was.is_none_or(|was| was.up != u.up) {
                    changed(HealthChange {
                        route_id: *id,
                        upstream: u.upstream.clone(),
                        up: u.up,
                        route_up: up,
                        error: u.error.clone(),
                    });
                }
            }
            let health = RouteHealth {
                route_id: *id,
                upstream: upstreams[0].upstream.clone(),
                up,
                latency_ms: upstreams.iter().find(|u| u.up).and_then(|u| u.latency_ms),
                error: (!up).then(|| errors.join("; ")),
                checked_at: upstreams.iter().map(|u| u.checked_at).max().unwrap_or(now),
                since: match previous {
                    Some(p) if p.up == up => p.since,
                    _ => now,
                },
                upstreams,
            };
            latest.insert(*id, health);
        }
    }

    /// Probe and refresh until `stop`.
    pub async fn run(
        self,
        table: Arc<ArcSwap<RouteTable>>,
        stop: CancellationToken,
        changed: impl Fn(HealthChange) + Sync,
    ) {
        loop {
            let snapshot = table.load_full();
            self.tick(&snapshot, &changed);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

/// An error and its causes, on one line.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
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
