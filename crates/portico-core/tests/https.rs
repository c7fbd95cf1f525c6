//! HTTPS with Portico's own CA, through real TLS clients that trust only that CA: rustls,
//! curl and openssl. Also the name constraints, leaf renewal, SNI refusal, the HTTP → HTTPS
//! redirect, WebSockets over TLS, and CA changes picked up live.

mod common;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use common::{TestEngine, client_config, eventually, spawn_echo, spawn_upstream, tls_connect};
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portico_core::config::NewRoute;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

fn root_pem(engine: &TestEngine) -> String {
    engine.engine().tls().authority().ca().root_pem().to_owned()
}

fn leaf_of(stream: &TlsStream<TcpStream>) -> (Vec<String>, Vec<u8>) {
    let certs = stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("peer certificates");
    let (_, leaf) = X509Certificate::from_der(&certs[0]).expect("leaf parses");
    let names = leaf
        .subject_alternative_name()
        .expect("SAN extension")
        .map(|san| {
            san.value
                .general_names
                .iter()
                .map(|n| match n {
                    GeneralName::DNSName(d) => (*d).to_owned(),
                    GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .unwrap_or_default();
    (names, leaf.raw_serial().to_vec())
}

#[tokio::test]
async fn a_client_trusting_only_the_portico_ca_gets_a_valid_h2_chain_for_the_host() {
    let engine = TestEngine::start_tls().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let config = client_config(&root_pem(&engine), &[b"h2", b"http/1.1"]);
    let stream = tls_connect(engine.https_addr(), "app.localhost", config)
        .await
        .expect("handshake verifies against the Portico root only");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (names, _) = leaf_of(&stream);
    assert_eq!(names, vec!["app.localhost".to_owned()]);

    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2");
    tokio::spawn(conn);
    let req = Request::get(format!(
        "https://app.localhost:{}/secure",
        engine.https_addr().port()
    ))
    .body(Empty::<Bytes>::new())
    .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let seen: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https");
    assert_eq!(seen["path"], "/secure");
}

#[tokio::test]
async fn curl_with_only_the_ca_file_gets_through_over_http2() {
    let engine = TestEngine::start_tls().await;
    let echo = spawn_echo("curl-echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let ca = engine.dir.path().join("ca").join("root.pem");
    let port = engine.https_addr().port();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(&ca)
            .args([
                "--resolve",
                &format!("app.localhost:{port}:127.0.0.1"),
                "-w",
                "\n%{http_version}",
                &format!("https://app.localhost:{port}/"),
            ])
            .output()
    })
    .await
    .expect("join")
    .expect("curl runs (install it: apt-get install curl)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("curl-echo"), "{stdout}");
    assert!(stdout.trim_end().ends_with('2'), "not HTTP/2: {stdout}");
}

#[tokio::test]
async fn openssl_s_client_verifies_the_chain_and_negotiates_h2() {
    let engine = TestEngine::start_tls().await;
    let ca = engine.dir.path().join("ca").join("root.pem");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("openssl")
            .args(["s_client", "-connect"])
            .arg(engine.https_addr().to_string())
            .args([
                "-servername",
                "app.localhost",
                "-verify_return_error",
                "-alpn",
                "h2",
                "-CAfile",
            ])
            .arg(&ca)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await
    .expect("join")
    .expect("openssl runs (install it: apt-get install openssl)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Verify return code: 0 (ok)"), "{stdout}");
    assert!(stdout.contains("ALPN protocol: h2"), "{stdout}");
}

/// Sign a leaf for `host` with the intermediate's key straight from the data dir, the way an
/// attacker who stole it would, and ask openssl to verify it against the root.
fn forge_and_verify(data_dir: &std::path::Path, host: &str) -> (bool, String) {
    let ca = data_dir.join("ca");
    let key = std::fs::read_to_string(ca.join("intermediate.key")).expect("intermediate key");
    let cert = std::fs::read_to_string(ca.join("intermediate.pem")).expect("intermediate cert");
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&cert, rcgen::KeyPair::from_pem(&key).expect("key"))
            .expect("issuer");
    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let params = rcgen::CertificateParams::new(vec![host.to_owned()]).expect("params");
    let leaf = params.signed_by(&leaf_key, &issuer).expect("signed");
    let leaf_path = data_dir.join(format!("forged-{host}.pem"));
    std::fs::write(&leaf_path, leaf.pem()).expect("write leaf");
    let out = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca.join("root.pem"))
        .arg("-untrusted")
        .arg(ca.join("intermediate.pem"))
        .arg(&leaf_path)
        .output()
        .expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn the_name_constraints_bite_and_the_engine_refuses_foreign_names() {
    let engine = TestEngine::start_tls().await;
    let dir = engine.dir.path().to_owned();
    let (ok, text) = forge_and_verify(&dir, "app.localhost");
    assert!(ok, "a local name signed the same way must verify: {text}");
    let (ok, text) = forge_and_verify(&dir, "example.com");
    assert!(!ok, "example.com verified: {text}");
    assert!(text.contains("permitted subtree violation"), "{text}");

    let err = engine
        .engine()
        .tls()
        .certificate_for("example.com")
        .expect_err("refused");
    assert!(
        err.to_string().contains("not under a local suffix"),
        "{err}"
    );
    let config = client_config(&root_pem(&engine), &[b"http/1.1"]);
    assert!(
        tls_connect(engine.https_addr(), "example.com", config)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_client_without_sni_gets_the_localhost_certificate_with_loopback_ips() {
    let engine = TestEngine::start_tls().await;
    // rustls sends no SNI for an IP address.
    let config = client_config(&root_pem(&engine), &[b"http/1.1"]);
    let stream = tls_connect(engine.https_addr(), "127.0.0.1", config)
        .await
        .expect("verifies for the IP");
    let (names, _) = leaf_of(&stream);
    assert!(names.contains(&"localhost".to_owned()), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("ip:")), "{names:?}");
}

#[tokio::test]
async fn the_ca_is_the_same_across_restarts_and_leaves_come_back_from_the_store() {
    let mut engine = TestEngine::start_tls().await;
    let before = engine.engine().tls().authority().ca().root_fingerprint();
    let config = client_config(&root_pem(&engine), &[b"http/1.1"]);
    let stream = tls_connect(engine.https_addr(), "app.localhost", config.clone())
        .await
        .expect("handshake");
    let (_, serial) = leaf_of(&stream);
    drop(stream);
    let store = portico_core::store::Store::open_dir(engine.dir.path()).expect("store");
    let issuer = engine
        .engine()
        .tls()
        .authority()
        .ca()
        .intermediate_fingerprint();
    let stored = eventually(Duration::from_secs(5), || {
        let found = store.certificates(&issuer).map(|c| c.len()).unwrap_or(0);
        async move { found == 1 }
    })
    .await;
    assert!(stored, "the issued leaf was not stored");
    engine.handle.take().expect("running").shutdown().await;

    let restarted = portico_core::Engine::start(common::tls_config(engine.dir.path()))
        .await
        .expect("restart");
    assert_eq!(restarted.tls().authority().ca().root_fingerprint(), before);
    let stream = tls_connect(restarted.https_addrs()[0], "app.localhost", config)
        .await
        .expect("handshake after restart");
    assert_eq!(leaf_of(&stream).1, serial, "the stored leaf was reused");
}

#[tokio::test]
async fn a_corrupt_ca_key_stops_the_engine_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("dir");
    drop(
        portico_core::Engine::start(common::tls_config(dir.path()))
            .await
            .expect("first start"),
    );
    let key = dir.path().join("ca").join("root.key");
    std::fs::write(&key, "garbage").expect("corrupt");
    let err = portico_core::Engine::start(common::tls_config(dir.path()))
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("root.key"), "{text}");
    assert!(text.contains("portico ca rotate"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&key).expect("read"),
        "garbage",
        "key left alone"
    );
}

#[tokio::test]
async fn leaves_near_expiry_are_renewed() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = common::tls_config(dir.path());
    // Every leaf is "due" at once: lifetime shorter than the renewal window.
    config.leaf_policy.lifetime = Duration::from_secs(3600);
    config.leaf_policy.renew_before = Duration::from_secs(7200);
    let engine = portico_core::Engine::start(config).await.expect("start");
    let root = engine.tls().authority().ca().root_pem().to_owned();
    let client = client_config(&root, &[b"http/1.1"]);
    let first = tls_connect(engine.https_addrs()[0], "app.localhost", client.clone())
        .await
        .expect("first");
    let second = tls_connect(engine.https_addrs()[0], "app.localhost", client)
        .await
        .expect("second");
    assert_ne!(
        leaf_of(&first).1,
        leaf_of(&second).1,
        "a due leaf was not renewed"
    );
}

#[tokio::test]
async fn plain_http_is_redirected_to_https_unless_the_route_opts_out() {
    let engine = TestEngine::start_tls().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    engine
        .add(NewRoute {
            host: "plain.localhost".into(),
            upstreams: vec![format!("http://{}", echo.addr)],
            https_redirect: Some(false),
            ..Default::default()
        })
        .await;
    let reply = engine.get("app.localhost", "/a/b?c=1").await;
    assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        reply.headers["location"],
        format!(
            "https://app.localhost:{}/a/b?c=1",
            engine.https_addr().port()
        )
    );
    assert_eq!(
        engine.get("plain.localhost", "/").await.status,
        StatusCode::OK
    );

    let ca = engine.get("portico.localhost", "/ca.pem").await;
    assert_eq!(ca.status, StatusCode::OK);
    assert_eq!(ca.body, root_pem(&engine));
    let der = engine.get("portico.localhost", "/ca.crt").await;
    assert_eq!(der.headers["content-type"], "application/x-x509-ca-cert");
    // A phone asks by this machine's address: the same files, and nothing else there.
    for host in ["192.168.1.20", "127.0.0.1", "[fd00::1]"] {
        let by_address = engine.get(host, "/ca.crt").await;
        assert_eq!(by_address.status, StatusCode::OK, "{host}");
        assert_eq!(by_address.raw, der.raw, "{host}");
        assert_eq!(engine.get(host, "/ca.pem").await.body, root_pem(&engine));
        assert_eq!(
            engine.get(host, "/other").await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn a_websocket_over_https_echoes_through_the_proxy() {
    use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
    let engine = TestEngine::start_tls().await;
    let upstream = spawn_upstream(axum::Router::new().route(
        "/ws",
        axum::routing::get(|ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(WsMessage::Text(text))) = socket.recv().await {
                    let _ = socket
                        .send(WsMessage::Text(format!("tls: {}", text.as_str()).into()))
                        .await;
                }
            })
        }),
    ))
    .await;
    engine.route("app.localhost", "/", upstream.addr).await;
    // A browser without RFC 8441 support opens WebSockets on an HTTP/1.1 connection.
    let config = client_config(&root_pem(&engine), &[b"http/1.1"]);
    let stream = tls_connect(engine.https_addr(), "app.localhost", config)
        .await
        .expect("handshake");
    let url = format!("wss://app.localhost:{}/ws", engine.https_addr().port());
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("upgrade");
    ws.send(tokio_tungstenite::tungstenite::Message::text("hi"))
        .await
        .expect("send");
    let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("reply in time")
        .expect("open")
        .expect("message");
    assert_eq!(reply.into_text().expect("text").as_str(), "tls: hi");
}

#[tokio::test]
async fn a_new_local_suffix_in_settings_reissues_the_intermediate_live_under_the_same_root() {
    let engine = TestEngine::start_tls().await;
    let root = engine.engine().tls().authority().ca().root_fingerprint();
    assert!(
        engine
            .engine()
            .tls()
            .certificate_for("printer.lan")
            .is_err()
    );
    let store = portico_core::store::Store::open_dir(engine.dir.path()).expect("store");
    let mut settings = store.settings().expect("settings");
    settings.local_suffixes = vec!["lan".into()];
    store.put_settings(&settings).expect("save");
    let picked_up = eventually(Duration::from_secs(2), || async {
        engine.engine().tls().certificate_for("printer.lan").is_ok()
    })
    .await;
    assert!(picked_up, "the new suffix did not reach the running engine");
    assert_eq!(
        engine.engine().tls().authority().ca().root_fingerprint(),
        root
    );
}

#[tokio::test]
async fn a_ca_rotated_by_another_process_is_picked_up_live() {
    let engine = TestEngine::start_tls().await;
    let old = engine.engine().tls().authority().ca().root_fingerprint();
    let ca_dir = engine.dir.path().join("ca");
    portico_core::tls::Ca::retire(&ca_dir).expect("retire");
    let (new_ca, _) =
        portico_core::tls::Ca::load_or_create(&ca_dir, "tester@testhost", &[]).expect("new CA");
    let new = new_ca.root_fingerprint();
    assert_ne!(old, new);
    let picked_up = eventually(Duration::from_secs(2), || async {
        engine.engine().tls().authority().ca().root_fingerprint() == new
    })
    .await;
    assert!(picked_up, "the rotated CA did not reach the running engine");
    let config = client_config(new_ca.root_pem(), &[b"http/1.1"]);
    tls_connect(engine.https_addr(), "app.localhost", config)
        .await
        .expect("leaves now chain to the new root");
}

/// Clients of the HTTPS listener run on the same machine, so it picks the suite that is
/// fastest there (AES-128-GCM with AES instructions, else ChaCha20) whatever order a client
/// lists them in (OpenSSL's clients list AES-256 first), and still serves a client that
/// offers any single suite.
#[tokio::test]
async fn the_listener_picks_the_suite_fastest_here_and_serves_a_client_offering_any_one() {
    use rustls::crypto::ring::cipher_suite::{
        TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
    };
    let engine = TestEngine::start_tls().await;
    let echo = spawn_echo("echo").await;
    engine.route("app.localhost", "/", echo.addr).await;
    let root = root_pem(&engine);
    let fastest = if portico_core::tls::has_aes_instructions() {
        TLS13_AES_128_GCM_SHA256
    } else {
        TLS13_CHACHA20_POLY1305_SHA256
    };
    let all = [
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS13_AES_128_GCM_SHA256,
    ];
    let mut cases = vec![(all.to_vec(), fastest)];
    cases.extend(all.iter().map(|suite| (vec![*suite], *suite)));
    for (offered, expected) in cases {
        let stream = tls_connect(
            engine.https_addr(),
            "app.localhost",
            common::client_config_offering(&root, &[], &offered),
        )
        .await
        .unwrap_or_else(|err| panic!("handshake offering {offered:?}: {err}"));
        let negotiated = stream.get_ref().1.negotiated_cipher_suite();
        assert_eq!(
            negotiated.map(|s| s.suite()),
            Some(expected.suite()),
            "offering {offered:?}"
        );
    }
}
