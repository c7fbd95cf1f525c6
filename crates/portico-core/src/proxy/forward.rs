//! Forwarding one request: match it to a route, rewrite it for the upstream, send it on the
//! pooled client, and stream the answer back. Bodies are never buffered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::headers::{self, Forwarding};
use super::resolve::Resolver;
use super::route_table::{RouteTable, Target};
use super::{Error, ProxyBody, error_page, upgrade};
use crate::config::Route;
use crate::inspect::capture::{Capture, CapturedAs, Inspector, RequestStart, Side};
use crate::tls::Tls;

/// How long connecting to an upstream may take. Loopback connects are instant; this bounds
/// upstreams on other hosts that drop packets.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle pooled upstream connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Facts about the client connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The client's address.
    pub client: SocketAddr,
    /// The Portico listener's address.
    pub local: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
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
    client: Client<HttpConnector<Resolver>, ProxyBody>,
    tunnels: TaskTracker,
    stop: CancellationToken,
    options: ProxyOptions,
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
}

fn side_name(side: super::Side) -> &'static str {
    match side {
        super::Side::Client => "client",
        super::Side::Upstream => "upstream",
        super::Side::Portico => "portico",
    }
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
        let mut connector = HttpConnector::new_with_resolver(Resolver::new());
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Proxy {
            inner: Arc::new(Inner {
                table,
                client,
                tunnels: TaskTracker::new(),
                stop,
                options,
            }),
        }
    }

    /// Upgraded connections still open.
    pub fn tunnels(&self) -> &TaskTracker {
        &self.inner.tunnels
    }

    /// Answer one request: the upstream's response, or Portico's own error page. The
    /// exchange is captured for the inspector as it streams, unless capture is paused.
    pub async fn handle(&self, req: Request<ProxyBody>, conn: ConnInfo) -> Response<ProxyBody> {
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
        let resp = match self.forward(req, conn, &table, capture.as_ref()).await {
            Ok(resp) => resp,
            Err(err) => {
                match err.side() {
                    super::Side::Upstream | super::Side::Portico => {
                        tracing::warn!(%method, %uri, client = %conn.client, "{err}")
                    }
                    super::Side::Client => {
                        tracing::debug!(%method, %uri, client = %conn.client, "{err}")
                    }
                }
                let resp = error_page::render(&err, accept.as_ref(), &table, conn);
                if let Some(capture) = &capture {
                    let code = resp
                        .headers()
                        .get("x-portico-error")
                        .and_then(|v| v.to_str().ok());
                    capture.error(err.to_string(), side_name(err.side()), code);
                }
                resp
            }
        };
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
        mut req: Request<ProxyBody>,
        conn: ConnInfo,
        table: &RouteTable,
        capture: Option<&Capture>,
    ) -> Result<Response<ProxyBody>, Error> {
        if req.method() == Method::CONNECT {
            return Err(Error::BadRequest {
                reason: "Portico is a reverse proxy, not a forward proxy; CONNECT is not supported",
            });
        }
        let original_host = original_host(&req)?;
        let host = host_name(&original_host)?;
        if host == PORTICO_HOST
            && let Some(resp) = self.builtin(&req)
        {
            return Ok(resp);
        }
        let target = table
            .find(&host, req.uri().path())
            .ok_or_else(|| Error::NoRoute {
                host: host.clone(),
                path: req.uri().path().to_owned(),
            })?
            .clone();
        let route = &target.route;
        if let Some(capture) = capture {
            capture.route(route.id, &target.label, &route.upstream().to_string());
            if !route.capture {
                capture.cancel();
            }
        }
        if target.loops || headers::hops(req.headers()) >= headers::MAX_HOPS {
            return Err(Error::Loop {
                route: target.label.clone(),
                upstream: route.upstream().to_string(),
            });
        }

        if !conn.tls
            && route.https_redirect
            && let Some(port) = self.inner.options.https_port
            && self.can_serve_https(&host)
        {
            return Ok(redirect_to_https(&host, port, req.uri()));
        }

        let upgrade = match req.version() {
            Version::HTTP_11 => headers::upgrade_request(req.headers()),
            _ => None,
        };
        let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));

        let (mut parts, body) = req.into_parts();
        let version = parts.version;
        parts.uri = upstream_uri(route, &parts.uri)?;
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
            authority_value(route.upstream().authority())
        } else {
            original_host
        };
        parts.headers.insert(header::HOST, host_header);
        // Upstream dev servers speak HTTP/1.1, whatever the client used.
        parts.version = Version::HTTP_11;
        let body = match capture {
            Some(capture) => capture.tee(Side::Request, body).map_err(Into::into).boxed(),
            None => body.map_err(Into::into).boxed(),
        };
        let outgoing = Request::from_parts(parts, body);

        let sent = tokio::time::timeout(route.timeout(), self.inner.client.request(outgoing));
        let resp = match sent.await {
            Err(_elapsed) => {
                return Err(Error::UpstreamTimeout {
                    route: target.label.clone(),
                    upstream: route.upstream().to_string(),
                    timeout: route.timeout(),
                });
            }
            Ok(Err(err)) => return Err(classify(err, &target)),
            Ok(Ok(resp)) => resp,
        };
        if let Some(capture) = capture {
            capture.upstream_answered();
        }

        if resp.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let websocket = upgrade
                .as_ref()
                .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"websocket"));
            return Ok(upgrade::tunnel(
                resp,
                client_upgrade,
                &self.inner.tunnels,
                self.inner.stop.clone(),
                target.label.clone(),
                capture
                    .filter(|_| route.capture)
                    .map(|c| (c.clone(), websocket)),
            ));
        }

        let (mut parts, body) = resp.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers, None);
        headers::append_via(&mut parts.headers, parts.version);
        parts.version = Version::default();
        Ok(Response::from_parts(
            parts,
            body.map_err(Into::into).boxed(),
        ))
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

    /// Portico's own pages on `portico.localhost`: the CA certificate for phones and tools.
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
fn host_name(value: &HeaderValue) -> Result<String, Error> {
    let bad = Error::BadRequest {
        reason: "the Host header is not a valid host name",
    };
    let text = value.to_str().map_err(|_| Error::BadRequest {
        reason: "the Host header is not a valid host name",
    })?;
    let authority: Authority = text.parse().map_err(|_| bad)?;
    Ok(authority.host().trim_end_matches('.').to_ascii_lowercase())
}

/// The URI to send upstream: the upstream's authority and base path, then the request path
/// (without the route's prefix when it strips) and query.
fn upstream_uri(route: &Route, uri: &Uri) -> Result<Uri, Error> {
    let upstream = route.upstream();
    let path = uri.path();
    let path = if route.strip_prefix {
        route.path.strip(path)
    } else {
        path
    };
    let query = uri.query();
    let mut pq = String::with_capacity(
        upstream.base_path().len() + path.len() + query.map_or(0, |q| q.len() + 1),
    );
    pq.push_str(upstream.base_path());
    pq.push_str(if path.is_empty() { "/" } else { path });
    if let Some(q) = query {
        pq.push('?');
        pq.push_str(q);
    }
    Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(upstream.authority().clone())
        .path_and_query(pq)
        .build()
        .map_err(|_| Error::BadRequest {
            reason: "the request target cannot be forwarded",
        })
}

/// Sort a client error into refused / unreachable / failed, keeping the cause.
fn classify(err: hyper_util::client::legacy::Error, target: &Target) -> Error {
    let route = target.label.clone();
    let upstream = target.route.upstream().to_string();
    if !err.is_connect() {
        return Error::UpstreamFailed {
            route,
            upstream,
            source: Box::new(err),
        };
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
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
            source: Box::new(err),
        }
    } else {
        Error::UpstreamUnreachable {
            route,
            upstream,
            source: Box::new(err),
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

    #[test]
    fn upstream_uri_keeps_or_strips_the_prefix_and_keeps_the_query() {
        let uri: Uri = "/api/users?id=1".parse().expect("uri");
        let keep = upstream_uri(&route("/api", "3000", false), &uri).expect("uri");
        assert_eq!(keep.to_string(), "http://localhost:3000/api/users?id=1");
        let strip = upstream_uri(&route("/api", "3000", true), &uri).expect("uri");
        assert_eq!(strip.to_string(), "http://localhost:3000/users?id=1");
        let base =
            upstream_uri(&route("/api", "http://localhost:3000/v1", true), &uri).expect("uri");
        assert_eq!(base.to_string(), "http://localhost:3000/v1/users?id=1");
        let bare: Uri = "/api".parse().expect("uri");
        let root = upstream_uri(&route("/api", "3000", true), &bare).expect("uri");
        assert_eq!(root.to_string(), "http://localhost:3000/");
    }

    #[test]
    fn host_names_lose_port_case_and_trailing_dot() {
        let name = |v: &'static str| host_name(&HeaderValue::from_static(v)).expect(v);
        assert_eq!(name("App.Localhost:8080"), "app.localhost");
        assert_eq!(name("app.localhost."), "app.localhost");
        assert_eq!(name("[::1]:80"), "[::1]");
        assert!(host_name(&HeaderValue::from_static("a b")).is_err());
    }
}
