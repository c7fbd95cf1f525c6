//! A real browser against a real engine: Debian's Chromium, headless, trusting Portico's CA
//! only through the NSS database that `trust` wrote into a temporary HOME, loads
//! `https://app.localhost:<port>` and opens a WebSocket through the proxy. Without the trust,
//! the same load fails; after `untrust`, the stores are as they were.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::routing::get;
use common::{TestEngine, spawn_upstream};
use portico_core::tls::trust::{self, CaCert, Change, Elevation, SystemStore, TrustEnv};
use tokio::sync::Notify;

const CHROMIUM: &str = "/usr/bin/chromium";

/// What the upstream saw the browser do.
#[derive(Default)]
struct Seen {
    page_over_https: AtomicBool,
    websocket_round_trip: AtomicBool,
    done: Notify,
}

/// The page opens `wss://<same host>/ws`, sends "ping", and answers the "pong" with "got pong".
/// `/after-ws.js` is a blocking script the server holds back until that round trip is done,
/// so the page's load event (when `--dump-dom` prints and Chromium exits) comes after it.
async fn spawn_app(seen: Arc<Seen>) -> common::Upstream {
    let page = {
        let seen = seen.clone();
        move |headers: http::HeaderMap| {
            let seen = seen.clone();
            async move {
                if headers
                    .get("x-forwarded-proto")
                    .is_some_and(|v| v == "https")
                {
                    seen.page_over_https.store(true, Ordering::SeqCst);
                }
                axum::response::Html(
                    "<!doctype html><html><body><p id=status>pending</p><script>\
                     const ws = new WebSocket('wss://' + location.host + '/ws');\
                     ws.onopen = () => ws.send('ping');\
                     ws.onmessage = (e) => { document.getElementById('status').textContent = 'ws:' + e.data; ws.send('got ' + e.data); };\
                     </script><script src=\"/after-ws.js\"></script></body></html>",
                )
            }
        }
    };
    let ws = {
        let seen = seen.clone();
        move |upgrade: WebSocketUpgrade| {
            let seen = seen.clone();
            async move {
                upgrade.on_upgrade(move |mut socket| async move {
                    while let Some(Ok(Message::Text(text))) = socket.recv().await {
                        match text.as_str() {
                            "ping" => {
                                let _ = socket.send(Message::Text("pong".into())).await;
                            }
                            "got pong" => {
                                seen.websocket_round_trip.store(true, Ordering::SeqCst);
                                seen.done.notify_waiters();
                                seen.done.notify_one();
                            }
                            _ => {}
                        }
                    }
                })
            }
        }
    };
    let after = {
        let seen = seen.clone();
        move || {
            let seen = seen.clone();
            async move {
                let _ = tokio::time::timeout(Duration::from_secs(15), seen.done.notified()).await;
                (
                    [(http::header::CONTENT_TYPE, "text/javascript")],
                    "document.title = 'done';",
                )
            }
        }
    };
    spawn_upstream(
        Router::new()
            .route("/", get(page))
            .route("/ws", get(ws))
            .route("/after-ws.js", get(after)),
    )
    .await
}

/// Run headless Chromium with `home` as HOME on `url`; returns the dumped DOM and stderr.
async fn chromium(home: &Path, url: String) -> (String, String) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium package (make test does)"
    );
    let profile = tempfile::tempdir().expect("profile dir");
    let home = home.to_owned();
    let profile_path = profile.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .arg("60")
            .arg(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-features=HttpsUpgrades",
            ])
            .arg(format!("--user-data-dir={}", profile_path.display()))
            .arg("--dump-dom")
            .arg(url)
            .env("HOME", &home)
            .stdin(Stdio::null())
            .output()
    })
    .await
    .expect("join")
    .expect("chromium runs");
    drop(profile);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn trust_env(home: &Path, anchors: &Path) -> TrustEnv {
    TrustEnv {
        home: home.to_owned(),
        system: SystemStore::Debian {
            anchor_dir: anchors.to_owned(),
            refresh: None,
            bundle: None,
        },
        elevation: Elevation::AsIs,
        node_extra_ca_certs: None,
        certutil: PathBuf::from("certutil"),
        keytool: PathBuf::from("keytool"),
        java_keystore: None,
        path_var: None,
    }
}

fn nss_listing(home: &Path) -> String {
    let out = Command::new("certutil")
        .args(["-L", "-d"])
        .arg(format!("sql:{}", home.join(".pki/nssdb").display()))
        .stdin(Stdio::null())
        .output()
        .expect("certutil runs (install libnss3-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_trusting_the_ca_via_nss_loads_the_page_and_opens_a_websocket_over_https() {
    let engine = TestEngine::start_tls().await;
    let seen = Arc::new(Seen::default());
    let app = spawn_app(seen.clone()).await;
    engine.route("app.localhost", "/", app.addr).await;
    let url = format!("https://app.localhost:{}/", engine.https_addr().port());

    let home = tempfile::tempdir().expect("home");
    let anchors = tempfile::tempdir().expect("anchors");
    let env = trust_env(home.path(), anchors.path());
    let ca = engine.engine().tls().authority();
    let cert = CaCert::from_pem_file(
        &ca.ca().root_path(),
        format!("{} test", ca.ca().root_name()),
    )
    .expect("CA cert");

    // Control: before trust, Chromium must refuse the certificate and reach nothing.
    let (dom, _) = chromium(home.path(), url.clone()).await;
    assert!(
        !dom.contains("ws:pong"),
        "loaded without trusting the CA: {dom}"
    );
    assert!(
        !seen.page_over_https.load(Ordering::SeqCst),
        "the untrusted load reached the app"
    );

    for outcome in trust::trust(&env, &cert) {
        match outcome.result {
            Ok(_) => {}
            Err(err) if outcome.store.to_string() == "Java" => eprintln!("Java: {err}"),
            Err(err) => panic!("trust into {} failed: {err}", outcome.store),
        }
    }
    let nss_trusted = nss_listing(home.path());
    assert!(nss_trusted.contains("Portico"), "{nss_trusted}");

    let (dom, stderr) = chromium(home.path(), url).await;
    assert!(
        seen.page_over_https.load(Ordering::SeqCst),
        "Chromium did not load the page over HTTPS.\nDOM: {dom}\nstderr: {stderr}"
    );
    assert!(
        seen.websocket_round_trip.load(Ordering::SeqCst),
        "no WebSocket round trip through the proxy.\nDOM: {dom}\nstderr: {stderr}"
    );
    assert!(dom.contains("ws:pong"), "{dom}");

    for outcome in trust::untrust(&env, &cert) {
        if let Err(err) = outcome.result {
            panic!("untrust from {} failed: {err}", outcome.store);
        }
        if outcome.store.to_string() == "Chromium" {
            assert_eq!(outcome.result.ok(), Some(Change::Removed));
        }
    }
    assert!(
        !nss_listing(home.path()).contains("Portico"),
        "NSS still lists the CA"
    );
    let left: Vec<_> = std::fs::read_dir(anchors.path())
        .expect("anchors")
        .collect();
    assert!(
        left.is_empty(),
        "the system anchor dir is not as it was: {left:?}"
    );
}
