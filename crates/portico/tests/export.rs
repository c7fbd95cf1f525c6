//! `portico export --format`: the exported Caddyfile and nginx configuration pass the real
//! tools' checks and proxy a request to an upstream on loopback.

mod common;

use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, Uri};
use common::{Upstream, data_dir, portico, wait_for_answer};
use hyper::StatusCode;

/// How long a proxy may take to start answering.
const PROXY_START: Duration = Duration::from_secs(20);

/// An upstream that answers with the path and `Host` it received.
async fn echo_upstream() -> Upstream {
    Upstream::start(
        Router::new().fallback(|uri: Uri, headers: HeaderMap| async move {
            let host = headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_owned();
            format!("upstream saw {} for {host}", uri.path())
        }),
    )
    .await
}

/// Routes that use every feature, plus `app.localhost/api` (prefix stripped) to `upstream`.
fn import_routes(data: &Path, upstream: &str) {
    let doc = serde_json::json!({"portico": 1, "routes": [
        {"host": "app.localhost", "path": "/api", "strip_prefix": true, "upstreams": [upstream],
         "request_headers": {"set": [{"name": "X-Env", "value": "dev $1 {x}"}]},
         "response_headers": {"set": [{"name": "X-Frame-Options", "value": "DENY"}]},
         "compress": true, "max_body_bytes": 1048576, "allow_ips": ["127.0.0.0/8"]},
        {"host": "app.localhost", "upstreams": ["http://127.0.0.1:9/base", "http://127.0.0.1:10/base"],
         "balancing": {"policy": "first", "health_check": {"path": "/health"}},
         "upstream_host": true, "cache": true, "deny_ips": ["10.0.0.66"],
         "rate_limit_per_sec": 20, "max_conns_per_ip": 4, "hide_backend": true},
        {"host": "*.preview.localhost", "path": "/old", "strip_prefix": true,
         "redirect": "https://example.com/new/", "redirect_status": 308},
        {"host": "docs.localhost", "static_dir": "/srv/docs", "spa": true, "dir_listing": true,
         "basic_auth": [{"user": "alice", "password": "correct horse"}]},
    ]});
    let file = data.join("routes.json");
    std::fs::write(&file, doc.to_string()).expect("write the routes");
    portico(data, &["import", file.to_str().expect("UTF-8 path")]).assert_success("import");
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn export(data: &Path, format: &str, http: u16, extra: &[&str]) -> String {
    let http = http.to_string();
    let https = free_port().to_string();
    let mut args = vec![
        "export",
        "--format",
        format,
        "--bind",
        "127.0.0.1",
        "--http-port",
        &http,
        "--https-port",
        &https,
    ];
    args.extend_from_slice(extra);
    let out = portico(data, &args);
    out.assert_success("export --format");
    out.stdout
}

fn run_checked(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what} runs: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A proxy process, stopped (TERM, then KILL after a bounded wait) on drop.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exported_caddyfile_adapts_validates_and_proxies_a_request() {
    let data = data_dir();
    let upstream = echo_upstream().await;
    import_routes(data.path(), &upstream.url());
    let dir = tempfile::tempdir().expect("temp dir");
    let caddy_env = |cmd: &mut Command| {
        cmd.env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("CADDY_ADMIN", format!("127.0.0.1:{}", free_port()))
            .stdin(Stdio::null());
    };

    // With TLS, as for production: Caddy parses and provisions it.
    let tls = dir.path().join("Caddyfile.tls");
    std::fs::write(&tls, export(data.path(), "caddyfile", free_port(), &[])).expect("write");
    for check in ["adapt", "validate"] {
        let mut cmd = Command::new("caddy");
        caddy_env(&mut cmd);
        cmd.args([
            check,
            "--config",
            tls.to_str().expect("UTF-8"),
            "--adapter",
            "caddyfile",
        ]);
        run_checked(&mut cmd, &format!("caddy {check}"));
    }

    // Plain HTTP on a free port: it proxies.
    let port = free_port();
    let text = export(data.path(), "caddyfile", port, &["--plain-http"]);
    assert!(
        text.contains("# not exported to Caddy: the rate limit"),
        "{text}"
    );
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, &text).expect("write");
    let mut cmd = Command::new("caddy");
    caddy_env(&mut cmd);
    cmd.args([
        "run",
        "--config",
        file.to_str().expect("UTF-8"),
        "--adapter",
        "caddyfile",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let _caddy = Proxy(cmd.spawn().expect("caddy starts"));
    wait_for_answer(
        ([127, 0, 0, 1], port).into(),
        "app.localhost",
        "/api/items",
        StatusCode::OK,
        "upstream saw /items for app.localhost",
        PROXY_START,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exported_nginx_config_passes_nginx_t_and_proxies_a_request() {
    let data = data_dir();
    let upstream = echo_upstream().await;
    import_routes(data.path(), &upstream.url());
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_str().expect("UTF-8").to_owned();
    let files = format!("{root}/files");

    // A self-signed certificate for every host, where the export expects them.
    let certs = Path::new(&files).join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    let (key, crt) = (certs.join("k.key"), certs.join("k.crt"));
    run_checked(
        Command::new("openssl").args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=test",
            "-keyout",
            key.to_str().expect("UTF-8"),
            "-out",
            crt.to_str().expect("UTF-8"),
        ]),
        "openssl req",
    );
    for name in ["app.localhost", "docs.localhost", "_.preview.localhost"] {
        std::fs::copy(&key, certs.join(format!("{name}.key"))).expect("copy key");
        std::fs::copy(&crt, certs.join(format!("{name}.crt"))).expect("copy cert");
    }

    let nginx_conf = |include: &str| {
        let conf = format!(
            "pid {root}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n\taccess_log off;\n\
             \tclient_body_temp_path {root}/body;\n\tproxy_temp_path {root}/proxy;\n\
             \tinclude {include};\n}}\n"
        );
        let path = format!("{include}.main");
        std::fs::write(&path, conf).expect("write nginx.conf");
        path
    };

    let port = free_port();
    let tls = format!("{root}/portico-tls.conf");
    std::fs::write(
        &tls,
        export(data.path(), "nginx", port, &["--files-dir", &files]),
    )
    .expect("write");
    let main = nginx_conf(&tls);
    run_checked(
        Command::new("nginx").args(["-t", "-p", &root, "-c", &main]),
        "nginx -t (TLS)",
    );

    let plain = format!("{root}/portico.conf");
    let text = export(
        data.path(),
        "nginx",
        port,
        &["--files-dir", &files, "--plain-http"],
    );
    assert!(
        text.contains("# not exported to nginx: the active health check"),
        "{text}"
    );
    std::fs::write(&plain, text).expect("write");
    let main = nginx_conf(&plain);
    run_checked(
        Command::new("nginx").args(["-t", "-p", &root, "-c", &main]),
        "nginx -t (plain)",
    );
    let child = Command::new("nginx")
        .args(["-p", &root, "-c", &main, "-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let _nginx = Proxy(child);
    wait_for_answer(
        ([127, 0, 0, 1], port).into(),
        "app.localhost",
        "/api/items",
        StatusCode::OK,
        "upstream saw /items for app.localhost",
        PROXY_START,
    )
    .await;
}
