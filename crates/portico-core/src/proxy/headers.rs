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

/// What is wrong with a request's framing headers, if anything. hyper has already read the
/// body by `Transfer-Encoding` when there is one (dropping a `Content-Length` beside it, and
/// closing the connection after the answer) and refused differing `Content-Length`s; what it
/// lets through and Portico refuses is any transfer coding but a single `chunked` (another
/// coding would be lost on the way upstream, and a list or a repeated header is how request
/// smuggling hides) and a `Content-Length` that is not one plain number.
pub(crate) fn framing_problem(headers: &HeaderMap) -> Option<&'static str> {
    let mut codings = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','));
    if let Some(first) = codings.next() {
        let chunked = first.trim_ascii().eq_ignore_ascii_case(b"chunked");
        if !chunked || codings.next().is_some() {
            return Some(
                "the request's Transfer-Encoding is not a single `chunked`; Portico accepts no other transfer coding",
            );
        }
    }
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter();
    if let Some(length) = lengths.next()
        && (lengths.next().is_some()
            || length.is_empty()
            || !length.as_bytes().iter().all(u8::is_ascii_digit))
    {
        return Some("the request's Content-Length is not a single number");
    }
    None
}

/// The size of a request's head as HTTP/1.1 sends it: `METHOD target HTTP/1.1\r\n`, then
/// `name: value\r\n` for each header, then the blank line.
pub(crate) fn head_size<B>(req: &http::Request<B>) -> usize {
    let target = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len())
        + req.uri().authority().map_or(0, |a| a.as_str().len());
    let line = req.method().as_str().len() + target + 12;
    let fields: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    line + fields + 2
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
    fn framing_allows_one_chunked_or_one_length_only() {
        assert_eq!(
            framing_problem(&map(&[("transfer-encoding", "chunked")])),
            None
        );
        assert_eq!(
            framing_problem(&map(&[("transfer-encoding", "Chunked")])),
            None
        );
        assert_eq!(framing_problem(&map(&[("content-length", "12")])), None);
        for bad in [
            &[("transfer-encoding", "gzip, chunked")][..],
            &[("transfer-encoding", "chunked, chunked")],
            &[
                ("transfer-encoding", "identity"),
                ("transfer-encoding", "chunked"),
            ],
            &[("transfer-encoding", "xchunked")],
            &[("content-length", "5, 5")],
            &[("content-length", "5"), ("content-length", "5")],
            &[("content-length", "+5")],
        ] {
            assert!(framing_problem(&map(bad)).is_some(), "{bad:?}");
        }
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
