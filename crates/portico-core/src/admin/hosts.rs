//! `/api/v1/hosts`: Portico's block in the system hosts file — its state, syncing it now, and
//! removing it.

use axum::Json;
use axum::extract::State;

use super::AdminState;
use super::error::Problem;
use super::openapi::{Conflict, Forbidden, HostsUnavailable, Unauthorized};
use crate::hosts::{HostsChange, HostsStatus};

/// The hosts file against the routes: the names in Portico's block, the names missing from it
/// (they do not resolve on this machine yet), wildcard routes a hosts file cannot hold, and
/// the command that writes the block with administrator rights when the engine may not.
#[utoipa::path(
    get,
    path = "/api/v1/hosts",
    operation_id = "get_hosts",
    tag = "hosts",
    responses(
        (status = 200, description = "Hosts-file sync", body = HostsStatus),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = HostsUnavailable),
    )
)]
pub(super) async fn get(State(state): State<AdminState>) -> Result<Json<HostsStatus>, Problem> {
    Ok(Json(state.control.hosts_status().await?))
}

/// Write Portico's block now (the engine also does after every change). A 409 says why it
/// cannot: sync is off, the engine may not write the file (the detail and the status's
/// `command` say what to run), or the block was broken by hand.
#[utoipa::path(
    post,
    path = "/api/v1/hosts/sync",
    operation_id = "sync_hosts",
    tag = "hosts",
    responses(
        (status = 200, description = "The block is as the routes want", body = HostsChange),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 503, response = HostsUnavailable),
    )
)]
pub(super) async fn sync(State(state): State<AdminState>) -> Result<Json<HostsChange>, Problem> {
    Ok(Json(state.control.hosts_sync().await?))
}

/// Switch hosts-file sync off (the `hosts_sync` setting) and remove Portico's block from the
/// hosts file, saving a backup first. Every line outside the block stays as it was.
#[utoipa::path(
    delete,
    path = "/api/v1/hosts",
    operation_id = "remove_hosts",
    tag = "hosts",
    responses(
        (status = 200, description = "Sync is off and the block is gone", body = HostsChange),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 503, response = HostsUnavailable),
    )
)]
pub(super) async fn remove(State(state): State<AdminState>) -> Result<Json<HostsChange>, Problem> {
    Ok(Json(state.control.hosts_remove().await?))
}
