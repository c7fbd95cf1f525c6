//! Portico's desktop app: starts the engine in-process on the user's data dir (the same
//! configuration `portico serve` uses), opens a window on the engine's web UI, and keeps a
//! tray icon. Closing the window keeps Portico serving (the first time, a notification says
//! so); Quit in the tray stops it. A second launch focuses the first. The window's size and
//! position are remembered.
//!
//! The window loads the UI from the engine's own admin listener through a one-time login
//! link, exactly as a browser does: one origin, the same session cookie and Host/Origin
//! checks, no second copy of the UI and no credentials handed across the IPC bridge.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod tray;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use portico_core::admin::Event;
use portico_core::{Engine, EngineHandle};
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent, Wry};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt as _;
use tauri_plugin_notification::NotificationExt as _;
use tauri_plugin_opener::OpenerExt as _;

use crate::tray::{Action, RouteLink, route_links};

/// The running engine, taken out when the app quits.
struct Running(Mutex<Option<Arc<EngineHandle>>>);

const MAIN: &str = "main";
const TRAY: &str = "portico";
/// In the data dir once the user has been told that closing the window keeps Portico running.
const TRAY_HINT_SHOWN: &str = "desktop-tray-hint-shown";

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
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
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
                tell_once_about_the_tray(window.app_handle());
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
    // The tests and `make run` read this line, like `portico serve`'s.
    println!("UI: {login}");
    let url = login.parse().context("the login link is not a URL")?;
    WebviewWindowBuilder::new(app, MAIN, WebviewUrl::External(url))
        .title("Portico")
        .inner_size(1280.0, 860.0)
        .min_inner_size(720.0, 480.0)
        .build()
        .context("cannot open Portico's window")?;
    let engine = Arc::new(engine);
    let mut events = engine.events();
    app.manage(Running(Mutex::new(Some(engine))));

    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip("Portico")
        .menu(&menu(app.handle(), &[], false)?)
        .on_menu_event(|app, event| {
            if let Some(action) = Action::from_id(event.id().as_ref()) {
                act(app, action);
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;

    // The routes in the menu follow the engine's changes.
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        refresh_tray(&handle).await;
        loop {
            match events.recv().await {
                Ok(Event::RoutesChanged | Event::SettingsChanged | Event::Lagged { .. })
                | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    refresh_tray(&handle).await;
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    Ok(())
}

fn engine(app: &AppHandle) -> Option<Arc<EngineHandle>> {
    app.try_state::<Running>()
        .and_then(|running| running.0.lock().ok().and_then(|e| e.clone()))
}

/// The tray menu: open, the routes, copy the CA path, start at login, quit.
fn menu(app: &AppHandle, links: &[RouteLink], autostart: bool) -> tauri::Result<Menu<Wry>> {
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(
        app,
        "open",
        "Open Portico",
        true,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    if links.is_empty() {
        menu.append(&MenuItem::with_id(
            app,
            "no-routes",
            "No routes yet",
            false,
            None::<&str>,
        )?)?;
    }
    for link in links {
        let id = format!("route:{}", link.url);
        menu.append(&MenuItem::with_id(
            app,
            id,
            &link.label,
            true,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "copy-ca",
        "Copy CA certificate path",
        true,
        None::<&str>,
    )?)?;
    menu.append(&CheckMenuItem::with_id(
        app,
        "autostart",
        "Start at login",
        true,
        autostart,
        None::<&str>,
    )?)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(
        app,
        "quit",
        "Quit Portico",
        true,
        None::<&str>,
    )?)?;
    Ok(menu)
}

/// Rebuild the tray menu from the engine's routes.
async fn refresh_tray(app: &AppHandle) {
    let Some(engine) = engine(app) else { return };
    let routes = match engine.routes().await {
        Ok(rows) => rows.routes,
        Err(err) => {
            tracing::warn!("tray: cannot read the routes: {err}");
            return;
        }
    };
    let http = engine.http_addrs().first().map(|a| a.port());
    let https = engine.https_addrs().first().map(|a| a.port());
    let links = route_links(&routes, http, https);
    let autostart = app.autolaunch().is_enabled().unwrap_or(false);
    match (menu(app, &links, autostart), app.tray_by_id(TRAY)) {
        (Ok(menu), Some(tray)) => {
            let _ = tray.set_menu(Some(menu));
        }
        (Err(err), _) => tracing::warn!("tray: cannot build the menu: {err}"),
        _ => {}
    }
}

/// Do what a tray item says.
fn act(app: &AppHandle, action: Action) {
    match action {
        Action::Open => show_main(app),
        Action::Route(url) => {
            if let Err(err) = app.opener().open_url(&url, None::<&str>) {
                tracing::warn!("cannot open {url}: {err}");
            }
        }
        Action::CopyCaPath => {
            if let Some(engine) = engine(app) {
                let path = engine
                    .tls()
                    .authority()
                    .ca()
                    .root_path()
                    .display()
                    .to_string();
                if let Err(err) = app.clipboard().write_text(path) {
                    tracing::warn!("cannot copy the CA path: {err}");
                }
            }
        }
        Action::Autostart => {
            let launcher = app.autolaunch();
            let result = if launcher.is_enabled().unwrap_or(false) {
                launcher.disable()
            } else {
                launcher.enable()
            };
            if let Err(err) = result {
                tracing::warn!("cannot change start at login: {err}");
            }
            let app = app.clone();
            tauri::async_runtime::spawn(async move { refresh_tray(&app).await });
        }
        Action::Quit => quit_app(app),
    }
}

/// The first time the window is closed, say that Portico keeps running in the tray.
fn tell_once_about_the_tray(app: &AppHandle) {
    let Some(engine) = engine(app) else { return };
    let flag = engine.data_dir().join(TRAY_HINT_SHOWN);
    if flag.exists() {
        return;
    }
    let _ = std::fs::write(&flag, b"");
    let shown = app
        .notification()
        .builder()
        .title("Portico is still running")
        .body("Your routes keep working. Open Portico again from its tray icon; quit it there too.")
        .show();
    if let Err(err) = shown {
        tracing::debug!("no notification: {err}");
    }
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
    if let Some(engine) = engine.and_then(|e| Arc::try_unwrap(e).ok()) {
        tauri::async_runtime::block_on(engine.shutdown());
    }
    app.exit(0);
}
