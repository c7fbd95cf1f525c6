//! The admin API over real HTTP: auth, Host/Origin checks, problem+json errors, route CRUD
//! that applies to the proxy at once.

mod common;

use bytes::Bytes;
use common::{Reply, TestEngine, spawn_echo};
use http::{Request, StatusCode};
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
        (ok, StatusCode::CONFLICT, None),
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
    });
    let err = portico_core::Engine::start(config)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("--admin-allow-remote"), "{err}");
    assert!(!dir.path().join(portico_core::admin::TOKEN_FILE).exists());
}
