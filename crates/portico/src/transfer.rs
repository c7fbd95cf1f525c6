//! `portico export` / `portico import`: routes and settings as a versioned JSON document.

use std::path::{Path, PathBuf};

use anyhow::Context;
use portico_core::config::Export;

use crate::backend::Backend;

pub(crate) fn export(data_dir: &Path, out: Option<PathBuf>) -> anyhow::Result<()> {
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
