//! `/api/v1/health`: whether each route's upstream accepts connections, probed every two
//! seconds. Changes also arrive on `/api/v1/events` as `upstream_health`.

use axum::Json;
use axum::extract::State;

use super::AdminState;
use super::error::Problem;
use super::openapi::{Forbidden, Unauthorized};
use crate::proxy::RouteHealth;

/// The latest probe of every enabled route that forwards to an upstream.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "upstream_health",
    tag = "routes",
    responses(
        (status = 200, description = "One entry per enabled proxying route", body = [RouteHealth]),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn list(
    State(state): State<AdminState>,
) -> Result<Json<Vec<RouteHealth>>, Problem> {
    let health = state
        .health
        .as_ref()
        .ok_or_else(|| Problem::unavailable("this engine does not probe upstreams"))?;
    Ok(Json(health.all()))
}
