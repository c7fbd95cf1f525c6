//! The `portico` command: argument parsing and printing only; the engine does the work.

mod backend;
mod ca;
mod cache;
mod client;
mod dns;
mod doctor;
mod hosts;
mod open;
mod project;
mod route;
mod serve;
mod services;
mod settings;
mod share;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: measured with `make bench` (capture benchmark),
/// it removes most of the time the proxy spent in glibc's malloc and free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Portico maps local dev servers to names: http://app.localhost → http://127.0.0.1:5173.
#[derive(Debug, Parser)]
#[command(
    name = "portico",
    version,
    about,
    after_help = "Examples:
  portico serve                               run the proxy (port 80, or 8080 if 80 is not allowed)
  portico route add app.localhost 5173        http://app.localhost → http://127.0.0.1:5173
  portico route add api.localhost 8000 --path /api --strip-prefix
  portico route list
  portico route rm app.localhost
  portico ca trust                            trust Portico's CA (system, Chromium, Firefox)
  portico ca status                           where the CA is trusted
  portico settings set dns_suffixes test      *.test resolves to this machine (then `portico dns setup`)
  portico up                                  the routes in ./portico.json (portico down removes them)
  portico export > routes.json                routes and settings; portico import routes.json
  portico export --format caddyfile           the routes as a Caddyfile (or nginx, traefik, k8s-ingress)
  portico doctor                              why a route does not work, and the fix (doctor HOST for one)
  sudo portico hosts sync --data-dir DIR      put route names such as app.test in /etc/hosts
  portico open                                the web UI, logged in"
)]
struct Cli {
    /// Where Portico keeps its database. Default: the platform's data dir
    /// (~/.local/share/portico on Linux).
    #[arg(long, global = true, env = "PORTICO_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine headless until Ctrl-C.
    Serve(serve::Args),
    /// Add, list, remove, enable or disable routes.
    #[command(subcommand)]
    Route(Box<route::Command>),
    /// The local certificate authority: status, trust, untrust, export, rotate.
    #[command(subcommand)]
    Ca(ca::Command),
    /// Services listening on loopback, with a suggested host and the command to map each.
    Services {
        /// Print JSON instead of a list.
        #[arg(long)]
        json: bool,
    },
    /// The response cache of the running engine: stats (default) or purge.
    Cache {
        #[command(subcommand)]
        cmd: Option<cache::Command>,
    },
    /// Show or change settings (`portico settings set local_suffixes lan`).
    Settings {
        #[command(subcommand)]
        cmd: Option<settings::Command>,
    },
    /// Print routes and settings as JSON (for `portico import`, or another machine), or the
    /// routes as a Caddy, nginx, Traefik or Kubernetes Ingress configuration (--format).
    Export(transfer::ExportArgs),
    /// Add or update the routes and settings in FILE (from `portico export`): all or nothing.
    Import {
        /// The export file.
        file: PathBuf,
    },
    /// Bring up the routes in this folder's portico.json (tagged with the folder).
    Up {
        /// Use this file instead of ./portico.json.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Remove exactly the routes `portico up` added for this folder.
    Down {
        /// The project's portico.json, if not ./portico.json.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Share a route on your network (a phone, another computer) and print its address, a QR
    /// code and the link that installs Portico's CA; without ROUTE, list what is shared.
    Share(share::Args),
    /// Pause proxying: every route answers 503 "Portico is paused" until `portico resume`
    /// (the listeners stay bound; the UI and the admin API keep working).
    Pause,
    /// Resume proxying after `portico pause`.
    Resume,
    /// Check why a route does not work: its name, the CA's trust, the ports, the upstream and
    /// whether it accepts the route's host; every problem with its fix. Exits 1 when any
    /// check finds an error.
    Doctor(doctor::Args),
    /// The DNS responder for the dns_suffixes setting (every name under them resolves to
    /// this machine): status, and `setup`/`teardown` of the system resolver.
    Dns(dns::Args),
    /// Open the running engine's UI in the browser (a fresh one-time login link).
    Open,
    /// Route names in the system hosts file: status, sync (with sudo), remove.
    Hosts(hosts::Args),
    /// Print the admin API's OpenAPI document (for `make openapi`).
    #[command(hide = true)]
    Openapi,
}

/// Keep the memory the engine takes in 4 KiB pages. mimalloc asks for transparent huge pages
/// on its arenas, so the first touch of any of their pages brings in 2 MiB: measured, the idle
/// engine held 29 MiB with them and 21 MiB without, 10,000 idle connections added 116–126 MiB
/// with them and 80–100 MiB without, and requests per second (capture on and off) did not
/// move beyond this machine's noise (`bench/builds.sh`, alternating; `docs/BENCHMARKS.md`).
/// The flag belongs to the process, from now on (what the allocator set up before `main`
/// stays as it is), and programs it starts inherit it (the trust-store tools `serve` runs);
/// without huge pages it is moot.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(err) = rustix::thread::disable_transparent_huge_pages(true) {
        // Logging is not set up yet; a kernel refuses this only before Linux 3.15.
        eprintln!("warning: huge pages stay on for the engine, so it may use more memory: {err}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Only the engine: the other commands are short-lived, and `portico open` starts a
    // browser that would inherit the flag.
    if matches!(cli.command, Command::Serve(_)) {
        without_huge_pages();
    }
    let result = portico_host::data_dir(cli.data_dir).and_then(|dir| match cli.command {
        Command::Serve(args) => serve::run(dir, args),
        Command::Route(cmd) => route::run(&dir, *cmd),
        Command::Ca(cmd) => ca::run(&dir, cmd),
        Command::Cache { cmd } => cache::run(&dir, cmd),
        Command::Services { json } => services::run(&dir, json),
        Command::Settings { cmd } => settings::run(&dir, cmd),
        Command::Export(args) => transfer::export(&dir, args),
        Command::Import { file } => transfer::import(&dir, &file),
        Command::Up { file } => project::up(&dir, file),
        Command::Down { file } => project::down(&dir, file),
        Command::Share(args) => share::run(&dir, args),
        Command::Pause => settings::set_paused(&dir, true),
        Command::Resume => settings::set_paused(&dir, false),
        Command::Doctor(args) => doctor::run(&dir, args),
        Command::Dns(args) => dns::run(&dir, args),
        Command::Open => open::run(&dir),
        Command::Hosts(args) => hosts::run(&dir, args),
        Command::Openapi => {
            print!("{}", portico_core::admin::openapi_json());
            Ok(())
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text the message already
/// includes (the engine's errors name their cause in their own message).
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
