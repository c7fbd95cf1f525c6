//! `portico up` / `portico down`: the routes a project declares in its `portico.json`,
//! tagged with the project's folder so `down` removes exactly those.

use std::path::{Path, PathBuf};

use anyhow::Context;
use portico_core::config::NewRoute;
use serde::Deserialize;

use crate::backend::Backend;

/// The file a project commits at its root.
pub(crate) const PROJECT_FILE: &str = "portico.json";

/// `portico.json`: `{"routes": [{"host": "shop.localhost", "upstreams": ["5173"]}, …]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    routes: Vec<NewRoute>,
}

/// The project file (given, or `portico.json` here) and the project's name: its folder.
fn locate(file: Option<PathBuf>) -> anyhow::Result<(PathBuf, String)> {
    let file = file.unwrap_or_else(|| PathBuf::from(PROJECT_FILE));
    let absolute = std::fs::canonicalize(&file).with_context(|| {
        format!(
            "no {} here; create one with your routes, e.g. {{\"routes\": [{{\"host\": \"shop.localhost\", \"upstreams\": [\"5173\"]}}]}}",
            file.display()
        )
    })?;
    let folder = absolute
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    Ok((absolute, folder.display().to_string()))
}

pub(crate) fn up(data_dir: &Path, file: Option<PathBuf>) -> anyhow::Result<()> {
    let (path, project) = locate(file)?;
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let parsed: ProjectFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid project file", path.display()))?;
    let count = parsed.routes.len();
    let backend = Backend::open(data_dir)?;
    let summary = backend.project_up(&project, parsed.routes)?;
    println!(
        "{project}: {count} route(s) up ({} added, {} updated, {} removed){}",
        summary.added,
        summary.updated,
        summary.removed,
        if backend.is_live() { ", live now" } else { "" }
    );
    Ok(())
}

pub(crate) fn down(data_dir: &Path, file: Option<PathBuf>) -> anyhow::Result<()> {
    let project = match locate(file) {
        Ok((_, project)) => project,
        // `down` also works after the file is gone: the project is this folder.
        Err(_) => std::env::current_dir()?.display().to_string(),
    };
    let removed = Backend::open(data_dir)?.project_down(&project)?;
    println!("{project}: removed {removed} route(s)");
    Ok(())
}
