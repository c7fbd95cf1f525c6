//! `/api/v1/status`: version, listeners and their real addresses, uptime, route counts.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AdminState;
use super::error::Problem;
use super::openapi::{Forbidden, Unauthorized};

/// What the engine reports about itself.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// Portico's version.
    pub version: &'static str,
    /// Seconds since the engine started.
    pub uptime_secs: u64,
    /// The data directory.
    #[schema(value_type = String)]
    pub data_dir: PathBuf,
    /// Bound listeners.
    pub listeners: ListenerStatus,
    /// Route counts.
    pub routes: RouteCounts,
    /// The traffic inspector.
    pub capture: CaptureStatus,
}

/// What the traffic inspector is doing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaptureStatus {
    /// Capture is paused (settings).
    pub paused: bool,
    /// Exchanges dropped since start because the recorder could not keep up; proxying is
    /// never slowed for capture.
    pub dropped: u64,
}

/// Bound listener addresses.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListenerStatus {
    /// Plain HTTP.
    #[schema(value_type = Vec<String>, example = json!(["127.0.0.1:80", "[::1]:80"]))]
    pub http: Vec<SocketAddr>,
    /// HTTPS (empty when it is off).
    #[schema(value_type = Vec<String>, example = json!(["127.0.0.1:443"]))]
    pub https: Vec<SocketAddr>,
    /// The admin API.
    #[schema(value_type = Vec<String>, example = json!(["127.0.0.1:7080"]))]
    pub admin: Vec<SocketAddr>,
}

/// How many routes there are.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouteCounts {
    /// Stored and valid.
    pub total: usize,
    /// Of those, enabled.
    pub enabled: usize,
    /// Stored rows that do not validate (kept, not served).
    pub invalid: usize,
}

/// Version, listeners and their real addresses, uptime, route counts.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    operation_id = "get_status",
    tag = "status",
    responses(
        (status = 200, description = "The engine's status", body = Status),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn get(State(state): State<AdminState>) -> Result<Json<Status>, Problem> {
    Ok(Json(state.control.status().await?))
}
