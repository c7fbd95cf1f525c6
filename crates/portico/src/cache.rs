//! `portico cache`: the running engine's response cache (it lives in memory, so there is
//! nothing to show or purge when no engine runs).

use std::path::Path;

use anyhow::bail;
use portico_core::admin::Purged;
use portico_core::cache::CacheStats;

use crate::backend::Backend;
use crate::client::Admin;
use crate::route::Select;

/// `portico cache` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Hits, misses, entries and stored bytes, per route (the default).
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Drop cached responses: all, one route's (--route HOST), or one URL's (--url URL).
    Purge {
        /// Only this route's entries (its host, as given to `route add`).
        #[arg(long, value_name = "HOST", conflicts_with = "url")]
        route: Option<String>,
        /// The route's path prefix, when HOST has several.
        #[arg(long, value_name = "P", requires = "route")]
        path: Option<String>,
        /// Only this URL's entries, e.g. https://app.localhost/styles.css.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

fn engine(data_dir: &Path) -> anyhow::Result<Admin> {
    match Admin::connect(data_dir) {
        Some(admin) => Ok(admin),
        None => bail!(
            "no engine is running for this data dir; the cache lives in the running engine \
             (start it with `portico serve`)"
        ),
    }
}

pub(crate) fn run(data_dir: &Path, cmd: Option<Command>) -> anyhow::Result<()> {
    let admin = engine(data_dir)?;
    match cmd.unwrap_or(Command::Stats { json: false }) {
        Command::Stats { json } => {
            let stats: CacheStats = admin.get("/cache")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print_stats(&Backend::Api(admin), &stats)?;
            }
        }
        Command::Purge { route, path, url } => {
            let query = match (route, url) {
                (Some(host), _) => {
                    let id = Select::new(host, path).find(&Backend::open(data_dir)?)?.id;
                    format!("?route_id={id}")
                }
                (None, Some(url)) => format!("?url={}", encode(&url)),
                (None, None) => String::new(),
            };
            let purged: Purged = admin.delete_for(&format!("/cache{query}"))?;
            let noun = if purged.purged == 1 {
                "response"
            } else {
                "responses"
            };
            println!("Purged {} cached {noun}.", purged.purged);
        }
    }
    Ok(())
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn print_stats(backend: &Backend, stats: &CacheStats) -> anyhow::Result<()> {
    let (routes, _) = backend.routes()?;
    let name = |id: i64| {
        routes
            .iter()
            .find(|r| r.id == id)
            .map(|r| {
                let path = if r.path.is_root() {
                    ""
                } else {
                    r.path.as_str()
                };
                format!("{}{path}", r.host)
            })
            .unwrap_or_else(|| format!("route {id} (removed)"))
    };
    println!(
        "{} entries, {} of {} stored; {} hits ({} collapsed, {} revalidated), {} misses, {} bypassed",
        stats.entries,
        size(stats.stored_bytes),
        size(stats.max_bytes),
        stats.hits,
        stats.collapsed,
        stats.revalidated,
        stats.misses,
        stats.bypassed
    );
    if stats.routes.is_empty() {
        println!(
            "No route has used the cache yet (turn it on with `portico route set HOST --cache`)."
        );
        return Ok(());
    }
    println!();
    println!(
        "{:<32} {:>8} {:>8} {:>8} {:>10}",
        "ROUTE", "HITS", "MISSES", "ENTRIES", "STORED"
    );
    for r in &stats.routes {
        println!(
            "{:<32} {:>8} {:>8} {:>8} {:>10}",
            name(r.route_id),
            r.hits,
            r.misses,
            r.entries,
            size(r.stored_bytes)
        );
    }
    Ok(())
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
