//! The inspector on real traffic through a running engine: what is captured, limits, errors,
//! WebSockets, overload and retention.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{TestEngine, closed_port, eventually, send, spawn_echo, spawn_upstream};
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use portico_core::inspect::event::Exchange;
use portico_core::inspect::headers::Headers;
use portico_core::store::TrafficFilter;

/// Wait until at least `n` exchanges are stored; return them newest first.
async fn captured(engine: &TestEngine, n: usize) -> Vec<Exchange> {
    let traffic = engine.engine().traffic().clone();
    let list = || {
        traffic
            .exchanges(&TrafficFilter::default(), 1000)
            .unwrap_or_default()
    };
    let ok = eventually(Duration::from_secs(5), || {
        let count = list().len();
        async move { count >= n }
    })
    .await;
    let found = list();
    assert!(ok, "only {} exchange(s) captured, wanted {n}", found.len());
    found
}

fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.get(name)
}

#[tokio::test]
async fn every_field_of_an_exchange_matches_what_was_sent_and_answered() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    let route = engine.route("app.localhost", "/", echo.addr).await;
    let body = br#"{"name":"lamp","price":12}"#;
    let reply = common::send_from(
        Some("127.0.0.2".parse().expect("ip")),
        engine.addr(),
        "app.localhost",
        Request::post("/items?sort=new&x=1")
            .header("content-type", "application/json")
            .header("x-trace", "abc123"),
        Bytes::from_static(body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let e = captured(&engine, 1).await.remove(0);
    assert_eq!(e.method, "POST");
    assert_eq!(e.scheme, "http");
    assert_eq!(e.host, "app.localhost");
    assert_eq!(e.path, "/items");
    assert_eq!(e.query.as_deref(), Some("sort=new&x=1"));
    assert_eq!(e.version, "HTTP/1.1");
    assert!(e.client.starts_with("127.0.0.2:"), "{}", e.client);
    assert_eq!(e.route_id, Some(route.id));
    assert_eq!(e.route.as_deref(), Some("app.localhost/"));
    assert_eq!(e.upstream, Some(format!("http://{}", echo.addr)));
    assert_eq!(e.status, Some(200));
    assert_eq!(header(&e.request_headers, "x-trace"), Some("abc123"));
    assert_eq!(
        header(&e.request_headers, "content-type"),
        Some("application/json")
    );
    assert_eq!(e.request_body.bytes, body);
    assert_eq!(e.request_body.size, body.len() as u64);
    assert_eq!(e.response_body.bytes, reply.body.as_bytes());
    assert_eq!(e.response_body.size, reply.body.len() as u64);
    assert_eq!(
        header(&e.response_headers, "content-type"),
        Some("application/json")
    );
    assert!(e.bytes_in > body.len() as u64 && e.bytes_out > reply.body.len() as u64);
    let ttfb = e.ttfb_ms.expect("ttfb");
    assert!(
        ttfb > 0.0 && ttfb <= e.duration_ms,
        "{ttfb} vs {}",
        e.duration_ms
    );
    assert!(e.error.is_none() && e.websocket.is_none() && !e.imported);
}

#[tokio::test]
async fn bodies_over_the_limit_are_truncated_with_their_true_size_kept() {
    let engine = TestEngine::start().await;
    engine.engine().inspector().set_body_limit(16);
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let big = Bytes::from(vec![b'z'; 10_000]);
    send(engine.addr(), "app.localhost", Request::put("/blob"), big).await;
    let e = captured(&engine, 1).await.remove(0);
    assert_eq!(e.request_body.bytes, vec![b'z'; 16]);
    assert_eq!(e.request_body.size, 10_000);
    assert!(e.request_body.truncated());
    assert_eq!(e.response_body.bytes.len(), 16);
    assert!(e.response_body.size > 10_000);
}

#[tokio::test]
async fn errors_portico_answered_are_captured_with_who_caused_them() {
    let engine = TestEngine::start().await;
    engine
        .route("down.localhost", "/", closed_port().await)
        .await;
    engine.get("nothing.localhost", "/x").await;
    engine.get("down.localhost", "/").await;
    let mut all = captured(&engine, 2).await;
    all.sort_by_key(|e| e.id);
    let (missing, down) = (&all[0], &all[1]);
    assert_eq!(missing.status, Some(404));
    assert_eq!(missing.error_side.as_deref(), Some("client"));
    assert_eq!(missing.error_code.as_deref(), Some("no-route"));
    assert_eq!(down.status, Some(502));
    assert_eq!(down.error_side.as_deref(), Some("upstream"));
    assert_eq!(down.error_code.as_deref(), Some("upstream-refused"));
    assert!(down.error.as_deref().is_some_and(|e| e.contains("refused")));
    assert!(
        !down.response_body.bytes.is_empty(),
        "the error page itself is captured"
    );
}

#[tokio::test]
async fn a_route_with_capture_off_records_nothing_and_pause_stops_everything() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("loud.localhost", "/", echo.addr).await;
    engine
        .add(portico_core::config::NewRoute {
            host: "quiet.localhost".into(),
            upstreams: vec![format!("http://{}", echo.addr)],
            capture: Some(false),
            ..Default::default()
        })
        .await;
    assert_eq!(
        engine.get("quiet.localhost", "/").await.status,
        StatusCode::OK
    );
    engine.get("loud.localhost", "/").await;
    let all = captured(&engine, 1).await;
    assert!(all.iter().all(|e| e.host == "loud.localhost"), "{all:?}");
    engine.engine().inspector().set_paused(true);
    assert_eq!(
        engine.get("loud.localhost", "/paused").await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = engine
        .engine()
        .traffic()
        .exchanges(&TrafficFilter::default(), 100)
        .expect("list");
    assert!(
        after.iter().all(|e| e.path != "/paused"),
        "captured while paused"
    );
}

#[tokio::test]
async fn a_websocket_is_captured_with_frames_and_bytes_each_way() {
    use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
    let engine = TestEngine::start().await;
    let upstream = spawn_upstream(axum::Router::new().route(
        "/ws",
        axum::routing::get(|ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(WsMessage::Text(t))) = socket.recv().await {
                    let _ = socket
                        .send(WsMessage::Text(format!("re: {}", t.as_str()).into()))
                        .await;
                }
            })
        }),
    ))
    .await;
    engine.route("app.localhost", "/", upstream.addr).await;
    let stream = tokio::net::TcpStream::connect(engine.addr())
        .await
        .expect("connect");
    let url = format!("ws://app.localhost:{}/ws", engine.port());
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("upgrade");
    for i in 0..3 {
        ws.send(tokio_tungstenite::tungstenite::Message::text(format!(
            "m{i}"
        )))
        .await
        .expect("send");
        let _ = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("reply");
    }
    ws.close(None).await.expect("close");
    // Finish the closing handshake: read until the server's close frame ends the stream.
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    drop(ws);
    let traffic = engine.engine().traffic().clone();
    let closed = eventually(Duration::from_secs(5), || {
        let traffic = traffic.clone();
        async move {
            traffic
                .exchanges(&TrafficFilter::default(), 10)
                .ok()
                .and_then(|all| all.into_iter().find_map(|e| e.websocket))
                .is_some_and(|w| w.closed)
        }
    })
    .await;
    assert!(closed, "the WebSocket's counts were not recorded");
    let e = captured(&engine, 1).await.remove(0);
    assert_eq!(e.status, Some(101));
    let ws = e.websocket.expect("stats");
    // In: 3 masked text frames of 2 bytes (2 + 4 + 2 = 8 bytes each) and a close frame
    // (2 + 4 bytes). Out: 3 unmasked replies "re: mN" (2 + 6 bytes); the test server exits
    // without echoing the close.
    assert_eq!((ws.frames_in, ws.frames_out), (4, 3), "{ws:?}");
    assert_eq!((ws.bytes_in, ws.bytes_out), (3 * 8 + 6, 3 * 8), "{ws:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_recorder_cannot_keep_up_capture_drops_and_counts_but_requests_pass() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = common::tls_config(dir.path());
    config.https = None;
    config.capture_queue = 1;
    let handle = portico_core::Engine::start(config).await.expect("start");
    let engine = TestEngine {
        handle: Some(handle),
        dir,
    };
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    // Another connection holds traffic.db's write lock: the recorder stalls on it.
    let blocker = rusqlite::Connection::open(engine.dir.path().join("traffic.db")).expect("open");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    for i in 0..20 {
        let reply = engine.get("app.localhost", &format!("/n{i}")).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "request {i} failed under capture overload"
        );
    }
    let dropped = engine.engine().inspector().dropped();
    assert!(dropped >= 15, "only {dropped} dropped");
    // The engine's status says so too.
    let admin = engine.engine().admin_addrs()[0];
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let req = Request::get(format!("http://{admin}/api/v1/status"))
        .header(
            "authorization",
            format!("Bearer {}", engine.engine().admin_token().expect("token")),
        )
        .body(http_body_util::Full::new(Bytes::new()))
        .expect("request");
    let status = client.request(req).await.expect("status");
    let body = http_body_util::BodyExt::collect(status.into_body())
        .await
        .expect("body")
        .to_bytes();
    let status: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(status["capture"]["dropped"], dropped);
    blocker.execute_batch("ROLLBACK").expect("unlock");
    drop(blocker);
    let kept = captured(&engine, 20 - dropped as usize).await.len() as u64;
    assert_eq!(kept + dropped, 20, "{kept} kept + {dropped} dropped");
}

#[tokio::test]
async fn retention_keeps_the_newest_exchanges() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    // Lower the allowance through the admin API, as the UI does.
    let admin_token = engine.engine().admin_token().expect("token").to_owned();
    let admin = engine.engine().admin_addrs()[0];
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let req = Request::patch(format!("http://{admin}/api/v1/settings"))
        .header("authorization", format!("Bearer {admin_token}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from_static(
            br#"{"capture_retention_count": 100}"#,
        )))
        .expect("request");
    assert!(
        client
            .request(req)
            .await
            .expect("patch")
            .status()
            .is_success()
    );
    for i in 0..130 {
        engine.get("app.localhost", &format!("/r{i}")).await;
    }
    let traffic = engine.engine().traffic().clone();
    let trimmed = eventually(Duration::from_secs(5), || {
        let traffic = traffic.clone();
        async move {
            let all = traffic
                .exchanges(&TrafficFilter::default(), 1000)
                .unwrap_or_default();
            all.len() <= 110 && all.first().is_some_and(|e| e.path == "/r129")
        }
    })
    .await;
    assert!(trimmed, "retention did not trim to about 100");
}

#[tokio::test]
async fn an_http2_exchange_keeps_its_authority_so_urls_have_the_port() {
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
    .expect("h2");
    tokio::spawn(conn);
    let req = Request::get(format!("http://app.localhost:{}/h2", engine.port()))
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
    let e = captured(&engine, 1).await.remove(0);
    assert_eq!(e.version, "HTTP/2.0");
    assert_eq!(
        header(&e.request_headers, ":authority"),
        Some(format!("app.localhost:{}", engine.port()).as_str())
    );
    let curl = portico_core::inspect::curl::curl_command(&e, None);
    assert!(
        curl.contains(&format!("app.localhost:{}/h2", engine.port())),
        "{curl}"
    );
}

/// The same large response again is captured by comparing it with the preview stored for the
/// same request, not by copying it: every stored preview must still be exactly what the client
/// received, when the bytes repeat, when they change part-way, and when the upstream cuts
/// the response short.
#[tokio::test]
async fn repeated_large_responses_are_stored_exactly_when_they_repeat_change_or_break_off() {
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncWriteExt;

    const SIZE: usize = 100 << 10;
    let first: Vec<u8> = (0..SIZE).map(|i| b'a' + (i * 7 % 26) as u8).collect();
    let mut changed = first.clone();
    changed[60_000] = b'#';
    // What the upstream sends next: a body, and where it stops (it always announces `SIZE`).
    let serving = Arc::new(Mutex::new((first.clone(), SIZE)));
    let script_serving = serving.clone();
    let upstream = common::spawn_raw(move |mut stream| {
        let serving = script_serving.clone();
        async move {
            if common::read_head(&mut stream).await.is_none() {
                return;
            }
            let (body, cut) = serving.lock().expect("serving").clone();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/javascript\r\ncontent-length: {SIZE}\r\n\
                 connection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body[..cut]).await;
            let _ = stream.shutdown().await;
        }
    })
    .await;
    let engine = TestEngine::start().await;
    engine.route("app.localhost", "/", upstream.addr).await;
    let inspector = engine.engine().inspector().clone();
    let get = || async {
        common::fetch(engine.addr(), "app.localhost", "/bundle.js?v=1")
            .await
            .expect("a response")
            .body
    };

    // The first answer is stored; the ones after it are compared with it. Until the
    // recorder has stored one, they are copied as before: at most 40 tries, 50 ms apart.
    let mut sent = 0;
    while inspector.repeats() == 0 && sent < 40 {
        assert_eq!(get().await.expect("whole body"), first);
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        inspector.repeats() > 0,
        "no response was taken for a repeat"
    );

    // Different bytes past the middle, then a response cut short.
    serving.lock().expect("serving").0 = changed.clone();
    assert_eq!(get().await.expect("whole body"), changed);
    *serving.lock().expect("serving") = (first.clone(), 50_000);
    let (_, arrived) = get().await.expect_err("cut short");
    assert_eq!(arrived, 50_000);

    let stored = captured(&engine, sent + 2).await;
    assert_eq!(stored.len(), sent + 2);
    let cut = &stored[0];
    assert_eq!(cut.response_body.bytes, first[..50_000]);
    assert_eq!(cut.response_body.size, 50_000);
    assert!(cut.error.is_some());
    assert_eq!(stored[1].response_body.bytes, changed);
    assert_eq!(stored[1].response_body.size, SIZE as u64);
    for e in &stored[2..] {
        assert_eq!(e.response_body.bytes, first, "exchange {}", e.id);
        assert_eq!(e.response_body.size, SIZE as u64);
    }
}
