//! `portico route …`: through the running engine's admin API when there is one for the data
//! dir, else straight into the database (a later `portico serve` reads it).

use std::path::Path;

use anyhow::{Context, bail};
use portico_core::config::{HostPattern, NewRoute, PathPrefix, Route, RoutePatch};

use crate::backend::Backend;

/// `portico route` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Map HOST to TARGET: a port (5173), host:port, or http://host:port[/base].
    #[command(after_help = "Examples:
  portico route add app.localhost 5173
  portico route add '*.shop.localhost' localhost:3000 --upstream-host
  portico route add app.localhost 8000 --path /api --strip-prefix")]
    Add {
        /// Host name, e.g. app.localhost, or a wildcard such as '*.app.localhost'.
        host: String,
        /// Upstream: a port, host:port, or http://host:port[/base].
        target: String,
        /// Only requests under this path prefix. Default: /.
        #[arg(long, value_name = "P")]
        path: Option<String>,
        /// Remove the path prefix before forwarding (/api/users → /users).
        #[arg(long)]
        strip_prefix: bool,
        /// Send the upstream's own host:port as Host, for dev servers that reject other names.
        #[arg(long)]
        upstream_host: bool,
        /// Seconds to wait for the upstream's response headers before answering 504. Default: 60.
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout: Option<u64>,
        /// Store the route disabled.
        #[arg(long)]
        disabled: bool,
        /// Serve plain http:// too, instead of redirecting it to https://.
        #[arg(long)]
        no_https_redirect: bool,
        /// Do not record this route's traffic in the inspector (for a noisy route).
        #[arg(long)]
        no_capture: bool,
    },
    /// List routes.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove the route for HOST.
    #[command(visible_alias = "remove")]
    Rm(Select),
    /// Enable the route for HOST.
    Enable(Select),
    /// Disable the route for HOST (kept, but not served).
    Disable(Select),
}

/// Which route a command acts on.
#[derive(Debug, clap::Args)]
pub(crate) struct Select {
    /// Host name as given to `route add`.
    host: String,
    /// The route's path prefix, when HOST has several.
    #[arg(long, value_name = "P")]
    path: Option<String>,
}

pub(crate) fn run(data_dir: &Path, cmd: Command) -> anyhow::Result<()> {
    let backend = Backend::open(data_dir)?;
    match cmd {
        Command::Add {
            host,
            target,
            path,
            strip_prefix,
            upstream_host,
            timeout,
            disabled,
            no_https_redirect,
            no_capture,
        } => {
            let new = NewRoute {
                host,
                path,
                upstreams: vec![target],
                strip_prefix,
                upstream_host,
                timeout_ms: timeout.map(|s| s * 1000),
                enabled: Some(!disabled),
                https_redirect: Some(!no_https_redirect),
                capture: Some(!no_capture),
            };
            // Validate here too, so a bad route gets the same message with or without an engine.
            new.validate()?;
            let route = backend.add(new)?;
            println!("Added {}", describe(&route));
            let extra = backend.settings()?.local_suffixes;
            if !portico_core::tls::is_local_name(&route.host.to_string(), &extra) {
                println!(
                    "note: {} is not under a local suffix ({}), so Portico's CA cannot give it a certificate: \
                     it is served over http:// only (never redirected to https://). Prefer a name such as {}.localhost.",
                    route.host,
                    portico_core::tls::DEFAULT_SUFFIXES.join(", "),
                    route
                        .host
                        .to_string()
                        .trim_start_matches("*.")
                        .split('.')
                        .next()
                        .unwrap_or("app")
                );
            }
            if backend.is_live() {
                println!("Live now in the running engine.");
            } else {
                println!("Saved; `portico serve` uses it when it starts.");
            }
        }
        Command::List { json } => list(&backend, json)?,
        Command::Rm(select) => {
            let route = select.find(&backend)?;
            backend.remove(route.id)?;
            println!("Removed {}", describe(&route));
        }
        Command::Enable(select) => set_enabled(&backend, &select, true)?,
        Command::Disable(select) => set_enabled(&backend, &select, false)?,
    }
    Ok(())
}

fn set_enabled(backend: &Backend, select: &Select, enabled: bool) -> anyhow::Result<()> {
    let route = select.find(backend)?;
    let patch = RoutePatch {
        enabled: Some(enabled),
        ..Default::default()
    };
    let next = backend.update(route.id, patch)?;
    println!(
        "{} {}",
        if enabled { "Enabled" } else { "Disabled" },
        describe(&next)
    );
    Ok(())
}

impl Select {
    fn find(&self, backend: &Backend) -> anyhow::Result<Route> {
        let host = HostPattern::parse(&self.host)?;
        let path = self.path.as_deref().map(PathPrefix::parse).transpose()?;
        let (routes, _) = backend.routes()?;
        let matching: Vec<Route> = routes
            .into_iter()
            .filter(|r| r.host == host && path.as_ref().is_none_or(|p| &r.path == p))
            .collect();
        match matching.len() {
            0 => {
                let at = path.map(|p| p.to_string()).unwrap_or_default();
                bail!("no route for {host}{at}; see `portico route list`")
            }
            1 => Ok(matching.into_iter().next().context("one route")?),
            _ => {
                let paths: Vec<&str> = matching.iter().map(|r| r.path.as_str()).collect();
                bail!(
                    "{host} has {} routes ({}); say which with --path",
                    matching.len(),
                    paths.join(", ")
                )
            }
        }
    }
}

fn describe(route: &Route) -> String {
    let path = if route.path.is_root() {
        ""
    } else {
        route.path.as_str()
    };
    let mut flags = Vec::new();
    if route.strip_prefix {
        flags.push("strip prefix");
    }
    if route.upstream_host {
        flags.push("upstream host");
    }
    if !route.enabled {
        flags.push("disabled");
    }
    if !route.https_redirect {
        flags.push("no https redirect");
    }
    if !route.capture {
        flags.push("not captured");
    }
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" ({})", flags.join(", "))
    };
    format!("{}{path} → {}{flags}", route.host, route.upstream())
}

fn list(backend: &Backend, json: bool) -> anyhow::Result<()> {
    let (routes, broken) = backend.routes()?;
    for bad in &broken {
        eprintln!(
            "warning: stored route {} ({}) is not valid and is not served: {}",
            bad.id, bad.host, bad.error
        );
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&routes)?);
        return Ok(());
    }
    if routes.is_empty() {
        println!("No routes. Add one: portico route add app.localhost 5173");
        return Ok(());
    }
    let header = ["ID", "HOST", "PATH", "UPSTREAM", "OPTIONS"];
    let cells: Vec<[String; 5]> = routes
        .iter()
        .map(|r| {
            let mut opts = Vec::new();
            if !r.enabled {
                opts.push("disabled".to_owned());
            }
            if r.strip_prefix {
                opts.push("strip-prefix".to_owned());
            }
            if r.upstream_host {
                opts.push("upstream-host".to_owned());
            }
            if !r.https_redirect {
                opts.push("no-https-redirect".to_owned());
            }
            if !r.capture {
                opts.push("no-capture".to_owned());
            }
            if let Some(project) = &r.project {
                opts.push(format!("project={project}"));
            }
            if r.timeout_ms != portico_core::config::DEFAULT_TIMEOUT.as_millis() as u64 {
                opts.push(format!("timeout={}s", r.timeout_ms as f64 / 1000.0));
            }
            [
                r.id.to_string(),
                r.host.to_string(),
                r.path.to_string(),
                r.upstream().to_string(),
                opts.join(" "),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: [&str; 5]| {
        let mut out = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header);
    for row in &cells {
        line(row.each_ref().map(String::as_str));
    }
    Ok(())
}
