//! Portico's desktop app: starts the engine in-process on the user's data dir (the same
//! configuration `portico serve` uses), opens a window on the engine's web UI, and keeps a
//! tray icon. Closing the window keeps Portico serving; Quit in the tray stops it. A second
//! launch focuses the first.
//!
//! The window loads the UI from the engine's own admin listener through a one-time login
//! link, exactly as a browser does: one origin, the same session cookie and Host/Origin
//! checks, no second copy of the UI and no credentials handed across the IPC bridge.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use portico_core::{Engine, EngineHandle};
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent};

/// The running engine, taken out when the app quits.
struct Running(Mutex<Option<EngineHandle>>);

const MAIN: &str = "main";

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PORTICO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let built = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main(app);
        }))
        .setup(|app| {
            setup(app).map_err(|err| {
                eprintln!("error: {err:#}");
                err.into()
            })
        })
        .on_window_event(|window, event| {
            // Closing the window hides it: the proxy keeps serving from the tray.
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == MAIN
            {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!());
    match built {
        Ok(app) => app.run(|_, _| {}),
        Err(err) => {
            eprintln!("error: cannot start Portico's window: {err}");
            std::process::exit(1);
        }
    }
}

fn setup(app: &mut tauri::App) -> anyhow::Result<()> {
    let data_dir = portico_host::data_dir(std::env::var_os("PORTICO_DATA_DIR").map(PathBuf::from))?;
    let config = portico_host::engine_config(&data_dir)?;
    let engine =
        tauri::async_runtime::block_on(Engine::start(config)).context("cannot start Portico")?;
    let login = engine
        .login_url()
        .context("the engine has no admin listener to show the UI from")?;
    // The test harness and `make run` read this line, like `portico serve`'s.
    println!("UI: {login}");
    let url = login.parse().context("the login link is not a URL")?;
    WebviewWindowBuilder::new(app, MAIN, WebviewUrl::External(url))
        .title("Portico")
        .inner_size(1280.0, 860.0)
        .min_inner_size(720.0, 480.0)
        .build()
        .context("cannot open Portico's window")?;
    app.manage(Running(Mutex::new(Some(engine))));
    tray(app)?;
    Ok(())
}

fn tray(app: &mut tauri::App) -> anyhow::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open Portico", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Portico", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let mut tray = TrayIconBuilder::with_id("portico")
        .tooltip("Portico")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => show_main(app),
            "quit" => quit_app(app),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Show, unminimize and focus the main window.
fn show_main(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Stop the engine (requests in flight finish), then the app.
fn quit_app(app: &AppHandle) {
    let engine = app
        .try_state::<Running>()
        .and_then(|running| running.0.lock().ok().and_then(|mut e| e.take()));
    if let Some(engine) = engine {
        tauri::async_runtime::block_on(engine.shutdown());
    }
    app.exit(0);
}
