//! `portico export` / `portico import`: routes and settings as a versioned JSON document, and
//! `portico export --format`: the routes as another proxy's configuration.

use std::path::{Path, PathBuf};

use anyhow::Context;
use portico_core::config::Export;
use portico_core::export::{Format, Options};

use crate::backend::Backend;

/// `portico export`'s options.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Export every route as this proxy's configuration instead of Portico's JSON: caddyfile,
    /// nginx (server blocks to include in the http block), traefik (dynamic configuration,
    /// YAML) or k8s-ingress (Ingress objects for ingress-nginx). What the target cannot
    /// express is written as a comment next to the route.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    format: Option<Format>,
    /// With --format: the HTTP port the configuration listens on.
    #[arg(long, value_name = "PORT", default_value_t = 80, requires = "format")]
    http_port: u16,
    /// With --format: the HTTPS port the configuration listens on.
    #[arg(long, value_name = "PORT", default_value_t = 443, requires = "format")]
    https_port: u16,
    /// With --format: plain HTTP only, no TLS and no redirect to HTTPS (behind a TLS terminator).
    #[arg(long, requires = "format")]
    plain_http: bool,
    /// With --format nginx: the folder the configuration expects certificates
    /// (certs/NAME.crt, .key), basic-auth files (htpasswd/) and the cache (cache/) in.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/etc/nginx/portico",
        requires = "format"
    )]
    files_dir: String,
    /// With --format: listen on this address only. Default: every address.
    #[arg(long, value_name = "IP", requires = "format")]
    bind: Option<std::net::IpAddr>,
}

fn parse_format(name: &str) -> Result<Format, String> {
    Format::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| {
            format!(
                "unknown format {name:?}; use one of {}",
                Format::ALL.map(Format::name).join(", ")
            )
        })
}

pub(crate) fn export(data_dir: &Path, args: ExportArgs) -> anyhow::Result<()> {
    let ExportArgs { out, format, .. } = &args;
    if let Some(format) = *format {
        let (routes, broken) = Backend::open(data_dir)?.routes()?;
        for b in &broken {
            eprintln!(
                "warning: route {} ({}) is not valid and was not exported: {}",
                b.id, b.host, b.error
            );
        }
        let options = Options {
            http_port: args.http_port,
            https_port: args.https_port,
            plain_http: args.plain_http,
            files_dir: args.files_dir.clone(),
            bind: args.bind,
        };
        let text = portico_core::export::render(format, &routes, &options);
        return write(out.as_deref(), &text, || {
            format!("{} routes as {}", routes.len(), format.name())
        });
    }
    let out = out.clone();
    let export = Backend::open(data_dir)?.export()?;
    let text = serde_json::to_string_pretty(&export)? + "\n";
    match out {
        Some(path) => {
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "Wrote {} routes and the settings to {}",
                export.routes.len(),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

pub(crate) fn import(data_dir: &Path, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let export: Export = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a Portico export (make one with `portico export > routes.json`)",
            file.display()
        )
    })?;
    let summary = Backend::open(data_dir)?.import(export)?;
    println!(
        "Imported {}: {} added, {} updated.",
        file.display(),
        summary.added,
        summary.updated
    );
    Ok(())
}

fn write(out: Option<&Path>, text: &str, what: impl FnOnce() -> String) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("Wrote {} to {}", what(), path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
