//! Forwarding one request: match it to a route, rewrite it for the upstream, send it on the
//! pooled client, and stream the answer back. Bodies are never buffered.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::auth::{AuthCache, Verdict};
use super::balance::{InFlight, sticky_cookie_name};
use super::body::{Held, UpstreamBody, Watch};
use super::conns::{ConnCounts, ConnSlot, canonical};
use super::headers::{self, Forwarding};
use super::route_table::{RouteTable, Target};
use super::upstream::{SendError, UpstreamPool};
use super::{Error, ProxyBody, error_page, upgrade};
use crate::cache::{Cache, CacheOutcome, ClientTarget, RouteCache};
use crate::compress::{self, CompressOptions, Encoding};
use crate::config::{BACKEND_HEADERS, Policy, Route, RouteTarget, Upstream};
use crate::inspect::capture::{Capture, CapturedAs, Inspector, RequestStart, Side};
use crate::static_files::{self, StaticOptions};
use crate::tls::Tls;

/// Facts about the client connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The client's address.
    pub client: SocketAddr,
    /// The Portico listener's address.
    pub local: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// Set when the client already had this many connections open (the `max_conns_per_ip`
    /// setting): every request on this connection is refused and it is closed.
    pub over_limit: Option<u64>,
    /// The connection came in on this route's LAN listener: only that route is served.
    pub shared_route: Option<crate::config::RouteId>,
}

impl ConnInfo {
    fn proto(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

/// The proxy service: cheap to clone, shared by every connection.
#[derive(Clone, Debug)]
pub struct Proxy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    table: Arc<ArcSwap<RouteTable>>,
    /// The upstream connections of requests handled off the lanes.
    upstreams: UpstreamPool,
    /// Each lane's own upstream connections, by lane.
    lane_upstreams: Vec<UpstreamPool>,
    /// The threads connections are served on; `None` serves them on the caller's runtime.
    lanes: Option<super::lanes::Lanes>,
    stop: CancellationToken,
    options: ProxyOptions,
    /// Each rate-limited route's buckets, kept across route table rebuilds while its limit
    /// stays the same.
    route_limits:
        std::sync::Mutex<std::collections::HashMap<crate::config::RouteId, Arc<super::RateLimit>>>,
    /// Requests in flight per route and client, for routes with `max_conns_per_ip`.
    in_flight: Arc<ConnCounts<(crate::config::RouteId, IpAddr)>>,
    /// Basic auth checks that succeeded.
    auth: AuthCache,
}

/// What the proxy knows beyond its routes.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// The HTTPS listener's port, when HTTPS is on: plain-HTTP requests for routes with
    /// `https_redirect` are sent there.
    pub https_port: Option<u16>,
    /// The CA, served at `http(s)://portico.localhost/ca.pem` and `/ca.crt`.
    pub tls: Option<Tls>,
    /// Where captured exchanges go; `None` captures nothing.
    pub inspector: Option<Inspector>,
    /// The response cache for routes with `cache` on; `None` caches nothing.
    pub cache: Option<Cache>,
    /// Responses whose known length is below this are not compressed (changed live).
    pub compress_min_bytes: Arc<AtomicU64>,
    /// The settings-wide checks (pause, addresses, rate, body size; swapped live).
    pub gate: Arc<ArcSwap<super::Gate>>,
    /// Per-route request counts and latencies for the Overview.
    pub metrics: crate::metrics::Metrics,
    /// Open connections per client address, counted at the listeners while the
    /// `max_conns_per_ip` setting is on.
    pub conns: Arc<ConnCounts>,
    /// Connections, requests and tunnels open now (the engine's status reports them).
    pub load: Arc<super::Load>,
    /// Serve connections on this many threads of their own (see `lanes`); 0 serves them on
    /// the runtime the listeners run on.
    pub lanes: usize,
}

fn side_name(side: super::Side) -> &'static str {
    match side {
        super::Side::Client => "client",
        super::Side::Upstream => "upstream",
        super::Side::Portico => "portico",
    }
}

/// `err` and the chain of its causes (`… sent an invalid response: client error
/// (SendRequest): message head is too large`), so the inspector names what really happened.
fn with_causes(err: &Error) -> String {
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    text
}

/// Whether `err` is an upstream request that failed because its body hit the size limit.
fn cut_at_limit(err: &Error) -> bool {
    let Error::UpstreamFailed { source, .. } = err else {
        return false;
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Whether a Host header's name is an IP address (`192.168.1.20`, `[fe80::1]`).
/// Whether `path` has a `.` or `..` segment, also percent-encoded (`%2e`). A server may
/// resolve one, so `/open/../admin` would be matched against the routes as under `/open` and
/// then served as `/admin`, past that route's address lists and password. Browsers and curl
/// resolve them before sending.
pub(super) fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let mut rest = segment.as_bytes();
        let mut dots = 0;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(b".") {
                rest = after;
            } else if rest
                .get(..3)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"%2e"))
            {
                rest = &rest[3..];
            } else {
                return false;
            }
            dots += 1;
        }
        (1..=2).contains(&dots)
    })
}

fn is_ip_literal(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok()
}

/// The settings-wide checks every request passes first: pause, address lists, connection
/// and rate limits.
/// `over_limit` is the connection's own refusal (the `max_conns_per_ip` setting).
fn check_gate(
    gate: &super::Gate,
    client: std::net::IpAddr,
    over_limit: Option<u64>,
) -> Result<(), Error> {
    if gate.paused {
        return Err(Error::Paused);
    }
    if let Err(refusal) = gate.access.check(client) {
        return Err(Error::Forbidden {
            scope: "any route".to_owned(),
            client,
            refusal,
        });
    }
    if let Some(limit) = over_limit {
        return Err(Error::TooManyConnections {
            scope: "any route".to_owned(),
            client,
            limit,
            what: "connections",
        });
    }
    if let Some(limit) = &gate.rate_limit
        && let Err(retry_after) = limit.check(client)
    {
        return Err(Error::RateLimited {
            scope: "any route".to_owned(),
            client,
            per_sec: limit.per_sec(),
            retry_after,
        });
    }
    Ok(())
}

/// The route a LAN listener serves, when it still is shared (enabled, not expired), the
/// client is in its share list (by default the private ranges) and the path is under the
/// route's prefix. Nothing else is ever served there, whatever the `Host`.
fn shared_target(
    table: &RouteTable,
    id: crate::config::RouteId,
    client: std::net::IpAddr,
    path: &str,
) -> Result<Arc<Target>, Error> {
    let target = table
        .shared(id)
        .filter(|t| {
            t.route
                .shared_at(u64::try_from(crate::unix_millis()).unwrap_or(0))
        })
        .ok_or(Error::NotShared)?;
    let route = &target.route;
    if crate::config::share_allow_list(&route.share_allow_ips)
        .matching(client)
        .is_none()
    {
        return Err(Error::Forbidden {
            scope: format!("shared route {}", target.label),
            client,
            refusal: crate::config::Refusal::NotAllowed,
        });
    }
    if !route.path.matches(path) {
        return Err(Error::NoRoute {
            host: route.host.to_string(),
            path: path.to_owned(),
        });
    }
    Ok(target.clone())
}

/// The built-in host that serves Portico's own pages (the CA certificate).
const PORTICO_HOST: &str = "portico.localhost";

impl Proxy {
    /// A proxy that reads routes from `table`. Upgraded connections (WebSockets) end when
    /// `stop` is cancelled.
    pub fn new(
        table: Arc<ArcSwap<RouteTable>>,
        stop: CancellationToken,
        options: ProxyOptions,
    ) -> Self {
        let lanes = (options.lanes > 0)
            .then(|| super::lanes::Lanes::start(options.lanes))
            .and_then(|started| {
                started
                    .inspect_err(|err| {
                        tracing::warn!("connections are served on the shared runtime: {err}");
                    })
                    .ok()
            });
        let lane_upstreams = (0..lanes.as_ref().map_or(0, super::lanes::Lanes::len))
            .map(|_| UpstreamPool::new())
            .collect();
        Proxy {
            inner: Arc::new(Inner {
                table,
                upstreams: UpstreamPool::new(),
                lane_upstreams,
                lanes,
                stop,
                options,
                route_limits: std::sync::Mutex::default(),
                in_flight: Arc::default(),
                auth: AuthCache::new(),
            }),
        }
    }

    /// The buckets for route `id` limited to `per_sec`: the same ones while the limit stays.
    /// Making new ones also drops those of routes that no longer have a limit.
    fn route_limit(
        &self,
        table: &RouteTable,
        id: crate::config::RouteId,
        per_sec: u64,
    ) -> Arc<super::RateLimit> {
        let mut limits = self
            .inner
            .route_limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match limits.get(&id) {
            Some(limit) if limit.per_sec() == per_sec => limit.clone(),
            _ => {
                limits.retain(|kept, _| {
                    table
                        .routes()
                        .iter()
                        .any(|r| r.id == *kept && r.rate_limit_per_sec.is_some())
                });
                let limit = Arc::new(super::RateLimit::new(per_sec));
                limits.insert(id, limit.clone());
                limit
            }
        }
    }

    /// A new connection from `client`: its slot while the `max_conns_per_ip` setting is on
    /// and it is within the limit, or the limit it is over. Without a limit nothing is
    /// counted (no lock is taken).
    pub(super) fn admit_connection(&self, client: IpAddr) -> (Option<ConnSlot>, Option<u64>) {
        let Some(limit) = self.inner.options.gate.load().max_conns_per_ip else {
            return (None, None);
        };
        match self.inner.options.conns.acquire(canonical(client), limit) {
            Some(slot) => (Some(slot), None),
            None => (None, Some(limit)),
        }
    }

    /// How many connections `client` has open to the listeners, as counted for the
    /// `max_conns_per_ip` setting (connections opened while it was off are not counted).
    pub fn open_connections(&self, client: IpAddr) -> u64 {
        self.inner.options.conns.open(&canonical(client))
    }

    /// Serve an accepted connection with `serve`: on the next lane, or on the caller's runtime
    /// without lanes.
    pub(super) fn spawn_connection<S, F>(&self, tracker: &TaskTracker, stream: TcpStream, serve: S)
    where
        S: FnOnce(TcpStream) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let Some(lanes) = &self.inner.lanes else {
            drop(tracker.spawn(serve(stream)));
            return;
        };
        // The socket was registered with the reactor of the runtime that accepted it, which
        // would then wake the lane for every read: it moves to the lane's own reactor.
        let moved = stream.into_std();
        lanes.spawn(tracker.track_future(async move {
            match moved.and_then(TcpStream::from_std) {
                Ok(stream) => serve(stream).await,
                Err(err) => tracing::debug!("connection dropped on its way to a lane: {err}"),
            }
        }));
    }

    /// The upstream connections for requests made on this thread: the lane's own, so the
    /// upstream connection's task runs beside the request.
    fn upstreams(&self) -> &UpstreamPool {
        super::lanes::Lanes::current()
            .and_then(|lane| self.inner.lane_upstreams.get(lane))
            .unwrap_or(&self.inner.upstreams)
    }

    /// Upgraded connections still open.
    pub fn tunnels(&self) -> &TaskTracker {
        self.inner.options.load.tunnels()
    }

    /// What the listeners and the proxy have open now.
    pub fn load(&self) -> &Arc<super::Load> {
        &self.inner.options.load
    }

    /// Answer one request: the upstream's response, or Portico's own error page. The
    /// exchange is captured for the inspector as it streams, unless capture is paused.
    pub async fn handle(&self, req: Request<ProxyBody>, conn: ConnInfo) -> Response<ProxyBody> {
        self.handle_holding(req, conn, ()).await
    }

    /// As [`Proxy::handle`], keeping `guard` alive until the response body has been sent or
    /// abandoned (the listener's mark that its connection is busy).
    pub(super) async fn handle_holding<G: Send + Sync + 'static>(
        &self,
        req: Request<ProxyBody>,
        conn: ConnInfo,
        guard: G,
    ) -> Response<ProxyBody> {
        // Counted from here, so a request whose future is dropped (the client left while the
        // upstream was slow) is given back too.
        let request = self.inner.options.load.request();
        let arrived = std::time::Instant::now();
        let version = req.version();
        let accept = req.headers().get(header::ACCEPT).cloned();
        let method = req.method().clone();
        let uri = req.uri().clone();
        let table = self.inner.table.load_full();
        let capture = self.inner.options.inspector.as_ref().and_then(|inspector| {
            let host = original_host(&req)
                .ok()
                .and_then(|h| host_name(&h).ok())
                .unwrap_or_default();
            let start = RequestStart {
                host: &host,
                client: conn.client,
                tls: conn.tls,
            };
            inspector.begin(&req, start)
        });
        let mut matched = None;
        let mut held = None;
        let resp = match self
            .forward(req, conn, &table, capture.as_ref(), &mut matched, &mut held)
            .await
        {
            Ok(resp) => resp,
            Err(err) => {
                match err.side() {
                    _ if matches!(err, Error::Paused) => {
                        tracing::debug!(%method, %uri, client = %conn.client, "{err}")
                    }
                    super::Side::Upstream | super::Side::Portico => {
                        tracing::warn!(%method, %uri, client = %conn.client, "{err}")
                    }
                    super::Side::Client => {
                        tracing::debug!(%method, %uri, client = %conn.client, "{err}")
                    }
                }
                let mut resp = error_page::render(&err, accept.as_ref(), &table, conn);
                // A connection over the limit is closed after its answer (HTTP/1; HTTP/2 has
                // no `Connection` header, and each of its requests is refused instead), and
                // so is one that sent a malformed request: its framing cannot be trusted.
                let malformed = matches!(
                    err,
                    Error::BadRequest { .. } | Error::HeadersTooLarge { .. }
                );
                if (conn.over_limit.is_some() || malformed) && version < Version::HTTP_2 {
                    resp.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                if let Some(capture) = &capture {
                    let code = resp
                        .headers()
                        .get("x-portico-error")
                        .and_then(|v| v.to_str().ok());
                    capture.error(with_causes(&err), side_name(err.side()), code);
                }
                resp
            }
        };
        self.inner.options.metrics.record(
            matched
                .as_deref()
                .map(|t: &Target| (t.route.id, t.label.as_str())),
            arrived.elapsed(),
            resp.status().is_server_error(),
            crate::unix_millis(),
        );
        // A request in flight counts until its response body ends or is dropped.
        let resp = hold_until_body_ends(resp, Some((held, request, guard)));
        match capture {
            None => resp,
            Some(capture) => {
                capture.response(&resp);
                let mut resp = resp.map(|body| capture.tee(Side::Response, body).boxed());
                resp.extensions_mut().insert(CapturedAs(capture.id()));
                resp
            }
        }
    }

    async fn forward(
        &self,
        req: Request<ProxyBody>,
        conn: ConnInfo,
        table: &RouteTable,
        capture: Option<&Capture>,
        matched: &mut Option<Arc<Target>>,
        held: &mut Option<ConnSlot<(crate::config::RouteId, IpAddr)>>,
    ) -> Result<Response<ProxyBody>, Error> {
        if req.method() == Method::CONNECT {
            return Err(Error::BadRequest {
                reason: "Portico is a reverse proxy, not a forward proxy; CONNECT is not supported",
            });
        }
        if has_dot_segment(req.uri().path()) {
            return Err(Error::BadRequest {
                reason: "the path has a '.' or '..' segment; send the path it resolves to (a browser does)",
            });
        }
        if let Some(reason) = headers::framing_problem(req.headers()) {
            return Err(Error::BadRequest { reason });
        }
        let size = headers::head_size(&req);
        if size > super::MAX_HEAD_BYTES {
            return Err(Error::HeadersTooLarge {
                size,
                limit: super::MAX_HEAD_BYTES,
            });
        }
        let client = conn.client.ip();
        let gate = self.inner.options.gate.load();
        let (target, original_host, host) = match conn.shared_route {
            Some(id) => {
                redact_credentials(capture, &req, table.shared(id));
                check_gate(&gate, client, conn.over_limit)?;
                let target = shared_target(table, id, client, req.uri().path())?;
                // The upstream sees the route's own name, as when it is browsed on this
                // machine (a shared route always has an exact one).
                let host = target.route.host.to_string();
                let original_host =
                    HeaderValue::from_str(&host).map_err(|_| Error::BadRequest {
                        reason: "the shared route's host is not a valid Host header",
                    })?;
                (target, original_host, host)
            }
            None => {
                let original_host = original_host(&req)?;
                let host = host_name(&original_host)?;
                if host == PORTICO_HOST
                    && let Some(resp) = self.builtin(&req)
                {
                    return Ok(resp);
                }
                let found = table.find(&host, req.uri().path()).cloned();
                redact_credentials(capture, &req, found.as_ref());
                check_gate(&gate, client, conn.over_limit)?;
                let Some(target) = found else {
                    // A phone on the network knows this machine by its address, not by name:
                    // it gets the CA at `http://ADDRESS:PORT/ca.crt` unless a route claims
                    // that address.
                    if is_ip_literal(&host)
                        && let Some(resp) = self.builtin(&req)
                    {
                        return Ok(resp);
                    }
                    return Err(Error::NoRoute {
                        host,
                        path: req.uri().path().to_owned(),
                    });
                };
                (target, original_host, host)
            }
        };
        *matched = Some(target.clone());
        let route = &target.route;
        if let Some(capture) = capture {
            capture.route(route.id, &target.label, &route.target().to_string());
            if !route.capture {
                capture.cancel();
            }
        }
        if let Err(refusal) = crate::config::admits(&route.allow_ips, &route.deny_ips, client) {
            return Err(Error::Forbidden {
                scope: format!("route {}", target.label),
                client,
                refusal,
            });
        }
        if let Some(per_sec) = route.rate_limit_per_sec {
            let limit = self.route_limit(table, route.id, per_sec);
            if let Err(retry_after) = limit.check(client) {
                return Err(Error::RateLimited {
                    scope: format!("route {}", target.label),
                    client,
                    per_sec,
                    retry_after,
                });
            }
        }

        if !conn.tls
            && route.https_redirect
            && let Some(port) = self.inner.options.https_port
            && self.can_serve_https(&host)
        {
            return Ok(redirect_to_https(&host, port, req.uri()));
        }

        let mut req = req;
        if !route.basic_auth.is_empty() {
            let verdict = Box::pin(
                self.inner
                    .auth
                    .check(&route.basic_auth, req.headers().get(header::AUTHORIZATION)),
            )
            .await;
            if verdict != Verdict::Admitted {
                return Err(Error::Unauthorized {
                    route: target.label.clone(),
                    realm: host.clone(),
                    failed: verdict == Verdict::Failed,
                });
            }
            // The credentials are Portico's to check: the upstream never sees them.
            req.headers_mut().remove(header::AUTHORIZATION);
        }
        if let Some(limit) = route.max_conns_per_ip {
            let slot = self
                .inner
                .in_flight
                .acquire((route.id, canonical(client)), limit)
                .ok_or_else(|| Error::TooManyConnections {
                    scope: format!("route {}", target.label),
                    client,
                    limit,
                    what: "requests",
                })?;
            *held = Some(slot);
        }

        let body_limit = [route.max_body_bytes, gate.max_body_bytes]
            .into_iter()
            .flatten()
            .min();
        if let Some(limit) = body_limit {
            let too_large = || Error::BodyTooLarge {
                scope: format!("route {}", target.label),
                limit,
            };
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|len| len > limit) {
                return Err(too_large());
            }
            // A body without a length (chunked) is cut at the limit as it streams; the
            // upstream sees a failed request and the client a 413.
            req = req.map(|body| {
                http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
                    .boxed()
            });
        }

        let (mut resp, cache) = match route.target() {
            RouteTarget::Redirect(url) => (redirect(route, url, req.uri()), None),
            // Boxed, like every branch the common path (one upstream, no cache) does not take:
            // an async fn's future is as large as its largest branch, and the whole future is
            // moved into the connection's slot for every request.
            RouteTarget::Static(dir) => {
                (Box::pin(self.serve_static(&target, dir, &req)).await?, None)
            }
            RouteTarget::Upstream(_) => {
                let forwarded = self
                    .forward_upstream(req, conn, &target, original_host, capture)
                    .await;
                return match (forwarded, body_limit) {
                    (Err(err), Some(limit)) if cut_at_limit(&err) => Err(Error::BodyTooLarge {
                        scope: format!("route {}", target.label),
                        limit,
                    }),
                    (result, _) => result,
                };
            }
        };
        self.finish_response(&mut resp, route, cache);
        let compression = Compression::of(route, &req);
        Ok(self.maybe_compress(compression, resp, capture, cache))
    }

    /// Forward to the route's upstream, or one of its upstreams (through the cache when the
    /// route has it on).
    async fn forward_upstream(
        &self,
        mut req: Request<ProxyBody>,
        conn: ConnInfo,
        target: &Target,
        original_host: HeaderValue,
        capture: Option<&Capture>,
    ) -> Result<Response<ProxyBody>, Error> {
        let route = &target.route;
        let Some(first) = route.upstream() else {
            return Err(Error::BadRequest {
                reason: "the route has no upstream",
            });
        };
        if target.loops || headers::hops(req.headers()) >= headers::MAX_HOPS {
            return Err(Error::Loop {
                route: target.label.clone(),
                upstream: route.target().to_string(),
            });
        }

        let upgrade = match req.version() {
            Version::HTTP_11 => headers::upgrade_request(req.headers()),
            _ => None,
        };
        let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
        let compression = Compression::of(route, &req);
        let asker = Asking {
            client: conn.client.ip(),
            cookie: (route.upstreams.len() > 1 && route.balancing.policy == Policy::Cookie)
                .then(|| sticky_cookie(req.headers(), route.id))
                .flatten(),
        };

        let (mut parts, body) = req.into_parts();
        let version = parts.version;
        // The cache keys and purges by the URL the client asked for, not the rewritten one.
        let client_target = route.cache.then(|| {
            ClientTarget(
                parts
                    .uri
                    .path_and_query()
                    .cloned()
                    .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
            )
        });
        // Aimed at the first upstream (so the cache keys every upstream's answers alike);
        // [`Proxy::send_raw`] re-aims it at the one the route's balancing picks.
        let forward = ForwardPath::of(route, &parts.uri);
        parts.uri = upstream_uri(first, &forward.0)?;
        headers::strip_hop_by_hop(&mut parts.headers, upgrade.as_ref());
        headers::set_forwarding(
            &mut parts.headers,
            &Forwarding {
                client_ip: conn.client.ip(),
                proto: conn.proto(),
                original_host: &original_host,
                version,
            },
        );
        let host_header = if route.upstream_host {
            authority_value(first.authority())
        } else {
            original_host
        };
        parts.headers.insert(header::HOST, host_header);
        route.request_headers.apply(&mut parts.headers);
        // Upstream dev servers speak HTTP/1.1, whatever the client used.
        parts.version = Version::HTTP_11;
        let body = match capture {
            Some(capture) => capture.tee(Side::Request, body).map_err(Into::into).boxed(),
            None => body.map_err(Into::into).boxed(),
        };
        let mut outgoing = Request::from_parts(parts, body);
        outgoing.extensions_mut().insert(forward);

        if let Some(client_upgrade) = client_upgrade {
            // Upgrades never touch the cache or compression: the 101's connection becomes
            // a tunnel.
            let (resp, _in_flight, upstream) =
                Box::pin(self.send_raw(outgoing, target, &asker, capture)).await?;
            if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                let websocket = upgrade
                    .as_ref()
                    .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"websocket"));
                return Ok(upgrade::tunnel(
                    resp,
                    client_upgrade,
                    self.inner.options.load.tunnels(),
                    self.inner.stop.clone(),
                    target.label.clone(),
                    capture
                        .filter(|_| route.capture)
                        .map(|c| (c.clone(), websocket)),
                ));
            }
            let mut resp = finish_upstream(resp, watch(upstream, target, capture));
            self.finish_response(&mut resp, route, None);
            return Ok(self.maybe_compress(compression, resp, capture, None));
        }

        let cache = self.inner.options.cache.as_ref().filter(|_| route.cache);
        if let Some(target) = client_target {
            outgoing.extensions_mut().insert(target);
        }
        let (resp, outcome) = match cache {
            Some(cache) => {
                let settings = RouteCache {
                    route_id: route.id,
                    default_ttl: route.cache_ttl_secs.map(Duration::from_secs),
                };
                let (resp, outcome) = Box::pin(cache.handle(settings, outgoing, |req| {
                    self.send(req, target, &asker, capture)
                }))
                .await?;
                (resp, Some(outcome))
            }
            None => (self.send(outgoing, target, &asker, capture).await?, None),
        };

        let mut resp = resp;
        self.finish_response(&mut resp, route, outcome.as_ref());
        Ok(self.maybe_compress(compression, resp, capture, outcome.as_ref()))
    }

    /// One request to an upstream, within the route's timeout; hop-by-hop headers removed
    /// from the answer and `Via` added. With several upstreams, the answer's body holds the
    /// upstream's in-flight count until it ends.
    async fn send(
        &self,
        outgoing: Request<ProxyBody>,
        target: &Target,
        asker: &Asking,
        capture: Option<&Capture>,
    ) -> Result<Response<ProxyBody>, Error> {
        let (resp, in_flight, upstream) = self.send_raw(outgoing, target, asker, capture).await?;
        let resp = finish_upstream(resp, watch(upstream, target, capture));
        Ok(hold_until_body_ends(resp, in_flight))
    }

    /// One request to the upstream (or, for a route with several, to the one its balancing
    /// picks), answer as it came. A request the chosen upstream never received (refused or
    /// unreachable) goes to the next one when it is idempotent and has no body to resend,
    /// at most [`MAX_ATTEMPTS`] times; every failure counts against its upstream.
    async fn send_raw(
        &self,
        outgoing: Request<ProxyBody>,
        target: &Target,
        asker: &Asking,
        capture: Option<&Capture>,
    ) -> Result<(Response<Incoming>, Option<InFlight>, Upstream), Error> {
        let route = &target.route;
        let pool = &target.pool;
        if pool.members().len() <= 1 {
            let Some(upstream) = route.upstream() else {
                return Err(Error::BadRequest {
                    reason: "the route has no upstream",
                });
            };
            let resp = self.attempt(outgoing, target, upstream, capture).await?;
            return Ok((resp, None, upstream.clone()));
        }
        let balancing = &route.balancing;
        let resend = replayable(&outgoing).then(|| {
            let mut copy = Request::new(());
            *copy.method_mut() = outgoing.method().clone();
            *copy.uri_mut() = outgoing.uri().clone();
            *copy.version_mut() = outgoing.version();
            *copy.headers_mut() = outgoing.headers().clone();
            copy
        });
        let forward = outgoing.extensions().get::<ForwardPath>().cloned();
        let mut next = Some(outgoing);
        let mut tried: Vec<usize> = Vec::new();
        loop {
            let now = crate::unix_millis();
            let Some(i) = pool.pick(
                balancing.policy,
                asker.client,
                asker.cookie.as_deref(),
                &tried,
                now,
            ) else {
                return Err(all_down(target, now));
            };
            let member = &pool.members()[i];
            let mut req = match next.take() {
                Some(req) => req,
                None => match &resend {
                    Some(copy) => {
                        let (parts, ()) = copy.clone().into_parts();
                        Request::from_parts(parts, empty_body())
                    }
                    None => return Err(all_down(target, now)),
                },
            };
            if let Some(forward) = &forward {
                *req.uri_mut() = upstream_uri(&member.upstream, &forward.0)?;
            }
            if route.upstream_host {
                req.headers_mut()
                    .insert(header::HOST, authority_value(member.upstream.authority()));
            }
            let in_flight = pool.start(i);
            match self.attempt(req, target, &member.upstream, capture).await {
                Ok(mut resp) => {
                    pool.succeeded(i);
                    if let Some(capture) = capture {
                        capture.upstream(&member.upstream.to_string());
                    }
                    if balancing.policy == Policy::Cookie
                        && asker.cookie.as_deref() != Some(member.key.as_str())
                    {
                        let cookie = format!(
                            "{}={}; Path=/; HttpOnly; SameSite=Lax",
                            sticky_cookie_name(route.id),
                            member.key
                        );
                        if let Ok(value) = HeaderValue::from_str(&cookie) {
                            resp.headers_mut().append(header::SET_COOKIE, value);
                        }
                    }
                    return Ok((resp, Some(in_flight), member.upstream.clone()));
                }
                Err(err) => {
                    if !cut_at_limit(&err) {
                        pool.failed(i, balancing, err.to_string(), crate::unix_millis());
                    }
                    tried.push(i);
                    let never_sent = matches!(
                        err,
                        Error::UpstreamRefused { .. } | Error::UpstreamUnreachable { .. }
                    );
                    if never_sent && resend.is_some() && tried.len() < MAX_ATTEMPTS {
                        tracing::debug!(route = %target.label, "{err}; trying the next upstream");
                        continue;
                    }
                    return Err(err);
                }
            }
        }
    }

    /// One request to `upstream`, within the route's timeout, answer as it came.
    async fn attempt(
        &self,
        outgoing: Request<ProxyBody>,
        target: &Target,
        upstream: &Upstream,
        capture: Option<&Capture>,
    ) -> Result<Response<Incoming>, Error> {
        let route = &target.route;
        let sent = tokio::time::timeout(route.timeout(), self.upstreams().send(outgoing));
        let resp = match sent.await {
            Err(_elapsed) => {
                return Err(Error::UpstreamTimeout {
                    route: target.label.clone(),
                    upstream: upstream.to_string(),
                    timeout: route.timeout(),
                });
            }
            Ok(Err(err)) => return Err(classify(err, target, upstream)),
            Ok(Ok(resp)) => resp,
        };
        if let Some(capture) = capture {
            capture.upstream_answered();
        }
        Ok(resp)
    }

    /// Serve a file (or listing) from a static route's folder.
    async fn serve_static(
        &self,
        target: &Target,
        dir: &str,
        req: &Request<ProxyBody>,
    ) -> Result<Response<ProxyBody>, Error> {
        let route = &target.route;
        let options = StaticOptions {
            dir: dir.into(),
            spa: route.spa,
            listing: route.dir_listing,
            follow_symlinks: route.follow_symlinks,
        };
        // The prefix itself (`/app` on an `/app` route) is "": the folder then redirects to
        // `/app/` so the page's relative links resolve under the prefix.
        let full = req.uri().path();
        let path = if !route.path.is_root() && full == route.path.as_str() {
            ""
        } else {
            route.path.strip(full)
        };
        static_files::serve(req, path, &options)
            .await
            .map_err(|source| Error::StaticDir {
                route: target.label.clone(),
                source,
            })
    }

    /// The route's response header rules, "hide backend", and the cache's `Cache-Status`.
    fn finish_response(
        &self,
        resp: &mut Response<ProxyBody>,
        route: &Route,
        cache: Option<&CacheOutcome>,
    ) {
        let headers = resp.headers_mut();
        if route.hide_backend {
            for name in BACKEND_HEADERS {
                headers.remove(name);
            }
        }
        route.response_headers.apply(headers);
        if let Some(outcome) = cache {
            headers.insert("cache-status", outcome.header_value());
        }
    }

    /// Compress the response when the route asks and the exchange allows; tell the capture
    /// what the cache and compression did.
    fn maybe_compress(
        &self,
        compression: Option<Compression>,
        resp: Response<ProxyBody>,
        capture: Option<&Capture>,
        cache: Option<&CacheOutcome>,
    ) -> Response<ProxyBody> {
        let (resp, encoding) = match compression {
            Some(Compression { method, accepted }) => {
                let options = CompressOptions {
                    min_bytes: self
                        .inner
                        .options
                        .compress_min_bytes
                        .load(Ordering::Relaxed),
                };
                compress::compress(&method, accepted, resp, &options)
            }
            None => (resp, None),
        };
        if let Some(capture) = capture {
            capture.features(
                cache.map(CacheOutcome::label),
                encoding.map(Encoding::as_str),
            );
        }
        resp
    }
}

/// What compressing the answer needs from the request, taken before the request is forwarded
/// (nothing when the route does not compress): its method and the coding it accepts.
struct Compression {
    method: Method,
    accepted: Option<Encoding>,
}

impl Compression {
    fn of<B>(route: &Route, req: &Request<B>) -> Option<Compression> {
        route.compress.then(|| Compression {
            method: req.method().clone(),
            accepted: compress::negotiate(req.headers()),
        })
    }
}

impl Proxy {
    /// Whether the CA can vouch for `host`: redirecting a name it cannot sign would only
    /// trade a working http:// page for a certificate error.
    fn can_serve_https(&self, host: &str) -> bool {
        self.inner
            .options
            .tls
            .as_ref()
            .is_some_and(|tls| tls.authority().ca().permits(host))
    }

    /// Portico's own pages on `portico.localhost` (and on this machine's IP addresses when no
    /// route claims them): the CA certificate for phones and tools.
    fn builtin<B>(&self, req: &Request<B>) -> Option<Response<ProxyBody>> {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return None;
        }
        let tls = self.inner.options.tls.as_ref()?;
        let authority = tls.authority();
        let (body, content_type, name) = match req.uri().path() {
            "/ca.pem" => (
                Bytes::from(authority.ca().root_pem().to_owned()),
                "application/x-pem-file",
                "portico-ca.pem",
            ),
            // DER with this type makes phones offer to install the certificate.
            "/ca.crt" => (
                Bytes::from(authority.ca().root_der().to_vec()),
                "application/x-x509-ca-cert",
                "portico-ca.crt",
            ),
            _ => return None,
        };
        let mut resp = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        Some(resp)
    }
}

/// 308 to the same URL on the HTTPS listener. Not cacheable, so switching the redirect off
/// takes effect in the browser at once.
fn redirect_to_https(host: &str, https_port: u16, uri: &Uri) -> Response<ProxyBody> {
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let pq = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let location = format!("https://{host}{port}{pq}");
    let mut resp = Response::new(
        Full::new(Bytes::from(format!("Redirecting to {location}\n")))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = StatusCode::PERMANENT_REDIRECT;
    let headers = resp.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// How an upstream's body is watched: the route's timeout bounds each silence in it, except
/// in an event stream (Server-Sent Events), which is quiet between events by design.
fn watch(upstream: Upstream, target: &Target, capture: Option<&Capture>) -> Watch {
    Watch {
        upstream,
        idle: Some(target.route.timeout()),
        capture: capture.cloned(),
    }
}

/// An upstream's answer made ready for the client: hop-by-hop headers removed, `Via` added,
/// the body bounded by `watch`.
fn finish_upstream(resp: Response<Incoming>, mut watch: Watch) -> Response<ProxyBody> {
    let (mut parts, body) = resp.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers, None);
    headers::append_via(&mut parts.headers, parts.version);
    parts.version = Version::default();
    let event_stream = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .get(..17)
                .is_some_and(|t| t.eq_ignore_ascii_case("text/event-stream"))
        });
    if event_stream {
        watch.idle = None;
    }
    Response::from_parts(parts, UpstreamBody::new(body, watch).boxed())
}

/// A redirect route's answer: its URL, plus the request's path (after the prefix when the
/// route strips it) and query when it keeps them.
fn redirect(route: &Route, url: &str, uri: &Uri) -> Response<ProxyBody> {
    let location = if route.redirect_keep_path {
        let path = if route.strip_prefix {
            route.path.strip(uri.path())
        } else {
            uri.path()
        };
        let mut location = url.trim_end_matches('/').to_owned();
        location.push_str(path);
        if let Some(query) = uri.query() {
            location.push('?');
            location.push_str(query);
        }
        location
    } else {
        url.to_owned()
    };
    let status =
        StatusCode::from_u16(route.redirect_status).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
    let mut resp = Response::new(
        Full::new(Bytes::from(format!("Redirecting to {location}\n")))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The host the client asked for, as it sent it (with port): the URI authority for HTTP/2
/// and absolute-form requests, else the `Host` header.
fn original_host<B>(req: &Request<B>) -> Result<HeaderValue, Error> {
    if let Some(authority) = req.uri().authority() {
        return Ok(authority_value(authority));
    }
    req.headers()
        .get(header::HOST)
        .cloned()
        .ok_or(Error::BadRequest {
            reason: "the request has no Host header; send one naming the route, e.g. Host: app.localhost",
        })
}

fn authority_value(authority: &Authority) -> HeaderValue {
    HeaderValue::from_str(authority.as_str())
        .expect("an http::uri::Authority is always a valid header value")
}

/// The lowercase host name without port or trailing dot.
pub(super) fn host_name(value: &HeaderValue) -> Result<String, Error> {
    let bad = Error::BadRequest {
        reason: "the Host header is not a valid host name",
    };
    let text = value.to_str().map_err(|_| Error::BadRequest {
        reason: "the Host header is not a valid host name",
    })?;
    let authority: Authority = text.parse().map_err(|_| bad)?;
    // `http` parses a port lazily and takes user info; a Host header has neither an invalid
    // port (`:99999`) nor user info (RFC 9110 7.2), and forwarding one would pass it on.
    let raw = authority.as_str();
    let has_port = raw.rfind(':').is_some_and(|i| !raw[i..].contains(']'));
    if (has_port && authority.port_u16().is_none()) || raw.contains('@') {
        return Err(Error::BadRequest {
            reason: "the Host header is not a valid host name",
        });
    }
    Ok(authority.host().trim_end_matches('.').to_ascii_lowercase())
}

/// `resp` with `guard` kept alive until its body ends or is dropped (a count of what is in
/// flight is given back then, not when the head is sent).
fn hold_until_body_ends<G: Send + Sync + 'static>(
    resp: Response<ProxyBody>,
    guard: Option<G>,
) -> Response<ProxyBody> {
    match guard {
        None => resp,
        Some(guard) => resp.map(|body| Held::new(body, guard).boxed()),
    }
}

/// Credentials for a route with basic auth are never stored, not even on a request refused
/// before it reaches the route (paused, an address list, a limit).
fn redact_credentials<B>(
    capture: Option<&Capture>,
    req: &Request<B>,
    target: Option<&Arc<Target>>,
) {
    if let Some(capture) = capture
        && req.headers().contains_key(header::AUTHORIZATION)
        && target.is_some_and(|t| !t.route.basic_auth.is_empty())
    {
        capture.redact_request_header(&header::AUTHORIZATION);
    }
}

/// How many upstreams one request may be tried on (a route with several).
const MAX_ATTEMPTS: usize = 3;

/// The path (without the route's prefix when it strips) and query every upstream gets after
/// its own base path.
#[derive(Debug, Clone)]
struct ForwardPath(Arc<str>);

impl ForwardPath {
    fn of(route: &Route, uri: &Uri) -> ForwardPath {
        let path = uri.path();
        let path = if route.strip_prefix {
            route.path.strip(path)
        } else {
            path
        };
        let path = if path.is_empty() { "/" } else { path };
        ForwardPath(match uri.query() {
            Some(q) => format!("{path}?{q}").into(),
            None => path.into(),
        })
    }
}

/// The URI to send upstream: the upstream's authority and base path, then the forwarded
/// path and query.
fn upstream_uri(upstream: &Upstream, forward: &str) -> Result<Uri, Error> {
    let mut pq = String::with_capacity(upstream.base_path().len() + forward.len());
    pq.push_str(upstream.base_path());
    pq.push_str(forward);
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(upstream.authority().clone())
        .path_and_query(pq)
        .build()
        .map_err(|_| Error::BadRequest {
            reason: "the request target cannot be forwarded",
        })
}

/// Who is asking, for the sticky policies (owned, to outlive the request it came from).
#[derive(Debug)]
struct Asking {
    client: std::net::IpAddr,
    cookie: Option<String>,
}

/// The route's sticky cookie in the request's `Cookie` headers.
fn sticky_cookie(headers: &http::HeaderMap, route: crate::config::RouteId) -> Option<String> {
    headers::cookie(headers, &sticky_cookie_name(route)).map(|v| v.trim_matches('"').to_owned())
}

/// Whether a request can be sent again after an upstream never received it: an idempotent
/// method (RFC 9110 9.2.2) and no body (a streamed body cannot be replayed).
fn replayable(req: &Request<ProxyBody>) -> bool {
    use http_body::Body as _;
    matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    ) && (req.body().is_end_stream() || req.body().size_hint().exact() == Some(0))
}

fn empty_body() -> ProxyBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed()
}

/// Every upstream of the route, each with what last went wrong with it.
fn all_down(target: &Target, now_ms: i64) -> Error {
    let down = target
        .pool
        .members()
        .iter()
        .map(|m| {
            let mut why = m.last_error().unwrap_or_else(|| "not tried".to_owned());
            if let Some(until) = m.down_until(now_ms) {
                why.push_str(&format!(
                    "; resting for {:.1} s more",
                    (until - now_ms) as f64 / 1000.0
                ));
            } else if m.probe_down() {
                why.push_str("; the last health probe failed");
            }
            (m.upstream.to_string(), why)
        })
        .collect();
    Error::AllDown {
        route: target.label.clone(),
        down,
    }
}

/// Sort a failed upstream request into refused / unreachable / failed, keeping the cause.
fn classify(err: SendError, target: &Target, upstream: &Upstream) -> Error {
    let route = target.label.clone();
    let upstream = upstream.to_string();
    let err = match err {
        SendError::Send(err) => {
            return Error::UpstreamFailed {
                route,
                upstream,
                source: Box::new(err),
            };
        }
        SendError::Connect(err) => err,
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    let mut refused = false;
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            refused = io.kind() == std::io::ErrorKind::ConnectionRefused;
            break;
        }
        cause = e.source();
    }
    if refused {
        Error::UpstreamRefused {
            route,
            upstream,
            source: err,
        }
    } else {
        Error::UpstreamUnreachable {
            route,
            upstream,
            source: err,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NewRoute;

    fn route(path: &str, upstream: &str, strip: bool) -> Route {
        NewRoute {
            host: "app.localhost".into(),
            path: Some(path.into()),
            upstreams: vec![upstream.into()],
            strip_prefix: strip,
            ..Default::default()
        }
        .validate()
        .expect("valid")
        .with_id(1)
    }

    fn forwarded(prefix: &str, upstream: &str, strip: bool, uri: &Uri) -> String {
        let route = route(prefix, upstream, strip);
        let upstream = route.upstream().expect("a proxying route");
        upstream_uri(upstream, &ForwardPath::of(&route, uri).0)
            .expect("uri")
            .to_string()
    }

    #[test]
    fn upstream_uri_keeps_or_strips_the_prefix_and_keeps_the_query() {
        let uri: Uri = "/api/users?id=1".parse().expect("uri");
        assert_eq!(
            forwarded("/api", "3000", false, &uri),
            "http://localhost:3000/api/users?id=1"
        );
        assert_eq!(
            forwarded("/api", "3000", true, &uri),
            "http://localhost:3000/users?id=1"
        );
        assert_eq!(
            forwarded("/api", "http://localhost:3000/v1", true, &uri),
            "http://localhost:3000/v1/users?id=1"
        );
        let bare: Uri = "/api".parse().expect("uri");
        assert_eq!(
            forwarded("/api", "3000", true, &bare),
            "http://localhost:3000/"
        );
    }

    #[test]
    fn dot_segments_are_found_plain_or_percent_encoded() {
        for path in [
            "/..",
            "/a/../b",
            "/./a",
            "/a/.",
            "/%2e%2E/x",
            "/a/.%2e",
            "/%2E",
        ] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in [
            "/",
            "/a.b",
            "/...",
            "/..a",
            "/a%2eb",
            "/%2",
            "/.well-known/x",
            "*",
        ] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }

    #[test]
    fn host_names_lose_port_case_and_trailing_dot() {
        let name = |v: &'static str| host_name(&HeaderValue::from_static(v)).expect(v);
        assert_eq!(name("App.Localhost:8080"), "app.localhost");
        assert_eq!(name("app.localhost."), "app.localhost");
        assert_eq!(name("[::1]:80"), "[::1]");
        assert!(host_name(&HeaderValue::from_static("a b")).is_err());
        assert!(host_name(&HeaderValue::from_static("app.localhost:99999")).is_err());
        assert!(host_name(&HeaderValue::from_static("user@app.localhost")).is_err());
    }
}
