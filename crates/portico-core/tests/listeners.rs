//! The admin API's guards on every listener a running engine opens. It is reachable on its
//! own listener and, as `portico.localhost`, through the proxy's HTTP and HTTPS listeners:
//! on each, a request without the token or with a wrong one is 401, and a foreign `Host` or
//! `Origin`, or a browser's cross-site fetch, is refused even with the token. Through a
//! route's own name, the LAN share listener or the CA page listener, the admin is not
//! reachable at all: its paths reach the route's upstream, or are 404.

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use common::{Reply, TestEngine, send_as, send_tls, spawn_echo};
use http::{Request, StatusCode, header};
use portico_core::config::{NewRoute, SettingsPatch};

/// The LAN address of the engine that shares a route: a second loopback address, as in
/// `tests/share.rs`.
const LAN: &str = "127.0.0.5";

/// What the admin serves: the API (one path behind the token, the live stream, the
/// document outside the token), the UI and its login.
const ADMIN_PATHS: [&str; 7] = [
    "/api/v1/status",
    "/api/v1/routes",
    "/api/v1/events",
    "/api/v1/openapi.json",
    "/",
    "/assets/index.js",
    "/login?code=0",
];

/// One listener, and how a request gets there.
#[derive(Clone, Copy)]
struct Door<'a> {
    /// For assertion messages.
    name: &'static str,
    addr: SocketAddr,
    /// The name the TLS client verifies (and sends as SNI), for an HTTPS listener.
    tls: Option<&'a str>,
    /// Whether it is the admin's own listener (the proxy answers a name it has no route
    /// for with 404 before any admin check).
    admin: bool,
}

impl Door<'_> {
    /// Send `builder` to this listener with `Host: host`.
    async fn send(
        &self,
        engine: &TestEngine,
        host: &str,
        builder: http::request::Builder,
    ) -> Reply {
        self.send_body(engine, host, builder, Bytes::new()).await
    }

    async fn send_body(
        &self,
        engine: &TestEngine,
        host: &str,
        builder: http::request::Builder,
        body: Bytes,
    ) -> Reply {
        match self.tls {
            Some(name) => {
                let root = engine.engine().tls().authority().ca().root_pem().to_owned();
                send_tls(self.addr, name, &root, host, builder, body).await
            }
            None => send_as(self.addr, host, builder, body).await,
        }
    }
}

fn bearer(engine: &TestEngine) -> String {
    format!(
        "Bearer {}",
        engine.engine().admin_token().expect("admin on")
    )
}

fn is_problem(reply: &Reply) -> bool {
    reply
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/problem+json")
}

/// The admin's guards on `door`, where `home` is the `Host` that reaches the admin there.
async fn admin_guards_hold(engine: &TestEngine, door: Door<'_>, home: &str) {
    let name = door.name;
    let token = bearer(engine);
    let status = || Request::get("/api/v1/status");

    let ok = door
        .send(engine, home, status().header("authorization", &token))
        .await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "{name}: the token works: {}",
        ok.body
    );
    assert!(ok.json()["listeners"].is_object(), "{name}: {}", ok.body);

    for path in ["/api/v1/status", "/api/v1/routes", "/api/v1/events"] {
        let none = door.send(engine, home, Request::get(path)).await;
        assert_eq!(
            none.status,
            StatusCode::UNAUTHORIZED,
            "{name} {path}: no token"
        );
        assert!(is_problem(&none), "{name} {path}");
        assert!(
            none.headers.contains_key(header::WWW_AUTHENTICATE),
            "{name} {path}"
        );
        let wrong = door
            .send(
                engine,
                home,
                Request::get(path).header("authorization", "Bearer not-it"),
            )
            .await;
        assert_eq!(
            wrong.status,
            StatusCode::UNAUTHORIZED,
            "{name} {path}: wrong token"
        );
        let cookie = door
            .send(
                engine,
                home,
                Request::get(path).header("cookie", "portico_session=forged"),
            )
            .await;
        assert_eq!(
            cookie.status,
            StatusCode::UNAUTHORIZED,
            "{name} {path}: forged session"
        );
    }

    // DNS rebinding: another name for this address, or this name on another port (another
    // origin). The admin refuses them (403); the proxy has no route for the foreign name (404).
    let port = door.addr.port();
    for (host, refused) in [
        (
            format!("attacker.example:{port}"),
            if door.admin { 403 } else { 404 },
        ),
        (
            format!("portico.localhost.attacker.example:{port}"),
            if door.admin { 403 } else { 404 },
        ),
        ("portico.localhost:1".to_owned(), 403),
        (
            format!("127.0.0.1:{}", port.wrapping_add(1)),
            if door.admin { 403 } else { 404 },
        ),
    ] {
        for path in ADMIN_PATHS {
            let reply = door
                .send(
                    engine,
                    &host,
                    Request::get(path).header("authorization", &token),
                )
                .await;
            assert_eq!(
                reply.status.as_u16(),
                refused,
                "{name}: Host {host} {path}: {}",
                reply.body
            );
            assert!(
                !reply.body.contains("\"listeners\""),
                "{name}: Host {host} {path}"
            );
        }
    }

    // CSRF: a page elsewhere, even on portico.localhost's other ports, or a browser's own
    // word that the request is cross-site, is refused with the token.
    for (name_, value) in [
        ("origin", "https://attacker.example"),
        ("origin", "http://portico.localhost:1"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        for path in ADMIN_PATHS {
            let reply = door
                .send(
                    engine,
                    home,
                    Request::get(path)
                        .header("authorization", &token)
                        .header(name_, value),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{name}: {name_}: {value} {path}"
            );
        }
        let created = door
            .send_body(
                engine,
                home,
                Request::post("/api/v1/routes")
                    .header("authorization", &token)
                    .header("content-type", "application/json")
                    .header(name_, value),
                Bytes::from(r#"{"host": "csrf.localhost", "upstreams": ["1"]}"#),
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::FORBIDDEN,
            "{name}: POST with {name_}: {value}"
        );
    }
    let routes = engine.engine().routes().await.expect("routes").routes;
    assert!(
        routes
            .iter()
            .all(|r| r.host.to_string() != "csrf.localhost"),
        "{name}: a refused request created a route"
    );
}

/// Every admin path through `door` with `Host: host` and the token reaches the echo upstream
/// named `upstream`, never the admin.
async fn admin_paths_reach_the_upstream(
    engine: &TestEngine,
    door: Door<'_>,
    host: &str,
    upstream: &str,
) {
    let token = bearer(engine);
    for path in ADMIN_PATHS {
        let reply = door
            .send(
                engine,
                host,
                Request::get(path).header("authorization", &token),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: Host {host} {path}: {}",
            door.name,
            reply.body
        );
        let body = reply.json();
        assert_eq!(
            body["upstream"], upstream,
            "{}: Host {host} {path}",
            door.name
        );
        assert_eq!(
            body["path"],
            path.split('?').next().expect("a path"),
            "{}: Host {host}",
            door.name
        );
    }
}

/// An engine with plain HTTP only: the admin listener and the proxy's HTTP listener both
/// serve the admin, with the same guards; a route's own name never does.
#[tokio::test]
async fn the_admin_listener_and_plain_http_proxy_guard_the_admin_alike() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("app").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let admin = Door {
        name: "admin listener",
        addr: engine.admin_addr(),
        tls: None,
        admin: true,
    };
    let http = Door {
        name: "proxy HTTP",
        addr: engine.addr(),
        tls: None,
        admin: false,
    };

    admin_guards_hold(&engine, admin, &format!("127.0.0.1:{}", admin.addr.port())).await;
    admin_guards_hold(&engine, admin, &format!("localhost:{}", admin.addr.port())).await;
    admin_guards_hold(
        &engine,
        http,
        &format!("portico.localhost:{}", http.addr.port()),
    )
    .await;
    admin_paths_reach_the_upstream(
        &engine,
        http,
        &format!("app.localhost:{}", http.addr.port()),
        "app",
    )
    .await;
    // An address instead of a name on the proxy: Portico's own CA download at most.
    let admin_port = admin.addr.port();
    for host in [
        format!("127.0.0.1:{}", http.addr.port()),
        format!("127.0.0.1:{admin_port}"),
        format!("localhost:{}", http.addr.port()),
    ] {
        for path in ADMIN_PATHS {
            let reply = http
                .send(
                    &engine,
                    &host,
                    Request::get(path).header("authorization", bearer(&engine)),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "proxy HTTP: Host {host} {path}"
            );
        }
    }
}

/// An engine with HTTPS that shares a route on the LAN: over HTTPS the proxy serves the admin
/// with the same guards; over plain HTTP it only redirects `portico.localhost` to HTTPS;
/// the share listener serves only its route's upstream and the CA page only the CA.
#[tokio::test]
async fn https_share_and_ca_page_listeners_guard_the_admin_or_never_reach_it() {
    let engine = TestEngine::start_tls().await;
    engine
        .engine()
        .update_settings(SettingsPatch {
            lan_address: Some(Some(LAN.into())),
            ..SettingsPatch::default()
        })
        .await
        .expect("lan address set");
    let echo = spawn_echo("app").await;
    let app = engine
        .add(NewRoute {
            host: "app.localhost".into(),
            upstreams: vec![format!("http://{}", echo.addr)],
            https_redirect: Some(false),
            ..NewRoute::default()
        })
        .await;
    let info = engine.engine().share(app.id, None).await.expect("shared");
    let share_addr: SocketAddr = info
        .url
        .as_deref()
        .and_then(|u| u.strip_prefix("https://"))
        .and_then(|u| u.strip_suffix('/'))
        .and_then(|u| u.parse().ok())
        .expect("https://IP:PORT/");
    let ca_addr: SocketAddr = info
        .ca_url
        .as_deref()
        .and_then(|u| u.strip_prefix("http://"))
        .and_then(|u| u.strip_suffix("/ca"))
        .and_then(|u| u.parse().ok())
        .expect("http://IP:PORT/ca");

    let admin = Door {
        name: "admin listener",
        addr: engine.admin_addr(),
        tls: None,
        admin: true,
    };
    admin_guards_hold(&engine, admin, &format!("127.0.0.1:{}", admin.addr.port())).await;

    let https_port = engine.https_addr().port();
    let portico = Door {
        name: "proxy HTTPS",
        addr: engine.https_addr(),
        tls: Some("portico.localhost"),
        admin: false,
    };
    admin_guards_hold(&engine, portico, &format!("portico.localhost:{https_port}")).await;
    let app_https = Door {
        name: "proxy HTTPS (a route's name)",
        tls: Some("app.localhost"),
        ..portico
    };
    admin_paths_reach_the_upstream(
        &engine,
        app_https,
        &format!("app.localhost:{https_port}"),
        "app",
    )
    .await;

    // Plain HTTP next to HTTPS: portico.localhost is only a redirect, token or not.
    let http = Door {
        name: "proxy HTTP",
        addr: engine.addr(),
        tls: None,
        admin: false,
    };
    let home = format!("portico.localhost:{}", http.addr.port());
    for path in ADMIN_PATHS {
        for auth in [None, Some(bearer(&engine))] {
            let mut req = Request::get(path);
            if let Some(auth) = &auth {
                req = req.header("authorization", auth);
            }
            let reply = http.send(&engine, &home, req).await;
            assert_eq!(
                reply.status,
                StatusCode::PERMANENT_REDIRECT,
                "proxy HTTP {path}"
            );
            let location = reply.headers[header::LOCATION].to_str().expect("ascii");
            assert!(
                location.starts_with(&format!("https://portico.localhost:{https_port}/")),
                "{location}"
            );
            assert!(!reply.body.contains("\"listeners\""), "proxy HTTP {path}");
        }
    }
    admin_paths_reach_the_upstream(
        &engine,
        http,
        &format!("app.localhost:{}", http.addr.port()),
        "app",
    )
    .await;

    // The share listener: whatever the Host, its route's upstream.
    let share = Door {
        name: "share listener",
        addr: share_addr,
        tls: Some(LAN),
        admin: false,
    };
    for host in [
        format!("portico.localhost:{https_port}"),
        "portico.localhost".to_owned(),
        format!("127.0.0.1:{}", admin.addr.port()),
        format!("{LAN}:{}", share_addr.port()),
    ] {
        admin_paths_reach_the_upstream(&engine, share, &host, "app").await;
    }

    // The CA page: the certificate and its instructions, nothing else.
    let ca_page = Door {
        name: "CA page listener",
        addr: ca_addr,
        tls: None,
        admin: false,
    };
    for host in [
        format!("{LAN}:{}", ca_addr.port()),
        format!("portico.localhost:{}", ca_addr.port()),
        format!("127.0.0.1:{}", admin.addr.port()),
    ] {
        for path in ADMIN_PATHS {
            let reply = ca_page
                .send(
                    &engine,
                    &host,
                    Request::get(path).header("authorization", bearer(&engine)),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "CA page: Host {host} {path}"
            );
            assert!(
                !reply.body.contains("\"listeners\""),
                "CA page: Host {host} {path}"
            );
        }
        let post = ca_page
            .send_body(
                &engine,
                &host,
                Request::post("/api/v1/routes").header("authorization", bearer(&engine)),
                Bytes::from(r#"{"host": "x.localhost", "upstreams": ["1"]}"#),
            )
            .await;
        assert_ne!(post.status, StatusCode::OK, "CA page: POST");
        assert!(!post.status.is_success(), "CA page: POST {}", post.status);
    }
    let routes = engine.engine().routes().await.expect("routes").routes;
    assert_eq!(routes.len(), 1, "nothing was created through another door");
}
