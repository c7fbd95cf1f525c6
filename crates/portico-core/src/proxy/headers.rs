//! Header rules for forwarding: hop-by-hop removal (RFC 9110 §7.6.1), `X-Forwarded-*`, `Via`.

use std::net::IpAddr;

use http::Version;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection, never the message (plus the legacy ones proxies
/// still see in the wild).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// The pseudonym Portico writes in `Via`.
pub(crate) const VIA_NAME: &str = "portico";

/// How many times a request may pass through a Portico before it is treated as a loop.
/// A dev server's own proxy (Vite's `server.proxy`) may send a request back through
/// Portico legitimately, so this is a count, not a single sighting.
pub(crate) const MAX_HOPS: usize = 8;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The `Upgrade` value if this is an HTTP/1.1 upgrade request (`Connection: upgrade`).
pub(crate) fn upgrade_request(headers: &HeaderMap) -> Option<HeaderValue> {
    let wants = connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"));
    if wants {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Remove hop-by-hop headers, including any named in `Connection`. When `upgrade` is given,
/// the upgrade handshake headers are put back so the next hop sees them.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: Option<&HeaderValue>) {
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
    if let Some(protocol) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
}

/// What the proxy knows about the request, for the forwarding headers.
pub(crate) struct Forwarding<'a> {
    pub(crate) client_ip: IpAddr,
    pub(crate) proto: &'static str,
    pub(crate) original_host: &'a HeaderValue,
    pub(crate) version: Version,
}

/// Set `X-Forwarded-For` (appended), `-Proto`, `-Host` and `Via` on a request going upstream.
pub(crate) fn set_forwarding(headers: &mut HeaderMap, fwd: &Forwarding<'_>) {
    let ip = fwd.client_ip.to_canonical().to_string();
    let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prior) if !prior.trim().is_empty() => format!("{prior}, {ip}"),
        _ => ip,
    };
    if let Ok(value) = HeaderValue::from_str(&xff) {
        headers.insert(X_FORWARDED_FOR.clone(), value);
    }
    headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(fwd.proto),
    );
    headers.insert(X_FORWARDED_HOST.clone(), fwd.original_host.clone());
    append_via(headers, fwd.version);
}

/// Append Portico's entry to `Via`.
pub(crate) fn append_via(headers: &mut HeaderMap, version: Version) {
    let entry = match version {
        Version::HTTP_2 => HeaderValue::from_static("2 portico"),
        Version::HTTP_10 => HeaderValue::from_static("1.0 portico"),
        _ => HeaderValue::from_static("1.1 portico"),
    };
    headers.append(header::VIA, entry);
}

/// How many times this request has already passed through a Portico.
pub(crate) fn hops(headers: &HeaderMap) -> usize {
    headers
        .get_all(header::VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|entry| entry.split_whitespace().nth(1) == Some(VIA_NAME))
        .count()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut h, None);
        let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["accept"]);
    }

    #[test]
    fn an_upgrade_keeps_its_handshake_headers() {
        let mut h = map(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        let up = upgrade_request(&h).expect("upgrade");
        strip_hop_by_hop(&mut h, Some(&up));
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
    }

    #[test]
    fn forwarding_headers_append_client_and_via() {
        let mut h = map(&[("x-forwarded-for", "10.0.0.1"), ("via", "1.1 other")]);
        let host = HeaderValue::from_static("app.localhost:8080");
        set_forwarding(
            &mut h,
            &Forwarding {
                client_ip: "::ffff:127.0.0.2".parse().expect("ip"),
                proto: "http",
                original_host: &host,
                version: Version::HTTP_11,
            },
        );
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.2");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "app.localhost:8080");
        assert_eq!(hops(&h), 1);
        append_via(&mut h, Version::HTTP_2);
        assert_eq!(hops(&h), 2);
    }
}
