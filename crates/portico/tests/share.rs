//! `portico share` through the real binary and a running `portico serve`, with 127.0.0.5
//! standing in for the LAN address.

mod common;

use std::net::SocketAddr;

use common::{Serve, portico};

#[test]
fn sharing_needs_a_running_engine_and_says_how_to_start_one() {
    let dir = tempfile::tempdir().expect("dir");
    portico(dir.path(), &["route", "add", "app.localhost", "5173"]).assert_success("add");
    portico(dir.path(), &["share", "app.localhost"]).assert_refused("share", &["portico serve"]);
    // A usage error (clap's exit code 2), before anything is asked of the engine.
    let bad = portico(dir.path(), &["share", "app.localhost", "--for", "2 weeks"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:#?}");
    assert!(bad.stderr.contains("s, m, h or d"), "{bad:#?}");
}

#[test]
fn share_prints_the_lan_url_the_ca_link_and_a_qr_code_then_lists_and_stops() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path();
    let serve = Serve::start(data);
    portico(data, &["settings", "set", "lan_address", "127.0.0.5"]).assert_success("set");
    portico(data, &["route", "add", "app.localhost", "5173"]).assert_success("add");

    let shared = portico(data, &["share", "app.localhost", "--for", "2h"]);
    shared.assert_success("share");
    let out = &shared.stdout;
    assert!(
        out.contains("Shared app.localhost/ on your network for 1h 59m more"),
        "{out}"
    );
    let url = out
        .split_whitespace()
        .find(|w| w.starts_with("https://127.0.0.5:"))
        .unwrap_or_else(|| panic!("no LAN URL: {out}"));
    assert!(
        out.contains("http://127.0.0.5:") && out.contains("/ca"),
        "{out}"
    );
    assert!(out.contains('\u{2588}'), "a QR code is drawn: {out}");
    assert!(out.contains("portico share app.localhost --off"), "{out}");
    let addr: SocketAddr = url
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .expect("IP:PORT");
    assert!(
        std::net::TcpStream::connect(addr).is_ok(),
        "listening on {addr}"
    );

    let listed = portico(data, &["share"]);
    listed.assert_success("list");
    assert!(listed.stdout.contains(url), "{listed:#?}");
    let listed = portico(data, &["route", "list"]);
    assert!(
        listed.stdout.contains("shared on the network"),
        "{listed:#?}"
    );

    let off = portico(data, &["share", "app.localhost", "--off"]);
    off.assert_success("off");
    assert!(off.stdout.contains("no longer shared"), "{off:#?}");
    let listed = portico(data, &["share"]);
    assert!(listed.stdout.contains("No route is shared"), "{listed:#?}");
    serve.stop();
}
