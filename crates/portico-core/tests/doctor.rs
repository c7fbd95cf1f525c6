//! `GET /api/v1/doctor` against real broken setups: an upstream on a closed port, a real Vite
//! dev server that refuses a custom TLD (fixed by the offered `upstream_host` action), a CA
//! that a (temporary) system store does not trust (fixed by the offered trust action), and a
//! name that does not resolve.

mod common;

use std::net::TcpStream;
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
