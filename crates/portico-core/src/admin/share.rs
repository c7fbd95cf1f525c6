//! `/api/v1/routes/{id}/share` and `/api/v1/shares`: sharing routes on the local network.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::AdminState;
use super::error::Problem;
use super::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use super::routes::route_id;
use crate::config::{Object, RouteId};
use crate::share::ShareInfo;

/// The longest a share may be set to last: a year.
const MAX_SHARE_SECS: u64 = 366 * 86_400;

/// How long to share.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// Stop sharing after this many seconds. Default: none (until switched off).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_622_400)]
    pub for_secs: Option<u64>,
}

/// Every shared route's LAN URL, CA page, expiry and QR codes.
#[utoipa::path(
    get,
    path = "/api/v1/shares",
    operation_id = "list_shares",
    tag = "sharing",
    responses(
        (status = 200, description = "The shared routes", body = [ShareInfo]),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn list(State(state): State<AdminState>) -> Result<Json<Vec<ShareInfo>>, Problem> {
    Ok(Json(state.control.shares().await?))
}

/// A route's sharing: its LAN URL, the CA page, expiry and QR codes.
#[utoipa::path(
    get,
    path = "/api/v1/routes/{id}/share",
    operation_id = "get_share",
    tag = "sharing",
    params(("id" = i64, Path, description = "The route's id")),
    responses(
        (status = 200, description = "The route's sharing", body = ShareInfo),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn get(
    State(state): State<AdminState>,
    id: Result<Path<RouteId>, PathRejection>,
) -> Result<Json<ShareInfo>, Problem> {
    Ok(Json(state.control.share_info(route_id(id)?).await?))
}

/// Share a route on the machine's LAN address (HTTPS, on its own port), for a while or until
/// stopped. Only clients in the route's `share_allow_ips` (by default the private ranges)
/// are served. A 409 says what is missing (no network, a busy port, the CA).
#[utoipa::path(
    post,
    path = "/api/v1/routes/{id}/share",
    operation_id = "start_share",
    tag = "sharing",
    params(("id" = i64, Path, description = "The route's id")),
    request_body = ShareRequest,
    responses(
        (status = 200, description = "The route's sharing", body = ShareInfo),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(super) async fn start(
    State(state): State<AdminState>,
    id: Result<Path<RouteId>, PathRejection>,
    body: Result<Json<Object<ShareRequest>>, JsonRejection>,
) -> Result<Json<ShareInfo>, Problem> {
    let id = route_id(id)?;
    let Json(Object(request)) = body.map_err(Problem::bad_body)?;
    let duration = match request.for_secs {
        None => None,
        Some(secs) if (1..=MAX_SHARE_SECS).contains(&secs) => Some(Duration::from_secs(secs)),
        Some(secs) => {
            return Err(Problem::invalid(
                "for_secs",
                format!(
                    "{secs} is not between 1 second and a year ({MAX_SHARE_SECS} s); leave it out to share until stopped"
                ),
            ));
        }
    };
    Ok(Json(state.control.share(id, duration).await?))
}

/// Stop sharing a route; its LAN listener closes.
#[utoipa::path(
    delete,
    path = "/api/v1/routes/{id}/share",
    operation_id = "stop_share",
    tag = "sharing",
    params(("id" = i64, Path, description = "The route's id")),
    responses(
        (status = 200, description = "The route's sharing, stopped", body = ShareInfo),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn stop(
    State(state): State<AdminState>,
    id: Result<Path<RouteId>, PathRejection>,
) -> Result<Json<ShareInfo>, Problem> {
    Ok(Json(state.control.unshare(route_id(id)?).await?))
}
