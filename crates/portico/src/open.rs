//! `portico open`: a fresh one-time login link to the running engine's UI, opened in the
//! browser.

use std::path::Path;

use anyhow::{Context, anyhow};

use crate::client::Admin;

pub(crate) fn run(data_dir: &Path) -> anyhow::Result<()> {
    let admin = Admin::connect(data_dir).ok_or_else(|| {
        anyhow!(
            "no Portico is running for {}; start one with `portico serve`",
            data_dir.display()
        )
    })?;
    let link: serde_json::Value = admin.send("POST", "/login-codes", &serde_json::json!({}))?;
    let url = link["url"].as_str().context("the engine sent no link")?;
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if opened {
        println!("Opened Portico in your browser.");
    } else {
        println!("Open this one-time link in your browser (valid 15 minutes, once):\n  {url}");
    }
    Ok(())
}
