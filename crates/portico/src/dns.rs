//! `portico dns`: the DNS responder for the `dns_suffixes` setting, and the one-time system
//! resolver configuration that sends those suffixes to it (`setup`, `teardown`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use portico_core::dns::{self, Platform, ResolverEnv};

use crate::backend::Backend;

/// `portico dns` and its subcommands.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: Option<Command>,
    /// Read and write the resolver's files under DIR instead of `/` (to prepare an image, or
    /// for tests); the resolver is then not restarted.
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Plan for this platform instead of the detected one.
    #[arg(long, global = true, value_enum, hide = true)]
    platform: Option<PlatformArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PlatformArg {
    Macos,
    LinuxResolved,
    Linux,
    Windows,
}

/// `portico dns` subcommands.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Whether the responder listens, and per suffix whether the system resolver sends it
    /// there (the default).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the system resolver send the suffixes to the responder (macOS /etc/resolver, a
    /// systemd-resolved drop-in). Needs root; otherwise prints the commands to run.
    Setup,
    /// Remove what `setup` wrote (only files Portico wrote).
    Teardown,
}

pub(crate) fn run(data_dir: &Path, args: Args) -> anyhow::Result<()> {
    let mut env = match &args.root {
        Some(root) => ResolverEnv::under(root),
        None => ResolverEnv::system(),
    };
    env.platform = args.platform.map(|p| match p {
        PlatformArg::Macos => Platform::Macos,
        PlatformArg::LinuxResolved => Platform::LinuxResolved,
        PlatformArg::Linux => Platform::Linux,
        PlatformArg::Windows => Platform::Windows,
    });
    let state = State::read(data_dir)?;
    match args.cmd.unwrap_or(Command::Status { json: false }) {
        Command::Status { json } => status(&env, &state, json),
        Command::Setup => setup(&env, &state, data_dir),
        Command::Teardown => teardown(&env, data_dir),
    }
}

/// The settings and, when an engine runs, its responder's address or error.
struct State {
    suffixes: Vec<String>,
    listen: String,
    /// Whether an engine runs for the data dir.
    running: bool,
    listening: Option<SocketAddr>,
    error: Option<String>,
}

impl State {
    fn read(data_dir: &Path) -> anyhow::Result<State> {
        let backend = Backend::open(data_dir)?;
        let settings = backend.settings()?;
        let mut state = State {
            suffixes: settings.dns_suffixes,
            listen: settings.dns_listen,
            running: false,
            listening: None,
            error: None,
        };
        if let Backend::Api(api) = &backend {
            let status: serde_json::Value = api.get("/status")?;
            state.running = true;
            state.listening = status["dns"]["listening"]
                .as_str()
                .and_then(|a| a.parse().ok());
            state.error = status["dns"]["error"].as_str().map(str::to_owned);
        }
        Ok(state)
    }

    /// Where the resolver should send the suffixes: where the responder listens, else where
    /// the settings say it will.
    fn target(&self) -> Option<SocketAddr> {
        self.listening.or_else(|| self.listen.parse().ok())
    }
}

fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Macos => "macOS, /etc/resolver",
        Platform::LinuxResolved => "systemd-resolved",
        Platform::Linux => "Linux without systemd-resolved",
        Platform::Windows => "Windows",
    }
}

fn status(env: &ResolverEnv, state: &State, json: bool) -> anyhow::Result<()> {
    let suffixes = dns::suffix_status(env, state.target(), &state.suffixes);
    if json {
        let plan = dns::plan(env, state.target(), &state.suffixes);
        let value = serde_json::json!({
            "enabled": !state.suffixes.is_empty(),
            "listen": state.listen,
            "running": state.running,
            "listening": state.listening,
            "error": state.error,
            "suffixes": suffixes,
            "platform": env.platform(),
            "plan": plan,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if state.suffixes.is_empty() {
        println!(
            "DNS responder: off (no dns_suffixes). Turn it on: portico settings set dns_suffixes test"
        );
        return Ok(());
    }
    match (&state.listening, &state.error) {
        (Some(addr), _) => println!("DNS responder: listening on {addr} (UDP and TCP)"),
        (None, Some(err)) => println!("DNS responder: not answering: {err}"),
        (None, None) if !state.running => println!(
            "DNS responder: Portico is not running (`portico serve` listens on {})",
            state.listen
        ),
        (None, None) => println!("DNS responder: starting"),
    }
    println!("Resolver ({}):", platform_name(env.platform()));
    let width = suffixes
        .iter()
        .map(|s| s.suffix.len() + 1)
        .max()
        .unwrap_or(0);
    for s in &suffixes {
        let word = if s.resolver_configured {
            "configured"
        } else {
            "not configured"
        };
        println!(
            "  {:width$}  {word}: {}",
            format!(".{}", s.suffix),
            s.detail
        );
    }
    Ok(())
}

fn setup(env: &ResolverEnv, state: &State, data_dir: &Path) -> anyhow::Result<()> {
    if state.suffixes.is_empty() {
        return Err(dns::Error::NoSuffixes.into());
    }
    let plan = dns::plan(env, state.target(), &state.suffixes);
    if !plan.supported {
        if !plan.setup_script.is_empty() {
            print!("{}", plan.setup_script);
        }
        anyhow::bail!("{}", plan.note);
    }
    match dns::write(env, &plan) {
        Ok(done) => {
            for path in &done.written {
                println!("Wrote {}", path.display());
            }
            for path in &done.removed {
                println!(
                    "Removed {} (its suffix is no longer listed)",
                    path.display()
                );
            }
            if let Some(command) = &done.reloaded {
                println!("Ran `{command}`");
            } else if let Some(command) = &plan.reload
                && !env.reload
            {
                println!("Not running `{command}`: these files are not the running system's");
            }
            let names: Vec<String> = state.suffixes.iter().map(|s| format!(".{s}")).collect();
            if let Some(addr) = plan.responder {
                println!(
                    "Names under {} now go to Portico's DNS responder on {addr}.",
                    names.join(", ")
                );
            }
            if !state.running {
                println!("note: Portico is not running; they resolve once `portico serve` runs.");
            } else if let Some(err) = &state.error {
                println!("warning: the responder is not answering: {err}");
            }
            Ok(())
        }
        Err(err) if err.is_permission() => {
            print!("{}", plan.setup_script);
            anyhow::bail!(
                "{err}. Changing the system resolver needs root: run the commands above, or \
                 `sudo portico --data-dir {} dns setup`",
                data_dir.display()
            )
        }
        Err(err) => Err(err).context("cannot set up the resolver"),
    }
}

fn teardown(env: &ResolverEnv, data_dir: &Path) -> anyhow::Result<()> {
    match dns::remove(env) {
        Ok(done) if done.removed.is_empty() => {
            println!("Nothing to remove: Portico wrote no resolver file here.");
            Ok(())
        }
        Ok(done) => {
            for path in &done.removed {
                println!("Removed {}", path.display());
            }
            if let Some(command) = &done.reloaded {
                println!("Ran `{command}`");
            }
            Ok(())
        }
        Err(err) if err.is_permission() => {
            let plan = dns::plan(env, None, &[]);
            print!("{}", plan.teardown_script);
            anyhow::bail!(
                "{err}. Changing the system resolver needs root: run the commands above, or \
                 `sudo portico --data-dir {} dns teardown`",
                data_dir.display()
            )
        }
        Err(err) => Err(err).context("cannot remove the resolver configuration"),
    }
}
