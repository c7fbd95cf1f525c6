//! The admin API: an axum router under `/api/v1` on a loopback listener, used by the CLI, the
//! web UI and scripts. It only adapts: parse the request, call the engine through [`Control`],
//! map the result to JSON or to an `application/problem+json` error.
//!
//! Every request must name the admin listener itself (or `portico.localhost`) in `Host`, and
//! any `Origin` must be that same place, so a web page the user visits can neither use the
//! API (CSRF) nor read it through DNS rebinding. Every `/api/v1` call but the OpenAPI
//! document (`openapi.rs`) also needs credentials: `Authorization: Bearer <token>` (the token
//! is written to `<data-dir>/admin-token`, mode 0600, at each start), or the
//! `HttpOnly; SameSite=Strict` session cookie a browser gets from a one-time login link.

mod auth;
mod ca;
mod cache;
mod dns;
mod doctor;
mod error;
mod events;
mod health;
mod hosts;
mod metrics;
mod openapi;
mod requests;
mod routes;
mod services;
mod settings;
mod share;
mod status;
mod transfer;
mod ui;

pub use auth::{LOGIN_CODE_LIFETIME, TOKEN_FILE, Token};
pub use ca::{CaReport, RotationReport, StoreChange};
pub use cache::{PurgeScope, Purged};
pub use dns::DnsSetup;
pub use error::Problem;
pub use events::Event;
pub use openapi::openapi_json;
pub use requests::{
    Cleared, Imported, ReplayEdits, Replayed, RequestDetail, RequestPage, TrafficApi,
};
pub use services::Services;
pub use share::ShareRequest;
pub use status::{
    CaptureStatus, FallbackListener, FallbackReason, ListenerStatus, PortFallback, RouteCounts,
    Status, network_addresses,
};
pub use transfer::ProjectRoutes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use futures_util::future::BoxFuture;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::config::{Export, NewRoute, Route, RouteId, RoutePatch, Settings, SettingsPatch};
use crate::hosts::{HostsChange, HostsStatus};
use crate::share::ShareInfo;
use crate::store::{ImportSummary, RouteRows};

/// The largest request body any admin endpoint accepts (an import of thousands of routes
/// fits easily).
pub const BODY_LIMIT: usize = 1 << 20;

/// A HAR file to import may be larger: 64 MiB.
pub const HAR_BODY_LIMIT: usize = 64 << 20;

/// What the admin API needs from the engine. The engine implements it; the admin module
/// never imports the engine.
pub trait Control: Send + Sync + 'static {
    /// Every stored route.
    fn routes(&self) -> BoxFuture<'_, Result<RouteRows, crate::Error>>;
    /// Validate, store and serve a new route.
    fn add_route(&self, route: NewRoute) -> BoxFuture<'_, Result<Route, crate::Error>>;
    /// One route.
    fn route(&self, id: RouteId) -> BoxFuture<'_, Result<Route, crate::Error>>;
    /// Change a route.
    fn update_route(
        &self,
        id: RouteId,
        patch: RoutePatch,
    ) -> BoxFuture<'_, Result<Route, crate::Error>>;
    /// Remove a route.
    fn remove_route(&self, id: RouteId) -> BoxFuture<'_, Result<(), crate::Error>>;
    /// Engine status.
    fn status(&self) -> BoxFuture<'_, Result<Status, crate::Error>>;
    /// The CA's root certificate, PEM.
    fn ca_pem(&self) -> String;
    /// The stored settings.
    fn settings(&self) -> BoxFuture<'_, Result<Settings, crate::Error>>;
    /// Validate, store and apply a change to the settings.
    fn update_settings(
        &self,
        patch: SettingsPatch,
    ) -> BoxFuture<'_, Result<Settings, crate::Error>>;
    /// The CA and, per trust store, whether it is trusted.
    fn ca_status(&self) -> BoxFuture<'_, Result<CaReport, crate::Error>>;
    /// Install the CA in every trust store (`trust`), or remove it (`!trust`).
    fn ca_trust(&self, trust: bool) -> BoxFuture<'_, Result<Vec<StoreChange>, crate::Error>>;
    /// Replace the CA and move trust to the new one.
    fn ca_rotate(&self) -> BoxFuture<'_, Result<RotationReport, crate::Error>>;
    /// Live engine events.
    fn events(&self) -> broadcast::Receiver<Event>;
    /// Routes (without project routes) and settings as a portable document.
    fn export(&self) -> BoxFuture<'_, Result<Export, crate::Error>>;
    /// Apply a document from [`Control::export`]: all of it or nothing.
    fn import(&self, export: Export) -> BoxFuture<'_, Result<ImportSummary, crate::Error>>;
    /// Make a project's routes exactly these (`portico up`).
    fn sync_project(
        &self,
        project: ProjectRoutes,
    ) -> BoxFuture<'_, Result<ImportSummary, crate::Error>>;
    /// Remove a project's routes (`portico down`).
    fn remove_project(&self, project: String) -> BoxFuture<'_, Result<usize, crate::Error>>;
    /// Every shared route's sharing.
    fn shares(&self) -> BoxFuture<'_, Result<Vec<ShareInfo>, crate::Error>>;
    /// One route's sharing.
    fn share_info(&self, id: RouteId) -> BoxFuture<'_, Result<ShareInfo, crate::Error>>;
    /// Share a route on the network, for `duration` or until switched off.
    fn share(
        &self,
        id: RouteId,
        duration: Option<std::time::Duration>,
    ) -> BoxFuture<'_, Result<ShareInfo, crate::Error>>;
    /// Stop sharing a route.
    fn unshare(&self, id: RouteId) -> BoxFuture<'_, Result<ShareInfo, crate::Error>>;
    /// The addresses the LAN listeners (shared routes, the CA page) are bound to now.
    fn share_listeners(&self) -> BoxFuture<'_, Vec<SocketAddr>>;
    /// The DNS responder and this platform's resolver setup.
    fn dns(&self) -> BoxFuture<'_, Result<DnsSetup, crate::Error>>;
    /// The hosts file against the routes.
    fn hosts_status(&self) -> BoxFuture<'_, Result<HostsStatus, crate::Error>>;
    /// Write the hosts file's block now.
    fn hosts_sync(&self) -> BoxFuture<'_, Result<HostsChange, crate::Error>>;
    /// Switch hosts-file sync off and remove the block.
    fn hosts_remove(&self) -> BoxFuture<'_, Result<HostsChange, crate::Error>>;
}

/// Shared state of the admin handlers.
#[derive(Clone)]
pub struct AdminState {
    control: Arc<dyn Control>,
    guard: Arc<auth::Guard>,
    traffic: Option<Arc<requests::TrafficApi>>,
    cache: Option<crate::cache::Cache>,
    /// Portico's own listeners, left out of the services found.
    own_listeners: Vec<SocketAddr>,
    health: Option<crate::proxy::HealthMonitor>,
    /// Serve the UI from this folder instead of the embedded build.
    ui_dir: Option<Arc<std::path::Path>>,
    metrics: Option<crate::metrics::Metrics>,
    /// Cancelled when the engine stops: the live streams end then, so the graceful shutdown
    /// does not wait on them.
    stop: CancellationToken,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState").finish_non_exhaustive()
    }
}

impl AdminState {
    /// State for a router served on `addrs`, also reachable as `portico.localhost` through
    /// the proxy on `proxy_ports`. With `allow_remote`, requests may name any host (the
    /// listener is not loopback); credentials are still required.
    pub fn new(
        control: Arc<dyn Control>,
        token: Token,
        addrs: &[SocketAddr],
        proxy_ports: &[u16],
        allow_remote: bool,
    ) -> Self {
        AdminState {
            control,
            guard: Arc::new(auth::Guard::new(token, addrs, proxy_ports, allow_remote)),
            traffic: None,
            cache: None,
            own_listeners: addrs.to_vec(),
            health: None,
            ui_dir: None,
            metrics: None,
            stop: CancellationToken::new(),
        }
    }

    /// End the live streams (events, traffic) when `stop` is cancelled.
    pub fn with_stop(mut self, stop: CancellationToken) -> Self {
        self.stop = stop;
        self
    }

    /// Serve the proxy's per-route metrics too.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Serve the web UI from `dir` (a Vite build) instead of the one built in.
    pub fn with_ui_dir(mut self, dir: Option<&std::path::Path>) -> Self {
        self.ui_dir = dir.map(Arc::from);
        self
    }

    /// Serve the captured traffic too.
    pub fn with_traffic(mut self, traffic: requests::TrafficApi) -> Self {
        self.traffic = Some(Arc::new(traffic));
        self
    }

    /// Leave these listeners (the proxy's) out of the services found, besides the admin's.
    pub fn with_own_listeners(mut self, addrs: &[SocketAddr]) -> Self {
        self.own_listeners.extend_from_slice(addrs);
        self
    }

    /// Serve the upstreams' health too.
    pub fn with_health(mut self, health: crate::proxy::HealthMonitor) -> Self {
        self.health = Some(health);
        self
    }

    /// Serve the response cache's statistics and purging too.
    pub fn with_cache(mut self, cache: crate::cache::Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// A one-time link that logs a browser in (valid for [`LOGIN_CODE_LIFETIME`], once).
    pub fn login_url(&self, base: &str) -> String {
        format!("{base}/login?code={}", self.guard.new_login_code())
    }
}

/// The admin router: the UI (`/` and `/assets/…`), `/login` and `/api/v1/openapi.json` behind the Host/Origin
/// check, the rest of `/api/v1/...` behind the credentials check too.
pub fn router(state: AdminState) -> Router {
    use axum::routing::{get, post};
    let api = Router::new()
        .route("/status", get(status::get))
        .route("/events", get(events::stream))
        .route("/settings", get(settings::get).patch(settings::update))
        .route("/dns", get(dns::get))
        .route("/ca", get(ca::status))
        .route("/ca.pem", get(ca::pem))
        .route("/ca/trust", post(ca::trust))
        .route("/ca/untrust", post(ca::untrust))
        .route("/ca/rotate", post(ca::rotate))
        .route("/routes", get(routes::list).post(routes::create))
        .route(
            "/routes/{id}",
            get(routes::get)
                .patch(routes::update)
                .delete(routes::remove),
        )
        .route("/routes/{id}/enable", post(routes::enable))
        .route("/routes/{id}/disable", post(routes::disable))
        .route(
            "/routes/{id}/share",
            get(share::get).post(share::start).delete(share::stop),
        )
        .route("/shares", get(share::list))
        .route("/hosts", get(hosts::get).delete(hosts::remove))
        .route("/hosts/sync", post(hosts::sync))
        .route("/requests", get(requests::list).delete(requests::clear))
        .route("/requests/stream", get(requests::stream))
        .route(
            "/requests/har",
            get(requests::export_har)
                .post(requests::import_har)
                .layer(DefaultBodyLimit::max(HAR_BODY_LIMIT)),
        )
        .route("/requests/{id}", get(requests::get))
        .route("/requests/{id}/replay", post(requests::replay))
        .route("/requests/{id}/curl", get(requests::curl))
        .route("/cache", get(cache::stats).delete(cache::purge))
        .route("/services", get(services::list))
        .route("/health", get(health::list))
        .route("/metrics", get(metrics::get))
        .route("/doctor", get(doctor::run))
        .route("/export", get(transfer::export))
        .route("/import", post(transfer::import))
        .route("/projects/up", post(transfer::project_up))
        .route("/projects/down", post(transfer::project_down))
        .route("/login-codes", post(auth::create_login_code))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_credentials,
        ));
    Router::new()
        .route("/", get(ui::index))
        .route("/assets/{*path}", get(ui::asset))
        .route("/login", get(auth::login))
        // Outside the credentials layer: the document holds no secret (see `openapi`).
        .route("/api/v1/openapi.json", get(openapi::document))
        .nest("/api/v1", api)
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::check_host_and_origin,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Serve `router` on `listener` until `stop` is cancelled; requests in flight finish.
pub async fn serve(listener: TcpListener, router: Router, stop: CancellationToken) {
    let local = listener.local_addr().ok();
    if let Err(err) = axum::serve(listener, router)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::warn!(?local, "admin listener stopped: {err}");
    }
}

/// Whether `addr` may serve the admin API without `--admin-allow-remote`.
pub fn is_local(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}
