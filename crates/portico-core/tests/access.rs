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
#[tokio::test]
async fn bodies_over_the_limit_get_413() {
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
