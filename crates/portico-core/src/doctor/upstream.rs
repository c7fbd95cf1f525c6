//! `upstream.reach` and `upstream.host_rejected`: connect to an upstream as the proxy would
//! (both loopback addresses for `localhost` names), time it, send the request the proxy would
//! send (the route's host as `Host` unless `upstream_host`), and recognise the dev servers
//! that refuse a host they do not know:
//!
//! - Vite (5.0.12 and later) answers 403 `Blocked request. This host ("app.test") is not
//!   allowed.` for any `Host` that is not `localhost`, `*.localhost`, an IP address or in
//!   `server.allowedHosts`.
//! - Next.js (blocking by default since 16; seen in 16.4.6) refuses a dev resource (`/_next/…`,
//!   `/__nextjs…`) to a request whose `Origin` names a host other than `localhost`,
//!   `*.localhost`, its own `--hostname` or one in `allowedDevOrigins`: a plain request gets
//!   403 `Unauthorized`, the HMR websocket (`/_next/hmr`) gets the bare word `Unauthorized`
//!   and a closed connection instead of an HTTP answer. Its check never compares `Origin` with
//!   `Host`. Behind Portico a browser's page, and the scripts it loads from its own origin,
//!   carry no `Origin` and work; the HMR websocket always carries one, so hot reload fails.
//!   It is found by asking for a dev resource with the route's `Origin`, then without: a 403
//!   only with it is that check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{Action, Check, Finding, Level};
use crate::config::{HostPattern, Route, Upstream};

/// How long a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest wait for a response head (less when the route's own timeout is shorter).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of a body is read to recognise an error page.
const BODY_PEEK: usize = 16 << 10;

/// The dev resource asked for to find Next.js's origin check: under `/_next/` (checked),
/// not under `/_next/static/media` or `/_next/image` (exempt), and not a file that exists.
const NEXT_PROBE: &str = "/_next/static/chunks/portico-doctor-probe.js";

/// What a request got back.
struct Answer {
    status: StatusCode,
    server: Option<String>,
    body: String,
    connect: Duration,
    total: Duration,
}

/// Why a request got nothing back.
enum Failure {
    /// No connection to any address.
    Connect(String),
    /// Connected, then no (valid) answer.
    Answer { connect: Duration, reason: String },
}

/// The findings for one upstream of `route`. `scheme` is how browsers reach the route
/// (`https` when an HTTPS listener runs), for the `Origin` Next.js is shown.
pub(super) async fn check(route: &Route, up: &Upstream, scheme: &str) -> Vec<Finding> {
    let host = super::name::sample_name(&route.host);
    let host_header = if route.upstream_host {
        up.authority().as_str().to_owned()
    } else {
        host.clone()
    };
    let path = join(
        up.base_path(),
        if route.strip_prefix {
            "/"
        } else {
            route.path.as_str()
        },
    );
    let subject = format!("{} → {}", route.host, up.authority());
    let limit = RESPONSE_TIMEOUT.min(Duration::from_millis(route.timeout_ms.max(1)));
    let finding = |level, message: String| {
        Finding::new(Check::UpstreamReach, level, subject.clone(), message).route(route.id)
    };

    let answer = match request(up, &host_header, &path, None, limit).await {
        Ok(answer) => answer,
        Err(Failure::Connect(reason)) => {
            return vec![
                finding(
                    Level::Error,
                    format!(
                        "Nothing answers at {} ({reason}): the dev server is not running, or \
                         it listens on another port, so Portico answers {} with 502.",
                        up.authority(),
                        route.host
                    ),
                )
                .fix(format!(
                    "Start the dev server on port {port}, or point the route at the port it \
                     uses: portico route set {host} --upstream PORT",
                    port = up.port(),
                    host = route.host
                )),
            ];
        }
        Err(Failure::Answer { connect, reason }) => {
            let mut f = finding(
                Level::Error,
                format!(
                    "{} accepts connections (in {}) but {reason}, so Portico answers {} with \
                     504 or 502.",
                    up.authority(),
                    ms(connect),
                    route.host
                ),
            )
            .fix(
                "Look at the dev server's output: it may be stuck, still compiling, or not \
                 speaking HTTP on this port",
            );
            f.connect_ms = Some(millis(connect));
            return vec![f];
        }
    };

    let mut findings = Vec::new();
    if let Some(rejected) = vite_rejection(&answer, route, up) {
        findings.push(rejected);
    } else {
        let level = if answer.status.is_server_error() {
            Level::Warn
        } else {
            Level::Ok
        };
        let server = answer
            .server
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        let mut f = finding(
            level,
            format!(
                "{}{server} answers GET {path} with {} in {} (connected in {}).",
                up.authority(),
                status_text(answer.status),
                ms(answer.total),
                ms(answer.connect)
            ),
        );
        if level == Level::Warn {
            f = f.fix("The upstream itself fails on this request: look at the dev server's output");
        }
        f.connect_ms = Some(millis(answer.connect));
        f.total_ms = Some(millis(answer.total));
        findings.push(f);
        if let Some(next) = next_rejection(route, up, &host, &host_header, scheme, limit).await {
            findings.push(next);
        }
    }
    findings
}

/// Vite's 403 for a host it does not allow, with the `allowedHosts` line and the offer to send
/// the upstream's own address instead.
fn vite_rejection(answer: &Answer, route: &Route, up: &Upstream) -> Option<Finding> {
    if answer.status != StatusCode::FORBIDDEN {
        return None;
    }
    let blocked = vite_blocked_host(&answer.body)?;
    let section = if answer.body.contains("preview.allowedHosts") {
        "preview"
    } else {
        "server"
    };
    let allowed = match &route.host {
        HostPattern::Exact(name) => format!("'{name}'"),
        // Vite's leading dot allows the name and every name under it.
        HostPattern::Wildcard(suffix) => format!("'.{suffix}'"),
    };
    let first_line = answer
        .body
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .trim_end_matches('.');
    let mut fix = format!(
        "Add the host to {section}.allowedHosts in vite.config.js (or .ts) and restart Vite:\n  \
         export default defineConfig({{ {section}: {{ allowedHosts: [{allowed}] }} }})"
    );
    let mut action = None;
    if !route.upstream_host {
        fix.push_str(&format!(
            "\nor have Portico send Vite its own address ({}) as Host: portico route set {} \
             --upstream-host",
            up.authority(),
            route.host
        ));
        action = Some(Action::EnableUpstreamHost { route_id: route.id });
    }
    let mut f = Finding::new(
        Check::UpstreamHostRejected,
        Level::Error,
        format!("{} → {}", route.host, up.authority()),
        format!(
            "Vite at {} refuses requests for the host \"{blocked}\": it answers 403 \"{first_line}\". \
             Vite only accepts localhost, *.localhost and IP addresses unless told otherwise.",
            up.authority()
        ),
    )
    .route(route.id)
    .fix(fix);
    f.action = action;
    f.connect_ms = Some(millis(answer.connect));
    f.total_ms = Some(millis(answer.total));
    Some(f)
}

/// The host in Vite's `Blocked request. This host ("…") is not allowed.`, if that is the body.
fn vite_blocked_host(body: &str) -> Option<String> {
    let rest = body.split("Blocked request. This host (").nth(1)?;
    let end = rest.find(") is not allowed")?;
    let quoted = &rest[..end];
    Some(
        serde_json::from_str::<String>(quoted)
            .unwrap_or_else(|_| quoted.trim_matches('"').to_owned()),
    )
}

/// Next.js's dev origin check: a dev resource asked for with the route's `Origin` gets 403,
/// and without an `Origin` does not.
async fn next_rejection(
    route: &Route,
    up: &Upstream,
    host: &str,
    host_header: &str,
    scheme: &str,
    limit: Duration,
) -> Option<Finding> {
    let path = join(up.base_path(), NEXT_PROBE);
    let origin = format!("{scheme}://{host}");
    let with_origin = request(up, host_header, &path, Some(&origin), limit)
        .await
        .ok()?;
    if with_origin.status != StatusCode::FORBIDDEN {
        return None;
    }
    let without = match request(up, host_header, &path, None, limit).await {
        Ok(answer) => Some(answer),
        // Past the origin check a cold Next.js compiles its 404 page first, which can take
        // longer than the limit; the check itself answers at once.
        Err(Failure::Answer { .. }) => None,
        Err(Failure::Connect(_)) => return None,
    };
    if !next_blocks(&with_origin, without.as_ref()) {
        return None;
    }
    let allowed = match &route.host {
        HostPattern::Exact(name) => format!("'{name}'"),
        // Next.js's `*` stands for one label and `**` for any number, as Portico's wildcard.
        HostPattern::Wildcard(suffix) => format!("'**.{suffix}'"),
    };
    let mut f = Finding::new(
        Check::UpstreamHostRejected,
        Level::Warn,
        format!("{} → {}", route.host, up.authority()),
        format!(
            "Next.js at {} refuses its dev resources to the origin {origin}: it answers 403 to \
             a /_next/ request with that Origin. The page and its scripts load (a browser \
             sends them no Origin), but the hot-reload websocket (/_next/hmr) always carries \
             one and is refused (Next.js writes a bare \"Unauthorized\" where an HTTP answer \
             belongs, so Portico answers the handshake with 502): edits do not show until \
             a manual reload, the browser's console reports \"WebSocket connection to \
             '…/_next/hmr' failed\" again and again, and the dev server logs \"Blocked \
             cross-origin request to Next.js dev resource\".",
            up.authority()
        ),
    )
    .route(route.id)
    .fix(format!(
        "Add the host to allowedDevOrigins in next.config.js (or .mjs/.ts) and restart the \
         dev server:\n  module.exports = {{ allowedDevOrigins: [{allowed}] }}"
    ));
    f.connect_ms = Some(millis(with_origin.connect));
    f.total_ms = Some(millis(with_origin.total));
    Some(f)
}

/// Whether two answers to the same dev resource, with and without `Origin`, are Next.js's
/// origin check: 403 `Unauthorized` with, anything else (or no answer in time) without.
fn next_blocks(with_origin: &Answer, without: Option<&Answer>) -> bool {
    with_origin.status == StatusCode::FORBIDDEN
        && with_origin.body.trim() == "Unauthorized"
        && without.is_none_or(|a| a.status != StatusCode::FORBIDDEN)
}

/// `GET path` on `up` with `Host: host` (and `Origin`), on a connection of its own.
async fn request(
    up: &Upstream,
    host: &str,
    path: &str,
    origin: Option<&str>,
    limit: Duration,
) -> Result<Answer, Failure> {
    let started = Instant::now();
    let stream = connect(up).await.map_err(Failure::Connect)?;
    let connect = started.elapsed();
    let failed = |reason: String| Failure::Answer { connect, reason };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed(format!("the HTTP handshake failed ({e})")))?;
    let driver = tokio::spawn(conn);
    let mut req = Request::get(path)
        .header(header::HOST, host)
        .header(header::USER_AGENT, "portico-doctor")
        .header(header::ACCEPT, "text/html,*/*")
        .header(header::CONNECTION, "close");
    if let Some(origin) = origin {
        req = req.header(header::ORIGIN, origin);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| failed(format!("the request could not be built ({e})")))?;
    let resp = tokio::time::timeout(limit, sender.send_request(req))
        .await
        .map_err(|_| failed(format!("sends no answer within {}", ms(limit))))?
        .map_err(|e| failed(format!("its answer is not valid HTTP ({e})")))?;
    let total = started.elapsed();
    let status = resp.status();
    let server = resp
        .headers()
        .get(header::SERVER)
        .or_else(|| resp.headers().get("x-powered-by"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = resp.into_body();
    let mut bytes = Vec::new();
    let deadline = Instant::now() + limit;
    while bytes.len() < BODY_PEEK {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            _ => break,
        }
    }
    driver.abort();
    bytes.truncate(BODY_PEEK);
    Ok(Answer {
        status,
        server,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        connect,
        total,
    })
}

/// A connection to `up`, trying each address its name stands for as the proxy does.
async fn connect(up: &Upstream) -> Result<TcpStream, String> {
    let host = up.host().trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = if crate::proxy::is_localhost(host) {
        vec![
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), up.port()),
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), up.port()),
        ]
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, up.port())]
    } else {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, up.port())))
            .await
        {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(err)) => return Err(format!("{host} does not resolve: {err}")),
            Err(_) => return Err(format!("{host} does not resolve within 2 s")),
        }
    };
    let mut refused = Vec::new();
    let mut errors = Vec::new();
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused.push(addr.ip().to_string());
            }
            Ok(Err(err)) => errors.push(format!("{}: {err}", addr.ip())),
            Err(_) => errors.push(format!("no answer from {} within 2 s", addr.ip())),
        }
    }
    if !refused.is_empty() {
        errors.insert(
            0,
            format!("connection refused on {}", refused.join(" and ")),
        );
    }
    Err(if errors.is_empty() {
        format!("{host} resolves to no address")
    } else {
        errors.join("; ")
    })
}

/// `base` (`""` or `/base`) followed by `path` (starting with `/`).
fn join(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.is_empty() {
        path.to_owned()
    } else if path == "/" {
        format!("{base}/")
    } else {
        format!("{base}{path}")
    }
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn ms(d: Duration) -> String {
    let m = millis(d);
    if m >= 1000.0 {
        format!("{:.1} s", m / 1000.0)
    } else {
        format!("{m} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).expect("status"),
            server: None,
            body: body.to_owned(),
            connect: Duration::ZERO,
            total: Duration::ZERO,
        }
    }

    #[test]
    fn vite_block_pages_name_the_host() {
        let body = "Blocked request. This host (\"app.test\") is not allowed.\nTo allow this host, \
                    add \"app.test\" to `server.allowedHosts` in vite.config.js.";
        assert_eq!(vite_blocked_host(body).as_deref(), Some("app.test"));
        assert_eq!(vite_blocked_host("Forbidden"), None);
    }

    #[test]
    fn next_origin_check_is_a_403_only_with_the_origin() {
        let unauthorized = answer(403, "Unauthorized");
        assert!(next_blocks(&unauthorized, Some(&answer(404, "Not Found"))));
        assert!(
            next_blocks(&unauthorized, None),
            "a cold Next.js may still be compiling its 404 page"
        );
        assert!(!next_blocks(&unauthorized, Some(&unauthorized)));
        assert!(!next_blocks(&answer(404, ""), Some(&answer(404, ""))));
        assert!(!next_blocks(&answer(403, ""), Some(&answer(404, ""))));
        assert!(!next_blocks(
            &answer(403, "<html>forbidden by policy</html>"),
            Some(&answer(404, ""))
        ));
    }

    #[test]
    fn paths_join_the_upstream_base() {
        assert_eq!(join("", "/"), "/");
        assert_eq!(join("/base", "/"), "/base/");
        assert_eq!(join("/base/", "/api"), "/base/api");
    }
}
