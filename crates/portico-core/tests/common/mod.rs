//! Shared test fixtures: an engine on an ephemeral port with its own data dir, upstream
//! servers that stop on drop, and a plain HTTP client that sets `Host` itself.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use portico_core::config::{NewRoute, Route};
use portico_core::proxy::ListenSpec;
use portico_core::{Engine, EngineConfig, EngineHandle};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// An engine on 127.0.0.1:0 with its own temporary data dir.
pub struct TestEngine {
    pub handle: Option<EngineHandle>,
    pub dir: TempDir,
}

impl TestEngine {
    /// Plain HTTP only.
    pub async fn start() -> TestEngine {
        let dir = tempfile::tempdir().expect("temp dir");
        let handle = start_in(dir.path()).await;
        TestEngine {
            handle: Some(handle),
            dir,
        }
    }

    /// HTTP and HTTPS, both on ephemeral loopback ports.
    pub async fn start_tls() -> TestEngine {
        let dir = tempfile::tempdir().expect("temp dir");
        let handle = Engine::start(tls_config(dir.path()))
            .await
            .expect("engine starts");
        TestEngine {
            handle: Some(handle),
            dir,
        }
    }

    pub fn https_addr(&self) -> SocketAddr {
        self.engine().https_addrs()[0]
    }

    pub fn engine(&self) -> &EngineHandle {
        self.handle.as_ref().expect("engine running")
    }

    pub fn addr(&self) -> SocketAddr {
        self.engine().http_addrs()[0]
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// The admin API's (first) address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.engine().admin_addrs()[0]
    }

    /// Add `host` (+ `path`) → `upstream` with the defaults.
    pub async fn route(&self, host: &str, path: &str, upstream: SocketAddr) -> Route {
        self.add(NewRoute {
            host: host.into(),
            path: Some(path.into()),
            upstreams: vec![format!("http://{upstream}")],
            ..Default::default()
        })
        .await
    }

    /// Add `host` → `upstream`, served over plain HTTP too when the engine has HTTPS (no
    /// redirect).
    pub async fn route_plain_too(&self, host: &str, upstream: SocketAddr) -> Route {
        self.add(NewRoute {
            host: host.into(),
            upstreams: vec![format!("http://{upstream}")],
            https_redirect: Some(false),
            ..Default::default()
        })
        .await
    }

    pub async fn add(&self, route: NewRoute) -> Route {
        self.engine().add_route(route).await.expect("route added")
    }

    /// GET `path` with `Host: host`.
    /// `GET path` on the admin API with the engine's token.
    pub async fn admin_get(&self, path: &str) -> Reply {
        let token = self.engine().admin_token().expect("admin").to_owned();
        send(
            self.admin_addr(),
            "127.0.0.1",
            http::Request::get(path).header("authorization", format!("Bearer {token}")),
            Bytes::new(),
        )
        .await
    }

    pub async fn get(&self, host: &str, path: &str) -> Reply {
        send(self.addr(), host, Request::get(path), Bytes::new()).await
    }

    pub async fn get_accept(&self, host: &str, path: &str, accept: &str) -> Reply {
        send(
            self.addr(),
            host,
            Request::get(path).header("accept", accept),
            Bytes::new(),
        )
        .await
    }
}

impl TestEngine {
    /// Plain HTTP with `settings` in force from the start (for those that apply at the next
    /// start, such as `header_read_timeout_ms`): started once to store them, then again.
    pub async fn start_with(settings: portico_core::config::SettingsPatch) -> TestEngine {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = start_in(dir.path()).await;
        first.update_settings(settings).await.expect("settings");
        first.shutdown().await;
        let handle = start_in(dir.path()).await;
        TestEngine {
            handle: Some(handle),
            dir,
        }
    }

    /// As [`TestEngine::start_with`], with HTTPS too.
    pub async fn start_tls_with(settings: portico_core::config::SettingsPatch) -> TestEngine {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = start_in(dir.path()).await;
        first.update_settings(settings).await.expect("settings");
        first.shutdown().await;
        let handle = Engine::start(tls_config(dir.path()))
            .await
            .expect("engine starts");
        TestEngine {
            handle: Some(handle),
            dir,
        }
    }

    /// The captured exchange (as the admin API details it, without the body previews) of the
    /// newest request whose path contains `path`, once it has been recorded.
    pub async fn exchange(&self, path: &str) -> serde_json::Value {
        let query = format!("/api/v1/requests?limit=5&path={path}");
        let deadline = Instant::now() + Duration::from_secs(5);
        let id = loop {
            let list = self.admin_get(&query).await.json();
            if let Some(id) = list["items"].get(0).and_then(|e| e["id"].as_i64()) {
                break id;
            }
            assert!(
                Instant::now() < deadline,
                "no exchange for {path} was recorded"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let reply = self.admin_get(&format!("/api/v1/requests/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let mut e = reply.json()["exchange"].take();
        // The previews are left out, so a failed assertion prints a readable exchange.
        for body in ["request_body", "response_body"] {
            if let Some(preview) = e[body].as_object_mut() {
                preview.remove("bytes");
            }
        }
        e
    }
}

pub async fn start_in(dir: &std::path::Path) -> EngineHandle {
    let mut config = tls_config(dir);
    config.https = None;
    Engine::start(config).await.expect("engine starts")
}

/// Every listener on an ephemeral loopback port.
pub fn tls_config(dir: &std::path::Path) -> EngineConfig {
    let mut config = EngineConfig::new(dir);
    config.owner = "tester@testhost".into();
    config.http = ListenSpec::Addr("127.0.0.1:0".parse().expect("addr"));
    config.https = Some(ListenSpec::Addr("127.0.0.1:0".parse().expect("addr")));
    config.admin = Some(portico_core::AdminListen {
        listen: ListenSpec::Addr("127.0.0.1:0".parse().expect("addr")),
        allow_remote: false,
        ui_dir: None,
    });
    config
}

/// A finished response with its whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// The body as received (still content-encoded).
    pub raw: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

/// Send one request to `addr` with `Host: host` and read the whole answer.
pub async fn send(
    addr: SocketAddr,
    host: &str,
    builder: http::request::Builder,
    body: Bytes,
) -> Reply {
    send_from(None, addr, host, builder, body).await
}

/// As [`send`], from a chosen local address (e.g. 127.0.0.2).
pub async fn send_from(
    local: Option<std::net::IpAddr>,
    addr: SocketAddr,
    host: &str,
    builder: http::request::Builder,
    body: Bytes,
) -> Reply {
    let host = format!("{host}:{}", addr.port());
    send_body(local, addr, &host, builder, Full::new(body)).await
}

/// As [`send`], with `Host` exactly as given (another port, or none at all).
pub async fn send_as(
    addr: SocketAddr,
    host_header: &str,
    builder: http::request::Builder,
    body: Bytes,
) -> Reply {
    send_body(None, addr, host_header, builder, Full::new(body)).await
}

/// One HTTP/1.1 request over TLS to `addr`, trusting only `root_pem` and verifying the
/// certificate for `server_name` (a name, sent as SNI, or an IP address), with `Host`
/// exactly as given; the whole answer.
pub async fn send_tls(
    addr: SocketAddr,
    server_name: &str,
    root_pem: &str,
    host_header: &str,
    builder: http::request::Builder,
    body: Bytes,
) -> Reply {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(
            rustls_pki_types::CertificateDer::from_pem_slice(root_pem.as_bytes())
                .expect("root PEM"),
        )
        .expect("add root");
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(server_name.to_owned()).expect("server name");
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let tls = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp),
    )
    .await
    .expect("handshake within 10 s")
    .expect("the certificate verifies against the root");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .expect("HTTP/1.1 over TLS");
    tokio::spawn(conn);
    let req = builder
        .header("host", host_header)
        .body(Full::new(body))
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(30), sender.send_request(req))
        .await
        .expect("answer within 30 s")
        .expect("response");
    reply(resp).await
}

/// A whole answer, read.
async fn reply(resp: http::Response<hyper::body::Incoming>) -> Reply {
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        raw: body,
    }
}

/// As [`send`], with a streamed body of unknown length (sent chunked).
pub async fn send_stream<B>(
    addr: SocketAddr,
    host: &str,
    builder: http::request::Builder,
    body: B,
) -> Reply
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let host = format!("{host}:{}", addr.port());
    send_body(None, addr, &host, builder, body).await
}

/// One request with `body` from `local` (any address when `None`) to `addr`, with `Host`
/// exactly `host_header`; the whole answer.
async fn send_body<B>(
    local: Option<std::net::IpAddr>,
    addr: SocketAddr,
    host_header: &str,
    builder: http::request::Builder,
    body: B,
) -> Reply
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connector = HttpConnector::new();
    connector.set_local_address(local);
    let client: Client<_, B> = Client::builder(TokioExecutor::new()).build(connector);
    let path = builder.uri_ref().map(|u| u.to_string()).unwrap_or_default();
    let req = builder
        .uri(format!("http://{addr}{path}"))
        .header("host", host_header)
        .body(body)
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("answer within 30 s")
        .expect("response");
    reply(resp).await
}

/// An upstream server on 127.0.0.1:0; stops when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn spawn_upstream(router: Router) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Upstream { addr, task }
}

/// An upstream that answers every request with JSON describing what it received.
pub async fn spawn_echo(name: &'static str) -> Upstream {
    spawn_upstream(
        Router::new().fallback(move |req: axum::extract::Request| async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let headers: serde_json::Map<String, serde_json::Value> = parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        serde_json::Value::String(v.to_str().unwrap_or("?").to_owned()),
                    )
                })
                .collect();
            axum::Json(serde_json::json!({
                "upstream": name,
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "query": parts.uri.query(),
                "version": format!("{:?}", parts.version),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            }))
        }),
    )
    .await
}

/// A port where nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

/// Poll `check` until it is true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A response whose body may fail (cut off by an upstream fault).
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body, or why reading it failed, with the bytes that did arrive.
    pub body: Result<Bytes, (String, usize)>,
}

/// `GET path` with `Host: host` on a new HTTP/1.1 connection, reading the body as far as it
/// goes; `None` when no response head arrived (the connection was closed or reset).
pub async fn fetch(addr: SocketAddr, host: &str, path: &str) -> Option<Fetched> {
    let resp = open_get(addr, host, path).await?;
    let (parts, body) = resp.into_parts();
    Some(Fetched {
        status: parts.status,
        headers: parts.headers,
        body: read_body(body).await,
    })
}

/// `GET path` with `Host: host` on a new HTTP/1.1 connection, up to the response head; the
/// connection lives as long as the body. `None` when the connection closed before a head.
pub async fn open_get(
    addr: SocketAddr,
    host: &str,
    path: &str,
) -> Option<http::Response<hyper::body::Incoming>> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", format!("{host}:{}", addr.port()))
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    tokio::time::timeout(Duration::from_secs(15), sender.send_request(req))
        .await
        .expect("an answer or a close within 15 s")
        .ok()
}

/// The whole body, or why it failed and how many bytes came before.
pub async fn read_body(mut body: hyper::body::Incoming) -> Result<Bytes, (String, usize)> {
    let mut got = Vec::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), body.frame())
            .await
            .expect("the body ends or fails within 15 s");
        match frame {
            None => return Ok(Bytes::from(got)),
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    got.extend_from_slice(data);
                }
            }
            Some(Err(err)) => return Err((err.to_string(), got.len())),
        }
    }
}

/// File descriptors this process has open (the engine runs in it).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// This process's resident memory in KiB (the engine runs in it).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// An upstream written byte by byte: each accepted connection runs `script`. Stops (and
/// drops every connection) when dropped.
pub struct RawUpstream {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Connections whose script has not returned yet.
    pub open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawUpstream {
    /// Connections still open (their scripts running).
    pub fn open(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Start a raw upstream on 127.0.0.1:0 that runs `script` on every connection (bounded to
/// 1,000 connections).
pub async fn spawn_raw<F, Fut>(script: F) -> RawUpstream
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use std::sync::atomic::Ordering::SeqCst;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (counted, opened) = (accepted.clone(), open.clone());
    let task = tokio::spawn(async move {
        let mut running = tokio::task::JoinSet::new();
        for _ in 0..1000 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, SeqCst);
            opened.fetch_add(1, SeqCst);
            let opened = opened.clone();
            let run = script(stream);
            running.spawn(async move {
                run.await;
                opened.fetch_sub(1, SeqCst);
            });
            while running.try_join_next().is_some() {}
        }
    });
    RawUpstream {
        addr,
        accepted,
        open,
        task,
    }
}

/// Read a request head (through the blank line); `None` when the peer closed first.
pub async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 1 << 20 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Some(head)
}

/// Read and discard until the peer closes (or 60 s pass): how a hanging upstream notices
/// that Portico gave up on it.
pub async fn until_closed(stream: &mut tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// A TLS client configuration that trusts `root_pem` and offers `alpn`.
pub fn client_config(root_pem: &str, alpn: &[&[u8]]) -> std::sync::Arc<rustls::ClientConfig> {
    client_config_offering(root_pem, alpn, rustls::crypto::ring::DEFAULT_CIPHER_SUITES)
}

/// [`client_config`] offering only `suites`, in that order.
pub fn client_config_offering(
    root_pem: &str,
    alpn: &[&[u8]],
    suites: &[rustls::SupportedCipherSuite],
) -> std::sync::Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(<rustls_pki_types::CertificateDer<'_> as rustls_pki_types::pem::PemObject>::from_pem_slice(root_pem.as_bytes()).expect("root PEM"))
        .expect("add root");
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: suites.to_vec(),
        ..rustls::crypto::ring::default_provider()
    };
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    std::sync::Arc::new(config)
}

/// A TLS connection to `addr` for `sni`, within 10 s.
pub async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name =
        rustls_pki_types::ServerName::try_from(sni.to_owned()).map_err(std::io::Error::other)?;
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(std::io::Error::other)?
}
