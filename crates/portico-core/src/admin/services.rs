//! `/api/v1/services`: what listens on this machine's loopback, for click-to-configure.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::AdminState;
use super::error::Problem;
use super::openapi::{Forbidden, Unauthorized};
use crate::discover::{self, Service};

/// The services found.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Services {
    /// By port, excluding Portico's own listeners.
    pub services: Vec<Service>,
}

/// Every TCP service listening where loopback reaches it (not Portico's own), with its
/// process, working directory (Linux), framework guess, a suggested host, and the routes
/// already forwarding to it. Scanned on each call.
#[utoipa::path(
    get,
    path = "/api/v1/services",
    operation_id = "list_services",
    tag = "routes",
    responses(
        (status = 200, description = "The services", body = Services),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn list(State(state): State<AdminState>) -> Result<Json<Services>, Problem> {
    let routed = discover::routed_ports(&state.control.routes().await?.routes);
    let mut own = state.own_listeners.clone();
    // The LAN listeners of shared routes come and go; they are Portico's too.
    own.extend(state.control.share_listeners().await);
    let services = tokio::task::spawn_blocking(move || discover::scan(&own, &routed))
        .await
        .map_err(|e| Problem::unavailable(&format!("the scan stopped: {e}")))?
        .map_err(|e| Problem::unavailable(&e.to_string()))?;
    Ok(Json(Services { services }))
}
