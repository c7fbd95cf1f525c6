//! Reliability of the real `portico serve`: `kill -9` in the middle of route writes and
//! captured traffic, a data dir on a filesystem that fills up, and database files that are
//! damaged or belong to another program.
//!
//! Everything runs on loopback, against temporary data dirs, bounded in time and size. The
//! full-disk test mounts a 4 MiB tmpfs and so needs root (CI and the dev machine run as root);
//! elsewhere it fails saying so rather than passing without testing anything.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::Uri;
use axum::routing::any;
use bytes::Bytes;
use common::{Output, SERVE_ON_FREE_PORTS, Serve, Upstream, data_dir, portico, send};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

/// The admin API of a running `portico serve`, found through the files it writes in its data
/// dir (`admin.json`, `admin-token`), as the CLI finds it.
struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    fn of(data_dir: &Path) -> Api {
        let info = std::fs::read_to_string(data_dir.join("admin.json")).expect("admin.json");
        let info: Value = serde_json::from_str(&info).expect("admin.json is JSON");
        let base = info["url"]
            .as_str()
            .expect("admin.json has a url")
            .to_owned();
        let token = std::fs::read_to_string(data_dir.join("admin-token")).expect("admin-token");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into();
        Api {
            base,
            token: token.trim().to_owned(),
            agent,
        }
    }

    /// `METHOD /api/v1{path}`: the status and the JSON answer (`null` when empty). An error
    /// is a failure to talk to the engine at all (it was killed, say).
    fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}/api/v1{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let sent = match (method.as_str(), body) {
            ("GET", _) => self.agent.get(&url).header("authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("authorization", &auth)
                .call(),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("authorization", &auth)
                .send_json(b),
            ("PATCH", Some(b)) => self
                .agent
                .patch(&url)
                .header("authorization", &auth)
                .send_json(b),
            (other, _) => panic!("no such call: {other} with this body"),
        };
        let mut resp = sent.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| format!("not JSON ({e}): {text}"))?
        };
        Ok((status, value))
    }

    /// `GET`, expecting 200.
    fn get(&self, path: &str) -> Value {
        match self.call(Method::GET, path, None) {
            Ok((200, value)) => value,
            other => panic!("GET {path}: {other:?}"),
        }
    }

    /// Every route, by host.
    fn routes(&self) -> BTreeMap<String, Value> {
        let listed = self.get("/routes");
        let routes = listed
            .as_array()
            .unwrap_or_else(|| panic!("GET /routes is an array: {listed}"));
        routes
            .iter()
            .map(|r| (r["host"].as_str().expect("host").to_owned(), r.clone()))
            .collect()
    }

    /// Every captured exchange whose path contains `path`, newest first.
    fn exchanges(&self, path: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut before = String::new();
        // Pages of 500; far more than any test here captures.
        for _ in 0..100 {
            let page = self.get(&format!("/requests?limit=500&path={path}{before}"));
            all.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_before"].as_i64() {
                Some(id) => before = format!("&before={id}"),
                None => return all,
            }
        }
        panic!("more than 100 pages of exchanges under {path}");
    }

    /// `capture` of `GET /status`.
    fn capture_status(&self) -> Value {
        self.get("/status")["capture"].clone()
    }
}

/// The body the test upstream answers for `path`: the path repeated, between 100 bytes and
/// 40 KiB long (a spread of sizes, so previews of one batch differ in length), or `big`
/// bytes of it when asked.
fn body_for(path: &str) -> String {
    let len = if let Some(kib) = path.strip_prefix("/big/").and_then(|p| p.split('/').next()) {
        kib.parse::<usize>().expect("/big/KIB/…") << 10
    } else {
        let hash = path.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        100 + (hash % 40_000) as usize
    };
    let unit = format!("{path}|");
    unit.repeat(len / unit.len() + 1)[..len].to_owned()
}

/// What a test client sends as the body of a POST to `path`.
fn request_body_for(path: &str) -> String {
    format!("request for {path}\n").repeat(20)
}

/// An upstream answering every path with [`body_for`] it.
async fn upstream() -> Upstream {
    let router = Router::new().fallback(any(|uri: Uri| async move { body_for(uri.path()) }));
    Upstream::start(router).await
}

/// One request through the proxy: `Ok` when it was answered 200 with the whole expected body.
async fn exchange(
    proxy: std::net::SocketAddr,
    host: &str,
    method: Method,
    path: &str,
) -> Result<(), String> {
    let body = if method == Method::POST {
        Bytes::from(request_body_for(path))
    } else {
        Bytes::new()
    };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host)
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let answer = async {
        let resp = send(proxy, req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if status != StatusCode::OK || body != body_for(path).as_bytes() {
            return Err(format!("{path}: {status}, {} bytes", body.len()));
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .map_err(|_| format!("{path}: no answer within 10 s"))?
}

/// `PRAGMA integrity_check` of the SQLite file at `path`: "ok" or what is wrong.
fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path)
        .unwrap_or_else(|e| panic!("open {} for a check: {e}", path.display()));
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .unwrap_or_else(|e| panic!("integrity_check of {}: {e}", path.display()));
    rows.join("; ")
}

/// Copy the databases of `data_dir` with their journals (as a crash left them) to a fresh
/// directory and check the copies, so the check sees the files before Portico recovers them.
fn integrity_of_copies(data_dir: &Path) -> (String, String) {
    let copy = tempfile::tempdir().expect("a dir for the copies");
    for name in [
        "portico.db",
        "portico.db-wal",
        "traffic.db",
        "traffic.db-journal",
    ] {
        let from = data_dir.join(name);
        if from.exists() {
            std::fs::copy(&from, copy.path().join(name)).expect("copy a database file");
        }
    }
    (
        integrity(&copy.path().join("portico.db")),
        integrity(&copy.path().join("traffic.db")),
    )
}

// ---------------------------------------------------------------------------------------
// kill -9

/// A route write, as one writer thread sends it.
#[derive(Debug, Clone)]
enum Op {
    Add,
    Disable,
    Remove,
}

/// What became of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Sent; no answer yet (when the engine was killed, it may or may not have been applied).
    InFlight,
    /// Answered 2xx.
    Acknowledged,
}

/// What a host should be after a sequence of writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostState {
    Absent,
    Enabled,
    Disabled,
}

impl HostState {
    fn after(self, op: &Op) -> HostState {
        match op {
            Op::Add => HostState::Enabled,
            Op::Disable => HostState::Disabled,
            Op::Remove => HostState::Absent,
        }
    }

    fn of(route: Option<&Value>) -> HostState {
        match route.map(|r| r["enabled"].as_bool()) {
            None => HostState::Absent,
            Some(Some(true)) => HostState::Enabled,
            Some(Some(false)) => HostState::Disabled,
            Some(None) => panic!("a route without enabled: {route:?}"),
        }
    }
}

/// Every write one writer sent, in order.
type WriteLog = Arc<Mutex<Vec<(String, Op, Outcome)>>>;

/// Send route writes one after another until the engine stops answering or `stop` is set:
/// add `HOST-i`, and now and then disable or remove an earlier one. Every write is logged
/// before it is sent and marked when acknowledged.
fn write_routes(
    api: Api,
    prefix: String,
    log: WriteLog,
    acked: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let mut ids: BTreeMap<String, i64> = BTreeMap::new();
    let host = |i: usize| format!("{prefix}-{i}.crash.localhost");
    for i in 0..2000 {
        let mut ops = vec![(host(i), Op::Add)];
        if i % 3 == 2 {
            ops.push((host(i - 1), Op::Disable));
        }
        if i % 4 == 3 {
            ops.push((host(i - 2), Op::Remove));
        }
        for (host, op) in ops {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            log.lock()
                .expect("log")
                .push((host.clone(), op.clone(), Outcome::InFlight));
            let answer = match op {
                Op::Add => api.call(
                    Method::POST,
                    "/routes",
                    Some(json!({"host": host, "upstreams": [format!("{}", 3000 + i % 5000)]})),
                ),
                Op::Disable => api.call(
                    Method::PATCH,
                    &format!("/routes/{}", ids[&host]),
                    Some(json!({"enabled": false})),
                ),
                Op::Remove => api.call(Method::DELETE, &format!("/routes/{}", ids[&host]), None),
            };
            match answer {
                Ok((status, value)) if (200..300).contains(&status) => {
                    if let Some(id) = value["id"].as_i64() {
                        ids.insert(host.clone(), id);
                    }
                    if let Some(last) = log.lock().expect("log").last_mut() {
                        last.2 = Outcome::Acknowledged;
                    }
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                Ok((status, value)) => {
                    panic!("{op:?} {host}: the engine refused it: {status} {value}")
                }
                // The engine is gone: this write stays in flight.
                Err(_) => return,
            }
        }
    }
}

/// Send requests through the proxy, GETs and POSTs in turn, until one fails (the engine was
/// killed) or `stop` is set; count those answered in full. The first `burst` go back to back,
/// the rest one every 20 ms, so traffic is still flowing at the kill without growing past
/// what the checks afterwards can read back quickly.
async fn send_traffic(
    proxy: std::net::SocketAddr,
    prefix: String,
    burst: usize,
    answered: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    for n in 0..5000 {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if n >= burst {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let method = if n % 3 == 0 {
            Method::POST
        } else {
            Method::GET
        };
        let path = format!("{prefix}/{n}");
        if exchange(proxy, "traffic.crash.localhost", method, &path)
            .await
            .is_err()
        {
            return;
        }
        answered.fetch_add(1, Ordering::SeqCst);
    }
}

/// After a restart: check every host against the writes sent to it and return what was found
/// (so later rounds can check nothing found now is lost then). Returns, for the last round's
/// three writers (the last three logs): writes acknowledged, in flight at the kill, and of
/// those applied.
fn check_routes(
    api: &Api,
    logs: &[WriteLog],
    settled: &mut BTreeMap<String, HostState>,
) -> (usize, usize, usize) {
    let routes = api.routes();
    for (host, state) in settled.iter() {
        assert_eq!(
            HostState::of(routes.get(host)),
            *state,
            "{host} changed after an earlier restart"
        );
    }
    let (mut acked, mut in_flight, mut applied) = (0, 0, 0);
    for (n, log) in logs.iter().enumerate() {
        // Writes of earlier rounds were counted then.
        let this_round = n + 3 >= logs.len();
        let log = log.lock().expect("log");
        let mut expected: BTreeMap<&str, HostState> = BTreeMap::new();
        let mut pending: Option<(&str, HostState)> = None;
        for (host, op, outcome) in log.iter() {
            let before = *expected.get(host.as_str()).unwrap_or(&HostState::Absent);
            match outcome {
                Outcome::Acknowledged => {
                    acked += usize::from(this_round);
                    expected.insert(host, before.after(op));
                }
                Outcome::InFlight => {
                    // Only a writer's last write can be unanswered.
                    pending = Some((host, before.after(op)));
                    expected.entry(host).or_insert(before);
                }
            }
        }
        for (host, want) in &expected {
            let found = HostState::of(routes.get(*host));
            match pending {
                Some((p, maybe)) if p == *host => {
                    in_flight += usize::from(this_round);
                    assert!(
                        found == *want || found == maybe,
                        "{host}: found {found:?}; acknowledged writes say {want:?}, the one in flight {maybe:?}"
                    );
                    if found == maybe && maybe != *want && this_round {
                        applied += 1;
                    }
                }
                _ => assert_eq!(found, *want, "{host}: lost an acknowledged write"),
            }
            settled.insert((*host).to_owned(), found);
        }
    }
    // Nothing appeared that no writer sent.
    for host in routes.keys().filter(|h| h.ends_with(".crash.localhost")) {
        assert!(
            host == "traffic.crash.localhost" || settled.contains_key(host),
            "{host} exists but was never written"
        );
    }
    (acked, in_flight, applied)
}

/// Check every captured exchange under `prefix`: a 200 for the path it names, with both
/// previews whole and equal to what was sent. Returns how many there are.
fn check_exchanges(api: &Api, prefix: &str) -> usize {
    let summaries = api.exchanges(prefix);
    for summary in &summaries {
        let id = summary["id"].as_i64().expect("id");
        let detail = api.get(&format!("/requests/{id}"));
        let e = &detail["exchange"];
        let path = e["path"].as_str().expect("path");
        assert!(path.starts_with(prefix), "{path} under {prefix}");
        assert_eq!(e["status"], 200, "exchange {id} {path}: {e}");
        let whole = |preview: &Value, want: &str, what: &str| {
            let got = preview["text"].as_str().unwrap_or_default();
            assert!(
                got == want,
                "exchange {id} {path}: its {what} preview is torn: {} bytes captured of {}, \
                 starting {:?}, where {} bytes starting {:?} were sent",
                preview["captured"],
                preview["size"],
                got.get(..got.len().min(60)).unwrap_or_default(),
                want.len(),
                &want[..want.len().min(60)]
            );
        };
        whole(&detail["response_body"], &body_for(path), "response");
        let request = &detail["request_body"];
        if e["method"] == "POST" {
            whole(request, &request_body_for(path), "request");
        } else {
            assert_eq!(request["size"], 0, "exchange {id}");
        }
    }
    summaries.len()
}

/// Route writes from three threads and requests from four clients, `kill -9` once enough of
/// both were acknowledged, restart on the same data dir; three times, each killing at a
/// different point. Every acknowledged write is there after each restart (a write in flight
/// may or may not be), nothing unwritten appears, every captured exchange reads back whole,
/// and both databases pass `integrity_check` before and after recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_route_writes_and_captured_exchanges_survive_kill_9() {
    let dir = data_dir();
    let up = upstream().await;
    let mut serve = Serve::start(dir.path());
    let api = Api::of(dir.path());
    let (status, _) = api
        .call(
            Method::POST,
            "/routes",
            Some(json!({"host": "traffic.crash.localhost", "upstreams": [up.url()]})),
        )
        .expect("add the traffic route");
    assert_eq!(status, 201);

    let mut settled = BTreeMap::new();
    let mut logs: Vec<WriteLog> = Vec::new();
    // Kill once this many route writes and requests were acknowledged in the round.
    let kill_points = [(3, 10), (40, 150), (120, 400)];
    for (round, (writes_at, requests_at)) in kill_points.into_iter().enumerate() {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let mut writers = Vec::new();
        for w in 0..3 {
            let log = WriteLog::default();
            logs.push(log.clone());
            let (api, acked, stop) = (Api::of(dir.path()), acked.clone(), stop.clone());
            let prefix = format!("r{round}w{w}");
            writers.push(std::thread::spawn(move || {
                write_routes(api, prefix, log, acked, stop)
            }));
        }
        let mut clients = Vec::new();
        for c in 0..4 {
            clients.push(tokio::spawn(send_traffic(
                serve.addr(),
                format!("/t/r{round}/c{c}"),
                requests_at / 4 + 25,
                answered.clone(),
                stop.clone(),
            )));
        }
        let started = Instant::now();
        while (acked.load(Ordering::SeqCst) < writes_at
            || answered.load(Ordering::SeqCst) < requests_at)
            && started.elapsed() < Duration::from_secs(20)
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        serve.kill();
        let killed_at = started.elapsed();
        stop.store(true, Ordering::SeqCst);
        for writer in writers {
            writer.join().expect("writer thread");
        }
        for client in clients {
            client.await.expect("client task");
        }
        let (writes, requests) = (
            acked.load(Ordering::SeqCst),
            answered.load(Ordering::SeqCst),
        );
        assert!(
            writes >= writes_at && requests >= requests_at,
            "round {round}: only {writes} writes and {requests} requests in 20 s"
        );
        let (config, traffic) = integrity_of_copies(dir.path());
        assert_eq!(config, "ok", "portico.db as the kill left it");
        assert_eq!(traffic, "ok", "traffic.db as the kill left it");

        serve = Serve::start(dir.path());
        let api = Api::of(dir.path());
        let (acked_round, in_flight, applied) = check_routes(&api, &logs, &mut settled);
        assert_eq!(
            acked_round, writes,
            "round {round}: every acknowledged write was checked"
        );
        let stored = check_exchanges(&api, &format!("/t/r{round}/"));
        assert!(
            stored <= requests + 4,
            "round {round}: {stored} exchanges stored, only {requests} answered (+4 in flight)"
        );
        println!(
            "round {round}: killed after {killed_at:?}; {writes} route writes acknowledged, all \
             found ({} hosts checked so far); {in_flight} in flight at the kill ({applied} \
             applied); {requests} requests answered, {stored} captured, every preview whole",
            settled.len()
        );
    }
    serve.stop();
    assert_eq!(integrity(&dir.path().join("portico.db")), "ok");
    assert_eq!(integrity(&dir.path().join("traffic.db")), "ok");
}

// ---------------------------------------------------------------------------------------
// Full disk

/// A tmpfs of a given size mounted on a temporary directory, unmounted on drop (also when
/// the test panics; lazily if something still holds it).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("a mount point");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0700"))
            .arg("portico-full-disk-test")
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| {
                panic!("this test runs mount(8) to get a small filesystem, and it could not: {e}")
            });
        assert!(
            out.status.success(),
            "this test needs root (CAP_SYS_ADMIN) to mount a {size} tmpfs and fill it; run it \
             as root (CI does). mount said: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let umount = |args: &[&str]| {
            std::process::Command::new("umount")
                .args(args)
                .arg(self.dir.path())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !umount(&[]) {
            umount(&["-l"]);
        }
    }
}

/// Bytes in the files under `dir`.
fn du(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => du(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Add a route; `Ok` when stored (201), `Err(detail)` when refused because the disk is full
/// (507). Anything else fails the test.
fn add_route(api: &Api, host: &str, upstream: &str) -> Result<(), String> {
    let (status, value) = api
        .call(
            Method::POST,
            "/routes",
            Some(json!({"host": host, "upstreams": [upstream]})),
        )
        .expect("the engine answers");
    match status {
        201 => Ok(()),
        507 => {
            let detail = value["detail"].as_str().expect("a problem has a detail");
            assert!(
                detail.contains("disk") && detail.contains("full"),
                "{detail}"
            );
            Err(detail.to_owned())
        }
        _ => panic!("POST /routes {host}: {status} {value}"),
    }
}

/// Write `path` until the filesystem has no room left; returns how many bytes it took.
fn fill_up(path: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("create a filler");
    let chunk = vec![0u8; 4096];
    let mut written = 0;
    // At most 4 MiB: the whole filesystem.
    for _ in 0..1024 {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = file.sync_all();
    written
}

/// Send 192 KiB requests until the status reports that capture cannot store them (at most
/// 60, which is three times the filesystem). Returns (requests sent, the error).
async fn fill_with_traffic(
    api: &Api,
    proxy: std::net::SocketAddr,
    data: &Path,
    tag: &str,
) -> (usize, String) {
    for sent in 0..60 {
        exchange(
            proxy,
            "fill.localhost",
            Method::GET,
            &format!("/big/192/{tag}/{sent}"),
        )
        .await
        .unwrap_or_else(|e| panic!("request {sent} while filling the disk: {e}"));
        // The recorder writes within 50 ms of an exchange.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(error) = api.capture_status()["store_error"].as_str() {
            return (sent + 1, error.to_owned());
        }
    }
    panic!(
        "60 requests of 192 KiB and capture reports no problem; {} bytes in the data dir; status {}",
        du(data),
        api.capture_status()
    );
}

/// Send 16 KiB requests under `prefix` until capture stores them again and reports no
/// problem; returns how many it took (at most 50), and checks every preview stored.
async fn wait_for_capture(api: &Api, proxy: std::net::SocketAddr, prefix: &str) -> usize {
    for n in 0..50 {
        exchange(
            proxy,
            "fill.localhost",
            Method::GET,
            &format!("{prefix}{n}"),
        )
        .await
        .unwrap_or_else(|e| panic!("request {n} after freeing space: {e}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        if api.capture_status()["store_error"].is_null() && !api.exchanges(prefix).is_empty() {
            // What was stored after the failure reads back whole: the previews went where
            // their rows say.
            check_exchanges(api, prefix);
            return n + 1;
        }
    }
    panic!("capture did not resume: {}", api.capture_status());
}

/// A data dir on a 4 MiB filesystem filled with captured traffic, then topped up to the last
/// byte: capture stops and the status says why, proxying goes on, route writes either succeed
/// or are refused with a clear error. Freeing space lets capture resume by itself, with
/// previews that read back whole; clearing the captured traffic (what the full-disk error
/// suggests) works on a disk full to the last byte. Starting on the full disk is refused with a
/// message saying so; after a restart with room every stored route is there and both
/// databases pass `integrity_check`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_capture_with_a_warning_while_proxying_and_routes_carry_on() {
    let disk = Tmpfs::mount("4m");
    let data = disk.path().join("data");
    let ballast = disk.path().join("ballast");
    std::fs::write(&ballast, vec![0u8; 512 << 10]).expect("write the ballast");
    let up = upstream().await;
    let mut serve = Serve::start(&data);
    let api = Api::of(&data);
    let mut stored: Vec<String> = Vec::new();
    for host in ["fill.localhost", "keep-1.localhost", "keep-2.localhost"] {
        add_route(&api, host, &up.url()).expect("room for the first routes");
        stored.push(host.to_owned());
    }

    // 192 KiB bodies fill the 4 MiB within some twenty requests; then another program takes
    // what is left.
    let (sent, store_error) = fill_with_traffic(&api, serve.addr(), &data, "a").await;
    let captured = api.exchanges("/big/192/").len();
    let used = du(disk.path());
    let filler = disk.path().join("filler");
    let topped_up = fill_up(&filler);
    assert!(
        store_error.contains("traffic")
            && (store_error.contains("No space left") || store_error.contains("disk is full"))
            && store_error.contains("resumes by itself"),
        "the status says what failed, why, and what happens next: {store_error}"
    );

    // Full: proxying goes on, capture counts what it could not store, routes are refused
    // cleanly (or stored, where SQLite still has room in its files).
    for n in 0..20 {
        exchange(
            serve.addr(),
            "fill.localhost",
            Method::GET,
            &format!("/big/64/full/{n}"),
        )
        .await
        .unwrap_or_else(|e| panic!("request {n} on the full disk: {e}"));
    }
    let (mut added, mut refused) = (0, 0);
    for n in 0..5 {
        let host = format!("full-{n}.localhost");
        match add_route(&api, &host, &up.url()) {
            Ok(()) => {
                added += 1;
                stored.push(host);
            }
            Err(_) => refused += 1,
        }
    }
    let routes = api.routes();
    for host in &stored {
        assert!(
            routes.contains_key(host),
            "{host} is listed on the full disk"
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let full = api.capture_status();
    let not_stored = full["not_stored"].as_u64().expect("not_stored");
    assert!(not_stored >= 20, "the exchanges lost are counted: {full}");

    // Room again (the ballast goes): capture resumes by itself.
    std::fs::remove_file(&ballast).expect("remove the ballast");
    let resumed_after = wait_for_capture(&api, serve.addr(), "/big/16/resumed/").await;

    // Full again, to the last byte: clearing the captured traffic still works, and frees it.
    let (sent_again, _) = fill_with_traffic(&api, serve.addr(), &data, "b").await;
    let filler_2 = disk.path().join("filler-2");
    fill_up(&filler_2);
    let (status, cleared) = api
        .call(Method::DELETE, "/requests", None)
        .expect("the engine answers");
    assert_eq!(status, 200, "clearing traffic on a full disk: {cleared}");
    let after_clear = du(disk.path());
    let cleared_resumed_after = wait_for_capture(&api, serve.addr(), "/big/16/cleared/").await;
    for n in 0..3 {
        let host = format!("after-{n}.localhost");
        add_route(&api, &host, &up.url()).expect("room again");
        stored.push(host);
    }

    // Stopped, and started again once the disk is full to the last byte: a clear refusal
    // (SQLite cannot map the index of its write-ahead log), nothing changed.
    serve.stop();
    let filler_3 = disk.path().join("filler-3");
    fill_up(&filler_3);
    let refused_start = portico(&data, &SERVE_ON_FREE_PORTS);
    refused_start.assert_refused(
        "serve on a full disk",
        &[
            &data.join("portico.db").display().to_string(),
            "no room left on its disk",
            "free some space",
        ],
    );
    for filler in [&filler, &filler_2, &filler_3] {
        std::fs::remove_file(filler).expect("remove a filler");
    }
    serve = Serve::start(&data);
    let api = Api::of(&data);
    let routes = api.routes();
    for host in &stored {
        assert!(
            routes.contains_key(host),
            "{host} survived the full disk and a restart"
        );
    }
    assert_eq!(routes.len(), stored.len(), "{routes:?}");
    serve.stop();
    assert_eq!(integrity(&data.join("portico.db")), "ok");
    assert_eq!(integrity(&data.join("traffic.db")), "ok");
    println!(
        "full disk (4 MiB tmpfs, 512 KiB ballast): capture failed after {sent} requests of \
         192 KiB with {captured} exchanges stored and {used} bytes on the filesystem: \
         {store_error}; another {topped_up} bytes filled it; while full 20 requests were \
         answered, {not_stored} exchanges not stored, route writes {added} stored and {refused} \
         refused (507); capture resumed {resumed_after} request(s) after the ballast went; full \
         again after {sent_again} more, cleared with {} exchanges deleted, leaving {after_clear} \
         bytes; capture resumed after {cleared_resumed_after} request(s); a start on the full \
         disk was refused ({}); {} routes intact after a restart with room",
        cleared["deleted"],
        refused_start.stderr.trim(),
        stored.len()
    );
}

// ---------------------------------------------------------------------------------------
// Damaged and foreign database files

/// A SQLite file that belongs to another program: its own tables, its own application id.
fn foreign_database(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("create another program's database");
    conn.execute_batch(
        "PRAGMA application_id = 1178944578; \
         CREATE TABLE bookmarks (url TEXT, title TEXT); \
         INSERT INTO bookmarks VALUES ('https://example.org', 'mine');",
    )
    .expect("fill it");
}

/// Cut the file at `path` to half its length.
fn truncate_to_half(path: &Path) {
    let len = std::fs::metadata(path).expect("stat").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for truncating");
    file.set_len(len / 2).expect("truncate");
}

/// `portico.db` cut short, another program's SQLite database, one with only a foreign
/// application id, and plain text: `serve` and the route commands refuse to start, naming the
/// file and what to do, and leave it byte for byte as it was (it is its own backup: the routes
/// in it are the user's, so Portico never moves or rewrites it).
#[test]
fn a_damaged_or_foreign_portico_db_is_refused_by_name_and_left_untouched() {
    type Make = fn(&Path);
    let cases: [(&str, Make, &[&str]); 4] = [
        (
            "cut short",
            |db| {
                let dir = db.parent().expect("data dir");
                let routes: Vec<Value> = (0..300)
                    .map(|i| json!({"host": format!("app-{i}.localhost"), "upstreams": [format!("{}", 3000 + i)]}))
                    .collect();
                let file = dir.join("routes.json");
                std::fs::write(&file, json!({"portico": 1, "routes": routes}).to_string())
                    .expect("write an export");
                portico(dir, &["import", file.to_str().expect("utf-8")]).assert_success("import");
                std::fs::remove_file(&file).expect("remove the export");
                truncate_to_half(db);
            },
            &[
                "is damaged",
                "left it untouched",
                ".recover",
                "Restore it from a backup",
            ],
        ),
        (
            "another program's",
            foreign_database,
            &["does not belong to Portico", "left it untouched"],
        ),
        (
            "a foreign application id",
            |db| {
                let conn = rusqlite::Connection::open(db).expect("create");
                conn.pragma_update(None, "application_id", 1_234_567)
                    .expect("set an application id");
            },
            &["does not belong to Portico", "left it untouched"],
        ),
        (
            "plain text",
            |db| std::fs::write(db, "my notes\n".repeat(500)).expect("write"),
            &["is not a SQLite database", "left it untouched"],
        ),
    ];
    for (what, make, needles) in cases {
        let dir = data_dir();
        let db = dir.path().join("portico.db");
        make(&db);
        let before = std::fs::read(&db).expect("read portico.db");
        let shown = db.display().to_string();
        let mut all = needles.to_vec();
        all.push(&shown);
        let serve: Output = portico(dir.path(), &SERVE_ON_FREE_PORTS);
        serve.assert_refused(&format!("serve with a portico.db {what}"), &all);
        portico(dir.path(), &["route", "list"])
            .assert_refused(&format!("route list with a portico.db {what}"), &all);
        assert_eq!(
            std::fs::read(&db).expect("read portico.db"),
            before,
            "a portico.db {what} is left byte for byte"
        );
        println!("portico.db {what}: {}", serve.stderr.trim());
    }
}

/// `traffic.db` as plain text, cut short, another program's, and from a newer Portico: the
/// engine starts anyway (captured traffic is a log, and must not keep routes from being
/// served), moves the file aside with its body previews, says so on its console and in its
/// status, and captures into a new one; the routes are all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_traffic_db_is_moved_aside_and_capture_starts_afresh() {
    let up = upstream().await;
    type Make = fn(&Path);
    let cases: [(&str, Make, &str); 4] = [
        (
            "plain text",
            |db| std::fs::write(db, "not a database\n".repeat(500)).expect("write"),
            "is not a SQLite database",
        ),
        ("cut short", truncate_to_half, "damaged"),
        (
            "another program's",
            foreign_database,
            "belongs to another program",
        ),
        (
            "from a newer Portico",
            |db| {
                let conn = rusqlite::Connection::open(db).expect("open");
                conn.pragma_update(None, "user_version", 99).expect("bump");
            },
            "newer Portico",
        ),
    ];
    for (what, make, reason) in cases {
        let dir = data_dir();
        let db = dir.path().join("traffic.db");
        // A real store first, with rows and body previews, then spoilt.
        let serve = Serve::start(dir.path());
        let api = Api::of(dir.path());
        let (status, _) = api
            .call(
                Method::POST,
                "/routes",
                Some(json!({"host": "app.localhost", "upstreams": [up.url()]})),
            )
            .expect("add a route");
        assert_eq!(status, 201);
        for n in 0..300 {
            exchange(
                serve.addr(),
                "app.localhost",
                Method::POST,
                &format!("/before/{n}"),
            )
            .await
            .expect("a request before");
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while api.exchanges("/before/").len() < 300 {
            assert!(Instant::now() < deadline, "300 exchanges stored");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        serve.stop();
        if what != "cut short" {
            std::fs::remove_file(&db).expect("remove traffic.db");
        }
        make(&db);
        let before = std::fs::read(&db).expect("read traffic.db");

        let serve = Serve::start(dir.path());
        let warning = serve
            .lines()
            .iter()
            .find(|l| l.starts_with("warning: ") && l.contains("traffic.db"))
            .unwrap_or_else(|| panic!("{what}: no warning about traffic.db: {:#?}", serve.lines()))
            .clone();
        let backup = std::fs::read_dir(dir.path())
            .expect("list the data dir")
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("traffic.db.bad-") && !n.ends_with("-journal"))
            })
            .unwrap_or_else(|| panic!("{what}: no copy of traffic.db kept; {warning}"));
        assert!(
            warning.contains(&db.display().to_string())
                && warning.contains(&backup.display().to_string())
                && warning.contains(reason),
            "{what}: the warning names the file, the copy and why: {warning}"
        );
        assert_eq!(
            std::fs::read(&backup).expect("read the copy"),
            before,
            "{what}: the copy is the file as it was"
        );
        let bodies_backup = dir.path().join(format!(
            "traffic-bodies{}",
            backup
                .extension()
                .and_then(|e| e.to_str())
                .map(|e| format!(".{e}"))
                .expect("traffic.db.bad-N")
        ));
        assert!(
            bodies_backup.is_dir(),
            "{what}: the body previews went with it: {}",
            bodies_backup.display()
        );
        let api = Api::of(dir.path());
        let reset = api.capture_status()["store_reset"].clone();
        assert!(
            reset
                .as_str()
                .is_some_and(|r| r.contains(&backup.display().to_string())),
            "{what}: the status says where it went: {reset}"
        );
        assert!(
            api.routes().contains_key("app.localhost"),
            "{what}: the route is there"
        );
        exchange(serve.addr(), "app.localhost", Method::POST, "/after/1")
            .await
            .expect("a request after");
        let deadline = Instant::now() + Duration::from_secs(10);
        while check_exchanges(&api, "/after/") < 1 {
            assert!(Instant::now() < deadline, "{what}: capture works again");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(api.exchanges("/before/").is_empty(), "{what}: a new store");
        serve.stop();
        assert_eq!(integrity(&db), "ok", "{what}: the new traffic.db");
        println!("traffic.db {what}: {warning}");
    }
}
