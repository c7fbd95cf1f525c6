//! `portico hosts`: route names in the system hosts file — what Portico's block holds and
//! what is missing (`portico hosts`), writing it from the routes (`sync`), and taking it out
//! (`remove`). Works with or without a running engine; the file is written by this process,
//! so `sudo` gives it the rights an engine run by the user lacks.

use std::path::{Path, PathBuf};

use anyhow::Context;
use portico_core::config::SettingsPatch;
use portico_core::hosts::{self, Commands, HostsStatus};

use crate::backend::Backend;

/// Options of `portico hosts`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: Option<Command>,
    /// The hosts file. Default: the platform's (/etc/hosts;
    /// %SystemRoot%\System32\drivers\etc\hosts on Windows).
    #[arg(long, global = true, env = portico_host::HOSTS_FILE_VAR, value_name = "PATH")]
    hosts_file: Option<PathBuf>,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

/// `portico hosts` subcommands.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Write Portico's block from the routes (run with sudo when the file is the system's).
    Sync,
    /// Remove Portico's block (a backup is kept) and switch hosts-file sync off.
    Remove,
}

pub(crate) fn run(data_dir: &Path, args: Args) -> anyhow::Result<()> {
    let config = portico_host::hosts_file(args.hosts_file);
    let data_dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    let shown = (!config.is_default).then_some(config.file.as_path());
    let commands = Commands {
        sync: hosts::command("sync", &data_dir, shown),
        remove: hosts::command("remove", &data_dir, shown),
    };
    let backend = Backend::open(&data_dir)?;
    match args.cmd {
        None => status(&backend, &config.file, &commands, args.json),
        Some(Command::Sync) => sync(&backend, &data_dir, &config.file, &commands),
        Some(Command::Remove) => remove(&backend, &data_dir, &config.file, &commands),
    }
}

/// Whether `*.localhost` resolves here by itself (a lookup, so on a small runtime).
fn localhost_resolves() -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(hosts::localhost_resolves()))
}

fn status(backend: &Backend, file: &Path, commands: &Commands, json: bool) -> anyhow::Result<()> {
    let (routes, _) = backend.routes()?;
    let enabled = backend.settings()?.hosts_sync;
    let localhost = localhost_resolves()?;
    let wanted = hosts::wanted(&routes, localhost);
    let text = hosts::read(file)?;
    let status = hosts::status_of(file, commands, &text, &wanted, enabled, localhost);
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_status(&status);
    }
    Ok(())
}

fn print_status(status: &HostsStatus) {
    let state = if status.enabled { "on" } else { "off" };
    println!(
        "Hosts file: {} (hosts-file sync is {state})",
        status.file.display()
    );
    if status.names.is_empty() {
        println!("Portico's block: none");
    } else {
        println!("Portico's block: {}", status.names.join(", "));
    }
    if !status.enabled {
        if !status.names.is_empty() {
            println!("To take the block out: {}", status.remove_command);
        }
        println!("Turn sync on with `portico settings set hosts_sync true`.");
    } else if status.in_sync {
        println!("In sync: every route name that needs the hosts file is in it.");
    } else {
        if !status.missing.is_empty() {
            println!(
                "Missing (these names do not resolve on this machine yet): {}",
                status.missing.join(", ")
            );
        }
        if !status.stale.is_empty() {
            println!("No longer needed: {}", status.stale.join(", "));
        }
        println!("To fix it: {}", status.command);
    }
    if !status.wildcards.is_empty() {
        println!(
            "Wildcard routes cannot be in a hosts file and resolve only through a DNS responder: {}",
            status.wildcards.join(", ")
        );
    }
    if status.localhost_resolves {
        println!("Names under .localhost resolve on this machine by themselves.");
    }
}

/// The error for a file this process may not write: what failed, and the command.
fn explain(err: hosts::Error, command: &str) -> anyhow::Error {
    if err.needs_elevation() {
        anyhow::anyhow!("{err}; the hosts file needs administrator rights: run\n  {command}")
    } else {
        err.into()
    }
}

fn sync(
    backend: &Backend,
    data_dir: &Path,
    file: &Path,
    commands: &Commands,
) -> anyhow::Result<()> {
    if !backend.settings()?.hosts_sync {
        return Err(hosts::Error::Off.into());
    }
    let (routes, _) = backend.routes()?;
    let localhost = localhost_resolves()?;
    let edited = hosts::sync_file(file, Some(data_dir), &routes, localhost)
        .map_err(|err| explain(err, &commands.sync))?;
    let names = hosts::managed_names(&hosts::read(file)?);
    let list = if names.is_empty() {
        "no names".to_owned()
    } else {
        names.join(", ")
    };
    match edited.backup {
        Some(backup) if edited.changed => println!(
            "Portico's block in {} now maps {list} to this machine (the file as it was: {}).",
            file.display(),
            backup.display()
        ),
        _ => println!(
            "Already in sync: Portico's block in {} maps {list}.",
            file.display()
        ),
    }
    Ok(())
}

fn remove(
    backend: &Backend,
    data_dir: &Path,
    file: &Path,
    commands: &Commands,
) -> anyhow::Result<()> {
    if backend.settings()?.hosts_sync {
        backend.update_settings(SettingsPatch {
            hosts_sync: Some(false),
            ..SettingsPatch::default()
        })?;
    }
    let edited = hosts::remove_file_block(file, Some(data_dir))
        .map_err(|err| explain(err, &commands.remove))?;
    match edited.backup {
        Some(backup) if edited.changed => println!(
            "Removed Portico's block from {} (the file as it was: {}).",
            file.display(),
            backup.display()
        ),
        _ => println!("{} has no Portico block.", file.display()),
    }
    println!("Hosts-file sync is off; `portico settings set hosts_sync true` turns it back on.");
    Ok(())
}
