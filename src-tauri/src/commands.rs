//! What the web UI may ask of the shell (through `ui/src/platform/tauri.ts`, the only UI file
//! that knows the shell exists): what the shell offers, a folder picker for static routes,
//! revealing the data dir, allowing ports 80/443, and writing the hosts file with rights. The window's capability (granted at
//! runtime to the admin origin only) lists exactly these. Links the UI opens in a new tab,
//! or to any origin but the admin's, go to the default browser (see `main.rs`).
//!
//! Errors reach the UI as one sentence that says what failed.

use std::path::PathBuf;

use serde::Serialize;
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt as _;
use tauri_plugin_opener::OpenerExt as _;

use crate::privileged;

/// Every command the UI may call, for the capability and the app manifest (`build.rs` lists
/// the same names).
pub(crate) const ALL: &[&str] = &[
    "desktop_info",
    "pick_folder",
    "reveal_data_dir",
    "allow_low_ports",
    "hosts_elevated",
];

/// What the shell tells the UI about itself.
#[derive(Debug, Serialize)]
pub(crate) struct DesktopInfo {
    /// The app's version.
    version: &'static str,
    /// Where Portico keeps its data.
    data_dir: PathBuf,
    /// Ports 80 and 443: whether this machine already lets Portico have them, what asking
    /// means (said before the prompt), and the command that does it by hand.
    low_ports: LowPorts,
}

#[derive(Debug, Serialize)]
struct LowPorts {
    allowed: bool,
    explanation: &'static str,
    command: &'static str,
}

/// The shell's offer: the UI calls this once to learn that it runs in the desktop app.
#[tauri::command]
pub(crate) fn desktop_info(app: AppHandle) -> Result<DesktopInfo, String> {
    let engine = crate::engine(&app).ok_or("Portico's engine is not running")?;
    let sysctl = std::fs::read_to_string(privileged::SYSCTL_FILE).ok();
    Ok(DesktopInfo {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: engine.data_dir().to_owned(),
        low_ports: LowPorts {
            allowed: privileged::low_ports_allowed(sysctl.as_deref()),
            explanation: privileged::EXPLANATION,
            command: privileged::COMMAND,
        },
    })
}

/// A native folder picker, starting at `start` when it is a folder; `None` when cancelled.
#[tauri::command]
pub(crate) async fn pick_folder(
    app: AppHandle,
    start: Option<String>,
) -> Result<Option<String>, String> {
    let mut dialog = app.dialog().file().set_title("Choose the folder to serve");
    if let Some(start) = start.map(PathBuf::from).filter(|p| p.is_dir()) {
        dialog = dialog.set_directory(start);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.pick_folder(move |picked| {
        let _ = tx.send(picked);
    });
    let picked = rx
        .await
        .map_err(|_| "the folder picker closed without an answer".to_owned())?;
    picked
        .map(|path| {
            path.into_path()
                .map(|p| p.display().to_string())
                .map_err(|err| format!("the chosen folder is not a local path: {err}"))
        })
        .transpose()
}

/// Show Portico's data folder in the file manager.
#[tauri::command]
pub(crate) fn reveal_data_dir(app: AppHandle) -> Result<(), String> {
    let engine = crate::engine(&app).ok_or("Portico's engine is not running")?;
    let dir = engine.data_dir().to_owned();
    app.opener()
        .open_path(dir.display().to_string(), None::<&str>)
        .map_err(|err| format!("cannot open {}: {err}", dir.display()))
}

/// Ask (with the platform's password prompt) to let Portico use ports 80 and 443; when that
/// worked, the engine restarts on them.
#[tauri::command]
pub(crate) async fn allow_low_ports(app: AppHandle) -> Result<privileged::Outcome, String> {
    let outcome = tauri::async_runtime::spawn_blocking(|| {
        privileged::allow_low_ports(std::path::Path::new("pkexec"))
    })
    .await
    .map_err(|err| format!("the prompt failed: {err}"))?;
    if outcome.result == privileged::Result::Done {
        // Let the UI show the answer, then move the listeners.
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(800)).await;
            if let Err(err) = crate::restart_engine(&app, "settings").await {
                tracing::error!("cannot restart Portico's engine: {err:#}");
            }
        });
    }
    Ok(outcome)
}

/// Sync Portico's block in the hosts file (`action` "sync"), or remove it ("remove"), with
/// administrator rights through the platform's password prompt.
#[tauri::command]
pub(crate) async fn hosts_elevated(
    app: AppHandle,
    action: String,
) -> Result<privileged::Outcome, String> {
    if action != "sync" && action != "remove" {
        return Err(format!("unknown hosts action {action:?}"));
    }
    let data_dir = {
        use tauri::Manager as _;
        app.state::<crate::DataDir>().0.clone()
    };
    let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
    let hosts =
        portico_host::hosts_file(std::env::var_os(portico_host::HOSTS_FILE_VAR).map(PathBuf::from));
    let shown = (!hosts.is_default).then(|| hosts.file.clone());
    let command = portico_core::hosts::command(&action, &data_dir, shown.as_deref());
    let app_exe =
        std::env::current_exe().map_err(|err| format!("cannot find the app's program: {err}"))?;
    let helper = privileged::hosts_helper(&app_exe);
    let args = privileged::hosts_args(&action, &data_dir, shown.as_deref());
    tauri::async_runtime::spawn_blocking(move || {
        privileged::hosts_elevated(std::path::Path::new("pkexec"), &helper, &args, &command)
    })
    .await
    .map_err(|err| format!("the prompt failed: {err}"))
}
