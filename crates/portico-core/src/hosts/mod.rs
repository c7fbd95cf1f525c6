//! Hosts-file sync: route names that this machine would not resolve to loopback by itself go
//! into a clearly marked block of the system hosts file, kept in step with the routes.
//!
//! Owns the block's format ([`BEGIN`], [`END`], one `127.0.0.1 NAME` and one `::1 NAME` line
//! per name, sorted), which names belong in it ([`wanted`]), rewriting only the block
//! ([`rewrite`], [`remove`], pure text), editing the file safely ([`edit`]: lock, backup,
//! atomic replace, no lost foreign edits), and the engine's side ([`Manager`]: syncing off the
//! request path, the status with the command to run when the engine may not write the file).
//! It does not decide where the hosts file is: the path always comes in as an argument (the
//! `portico` command and the desktop app pass the platform's or `--hosts-file`), and it never
//! asks for elevation itself.

mod block;
mod file;
#[cfg(test)]
mod tests;

pub use block::{Entry, entries, managed_names, remove, rewrite};
pub use file::{BACKUP_SUFFIX, Edited, edit, read};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::{HostPattern, Route};

/// The first line of Portico's block.
pub const BEGIN: &str =
    "# BEGIN Portico (managed by Portico; edits inside this block are replaced)";
/// The last line of Portico's block.
pub const END: &str = "# END Portico";

/// How long the `*.localhost` probe may take (a resolver that asks a DNS server for it may be
/// slow or unreachable; then the names go into the block).
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What can go wrong with the hosts file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file exists but cannot be read.
    #[error("cannot read the hosts file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file (or its backup) cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not text (UTF-8), so Portico leaves it alone; check the file")]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// The markers of Portico's block do not pair up, so the block cannot be told apart.
    #[error(
        "Portico's block in {} is broken at line {line}: {reason}. Fix the file by hand (Portico's lines are between `{BEGIN}` and `{END}`), then sync again",
        path.display()
    )]
    Malformed {
        /// The file (empty while only text was looked at).
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong there.
        reason: String,
    },
    /// Other programs kept changing the file while Portico edited it.
    #[error("{path} kept changing while Portico edited it ({tries} tries); try again")]
    Busy {
        /// The file.
        path: PathBuf,
        /// How many times the edit started over.
        tries: usize,
    },
    /// Another Portico process held the lock for too long.
    #[error(
        "another Portico process has been editing the hosts file for 10 s (it holds {path}); try again"
    )]
    Locked {
        /// The lock (the backup file).
        path: PathBuf,
    },
    /// Sync was asked for while the `hosts_sync` setting is off.
    #[error(
        "hosts-file sync is off in the settings; turn it on (`portico settings set hosts_sync true`) to sync, or remove Portico's block (`portico hosts remove`)"
    )]
    Off,
    /// This engine was started without a hosts file to manage.
    #[error(
        "this engine does not manage a hosts file (it was started without one); use `portico hosts` instead"
    )]
    Unavailable,
}

impl Error {
    /// Whether running the same thing with administrator rights would fix it.
    pub fn needs_elevation(&self) -> bool {
        matches!(self, Error::Write { source, .. } | Error::Read { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied)
    }

    /// The error with `path` filled in where only text was known.
    fn at(self, path: &Path) -> Self {
        match self {
            Error::Malformed { line, reason, .. } => Error::Malformed {
                path: path.to_owned(),
                line,
                reason,
            },
            other => other,
        }
    }
}

/// Which names the routes want in the block, and which they leave out and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Exact names of enabled routes that need the block (sorted).
    pub names: BTreeSet<String>,
    /// Wildcard routes of enabled routes, as `*.suffix`: a hosts file cannot hold them.
    pub wildcards: BTreeSet<String>,
}

/// The names enabled routes want: every exact host but `localhost` itself, and names under
/// `.localhost` only when this machine does not resolve them by itself (`localhost_resolves`).
pub fn wanted(routes: &[Route], localhost_resolves: bool) -> Wanted {
    let mut out = Wanted::default();
    for route in routes.iter().filter(|r| r.enabled) {
        match &route.host {
            HostPattern::Exact(name) => {
                let under_localhost = name == "localhost" || name.ends_with(".localhost");
                if name != "localhost" && !(under_localhost && localhost_resolves) {
                    out.names.insert(name.clone());
                }
            }
            HostPattern::Wildcard(suffix) => {
                out.wildcards.insert(format!("*.{suffix}"));
            }
        }
    }
    out
}

/// The names the block should hold in `text`: the wanted ones that no line outside the block
/// already maps to loopback.
pub fn block_names(text: &str, wanted: &BTreeSet<String>) -> BTreeSet<String> {
    let foreign = block::foreign_loopback_names(text);
    wanted.difference(&foreign).cloned().collect()
}

/// Make the block of `file` match `routes` (blocking): what the engine, `portico hosts sync`
/// and the desktop app's elevated helper all run. The backup goes to `fallback_dir` when the
/// file's folder cannot be written.
pub fn sync_file(
    file: &Path,
    fallback_dir: Option<&Path>,
    routes: &[Route],
    localhost_resolves: bool,
) -> Result<Edited, Error> {
    let wanted = wanted(routes, localhost_resolves).names;
    edit(file, fallback_dir, |text| {
        rewrite(text, &block_names(text, &wanted))
    })
}

/// Take Portico's block out of `file` (blocking), keeping a backup.
pub fn remove_file_block(file: &Path, fallback_dir: Option<&Path>) -> Result<Edited, Error> {
    edit(file, fallback_dir, remove)
}

/// Whether this machine's resolver already answers every `*.localhost` name with loopback
/// (systemd-resolved, macOS, recent glibc with `nss-myhostname` do): asked once for a random
/// name no hosts file holds.
pub async fn localhost_resolves() -> bool {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return false;
    }
    let label: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let name = format!("portico-probe-{label}.localhost:0");
    match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::lookup_host(name)).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        _ => false,
    }
}

/// The command that does `action` (`sync`, `remove`) to the hosts file with administrator
/// rights: `sudo portico hosts ACTION` with `--data-dir` (under `sudo` the default would be
/// root's own) and `--hosts-file` when given. On Windows, the same without `sudo`, to run in an
/// administrator terminal.
pub fn command(action: &str, data_dir: &Path, hosts_file: Option<&Path>) -> String {
    let mut words = Vec::new();
    if !cfg!(windows) {
        words.push("sudo".to_owned());
    }
    words.extend(["portico", "hosts", action, "--data-dir"].map(str::to_owned));
    words.push(shell_quote(&data_dir.display().to_string()));
    if let Some(file) = hosts_file {
        words.push("--hosts-file".to_owned());
        words.push(shell_quote(&file.display().to_string()));
    }
    words.join(" ")
}

/// `word` as a shell word: as it is when it is plain, else in single quotes (double quotes
/// on Windows).
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@,\\".contains(&b));
    if plain {
        word.to_owned()
    } else if cfg!(windows) {
        format!("\"{word}\"")
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The hosts file the engine keeps in sync.
#[derive(Debug, Clone)]
pub struct HostsConfig {
    /// The hosts file (`/etc/hosts`, `%SystemRoot%\System32\drivers\etc\hosts`, or a file
    /// given with `--hosts-file`).
    pub file: PathBuf,
    /// It is the platform's own (the commands shown to the user then leave `--hosts-file`
    /// out).
    pub is_default: bool,
}

/// Portico's hosts-file sync as the API reports it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostsStatus {
    /// The `hosts_sync` setting: while off, the engine never touches the file.
    pub enabled: bool,
    /// The hosts file.
    #[schema(value_type = String, example = "/etc/hosts")]
    pub file: PathBuf,
    /// The block maps exactly the names it should (always true while sync is off).
    pub in_sync: bool,
    /// The names in Portico's block now.
    pub names: Vec<String>,
    /// Names of enabled routes that need the block and are not in it yet: they do not
    /// resolve on this machine. Empty while sync is off.
    #[schema(example = json!(["app.test"]))]
    pub missing: Vec<String>,
    /// Names in the block that no enabled route needs any more. Empty while sync is off.
    pub stale: Vec<String>,
    /// Wildcard routes (`*.app.test`): a hosts file cannot hold them, so they resolve only
    /// through a DNS responder.
    pub wildcards: Vec<String>,
    /// This machine resolves every `*.localhost` name to loopback by itself, so those names
    /// stay out of the block.
    pub localhost_resolves: bool,
    /// Why the engine's last attempt to write the file failed; null when it succeeded or
    /// did not need to write.
    pub error: Option<String>,
    /// The engine may not write the file (it runs without administrator rights): `command`
    /// does it.
    pub needs_elevation: bool,
    /// The command that writes the block with administrator rights (in a terminal; on
    /// Windows, an administrator one).
    #[schema(example = "sudo portico hosts sync --data-dir /home/me/.local/share/portico")]
    pub command: String,
    /// The command that removes the block with administrator rights.
    #[schema(example = "sudo portico hosts remove --data-dir /home/me/.local/share/portico")]
    pub remove_command: String,
}

/// What the admin API's sync and remove answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostsChange {
    /// The file changed (false: it already was as asked).
    pub changed: bool,
    /// Where the file as it was before the change was saved.
    #[schema(value_type = Option<String>)]
    pub backup: Option<PathBuf>,
    /// The state after the change.
    pub status: HostsStatus,
}

/// The commands shown to the user.
#[derive(Debug, Clone, Default)]
pub struct Commands {
    /// `sudo portico hosts sync …`.
    pub sync: String,
    /// `sudo portico hosts remove …`.
    pub remove: String,
}

/// The outcome of the last write, for the status.
#[derive(Debug, Clone, Default)]
struct LastWrite {
    error: Option<String>,
    needs_elevation: bool,
}

/// The engine's hosts-file sync: one per engine, fed the routes after every table swap.
#[derive(Debug)]
pub struct Manager {
    config: HostsConfig,
    /// Where the backup goes when the hosts file's folder cannot be written: the data dir.
    fallback_dir: PathBuf,
    /// The commands that sync and remove with administrator rights.
    commands: Commands,
    localhost: tokio::sync::OnceCell<bool>,
    last: std::sync::Mutex<LastWrite>,
    /// One write at a time in this process (the file lock orders processes).
    writing: tokio::sync::Mutex<()>,
}

impl Manager {
    /// A manager of `config.file` for the engine of `data_dir` (where the backup goes when
    /// the hosts file's folder cannot be written).
    pub fn new(config: HostsConfig, data_dir: &Path) -> Self {
        let file = (!config.is_default).then_some(config.file.as_path());
        let commands = Commands {
            sync: command("sync", data_dir, file),
            remove: command("remove", data_dir, file),
        };
        Manager {
            config,
            fallback_dir: data_dir.to_owned(),
            commands,
            localhost: tokio::sync::OnceCell::new(),
            last: std::sync::Mutex::new(LastWrite::default()),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    /// The hosts file.
    pub fn file(&self) -> &Path {
        &self.config.file
    }

    /// Whether `*.localhost` resolves here without the block (probed once).
    pub async fn localhost_resolves(&self) -> bool {
        *self.localhost.get_or_init(localhost_resolves).await
    }

    /// Make the block match `routes`. Failures are remembered for the status and returned.
    pub async fn sync(&self, routes: &[Route]) -> Result<Edited, Error> {
        let localhost = self.localhost_resolves().await;
        let routes = routes.to_vec();
        let _one = self.writing.lock().await;
        let (file, fallback) = (self.config.file.clone(), self.fallback_dir.clone());
        let result = tokio::task::spawn_blocking(move || {
            sync_file(&file, Some(&fallback), &routes, localhost)
        })
        .await
        .unwrap_or_else(|join| {
            Err(Error::Write {
                path: self.config.file.clone(),
                source: std::io::Error::other(join.to_string()),
            })
        });
        self.remember(&result);
        result
    }

    /// Remove Portico's block entirely.
    pub async fn remove(&self) -> Result<Edited, Error> {
        let _one = self.writing.lock().await;
        let (file, fallback) = (self.config.file.clone(), self.fallback_dir.clone());
        let result = tokio::task::spawn_blocking(move || remove_file_block(&file, Some(&fallback)))
            .await
            .unwrap_or_else(|join| {
                Err(Error::Write {
                    path: self.config.file.clone(),
                    source: std::io::Error::other(join.to_string()),
                })
            });
        self.remember(&result);
        result
    }

    fn remember(&self, result: &Result<Edited, Error>) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let next = match result {
            Ok(_) => LastWrite::default(),
            Err(err) => LastWrite {
                error: Some(err.to_string()),
                needs_elevation: err.needs_elevation(),
            },
        };
        if next.error != last.error {
            match &next.error {
                Some(error) if next.needs_elevation => tracing::warn!(
                    "cannot update Portico's block in {}: {error}; run `{}` to do it with administrator rights",
                    self.config.file.display(),
                    self.commands.sync
                ),
                Some(error) => tracing::warn!("hosts-file sync failed: {error}"),
                None if last.error.is_some() => {
                    tracing::info!("hosts-file sync works again")
                }
                None => {}
            }
        }
        *last = next;
    }

    /// The state of the file against `routes`, with `enabled` the `hosts_sync` setting.
    pub async fn status(&self, routes: &[Route], enabled: bool) -> HostsStatus {
        let localhost_resolves = self.localhost_resolves().await;
        let wanted = wanted(routes, localhost_resolves);
        let path = self.config.file.clone();
        let text = tokio::task::spawn_blocking(move || read(&path))
            .await
            .unwrap_or_else(|join| {
                Err(Error::Read {
                    path: self.config.file.clone(),
                    source: std::io::Error::other(join.to_string()),
                })
            });
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut status = status_of(
            &self.config.file,
            &self.commands,
            text.as_deref().unwrap_or_default(),
            &wanted,
            enabled,
            localhost_resolves,
        );
        match text {
            Err(err) => {
                status.needs_elevation |= err.needs_elevation();
                status.error = Some(err.to_string());
                status.in_sync = !enabled;
            }
            Ok(_) if enabled && !status.in_sync => {
                status.error = last.error;
                status.needs_elevation = last.needs_elevation;
            }
            Ok(_) => {}
        }
        status
    }
}

/// The status of the hosts file `file` holding `text`, for routes wanting `wanted`.
pub fn status_of(
    file: &Path,
    commands: &Commands,
    text: &str,
    wanted: &Wanted,
    enabled: bool,
    localhost_resolves: bool,
) -> HostsStatus {
    let names: BTreeSet<String> = managed_names(text).into_iter().collect();
    let should = block_names(text, &wanted.names);
    let (missing, stale) = if enabled {
        (
            should.difference(&names).cloned().collect(),
            names.difference(&should).cloned().collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    HostsStatus {
        enabled,
        file: file.to_owned(),
        in_sync: missing.is_empty() && stale.is_empty(),
        names: names.into_iter().collect(),
        missing,
        stale,
        wildcards: wanted.wildcards.iter().cloned().collect(),
        localhost_resolves,
        error: None,
        needs_elevation: false,
        command: commands.sync.clone(),
        remove_command: commands.remove.clone(),
    }
}
