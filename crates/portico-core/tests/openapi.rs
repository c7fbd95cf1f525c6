//! The admin API's OpenAPI document: the committed copy is current, the engine serves exactly
//! it without credentials, and every operation it lists is one the router has.

mod common;

use bytes::Bytes;
use common::{Reply, TestEngine};
use http::{Request, StatusCode};
use portico_core::admin::openapi_json;
use serde_json::Value;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

async fn admin_get(engine: &TestEngine, path: &str, token: Option<&str>) -> Reply {
    let mut req = Request::get(path);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    common::send(engine.admin_addr(), "127.0.0.1", req, Bytes::new()).await
}

#[test]
fn the_committed_openapi_document_is_current() {
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == openapi_json(),
        "docs/openapi.json is not what the code generates; run `make openapi` to regenerate \
         it (and ui/src/api/schema.d.ts) and commit the result"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_both_credentials() {
    let doc: Value = serde_json::from_str(&openapi_json()).expect("JSON");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], "portico_session");
    assert_eq!(
        doc["paths"]["/api/v1/openapi.json"]["get"]["security"],
        serde_json::json!([{}])
    );
}

#[tokio::test]
async fn the_engine_serves_the_document_without_credentials() {
    let engine = TestEngine::start().await;
    let reply = admin_get(&engine, "/api/v1/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.body, openapi_json());

    // Still behind the Host check, like every admin path.
    let foreign = common::send(
        engine.admin_addr(),
        "evil.example",
        Request::get("/api/v1/openapi.json"),
        Bytes::new(),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let engine = TestEngine::start().await;
    let token = engine.engine().admin_token().expect("admin on").to_owned();
    let route = engine
        .route("app.localhost", "/", "127.0.0.1:9".parse().expect("addr"))
        .await;
    let doc: Value = serde_json::from_str(&openapi_json()).expect("JSON");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15, "{} paths", paths.len());
    for (path, item) in paths {
        let uri = path.replace("{id}", &route.id.to_string());
        for (method, operation) in item.as_object().expect("path item") {
            // Server-Sent Events never end; their own tests read them event by event.
            let streams = operation["responses"]
                .as_object()
                .expect("responses")
                .values()
                .any(|r| r["content"].get("text/event-stream").is_some());
            if streams {
                continue;
            }
            let reply = common::send(
                engine.admin_addr(),
                "127.0.0.1",
                Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&uri)
                    .header("authorization", format!("Bearer {token}")),
                Bytes::new(),
            )
            .await;
            let unrouted = reply.status == StatusCode::METHOD_NOT_ALLOWED
                || (reply.status == StatusCode::NOT_FOUND
                    && reply.body.contains("no such admin API path"));
            assert!(
                !unrouted,
                "{method} {path}: {} {}",
                reply.status, reply.body
            );
            assert!(
                reply.status.as_u16() < 500 || reply.status == StatusCode::SERVICE_UNAVAILABLE,
                "{method} {path}: {} {}",
                reply.status,
                reply.body
            );
        }
    }
}
