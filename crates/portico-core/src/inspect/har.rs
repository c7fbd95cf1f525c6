//! HAR 1.2 (<http://www.softwareishard.com/blog/har-12-spec/>) export and import of captured
//! exchanges. Owns the mapping between [`Exchange`] and HAR entries; reading files, ids and
//! storage belong to the caller.
//!
//! Export puts bodies in HAR's form: content-decoded (gzip, br… undone) and, for text, in
//! UTF-8; binary bodies are base64 with `"encoding": "base64"` (standard for `content`, and
//! accepted on `postData` too, where the schema allows extra fields). Import does the
//! reverse: text goes back to its declared charset and the message's `Content-Encoding` is
//! applied again, so an imported preview is wire bytes like a captured one (it decodes to the
//! same content, though a compressor may not produce the identical bytes).
//!
//! Portico's extras travel in `_`-prefixed fields, which the spec reserves for custom data:
//! on requests `_target` (the path and query as sent, when `url` had to escape them); on
//! entries `_portico_id`, `_client`, `_route`, `_route_id`, `_upstream`, `_error` (also
//! what Chrome writes for a failed request), `_error_side`, `_error_code`, `_websocket`
//! (frame and byte counts), `_replay_of`, `_ttfb` (null when no upstream answered); on
//! `content` and `postData` `_truncated` (only the first bytes were captured), `_encoded`
//! (the body could not be decoded, so `text` holds the bytes as sent) and `_decode_error`.
//! Import also reads Chrome's `_transferSize` and `_webSocketMessages`.

use std::time::UNIX_EPOCH;

use base64::Engine;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::curl::request_url;
use super::decode::{self, DecodedBody, decode_body};
use super::event::{Exchange, Preview, WebSocketStats};
use super::headers::Headers;

/// Why a HAR file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    /// The text is not JSON.
    #[error("not JSON: {source}")]
    NotJson {
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// The JSON is not a HAR log.
    #[error("not a HAR file: {reason}")]
    NotHar {
        /// What is missing.
        reason: &'static str,
    },
    /// One entry cannot be turned into an exchange.
    #[error("log.entries[{index}] is invalid: {problem}")]
    Entry {
        /// Zero-based position in `log.entries`.
        index: usize,
        /// What is wrong with it.
        #[source]
        problem: EntryProblem,
    },
}

/// What is wrong with one HAR entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryProblem {
    /// A field is absent or of the wrong type.
    #[error("{field} is missing or not {expected}")]
    Field {
        /// JSON path inside the entry.
        field: &'static str,
        /// The type it needs.
        expected: &'static str,
    },
    /// `request.url` does not parse.
    #[error("request.url {url:?} is not a URL: {source}")]
    Url {
        /// The value.
        url: String,
        /// The parser's complaint.
        source: url::ParseError,
    },
    /// `request.url` is not http, https, ws or wss.
    #[error("request.url {url:?} is not an http(s) or ws(s) URL")]
    Scheme {
        /// The value.
        url: String,
    },
    /// `startedDateTime` is not a date.
    #[error("startedDateTime {value:?} is not an ISO 8601 date-time: {source}")]
    Date {
        /// The value.
        value: String,
        /// The parser's complaint.
        source: time::error::Parse,
    },
    /// A base64 body does not decode.
    #[error("{field}.text is marked base64 but is not: {source}")]
    Base64 {
        /// `request.postData` or `response.content`.
        field: &'static str,
        /// The decoder's complaint.
        source: base64::DecodeError,
    },
}

/// A HAR 1.2 log of `exchanges`, oldest first, created by Portico `portico_version`.
pub fn to_har(exchanges: &[Exchange], portico_version: &str) -> Value {
    let mut sorted: Vec<&Exchange> = exchanges.iter().collect();
    sorted.sort_by_key(|e| (e.started_at, e.id));
    json!({
        "log": {
            "version": "1.2",
            "creator": { "name": "Portico", "version": portico_version },
            "entries": sorted.into_iter().map(entry).collect::<Vec<_>>(),
        }
    })
}

fn entry(e: &Exchange) -> Value {
    let duration = finite(e.duration_ms);
    let wait = e.ttfb_ms.map_or(duration, finite).min(duration);
    let mut entry = Map::new();
    entry.insert("startedDateTime".into(), iso_8601(e.started_at).into());
    entry.insert("time".into(), duration.into());
    entry.insert("request".into(), request(e));
    entry.insert("response".into(), response(e));
    entry.insert("cache".into(), json!({}));
    entry.insert(
        "timings".into(),
        json!({
            "blocked": -1, "dns": -1, "connect": -1, "ssl": -1,
            "send": 0, "wait": wait, "receive": duration - wait,
        }),
    );
    if let Some(ip) = e.upstream.as_deref().and_then(upstream_ip) {
        entry.insert("serverIPAddress".into(), ip.into());
    }
    entry.insert("_portico_id".into(), e.id.into());
    entry.insert("_ttfb".into(), e.ttfb_ms.map(finite).into());
    let extras = [
        ("_client", Some(e.client.clone()).filter(|c| !c.is_empty())),
        ("_route", e.route.clone()),
        ("_upstream", e.upstream.clone()),
        ("_error", e.error.clone()),
        ("_error_side", e.error_side.clone()),
        ("_error_code", e.error_code.clone()),
    ];
    for (key, value) in extras {
        if let Some(value) = value {
            entry.insert(key.into(), value.into());
        }
    }
    if let Some(id) = e.route_id {
        entry.insert("_route_id".into(), id.into());
    }
    if let Some(id) = e.replay_of {
        entry.insert("_replay_of".into(), id.into());
    }
    if let Some(ws) = &e.websocket {
        entry.insert(
            "_websocket".into(),
            json!({
                "frames_in": ws.frames_in, "frames_out": ws.frames_out,
                "bytes_in": ws.bytes_in, "bytes_out": ws.bytes_out, "closed": ws.closed,
            }),
        );
    }
    Value::Object(entry)
}

fn request(e: &Exchange) -> Value {
    let query: Vec<Value> = e
        .query
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect()
        })
        .unwrap_or_default();
    let cookies: Vec<Value> = values(&e.request_headers, "cookie")
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let pair = pair.trim();
            if pair.is_empty() {
                return None;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some(json!({ "name": name.trim(), "value": value.trim() }))
        })
        .collect();
    let body = &e.request_body;
    let raw_url = request_url(e);
    let url = uri_safe(&raw_url);
    let mut request = json!({
        "method": e.method,
        "url": url,
        "httpVersion": e.version,
        "cookies": cookies,
        "headers": header_list(&e.request_headers),
        "queryString": query,
        "headersSize": e.bytes_in.checked_sub(body.size).map_or(-1, saturating_i64),
        "bodySize": saturating_i64(body.size),
    });
    if url != raw_url {
        // The target as sent, for import; `url` had to be escaped to be a valid URI.
        request["_target"] = target_of(&raw_url).into();
    }
    if body.size > 0 || !body.bytes.is_empty() {
        let decoded = decode_body(body, &e.request_headers.pairs());
        let mime = values(&e.request_headers, "content-type")
            .next()
            .unwrap_or("");
        let mut post = Map::new();
        post.insert("mimeType".into(), mime.into());
        put_body(&mut post, &decoded);
        request["postData"] = Value::Object(post);
    }
    request
}

/// The path and query of a URL: everything after its authority.
fn target_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find(['/', '?'])
        .map_or("", |start| &after_scheme[start..])
}

/// `url` with its path and query percent-encoded where RFC 3986 requires (servers accept
/// `[`, `]`, `|`, `^`, spaces or raw UTF-8 there, but HAR's `url` must be a URI).
fn uri_safe(url: &str) -> String {
    let target = target_of(url);
    let mut out = url[..url.len() - target.len()].to_owned();
    let bytes = target.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b);
        let escape = b == b'%'
            && bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if allowed || escape {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn response(e: &Exchange) -> Value {
    let Some(status) = e.status else {
        // No response was sent: HAR still needs the object (browsers write status 0).
        return json!({
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": { "size": 0, "mimeType": "x-unknown" },
            "redirectURL": "", "headersSize": -1, "bodySize": -1,
        });
    };
    let body = &e.response_body;
    let decoded = decode_body(body, &e.response_headers.pairs());
    let mime = values(&e.response_headers, "content-type")
        .next()
        .unwrap_or("x-unknown");
    let mut content = Map::new();
    let size = if decoded.complete {
        decoded_len(&decoded, &e.response_headers.pairs())
    } else {
        body.size
    };
    content.insert("size".into(), saturating_i64(size).into());
    if decoded.content_encoding.is_some()
        && decoded.decoded
        && decoded.complete
        && size >= body.size
    {
        content.insert(
            "compression".into(),
            saturating_i64(size - body.size).into(),
        );
    }
    content.insert("mimeType".into(), mime.into());
    if body.size > 0 || !body.bytes.is_empty() {
        put_body(&mut content, &decoded);
    }
    let cookies: Vec<Value> = values(&e.response_headers, "set-cookie")
        .filter_map(|v| set_cookie(v, e.started_at))
        .collect();
    json!({
        "status": status,
        "statusText": http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or(""),
        "httpVersion": e.version,
        "cookies": cookies,
        "headers": header_list(&e.response_headers),
        "content": content,
        "redirectURL": values(&e.response_headers, "location").next().unwrap_or(""),
        "headersSize": e.bytes_out.checked_sub(body.size).map_or(-1, saturating_i64),
        "bodySize": saturating_i64(body.size),
    })
}

/// `text` (and `encoding`, and Portico's notes) of a `content` or `postData` object.
fn put_body(target: &mut Map<String, Value>, decoded: &DecodedBody) {
    match (&decoded.text, &decoded.base64) {
        (Some(text), _) => {
            target.insert("text".into(), text.clone().into());
        }
        (None, Some(b64)) => {
            target.insert("text".into(), b64.clone().into());
            target.insert("encoding".into(), "base64".into());
        }
        (None, None) => {}
    }
    if decoded.truncated {
        target.insert("_truncated".into(), true.into());
    }
    if !decoded.decoded {
        target.insert("_encoded".into(), true.into());
    }
    if let Some(error) = &decoded.error {
        target.insert("_decode_error".into(), error.clone().into());
    }
}

/// Bytes of the decoded body (before any charset conversion to UTF-8).
fn decoded_len(decoded: &DecodedBody, headers: &[(String, String)]) -> u64 {
    match (&decoded.text, &decoded.base64) {
        (Some(text), _) if decoded.charset.as_deref() == Some("utf-8") => text.len() as u64,
        (Some(text), _) => decode::encode_text(text, headers).len() as u64,
        (None, Some(b64)) => {
            let padding = b64.bytes().rev().take_while(|b| *b == b'=').count();
            (b64.len() / 4 * 3).saturating_sub(padding) as u64
        }
        (None, None) => 0,
    }
}

/// A `Set-Cookie` value as a HAR cookie; `expires` in ISO 8601 (from `Expires`, or from
/// `Max-Age` counted from the request's start).
fn set_cookie(header: &str, started_at: i64) -> Option<Value> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let mut cookie = Map::new();
    cookie.insert("name".into(), name.trim().into());
    cookie.insert("value".into(), value.trim().trim_matches('"').into());
    let mut expires = None;
    let mut max_age = None;
    for attribute in parts {
        let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
        let val = val.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "path" => {
                cookie.insert("path".into(), val.into());
            }
            "domain" => {
                cookie.insert("domain".into(), val.into());
            }
            "expires" => {
                expires = httpdate::parse_http_date(val)
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            }
            "max-age" => {
                max_age = val.parse::<i64>().ok();
            }
            "httponly" => {
                cookie.insert("httpOnly".into(), true.into());
            }
            "secure" => {
                cookie.insert("secure".into(), true.into());
            }
            // Not in HAR 1.2, but Chrome writes it and the schema allows it.
            "samesite" => {
                cookie.insert("sameSite".into(), val.into());
            }
            _ => {}
        }
    }
    // Max-Age wins over Expires (RFC 6265 §5.3).
    let expires = max_age
        .map(|s| started_at.saturating_add(s.saturating_mul(1000)))
        .or(expires);
    if let Some(ms) = expires {
        cookie.insert("expires".into(), iso_8601(ms).into());
    }
    Some(Value::Object(cookie))
}

fn header_list(headers: &Headers) -> Vec<Value> {
    headers
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect()
}

fn values<'a>(headers: &'a Headers, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers.values(name)
}

/// The upstream's address when it is an IP literal (`http://127.0.0.1:3000`).
fn upstream_ip(upstream: &str) -> Option<String> {
    match url::Url::parse(upstream).ok()?.host()? {
        url::Host::Ipv4(ip) => Some(ip.to_string()),
        url::Host::Ipv6(ip) => Some(ip.to_string()),
        url::Host::Domain(_) => None,
    }
}

/// Unix milliseconds as `2024-03-01T10:15:30.123Z`.
fn iso_8601(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

fn finite(ms: f64) -> f64 {
    if ms.is_finite() && ms > 0.0 { ms } else { 0.0 }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The exchanges in a HAR file (from Portico, a browser's "Save all as HAR", or any other
/// HAR 1.2 writer), marked `imported` and with `id` 0 for the caller to assign.
pub fn from_har(text: &str) -> Result<Vec<Exchange>, HarError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc: Value = serde_json::from_str(text).map_err(|source| HarError::NotJson { source })?;
    let log = doc.get("log").ok_or(HarError::NotHar {
        reason: "there is no \"log\" object",
    })?;
    let entries = log
        .get("entries")
        .and_then(Value::as_array)
        .ok_or(HarError::NotHar {
            reason: "log.entries is missing or not an array",
        })?;
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            import_entry(entry).map_err(|problem| HarError::Entry { index, problem })
        })
        .collect()
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|v| !v.is_null())
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    field(v, key).and_then(Value::as_str)
}

fn num_field(v: &Value, key: &str) -> Option<f64> {
    field(v, key).and_then(Value::as_f64)
}

/// A HAR size: `-1` (unknown) and absent read as `None`.
fn size_field(v: &Value, key: &str) -> Option<u64> {
    field(v, key)
        .and_then(Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
}

fn required<'a>(
    v: &'a Value,
    key: &str,
    path: &'static str,
    expected: &'static str,
) -> Result<&'a Value, EntryProblem> {
    field(v, key).ok_or(EntryProblem::Field {
        field: path,
        expected,
    })
}

fn import_entry(entry: &Value) -> Result<Exchange, EntryProblem> {
    let bad = |field, expected| EntryProblem::Field { field, expected };
    if !entry.is_object() {
        return Err(bad("the entry", "an object"));
    }
    let started = str_field(entry, "startedDateTime").ok_or(bad("startedDateTime", "a string"))?;
    let started_at = parse_date(started)?;
    let request = required(entry, "request", "request", "an object")?;
    let method = str_field(request, "method").ok_or(bad("request.method", "a string"))?;
    let raw_url = str_field(request, "url").ok_or(bad("request.url", "a string"))?;
    let mut url = split_url(raw_url)?;
    if let Some(target) = str_field(request, "_target") {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (target, None),
        };
        url.path = path.to_owned();
        url.query = query;
    }

    let mut request_headers = headers(request, "request.headers")?;
    // HTTP/2 pseudo-headers are not headers; the URL carries what they say.
    request_headers.retain(|(n, _)| !n.starts_with(':'));
    if url.port.is_some()
        && !request_headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
    {
        request_headers.insert(0, ("host".to_owned(), url.authority.clone()));
    }

    let response = field(entry, "response");
    let status = response
        .and_then(|r| field(r, "status"))
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| *s != 0);
    let response_headers = match response {
        Some(r) => headers(r, "response.headers")?,
        None => Vec::new(),
    };

    let request_body = body(
        field(request, "postData"),
        size_field(request, "bodySize"),
        &request_headers,
        "request.postData",
    )?;
    let response_body = match response {
        Some(r) => body(
            field(r, "content"),
            size_field(r, "bodySize"),
            &response_headers,
            "response.content",
        )?,
        None => Preview::default(),
    };

    let timings = field(entry, "timings");
    let ttfb_ms = match entry.get("_ttfb") {
        Some(v) => v.as_f64(),
        None => timings.and_then(ttfb_from_timings),
    };
    let duration_ms = num_field(entry, "time").map_or(0.0, finite);

    let bytes_in = size_field(request, "headersSize").unwrap_or(0)
        + size_field(request, "bodySize").unwrap_or(0);
    let bytes_out = response
        .map(|r| {
            size_field(r, "_transferSize").unwrap_or_else(|| {
                size_field(r, "headersSize").unwrap_or(0) + size_field(r, "bodySize").unwrap_or(0)
            })
        })
        .unwrap_or(0);

    let websocket = match field(entry, "_websocket") {
        Some(ws) => Some(websocket_stats(ws)?),
        None => field(entry, "_webSocketMessages")
            .and_then(Value::as_array)
            .map(|messages| chrome_websocket(messages))
            .or_else(|| {
                (status == Some(101)).then(|| WebSocketStats {
                    closed: true,
                    ..WebSocketStats::default()
                })
            }),
    };

    let text = |key| str_field(entry, key).map(str::to_owned);
    Ok(Exchange {
        id: 0,
        started_at,
        method: method.to_owned(),
        scheme: url.scheme.to_owned(),
        host: url.host,
        path: url.path,
        query: url.query,
        version: http_version(str_field(request, "httpVersion").unwrap_or("")),
        client: text("_client").unwrap_or_default(),
        route_id: field(entry, "_route_id").and_then(Value::as_i64),
        route: text("_route"),
        upstream: text("_upstream"),
        status,
        duration_ms,
        ttfb_ms,
        bytes_in,
        bytes_out,
        // Chrome writes a failure on the response (`net::ERR_CONNECTION_REFUSED`).
        error: text("_error").or_else(|| {
            response
                .and_then(|r| str_field(r, "_error"))
                .map(str::to_owned)
        }),
        error_side: text("_error_side"),
        error_code: text("_error_code"),
        request_headers: request_headers.into(),
        response_headers: response_headers.into(),
        request_body,
        response_body,
        websocket,
        replay_of: field(entry, "_replay_of").and_then(Value::as_i64),
        imported: true,
        cache: None,
        compression: None,
    })
}

fn parse_date(value: &str) -> Result<i64, EntryProblem> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let parsed = OffsetDateTime::parse(value, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(value, &Iso8601::PARSING))
        .map_err(|source| EntryProblem::Date {
            value: value.to_owned(),
            source,
        })?;
    Ok(i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
}

struct UrlParts {
    scheme: &'static str,
    authority: String,
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
}

/// The URL's parts as written (a URL parser would normalise the path and host, and the
/// exchange records them as the client sent them).
fn split_url(raw: &str) -> Result<UrlParts, EntryProblem> {
    let parsed = url::Url::parse(raw).map_err(|source| EntryProblem::Url {
        url: raw.to_owned(),
        source,
    })?;
    let scheme = match parsed.scheme() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => {
            return Err(EntryProblem::Scheme {
                url: raw.to_owned(),
            });
        }
    };
    let after_scheme = raw
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or(EntryProblem::Scheme {
            url: raw.to_owned(),
        })?;
    let without_fragment = after_scheme.split('#').next().unwrap_or("");
    let end = without_fragment
        .find(['/', '?'])
        .unwrap_or(without_fragment.len());
    let (authority, rest) = without_fragment.split_at(end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned())),
        None => (rest, None),
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').unwrap_or((v6, ""));
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    Ok(UrlParts {
        scheme,
        authority: authority.to_owned(),
        host: host.to_owned(),
        port: port.and_then(|p| p.parse().ok()),
        path: if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        },
        query,
    })
}

fn headers(message: &Value, path: &'static str) -> Result<Vec<(String, String)>, EntryProblem> {
    let Some(list) = field(message, "headers") else {
        return Ok(Vec::new());
    };
    let bad = || EntryProblem::Field {
        field: path,
        expected: "an array of {name, value} objects",
    };
    let list = list.as_array().ok_or_else(bad)?;
    let mut out = Vec::with_capacity(list.len());
    for header in list {
        let name = str_field(header, "name").ok_or_else(bad)?;
        out.push((
            name.to_owned(),
            str_field(header, "value").unwrap_or("").to_owned(),
        ));
    }
    Ok(out)
}

/// A body from `postData` or `content`, turned back into wire bytes: base64 decoded or text
/// put back in its charset, then content-encoded as the headers say.
fn body(
    object: Option<&Value>,
    wire_size: Option<u64>,
    headers: &[(String, String)],
    path: &'static str,
) -> Result<Preview, EntryProblem> {
    let text = object.and_then(|o| str_field(o, "text"));
    let Some(text) = text else {
        // Not saved (browsers leave out some bodies): known size, no bytes.
        let size = wire_size
            .or_else(|| object.and_then(|o| size_field(o, "size")))
            .unwrap_or(0);
        return Ok(Preview {
            bytes: Vec::new(),
            size,
        });
    };
    let object = object.unwrap_or(&Value::Null);
    let base64 =
        str_field(object, "encoding").or_else(|| str_field(object, "_encoding")) == Some("base64");
    let flag = |key| field(object, key).and_then(Value::as_bool).unwrap_or(false);
    let content = if base64 {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|source| EntryProblem::Base64 {
                field: path,
                source,
            })?
    } else {
        decode::encode_text(text, headers)
    };
    let bytes = if flag("_encoded") {
        content
    } else {
        // A coding Portico cannot apply leaves the bytes decoded; the inspector will say
        // it cannot decode them rather than show something wrong.
        decode::encode_content(&content, headers).unwrap_or(content)
    };
    let size = match wire_size {
        Some(size) if flag("_truncated") && size >= bytes.len() as u64 => size,
        _ => bytes.len() as u64,
    };
    Ok(Preview { bytes, size })
}

/// From request start to response headers: every known phase but `receive` (`ssl` is part
/// of `connect`).
fn ttfb_from_timings(timings: &Value) -> Option<f64> {
    let wait = num_field(timings, "wait").filter(|w| *w >= 0.0)?;
    let before: f64 = ["blocked", "dns", "connect", "send"]
        .iter()
        .filter_map(|k| num_field(timings, k))
        .filter(|t| *t > 0.0)
        .sum();
    Some(before + wait)
}

fn websocket_stats(ws: &Value) -> Result<WebSocketStats, EntryProblem> {
    let count = |key| field(ws, key).and_then(Value::as_u64).unwrap_or(0);
    if !ws.is_object() {
        return Err(EntryProblem::Field {
            field: "_websocket",
            expected: "an object",
        });
    }
    Ok(WebSocketStats {
        frames_in: count("frames_in"),
        frames_out: count("frames_out"),
        bytes_in: count("bytes_in"),
        bytes_out: count("bytes_out"),
        closed: field(ws, "closed").and_then(Value::as_bool).unwrap_or(true),
    })
}

/// Chrome's `_webSocketMessages`: `send` frames came from the client.
fn chrome_websocket(messages: &[Value]) -> WebSocketStats {
    let mut stats = WebSocketStats {
        closed: true,
        ..WebSocketStats::default()
    };
    for message in messages {
        let data = str_field(message, "data").unwrap_or("");
        // Opcode 2 is a binary frame, which Chrome writes as base64.
        let len = if field(message, "opcode").and_then(Value::as_u64) == Some(2) {
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_or(data.len(), |b| b.len())
        } else {
            data.len()
        } as u64;
        match str_field(message, "type") {
            Some("send") => {
                stats.frames_in += 1;
                stats.bytes_in += len;
            }
            Some("receive") => {
                stats.frames_out += 1;
                stats.bytes_out += len;
            }
            _ => {}
        }
    }
    stats
}

/// Portico's spelling (`HTTP/1.1`, `HTTP/2.0`) of a HAR `httpVersion` (`h2`, `http/2.0`…).
fn http_version(v: &str) -> String {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "http/1.1" => "HTTP/1.1".to_owned(),
        "http/1.0" => "HTTP/1.0".to_owned(),
        "h2" | "http/2" | "http/2.0" => "HTTP/2.0".to_owned(),
        "h3" | "http/3" | "http/3.0" => "HTTP/3.0".to_owned(),
        _ => v.trim().to_ascii_uppercase(),
    }
}

#[cfg(test)]
mod tests;
