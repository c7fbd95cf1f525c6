//! Running the engine on this machine: where its data lives, who owns its CA, where the
//! machine's trust stores and hosts file are, and the listen addresses saved in the settings. The engine
//! itself reads no environment; the `portico` command and the desktop app both start it with
//! what this crate finds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use portico_core::hosts::HostsConfig;
use portico_core::proxy::ListenSpec;
use portico_core::tls::trust::TrustEnv;
use portico_core::{AdminListen, EngineConfig};

/// `given`, else the platform's data folder for Portico (`~/.local/share/portico` on Linux).
pub fn data_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    directories::ProjectDirs::from("", "", "portico")
        .map(|dirs| dirs.data_dir().to_owned())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot find a home directory for Portico's data; pass --data-dir DIR or set PORTICO_DATA_DIR"
            )
        })
}

/// The variable that names another hosts file (as `--hosts-file` does).
pub const HOSTS_FILE_VAR: &str = "PORTICO_HOSTS_FILE";

/// The platform's hosts file: `/etc/hosts`, or `%SystemRoot%\System32\drivers\etc\hosts`
/// on Windows.
pub fn default_hosts_file() -> PathBuf {
    if cfg!(windows) {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
        PathBuf::from(root)
            .join("System32")
            .join("drivers")
            .join("etc")
            .join("hosts")
    } else {
        PathBuf::from("/etc/hosts")
    }
}

/// The hosts file to keep in sync: `given` (`--hosts-file` or [`HOSTS_FILE_VAR`]), else the
/// platform's. A relative path is taken from the current folder.
pub fn hosts_file(given: Option<PathBuf>) -> HostsConfig {
    let default = default_hosts_file();
    match given.filter(|p| !p.as_os_str().is_empty()) {
        Some(file) => {
            let file = std::path::absolute(&file).unwrap_or(file);
            HostsConfig {
                is_default: file == default,
                file,
            }
        }
        None => HostsConfig {
            file: default,
            is_default: true,
        },
    }
}

/// Who the CA belongs to, `user@machine`, so it is recognisable in a trust store.
pub fn owner() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "user".to_owned());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this-machine".to_owned());
    format!("{user}@{host}")
}

/// This machine's trust stores, as the user running Portico sees them.
pub fn trust_env() -> TrustEnv {
    let home = directories::BaseDirs::new()
        .map(|d| d.home_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from("/"));
    let mut env = TrustEnv::detect(
        home,
        std::env::var_os("NODE_EXTRA_CA_CERTS").map(PathBuf::from),
    );
    env.path_var = std::env::var_os("PATH");
    env
}

/// The listeners `portico serve` would bind for `settings` (without flags): the saved
/// addresses, else the defaults.
pub fn planned_listeners(
    settings: &portico_core::config::Settings,
) -> Vec<portico_core::doctor::Planned> {
    use portico_core::doctor::{Planned, Role};
    let defaults = EngineConfig::new(".");
    let saved = |text: &Option<String>| text.as_deref().and_then(|t| t.parse::<SocketAddr>().ok());
    let mut plans = vec![Planned {
        role: Role::Http,
        spec: saved(&settings.http_listen).map_or(defaults.http, ListenSpec::Addr),
    }];
    if let Some(https) = saved(&settings.https_listen)
        .map(ListenSpec::Addr)
        .or(defaults.https)
    {
        plans.push(Planned {
            role: Role::Https,
            spec: https,
        });
    }
    if let Some(admin) = saved(&settings.admin_listen)
        .map(ListenSpec::Addr)
        .or(defaults.admin.map(|a| a.listen))
    {
        plans.push(Planned {
            role: Role::Admin,
            spec: admin,
        });
    }
    plans
}

/// The engine's configuration for `data_dir` on this machine: the owner, the trust stores,
/// the hosts file (the platform's, or [`HOSTS_FILE_VAR`]'s), and the listen addresses saved in
/// the settings (else the defaults). Callers may override the addresses (the command's flags
/// do).
pub fn engine_config(data_dir: &Path) -> anyhow::Result<EngineConfig> {
    let mut config = EngineConfig::new(data_dir);
    config.owner = owner();
    config.trust = Some(trust_env());
    config.hosts = Some(hosts_file(
        std::env::var_os(HOSTS_FILE_VAR).map(PathBuf::from),
    ));
    let settings = portico_core::store::Store::open_dir(data_dir)
        .and_then(|store| store.settings())
        .context("cannot start Portico")?;
    let saved = |text: &Option<String>| text.as_deref().and_then(|t| t.parse::<SocketAddr>().ok());
    if let Some(addr) = saved(&settings.http_listen) {
        config.http = ListenSpec::Addr(addr);
    }
    if let Some(addr) = saved(&settings.https_listen) {
        config.https = Some(ListenSpec::Addr(addr));
    }
    if let Some(addr) = saved(&settings.admin_listen) {
        config.admin = Some(AdminListen {
            listen: ListenSpec::Addr(addr),
            allow_remote: false,
            ui_dir: None,
        });
    }
    Ok(config)
}

/// `hosts sync` or `hosts remove` from the routes and settings in `data_dir`'s database,
/// without an engine: what the desktop app's helper runs with administrator rights. A sentence
/// saying what was done.
pub fn hosts_from_store(
    action: &str,
    data_dir: &Path,
    hosts: &HostsConfig,
) -> anyhow::Result<String> {
    use portico_core::hosts;
    let fallback = Some(data_dir);
    let edited = match action {
        "sync" => {
            let store = portico_core::store::Store::open_dir(data_dir)?;
            if !store.settings()?.hosts_sync {
                return Err(hosts::Error::Off.into());
            }
            let routes = store.list_routes()?.routes;
            drop(store);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let localhost = runtime.block_on(hosts::localhost_resolves());
            hosts::sync_file(&hosts.file, fallback, &routes, localhost)?
        }
        "remove" => hosts::remove_file_block(&hosts.file, fallback)?,
        other => anyhow::bail!("unknown hosts action {other:?}; use sync or remove"),
    };
    Ok(if edited.changed {
        format!("{} updated (hosts {action})", hosts.file.display())
    } else {
        format!(
            "{} already as wanted (hosts {action})",
            hosts.file.display()
        )
    })
}
