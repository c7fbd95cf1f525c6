//! `/api/v1/metrics`: requests, errors and latency per route over the last 15 minutes, in
//! 10-second buckets (the Overview's charts). Kept in memory by the proxy; see
//! [`crate::metrics`].

use axum::Json;
use axum::extract::State;

use super::AdminState;
use super::error::Problem;
use super::openapi::{Forbidden, Unauthorized};
use crate::metrics::MetricsReport;

/// Requests, errors and p50/p95 time to the response head per route, last 15 minutes.
#[utoipa::path(
    get,
    path = "/api/v1/metrics",
    operation_id = "get_metrics",
    tag = "traffic",
    responses(
        (status = 200, description = "One series per route with traffic in the window", body = MetricsReport),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn get(State(state): State<AdminState>) -> Result<Json<MetricsReport>, Problem> {
    let metrics = state
        .metrics
        .as_ref()
        .ok_or_else(|| Problem::unavailable("this engine keeps no metrics"))?;
    Ok(Json(metrics.report(crate::unix_millis())))
}
