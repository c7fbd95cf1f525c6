//! The pages Portico answers itself: each error's status, who it blames, and a body that
//! helps (HTML for browsers, problem+json for tools, plain text otherwise).

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use common::{TestEngine, closed_port, send, spawn_echo, spawn_upstream};
use http::{Request, StatusCode};
use portico_core::config::{NewRoute, RoutePatch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[tokio::test]
async fn an_unknown_host_gets_a_404_listing_the_routes_with_links() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    engine.route("*.preview.localhost", "/", echo.addr).await;
    let port = engine.port();

    let page = engine.get_accept("nope.localhost", "/", HTML).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    assert_eq!(page.headers["x-portico-error"], "no-route");
    assert!(
        page.body
            .contains(&format!("href=\"http://app.localhost:{port}/\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("*.preview.localhost"), "{}", page.body);
    assert!(page.body.contains("portico route add"), "{}", page.body);

    let json = engine
        .get_accept("nope.localhost", "/x", "application/json")
        .await;
    assert_eq!(json.headers["content-type"], "application/problem+json");
    let problem = json.json();
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["side"], "client");
    assert_eq!(problem["routes"][0]["host"], "app.localhost");
    assert_eq!(
        problem["routes"][0]["url"],
        format!("http://app.localhost:{port}/")
    );

    let text = engine.get("nope.localhost", "/").await;
    assert!(
        text.headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    assert!(text.body.starts_with("404 No route"), "{}", text.body);
    assert!(
        text.body.contains("app.localhost -> http://"),
        "{}",
        text.body
    );
}

#[tokio::test]
async fn a_404_for_a_disabled_route_says_how_to_enable_it() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    let route = engine.route("app.localhost", "/", echo.addr).await;
    let off = RoutePatch {
        enabled: Some(false),
        ..Default::default()
    };
    engine
        .engine()
        .update_route(route.id, off)
        .await
        .expect("disable");
    let page = engine.get("app.localhost", "/").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.body.contains("portico route enable app.localhost"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_refused_upstream_gets_a_502_naming_route_and_upstream() {
    let engine = TestEngine::start().await;
    let nowhere = closed_port().await;
    engine.route("app.localhost", "/", nowhere).await;

    let page = engine.get_accept("app.localhost", "/", HTML).await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY);
    assert_eq!(page.headers["x-portico-error"], "upstream-refused");
    assert!(page.body.contains("app.localhost/"), "{}", page.body);
    assert!(
        page.body.contains(&format!("http://{nowhere}")),
        "{}",
        page.body
    );
    assert!(page.body.contains("dev server"), "{}", page.body);

    let problem = engine
        .get_accept("app.localhost", "/", "application/json")
        .await
        .json();
    assert_eq!(problem["status"], 502);
    assert_eq!(problem["side"], "upstream");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("refused"),
        "{problem}"
    );

    let text = engine.get("app.localhost", "/").await;
    assert!(text.body.starts_with("502 "), "{}", text.body);
}

#[tokio::test]
async fn a_slow_upstream_gets_a_504_after_the_routes_timeout() {
    let engine = TestEngine::start().await;
    let slow = spawn_upstream(Router::new().route(
        "/",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late"
        }),
    ))
    .await;
    engine
        .add(NewRoute {
            host: "app.localhost".into(),
            upstreams: vec![format!("http://{}", slow.addr)],
            timeout_ms: Some(300),
            ..Default::default()
        })
        .await;
    let started = std::time::Instant::now();
    let page = engine.get("app.localhost", "/").await;
    assert_eq!(page.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(page.headers["x-portico-error"], "upstream-timeout");
    assert!(
        page.body.contains("did not answer within 300ms"),
        "{}",
        page.body
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn an_upstream_that_closes_the_connection_gets_a_502() {
    let engine = TestEngine::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let closer = tokio::spawn(async move {
        // Accept, read the request, and hang up without answering; bounded to 10 connections.
        for _ in 0..10 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    engine.route("app.localhost", "/", addr).await;
    let page = engine.get("app.localhost", "/").await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY);
    assert_eq!(page.headers["x-portico-error"], "upstream-failed");
    closer.abort();
}

#[tokio::test]
async fn a_route_to_portico_itself_gets_a_508() {
    let engine = TestEngine::start().await;
    engine.route("loop.localhost", "/", engine.addr()).await;
    let page = engine.get("loop.localhost", "/").await;
    assert_eq!(page.status, StatusCode::LOOP_DETECTED);
    assert_eq!(page.headers["x-portico-error"], "loop");
}

/// An upstream that, like a dev server's own proxy, forwards every request back through
/// Portico to `next_host`, keeping the request's headers (and so its `Via`).
async fn spawn_relay(
    portico: std::net::SocketAddr,
    next_host: &'static str,
) -> (
    common::Upstream,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let relay = spawn_upstream(Router::new().fallback(move |req: axum::extract::Request| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut builder = Request::get(req.uri().path());
            for (name, value) in req.headers() {
                if name != "host" {
                    builder = builder.header(name, value);
                }
            }
            let reply = send(portico, next_host, builder, Bytes::new()).await;
            (reply.status, reply.body)
        }
    }))
    .await;
    (relay, calls)
}

#[tokio::test]
async fn a_loop_through_another_proxy_is_cut_after_a_bounded_number_of_hops() {
    let engine = TestEngine::start().await;
    let (relay, calls) = spawn_relay(engine.addr(), "loop.localhost").await;
    engine.route("loop.localhost", "/", relay.addr).await;
    let reply = engine.get("loop.localhost", "/").await;
    assert_eq!(reply.status, StatusCode::LOOP_DETECTED, "{}", reply.body);
    let hops = calls.load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=10).contains(&hops), "{hops} hops");
}

#[tokio::test]
async fn a_dev_server_proxying_back_through_portico_once_is_not_a_loop() {
    let engine = TestEngine::start().await;
    let api = spawn_echo("api").await;
    let (relay, _) = spawn_relay(engine.addr(), "api.localhost").await;
    engine.route("app.localhost", "/", relay.addr).await;
    engine.route("api.localhost", "/", api.addr).await;
    let reply = engine.get("app.localhost", "/").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["upstream"], "api");
}

async fn raw(engine: &TestEngine, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(engine.addr())
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("answer within 5 s")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_request_without_a_host_gets_a_400_that_says_so() {
    let engine = TestEngine::start().await;
    let reply = raw(&engine, "GET / HTTP/1.0\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.0 400"), "{reply}");
    assert!(reply.contains("no Host header"), "{reply}");
}

#[tokio::test]
async fn connect_is_refused_with_a_400() {
    let engine = TestEngine::start().await;
    let reply = raw(
        &engine,
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("not a forward proxy"), "{reply}");
}
