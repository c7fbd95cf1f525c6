//! The per-route shared HTTP response cache (RFC 9111, shared-cache rules), sitting between
//! the proxy and the upstream: it answers from stored responses, revalidates stale ones with
//! conditional requests, collapses concurrent misses into one upstream fetch and keeps the
//! store under a byte bound.
//!
//! It owns the decision "may this be stored / reused" (delegated to `http-cache-semantics`
//! with `shared: true`, plus Portico's stricter rules below), the store ([`moka`], weighed in
//! bytes, least recently used first out) and the per-route counters. It does not own
//! forwarding: [`Cache::handle`] receives the request as the proxy will forward it and a
//! `forward` function that sends a request upstream.
//!
//! Beyond RFC 9111 the cache is deliberately conservative:
//! - a response with `Set-Cookie`, with `Vary: *`, or a `206` is never stored;
//! - a response that is stale on arrival is stored only when it carries a validator
//!   (`ETag` or `Last-Modified`), so that it can be revalidated;
//! - requests with `Range`, `If-Match`, `If-Unmodified-Since`, `If-Range`, a body, an
//!   `Upgrade`, or `Cache-Control: no-store` bypass the cache;
//! - one stored body is at most [`Cache::entry_cap`] bytes: `min(max_bytes / 8, 64 MiB)`;
//! - an encoded response (`Content-Encoding`) whose `Vary` omits `Accept-Encoding` is
//!   treated as if it named it.
//!
//! A miss is forwarded without the client's `If-None-Match` / `If-Modified-Since`, so that
//! the answer is a storable `200`; the cache answers those validators itself from stored
//! responses. A key whose response was not storable is forwarded untouched, and without
//! collapsing, for the next 30 s ("hit-for-pass").
//!
//! The key is the route, the client's scheme (`X-Forwarded-Proto`) and host
//! (`X-Forwarded-Host`, else `Host`, else the URI authority), the upstream authority and the
//! forwarded path and query; `GET` and `HEAD` share it. Each key keeps up to
//! [`MAX_VARIANTS`] responses selected by their `Vary` header.

mod collapse;
mod conditional;
mod freshness;
mod store;
mod tee;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body as _;
use http_body_util::{BodyExt, Empty, Full};

use crate::proxy::{Error, ProxyBody, Side};
use collapse::{Flights, Join, Leader, Waited};
use conditional::ClientValidators;
use store::{Found, Key, Store, Stored};
use tee::{Pending, TeeBody};

/// How many responses one key keeps for different `Vary`-selected request headers; the
/// oldest goes first.
pub const MAX_VARIANTS: usize = 8;

/// The largest body one entry may hold, whatever the size bound: 64 MiB.
pub const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// How long a request waits for another request's fetch of the same key before going
/// upstream itself (a leader whose client reads slowly must not hold everyone).
const COLLAPSE_WAIT: Duration = Duration::from_secs(15);

/// What the cache did for one request, for the `Cache-Status` header (RFC 9211) and the
/// inspector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Answered from a fresh stored response; the upstream was not contacted.
    Hit,
    /// Forwarded because nothing usable was stored.
    Miss {
        /// The response is storable and is being stored as it streams. It is still dropped
        /// if the body fails or grows past the per-entry cap ([`Cache::entry_cap`]).
        stored: bool,
    },
    /// A stale stored response was revalidated: the upstream answered `304 Not Modified`
    /// and the stored body was served.
    Revalidated,
    /// A stale stored response was served because the upstream failed and the response (or
    /// the request) allows it with `stale-if-error`.
    Stale,
    /// The cache stayed out of the way: the request was forwarded as it is and nothing was
    /// stored.
    Bypass {
        /// Why: `"method"`, `"no-store request"`, `"range request"`, `"uri too big"`, …
        reason: &'static str,
    },
    /// Waited for a concurrent request's fetch of the same resource, then answered from
    /// what it stored.
    Collapsed,
}

impl CacheOutcome {
    /// The `Cache-Status` field value (RFC 9211) for this outcome, with `Portico` as the
    /// cache name: `Portico; hit`, `Portico; fwd=miss; stored`, `Portico; fwd=miss`,
    /// `Portico; fwd=stale; fwd-status=304`, `Portico; fwd=stale; detail="stale-if-error"`,
    /// `Portico; fwd=bypass; detail="method"`, `Portico; hit; collapsed`.
    pub fn header_value(&self) -> HeaderValue {
        match self {
            CacheOutcome::Hit => HeaderValue::from_static("Portico; hit"),
            CacheOutcome::Miss { stored: true } => {
                HeaderValue::from_static("Portico; fwd=miss; stored")
            }
            CacheOutcome::Miss { stored: false } => HeaderValue::from_static("Portico; fwd=miss"),
            CacheOutcome::Revalidated => {
                HeaderValue::from_static("Portico; fwd=stale; fwd-status=304")
            }
            CacheOutcome::Stale => {
                HeaderValue::from_static("Portico; fwd=stale; detail=\"stale-if-error\"")
            }
            CacheOutcome::Bypass { reason } => {
                let escaped = reason.replace('\\', "\\\\").replace('"', "\\\"");
                HeaderValue::from_str(&format!("Portico; fwd=bypass; detail=\"{escaped}\""))
                    .unwrap_or_else(|_| HeaderValue::from_static("Portico; fwd=bypass"))
            }
            CacheOutcome::Collapsed => HeaderValue::from_static("Portico; hit; collapsed"),
        }
    }

    /// A short name for the inspector: `hit`, `miss`, `revalidated`, `stale`, `bypass` or
    /// `collapsed`.
    pub fn label(&self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss { .. } => "miss",
            CacheOutcome::Revalidated => "revalidated",
            CacheOutcome::Stale => "stale",
            CacheOutcome::Bypass { .. } => "bypass",
            CacheOutcome::Collapsed => "collapsed",
        }
    }
}

/// Per-route settings the proxy passes in.
#[derive(Debug, Clone, Copy)]
pub struct RouteCache {
    /// The route; entries and counters are kept per route.
    pub route_id: i64,
    /// Treat a response that has no explicit freshness (no `max-age`, `s-maxage` or
    /// `Expires`) and is otherwise storable as fresh this long, as a CDN configured with a
    /// default TTL would. The client still sees the upstream's own headers. Applies only to
    /// statuses cacheable by default (200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501)
    /// and not to requests with `Authorization`. `None` (the default) leaves such responses
    /// to the RFC 9111 heuristic: fresh for 10% of the time since `Last-Modified`, else not
    /// stored.
    pub default_ttl: Option<Duration>,
}

/// The client's path and query, when the proxy rewrote them for the upstream (a stripped
/// prefix, an upstream base path). Insert it into the request's extensions before calling
/// [`Cache::handle`] so that [`Cache::purge_url`] finds entries by the URL the client used;
/// without it the forwarded path and query are used.
#[derive(Debug, Clone)]
pub struct ClientTarget(pub http::uri::PathAndQuery);

/// Counters and sizes for one route.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct RouteCacheStats {
    /// The route.
    pub route_id: i64,
    /// Requests answered from a fresh stored response (including collapsed ones).
    pub hits: u64,
    /// Of the hits, those that waited for another request's fetch.
    pub collapsed: u64,
    /// Stale responses revalidated with a `304` from the upstream.
    pub revalidated: u64,
    /// Stale responses served because the upstream failed (`stale-if-error`).
    pub stale: u64,
    /// Requests forwarded because nothing usable was stored.
    pub misses: u64,
    /// Requests the cache did not handle (other methods, `no-store` requests, …).
    pub bypassed: u64,
    /// Stored responses (each `Vary` variant counts).
    pub entries: u64,
    /// Approximate bytes held: bodies, headers and bookkeeping.
    pub stored_bytes: u64,
}

/// The whole cache's counters and sizes, in total and per route. Counters are totals since
/// the engine started; purging does not reset them.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct CacheStats {
    /// The size bound, in bytes.
    pub max_bytes: u64,
    /// The largest body one entry may hold, in bytes.
    pub entry_max_bytes: u64,
    /// Requests answered from a fresh stored response.
    pub hits: u64,
    /// Of the hits, those that waited for another request's fetch.
    pub collapsed: u64,
    /// Stale responses revalidated with a `304`.
    pub revalidated: u64,
    /// Stale responses served because the upstream failed.
    pub stale: u64,
    /// Requests forwarded because nothing usable was stored.
    pub misses: u64,
    /// Requests the cache did not handle.
    pub bypassed: u64,
    /// Stored responses. Evictions are applied lazily, so right after a burst of stores this
    /// may briefly count entries about to be evicted.
    pub entries: u64,
    /// Approximate bytes held, with the same lag as `entries`.
    pub stored_bytes: u64,
    /// Per route, by route id.
    pub routes: Vec<RouteCacheStats>,
}

/// The response cache: cheap to clone, shared by every connection.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("max_bytes", &self.max_bytes())
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: ArcSwap<Store>,
    flights: Arc<Flights>,
    counters: RwLock<HashMap<i64, Arc<Counters>>>,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    collapsed: AtomicU64,
    revalidated: AtomicU64,
    stale: AtomicU64,
    misses: AtomicU64,
    bypassed: AtomicU64,
}

/// One cacheable request, with everything worked out before going upstream.
struct Prepared {
    route: RouteCache,
    /// The store as it was when the request arrived (see [`Cache::set_max_bytes`]).
    store: Arc<Store>,
    key: Key,
    client_target: Box<str>,
    /// The request as the cache policy sees it: `GET`, origin-form URI, normalised `Host`,
    /// the client's own validators removed (the cache evaluates those itself).
    policy_req: http::request::Parts,
    head: bool,
    validators: ClientValidators,
}

/// What the request does after looking in the store.
enum Mode {
    /// Lead a fetch or wait for one.
    Join,
    /// Go upstream without collapsing; `strip` removes the client's validators so that the
    /// upstream sends a full, storable response.
    Alone { strip: bool },
    /// Waited for a fetch that stored something.
    AfterWait,
}

impl Cache {
    /// A cache bounded to `max_bytes` (bodies, headers and bookkeeping). `0` turns caching
    /// off: every request is a bypass.
    pub fn new(max_bytes: u64) -> Cache {
        Cache {
            inner: Arc::new(Inner {
                store: ArcSwap::from_pointee(Store::new(max_bytes)),
                flights: Arc::new(Flights::default()),
                counters: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The size bound, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.inner.store.load().max_bytes()
    }

    /// The largest body one entry may hold: `min(max_bytes / 8, 64 MiB)`. A response whose
    /// `Content-Length` is larger is not stored; one without stops being copied once it grows
    /// past it (the client still gets all of it).
    pub fn entry_cap(&self) -> u64 {
        self.inner.store.load().entry_cap()
    }

    /// Change the size bound. The store cannot be resized in place, so a different bound
    /// starts an empty store: everything cached is dropped (responses being stored as this
    /// is called are dropped too). Setting the current bound again changes nothing.
    /// Counters are kept.
    pub fn set_max_bytes(&self, max_bytes: u64) {
        if self.max_bytes() != max_bytes {
            self.inner.store.store(Arc::new(Store::new(max_bytes)));
        }
    }

    /// Serve `req` (the request as the proxy will forward it) from the cache or through
    /// `forward`, which is called at most once: for a miss, a revalidation (with the stored
    /// response's validators as `If-None-Match` / `If-Modified-Since`), or a bypass.
    ///
    /// A miss streams the upstream's body to the client as it arrives while copying it; the
    /// copy is stored when the body completes. Concurrent misses for the same key reach the
    /// upstream once when the response turns out storable; otherwise the waiting requests are
    /// released as soon as the first response's headers show it, and go upstream together.
    ///
    /// # Errors
    ///
    /// Whatever `forward` returns, unless a stale response may be served instead
    /// ([`CacheOutcome::Stale`]).
    pub async fn handle<F, Fut>(
        &self,
        route: RouteCache,
        req: Request<ProxyBody>,
        forward: F,
    ) -> Result<(Response<ProxyBody>, CacheOutcome), Error>
    where
        F: FnOnce(Request<ProxyBody>) -> Fut,
        Fut: Future<Output = Result<Response<ProxyBody>, Error>>,
    {
        let store = self.inner.store.load_full();
        if !store.enabled() {
            return self
                .bypass(&store, route, req, forward, "cache is off")
                .await;
        }
        let prep = match prepare(route, store.clone(), &req) {
            Ok(prep) => prep,
            Err(reason) => return self.bypass(&store, route, req, forward, reason).await,
        };

        let mut mode = Mode::Join;
        loop {
            let now = SystemTime::now();
            let found = prep.store.find(&prep.key, &prep.policy_req, now).await;
            if let Found::Fresh(stored) = &found {
                let outcome = match mode {
                    Mode::AfterWait => CacheOutcome::Collapsed,
                    _ => CacheOutcome::Hit,
                };
                self.count(route.route_id, &outcome);
                return Ok((respond(stored, &prep, now), outcome));
            }
            if prep.head {
                // A HEAD is answered only from a fresh GET; otherwise it goes upstream as a
                // HEAD (client validators and all) and its answer, having no body, is not
                // stored.
                let resp = forward(req).await?;
                let outcome = CacheOutcome::Miss { stored: false };
                self.count(route.route_id, &outcome);
                return Ok((resp, outcome));
            }
            match mode {
                Mode::Join => match self.inner.flights.join(&prep.key) {
                    Join::Lead(leader) => {
                        return self
                            .fetch(prep, req, found, Some(leader), true, forward)
                            .await;
                    }
                    Join::Alone => {
                        return self.fetch(prep, req, found, None, false, forward).await;
                    }
                    Join::Wait(rx) => match collapse::wait(rx, COLLAPSE_WAIT).await {
                        Waited::Stored => mode = Mode::AfterWait,
                        Waited::Released { pass } => mode = Mode::Alone { strip: !pass },
                    },
                },
                Mode::Alone { strip } => {
                    return self.fetch(prep, req, found, None, strip, forward).await;
                }
                Mode::AfterWait => {
                    return self.fetch(prep, req, found, None, true, forward).await;
                }
            }
        }
    }

    /// Go upstream for a miss or a revalidation, and store what comes back when allowed.
    async fn fetch<F, Fut>(
        &self,
        prep: Prepared,
        req: Request<ProxyBody>,
        found: Found,
        leader: Option<Leader>,
        strip: bool,
        forward: F,
    ) -> Result<(Response<ProxyBody>, CacheOutcome), Error>
    where
        F: FnOnce(Request<ProxyBody>) -> Fut,
        Fut: Future<Output = Result<Response<ProxyBody>, Error>>,
    {
        let (mut parts, body) = req.into_parts();
        let stale = match found {
            Found::Stale(stored, validators) => {
                conditional::remove_validators(&mut parts.headers);
                validators.apply(&mut parts.headers);
                Some(stored)
            }
            Found::Fresh(_) | Found::None => {
                if strip {
                    conditional::remove_validators(&mut parts.headers);
                }
                None
            }
        };
        let result = forward(Request::from_parts(parts, body)).await;
        let now = SystemTime::now();
        let resp = match result {
            Ok(resp) => resp,
            Err(err) => {
                drop(leader);
                if let Some(stored) = &stale
                    && err.side() == Side::Upstream
                    && freshness::stale_if_error(stored, &prep.policy_req.headers, now)
                {
                    return Ok(self.serve_stale(&prep, stored, now, &err));
                }
                return Err(err);
            }
        };

        if let Some(stored) = stale {
            if resp.status() == StatusCode::NOT_MODIFIED {
                return Ok(self.freshen(prep, &stored, resp, leader, now).await);
            }
            if resp.status().is_server_error()
                && freshness::stale_if_error(&stored, &prep.policy_req.headers, now)
            {
                drop(leader);
                let status = resp.status();
                return Ok(self.serve_stale(&prep, &stored, now, &status));
            }
            // A full answer supersedes the stale variant, whether or not it is storable.
            prep.store.remove_variant(&prep.key, &stored).await;
        }
        Ok(self.admit(prep, resp, leader, now).await)
    }

    /// The upstream confirmed a stale variant with `304`: update its headers and freshness,
    /// and answer from its body.
    ///
    /// The revalidation carried the validators of exactly this variant, so a `304` refers
    /// to it, with one exception: a `304` naming a different strong `ETag` contradicts it
    /// and must not update it (RFC 9111 §4.3.4). http-cache-semantics' `after_response`
    /// is not used to decide this, because it also rejects compliant `304`s that omit
    /// `Last-Modified` (RFC 9110 §15.4.5 does not require it).
    async fn freshen(
        &self,
        prep: Prepared,
        stale: &Arc<Stored>,
        not_modified: Response<ProxyBody>,
        leader: Option<Leader>,
        now: SystemTime,
    ) -> (Response<ProxyBody>, CacheOutcome) {
        let outcome = CacheOutcome::Revalidated;
        self.count(prep.route.route_id, &outcome);
        // Cookies set on this exchange are for this client; they are never stored.
        let cookies: Vec<HeaderValue> = not_modified
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        let contradicts = freshness::contradicts(&stale.headers, not_modified.headers());
        let headers = if contradicts {
            stale.headers.clone()
        } else {
            freshness::merge_not_modified(&stale.headers, not_modified.headers())
        };
        drop(not_modified);
        let policy = if contradicts {
            Err("the 304 names another strong ETag")
        } else {
            freshness::storable(prep.route, &prep.policy_req, stale.status, &headers, now)
        };
        let mut resp = match policy {
            Ok(policy) => {
                let fresh = Arc::new(Stored::new(
                    policy,
                    stale.status,
                    headers,
                    stale.body.clone(),
                    &prep.policy_req.headers,
                    now,
                ));
                prep.store
                    .put(
                        &prep.key,
                        &prep.client_target,
                        &prep.policy_req,
                        fresh.clone(),
                    )
                    .await;
                self.inner.flights.clear_pass(&prep.key);
                if let Some(leader) = leader {
                    if fresh.is_fresh(now) {
                        leader.stored();
                    } else {
                        leader.release(false);
                    }
                }
                respond(&fresh, &prep, now)
            }
            Err(why) => {
                tracing::debug!(key = ?prep.key, why, "revalidated response not kept");
                prep.store.remove_variant(&prep.key, stale).await;
                if let Some(leader) = leader {
                    leader.release(!contradicts);
                }
                // The stored body still answers this request; the next one starts afresh.
                let shown = Stored::unstored(stale, headers, &prep.policy_req, now);
                respond(&shown, &prep, now)
            }
        };
        for cookie in cookies {
            resp.headers_mut().append(header::SET_COOKIE, cookie);
        }
        (resp, outcome)
    }

    /// A full response from the upstream: pass it on, copying it into the store when it is
    /// storable.
    async fn admit(
        &self,
        prep: Prepared,
        resp: Response<ProxyBody>,
        leader: Option<Leader>,
        now: SystemTime,
    ) -> (Response<ProxyBody>, CacheOutcome) {
        let (parts, body) = resp.into_parts();
        let store = prep.store.clone();
        let policy = freshness::storable(
            prep.route,
            &prep.policy_req,
            parts.status,
            &parts.headers,
            now,
        )
        .and_then(|policy| {
            let announced = freshness::content_length(&parts.headers);
            if announced.is_some_and(|len| len > store.entry_cap()) {
                Err("larger than the per-entry cap")
            } else {
                Ok(policy)
            }
        });
        let policy = match policy {
            Ok(policy) => policy,
            Err(why) => {
                tracing::debug!(key = ?prep.key, status = %parts.status, why, "not stored");
                if let Some(leader) = leader {
                    leader.release(true);
                }
                let outcome = CacheOutcome::Miss { stored: false };
                self.count(prep.route.route_id, &outcome);
                return (Response::from_parts(parts, body), outcome);
            }
        };

        // Waiters can only use a response that will be fresh once stored; one that must be
        // revalidated before any reuse is stored for that, but its waiters go upstream now.
        let leader = match leader {
            Some(leader) if policy.time_to_live(now).is_zero() => {
                leader.release(false);
                None
            }
            other => other,
        };
        let outcome = CacheOutcome::Miss { stored: true };
        self.count(prep.route.route_id, &outcome);
        let pending = Pending {
            store: store.clone(),
            flights: self.inner.flights.clone(),
            key: prep.key,
            client_target: prep.client_target,
            policy_req: prep.policy_req,
            policy,
            status: parts.status,
            headers: freshness::storable_headers(&parts.headers),
            received: now,
            leader,
        };
        if body.is_end_stream() {
            // Nothing will poll an empty body to its end, so store it now.
            pending.finish(Bytes::new()).await;
            return (Response::from_parts(parts, body), outcome);
        }
        let expected = freshness::content_length(&parts.headers);
        let body = TeeBody::new(body, pending, store.entry_cap(), expected).boxed();
        (Response::from_parts(parts, body), outcome)
    }

    fn serve_stale(
        &self,
        prep: &Prepared,
        stored: &Stored,
        now: SystemTime,
        why: &dyn std::fmt::Display,
    ) -> (Response<ProxyBody>, CacheOutcome) {
        tracing::debug!(key = ?prep.key, %why, "upstream failed; serving stale (stale-if-error)");
        let outcome = CacheOutcome::Stale;
        self.count(prep.route.route_id, &outcome);
        (respond(stored, prep, now), outcome)
    }

    /// Forward without caching; an unsafe method that succeeds invalidates what is stored
    /// for its URL (RFC 9111 §4.4), and for same-origin `Location` / `Content-Location`.
    async fn bypass<F, Fut>(
        &self,
        store: &Store,
        route: RouteCache,
        req: Request<ProxyBody>,
        forward: F,
        reason: &'static str,
    ) -> Result<(Response<ProxyBody>, CacheOutcome), Error>
    where
        F: FnOnce(Request<ProxyBody>) -> Fut,
        Fut: Future<Output = Result<Response<ProxyBody>, Error>>,
    {
        let invalidates = !matches!(
            *req.method(),
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        let key = if invalidates {
            Key::of(route.route_id, &req).ok()
        } else {
            None
        };
        let resp = forward(req).await?;
        if let Some(key) = key
            && (resp.status().is_success() || resp.status().is_redirection())
        {
            store.invalidate(&key).await;
            for name in [header::LOCATION, header::CONTENT_LOCATION] {
                if let Some(other) = resp.headers().get(name).and_then(|v| key.same_origin(v)) {
                    store.invalidate(&other).await;
                }
            }
        }
        let outcome = CacheOutcome::Bypass { reason };
        self.count(route.route_id, &outcome);
        Ok((resp, outcome))
    }

    /// Drop every stored response; returns how many there were.
    pub fn purge_all(&self) -> u64 {
        self.inner.store.load().purge_if(|_, _| true)
    }

    /// Drop one route's stored responses; returns how many there were.
    pub fn purge_route(&self, route_id: i64) -> u64 {
        self.inner
            .store
            .load()
            .purge_if(move |key, _| key.route_id() == route_id)
    }

    /// Drop the stored responses for an absolute URL as the client asked for it
    /// (`http://app.localhost:8080/a?b=1`), on every route; returns how many there were.
    /// Host (case-insensitive), path and query must match exactly; the scheme and port are
    /// ignored, so `https://app.localhost/a` also drops what was stored for
    /// `http://app.localhost:8080/a`. The path is the client's when the proxy passed a
    /// [`ClientTarget`], else the forwarded one. A string that is not an absolute URL
    /// purges nothing.
    pub fn purge_url(&self, url: &str) -> u64 {
        let Some((host, target)) = store::parse_url(url) else {
            return 0;
        };
        self.inner.store.load().purge_if(move |key, variants| {
            key.host_name() == host && variants.client_target() == target
        })
    }

    /// Counters and sizes, in total and per route.
    pub fn stats(&self) -> CacheStats {
        let store = self.inner.store.load();
        let usage = store.usage();
        let counters: Vec<(i64, Arc<Counters>)> = self
            .inner
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, c)| (*id, c.clone()))
            .collect();
        let mut routes: HashMap<i64, RouteCacheStats> = HashMap::new();
        for (route_id, c) in counters {
            let r = routes.entry(route_id).or_default();
            r.route_id = route_id;
            r.hits = c.hits.load(Ordering::Relaxed);
            r.collapsed = c.collapsed.load(Ordering::Relaxed);
            r.revalidated = c.revalidated.load(Ordering::Relaxed);
            r.stale = c.stale.load(Ordering::Relaxed);
            r.misses = c.misses.load(Ordering::Relaxed);
            r.bypassed = c.bypassed.load(Ordering::Relaxed);
        }
        for (route_id, (entries, bytes)) in usage {
            let r = routes.entry(route_id).or_default();
            r.route_id = route_id;
            r.entries = entries;
            r.stored_bytes = bytes;
        }
        let mut routes: Vec<RouteCacheStats> = routes.into_values().collect();
        routes.sort_by_key(|r| r.route_id);
        let mut stats = CacheStats {
            max_bytes: store.max_bytes(),
            entry_max_bytes: store.entry_cap(),
            ..CacheStats::default()
        };
        for r in &routes {
            stats.hits += r.hits;
            stats.collapsed += r.collapsed;
            stats.revalidated += r.revalidated;
            stats.stale += r.stale;
            stats.misses += r.misses;
            stats.bypassed += r.bypassed;
            stats.entries += r.entries;
            stats.stored_bytes += r.stored_bytes;
        }
        stats.routes = routes;
        stats
    }

    fn count(&self, route_id: i64, outcome: &CacheOutcome) {
        let existing = self
            .inner
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&route_id)
            .cloned();
        let counters = match existing {
            Some(c) => c,
            None => self
                .inner
                .counters
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(route_id)
                .or_default()
                .clone(),
        };
        let counter = match outcome {
            CacheOutcome::Hit => &counters.hits,
            CacheOutcome::Collapsed => {
                counters.collapsed.fetch_add(1, Ordering::Relaxed);
                &counters.hits
            }
            CacheOutcome::Revalidated => &counters.revalidated,
            CacheOutcome::Stale => &counters.stale,
            CacheOutcome::Miss { .. } => &counters.misses,
            CacheOutcome::Bypass { .. } => &counters.bypassed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Apply pending evictions and invalidations now (moka applies them lazily), so the
    /// next [`Cache::stats`] shows what is really held.
    pub async fn settle(&self) {
        self.inner.store.load().settle().await;
    }
}

/// Work out the key and the policy's view of a GET or HEAD, or why the cache stays out.
fn prepare(
    route: RouteCache,
    store: Arc<Store>,
    req: &Request<ProxyBody>,
) -> Result<Prepared, &'static str> {
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => return Err("method"),
    };
    let headers = req.headers();
    if freshness::directives(headers.get_all(header::CACHE_CONTROL))
        .any(|(name, _)| name.eq_ignore_ascii_case("no-store"))
    {
        return Err("no-store request");
    }
    if headers.contains_key(header::UPGRADE) {
        return Err("upgrade");
    }
    if headers.contains_key(header::RANGE) || headers.contains_key(header::IF_RANGE) {
        return Err("range request");
    }
    if headers.contains_key(header::IF_MATCH) || headers.contains_key(header::IF_UNMODIFIED_SINCE) {
        return Err("precondition");
    }
    if headers.contains_key(header::TRANSFER_ENCODING)
        || freshness::content_length(headers).is_some_and(|len| len > 0)
    {
        return Err("request body");
    }
    let key = Key::of(route.route_id, req)?;
    let client_target = match req.extensions().get::<ClientTarget>() {
        Some(ClientTarget(pq)) => Box::from(pq.as_str()),
        None => Box::from(key.target()),
    };
    let mut policy_req = Request::new(()).into_parts().0;
    policy_req.method = Method::GET;
    policy_req.uri = key.target().parse().map_err(|_| "uri")?;
    policy_req.headers = headers.clone();
    conditional::remove_validators(&mut policy_req.headers);
    policy_req.headers.insert(
        header::HOST,
        HeaderValue::from_str(key.host()).map_err(|_| "no host")?,
    );
    Ok(Prepared {
        route,
        store,
        key,
        client_target,
        policy_req,
        head,
        validators: ClientValidators::from_headers(headers),
    })
}

/// The client's answer from a stored response: `Age` set, its own validators evaluated
/// (`304` when they match), no body for `HEAD`.
fn respond(stored: &Stored, prep: &Prepared, now: SystemTime) -> Response<ProxyBody> {
    let mut headers = stored.headers.clone();
    headers.insert(header::AGE, HeaderValue::from(stored.age(now).as_secs()));
    let (status, body) = if prep.validators.not_modified(stored.status, &stored.headers) {
        headers.remove(header::CONTENT_LENGTH);
        (StatusCode::NOT_MODIFIED, empty())
    } else {
        if freshness::status_has_body(stored.status) {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(stored.body.len()));
        }
        let body = if prep.head {
            empty()
        } else {
            full(stored.body.clone())
        };
        (stored.status, body)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

fn empty() -> ProxyBody {
    Empty::<Bytes>::new()
        .map_err(|never: Infallible| match never {})
        .boxed()
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed()
}
