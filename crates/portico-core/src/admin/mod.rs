//! The admin API: an axum router under `/api/v1` on a loopback listener, used by the CLI, the
//! web UI and scripts. It only adapts: parse the request, call the engine through [`Control`],
//! map the result to JSON or to an `application/problem+json` error.
//!
//! Every call needs `Authorization: Bearer <token>` (the token is written to
//! `<data-dir>/admin-token`, mode 0600, at each start), and requests whose `Host` or `Origin`
//! is not the admin listener itself are refused, so a web page the user visits can neither
//! use the API (CSRF) nor read it through DNS rebinding.

mod auth;
mod error;
mod routes;
mod status;

pub use auth::{TOKEN_FILE, Token};
pub use error::Problem;
pub use status::{ListenerStatus, RouteCounts, Status};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use futures_util::future::BoxFuture;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{NewRoute, Route, RouteId, RoutePatch};
use crate::store::RouteRows;

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
}

/// Shared state of the admin handlers.
#[derive(Clone)]
pub struct AdminState {
    control: Arc<dyn Control>,
    guard: Arc<auth::Guard>,
}

impl AdminState {
    /// State for a router served on `addrs`. With `allow_remote`, requests may name any
    /// host (the listener is not loopback); the token is still required.
    pub fn new(
        control: Arc<dyn Control>,
        token: Token,
        addrs: &[SocketAddr],
        allow_remote: bool,
    ) -> Self {
        AdminState {
            control,
            guard: Arc::new(auth::Guard::new(token, addrs, allow_remote)),
        }
    }
}

/// The admin router: `/api/v1/...`, every route behind the guard.
pub fn router(state: AdminState) -> Router {
    use axum::routing::get;
    let api = Router::new()
        .route("/status", get(status::get))
        .route("/ca.pem", get(ca_pem))
        .route("/routes", get(routes::list).post(routes::create))
        .route(
            "/routes/{id}",
            get(routes::get)
                .patch(routes::update)
                .delete(routes::remove),
        );
    Router::new()
        .nest("/api/v1", api)
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::check,
        ))
        .with_state(state)
}

async fn ca_pem(
    axum::extract::State(state): axum::extract::State<AdminState>,
) -> impl axum::response::IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/x-pem-file")],
        state.control.ca_pem(),
    )
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
