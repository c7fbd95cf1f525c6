//! `portico serve`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use portico_core::proxy::ListenSpec;
use portico_core::{AdminListen, Engine, EngineHandle};

/// Options of `portico serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Plain HTTP address, IP:PORT. Default: port 80 on 127.0.0.1 and ::1, or 8080 when 80
    /// cannot be bound.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    http: Option<SocketAddr>,
    /// HTTPS address, IP:PORT. Default: port 443 on 127.0.0.1 and ::1, or 8443 when 443
    /// cannot be bound.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr, conflicts_with = "no_https")]
    https: Option<SocketAddr>,
    /// Serve plain HTTP only (no HTTPS listener, no redirects to HTTPS).
    #[arg(long)]
    no_https: bool,
    /// Admin API address, IP:PORT (loopback only). Default: 127.0.0.1:7080, or a free port
    /// when 7080 is taken.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    admin: Option<SocketAddr>,
    /// Allow a non-loopback --admin address. The API is still token-protected, but anyone
    /// who can reach it can try; only for trusted networks.
    #[arg(long, requires = "admin")]
    admin_allow_remote: bool,
    /// Serve the web UI from this folder (a `vite build` output such as `ui/dist`) instead of
    /// the one built into the binary: for working on the UI.
    #[arg(long, value_name = "DIR")]
    ui_dir: Option<PathBuf>,
    /// Keep route names in this hosts file (while the hosts_sync setting is on). Default: the
    /// platform's (/etc/hosts; %SystemRoot%\System32\drivers\etc\hosts on Windows).
    #[arg(long, env = portico_host::HOSTS_FILE_VAR, value_name = "PATH")]
    hosts_file: Option<PathBuf>,
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        "expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080 (port 0 picks a free port)".to_owned()
    })
}

pub(crate) fn run(data_dir: PathBuf, args: Args) -> anyhow::Result<()> {
    init_logging();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(data_dir, args))
}

async fn serve(data_dir: PathBuf, args: Args) -> anyhow::Result<()> {
    // Addresses from the flags, else from the settings, else the defaults.
    let mut config = portico_host::engine_config(&data_dir)?;
    config.hosts = Some(portico_host::hosts_file(args.hosts_file.clone()));
    if let Some(addr) = args.http {
        config.http = ListenSpec::Addr(addr);
    }
    if args.no_https {
        config.https = None;
    } else if let Some(addr) = args.https {
        config.https = Some(ListenSpec::Addr(addr));
    }
    if let Some(addr) = args.admin {
        if args.admin_allow_remote && !addr.ip().is_loopback() {
            eprintln!(
                "warning: the admin API will listen on {addr}, beyond this machine; anyone who can reach it and has the token controls Portico"
            );
        }
        config.admin = Some(AdminListen {
            listen: ListenSpec::Addr(addr),
            allow_remote: args.admin_allow_remote,
            ui_dir: None,
        });
    }
    if let Some(dir) = &args.ui_dir {
        let dir = std::path::absolute(dir)
            .with_context(|| format!("cannot resolve --ui-dir {}", dir.display()))?;
        if !dir.join("index.html").is_file() {
            anyhow::bail!(
                "--ui-dir {}: no index.html there; build the UI first (`make ui`) or point at its `dist` folder",
                dir.display()
            );
        }
        if let Some(admin) = config.admin.as_mut() {
            admin.ui_dir = Some(dir);
        }
    }
    let signals = ShutdownSignals::install()?;
    let engine = Engine::start(config)
        .await
        .context("cannot start Portico")?;
    announce(&engine).await;
    signals.recv().await;
    println!("Shutting down: finishing requests in flight…");
    engine.shutdown().await;
    println!("Stopped.");
    Ok(())
}

/// One line on the DNS responder when it is on, and a note per suffix the system resolver
/// does not send to it yet.
async fn announce_dns(engine: &EngineHandle) {
    let dns = engine.dns().await;
    if !dns.enabled {
        return;
    }
    let names: Vec<String> = dns
        .suffixes
        .iter()
        .map(|s| format!(".{}", s.suffix))
        .collect();
    match (dns.listening, &dns.error) {
        (Some(addr), _) => {
            println!(
                "DNS responder on {addr} (UDP and TCP) for names under {}",
                names.join(", ")
            );
            let missing: Vec<&str> = dns
                .suffixes
                .iter()
                .filter(|s| !s.resolver_configured)
                .map(|s| s.suffix.as_str())
                .collect();
            if !missing.is_empty() {
                println!(
                    "note: the system resolver does not send .{} to it yet: `portico dns setup`",
                    missing.join(", .")
                );
            }
        }
        (None, Some(err)) => println!("warning: {err}"),
        (None, None) => {}
    }
}

async fn announce(engine: &EngineHandle) {
    let addrs: Vec<String> = engine
        .http_addrs()
        .iter()
        .map(|a| format!("http://{a}"))
        .collect();
    println!(
        "Portico {} serving HTTP on {}",
        env!("CARGO_PKG_VERSION"),
        addrs.join(", ")
    );
    let exe = std::env::current_exe().unwrap_or_else(|_| "portico".into());
    if let Some(fallback) = engine.http_fallback() {
        println!("note: {}", fallback.explain(&exe, "http"));
    }
    if !engine.https_addrs().is_empty() {
        let addrs: Vec<String> = engine
            .https_addrs()
            .iter()
            .map(|a| format!("https://{a}"))
            .collect();
        println!("HTTPS on {}", addrs.join(", "));
        if let Some(fallback) = engine.https_fallback() {
            println!("note: {}", fallback.explain(&exe, "https"));
        }
        let authority = engine.tls().authority();
        println!(
            "CA: {} ({}). Browsers trust it after `portico ca trust`.",
            authority.ca().root_name(),
            authority.ca().root_path().display()
        );
    }
    if let Some(admin) = engine.admin_addrs().first() {
        println!(
            "Admin API on http://{admin}/api/v1 (bearer token in {})",
            engine
                .data_dir()
                .join(portico_core::admin::TOKEN_FILE)
                .display()
        );
        if let Some(fallback) = engine.admin_fallback() {
            println!(
                "note: admin port {} is taken (another Portico?), so the admin API uses {} instead",
                fallback.wanted,
                admin.port()
            );
        }
    }
    if let Some(url) = engine.login_url() {
        println!("UI: {url} (one-time link; `portico open` makes a new one)");
    }
    println!("Data: {}", engine.data_dir().display());
    announce_dns(engine).await;
    if let Some(replaced) = engine.traffic().replaced() {
        println!("warning: {replaced}");
    }
    let (scheme, default_port, port) = match engine.https_addrs().first() {
        Some(addr) => ("https", 443, addr.port()),
        None => (
            "http",
            80,
            engine.http_addrs().first().map_or(80, SocketAddr::port),
        ),
    };
    let port = if port == default_port {
        String::new()
    } else {
        format!(":{port}")
    };
    match engine.routes().await {
        Ok(rows) if rows.routes.is_empty() && rows.invalid.is_empty() => {
            println!("No routes yet. Add one: portico route add app.localhost 5173");
        }
        Ok(rows) => {
            for route in &rows.routes {
                let path = if route.path.is_root() {
                    ""
                } else {
                    route.path.as_str()
                };
                println!(
                    "  {scheme}://{}{port}{path} → {}{}",
                    route.host,
                    route.target(),
                    if route.enabled { "" } else { " (disabled)" }
                );
            }
            for bad in &rows.invalid {
                println!(
                    "  ! route {} ({}) is not valid and is not served: {}",
                    bad.id, bad.host, bad.error
                );
            }
        }
        Err(err) => eprintln!("warning: cannot list routes: {err}"),
    }
    println!("Press Ctrl-C to stop.");
}

/// Ctrl-C and SIGTERM, registered when created: a signal that arrives any time after this
/// (even before anything awaits it) starts a graceful shutdown instead of killing the process.
struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(ShutdownSignals {
                interrupt: signal(SignalKind::interrupt()).context("cannot watch Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("cannot watch SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ShutdownSignals {})
        }
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTICO_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,portico=info,portico_core=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
