//! `portico ca …`: the local CA and the trust stores it is installed in.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use portico_core::store::Store;
use portico_core::tls::Ca;
use portico_core::tls::trust::{self, CaCert, Change, Outcome, TrustState};

/// `portico ca` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Show the CA and, per trust store, whether it is trusted.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Install the CA in the system store and in Chromium's and Firefox's databases.
    Trust,
    /// Remove exactly what `trust` installed.
    Untrust,
    /// Print the CA certificate (PEM), e.g. for a phone or another tool.
    Export {
        /// Write it to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Create a new CA, re-issue certificates, and move trust from the old CA to the new one.
    Rotate,
}

pub(crate) fn run(data_dir: &Path, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Status { json } => status(&load(data_dir)?, json),
        Command::Trust => {
            let outcomes = trust::trust(&portico_host::trust_env(), &ca_cert(&load(data_dir)?)?);
            report("Trusted", &outcomes)
        }
        Command::Untrust => {
            let outcomes = trust::untrust(&portico_host::trust_env(), &ca_cert(&load(data_dir)?)?);
            report("Untrusted", &outcomes)
        }
        Command::Export { out } => {
            let ca = load(data_dir)?;
            export(&ca, out)
        }
        Command::Rotate => rotate(data_dir),
    }
}

fn export(ca: &Ca, out: Option<PathBuf>) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            std::fs::write(&path, ca.root_pem())
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("Wrote {} to {}", ca.root_name(), path.display());
            Ok(())
        }
        None => {
            print!("{}", ca.root_pem());
            Ok(())
        }
    }
}

fn ca_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("ca")
}

/// The CA, created on first use with the local suffixes from settings.
fn load(data_dir: &Path) -> anyhow::Result<Ca> {
    let store = Store::open_dir(data_dir)?;
    let settings = store.settings()?;
    let (ca, _) = Ca::load_or_create(
        &ca_dir(data_dir),
        &portico_host::owner(),
        &settings.local_suffixes,
    )?;
    Ok(ca)
}

fn ca_cert(ca: &Ca) -> anyhow::Result<CaCert> {
    Ok(ca.trust_cert()?)
}

fn date(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

fn status(ca: &Ca, json: bool) -> anyhow::Result<()> {
    let stores = trust::status(&portico_host::trust_env(), &ca_cert(ca)?);
    if json {
        let value = serde_json::json!({
            "ca": {
                "name": ca.root_name(),
                "path": ca.root_path(),
                "sha256": ca.root_fingerprint(),
                "expires": date(ca.root_not_after()),
                "intermediate_expires": date(ca.intermediate_not_after()),
                "suffixes": ca.suffixes(),
            },
            "stores": stores,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let suffixes: Vec<&str> = ca.suffixes().iter().map(String::as_str).collect();
    println!("CA           {}", ca.root_name());
    println!("file         {}", ca.root_path().display());
    println!("SHA-256      {}", ca.root_fingerprint());
    println!("expires      {}", date(ca.root_not_after()));
    println!(
        "signs for    {} and 127.0.0.0/8, ::1 (intermediate renews itself; expires {})",
        suffixes.join(", "),
        date(ca.intermediate_not_after())
    );
    println!();
    let rows: Vec<[String; 3]> = stores
        .iter()
        .map(|s| {
            let state = match s.state {
                TrustState::Trusted => "trusted",
                TrustState::NotTrusted => "not trusted",
                TrustState::NotPresent => "not present",
                TrustState::ReportOnly => "report only",
                TrustState::Unknown => "unknown",
            };
            let mut location = s.location.clone();
            if let Some(note) = &s.note {
                location.push_str(" — ");
                location.push_str(note);
            }
            [s.store.to_string(), state.to_owned(), location]
        })
        .collect();
    let w0 = rows
        .iter()
        .map(|r| r[0].chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(5).max(5);
    println!("{:<w0$}  {:<w1$}  WHERE", "STORE", "STATE");
    for [store, state, location] in rows {
        println!("{store:<w0$}  {state:<w1$}  {location}");
    }
    if stores.iter().any(|s| s.state == TrustState::NotTrusted) {
        println!("\nRun `portico ca trust` to trust the CA where it is not yet trusted.");
    }
    Ok(())
}

/// Print one line per store; fail if any store failed, after printing them all.
fn report(verb: &str, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let mut failed = 0;
    for outcome in outcomes {
        let what = match &outcome.result {
            Ok(Change::Added) => "added".to_owned(),
            Ok(Change::Removed) => "removed".to_owned(),
            Ok(Change::Unchanged { why }) => format!("unchanged ({why})"),
            Err(err) => {
                failed += 1;
                format!("FAILED: {err}")
            }
        };
        let note = outcome
            .note
            .as_ref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default();
        println!(
            "{:<20} {what}  [{}]{note}",
            outcome.store.to_string(),
            outcome.location
        );
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} store(s) could not be changed; see the lines above for the command to run by hand"
        );
    }
    println!("{verb}. Restart browsers that were open so they reload their trust stores.");
    Ok(())
}

fn rotate(data_dir: &Path) -> anyhow::Result<()> {
    let settings = Store::open_dir(data_dir)?.settings()?;
    let rotation = portico_core::tls::rotate(
        &ca_dir(data_dir),
        &portico_host::owner(),
        &settings.local_suffixes,
        &portico_host::trust_env(),
    )?;
    let new = &rotation.ca;
    println!(
        "New CA: {} (SHA-256 {})",
        new.root_name(),
        new.root_fingerprint()
    );
    println!("The old CA was moved to {}.", rotation.retired.display());
    if rotation.untrusted.is_empty() {
        println!(
            "The old CA was not trusted anywhere; run `portico ca trust` to trust the new one."
        );
    } else {
        report("Removed the old CA", &rotation.untrusted)?;
        report("Trusted the new CA", &rotation.trusted)?;
    }
    println!("A running `portico serve` switches to the new CA within a second.");
    Ok(())
}
