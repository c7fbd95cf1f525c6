//! Routing through a real engine on loopback: hosts, prefixes, host-header modes, headers,
//! live edits and persistence.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{TestEngine, eventually, send, send_from, spawn_echo};
use http::{Request, StatusCode};
use portico_core::config::{NewRoute, RoutePatch};

#[tokio::test]
async fn exact_and_wildcard_hosts_reach_their_upstreams() {
    let engine = TestEngine::start().await;
    let exact = spawn_echo("exact").await;
    let wild = spawn_echo("wild").await;
    engine.route("app.localhost", "/", exact.addr).await;
    engine.route("*.app.localhost", "/", wild.addr).await;

    let who = |r: common::Reply| r.json()["upstream"].as_str().map(str::to_owned);
    assert_eq!(
        who(engine.get("app.localhost", "/").await).as_deref(),
        Some("exact")
    );
    assert_eq!(
        who(engine.get("APP.localhost", "/").await).as_deref(),
        Some("exact")
    );
    assert_eq!(
        who(engine.get("feature-1.app.localhost", "/").await).as_deref(),
        Some("wild")
    );
    assert_eq!(
        who(engine.get("a.b.app.localhost", "/").await).as_deref(),
        Some("wild")
    );
    assert_eq!(
        engine.get("other.localhost", "/").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn longest_prefix_wins_and_strip_prefix_removes_it() {
    let engine = TestEngine::start().await;
    let web = spawn_echo("web").await;
    let api = spawn_echo("api").await;
    let v2 = spawn_echo("v2").await;
    engine.route("app.localhost", "/", web.addr).await;
    engine
        .add(NewRoute {
            host: "app.localhost".into(),
            path: Some("/api".into()),
            upstreams: vec![format!("http://{}", api.addr)],
            strip_prefix: true,
            ..Default::default()
        })
        .await;
    engine.route("app.localhost", "/api/v2", v2.addr).await;

    let r = engine.get("app.localhost", "/api/users?id=7").await.json();
    assert_eq!(r["upstream"], "api");
    assert_eq!(r["path"], "/users");
    assert_eq!(r["query"], "id=7");
    let r = engine.get("app.localhost", "/api").await.json();
    assert_eq!(
        (r["upstream"].as_str(), r["path"].as_str()),
        (Some("api"), Some("/"))
    );
    let r = engine.get("app.localhost", "/api/v2/things").await.json();
    assert_eq!(
        (r["upstream"].as_str(), r["path"].as_str()),
        (Some("v2"), Some("/api/v2/things"))
    );
    let r = engine.get("app.localhost", "/apikeys").await.json();
    assert_eq!(
        (r["upstream"].as_str(), r["path"].as_str()),
        (Some("web"), Some("/apikeys"))
    );
}

#[tokio::test]
async fn the_clients_host_is_sent_unless_the_route_asks_for_the_upstreams() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("keep.localhost", "/", echo.addr).await;
    engine
        .add(NewRoute {
            host: "rewrite.localhost".into(),
            upstreams: vec![format!("localhost:{}", echo.addr.port())],
            upstream_host: true,
            ..Default::default()
        })
        .await;
    let port = engine.port();
    let r = engine.get("keep.localhost", "/").await.json();
    assert_eq!(r["headers"]["host"], format!("keep.localhost:{port}"));
    let r = engine.get("rewrite.localhost", "/").await.json();
    assert_eq!(
        r["headers"]["host"],
        format!("localhost:{}", echo.addr.port())
    );
    assert_eq!(
        r["headers"]["x-forwarded-host"],
        format!("rewrite.localhost:{port}")
    );
}

#[tokio::test]
async fn forwarding_headers_are_set_and_hop_by_hop_headers_removed() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let reply = send_from(
        Some("127.0.0.2".parse().expect("ip")),
        engine.addr(),
        "app.localhost",
        Request::get("/")
            .header("x-forwarded-for", "203.0.113.9")
            .header("connection", "keep-alive, x-private")
            .header("x-private", "secret")
            .header("keep-alive", "timeout=5")
            .header("proxy-authorization", "Basic Zm9vOmJhcg=="),
        Bytes::new(),
    )
    .await;
    let seen = reply.json();
    let h = &seen["headers"];
    assert_eq!(h["x-forwarded-for"], "203.0.113.9, 127.0.0.2");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(
        h["x-forwarded-host"],
        format!("app.localhost:{}", engine.port())
    );
    assert_eq!(h["via"], "1.1 portico");
    for gone in ["x-private", "keep-alive", "proxy-authorization"] {
        assert!(h.get(gone).is_none(), "{gone} reached the upstream: {h}");
    }
    let via = reply.headers.get("via").expect("via on the response");
    assert!(via.to_str().expect("ascii").contains("portico"));
}

#[tokio::test]
async fn request_bodies_and_methods_reach_the_upstream() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let reply = send(
        engine.addr(),
        "app.localhost",
        Request::put("/items/1").header("content-type", "application/json"),
        Bytes::from_static(br#"{"name":"lamp"}"#),
    )
    .await;
    let seen = reply.json();
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["body"], r#"{"name":"lamp"}"#);
    assert_eq!(seen["headers"]["content-type"], "application/json");
}

#[tokio::test]
async fn http2_clients_are_forwarded_as_http1_with_their_authority_as_host() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let stream = tokio::net::TcpStream::connect(engine.addr())
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let req = Request::get(format!("http://app.localhost:{}/h2?x=1", engine.port()))
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    let seen: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(seen["version"], "HTTP/1.1");
    assert_eq!(seen["path"], "/h2");
    assert_eq!(
        seen["headers"]["host"],
        format!("app.localhost:{}", engine.port())
    );
    assert_eq!(seen["headers"]["via"], "2 portico");
}

#[tokio::test]
async fn route_changes_apply_to_the_next_request() {
    let engine = TestEngine::start().await;
    let one = spawn_echo("one").await;
    let two = spawn_echo("two").await;
    let route = engine.route("app.localhost", "/", one.addr).await;
    assert_eq!(
        engine.get("app.localhost", "/").await.json()["upstream"],
        "one"
    );

    let patch = RoutePatch {
        upstreams: Some(vec![format!("http://{}", two.addr)]),
        ..Default::default()
    };
    engine
        .engine()
        .update_route(route.id, patch)
        .await
        .expect("update");
    assert_eq!(
        engine.get("app.localhost", "/").await.json()["upstream"],
        "two"
    );

    let disable = RoutePatch {
        enabled: Some(false),
        ..Default::default()
    };
    engine
        .engine()
        .update_route(route.id, disable)
        .await
        .expect("disable");
    assert_eq!(
        engine.get("app.localhost", "/").await.status,
        StatusCode::NOT_FOUND
    );

    engine
        .engine()
        .remove_route(route.id)
        .await
        .expect("remove");
    assert!(
        engine
            .engine()
            .routes()
            .await
            .expect("routes")
            .routes
            .is_empty()
    );
}

#[tokio::test]
async fn a_write_by_another_process_reaches_the_engine_within_a_second() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    // A second store handle on the same file is what the CLI uses.
    let other = portico_core::store::Store::open_dir(engine.dir.path()).expect("open");
    let route = NewRoute {
        host: "late.localhost".into(),
        upstreams: vec![echo.addr.port().to_string()],
        ..Default::default()
    }
    .validate()
    .expect("valid");
    other.insert_route(&route).expect("insert");
    let reached = eventually(Duration::from_secs(1), || async {
        engine.get("late.localhost", "/").await.status == StatusCode::OK
    })
    .await;
    assert!(
        reached,
        "the engine did not pick up the route within a second"
    );
}

#[tokio::test]
async fn routes_persist_across_a_restart() {
    let mut engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    engine.handle.take().expect("running").shutdown().await;

    let restarted = common::start_in(engine.dir.path()).await;
    let reply = send(
        restarted.http_addrs()[0],
        "app.localhost",
        Request::get("/"),
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["upstream"], "echo");
}

#[tokio::test]
async fn invalid_routes_are_refused_and_change_nothing() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let attempts = [
        ("bad host", "5173", "host"),
        ("x.localhost", "https://localhost:3000", "upstreams"),
        ("x.localhost", "http://localhost", "upstreams"),
        ("x.localhost", "ftp://x:21", "upstreams"),
    ];
    for (host, upstream, field) in attempts {
        let err = engine
            .engine()
            .add_route(NewRoute {
                host: host.into(),
                upstreams: vec![upstream.into()],
                ..Default::default()
            })
            .await
            .expect_err("refused");
        match err {
            portico_core::Error::Config(e) => assert_eq!(e.field(), field, "{e}"),
            other => panic!("unexpected error for {host} {upstream}: {other}"),
        }
    }
    let dup = engine
        .engine()
        .add_route(NewRoute {
            host: "app.localhost".into(),
            upstreams: vec!["9".into()],
            ..Default::default()
        })
        .await
        .expect_err("duplicate");
    assert!(dup.to_string().contains("already exists"), "{dup}");
    let rows = engine.engine().routes().await.expect("routes");
    assert_eq!(rows.routes.len(), 1);
    assert_eq!(
        engine.get("app.localhost", "/").await.json()["upstream"],
        "echo"
    );
}

#[tokio::test]
async fn the_preferred_port_falls_back_with_an_explanation() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let wanted = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("dir");
    let mut config = portico_core::EngineConfig::new(dir.path());
    config.http = portico_core::proxy::ListenSpec::Default {
        preferred: wanted,
        fallback: 0,
    };
    config.admin = None;
    config.https = None;
    let engine = portico_core::Engine::start(config).await.expect("start");
    let fallback = engine.http_fallback().expect("fell back");
    assert_eq!(fallback.wanted, wanted);
    assert_ne!(engine.http_addrs()[0].port(), wanted);
    let line = fallback.explain(std::path::Path::new("/usr/bin/portico"), "http");
    assert!(line.contains("in use"), "{line}");

    let denied = portico_core::proxy::Fallback {
        wanted: 80,
        used: 8080,
        reason: std::io::ErrorKind::PermissionDenied,
    };
    let line = denied.explain(std::path::Path::new("/usr/bin/portico"), "https");
    assert!(
        line.contains("setcap cap_net_bind_service=+ep /usr/bin/portico"),
        "{line}"
    );
    assert!(line.contains("ip_unprivileged_port_start=80"), "{line}");
}

/// Serve `name` on `ip`:0 and return the port.
async fn spawn_echo_on(ip: &str, name: &'static str) -> Option<(u16, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.ok()?;
    let port = listener.local_addr().ok()?.port();
    let app = axum::Router::new().fallback(move || async move { name });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Some((port, task))
}

#[tokio::test]
async fn a_bare_port_reaches_dev_servers_on_either_loopback_family() {
    let engine = TestEngine::start().await;
    let (v4_port, v4) = spawn_echo_on("127.0.0.1", "v4")
        .await
        .expect("IPv4 loopback");
    engine
        .add(NewRoute {
            host: "four.localhost".into(),
            upstreams: vec![v4_port.to_string()],
            ..Default::default()
        })
        .await;
    let reply = engine.get("four.localhost", "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "v4"));
    v4.abort();

    // Node dev servers often bind ::1 only; skip where the machine has no IPv6 loopback.
    let Some((v6_port, v6)) = spawn_echo_on("::1", "v6").await else {
        eprintln!("no IPv6 loopback here; IPv6 half not run");
        return;
    };
    engine
        .add(NewRoute {
            host: "six.localhost".into(),
            upstreams: vec![v6_port.to_string()],
            ..Default::default()
        })
        .await;
    let reply = engine.get("six.localhost", "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "v6"));
    v6.abort();
}

/// `/open/../admin` would be matched as under `/` and then served as `/admin` by a server
/// that resolves dot segments, past the `/admin` route's address list: such paths are 400.
#[tokio::test]
async fn a_path_with_dot_segments_cannot_reach_a_route_it_does_not_match() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("app").await;
    engine.route("app.localhost", "/", echo.addr).await;
    engine
        .add(NewRoute {
            host: "app.localhost".into(),
            path: Some("/admin".into()),
            upstreams: vec![format!("http://{}", echo.addr)],
            deny_ips: vec!["127.0.0.0/8".into(), "::1".into()],
            ..Default::default()
        })
        .await;
    assert_eq!(
        engine.get("app.localhost", "/admin").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        engine.get("app.localhost", "/open/admin").await.status,
        StatusCode::OK
    );
    for path in [
        "/open/../admin",
        "/open/%2e%2e/admin",
        "/./admin",
        "/open/.%2E/admin",
    ] {
        let reply = engine.get("app.localhost", path).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.body
        );
        assert!(!reply.body.contains("\"upstream\""), "{path} was forwarded");
    }
}
