//! The admin API over real HTTP: auth, Host/Origin checks, problem+json errors, route CRUD
//! that applies to the proxy at once.

mod common;

use bytes::Bytes;
use common::{Reply, TestEngine, spawn_echo};
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use portico_core::proxy::ListenSpec;
use serde_json::{Value, json};

struct Admin<'a> {
    engine: &'a TestEngine,
}

impl Admin<'_> {
    fn base(&self) -> String {
        format!("http://{}", self.engine.engine().admin_addrs()[0])
    }

    fn token(&self) -> String {
        self.engine
            .engine()
            .admin_token()
            .expect("admin on")
            .to_owned()
    }

    /// Call the admin API with the token and the listener's own Host.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let builder = Request::builder()
            .method(method)
            .header("authorization", format!("Bearer {}", self.token()));
        self.raw(builder, path, body).await
    }

    async fn raw(&self, builder: http::request::Builder, path: &str, body: Option<Value>) -> Reply {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let req = builder
            .uri(format!("{}{path}", self.base()))
            .header("content-type", "application/json")
            .body(Full::new(body))
            .expect("request");
        let resp = client.request(req).await.expect("admin answers");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            raw: body,
        }
    }
}

fn is_problem(reply: &Reply) -> bool {
    reply.headers["content-type"] == "application/problem+json"
}

#[tokio::test]
async fn every_call_needs_the_token() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let none = admin.raw(Request::builder(), "/api/v1/status", None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(is_problem(&none));
    assert!(none.headers.contains_key("www-authenticate"));
    assert!(
        none.json()["detail"]
            .as_str()
            .expect("detail")
            .contains("admin-token")
    );

    let wrong = admin
        .raw(
            Request::builder().header("authorization", "Bearer not-the-token"),
            "/api/v1/status",
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let ok = admin.call("GET", "/api/v1/status", None).await;
    assert_eq!(ok.status, StatusCode::OK);
    let status = ok.json();
    assert_eq!(status["listeners"]["http"][0], engine.addr().to_string());
    assert_eq!(status["routes"]["total"], 0);
}

#[tokio::test]
async fn the_token_file_matches_and_is_private() {
    let engine = TestEngine::start().await;
    let path = engine.dir.path().join(portico_core::admin::TOKEN_FILE);
    let text = std::fs::read_to_string(&path).expect("token file");
    assert_eq!(text.trim(), engine.engine().admin_token().expect("token"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn foreign_host_and_origin_are_refused_even_with_the_token() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let bearer = format!("Bearer {}", admin.token());
    let port = engine.engine().admin_addrs()[0].port();

    let rebinding = admin
        .raw(
            Request::builder()
                .header("authorization", &bearer)
                .header("host", format!("attacker.example:{port}")),
            "/api/v1/routes",
            None,
        )
        .await;
    assert_eq!(rebinding.status, StatusCode::FORBIDDEN);
    assert!(is_problem(&rebinding));

    let cross_site = admin
        .raw(
            Request::builder()
                .method("POST")
                .header("authorization", &bearer)
                .header("origin", "https://attacker.example"),
            "/api/v1/routes",
            Some(json!({"host": "x.localhost", "upstreams": ["1"]})),
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert_eq!(
        admin.call("GET", "/api/v1/routes", None).await.json(),
        json!([])
    );

    let same_origin = admin
        .raw(
            Request::builder()
                .header("authorization", &bearer)
                .header("origin", format!("http://localhost:{port}")),
            "/api/v1/routes",
            None,
        )
        .await;
    assert_eq!(same_origin.status, StatusCode::OK);
}

#[tokio::test]
async fn routes_created_edited_and_removed_through_the_api_apply_at_once() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let echo = spawn_echo("echo").await;

    let created = admin
        .call(
            "POST",
            "/api/v1/routes",
            Some(json!({"host": "app.localhost", "upstreams": [format!("http://{}", echo.addr)]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let route = created.json();
    let id = route["id"].as_i64().expect("id");
    assert_eq!(created.headers["location"], format!("/api/v1/routes/{id}"));
    assert_eq!(route["path"], "/");
    assert_eq!(route["enabled"], true);
    assert_eq!(
        engine.get("app.localhost", "/").await.status,
        StatusCode::OK
    );

    let listed = admin.call("GET", "/api/v1/routes", None).await.json();
    assert_eq!(listed[0]["host"], "app.localhost");
    let one = admin
        .call("GET", &format!("/api/v1/routes/{id}"), None)
        .await;
    assert_eq!(one.json()["id"], id);

    let patched = admin
        .call(
            "PATCH",
            &format!("/api/v1/routes/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.json()["enabled"], false);
    assert_eq!(
        engine.get("app.localhost", "/").await.status,
        StatusCode::NOT_FOUND
    );

    let removed = admin
        .call("DELETE", &format!("/api/v1/routes/{id}"), None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let gone = admin
        .call("GET", &format!("/api/v1/routes/{id}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(is_problem(&gone));
}

#[tokio::test]
async fn bad_route_input_gets_a_problem_naming_the_field_and_changes_nothing() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let ok = json!({"host": "app.localhost", "upstreams": ["5173"]});
    assert_eq!(
        admin
            .call("POST", "/api/v1/routes", Some(ok.clone()))
            .await
            .status,
        StatusCode::CREATED
    );

    let cases = [
        (
            json!({"host": "bad host", "upstreams": ["5173"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("host"),
        ),
        (
            json!({"host": "x.localhost", "upstreams": ["https://localhost:1"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("upstreams"),
        ),
        (
            json!({"host": "x.localhost", "upstreams": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("upstreams"),
        ),
        (
            json!({"host": "x.localhost", "upstream": "5173"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        (ok, StatusCode::CONFLICT, Some("host")),
    ];
    for (body, status, field) in cases {
        let reply = admin
            .call("POST", "/api/v1/routes", Some(body.clone()))
            .await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(is_problem(&reply), "{body}");
        let problem = reply.json();
        assert!(!problem["detail"].as_str().expect("detail").is_empty());
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{body}");
        }
    }
    let malformed = admin
        .raw(
            Request::builder()
                .method("POST")
                .header("authorization", format!("Bearer {}", admin.token())),
            "/api/v1/routes",
            None,
        )
        .await;
    assert!(malformed.status.is_client_error(), "{}", malformed.status);
    assert!(is_problem(&malformed));

    let listed = admin.call("GET", "/api/v1/routes", None).await.json();
    assert_eq!(listed.as_array().expect("array").len(), 1);
}

#[tokio::test]
async fn a_non_loopback_admin_address_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = portico_core::EngineConfig::new(dir.path());
    config.http = ListenSpec::Addr("127.0.0.1:0".parse().expect("addr"));
    config.https = None;
    config.admin = Some(portico_core::AdminListen {
        listen: ListenSpec::Addr("0.0.0.0:0".parse().expect("addr")),
        allow_remote: false,
        ui_dir: None,
    });
    let err = portico_core::Engine::start(config)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("--admin-allow-remote"), "{err}");
    assert!(!dir.path().join(portico_core::admin::TOKEN_FILE).exists());
}

#[tokio::test]
async fn enable_and_disable_endpoints_flip_only_enabled() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let echo = spawn_echo("echo").await;
    let id = engine.route("app.localhost", "/", echo.addr).await.id;
    let off = admin
        .call("POST", &format!("/api/v1/routes/{id}/disable"), None)
        .await;
    assert_eq!(off.status, StatusCode::OK);
    assert_eq!(off.json()["enabled"], false);
    assert_eq!(
        engine.get("app.localhost", "/").await.status,
        StatusCode::NOT_FOUND
    );
    let on = admin
        .call("POST", &format!("/api/v1/routes/{id}/enable"), None)
        .await;
    assert_eq!(on.json()["enabled"], true);
    assert_eq!(
        engine.get("app.localhost", "/").await.status,
        StatusCode::OK
    );
    let missing = admin.call("POST", "/api/v1/routes/999/enable", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn settings_are_read_patched_validated_and_persisted() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let settings = admin.call("GET", "/api/v1/settings", None).await.json();
    assert_eq!(settings["local_suffixes"], json!([]));
    assert_eq!(settings["shutdown_grace_ms"], 10000);

    let patched = admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"local_suffixes": ["LAN."], "http_listen": "127.0.0.1:8081"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.json()["local_suffixes"], json!(["lan"]));
    // Suffixes apply at once: the CA now signs for .lan.
    assert!(engine.engine().tls().certificate_for("printer.lan").is_ok());

    for (body, field) in [
        (json!({"local_suffixes": ["bad suffix"]}), "local_suffixes"),
        (json!({"http_listen": "8080"}), "http_listen"),
        (json!({"admin_listen": "0.0.0.0:7080"}), "admin_listen"),
        (json!({"shutdown_grace_ms": 0}), "shutdown_grace_ms"),
    ] {
        let reply = admin
            .call("PATCH", "/api/v1/settings", Some(body.clone()))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.json()["field"], field, "{body}");
    }
    let unknown = admin
        .call("PATCH", "/api/v1/settings", Some(json!({"colour": "red"})))
        .await;
    assert!(unknown.status.is_client_error());

    let cleared = admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"http_listen": null})),
        )
        .await
        .json();
    assert_eq!(cleared["http_listen"], Value::Null);
    assert_eq!(cleared["local_suffixes"], json!(["lan"]));
    let stored = portico_core::store::Store::open_dir(engine.dir.path())
        .expect("store")
        .settings()
        .expect("settings");
    assert_eq!(stored.local_suffixes, vec!["lan".to_owned()]);
}

#[tokio::test]
async fn the_events_stream_reports_route_changes() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::get(format!("{}/api/v1/events", admin.base()))
        .header("authorization", format!("Bearer {}", admin.token()))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = client.request(req).await.expect("stream opens");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.contains("routes_changed") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("an event within 5 s")
            .expect("stream open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.contains("event: change"), "{seen}");
}

#[tokio::test]
async fn export_then_import_round_trips_and_a_bad_import_changes_nothing() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    for (host, path) in [
        ("app.localhost", "/"),
        ("app.localhost", "/api"),
        ("*.preview.localhost", "/"),
    ] {
        let body =
            json!({"host": host, "path": path, "upstreams": ["5173"], "strip_prefix": path != "/"});
        assert_eq!(
            admin
                .call("POST", "/api/v1/routes", Some(body))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"local_suffixes": ["lan"]})),
        )
        .await;
    let exported = admin.call("GET", "/api/v1/export", None).await.json();
    assert_eq!(exported["portico"], 1);
    assert_eq!(exported["routes"].as_array().map(Vec::len), Some(3));

    let bad = json!({"portico": 1, "routes": [
        {"host": "ok.localhost", "upstreams": ["1"]},
        {"host": "bad host", "upstreams": ["1"]},
        {"host": "x.localhost", "upstreams": ["https://x:1"]},
        {"host": "ok.localhost", "upstreams": ["2"]}
    ]});
    let refused = admin.call("POST", "/api/v1/import", Some(bad)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = refused.json()["errors"]
        .as_array()
        .cloned()
        .expect("errors");
    let places: Vec<&str> = errors.iter().filter_map(|e| e["at"].as_str()).collect();
    assert_eq!(
        places,
        vec!["routes[1].host", "routes[2].upstreams", "routes[3]"]
    );
    let after_bad = admin.call("GET", "/api/v1/export", None).await.json();
    assert_eq!(after_bad, exported, "a refused import changed something");

    // Import into a fresh engine reproduces the same export exactly.
    let other = TestEngine::start().await;
    let other_admin = Admin { engine: &other };
    let summary = other_admin
        .call("POST", "/api/v1/import", Some(exported.clone()))
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.body);
    assert_eq!(summary.json()["added"], 3);
    assert_eq!(
        other_admin.call("GET", "/api/v1/export", None).await.json(),
        exported
    );
    // And importing it again changes nothing but counts updates.
    let again = other_admin
        .call("POST", "/api/v1/import", Some(exported.clone()))
        .await
        .json();
    assert_eq!(
        (again["added"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(
        other_admin.call("GET", "/api/v1/export", None).await.json(),
        exported
    );
}

#[tokio::test]
async fn a_project_brings_its_routes_up_and_down_without_touching_others() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let mine = json!({"host": "mine.localhost", "upstreams": ["3000"]});
    admin.call("POST", "/api/v1/routes", Some(mine)).await;
    let up = json!({"project": "/home/me/shop", "routes": [
        {"host": "shop.localhost", "upstreams": ["5173"]},
        {"host": "api.shop.localhost", "upstreams": ["8000"]}
    ]});
    let reply = admin.call("POST", "/api/v1/projects/up", Some(up)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["added"], 2);
    let routes = admin.call("GET", "/api/v1/routes", None).await.json();
    let tagged: Vec<_> = routes
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| r["project"] == "/home/me/shop")
        .collect();
    assert_eq!(tagged.len(), 2);

    // Up again with one route dropped from the file removes exactly that one.
    let smaller = json!({"project": "/home/me/shop", "routes": [{"host": "shop.localhost", "upstreams": ["5174"]}]});
    let reply = admin
        .call("POST", "/api/v1/projects/up", Some(smaller))
        .await
        .json();
    assert_eq!(
        (reply["updated"].as_u64(), reply["removed"].as_u64()),
        (Some(1), Some(1))
    );

    // A project may not take over a route the user made.
    let grab = json!({"project": "/home/me/other", "routes": [{"host": "mine.localhost", "upstreams": ["1"]}]});
    let conflict = admin.call("POST", "/api/v1/projects/up", Some(grab)).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.body);
    assert_eq!(conflict.json()["field"], "host");

    let down = admin
        .call(
            "POST",
            "/api/v1/projects/down",
            Some(json!({"project": "/home/me/shop"})),
        )
        .await
        .json();
    assert_eq!(down["removed"], 1);
    let left = admin.call("GET", "/api/v1/routes", None).await.json();
    assert_eq!(left.as_array().map(Vec::len), Some(1));
    assert_eq!(left[0]["host"], "mine.localhost");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let huge = json!({"host": "x.localhost", "upstreams": ["1"], "path": format!("/{}", "a".repeat(2 << 20))});
    let reply = admin.call("POST", "/api/v1/routes", Some(huge)).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.status
    );
    assert!(
        admin
            .call("GET", "/api/v1/routes", None)
            .await
            .json()
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}

#[tokio::test]
async fn portico_localhost_reaches_the_admin_api_through_the_proxy() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let anonymous = engine.get("portico.localhost", "/api/v1/status").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let reply = common::send(
        engine.addr(),
        "portico.localhost",
        Request::get("/api/v1/status").header("authorization", format!("Bearer {}", admin.token())),
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.json()["listeners"]["http"][0],
        engine.addr().to_string()
    );
    let home = engine.get("portico.localhost", "/").await;
    assert!(
        home.body.contains("<title>Portico</title>"),
        "{}",
        home.body
    );
}

/// The web UI's files (`ui/dist`, when built) at `/` and `/assets/…`: `index.html` is
/// revalidated every time, hashed assets are cached for good, each has its content type, and
/// the Host check guards them like the API. Without a build, `/` says how to make one.
#[tokio::test]
async fn the_admin_serves_the_ui_with_content_types_and_cache_rules_behind_the_host_check() {
    let engine = TestEngine::start().await;
    let admin = engine.admin_addr();
    let home = common::send(admin, "127.0.0.1", Request::get("/"), Bytes::new()).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert_eq!(home.headers[header::CACHE_CONTROL], "no-cache");
    assert!(
        home.headers[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|v| v.starts_with("text/html")),
        "{:?}",
        home.headers
    );

    let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist/index.html");
    if !built.exists() {
        assert!(home.body.contains("make ui"), "{}", home.body);
    }
    let assets: Vec<&str> = home
        .body
        .split('"')
        .filter(|part| part.starts_with("/assets/"))
        .collect();
    assert_eq!(built.exists(), !assets.is_empty(), "{}", home.body);
    for asset in assets {
        let reply = common::send(admin, "127.0.0.1", Request::get(asset), Bytes::new()).await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
        assert_eq!(
            reply.headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let expected = if asset.ends_with(".js") {
            "text/javascript"
        } else if asset.ends_with(".css") {
            "text/css"
        } else {
            ""
        };
        let content_type = reply.headers[header::CONTENT_TYPE].to_str().unwrap_or("");
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );

        let rebound = common::send(admin, "evil.example", Request::get(asset), Bytes::new()).await;
        assert_eq!(rebound.status, StatusCode::FORBIDDEN, "{asset}");
    }

    let missing = common::send(
        admin,
        "127.0.0.1",
        Request::get("/assets/nope.js"),
        Bytes::new(),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let rebound = common::send(admin, "evil.example", Request::get("/"), Bytes::new()).await;
    assert_eq!(rebound.status, StatusCode::FORBIDDEN);
}

/// With a UI folder set, `/` and `/assets/…` come from that folder (read on each request),
/// and a path that climbs out of it finds nothing.
#[tokio::test]
async fn the_admin_serves_the_ui_from_a_given_folder_and_nothing_outside_it() {
    let dir = tempfile::tempdir().expect("dir");
    let ui = tempfile::tempdir().expect("ui");
    std::fs::create_dir(ui.path().join("assets")).expect("assets");
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>dev build</title>",
    )
    .expect("index");
    std::fs::write(ui.path().join("assets/app-1.js"), "console.log(1)").expect("js");
    std::fs::write(ui.path().join("secret.txt"), "not an asset").expect("secret");
    let mut config = common::tls_config(dir.path());
    config.https = None;
    if let Some(admin) = config.admin.as_mut() {
        admin.ui_dir = Some(ui.path().to_owned());
    }
    let engine = portico_core::Engine::start(config).await.expect("engine");
    let admin = engine.admin_addrs()[0];

    let home = common::send(admin, "127.0.0.1", Request::get("/"), Bytes::new()).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("dev build"), "{}", home.body);
    assert_eq!(home.headers[header::CACHE_CONTROL], "no-cache");
    let js = common::send(
        admin,
        "127.0.0.1",
        Request::get("/assets/app-1.js"),
        Bytes::new(),
    )
    .await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.body, "console.log(1)");
    assert!(
        js.headers[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|v| v.starts_with("text/javascript")),
        "{:?}",
        js.headers
    );
    // A rebuilt file shows on the next request.
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>rebuilt</title>",
    )
    .expect("rebuild");
    let again = common::send(admin, "127.0.0.1", Request::get("/"), Bytes::new()).await;
    assert!(again.body.contains("rebuilt"), "{}", again.body);
    for climb in [
        "/assets/..%2fsecret.txt",
        "/assets/../secret.txt",
        "/assets/%2e%2e/secret.txt",
    ] {
        let reply = common::send(admin, "127.0.0.1", Request::get(climb), Bytes::new()).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{climb}: {}",
            reply.body
        );
        assert!(!reply.body.contains("not an asset"), "{climb}");
    }
    engine.shutdown().await;
}

#[tokio::test]
async fn ca_endpoints_report_trust_and_change_only_the_given_stores() {
    let dir = tempfile::tempdir().expect("dir");
    let home = tempfile::tempdir().expect("home");
    let anchors = tempfile::tempdir().expect("anchors");
    let mut config = common::tls_config(dir.path());
    config.https = None;
    config.trust = Some(portico_core::tls::trust::TrustEnv {
        home: home.path().to_owned(),
        system: portico_core::tls::trust::SystemStore::Debian {
            anchor_dir: anchors.path().to_owned(),
            refresh: None,
            bundle: None,
        },
        elevation: portico_core::tls::trust::Elevation::AsIs,
        node_extra_ca_certs: None,
        certutil: "certutil".into(),
        keytool: "keytool".into(),
        java_keystore: Some(dir.path().join("no-such-keystore")),
        path_var: None,
    });
    let handle = portico_core::Engine::start(config).await.expect("start");
    let engine = TestEngine {
        handle: Some(handle),
        dir,
    };
    let admin = Admin { engine: &engine };
    let status = admin.call("GET", "/api/v1/ca", None).await.json();
    assert!(
        status["name"]
            .as_str()
            .expect("name")
            .starts_with("Portico Local CA")
    );
    let system = |report: &Value| {
        report["stores"]
            .as_array()
            .expect("stores")
            .iter()
            .find(|s| s["store"]["kind"] == "system")
            .map(|s| s["state"].clone())
    };
    assert_eq!(system(&status), Some(json!("not_trusted")));

    let trusted = admin.call("POST", "/api/v1/ca/trust", None).await;
    assert_eq!(trusted.status, StatusCode::OK, "{}", trusted.body);
    assert!(
        trusted
            .json()
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["result"] == "added")
    );
    assert_eq!(
        system(&admin.call("GET", "/api/v1/ca", None).await.json()),
        Some(json!("trusted"))
    );

    let old = status["sha256"].clone();
    let rotated = admin.call("POST", "/api/v1/ca/rotate", None).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let rotated = rotated.json();
    assert_ne!(rotated["ca"]["sha256"], old);
    assert!(rotated["trusted"].as_array().is_some_and(|t| !t.is_empty()));
    let now = admin.call("GET", "/api/v1/ca", None).await.json();
    assert_eq!(now["sha256"], rotated["ca"]["sha256"]);
    assert_eq!(system(&now), Some(json!("trusted")));
    let pem = admin.call("GET", "/api/v1/ca.pem", None).await;
    assert_eq!(pem.body, engine.engine().tls().authority().ca().root_pem());

    let untrusted = admin.call("POST", "/api/v1/ca/untrust", None).await;
    assert_eq!(untrusted.status, StatusCode::OK);
    assert_eq!(
        std::fs::read_dir(anchors.path()).expect("anchors").count(),
        0
    );
}

#[tokio::test]
async fn ca_changes_without_trust_store_access_answer_503() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let reply = admin.call("POST", "/api/v1/ca/trust", None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(is_problem(&reply));
}

#[tokio::test]
async fn a_route_id_that_is_not_an_integer_is_a_400_problem() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    for (method, path) in [
        ("GET", "/api/v1/routes/abc"),
        ("PATCH", "/api/v1/routes/1.5"),
        ("DELETE", "/api/v1/routes/9223372036854775808"),
        ("POST", "/api/v1/routes/x/enable"),
    ] {
        let reply = admin.call(method, path, Some(json!({}))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path}");
        assert!(is_problem(&reply), "{method} {path}: {:?}", reply.headers);
        assert_eq!(reply.json()["title"], "Invalid path parameter");
    }
}

#[tokio::test]
async fn bodies_are_json_objects_and_arrays_change_nothing() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let patched = admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"shutdown_grace_ms": 500})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    // serde would read `[]` as "every setting at its default" and `["p"]` as a project.
    for (method, path, body) in [
        ("PATCH", "/api/v1/settings", json!([])),
        (
            "POST",
            "/api/v1/import",
            json!({"portico": 1, "routes": [], "settings": [null, null]}),
        ),
        (
            "POST",
            "/api/v1/import",
            json!({"portico": 1, "routes": [["app.localhost", null, ["5173"]]]}),
        ),
        (
            "POST",
            "/api/v1/routes",
            json!(["app.localhost", null, ["5173"]]),
        ),
        ("POST", "/api/v1/projects/down", json!(["/some/project"])),
    ] {
        let reply = admin.call(method, path, Some(body.clone())).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path} {body}: {}",
            reply.body
        );
        assert!(is_problem(&reply));
    }
    let settings = admin.call("GET", "/api/v1/settings", None).await.json();
    assert_eq!(settings["shutdown_grace_ms"], 500);
    let routes = admin.call("GET", "/api/v1/routes", None).await.json();
    assert_eq!(routes, json!([]));
}

#[tokio::test]
async fn a_bad_setting_is_reported_as_a_setting() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let reply = admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"shutdown_grace_ms": 5})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let problem = reply.json();
    assert_eq!(problem["title"], "Invalid setting");
    assert_eq!(problem["field"], "shutdown_grace_ms");
}

#[tokio::test]
async fn requests_a_browser_marks_as_cross_site_or_same_site_are_refused() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let bearer = format!("Bearer {}", admin.token());
    for site in ["cross-site", "same-site"] {
        let reply = admin
            .raw(
                Request::builder()
                    .header("authorization", &bearer)
                    .header("sec-fetch-site", site),
                "/api/v1/status",
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{site}");
    }
    for site in ["same-origin", "none"] {
        let reply = admin
            .raw(
                Request::builder()
                    .header("authorization", &bearer)
                    .header("sec-fetch-site", site),
                "/api/v1/status",
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{site}");
    }
    let other_port = admin
        .raw(
            Request::builder()
                .method("POST")
                .header("authorization", &bearer)
                .header("origin", "http://portico.localhost:1"),
            "/api/v1/login-codes",
            None,
        )
        .await;
    assert_eq!(other_port.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_real_session_cookie_does_not_help_a_request_from_another_port() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let echo = spawn_echo("echo").await;
    let victim = engine.route("victim.localhost", "/", echo.addr).await;
    // The user's own login: a top-level navigation, as from the link Portico printed.
    let link = engine.engine().login_url().expect("admin on");
    let path = link
        .split_once("/login")
        .map(|(_, rest)| format!("/login{rest}"))
        .expect("path");
    let login = admin.raw(Request::builder(), &path, None).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let cookie = login.headers["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    let ok = admin
        .raw(
            Request::builder().header("cookie", &cookie),
            "/api/v1/status",
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "the cookie works on its own");

    let disable = format!("/api/v1/routes/{}/disable", victim.id);
    for (name, value) in [
        ("sec-fetch-site", "same-site"),
        ("origin", "http://127.0.0.1:1"),
        ("origin", "http://portico.localhost:1"),
    ] {
        let reply = admin
            .raw(
                Request::builder()
                    .method("POST")
                    .header("cookie", &cookie)
                    .header(name, value),
                &disable,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{name}: {value}");
    }
    let still = engine.engine().routes().await.expect("routes");
    assert!(still.routes[0].enabled, "the victim route was disabled");
}

/// `/api/v1/metrics` counts every request per route in the current bucket, errors (5xx from
/// an unreachable upstream) per route, and requests no route matched apart, unlabelled.
#[tokio::test]
async fn metrics_count_requests_errors_and_latency_per_route() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let echo = spawn_echo("echo").await;
    let shop = engine.route("shop.localhost", "/", echo.addr).await.id;
    let gone = engine
        .route("gone.localhost", "/", common::closed_port().await)
        .await
        .id;
    for _ in 0..3 {
        assert_eq!(
            engine.get("shop.localhost", "/").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        engine.get("gone.localhost", "/").await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        engine.get("nobody.localhost", "/").await.status,
        StatusCode::NOT_FOUND
    );

    let report = admin.call("GET", "/api/v1/metrics", None).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    let report = report.json();
    assert_eq!(report["bucket_secs"], 10);
    let routes = report["routes"].as_array().expect("routes");
    let series = |id: Option<i64>| {
        routes
            .iter()
            .find(|r| r["route_id"].as_i64() == id)
            .unwrap_or_else(|| panic!("no series for {id:?} in {routes:?}"))
    };
    let total = |r: &Value, key: &str| -> u64 {
        r[key]
            .as_array()
            .expect(key)
            .iter()
            .filter_map(Value::as_u64)
            .sum()
    };
    let shop = series(Some(shop));
    assert_eq!(shop["route"], "shop.localhost/");
    assert_eq!(shop["requests"].as_array().map(Vec::len), Some(90));
    assert_eq!(total(shop, "requests"), 3);
    assert_eq!(total(shop, "errors"), 0);
    let newest_p95 = shop["p95_ms"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(Value::as_f64);
    assert!(newest_p95.is_some_and(|ms| ms > 0.0), "{shop}");
    let gone = series(Some(gone));
    assert_eq!((total(gone, "requests"), total(gone, "errors")), (1, 1));
    let unmatched = series(None);
    assert_eq!(unmatched["route"], Value::Null);
    assert_eq!(
        (total(unmatched, "requests"), total(unmatched, "errors")),
        (1, 0)
    );

    let anonymous = common::send(
        engine.admin_addr(),
        "127.0.0.1",
        Request::get("/api/v1/metrics"),
        Bytes::new(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// `proxy_paused` answers every proxied request with a 503 "paused" page (Portico's own CA
/// page still works), shows in the status, and resuming serves the route again; the admin API
/// keeps working throughout.
#[tokio::test]
async fn pausing_the_proxy_answers_503_until_it_is_resumed() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let echo = spawn_echo("echo").await;
    engine.route("shop.localhost", "/", echo.addr).await;
    assert_eq!(
        engine.get("shop.localhost", "/").await.status,
        StatusCode::OK
    );

    let paused = admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({ "proxy_paused": true })),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(paused.json()["proxy_paused"], true);
    let status = admin.call("GET", "/api/v1/status", None).await.json();
    assert_eq!(status["paused"], true, "{status}");

    let reply = engine.get_accept("shop.localhost", "/", "text/html").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers["x-portico-error"], "paused");
    assert!(reply.body.contains("Portico is paused"), "{}", reply.body);
    assert!(reply.body.contains("portico resume"), "{}", reply.body);
    let ca = engine.get("portico.localhost", "/ca.pem").await;
    assert_eq!(ca.status, StatusCode::OK, "the CA stays downloadable");

    let resumed = admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({ "proxy_paused": false })),
        )
        .await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.body);
    assert_eq!(
        engine.get("shop.localhost", "/").await.status,
        StatusCode::OK
    );
    let status = admin.call("GET", "/api/v1/status", None).await.json();
    assert_eq!(status["paused"], false);
    assert_eq!(status["listeners"]["fallbacks"], json!([]), "{status}");
}

/// The login link may name the UI page to land on; only the UI's own pages are honoured.
#[tokio::test]
async fn the_login_link_lands_on_the_page_it_names_and_nowhere_else() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    for (page, to) in [
        ("routes", "/#/routes"),
        ("traffic", "/#/traffic"),
        ("settings", "/#/settings"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
    ] {
        let link = engine.engine().login_url().expect("admin on");
        let path = link
            .split_once("/login")
            .map(|(_, rest)| format!("/login{rest}"))
            .expect("path");
        let page: String = url::form_urlencoded::byte_serialize(page.as_bytes()).collect();
        let login = admin
            .raw(Request::builder(), &format!("{path}&page={page}"), None)
            .await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(login.headers["location"], to, "{page}");
    }
}

/// A listener that cannot have the port it wants reports it in the status (what the UI
/// explains), with the port it really uses.
#[tokio::test]
async fn a_listener_on_its_fallback_port_is_reported_in_the_status() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let wanted = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("dir");
    let mut config = common::tls_config(dir.path());
    config.https = None;
    config.http = ListenSpec::Default {
        preferred: wanted,
        fallback: 0,
    };
    let engine = TestEngine {
        handle: Some(
            portico_core::Engine::start(config)
                .await
                .expect("engine starts"),
        ),
        dir,
    };
    let admin = Admin { engine: &engine };
    let status = admin.call("GET", "/api/v1/status", None).await.json();
    let used = engine.addr().port();
    assert_ne!(used, wanted);
    assert_eq!(
        status["listeners"]["fallbacks"],
        json!([{ "listener": "http", "wanted": wanted, "used": used, "reason": "in_use" }]),
        "{status}"
    );
}

/// The live streams (events, traffic) end when the engine stops, so a UI left open does not
/// hold the shutdown (or the desktop app's engine restart) forever.
#[tokio::test]
async fn shutdown_does_not_wait_for_open_live_streams() {
    let mut engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut streams = Vec::new();
    for path in ["/api/v1/events", "/api/v1/requests/stream"] {
        let req = Request::get(format!("{}{path}", admin.base()))
            .header("authorization", format!("Bearer {}", admin.token()))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let resp = client.request(req).await.expect("stream opens");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        streams.push(resp.into_body());
    }
    let handle = engine.handle.take().expect("running");
    tokio::time::timeout(std::time::Duration::from_secs(5), handle.shutdown())
        .await
        .expect("the engine stopped within 5 s with two live streams open");
    for body in streams {
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), body.collect()).await;
        assert!(ended.is_ok(), "a live stream did not end with the engine");
    }
}

#[tokio::test]
async fn sharing_endpoints_start_report_list_and_stop_a_share() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let echo = spawn_echo("echo").await;
    let id = engine.route("app.localhost", "/", echo.addr).await.id;
    let set = admin
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"lan_address": "127.0.0.5"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);

    let path = format!("/api/v1/routes/{id}/share");
    let bad = admin
        .call("POST", &path, Some(json!({"for_secs": 0})))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "for_secs");
    let shared = admin
        .call("POST", &path, Some(json!({"for_secs": 3600})))
        .await;
    assert_eq!(shared.status, StatusCode::OK, "{}", shared.body);
    let info = shared.json();
    assert_eq!(info["shared"], true);
    assert_eq!(info["listening"], true);
    assert!(
        info["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://127.0.0.5:")),
        "{info}"
    );
    assert!(info["qr_svg"].as_str().is_some_and(|s| s.contains("<svg")));
    assert!(info["expires_at"].as_u64().is_some());
    let listed = admin.call("GET", "/api/v1/shares", None).await;
    assert_eq!(listed.json()[0]["url"], info["url"]);
    let read = admin.call("GET", &path, None).await;
    assert_eq!(read.json()["url"], info["url"]);
    let route = admin
        .call("GET", &format!("/api/v1/routes/{id}"), None)
        .await;
    assert_eq!(route.json()["shared"], true);

    let stopped = admin.call("DELETE", &path, None).await;
    assert_eq!(stopped.status, StatusCode::OK);
    assert_eq!(stopped.json()["shared"], false);
    assert_eq!(stopped.json()["url"], Value::Null);
    let listed = admin.call("GET", "/api/v1/shares", None).await;
    assert_eq!(listed.json(), json!([]));
    let missing = admin
        .call("POST", "/api/v1/routes/999/share", Some(json!({})))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn export_with_a_format_answers_with_the_proxy_configuration_as_text() {
    let engine = TestEngine::start().await;
    let admin = Admin { engine: &engine };
    let body = json!({"host": "app.localhost", "path": "/api", "upstreams": ["5173"], "strip_prefix": true});
    assert_eq!(
        admin
            .call("POST", "/api/v1/routes", Some(body))
            .await
            .status,
        StatusCode::CREATED
    );
    let caddy = admin
        .call(
            "GET",
            "/api/v1/export?format=caddyfile&plain_http=true&http_port=8080",
            None,
        )
        .await;
    assert_eq!(caddy.status, StatusCode::OK, "{}", caddy.body);
    assert_eq!(caddy.headers["content-type"], "text/plain; charset=utf-8");
    assert!(
        caddy.body.contains("http://app.localhost {"),
        "{}",
        caddy.body
    );
    assert!(
        caddy.body.contains("reverse_proxy localhost:5173"),
        "{}",
        caddy.body
    );
    let ingress = admin
        .call("GET", "/api/v1/export?format=k8s-ingress", None)
        .await;
    assert_eq!(ingress.headers["content-type"], "application/yaml");
    assert!(ingress.body.contains("kind: Ingress"), "{}", ingress.body);
    let unknown = admin
        .call("GET", "/api/v1/export?format=apache", None)
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);
    // Port 0 is no port, with or without a format (the API fuzzer found it accepted).
    for query in ["format=nginx&https_port=0", "http_port=0"] {
        let zero = admin
            .call("GET", &format!("/api/v1/export?{query}"), None)
            .await;
        assert_eq!(
            zero.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            zero.body
        );
    }
}
