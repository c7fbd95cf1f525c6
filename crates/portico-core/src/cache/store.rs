//! What the cache keeps: keys, stored responses grouped by key into `Vary` variants, and the
//! byte-bounded [`moka`] store that holds them (least recently used evicted first).

use std::collections::HashMap;
use std::future::ready;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_cache_semantics::{BeforeRequest, CachePolicy};
use moka::future::Cache as Moka;
use moka::ops::compute::Op;
use moka::policy::EvictionPolicy;

use super::conditional::UpstreamValidators;
use super::{MAX_ENTRY_BYTES, MAX_VARIANTS};

/// Longest request target (path and query) the cache keys; longer ones bypass.
const MAX_TARGET: usize = 8 << 10;

/// Longest host the cache keys.
const MAX_HOST: usize = 300;

/// Bytes counted for each stored response beyond its body and headers (the policy, the
/// struct, the map slot).
const OVERHEAD: u64 = 512;

/// Identifies a cached resource. `GET` and `HEAD` share it; `Vary` variants live inside.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    route_id: i64,
    /// The client's scheme as the proxy reported it (`X-Forwarded-Proto`), or the URI's.
    scheme: Box<str>,
    /// The client's host and port, lowercase.
    host: Box<str>,
    /// The forwarded URI's authority (the upstream), lowercase; empty for origin-form URIs.
    upstream: Box<str>,
    /// Path and query as forwarded.
    target: Box<str>,
}

impl Key {
    /// The key for a request on `route_id`, or why it cannot be keyed.
    pub(super) fn of<B>(route_id: i64, req: &Request<B>) -> Result<Key, &'static str> {
        let headers = req.headers();
        let uri = req.uri();
        let scheme = first_value(headers, "x-forwarded-proto")
            .or_else(|| uri.scheme_str())
            .unwrap_or_default();
        let host = first_value(headers, "x-forwarded-host")
            .or_else(|| first_value(headers, "host"))
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .ok_or("no host")?;
        let upstream = uri.authority().map_or("", |a| a.as_str());
        let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
        if target.len() > MAX_TARGET || host.len() > MAX_HOST || upstream.len() > MAX_HOST {
            return Err("uri too big");
        }
        Ok(Key {
            route_id,
            scheme: scheme.to_ascii_lowercase().into(),
            host: host.to_ascii_lowercase().into(),
            upstream: upstream.to_ascii_lowercase().into(),
            target: target.into(),
        })
    }

    pub(super) fn route_id(&self) -> i64 {
        self.route_id
    }

    /// Host and port, as the client sent them (lowercase).
    pub(super) fn host(&self) -> &str {
        &self.host
    }

    /// The host without its port.
    pub(super) fn host_name(&self) -> &str {
        host_name(&self.host)
    }

    pub(super) fn target(&self) -> &str {
        &self.target
    }

    /// The key of a same-origin `Location` / `Content-Location` value (an absolute path, or
    /// an absolute URL on the client's or the upstream's authority).
    pub(super) fn same_origin(&self, value: &HeaderValue) -> Option<Key> {
        let uri: Uri = value.to_str().ok()?.parse().ok()?;
        let target = match uri.authority() {
            Some(authority) => {
                let authority = authority.as_str().to_ascii_lowercase();
                if *authority != *self.host && *authority != *self.upstream {
                    return None;
                }
                uri.path_and_query().map_or("/", |pq| pq.as_str())
            }
            None => {
                let pq = uri.path_and_query()?.as_str();
                if !pq.starts_with('/') {
                    return None;
                }
                pq
            }
        };
        Some(Key {
            target: target.into(),
            ..self.clone()
        })
    }
}

fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

/// `host[:port]` without the port (IPv6 literals keep their brackets) and without user
/// information.
fn host_name(authority: &str) -> &str {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// An absolute URL's host (lowercase, no port) and its path and query, for purging.
pub(super) fn parse_url(url: &str) -> Option<(String, String)> {
    let url = url.split('#').next()?;
    let uri: Uri = url.trim().parse().ok()?;
    uri.scheme()?;
    let authority = uri.authority()?.as_str().to_ascii_lowercase();
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    Some((host_name(&authority).to_owned(), target.to_owned()))
}

/// One stored response.
pub(super) struct Stored {
    /// Decides freshness and `Vary` matching; its response headers may carry the route's
    /// default TTL, which the client never sees.
    pub(super) policy: CachePolicy,
    pub(super) status: StatusCode,
    /// The headers the client gets (hop-by-hop fields removed).
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
    /// When it stops being fresh (for a request without directives).
    fresh_until: SystemTime,
    weight: u64,
}

impl Stored {
    pub(super) fn new(
        policy: CachePolicy,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        request_headers: &HeaderMap,
        now: SystemTime,
    ) -> Stored {
        let fresh_until = now + policy.time_to_live(now);
        // The policy keeps its own copy of the request and response headers.
        let weight = body.len() as u64
            + 2 * headers_size(&headers)
            + headers_size(request_headers)
            + OVERHEAD;
        Stored {
            policy,
            status,
            headers,
            body,
            fresh_until,
            weight,
        }
    }

    /// A response not (or no longer) stored, shown once: the body of `like` with `headers`.
    pub(super) fn unstored(
        like: &Stored,
        headers: HeaderMap,
        req: &http::request::Parts,
        now: SystemTime,
    ) -> Stored {
        let policy = super::freshness::policy(req, like.status, headers.clone(), now);
        Stored::new(
            policy,
            like.status,
            headers,
            like.body.clone(),
            &req.headers,
            now,
        )
    }

    /// How old it is, for the `Age` header.
    pub(super) fn age(&self, now: SystemTime) -> Duration {
        self.policy.age(now)
    }

    /// Whether it may be reused without revalidation (for a request without directives).
    pub(super) fn is_fresh(&self, now: SystemTime) -> bool {
        !self.policy.time_to_live(now).is_zero()
    }

    /// When it stopped (or stops) being fresh.
    pub(super) fn fresh_until(&self) -> SystemTime {
        self.fresh_until
    }

    /// Whether a request selects this variant (same `Vary`-nominated headers).
    fn selected_by(&self, req: &http::request::Parts, now: SystemTime) -> bool {
        match self.policy.before_request(req, now) {
            BeforeRequest::Fresh(_) => true,
            BeforeRequest::Stale { matches, .. } => matches,
        }
    }
}

fn headers_size(headers: &HeaderMap) -> u64 {
    headers
        .iter()
        .map(|(name, value)| (name.as_str().len() + value.len() + 4) as u64)
        .sum()
}

/// The responses stored under one key, newest first.
pub(super) struct Variants {
    client_target: Box<str>,
    items: Vec<Arc<Stored>>,
    weight: u32,
}

impl Variants {
    fn new(key: &Key, client_target: &str, items: Vec<Arc<Stored>>) -> Variants {
        let weight = items.iter().map(|s| s.weight).sum::<u64>()
            + (key.host.len() + key.upstream.len() + key.target.len() + client_target.len()) as u64;
        Variants {
            client_target: client_target.into(),
            items,
            weight: u32::try_from(weight).unwrap_or(u32::MAX),
        }
    }

    /// The path and query the client used.
    pub(super) fn client_target(&self) -> &str {
        &self.client_target
    }
}

/// What the store holds for a request.
pub(super) enum Found {
    /// A variant that may be served as it is.
    Fresh(Arc<Stored>),
    /// A variant that must be revalidated first, with the validators to send.
    Stale(Arc<Stored>, UpstreamValidators),
    /// Nothing for this request.
    None,
}

/// The byte-bounded store.
pub(super) struct Store {
    moka: Moka<Key, Arc<Variants>>,
    max_bytes: u64,
    entry_cap: u64,
}

impl Store {
    pub(super) fn new(max_bytes: u64) -> Store {
        let moka = Moka::builder()
            .max_capacity(max_bytes)
            .weigher(|_key: &Key, value: &Arc<Variants>| value.weight)
            // The newest response is the one a developer expects to be cached; frequency
            // based admission (TinyLFU) could turn away a freshly fetched asset.
            .eviction_policy(EvictionPolicy::lru())
            .support_invalidation_closures()
            .build();
        Store {
            moka,
            max_bytes,
            entry_cap: (max_bytes / 8).min(MAX_ENTRY_BYTES),
        }
    }

    pub(super) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    pub(super) fn entry_cap(&self) -> u64 {
        self.entry_cap
    }

    pub(super) fn enabled(&self) -> bool {
        self.entry_cap > 0
    }

    /// The variant `req` selects, fresh or stale.
    pub(super) async fn find(
        &self,
        key: &Key,
        req: &http::request::Parts,
        now: SystemTime,
    ) -> Found {
        let Some(variants) = self.moka.get(key).await else {
            return Found::None;
        };
        for stored in &variants.items {
            match stored.policy.before_request(req, now) {
                BeforeRequest::Fresh(_) => return Found::Fresh(stored.clone()),
                BeforeRequest::Stale {
                    request,
                    matches: true,
                } => {
                    let validators = UpstreamValidators::from_headers(&request.headers);
                    return Found::Stale(stored.clone(), validators);
                }
                BeforeRequest::Stale { matches: false, .. } => {}
            }
        }
        Found::None
    }

    /// Store `stored` as the variant `req` selects, replacing the previous one.
    pub(super) async fn put(
        &self,
        key: &Key,
        client_target: &str,
        req: &http::request::Parts,
        stored: Arc<Stored>,
    ) {
        let now = SystemTime::now();
        self.moka
            .entry(key.clone())
            .and_compute_with(|old| {
                let mut items = Vec::with_capacity(MAX_VARIANTS);
                items.push(stored);
                if let Some(old) = old {
                    let others = old
                        .value()
                        .items
                        .iter()
                        .filter(|v| !v.selected_by(req, now))
                        .take(MAX_VARIANTS - 1)
                        .cloned();
                    items.extend(others);
                }
                ready(Op::Put(Arc::new(Variants::new(key, client_target, items))))
            })
            .await;
    }

    /// Remove one variant (it was superseded or may no longer be stored).
    pub(super) async fn remove_variant(&self, key: &Key, stored: &Arc<Stored>) {
        self.moka
            .entry(key.clone())
            .and_compute_with(|old| {
                let op = match old {
                    None => Op::Nop,
                    Some(old) => {
                        let variants = old.value();
                        let items: Vec<Arc<Stored>> = variants
                            .items
                            .iter()
                            .filter(|v| !Arc::ptr_eq(v, stored))
                            .cloned()
                            .collect();
                        if items.len() == variants.items.len() {
                            Op::Nop
                        } else if items.is_empty() {
                            Op::Remove
                        } else {
                            Op::Put(Arc::new(Variants::new(key, &variants.client_target, items)))
                        }
                    }
                };
                ready(op)
            })
            .await;
    }

    /// Remove every variant of a key.
    pub(super) async fn invalidate(&self, key: &Key) {
        self.moka.invalidate(key).await;
    }

    /// Remove the keys `matches` selects; returns how many responses they held. Reads stop
    /// seeing them at once; moka frees them during its next maintenance.
    pub(super) fn purge_if<P>(&self, matches: P) -> u64
    where
        P: Fn(&Key, &Variants) -> bool + Send + Sync + 'static,
    {
        let count = self
            .moka
            .iter()
            .filter(|(key, variants)| matches(key, variants))
            .map(|(_, variants)| variants.items.len() as u64)
            .sum();
        if count > 0
            && let Err(err) = self
                .moka
                .invalidate_entries_if(move |key, variants| matches(key, variants))
        {
            // Cannot happen: the store is built with invalidation closures on.
            tracing::error!("cannot purge the response cache: {err}");
            return 0;
        }
        count
    }

    /// Stored responses and bytes per route.
    pub(super) fn usage(&self) -> HashMap<i64, (u64, u64)> {
        let mut usage: HashMap<i64, (u64, u64)> = HashMap::new();
        for (key, variants) in self.moka.iter() {
            let (entries, bytes) = usage.entry(key.route_id).or_default();
            *entries += variants.items.len() as u64;
            *bytes += u64::from(variants.weight);
        }
        usage
    }

    /// Apply pending evictions and invalidations now.
    pub(super) async fn settle(&self) {
        self.moka.run_pending_tasks().await;
    }
}
