//! `/api/v1/doctor`: the doctor's checks (`crate::doctor`) against the running engine: its
//! routes, its listeners as bound, the CA's trust stores, and the hosts file it was started
//! with.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::AdminState;
use super::error::Problem;
use super::openapi::{BadRequest, Forbidden, Unauthorized};
use super::status::{FallbackListener, FallbackReason};
use crate::doctor::{Bound, Fallen, Inputs, Listening, Report, Role};

/// Which host to check.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct DoctorQuery {
    /// Only the routes serving this host (a name such as `app.test`, or a route's wildcard),
    /// and the name itself. Default: every enabled route.
    #[param(example = "app.test")]
    host: Option<String>,
}

/// Check every route (or one host): does the name reach this machine, is the CA trusted in
/// each store, are the listeners bound, does the upstream answer and accept the route's host.
///
/// Each finding says what is wrong in plain words, the fix (a command, a setting, a
/// configuration line) and, when the UI can apply it, an `action`. Upstreams are asked
/// for real, so this takes up to a few seconds when one does not answer.
#[utoipa::path(
    get,
    path = "/api/v1/doctor",
    operation_id = "doctor",
    tag = "doctor",
    params(DoctorQuery),
    responses(
        (status = 200, description = "What the checks found", body = Report),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn run(
    State(state): State<AdminState>,
    query: Result<Query<DoctorQuery>, QueryRejection>,
) -> Result<Json<Report>, Problem> {
    let Query(query) = query.map_err(Problem::bad_query)?;
    let routes = state.control.routes().await?.routes;
    let status = state.control.status().await?;
    let ca = state.control.ca_status().await?;
    let listeners = status.listeners;
    let bound = Bound {
        listeners: vec![
            (Role::Http, listeners.http),
            (Role::Https, listeners.https),
            (Role::Admin, listeners.admin),
        ],
        fallbacks: listeners
            .fallbacks
            .iter()
            .map(|f| Fallen {
                role: match f.listener {
                    FallbackListener::Http => Role::Http,
                    FallbackListener::Https => Role::Https,
                },
                wanted: f.wanted,
                used: f.used,
                reason: match f.reason {
                    FallbackReason::Permission => std::io::ErrorKind::PermissionDenied,
                    FallbackReason::InUse => std::io::ErrorKind::AddrInUse,
                    FallbackReason::Other => std::io::ErrorKind::Other,
                },
            })
            .collect(),
    };
    // The hosts file the engine keeps and its own command for it (naming the data dir);
    // the system's file when it keeps none.
    let (hosts_file, hosts_command) = match state.control.hosts_status().await {
        Ok(status) => (status.file, status.command),
        Err(_) => (
            std::path::PathBuf::from(crate::doctor::HOSTS_FILE),
            "sudo portico hosts sync".to_owned(),
        ),
    };
    let report = crate::doctor::run(Inputs {
        routes,
        host: query.host.filter(|h| !h.trim().is_empty()),
        stores: Some(ca.stores),
        listening: Listening::Running(bound),
        hosts_file,
        hosts_command,
    })
    .await;
    Ok(Json(report))
}
