//! Storability and freshness: building the `http-cache-semantics` policy (shared-cache
//! rules) with Portico's stricter rules and the route's default TTL, merging a `304` into a
//! stored response, and `stale-if-error`.

use std::time::{Duration, SystemTime};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_cache_semantics::{CacheOptions, CachePolicy};

use super::RouteCache;
use super::store::Stored;

/// Statuses a cache may store without explicit freshness (RFC 9110 §15.1); the route's
/// default TTL applies only to these.
const CACHEABLE_BY_DEFAULT: &[u16] = &[200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];

/// Fields that never go into the store or over a stored response: hop-by-hop fields
/// (RFC 9110 §7.6.1) and cookies.
const NOT_STORED: &[HeaderName] = &[
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::SET_COOKIE,
];

/// Fields a `304` does not update: they describe the stored body (as `http-cache-semantics`
/// does for its own headers).
const KEPT_ON_304: &[HeaderName] = &[
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::CONTENT_RANGE,
];

fn options() -> CacheOptions {
    CacheOptions {
        shared: true,
        ..CacheOptions::default()
    }
}

/// The shared-cache policy for a request and a response's status and headers.
pub(super) fn policy(
    req: &http::request::Parts,
    status: StatusCode,
    headers: HeaderMap,
    now: SystemTime,
) -> CachePolicy {
    let mut parts = Response::new(()).into_parts().0;
    parts.status = status;
    parts.headers = headers;
    CachePolicy::new_options(req, &parts, now, options())
}

/// The policy to store a response under, or why it must not be stored.
pub(super) fn storable(
    route: RouteCache,
    req: &http::request::Parts,
    status: StatusCode,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<CachePolicy, &'static str> {
    if status == StatusCode::PARTIAL_CONTENT || headers.contains_key(header::CONTENT_RANGE) {
        return Err("partial content");
    }
    // http-cache-semantics stores these (with a zero lifetime unless `public`); a shared
    // cache handing one user's cookie to another is never what a developer wants.
    if headers.contains_key(header::SET_COOKIE) {
        return Err("Set-Cookie");
    }
    if headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|name| name.trim() == "*")
    {
        return Err("Vary: *");
    }
    let mut policy_headers = headers.clone();
    if encoded_without_vary(headers) {
        // A server that compresses by `Accept-Encoding` without saying so would otherwise
        // get gzip served to clients that cannot read it.
        policy_headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if let Some(ttl) = default_ttl(route, req, status, headers)
        && let Ok(value) = HeaderValue::from_str(&format!("s-maxage={}", ttl.as_secs()))
    {
        policy_headers.append(header::CACHE_CONTROL, value);
    }
    let policy = policy(req, status, policy_headers, now);
    if !policy.is_storable() {
        return Err("Cache-Control, Authorization or the status forbid storing");
    }
    if policy.time_to_live(now).is_zero()
        && !headers.contains_key(header::ETAG)
        && !headers.contains_key(header::LAST_MODIFIED)
    {
        return Err("stale on arrival and no validator to revalidate it");
    }
    Ok(policy)
}

/// Whether the body is encoded (`Content-Encoding` other than `identity`) and `Vary` does
/// not name `Accept-Encoding`.
fn encoded_without_vary(headers: &HeaderMap) -> bool {
    let encoded = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|v| !v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"identity"));
    encoded
        && !headers
            .get_all(header::VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding"))
}

/// Whether a `304` names a strong `ETag` other than the stored one, so that it cannot be
/// about the stored response (RFC 9111 §4.3.4).
pub(super) fn contradicts(stored: &HeaderMap, not_modified: &HeaderMap) -> bool {
    let etag = |headers: &HeaderMap| {
        headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    };
    match (etag(stored), etag(not_modified)) {
        (Some(old), Some(new)) if !new.starts_with("W/") => old.trim_start_matches("W/") != new,
        _ => false,
    }
}

/// The route's default TTL, when it applies: no explicit freshness in the response, a
/// status cacheable by default, no `Authorization` (an `s-maxage` would make
/// http-cache-semantics store an authenticated response), and no `Pragma: no-cache` standing
/// in for `Cache-Control`.
fn default_ttl(
    route: RouteCache,
    req: &http::request::Parts,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<Duration> {
    let ttl = route.default_ttl.filter(|ttl| ttl.as_secs() > 0)?;
    let explicit = headers.contains_key(header::EXPIRES)
        || directives(headers.get_all(header::CACHE_CONTROL)).any(|(name, _)| {
            name.eq_ignore_ascii_case("max-age") || name.eq_ignore_ascii_case("s-maxage")
        });
    let pragma_no_cache = !headers.contains_key(header::CACHE_CONTROL)
        && headers
            .get_all(header::PRAGMA)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("no-cache")));
    let applies = !explicit
        && !pragma_no_cache
        && CACHEABLE_BY_DEFAULT.contains(&status.as_u16())
        && !req.headers.contains_key(header::AUTHORIZATION);
    applies.then_some(ttl)
}

/// A response's headers as stored: without hop-by-hop fields and cookies.
pub(super) fn storable_headers(headers: &HeaderMap) -> HeaderMap {
    let mut stored = headers.clone();
    for name in connection_listed(headers) {
        stored.remove(name);
    }
    for name in NOT_STORED {
        stored.remove(name);
    }
    stored.remove("keep-alive");
    stored.remove("proxy-connection");
    stored
}

fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect()
}

/// A stored response's headers updated by a `304` (RFC 9111 §3.2): each field the `304`
/// carries replaces the stored one, except those describing the body and hop-by-hop fields.
/// The stored `Age` goes: the `304` is the new response whose age counts.
pub(super) fn merge_not_modified(stored: &HeaderMap, not_modified: &HeaderMap) -> HeaderMap {
    let mut merged = stored.clone();
    merged.remove(header::AGE);
    let skipped = connection_listed(not_modified);
    for name in not_modified.keys() {
        if KEPT_ON_304.contains(name)
            || NOT_STORED.contains(name)
            || skipped.contains(name)
            || name == "keep-alive"
            || name == "proxy-connection"
        {
            continue;
        }
        merged.remove(name);
        for value in not_modified.get_all(name) {
            merged.append(name.clone(), value.clone());
        }
    }
    merged
}

/// Whether a stale response may be served because the upstream failed (RFC 5861
/// `stale-if-error`, in the response or the request). Never for responses that forbid
/// serving stale (`no-cache`, `must-revalidate`, `proxy-revalidate`, `s-maxage`).
pub(super) fn stale_if_error(stored: &Stored, request: &HeaderMap, now: SystemTime) -> bool {
    let mut response_window = None;
    for (name, value) in directives(stored.headers.get_all(header::CACHE_CONTROL)) {
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "no-cache" | "must-revalidate" | "proxy-revalidate" | "s-maxage" => return false,
            "stale-if-error" => response_window = value.and_then(|v| v.parse::<u64>().ok()),
            _ => {}
        }
    }
    let mut request_window = None;
    let mut request_no_cache = request
        .get_all(header::PRAGMA)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("no-cache")));
    for (name, value) in directives(request.get_all(header::CACHE_CONTROL)) {
        if name.eq_ignore_ascii_case("stale-if-error") {
            request_window = value.and_then(|v| v.parse::<u64>().ok());
        } else if name.eq_ignore_ascii_case("no-cache") {
            request_no_cache = true;
        }
    }
    // A client that asked for validation accepts stale only if it says so itself.
    let window = match (request_window, request_no_cache) {
        (Some(w), _) => Some(w.max(response_window.unwrap_or(0))),
        (None, false) => response_window,
        (None, true) => None,
    };
    let Some(window) = window else {
        return false;
    };
    let staleness = now.duration_since(stored.fresh_until()).unwrap_or_default();
    staleness <= Duration::from_secs(window)
}

/// `Cache-Control` directives as `(name, value)`, values unquoted.
pub(super) fn directives<'a>(
    values: impl IntoIterator<Item = &'a HeaderValue>,
) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
    values
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| {
            let mut kv = part.splitn(2, '=');
            let name = kv.next()?.trim();
            if name.is_empty() {
                return None;
            }
            let value = kv.next().map(|v| v.trim().trim_matches('"'));
            Some((name, value))
        })
}

/// The `Content-Length`, when there is exactly one valid value.
pub(super) fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(header::CONTENT_LENGTH).iter();
    let first = values.next()?;
    if values.any(|v| v != first) {
        return None;
    }
    first.to_str().ok()?.trim().parse().ok()
}

/// Whether a response with this status has a body (and so a `Content-Length`).
pub(super) fn status_has_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}
