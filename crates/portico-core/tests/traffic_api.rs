//! The traffic endpoints of the admin API against real traffic: filters, free text, paging,
//! decoded detail, the live stream, replay, curl and clearing.

mod common;

use std::io::Write;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use common::{TestEngine, closed_port, eventually, send, spawn_echo, spawn_upstream};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

struct Api<'a>(&'a TestEngine);

impl Api<'_> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, String) {
        let engine = self.0.engine();
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", engine.admin_addrs()[0]))
            .header(
                "authorization",
                format!("Bearer {}", engine.admin_token().expect("token")),
            );
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let resp = client
            .request(req.body(Full::new(body)).expect("request"))
            .await
            .expect("answer");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn json(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = self.call(method, path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).expect("JSON")
    }

    /// Wait until the list holds at least `n` exchanges.
    async fn wait_for(&self, n: usize) {
        let ok = eventually(Duration::from_secs(5), || async {
            self.json("GET", "/api/v1/requests?limit=500", None).await["items"]
                .as_array()
                .map_or(0, Vec::len)
                >= n
        })
        .await;
        assert!(ok, "fewer than {n} exchanges captured");
    }

    async fn ids(&self, query: &str) -> Vec<String> {
        let page = self
            .json("GET", &format!("/api/v1/requests?{query}"), None)
            .await;
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s["method"].as_str().unwrap_or("?"),
                    s["path"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn every_filter_and_free_text_narrow_the_list_and_pages_follow_the_cursor() {
    let engine = TestEngine::start().await;
    let api = Api(&engine);
    let echo = spawn_echo("echo").await;
    let slow = spawn_upstream(Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        "slow"
    }))
    .await;
    let a = engine.route("a.localhost", "/", echo.addr).await;
    engine.route("b.localhost", "/", echo.addr).await;
    engine.route("slow.localhost", "/", slow.addr).await;
    engine
        .route("down.localhost", "/", closed_port().await)
        .await;
    send(
        engine.addr(),
        "a.localhost",
        Request::get("/items/1"),
        Bytes::new(),
    )
    .await;
    send(
        engine.addr(),
        "a.localhost",
        Request::post("/items").header("x-trace", "needle-7f3a"),
        Bytes::from_static(b"{}"),
    )
    .await;
    send(
        engine.addr(),
        "b.localhost",
        Request::get("/other"),
        Bytes::new(),
    )
    .await;
    engine.get("slow.localhost", "/wait").await;
    engine.get("down.localhost", "/fail").await;
    engine.get("nothing.localhost", "/missing").await;
    api.wait_for(6).await;

    assert_eq!(
        api.ids("host=a.localhost").await,
        ["POST /items", "GET /items/1"]
    );
    assert_eq!(api.ids(&format!("route_id={}", a.id)).await.len(), 2);
    assert_eq!(api.ids("method=post").await, ["POST /items"]);
    assert_eq!(api.ids("status_class=5xx").await, ["GET /fail"]);
    assert_eq!(api.ids("status=404").await, ["GET /missing"]);
    assert_eq!(api.ids("path=item").await.len(), 2);
    assert_eq!(api.ids("min_duration_ms=250").await, ["GET /wait"]);
    assert_eq!(api.ids("errors=true").await, ["GET /missing", "GET /fail"]);
    assert_eq!(api.ids("q=needle-7f3a").await, ["POST /items"]);
    assert_eq!(api.ids("q=other.localhost").await.len(), 0);
    assert_eq!(api.ids("q=b.localhost/other").await, ["GET /other"]);
    let future = 4_102_444_800_000i64; // 2100-01-01
    assert_eq!(api.ids(&format!("since={future}")).await.len(), 0);
    assert_eq!(api.ids(&format!("until={future}")).await.len(), 6);

    let first = api.json("GET", "/api/v1/requests?limit=4", None).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(4));
    let cursor = first["next_before"].as_i64().expect("cursor");
    let second = api
        .json(
            "GET",
            &format!("/api/v1/requests?limit=4&before={cursor}"),
            None,
        )
        .await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(2));
    assert!(second["next_before"].is_null());

    let (status, _) = api.call("GET", "/api/v1/requests?colour=red", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn detail_shows_bodies_decoded_from_their_content_encoding() {
    let engine = TestEngine::start().await;
    let api = Api(&engine);
    let json_text = r#"{"message":"hello, compressed world","n":42}"#;
    let gz = {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(json_text.as_bytes()).expect("gzip");
        enc.finish().expect("gzip")
    };
    let upstream = spawn_upstream(Router::new().route(
        "/data",
        get(move || {
            let gz = gz.clone();
            async move {
                (
                    [
                        ("content-type", "application/json; charset=utf-8"),
                        ("content-encoding", "gzip"),
                    ],
                    gz,
                )
            }
        }),
    ))
    .await;
    engine.route("app.localhost", "/", upstream.addr).await;
    engine.get("app.localhost", "/data").await;
    api.wait_for(1).await;
    let list = api.json("GET", "/api/v1/requests", None).await;
    let id = list["items"][0]["id"].as_i64().expect("id");
    let detail = api
        .json("GET", &format!("/api/v1/requests/{id}"), None)
        .await;
    let body = &detail["response_body"];
    assert_eq!(body["content_encoding"], "gzip");
    assert_eq!(body["decoded"], true);
    assert_eq!(body["text"], json_text);
    assert_eq!(detail["exchange"]["status"], 200);
    let (status, _) = api.call("GET", "/api/v1/requests/999999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `GET /api/v1/requests/stream?QUERY` with the admin token: the open event stream's body.
async fn open_stream(engine: &TestEngine, query: &str) -> hyper::body::Incoming {
    let e = engine.engine();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::get(format!(
        "http://{}/api/v1/requests/stream?{query}",
        e.admin_addrs()[0]
    ))
    .header(
        "authorization",
        format!("Bearer {}", e.admin_token().expect("token")),
    )
    .body(Full::new(Bytes::new()))
    .expect("request");
    let resp = client.request(req).await.expect("stream");
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    resp.into_body()
}

/// The stream's text until it contains `needle` (5 s at most).
async fn read_until(body: &mut hyper::body::Incoming, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains(needle) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("an event in time")
            .expect("open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    seen
}

#[tokio::test]
async fn the_live_stream_sends_matching_exchanges_only() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("a.localhost", "/", echo.addr).await;
    engine.route("b.localhost", "/", echo.addr).await;
    let mut body = open_stream(&engine, "host=b.localhost").await;
    engine.get("a.localhost", "/not-me").await;
    engine.get("b.localhost", "/me").await;
    let seen = read_until(&mut body, "/me").await;
    assert!(seen.contains("event: exchange"), "{seen}");
    assert!(!seen.contains("/not-me"), "{seen}");
}

/// Free text applies to the stream as to the list: a word in a header or the URL.
#[tokio::test]
async fn the_live_stream_applies_free_text() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("a.localhost", "/", echo.addr).await;
    let mut body = open_stream(&engine, "q=flavour%20vanil").await;
    send(
        engine.addr(),
        "a.localhost",
        Request::get("/plain"),
        Bytes::new(),
    )
    .await;
    send(
        engine.addr(),
        "a.localhost",
        Request::get("/flavoured").header("x-flavour", "vanilla"),
        Bytes::new(),
    )
    .await;
    send(
        engine.addr(),
        "a.localhost",
        Request::get("/vanilla-only"),
        Bytes::new(),
    )
    .await;
    let mut seen = read_until(&mut body, "/flavoured").await;
    // The other two were recorded before or in the same batch; give a straggler a moment.
    if let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_millis(300), body.frame()).await
        && let Ok(data) = frame.into_data()
    {
        seen.push_str(&String::from_utf8_lossy(&data));
    }
    assert!(!seen.contains("/plain"), "{seen}");
    assert!(!seen.contains("/vanilla-only"), "{seen}");
}

#[tokio::test]
async fn replay_sends_the_request_again_as_captured_or_edited_and_links_them() {
    let engine = TestEngine::start().await;
    let api = Api(&engine);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let upstream = spawn_upstream(Router::new().fallback(post(
        move |req: axum::extract::Request| {
            let log = log.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let line = format!(
                    "{} {} {} {}",
                    parts.method,
                    parts.uri,
                    parts
                        .headers
                        .get("x-flavour")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-"),
                    String::from_utf8_lossy(&body)
                );
                log.lock().expect("log").push(line.clone());
                line
            }
        },
    )))
    .await;
    engine.route("app.localhost", "/", upstream.addr).await;
    send(
        engine.addr(),
        "app.localhost",
        Request::post("/orders?x=1").header("x-flavour", "vanilla"),
        Bytes::from_static(b"first"),
    )
    .await;
    api.wait_for(1).await;
    let original = api.json("GET", "/api/v1/requests", None).await["items"][0]["id"]
        .as_i64()
        .expect("id");

    let plain = api
        .json("POST", &format!("/api/v1/requests/{original}/replay"), None)
        .await;
    assert_eq!(plain["status"], 200);
    assert_eq!(plain["replay_of"], original);
    let edited = api
        .json(
            "POST",
            &format!("/api/v1/requests/{original}/replay"),
            Some(json!({"path": "/orders?x=2", "body": "second",
                         "headers": [["host", "app.localhost"], ["x-flavour", "mint"]]})),
        )
        .await;
    assert_eq!(edited["status"], 200);
    let lines = seen.lock().expect("log").clone();
    assert_eq!(
        lines,
        [
            "POST /orders?x=1 vanilla first",
            "POST /orders?x=1 vanilla first",
            "POST /orders?x=2 mint second"
        ]
    );
    let new_id = edited["id"].as_i64().expect("new id");
    // The replay answers once its exchange is stored: no wait needed to read it.
    let replayed = api
        .json("GET", &format!("/api/v1/requests/{new_id}"), None)
        .await;
    assert_eq!(replayed["exchange"]["replay_of"], original);
    assert_eq!(replayed["exchange"]["query"], "x=2");

    let (status, text) = api
        .call(
            "POST",
            &format!("/api/v1/requests/{original}/replay"),
            Some(json!({"method": "NOT A METHOD"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
}

#[tokio::test]
async fn curl_text_is_served_and_clear_empties_the_log() {
    let engine = TestEngine::start().await;
    let api = Api(&engine);
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    send(
        engine.addr(),
        "app.localhost",
        Request::post("/x").header("content-type", "application/json"),
        Bytes::from_static(br#"{"a":1}"#),
    )
    .await;
    api.wait_for(1).await;
    let id = api.json("GET", "/api/v1/requests", None).await["items"][0]["id"]
        .as_i64()
        .expect("id");
    let (status, curl) = api
        .call("GET", &format!("/api/v1/requests/{id}/curl"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(curl.starts_with("curl"), "{curl}");
    assert!(curl.ends_with("\n") && !curl.ends_with("\n\n"), "{curl:?}");
    assert!(curl.contains("--data-binary"), "{curl}");
    assert!(curl.contains("app.localhost"), "{curl}");
    let cleared = api.json("DELETE", "/api/v1/requests", None).await;
    assert!(cleared["deleted"].as_u64().is_some_and(|n| n >= 1));
    let empty = api.json("GET", "/api/v1/requests", None).await;
    assert_eq!(empty["items"], json!([]));
}

#[tokio::test]
async fn har_export_of_real_traffic_imports_back_as_viewable_exchanges() {
    let engine = TestEngine::start().await;
    let api = Api(&engine);
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    send(
        engine.addr(),
        "app.localhost",
        Request::get("/one?x=1"),
        Bytes::new(),
    )
    .await;
    send(
        engine.addr(),
        "app.localhost",
        Request::post("/two").header("content-type", "application/json"),
        Bytes::from_static(br#"{"b":2}"#),
    )
    .await;
    api.wait_for(2).await;
    let (status, har) = api
        .call("GET", "/api/v1/requests/har?host=app.localhost", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let har: Value = serde_json::from_str(&har).expect("HAR is JSON");
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(har["log"]["entries"].as_array().map(Vec::len), Some(2));

    let imported = api.json("POST", "/api/v1/requests/har", Some(har)).await;
    assert_eq!(imported["imported"], 2);
    let id = imported["ids"][1].as_i64().expect("id");
    let detail = api
        .json("GET", &format!("/api/v1/requests/{id}"), None)
        .await;
    assert_eq!(detail["exchange"]["imported"], true);
    let mut paths = Vec::new();
    for id in imported["ids"].as_array().expect("ids") {
        let one = api
            .json("GET", &format!("/api/v1/requests/{id}"), None)
            .await;
        paths.push(one["exchange"]["path"].as_str().unwrap_or("?").to_owned());
    }
    paths.sort();
    assert_eq!(paths, ["/one", "/two"]);
    let (status, text) = api
        .call("POST", "/api/v1/requests/har", Some(json!({"not": "har"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
}
