//! Fixtures for driving the real `portico` binary: one-shot CLI runs with a deadline, a
//! `portico serve` child that is killed on drop, upstream servers in the test process that
//! stop on drop, and a plain HTTP/1.1 client that sets `Host` itself.
//!
//! Every child gets its own data dir through `--data-dir`; nothing here touches the user's.

// Each test binary uses a different part of these fixtures.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Incoming};
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Any error a client call can end with.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a one-shot CLI command (`route …`, `--help`) may take before the test gives up.
const CLI_DEADLINE: Duration = Duration::from_secs(30);

/// How long `portico serve` may take to print its startup lines.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// Pause between two checks of a condition being polled.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// A single HTTP exchange through the proxy may take at most this long (requests that are
/// meant to be slow set their own bound).
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// `portico serve` on free loopback ports only: plain HTTP and the admin API (whose
/// default, 7080, would make parallel tests compete for one port), without HTTPS (whose
/// default redirect would turn these plain-HTTP checks into 308s).
pub(crate) const SERVE_ON_FREE_PORTS: [&str; 6] = [
    "serve",
    "--http",
    "127.0.0.1:0",
    "--admin",
    "127.0.0.1:0",
    "--no-https",
];

/// The binary under test, with nothing inherited that could point it at a real data dir or
/// change its logging, and with `DATA_DIR/hosts` as its hosts file: the tests run as root, and
/// must never edit this machine's `/etc/hosts`.
pub(crate) fn portico_command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portico"));
    cmd.env_remove("PORTICO_DATA_DIR")
        .env_remove("PORTICO_LOG")
        .env("PORTICO_HOSTS_FILE", data_dir.join("hosts"))
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A child process that is killed and reaped when dropped, so a failing test leaks nothing.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Already exited is fine: kill fails and wait returns the stored status.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl KillOnDrop {
    /// Wait for the child to exit, at most `within`.
    pub(crate) fn wait_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        let max_checks = within.as_millis() / POLL_EVERY.as_millis() + 2;
        for _ in 0..max_checks {
            if let Some(status) = self.0.try_wait().expect("try_wait on a child we own") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(POLL_EVERY);
        }
        None
    }
}

/// Read a pipe to its end on a thread; the pipe ends when the child exits.
fn drain(mut pipe: impl Read + Send + 'static) -> ThreadHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What a one-shot command did.
#[derive(Debug)]
pub(crate) struct Output {
    /// How it exited.
    pub(crate) status: ExitStatus,
    /// Everything it printed on stdout.
    pub(crate) stdout: String,
    /// Everything it printed on stderr.
    pub(crate) stderr: String,
}

impl Output {
    /// Panic with everything the command printed unless it succeeded.
    pub(crate) fn assert_success(&self, what: &str) -> &Self {
        assert!(self.status.success(), "{what} failed: {self:#?}");
        self
    }

    /// Panic unless the command failed with exit status 1, printed nothing on stdout and an
    /// `error: ` line on stderr that contains every one of `needles`.
    pub(crate) fn assert_refused(&self, what: &str, needles: &[&str]) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(1),
            "{what} should exit 1: {self:#?}"
        );
        assert!(
            self.stdout.is_empty(),
            "{what} should print nothing on stdout: {self:#?}"
        );
        assert!(
            self.stderr.starts_with("error: "),
            "{what} should explain itself on stderr: {self:#?}"
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{what}: stderr should contain {needle:?}: {self:#?}"
            );
        }
        self
    }
}

/// Run `portico --data-dir DATA_DIR ARGS…` to completion (bounded by [`CLI_DEADLINE`]).
pub(crate) fn portico(data_dir: &Path, args: &[&str]) -> Output {
    let mut child = KillOnDrop(
        portico_command(data_dir)
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

/// `portico route list --json`, parsed.
pub(crate) fn routes_json(data_dir: &Path) -> Vec<serde_json::Value> {
    let out = portico(data_dir, &["route", "list", "--json"]);
    out.assert_success("route list --json");
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|err| panic!("route list --json prints a JSON array ({err}): {out:#?}"))
}

/// A running `portico serve --http 127.0.0.1:0`, killed on drop.
pub(crate) struct Serve {
    child: KillOnDrop,
    addr: SocketAddr,
    stdout: mpsc::Receiver<String>,
    /// Every stdout line received so far.
    lines: Vec<String>,
    stderr: Option<ThreadHandle<String>>,
}

impl Serve {
    /// Start serving `data_dir` on a free port and wait until startup has been announced in
    /// full (the address line, the route list and the closing "Press Ctrl-C" line).
    pub(crate) fn start(data_dir: &Path) -> Serve {
        Serve::start_with(data_dir, &SERVE_ON_FREE_PORTS)
    }

    /// As [`Serve::start`], with these arguments instead of [`SERVE_ON_FREE_PORTS`].
    pub(crate) fn start_with(data_dir: &Path, args: &[&str]) -> Serve {
        let mut serve = Serve::spawn_with(data_dir, args);
        let deadline = Instant::now() + START_DEADLINE;
        serve.read_line_until(deadline, |l| l == "Press Ctrl-C to stop.");
        serve
    }

    /// Start serving `data_dir` on a free port and return as soon as the address line
    /// (`Portico VERSION serving HTTP on http://IP:PORT`) is printed.
    pub(crate) fn spawn(data_dir: &Path) -> Serve {
        Serve::spawn_with(data_dir, &SERVE_ON_FREE_PORTS)
    }

    fn spawn_with(data_dir: &Path, args: &[&str]) -> Serve {
        let mut child = KillOnDrop(
            portico_command(data_dir)
                .args(args)
                .spawn()
                .expect("the portico binary starts"),
        );
        let stderr = drain(child.0.stderr.take().expect("stderr is piped"));
        let stdout = BufReader::new(child.0.stdout.take().expect("stdout is piped"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut serve = Serve {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            stdout: rx,
            lines: Vec::new(),
            stderr: Some(stderr),
        };
        let deadline = Instant::now() + START_DEADLINE;
        let announced = serve.read_line_until(deadline, |l| l.starts_with("Portico "));
        serve.addr = parse_serving_line(&announced);
        serve
    }

    /// Read stdout lines until one satisfies `done`; panic (with everything printed) if the
    /// deadline passes or the process exits first.
    fn read_line_until(&mut self, deadline: Instant, done: impl Fn(&str) -> bool) -> String {
        // One line per iteration; a startup prints far fewer than this.
        for _ in 0..1000 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.lines.push(line.clone());
                    if done(&line) {
                        return line;
                    }
                }
                Err(err) => {
                    let _ = self.child.0.kill();
                    let status = self.child.0.wait();
                    let stderr = self.stderr.take().map(|t| t.join());
                    panic!(
                        "portico serve did not print the expected line ({err}); status {status:?}\nstdout: {:#?}\nstderr: {stderr:?}",
                        self.lines
                    );
                }
            }
        }
        panic!("portico serve printed too many lines: {:#?}", self.lines);
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Every stdout line received so far.
    pub(crate) fn lines(&self) -> &[String] {
        &self.lines
    }

    /// `kill -9`: the process ends at once, wherever it is, with nothing flushed or closed.
    pub(crate) fn kill(&mut self) {
        // `Child::kill` sends SIGKILL on Unix.
        self.child.0.kill().expect("SIGKILL a child we own");
        self.child.0.wait().expect("reap the killed child");
    }

    /// Send SIGTERM, as a service manager or `kill` would.
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(
            status.success(),
            "kill -TERM {} failed: {status}",
            self.pid()
        );
    }

    /// Wait at most `within` for the process to exit by itself; then collect the rest of
    /// its stdout into [`Serve::lines`]. Panics with its output on timeout.
    pub(crate) fn wait_for_exit(&mut self, within: Duration) -> ExitStatus {
        let Some(status) = self.child.wait_within(within) else {
            panic!(
                "portico serve did not exit within {within:?}; stdout: {:#?}",
                self.lines
            );
        };
        // The reader thread sees EOF once the process is gone; bound it anyway.
        let deadline = Instant::now() + Duration::from_secs(5);
        for _ in 0..1000 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(_) => break,
            }
        }
        status
    }

    /// SIGTERM, then expect a clean exit (status 0) within ten seconds.
    pub(crate) fn stop(mut self) {
        self.terminate();
        let status = self.wait_for_exit(Duration::from_secs(10));
        let stderr = self.stderr.take().map(|t| t.join());
        assert!(
            status.success(),
            "portico serve should exit 0 on SIGTERM, got {status}; stdout {:#?}; stderr {stderr:?}",
            self.lines
        );
    }

    /// A `field:   N kB` line of `/proc/PID/<file>` in KiB: `status` (e.g. `VmHWM`, the peak
    /// resident set size) or `smaps_rollup` (e.g. `AnonHugePages`).
    pub(crate) fn proc_kib(&self, file: &str, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/{file}", self.pid()))
            .unwrap_or_else(|err| panic!("/proc/PID/{file} of a running child: {err}"));
        text.lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/{file}:\n{text}", self.pid()))
    }
}

/// `Portico 0.1.0 serving HTTP on http://127.0.0.1:PORT` → the address.
fn parse_serving_line(line: &str) -> SocketAddr {
    let prefix = format!(
        "Portico {} serving HTTP on http://",
        env!("CARGO_PKG_VERSION")
    );
    line.strip_prefix(&prefix)
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected startup line {line:?}; wanted {prefix}IP:PORT"))
}

/// An HTTP server in the test process on 127.0.0.1:0; stops accepting on drop.
pub(crate) struct Upstream {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Upstream {
    /// Serve `router` on a free loopback port.
    pub(crate) async fn start(router: Router) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound socket has an address");
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("upstream server runs until dropped");
        });
        Upstream { addr, task }
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, as given to `route add`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Send `req` on a fresh HTTP/1.1 connection to `addr` and return the response head; the
/// body streams from the connection as the caller reads it.
pub(crate) async fn send<B>(
    addr: SocketAddr,
    req: Request<B>,
) -> Result<Response<Incoming>, BoxError>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // The connection ends with the exchange; its error, if any, reaches the caller
        // through the response or its body.
        let _ = conn.await;
    });
    Ok(sender.send_request(req).await?)
}

/// `GET path` with `Host: host`: the status and the whole body as text.
pub(crate) async fn get(
    addr: SocketAddr,
    host: &str,
    path: &str,
) -> Result<(StatusCode, String), BoxError> {
    let req = Request::get(path)
        .header(header::HOST, host)
        .body(Empty::<Bytes>::new())?;
    let exchange = async {
        let resp = send(addr, req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok::<_, BoxError>((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(REQUEST_DEADLINE, exchange)
        .await
        .map_err(|_| format!("GET {host}{path} took longer than {REQUEST_DEADLINE:?}"))?
}

/// Poll `GET path` with `Host: host` until it answers `status` with a body containing
/// `body`, for at most `within`; returns how long that took. Panics with the last answer.
pub(crate) async fn wait_for_answer(
    addr: SocketAddr,
    host: &str,
    path: &str,
    status: StatusCode,
    body: &str,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    let mut last = None;
    let max_checks = within.as_millis() / POLL_EVERY.as_millis() + 2;
    for _ in 0..max_checks {
        // An answer that comes after the deadline is too late, however right it is.
        let left = within.saturating_sub(start.elapsed());
        let answer = match tokio::time::timeout(left, get(addr, host, path)).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer before the {within:?} deadline").into()),
        };
        if let Ok((got, text)) = &answer
            && *got == status
            && text.contains(body)
        {
            return start.elapsed();
        }
        last = Some(answer);
        if start.elapsed() >= within {
            break;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    panic!(
        "GET {host}{path} did not answer {status} with {body:?} within {within:?}; last answer: {last:?}"
    );
}

/// A path inside `dir` whose parent is a regular file, so no process (not even root) can
/// create it.
pub(crate) fn uncreatable_dir(dir: &Path) -> (PathBuf, PathBuf) {
    let file = dir.join("a-file");
    std::fs::write(&file, b"a regular file, not a directory\n").expect("write a file");
    (file.clone(), file.join("data"))
}

/// A fresh temporary data dir.
pub(crate) fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary data dir")
}

/// How the engine writes a route target given on the command line, e.g. a bare port. The
/// shorthand rules themselves are pinned by portico-core's tests; the CLI tests check that
/// the CLI stores and prints what the engine makes of them.
pub(crate) fn expanded(target: &str) -> String {
    portico_core::config::Upstream::parse(target)
        .expect("a valid target")
        .to_string()
}
