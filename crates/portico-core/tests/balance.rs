//! Routes with several upstreams: each balancing policy's distribution, failover when an
//! upstream dies mid-test, recovery after the cool-down, active health checks, retries only
//! for idempotent requests, and the 502 that names every upstream. Real upstreams on
//! loopback ports; clients from 127.0.0.2-.3 where the policy keys on the address.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::{Reply, TestEngine, closed_port, eventually, send, send_from};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use portico_core::admin::Event;
use portico_core::config::{Balancing, HealthCheck, NewRoute, Policy, Route};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// An upstream that answers with its name, after `delay`; `/health` answers 200 or 503 as
/// `healthy` says. Dropping it closes its listener and every connection it has open.
struct Named {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Drop for Named {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn named(name: &'static str, delay: Duration) -> Named {
    named_at(name, "127.0.0.1:0".parse().expect("addr"), delay).await
}

async fn named_at(name: &'static str, addr: SocketAddr, delay: Duration) -> Named {
    let listener = TcpListener::bind(addr).await.expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let healthy = Arc::new(AtomicBool::new(true));
    let (h, ok) = (hits.clone(), healthy.clone());
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let (hits, healthy) = (h.clone(), ok.clone());
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let (hits, healthy) = (hits.clone(), healthy.clone());
                async move {
                    if req.uri().path() == "/health" {
                        let status = if healthy.load(Ordering::SeqCst) {
                            StatusCode::OK
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        };
                        let mut resp = Response::new(Full::new(Bytes::from_static(b"health")));
                        *resp.status_mut() = status;
                        return Ok::<_, std::convert::Infallible>(resp);
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    Ok(Response::new(Full::new(Bytes::from(name))))
                }
            });
            connections.spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Named {
        addr,
        hits,
        healthy,
        task,
    }
}

async fn balanced(
    engine: &TestEngine,
    host: &str,
    upstreams: &[SocketAddr],
    b: Balancing,
) -> Route {
    engine
        .add(NewRoute {
            host: host.into(),
            upstreams: upstreams.iter().map(|a| format!("http://{a}")).collect(),
            balancing: b,
            ..Default::default()
        })
        .await
}

fn policy(policy: Policy) -> Balancing {
    Balancing {
        policy,
        ..Balancing::default()
    }
}

async fn get(engine: &TestEngine, host: &str) -> Reply {
    send(engine.addr(), host, Request::get("/"), Bytes::new()).await
}

/// Who answered `n` sequential GETs, counted by name.
async fn spread(engine: &TestEngine, host: &str, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let reply = get(engine, host).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        *counts.entry(reply.body).or_insert(0) += 1;
    }
    counts
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test]
async fn an_answer_through_a_balanced_route_keeps_its_content_length() {
    let engine = TestEngine::start().await;
    let (a, b) = (
        named("a", Duration::ZERO).await,
        named("b", Duration::ZERO).await,
    );
    balanced(
        &engine,
        "lb.localhost",
        &[a.addr, b.addr],
        policy(Policy::RoundRobin),
    )
    .await;
    // The upstream's in-flight count rides in the body; the length must survive it.
    let reply = get(&engine, "lb.localhost").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-length"], "1", "{:?}", reply.headers);
    assert!(!reply.headers.contains_key("transfer-encoding"));
}

#[tokio::test]
async fn round_robin_is_exact_and_first_sends_everything_to_the_first() {
    let engine = TestEngine::start().await;
    let (a, b, c) = (
        named("a", Duration::ZERO).await,
        named("b", Duration::ZERO).await,
        named("c", Duration::ZERO).await,
    );
    let addrs = [a.addr, b.addr, c.addr];
    let rr_route = balanced(&engine, "rr.localhost", &addrs, policy(Policy::RoundRobin)).await;
    balanced(&engine, "first.localhost", &addrs, policy(Policy::First)).await;
    let rr = spread(&engine, "rr.localhost", 300).await;
    eprintln!("round_robin over 3, 300 requests: {rr:?}");
    assert_eq!(rr, counts(&[("a", 100), ("b", 100), ("c", 100)]));
    // The inspector records which upstream served each request.
    let traffic = engine.engine().traffic().clone();
    let served = || {
        let mut by: BTreeMap<String, usize> = BTreeMap::new();
        let filter = portico_core::store::TrafficFilter {
            route_id: Some(rr_route.id),
            limit: Some(500),
            ..Default::default()
        };
        for summary in traffic.list(&filter).expect("list") {
            {
                let exchange = traffic.get(summary.id).expect("read").expect("stored");
                *by.entry(exchange.upstream.unwrap_or_default()).or_insert(0) += 1;
            }
        }
        by
    };
    let all = eventually(Duration::from_secs(5), || {
        let n: usize = served().values().sum();
        async move { n == 300 }
    })
    .await;
    assert!(all, "every request captured: {:?}", served());
    let want: BTreeMap<String, usize> =
        addrs.iter().map(|a| (format!("http://{a}"), 100)).collect();
    assert_eq!(served(), want);
    let first = spread(&engine, "first.localhost", 30).await;
    eprintln!("first over 3, 30 requests: {first:?}");
    assert_eq!(first, counts(&[("a", 30)]));
}

#[tokio::test]
async fn least_conn_and_random_two_keep_requests_off_a_slow_upstream() {
    let engine = TestEngine::start().await;
    let slow = named("slow", Duration::from_millis(300)).await;
    let fast = named("fast", Duration::from_millis(5)).await;
    let addrs = [slow.addr, fast.addr];
    for (host, p) in [
        ("least.localhost", Policy::LeastConn),
        ("two.localhost", Policy::RandomTwo),
        ("even.localhost", Policy::RoundRobin),
    ] {
        balanced(&engine, host, &addrs, policy(p)).await;
        slow.hits.store(0, Ordering::SeqCst);
        fast.hits.store(0, Ordering::SeqCst);
        // 8 clients at a time, 64 requests in all.
        let mut clients = JoinSet::new();
        let addr = engine.addr();
        for _ in 0..8 {
            clients.spawn(async move {
                for _ in 0..8 {
                    let reply = send(addr, host, Request::get("/"), Bytes::new()).await;
                    assert_eq!(reply.status, StatusCode::OK);
                }
            });
        }
        while let Some(done) = clients.join_next().await {
            done.expect("client");
        }
        let (s, f) = (
            slow.hits.load(Ordering::SeqCst),
            fast.hits.load(Ordering::SeqCst),
        );
        eprintln!("{p:?} with a 300 ms upstream, 64 requests 8 at a time: slow {s}, fast {f}");
        assert_eq!(s + f, 64);
        match p {
            // The slow one holds its requests; new ones go to the idle fast one.
            Policy::LeastConn | Policy::RandomTwo => assert!(f >= 4 * s, "slow {s}, fast {f}"),
            _ => assert_eq!(s, 32, "round robin ignores load"),
        }
    }
}

#[tokio::test]
async fn ip_hash_and_cookie_keep_a_client_on_one_upstream() {
    let engine = TestEngine::start().await;
    let (a, b, c) = (
        named("a", Duration::ZERO).await,
        named("b", Duration::ZERO).await,
        named("c", Duration::ZERO).await,
    );
    let addrs = [a.addr, b.addr, c.addr];
    let sticky = balanced(&engine, "ip.localhost", &addrs, policy(Policy::IpHash)).await;
    let mut per_client = BTreeMap::new();
    for last in 2..=9u8 {
        let from = std::net::IpAddr::from([127, 0, 0, last]);
        let mut seen = BTreeMap::new();
        for _ in 0..10 {
            let reply = send_from(
                Some(from),
                engine.addr(),
                "ip.localhost",
                Request::get("/"),
                Bytes::new(),
            )
            .await;
            *seen.entry(reply.body).or_insert(0) += 1;
        }
        assert_eq!(
            seen.len(),
            1,
            "{from} always lands on one upstream: {seen:?}"
        );
        per_client.insert(from, seen.into_keys().next().expect("one"));
    }
    eprintln!("ip_hash, 10 requests from each of 8 addresses: {per_client:?}");
    let used: std::collections::BTreeSet<_> = per_client.values().collect();
    assert!(
        used.len() > 1,
        "addresses spread over upstreams: {per_client:?}"
    );
    assert_eq!(sticky.balancing.policy, Policy::IpHash);

    let route = balanced(&engine, "cookie.localhost", &addrs, policy(Policy::Cookie)).await;
    let first = get(&engine, "cookie.localhost").await;
    let set = first
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a sticky cookie")
        .to_owned();
    let name = format!("portico-upstream-{}=", route.id);
    assert!(set.starts_with(&name) && set.contains("HttpOnly"), "{set}");
    let pair = set.split(';').next().expect("pair").to_owned();
    let mut seen = BTreeMap::new();
    for _ in 0..20 {
        let reply = send(
            engine.addr(),
            "cookie.localhost",
            Request::get("/").header("cookie", format!("theme=dark; {pair}")),
            Bytes::new(),
        )
        .await;
        assert!(
            reply.headers.get("set-cookie").is_none(),
            "pinned: no new cookie"
        );
        *seen.entry(reply.body).or_insert(0) += 1;
    }
    eprintln!("cookie, 20 requests with the cookie: {seen:?}");
    assert_eq!(seen, counts(&[(first.body.as_str(), 20)]));
}

#[tokio::test]
async fn an_upstream_killed_mid_test_fails_over_and_comes_back_after_the_cool_down() {
    let engine = TestEngine::start().await;
    let mut events = engine.engine().events();
    let primary = named("primary", Duration::ZERO).await;
    let backup = named("backup", Duration::ZERO).await;
    let primary_addr = primary.addr;
    let route = balanced(
        &engine,
        "failover.localhost",
        &[primary.addr, backup.addr],
        Balancing {
            policy: Policy::First,
            max_fails: 1,
            fail_cooldown_ms: 500,
            health_check: None,
        },
    )
    .await;
    assert_eq!(
        spread(&engine, "failover.localhost", 10).await,
        counts(&[("primary", 10)])
    );

    drop(primary);
    // Every request still succeeds: the one that meets the dead upstream is retried.
    let during = spread(&engine, "failover.localhost", 20).await;
    eprintln!("first, primary killed: {during:?}");
    assert_eq!(during, counts(&[("backup", 20)]));
    let announced = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(Event::UpstreamHealth {
                    route_id,
                    upstream,
                    upstream_up: false,
                    up: true,
                    ..
                }) if route_id == route.id && upstream == format!("http://{primary_addr}") => {
                    return true;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return false,
            }
        }
    })
    .await;
    assert_eq!(announced, Ok(true), "the primary's fall is announced");

    // It comes back on the same port: after the cool-down (and a passing probe), traffic
    // returns to it.
    let _primary = named_at("primary", primary_addr, Duration::ZERO).await;
    let back = eventually(Duration::from_secs(8), || async {
        get(&engine, "failover.localhost").await.body == "primary"
    })
    .await;
    assert!(back, "traffic returns to the primary");
}

#[tokio::test]
async fn an_active_health_check_takes_a_failing_upstream_out_and_back() {
    let engine = TestEngine::start().await;
    let a = named("a", Duration::ZERO).await;
    let b = named("b", Duration::ZERO).await;
    a.healthy.store(false, Ordering::SeqCst);
    let route = balanced(
        &engine,
        "checked.localhost",
        &[a.addr, b.addr],
        Balancing {
            health_check: Some(HealthCheck {
                path: "/health".into(),
                interval_ms: 500,
                timeout_ms: 1000,
                expect_status: Some(200),
            }),
            ..Balancing::default()
        },
    )
    .await;
    let health = || async {
        engine
            .admin_get("/api/v1/health")
            .await
            .json()
            .as_array()
            .and_then(|l| l.iter().find(|h| h["route_id"] == route.id).cloned())
    };
    let checked = eventually(Duration::from_secs(5), || async {
        health()
            .await
            .is_some_and(|h| h["upstreams"][0]["up"] == false)
    })
    .await;
    assert!(checked, "the failing check is seen");
    let h = health().await.expect("listed");
    assert_eq!(h["up"], true, "b is up: {h}");
    assert_eq!(h["upstreams"][0]["probe"], "http");
    let why = h["upstreams"][0]["error"].as_str().expect("why").to_owned();
    assert!(why.contains("answered 503"), "{why}");
    assert_eq!(
        spread(&engine, "checked.localhost", 10).await,
        counts(&[("b", 10)])
    );

    a.healthy.store(true, Ordering::SeqCst);
    let back = eventually(Duration::from_secs(5), || async {
        health()
            .await
            .is_some_and(|h| h["upstreams"][0]["up"] == true)
    })
    .await;
    assert!(back, "the passing check brings it back");
    assert_eq!(
        spread(&engine, "checked.localhost", 10).await,
        counts(&[("a", 5), ("b", 5)])
    );
}

#[tokio::test]
async fn only_idempotent_requests_without_a_body_are_retried_on_the_next_upstream() {
    let engine = TestEngine::start().await;
    let first = named("first", Duration::ZERO).await;
    let second = named("second", Duration::ZERO).await;
    // Checked once an hour, and a hundred failures before resting: nothing but the retry
    // rule keeps a request off the dead upstream.
    balanced(
        &engine,
        "retry.localhost",
        &[first.addr, second.addr],
        Balancing {
            policy: Policy::First,
            max_fails: 100,
            fail_cooldown_ms: 10_000,
            health_check: Some(HealthCheck {
                path: "/health".into(),
                interval_ms: 3_600_000,
                timeout_ms: 1000,
                expect_status: None,
            }),
        },
    )
    .await;
    assert_eq!(get(&engine, "retry.localhost").await.body, "first");
    let first_addr = first.addr;
    drop(first);

    let post = send(
        engine.addr(),
        "retry.localhost",
        Request::post("/"),
        Bytes::from_static(b"x"),
    )
    .await;
    assert_eq!(post.status, StatusCode::BAD_GATEWAY, "{}", post.body);
    assert_eq!(post.headers["x-portico-error"], "upstream-refused");
    assert!(post.body.contains(&first_addr.to_string()), "{}", post.body);
    let put = send(
        engine.addr(),
        "retry.localhost",
        Request::put("/"),
        Bytes::from_static(b"x"),
    )
    .await;
    assert_eq!(
        put.status,
        StatusCode::BAD_GATEWAY,
        "a body cannot be resent"
    );
    assert_eq!(
        second.hits.load(Ordering::SeqCst),
        0,
        "nothing reached the second"
    );

    for method in ["GET", "HEAD", "DELETE", "OPTIONS"] {
        let reply = send(
            engine.addr(),
            "retry.localhost",
            Request::builder().method(method).uri("/"),
            Bytes::new(),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{method} retried: {}",
            reply.body
        );
    }
    assert_eq!(second.hits.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn when_every_upstream_is_down_the_502_names_each_and_its_error() {
    let engine = TestEngine::start().await;
    let (x, y) = (closed_port().await, closed_port().await);
    balanced(&engine, "dead.localhost", &[x, y], Balancing::default()).await;
    let reply = send(
        engine.addr(),
        "dead.localhost",
        Request::get("/").header("accept", "text/plain"),
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(reply.headers["x-portico-error"], "upstreams-down");
    for addr in [x, y] {
        assert!(
            reply.body.contains(&format!("http://{addr} (")),
            "{}",
            reply.body
        );
    }
    assert!(reply.body.contains("refused"), "{}", reply.body);
}
