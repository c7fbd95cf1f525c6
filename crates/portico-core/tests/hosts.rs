//! Hosts-file sync through a real engine and its admin API, against a hosts file in a
//! temporary folder (never this machine's): names follow route changes, every byte outside
//! Portico's block stays, the setting switches it off, removal gives the file back, and a file
//! the engine may not write is reported with the command to run while proxying goes on.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use common::{Reply, eventually, send, spawn_echo};
use portico_core::hosts::{self, HostsConfig};
use portico_core::{Engine, EngineHandle};
use serde_json::{Value, json};

/// What the machine's file might hold: comments, blank lines, tabs, no final newline.
const ORIGINAL: &str =
    "127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n\n# my NAS\n10.0.0.7 nas.lan # keep";

/// How long the engine may take to bring the file in line after a change.
const SYNCED_WITHIN: Duration = Duration::from_secs(10);

struct HostsEngine {
    engine: EngineHandle,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl HostsEngine {
    async fn start(original: &str) -> HostsEngine {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("etc").join("hosts");
        std::fs::create_dir_all(file.parent().expect("parent")).expect("etc");
        std::fs::write(&file, original).expect("write hosts");
        let engine = start_engine(&dir.path().join("data"), &file).await;
        HostsEngine {
            engine,
            file,
            _dir: dir,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let token = self.engine.admin_token().expect("admin on").to_owned();
        let builder = http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        send(self.engine.admin_addrs()[0], "127.0.0.1", builder, body).await
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.file).expect("read hosts")
    }

    /// Wait until Portico's block maps exactly `names`.
    async fn block_becomes(&self, names: &[&str]) {
        let wanted: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let file = self.file.clone();
        let reached = eventually(SYNCED_WITHIN, || {
            let (file, wanted) = (file.clone(), wanted.clone());
            async move {
                hosts::managed_names(&std::fs::read_to_string(&file).unwrap_or_default()) == wanted
            }
        })
        .await;
        assert!(
            reached,
            "the block never became {names:?}:\n{}",
            self.text()
        );
    }
}

async fn start_engine(data: &Path, file: &Path) -> EngineHandle {
    let mut config = common::tls_config(data);
    config.https = None;
    config.hosts = Some(HostsConfig {
        file: file.to_owned(),
        is_default: false,
    });
    Engine::start(config).await.expect("engine starts")
}

#[tokio::test]
async fn route_names_follow_the_routes_and_every_other_byte_stays() {
    let up = spawn_echo("up").await;
    let e = HostsEngine::start(ORIGINAL).await;
    let created = e
        .call(
            "POST",
            "/api/v1/routes",
            Some(json!({"host": "app.test", "upstreams": [format!("http://{}", up.addr)]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_i64().expect("id");
    e.block_becomes(&["app.test"]).await;
    let text = e.text();
    assert!(
        text.starts_with(&format!("{ORIGINAL}\n{}\n", hosts::BEGIN)),
        "{text:?}"
    );
    assert!(
        text.ends_with("127.0.0.1 app.test\n::1 app.test\n# END Portico"),
        "{text:?}"
    );

    // A new name replaces the old one; a wildcard cannot be in the file; a second name joins.
    let patched = e
        .call(
            "PATCH",
            &format!("/api/v1/routes/{id}"),
            Some(json!({"host": "shop.test"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    for host in ["*.wild.test", "api.internal"] {
        let added = e
            .call(
                "POST",
                "/api/v1/routes",
                Some(json!({"host": host, "upstreams": [format!("http://{}", up.addr)]})),
            )
            .await;
        assert_eq!(added.status, 201, "{}", added.body);
    }
    e.block_becomes(&["api.internal", "shop.test"]).await;
    let status = e.call("GET", "/api/v1/hosts", None).await;
    assert_eq!(status.status, 200, "{}", status.body);
    let status = status.json();
    assert_eq!(status["in_sync"], true, "{status}");
    assert_eq!(status["enabled"], true, "{status}");
    assert_eq!(status["missing"], json!([]), "{status}");
    assert_eq!(status["wildcards"], json!(["*.wild.test"]), "{status}");
    assert_eq!(
        status["file"],
        json!(e.file.display().to_string()),
        "{status}"
    );
    let engine_status = e.call("GET", "/api/v1/status", None).await.json();
    assert_eq!(
        engine_status["hosts"]["names"],
        json!(["api.internal", "shop.test"])
    );

    // A disabled route leaves the block; removing every route gives the file back exactly.
    let disabled = e
        .call("POST", &format!("/api/v1/routes/{id}/disable"), None)
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    e.block_becomes(&["api.internal"]).await;
    let routes = e.call("GET", "/api/v1/routes", None).await.json();
    for route in routes.as_array().expect("routes") {
        let id = route["id"].as_i64().expect("id");
        let removed = e
            .call("DELETE", &format!("/api/v1/routes/{id}"), None)
            .await;
        assert_eq!(removed.status, 204, "{}", removed.body);
    }
    e.block_becomes(&[]).await;
    assert_eq!(e.text(), ORIGINAL);
    let backup = e.file.with_file_name("hosts.portico-backup");
    assert!(
        std::fs::read_to_string(&backup)
            .expect("backup")
            .contains("api.internal")
    );
}

#[tokio::test]
async fn a_crlf_file_keeps_its_line_endings() {
    let up = spawn_echo("up").await;
    let original = "127.0.0.1 localhost\r\n# comment\r\n";
    let e = HostsEngine::start(original).await;
    e.engine
        .add_route(portico_core::config::NewRoute {
            host: "app.test".into(),
            upstreams: vec![format!("http://{}", up.addr)],
            ..Default::default()
        })
        .await
        .expect("route");
    e.block_becomes(&["app.test"]).await;
    let text = e.text();
    assert!(text.starts_with(original), "{text:?}");
    assert!(
        text.ends_with("::1 app.test\r\n# END Portico\r\n"),
        "{text:?}"
    );
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "{text:?}"
    );
}

#[tokio::test]
async fn with_sync_off_the_file_is_untouched_and_remove_gives_it_back() {
    let up = spawn_echo("up").await;
    let e = HostsEngine::start(ORIGINAL).await;
    let off = e
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"hosts_sync": false})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let before = std::fs::metadata(&e.file)
        .expect("meta")
        .modified()
        .expect("mtime");
    let created = e
        .call(
            "POST",
            "/api/v1/routes",
            Some(json!({"host": "app.test", "upstreams": [format!("http://{}", up.addr)]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let sync = e.call("POST", "/api/v1/hosts/sync", None).await;
    assert_eq!(sync.status, 409, "{}", sync.body);
    assert!(
        sync.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("off"),
        "{}",
        sync.body
    );
    let status = e.call("GET", "/api/v1/hosts", None).await.json();
    assert_eq!(status["enabled"], false, "{status}");
    assert_eq!(status["missing"], json!([]), "{status}");
    // The sync task has had its wake-up (the route change came after the setting); give it
    // time to act wrongly before checking it did not.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(e.text(), ORIGINAL);
    assert_eq!(
        std::fs::metadata(&e.file)
            .expect("meta")
            .modified()
            .expect("mtime"),
        before
    );
    assert!(!e.file.with_file_name("hosts.portico-backup").exists());

    // On again: the block appears. Remove: it goes, sync is off, the file is as it was.
    let on = e
        .call(
            "PATCH",
            "/api/v1/settings",
            Some(json!({"hosts_sync": true})),
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    e.block_becomes(&["app.test"]).await;
    let removed = e.call("DELETE", "/api/v1/hosts", None).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let removed = removed.json();
    assert_eq!(removed["changed"], true, "{removed}");
    assert_eq!(removed["status"]["enabled"], false, "{removed}");
    assert_eq!(e.text(), ORIGINAL);
    let settings = e.call("GET", "/api/v1/settings", None).await.json();
    assert_eq!(settings["hosts_sync"], false, "{settings}");
}

/// Makes a file immutable (`chattr +i`) while it lives: even root cannot write, rename over or
/// replace it then, as a user cannot write `/etc/hosts` (the tests run as root, which would
/// write any file that is merely read-only).
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Immutable {
        let done = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            done,
            "this test makes the hosts file immutable with `chattr +i`, which needs root (CAP_LINUX_IMMUTABLE) and a filesystem with the flag (ext4, xfs, btrfs; not tmpfs); the temporary folder is {}",
            path.display()
        );
        Immutable(path.to_owned())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn a_file_the_engine_may_not_write_is_reported_with_the_command_and_proxying_goes_on() {
    let up = spawn_echo("up").await;
    let e = HostsEngine::start(ORIGINAL).await;
    let _immutable = Immutable::set(&e.file);
    let created = e
        .call(
            "POST",
            "/api/v1/routes",
            Some(json!({"host": "app.test", "upstreams": [format!("http://{}", up.addr)]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let reported = eventually(SYNCED_WITHIN, || async {
        e.call("GET", "/api/v1/hosts", None).await.json()["needs_elevation"] == true
    })
    .await;
    let status = e.call("GET", "/api/v1/hosts", None).await.json();
    assert!(reported, "{status}");
    assert_eq!(status["in_sync"], false, "{status}");
    assert_eq!(status["missing"], json!(["app.test"]), "{status}");
    let command = status["command"].as_str().expect("command");
    let data = e.engine.data_dir().display().to_string();
    assert_eq!(
        command,
        format!(
            "sudo portico hosts sync --data-dir {data} --hosts-file {}",
            e.file.display()
        )
    );
    assert!(
        status["error"]
            .as_str()
            .unwrap_or_default()
            .contains(&e.file.display().to_string()),
        "{status}"
    );
    let sync = e.call("POST", "/api/v1/hosts/sync", None).await;
    assert_eq!(sync.status, 409, "{}", sync.body);
    assert!(sync.body.contains("administrator"), "{}", sync.body);
    // The engine still proxies, and the file is as it was.
    let reply = send(
        e.engine.http_addrs()[0],
        "app.test",
        http::Request::get("/"),
        Bytes::new(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(e.text(), ORIGINAL);
}
