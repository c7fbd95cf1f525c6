//! `/api/v1/export`, `/api/v1/import` and `/api/v1/projects/…`: routes and settings as a
//! portable document, and a project's `portico.json` routes.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};

use super::AdminState;
use super::error::Problem;
use super::openapi::{
    BadRequest, Conflict, Forbidden, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::config::{Export, NewRoute, Object};
use crate::store::ImportSummary;

/// A project's routes, as `portico up` sends them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRoutes {
    /// The project, conventionally its folder's absolute path.
    #[schema(example = "/home/me/shop")]
    pub project: String,
    /// Its routes (from its `portico.json`).
    #[serde(deserialize_with = "crate::config::object::list")]
    pub routes: Vec<NewRoute>,
}

/// Which project to bring down.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ProjectName {
    /// The project, as given to `up`.
    #[schema(example = "/home/me/shop")]
    project: String,
}

/// How many routes `down` removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Removed {
    /// How many routes were removed.
    removed: usize,
}

/// Routes (without project routes) and settings as a portable document.
#[utoipa::path(
    get,
    path = "/api/v1/export",
    operation_id = "export",
    tag = "transfer",
    responses(
        (status = 200, description = "The export document", body = Export),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn export(State(state): State<AdminState>) -> Result<Json<Export>, Problem> {
    Ok(Json(state.control.export().await?))
}

/// Import an export document.
///
/// Add or update the routes (by host and path) and replace the settings: all of it, or
/// nothing when anything is invalid.
#[utoipa::path(
    post,
    path = "/api/v1/import",
    operation_id = "import",
    tag = "transfer",
    request_body = Export,
    responses(
        (status = 200, description = "What changed", body = ImportSummary),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(super) async fn import(
    State(state): State<AdminState>,
    body: Result<Json<Object<Export>>, JsonRejection>,
) -> Result<Json<ImportSummary>, Problem> {
    let Json(Object(export)) = body.map_err(Problem::bad_body)?;
    Ok(Json(state.control.import(export).await?))
}

/// Bring a project's routes up (`portico up`).
///
/// Make the project's routes exactly these: add, update, and remove the ones no longer
/// listed.
#[utoipa::path(
    post,
    path = "/api/v1/projects/up",
    operation_id = "project_up",
    tag = "transfer",
    request_body = ProjectRoutes,
    responses(
        (status = 200, description = "What changed", body = ImportSummary),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(super) async fn project_up(
    State(state): State<AdminState>,
    body: Result<Json<Object<ProjectRoutes>>, JsonRejection>,
) -> Result<Json<ImportSummary>, Problem> {
    let Json(Object(project)) = body.map_err(Problem::bad_body)?;
    Ok(Json(state.control.sync_project(project).await?))
}

/// Remove a project's routes (`portico down`).
#[utoipa::path(
    post,
    path = "/api/v1/projects/down",
    operation_id = "project_down",
    tag = "transfer",
    request_body = ProjectName,
    responses(
        (status = 200, description = "How many routes were removed", body = Removed),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(super) async fn project_down(
    State(state): State<AdminState>,
    body: Result<Json<Object<ProjectName>>, JsonRejection>,
) -> Result<Json<Removed>, Problem> {
    let Json(Object(name)) = body.map_err(Problem::bad_body)?;
    let removed = state.control.remove_project(name.project).await?;
    Ok(Json(Removed { removed }))
}
