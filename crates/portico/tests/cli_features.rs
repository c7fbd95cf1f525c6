//! Per-route features through the `portico` binary: what `route add` and `route set` store for
//! caching, compression, static folders, redirects and header rules, what they refuse (changing
//! nothing), how the `default_compress` setting fills a route's default, and what a running
//! `portico serve` then answers, including `portico cache` against its response cache.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request as AxumRequest;
use axum::routing::get as get_route;
use bytes::Bytes;
use common::{
    KillOnDrop, Output, Serve, Upstream, data_dir, expanded, portico, portico_command, routes_json,
    send,
};
use http_body_util::{BodyExt, Empty};
use hyper::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};

/// How long a one-shot command run from another directory may take.
const CLI_DEADLINE: Duration = Duration::from_secs(30);

/// How long one HTTP exchange through `portico serve` may take.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

fn no_rules() -> Value {
    json!({ "set": [], "add": [], "remove": [] })
}

/// A proxying route as `route list --json` shows it (without its id) when added with only
/// HOST TARGET: every feature at its default.
fn plain_route(host: &str, upstream: &str) -> Value {
    json!({
        "host": host,
        "path": "/",
        "upstreams": [upstream],
        "balancing": {
            "policy": "round_robin",
            "max_fails": 1,
            "fail_cooldown_ms": 10000,
            "health_check": null,
        },
        "strip_prefix": false,
        "upstream_host": false,
        "timeout_ms": 60000,
        "enabled": true,
        "https_redirect": true,
        "project": null,
        "capture": true,
        "static_dir": null,
        "spa": false,
        "dir_listing": false,
        "follow_symlinks": false,
        "redirect": null,
        "redirect_status": 307,
        "redirect_keep_path": true,
        "compress": false,
        "cache": false,
        "cache_ttl_secs": null,
        "request_headers": no_rules(),
        "response_headers": no_rules(),
        "hide_backend": false,
        "allow_ips": [],
        "deny_ips": [],
        "rate_limit_per_sec": null,
        "max_body_bytes": null,
        "max_conns_per_ip": null,
        "basic_auth": [],
        "shared": false,
        "share_port": null,
        "share_expires_at": null,
        "share_allow_ips": [],
    })
}

/// A route serving `dir`, every other feature at its default.
fn folder_route(host: &str, dir: &str) -> Value {
    let mut route = plain_route(host, "");
    route["upstreams"] = json!([]);
    route["static_dir"] = json!(dir);
    route
}

/// A route redirecting to `url`, every other feature at its default.
fn redirect_route(host: &str, url: &str) -> Value {
    let mut route = plain_route(host, "");
    route["upstreams"] = json!([]);
    route["redirect"] = json!(url);
    route
}

/// The stored route for `host` (the only one on it), without its id.
fn stored(data_dir: &Path, host: &str) -> Value {
    let routes = routes_json(data_dir);
    let mut found: Vec<Value> = routes
        .iter()
        .filter(|r| r["host"] == host)
        .cloned()
        .collect();
    assert_eq!(found.len(), 1, "one route for {host}: {routes:#?}");
    let mut route = found.remove(0);
    let id = route
        .as_object_mut()
        .and_then(|r| r.remove("id"))
        .unwrap_or_else(|| panic!("route has an id: {route}"));
    assert!(id.is_i64(), "id is an integer: {id}");
    route
}

/// Read a pipe to its end on a thread; the pipe ends when the child exits.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Run `portico --data-dir DATA_DIR ARGS…` with `cwd` as its current directory (bounded by
/// [`CLI_DEADLINE`]).
fn portico_in(cwd: &Path, data_dir: &Path, args: &[&str]) -> Output {
    let mut child = KillOnDrop(
        portico_command(data_dir)
            .current_dir(cwd)
            .args(args)
            .spawn()
            .expect("the portico binary starts"),
    );
    let stdout = drain(child.0.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.0.stderr.take().expect("stderr is piped"));
    let Some(status) = child.wait_within(CLI_DEADLINE) else {
        panic!("portico {args:?} did not finish within {CLI_DEADLINE:?}");
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader does not panic"),
        stderr: stderr.join().expect("stderr reader does not panic"),
    }
}

/// Panic unless the command was refused by argument parsing (exit 2, nothing on stdout) with
/// an `error: ` on stderr that contains every one of `needles`.
fn assert_usage_error(out: &Output, what: &str, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(2), "{what} should exit 2: {out:#?}");
    assert!(
        out.stdout.is_empty(),
        "{what} should print nothing on stdout: {out:#?}"
    );
    assert!(
        out.stderr.starts_with("error: "),
        "{what} should explain itself on stderr: {out:#?}"
    );
    for needle in needles {
        assert!(
            out.stderr.contains(needle),
            "{what}: stderr should contain {needle:?}: {out:#?}"
        );
    }
}

// ---- route add: what is stored ---------------------------------------------------------

#[test]
fn route_add_with_cache_compress_a_header_rule_and_hide_backend_stores_each_of_them() {
    let dir = data_dir();
    let added = portico(
        dir.path(),
        &[
            "route",
            "add",
            "app.localhost",
            "5173",
            "--cache",
            "--compress",
            "--set-header",
            "X-Frame-Options: DENY",
            "--hide-backend",
        ],
    );
    added.assert_success("route add with features");
    assert!(
        added.stdout.contains(&format!(
            "Added app.localhost → {} (cache, compress, header rules, hide-backend)",
            expanded("5173")
        )),
        "{added:#?}"
    );

    let mut expected = plain_route("app.localhost", &expanded("5173"));
    expected["cache"] = json!(true);
    expected["compress"] = json!(true);
    expected["response_headers"] = json!({
        "set": [{ "name": "X-Frame-Options", "value": "DENY" }],
        "add": [],
        "remove": [],
    });
    expected["hide_backend"] = json!(true);
    assert_eq!(stored(dir.path(), "app.localhost"), expected);
}

#[test]
fn route_add_with_every_header_flag_and_cache_ttl_stores_both_directions_of_rules() {
    let dir = data_dir();
    portico(
        dir.path(),
        &[
            "route",
            "add",
            "api.localhost",
            "8000",
            "--cache-ttl",
            "30",
            "--set-header",
            "X-Frame-Options: DENY",
            "--set-header",
            "Cache-Control:  no-cache ",
            "--add-header",
            "X-Extra: one",
            "--remove-header",
            "X-Debug",
            "--set-request-header",
            "X-Forwarded-User: dev",
            "--add-request-header",
            "X-Trace: 1",
            "--remove-request-header",
            "Cookie",
        ],
    )
    .assert_success("route add with header rules");

    let mut expected = plain_route("api.localhost", &expanded("8000"));
    expected["cache_ttl_secs"] = json!(30);
    expected["response_headers"] = json!({
        "set": [
            { "name": "X-Frame-Options", "value": "DENY" },
            { "name": "Cache-Control", "value": "no-cache" },
        ],
        "add": [{ "name": "X-Extra", "value": "one" }],
        "remove": ["X-Debug"],
    });
    expected["request_headers"] = json!({
        "set": [{ "name": "X-Forwarded-User", "value": "dev" }],
        "add": [{ "name": "X-Trace", "value": "1" }],
        "remove": ["Cookie"],
    });
    assert_eq!(stored(dir.path(), "api.localhost"), expected);
}

#[test]
fn route_add_static_stores_the_folder_made_absolute_against_the_commands_current_dir() {
    let dir = data_dir();
    let cwd = tempfile::tempdir().expect("create a working directory");
    let folder = cwd.path().join("relative").join("dir");

    let added = portico_in(
        cwd.path(),
        dir.path(),
        &[
            "route",
            "add",
            "site.localhost",
            "--static",
            "./relative/dir",
            "--spa",
        ],
    );
    added.assert_success("route add --static ./relative/dir --spa");
    let shown = folder.display().to_string();
    assert!(
        added
            .stdout
            .contains(&format!("Added site.localhost → folder {shown} (spa)")),
        "{added:#?}"
    );
    assert!(
        added.stderr.contains(&format!(
            "note: {shown} does not exist yet; the route answers 502 until it does"
        )),
        "a note says the folder does not exist yet: {added:#?}"
    );

    let mut expected = folder_route("site.localhost", &shown);
    expected["spa"] = json!(true);
    assert_eq!(stored(dir.path(), "site.localhost"), expected);

    // Once the folder exists there is nothing to warn about.
    std::fs::create_dir_all(&folder).expect("create the folder");
    let added = portico_in(
        cwd.path(),
        dir.path(),
        &[
            "route",
            "add",
            "docs.localhost",
            "--static",
            "relative/dir",
            "--listing",
            "--follow-symlinks",
        ],
    );
    added.assert_success("route add --static relative/dir");
    assert!(
        !added.stderr.contains("note:"),
        "no note for a folder that exists: {added:#?}"
    );
    let mut expected = folder_route("docs.localhost", &shown);
    expected["dir_listing"] = json!(true);
    expected["follow_symlinks"] = json!(true);
    assert_eq!(stored(dir.path(), "docs.localhost"), expected);
}

#[test]
fn route_add_redirect_stores_the_url_and_the_status() {
    let dir = data_dir();
    let added = portico(
        dir.path(),
        &[
            "route",
            "add",
            "r.localhost",
            "--redirect",
            "https://new.localhost",
            "--redirect-status",
            "308",
        ],
    );
    added.assert_success("route add --redirect --redirect-status 308");
    assert!(
        added
            .stdout
            .contains("Added r.localhost → redirect https://new.localhost"),
        "{added:#?}"
    );
    portico(
        dir.path(),
        &[
            "route",
            "add",
            "exact.localhost",
            "--redirect",
            "http://other.localhost/landing",
            "--redirect-drop-path",
        ],
    )
    .assert_success("route add --redirect --redirect-drop-path");

    let mut expected = redirect_route("r.localhost", "https://new.localhost");
    expected["redirect_status"] = json!(308);
    assert_eq!(stored(dir.path(), "r.localhost"), expected);

    let mut expected = redirect_route("exact.localhost", "http://other.localhost/landing");
    expected["redirect_keep_path"] = json!(false);
    assert_eq!(stored(dir.path(), "exact.localhost"), expected);
}

#[test]
fn route_list_shows_each_routes_target_and_its_feature_words() {
    let dir = data_dir();
    let site = tempfile::tempdir().expect("create a folder to serve");
    let folder = site.path().display().to_string();
    portico(
        dir.path(),
        &[
            "route",
            "add",
            "app.localhost",
            "5173",
            "--cache",
            "--cache-ttl",
            "45",
            "--compress",
            "--set-header",
            "X-Frame-Options: DENY",
            "--hide-backend",
        ],
    )
    .assert_success("route add app");
    portico(
        dir.path(),
        &[
            "route",
            "add",
            "site.localhost",
            "--static",
            &folder,
            "--spa",
            "--listing",
        ],
    )
    .assert_success("route add site");
    portico(
        dir.path(),
        &[
            "route",
            "add",
            "r.localhost",
            "--redirect",
            "https://new.localhost",
            "--redirect-status",
            "308",
        ],
    )
    .assert_success("route add r");

    let table = portico(dir.path(), &["route", "list"]);
    table.assert_success("route list");
    let lines: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let app_target = expanded("5173");
    assert_eq!(
        lines,
        vec![
            vec!["ID", "HOST", "PATH", "TARGET", "OPTIONS"],
            vec![
                "1",
                "app.localhost",
                "/",
                &app_target,
                "cache",
                "compress",
                "header",
                "rules",
                "hide-backend",
                "cache-ttl=45s",
            ],
            vec![
                "2",
                "site.localhost",
                "/",
                "folder",
                &folder,
                "spa",
                "listing"
            ],
            vec![
                "3",
                "r.localhost",
                "/",
                "redirect",
                "https://new.localhost",
                "status=308"
            ],
        ],
        "{table:#?}"
    );
}

// ---- refusals ----------------------------------------------------------------------------

#[test]
fn invalid_feature_arguments_are_refused_with_a_clear_message_and_change_nothing() {
    let dir = data_dir();
    let site = tempfile::tempdir().expect("create a folder to serve");
    let folder = site.path().display().to_string();
    portico(dir.path(), &["route", "add", "app.localhost", "5173"]).assert_success("route add");
    let before = routes_json(dir.path());

    let refused: &[(&[&str], &[&str])] = &[
        (
            &["add", "x.localhost", "--redirect", "ftp://x"],
            &[
                "invalid setting redirect",
                "\"ftp://x\"",
                "must start with http:// or https://",
            ],
        ),
        (
            &["add", "x.localhost", "--redirect", "new.localhost"],
            &["invalid setting redirect", "https://new.localhost"],
        ),
        (
            &[
                "add",
                "x.localhost",
                "--redirect",
                "https://new.localhost",
                "--redirect-status",
                "200",
            ],
            &[
                "invalid setting redirect_status",
                "200 is not a redirect code",
                "301, 302, 307 or 308",
            ],
        ),
        (
            &["add", "x.localhost", "5173", "--set-header", "NoColon"],
            &["--set-header \"NoColon\"", "'Name: value'"],
        ),
        (
            &[
                "add",
                "x.localhost",
                "5173",
                "--set-header",
                "Content-Length: 5",
            ],
            &["invalid setting response_headers", "Content-Length"],
        ),
        (
            &[
                "add",
                "x.localhost",
                "5173",
                "--remove-request-header",
                "Bad Name",
            ],
            &[
                "invalid setting request_headers",
                "\"Bad Name\" is not a header name",
            ],
        ),
        (
            &["add", "x.localhost", "--static", &folder, "5173"],
            &[
                "invalid setting static_dir",
                "forwards to an upstream or serves a folder, not both",
            ],
        ),
        (
            &[
                "add",
                "x.localhost",
                "5173",
                "--redirect",
                "https://a.localhost",
            ],
            &[
                "invalid setting redirect",
                "forwards to an upstream or redirects, not both",
            ],
        ),
        (
            &["add", "x.localhost", "5173", "--cache-ttl", "0"],
            &["invalid setting cache_ttl_secs", "at least 1"],
        ),
        (
            &["set", "app.localhost", "--redirect-status", "200"],
            &[
                "invalid setting redirect_status",
                "200 is not a redirect code",
            ],
        ),
        (
            &["set", "app.localhost", "--redirect", "ftp://x"],
            &["invalid setting redirect", "http:// or https://"],
        ),
        (
            &["set", "app.localhost", "--set-header", "NoColon"],
            &["--set-header \"NoColon\"", "'Name: value'"],
        ),
        (
            &[
                "set",
                "app.localhost",
                "--set-header",
                "Transfer-Encoding: gzip",
            ],
            &["invalid setting response_headers", "Transfer-Encoding"],
        ),
        (
            &["set", "app.localhost", "--upstream", "ftp://x:21"],
            &["invalid upstream \"ftp://x:21\""],
        ),
        (
            &["set", "other.localhost", "--cache"],
            &["no route for other.localhost", "portico route list"],
        ),
    ];
    for (args, needles) in refused {
        let mut full = vec!["route"];
        full.extend_from_slice(args);
        portico(dir.path(), &full).assert_refused(&format!("portico {full:?}"), needles);
        assert_eq!(
            routes_json(dir.path()),
            before,
            "portico {full:?} changed nothing"
        );
    }

    let usage: &[(&[&str], &[&str])] = &[
        (&["add", "x.localhost"], &["required", "[TARGET]..."]),
        (
            &[
                "add",
                "x.localhost",
                "--static",
                &folder,
                "--redirect",
                "https://a.localhost",
            ],
            &["--static <DIR>", "cannot be used with", "--redirect <URL>"],
        ),
        (
            &["add", "x.localhost", "5173", "--redirect-status", "abc"],
            &["--redirect-status"],
        ),
        (
            &[
                "set",
                "app.localhost",
                "--upstream",
                "5174",
                "--static",
                &folder,
            ],
            &[
                "--upstream <TARGET>",
                "cannot be used with",
                "--static <DIR>",
            ],
        ),
        (
            &[
                "set",
                "app.localhost",
                "--upstream",
                "5174",
                "--redirect",
                "https://a.localhost",
            ],
            &[
                "--upstream <TARGET>",
                "cannot be used with",
                "--redirect <URL>",
            ],
        ),
    ];
    for (args, needles) in usage {
        let mut full = vec!["route"];
        full.extend_from_slice(args);
        assert_usage_error(
            &portico(dir.path(), &full),
            &format!("portico {full:?}"),
            needles,
        );
        assert_eq!(
            routes_json(dir.path()),
            before,
            "portico {full:?} changed nothing"
        );
    }
}

/// The request-header flags share their parsing with the response-header flags; a malformed
/// value must be reported under the flag the user actually typed.
#[test]
fn a_malformed_request_header_flag_is_named_in_its_error() {
    let dir = data_dir();
    portico(dir.path(), &["route", "add", "app.localhost", "5173"]).assert_success("route add");
    let before = routes_json(dir.path());
    for (args, flag) in [
        (
            &[
                "route",
                "add",
                "x.localhost",
                "5173",
                "--set-request-header",
                "X-Id",
            ][..],
            "--set-request-header",
        ),
        (
            &[
                "route",
                "add",
                "x.localhost",
                "5173",
                "--add-request-header",
                "X-Id",
            ],
            "--add-request-header",
        ),
        (
            &[
                "route",
                "set",
                "app.localhost",
                "--set-request-header",
                "X-Id",
            ],
            "--set-request-header",
        ),
        (
            &[
                "route",
                "set",
                "app.localhost",
                "--add-request-header",
                "X-Id",
            ],
            "--add-request-header",
        ),
    ] {
        portico(dir.path(), args).assert_refused(
            &format!("portico {args:?}"),
            &[&format!("{flag} \"X-Id\""), "'Name: value'"],
        );
        assert_eq!(
            routes_json(dir.path()),
            before,
            "portico {args:?} changed nothing"
        );
    }
}

/// A refused route is not created, so a note about what "the route" will answer once its
/// folder exists would describe a route that does not exist.
#[test]
fn a_refused_static_route_whose_folder_is_missing_prints_only_the_error() {
    let dir = data_dir();
    let cwd = tempfile::tempdir().expect("create a working directory");
    let refused = portico_in(
        cwd.path(),
        dir.path(),
        &["route", "add", "x.localhost", "--static", "missing", "5173"],
    );
    assert_eq!(routes_json(dir.path()), Vec::<Value>::new());
    refused.assert_refused(
        "route add --static missing 5173",
        &["forwards to an upstream or serves a folder, not both"],
    );
}

// ---- route set ---------------------------------------------------------------------------

#[test]
fn route_set_switches_cache_and_compress_and_changes_nothing_else() {
    let dir = data_dir();
    portico(
        dir.path(),
        &[
            "route",
            "add",
            "app.localhost",
            "5173",
            "--cache",
            "--set-header",
            "X-Frame-Options: DENY",
        ],
    )
    .assert_success("route add --cache");
    let mut expected = stored(dir.path(), "app.localhost");
    assert_eq!(expected["cache"], json!(true));
    assert_eq!(expected["compress"], json!(false));

    let set = portico(dir.path(), &["route", "set", "app.localhost", "--no-cache"]);
    set.assert_success("route set --no-cache");
    assert!(
        set.stdout.contains(&format!(
            "Changed app.localhost → {} (header rules)",
            expanded("5173")
        )),
        "{set:#?}"
    );
    expected["cache"] = json!(false);
    assert_eq!(stored(dir.path(), "app.localhost"), expected);

    portico(dir.path(), &["route", "set", "app.localhost", "--compress"])
        .assert_success("route set --compress");
    expected["compress"] = json!(true);
    assert_eq!(stored(dir.path(), "app.localhost"), expected);

    portico(
        dir.path(),
        &[
            "route",
            "set",
            "app.localhost",
            "--cache",
            "--no-compress",
            "--cache-ttl",
            "60",
            "--hide-backend",
        ],
    )
    .assert_success("route set --cache --no-compress --cache-ttl 60 --hide-backend");
    expected["cache"] = json!(true);
    expected["compress"] = json!(false);
    expected["cache_ttl_secs"] = json!(60);
    expected["hide_backend"] = json!(true);
    assert_eq!(stored(dir.path(), "app.localhost"), expected);

    portico(
        dir.path(),
        &["route", "set", "app.localhost", "--show-backend"],
    )
    .assert_success("route set --show-backend");
    expected["hide_backend"] = json!(false);
    assert_eq!(stored(dir.path(), "app.localhost"), expected);

    // A header flag replaces that direction's rules, and leaves the other direction alone.
    portico(
        dir.path(),
        &[
            "route",
            "set",
            "app.localhost",
            "--add-header",
            "X-Extra: two",
        ],
    )
    .assert_success("route set --add-header");
    expected["response_headers"] = json!({
        "set": [],
        "add": [{ "name": "X-Extra", "value": "two" }],
        "remove": [],
    });
    assert_eq!(stored(dir.path(), "app.localhost"), expected);
}

#[test]
fn route_set_upstream_replaces_a_static_folder_and_static_replaces_an_upstream() {
    let dir = data_dir();
    let cwd = tempfile::tempdir().expect("create a working directory");
    let folder = cwd.path().join("dist");
    std::fs::create_dir(&folder).expect("create the folder");
    let folder = folder.display().to_string();

    portico(
        dir.path(),
        &["route", "add", "site.localhost", "--static", &folder],
    )
    .assert_success("route add --static");
    let mut site = stored(dir.path(), "site.localhost");
    assert_eq!(site["static_dir"], json!(folder));
    assert_eq!(site["upstreams"], json!([]));

    let set = portico(
        dir.path(),
        &["route", "set", "site.localhost", "--upstream", "5174"],
    );
    set.assert_success("route set --upstream 5174");
    assert!(
        set.stdout
            .contains(&format!("Changed site.localhost → {}", expanded("5174"))),
        "{set:#?}"
    );
    site["static_dir"] = json!(null);
    site["upstreams"] = json!([expanded("5174")]);
    assert_eq!(stored(dir.path(), "site.localhost"), site);

    portico(dir.path(), &["route", "add", "app.localhost", "5173"]).assert_success("route add");
    // A relative folder is resolved against the command's current dir here too.
    let set = portico_in(
        cwd.path(),
        dir.path(),
        &["route", "set", "app.localhost", "--static", "dist", "--spa"],
    );
    set.assert_success("route set --static dist --spa");
    assert!(
        set.stdout
            .contains(&format!("Changed app.localhost → folder {folder} (spa)")),
        "{set:#?}"
    );
    let mut app = folder_route("app.localhost", &folder);
    app["spa"] = json!(true);
    assert_eq!(stored(dir.path(), "app.localhost"), app);

    portico(dir.path(), &["route", "set", "app.localhost", "--no-spa"])
        .assert_success("route set --no-spa");
    app["spa"] = json!(false);
    assert_eq!(stored(dir.path(), "app.localhost"), app);

    portico(
        dir.path(),
        &[
            "route",
            "set",
            "app.localhost",
            "--redirect",
            "https://new.localhost",
            "--redirect-status",
            "301",
        ],
    )
    .assert_success("route set --redirect");
    app["static_dir"] = json!(null);
    app["redirect"] = json!("https://new.localhost");
    app["redirect_status"] = json!(301);
    assert_eq!(stored(dir.path(), "app.localhost"), app);

    portico(
        dir.path(),
        &["route", "set", "app.localhost", "--upstream", "5173"],
    )
    .assert_success("route set --upstream on a redirect");
    app["redirect"] = json!(null);
    app["upstreams"] = json!([expanded("5173")]);
    assert_eq!(stored(dir.path(), "app.localhost"), app);
}

// ---- the default_compress setting --------------------------------------------------------

#[test]
fn settings_set_default_compress_true_makes_new_routes_compress_unless_told_not_to() {
    let dir = data_dir();
    let set = portico(dir.path(), &["settings", "set", "default_compress", "true"]);
    set.assert_success("settings set default_compress true");
    let settings: Value = serde_json::from_str(&set.stdout)
        .unwrap_or_else(|err| panic!("settings set prints the settings as JSON ({err}): {set:#?}"));
    assert_eq!(settings["default_compress"], json!(true), "{set:#?}");

    portico(dir.path(), &["route", "add", "b.localhost", "5173"]).assert_success("route add");
    assert_eq!(stored(dir.path(), "b.localhost")["compress"], json!(true));
    portico(
        dir.path(),
        &["route", "add", "c.localhost", "5174", "--no-compress"],
    )
    .assert_success("route add --no-compress");
    assert_eq!(stored(dir.path(), "c.localhost")["compress"], json!(false));
}

/// The same default, set through `portico import` (which takes settings as JSON), both with
/// no engine running (the CLI writes the database) and through a running engine's API.
#[test]
fn default_compress_from_an_import_applies_to_routes_added_without_a_flag_with_or_without_an_engine()
 {
    let dir = data_dir();
    let file = dir.path().join("settings.json");
    std::fs::write(
        &file,
        json!({ "portico": 1, "routes": [], "settings": { "default_compress": true } }).to_string(),
    )
    .expect("write the import file");
    portico(dir.path(), &["import", &file.display().to_string()]).assert_success("import");

    portico(dir.path(), &["route", "add", "b.localhost", "5173"]).assert_success("route add");
    assert_eq!(stored(dir.path(), "b.localhost")["compress"], json!(true));
    portico(
        dir.path(),
        &["route", "add", "c.localhost", "5174", "--no-compress"],
    )
    .assert_success("route add --no-compress");
    assert_eq!(stored(dir.path(), "c.localhost")["compress"], json!(false));
    assert_eq!(stored(dir.path(), "c.localhost")["cache"], json!(false));

    let serve = Serve::start(dir.path());
    let added = portico(dir.path(), &["route", "add", "d.localhost", "5175"]);
    added.assert_success("route add with an engine running");
    assert!(added.stdout.contains("Live now"), "{added:#?}");
    assert_eq!(stored(dir.path(), "d.localhost")["compress"], json!(true));
    portico(
        dir.path(),
        &["route", "add", "e.localhost", "5176", "--no-compress"],
    )
    .assert_success("route add --no-compress with an engine running");
    assert_eq!(stored(dir.path(), "e.localhost")["compress"], json!(false));
    serve.stop();
}

// ---- portico cache without an engine -----------------------------------------------------

#[test]
fn cache_commands_without_a_running_engine_fail_and_say_to_start_portico_serve() {
    let dir = data_dir();
    portico(
        dir.path(),
        &["route", "add", "app.localhost", "5173", "--cache"],
    )
    .assert_success("route add --cache");
    let before = routes_json(dir.path());
    for args in [
        &["cache"][..],
        &["cache", "stats"],
        &["cache", "stats", "--json"],
        &["cache", "purge"],
        &["cache", "purge", "--route", "app.localhost"],
        &["cache", "purge", "--url", "http://app.localhost/"],
    ] {
        portico(dir.path(), args).assert_refused(
            &format!("portico {args:?} with no engine"),
            &["no engine is running", "portico serve"],
        );
    }
    assert_eq!(routes_json(dir.path()), before);
}

// ---- a running engine ----------------------------------------------------------------------

/// What `portico serve` answered.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    /// The header's only value as text; `None` when absent. Panics on several values.
    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.get_all(name).iter();
        let first = values.next()?;
        assert!(values.next().is_none(), "one {name} header: {self:#?}");
        Some(first.to_str().expect("a text header value"))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` with `Host: host` and `headers`, bounded by [`REQUEST_DEADLINE`].
async fn fetch(
    addr: std::net::SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = Request::get(path).header(header::HOST, host);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Empty::<Bytes>::new()).expect("a valid request");
    let exchange = async {
        let (parts, body) = send(addr, req).await?.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, common::BoxError>(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(REQUEST_DEADLINE, exchange)
        .await
        .unwrap_or_else(|_| panic!("GET {host}{path} took longer than {REQUEST_DEADLINE:?}"))
        .unwrap_or_else(|err| panic!("GET {host}{path} failed: {err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_folder_and_redirect_routes_are_answered_by_a_running_engine() {
    let dir = data_dir();
    let site = tempfile::tempdir().expect("create a folder to serve");
    std::fs::write(
        site.path().join("index.html"),
        "<h1>served from the folder</h1>\n",
    )
    .expect("write index.html");
    let folder = site.path().display().to_string();
    let later = site.path().join("later");
    let later_shown = later.display().to_string();

    for args in [
        &["site.localhost", "--static", &folder, "--spa"][..],
        &["later.localhost", "--static", &later_shown],
        &[
            "r.localhost",
            "--redirect",
            "https://new.localhost",
            "--redirect-status",
            "308",
        ],
        &[
            "exact.localhost",
            "--redirect",
            "https://new.localhost/landing",
            "--redirect-drop-path",
        ],
    ] {
        let mut full = vec!["route", "add"];
        full.extend_from_slice(args);
        portico(dir.path(), &full).assert_success(&format!("portico {full:?}"));
    }
    let serve = Serve::start(dir.path());
    let listed = format!(
        "  http://site.localhost:{} → folder {folder}",
        serve.addr().port()
    );
    assert!(
        serve.lines().contains(&listed),
        "startup lists {listed:?}: {:#?}",
        serve.lines()
    );

    let home = fetch(serve.addr(), "site.localhost", "/", &[]).await;
    assert_eq!(home.status, StatusCode::OK, "{home:#?}");
    assert_eq!(home.text(), "<h1>served from the folder</h1>\n");
    assert!(
        home.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{home:#?}"
    );
    let page = fetch(serve.addr(), "site.localhost", "/deep/page", &[]).await;
    assert_eq!(
        (page.status, page.text().as_str()),
        (StatusCode::OK, "<h1>served from the folder</h1>\n"),
        "an unknown page path gets index.html on an --spa route: {page:#?}"
    );

    // As `route add` warned: 502 while the folder is missing, served once it exists.
    let missing = fetch(serve.addr(), "later.localhost", "/", &[]).await;
    assert_eq!(missing.status, StatusCode::BAD_GATEWAY, "{missing:#?}");
    std::fs::create_dir(&later).expect("create the folder");
    std::fs::write(later.join("index.html"), "built later\n").expect("write index.html");
    let built = fetch(serve.addr(), "later.localhost", "/", &[]).await;
    assert_eq!(
        (built.status, built.text().as_str()),
        (StatusCode::OK, "built later\n"),
        "{built:#?}"
    );

    let moved = fetch(serve.addr(), "r.localhost", "/a/b?c=1", &[]).await;
    assert_eq!(moved.status, StatusCode::PERMANENT_REDIRECT, "{moved:#?}");
    assert_eq!(
        moved.header("location"),
        Some("https://new.localhost/a/b?c=1"),
        "{moved:#?}"
    );
    let exact = fetch(serve.addr(), "exact.localhost", "/a/b?c=1", &[]).await;
    assert_eq!(exact.status, StatusCode::TEMPORARY_REDIRECT, "{exact:#?}");
    assert_eq!(
        exact.header("location"),
        Some("https://new.localhost/landing"),
        "{exact:#?}"
    );
    serve.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_rules_and_hide_backend_change_what_a_running_engine_forwards_and_answers() {
    let echo = Router::new().fallback(|req: AxumRequest| async move {
        let seen = |name: &str| {
            let values: Vec<&str> = req
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            format!("{name}={}", values.join(","))
        };
        let body = format!("{} {}", seen("x-user"), seen("x-drop-me"));
        (
            [
                ("server", "upstream/1.0"),
                ("x-powered-by", "Express"),
                ("x-frame-options", "SAMEORIGIN"),
                ("x-remove-me", "1"),
            ],
            body,
        )
    });
    let upstream = Upstream::start(echo).await;
    let dir = data_dir();
    portico(
        dir.path(),
        &[
            "route",
            "add",
            "app.localhost",
            &upstream.url(),
            "--set-header",
            "X-Frame-Options: DENY",
            "--add-header",
            "X-Extra: one",
            "--remove-header",
            "X-Remove-Me",
            "--set-request-header",
            "X-User: from-portico",
            "--remove-request-header",
            "X-Drop-Me",
            "--hide-backend",
        ],
    )
    .assert_success("route add with header rules");
    let serve = Serve::start(dir.path());

    let answer = fetch(
        serve.addr(),
        "app.localhost",
        "/",
        &[("x-user", "from-client"), ("x-drop-me", "1")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:#?}");
    assert_eq!(
        answer.text(),
        "x-user=from-portico x-drop-me=",
        "{answer:#?}"
    );
    assert_eq!(
        answer.header("x-frame-options"),
        Some("DENY"),
        "{answer:#?}"
    );
    assert_eq!(answer.header("x-extra"), Some("one"), "{answer:#?}");
    for gone in ["x-remove-me", "server", "x-powered-by"] {
        assert_eq!(answer.header(gone), None, "{gone} is removed: {answer:#?}");
    }

    portico(
        dir.path(),
        &["route", "set", "app.localhost", "--show-backend"],
    )
    .assert_success("route set --show-backend");
    let answer = fetch(serve.addr(), "app.localhost", "/", &[]).await;
    assert_eq!(answer.header("server"), Some("upstream/1.0"), "{answer:#?}");
    assert_eq!(
        answer.header("x-powered-by"),
        Some("Express"),
        "{answer:#?}"
    );
    serve.stop();
}

/// Counts the requests that reach it; answers `/data` as cacheable for ten minutes.
fn counting_upstream(hits: Arc<AtomicUsize>) -> Router {
    Router::new().route(
        "/data",
        get_route(move || {
            let hits = hits.clone();
            async move {
                let n = hits.fetch_add(1, Ordering::SeqCst) + 1;
                (
                    [(header::CACHE_CONTROL, "max-age=600")],
                    format!("answer number {n}"),
                )
            }
        }),
    )
}

/// `portico cache stats --json`, parsed.
fn cache_stats(data_dir: &Path) -> Value {
    let out = portico(data_dir, &["cache", "stats", "--json"]);
    out.assert_success("cache stats --json");
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|err| panic!("cache stats --json prints JSON ({err}): {out:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_route_answers_the_second_get_itself_and_portico_cache_shows_and_purges_it() {
    let hits = Arc::new(AtomicUsize::new(0));
    let upstream = Upstream::start(counting_upstream(hits.clone())).await;
    let dir = data_dir();
    portico(
        dir.path(),
        &[
            "route",
            "add",
            "cached.localhost",
            &upstream.url(),
            "--cache",
        ],
    )
    .assert_success("route add --cache");
    portico(
        dir.path(),
        &[
            "route",
            "add",
            "other.localhost",
            &upstream.url(),
            "--cache",
        ],
    )
    .assert_success("route add another cached route");
    let route_id = routes_json(dir.path())
        .iter()
        .find(|r| r["host"] == "cached.localhost")
        .map(|r| r["id"].clone())
        .expect("the route is listed");
    let serve = Serve::start(dir.path());

    let first = fetch(serve.addr(), "cached.localhost", "/data", &[]).await;
    assert_eq!(
        (first.status, first.text().as_str()),
        (StatusCode::OK, "answer number 1"),
        "{first:#?}"
    );
    let second = fetch(serve.addr(), "cached.localhost", "/data", &[]).await;
    assert_eq!(
        (second.status, second.text().as_str()),
        (StatusCode::OK, "answer number 1"),
        "{second:#?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "one request reached the upstream"
    );
    assert!(
        second
            .header("cache-status")
            .is_some_and(|s| s.contains("hit")),
        "the second answer says it came from the cache: {second:#?}"
    );

    let stats = cache_stats(dir.path());
    assert!(stats["hits"].as_u64() >= Some(1), "{stats:#}");
    assert!(stats["entries"].as_u64() >= Some(1), "{stats:#}");
    let per_route = stats["routes"]
        .as_array()
        .and_then(|routes| routes.iter().find(|r| r["route_id"] == route_id))
        .unwrap_or_else(|| panic!("stats for route {route_id}: {stats:#}"));
    assert_eq!(per_route["hits"], json!(1), "{stats:#}");
    assert_eq!(per_route["entries"], json!(1), "{stats:#}");

    let table = portico(dir.path(), &["cache"]);
    table.assert_success("cache");
    assert!(table.stdout.contains("cached.localhost"), "{table:#?}");
    let stats_table = portico(dir.path(), &["cache", "stats"]);
    stats_table.assert_success("cache stats");
    assert_eq!(stats_table.stdout, table.stdout, "stats is the default");

    // Filling the other route's entry shows that purging one route leaves the others.
    fetch(serve.addr(), "other.localhost", "/data", &[]).await;
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    let purged = portico(
        dir.path(),
        &["cache", "purge", "--route", "cached.localhost"],
    );
    purged.assert_success("cache purge --route");
    assert!(purged.stdout.contains("Purged 1 "), "{purged:#?}");
    let third = fetch(serve.addr(), "cached.localhost", "/data", &[]).await;
    assert_eq!(
        (third.status, third.text().as_str()),
        (StatusCode::OK, "answer number 3"),
        "after the purge the upstream is asked again: {third:#?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let other = fetch(serve.addr(), "other.localhost", "/data", &[]).await;
    assert_eq!(
        other.text(),
        "answer number 2",
        "the other route's entry survived: {other:#?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    let purged = portico(
        dir.path(),
        &["cache", "purge", "--url", "http://cached.localhost/data"],
    );
    purged.assert_success("cache purge --url");
    assert!(purged.stdout.contains("Purged 1 "), "{purged:#?}");
    fetch(serve.addr(), "cached.localhost", "/data", &[]).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        4,
        "purge --url dropped the entry"
    );

    let purged = portico(dir.path(), &["cache", "purge"]);
    purged.assert_success("cache purge");
    assert!(purged.stdout.contains("Purged 2 "), "{purged:#?}");
    assert_eq!(cache_stats(dir.path())["entries"], json!(0));
    fetch(serve.addr(), "cached.localhost", "/data", &[]).await;
    fetch(serve.addr(), "other.localhost", "/data", &[]).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        6,
        "after purging everything both routes ask the upstream again"
    );

    portico(dir.path(), &["cache", "purge", "--route", "nope.localhost"]).assert_refused(
        "cache purge --route of an unknown host",
        &["no route for nope.localhost"],
    );
    serve.stop();
}

/// A JSON document of a few KiB: above the 1 KiB under which nothing is compressed.
fn big_json() -> String {
    let items: Vec<Value> = (0..100)
        .map(|i| json!({ "id": i, "name": format!("item number {i}"), "tags": ["a", "b"] }))
        .collect();
    serde_json::to_string(&items).expect("serialize JSON")
}

/// Decompress gzip with the system's `gzip -dc`, bounded in time.
fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut child = KillOnDrop(
        std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gzip starts"),
    );
    let mut stdin = child.0.stdin.take().expect("stdin is piped");
    let mut stdout = child.0.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    stdin.write_all(data).expect("write to gzip");
    drop(stdin);
    let status = child
        .wait_within(Duration::from_secs(10))
        .expect("gzip finishes within 10 s");
    assert!(status.success(), "gzip -dc accepts the body: {status}");
    reader.join().expect("the reader does not panic")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_set_compress_on_a_running_engine_gzips_the_very_next_response() {
    let document = big_json();
    let served = document.clone();
    let json_upstream = Router::new().route(
        "/items",
        get_route(move || {
            let served = served.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], served) }
        }),
    );
    let upstream = Upstream::start(json_upstream).await;
    let dir = data_dir();
    portico(
        dir.path(),
        &["route", "add", "api.localhost", &upstream.url()],
    )
    .assert_success("route add");
    let serve = Serve::start(dir.path());
    let gzip = [("accept-encoding", "gzip")];

    let plain = fetch(serve.addr(), "api.localhost", "/items", &gzip).await;
    assert_eq!(plain.status, StatusCode::OK, "{plain:#?}");
    assert_eq!(plain.header("content-encoding"), None, "{plain:#?}");
    assert_eq!(plain.text(), document);

    let set = portico(dir.path(), &["route", "set", "api.localhost", "--compress"]);
    set.assert_success("route set --compress");
    assert!(set.stdout.contains("(compress)"), "{set:#?}");

    let compressed = fetch(serve.addr(), "api.localhost", "/items", &gzip).await;
    assert_eq!(compressed.status, StatusCode::OK, "{compressed:#?}");
    assert_eq!(
        compressed.header("content-encoding"),
        Some("gzip"),
        "{compressed:#?}"
    );
    assert!(
        compressed.body.len() < document.len(),
        "{} compressed bytes for {} bytes of JSON",
        compressed.body.len(),
        document.len()
    );
    assert_eq!(gunzip(&compressed.body), document.as_bytes());

    // A client that accepts no coding still gets the document as it is.
    let identity = fetch(serve.addr(), "api.localhost", "/items", &[]).await;
    assert_eq!(identity.header("content-encoding"), None, "{identity:#?}");
    assert_eq!(identity.text(), document);

    portico(
        dir.path(),
        &["route", "set", "api.localhost", "--no-compress"],
    )
    .assert_success("route set --no-compress");
    let off = fetch(serve.addr(), "api.localhost", "/items", &gzip).await;
    assert_eq!(off.header("content-encoding"), None, "{off:#?}");
    assert_eq!(off.text(), document);
    serve.stop();
}

/// `--allow` and `--deny` store address lists on a route (normalised), `route set` replaces
/// or clears them, and a bad entry is refused with the field named and nothing stored.
#[test]
fn route_access_lists_are_added_replaced_cleared_and_checked() {
    let dir = data_dir();
    let added = portico(
        dir.path(),
        &[
            "route",
            "add",
            "lan.localhost",
            "5173",
            "--allow",
            "192.168.1.7/24",
            "--allow",
            "127.0.0.1",
            "--deny",
            "192.168.1.66",
        ],
    );
    added.assert_success("route add --allow --deny");
    assert!(added.stdout.contains("allow list, deny list"), "{added:#?}");
    let route = stored(dir.path(), "lan.localhost");
    assert_eq!(route["allow_ips"], json!(["192.168.1.0/24", "127.0.0.1"]));
    assert_eq!(route["deny_ips"], json!(["192.168.1.66"]));

    portico(
        dir.path(),
        &["route", "set", "lan.localhost", "--allow", "10.0.0.0/8"],
    )
    .assert_success("route set --allow");
    let route = stored(dir.path(), "lan.localhost");
    assert_eq!(route["allow_ips"], json!(["10.0.0.0/8"]));
    assert_eq!(route["deny_ips"], json!(["192.168.1.66"]), "untouched");

    portico(
        dir.path(),
        &[
            "route",
            "set",
            "lan.localhost",
            "--allow-all",
            "--deny-none",
        ],
    )
    .assert_success("route set --allow-all --deny-none");
    let route = stored(dir.path(), "lan.localhost");
    assert_eq!(
        (route["allow_ips"].clone(), route["deny_ips"].clone()),
        (json!([]), json!([]))
    );

    portico(
        dir.path(),
        &[
            "route",
            "add",
            "bad.localhost",
            "5174",
            "--deny",
            "10.0.0.999",
        ],
    )
    .assert_refused("a bad address", &["deny_ips", "10.0.0.999"]);
    assert!(
        routes_json(dir.path())
            .iter()
            .all(|r| r["host"] != "bad.localhost"),
        "nothing stored"
    );
}

/// Several upstreams with a policy and a health check; `route set` changes one flag and
/// keeps the rest; a bad policy or a duplicate upstream is refused and changes nothing.
#[test]
fn route_with_several_upstreams_stores_the_policy_and_the_health_check() {
    let dir = data_dir();
    let added = portico(
        dir.path(),
        &[
            "route",
            "add",
            "api.localhost",
            "8001",
            "8002",
            "--balance",
            "least-conn",
            "--health-check",
            "/health",
            "--check-status",
            "204",
        ],
    );
    added.assert_success("route add with two upstreams");
    assert!(added.stdout.contains("least connections"), "{added:#?}");
    assert!(added.stdout.contains("health check"), "{added:#?}");
    let route = stored(dir.path(), "api.localhost");
    assert_eq!(
        route["upstreams"],
        json!(["http://localhost:8001", "http://localhost:8002"])
    );
    assert_eq!(
        route["balancing"],
        json!({
            "policy": "least_conn",
            "max_fails": 1,
            "fail_cooldown_ms": 10000,
            "health_check": {"path": "/health", "interval_ms": 5000, "timeout_ms": 2000,
                             "expect_status": 204},
        })
    );
    portico(
        dir.path(),
        &[
            "route",
            "set",
            "api.localhost",
            "--balance",
            "first",
            "--fail-cooldown",
            "3",
            "--upstream",
            "8003",
            "--upstream",
            "8004",
            "--upstream",
            "8005",
        ],
    )
    .assert_success("route set --balance first");
    let route = stored(dir.path(), "api.localhost");
    assert_eq!(route["balancing"]["policy"], json!("first"));
    assert_eq!(route["balancing"]["fail_cooldown_ms"], json!(3000));
    assert_eq!(route["balancing"]["health_check"]["path"], json!("/health"));
    assert_eq!(route["upstreams"].as_array().map(Vec::len), Some(3));
    portico(
        dir.path(),
        &["route", "set", "api.localhost", "--no-health-check"],
    )
    .assert_success("--no-health-check");
    assert_eq!(
        stored(dir.path(), "api.localhost")["balancing"]["health_check"],
        json!(null)
    );
    assert_usage_error(
        &portico(
            dir.path(),
            &["route", "set", "api.localhost", "--balance", "fastest"],
        ),
        "an unknown policy",
        &["round_robin"],
    );
    portico(
        dir.path(),
        &[
            "route",
            "set",
            "api.localhost",
            "--upstream",
            "8003",
            "--upstream",
            "8003",
        ],
    )
    .assert_refused("a duplicate upstream", &["listed twice"]);
    assert_eq!(
        stored(dir.path(), "api.localhost")["upstreams"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "nothing changed"
    );
}

/// `--rate-limit N` stores a per-client limit, `route set --no-rate-limit` removes it, and 0
/// is refused with the field named.
#[test]
fn route_rate_limit_is_set_and_removed() {
    let dir = data_dir();
    let added = portico(
        dir.path(),
        &[
            "route",
            "add",
            "api.localhost",
            "8000",
            "--rate-limit",
            "20",
        ],
    );
    added.assert_success("route add --rate-limit");
    assert!(added.stdout.contains("rate limit"), "{added:#?}");
    assert_eq!(
        stored(dir.path(), "api.localhost")["rate_limit_per_sec"],
        json!(20)
    );
    portico(
        dir.path(),
        &["route", "set", "api.localhost", "--no-rate-limit"],
    )
    .assert_success("route set --no-rate-limit");
    assert_eq!(
        stored(dir.path(), "api.localhost")["rate_limit_per_sec"],
        json!(null)
    );
    portico(
        dir.path(),
        &["route", "set", "api.localhost", "--rate-limit", "0"],
    )
    .assert_refused("a zero limit", &["rate_limit_per_sec"]);
    let body = portico(
        dir.path(),
        &["route", "set", "api.localhost", "--max-body", "1024"],
    );
    body.assert_success("route set --max-body");
    assert!(body.stdout.contains("body limit"), "{body:#?}");
    assert_eq!(
        stored(dir.path(), "api.localhost")["max_body_bytes"],
        json!(1024)
    );
    portico(
        dir.path(),
        &["route", "set", "api.localhost", "--no-max-body"],
    )
    .assert_success("--no-max-body");
    assert_eq!(
        stored(dir.path(), "api.localhost")["max_body_bytes"],
        json!(null)
    );
    portico(
        dir.path(),
        &[
            "route",
            "set",
            "api.localhost",
            "--share-allow",
            "192.168.1.0/24",
            "--share-port",
            "8765",
        ],
    )
    .assert_success("route set --share-allow --share-port");
    let route = stored(dir.path(), "api.localhost");
    assert_eq!(route["share_allow_ips"], json!(["192.168.1.0/24"]));
    assert_eq!(route["share_port"], json!(8765));
    portico(
        dir.path(),
        &["route", "set", "api.localhost", "--share-allow-private"],
    )
    .assert_success("--share-allow-private");
    assert_eq!(
        stored(dir.path(), "api.localhost")["share_allow_ips"],
        json!([])
    );
    portico(
        dir.path(),
        &["route", "set", "api.localhost", "--share-port", "0"],
    )
    .assert_refused("port 0", &["share_port"]);
    let set = portico(dir.path(), &["settings", "set", "rate_limit_per_sec", "50"]);
    set.assert_success("settings set rate_limit_per_sec");
    assert!(
        set.stdout.contains("\"rate_limit_per_sec\": 50"),
        "{set:#?}"
    );
}

/// `--max-conns N` and `--auth USER:PASSWORD` are stored (the password as an argon2 hash,
/// never shown); `route set --auth` adds a user and keeps the others, `--remove-auth` removes
/// one, `--no-auth` all; `--auth USER` without a terminal is refused, saying what to write.
#[test]
fn route_connection_limit_and_basic_auth_users_are_set_and_removed() {
    let dir = data_dir();
    let added = portico(
        dir.path(),
        &[
            "route",
            "add",
            "admin.localhost",
            "8000",
            "--max-conns",
            "4",
            "--auth",
            "alice:s3cret",
        ],
    );
    added.assert_success("route add --max-conns --auth");
    assert!(
        added.stdout.contains("auth") && added.stdout.contains("conn limit"),
        "{added:#?}"
    );
    assert!(!added.stdout.contains("s3cret"), "{added:#?}");
    let route = stored(dir.path(), "admin.localhost");
    assert_eq!(route["max_conns_per_ip"], json!(4));
    assert_eq!(route["basic_auth"], json!(["alice"]));
    let listed = portico(dir.path(), &["route", "list"]);
    assert!(listed.stdout.contains("auth"), "{listed:#?}");
    let db = rusqlite::Connection::open(dir.path().join("portico.db")).expect("open");
    let features: String = db
        .query_row("SELECT features FROM routes", [], |r| r.get(0))
        .expect("row");
    assert!(
        features.contains("$argon2id$") && !features.contains("s3cret"),
        "{features}"
    );

    portico(
        dir.path(),
        &[
            "route",
            "set",
            "admin.localhost",
            "--auth",
            "bob:pw",
            "--no-max-conns",
        ],
    )
    .assert_success("route set --auth bob");
    let route = stored(dir.path(), "admin.localhost");
    assert_eq!(route["basic_auth"], json!(["alice", "bob"]), "alice kept");
    assert_eq!(route["max_conns_per_ip"], json!(null));
    let after: String = db
        .query_row("SELECT features FROM routes", [], |r| r.get(0))
        .expect("row");
    let hash = |features: &str, user: &str| {
        let v: Value = serde_json::from_str(features).expect("json");
        v["basic_auth"]
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["user"] == user)
            .map(|u| u["hash"].clone())
    };
    assert_eq!(
        hash(&features, "alice"),
        hash(&after, "alice"),
        "alice's password kept"
    );

    portico(
        dir.path(),
        &["route", "set", "admin.localhost", "--remove-auth", "alice"],
    )
    .assert_success("route set --remove-auth");
    assert_eq!(
        stored(dir.path(), "admin.localhost")["basic_auth"],
        json!(["bob"])
    );
    portico(
        dir.path(),
        &["route", "set", "admin.localhost", "--auth", "carol"],
    )
    .assert_refused("no password and no terminal", &["carol:PASSWORD"]);
    portico(
        dir.path(),
        &["route", "set", "admin.localhost", "--no-auth"],
    )
    .assert_success("route set --no-auth");
    assert_eq!(
        stored(dir.path(), "admin.localhost")["basic_auth"],
        json!([])
    );
    let set = portico(dir.path(), &["settings", "set", "max_conns_per_ip", "20"]);
    set.assert_success("settings set max_conns_per_ip");
    assert!(set.stdout.contains("\"max_conns_per_ip\": 20"), "{set:#?}");
}
