//! `GET /api/v1/doctor` against real broken setups: an upstream on a closed port, a real Vite
//! dev server that refuses a custom TLD (fixed by the offered `upstream_host` action), a real
//! Next.js dev server that refuses its HMR websocket to the route's origin (fixed by
//! `allowedDevOrigins`), a CA that a (temporary) system store does not trust (fixed by the
//! offered trust action), and a name that does not resolve.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Reply, send};
use http::StatusCode;
use portico_core::config::NewRoute;
use portico_core::tls::trust::{Elevation, SystemStore, TrustEnv};
use portico_core::{Engine, EngineHandle};
use serde_json::{Value, json};
use tempfile::TempDir;

/// An engine on ephemeral ports whose doctor reads `hosts` and whose trust stores are
/// temporary: a Debian-style anchor folder and a home without browsers.
struct Doctor {
    engine: EngineHandle,
    _dir: TempDir,
    anchors: PathBuf,
}

impl Doctor {
    async fn start(hosts: &Path) -> Doctor {
        let dir = tempfile::tempdir().expect("temp dir");
        let anchors = dir.path().join("anchors");
        std::fs::create_dir_all(&anchors).expect("anchor dir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let mut config = common::tls_config(&dir.path().join("data"));
        config.hosts = Some(portico_core::hosts::HostsConfig {
            file: hosts.to_owned(),
            is_default: false,
        });
        config.trust = Some(TrustEnv {
            home,
            system: SystemStore::Debian {
                anchor_dir: anchors.clone(),
                refresh: None,
                bundle: None,
            },
            elevation: Elevation::AsIs,
            node_extra_ca_certs: None,
            certutil: dir.path().join("no-certutil"),
            keytool: dir.path().join("no-keytool"),
            java_keystore: None,
            path_var: None,
        });
        let engine = Engine::start(config).await.expect("engine starts");
        Doctor {
            engine,
            _dir: dir,
            anchors,
        }
    }

    async fn call(&self, method: http::Method, path: &str, body: Option<Value>) -> Reply {
        let token = self.engine.admin_token().expect("admin").to_owned();
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        send(self.engine.admin_addrs()[0], "127.0.0.1", req, body).await
    }

    /// The doctor's report for `host`.
    async fn report(&self, host: &str) -> Value {
        let reply = self
            .call(
                http::Method::GET,
                &format!("/api/v1/doctor?host={host}"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()
    }
}

/// The findings of `check` in `report`.
fn findings<'a>(report: &'a Value, check: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

fn one<'a>(report: &'a Value, check: &str) -> &'a Value {
    let found = findings(report, check);
    assert_eq!(found.len(), 1, "one {check} finding expected: {report:#}");
    found[0]
}

fn empty_hosts() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("hosts file");
    std::fs::write(file.path(), "127.0.0.1 localhost\n").expect("write hosts");
    file
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test]
async fn an_upstream_on_a_closed_port_is_reported_with_how_to_start_it() {
    let hosts = empty_hosts();
    let doctor = Doctor::start(hosts.path()).await;
    let port = closed_port();
    doctor
        .engine
        .add_route(NewRoute {
            host: "app.localhost".into(),
            upstreams: vec![format!("http://127.0.0.1:{port}")],
            ..Default::default()
        })
        .await
        .expect("route");
    let report = doctor.report("app.localhost").await;
    let f = one(&report, "upstream.reach");
    assert_eq!(f["status"], "error", "{f:#}");
    let message = f["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("Nothing answers at 127.0.0.1:{port}")),
        "{message}"
    );
    assert!(message.contains("connection refused"), "{message}");
    assert!(
        f["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains(&format!("Start the dev server on port {port}"))),
        "{f:#}"
    );
    assert_eq!(report["engine_running"], true);
    assert!(report["errors"].as_u64() >= Some(1), "{report:#}");
    let bind = findings(&report, "listener.bind");
    assert!(
        bind.iter().all(|f| f["status"] == "ok") && !bind.is_empty(),
        "the running engine's listeners are bound: {report:#}"
    );
}

#[tokio::test]
async fn a_name_that_does_not_resolve_gets_the_hosts_file_fix() {
    let hosts = empty_hosts();
    let doctor = Doctor::start(hosts.path()).await;
    let report = doctor.report("nothing.test").await;
    let route = one(&report, "route.match");
    assert_eq!(route["status"], "error");
    assert!(
        route["fix"]
            .as_str()
            .is_some_and(|f| f.contains("portico route add nothing.test")),
        "{route:#}"
    );
    let name = one(&report, "name.resolve");
    assert_eq!(name["status"], "error", "{name:#}");
    assert!(
        name["message"]
            .as_str()
            .is_some_and(|m| m.contains("nothing.test does not resolve on this machine")),
        "{name:#}"
    );
    assert!(
        name["fix"]
            .as_str()
            .is_some_and(|f| f.contains("sudo portico hosts sync")),
        "{name:#}"
    );
}

#[tokio::test]
async fn an_untrusted_store_is_reported_and_the_trust_action_fixes_it() {
    let hosts = empty_hosts();
    let doctor = Doctor::start(hosts.path()).await;
    let report = doctor.report("app.localhost").await;
    let system: Vec<&Value> = findings(&report, "ca.trust")
        .into_iter()
        .filter(|f| {
            f["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("system"))
        })
        .collect();
    assert_eq!(system.len(), 1, "{report:#}");
    let f = system[0];
    assert_eq!(f["status"], "error", "HTTPS is on, so this breaks: {f:#}");
    assert!(
        f["fix"]
            .as_str()
            .is_some_and(|fix| fix.starts_with("portico ca trust")),
        "{f:#}"
    );
    assert_eq!(f["action"], json!({ "kind": "trust_ca" }));

    let trusted = doctor
        .call(http::Method::POST, "/api/v1/ca/trust", None)
        .await;
    assert_eq!(trusted.status, StatusCode::OK, "{}", trusted.body);
    assert!(
        std::fs::read_dir(&doctor.anchors)
            .expect("anchors")
            .next()
            .is_some(),
        "the anchor was written"
    );
    let report = doctor.report("app.localhost").await;
    let system: Vec<&Value> = findings(&report, "ca.trust")
        .into_iter()
        .filter(|f| {
            f["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("system"))
        })
        .collect();
    assert_eq!(system[0]["status"], "ok", "{report:#}");
}

/// A real Vite dev server (the repository's `node_modules/vite`) on a free loopback port,
/// killed on drop.
struct Vite {
    child: Child,
    port: u16,
    _root: TempDir,
}

impl Vite {
    fn start() -> Vite {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let vite = repo.join("node_modules/vite/bin/vite.js");
        assert!(
            vite.is_file(),
            "{} is missing: run npm ci at the repository root",
            vite.display()
        );
        let root = tempfile::tempdir().expect("vite root");
        std::fs::write(
            root.path().join("index.html"),
            "<!doctype html><title>vite app</title><p>hello from vite</p>\n",
        )
        .expect("index.html");
        let port = closed_port();
        let child = Command::new("node")
            .arg(&vite)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--strictPort",
                "--clearScreen",
                "false",
                "--logLevel",
                "error",
            ])
            .current_dir(root.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts vite");
        let mut vite = Vite {
            child,
            port,
            _root: root,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(status) = vite.child.try_wait().expect("try_wait") {
                panic!("vite exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "vite did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        vite
    }
}

impl Drop for Vite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn vite_refusing_a_custom_tld_is_explained_and_the_upstream_host_action_fixes_it() {
    let vite = Vite::start();
    let hosts = empty_hosts();
    let doctor = Doctor::start(hosts.path()).await;
    let route = doctor
        .engine
        .add_route(NewRoute {
            host: "app.test".into(),
            upstreams: vec![vite.port.to_string()],
            ..Default::default()
        })
        .await
        .expect("route");

    let report = doctor.report("app.test").await;
    let f = one(&report, "upstream.host_rejected");
    assert_eq!(f["status"], "error", "{f:#}");
    let message = f["message"].as_str().expect("message");
    assert!(
        message.contains("Vite at localhost:") && message.contains("\"app.test\""),
        "{message}"
    );
    assert!(
        message.contains(
            "it answers 403 \"Blocked request. This host (\"app.test\") is not allowed\""
        ),
        "{message}"
    );
    let fix = f["fix"].as_str().expect("fix");
    assert!(fix.contains("server.allowedHosts"), "{fix}");
    assert!(fix.contains("allowedHosts: ['app.test']"), "{fix}");
    assert!(
        fix.contains("portico route set app.test --upstream-host"),
        "{fix}"
    );
    assert_eq!(
        f["action"],
        json!({ "kind": "enable_upstream_host", "route_id": route.id })
    );
    assert!(f["total_ms"].as_f64().is_some(), "{f:#}");
    assert!(
        findings(&report, "upstream.reach").is_empty(),
        "a rejection is the upstream finding: {report:#}"
    );

    // The offered action, as the UI takes it.
    let patched = doctor
        .call(
            http::Method::PATCH,
            &format!("/api/v1/routes/{}", route.id),
            Some(json!({ "upstream_host": true })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);

    let report = doctor.report("app.test").await;
    assert!(
        findings(&report, "upstream.host_rejected").is_empty(),
        "{report:#}"
    );
    let reach = one(&report, "upstream.reach");
    assert_eq!(reach["status"], "ok", "{reach:#}");
    assert!(
        reach["message"]
            .as_str()
            .is_some_and(|m| m.contains("with 200 OK in ")),
        "{reach:#}"
    );
    assert!(reach["connect_ms"].as_f64().is_some(), "{reach:#}");
}

/// A real Next.js dev server (the repository's `node_modules/next`, webpack: Turbopack refuses
/// an app whose `node_modules` lies outside its root) on a free loopback port, for an app of
/// one page in a temporary folder whose `node_modules` links to the repository's. Its process
/// group (the CLI and the server it forks) is killed on drop.
struct Next {
    child: Child,
    port: u16,
    _app: TempDir,
}

impl Next {
    /// Started with `next_config` as `next.config.js`, and ready: the page and the 404 page
    /// (which a missing `/_next/` file gets) compiled.
    fn start(next_config: &str) -> Next {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let modules = repo.join("node_modules");
        let next = modules.join("next/dist/bin/next");
        assert!(
            next.is_file(),
            "{} is missing: run npm ci at the repository root",
            next.display()
        );
        let app = tempfile::tempdir().expect("next app");
        let write = |name: &str, text: &str| {
            let path = app.path().join(name);
            std::fs::create_dir_all(path.parent().expect("in the app")).expect("app dir");
            std::fs::write(&path, text).expect("app file");
        };
        write(
            "package.json",
            r#"{ "name": "doctor-next-app", "private": true }"#,
        );
        write("next.config.js", next_config);
        write(
            "app/layout.js",
            "export default function Layout({ children }) {\n  \
             return <html><body>{children}</body></html>;\n}\n",
        );
        write(
            "app/page.js",
            "export default function Page() {\n  return <p>hello from next</p>;\n}\n",
        );
        std::os::unix::fs::symlink(
            modules.canonicalize().expect("node_modules"),
            app.path().join("node_modules"),
        )
        .expect("link node_modules");
        let port = closed_port();
        let child = Command::new("node")
            .arg(&next)
            .args(["dev", "--webpack", "--hostname", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .current_dir(app.path())
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("node starts next");
        let mut next = Next {
            child,
            port,
            _app: app,
        };
        // Compiling takes seconds on a busy machine; the doctor allows an answer 5 s.
        let deadline = Instant::now() + Duration::from_secs(120);
        for path in ["/", "/_next/static/chunks/warm-up.js"] {
            loop {
                if let Some(status) = next.child.try_wait().expect("try_wait") {
                    panic!("next dev exited before answering {path}: {status}");
                }
                if let Some(status) = next.status(path) {
                    assert_ne!(status, 500, "next dev failed on {path}");
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "next dev did not answer {path} on {port} within 120 s"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        next
    }

    /// The status of `GET path` (no `Origin`), if it answers within 60 s.
    fn status(&self, path: &str) -> Option<u16> {
        let head = http1_head(
            SocketAddr::from(([127, 0, 0, 1], self.port)),
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
            Duration::from_secs(60),
        )?;
        head.split(' ').nth(1)?.parse().ok()
    }
}

impl Drop for Next {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process_group(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::KILL,
        );
        let _ = self.child.wait();
    }
}

/// Send `request` to `addr` and read what comes back until the end of the head, the end of the
/// connection or `limit`: the first line, or the whole of it when it is not HTTP.
fn http1_head(addr: SocketAddr, request: &str, limit: Duration) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < 64 << 10 && !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    if got.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&got);
    Some(text.lines().next().unwrap_or_default().to_owned())
}

/// A browser's HMR websocket handshake for a page at `origin`, through Portico's listener at
/// `addr` for `host`: the first line of the answer.
fn hmr_handshake(addr: SocketAddr, host: &str, origin: &str) -> String {
    let request = format!(
        "GET /_next/hmr?id=doctor HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    http1_head(addr, &request, Duration::from_secs(10)).unwrap_or_else(|| "no answer".into())
}

#[tokio::test]
async fn next_refusing_its_hmr_socket_to_the_route_is_explained_and_allowed_dev_origins_fixes_it() {
    let hosts = empty_hosts();
    let doctor = Doctor::start(hosts.path()).await;
    let proxy = doctor.engine.http_addrs()[0];

    // Next.js 16's default: only localhost, *.localhost and its own --hostname are allowed.
    let next = Next::start("module.exports = {};\n");
    let route = doctor
        .engine
        .add_route(NewRoute {
            host: "app.test".into(),
            upstreams: vec![next.port.to_string()],
            // Plain HTTP through Portico keeps this test's client simple; Next.js compares
            // only the Origin's host name, so the scheme changes nothing.
            https_redirect: Some(false),
            ..Default::default()
        })
        .await
        .expect("route");

    // What a browser on http://app.test gets through Portico: the page, and the HMR
    // websocket refused (Next.js writes a bare `Unauthorized` instead of an HTTP answer).
    let page = common::send(
        proxy,
        "app.test",
        http::Request::get("/").header("accept", "text/html"),
        Bytes::new(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("hello from next"), "{}", page.body);
    let refused =
        tokio::task::spawn_blocking(move || hmr_handshake(proxy, "app.test", "http://app.test"))
            .await
            .expect("handshake");
    assert!(
        refused.starts_with("HTTP/1.1 502 "),
        "Portico cannot pass on a refusal that is not HTTP: {refused}"
    );

    let report = doctor.report("app.test").await;
    let f = one(&report, "upstream.host_rejected");
    assert_eq!(f["status"], "warn", "{f:#}");
    let message = f["message"].as_str().expect("message");
    assert!(
        message.contains("Next.js at localhost:")
            && message.contains("to the origin https://app.test")
            && message.contains("/_next/hmr")
            && message.contains("Portico answers the handshake with 502"),
        "{message}"
    );
    let fix = f["fix"].as_str().expect("fix");
    assert!(
        fix.contains("module.exports = { allowedDevOrigins: ['app.test'] }"),
        "{fix}"
    );
    assert!(f["action"].is_null(), "another Host does not help: {f:#}");
    assert_eq!(f["route_id"], json!(route.id), "{f:#}");
    let reach = one(&report, "upstream.reach");
    assert_eq!(reach["status"], "ok", "the page itself works: {reach:#}");
    drop(next);

    // The fix, as the finding words it.
    let next = Next::start("module.exports = { allowedDevOrigins: ['app.test'] };\n");
    let patched = doctor
        .call(
            http::Method::PATCH,
            &format!("/api/v1/routes/{}", route.id),
            Some(json!({ "upstreams": [next.port.to_string()] })),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let report = doctor.report("app.test").await;
    assert!(
        findings(&report, "upstream.host_rejected").is_empty(),
        "{report:#}"
    );
    assert_eq!(one(&report, "upstream.reach")["status"], "ok", "{report:#}");
    let accepted =
        tokio::task::spawn_blocking(move || hmr_handshake(proxy, "app.test", "http://app.test"))
            .await
            .expect("handshake");
    assert!(
        accepted.contains(" 101 "),
        "the HMR socket opens: {accepted}"
    );
}
