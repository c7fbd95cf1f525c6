//! `portico doctor [HOST]`: the engine's doctor checks, printed as findings with their fixes.
//! With a running engine it asks its API (listeners as bound); without one it runs the checks
//! here on the data dir's routes and CA, and tries the ports `portico serve` would bind.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use portico_core::doctor::{Finding, Inputs, Level, Listening, Report};
use portico_core::store::Store;
use portico_core::tls::Ca;
use portico_core::tls::trust;

use crate::client::Admin;

/// Options of `portico doctor`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only the routes serving this host (e.g. app.test), and the name itself. Default: every
    /// enabled route.
    host: Option<String>,
    /// Print the report as JSON (for scripts); the exit status is still 1 when anything is
    /// an error.
    #[arg(long)]
    json: bool,
    /// The hosts file to look names up in when no engine runs (a running engine uses the one
    /// it was started with). Default: /etc/hosts.
    #[arg(long, env = "PORTICO_HOSTS_FILE", value_name = "FILE")]
    hosts_file: Option<PathBuf>,
}

pub(crate) fn run(data_dir: &Path, args: Args) -> anyhow::Result<()> {
    let report = match Admin::connect(data_dir) {
        Some(admin) => {
            let query = match &args.host {
                Some(host) => format!(
                    "?host={}",
                    url::form_urlencoded::byte_serialize(host.as_bytes()).collect::<String>()
                ),
                None => String::new(),
            };
            admin.get::<Report>(&format!("/doctor{query}"))?
        }
        None => offline(data_dir, &args)?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report, data_dir);
    }
    if report.errors > 0 {
        let noun = if report.errors == 1 {
            "problem"
        } else {
            "problems"
        };
        bail!("{} {noun} found; each one's fix is above", report.errors);
    }
    Ok(())
}

/// The checks without an engine: the stored routes, the CA on disk (if created yet), the
/// listeners `portico serve` would bind.
fn offline(data_dir: &Path, args: &Args) -> anyhow::Result<Report> {
    let store = Store::open_dir(data_dir)?;
    let routes = store.list_routes()?.routes;
    let settings = store.settings()?;
    let ca_dir = data_dir.join("ca");
    let stores = if ca_dir.join("root.pem").exists() {
        let (ca, _) = Ca::load(&ca_dir, &portico_host::owner(), &settings.local_suffixes)?;
        Some(trust::status(&portico_host::trust_env(), &ca.trust_cert()?))
    } else {
        None
    };
    let hosts = portico_host::hosts_file(args.hosts_file.clone());
    let inputs = Inputs {
        routes,
        host: args.host.clone(),
        stores,
        listening: Listening::Planned(portico_host::planned_listeners(&settings)),
        hosts_file: hosts.file.clone(),
        hosts_command: portico_core::hosts::command(
            "sync",
            data_dir,
            (!hosts.is_default).then_some(hosts.file.as_path()),
        ),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(portico_core::doctor::run(inputs)))
}

fn print(report: &Report, data_dir: &Path) {
    if report.engine_running {
        println!("Checked against the running engine.");
    } else {
        println!(
            "No engine runs for {}: checked its routes and CA, and the ports `portico serve` would take.",
            data_dir.display()
        );
    }
    for f in &report.findings {
        print_finding(f);
    }
    println!();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if report.errors == 0 && report.warnings == 0 {
        println!("Everything checked works.");
    } else {
        println!(
            "{}, {}.",
            plural(report.errors, "error", "errors"),
            plural(report.warnings, "warning", "warnings")
        );
    }
}

fn print_finding(f: &Finding) {
    let label = match f.status {
        Level::Ok => "ok",
        Level::Warn => "WARN",
        Level::Error => "ERROR",
    };
    println!();
    println!("{label:<5}  {}  {}", f.check.name(), f.subject);
    println!("       {}", f.message);
    if let Some(fix) = &f.fix {
        let mut lines = fix.lines();
        if let Some(first) = lines.next() {
            println!("       fix: {first}");
        }
        for line in lines {
            println!("            {line}");
        }
    }
}
