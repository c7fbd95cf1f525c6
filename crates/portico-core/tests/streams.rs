//! Long-lived traffic through the proxy: WebSocket upgrades, Server-Sent Events, streamed
//! bodies, graceful shutdown.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message as AxumMessage, WebSocketUpgrade};
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use bytes::Bytes;
use common::{TestEngine, send, spawn_echo, spawn_upstream};
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use portico_core::config::RoutePatch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// An upstream whose `/ws` echoes every WebSocket message, prefixed with `name`.
async fn spawn_ws_echo(name: &'static str) -> common::Upstream {
    spawn_upstream(Router::new().route(
        "/ws",
        get(move |ws: WebSocketUpgrade| async move {
            ws.on_upgrade(move |mut socket| async move {
                while let Some(Ok(msg)) = socket.recv().await {
                    if let AxumMessage::Text(text) = msg {
                        let reply = format!("{name}: {}", text.as_str());
                        if socket.send(AxumMessage::Text(reply.into())).await.is_err() {
                            break;
                        }
                    }
                }
            })
        }),
    ))
    .await
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect_ws(engine: &TestEngine, host: &str) -> Ws {
    let stream = tokio::net::TcpStream::connect(engine.addr())
        .await
        .expect("connect");
    let request = format!("ws://{host}:{}/ws", engine.port())
        .into_client_request()
        .expect("request");
    let (ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("WebSocket handshake through the proxy");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    ws
}

async fn echo(ws: &mut Ws, text: &str) -> String {
    ws.send(Message::text(text)).await.expect("send");
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("reply within 5 s")
        .expect("stream open")
        .expect("message");
    reply.into_text().expect("text").as_str().to_owned()
}

#[tokio::test]
async fn websocket_messages_echo_through_the_proxy() {
    let engine = TestEngine::start().await;
    let upstream = spawn_ws_echo("up").await;
    engine.route("app.localhost", "/", upstream.addr).await;
    let mut ws = connect_ws(&engine, "app.localhost").await;
    for i in 0..20 {
        assert_eq!(
            echo(&mut ws, &format!("hello {i}")).await,
            format!("up: hello {i}")
        );
    }
    let big = "x".repeat(1 << 20);
    assert_eq!(echo(&mut ws, &big).await.len(), big.len() + 4);
    ws.close(None).await.expect("close");
}

#[tokio::test]
async fn an_open_websocket_survives_route_edits_while_new_requests_see_them() {
    let engine = TestEngine::start().await;
    let first = spawn_ws_echo("first").await;
    let second = spawn_ws_echo("second").await;
    let other = spawn_echo("other").await;
    let route = engine.route("app.localhost", "/", first.addr).await;
    let mut ws = connect_ws(&engine, "app.localhost").await;
    assert_eq!(echo(&mut ws, "before").await, "first: before");

    let patch = RoutePatch {
        upstreams: Some(vec![format!("http://{}", second.addr)]),
        ..Default::default()
    };
    engine
        .engine()
        .update_route(route.id, patch)
        .await
        .expect("edit");
    let extra = engine.route("other.localhost", "/", other.addr).await;
    engine
        .engine()
        .remove_route(extra.id)
        .await
        .expect("remove");

    assert_eq!(echo(&mut ws, "after").await, "first: after");
    let mut fresh = connect_ws(&engine, "app.localhost").await;
    assert_eq!(echo(&mut fresh, "new").await, "second: new");
}

#[tokio::test]
async fn the_first_sse_event_arrives_before_the_stream_ends() {
    let engine = TestEngine::start().await;
    let upstream = spawn_upstream(Router::new().route(
        "/events",
        get(|| async {
            let first = futures_util::stream::once(async {
                Ok::<_, Infallible>(Event::default().data("first"))
            });
            // After the first event the stream stays open for a long time.
            let later = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok::<_, Infallible>(Event::default().data("late"))
            });
            Sse::new(first.chain(later))
        }),
    ))
    .await;
    engine.route("app.localhost", "/", upstream.addr).await;

    let stream = tokio::net::TcpStream::connect(engine.addr())
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let req = Request::get("/events")
        .header("host", "app.localhost")
        .header("accept", "text/event-stream")
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(5), sender.send_request(req))
        .await
        .expect("headers within 5 s")
        .expect("response");
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let frame = tokio::time::timeout(
        Duration::from_secs(5),
        http_body_util::BodyExt::frame(&mut body),
    )
    .await
    .expect("first event within 5 s, long before the stream ends")
    .expect("a frame")
    .expect("data");
    let data = frame.into_data().expect("data frame");
    assert!(
        String::from_utf8_lossy(&data).contains("data: first"),
        "{data:?}"
    );
}

#[tokio::test]
async fn a_streamed_response_flushes_each_chunk_as_it_arrives() {
    let engine = TestEngine::start().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(4);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(Some(rx)));
    let upstream = spawn_upstream(Router::new().route(
        "/stream",
        get(move || {
            let rx = rx.clone();
            async move {
                let rx = rx.lock().await.take().expect("one request");
                axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
            }
        }),
    ))
    .await;
    engine.route("app.localhost", "/", upstream.addr).await;

    let stream = tokio::net::TcpStream::connect(engine.addr())
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let req = Request::get("/stream")
        .header("host", "app.localhost")
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    let mut body = resp.into_body();
    for i in 0..3 {
        let chunk = format!("chunk {i}\n");
        tx.send(Ok(Bytes::from(chunk.clone()))).await.expect("send");
        let frame = tokio::time::timeout(
            Duration::from_secs(5),
            http_body_util::BodyExt::frame(&mut body),
        )
        .await
        .expect("chunk relayed while the upstream is still sending")
        .expect("frame")
        .expect("data");
        assert_eq!(frame.into_data().expect("data"), Bytes::from(chunk));
    }
    drop(tx);
}

#[tokio::test]
async fn graceful_shutdown_lets_requests_in_flight_finish() {
    let mut engine = TestEngine::start().await;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let started_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(started_tx)));
    let upstream = spawn_upstream(Router::new().route(
        "/slow",
        get(move || {
            let started = started_tx.lock().expect("lock").take();
            async move {
                if let Some(tx) = started {
                    let _ = tx.send(());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                "finished"
            }
        }),
    ))
    .await;
    engine.route("app.localhost", "/", upstream.addr).await;
    let addr = engine.addr();
    let in_flight = tokio::spawn(async move {
        send(addr, "app.localhost", Request::get("/slow"), Bytes::new()).await
    });
    started_rx.await.expect("request reached the upstream");
    let handle = engine.handle.take().expect("running");
    tokio::time::timeout(Duration::from_secs(15), handle.shutdown())
        .await
        .expect("shutdown within the grace period");
    let reply = in_flight.await.expect("request task");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "finished");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

/// One HTTP/1.1 connection that a test sends its requests on, one after another.
async fn one_connection<I>(
    io: I,
) -> hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    sender
}

/// Send `method path` with `body` on `sender`'s connection: the status and the whole body.
async fn send_on(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>,
    method: &str,
    path: &str,
    body: &'static [u8],
) -> (StatusCode, Bytes) {
    sender.ready().await.expect("the connection is still open");
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "app.localhost")
        .body(http_body_util::Full::new(Bytes::from_static(body)))
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    let status = resp.status();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, body)
}

/// The engine's lane threads (named `portico-lane-N`) in this process.
fn lane_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("portico-lane-"))
        .count()
}

/// Connections are served on one thread per core ("lanes"), handed out in turn as they are
/// accepted, and each lane keeps its own upstream connections: requests from connections on
/// different lanes never share one, however they alternate. The lanes end with the engine.
#[tokio::test]
async fn connections_take_turns_on_lanes_that_keep_their_own_upstream_connections() {
    let lanes = std::thread::available_parallelism().map_or(1, usize::from);
    // An upstream that answers with the port its request came from: one per upstream
    // connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream = listener.local_addr().expect("addr");
    let app =
        Router::new()
            .fallback(
                |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<
                    std::net::SocketAddr,
                >| async move { peer.port().to_string() },
            )
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut engine = TestEngine::start().await;
    engine.route("app.localhost", "/", upstream).await;
    assert_eq!(lane_threads(), lanes, "one lane per core");
    // Connections opened one after another are accepted in that order, so consecutive ones
    // are on consecutive lanes.
    let mut clients = Vec::new();
    for _ in 0..2 * lanes {
        let stream = tokio::net::TcpStream::connect(engine.addr())
            .await
            .expect("connect");
        clients.push(one_connection(stream).await);
    }
    let mut lane_of_upstream_port = std::collections::HashMap::new();
    for _round in 0..5 {
        for (i, client) in clients.iter_mut().enumerate() {
            let (status, body) = send_on(client, "GET", "/", b"").await;
            assert_eq!(status, StatusCode::OK);
            let port = String::from_utf8(body.to_vec()).expect("a port");
            let lane = i % lanes;
            let first = *lane_of_upstream_port.entry(port.clone()).or_insert(lane);
            assert_eq!(
                first, lane,
                "upstream connection from port {port} used by two lanes"
            );
        }
    }
    assert!(
        lane_of_upstream_port.len() >= lanes,
        "each lane opens its own: {lane_of_upstream_port:?}"
    );
    drop(clients);
    let handle = engine.handle.take().expect("running");
    tokio::time::timeout(Duration::from_secs(15), handle.shutdown())
        .await
        .expect("shutdown within the grace period");
    let ended = common::eventually(Duration::from_secs(10), || async { lane_threads() == 0 }).await;
    assert!(ended, "{} lane threads left after shutdown", lane_threads());
    server.abort();
}

/// Wait (at most 10 s) until the engine has exactly `parked` connections parked.
async fn parked_becomes(engine: &TestEngine, parked: u64) {
    let reached = common::eventually(Duration::from_secs(10), || async {
        engine.engine().load().parked == parked
    })
    .await;
    assert!(reached, "parked: {:?}", engine.engine().load());
}

#[tokio::test]
async fn idle_keep_alive_connections_are_parked_and_serve_their_next_request() {
    let engine = TestEngine::start_tls().await;
    let echo = spawn_echo("echo").await;
    engine.route_plain_too("app.localhost", echo.addr).await;
    let root = engine.engine().tls().authority().ca().root_pem().to_owned();
    for name in ["plain", "TLS"] {
        let mut sender = if name == "plain" {
            one_connection(
                tokio::net::TcpStream::connect(engine.addr())
                    .await
                    .expect("connect"),
            )
            .await
        } else {
            let tls = common::tls_connect(
                engine.https_addr(),
                "app.localhost",
                common::client_config(&root, &[b"http/1.1"]),
            )
            .await
            .expect("TLS");
            one_connection(tls).await
        };
        let (status, body) = send_on(&mut sender, "GET", "/first", b"").await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(String::from_utf8_lossy(&body).contains("/first"), "{name}");
        // Quiet for a moment: the connection is parked, and still open.
        parked_becomes(&engine, 1).await;
        assert_eq!(engine.engine().load().connections, 1, "{name}");
        // The next request on it wakes it: a body goes up, the answer comes back.
        let (status, body) = send_on(&mut sender, "POST", "/second", b"after the pause").await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let body = String::from_utf8_lossy(&body);
        assert!(
            body.contains("/second") && body.contains("after the pause"),
            "{name}: {body}"
        );
        parked_becomes(&engine, 1).await;
        // Parked and woken again, as often as it pauses.
        let (status, _) = send_on(&mut sender, "GET", "/third", b"").await;
        assert_eq!(status, StatusCode::OK, "{name}");
        drop(sender);
        let gone = common::eventually(Duration::from_secs(10), || async {
            engine.engine().load().connections == 0
        })
        .await;
        assert!(gone, "{name}: {:?}", engine.engine().load());
        assert_eq!(engine.engine().load().parked, 0, "{name}");
    }
}

#[tokio::test]
async fn a_request_head_begun_before_a_pause_is_not_cut_off_by_parking() {
    let engine = TestEngine::start().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let mut stream = tokio::net::TcpStream::connect(engine.addr())
        .await
        .expect("connect");
    let head = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: app.localhost\r\n\r\n");
    stream
        .write_all(head("/first").as_bytes())
        .await
        .expect("write");
    let first = read_one_response(&mut stream).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // Half of the next head, then a pause longer than the one that parks a connection.
    let second = head("/second");
    let (start, rest) = second.split_at(20);
    stream.write_all(start.as_bytes()).await.expect("write");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(engine.engine().load().parked, 0, "parked mid-request");
    stream.write_all(rest.as_bytes()).await.expect("write");
    let answer = read_one_response(&mut stream).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("/second"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_gets_its_whole_response_across_a_pause() {
    const SIZE: usize = 16 << 20;
    let engine = TestEngine::start().await;
    let big = spawn_upstream(Router::new().route("/big", get(|| async { vec![b'x'; SIZE] }))).await;
    engine.route("app.localhost", "/", big.addr).await;
    let mut sender = one_connection(
        tokio::net::TcpStream::connect(engine.addr())
            .await
            .expect("connect"),
    )
    .await;
    sender.ready().await.expect("ready");
    let req = Request::get("/big")
        .header("host", "app.localhost")
        .body(http_body_util::Full::new(Bytes::new()))
        .expect("request");
    let resp = sender.send_request(req).await.expect("response head");
    assert_eq!(resp.status(), StatusCode::OK);
    // Nothing read for longer than the pause that parks a connection.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("the whole body")
        .to_bytes();
    assert_eq!(body.len(), SIZE);
    assert!(body.iter().all(|b| *b == b'x'));
    let (status, body) = send_on(&mut sender, "GET", "/big", b"").await;
    assert_eq!((status, body.len()), (StatusCode::OK, SIZE));
}

/// Read one response with a `Content-Length` from `stream` (within 10 s): its head and body
/// as text.
async fn read_one_response(stream: &mut tokio::net::TcpStream) -> String {
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut out = common::read_head(stream).await.expect("a response head");
        let text = String::from_utf8_lossy(&out).into_owned();
        let end = text.find("\r\n\r\n").expect("head end") + 4;
        let length: usize = text[..end]
            .lines()
            .find_map(|l| {
                let l = l.to_ascii_lowercase();
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse().expect("length"))
            })
            .expect("content-length");
        let mut rest = vec![0; (end + length).saturating_sub(out.len())];
        stream.read_exact(&mut rest).await.expect("the body");
        out.extend_from_slice(&rest);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await;
    read.expect("a whole response within 10 s")
}
