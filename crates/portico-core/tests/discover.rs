//! Finding the services to map, through the admin API of a running engine, with real
//! listening processes.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use common::{TestEngine, send};
use http::Request;
use portico_core::config::NewRoute;

async fn services(engine: &TestEngine) -> Vec<serde_json::Value> {
    let token = engine.engine().admin_token().expect("admin").to_owned();
    let reply = send(
        engine.admin_addr(),
        "127.0.0.1",
        Request::get("/api/v1/services").header("authorization", format!("Bearer {token}")),
        Bytes::new(),
    )
    .await;
    assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
    reply.json()["services"].as_array().expect("a list").clone()
}

/// A Python process listening on 127.0.0.1 with `vite` on its command line, started in
/// `dir`; stopped on drop.
struct FakeDevServer {
    child: std::process::Child,
    port: u16,
}

impl FakeDevServer {
    fn start(dir: &std::path::Path) -> FakeDevServer {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import socket,sys,time\n\
                 s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
                 print(s.getsockname()[1], flush=True)\n\
                 time.sleep(60)",
                "vite",
                "--port",
            ])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        let port = line.trim().parse().expect("a port");
        FakeDevServer { child, port }
    }
}

impl Drop for FakeDevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_dev_server_is_found_with_its_folder_framework_and_name_and_portico_is_not() {
    let engine = TestEngine::start().await;
    let project = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        project.path().join("package.json"),
        r#"{"name": "@acme/Shop Web", "scripts": {"dev": "vite"}}"#,
    )
    .expect("package.json");
    let server = FakeDevServer::start(project.path());

    let found = services(&engine).await;
    let dev = found
        .iter()
        .find(|s| s["port"] == server.port)
        .unwrap_or_else(|| panic!("port {} not found in {found:#?}", server.port));
    assert_eq!(dev["pid"], server.child.id());
    assert_eq!(dev["framework"], "Vite");
    assert_eq!(dev["suggested_name"], "shop-web");
    assert_eq!(dev["suggested_host"], "shop-web.localhost");
    assert_eq!(
        dev["cwd"].as_str().map(std::path::PathBuf::from),
        Some(project.path().canonicalize().expect("canonical"))
    );
    assert!(dev["command"].as_str().expect("command").contains("vite"));
    assert_eq!(dev["addresses"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(dev["routes"], serde_json::json!([]));

    // Portico's own listeners are not offered.
    for own in [engine.addr().port(), engine.admin_addr().port()] {
        assert!(
            found.iter().all(|s| s["port"] != own),
            "Portico's own port {own} was listed"
        );
    }

    // Once a route forwards to it, the service says so.
    let route = engine
        .add(NewRoute {
            host: "shop-web.localhost".into(),
            upstreams: vec![server.port.to_string()],
            ..Default::default()
        })
        .await;
    let found = services(&engine).await;
    let dev = found
        .iter()
        .find(|s| s["port"] == server.port)
        .expect("still listed");
    assert_eq!(dev["routes"], serde_json::json!([route.id]));

    // A listener in this very process is found too (same pid as the engine, other port).
    let listener = tokio::net::TcpListener::bind("[::1]:0").await;
    if let Ok(listener) = listener {
        let port = listener.local_addr().expect("addr").port();
        let found = services(&engine).await;
        let mine = found
            .iter()
            .find(|s| s["port"] == port)
            .expect("the test's own listener");
        assert_eq!(mine["addresses"], serde_json::json!(["::1"]));
        assert_eq!(mine["pid"], std::process::id());
    }

    // Gone when the process stops.
    let port = server.port;
    drop(server);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let found = services(&engine).await;
    assert!(
        found.iter().all(|s| s["port"] != port),
        "a stopped server is gone"
    );
}
