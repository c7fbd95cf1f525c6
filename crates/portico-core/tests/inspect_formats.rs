//! The inspector's export formats against the outside world: HAR checked by the HAR 1.2
//! JSON Schema (har-schema, vendored under fixtures/) and imported back, a hand-written
//! Chrome HAR imported, and "copy as curl" commands run by real curl against a real engine.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use axum::Router;
use bytes::Bytes;
use common::{TestEngine, send, spawn_echo, spawn_upstream};
use http::Request;
use http_body_util::BodyExt;
use portico_core::inspect::curl::curl_command;
use portico_core::inspect::decode::decode_body;
use portico_core::inspect::event::{Exchange, Preview, WebSocketStats};
use portico_core::inspect::har::{from_har, to_har};
use portico_core::inspect::headers::Headers;
use serde_json::{Value, json};

const SCHEMA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/har-schema");

/// The schema's files use relative `$id`s (`log.json#`); they resolve against this base.
const SCHEMA_BASE: &str = "https://har-schema.invalid/";

fn har_validator() -> jsonschema::Validator {
    let mut registry = jsonschema::Registry::new();
    let mut root = Value::Null;
    for entry in std::fs::read_dir(SCHEMA_DIR).expect("schema dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name")
            .to_owned();
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read schema"))
                .expect("schema is JSON");
        if name == "har.json" {
            root = schema.clone();
        }
        registry = registry
            .add(format!("{SCHEMA_BASE}{name}"), schema)
            .expect("schema registers");
    }
    let registry = registry.prepare().expect("registry");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft6)
        .should_validate_formats(true)
        .with_base_uri(format!("{SCHEMA_BASE}har.json"))
        .with_registry(&registry)
        .build(&root)
        .expect("har-schema compiles")
}

/// Every schema violation, as `path: message`.
fn violations(validator: &jsonschema::Validator, har: &Value) -> Vec<String> {
    validator
        .iter_errors(har)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn header(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn whole(bytes: impl Into<Vec<u8>>) -> Preview {
    let bytes = bytes.into();
    Preview {
        size: bytes.len() as u64,
        bytes,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(data).expect("write to a Vec");
    w.finish().expect("finish into a Vec")
}

fn base(id: i64, method: &str, path: &str) -> Exchange {
    Exchange {
        id,
        started_at: 1_715_678_000_000 + id * 1000,
        method: method.to_owned(),
        scheme: "http".to_owned(),
        host: "app.localhost".to_owned(),
        path: path.to_owned(),
        query: None,
        version: "HTTP/1.1".to_owned(),
        client: "127.0.0.1:52000".to_owned(),
        route_id: Some(1),
        route: Some("app.localhost/".to_owned()),
        upstream: Some("http://127.0.0.1:3000".to_owned()),
        status: Some(200),
        duration_ms: 20.25,
        ttfb_ms: Some(18.5),
        bytes_in: 0,
        bytes_out: 0,
        error: None,
        error_side: None,
        error_code: None,
        request_headers: vec![
            header("host", "app.localhost:8080"),
            header("user-agent", "Mozilla/5.0 (X11; Linux x86_64)"),
        ]
        .into(),
        response_headers: Default::default(),
        request_body: Preview::default(),
        response_body: Preview::default(),
        websocket: None,
        replay_of: None,
        imported: false,
        cache: None,
        compression: None,
    }
}

/// Head sizes as the capture computes them: body plus a head.
fn sized(mut e: Exchange) -> Exchange {
    e.bytes_in = 180 + e.request_body.size;
    if e.status.is_some() {
        e.bytes_out = 150 + e.response_body.size;
    }
    e
}

/// A varied set: what the inspector records in a day of development.
fn exchanges() -> Vec<Exchange> {
    let mut get = base(1, "GET", "/api/users");
    get.query = Some("page=2&sort=name&q=caf%C3%A9+cr%C3%A8me&tags[]=a".to_owned());
    get.request_headers.extend([
        header("accept", "application/json"),
        header("cookie", "sid=abc123; theme=dark"),
    ]);
    get.response_headers = vec![
        header("content-type", "application/json; charset=utf-8"),
        header(
            "set-cookie",
            "sid=def456; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly; SameSite=Lax",
        ),
        header("set-cookie", "seen=1; Max-Age=3600"),
    ]
    .into();
    get.response_body = whole(r#"{"users":[{"id":1,"name":"Zoë"}],"page":2}"#);

    let mut post = base(2, "POST", "/api/orders");
    post.request_headers.extend([
        header("content-type", "application/json"),
        header("content-length", "41"),
    ]);
    post.request_body = whole(r#"{"sku":"TEA-1","qty":2,"note":"it's \"ok\""}"#);
    post.status = Some(201);
    post.response_headers = vec![
        header("content-type", "application/json"),
        header("location", "/api/orders/981"),
    ]
    .into();
    post.response_body = whole(r#"{"id":981}"#);
    post.replay_of = Some(1);

    let mut upload = base(3, "PUT", "/upload/blob.bin");
    let blob: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    upload.request_headers.extend([
        header("content-type", "application/octet-stream"),
        header("content-length", "1000"),
    ]);
    upload.request_body = whole(blob);
    upload.status = Some(204);

    let mut gzipped = base(4, "GET", "/");
    gzipped.version = "HTTP/2.0".to_owned();
    gzipped.scheme = "https".to_owned();
    gzipped.request_headers = vec![header("accept-encoding", "gzip, br")].into();
    let page = "<!doctype html><title>café</title><p>".to_owned() + &"hello ".repeat(300);
    gzipped.response_headers = vec![
        header("content-type", "text/html; charset=utf-8"),
        header("content-encoding", "gzip"),
        header("vary", "accept-encoding"),
    ]
    .into();
    gzipped.response_body = whole(gzip(page.as_bytes()));
    gzipped.upstream = Some("http://[::1]:3001".to_owned());

    let mut not_found = base(5, "GET", "/nowhere");
    not_found.host = "missing.localhost".to_owned();
    not_found
        .request_headers
        .map_values(|n, _| (n == "host").then(|| "missing.localhost:8080".to_owned()));
    not_found.route_id = None;
    not_found.route = None;
    not_found.upstream = None;
    not_found.ttfb_ms = None;
    not_found.status = Some(404);
    not_found.error = Some("no route for missing.localhost".to_owned());
    not_found.error_side = Some("portico".to_owned());
    not_found.error_code = Some("no-route".to_owned());
    not_found.response_headers = vec![header("content-type", "text/html; charset=utf-8")].into();
    not_found.response_body = whole("<h1>No route for missing.localhost</h1>");

    let mut ws = base(6, "GET", "/live");
    ws.request_headers.extend([
        header("connection", "Upgrade"),
        header("upgrade", "websocket"),
        header("sec-websocket-version", "13"),
        header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]);
    ws.status = Some(101);
    ws.response_headers = vec![
        header("connection", "upgrade"),
        header("upgrade", "websocket"),
        header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
    ]
    .into();
    ws.websocket = Some(WebSocketStats {
        frames_in: 3,
        frames_out: 5,
        bytes_in: 120,
        bytes_out: 4096,
        closed: true,
    });

    // Only the first bytes of a large brotli response were captured.
    let mut cut = base(7, "GET", "/big.json");
    let big: String = (0..20_000).map(|i| format!("{{\"n\":{i}}},")).collect();
    let mut wire = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut wire, 4096, 5, 22);
        w.write_all(big.as_bytes()).expect("brotli into a Vec");
    }
    cut.response_headers = vec![
        header("content-type", "application/json"),
        header("content-encoding", "br"),
    ]
    .into();
    cut.response_body = Preview {
        bytes: wire[..wire.len() / 2].to_vec(),
        size: wire.len() as u64,
    };

    // The client went away before any response.
    let mut gone = base(8, "POST", "/slow");
    gone.request_headers
        .push("content-type", "text/plain; charset=windows-1252");
    gone.request_body = whole(b"na\xefve".to_vec());
    gone.status = None;
    gone.ttfb_ms = None;
    gone.error = Some("the client closed the connection".to_owned());
    gone.error_side = Some("client".to_owned());

    let mut all: Vec<Exchange> = [get, post, upload, gzipped, not_found, ws, cut]
        .into_iter()
        .map(sized)
        .collect();
    gone.bytes_in = 180 + gone.request_body.size;
    all.push(gone);
    all
}

#[test]
fn har_export_of_varied_exchanges_is_valid_har_1_2() {
    let validator = har_validator();
    let har = to_har(&exchanges(), "0.1.0");
    assert_eq!(violations(&validator, &har), Vec::<String>::new());
    assert_eq!(har["log"]["entries"].as_array().map(Vec::len), Some(8));

    // The validator does reject what is not HAR, so the pass above means something.
    let mut broken = har.clone();
    broken["log"]["entries"][0]["request"]
        .as_object_mut()
        .expect("request")
        .remove("headers");
    broken["log"]["entries"][1]["startedDateTime"] = json!("yesterday");
    broken["log"]["entries"][2]["serverIPAddress"] = json!("not an ip");
    let mut paths: Vec<String> = validator
        .iter_errors(&broken)
        .map(|e| e.instance_path().to_string())
        .collect();
    paths.dedup();
    assert_eq!(
        paths,
        [
            "/log/entries/0/request",
            "/log/entries/1/startedDateTime",
            "/log/entries/2/serverIPAddress"
        ]
    );
}

#[test]
fn har_export_fills_content_from_decoded_bodies() {
    let har = to_har(&exchanges(), "0.1.0");
    let entries = &har["log"]["entries"];
    let content = |i: usize| &entries[i]["response"]["content"];
    assert_eq!(
        content(0)["text"],
        r#"{"users":[{"id":1,"name":"Zoë"}],"page":2}"#
    );
    assert!(
        content(3)["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("<!doctype html><title>café"))
    );
    assert!(content(3)["compression"].as_i64().is_some_and(|c| c > 1000));
    assert_eq!(entries[2]["request"]["postData"]["encoding"], "base64");
    assert_eq!(entries[4]["_error_side"], "portico");
    assert_eq!(entries[4]["_error_code"], "no-route");
    assert_eq!(entries[5]["_websocket"]["frames_out"], 5);
    assert_eq!(content(6)["_truncated"], true);
    assert_eq!(entries[7]["request"]["postData"]["text"], "naïve");
    assert_eq!(entries[3]["serverIPAddress"], "::1");
}

#[test]
fn har_round_trip_keeps_what_har_carries() {
    let original = exchanges();
    let text = serde_json::to_string_pretty(&to_har(&original, "0.1.0")).expect("serialises");
    let imported = from_har(&text).expect("imports its own export");
    assert_eq!(imported.len(), original.len());
    for (before, after) in original.iter().zip(&imported) {
        let what = format!("exchange {} {}", before.id, before.path);
        assert!(after.imported && after.id == 0, "{what}");
        // Compressed bodies come back re-encoded: equal content, not necessarily equal bytes.
        let same_body = |a: &Preview, ah: &Headers, b: &Preview, bh: &Headers| {
            let (da, db) = (decode_body(a, &ah.pairs()), decode_body(b, &bh.pairs()));
            assert_eq!((&da.text, &da.base64), (&db.text, &db.base64), "{what}");
            assert_eq!(
                (da.size, da.truncated, da.complete),
                (db.size, db.truncated, db.complete),
                "{what}"
            );
        };
        same_body(
            &before.request_body,
            &before.request_headers,
            &after.request_body,
            &after.request_headers,
        );
        same_body(
            &before.response_body,
            &before.response_headers,
            &after.response_body,
            &after.response_headers,
        );
        let encoded = before
            .response_headers
            .iter()
            .any(|(n, _)| n == "content-encoding");
        let mut expected = before.clone();
        expected.id = 0;
        expected.imported = true;
        if encoded {
            expected.response_body = after.response_body.clone();
        }
        assert_eq!(after, &expected, "{what}");
    }
}

#[test]
fn a_chrome_har_imports() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/chrome.har"
    ))
    .expect("fixture");
    let imported = from_har(&text).expect("a Chrome HAR imports");
    assert_eq!(imported.len(), 6);
    assert!(imported.iter().all(|e| e.imported && e.id == 0));

    let page = &imported[0];
    assert_eq!(
        (
            page.scheme.as_str(),
            page.host.as_str(),
            page.path.as_str(),
            page.version.as_str()
        ),
        ("https", "app.test", "/", "HTTP/2.0")
    );
    assert_eq!(page.started_at, 1_715_678_463_510);
    assert_eq!(page.duration_ms, 48.213);
    assert_eq!(page.ttfb_ms, Some(2.104 + 15.187 + 0.331 + 25.882));
    assert_eq!(page.bytes_out, 412, "Chrome's _transferSize");
    assert!(
        !page.request_headers.iter().any(|(n, _)| n.starts_with(':')),
        "pseudo-headers dropped"
    );
    assert_eq!(
        page.request_headers.iter().next(),
        Some(("host", "app.test:8443")),
        "the port survives"
    );
    let html = decode_body(&page.response_body, &page.response_headers.pairs());
    assert!(html.complete && html.text.is_some_and(|t| t.contains("Hello, café ☕")));

    let logo = decode_body(
        &imported[1].response_body,
        &imported[1].response_headers.pairs(),
    );
    assert!(logo.binary);
    assert!(imported[1].response_body.bytes.starts_with(b"\x89PNG"));

    let order = &imported[2];
    assert_eq!(order.method, "POST");
    assert_eq!(order.query.as_deref(), Some("draft=false&src=web"));
    assert_eq!(
        order.request_body.bytes,
        br#"{"id":981,"items":[{"sku":"TEA-1","qty":2}],"note":"ring twice, it's \"urgent\""}"#
    );
    assert_eq!(order.status, Some(201));

    let refused = &imported[3];
    assert_eq!(refused.status, None);
    assert_eq!(
        refused.error.as_deref(),
        Some("net::ERR_CONNECTION_REFUSED")
    );
    assert_eq!(refused.version, "HTTP/1.1");

    let ws = &imported[4];
    assert_eq!((ws.scheme.as_str(), ws.status), ("https", Some(101)));
    assert_eq!(
        ws.websocket,
        Some(WebSocketStats {
            frames_in: 1,
            frames_out: 2,
            bytes_in: 22,
            bytes_out: 16,
            closed: true
        })
    );
    assert_eq!(imported[5].status, Some(302));

    // A Chrome HAR is not strictly valid HAR: a failed request's serverIPAddress is "".
    // Import takes it anyway; everything else in the fixture passes the schema.
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        violations(&har_validator(), &doc),
        [
            r#"/log/entries/3/serverIPAddress: "" is not valid under any of the schemas listed in the 'oneOf' keyword"#
        ]
    );
    // And once imported, it exports as valid HAR.
    assert_eq!(
        violations(&har_validator(), &to_har(&imported, "0.1.0")),
        Vec::<String>::new()
    );
}

/// Run a generated command with bash (curl resolves `*.localhost` to loopback itself).
async fn run_curl(command: String) -> Vec<u8> {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("timeout")
            .args(["30", "bash", "-c", &command])
            .stdin(Stdio::null())
            .output()
            .expect("bash and curl are installed");
        assert!(
            out.status.success(),
            "the command failed:\n{command}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    })
    .await
    .expect("curl task")
}

fn exchange_for(port: u16, method: &str, headers: &[(&str, &str)], body: &[u8]) -> Exchange {
    let mut e = base(0, method, "/path");
    e.query = Some("x=1".to_owned());
    e.request_headers = vec![header("host", &format!("app.localhost:{port}"))].into();
    e.request_headers
        .extend(headers.iter().map(|(n, v)| header(n, v)));
    e.request_headers
        .push("content-length", &body.len().to_string());
    e.request_body = whole(body.to_vec());
    e
}

#[tokio::test]
async fn a_curl_command_sends_what_the_original_request_sent() {
    let echo = spawn_echo("echo").await;
    let engine = TestEngine::start().await;
    engine.route("app.localhost", "/", echo.addr).await;

    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json"),
        ("user-agent", "portico-test/1.0"),
        ("x-quotes", r#"it's "$HOME" `id` $(id) \ ;&|"#),
        ("x-unicode", "Zoë ☕"),
    ];
    let body = br#"{"name":"O'Brien","cmd":"$(rm -rf /) `id`","multi":"line 1
line 2"}"#;
    let mut direct = Request::post("/path?x=1");
    for (name, value) in headers {
        direct = direct.header(name, value);
    }
    let direct = send(
        engine.addr(),
        "app.localhost",
        direct,
        Bytes::from_static(body),
    )
    .await
    .json();

    let command = curl_command(&exchange_for(engine.port(), "POST", &headers, body), None);
    assert!(
        command.contains("--data-binary '"),
        "a text body goes inline:\n{command}"
    );
    let replayed: Value = serde_json::from_slice(&run_curl(command).await).expect("echo JSON");

    for key in ["method", "path", "query", "body"] {
        assert_eq!(replayed[key], direct[key], "{key}");
    }
    assert_eq!(replayed["body"], String::from_utf8_lossy(body).as_ref());
    // Every header, not only the ones set: curl adds nothing the original lacked.
    assert_eq!(replayed["headers"], direct["headers"]);
}

/// An upstream that answers with exactly what it received, body in hex.
async fn spawn_byte_echo() -> common::Upstream {
    spawn_upstream(
        Router::new().fallback(|req: axum::extract::Request| async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let headers: serde_json::Map<String, Value> = parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                    )
                })
                .collect();
            axum::Json(json!({
                "method": parts.method.as_str(),
                "uri": parts.uri.to_string(),
                "headers": headers,
                "body_hex": body.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            }))
        }),
    )
    .await
}

#[tokio::test]
async fn a_curl_command_sends_a_binary_body_byte_for_byte() {
    let upstream = spawn_byte_echo().await;
    let engine = TestEngine::start().await;
    engine.route("app.localhost", "/", upstream.addr).await;

    let mut body: Vec<u8> = (0..=255u8).collect();
    body.extend_from_slice(b"\0\0%s%%\\'\"\r\n\x1b[31m@end");
    let headers = [
        ("content-type", "application/octet-stream"),
        ("user-agent", "portico-test/1.0"),
        ("accept", "*/*"),
        // The JSON echo shows non-ASCII header values as "?"; this one shows them.
        ("x-unicode", "Zoë ☕"),
    ];
    let mut direct = Request::put("/path?x=1");
    for (name, value) in headers {
        direct = direct.header(name, value);
    }
    let direct = send(
        engine.addr(),
        "app.localhost",
        direct,
        Bytes::from(body.clone()),
    )
    .await
    .json();

    let command = curl_command(&exchange_for(engine.port(), "PUT", &headers, &body), None);
    assert!(
        command.starts_with("printf '"),
        "a binary body is piped:\n{command}"
    );
    let replayed: Value = serde_json::from_slice(&run_curl(command).await).expect("echo JSON");

    let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(replayed["body_hex"], hex.as_str());
    assert_eq!(replayed["headers"]["x-unicode"], "Zoë ☕");
    assert_eq!(replayed, direct);
}

#[test]
fn a_curl_command_for_https_names_the_ca_file() {
    let mut e = base(0, "GET", "/");
    e.scheme = "https".to_owned();
    let command = curl_command(
        &e,
        Some(Path::new("/home/me/.local/share/portico/ca/root.pem")),
    );
    assert!(
        command.contains("--cacert /home/me/.local/share/portico/ca/root.pem"),
        "{command}"
    );
}
