//! `/api/v1/export`, `/api/v1/import` and `/api/v1/projects/…`: routes and settings as a
//! portable document, and a project's `portico.json` routes.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};

use super::AdminState;
use super::error::Problem;
use crate::config::{Export, NewRoute};
use crate::store::ImportSummary;

/// A project's routes, as `portico up` sends them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectRoutes {
    /// The project, conventionally its folder's absolute path.
    pub project: String,
    /// Its routes (from its `portico.json`).
    pub routes: Vec<NewRoute>,
}

/// Which project to bring down.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProjectName {
    project: String,
}

/// How many routes `down` removed.
#[derive(Debug, Serialize)]
pub(super) struct Removed {
    removed: usize,
}

pub(super) async fn export(State(state): State<AdminState>) -> Result<Json<Export>, Problem> {
    Ok(Json(state.control.export().await?))
}

pub(super) async fn import(
    State(state): State<AdminState>,
    body: Result<Json<Export>, JsonRejection>,
) -> Result<Json<ImportSummary>, Problem> {
    let Json(export) = body.map_err(Problem::bad_body)?;
    Ok(Json(state.control.import(export).await?))
}

pub(super) async fn project_up(
    State(state): State<AdminState>,
    body: Result<Json<ProjectRoutes>, JsonRejection>,
) -> Result<Json<ImportSummary>, Problem> {
    let Json(project) = body.map_err(Problem::bad_body)?;
    Ok(Json(state.control.sync_project(project).await?))
}

pub(super) async fn project_down(
    State(state): State<AdminState>,
    body: Result<Json<ProjectName>, JsonRejection>,
) -> Result<Json<Removed>, Problem> {
    let Json(name) = body.map_err(Problem::bad_body)?;
    let removed = state.control.remove_project(name.project).await?;
    Ok(Json(Removed { removed }))
}
