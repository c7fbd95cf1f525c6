//! `portico ca …` and `portico serve` with HTTPS, through the real binary. Trust stores are
//! only read here (a temporary HOME, and a CA that is trusted nowhere); installing into
//! stores is tested in the engine's trust tests against temporary stores.

mod common;

use std::path::Path;
use std::process::Command;

use axum::Router;
use axum::routing::get;
use common::{Serve, Upstream, portico, portico_command};

/// `portico --data-dir DIR ca ARGS…` with `home` as HOME, to completion.
fn ca(data_dir: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = portico_command(data_dir);
    cmd.env("HOME", home)
        .env_remove("NODE_EXTRA_CA_CERTS")
        .arg("ca")
        .args(args);
    let child = cmd.spawn().expect("portico starts");
    let out = child.wait_with_output().expect("portico finishes");
    assert!(
        out.status.success(),
        "portico ca {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn ca_export_prints_the_root_that_is_on_disk() {
    let dir = tempfile::tempdir().expect("dir");
    let home = tempfile::tempdir().expect("home");
    let out = ca(dir.path(), home.path(), &["export"]);
    let on_disk = std::fs::read_to_string(dir.path().join("ca/root.pem")).expect("root.pem");
    assert_eq!(text(&out.stdout), on_disk);
    let file = dir.path().join("exported.pem");
    ca(
        dir.path(),
        home.path(),
        &["export", "--out", file.to_str().expect("utf-8")],
    );
    assert_eq!(std::fs::read_to_string(&file).expect("exported"), on_disk);
}

#[test]
fn ca_status_names_the_ca_and_reports_each_store() {
    let dir = tempfile::tempdir().expect("dir");
    let home = tempfile::tempdir().expect("home");
    let out = text(&ca(dir.path(), home.path(), &["status"]).stdout);
    assert!(out.contains("Portico Local CA ("), "{out}");
    assert!(out.contains("localhost"), "{out}");
    assert!(out.contains("Chromium"), "{out}");
    assert!(out.contains("not present"), "{out}");

    let json: serde_json::Value =
        serde_json::from_slice(&ca(dir.path(), home.path(), &["status", "--json"]).stdout)
            .expect("JSON");
    assert_eq!(json["ca"]["sha256"].as_str().map(str::len), Some(64));
    let stores = json["stores"].as_array().expect("stores");
    assert!(
        stores
            .iter()
            .any(|s| s["store"]["kind"] == "chromium" && s["state"] == "not_present")
    );
}

#[test]
fn ca_rotate_makes_a_new_ca_and_keeps_the_old_one_aside() {
    let dir = tempfile::tempdir().expect("dir");
    let home = tempfile::tempdir().expect("home");
    let before = text(&ca(dir.path(), home.path(), &["export"]).stdout);
    let out = text(&ca(dir.path(), home.path(), &["rotate"]).stdout);
    assert!(out.contains("New CA"), "{out}");
    let after = text(&ca(dir.path(), home.path(), &["export"]).stdout);
    assert_ne!(before, after);
    let retired: Vec<_> = std::fs::read_dir(dir.path().join("ca"))
        .expect("ca dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("retired-"))
        .collect();
    assert_eq!(retired.len(), 1);
    let old = std::fs::read_to_string(retired[0].path().join("root.pem")).expect("old root");
    assert_eq!(old, before);
}

#[test]
fn a_missing_ca_key_is_refused_and_no_new_ca_is_made() {
    let dir = tempfile::tempdir().expect("dir");
    let home = tempfile::tempdir().expect("home");
    let root = text(&ca(dir.path(), home.path(), &["export"]).stdout);
    std::fs::remove_file(dir.path().join("ca/root.key")).expect("remove key");
    let out = portico_command(dir.path())
        .env("HOME", home.path())
        .args(["ca", "status"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("root.key") && err.contains("portico ca rotate"),
        "{err}"
    );
    let still = std::fs::read_to_string(dir.path().join("ca/root.pem")).expect("root.pem");
    assert_eq!(still, root, "the root was replaced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_https_is_trusted_by_curl_with_the_exported_ca_and_redirects_http() {
    let upstream =
        Upstream::start(Router::new().route("/", get(|| async { "hello over https" }))).await;
    let dir = tempfile::tempdir().expect("dir");
    portico(
        dir.path(),
        &["route", "add", "app.localhost", &upstream.url()],
    )
    .assert_success("route add");
    let data = dir.path().to_owned();
    let serve = tokio::task::spawn_blocking(move || {
        Serve::start_with(
            &data,
            &[
                "serve",
                "--http",
                "127.0.0.1:0",
                "--https",
                "127.0.0.1:0",
                "--admin",
                "127.0.0.1:0",
            ],
        )
    })
    .await
    .expect("serve starts");
    let https_line = serve
        .lines()
        .iter()
        .find(|l| l.starts_with("HTTPS on https://"))
        .unwrap_or_else(|| panic!("no HTTPS line: {:#?}", serve.lines()))
        .clone();
    let https: std::net::SocketAddr = https_line
        .trim_start_matches("HTTPS on https://")
        .split(',')
        .next()
        .and_then(|a| a.trim().parse().ok())
        .expect("HTTPS address");
    assert!(
        serve.lines().iter().any(|l| l.contains("portico ca trust")),
        "{:#?}",
        serve.lines()
    );
    let ca_file = dir.path().join("ca/root.pem");
    let http = serve.addr();
    let (secure, redirect) = tokio::task::spawn_blocking(move || {
        let secure = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert"])
            .arg(&ca_file)
            .args([
                "--resolve",
                &format!("app.localhost:{}:127.0.0.1", https.port()),
                &format!("https://app.localhost:{}/", https.port()),
            ])
            .output()
            .expect("curl runs");
        let redirect = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{redirect_url}",
            ])
            .args([
                "--resolve",
                &format!("app.localhost:{}:127.0.0.1", http.port()),
                &format!("http://app.localhost:{}/x?y=1", http.port()),
            ])
            .output()
            .expect("curl runs");
        (secure, redirect)
    })
    .await
    .expect("join");
    assert_eq!(
        text(&secure.stdout),
        "hello over https",
        "{}",
        text(&secure.stderr)
    );
    assert_eq!(
        text(&redirect.stdout),
        format!("308 https://app.localhost:{}/x?y=1", https.port())
    );
    tokio::task::spawn_blocking(move || serve.stop())
        .await
        .expect("stops");
}
