//! `/api/v1/status`: version, listeners and their real addresses, uptime, route counts.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AdminState;
use super::error::Problem;

/// What the engine reports about itself.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Portico's version.
    pub version: &'static str,
    /// Seconds since the engine started.
    pub uptime_secs: u64,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Bound listeners.
    pub listeners: ListenerStatus,
    /// Route counts.
    pub routes: RouteCounts,
}

/// Bound listener addresses.
#[derive(Debug, Clone, Serialize)]
pub struct ListenerStatus {
    /// Plain HTTP.
    pub http: Vec<SocketAddr>,
    /// HTTPS.
    pub https: Vec<SocketAddr>,
    /// The admin API.
    pub admin: Vec<SocketAddr>,
}

/// How many routes there are.
#[derive(Debug, Clone, Serialize)]
pub struct RouteCounts {
    /// Stored and valid.
    pub total: usize,
    /// Of those, enabled.
    pub enabled: usize,
    /// Stored rows that do not validate (kept, not served).
    pub invalid: usize,
}

pub(super) async fn get(State(state): State<AdminState>) -> Result<Json<Status>, Problem> {
    Ok(Json(state.control.status().await?))
}
