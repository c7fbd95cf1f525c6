//! Clients that attack the proxy: slow or silent connections, oversized heads, request
//! smuggling, absurd URIs, bytes that are not text, HTTP/2 resets and stream floods, TLS
//! garbage and thousands of idle connections. Each is refused or cut off within a bound,
//! the upstream never sees more than one well-framed request, and other clients are still
//! served.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use common::{
    TestEngine, Upstream, client_config, eventually, open_fds, rss_kib, spawn_echo, spawn_upstream,
    tls_connect,
};
use http::{Request, StatusCode};
use portico_core::config::SettingsPatch;
use portico_core::proxy::LoadStatus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The header read timeout the slow-client tests run with (the smallest allowed).
const HEADER_TIMEOUT: Duration = Duration::from_millis(1000);

fn quick_timeout() -> SettingsPatch {
    SettingsPatch {
        header_read_timeout_ms: Some(HEADER_TIMEOUT.as_millis() as u64),
        ..Default::default()
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

/// Every connection and request the engine had open is gone.
async fn assert_all_closed(engine: &TestEngine) {
    let closed = eventually(Duration::from_secs(10), || async {
        engine.engine().load() == idle()
    })
    .await;
    assert!(closed, "still open: {:?}", engine.engine().load());
}

/// `app.localhost` to `upstream`, served over plain HTTP too when the engine has HTTPS.
async fn plain_route(engine: &TestEngine, upstream: SocketAddr) {
    engine.route_plain_too("app.localhost", upstream).await;
}

/// Another client is served, and quickly.
async fn assert_served(engine: &TestEngine) -> Duration {
    let started = Instant::now();
    let reply = engine.get("app.localhost", "/still-served").await;
    let took = started.elapsed();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // Generous: the whole suite shares two cores.
    assert!(took < Duration::from_secs(5), "{took:?}");
    took
}

/// How long until the peer closes `stream` (read returns end of stream or an error), at most
/// `limit`; `None` when it is still open then.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// An upstream that records the path of every request it receives.
async fn spawn_recorder() -> (Upstream, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let upstream = spawn_upstream(Router::new().fallback(move |req: axum::extract::Request| {
        let log = log.clone();
        async move {
            let path = req.uri().path().to_owned();
            let body = http_body_util::BodyExt::collect(req.into_body())
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            log.lock().expect("log").push(path.clone());
            format!("{path} {}", body.len())
        }
    }))
    .await;
    (upstream, seen)
}

/// Send `raw` on a new connection and read until the engine closes it (at most 5 s).
async fn raw_exchange(addr: SocketAddr, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn slow_and_silent_clients_are_closed_after_the_header_read_timeout() {
    let engine = TestEngine::start_tls_with(quick_timeout()).await;
    let echo = spawn_echo("echo").await;
    plain_route(&engine, echo.addr).await;
    let limit = HEADER_TIMEOUT * 5;

    let opened = Instant::now();
    // Connects and sends nothing at all.
    let mut silent = TcpStream::connect(engine.addr()).await.expect("connect");
    // Starts an HTTP/2 preface and stops.
    let mut half_preface = TcpStream::connect(engine.addr()).await.expect("connect");
    half_preface
        .write_all(b"PRI * HTTP/2.0\r\n")
        .await
        .expect("write");
    // Connects to HTTPS and never starts the handshake.
    let mut silent_tls = TcpStream::connect(engine.https_addr())
        .await
        .expect("connect");
    // Sends a request head one byte every 200 ms, forever.
    let mut dribble = TcpStream::connect(engine.addr()).await.expect("connect");
    let dribbling = tokio::spawn(async move {
        let started = Instant::now();
        for byte in b"GET / HTTP/1.1\r\nHost: app.localhost\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if dribble.write_all(&[*byte]).await.is_err() {
                return Some(started.elapsed());
            }
            if closed_within(&mut dribble, Duration::from_millis(200))
                .await
                .is_some()
            {
                return Some(started.elapsed());
            }
            if started.elapsed() > Duration::from_secs(10) {
                return None;
            }
        }
        None
    });
    let all_in = eventually(Duration::from_secs(5), || async {
        engine.engine().load().connections == 4
    })
    .await;
    assert!(all_in, "{:?}", engine.engine().load());
    assert_served(&engine).await;

    for (name, stream) in [
        ("silent", &mut silent),
        ("half HTTP/2 preface", &mut half_preface),
        ("silent TLS", &mut silent_tls),
    ] {
        closed_within(stream, limit)
            .await
            .unwrap_or_else(|| panic!("{name}: still open after {limit:?}"));
        // All three were opened together, before the dribbler.
        let took = opened.elapsed();
        println!("{name}: closed after {took:?}");
        assert!(
            took >= HEADER_TIMEOUT / 2,
            "{name}: closed too early, {took:?}"
        );
    }
    let took = dribbling
        .await
        .expect("dribbler")
        .expect("the dribbling client is cut off");
    println!("dribbling head: closed after {took:?}");
    assert!(took < limit, "{took:?}");
    assert_all_closed(&engine).await;
    assert_served(&engine).await;
}

#[tokio::test]
async fn an_idle_http2_connection_gets_a_goaway_after_the_header_read_timeout() {
    let engine = TestEngine::start_with(quick_timeout()).await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let tcp = TcpStream::connect(engine.addr()).await.expect("connect");
    let (mut client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let started = Instant::now();
    let driving = tokio::spawn(conn);
    // One request, then nothing: the connection is idle from its end.
    let req = Request::get(format!("http://app.localhost:{}/once", engine.port()))
        .body(())
        .expect("request");
    let (resp, _) = client.send_request(req, true).expect("send");
    assert_eq!(resp.await.expect("response").status(), StatusCode::OK);
    let ended = tokio::time::timeout(HEADER_TIMEOUT * 5, driving)
        .await
        .expect("the engine ends the idle connection")
        .expect("task");
    let took = started.elapsed();
    println!("idle HTTP/2 connection: closed after {took:?} ({ended:?})");
    assert!(took >= HEADER_TIMEOUT, "{took:?}");
    assert_all_closed(&engine).await;
}

#[tokio::test]
async fn heads_over_the_limit_get_431_on_http1_and_http2() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;

    // HTTP/1: 100 KiB of headers gets Portico's own 431 page; 1 MiB, more than hyper
    // buffers, gets hyper's bare 431; so do 200 small headers (hyper takes 100).
    for (size, portico) in [(100 << 10, true), (1 << 20, false)] {
        let raw = format!(
            "GET /big-{size} HTTP/1.1\r\nHost: app.localhost\r\nX-Big: {}\r\n\r\n",
            "a".repeat(size)
        );
        let answer = raw_exchange(engine.addr(), raw.as_bytes()).await;
        assert_eq!(
            status_of(&answer),
            431,
            "{}",
            &answer[..answer.len().min(300)]
        );
        assert_eq!(answer.contains("headers-too-large"), portico, "{answer}");
    }
    let e = engine.exchange("/big-").await;
    assert_eq!(e["error_code"], "headers-too-large", "{e}");
    assert_eq!(e["error_side"], "client", "{e}");
    let mut many = String::from("GET / HTTP/1.1\r\nHost: app.localhost\r\n");
    for i in 0..200 {
        many.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    many.push_str("\r\n");
    let answer = raw_exchange(engine.addr(), many.as_bytes()).await;
    assert_eq!(status_of(&answer), 431, "{answer}");

    // HTTP/2: a header list over 64 KiB; one of 32 KiB still passes.
    let tcp = TcpStream::connect(engine.addr()).await.expect("connect");
    let (mut client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(conn);
    for (size, status) in [
        (32 << 10, StatusCode::OK),
        (80 << 10, StatusCode::from_u16(431).expect("431")),
    ] {
        let req = Request::get(format!("http://app.localhost:{}/h2", engine.port()))
            .header("x-big", "b".repeat(size))
            .body(())
            .expect("request");
        client = client.ready().await.expect("ready");
        let (resp, _) = client.send_request(req, true).expect("send");
        let resp = resp.await.expect("a response");
        assert_eq!(resp.status(), status, "{size} bytes of headers");
    }
    drop(client);
    assert_served(&engine).await;
    assert_all_closed(&engine).await;
}

#[tokio::test]
async fn smuggling_vectors_are_refused_or_reframed_and_the_upstream_sees_one_request() {
    let engine = TestEngine::start().await;
    let (upstream, seen) = spawn_recorder().await;
    engine.route("app.localhost", "/", upstream.addr).await;
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: app.localhost\r\n\r\n";
    let head = "POST /first HTTP/1.1\r\nHost: app.localhost\r\n";
    // (name, framing headers and body, expected status)
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "Content-Length and Transfer-Encoding",
            format!("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"),
            200,
        ),
        (
            "Transfer-Encoding and Content-Length",
            format!("Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n{smuggled}"),
            200,
        ),
        (
            "conflicting Content-Lengths",
            format!("Content-Length: 0\r\nContent-Length: 46\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "a Content-Length list",
            format!("Content-Length: 0, 0\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "an obs-fold header",
            format!("X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "an obs-folded Transfer-Encoding",
            format!("Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "chunked, then identity",
            format!("Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "identity, then chunked",
            format!("Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "two Transfer-Encoding lines",
            format!(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
            400,
        ),
        (
            "xchunked",
            format!("Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "a space before the colon",
            format!("Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n{smuggled}"),
            400,
        ),
        (
            "a vertical tab in the value",
            format!("Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n{smuggled}"),
            400,
        ),
    ];
    for (name, rest, want) in &cases {
        let answer = raw_exchange(engine.addr(), format!("{head}{rest}").as_bytes()).await;
        assert_eq!(status_of(&answer), *want, "{name}: {answer}");
        assert_eq!(
            answer.matches("HTTP/1.1 ").count(),
            1,
            "{name}: one answer, then the connection is closed: {answer}"
        );
    }
    // HTTP/1.0 may not carry a Transfer-Encoding at all.
    let answer = raw_exchange(
        engine.addr(),
        format!("POST /first HTTP/1.0\r\nHost: app.localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}").as_bytes(),
    )
    .await;
    assert_eq!(status_of(&answer), 400, "{answer}");

    // Upper-case CHUNKED is chunked (codings are case-insensitive, RFC 9112 7): the framing
    // is unambiguous, so the request after it is a pipelined request of its own, answered
    // second, never part of the first one's body.
    let answer = raw_exchange(
        engine.addr(),
        format!("{head}Transfer-Encoding: CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /second HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(answer.matches("HTTP/1.1 200 ").count(), 2, "{answer}");
    assert!(
        answer.contains("/first 3") && answer.contains("/second 0"),
        "{answer}"
    );

    let mut seen = seen.lock().expect("log").clone();
    assert_eq!(seen.pop().as_deref(), Some("/second"), "{seen:?}");
    assert_eq!(seen.pop().as_deref(), Some("/first"), "{seen:?}");
    assert!(
        seen.iter().all(|p| p == "/first"),
        "the upstream saw a smuggled request: {seen:?}"
    );
    let accepted = cases.iter().filter(|c| c.2 == 200).count();
    assert_eq!(
        seen.len(),
        accepted,
        "one request for each accepted case: {seen:?}"
    );
    assert_served(&engine).await;
    assert_all_closed(&engine).await;
}

#[tokio::test]
async fn absurd_uris_are_refused_cleanly() {
    let engine = TestEngine::start().await;
    let (upstream, seen) = spawn_recorder().await;
    engine.route("app.localhost", "/", upstream.addr).await;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "a 100 KiB path",
            format!(
                "GET /{} HTTP/1.1\r\nHost: app.localhost\r\n\r\n",
                "a".repeat(100 << 10)
            )
            .into_bytes(),
            414,
        ),
        (
            "a 60 KiB path with 10 KiB of headers",
            format!(
                "GET /{} HTTP/1.1\r\nHost: app.localhost\r\nX-Pad: {}\r\n\r\n",
                "a".repeat(60 << 10),
                "p".repeat(10 << 10)
            )
            .into_bytes(),
            431,
        ),
        (
            "a 1 MiB path",
            format!(
                "GET /{} HTTP/1.1\r\nHost: app.localhost\r\n\r\n",
                "a".repeat(1 << 20)
            )
            .into_bytes(),
            431,
        ),
        (
            "a space in the path",
            b"GET /a b HTTP/1.1\r\nHost: app.localhost\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a control byte",
            b"GET /a\x01b HTTP/1.1\r\nHost: app.localhost\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a broken absolute URI",
            b"GET http://[::1/ HTTP/1.1\r\nHost: app.localhost\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a port out of range",
            b"GET / HTTP/1.1\r\nHost: app.localhost:99999\r\n\r\n".to_vec(),
            400,
        ),
        (
            "user info in Host",
            b"GET / HTTP/1.1\r\nHost: user@app.localhost\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a Host that is not text",
            b"GET / HTTP/1.1\r\nHost: app\xff.localhost\r\n\r\n".to_vec(),
            400,
        ),
    ];
    for (name, raw, want) in &cases {
        let answer = raw_exchange(engine.addr(), raw).await;
        assert_eq!(
            status_of(&answer),
            *want,
            "{name}: {}",
            &answer[..answer.len().min(300)]
        );
    }
    assert!(seen.lock().expect("log").is_empty());
    // Raw UTF-8 in a path is not what RFC 3986 allows, but browsers' neighbours send it and
    // servers take it: it goes through byte for byte, as nginx passes it.
    let answer = raw_exchange(
        engine.addr(),
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert_eq!(*seen.lock().expect("log"), ["/caf\u{e9}"]);
    // A long but reasonable URL still goes through.
    let long = format!("/{}", "b".repeat(8 << 10));
    assert_eq!(
        engine.get("app.localhost", &long).await.status,
        StatusCode::OK
    );
    assert_served(&engine).await;
    assert_all_closed(&engine).await;
}

#[tokio::test]
async fn header_values_that_are_not_utf8_are_proxied_and_captured_without_panicking() {
    let engine = TestEngine::start().await;
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    let upstream = common::spawn_raw(move |mut s: TcpStream| {
        let keep = keep.clone();
        async move {
            let Some(head) = common::read_head(&mut s).await else {
                return;
            };
            keep.lock().expect("log").push(head);
            let _ = s
                .write_all(
                    b"HTTP/1.1 200 OK\r\nX-Reply: caf\xe9\xff\r\nContent-Length: 2\r\n\r\nok",
                )
                .await;
        }
    })
    .await;
    engine.route("app.localhost", "/", upstream.addr).await;
    let answer = raw_exchange(
        engine.addr(),
        b"GET /bytes HTTP/1.1\r\nHost: app.localhost\r\nX-Bytes: caf\xe9 \xff\xfe\r\nCookie: a=\xc3\x28\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    let heads = got.lock().expect("log").clone();
    let head = heads
        .iter()
        .find(|h| h.starts_with(b"GET /bytes"))
        .expect("forwarded");
    assert!(
        head.windows(7).any(|w| w == b"caf\xe9 \xff\xfe"),
        "the bytes reach the upstream as sent: {}",
        String::from_utf8_lossy(head)
    );
    let e = engine.exchange("/bytes").await;
    let headers = e["request_headers"].as_array().expect("headers");
    assert!(
        headers
            .iter()
            .any(|h| h[0] == "x-bytes" && h[1].as_str().is_some_and(|v| v.starts_with("caf"))),
        "{e}"
    );
    let id = e["id"].as_i64().expect("id");
    for path in [
        format!("/api/v1/requests/{id}"),
        format!("/api/v1/requests/{id}/curl"),
        "/api/v1/requests/har".to_owned(),
        "/api/v1/requests?q=caf".to_owned(),
    ] {
        let reply = engine.admin_get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
    assert_served(&engine).await;
    assert_all_closed(&engine).await;
}

/// An upstream that counts the requests it receives and answers each after `delay`.
async fn spawn_counting(delay: Duration) -> (Upstream, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let active = Arc::new(AtomicUsize::new(0));
    let (c, p) = (count.clone(), peak.clone());
    let upstream = spawn_upstream(Router::new().fallback(move || {
        let (c, p, a) = (c.clone(), p.clone(), active.clone());
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            let now = a.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            a.fetch_sub(1, Ordering::SeqCst);
            "slow"
        }
    }))
    .await;
    (upstream, count, peak)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_rapid_reset_flood_is_cut_off_and_others_are_still_served() {
    const SENT_AT_MOST: usize = 10_000;
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let (slow, reached, _) = spawn_counting(Duration::from_millis(200)).await;
    engine.route("slow.localhost", "/", slow.addr).await;
    assert_served(&engine).await;
    let fds = open_fds();

    let tcp = TcpStream::connect(engine.addr()).await.expect("connect");
    let (mut client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let driving = tokio::spawn(conn);
    let started = Instant::now();
    let mut sent = 0;
    let cut = loop {
        if sent == SENT_AT_MOST || started.elapsed() > Duration::from_secs(20) {
            break None;
        }
        client = match client.ready().await {
            Ok(client) => client,
            Err(err) => break Some(err),
        };
        let req = Request::get(format!(
            "http://slow.localhost:{}/reset-{sent}",
            engine.port()
        ))
        .body(())
        .expect("request");
        match client.send_request(req, true) {
            // Dropping both halves at once resets the stream (RST_STREAM, CANCEL).
            Ok((resp, stream)) => drop((resp, stream)),
            Err(err) => break Some(err),
        }
        sent += 1;
    };
    let took = started.elapsed();
    let ended = tokio::time::timeout(Duration::from_secs(5), driving).await;
    println!(
        "rapid reset: {sent} HEADERS+RST_STREAM in {took:?}; cut: {cut:?}; connection: {ended:?}; {} reached the upstream",
        reached.load(Ordering::SeqCst)
    );
    let err = cut.expect("the engine ends the connection before the flood is over");
    assert!(
        err.is_go_away() || err.is_io() || err.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM),
        "{err:?}"
    );
    assert!(sent < SENT_AT_MOST, "{sent}");
    assert_served(&engine).await;
    assert_all_closed(&engine).await;
    // A few of slack: the pool may keep one more idle upstream connection (its two ends are
    // both in this process) than when counted; a leak per reset stream would be thousands.
    let drained = eventually(Duration::from_secs(5), || async { open_fds() <= fds + 4 }).await;
    assert!(drained, "fds {} (before {fds})", open_fds());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_stream_flood_is_bounded_per_connection_and_others_are_still_served() {
    const STREAMS: usize = 1000;
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let (slow, reached, peak) = spawn_counting(Duration::from_millis(500)).await;
    engine.route("slow.localhost", "/", slow.addr).await;

    let tcp = TcpStream::connect(engine.addr()).await.expect("connect");
    // Before the engine's SETTINGS arrive the client assumes no stream limit, so all of
    // these are sent at once: the flood a client ignoring the limit sends.
    let (mut client, conn) = h2::client::Builder::new()
        .initial_max_send_streams(STREAMS)
        .handshake::<_, Bytes>(tcp)
        .await
        .expect("h2 handshake");
    let mut answers = Vec::with_capacity(STREAMS);
    for i in 0..STREAMS {
        let req = Request::get(format!("http://slow.localhost:{}/flood-{i}", engine.port()))
            .body(())
            .expect("request");
        match client.send_request(req, true) {
            Ok((resp, _)) => answers.push(resp),
            Err(err) => panic!("stream {i} not sent: {err:?}"),
        }
    }
    tokio::spawn(conn);
    let during = assert_served(&engine).await;
    let (mut ok, mut refused, mut other) = (0, 0, 0);
    for resp in answers {
        match tokio::time::timeout(Duration::from_secs(15), resp).await {
            Ok(Ok(r)) if r.status() == StatusCode::OK => ok += 1,
            Ok(Err(e)) if e.reason() == Some(h2::Reason::REFUSED_STREAM) => refused += 1,
            _ => other += 1,
        }
    }
    let peak = peak.load(Ordering::SeqCst);
    println!(
        "stream flood: {STREAMS} streams at once; {ok} answered, {refused} refused, {other} other; at most {peak} at the upstream at once; {} reached it; another client served in {during:?}",
        reached.load(Ordering::SeqCst)
    );
    // However the client paces them (queued at the client once the engine's SETTINGS
    // arrive, or refused by the engine when they were already on the wire), no more than
    // the stream limit reach the upstream at once, and each stream gets an answer.
    assert!(peak <= 128, "{peak} requests at the upstream at once");
    assert_eq!(
        (ok + refused, other),
        (STREAMS, 0),
        "{ok} ok, {refused} refused"
    );
    drop(client);
    assert_served(&engine).await;
    assert_all_closed(&engine).await;
}

#[tokio::test]
async fn tls_garbage_is_closed_and_the_https_listener_keeps_serving() {
    let engine = TestEngine::start_tls_with(quick_timeout()).await;
    let echo = spawn_echo("echo").await;
    plain_route(&engine, echo.addr).await;

    // Random bytes instead of a ClientHello.
    let mut garbage = TcpStream::connect(engine.https_addr())
        .await
        .expect("connect");
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let _ = garbage.write_all(&noise).await;
    let took = closed_within(&mut garbage, Duration::from_secs(5))
        .await
        .expect("garbage is closed");
    println!("TLS garbage: closed after {took:?}");

    // A ClientHello record that promises 512 bytes and delivers 40, then silence.
    let mut truncated = TcpStream::connect(engine.https_addr())
        .await
        .expect("connect");
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.extend_from_slice(&[0x42; 29]);
    truncated.write_all(&hello).await.expect("write");
    let took = closed_within(&mut truncated, HEADER_TIMEOUT * 5)
        .await
        .expect("a truncated ClientHello is closed after the handshake limit");
    println!("truncated ClientHello: closed after {took:?}");
    assert!(took >= HEADER_TIMEOUT / 2, "{took:?}");

    // A real client still gets through.
    let root = engine.engine().tls().authority().ca().root_pem().to_owned();
    let stream = tls_connect(
        engine.https_addr(),
        "app.localhost",
        client_config(&root, &[b"http/1.1"]),
    )
    .await
    .expect("handshake");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("http handshake");
    tokio::spawn(conn);
    let resp = sender
        .send_request(
            Request::get("/tls")
                .header("host", "app.localhost")
                .body(http_body_util::Empty::<Bytes>::new())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    drop((resp, sender));
    assert_all_closed(&engine).await;
}

/// One request on `stream` (Portico's own 404 page, so no upstream is involved), read to
/// its end; the connection stays open.
async fn one_request(stream: &mut TcpStream) {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: nothing.localhost\r\n\r\n")
        .await
        .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>())
                })
                .and_then(Result::ok)
                .expect("a content-length");
            if body.len() >= length {
                return;
            }
        }
    }
}

/// Raise this process's open-file limit to its hard limit; the new soft limit.
fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => limit.maximum.unwrap_or(1 << 20),
        Err(_) => limit.current.unwrap_or(1024),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_idle_connections_cost_bounded_memory_and_others_are_still_served() {
    const WANTED: usize = 10_000;
    let fd_limit = raise_fd_limit();
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    assert_served(&engine).await;
    let fds = open_fds();
    // Each idle connection costs two descriptors here (the client's and the engine's end);
    // keep a margin for the engine's own files and the client that must still be served.
    let room = usize::try_from(fd_limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(fds + 512)
        / 2;
    let count = WANTED.min(room);
    assert!(
        count >= 100,
        "only room for {count} connections (fd limit {fd_limit})"
    );
    // A tenth are kept alive after one request (as browsers leave them), the rest connected
    // and silent.
    let kept_alive = count / 10;
    let rss_before = rss_kib();
    let started = Instant::now();
    let mut idle = Vec::with_capacity(count);
    for i in 0..count {
        // Spread over client addresses so no one address needs all the ports.
        let local = std::net::IpAddr::from([127, 0, 0, 2 + (i % 8) as u8]);
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(local, 0)).expect("bind");
        let mut stream = socket.connect(engine.addr()).await.expect("connect");
        if i < kept_alive {
            one_request(&mut stream).await;
        }
        idle.push(stream);
    }
    let accepted = eventually(Duration::from_secs(30), || async {
        engine.engine().load().connections >= count as u64
    })
    .await;
    assert!(accepted, "{:?} of {count}", engine.engine().load());
    let opened_in = started.elapsed();
    let served_in = assert_served(&engine).await;
    let growth_kib = rss_kib().saturating_sub(rss_before);
    let per_conn = growth_kib as f64 / count as f64;
    println!(
        "idle connections: {count} held ({kept_alive} kept alive after a request, the rest silent; fd limit {fd_limit}), opened in {opened_in:?}; another client served in {served_in:?}; RSS grew {growth_kib} KiB, {per_conn:.1} KiB each"
    );
    assert!(per_conn < 64.0, "{per_conn:.1} KiB per idle connection");
    drop(idle);
    assert_all_closed(&engine).await;
    let drained = eventually(Duration::from_secs(10), || async { open_fds() <= fds + 8 }).await;
    assert!(drained, "fds {} (before {fds})", open_fds());
}
