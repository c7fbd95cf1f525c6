//! Local services to map: the TCP ports listening where loopback reaches them (127.0.0.0/8,
//! ::1, or every address), with the process behind each, a guess at its framework and a
//! suggested name, for click-to-configure.
//!
//! Sockets and their processes come from the `listeners` crate (Linux, macOS, Windows, BSDs).
//! The working directory and command line come from `/proc` and are Linux-only for now;
//! elsewhere those fields are absent and the name falls back to the process.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why the listening sockets could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot list the listening sockets: {reason}")]
pub struct Error {
    /// What the OS said.
    pub reason: String,
}

/// One service listening on a loopback-reachable port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Service {
    /// The port.
    pub port: u16,
    /// The addresses it listens on (`127.0.0.1`, `::1`, `0.0.0.0`…).
    pub addresses: Vec<String>,
    /// The process id, when the OS shows it.
    #[schema(required = true)]
    pub pid: Option<u32>,
    /// The process name (`node`, `python3`…).
    #[schema(required = true)]
    pub process: Option<String>,
    /// Its command line, shortened (Linux).
    #[schema(required = true)]
    pub command: Option<String>,
    /// Its working directory, usually the project folder (Linux).
    #[schema(required = true)]
    pub cwd: Option<String>,
    /// The framework it looks like (`Vite`, `Next.js`, `Rails`, `Django`…), if any.
    #[schema(required = true)]
    pub framework: Option<String>,
    /// A host label for it: the project's `package.json` name, else its folder, else the
    /// process.
    pub suggested_name: String,
    /// `<suggested_name>.localhost`.
    pub suggested_host: String,
    /// Routes that already forward to this port.
    pub routes: Vec<i64>,
}

/// `(route id, port)` for every upstream of every route forwarding to this machine (a `localhost` name or a
/// loopback or unspecified address): what [`scan`] marks as already mapped.
pub fn routed_ports(routes: &[crate::config::Route]) -> Vec<(i64, u16)> {
    routes
        .iter()
        .filter(|r| r.upstream().is_some())
        .flat_map(|r| r.upstreams.iter().map(move |u| (r.id, u)))
        .filter_map(|(id, upstream)| {
            let host = upstream
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let local = crate::proxy::is_localhost(host)
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
            local.then(|| (id, upstream.port()))
        })
        .collect()
}

/// The longest command line kept.
const MAX_COMMAND: usize = 300;

/// Every service listening where loopback reaches it, by port, except `own` (Portico's own
/// listeners). `routes` gives the ports existing routes forward to, to mark services already
/// mapped.
pub fn scan(own: &[SocketAddr], routes: &[(i64, u16)]) -> Result<Vec<Service>, Error> {
    let all = listeners::get_all().map_err(|e| Error {
        reason: e.to_string(),
    })?;
    let mut by_port: BTreeMap<u16, Service> = BTreeMap::new();
    for l in all {
        if l.protocol != listeners::Protocol::TCP
            || l.state != listeners::SocketState::Listen
            || !(l.socket.ip().is_loopback() || l.socket.ip().is_unspecified())
            || own.iter().any(|o| o.port() == l.socket.port())
        {
            continue;
        }
        let port = l.socket.port();
        let address = l.socket.ip().to_string();
        if let Some(existing) = by_port.get_mut(&port) {
            if !existing.addresses.contains(&address) {
                existing.addresses.push(address);
                existing.addresses.sort();
            }
            continue;
        }
        let details = ProcessDetails::of(l.process.pid);
        let process = Some(l.process.name.clone()).filter(|n| !n.is_empty());
        let framework = guess_framework(process.as_deref(), details.command.as_deref());
        let suggested_name = suggest_name(details.cwd.as_deref(), process.as_deref(), port);
        by_port.insert(
            port,
            Service {
                port,
                addresses: vec![address],
                pid: Some(l.process.pid),
                process,
                command: details.command,
                cwd: details.cwd.map(|p| p.to_string_lossy().into_owned()),
                framework,
                suggested_host: format!("{suggested_name}.localhost"),
                suggested_name,
                routes: routes
                    .iter()
                    .filter(|(_, p)| *p == port)
                    .map(|(id, _)| *id)
                    .collect(),
            },
        );
    }
    Ok(by_port.into_values().collect())
}

/// What `/proc` says about a process (nothing elsewhere, or when it is not ours to read).
#[derive(Debug, Default)]
struct ProcessDetails {
    command: Option<String>,
    cwd: Option<PathBuf>,
}

impl ProcessDetails {
    #[cfg(target_os = "linux")]
    fn of(pid: u32) -> ProcessDetails {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let command = std::fs::read(proc.join("cmdline")).ok().map(|raw| {
            let text: String = raw
                .split(|b| *b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            shorten(&text, MAX_COMMAND)
        });
        ProcessDetails {
            command: command.filter(|c| !c.is_empty()),
            // A folder removed while the process runs reads as "/path (deleted)".
            cwd: std::fs::read_link(proc.join("cwd"))
                .ok()
                .filter(|dir| !dir.to_string_lossy().ends_with(" (deleted)")),
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn of(_pid: u32) -> ProcessDetails {
        ProcessDetails::default()
    }
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Frameworks recognised by a word of the command line (or the process name), in order:
/// specific tools before the runtimes they run on.
const FRAMEWORKS: &[(&[&str], &str)] = &[
    (&["vite", "vite.js"], "Vite"),
    (&["next", "next-server", "next-router-worker"], "Next.js"),
    (&["nuxt", "nuxi"], "Nuxt"),
    (&["astro"], "Astro"),
    (&["remix", "remix-serve"], "Remix"),
    (&["gatsby"], "Gatsby"),
    (&["svelte-kit"], "SvelteKit"),
    (&["react-scripts"], "Create React App"),
    (&["ng"], "Angular"),
    (&["webpack", "webpack-dev-server"], "webpack"),
    (&["storybook"], "Storybook"),
    (&["rails", "puma"], "Rails"),
    (&["manage.py"], "Django"),
    (&["artisan"], "Laravel"),
    (&["flask"], "Flask"),
    (&["uvicorn"], "Uvicorn"),
    (&["gunicorn"], "Gunicorn"),
    (&["hugo"], "Hugo"),
    (&["jekyll"], "Jekyll"),
    (&["http.server"], "Python http.server"),
    (&["php"], "PHP"),
    (&["node", "nodejs"], "Node.js"),
    (&["deno"], "Deno"),
    (&["bun"], "Bun"),
    (&["python", "python3"], "Python"),
    (&["ruby"], "Ruby"),
    (&["java"], "Java"),
];

/// The framework a process looks like, from the words of its command line and its name.
pub fn guess_framework(process: Option<&str>, command: Option<&str>) -> Option<String> {
    let words: Vec<String> = command
        .unwrap_or_default()
        .split(|c: char| c.is_whitespace() || c == '/' || c == '\\')
        .chain(process)
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |names: &[&str]| {
        words.iter().any(|w| {
            names.iter().any(|n| {
                w == n
                    // `python3.12`, `node20`, `ruby3.3`: a runtime with its version.
                    || (w.starts_with(n)
                        && w[n.len()..]
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == '.'))
            })
        })
    };
    FRAMEWORKS
        .iter()
        .find(|(names, _)| has(names))
        .map(|(_, framework)| (*framework).to_owned())
}

/// A DNS label for a service: its project's `package.json` name (without the `@scope/`),
/// else its folder's name, else its process, else `app-PORT`.
pub fn suggest_name(cwd: Option<&Path>, process: Option<&str>, port: u16) -> String {
    let from_package = cwd.and_then(|dir| {
        let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let name = json.get("name")?.as_str()?;
        Some(name.rsplit('/').next().unwrap_or(name).to_owned())
    });
    let from_folder = cwd
        .filter(|dir| dir.parent().is_some() && !is_home(dir))
        .and_then(|dir| dir.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    [from_package, from_folder, process.map(str::to_owned)]
        .into_iter()
        .flatten()
        .map(|candidate| dns_label(&candidate))
        .find(|label| !label.is_empty())
        .unwrap_or_else(|| format!("app-{port}"))
}

fn is_home(dir: &Path) -> bool {
    std::env::var_os("HOME").is_some_and(|home| Path::new(&home) == dir)
}

/// Lowercase letters, digits and single dashes, at most 63 characters.
fn dns_label(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    let mut label: String = trimmed.chars().take(63).collect();
    while label.ends_with('-') {
        label.pop();
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frameworks_are_guessed_from_the_command_line_before_the_runtime() {
        let guess = |process: &str, command: &str| guess_framework(Some(process), Some(command));
        assert_eq!(
            guess(
                "node",
                "node /home/a/shop/node_modules/.bin/vite --port 5173"
            )
            .as_deref(),
            Some("Vite")
        );
        assert_eq!(
            guess("next-server", "next-server (v15.0.0)").as_deref(),
            Some("Next.js")
        );
        assert_eq!(
            guess("python3.12", "python3.12 manage.py runserver").as_deref(),
            Some("Django")
        );
        assert_eq!(
            guess("ruby", "puma 6.4.2 (tcp://localhost:3000) [app]").as_deref(),
            Some("Rails")
        );
        assert_eq!(
            guess("php8.3", "php artisan serve").as_deref(),
            Some("Laravel")
        );
        assert_eq!(guess("node", "node server.js").as_deref(), Some("Node.js"));
        // A folder that merely contains a framework's name is not that framework.
        assert_eq!(
            guess("node", "node /home/a/nextcloud-tools/server.js").as_deref(),
            Some("Node.js")
        );
        assert_eq!(guess_framework(Some("mystery"), None), None);
    }

    #[test]
    fn names_come_from_package_json_then_the_folder_then_the_process() {
        let dir = tempfile::tempdir().expect("temp dir");
        let project = dir.path().join("My Shop");
        std::fs::create_dir(&project).expect("dir");
        assert_eq!(suggest_name(Some(&project), Some("node"), 5173), "my-shop");
        std::fs::write(project.join("package.json"), r#"{"name": "@acme/Web_App"}"#)
            .expect("package.json");
        assert_eq!(suggest_name(Some(&project), Some("node"), 5173), "web-app");
        std::fs::write(project.join("package.json"), "not json").expect("package.json");
        assert_eq!(suggest_name(Some(&project), Some("node"), 5173), "my-shop");
        assert_eq!(
            suggest_name(Some(Path::new("/")), Some("node"), 5173),
            "node"
        );
        assert_eq!(suggest_name(None, None, 8000), "app-8000");
        assert_eq!(suggest_name(None, Some("___"), 8000), "app-8000");
    }

    #[test]
    fn labels_are_valid_dns() {
        assert_eq!(dns_label("--Hello  World!--"), "hello-world");
        assert_eq!(dns_label(&"a".repeat(80)).len(), 63);
        assert_eq!(dns_label("ünï"), "n");
    }
}
