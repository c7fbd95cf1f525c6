//! The tray: open the window, each enabled route's address (opens in the browser), pause or
//! resume proxying, copy the CA's path, start at login, quit. The menu is rebuilt when the routes change. What each
//! item does is a plain function of the shell ([`route_links`], [`Action`]) so tests can
//! call it without clicking a tray under a virtual display.

use portico_core::EngineHandle;
use portico_core::config::{HostPattern, Route, SettingsPatch};

/// At most this many routes in the menu (the window lists them all).
pub(crate) const MAX_ROUTES: usize = 20;

/// A menu entry for a route: its label and the URL it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteLink {
    pub(crate) label: String,
    pub(crate) url: String,
}

/// What a menu item id means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Open,
    Route(String),
    TogglePause,
    CopyCaPath,
    Autostart,
    Quit,
}

impl Action {
    /// The action for a menu item id (`route:<url>` for routes).
    pub(crate) fn from_id(id: &str) -> Option<Action> {
        match id {
            "open" => Some(Action::Open),
            "pause" => Some(Action::TogglePause),
            "copy-ca" => Some(Action::CopyCaPath),
            "autostart" => Some(Action::Autostart),
            "quit" => Some(Action::Quit),
            _ => id
                .strip_prefix("route:")
                .map(|url| Action::Route(url.to_owned())),
        }
    }
}

/// The enabled routes with an exact host, as links on the proxy: `https://` when HTTPS is on
/// and the route redirects to it, else `http://`; the port only when it is not the scheme's.
pub(crate) fn route_links(
    routes: &[Route],
    http_port: Option<u16>,
    https_port: Option<u16>,
) -> Vec<RouteLink> {
    routes
        .iter()
        .filter(|r| r.enabled)
        .filter_map(|r| {
            let HostPattern::Exact(host) = &r.host else {
                return None;
            };
            let (scheme, port, default) = match (https_port, http_port) {
                (Some(port), _) if r.https_redirect => ("https", port, 443),
                (_, Some(port)) => ("http", port, 80),
                (Some(port), None) => ("https", port, 443),
                (None, None) => return None,
            };
            let authority = if port == default {
                host.clone()
            } else {
                format!("{host}:{port}")
            };
            let path = r.path.as_str();
            Some(RouteLink {
                label: format!("{host}{}", if path == "/" { "" } else { path }),
                url: format!("{scheme}://{authority}{path}"),
            })
        })
        .take(MAX_ROUTES)
        .collect()
}

/// The tray's Pause proxying: pause when proxying, resume when paused (the `proxy_paused`
/// setting); whether it is paused now.
pub(crate) async fn toggle_pause(engine: &EngineHandle) -> Result<bool, portico_core::Error> {
    let paused = engine.settings().await?.proxy_paused;
    let patch = SettingsPatch {
        proxy_paused: Some(!paused),
        ..SettingsPatch::default()
    };
    Ok(engine.update_settings(patch).await?.proxy_paused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_core::config::NewRoute;

    fn route(host: &str, path: &str, https_redirect: bool, enabled: bool) -> Route {
        let new = NewRoute {
            host: host.into(),
            path: Some(path.into()),
            upstreams: vec!["5173".into()],
            https_redirect: Some(https_redirect),
            enabled: Some(enabled),
            ..Default::default()
        };
        new.validate().expect("valid").with_id(1)
    }

    #[test]
    fn links_use_https_when_the_route_redirects_and_show_only_odd_ports() {
        let routes = [
            route("app.localhost", "/", true, true),
            route("api.localhost", "/v1", false, true),
            route("off.localhost", "/", true, false),
            route("*.preview.localhost", "/", true, true),
        ];
        assert_eq!(
            route_links(&routes, Some(80), Some(443)),
            [
                RouteLink {
                    label: "app.localhost".into(),
                    url: "https://app.localhost/".into()
                },
                RouteLink {
                    label: "api.localhost/v1".into(),
                    url: "http://api.localhost/v1".into()
                },
            ]
        );
        assert_eq!(
            route_links(&routes, Some(8080), None)[0].url,
            "http://app.localhost:8080/"
        );
        assert_eq!(
            route_links(&routes, Some(8080), Some(8443))[0].url,
            "https://app.localhost:8443/"
        );
        assert!(route_links(&routes, None, None).is_empty());
    }

    #[test]
    fn menu_ids_map_to_actions() {
        assert_eq!(Action::from_id("open"), Some(Action::Open));
        assert_eq!(
            Action::from_id("route:https://app.localhost/"),
            Some(Action::Route("https://app.localhost/".into()))
        );
        assert_eq!(Action::from_id("pause"), Some(Action::TogglePause));
        assert_eq!(Action::from_id("copy-ca"), Some(Action::CopyCaPath));
        assert_eq!(Action::from_id("autostart"), Some(Action::Autostart));
        assert_eq!(Action::from_id("quit"), Some(Action::Quit));
        assert_eq!(Action::from_id("nope"), None);
    }

    /// The status line of `GET /` for `host` from the proxy at `addr`.
    async fn status_of(addr: std::net::SocketAddr, host: &str) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut reply = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut reply),
        )
        .await
        .expect("the proxy answers within 10 s")
        .expect("read");
        String::from_utf8_lossy(&reply)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// The tray's Pause proxying against a real engine: the proxy answers 503 while paused,
    /// and the same action resumes it.
    #[tokio::test]
    async fn the_pause_action_pauses_and_resumes_a_running_engine() {
        let dir = tempfile::tempdir().expect("dir");
        let mut config = portico_core::EngineConfig::new(dir.path());
        let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
        config.http = portico_core::proxy::ListenSpec::Addr(loopback);
        config.https = None;
        config.admin = None;
        let engine = portico_core::Engine::start(config).await.expect("engine");
        let new = NewRoute {
            host: "tray.localhost".into(),
            upstreams: vec!["127.0.0.1:9".into()],
            ..Default::default()
        };
        engine.add_route(new).await.expect("route");
        let addr = engine.http_addrs()[0];
        assert!(
            status_of(addr, "tray.localhost").await.contains(" 502 "),
            "proxied (nothing at :9)"
        );

        assert!(toggle_pause(&engine).await.expect("pause"), "paused");
        assert!(status_of(addr, "tray.localhost").await.contains(" 503 "));
        assert!(!toggle_pause(&engine).await.expect("resume"), "resumed");
        assert!(status_of(addr, "tray.localhost").await.contains(" 502 "));
        engine.shutdown().await;
    }
}
