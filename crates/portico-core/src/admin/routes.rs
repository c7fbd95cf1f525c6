//! `/api/v1/routes`: list, create, get, patch, delete.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

use super::AdminState;
use super::error::Problem;
use crate::config::{NewRoute, Route, RouteId, RoutePatch};

pub(super) async fn list(State(state): State<AdminState>) -> Result<Json<Vec<Route>>, Problem> {
    Ok(Json(state.control.routes().await?.routes))
}

pub(super) async fn create(
    State(state): State<AdminState>,
    body: Result<Json<NewRoute>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(new) = body.map_err(Problem::bad_body)?;
    let route = state.control.add_route(new).await?;
    let location = format!("/api/v1/routes/{}", route.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(route),
    )
        .into_response())
}

pub(super) async fn get(
    State(state): State<AdminState>,
    Path(id): Path<RouteId>,
) -> Result<Json<Route>, Problem> {
    Ok(Json(state.control.route(id).await?))
}

pub(super) async fn update(
    State(state): State<AdminState>,
    Path(id): Path<RouteId>,
    body: Result<Json<RoutePatch>, JsonRejection>,
) -> Result<Json<Route>, Problem> {
    let Json(patch) = body.map_err(Problem::bad_body)?;
    Ok(Json(state.control.update_route(id, patch).await?))
}

pub(super) async fn remove(
    State(state): State<AdminState>,
    Path(id): Path<RouteId>,
) -> Result<StatusCode, Problem> {
    state.control.remove_route(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn enable(
    State(state): State<AdminState>,
    Path(id): Path<RouteId>,
) -> Result<Json<Route>, Problem> {
    set_enabled(state, id, true).await
}

pub(super) async fn disable(
    State(state): State<AdminState>,
    Path(id): Path<RouteId>,
) -> Result<Json<Route>, Problem> {
    set_enabled(state, id, false).await
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
