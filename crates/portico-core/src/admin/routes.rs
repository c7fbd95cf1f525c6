//! `/api/v1/routes`: list, create, get, patch, delete.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use super::AdminState;
use super::error::Problem;
use super::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::config::{NewRoute, Object, Route, RouteId, RoutePatch};

/// Every route that validates, in id order.
#[utoipa::path(
    get,
    path = "/api/v1/routes",
    operation_id = "list_routes",
    tag = "routes",
    responses(
        (status = 200, description = "The routes", body = [Route]),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn list(State(state): State<AdminState>) -> Result<Json<Vec<Route>>, Problem> {
    Ok(Json(state.control.routes().await?.routes))
}

/// Add a route; it is served at once.
#[utoipa::path(
    post,
    path = "/api/v1/routes",
    operation_id = "create_route",
    tag = "routes",
    request_body = NewRoute,
    responses(
        (status = 201, description = "The stored route", body = Route,
            headers(("Location" = String, description = "The route's URL, `/api/v1/routes/{id}`"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(super) async fn create(
    State(state): State<AdminState>,
    body: Result<Json<Object<NewRoute>>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(Object(new)) = body.map_err(Problem::bad_body)?;
    let route = state.control.add_route(new).await?;
    let location = format!("/api/v1/routes/{}", route.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(route),
    )
        .into_response())
}

/// One route.
#[utoipa::path(
    get,
    path = "/api/v1/routes/{id}",
    operation_id = "get_route",
    tag = "routes",
    params(("id" = i64, Path, description = "The route's id")),
    responses(
        (status = 200, description = "The route", body = Route),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn get(
    State(state): State<AdminState>,
    id: Result<Path<RouteId>, PathRejection>,
) -> Result<Json<Route>, Problem> {
    Ok(Json(state.control.route(route_id(id)?).await?))
}

/// Change any subset of a route's fields; the change is served at once.
#[utoipa::path(
    patch,
    path = "/api/v1/routes/{id}",
    operation_id = "update_route",
    tag = "routes",
    params(("id" = i64, Path, description = "The route's id")),
    request_body = RoutePatch,
    responses(
        (status = 200, description = "The changed route", body = Route),
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
pub(super) async fn update(
    State(state): State<AdminState>,
    id: Result<Path<RouteId>, PathRejection>,
    body: Result<Json<Object<RoutePatch>>, JsonRejection>,
) -> Result<Json<Route>, Problem> {
    let id = route_id(id)?;
    let Json(Object(patch)) = body.map_err(Problem::bad_body)?;
    Ok(Json(state.control.update_route(id, patch).await?))
}

/// Remove a route.
#[utoipa::path(
    delete,
    path = "/api/v1/routes/{id}",
    operation_id = "delete_route",
    tag = "routes",
    params(("id" = i64, Path, description = "The route's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn remove(
    State(state): State<AdminState>,
    id: Result<Path<RouteId>, PathRejection>,
) -> Result<StatusCode, Problem> {
    state.control.remove_route(route_id(id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Serve a disabled route again.
#[utoipa::path(
    post,
    path = "/api/v1/routes/{id}/enable",
    operation_id = "enable_route",
    tag = "routes",
    params(("id" = i64, Path, description = "The route's id")),
    responses(
        (status = 200, description = "The route, enabled", body = Route),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn enable(
    State(state): State<AdminState>,
    id: Result<Path<RouteId>, PathRejection>,
) -> Result<Json<Route>, Problem> {
    set_enabled(state, route_id(id)?, true).await
}

/// Keep a route stored but stop serving it.
#[utoipa::path(
    post,
    path = "/api/v1/routes/{id}/disable",
    operation_id = "disable_route",
    tag = "routes",
    params(("id" = i64, Path, description = "The route's id")),
    responses(
        (status = 200, description = "The route, disabled", body = Route),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn disable(
    State(state): State<AdminState>,
    id: Result<Path<RouteId>, PathRejection>,
) -> Result<Json<Route>, Problem> {
    set_enabled(state, route_id(id)?, false).await
}

/// The `{id}` of `/routes/{id}`; one that is not an integer is a 400 problem, like every other
/// error of the API (axum's own rejection would be plain text).
pub(super) fn route_id(id: Result<Path<RouteId>, PathRejection>) -> Result<RouteId, Problem> {
    id.map(|Path(id)| id).map_err(Problem::bad_path)
}

async fn set_enabled(
    state: AdminState,
    id: RouteId,
    enabled: bool,
) -> Result<Json<Route>, Problem> {
    let patch = RoutePatch {
        enabled: Some(enabled),
        ..Default::default()
    };
    Ok(Json(state.control.update_route(id, patch).await?))
}
