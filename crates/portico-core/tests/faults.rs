//! Upstreams that misbehave, written byte by byte on raw TCP: each fault gets the right
//! answer (Portico's 502/504 page, or a cut-off body once the head was sent), the inspector
//! records who caused it and why, and the engine is left as it was: a normal request through
//! it succeeds, and its connections, requests, tasks and file descriptors come back to what
//! they were before.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    RawUpstream, TestEngine, Upstream, closed_port, eventually, fetch, open_fds, open_get,
    read_body, read_head, rss_kib, spawn_echo, spawn_raw, until_closed,
};
use http::StatusCode;
use http_body_util::BodyExt;
use portico_core::config::NewRoute;
use portico_core::proxy::LoadStatus;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The route timeout of the faulty routes: short, so hanging upstreams end the test quickly.
const TIMEOUT_MS: u64 = 300;

/// An engine with a healthy route (`ok.localhost`) and a faulty one (`bad.localhost`), and
/// what it had open once both were set up.
struct Scene {
    engine: TestEngine,
    _ok: Upstream,
    fds: usize,
    tasks: usize,
}

async fn scene(faulty: std::net::SocketAddr) -> Scene {
    let engine = TestEngine::start().await;
    let ok = spawn_echo("ok").await;
    engine.route("ok.localhost", "/", ok.addr).await;
    engine
        .add(NewRoute {
            host: "bad.localhost".into(),
            upstreams: vec![format!("http://{faulty}")],
            timeout_ms: Some(TIMEOUT_MS),
            ..Default::default()
        })
        .await;
    // The pooled connection to the healthy upstream and the capture's files exist from here.
    assert_eq!(
        engine.get("ok.localhost", "/warm-up").await.status,
        StatusCode::OK
    );
    engine.exchange("/warm-up").await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            engine.engine().load() == idle()
        })
        .await,
        "the warm-up request is still open: {:?}",
        engine.engine().load()
    );
    Scene {
        fds: open_fds(),
        tasks: tasks(),
        engine,
        _ok: ok,
    }
}

fn idle() -> LoadStatus {
    LoadStatus {
        connections: 0,
        parked: 0,
        requests: 0,
        tunnels: 0,
    }
}

/// Tasks alive on this test's runtime (the engine's included).
fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

impl Scene {
    /// A normal request through the same engine succeeds, then the faulty upstream's
    /// connections are all closed and the engine has no more open than before the fault.
    async fn assert_recovered(&self, faulty: Option<&RawUpstream>) {
        let reply = self.engine.get("ok.localhost", "/after").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(
            reply.headers.contains_key("content-length"),
            "{:?}",
            reply.headers
        );
        let engine = self.engine.engine();
        let settled = eventually(Duration::from_secs(5), || async {
            engine.load() == idle()
                && faulty.is_none_or(|f| f.open() == 0)
                && open_fds() <= self.fds
                && tasks() <= self.tasks
        })
        .await;
        assert!(
            settled,
            "left open: {:?}, faulty upstream connections {}, fds {} (before {}), tasks {} (before {})",
            engine.load(),
            faulty.map_or(0, RawUpstream::open),
            open_fds(),
            self.fds,
            tasks(),
            self.tasks,
        );
    }

    /// The capture of the request for `path`: its error, blamed on the upstream, with `code`.
    async fn assert_captured(&self, path: &str, code: &str) -> Value {
        let e = self.engine.exchange(path).await;
        assert_eq!(e["error_side"], "upstream", "{e}");
        assert_eq!(e["error_code"], code, "{e}");
        assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        e
    }
}

/// Portico's own error page: the status, its code, HTML for a browser.
fn assert_error_page(reply: &common::Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.headers["x-portico-error"], code);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html")),
        "{:?}",
        reply.headers
    );
    assert!(reply.body.contains("bad.localhost"), "{}", reply.body);
}

#[tokio::test]
async fn an_upstream_that_refuses_gets_a_502_and_the_inspector_says_refused() {
    let scene = scene(closed_port().await).await;
    let page = scene
        .engine
        .get_accept("bad.localhost", "/refused", HTML)
        .await;
    assert_error_page(&page, StatusCode::BAD_GATEWAY, "upstream-refused");
    let e = scene.assert_captured("/refused", "upstream-refused").await;
    assert!(e["error"].as_str().is_some_and(|m| m.contains("refused")));
    scene.assert_recovered(None).await;
}

#[tokio::test]
async fn an_upstream_that_resets_in_the_middle_of_its_headers_gets_a_502() {
    let faulty = spawn_raw(|mut s: TcpStream| async move {
        if read_head(&mut s).await.is_none() {
            return;
        }
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/pl")
            .await;
        let _ = s.flush().await;
        let _ = s.set_zero_linger();
    })
    .await;
    let scene = scene(faulty.addr).await;
    let page = scene
        .engine
        .get_accept("bad.localhost", "/reset-head", HTML)
        .await;
    assert_error_page(&page, StatusCode::BAD_GATEWAY, "upstream-failed");
    scene
        .assert_captured("/reset-head", "upstream-failed")
        .await;
    scene.assert_recovered(Some(&faulty)).await;
}

#[tokio::test]
async fn an_upstream_that_resets_in_the_middle_of_its_body_cuts_the_clients_body() {
    let head_sent = Arc::new(tokio::sync::Notify::new());
    let reset = head_sent.clone();
    let faulty = spawn_raw(move |mut s: TcpStream| {
        let reset = reset.clone();
        async move {
            if read_head(&mut s).await.is_none() {
                return;
            }
            let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
            answer.extend_from_slice(&[b'x'; 1000]);
            let _ = s.write_all(&answer).await;
            // Reset only once the client has the head, so it is the body that is cut.
            reset.notified().await;
            let _ = s.set_zero_linger();
        }
    })
    .await;
    let scene = scene(faulty.addr).await;
    let resp = open_get(scene.engine.addr(), "bad.localhost", "/reset-body")
        .await
        .expect("the head arrives");
    assert_eq!(resp.status(), StatusCode::OK);
    head_sent.notify_one();
    let (why, got) = read_body(resp.into_body())
        .await
        .expect_err("the body is cut off");
    assert!(got < 100_000, "{got} bytes arrived: {why}");
    let e = scene
        .assert_captured("/reset-body", "upstream-body-failed")
        .await;
    assert_eq!(e["status"], 200);
    scene.assert_recovered(Some(&faulty)).await;
}

#[tokio::test]
async fn an_upstream_that_hangs_before_its_headers_gets_a_504_after_the_routes_timeout() {
    let faulty = spawn_raw(|mut s: TcpStream| async move {
        if read_head(&mut s).await.is_some() {
            until_closed(&mut s).await;
        }
    })
    .await;
    let scene = scene(faulty.addr).await;
    let started = Instant::now();
    let page = scene
        .engine
        .get_accept("bad.localhost", "/hang-head", HTML)
        .await;
    let took = started.elapsed();
    assert_error_page(&page, StatusCode::GATEWAY_TIMEOUT, "upstream-timeout");
    assert!(
        took >= Duration::from_millis(TIMEOUT_MS) && took < Duration::from_secs(5),
        "{took:?}"
    );
    scene
        .assert_captured("/hang-head", "upstream-timeout")
        .await;
    scene.assert_recovered(Some(&faulty)).await;
}

#[tokio::test]
async fn an_upstream_that_hangs_in_the_middle_of_its_body_is_cut_after_the_routes_timeout() {
    let faulty = spawn_raw(|mut s: TcpStream| async move {
        if read_head(&mut s).await.is_none() {
            return;
        }
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nfirst bytes")
            .await;
        until_closed(&mut s).await;
    })
    .await;
    let scene = scene(faulty.addr).await;
    let started = Instant::now();
    let fetched = fetch(scene.engine.addr(), "bad.localhost", "/hang-body")
        .await
        .expect("the head arrives");
    let took = started.elapsed();
    assert_eq!(fetched.status, StatusCode::OK);
    let (why, got) = fetched.body.expect_err("the body is cut off");
    assert_eq!(got, "first bytes".len(), "{why}");
    assert!(
        took >= Duration::from_millis(TIMEOUT_MS) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let e = scene
        .assert_captured("/hang-body", "upstream-body-timeout")
        .await;
    assert_eq!(e["response_body"]["size"], "first bytes".len());
    scene.assert_recovered(Some(&faulty)).await;
}

#[tokio::test]
async fn an_upstream_that_speaks_another_protocol_gets_a_502() {
    let faulty = spawn_raw(|mut s: TcpStream| async move {
        if read_head(&mut s).await.is_none() {
            return;
        }
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
        until_closed(&mut s).await;
    })
    .await;
    let scene = scene(faulty.addr).await;
    let page = scene
        .engine
        .get_accept("bad.localhost", "/not-http", HTML)
        .await;
    assert_error_page(&page, StatusCode::BAD_GATEWAY, "upstream-failed");
    let e = scene.assert_captured("/not-http", "upstream-failed").await;
    assert!(
        e["error"].as_str().is_some_and(|m| m.contains("invalid")),
        "the cause is named: {e}"
    );
    scene.assert_recovered(Some(&faulty)).await;
}

#[tokio::test]
async fn an_endless_body_streams_in_bounded_memory_until_the_client_leaves() {
    const CHUNK: usize = 64 * 1024;
    const READ: usize = 64 << 20;
    let faulty = spawn_raw(|mut s: TcpStream| async move {
        if read_head(&mut s).await.is_none() {
            return;
        }
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
        if s.write_all(head).await.is_err() {
            return;
        }
        let mut chunk = format!("{CHUNK:x}\r\n").into_bytes();
        chunk.extend_from_slice(&[b'z'; CHUNK]);
        chunk.extend_from_slice(b"\r\n");
        // Endless as far as the client can tell (bounded at 1 GiB for the test's sake).
        for _ in 0..(1 << 30) / CHUNK {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let scene = scene(faulty.addr).await;
    let rss_before = rss_kib();
    let resp = open_get(scene.engine.addr(), "bad.localhost", "/endless")
        .await
        .expect("the head arrives");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut got = 0;
    let mut rss_peak = rss_before;
    while got < READ {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("data keeps coming")
            .expect("not the end")
            .expect("a frame");
        got += frame.data_ref().map_or(0, bytes::Bytes::len);
        rss_peak = rss_peak.max(rss_kib());
    }
    drop(body);
    let growth_kib = rss_peak.saturating_sub(rss_before);
    println!(
        "endless body: read {} MiB, RSS grew {growth_kib} KiB",
        got >> 20
    );
    assert!(
        growth_kib < 32 * 1024,
        "RSS grew {growth_kib} KiB while {got} bytes streamed"
    );
    let e = scene.engine.exchange("/endless").await;
    assert_eq!(e["error_side"], "client", "the client left: {e}");
    let size = e["response_body"]["size"].as_u64().expect("size");
    assert!(size >= READ as u64, "{size}");
    scene.assert_recovered(Some(&faulty)).await;
}

#[tokio::test]
async fn an_upstream_that_sends_more_than_its_content_length_spoils_no_later_request() {
    let faulty = spawn_raw(|mut s: TcpStream| async move {
        while read_head(&mut s).await.is_some() {
            let lie =
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 Smuggled\r\n\r\n";
            if s.write_all(lie).await.is_err() {
                return;
            }
        }
    })
    .await;
    let scene = scene(faulty.addr).await;
    for i in 0..3 {
        let reply = scene
            .engine
            .get("bad.localhost", &format!("/long-{i}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "request {i}");
        assert_eq!(reply.body, "hello", "request {i}");
    }
    // The rest of each answer is never taken for the answer to a later request.
    scene.assert_recovered(Some(&faulty)).await;
}

#[tokio::test]
async fn requests_share_an_upstream_connection_and_one_the_upstream_closed_while_idle_is_replaced()
{
    // Answers every request on a connection until told to stop keeping it: then it closes
    // the connection after its next answer, without saying so (a dev server's keep-alive
    // timeout).
    let keep = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let keeping = keep.clone();
    let upstream = spawn_raw(move |mut s: TcpStream| {
        let keeping = keeping.clone();
        async move {
            while read_head(&mut s).await.is_some() {
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                if s.write_all(answer).await.is_err()
                    || !keeping.load(std::sync::atomic::Ordering::SeqCst)
                {
                    return;
                }
            }
        }
    })
    .await;
    let scene = scene(upstream.addr).await;
    // One client connection, so every request is served on the same lane (each lane has
    // its own upstream connections).
    let addr = scene.engine.addr();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let sender = tokio::sync::Mutex::new(sender);
    let get = |i: usize| {
        let sender = &sender;
        async move {
            let mut sender = sender.lock().await;
            sender.ready().await.expect("client connection ready");
            let req = http::Request::get(format!("/kept-{i}"))
                .header("host", format!("bad.localhost:{}", addr.port()))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .expect("request");
            let resp = sender.send_request(req).await.expect("answered");
            let status = resp.status();
            let body = read_body(resp.into_body()).await.expect("the whole body");
            assert_eq!(
                (status, &body[..]),
                (StatusCode::OK, &b"ok"[..]),
                "request {i}"
            );
        }
    };
    for i in 0..5 {
        get(i).await;
    }
    assert_eq!(
        upstream.accepted(),
        1,
        "five requests in a row used one connection"
    );
    keep.store(false, std::sync::atomic::Ordering::SeqCst);
    for i in 5..8 {
        get(i).await;
        // The upstream has closed the connection by the time the next request comes.
        assert!(
            eventually(Duration::from_secs(5), || async { upstream.open() == 0 }).await,
            "the upstream closed its connection"
        );
    }
    // The first of the three still went on the kept connection; the next two each found
    // theirs closed and opened a new one instead of failing.
    assert_eq!(
        upstream.accepted(),
        3,
        "each closed connection was replaced by one"
    );
    // The client connection closes with its sender.
    drop(sender);
    scene.assert_recovered(Some(&upstream)).await;
}

#[tokio::test]
async fn an_upstream_that_sends_less_than_its_content_length_cuts_the_clients_body() {
    let faulty = spawn_raw(|mut s: TcpStream| async move {
        if read_head(&mut s).await.is_none() {
            return;
        }
        let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
        answer.extend_from_slice(&[b'y'; 50]);
        let _ = s.write_all(&answer).await;
        let _ = s.shutdown().await;
    })
    .await;
    let scene = scene(faulty.addr).await;
    let fetched = fetch(scene.engine.addr(), "bad.localhost", "/short")
        .await
        .expect("the head arrives");
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.headers["content-length"], "100");
    let (why, got) = fetched.body.expect_err("the body is cut off");
    assert_eq!(got, 50, "{why}");
    let e = scene
        .assert_captured("/short", "upstream-body-failed")
        .await;
    assert_eq!(e["response_body"]["size"], 50);
    scene.assert_recovered(Some(&faulty)).await;
}

#[tokio::test]
async fn an_upstream_that_answers_with_a_mebibyte_of_headers_gets_a_502() {
    let faulty = spawn_raw(|mut s: TcpStream| async move {
        if read_head(&mut s).await.is_none() {
            return;
        }
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        let filler = "a".repeat(1000);
        for i in 0..1049 {
            head.extend_from_slice(format!("x-filler-{i}: {filler}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let _ = s.write_all(&head).await;
        until_closed(&mut s).await;
    })
    .await;
    let scene = scene(faulty.addr).await;
    let page = scene
        .engine
        .get_accept("bad.localhost", "/big-head", HTML)
        .await;
    assert_error_page(&page, StatusCode::BAD_GATEWAY, "upstream-failed");
    let e = scene.assert_captured("/big-head", "upstream-failed").await;
    assert!(
        e["error"].as_str().is_some_and(|m| m.contains("too large")),
        "the cause is named: {e}"
    );
    scene.assert_recovered(Some(&faulty)).await;
}
