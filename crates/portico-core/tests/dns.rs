//! The DNS responder, asked by the real `dig` (dnsutils) over UDP and TCP on loopback, while
//! its settings change through the admin API. Without `dig` these tests say so and skip;
//! `scripts/install-deps.sh` installs it.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{TestEngine, send};
use http::StatusCode;
use portico_core::config::SettingsPatch;
use serde_json::json;

/// What `dig` printed, parsed.
#[derive(Debug)]
struct Dig {
    /// `NOERROR`, `REFUSED`, … or `no answer` when dig got none (nothing listening).
    status: String,
    /// The header's flags, e.g. `qr aa rd`.
    flags: String,
    /// Answer section records: (owner, type, data).
    answers: Vec<(String, String, String)>,
    /// Authority section records.
    authority: Vec<(String, String, String)>,
    /// The whole output, for failure messages.
    text: String,
}

fn have_dig() -> bool {
    let found = std::process::Command::new("dig")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "skipped: `dig` is not installed (apt-get install dnsutils; scripts/install-deps.sh does it)"
        );
    }
    found
}

/// `dig @IP -p PORT NAME TYPE` (with `+tcp` when asked), one try of at most two seconds.
async fn dig(server: SocketAddr, name: &str, kind: &str, tcp: bool) -> Dig {
    let mut args = vec![
        format!("@{}", server.ip()),
        "-p".into(),
        server.port().to_string(),
        "+tries=1".into(),
        "+time=2".into(),
        "+norecurse".into(),
        name.into(),
        kind.into(),
    ];
    if tcp {
        args.push("+tcp".into());
    }
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("dig")
            .args(&args)
            .output()
            .expect("dig runs")
    })
    .await
    .expect("dig finished");
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn parse(text: &str) -> Dig {
    let after = |key: &str| -> String {
        text.split_once(key)
            .map(|(_, rest)| {
                rest.split([',', ';', '\n'])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default()
    };
    let section = |title: &str| -> Vec<(String, String, String)> {
        let Some((_, rest)) = text.split_once(title) else {
            return Vec::new();
        };
        rest.lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f.first().copied().unwrap_or_default().to_owned(),
                    f.get(3).copied().unwrap_or_default().to_owned(),
                    f.get(4..).map(|d| d.join(" ")).unwrap_or_default(),
                )
            })
            .collect()
    };
    let status = after("status:");
    Dig {
        status: if status.is_empty() {
            "no answer".into()
        } else {
            status
        },
        flags: after("flags:"),
        answers: section(";; ANSWER SECTION:"),
        authority: section(";; AUTHORITY SECTION:"),
        text: text.to_owned(),
    }
}

/// Patch the settings through the admin API, as the UI does.
async fn patch_settings(engine: &TestEngine, body: serde_json::Value) -> common::Reply {
    let token = engine.engine().admin_token().expect("admin").to_owned();
    send(
        engine.admin_addr(),
        "127.0.0.1",
        http::Request::patch("/api/v1/settings")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json"),
        Bytes::from(body.to_string()),
    )
    .await
}

/// The `dns` object of `/api/v1/status`.
async fn dns_status(engine: &TestEngine) -> serde_json::Value {
    let reply = engine.admin_get("/api/v1/status").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()["dns"].clone()
}

/// Poll the status until `done` holds (at most `within`).
async fn wait_for_dns(
    engine: &TestEngine,
    within: Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let status = dns_status(engine).await;
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "DNS status never got there: {status:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port held for both UDP and TCP (the responder needs both), below the range the
/// system hands out for port 0 and outgoing connections: once freed, nothing else running
/// here takes it in the meantime. (A UDP port from port 0 could already be in use for TCP,
/// by any connection's local end.)
async fn occupy_both() -> ((tokio::net::UdpSocket, tokio::net::TcpListener), u16) {
    let start = 20_000 + (std::process::id() % 10_000) as u16;
    for port in (start..30_000).chain(20_000..start) {
        let Ok(udp) = tokio::net::UdpSocket::bind(("127.0.0.1", port)).await else {
            continue;
        };
        if let Ok(tcp) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            return ((udp, tcp), port);
        }
    }
    panic!("no port free for both UDP and TCP in 20000-29999");
}

fn listening(status: &serde_json::Value) -> SocketAddr {
    status["listening"]
        .as_str()
        .unwrap_or_else(|| panic!("not listening: {status:#}"))
        .parse()
        .expect("an address")
}

#[tokio::test]
async fn names_under_the_suffixes_get_loopback_over_udp_and_tcp_and_others_are_refused() {
    if !have_dig() {
        return;
    }
    let engine = TestEngine::start().await;
    let reply = patch_settings(
        &engine,
        json!({"dns_suffixes": ["test", "Dev.Internal."], "dns_listen": "127.0.0.1:0"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.json()["dns_suffixes"],
        json!(["test", "dev.internal"])
    );
    let status = dns_status(&engine).await;
    assert_eq!(status["enabled"], true);
    assert_eq!(status["error"], serde_json::Value::Null);
    let server = listening(&status);
    assert!(
        server.ip().is_loopback() && server.port() != 0,
        "{status:#}"
    );

    for tcp in [false, true] {
        let how = if tcp { "TCP" } else { "UDP" };
        for name in [
            "app.test",
            "a.b.c.d.test",
            "App.TeSt",
            "test",
            "x.dev.internal",
        ] {
            let a = dig(server, name, "A", tcp).await;
            assert_eq!(a.status, "NOERROR", "{how} {name}: {}", a.text);
            assert!(
                a.flags.split(' ').any(|f| f == "aa"),
                "authoritative: {}",
                a.text
            );
            assert_eq!(
                a.answers,
                vec![(format!("{name}."), "A".into(), "127.0.0.1".into())],
                "{how} {name}: {}",
                a.text
            );
            let ttl: u32 = a
                .text
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                .unwrap_or(u32::MAX);
            assert!(ttl <= 60, "a short TTL: {}", a.text);
            let aaaa = dig(server, name, "AAAA", tcp).await;
            assert_eq!(aaaa.status, "NOERROR", "{how} {name}: {}", aaaa.text);
            assert_eq!(
                aaaa.answers,
                vec![(format!("{name}."), "AAAA".into(), "::1".into())],
                "{how} {name}: {}",
                aaaa.text
            );
        }
        for kind in ["MX", "TXT"] {
            let none = dig(server, "mail.app.test", kind, tcp).await;
            assert_eq!(none.status, "NOERROR", "{how} {kind}: {}", none.text);
            assert!(none.answers.is_empty(), "{how} {kind}: {}", none.text);
            assert_eq!(none.authority.len(), 1, "{how} {kind}: {}", none.text);
            assert_eq!(none.authority[0].0, "test.", "{}", none.text);
            assert_eq!(none.authority[0].1, "SOA", "{}", none.text);
        }
        let deeper = dig(server, "api.x.dev.internal", "TXT", tcp).await;
        assert_eq!(deeper.authority[0].0, "dev.internal.", "{}", deeper.text);
        for outside in [
            "example.com",
            "test.example",
            "internal",
            "other.internal",
            "localhost",
        ] {
            let refused = dig(server, outside, "A", tcp).await;
            assert_eq!(
                refused.status, "REFUSED",
                "{how} {outside}: {}",
                refused.text
            );
            assert!(refused.answers.is_empty(), "{}", refused.text);
        }
    }
}

#[tokio::test]
async fn changing_the_settings_through_the_admin_api_restarts_the_responder() {
    if !have_dig() {
        return;
    }
    let engine = TestEngine::start().await;
    let status = dns_status(&engine).await;
    assert_eq!(status["enabled"], false, "off by default: {status:#}");
    assert_eq!(status["listening"], serde_json::Value::Null);
    assert_eq!(status["listen"], "127.0.0.1:5354");

    patch_settings(
        &engine,
        json!({"dns_suffixes": ["test"], "dns_listen": "127.0.0.1:0"}),
    )
    .await;
    let first = listening(&dns_status(&engine).await);
    assert_eq!(dig(first, "app.test", "A", false).await.status, "NOERROR");

    // New suffixes apply on the same sockets.
    let reply = patch_settings(&engine, json!({"dns_suffixes": ["lan"]})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let status = dns_status(&engine).await;
    assert_eq!(listening(&status), first);
    assert_eq!(status["suffixes"][0]["suffix"], "lan");
    assert_eq!(dig(first, "app.test", "A", false).await.status, "REFUSED");
    let lan = dig(first, "nas.lan", "A", true).await;
    assert_eq!(lan.answers[0].2, "127.0.0.1", "{}", lan.text);

    // A new address: the old one stops answering.
    let reply = patch_settings(&engine, json!({"dns_listen": "127.0.0.2:0"})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let second = listening(&dns_status(&engine).await);
    assert_eq!(second.ip().to_string(), "127.0.0.2");
    assert_eq!(
        dig(second, "nas.lan", "AAAA", false).await.answers[0].2,
        "::1"
    );
    let gone = dig(first, "nas.lan", "A", false).await;
    assert_ne!(gone.status, "NOERROR", "{}", gone.text);

    // A refused value changes nothing.
    let reply = patch_settings(&engine, json!({"dns_listen": "192.0.2.1:53"})).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(reply.json()["field"], "dns_listen");
    assert!(reply.body.contains("loopback"), "{}", reply.body);
    let reply = patch_settings(&engine, json!({"dns_suffixes": ["localhost"]})).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(listening(&dns_status(&engine).await), second);

    // No suffixes: the responder stops and its port is free.
    patch_settings(&engine, json!({"dns_suffixes": []})).await;
    let status = dns_status(&engine).await;
    assert_eq!(status["enabled"], false);
    assert_eq!(status["listening"], serde_json::Value::Null);
    assert_ne!(dig(second, "nas.lan", "A", false).await.status, "NOERROR");
    tokio::net::UdpSocket::bind(second)
        .await
        .expect("the stopped responder's port is free again");

    // GET /api/v1/dns has the setup for this platform.
    patch_settings(
        &engine,
        json!({"dns_suffixes": ["test"], "dns_listen": "127.0.0.1:0"}),
    )
    .await;
    let setup = engine.admin_get("/api/v1/dns").await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    let setup = setup.json();
    assert_eq!(setup["status"]["enabled"], true);
    assert!(
        setup["plan"]["note"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "{setup:#}"
    );
    assert_eq!(setup["plan"]["responder"], setup["status"]["listening"]);
}

#[tokio::test]
async fn a_taken_port_is_a_status_error_the_engine_still_proxies_and_it_binds_once_free() {
    if !have_dig() {
        return;
    }
    let (taken, port) = occupy_both().await;
    let engine = TestEngine::start_with(SettingsPatch {
        dns_suffixes: Some(vec!["test".into()]),
        dns_listen: Some(format!("127.0.0.1:{port}")),
        ..SettingsPatch::default()
    })
    .await;
    let status = dns_status(&engine).await;
    assert_eq!(status["enabled"], true);
    assert_eq!(status["listening"], serde_json::Value::Null);
    let error = status["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("127.0.0.1:{port}")) && error.contains("dns_listen"),
        "the error names the address and the setting: {status:#}"
    );
    assert_eq!(status["suffixes"][0]["resolver_configured"], false);

    let upstream = common::spawn_upstream(
        axum::Router::new().route("/", axum::routing::get(|| async { "proxied" })),
    )
    .await;
    engine.route("app.localhost", "/", upstream.addr).await;
    let reply = engine.get("app.localhost", "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "proxied")
    );

    // Freed, the port is taken within the retry interval (5 s) plus a watcher tick.
    drop(taken);
    let status = wait_for_dns(&engine, Duration::from_secs(15), |s| {
        !s["listening"].is_null()
    })
    .await;
    assert_eq!(status["error"], serde_json::Value::Null);
    let server = listening(&status);
    assert_eq!(server.port(), port);
    let a = dig(server, "app.test", "A", true).await;
    assert_eq!(a.answers[0].2, "127.0.0.1", "{}", a.text);
}
