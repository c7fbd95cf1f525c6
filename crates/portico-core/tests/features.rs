//! Per-route features through a running engine, with real upstreams and clients:
//! compression, the response cache, static folders, redirects and header rules.

mod common;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use bytes::Bytes;
use common::{TestEngine, eventually, send, spawn_upstream};
use http::{Request, StatusCode};
use portico_core::config::{HeaderPair, HeaderRules, NewRoute, RoutePatch, SettingsPatch};
use portico_core::store::TrafficFilter;

/// A JSON document well above the compression threshold.
fn big_json() -> String {
    let items: Vec<String> = (0..2000)
        .map(|i| format!(r#"{{"id":{i},"name":"item {i}","tags":["a","b"]}}"#))
        .collect();
    format!("[{}]", items.join(","))
}

/// An upstream with a few fixed answers, counting the requests that reach it.
async fn content_upstream(hits: Arc<AtomicUsize>) -> common::Upstream {
    let json = big_json();
    let count = move |hits: &Arc<AtomicUsize>| {
        hits.fetch_add(1, Ordering::SeqCst);
    };
    let (h1, h2, h3, h4, h5, h6, h7, h8) = (
        hits.clone(),
        hits.clone(),
        hits.clone(),
        hits.clone(),
        hits.clone(),
        hits.clone(),
        hits.clone(),
        hits.clone(),
    );
    let json2 = json.clone();
    let json3 = json.clone();
    spawn_upstream(
        Router::new()
            .route(
                "/data.json",
                axum::routing::get(move || {
                    count(&h1);
                    let body = json.clone();
                    async move {
                        (
                            [
                                ("content-type", "application/json"),
                                ("etag", "\"v1\""),
                                ("server", "gunicorn/21"),
                                ("x-powered-by", "Django"),
                            ],
                            body,
                        )
                    }
                }),
            )
            .route(
                "/small",
                axum::routing::get(move || {
                    count(&h2);
                    async { ([("content-type", "text/plain")], "tiny") }
                }),
            )
            .route(
                "/image.png",
                axum::routing::get(move || {
                    count(&h3);
                    let body = json2.clone();
                    async move { ([("content-type", "image/png")], body) }
                }),
            )
            .route(
                "/cached",
                axum::routing::get(move |headers: HeaderMap| {
                    count(&h4);
                    let lang = headers
                        .get("accept-language")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("none")
                        .to_owned();
                    async move {
                        (
                            [
                                ("cache-control", "max-age=600"),
                                ("vary", "Accept-Language"),
                                ("content-type", "text/plain"),
                            ],
                            format!("hello {lang}"),
                        )
                    }
                }),
            )
            .route(
                "/no-store",
                axum::routing::get(move || {
                    count(&h5);
                    async { ([("cache-control", "no-store")], "fresh") }
                }),
            )
            .route(
                "/private",
                axum::routing::get(move || {
                    count(&h6);
                    async { ([("cache-control", "private, max-age=600")], "mine") }
                }),
            )
            .route(
                "/cookie",
                axum::routing::get(move || {
                    count(&h7);
                    async {
                        (
                            [
                                ("cache-control", "max-age=600"),
                                ("set-cookie", "session=abc"),
                            ],
                            "with cookie",
                        )
                    }
                }),
            )
            .route(
                "/revalidate",
                axum::routing::get(move |headers: HeaderMap| {
                    count(&h8);
                    let conditional = headers
                        .get("if-none-match")
                        .is_some_and(|v| v.as_bytes() == b"\"r1\"");
                    let body = json3.clone();
                    async move {
                        if conditional {
                            (
                                StatusCode::NOT_MODIFIED,
                                [("cache-control", "max-age=0"), ("etag", "\"r1\"")],
                                String::new(),
                            )
                                .into_response()
                        } else {
                            ([("cache-control", "max-age=0"), ("etag", "\"r1\"")], body)
                                .into_response()
                        }
                    }
                }),
            ),
    )
    .await
}

async fn get_with(
    engine: &TestEngine,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> common::Reply {
    let mut builder = Request::get(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    send(engine.addr(), host, builder, Bytes::new()).await
}

fn route(host: &str, upstream: std::net::SocketAddr) -> NewRoute {
    NewRoute {
        host: host.into(),
        upstreams: vec![format!("http://{upstream}")],
        ..Default::default()
    }
}

/// Run curl (a real client) with `--compressed` and the given encoding; the decoded body.
async fn curl_decoded(
    engine: &TestEngine,
    host: &str,
    path: &str,
    encoding: &str,
) -> (String, String) {
    let (addr, host, path, encoding) = (
        engine.addr(),
        host.to_owned(),
        path.to_owned(),
        encoding.to_owned(),
    );
    tokio::task::spawn_blocking(move || curl_blocking(addr, &host, &path, &encoding))
        .await
        .expect("curl task")
}

fn curl_blocking(
    addr: std::net::SocketAddr,
    host: &str,
    path: &str,
    encoding: &str,
) -> (String, String) {
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--compressed",
            "-H",
            &format!("Accept-Encoding: {encoding}"),
            "-H",
            &format!("Host: {host}"),
            "-D",
            "-",
            &format!("http://{addr}{path}"),
        ])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    (head.to_ascii_lowercase(), body.to_owned())
}

#[tokio::test]
async fn each_encoding_is_negotiated_and_decoded_by_a_real_client() {
    let engine = TestEngine::start().await;
    let upstream = content_upstream(Arc::new(AtomicUsize::new(0))).await;
    engine
        .add(NewRoute {
            compress: Some(true),
            ..route("zip.localhost", upstream.addr)
        })
        .await;
    let json = big_json();
    for encoding in ["gzip", "br", "zstd"] {
        let (head, body) = curl_decoded(&engine, "zip.localhost", "/data.json", encoding).await;
        assert!(
            head.contains(&format!("content-encoding: {encoding}")),
            "{head}"
        );
        assert!(head.contains("vary: accept-encoding"), "{head}");
        assert!(!head.contains("content-length"), "{head}");
        assert!(
            head.contains("etag: w/\"v1\""),
            "a strong ETag is weakened: {head}"
        );
        assert_eq!(body, json, "{encoding} decodes to the original");
    }
    // The client's preference decides, with q-values.
    let reply = get_with(
        &engine,
        "zip.localhost",
        "/data.json",
        &[("accept-encoding", "gzip;q=0.5, br;q=0.9, zstd;q=0")],
    )
    .await;
    assert_eq!(reply.headers["content-encoding"], "br");
    assert!(
        reply.raw.len() < json.len() / 3,
        "compressed: {}",
        reply.raw.len()
    );
    // Nothing acceptable: identity, still marked as varying.
    let reply = get_with(
        &engine,
        "zip.localhost",
        "/data.json",
        &[("accept-encoding", "identity")],
    )
    .await;
    assert!(reply.headers.get("content-encoding").is_none());
    assert!(
        reply.headers["vary"]
            .to_str()
            .expect("text")
            .eq_ignore_ascii_case("accept-encoding")
    );
    assert_eq!(reply.body, json);
    // Skipped: small bodies and images.
    let reply = get_with(
        &engine,
        "zip.localhost",
        "/small",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert!(reply.headers.get("content-encoding").is_none());
    assert_eq!(reply.body, "tiny");
    let reply = get_with(
        &engine,
        "zip.localhost",
        "/image.png",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert!(reply.headers.get("content-encoding").is_none());

    // The inspector records the encoding applied.
    let traffic = engine.engine().traffic().clone();
    let found = eventually(Duration::from_secs(5), || {
        let any = traffic
            .exchanges(&TrafficFilter::default(), 100)
            .unwrap_or_default()
            .iter()
            .any(|e| e.compression.as_deref() == Some("zstd"));
        async move { any }
    })
    .await;
    assert!(found, "a captured exchange says zstd");
}

#[tokio::test]
async fn compression_follows_the_route_toggle_and_the_global_default() {
    let engine = TestEngine::start().await;
    let upstream = content_upstream(Arc::new(AtomicUsize::new(0))).await;
    let plain = engine.add(route("plain.localhost", upstream.addr)).await;
    assert!(!plain.compress, "off by default");
    let gz = [("accept-encoding", "gzip")];
    let reply = get_with(&engine, "plain.localhost", "/data.json", &gz).await;
    assert!(reply.headers.get("content-encoding").is_none());
    // Switched on live: the next request is compressed.
    engine
        .engine()
        .update_route(
            plain.id,
            RoutePatch {
                compress: Some(true),
                ..Default::default()
            },
        )
        .await
        .expect("patched");
    let reply = get_with(&engine, "plain.localhost", "/data.json", &gz).await;
    assert_eq!(reply.headers["content-encoding"], "gzip");
    // The global default applies to routes created after it changes.
    engine
        .engine()
        .update_settings(SettingsPatch {
            default_compress: Some(true),
            ..Default::default()
        })
        .await
        .expect("settings");
    let later = engine.add(route("later.localhost", upstream.addr)).await;
    assert!(later.compress);
}

#[tokio::test]
async fn the_cache_serves_hits_and_refuses_what_it_must_not_store() {
    let engine = TestEngine::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let upstream = content_upstream(hits.clone()).await;
    let cached = engine
        .add(NewRoute {
            cache: Some(true),
            ..route("cache.localhost", upstream.addr)
        })
        .await;

    let first = get_with(
        &engine,
        "cache.localhost",
        "/cached",
        &[("accept-language", "en")],
    )
    .await;
    assert_eq!(first.body, "hello en");
    assert!(
        first.headers["cache-status"]
            .to_str()
            .expect("text")
            .contains("fwd=miss")
    );
    let second = get_with(
        &engine,
        "cache.localhost",
        "/cached",
        &[("accept-language", "en")],
    )
    .await;
    assert_eq!(second.body, "hello en");
    assert_eq!(second.headers["cache-status"], "Portico; hit");
    assert!(second.headers.contains_key("age"));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the second request was a hit"
    );
    // Vary keeps languages apart.
    let fr = get_with(
        &engine,
        "cache.localhost",
        "/cached",
        &[("accept-language", "fr")],
    )
    .await;
    assert_eq!(fr.body, "hello fr");
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // no-store, private, Set-Cookie and Authorization never come from the cache.
    for path in ["/no-store", "/private", "/cookie"] {
        let before = hits.load(Ordering::SeqCst);
        get_with(&engine, "cache.localhost", path, &[]).await;
        get_with(&engine, "cache.localhost", path, &[]).await;
        assert_eq!(
            hits.load(Ordering::SeqCst),
            before + 2,
            "{path} reached the upstream twice"
        );
    }
    let before = hits.load(Ordering::SeqCst);
    for _ in 0..2 {
        get_with(
            &engine,
            "cache.localhost",
            "/data.json",
            &[("authorization", "Bearer x")],
        )
        .await;
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before + 2,
        "authorized requests are not shared"
    );

    // The inspector records what the cache did. The second request came on a new
    // connection (perhaps another lane) right after the client had the first answer's last
    // byte, which the cache held back until its copy was stored: a plain hit, never one
    // answered as `collapsed` onto a copy still being stored.
    let traffic = engine.engine().traffic().clone();
    let recorded = eventually(Duration::from_secs(5), || {
        let any = traffic
            .exchanges(&TrafficFilter::default(), 100)
            .unwrap_or_default()
            .iter()
            .any(|e| e.cache.as_deref() == Some("hit"));
        async move { any }
    })
    .await;
    assert!(recorded, "a captured exchange says hit");
    // Every answer reached the client whole, so none is recorded as cut off, even when the
    // client closed the connection while the copy was still being stored.
    let cut: Vec<_> = traffic
        .exchanges(&TrafficFilter::default(), 100)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| e.error.map(|error| (e.path, error)))
        .collect();
    assert!(cut.is_empty(), "recorded as failed: {cut:?}");

    // Turning the route's cache off stops hits at once.
    engine
        .engine()
        .update_route(
            cached.id,
            RoutePatch {
                cache: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("patched");
    let before = hits.load(Ordering::SeqCst);
    let reply = get_with(
        &engine,
        "cache.localhost",
        "/cached",
        &[("accept-language", "en")],
    )
    .await;
    assert!(reply.headers.get("cache-status").is_none());
    assert_eq!(hits.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn stale_entries_are_revalidated_with_a_conditional_request() {
    let engine = TestEngine::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let upstream = content_upstream(hits.clone()).await;
    engine
        .add(NewRoute {
            cache: Some(true),
            ..route("cache.localhost", upstream.addr)
        })
        .await;
    let json = big_json();
    let first = get_with(&engine, "cache.localhost", "/revalidate", &[]).await;
    assert_eq!(first.body, json);
    // max-age=0: stale at once, so the next request asks the upstream with If-None-Match;
    // the upstream answers 304 and the client gets the stored body.
    let second = get_with(&engine, "cache.localhost", "/revalidate", &[]).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body, json);
    let status = second.headers["cache-status"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        status.contains("fwd=stale") && status.contains("fwd-status=304"),
        "{status}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // A client with the ETag gets a 304 itself.
    let third = get_with(
        &engine,
        "cache.localhost",
        "/revalidate",
        &[("if-none-match", "\"r1\"")],
    )
    .await;
    assert_eq!(third.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn concurrent_misses_reach_the_upstream_once() {
    let engine = TestEngine::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let upstream = spawn_upstream(Router::new().route(
        "/slow",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                ([("cache-control", "max-age=600")], "slow but shared")
            }
        }),
    ))
    .await;
    engine
        .add(NewRoute {
            cache: Some(true),
            ..route("cache.localhost", upstream.addr)
        })
        .await;
    let addr = engine.addr();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(async move {
                send(addr, "cache.localhost", Request::get("/slow"), Bytes::new()).await
            })
        })
        .collect();
    for task in tasks {
        let reply = task.await.expect("task");
        assert_eq!(reply.body, "slow but shared");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_cache_is_bounded_and_can_be_purged_through_the_admin_api() {
    let engine = TestEngine::start().await;
    // Each under the per-entry cap (an eighth of the bound).
    let body = "x".repeat(100 * 1024);
    let served = body.clone();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let upstream = spawn_upstream(Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let body = served.clone();
        async move { ([("cache-control", "max-age=600")], body) }
    }))
    .await;
    engine
        .engine()
        .update_settings(SettingsPatch {
            cache_max_mb: Some(1),
            ..Default::default()
        })
        .await
        .expect("settings");
    engine
        .add(NewRoute {
            cache: Some(true),
            ..route("cache.localhost", upstream.addr)
        })
        .await;
    // 20 × 100 KiB into a 1 MiB cache: most are evicted.
    for i in 0..20 {
        get_with(&engine, "cache.localhost", &format!("/f{i}"), &[]).await;
    }
    let token = engine.engine().admin_token().expect("admin").to_owned();
    let admin = engine.admin_addr();
    let stats = admin_call(admin, &token, "GET", "/api/v1/cache").await;
    let stored = stats["stored_bytes"].as_u64().expect("stored_bytes");
    assert!(stored <= 1 << 20, "bounded: {stored}");
    // The last one is still there; purge it by URL and it is fetched again.
    let before = hits.load(Ordering::SeqCst);
    get_with(&engine, "cache.localhost", "/f19", &[]).await;
    assert_eq!(hits.load(Ordering::SeqCst), before, "still cached");
    let url = format!("http://cache.localhost:{}/f19", engine.port());
    let purged = admin_call(
        admin,
        &token,
        "DELETE",
        &format!(
            "/api/v1/cache?url={}",
            url.replace(':', "%3A").replace('/', "%2F")
        ),
    )
    .await;
    assert_eq!(purged["purged"], 1);
    get_with(&engine, "cache.localhost", "/f19", &[]).await;
    assert_eq!(hits.load(Ordering::SeqCst), before + 1);
    let all = admin_call(admin, &token, "DELETE", "/api/v1/cache").await;
    assert!(all["purged"].as_u64().expect("count") >= 1);
    let _ = body;
}

async fn admin_call(
    admin: std::net::SocketAddr,
    token: &str,
    method: &str,
    path: &str,
) -> serde_json::Value {
    let reply = send(
        admin,
        "127.0.0.1",
        Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}")),
        Bytes::new(),
    )
    .await;
    assert!(
        reply.status.is_success(),
        "{method} {path}: {} {}",
        reply.status,
        reply.body
    );
    reply.json()
}

/// A folder with a site, and a secret file next to it (outside).
fn site() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::write(root.path().join("secret.txt"), "TOP-SECRET").expect("secret");
    let site = root.path().join("site");
    std::fs::create_dir_all(site.join("assets")).expect("dirs");
    std::fs::write(site.join("index.html"), "<h1>home</h1>").expect("index");
    std::fs::write(site.join("assets/app.js"), "console.log('app')").expect("js");
    std::fs::write(site.join("data.txt"), "0123456789").expect("data");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.txt"), site.join("leak.txt"))
        .expect("symlink");
    root
}

/// Send raw bytes (paths no client library would send) and read the whole answer.
fn raw_request(addr: std::net::SocketAddr, host: &str, target: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

#[tokio::test]
async fn static_folders_serve_files_ranges_and_spa_fallback_and_never_escape() {
    let engine = TestEngine::start().await;
    let root = site();
    let dir = root.path().join("site");
    engine
        .add(NewRoute {
            host: "site.localhost".into(),
            static_dir: Some(dir.to_string_lossy().into_owned()),
            spa: true,
            ..Default::default()
        })
        .await;
    let home = engine.get("site.localhost", "/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.body, "<h1>home</h1>");
    let js = engine.get("site.localhost", "/assets/app.js").await;
    assert!(
        js.headers["content-type"]
            .to_str()
            .expect("type")
            .contains("javascript")
    );
    let range = get_with(
        &engine,
        "site.localhost",
        "/data.txt",
        &[("range", "bytes=2-5")],
    )
    .await;
    assert_eq!(range.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.body, "2345");
    // SPA: a page path gets index.html; a missing asset stays a 404.
    let page = engine.get("site.localhost", "/users/42").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body, "<h1>home</h1>");
    let missing = engine.get("site.localhost", "/assets/missing.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let addr = engine.addr();
    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%2e%2e%5csecret.txt",
        "//etc/passwd",
        "/leak.txt",
    ] {
        let answer =
            tokio::task::spawn_blocking(move || raw_request(addr, "site.localhost", target))
                .await
                .expect("request");
        assert!(
            answer.starts_with("HTTP/1.1 4"),
            "{target} is refused with a 4xx: {answer}"
        );
        assert!(!answer.contains("TOP-SECRET"), "{target} leaked: {answer}");
        assert!(!answer.contains("root:"), "{target} leaked: {answer}");
    }

    // A missing folder is Portico's error page naming it.
    engine
        .add(NewRoute {
            host: "gone.localhost".into(),
            static_dir: Some(root.path().join("nope").to_string_lossy().into_owned()),
            ..Default::default()
        })
        .await;
    let gone = engine.get("gone.localhost", "/").await;
    assert_eq!(gone.status, StatusCode::BAD_GATEWAY);
    assert_eq!(gone.headers["x-portico-error"], "static-dir");
}

#[tokio::test]
async fn redirect_routes_answer_each_code_keeping_the_path_when_asked() {
    let engine = TestEngine::start().await;
    for (i, code) in [301u16, 302, 307, 308].into_iter().enumerate() {
        engine
            .add(NewRoute {
                host: format!("r{i}.localhost"),
                redirect: Some("https://new.localhost/base".into()),
                redirect_status: Some(code),
                ..Default::default()
            })
            .await;
        let reply = engine.get(&format!("r{i}.localhost"), "/a/b?x=1").await;
        assert_eq!(reply.status.as_u16(), code);
        assert_eq!(
            reply.headers["location"],
            "https://new.localhost/base/a/b?x=1"
        );
    }
    engine
        .add(NewRoute {
            host: "exact.localhost".into(),
            redirect: Some("https://new.localhost/".into()),
            redirect_keep_path: Some(false),
            ..Default::default()
        })
        .await;
    let reply = engine.get("exact.localhost", "/a/b?x=1").await;
    assert_eq!(
        reply.status,
        StatusCode::TEMPORARY_REDIRECT,
        "307 by default"
    );
    assert_eq!(reply.headers["location"], "https://new.localhost/");
}

#[tokio::test]
async fn header_rules_change_requests_and_responses_and_hide_the_backend() {
    let engine = TestEngine::start().await;
    let echo = common::spawn_echo("echo").await;
    let pair = |name: &str, value: &str| HeaderPair {
        name: name.into(),
        value: value.into(),
    };
    engine
        .add(NewRoute {
            request_headers: HeaderRules {
                set: vec![pair("X-Env", "dev")],
                add: vec![pair("X-Extra", "two")],
                remove: vec!["X-Remove-Me".into()],
            },
            response_headers: HeaderRules {
                set: vec![pair("X-Frame-Options", "DENY")],
                add: vec![],
                remove: vec!["X-Upstream".into()],
            },
            ..route("rules.localhost", echo.addr)
        })
        .await;
    let reply = get_with(
        &engine,
        "rules.localhost",
        "/",
        &[("x-env", "prod"), ("x-remove-me", "1"), ("x-extra", "one")],
    )
    .await;
    let seen = &reply.json()["headers"];
    assert_eq!(seen["x-env"], "dev");
    assert!(seen.get("x-remove-me").is_none());
    assert_eq!(reply.headers["x-frame-options"], "DENY");

    let hits = Arc::new(AtomicUsize::new(0));
    let upstream = content_upstream(hits).await;
    let hidden = engine
        .add(NewRoute {
            hide_backend: true,
            ..route("hidden.localhost", upstream.addr)
        })
        .await;
    let reply = engine.get("hidden.localhost", "/data.json").await;
    assert!(reply.headers.get("server").is_none());
    assert!(reply.headers.get("x-powered-by").is_none());
    engine
        .engine()
        .update_route(
            hidden.id,
            RoutePatch {
                hide_backend: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("patched");
    let reply = engine.get("hidden.localhost", "/data.json").await;
    assert_eq!(reply.headers["x-powered-by"], "Django");
}
