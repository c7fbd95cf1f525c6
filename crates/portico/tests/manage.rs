//! `portico export|import|up|down|settings|open`, and route commands going through the
//! running engine's admin API, through the real binary.

mod common;

use std::path::Path;

use common::{Serve, portico};

fn json(out: &common::Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:#?}"))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

#[test]
fn export_then_import_into_another_data_dir_reproduces_it_exactly() {
    let one = tempfile::tempdir().expect("dir");
    let two = tempfile::tempdir().expect("dir");
    portico(one.path(), &["route", "add", "app.localhost", "5173"]).assert_success("add");
    portico(
        one.path(),
        &[
            "route",
            "add",
            "app.localhost",
            "8000",
            "--path",
            "/api",
            "--strip-prefix",
        ],
    )
    .assert_success("add");
    portico(
        one.path(),
        &["settings", "set", "local_suffixes", "lan,dev"],
    )
    .assert_success("set");
    let exported = portico(one.path(), &["export"]);
    exported.assert_success("export");
    let file = one.path().join("routes.json");
    write(&file, &exported.stdout);
    portico(two.path(), &["import", file.to_str().expect("utf-8")]).assert_success("import");
    let again = portico(two.path(), &["export"]);
    assert_eq!(json(&again), json(&exported));
}

#[test]
fn a_bad_import_lists_every_problem_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    portico(dir.path(), &["route", "add", "keep.localhost", "5173"]).assert_success("add");
    let before = portico(dir.path(), &["export"]).stdout;
    let file = dir.path().join("bad.json");
    write(
        &file,
        r#"{"portico": 1, "routes": [
            {"host": "new.localhost", "upstreams": ["1"]},
            {"host": "bad host", "upstreams": ["1"]},
            {"host": "x.localhost", "upstreams": ["http://localhost"]}
        ]}"#,
    );
    let out = portico(dir.path(), &["import", file.to_str().expect("utf-8")]);
    out.assert_refused("import", &["routes[1].host", "routes[2].upstreams"]);
    assert_eq!(portico(dir.path(), &["export"]).stdout, before);

    write(&file, "this is not json");
    portico(dir.path(), &["import", file.to_str().expect("utf-8")])
        .assert_refused("import garbage", &["is not a Portico export"]);
}

#[test]
fn up_adds_the_projects_routes_and_down_removes_exactly_them() {
    let data = tempfile::tempdir().expect("dir");
    let project = tempfile::tempdir().expect("project");
    portico(data.path(), &["route", "add", "mine.localhost", "3000"]).assert_success("add");
    let file = project.path().join("portico.json");
    write(
        &file,
        r#"{"routes": [{"host": "shop.localhost", "upstreams": ["5173"]},
                       {"host": "api.shop.localhost", "upstreams": ["8000"]}]}"#,
    );
    let path = file.to_str().expect("utf-8");
    portico(data.path(), &["up", "--file", path]).assert_success("up");
    let routes = json(&portico(data.path(), &["route", "list", "--json"]));
    assert_eq!(routes.as_array().map(Vec::len), Some(3));
    let folder = std::fs::canonicalize(project.path()).expect("canonical");
    assert!(
        routes
            .as_array()
            .expect("array")
            .iter()
            .any(|r| r["project"] == folder.display().to_string()),
        "{routes}"
    );
    portico(data.path(), &["down", "--file", path]).assert_success("down");
    let routes = json(&portico(data.path(), &["route", "list", "--json"]));
    assert_eq!(routes.as_array().map(Vec::len), Some(1));
    assert_eq!(routes[0]["host"], "mine.localhost");
}

#[test]
fn settings_are_shown_and_set_with_clear_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let shown = json(&portico(dir.path(), &["settings"]));
    assert_eq!(shown["shutdown_grace_ms"], 10000);
    let set = json(&portico(
        dir.path(),
        &["settings", "set", "shutdown_grace_ms", "2500"],
    ));
    assert_eq!(set["shutdown_grace_ms"], 2500);
    let lists = json(&portico(
        dir.path(),
        &["settings", "set", "deny_ips", "192.168.1.66, 10.1.2.3/8"],
    ));
    assert_eq!(
        lists["deny_ips"],
        serde_json::json!(["192.168.1.66", "10.0.0.0/8"])
    );
    portico(dir.path(), &["settings", "set", "allow_ips", "10.0.0.999"])
        .assert_refused("bad address", &["allow_ips", "10.0.0.999"]);
    portico(dir.path(), &["settings", "set", "colour", "red"])
        .assert_refused("unknown", &["colour"]);
    portico(dir.path(), &["settings", "set", "http_listen", "8080"])
        .assert_refused("bad address", &["http_listen", "IP:PORT"]);
    assert_eq!(
        json(&portico(dir.path(), &["settings"]))["shutdown_grace_ms"],
        2500
    );
}

#[test]
fn open_without_a_running_engine_says_how_to_start_one() {
    let dir = tempfile::tempdir().expect("dir");
    portico(dir.path(), &["open"]).assert_refused("open", &["portico serve"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_engine_running_the_cli_goes_through_its_admin_api() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_owned();
    let serve = tokio::task::spawn_blocking(move || Serve::start(&data))
        .await
        .expect("serve");
    assert!(
        serve
            .lines()
            .iter()
            .any(|l| l.starts_with("UI: http://127.0.0.1:") && l.contains("/login?code=")),
        "{:#?}",
        serve.lines()
    );
    let data = dir.path().to_owned();
    let (added, bad, listed, settings) = tokio::task::spawn_blocking(move || {
        let added = portico(&data, &["route", "add", "live.localhost", "5173"]);
        let bad = portico(&data, &["route", "add", "live.localhost", "5174"]);
        let listed = portico(&data, &["route", "list", "--json"]);
        let settings = portico(&data, &["settings", "set", "local_suffixes", "lan"]);
        (added, bad, listed, settings)
    })
    .await
    .expect("join");
    added.assert_success("add");
    assert!(added.stdout.contains("Live now"), "{added:#?}");
    bad.assert_refused("duplicate through the API", &["already exists"]);
    assert_eq!(json(&listed)[0]["host"], "live.localhost");
    settings.assert_success("settings");

    // Pause and resume: the running engine answers 503 in between.
    let addr = serve.addr();
    let data = dir.path().to_owned();
    let paused = tokio::task::spawn_blocking(move || portico(&data, &["pause"]))
        .await
        .expect("join");
    paused.assert_success("pause");
    assert!(paused.stdout.contains("portico resume"), "{paused:#?}");
    let (status, body) = common::get(addr, "live.localhost", "/")
        .await
        .expect("the proxy answers while paused");
    assert_eq!(status, hyper::StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("Portico is paused"), "{body}");
    let data = dir.path().to_owned();
    tokio::task::spawn_blocking(move || portico(&data, &["resume"]))
        .await
        .expect("join")
        .assert_success("resume");
    let (status, _) = common::get(addr, "live.localhost", "/")
        .await
        .expect("the proxy answers");
    assert_ne!(
        status,
        hyper::StatusCode::SERVICE_UNAVAILABLE,
        "resumed: the route is served again"
    );

    tokio::task::spawn_blocking(move || serve.stop())
        .await
        .expect("stop");
    assert!(
        !dir.path().join(portico_core::ADMIN_FILE).exists(),
        "admin.json left behind"
    );
}
