//! Portico's desktop app: starts the engine in-process on the user's data dir (the same
//! configuration `portico serve` uses), opens a window on the engine's web UI, and keeps a
//! tray icon. Closing the window keeps Portico serving (the first time, a notification says
//! so); Quit in the tray stops it. A second launch focuses the first. The window's size and
//! position are remembered.
//!
//! The window loads the UI from the engine's own admin listener through a one-time login
//! link, exactly as a browser does: one origin, the same session cookie and Host/Origin
//! checks, no second copy of the UI and no credentials handed across the IPC bridge. The
//! shell's own commands ([`commands`]) are granted to that origin alone, at runtime.
//! Links to anything else open in the default browser.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod notify;
mod privileged;
mod tray;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use portico_core::admin::Event;
use portico_core::{Engine, EngineHandle};
use tauri::ipc::CapabilityBuilder;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::webview::NewWindowResponse;
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent, Wry};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt as _;
use tauri_plugin_notification::NotificationExt as _;
use tauri_plugin_opener::OpenerExt as _;

use crate::notify::{Note, UpstreamWatch};
use crate::tray::{Action, RouteLink, route_links};

/// The running engine, taken out when the app quits or the engine restarts.
struct Running(Mutex<Option<Arc<EngineHandle>>>);

/// The admin listener's origin (`http://127.0.0.1:7080`): the only one the window shows.
struct AdminOrigin(Mutex<String>);

/// Where the engine keeps its data.
struct DataDir(PathBuf);

const MAIN: &str = "main";
const TRAY: &str = "portico";
/// In the data dir once the user has been told that closing the window keeps Portico running.
const TRAY_HINT_SHOWN: &str = "desktop-tray-hint-shown";
/// The page the window opens on.
const FIRST_PAGE: &str = "routes";

fn main() {
    // `portico-desktop hosts sync|remove --data-dir DIR [--hosts-file FILE]`: the helper the
    // app runs with administrator rights (through pkexec) when no `portico` command is
    // installed beside it. No window, no engine.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("hosts") {
        std::process::exit(hosts_helper(&args[1..]));
    }
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
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(tauri::generate_handler![
            commands::desktop_info,
            commands::pick_folder,
            commands::reveal_data_dir,
            commands::allow_low_ports,
            commands::hosts_elevated,
        ])
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

/// `hosts ACTION --data-dir DIR [--hosts-file FILE]`; the exit code.
fn hosts_helper(args: &[String]) -> i32 {
    let action = args.first().cloned().unwrap_or_default();
    let (mut data_dir, mut hosts_file) = (None, None);
    let mut rest = args.iter().skip(1);
    while let Some(flag) = rest.next() {
        match (flag.as_str(), rest.next()) {
            ("--data-dir", Some(value)) => data_dir = Some(PathBuf::from(value)),
            ("--hosts-file", Some(value)) => hosts_file = Some(PathBuf::from(value)),
            _ => {
                eprintln!("error: usage: hosts sync|remove --data-dir DIR [--hosts-file FILE]");
                return 2;
            }
        }
    }
    let Some(data_dir) = data_dir else {
        eprintln!("error: hosts {action} needs --data-dir DIR");
        return 2;
    };
    let hosts = portico_host::hosts_file(hosts_file);
    match portico_host::hosts_from_store(&action, &data_dir, &hosts) {
        Ok(done) => {
            println!("{done}");
            0
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            1
        }
    }
}

fn setup(app: &mut tauri::App) -> anyhow::Result<()> {
    let data_dir = portico_host::data_dir(std::env::var_os("PORTICO_DATA_DIR").map(PathBuf::from))?;
    app.manage(DataDir(data_dir));
    app.manage(Running(Mutex::new(None)));
    app.manage(AdminOrigin(Mutex::new(String::new())));
    let login = tauri::async_runtime::block_on(start_engine(app.handle(), FIRST_PAGE))?;
    // The tests and `make run` read this line, like `portico serve`'s.
    println!("UI: {login}");
    let url = login.parse().context("the login link is not a URL")?;
    let handle = app.handle().clone();
    let opener = app.handle().clone();
    WebviewWindowBuilder::new(app, MAIN, WebviewUrl::External(url))
        .title("Portico")
        .inner_size(1280.0, 860.0)
        .min_inner_size(720.0, 480.0)
        // The window shows the admin origin only; links elsewhere (a route's address, the
        // docs) open in the default browser.
        .on_navigation(move |url| {
            let admin = handle
                .try_state::<AdminOrigin>()
                .and_then(|o| o.0.lock().ok().map(|o| o.clone()))
                .unwrap_or_default();
            if stays_in_window(url, &admin) {
                return true;
            }
            let _ = open_in_browser(&handle, url.as_str());
            false
        })
        .on_new_window(move |url, _| {
            let _ = open_in_browser(&opener, url.as_str());
            NewWindowResponse::Deny
        })
        .build()
        .context("cannot open Portico's window")?;

    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip("Portico")
        .menu(&menu(app.handle(), &[], false, false)?)
        .on_menu_event(|app, event| {
            if let Some(action) = Action::from_id(event.id().as_ref()) {
                act(app, action);
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move { refresh_tray(&handle).await });
    Ok(())
}

/// Whether the window may navigate to `url`: the admin origin (and blank pages) only.
fn stays_in_window(url: &url::Url, admin: &str) -> bool {
    url.scheme() == "about" || url.origin().ascii_serialization() == admin
}

/// Start the engine on the data dir, grant the UI's origin the shell's commands, and follow
/// the engine's events; the login link that shows the UI on `page`.
async fn start_engine(app: &AppHandle, page: &str) -> anyhow::Result<String> {
    let data_dir = app.state::<DataDir>().0.clone();
    let config = portico_host::engine_config(&data_dir)?;
    let engine = Engine::start(config)
        .await
        .context("cannot start Portico")?;
    let login = engine
        .login_url()
        .context("the engine has no admin listener to show the UI from")?;
    let admin = engine
        .admin_addrs()
        .first()
        .map(|addr| format!("http://{addr}"))
        .context("the engine has no admin listener to show the UI from")?;
    let mut capability =
        CapabilityBuilder::new(format!("admin-ui-{}", admin.replace([':', '/', '.'], "-")))
            .remote(format!("{admin}/*"))
            .window(MAIN);
    for command in commands::ALL {
        capability = capability.permission(format!("allow-{}", command.replace('_', "-")));
    }
    if let Err(err) = app.add_capability(capability) {
        // Granted already: the engine restarted on the same address.
        tracing::debug!("capability for {admin}: {err}");
    }
    if let Ok(mut origin) = app.state::<AdminOrigin>().0.lock() {
        *origin = admin;
    }
    let events = engine.events();
    let ca_not_after = engine.tls().authority().ca().root_not_after();
    if let Ok(mut running) = app.state::<Running>().0.lock() {
        *running = Some(Arc::new(engine));
    }
    tauri::async_runtime::spawn(follow_engine(app.clone(), events, ca_not_after));
    Ok(format!("{login}&page={page}"))
}

/// Stop the engine and start it again (after ports 80/443 were allowed, so it binds them),
/// then show the UI from its new admin listener on `page`.
pub(crate) async fn restart_engine(app: &AppHandle, page: &str) -> anyhow::Result<()> {
    let old = app
        .state::<Running>()
        .0
        .lock()
        .ok()
        .and_then(|mut e| e.take());
    tracing::info!("restarting the engine");
    if let Some(mut old) = old {
        // Commands in flight hold the engine for a moment; wait for them (bounded).
        let mut tries = 0;
        loop {
            match Arc::try_unwrap(old) {
                Ok(engine) => {
                    engine.shutdown().await;
                    break;
                }
                Err(shared) if tries < 50 => {
                    old = shared;
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(shared) => {
                    // Keep serving with the engine we have.
                    if let Ok(mut running) = app.state::<Running>().0.lock() {
                        *running = Some(shared);
                    }
                    anyhow::bail!("the engine stayed busy for 5 s; quit Portico and open it again");
                }
            }
        }
    }
    tracing::info!("the engine stopped; starting it again");
    let login = start_engine(app, page).await?;
    tracing::info!("the engine is back: {login}");
    if let Some(window) = app.get_webview_window(MAIN) {
        window.navigate(login.parse().context("the login link is not a URL")?)?;
    }
    refresh_tray(app).await;
    Ok(())
}

/// Follow one engine's events until it stops: the tray follows the routes and settings, and
/// the user hears of an upstream going down or the CA nearing its end.
async fn follow_engine(
    app: AppHandle,
    mut events: tokio::sync::broadcast::Receiver<Event>,
    ca_not_after: std::time::SystemTime,
) {
    use tokio::sync::broadcast::error::RecvError;
    if let Some(note) = notify::ca_expiry(ca_not_after, std::time::SystemTime::now()) {
        show_note(&app, &note);
    }
    let mut watch = UpstreamWatch::default();
    loop {
        match events.recv().await {
            Ok(Event::RoutesChanged | Event::SettingsChanged | Event::Lagged { .. })
            | Err(RecvError::Lagged(_)) => refresh_tray(&app).await,
            Ok(Event::UpstreamHealth { route_id, up, .. }) => {
                let route = match engine(&app) {
                    Some(engine) => engine.routes().await.ok().and_then(|rows| {
                        rows.routes
                            .into_iter()
                            .find(|r| r.id == route_id && r.enabled)
                    }),
                    None => None,
                };
                let names = route
                    .as_ref()
                    .map(|r| (format!("{}{}", r.host, r.path), r.target().to_string()));
                let named = names.as_ref().map(|(n, u)| (n.as_str(), u.as_str()));
                if let Some(note) = watch.change(route_id, up, named) {
                    show_note(&app, &note);
                }
            }
            Ok(Event::CaChanged { .. }) => {
                if let Some(engine) = engine(&app) {
                    let not_after = engine.tls().authority().ca().root_not_after();
                    if let Some(note) = notify::ca_expiry(not_after, std::time::SystemTime::now()) {
                        show_note(&app, &note);
                    }
                }
            }
            // Sharing also changes the routes; `RoutesChanged` already rebuilt the tray.
            Ok(Event::ShareChanged { .. }) => {}
            Err(RecvError::Closed) => break,
        }
    }
}

fn show_note(app: &AppHandle, note: &Note) {
    let shown = app
        .notification()
        .builder()
        .title(&note.title)
        .body(&note.body)
        .show();
    if let Err(err) = shown {
        tracing::debug!("no notification ({}): {err}", note.title);
    }
}

/// Open an `http(s)` URL in the default browser.
fn open_in_browser(app: &AppHandle, url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|err| format!("{url} is not a URL: {err}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "Portico opens only http and https addresses, not {url}"
        ));
    }
    app.opener()
        .open_url(parsed.as_str(), None::<&str>)
        .map_err(|err| format!("cannot open {url} in the browser: {err}"))
}

pub(crate) fn engine(app: &AppHandle) -> Option<Arc<EngineHandle>> {
    app.try_state::<Running>()
        .and_then(|running| running.0.lock().ok().and_then(|e| e.clone()))
}

/// The tray menu: open, the routes, pause, copy the CA path, start at login, quit.
fn menu(
    app: &AppHandle,
    links: &[RouteLink],
    paused: bool,
    autostart: bool,
) -> tauri::Result<Menu<Wry>> {
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
    menu.append(&CheckMenuItem::with_id(
        app,
        "pause",
        "Pause proxying",
        true,
        paused,
        None::<&str>,
    )?)?;
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
    let paused = engine
        .settings()
        .await
        .map(|s| s.proxy_paused)
        .unwrap_or(false);
    let autostart = app.autolaunch().is_enabled().unwrap_or(false);
    match (menu(app, &links, paused, autostart), app.tray_by_id(TRAY)) {
        (Ok(menu), Some(tray)) => {
            let _ = tray.set_menu(Some(menu));
            let _ = tray.set_tooltip(Some(if paused {
                "Portico (paused)"
            } else {
                "Portico"
            }));
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
            if let Err(err) = open_in_browser(app, &url) {
                tracing::warn!("{err}");
            }
        }
        Action::TogglePause => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(err) = toggle_pause(&app).await {
                    tracing::warn!("cannot pause or resume proxying: {err}");
                }
            });
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

/// Pause proxying when it runs, resume it when paused; the tray follows the settings event.
async fn toggle_pause(app: &AppHandle) -> Result<bool, portico_core::Error> {
    match engine(app) {
        Some(engine) => tray::toggle_pause(&engine).await,
        None => Ok(false),
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
