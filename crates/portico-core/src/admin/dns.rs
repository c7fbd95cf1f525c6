//! `/api/v1/dns`: the DNS responder and the system resolver configuration that sends the
//! `dns_suffixes` to it, with the commands to apply it on this platform.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AdminState;
use super::error::Problem;
use super::openapi::{Forbidden, Unauthorized};
use crate::dns::{DnsStatus, ResolverPlan};

/// The responder and how to point this machine's resolver at it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DnsSetup {
    /// The responder's state (as in `/api/v1/status`).
    pub status: DnsStatus,
    /// The resolver configuration for this platform: files, commands to copy, or why it
    /// cannot be done here.
    pub plan: ResolverPlan,
}

/// The DNS responder's state and this platform's resolver setup commands.
///
/// `portico dns setup` applies the plan (as root), or prints `plan.setup_script` to run with
/// sudo; the engine itself never changes system files.
#[utoipa::path(
    get,
    path = "/api/v1/dns",
    operation_id = "get_dns",
    tag = "dns",
    responses(
        (status = 200, description = "The responder and the resolver setup", body = DnsSetup),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn get(State(state): State<AdminState>) -> Result<Json<DnsSetup>, Problem> {
    Ok(Json(state.control.dns().await?))
}
