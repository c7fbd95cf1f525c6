//! `portico doctor` on real broken setups, without an engine (the data dir's routes and CA,
//! the ports `portico serve` would take) and with one (through its admin API).

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{KillOnDrop, Output, Serve, Upstream, data_dir, portico, portico_command};
use serde_json::Value;

/// `portico doctor ARGS…` with `hosts` as its hosts file, to completion.
fn doctor(data: &Path, hosts: &Path, args: &[&str]) -> Output {
    let mut child = KillOnDrop(
        portico_command(data)
            .env("PORTICO_HOSTS_FILE", hosts)
            .arg("doctor")
            .args(args)
            .spawn()
            .expect("the portico binary starts"),
    );
    let mut stdout = child.0.stdout.take().expect("stdout");
    let mut stderr = child.0.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).ok();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).ok();
        text
    });
    let status = child
        .wait_within(Duration::from_secs(60))
        .expect("portico doctor finishes within 60 s");
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn finding<'a>(report: &'a Value, check: &str, subject_starts: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| {
            f["check"] == check
                && f["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(subject_starts))
        })
        .unwrap_or_else(|| panic!("no {check} finding for {subject_starts}: {report:#}"))
}

fn text<'a>(f: &'a Value, field: &str) -> &'a str {
    f[field].as_str().unwrap_or_default()
}

#[test]
fn without_an_engine_every_broken_part_is_explained_with_its_fix() {
    let data = data_dir();
    let hosts = tempfile::NamedTempFile::new().expect("hosts file");
    std::fs::write(hosts.path(), "127.0.0.1 localhost\n").expect("write hosts");
    let upstream = closed_port();
    portico(
        data.path(),
        &["route", "add", "app.test", &upstream.to_string()],
    )
    .assert_success("route add");
    // A port another program listens on, chosen as Portico's HTTP address.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_addr = taken.local_addr().expect("addr").to_string();
    portico(
        data.path(),
        &["settings", "set", "http_listen", &taken_addr],
    )
    .assert_success("settings set http_listen");
    // A fresh CA, which no store on this machine trusts.
    portico(data.path(), &["ca", "status"]).assert_success("ca status");

    let out = doctor(data.path(), hosts.path(), &["--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "errors make it exit 1: {out:#?}"
    );
    assert!(
        out.stderr.starts_with("error: ") && out.stderr.contains("problems found"),
        "{out:#?}"
    );
    let report: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("--json prints the report ({e}): {out:#?}"));
    assert_eq!(report["engine_running"], false);

    let name = finding(&report, "name.resolve", "app.test");
    assert_eq!(name["status"], "error", "{name:#}");
    assert!(
        text(name, "fix").contains("sudo portico hosts sync"),
        "{name:#}"
    );

    let bind = finding(&report, "listener.bind", "HTTP");
    assert_eq!(bind["status"], "error", "{bind:#}");
    assert!(
        text(bind, "message").contains(&format!("{taken_addr} is taken by ")),
        "the process holding it is named: {bind:#}"
    );
    assert!(
        text(bind, "fix").contains("portico settings set http_listen 127.0.0.1:"),
        "{bind:#}"
    );

    let system = finding(&report, "ca.trust", "system");
    assert_eq!(system["status"], "error", "{system:#}");
    assert!(
        text(system, "fix").starts_with("portico ca trust"),
        "{system:#}"
    );
    assert_eq!(system["action"]["kind"], "trust_ca");

    let reach = finding(&report, "upstream.reach", "app.test");
    assert_eq!(reach["status"], "error", "{reach:#}");
    assert!(
        text(reach, "message").contains(&format!("Nothing answers at localhost:{upstream}")),
        "{reach:#}"
    );
    assert_eq!(
        report["errors"].as_u64(),
        Some(
            report["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .filter(|f| f["status"] == "error")
                .count() as u64
        )
    );

    // The same in plain words.
    let out = doctor(data.path(), hosts.path(), &["app.test"]);
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    for needle in [
        "ERROR  name.resolve  app.test",
        "app.test does not resolve on this machine",
        "fix: Add it to the hosts file: sudo portico hosts sync",
        &format!("ERROR  upstream.reach  app.test → localhost:{upstream}"),
        "the dev server is not running",
        &format!("fix: Start the dev server on port {upstream}"),
        "ERROR  listener.bind  HTTP",
        "fix: portico ca trust",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{needle:?} missing: {}",
            out.stdout
        );
    }
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_running_engine_it_asks_the_engine() {
    let data = data_dir();
    let hosts = tempfile::NamedTempFile::new().expect("hosts file");
    let closed = closed_port();
    portico(
        data.path(),
        &["route", "add", "app.localhost", &closed.to_string()],
    )
    .assert_success("route add");
    let serve = Serve::start(data.path());

    let out = doctor(data.path(), hosts.path(), &["app.localhost", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON report");
    assert_eq!(report["engine_running"], true, "{report:#}");
    assert_eq!(report["host"], "app.localhost");
    let bind = finding(&report, "listener.bind", "HTTP");
    assert_eq!(bind["status"], "ok");
    assert!(
        text(bind, "message").contains(&serve.addr().to_string()),
        "the bound address is reported: {bind:#}"
    );
    let reach = finding(&report, "upstream.reach", "app.localhost");
    assert_eq!(reach["status"], "error", "{reach:#}");

    // Once the route points at a running dev server, the check passes and says how fast it
    // answered.
    let dev = Upstream::start(Router::new().route("/", get(|| async { "ok" }))).await;
    portico(
        data.path(),
        &["route", "set", "app.localhost", "--upstream", &dev.url()],
    )
    .assert_success("route set --upstream");
    let out = doctor(data.path(), hosts.path(), &["app.localhost", "--json"]);
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON report");
    let reach = finding(&report, "upstream.reach", "app.localhost");
    assert_eq!(reach["status"], "ok", "{reach:#}");
    assert!(
        text(reach, "message").contains("answers GET / with 200 OK in "),
        "{reach:#}"
    );
    assert!(reach["total_ms"].as_f64().is_some(), "{reach:#}");
    serve.stop();
}
