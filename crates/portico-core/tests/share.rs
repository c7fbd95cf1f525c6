//! Sharing routes on the LAN address, with a second loopback address (127.0.0.5) standing in
//! for the LAN: a shared route answers there over HTTPS (a rustls client that trusts only
//! Portico's root and checks the IP address in the certificate), nothing else does, clients
//! outside the allowed ranges are refused, expiry and unsharing close the listener, and the
//! CA page serves the certificate.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{TestEngine, eventually, send, spawn_echo};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use portico_core::admin::Event;
use portico_core::config::{NewRoute, RoutePatch, SettingsPatch};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::{TcpSocket, TcpStream};

const LAN: &str = "127.0.0.5";

fn lan_ip() -> IpAddr {
    LAN.parse().expect("ip")
}

/// An engine (HTTP and HTTPS on 127.0.0.1) whose LAN address is 127.0.0.5.
async fn engine_on_lan() -> TestEngine {
    let engine = TestEngine::start_tls().await;
    engine
        .engine()
        .update_settings(SettingsPatch {
            lan_address: Some(Some(LAN.into())),
            ..SettingsPatch::default()
        })
        .await
        .expect("lan address set");
    engine
}

fn client_config(engine: &TestEngine) -> Arc<ClientConfig> {
    common::client_config(engine.engine().tls().authority().ca().root_pem(), &[])
}

/// GET `path` over HTTPS at `addr` from `from` (a local address), with `Host: host`,
/// verifying the certificate for the address itself. An error when nothing listens or the
/// handshake fails.
async fn https_get(
    engine: &TestEngine,
    from: Option<IpAddr>,
    addr: SocketAddr,
    host: &str,
    path: &str,
) -> std::io::Result<(StatusCode, String)> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = from {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let tcp: TcpStream = tokio::time::timeout(Duration::from_secs(5), socket.connect(addr))
        .await
        .map_err(std::io::Error::other)??;
    let name = ServerName::IpAddress(addr.ip().into());
    let tls = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(client_config(engine)).connect(name, tcp),
    )
    .await
    .map_err(std::io::Error::other)??;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let resp = sender
        .send_request(req)
        .await
        .map_err(std::io::Error::other)?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

async fn nothing_listens(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).await.is_err()
}

fn share_addr(url: &str) -> SocketAddr {
    url.trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("not https://IP:PORT/: {url}"))
}

#[tokio::test]
async fn a_shared_route_is_reachable_on_the_lan_address_while_unshared_routes_are_not() {
    let engine = engine_on_lan().await;
    let shown = spawn_echo("shown").await;
    let hidden = spawn_echo("hidden").await;
    let app = engine.route("app.localhost", "/", shown.addr).await;
    engine
        .add(NewRoute {
            host: "secret.localhost".into(),
            upstreams: vec![format!("http://{}", hidden.addr)],
            https_redirect: Some(false),
            ..NewRoute::default()
        })
        .await;

    let info = engine.engine().share(app.id, None).await.expect("shared");
    assert!(info.shared && info.listening, "{info:?}");
    assert_eq!(info.lan_address.as_deref(), Some(LAN));
    let url = info.url.clone().expect("url");
    let addr = share_addr(&url);
    assert_eq!(addr.ip(), lan_ip());
    assert!(info.qr_svg.as_deref().is_some_and(|s| s.contains("<svg")));
    assert!(info.ca_url.as_deref().is_some_and(|u| u.ends_with("/ca")));
    assert!(info.problem.is_none(), "{info:?}");
    // The port is stored with the route and stays.
    let stored = engine.engine().routes().await.expect("routes").routes;
    let stored = stored.iter().find(|r| r.id == app.id).expect("route");
    assert!(stored.shared);
    assert_eq!(stored.share_port, Some(addr.port()));

    // Over TLS, with the certificate checked for 127.0.0.5 and the upstream seeing the
    // route's own name.
    let (status, body) = https_get(&engine, None, addr, LAN, "/hello")
        .await
        .expect("shared route answers");
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = json(&body);
    assert_eq!(body["upstream"], "shown");
    assert_eq!(body["path"], "/hello");
    assert_eq!(body["headers"]["host"], "app.localhost");

    // The LAN's clients run on other machines, which know their own hardware: their order
    // of cipher suites is followed (the proxy's own listener follows its own, see https.rs).
    let offered = [
        rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
        rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
    ];
    let root = engine.engine().tls().authority().ca().root_pem().to_owned();
    let tls = common::tls_connect(
        addr,
        LAN,
        common::client_config_offering(&root, &[], &offered),
    )
    .await
    .expect("handshake");
    assert_eq!(
        tls.get_ref().1.negotiated_cipher_suite().map(|s| s.suite()),
        Some(offered[0].suite())
    );

    // Any Host header on that listener still reaches the shared route only.
    let (status, body) = https_get(&engine, None, addr, "secret.localhost", "/")
        .await
        .expect("answers");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&body)["upstream"], "shown");
    let (_, body) = https_get(&engine, None, addr, "portico.localhost", "/ca.pem")
        .await
        .expect("answers");
    assert_eq!(json(&body)["upstream"], "shown", "no built-in pages there");

    // The proxy's own listeners stay on 127.0.0.1: the LAN address has no way to the
    // unshared route.
    for port in [engine.port(), engine.https_addr().port()] {
        assert!(nothing_listens(SocketAddr::new(lan_ip(), port)).await);
    }
    let ca_addr: SocketAddr = info
        .ca_url
        .as_deref()
        .and_then(|u| u.strip_prefix("http://"))
        .and_then(|u| u.strip_suffix("/ca"))
        .and_then(|u| u.parse().ok())
        .expect("ca address");
    let reply = send(ca_addr, "secret.localhost", Request::get("/"), Bytes::new()).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(!reply.body.contains("hidden"));
    // Still served on loopback as before.
    let local = engine.get("secret.localhost", "/").await;
    assert_eq!(local.json()["upstream"], "hidden");
}

#[tokio::test]
async fn clients_outside_the_allowed_ranges_are_refused() {
    let engine = engine_on_lan().await;
    let upstream = spawn_echo("app").await;
    let app = engine.route("app.localhost", "/", upstream.addr).await;
    let info = engine.engine().share(app.id, None).await.expect("shared");
    let addr = share_addr(&info.url.expect("url"));
    let from = |ip: &str| Some(ip.parse::<IpAddr>().expect("ip"));

    // By default the private ranges and loopback are allowed.
    let (status, _) = https_get(&engine, from("127.0.0.2"), addr, LAN, "/")
        .await
        .expect("answers");
    assert_eq!(status, StatusCode::OK);

    engine
        .engine()
        .update_route(
            app.id,
            RoutePatch {
                share_allow_ips: Some(vec!["127.0.0.1".into(), "192.168.0.0/16".into()]),
                ..RoutePatch::default()
            },
        )
        .await
        .expect("list set");
    let (status, body) = https_get(&engine, from("127.0.0.2"), addr, LAN, "/")
        .await
        .expect("answers");
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!body.contains("\"upstream\""), "{body}");
    assert!(
        body.contains("--share-allow 127.0.0.2"),
        "says how to let it in: {body}"
    );
    let (status, _) = https_get(&engine, from("127.0.0.1"), addr, LAN, "/")
        .await
        .expect("answers");
    assert_eq!(status, StatusCode::OK);
    let info = engine.engine().share_info(app.id).await.expect("info");
    assert_eq!(info.allow_ips, ["127.0.0.1", "192.168.0.0/16"]);
}

#[tokio::test]
async fn sharing_expires_and_unsharing_closes_the_listener() {
    let engine = engine_on_lan().await;
    let upstream = spawn_echo("app").await;
    let app = engine.route("app.localhost", "/", upstream.addr).await;
    let mut events = engine.engine().events();

    let info = engine
        .engine()
        .share(app.id, Some(Duration::from_secs(1)))
        .await
        .expect("shared");
    let expires = info.expires_at.expect("expiry");
    assert!(expires > 0);
    let addr = share_addr(&info.url.expect("url"));
    let (status, _) = https_get(&engine, None, addr, LAN, "/")
        .await
        .expect("answers");
    assert_eq!(status, StatusCode::OK);

    assert!(
        eventually(Duration::from_secs(10), || nothing_listens(addr)).await,
        "the listener closes when the time runs out"
    );
    let route = engine.engine().routes().await.expect("routes").routes;
    let route = route.iter().find(|r| r.id == app.id).expect("route");
    assert!(!route.shared && route.share_expires_at.is_none());
    assert_eq!(route.share_port, Some(addr.port()), "the port is kept");
    let expired = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(Event::ShareChanged {
                route_id,
                shared: false,
                expired: true,
            }) = events.recv().await
                && route_id == app.id
            {
                return;
            }
        }
    })
    .await;
    assert!(expired.is_ok(), "an expiry event is sent");

    // Shared again: the same port; unshared: closed at once.
    let info = engine.engine().share(app.id, None).await.expect("shared");
    assert_eq!(share_addr(&info.url.expect("url")), addr);
    let (status, _) = https_get(&engine, None, addr, LAN, "/")
        .await
        .expect("answers");
    assert_eq!(status, StatusCode::OK);
    let info = engine.engine().unshare(app.id).await.expect("unshared");
    assert!(!info.shared && info.url.is_none(), "{info:?}");
    assert!(eventually(Duration::from_secs(5), || nothing_listens(addr)).await);
}

#[tokio::test]
async fn the_ca_page_and_certificate_download_work_on_the_ca_port() {
    let engine = engine_on_lan().await;
    let upstream = spawn_echo("app").await;
    let app = engine.route("app.localhost", "/", upstream.addr).await;
    let info = engine.engine().share(app.id, None).await.expect("shared");
    let ca_url = info.ca_url.expect("ca url");
    assert!(info.ca_qr_svg.is_some());
    let ca_addr: SocketAddr = ca_url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/ca"))
        .and_then(|u| u.parse().ok())
        .expect("ca address");
    assert_eq!(ca_addr.ip(), lan_ip());
    let authority = engine.engine().tls().authority();
    let ca = authority.ca();

    let page = send(ca_addr, LAN, Request::get("/ca"), Bytes::new()).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in ["iPhone", "Android", "macOS", "Windows", "Linux", "/ca.crt"] {
        assert!(page.body.contains(text), "{text} missing: {}", page.body);
    }
    assert!(page.body.contains(&ca.root_fingerprint()[..2]));
    let der = send(ca_addr, LAN, Request::get("/ca.crt"), Bytes::new()).await;
    assert_eq!(der.status, StatusCode::OK);
    assert_eq!(der.headers["content-type"], "application/x-x509-ca-cert");
    assert_eq!(der.raw.as_ref(), ca.root_der().as_ref());
    let pem = send(ca_addr, LAN, Request::get("/ca.pem"), Bytes::new()).await;
    assert_eq!(pem.body, ca.root_pem());
    let other = send(ca_addr, LAN, Request::get("/routes"), Bytes::new()).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // The page goes away with the last shared route.
    engine.engine().unshare(app.id).await.expect("unshared");
    assert!(eventually(Duration::from_secs(5), || nothing_listens(ca_addr)).await);
}

#[tokio::test]
async fn a_wildcard_route_cannot_be_shared_and_nothing_changes() {
    let engine = engine_on_lan().await;
    let upstream = spawn_echo("app").await;
    let wild = engine
        .route("*.preview.localhost", "/", upstream.addr)
        .await;
    let err = engine
        .engine()
        .share(wild.id, None)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("wildcard"), "{err}");
    let route = engine.engine().routes().await.expect("routes").routes;
    assert!(!route[0].shared && route[0].share_port.is_none());
    let added = engine
        .engine()
        .add_route(NewRoute {
            host: "*.demo.localhost".into(),
            upstreams: vec![format!("http://{}", upstream.addr)],
            shared: true,
            ..NewRoute::default()
        })
        .await;
    assert!(added.is_err());
}
