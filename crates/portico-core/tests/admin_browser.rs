//! The admin API against a hostile page in a real browser. Debian's headless Chromium, logged
//! in to the admin API (it holds a valid session cookie), loads a page served on another
//! loopback port and lets that page try everything a web page can: preflighted and "simple"
//! cross-origin POSTs, a form posted into a hidden iframe, cross-origin reads, an
//! `EventSource` and a `WebSocket`. Nothing may change and nothing may be read. Control
//! requests to a deliberately permissive origin prove the page's harness can observe success,
//! so the refusals are not vacuous. Around it, plain HTTP checks of the login link, the
//! session cookie, the event stream, rebinding and WebSocket upgrades.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use bytes::Bytes;
use common::{TestEngine, closed_port, send, spawn_upstream};
use futures_util::StreamExt as _;
use http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use portico_core::config::{NewRoute, Route};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Every await on the network is bounded by this.
const STEP: Duration = Duration::from_secs(10);

/// What the hostile server saw the page do.
#[derive(Default)]
struct Seen {
    /// The JSON the page posted to `/report` once every attempt had settled.
    report: Mutex<Option<String>>,
    reported: Notify,
    /// The page has opened its `EventSource` to the admin API.
    listening: Notify,
    /// `Cookie` headers of requests that reached the hostile server.
    cookies: Mutex<Vec<String>>,
}

/// The hostile page. `__API__` is the admin API, `__CONTROL__` a different origin that
/// allows CORS (the hostile server again, under `localhost`), `__LOGIN__` a login link,
/// `__VICTIM__` the id of an existing route.
///
/// Order matters: the page first logs the browser in through a hidden iframe (127.0.0.1 on
/// two ports is one site, so the `SameSite=Strict` cookie is set and then sent with every
/// attack), then attacks, writes what it observed into `body[data-results]` and posts it
/// to `/report`. `/settled.js` is a blocking script the server holds back until that report
/// arrives, so the load event (when `--dump-dom` prints and Chromium exits) comes after it.
const PAGE: &str = r#"<!doctype html><html><head><meta charset=utf-8><title>hostile</title></head>
<body><p id=status>running</p>
<iframe name=sink id=sink></iframe>
<form id=csrf method=POST action="__API__/routes" enctype="text/plain" target=sink>
<input type=hidden name='{"host":"form.localhost","upstreams":["http://127.0.0.1:9"],"pad":"' value='"}'>
</form>
<script>
const API = '__API__';
const CONTROL = '__CONTROL__';
const results = {};
const routeJson = (name) => JSON.stringify({host: name + '.localhost', upstreams: ['http://127.0.0.1:9']});
const within = (ms, promise, fallback) =>
  Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(fallback), ms))]);

async function attempt(url, init) {
  const tried = (async () => {
    try {
      const res = await fetch(url, init);
      let text;
      try { text = await res.text(); } catch (e) { text = 'text() threw: ' + e; }
      return {rejected: false, type: res.type, status: res.status, text};
    } catch (e) {
      return {rejected: true, error: String(e)};
    }
  })();
  return within(5000, tried, {timedOut: true});
}

function frameLoaded(frame) {
  return new Promise((resolve) => frame.addEventListener('load', () => resolve(true), {once: true}));
}

async function logIn() {
  const frame = document.createElement('iframe');
  const loaded = frameLoaded(frame);
  frame.src = '__LOGIN__';
  document.body.appendChild(frame);
  return {loaded: await within(5000, loaded, false), readable: readFrame(frame)};
}

function readFrame(frame) {
  try {
    return frame.contentDocument === null ? null : frame.contentDocument.documentElement.outerHTML;
  } catch (e) {
    return 'threw: ' + e.name;
  }
}

async function postForm() {
  const frame = document.getElementById('sink');
  const loaded = frameLoaded(frame);
  document.getElementById('csrf').submit();
  return {loaded: await within(5000, loaded, false), readable: readFrame(frame)};
}

function listen(url, ms) {
  return new Promise((resolve) => {
    const seen = {opened: false, messages: [], errors: 0};
    const source = new EventSource(url, {withCredentials: true});
    source.onopen = () => { seen.opened = true; };
    source.onmessage = (e) => seen.messages.push(e.data);
    source.addEventListener('change', (e) => seen.messages.push(e.data));
    source.onerror = () => { seen.errors += 1; };
    setTimeout(() => { seen.readyState = source.readyState; source.close(); resolve(seen); }, ms);
  });
}

function socket(url, ms) {
  return new Promise((resolve) => {
    const seen = {opened: false, messages: [], errored: false, closeCode: null};
    const ws = new WebSocket(url);
    ws.onopen = () => { seen.opened = true; ws.send('hello'); };
    ws.onmessage = (e) => seen.messages.push(String(e.data));
    ws.onerror = () => { seen.errored = true; };
    ws.onclose = (e) => { seen.closeCode = e.code; };
    setTimeout(() => { ws.close(); resolve(seen); }, ms);
  });
}

async function run() {
  results.login = await logIn();
  results.corsPost = await attempt(API + '/routes', {
    method: 'POST', mode: 'cors', credentials: 'include',
    headers: {'content-type': 'application/json'}, body: routeJson('cors'),
  });
  results.simplePost = await attempt(API + '/routes', {
    method: 'POST', mode: 'no-cors', credentials: 'include',
    headers: {'content-type': 'text/plain'}, body: routeJson('simple'),
  });
  results.simpleDisable = await attempt(API + '/routes/__VICTIM__/disable', {
    method: 'POST', mode: 'no-cors', credentials: 'include',
  });
  results.simpleLoginCode = await attempt(API + '/login-codes', {
    method: 'POST', mode: 'no-cors', credentials: 'include',
  });
  results.form = await postForm();
  results.readRoutes = await attempt(API + '/routes', {credentials: 'include'});
  results.readStatus = await attempt(API + '/status', {credentials: 'include'});
  results.opaqueStatus = await attempt(API + '/status', {mode: 'no-cors', credentials: 'include'});
  const events = listen(API + '/events', 3000);
  const controlEvents = listen(CONTROL + '/sse', 3000);
  fetch('/listening', {method: 'POST'});
  results.eventSource = await events;
  results.controlEventSource = await controlEvents;
  results.webSocket = await socket(API.replace('http:', 'ws:') + '/events', 3000);
  results.controlWebSocket = await socket(CONTROL.replace('http:', 'ws:') + '/ws', 3000);
  results.controlPost = await attempt(CONTROL + '/cors', {
    method: 'POST', mode: 'cors', credentials: 'include',
    headers: {'content-type': 'application/json'}, body: routeJson('control'),
  });
}

run().catch((e) => { results.harnessError = String(e); }).finally(() => {
  const json = JSON.stringify(results);
  document.body.dataset.results = json;
  document.getElementById('status').textContent = 'settled';
  fetch('/report', {method: 'POST', body: json});
});
</script><script src="/settled.js"></script></body></html>"#;

/// Serve the hostile page, its `/report`, `/listening` and `/settled.js`, and the controls
/// `/cors`, `/sse` and `/ws`, which let any origin in. The page reaches the controls as
/// `localhost:<port>`: the same server under another name is another origin.
async fn spawn_hostile(
    seen: Arc<Seen>,
    admin: SocketAddr,
    login: String,
    victim: &Route,
) -> common::Upstream {
    let page = {
        let seen = seen.clone();
        let victim = victim.id.to_string();
        move |headers: HeaderMap| {
            let seen = seen.clone();
            let port = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.rsplit_once(':'))
                .map_or("80", |(_, port)| port)
                .to_owned();
            let html = PAGE
                .replace("__API__", &format!("http://{admin}/api/v1"))
                .replace("__CONTROL__", &format!("http://localhost:{port}"))
                .replace("__LOGIN__", &login)
                .replace("__VICTIM__", &victim);
            async move {
                record_cookie(&seen, &headers);
                Html(html)
            }
        }
    };
    let report = {
        let seen = seen.clone();
        move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                record_cookie(&seen, &headers);
                *seen.report.lock().expect("report") = Some(body);
                seen.reported.notify_one();
                StatusCode::NO_CONTENT
            }
        }
    };
    let listening = {
        let seen = seen.clone();
        move || {
            let seen = seen.clone();
            async move {
                seen.listening.notify_one();
                StatusCode::NO_CONTENT
            }
        }
    };
    let settled = {
        let seen = seen.clone();
        move || {
            let seen = seen.clone();
            async move {
                let _ = timeout(Duration::from_secs(60), seen.reported.notified()).await;
                (
                    [(header::CONTENT_TYPE, "text/javascript")],
                    "document.title = 'settled';",
                )
            }
        }
    };
    let cors = |headers: HeaderMap| async move { (allow_any_origin(&headers), "control-ok") };
    let sse = |headers: HeaderMap| async move {
        let events = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
            SseEvent::default().event("change").data("control-event"),
        )])
        .chain(futures_util::stream::pending());
        (allow_any_origin(&headers), Sse::new(events)).into_response()
    };
    let ws = |upgrade: WebSocketUpgrade| async move {
        upgrade.on_upgrade(|mut socket| async move {
            while let Some(Ok(Message::Text(text))) = socket.recv().await {
                let _ = socket
                    .send(Message::Text(format!("echo {text}").into()))
                    .await;
            }
        })
    };
    spawn_upstream(
        Router::new()
            .route("/", get(page))
            .route("/report", post(report))
            .route("/listening", post(listening))
            .route("/settled.js", get(settled))
            .route("/cors", post(cors).options(cors))
            .route("/sse", get(sse))
            .route("/ws", get(ws)),
    )
    .await
}

/// CORS headers that let the requesting origin in, credentials and all: what the admin API
/// must never send.
fn allow_any_origin(headers: &HeaderMap) -> [(header::HeaderName, HeaderValue); 4] {
    let origin = headers
        .get(header::ORIGIN)
        .cloned()
        .unwrap_or(HeaderValue::from_static("null"));
    [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
        (
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        ),
    ]
}

fn record_cookie(seen: &Seen, headers: &HeaderMap) {
    for value in headers.get_all(header::COOKIE) {
        seen.cookies
            .lock()
            .expect("cookies")
            .push(value.to_str().unwrap_or("?").to_owned());
    }
}

/// Run headless Chromium (fresh profile, HOME in a temporary dir) on `url`; returns the
/// dumped DOM and stderr. The whole run is bounded by `timeout(1)`.
async fn chromium(url: String) -> (String, String) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium package (make test does)"
    );
    let out = tokio::task::spawn_blocking(move || {
        let home = tempfile::tempdir().expect("home dir");
        let profile = tempfile::tempdir().expect("profile dir");
        Command::new("timeout")
            .args(["--kill-after=5", "90"])
            .arg(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-features=HttpsUpgrades",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(url)
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .output()
    })
    .await
    .expect("join")
    .expect("chromium runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of `attr="…"` in serialized HTML, unescaped.
fn attribute(html: &str, attr: &str) -> Option<String> {
    let start = html.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = start + html[start..].find('"')?;
    Some(
        html[start..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&"),
    )
}

/// Send `req` to the admin listener; the response head, body still streaming.
async fn open(req: Request<Full<Bytes>>) -> http::Response<Incoming> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    timeout(STEP, client.request(req))
        .await
        .expect("admin answers in time")
        .expect("admin answers")
}

/// The `portico_session=…` pair from a `Set-Cookie` value.
fn session_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .expect("a name=value pair")
        .trim()
        .to_owned()
}

/// The path and query of a login URL.
fn path_of(url: &str) -> String {
    let parsed = url::Url::parse(url).expect("login URL");
    format!("{}?{}", parsed.path(), parsed.query().expect("code"))
}

fn new_route(host: &str) -> NewRoute {
    NewRoute {
        host: host.into(),
        upstreams: vec!["http://127.0.0.1:9".into()],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_loopback_port_can_neither_change_nor_read_the_admin_api_in_chromium() {
    let engine = TestEngine::start().await;
    let admin = engine.engine().admin_addrs()[0];
    let victim = engine
        .route("victim.localhost", "/", closed_port().await)
        .await;
    let login = engine.engine().login_url().expect("admin on");
    let seen = Arc::new(Seen::default());
    let hostile = spawn_hostile(seen.clone(), admin, login, &victim).await;
    assert_ne!(hostile.addr.port(), admin.port());

    let browser = tokio::spawn(chromium(format!("http://{}/", hostile.addr)));
    // Once the page listens, change something, so a leaking event stream would carry it.
    let listening = timeout(Duration::from_secs(60), seen.listening.notified())
        .await
        .is_ok();
    if listening {
        let trigger = engine.add(new_route("trigger.localhost")).await;
        engine
            .engine()
            .remove_route(trigger.id)
            .await
            .expect("trigger removed");
    }
    let (dom, stderr) = timeout(Duration::from_secs(120), browser)
        .await
        .expect("Chromium finishes")
        .expect("join");
    assert!(
        listening,
        "the page never opened its EventSource.\nDOM: {dom}\nstderr: {stderr}"
    );

    let json = attribute(&dom, "data-results")
        .unwrap_or_else(|| panic!("no results in the DOM.\nDOM: {dom}\nstderr: {stderr}"));
    eprintln!("what the hostile page observed: {json}");
    let results: Value = serde_json::from_str(&json).expect("results JSON");
    let reported = seen.report.lock().expect("report").clone();
    assert_eq!(
        reported.as_deref(),
        Some(json.as_str()),
        "DOM and report differ"
    );
    assert!(results.get("harnessError").is_none(), "{results:#}");

    // Nothing changed: the victim route is the only one and is still enabled.
    let rows = engine.engine().routes().await.expect("routes");
    assert!(rows.invalid.is_empty());
    let hosts: Vec<_> = rows.routes.iter().map(|r| r.host.to_string()).collect();
    assert_eq!(hosts, ["victim.localhost"], "{results:#}");
    assert!(rows.routes[0].enabled, "the victim route was disabled");

    // The hostile page could not even log the browser in: opening the login link in its
    // iframe is a same-site request (another port on 127.0.0.1), which the admin refuses,
    // so no session cookie exists for it to ride on. (With a cookie from the user's own
    // login, same-site and foreign-Origin requests are refused too: see
    // `a_real_session_cookie_does_not_help_a_request_from_another_port` in admin.rs.)
    assert_eq!(results["login"]["loaded"], true, "{results:#}");
    let cookie = seen
        .cookies
        .lock()
        .expect("cookies")
        .iter()
        .flat_map(|c| c.split(';'))
        .map(str::trim)
        .any(|c| c.starts_with("portico_session="));
    assert!(
        !cookie,
        "a same-site iframe obtained a session: {results:#}"
    );

    // Preflighted requests die at the preflight; reads are refused.
    for name in ["corsPost", "readRoutes", "readStatus"] {
        assert_eq!(results[name]["rejected"], true, "{name}: {results:#}");
    }
    // Simple requests go out but come back opaque: no status, no body. (`opaqueStatus`, a
    // no-cors GET, carries the cookie and no Origin, so the admin answers it; the browser
    // hides the answer, and no GET changes anything.)
    for name in [
        "simplePost",
        "simpleDisable",
        "simpleLoginCode",
        "opaqueStatus",
    ] {
        let r = &results[name];
        assert_eq!(r["rejected"], false, "{name}: {results:#}");
        assert_eq!(r["type"], "opaque", "{name}: {results:#}");
        assert_eq!(r["status"], 0, "{name}: {results:#}");
        assert_eq!(r["text"], "", "{name}: {results:#}");
    }
    // The form's answer loads into the iframe but stays unreadable.
    assert_eq!(results["form"]["loaded"], true, "{results:#}");
    assert_eq!(results["form"]["readable"], Value::Null, "{results:#}");
    // No event stream and no socket.
    let events = &results["eventSource"];
    assert_eq!(events["opened"], false, "{results:#}");
    assert_eq!(events["messages"], serde_json::json!([]), "{results:#}");
    assert_eq!(events["readyState"], 2, "closed, not retrying: {results:#}");
    assert!(events["errors"].as_u64() >= Some(1), "{results:#}");
    let socket = &results["webSocket"];
    assert_eq!(socket["opened"], false, "{results:#}");
    assert_eq!(socket["messages"], serde_json::json!([]), "{results:#}");
    assert_eq!(socket["errored"], true, "{results:#}");

    // Controls: the same harness sees success where the server allows it.
    assert_eq!(results["controlPost"]["type"], "cors", "{results:#}");
    assert_eq!(results["controlPost"]["status"], 200, "{results:#}");
    assert_eq!(results["controlPost"]["text"], "control-ok", "{results:#}");
    let control_events = &results["controlEventSource"];
    assert_eq!(control_events["opened"], true, "{results:#}");
    assert_eq!(
        control_events["messages"],
        serde_json::json!(["control-event"]),
        "{results:#}"
    );
    let control_socket = &results["controlWebSocket"];
    assert_eq!(control_socket["opened"], true, "{results:#}");
    assert_eq!(
        control_socket["messages"],
        serde_json::json!(["echo hello"]),
        "{results:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_opening_a_login_link_lands_on_the_admin_page_and_spends_the_link() {
    let engine = TestEngine::start().await;
    let admin = engine.engine().admin_addrs()[0];
    let login = engine.engine().login_url().expect("admin on");
    assert!(
        login.starts_with(&format!("http://{admin}/login?code=")),
        "{login}"
    );

    let (dom, stderr) = chromium(login.clone()).await;
    assert!(
        dom.contains("<title>Portico</title>"),
        "Chromium did not land on the admin page.\nDOM: {dom}\nstderr: {stderr}"
    );
    let again = send(
        admin,
        "127.0.0.1",
        Request::get(path_of(&login)),
        Bytes::new(),
    )
    .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
    assert!(!again.headers.contains_key(header::SET_COOKIE));
    assert!(
        again.body.contains("This login link has expired"),
        "{}",
        again.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_link_sets_a_strict_httponly_cookie_once_that_opens_the_api_and_its_event_stream() {
    let engine = TestEngine::start().await;
    let admin = engine.engine().admin_addrs()[0];
    let login = path_of(&engine.engine().login_url().expect("admin on"));

    let first = send(admin, "127.0.0.1", Request::get(&login), Bytes::new()).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert_eq!(first.headers[header::LOCATION], "/");
    assert_eq!(first.headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(first.headers[header::CACHE_CONTROL], "no-store");
    let set_cookies: Vec<_> = first.headers.get_all(header::SET_COOKIE).iter().collect();
    assert_eq!(set_cookies.len(), 1, "{set_cookies:?}");
    let set_cookie = set_cookies[0].to_str().expect("ASCII");
    let attributes: Vec<_> = set_cookie.split(';').map(str::trim).collect();
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            attributes.contains(&wanted),
            "{wanted} missing: {set_cookie}"
        );
    }
    assert!(!attributes.contains(&"Secure"), "plain HTTP: {set_cookie}");
    assert!(
        !attributes
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("domain")),
        "a host-only cookie has no Domain: {set_cookie}"
    );
    let cookie = session_pair(set_cookie);
    assert!(cookie.starts_with("portico_session="), "{cookie}");

    // Follow the 303 as a browser would.
    let home = send(
        admin,
        "127.0.0.1",
        Request::get("/").header("cookie", &cookie),
        Bytes::new(),
    )
    .await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("<title>Portico</title>"),
        "{}",
        home.body
    );

    let status = send(
        admin,
        "127.0.0.1",
        Request::get("/api/v1/status").header("cookie", &cookie),
        Bytes::new(),
    )
    .await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    assert_eq!(
        status.json()["listeners"]["http"][0],
        engine.addr().to_string()
    );

    let reused = send(admin, "127.0.0.1", Request::get(&login), Bytes::new()).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert!(!reused.headers.contains_key(header::SET_COOKIE));
    assert_eq!(reused.headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(reused.headers[header::CACHE_CONTROL], "no-store");

    let forged = send(
        admin,
        "127.0.0.1",
        Request::get("/api/v1/status").header("cookie", "portico_session=forged"),
        Bytes::new(),
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);

    let anonymous = send(
        admin,
        "127.0.0.1",
        Request::get("/api/v1/events"),
        Bytes::new(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let stream = open(
        Request::get(format!("http://{admin}/api/v1/events"))
            .header("cookie", &cookie)
            .header("accept", "text/event-stream")
            .body(Full::default())
            .expect("request"),
    )
    .await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()[header::CONTENT_TYPE], "text/event-stream");
    // The handler subscribed before it answered, so this change is on the stream.
    engine.add(new_route("changed.localhost")).await;
    let mut body = stream.into_body();
    let mut seen = String::new();
    while !seen.contains("routes_changed") {
        let frame = timeout(STEP, body.frame())
            .await
            .unwrap_or_else(|_| panic!("no routes_changed event within {STEP:?}: {seen:?}"))
            .expect("stream still open")
            .expect("frame");
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.contains("event: change"), "{seen:?}");
    assert!(
        seen.contains(r#"data: {"type":"routes_changed"}"#),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_rebound_host_is_refused_even_with_the_bearer_token() {
    let engine = TestEngine::start().await;
    let admin = engine.engine().admin_addrs()[0];
    let token = engine.engine().admin_token().expect("admin on").to_owned();
    let bearer = format!("Bearer {token}");

    let own = send(
        admin,
        "127.0.0.1",
        Request::get("/api/v1/routes").header("authorization", &bearer),
        Bytes::new(),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "control: {}", own.body);

    for path in ["/api/v1/routes", "/api/v1/status", "/", "/login?code=x"] {
        let rebound = send(
            admin,
            "attacker.localhost",
            Request::get(path).header("authorization", &bearer),
            Bytes::new(),
        )
        .await;
        assert_eq!(rebound.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            rebound.headers[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(!rebound.body.contains(&token));
    }
    let write = send(
        admin,
        "attacker.localhost",
        Request::post("/api/v1/routes")
            .header("authorization", &bearer)
            .header("content-type", "application/json"),
        Bytes::from(r#"{"host":"rebound.localhost","upstreams":["http://127.0.0.1:9"]}"#),
    )
    .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    let rows = engine.engine().routes().await.expect("routes");
    assert!(rows.routes.is_empty(), "{:?}", rows.routes);
}

#[tokio::test]
async fn a_websocket_upgrade_to_the_admin_api_without_credentials_gets_401_not_101() {
    let engine = TestEngine::start().await;
    let admin = engine.engine().admin_addrs()[0];
    let handshake = |request: tungstenite::handshake::client::Request| async move {
        match timeout(STEP, tokio_tungstenite::connect_async(request))
            .await
            .expect("handshake answered in time")
        {
            Ok((_, response)) => panic!("upgraded: {response:?}"),
            Err(tungstenite::Error::Http(response)) => response.status(),
            Err(other) => panic!("no HTTP answer: {other}"),
        }
    };
    let url = format!("ws://{admin}/api/v1/events");

    let anonymous = url.as_str().into_client_request().expect("request");
    assert_eq!(handshake(anonymous).await, StatusCode::UNAUTHORIZED);

    let mut forged = url.as_str().into_client_request().expect("request");
    forged.headers_mut().insert(
        header::COOKIE,
        "portico_session=forged".parse().expect("value"),
    );
    assert_eq!(handshake(forged).await, StatusCode::UNAUTHORIZED);

    // With credentials but from another origin: refused before credentials count.
    let mut cross = url.as_str().into_client_request().expect("request");
    let token = engine.engine().admin_token().expect("admin on");
    cross.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("value"),
    );
    cross
        .headers_mut()
        .insert(header::ORIGIN, "http://127.0.0.1:1".parse().expect("value"));
    assert_eq!(handshake(cross).await, StatusCode::FORBIDDEN);
}
// Repro for: the admin's Origin check trusts `portico.localhost` on ANY port.
// Append to crates/portico-core/tests/admin_browser.rs (uses its Seen, record_cookie, chromium).
// Fails on the current code: the victim route ends up disabled.

const EXPLOIT: &str = r#"<!doctype html><html><body><p>x</p><script>
(async () => {
  const r = {origin: location.origin};
  const f = document.createElement('iframe');
  const loaded = new Promise((res) => f.addEventListener('load', () => res(true), {once: true}));
  f.src = '__LOGIN__'; document.body.appendChild(f);
  r.login = await Promise.race([loaded, new Promise((res) => setTimeout(() => res(false), 5000))]);
  try {
    const res = await fetch('__API__/routes/__VICTIM__/disable', {method: 'POST', mode: 'no-cors', credentials: 'include'});
    r.disable = res.type + ' ' + res.status;
  } catch (e) { r.disable = String(e); }
  document.body.dataset.results = JSON.stringify(r);
  fetch('/report', {method: 'POST', body: JSON.stringify(r)});
})();
</script><script src="/settled.js"></script></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_portico_localhost_at_another_port_cannot_use_a_portico_localhost_session() {
    let engine = TestEngine::start().await;
    let proxy = engine.port();
    let victim = engine
        .route("victim.localhost", "/", closed_port().await)
        .await;
    let login = engine.engine().login_url().expect("admin on");
    let code = login.split("code=").nth(1).expect("code").to_owned();
    let seen = Arc::new(Seen::default());
    // The user logged in through the proxy (README: the admin is reachable at portico.localhost).
    let html = EXPLOIT
        .replace(
            "__LOGIN__",
            &format!("http://portico.localhost:{proxy}/login?code={code}"),
        )
        .replace(
            "__API__",
            &format!("http://portico.localhost:{proxy}/api/v1"),
        )
        .replace("__VICTIM__", &victim.id.to_string());
    let report = {
        let seen = seen.clone();
        move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                record_cookie(&seen, &headers);
                *seen.report.lock().expect("report") = Some(body);
                seen.reported.notify_one();
                StatusCode::NO_CONTENT
            }
        }
    };
    let settled = {
        let seen = seen.clone();
        move || {
            let seen = seen.clone();
            async move {
                let _ = timeout(Duration::from_secs(30), seen.reported.notified()).await;
                ([(header::CONTENT_TYPE, "text/javascript")], "1;")
            }
        }
    };
    let hostile = spawn_upstream(
        Router::new()
            .route(
                "/",
                get(move || {
                    let h = html.clone();
                    async move { Html(h) }
                }),
            )
            .route("/report", post(report))
            .route("/settled.js", get(settled)),
    )
    .await;
    // The hostile page is served by some other local server, opened as portico.localhost:<its port>.
    let (dom, _) = chromium(format!("http://portico.localhost:{}/", hostile.addr.port())).await;
    eprintln!("{:?}", attribute(&dom, "data-results"));
    let rows = engine.engine().routes().await.expect("routes");
    assert!(
        rows.routes[0].enabled,
        "a page at portico.localhost:<other port> disabled a route"
    );

    // The same hole at the HTTP level: a foreign Origin that merely says portico.localhost passes.
    let bearer = format!("Bearer {}", engine.engine().admin_token().expect("token"));
    let r = send(
        engine.engine().admin_addrs()[0],
        "127.0.0.1",
        Request::get("/api/v1/status")
            .header("authorization", &bearer)
            .header("origin", "http://portico.localhost:1"),
        Bytes::new(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "Origin http://portico.localhost:1 accepted"
    );
}
