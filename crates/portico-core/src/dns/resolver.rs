//! The one-time system resolver configuration that sends the DNS suffixes to the responder,
//! per platform:
//!
//! - macOS: one file per suffix, `/etc/resolver/<suffix>`, with `nameserver` and `port`
//!   (read by mDNSResponder at once).
//! - Linux with systemd-resolved: the drop-in `/etc/systemd/resolved.conf.d/portico.conf`,
//!   `DNS=127.0.0.1:PORT` and `Domains=~suffix …` (routing-only domains, so nothing else goes
//!   there), then `systemctl restart systemd-resolved`.
//! - Linux without it: `/etc/resolv.conf` can neither send one suffix elsewhere nor name a
//!   port, so Portico writes nothing and says what works (a dnsmasq `server=` line) instead.
//! - Windows: NRPT rules cannot name a port; Portico says so.
//!
//! Every path is under [`ResolverEnv::root`] (`/` on a real system, a temporary directory in
//! tests), and files Portico writes carry [`MARKER`] so teardown never removes a user's own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;

/// The first line of every file Portico writes; teardown removes only files that have it.
pub const MARKER: &str =
    "# Written by Portico (portico dns setup); removed by portico dns teardown.";

const MACOS_DIR: &str = "etc/resolver";
const RESOLVED_DROP_IN: &str = "etc/systemd/resolved.conf.d/portico.conf";
const DNSMASQ_FILES: [&str; 2] = [
    "etc/dnsmasq.d/portico.conf",
    "etc/NetworkManager/dnsmasq.d/portico.conf",
];
const RESOLVED_RESTART: [&str; 3] = ["systemctl", "restart", "systemd-resolved"];

/// How this machine's resolver is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// macOS: `/etc/resolver/<suffix>` files.
    Macos,
    /// Linux with systemd-resolved running: a drop-in.
    LinuxResolved,
    /// Linux without systemd-resolved: nothing Portico can write.
    Linux,
    /// Windows: NRPT cannot name a port.
    Windows,
}

impl Platform {
    /// The platform this build runs on, with systemd-resolved detected under `root` (it runs
    /// when `/run/systemd/resolve` exists).
    pub fn detect(root: &Path) -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Macos
        } else if cfg!(windows) {
            Platform::Windows
        } else if root.join("run/systemd/resolve").is_dir() {
            Platform::LinuxResolved
        } else {
            Platform::Linux
        }
    }
}

/// Where the resolver's files are.
#[derive(Debug, Clone)]
pub struct ResolverEnv {
    /// The file system root the `/etc/...` paths are under. Default: `/`.
    pub root: PathBuf,
    /// The platform; `None` detects it (see [`Platform::detect`]). Default: none.
    pub platform: Option<Platform>,
    /// Restart systemd-resolved after changing its drop-in. Default: true for `/`, false for
    /// another root (whose files no running resolver reads).
    pub reload: bool,
}

impl ResolverEnv {
    /// This machine's resolver.
    pub fn system() -> ResolverEnv {
        ResolverEnv::under("/")
    }

    /// The resolver files under `root`; restarting the resolver only for `/`.
    pub fn under(root: impl Into<PathBuf>) -> ResolverEnv {
        let root = root.into();
        ResolverEnv {
            reload: root == Path::new("/"),
            root,
            platform: None,
        }
    }

    /// The platform, given or detected.
    pub fn platform(&self) -> Platform {
        self.platform
            .unwrap_or_else(|| Platform::detect(&self.root))
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}

impl Default for ResolverEnv {
    fn default() -> Self {
        ResolverEnv::system()
    }
}

/// A file the setup writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PlannedFile {
    /// Where.
    #[schema(value_type = String, example = "/etc/systemd/resolved.conf.d/portico.conf")]
    pub path: PathBuf,
    /// Its whole text.
    pub contents: String,
}

/// What makes this platform's resolver send the suffixes to the responder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ResolverPlan {
    /// The platform it is for.
    pub platform: Platform,
    /// Whether `portico dns setup` can apply it (false on Linux without systemd-resolved,
    /// on Windows, and when there is no suffix or no fixed port).
    pub supported: bool,
    /// The responder's address the files point at.
    #[schema(value_type = Option<String>, required = true, example = "127.0.0.1:5354")]
    pub responder: Option<SocketAddr>,
    /// Files to write.
    pub files: Vec<PlannedFile>,
    /// Portico's files for suffixes no longer listed, to remove.
    #[schema(value_type = Vec<String>)]
    pub stale: Vec<PathBuf>,
    /// The command that makes the resolver read the files, if one is needed.
    #[schema(required = true)]
    pub reload: Option<String>,
    /// Shell commands doing the same as `portico dns setup` (with sudo), to copy.
    pub setup_script: String,
    /// Shell commands undoing it, as `portico dns teardown` does.
    pub teardown_script: String,
    /// In plain words: what the setup does here, or why Portico cannot do it and what works
    /// instead.
    pub note: String,
}

/// Per suffix: whether the system resolver sends it to the responder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SuffixStatus {
    /// The suffix, e.g. `test`.
    pub suffix: String,
    /// The resolver's configuration (as found in its files) sends this suffix to the
    /// responder's address.
    pub resolver_configured: bool,
    /// Which file says so, or what is missing and what to do.
    pub detail: String,
}

/// The plan for sending `suffixes` to the responder at `responder` (`None`, or port 0, when
/// it has no fixed address) on `env`'s platform.
pub fn plan(env: &ResolverEnv, responder: Option<SocketAddr>, suffixes: &[String]) -> ResolverPlan {
    let platform = env.platform();
    let responder = responder.filter(|a| a.port() != 0);
    let mut plan = ResolverPlan {
        platform,
        supported: false,
        responder,
        files: Vec::new(),
        stale: Vec::new(),
        reload: None,
        setup_script: String::new(),
        teardown_script: String::new(),
        note: String::new(),
    };
    let teardown = teardown_plan(env, platform);
    plan.teardown_script = script(&[], &teardown.0, teardown.1.as_deref());
    if suffixes.is_empty() {
        plan.note = Error::NoSuffixes.to_string();
        return plan;
    }
    let Some(addr) = responder else {
        plan.note =
            "The DNS responder has no fixed address (it is off, or dns_listen ends in :0); \
                     set dns_listen to a port such as 127.0.0.1:5354 first."
                .into();
        return plan;
    };
    let dotted: Vec<String> = suffixes.iter().map(|s| format!(".{s}")).collect();
    let names = dotted.join(", ");
    match platform {
        Platform::Macos => {
            for suffix in suffixes {
                plan.files.push(PlannedFile {
                    path: env.path(MACOS_DIR).join(suffix),
                    contents: format!(
                        "{MARKER}\n# Names under .{suffix} go to Portico's DNS responder.\nnameserver {}\nport {}\n",
                        addr.ip(),
                        addr.port()
                    ),
                });
            }
            plan.stale = portico_files(&env.path(MACOS_DIR))
                .into_iter()
                .filter(|p| !plan.files.iter().any(|f| &f.path == p))
                .collect();
            plan.supported = true;
            plan.note = format!(
                "macOS sends names under {names} to {addr} through one file per suffix in \
                 /etc/resolver; it reads them at once, nothing to restart."
            );
        }
        Platform::LinuxResolved => {
            let domains: Vec<String> = suffixes.iter().map(|s| format!("~{s}")).collect();
            plan.files.push(PlannedFile {
                path: env.path(RESOLVED_DROP_IN),
                contents: format!(
                    "{MARKER}\n# Names under {names} go to Portico's DNS responder; nothing else does\n\
                     # (\"~\" makes them routing-only domains).\n[Resolve]\nDNS={addr}\nDomains={}\n",
                    domains.join(" ")
                ),
            });
            plan.reload = Some(RESOLVED_RESTART.join(" "));
            plan.supported = true;
            plan.note = format!(
                "systemd-resolved sends names under {names} to {addr} through a drop-in file, \
                 read when it restarts."
            );
        }
        Platform::Linux => {
            let lines: Vec<String> = suffixes
                .iter()
                .map(|s| format!("server=/{s}/{}#{}", addr.ip(), addr.port()))
                .collect();
            plan.note = format!(
                "This system does not run systemd-resolved, and /etc/resolv.conf can neither send \
                 one suffix to another server nor use a port other than 53, so Portico writes \
                 nothing here. With dnsmasq (on its own, or as NetworkManager's dns=dnsmasq), \
                 these lines in /etc/dnsmasq.d/portico.conf (or \
                 /etc/NetworkManager/dnsmasq.d/portico.conf) do it: {}. Without a local DNS \
                 server, exact names can go in /etc/hosts (hosts sync).",
                lines.join(" ")
            );
            plan.setup_script = format!(
                "# dnsmasq (NetworkManager with dns=dnsmasq: /etc/NetworkManager/dnsmasq.d/portico.conf)\n\
                 sudo tee /etc/dnsmasq.d/portico.conf >/dev/null <<'EOF'\n{MARKER}\n{}\nEOF\n\
                 sudo systemctl restart dnsmasq\n",
                lines.join("\n")
            );
            return plan;
        }
        Platform::Windows => {
            plan.note = format!(
                "Windows sends a suffix to a DNS server through NRPT rules, which cannot name a \
                 port: the responder would have to listen on {}:53 (dns_listen), then \
                 `Add-DnsClientNrptRule -Namespace .{} -NameServers {}` in an administrator \
                 PowerShell. Otherwise exact names can go in the hosts file (hosts sync).",
                addr.ip(),
                suffixes[0],
                addr.ip()
            );
            return plan;
        }
    }
    plan.setup_script = script(&plan.files, &plan.stale, plan.reload.as_deref());
    plan
}

/// The files teardown removes on `platform`, and the command to run after.
fn teardown_plan(env: &ResolverEnv, platform: Platform) -> (Vec<PathBuf>, Option<String>) {
    match platform {
        Platform::Macos => (portico_files(&env.path(MACOS_DIR)), None),
        Platform::LinuxResolved => (
            vec![env.path(RESOLVED_DROP_IN)],
            Some(RESOLVED_RESTART.join(" ")),
        ),
        Platform::Linux | Platform::Windows => (Vec::new(), None),
    }
}

/// Shell commands (with sudo) writing `files`, removing `stale`, then running `reload`.
fn script(files: &[PlannedFile], stale: &[PathBuf], reload: Option<&str>) -> String {
    let mut out = String::new();
    let mut dirs: Vec<&Path> = files.iter().filter_map(|f| f.path.parent()).collect();
    dirs.dedup();
    for dir in dirs {
        out.push_str(&format!("sudo mkdir -p {}\n", dir.display()));
    }
    for file in files {
        out.push_str(&format!(
            "sudo tee {} >/dev/null <<'EOF'\n{}EOF\n",
            file.path.display(),
            file.contents
        ));
    }
    if !stale.is_empty() {
        let list: Vec<String> = stale.iter().map(|p| p.display().to_string()).collect();
        out.push_str(&format!("sudo rm -f {}\n", list.join(" ")));
    }
    if let Some(reload) = reload
        && !(files.is_empty() && stale.is_empty())
    {
        out.push_str(&format!("sudo {reload}\n"));
    }
    out
}

/// Files in `dir` that Portico wrote (they start with [`MARKER`]), sorted.
fn portico_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_portico_file(p))
        .collect();
    found.sort();
    found
}

fn is_portico_file(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.starts_with(MARKER))
}

/// What setup or teardown changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Files removed.
    pub removed: Vec<PathBuf>,
    /// The command run afterwards, if any.
    pub reloaded: Option<String>,
}

/// Apply `plan`: write its files, remove the stale ones, restart the resolver when
/// `env.reload`. A plan that is not supported here is an error carrying its note.
pub fn write(env: &ResolverEnv, plan: &ResolverPlan) -> Result<Written, Error> {
    if !plan.supported {
        return Err(Error::Unsupported(plan.note.clone()));
    }
    let mut done = Written::default();
    for file in &plan.files {
        write_file(&file.path, &file.contents)?;
        done.written.push(file.path.clone());
    }
    for path in &plan.stale {
        remove_file(path)?;
        done.removed.push(path.clone());
    }
    if env.reload
        && let Some(command) = &plan.reload
    {
        run(command)?;
        done.reloaded = Some(command.clone());
    }
    Ok(done)
}

/// Undo [`write`]: remove every file Portico wrote for this platform (and only those),
/// then restart the resolver when `env.reload` and something was removed.
pub fn remove(env: &ResolverEnv) -> Result<Written, Error> {
    let (files, reload) = teardown_plan(env, env.platform());
    let mut done = Written::default();
    for path in files {
        if path.exists() {
            remove_file(&path)?;
            done.removed.push(path);
        }
    }
    if env.reload
        && !done.removed.is_empty()
        && let Some(command) = reload
    {
        run(&command)?;
        done.reloaded = Some(command);
    }
    Ok(done)
}

/// Write `contents` to `path` (mode 0644) through a temporary file in the same folder, so a
/// resolver never reads half a file.
fn write_file(path: &Path, contents: &str) -> Result<(), Error> {
    let fail = |source: std::io::Error| Error::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    std::io::Write::write_all(&mut temp, contents.as_bytes()).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(fail)?;
    }
    temp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

fn remove_file(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(source) if source.kind() != std::io::ErrorKind::NotFound => Err(Error::Remove {
            path: path.to_owned(),
            source,
        }),
        _ => Ok(()),
    }
}

fn run(command: &str) -> Result<(), Error> {
    let mut words = command.split(' ');
    let program = words.next().unwrap_or_default();
    let fail = |reason: String| Error::Reload {
        command: command.to_owned(),
        reason,
    };
    let status = std::process::Command::new(program)
        .args(words)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| fail(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(fail(status.to_string()))
    }
}

/// Per suffix, whether the resolver's files on `env` send it to `responder`.
pub fn suffix_status(
    env: &ResolverEnv,
    responder: Option<SocketAddr>,
    suffixes: &[String],
) -> Vec<SuffixStatus> {
    let platform = env.platform();
    suffixes
        .iter()
        .map(|suffix| {
            let (resolver_configured, detail) = match responder.filter(|a| a.port() != 0) {
                None => (
                    false,
                    "the DNS responder is not listening, so nothing can be checked".to_owned(),
                ),
                Some(addr) => check(env, platform, addr, suffix),
            };
            SuffixStatus {
                suffix: suffix.clone(),
                resolver_configured,
                detail,
            }
        })
        .collect()
}

const RUN_SETUP: &str = "run `portico dns setup`";

fn check(env: &ResolverEnv, platform: Platform, addr: SocketAddr, suffix: &str) -> (bool, String) {
    match platform {
        Platform::Macos => {
            let path = env.path(MACOS_DIR).join(suffix);
            let Ok(text) = std::fs::read_to_string(&path) else {
                return (false, format!("no {}: {RUN_SETUP}", path.display()));
            };
            let mut server = None;
            let mut port = 53;
            for line in text.lines() {
                let mut words = line.split_whitespace();
                match (words.next(), words.next()) {
                    (Some("nameserver"), Some(ip)) if server.is_none() => server = Some(ip.to_owned()),
                    (Some("port"), Some(p)) => port = p.parse().unwrap_or(0),
                    _ => {}
                }
            }
            let target = format!("{}:{port}", server.as_deref().unwrap_or("nothing"));
            if server.as_deref() == Some(&addr.ip().to_string()) && port == addr.port() {
                (true, format!("{} sends it to {addr}", path.display()))
            } else {
                (
                    false,
                    format!(
                        "{} sends it to {target}, not to the responder at {addr}: {RUN_SETUP}",
                        path.display()
                    ),
                )
            }
        }
        Platform::LinuxResolved => {
            let path = env.path(RESOLVED_DROP_IN);
            let Ok(text) = std::fs::read_to_string(&path) else {
                return (false, format!("no {}: {RUN_SETUP}", path.display()));
            };
            let values = |key: &str| -> Vec<String> {
                text.lines()
                    .filter_map(|l| l.trim().strip_prefix(key)?.trim_start().strip_prefix('='))
                    .flat_map(|v| v.split_whitespace().map(str::to_owned))
                    .collect()
            };
            let servers = values("DNS");
            let domains = values("Domains");
            let routed = domains
                .iter()
                .any(|d| d.trim_start_matches('~').trim_end_matches('.').eq_ignore_ascii_case(suffix));
            if !routed {
                (false, format!("{} does not name .{suffix}: {RUN_SETUP}", path.display()))
            } else if !servers.contains(&addr.to_string()) {
                (
                    false,
                    format!(
                        "{} sends it to {}, not to the responder at {addr}: {RUN_SETUP}",
                        path.display(),
                        servers.join(" ")
                    ),
                )
            } else {
                (true, format!("{} sends it to {addr}", path.display()))
            }
        }
        Platform::Linux => {
            let line = format!("server=/{suffix}/{}#{}", addr.ip(), addr.port());
            for relative in DNSMASQ_FILES {
                let path = env.path(relative);
                if std::fs::read_to_string(&path).is_ok_and(|t| t.lines().any(|l| l.trim() == line)) {
                    return (true, format!("{} sends it to {addr} (dnsmasq)", path.display()));
                }
            }
            (
                false,
                "this system does not run systemd-resolved; see `portico dns setup` for what works"
                    .to_owned(),
            )
        }
        Platform::Windows => (
            false,
            "Windows cannot send a suffix to a DNS server on another port than 53; see `portico dns setup`"
                .to_owned(),
        ),
    }
}
