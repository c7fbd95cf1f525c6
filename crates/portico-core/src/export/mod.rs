//! Routes as configuration for production proxies: a Caddyfile, an nginx `http`-block
//! include, a Traefik dynamic configuration (file provider) and Kubernetes Ingress objects
//! (for the ingress-nginx controller). One module per target.
//!
//! This module owns the translation only: it reads validated [`Route`]s and returns text.
//! Reading routes from the store, writing files and serving the text belong to the callers
//! (the CLI and the admin API). What a target cannot express is written as a comment next to
//! the route, never dropped silently; passwords cannot be carried over (Portico keeps
//! argon2id hashes, the targets want bcrypt or an htpasswd file), so the users are listed
//! with what to do, and the route stays closed until the passwords are set.

mod caddy;
mod k8s;
mod nginx;
mod traefik;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{HostPattern, Route, RouteTarget};

/// A bcrypt hash of a random password that was thrown away: it keeps a basic-auth route
/// closed until the real passwords are set, in targets that need a hash in the file.
pub(crate) const LOCKED_BCRYPT: &str =
    "$2a$14$sxBNZ./2gVMCcj77/yaQ9u4RmIrrMTxM4NaCgU9xeLk/JaPv0agby";

/// A production proxy's configuration format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Caddy's Caddyfile (Caddy 2.6 or newer).
    Caddyfile,
    /// nginx server blocks, to include in the `http` block (nginx 1.22 or newer).
    Nginx,
    /// Traefik v3 dynamic configuration for the file provider (YAML).
    Traefik,
    /// Kubernetes `networking.k8s.io/v1` Ingress objects for the ingress-nginx controller (YAML).
    K8sIngress,
}

impl Format {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [Format; 4] = [
        Format::Caddyfile,
        Format::Nginx,
        Format::Traefik,
        Format::K8sIngress,
    ];

    /// The name used in the CLI and the API.
    pub fn name(self) -> &'static str {
        match self {
            Format::Caddyfile => "caddyfile",
            Format::Nginx => "nginx",
            Format::Traefik => "traefik",
            Format::K8sIngress => "k8s-ingress",
        }
    }

    /// The media type of the exported text.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Caddyfile | Format::Nginx => "text/plain; charset=utf-8",
            Format::Traefik | Format::K8sIngress => "application/yaml",
        }
    }
}

/// Where the exported configuration listens and what it expects to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The plain-HTTP port. Default: 80.
    pub http_port: u16,
    /// The HTTPS port. Default: 443.
    pub https_port: u16,
    /// Plain HTTP only: no TLS and no redirect to HTTPS (for a proxy behind a TLS terminator,
    /// or a test). Default: false.
    pub plain_http: bool,
    /// nginx only: the folder the configuration expects certificates (`certs/NAME.crt`,
    /// `certs/NAME.key`), basic-auth files (`htpasswd/portico-routeN`) and the cache
    /// (`cache/`) in. Default: `/etc/nginx/portico`.
    pub files_dir: String,
    /// Listen on this address only (Caddy's `default_bind`, nginx's `listen ADDR:PORT`).
    /// Default: none (every address).
    pub bind: Option<std::net::IpAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            http_port: 80,
            https_port: 443,
            plain_http: false,
            files_dir: "/etc/nginx/portico".into(),
            bind: None,
        }
    }
}

/// `routes` as `format`. Disabled routes are listed as comments, not exported.
pub fn render(format: Format, routes: &[Route], options: &Options) -> String {
    let plan = Plan::new(routes);
    match format {
        Format::Caddyfile => caddy::render(&plan, options),
        Format::Nginx => nginx::render(&plan, options),
        Format::Traefik => traefik::render(&plan, options),
        Format::K8sIngress => k8s::render(&plan, options),
    }
}

/// The routes grouped the way every target needs them: by host, most specific path first.
pub(crate) struct Plan<'a> {
    /// Enabled routes by host; within a host, longer prefixes first, `/` last.
    pub(crate) sites: Vec<(&'a HostPattern, Vec<&'a Route>)>,
    /// Enabled routes in id order.
    pub(crate) routes: Vec<&'a Route>,
    /// Disabled routes, listed but not exported.
    pub(crate) disabled: Vec<&'a Route>,
}

impl<'a> Plan<'a> {
    fn new(routes: &'a [Route]) -> Self {
        let mut by_host: BTreeMap<&HostPattern, Vec<&Route>> = BTreeMap::new();
        let mut enabled = Vec::new();
        let mut disabled = Vec::new();
        for route in routes {
            if route.enabled {
                by_host.entry(&route.host).or_default().push(route);
                enabled.push(route);
            } else {
                disabled.push(route);
            }
        }
        let sites = by_host
            .into_iter()
            .map(|(host, mut routes)| {
                routes.sort_by(|a, b| {
                    b.path
                        .as_str()
                        .len()
                        .cmp(&a.path.as_str().len())
                        .then(a.id.cmp(&b.id))
                });
                (host, routes)
            })
            .collect();
        Plan {
            sites,
            routes: enabled,
            disabled,
        }
    }

    /// `# disabled in Portico, not exported: …` lines.
    pub(crate) fn disabled_comments(&self, indent: &str) -> String {
        self.disabled
            .iter()
            .map(|r| {
                format!(
                    "{indent}# disabled in Portico, not exported: {}\n",
                    summary(r)
                )
            })
            .collect()
    }
}

/// `route 3: app.localhost/api → http://127.0.0.1:3000`
pub(crate) fn summary(route: &Route) -> String {
    let path = if route.path.is_root() {
        ""
    } else {
        route.path.as_str()
    };
    format!(
        "route {}: {}{} → {}",
        route.id,
        route.host,
        path,
        route.target()
    )
}

/// The name a target gives a route's objects: `portico-route3`.
pub(crate) fn object_name(route: &Route) -> String {
    format!("portico-route{}", route.id)
}

/// What no target can take over from a route, whatever the format.
pub(crate) fn portico_only(route: &Route) -> Vec<String> {
    let mut notes = Vec::new();
    if route.shared {
        notes.push(
            "sharing on the LAN (a Portico feature; this proxy serves whatever it listens on)"
                .into(),
        );
    }
    if !route.basic_auth.is_empty() {
        let users: Vec<&str> = route
            .basic_auth
            .users()
            .iter()
            .map(|u| u.user.as_str())
            .collect();
        notes.push(format!(
            "basic-auth passwords (Portico keeps argon2id hashes): set a new password for {} — until then nobody can log in",
            users.join(", ")
        ));
    }
    notes
}

/// The comment block above a route: what it is, and what this target does not do.
pub(crate) fn route_comments(
    route: &Route,
    notes: &[String],
    target: &str,
    indent: &str,
) -> String {
    let mut text = format!("{indent}# {}\n", summary(route));
    for note in notes {
        text.push_str(&format!("{indent}# not exported to {target}: {note}\n"));
    }
    text
}

/// A duration for configurations that take `1500ms`, `2s`.
pub(crate) fn duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Whether a route forwards to upstreams.
pub(crate) fn upstreams(route: &Route) -> &[crate::config::Upstream] {
    match route.target() {
        RouteTarget::Upstream(ups) => ups,
        _ => &[],
    }
}

/// A string as a double-quoted YAML scalar (JSON's escapes are YAML's).
pub(crate) fn yaml_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// `path` with regular-expression metacharacters escaped.
pub(crate) fn regex_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if ".+*?()|[]{}^$\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
