//! Who may use a route: per-route and global (settings) allow and deny lists of client
//! addresses, over real sockets from different loopback source addresses (127.0.0.2 and
//! 127.0.0.3 stand in for other machines). Refusals are 403 pages naming the list, and the
//! inspector records them with their reason.

mod common;

use std::net::IpAddr;

use bytes::Bytes;
use common::{TestEngine, send_from, spawn_echo};
use http::{Request, StatusCode};
use portico_core::config::{NewRoute, RoutePatch, SettingsPatch};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

/// Change the settings of the running engine.
async fn set(engine: &TestEngine, patch: SettingsPatch) {
    engine
        .engine()
        .update_settings(patch)
        .await
        .expect("settings");
}

async fn status_from(engine: &TestEngine, client: &str, host: &str) -> (StatusCode, String) {
    let reply = send_from(
        Some(ip(client)),
        engine.addr(),
        host,
        Request::get("/").header("accept", "text/plain"),
        Bytes::new(),
    )
    .await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn a_routes_lists_admit_and_refuse_by_source_address_and_deny_wins() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    let route = engine
        .add(NewRoute {
            host: "lan.localhost".into(),
            upstreams: vec![echo.addr.to_string()],
            allow_ips: vec![
                "127.0.0.1".into(),
                "127.0.0.2/32".into(),
                "127.0.0.3".into(),
            ],
            deny_ips: vec!["127.0.0.3".into()],
            https_redirect: Some(false),
            ..Default::default()
        })
        .await;
    let open = engine.route("open.localhost", "/", echo.addr).await;
    assert_eq!(
        route.allow_ips.to_strings(),
        ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    );

    assert_eq!(
        status_from(&engine, "127.0.0.1", "lan.localhost").await.0,
        StatusCode::OK
    );
    assert_eq!(
        status_from(&engine, "127.0.0.2", "lan.localhost").await.0,
        StatusCode::OK
    );
    let (status, body) = status_from(&engine, "127.0.0.3", "lan.localhost").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "deny wins over allow: {body}"
    );
    assert!(
        body.contains("127.0.0.3 is in the denied addresses of route lan.localhost/"),
        "{body}"
    );
    let (status, body) = status_from(&engine, "127.0.0.4", "lan.localhost").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("127.0.0.4 is not in the allowed addresses"),
        "{body}"
    );
    assert!(body.contains("--allow 127.0.0.4"), "{body}");
    // Other routes are not affected.
    assert_eq!(
        status_from(&engine, "127.0.0.4", "open.localhost").await.0,
        StatusCode::OK
    );

    // Changing the lists applies to the next request; `[]` lets everyone in.
    engine
        .engine()
        .update_route(
            route.id,
            RoutePatch {
                allow_ips: Some(Vec::new()),
                deny_ips: Some(vec!["127.0.0.0/30".into()]),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    assert_eq!(
        status_from(&engine, "127.0.0.4", "lan.localhost").await.0,
        StatusCode::OK
    );
    assert_eq!(
        status_from(&engine, "127.0.0.2", "lan.localhost").await.0,
        StatusCode::FORBIDDEN,
        "127.0.0.0/30 covers .2"
    );
    drop(open);
}

#[tokio::test]
async fn global_lists_apply_to_every_route_and_unknown_hosts() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("a.localhost", "/", echo.addr).await;
    set(
        &engine,
        SettingsPatch {
            allow_ips: Some(vec!["127.0.0.1".into(), "127.0.0.2".into()]),
            deny_ips: Some(vec!["127.0.0.2".into()]),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        status_from(&engine, "127.0.0.1", "a.localhost").await.0,
        StatusCode::OK
    );
    let (status, body) = status_from(&engine, "127.0.0.2", "a.localhost").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("denied addresses of any route"), "{body}");
    let (status, _) = status_from(&engine, "127.0.0.3", "nobody.localhost").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "refused before routing: no route list leaks"
    );

    // A bad entry is refused with the field named, and nothing changes.
    let bad = engine
        .engine()
        .update_settings(SettingsPatch {
            deny_ips: Some(vec!["10.0.0.999".into()]),
            ..Default::default()
        })
        .await
        .expect_err("bad address");
    assert!(bad.to_string().contains("deny_ips"), "{bad}");
    assert_eq!(
        status_from(&engine, "127.0.0.1", "a.localhost").await.0,
        StatusCode::OK
    );

    set(
        &engine,
        SettingsPatch {
            allow_ips: Some(Vec::new()),
            deny_ips: Some(Vec::new()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        status_from(&engine, "127.0.0.3", "a.localhost").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_refusal_is_captured_with_its_reason() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine
        .add(NewRoute {
            host: "shut.localhost".into(),
            upstreams: vec![echo.addr.to_string()],
            deny_ips: vec!["127.0.0.2".into()],
            https_redirect: Some(false),
            ..Default::default()
        })
        .await;
    assert_eq!(
        status_from(&engine, "127.0.0.2", "shut.localhost").await.0,
        StatusCode::FORBIDDEN
    );
    let traffic = engine.engine().traffic().clone();
    let find = || {
        traffic
            .list(&Default::default())
            .expect("list")
            .into_iter()
            .find(|s| s.host == "shut.localhost")
    };
    let seen = common::eventually(std::time::Duration::from_secs(5), || {
        let found = find().is_some();
        async move { found }
    })
    .await;
    assert!(seen, "the refusal was captured");
    let summary = find().expect("captured");
    assert_eq!(summary.status, Some(403));
    let exchange = traffic.get(summary.id).expect("read").expect("stored");
    assert_eq!(exchange.error_code.as_deref(), Some("ip-denied"));
    assert_eq!(exchange.error_side.as_deref(), Some("client"));
    assert!(
        exchange.client.starts_with("127.0.0.2:"),
        "{}",
        exchange.client
    );
    assert!(
        exchange
            .error
            .as_deref()
            .is_some_and(|e| e.contains("denied list")),
        "{:?}",
        exchange.error
    );
}

/// A route's rate limit counts per client address: over it, 429 with `Retry-After`; another
/// address is not affected; the global limit applies to every route. (Limits of 1 a second:
/// two requests back to back are always within the same second.)
#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_per_client() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine
        .add(NewRoute {
            host: "slow.localhost".into(),
            upstreams: vec![echo.addr.to_string()],
            rate_limit_per_sec: Some(1),
            https_redirect: Some(false),
            ..Default::default()
        })
        .await;
    engine.route("free.localhost", "/", echo.addr).await;
    assert_eq!(
        status_from(&engine, "127.0.0.2", "slow.localhost").await.0,
        StatusCode::OK
    );
    let limited = send_from(
        Some(ip("127.0.0.2")),
        engine.addr(),
        "slow.localhost",
        Request::get("/").header("accept", "text/plain"),
        Bytes::new(),
    )
    .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert_eq!(limited.headers["retry-after"], "1");
    assert_eq!(limited.headers["x-portico-error"], "rate-limited");
    assert!(
        limited.body.contains("1 requests a second"),
        "{}",
        limited.body
    );
    assert_eq!(
        status_from(&engine, "127.0.0.3", "slow.localhost").await.0,
        StatusCode::OK,
        "another client has its own bucket"
    );
    assert_eq!(
        status_from(&engine, "127.0.0.2", "free.localhost").await.0,
        StatusCode::OK
    );

    // A bad limit is refused with the field named.
    let bad = engine
        .engine()
        .update_settings(SettingsPatch {
            rate_limit_per_sec: Some(Some(0)),
            ..Default::default()
        })
        .await
        .expect_err("0 is not a limit");
    assert!(bad.to_string().contains("rate_limit_per_sec"), "{bad}");

    // The global limit: every route, per client.
    set(
        &engine,
        SettingsPatch {
            rate_limit_per_sec: Some(Some(1)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        status_from(&engine, "127.0.0.4", "free.localhost").await.0,
        StatusCode::OK
    );
    let (status, body) = status_from(&engine, "127.0.0.4", "free.localhost").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body.contains("any route") || body.contains("requests a second"),
        "{body}"
    );
    set(
        &engine,
        SettingsPatch {
            rate_limit_per_sec: Some(None),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        status_from(&engine, "127.0.0.4", "free.localhost").await.0,
        StatusCode::OK
    );
}

/// A body over the limit gets 413: at once when its length is declared, and when a chunked
/// body streams past it; a body within the limit reaches the upstream whole. The smaller of
/// the route's and the global limit applies.
/// An engine with `upload.localhost` proxied to an echo upstream (kept alive by the second
/// value), request bodies limited to 1,000 bytes.
async fn upload_limited_to_1000_bytes() -> (TestEngine, common::Upstream) {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine
        .add(NewRoute {
            host: "upload.localhost".into(),
            upstreams: vec![echo.addr.to_string()],
            max_body_bytes: Some(1000),
            https_redirect: Some(false),
            ..Default::default()
        })
        .await;
    (engine, echo)
}

/// A client still sending a body over the limit gets its 413, not a reset connection: the
/// proxy reads the rest of the body (for a while) before it closes, as nginx's lingering
/// close does; closing with the client's bytes unread would reset the connection and could
/// lose the answer.
#[tokio::test]
async fn a_client_still_sending_a_body_over_the_limit_reads_its_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (engine, _echo) = upload_limited_to_1000_bytes().await;
    let mut stream = tokio::net::TcpStream::connect(engine.addr())
        .await
        .expect("connect");
    let exchange = async {
        stream
            .write_all(
                b"POST /up HTTP/1.1\r\nHost: upload.localhost\r\n\
                  Transfer-Encoding: chunked\r\n\r\n",
            )
            .await?;
        // Past the limit at once, then more after a pause, by which time the proxy has
        // answered: as a browser uploading a large file keeps sending.
        let chunk = [b'a'; 2000];
        for _ in 0..10 {
            stream.write_all(b"7d0\r\n").await?;
            stream.write_all(&chunk).await?;
            stream.write_all(b"\r\n").await?;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        stream.write_all(b"0\r\n\r\n").await?;
        let mut answer = Vec::new();
        let mut buf = [0; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        std::io::Result::Ok(String::from_utf8_lossy(&answer).into_owned())
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(15), exchange)
        .await
        .expect("an answer within 15 s")
        .expect("the whole body written and the answer read, without a reset");
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer.contains("x-portico-error: body-too-large"),
        "{answer}"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let (engine, _echo) = upload_limited_to_1000_bytes().await;
    let post = |body: Vec<u8>, chunked: bool| {
        let addr = engine.addr();
        async move {
            let builder = Request::post("/up").header("accept", "text/plain");
            if chunked {
                // A streamed body of unknown length.
                let stream = futures_util::stream::iter(
                    body.chunks(100)
                        .map(|c| {
                            Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::copy_from_slice(
                                c,
                            )))
                        })
                        .collect::<Vec<_>>(),
                );
                common::send_stream(
                    addr,
                    "upload.localhost",
                    builder,
                    http_body_util::StreamBody::new(stream),
                )
                .await
            } else {
                common::send(addr, "upload.localhost", builder, Bytes::from(body)).await
            }
        }
    };
    let ok = post(vec![b'a'; 1000], false).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let declared = post(vec![b'a'; 1001], false).await;
    assert_eq!(
        declared.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        declared.body
    );
    assert_eq!(declared.headers["x-portico-error"], "body-too-large");
    assert!(
        declared.body.contains("up to 1000 bytes"),
        "{}",
        declared.body
    );
    let streamed = post(vec![b'a'; 5000], true).await;
    assert_eq!(
        streamed.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        streamed.body
    );
    let small_stream = post(vec![b'a'; 900], true).await;
    assert_eq!(small_stream.status, StatusCode::OK, "{}", small_stream.body);

    set(
        &engine,
        SettingsPatch {
            max_body_bytes: Some(Some(500)),
            ..Default::default()
        },
    )
    .await;
    let global = post(vec![b'a'; 600], false).await;
    assert_eq!(
        global.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the smaller limit wins"
    );
    assert!(global.body.contains("up to 500 bytes"), "{}", global.body);
}

/// Out-of-range limits are refused wherever settings come in (a patch, an import), with the
/// field named, and nothing is stored.
#[tokio::test]
async fn out_of_range_limits_are_refused_and_nothing_changes() {
    let engine = TestEngine::start().await;
    for patch in [
        SettingsPatch {
            max_body_bytes: Some(Some(0)),
            ..Default::default()
        },
        SettingsPatch {
            max_body_bytes: Some(Some((1 << 40) + 1)),
            ..Default::default()
        },
        SettingsPatch {
            rate_limit_per_sec: Some(Some(1_000_001)),
            ..Default::default()
        },
    ] {
        let err = engine
            .engine()
            .update_settings(patch)
            .await
            .expect_err("out of range");
        let text = err.to_string();
        assert!(
            text.contains("max_body_bytes") || text.contains("rate_limit_per_sec"),
            "{text}"
        );
    }
    let mut imported = portico_core::config::Settings {
        max_body_bytes: Some(0),
        ..Default::default()
    };
    assert!(
        imported.validate().is_err(),
        "an import is validated the same way"
    );
    let stored = engine.engine().settings().await.expect("settings");
    assert_eq!(
        (stored.max_body_bytes, stored.rate_limit_per_sec),
        (None, None)
    );
}

/// A raw HTTP/1.1 connection from a chosen loopback address, kept open between requests.
async fn connect_from(engine: &TestEngine, client: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::new(ip(client), 0))
        .expect("bind the client address");
    socket.connect(engine.addr()).await.expect("connect")
}

/// Send `GET path` on `stream` and read one whole answer: (head, body).
async fn ask(stream: &mut tokio::net::TcpStream, host: &str, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/plain\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let read = async {
        loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "closed before a whole answer: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().expect("length"))
                    })
                    .expect("a content-length");
                if body.len() >= length {
                    return (head.to_owned(), body.to_owned());
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("an answer within 10 s")
}

/// Whether the server closes `stream` (EOF, after anything it still sends) within a few
/// seconds.
async fn closed_by_server(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let drain = async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), drain)
        .await
        .is_ok()
}

/// The exchange captured for `host` whose error code is `code`.
async fn captured(
    engine: &TestEngine,
    host: &str,
    code: &str,
) -> portico_core::inspect::event::Exchange {
    let traffic = engine.engine().traffic().clone();
    let find = || {
        traffic
            .list(&Default::default())
            .expect("list")
            .into_iter()
            .filter(|s| s.host == host)
            .filter_map(|s| traffic.get(s.id).expect("read"))
            .find(|e| e.error_code.as_deref() == Some(code))
    };
    let seen = common::eventually(std::time::Duration::from_secs(5), || {
        let found = find().is_some();
        async move { found }
    })
    .await;
    assert!(seen, "a {code} exchange for {host} was captured");
    find().expect("captured")
}

/// The setting `max_conns_per_ip` counts open connections per client address at the
/// listener: the one over it is still answered (429, `too-many-connections`, then closed),
/// other addresses are served, and every way a connection ends gives its count back.
#[tokio::test]
async fn a_connection_over_the_per_address_limit_gets_429_and_is_closed() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("many.localhost", "/", echo.addr).await;
    let client = ip("127.0.0.2");
    set(
        &engine,
        SettingsPatch {
            max_conns_per_ip: Some(Some(2)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(engine.engine().open_connections(client), 0, "before");
    let mut first = connect_from(&engine, "127.0.0.2").await;
    let mut second = connect_from(&engine, "127.0.0.2").await;
    assert!(
        ask(&mut first, "many.localhost", "/")
            .await
            .0
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        ask(&mut second, "many.localhost", "/")
            .await
            .0
            .starts_with("HTTP/1.1 200")
    );
    assert_eq!(engine.engine().open_connections(client), 2);

    let mut third = connect_from(&engine, "127.0.0.2").await;
    let (head, body) = ask(&mut third, "many.localhost", "/").await;
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("x-portico-error: too-many-connections"),
        "{head}"
    );
    assert!(head.contains("connection: close"), "{head}");
    assert!(
        body.contains("2 connections") && body.contains("max_conns_per_ip"),
        "{body}"
    );
    assert!(
        closed_by_server(&mut third).await,
        "the extra connection is closed"
    );
    assert_eq!(
        engine.engine().open_connections(client),
        2,
        "a refused one is not counted"
    );
    assert_eq!(
        status_from(&engine, "127.0.0.3", "many.localhost").await.0,
        StatusCode::OK,
        "another address has its own count"
    );
    let exchange = captured(&engine, "many.localhost", "too-many-connections").await;
    assert_eq!(exchange.status, Some(429));
    assert!(
        exchange
            .error
            .as_deref()
            .is_some_and(|e| e.contains("more than 2 connections")),
        "{:?}",
        exchange.error
    );

    // A client that closes cleanly gives its count back, and a new connection is served.
    drop(first);
    let freed = common::eventually(std::time::Duration::from_secs(5), || async {
        engine.engine().open_connections(client) == 1
    })
    .await;
    assert!(freed, "a closed connection is no longer counted");
    let mut fourth = connect_from(&engine, "127.0.0.2").await;
    assert!(
        ask(&mut fourth, "many.localhost", "/")
            .await
            .0
            .starts_with("HTTP/1.1 200")
    );
    // A request cut off halfway, and a client that shuts its side down, end connections too.
    {
        use tokio::io::AsyncWriteExt;
        second
            .write_all(b"GET / HTTP/1.1\r\nHost: many")
            .await
            .expect("half a request");
        fourth.shutdown().await.expect("shutdown");
    }
    drop(second);
    assert!(closed_by_server(&mut fourth).await);
    drop(fourth);
    let all_gone = common::eventually(std::time::Duration::from_secs(5), || async {
        engine.engine().open_connections(client) == 0
    })
    .await;
    assert!(
        all_gone,
        "after: {}",
        engine.engine().open_connections(client)
    );
    set(
        &engine,
        SettingsPatch {
            max_conns_per_ip: Some(None),
            ..Default::default()
        },
    )
    .await;
    let mut conns = Vec::new();
    for _ in 0..3 {
        let mut conn = connect_from(&engine, "127.0.0.2").await;
        assert!(
            ask(&mut conn, "many.localhost", "/")
                .await
                .0
                .starts_with("HTTP/1.1 200")
        );
        conns.push(conn);
    }
    assert_eq!(
        engine.engine().open_connections(client),
        0,
        "no limit, no counting"
    );
}

/// A route's `max_conns_per_ip` counts requests in flight per client address: while one is
/// held by a slow upstream the next from the same address gets 429; another address is
/// served; the count is given back when the response body ends or is dropped.
#[tokio::test]
async fn a_routes_limit_counts_requests_in_flight_per_address() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (release, released) = tokio::sync::watch::channel(false);
    let arrived = Arc::new(AtomicUsize::new(0));
    let seen = arrived.clone();
    let upstream = common::spawn_upstream(axum::Router::new().fallback(
        move |req: axum::extract::Request| {
            let mut released = released.clone();
            let seen = seen.clone();
            async move {
                match req.uri().path() {
                    "/hold" => {
                        seen.fetch_add(1, Ordering::SeqCst);
                        let _ = released.wait_for(|r| *r).await;
                        axum::body::Body::from("held")
                    }
                    // One chunk, then nothing until the client leaves.
                    "/stream" => axum::body::Body::from_stream(futures_util::stream::unfold(
                        false,
                        |sent| async move {
                            if sent {
                                std::future::pending::<()>().await;
                            }
                            Some((Ok::<_, std::io::Error>(Bytes::from("tick")), true))
                        },
                    )),
                    _ => axum::body::Body::from("fast"),
                }
            }
        },
    ))
    .await;
    in_flight_limit_checks(upstream.addr, release, arrived).await;
}

async fn in_flight_limit_checks(
    upstream: std::net::SocketAddr,
    release: tokio::sync::watch::Sender<bool>,
    arrived: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let engine = TestEngine::start().await;
    let route = engine
        .add(NewRoute {
            host: "busy.localhost".into(),
            upstreams: vec![upstream.to_string()],
            max_conns_per_ip: Some(1),
            https_redirect: Some(false),
            ..Default::default()
        })
        .await;
    assert_eq!(route.max_conns_per_ip, Some(1));
    let addr = engine.addr();
    let held = tokio::spawn(async move {
        send_from(
            Some(ip("127.0.0.2")),
            addr,
            "busy.localhost",
            Request::get("/hold"),
            Bytes::new(),
        )
        .await
    });
    let holding = common::eventually(std::time::Duration::from_secs(5), || {
        let n = arrived.load(std::sync::atomic::Ordering::SeqCst);
        async move { n == 1 }
    })
    .await;
    assert!(holding, "the upstream holds the first request");
    let (status, body) = status_from(&engine, "127.0.0.2", "busy.localhost").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.contains("1 requests in flight"), "{body}");
    assert_eq!(
        status_from(&engine, "127.0.0.3", "busy.localhost").await.0,
        StatusCode::OK
    );
    release.send(true).expect("release");
    let first = held.await.expect("task");
    assert_eq!(
        (first.status, first.body.as_str()),
        (StatusCode::OK, "held")
    );
    assert_eq!(
        status_from(&engine, "127.0.0.2", "busy.localhost").await.0,
        StatusCode::OK,
        "the ended body gave the count back"
    );

    // A client that leaves in the middle of a streamed body gives its count back too.
    let mut stream = connect_from(&engine, "127.0.0.2").await;
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"GET /stream HTTP/1.1\r\nHost: busy.localhost\r\n\r\n")
            .await
            .expect("write");
        let mut head = [0u8; 64];
        let n = stream.read(&mut head).await.expect("read");
        assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));
    }
    assert_eq!(
        status_from(&engine, "127.0.0.2", "busy.localhost").await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "the stream is in flight"
    );
    drop(stream);
    let freed = common::eventually(std::time::Duration::from_secs(5), || async {
        status_from(&engine, "127.0.0.2", "busy.localhost").await.0 == StatusCode::OK
    })
    .await;
    assert!(freed, "the dropped body gave the count back");
}

fn basic(user_pass: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
}

async fn send_auth(engine: &TestEngine, host: &str, auth: Option<&str>) -> common::Reply {
    let mut builder = Request::get("/").header("accept", "text/plain");
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    common::send(engine.addr(), host, builder, Bytes::new()).await
}

/// An admin API call with the token.
async fn admin_get(engine: &TestEngine, path: &str) -> String {
    let reply = common::send(
        engine.engine().admin_addrs()[0],
        "127.0.0.1",
        Request::get(path).header(
            "authorization",
            format!("Bearer {}", engine.engine().admin_token().expect("token")),
        ),
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

/// Basic auth on a route: no credentials → 401 `auth-required` with the challenge, wrong ones
/// → 401 `auth-failed`, right ones → forwarded without the `Authorization` header. A removed
/// user is refused. Neither the API, the export nor the inspector holds a password; the store
/// holds argon2 PHC hashes.
#[tokio::test]
async fn basic_auth_admits_users_and_never_shows_their_passwords() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    let password = "correct-horse-7";
    let route = engine
        .add(NewRoute {
            host: "auth.localhost".into(),
            upstreams: vec![echo.addr.to_string()],
            basic_auth: vec![portico_core::config::AuthUserInput {
                user: "alice".into(),
                password: Some(password.into()),
                password_hash: None,
            }],
            https_redirect: Some(false),
            ..Default::default()
        })
        .await;

    let missing = send_auth(&engine, "auth.localhost", None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED, "{}", missing.body);
    assert_eq!(
        missing.headers["www-authenticate"],
        "Basic realm=\"auth.localhost\", charset=\"UTF-8\""
    );
    assert_eq!(missing.headers["x-portico-error"], "auth-required");
    assert!(
        missing.body.contains("--auth USER:PASSWORD"),
        "{}",
        missing.body
    );
    let wrong = send_auth(&engine, "auth.localhost", Some(&basic("alice:nope"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.headers["x-portico-error"], "auth-failed");
    let right_header = basic(&format!("alice:{password}"));
    for _ in 0..2 {
        let right = send_auth(&engine, "auth.localhost", Some(&right_header)).await;
        assert_eq!(right.status, StatusCode::OK, "{}", right.body);
        assert!(
            right.json()["headers"].get("authorization").is_none(),
            "the upstream never sees the credentials: {}",
            right.body
        );
    }

    // Never a password or a hash in the API or the export.
    for path in [
        "/api/v1/routes",
        &format!("/api/v1/routes/{}", route.id),
        "/api/v1/export",
    ] {
        let body = admin_get(&engine, path).await;
        assert!(body.contains("alice"), "{path}: {body}");
        assert!(
            !body.contains(password) && !body.contains("$argon2"),
            "{path}: {body}"
        );
    }
    // The store holds an argon2 PHC string.
    let db =
        rusqlite::Connection::open(engine.engine().data_dir().join("portico.db")).expect("open");
    let features: String = db
        .query_row(
            "SELECT features FROM routes WHERE host = 'auth.localhost'",
            [],
            |r| r.get(0),
        )
        .expect("row");
    let features: serde_json::Value = serde_json::from_str(&features).expect("json");
    let hash = features["basic_auth"][0]["hash"].as_str().expect("hash");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!features.to_string().contains(password));

    // The inspector has the refusal with its reason, and the admitted request redacted.
    let refused = captured(&engine, "auth.localhost", "auth-failed").await;
    assert_eq!(refused.status, Some(401));
    let traffic = engine.engine().traffic().clone();
    let find = || {
        traffic
            .list(&Default::default())
            .expect("list")
            .into_iter()
            .find(|s| s.host == "auth.localhost" && s.status == Some(200))
            .and_then(|s| traffic.get(s.id).expect("read"))
    };
    let recorded = common::eventually(std::time::Duration::from_secs(5), || {
        let found = find().is_some();
        async move { found }
    })
    .await;
    assert!(recorded, "the admitted request was captured");
    let admitted = find().expect("captured");
    let token = right_header.trim_start_matches("Basic ");
    let stored = serde_json::to_string(&admitted).expect("json");
    assert!(
        !stored.contains(token) && !stored.contains(password),
        "{stored}"
    );
    assert!(
        admitted
            .request_headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Basic [redacted]"),
        "{:?}",
        admitted.request_headers
    );

    // Replacing alice with bob removes alice at once; turning auth off opens the route.
    engine
        .engine()
        .update_route(
            route.id,
            RoutePatch {
                basic_auth: Some(vec![portico_core::config::AuthUserInput {
                    user: "bob".into(),
                    password: Some("bobs".into()),
                    password_hash: None,
                }]),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    assert_eq!(
        send_auth(&engine, "auth.localhost", Some(&right_header))
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "a removed user is refused"
    );
    assert_eq!(
        send_auth(&engine, "auth.localhost", Some(&basic("bob:bobs")))
            .await
            .status,
        StatusCode::OK
    );
    // Refused before reaching the route (paused): the credentials are not stored either.
    set(
        &engine,
        SettingsPatch {
            proxy_paused: Some(true),
            ..Default::default()
        },
    )
    .await;
    let paused = send_auth(&engine, "auth.localhost", Some(&basic("bob:bobs"))).await;
    assert_eq!(paused.status, StatusCode::SERVICE_UNAVAILABLE);
    let refused = captured(&engine, "auth.localhost", "paused").await;
    assert_eq!(
        refused.request_headers.get("authorization"),
        Some("Basic [redacted]")
    );
    set(
        &engine,
        SettingsPatch {
            proxy_paused: Some(false),
            ..Default::default()
        },
    )
    .await;
    engine
        .engine()
        .update_route(
            route.id,
            RoutePatch {
                basic_auth: Some(Vec::new()),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    assert_eq!(
        send_auth(&engine, "auth.localhost", None).await.status,
        StatusCode::OK
    );
}

/// A connection to the HTTPS listener whose TLS handshake fails is counted while it is open
/// and given back when it ends.
#[tokio::test]
async fn a_failed_tls_handshake_gives_its_connection_count_back() {
    use tokio::io::AsyncWriteExt;
    let engine = TestEngine::start_tls().await;
    set(
        &engine,
        SettingsPatch {
            max_conns_per_ip: Some(Some(1)),
            ..Default::default()
        },
    )
    .await;
    let client = ip("127.0.0.2");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::new(client, 0))
        .expect("bind the client address");
    let mut stream = socket.connect(engine.https_addr()).await.expect("connect");
    let counted = common::eventually(std::time::Duration::from_secs(5), || async {
        engine.engine().open_connections(client) == 1
    })
    .await;
    assert!(counted, "the open connection is counted");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("not a TLS hello");
    assert!(closed_by_server(&mut stream).await, "the handshake fails");
    let freed = common::eventually(std::time::Duration::from_secs(5), || async {
        engine.engine().open_connections(client) == 0
    })
    .await;
    assert!(freed, "after: {}", engine.engine().open_connections(client));
}

/// An admin API call with the token and a JSON body.
async fn admin_post(engine: &TestEngine, path: &str, body: String) -> common::Reply {
    common::send(
        engine.engine().admin_addrs()[0],
        "127.0.0.1",
        Request::post(path)
            .header(
                "authorization",
                format!("Bearer {}", engine.engine().admin_token().expect("token")),
            )
            .header("content-type", "application/json"),
        Bytes::from(body),
    )
    .await
}

/// An export names a route's users but carries no password: imported back here the users keep
/// their passwords; imported elsewhere it is refused naming the user, and nothing changes.
#[tokio::test]
async fn an_export_keeps_basic_auth_users_here_and_asks_for_passwords_elsewhere() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine
        .add(NewRoute {
            host: "kept.localhost".into(),
            upstreams: vec![echo.addr.to_string()],
            basic_auth: vec![portico_core::config::AuthUserInput {
                user: "alice".into(),
                password: Some("pw-1".into()),
                password_hash: None,
            }],
            https_redirect: Some(false),
            ..Default::default()
        })
        .await;
    let export = admin_get(&engine, "/api/v1/export").await;
    let imported = admin_post(&engine, "/api/v1/import", export.clone()).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    assert_eq!(
        send_auth(&engine, "kept.localhost", Some(&basic("alice:pw-1")))
            .await
            .status,
        StatusCode::OK,
        "the password survived the round trip"
    );

    let elsewhere = TestEngine::start().await;
    let refused = admin_post(&elsewhere, "/api/v1/import", export).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("basic_auth") && refused.body.contains("alice"),
        "{}",
        refused.body
    );
    assert!(
        elsewhere
            .engine()
            .routes()
            .await
            .expect("routes")
            .routes
            .is_empty(),
        "nothing imported"
    );
}
