//! The soak (`make soak`, not part of `make test`): minutes of mixed traffic through one
//! engine — plain HTTP keep-alive, new HTTPS connections, WebSockets, Server-Sent Events, and
//! requests that fail on purpose (an upstream that is down, one that answers 500) — while
//! the process's memory and open descriptors are sampled. Passes when nothing failed but the
//! injected faults, and memory and descriptors at the end are where they were after warm-up.
//! `SOAK_SECONDS` sets the length (600 by default).

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use bytes::Bytes;
use common::{TestEngine, closed_port, spawn_upstream};
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use portico_core::config::NewRoute;
use tokio::net::TcpStream;

/// Successes, injected failures and unexpected failures, per kind of traffic.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    injected: AtomicU64,
    unexpected: AtomicU64,
}

struct Tallies {
    plain: Tally,
    tls: Tally,
    websocket: Tally,
    sse: Tally,
    errors: Tally,
    first_failures: std::sync::Mutex<Vec<String>>,
}

impl Tallies {
    fn fail(&self, tally: &Tally, what: String) {
        tally.unexpected.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if first.len() < 10 {
            first.push(what);
        }
    }
}

/// Resident memory (all, anonymous) in KiB and open descriptors of this process, which runs
/// the engine, the upstream and the clients.
fn sample() -> (u64, u64, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"), common::open_fds())
}

/// An upstream with a small page, a 100 KiB one, a 500, an event stream of five events and
/// a WebSocket echo.
async fn upstream() -> common::Upstream {
    spawn_upstream(
        Router::new()
            .route("/", get(|| async { "hello" }))
            .route("/big", get(|| async { vec![b'x'; 100 * 1024] }))
            .route(
                "/fail",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "injected") }),
            )
            .route(
                "/sse",
                get(|| async {
                    let events = futures_util::stream::iter(0..5).then(|i| async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, Infallible>(Event::default().data(format!("event {i}")))
                    });
                    Sse::new(events)
                }),
            )
            .route(
                "/ws",
                get(|ws: WebSocketUpgrade| async move {
                    ws.on_upgrade(|mut socket| async move {
                        while let Some(Ok(WsMessage::Text(text))) = socket.recv().await {
                            if socket.send(WsMessage::Text(text)).await.is_err() {
                                break;
                            }
                        }
                    })
                }),
            ),
    )
    .await
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn handshake<S>(io: S) -> Option<Sender>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}

/// One GET on `sender`; the status and the body's length.
async fn get_on(
    sender: &mut Sender,
    host: &str,
    path: &str,
) -> Result<(StatusCode, usize), String> {
    let req = Request::get(path)
        .header("host", host)
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let exchange = async {
        sender
            .ready()
            .await
            .map_err(|e| format!("not ready: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok((status, body.len()))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| format!("{path}: no answer within 10 s"))?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long: run by `make soak`"]
async fn mixed_traffic_for_minutes_leaves_memory_and_descriptors_flat() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let engine = TestEngine::start_tls().await;
    let up = upstream().await;
    // Plain HTTP is proxied, not redirected to HTTPS: both listeners carry traffic.
    for (host, upstream) in [
        ("app.localhost", up.addr),
        ("down.localhost", closed_port().await),
    ] {
        engine
            .add(NewRoute {
                host: host.into(),
                upstreams: vec![format!("http://{upstream}")],
                https_redirect: Some(false),
                ..Default::default()
            })
            .await;
    }
    let http = engine.addr();
    let https = engine.https_addr();
    let tls = common::client_config(
        engine.engine().tls().authority().ca().root_pem(),
        &[b"http/1.1"],
    );
    let tallies = Arc::new(Tallies {
        plain: Tally::default(),
        tls: Tally::default(),
        websocket: Tally::default(),
        sse: Tally::default(),
        errors: Tally::default(),
        first_failures: std::sync::Mutex::new(Vec::new()),
    });
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut workers = Vec::new();

    // Plain HTTP/1.1: four keep-alive connections, small and 100 KiB pages.
    for worker in 0..4 {
        let t = tallies.clone();
        workers.push(tokio::spawn(async move {
            let host = format!("app.localhost:{}", http.port());
            let mut sender: Option<Sender> = None;
            let mut n = 0u64;
            while Instant::now() < deadline {
                if sender.as_ref().is_none_or(Sender::is_closed) {
                    let Ok(tcp) = TcpStream::connect(http).await else {
                        t.fail(&t.plain, "plain: connect failed".into());
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    sender = handshake(tcp).await;
                }
                let Some(s) = sender.as_mut() else { continue };
                n += 1;
                let (path, len) = if (n + worker).is_multiple_of(10) {
                    ("/big", 100 * 1024)
                } else {
                    ("/", 5)
                };
                match get_on(s, &host, path).await {
                    Ok((StatusCode::OK, got)) if got == len => {
                        t.plain.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => t.fail(&t.plain, format!("plain {path}: {other:?}")),
                }
            }
        }));
    }

    // HTTPS: a new connection (full handshake) for every few requests.
    {
        let t = tallies.clone();
        let tls = tls.clone();
        workers.push(tokio::spawn(async move {
            let host = format!("app.localhost:{}", https.port());
            while Instant::now() < deadline {
                let stream = match common::tls_connect(https, "app.localhost", tls.clone()).await {
                    Ok(stream) => stream,
                    Err(err) => {
                        t.fail(&t.tls, format!("TLS handshake: {err}"));
                        continue;
                    }
                };
                let Some(mut sender) = handshake(stream).await else {
                    t.fail(&t.tls, "TLS: HTTP handshake failed".into());
                    continue;
                };
                for _ in 0..5 {
                    match get_on(&mut sender, &host, "/").await {
                        Ok((StatusCode::OK, 5)) => {
                            t.tls.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => t.fail(&t.tls, format!("https /: {other:?}")),
                    }
                }
            }
        }));
    }

    // WebSockets: open, echo twenty messages, close.
    {
        let t = tallies.clone();
        workers.push(tokio::spawn(async move {
            let url = format!("ws://app.localhost:{}/ws", http.port());
            while Instant::now() < deadline {
                let session = async {
                    let tcp = TcpStream::connect(http).await.map_err(|e| e.to_string())?;
                    let (mut ws, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
                        .await
                        .map_err(|e| e.to_string())?;
                    for i in 0..20 {
                        let text = format!("message {i}");
                        ws.send(tokio_tungstenite::tungstenite::Message::text(text.clone()))
                            .await
                            .map_err(|e| e.to_string())?;
                        let reply = ws
                            .next()
                            .await
                            .ok_or("closed")?
                            .map_err(|e| e.to_string())?;
                        if reply.into_text().map_err(|e| e.to_string())?.as_str() != text {
                            return Err("wrong echo".to_owned());
                        }
                    }
                    ws.close(None).await.map_err(|e| e.to_string())
                };
                match tokio::time::timeout(Duration::from_secs(10), session).await {
                    Ok(Ok(())) => {
                        t.websocket.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => t.fail(&t.websocket, format!("websocket: {other:?}")),
                }
            }
        }));
    }

    // Server-Sent Events: a stream of five events, read to its end.
    {
        let t = tallies.clone();
        workers.push(tokio::spawn(async move {
            let host = format!("app.localhost:{}", http.port());
            while Instant::now() < deadline {
                let read = async {
                    let tcp = TcpStream::connect(http).await.map_err(|e| e.to_string())?;
                    let mut sender = handshake(tcp).await.ok_or("handshake")?;
                    let (status, _) = get_on(&mut sender, &host, "/sse").await?;
                    Ok::<_, String>(status)
                };
                match read.await {
                    Ok(StatusCode::OK) => {
                        t.sse.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => t.fail(&t.sse, format!("sse: {other:?}")),
                }
            }
        }));
    }

    // Injected faults: an upstream that is down (502) and one that answers 500.
    {
        let t = tallies.clone();
        workers.push(tokio::spawn(async move {
            let mut sender: Option<Sender> = None;
            let mut n = 0u64;
            while Instant::now() < deadline {
                if sender.as_ref().is_none_or(Sender::is_closed) {
                    match TcpStream::connect(http).await {
                        Ok(tcp) => sender = handshake(tcp).await,
                        Err(e) => t.fail(&t.errors, format!("errors: connect: {e}")),
                    }
                }
                let Some(s) = sender.as_mut() else { continue };
                n += 1;
                let (host, path, want) = if n.is_multiple_of(2) {
                    ("down.localhost", "/", StatusCode::BAD_GATEWAY)
                } else {
                    ("app.localhost", "/fail", StatusCode::INTERNAL_SERVER_ERROR)
                };
                match get_on(s, &format!("{host}:{}", http.port()), path).await {
                    Ok((status, _)) if status == want => {
                        t.errors.injected.fetch_add(1, Ordering::Relaxed);
                    }
                    other => t.fail(&t.errors, format!("{host}{path}: {other:?}")),
                }
                // Faults are a trickle, not the load.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    // Sample every 5 s.
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        samples.push((start.elapsed().as_secs(), sample()));
        tokio::time::sleep(
            Duration::from_secs(5).min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
    }
    for worker in workers {
        tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .expect("workers stop within 30 s of the deadline")
            .expect("worker did not panic");
    }
    // Measure once every client connection the engine had is closed.
    let engine_idle = common::eventually(Duration::from_secs(30), || async {
        let load = engine.engine().load();
        load.connections == 0 && load.requests == 0
    })
    .await;
    assert!(
        engine_idle,
        "connections still open 30 s after the clients stopped: {:?}",
        engine.engine().load()
    );
    let end = sample();

    let total = |t: &Tally| t.ok.load(Ordering::Relaxed);
    eprintln!(
        "soak: {seconds} s; plain {} ok, https {} ok, websocket sessions {} ok, sse streams {} ok, \
         injected faults answered {}",
        total(&tallies.plain),
        total(&tallies.tls),
        total(&tallies.websocket),
        total(&tallies.sse),
        tallies.errors.injected.load(Ordering::Relaxed),
    );
    for (at, (rss, anon, fds)) in &samples {
        eprintln!(
            "  t={at:>4} s  VmRSS {:>7} KiB  RssAnon {:>7} KiB  fds {fds}",
            rss, anon
        );
    }
    eprintln!(
        "  end       VmRSS {:>7} KiB  RssAnon {:>7} KiB  fds {}",
        end.0, end.1, end.2
    );
    let failures = tallies
        .first_failures
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let unexpected: u64 = [
        &tallies.plain,
        &tallies.tls,
        &tallies.websocket,
        &tallies.sse,
        &tallies.errors,
    ]
    .iter()
    .map(|t| t.unexpected.load(Ordering::Relaxed))
    .sum();
    assert_eq!(
        unexpected, 0,
        "failures beyond the injected ones: {failures:#?}"
    );
    for (name, t) in [
        ("plain", &tallies.plain),
        ("https", &tallies.tls),
        ("websocket", &tallies.websocket),
        ("sse", &tallies.sse),
    ] {
        assert!(total(t) > 0, "no {name} traffic got through");
    }
    assert!(
        tallies.errors.injected.load(Ordering::Relaxed) > 0,
        "no fault was injected"
    );

    // Flat: after the first quarter (warm-up: pools, caches, the capture store's pages), the
    // anonymous memory at the end is within a quarter (plus 16 MiB) of its level then, and
    // the descriptors within 16.
    let warm = samples
        .iter()
        .find(|(at, _)| *at >= seconds / 4)
        .map_or(samples[0].1, |(_, s)| *s);
    assert!(
        end.1 <= warm.1 + warm.1 / 4 + 16 * 1024,
        "anonymous memory grew from {} KiB after warm-up to {} KiB",
        warm.1,
        end.1
    );
    assert!(
        end.2 <= warm.2 + 16,
        "open descriptors grew from {} after warm-up to {}",
        warm.2,
        end.2
    );
}
