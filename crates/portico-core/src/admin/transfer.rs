//! `/api/v1/export`, `/api/v1/import` and `/api/v1/projects/…`: routes and settings as a
//! portable document, and a project's `portico.json` routes.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::AdminState;
use super::error::Problem;
use super::openapi::{
    BadRequest, Conflict, Forbidden, PayloadTooLarge, Unauthorized, Unprocessable,
    UnsupportedMediaType,
};
use crate::config::{Export, NewRoute, Object};
use crate::export::{Format, Options};
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

/// What to export, and how.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ExportQuery {
    /// Another proxy's configuration instead of Portico's JSON document: `caddyfile`,
    /// `nginx`, `traefik` or `k8s-ingress`. Every route is included (project routes too);
    /// what the target cannot express is a comment next to the route. Default: none (JSON).
    format: Option<Format>,
    /// The exported configuration's HTTP port. Default: 80.
    #[param(value_type = Option<u16>, minimum = 1, maximum = 65535)]
    http_port: Option<std::num::NonZeroU16>,
    /// The exported configuration's HTTPS port. Default: 443.
    #[param(value_type = Option<u16>, minimum = 1, maximum = 65535)]
    https_port: Option<std::num::NonZeroU16>,
    /// Plain HTTP only: no TLS and no redirect to HTTPS. Default: false.
    plain_http: Option<bool>,
    /// Listen on this address only. Default: every address.
    #[param(value_type = Option<String>, example = "127.0.0.1")]
    bind: Option<std::net::IpAddr>,
}

/// Routes and settings as a portable document, or routes as another proxy's configuration.
///
/// Without `format`: the routes (without project routes) and settings as JSON, for import.
/// With `format`: a Caddyfile or nginx configuration (text), or Traefik dynamic configuration
/// or Kubernetes Ingress objects (YAML).
#[utoipa::path(
    get,
    path = "/api/v1/export",
    operation_id = "export",
    tag = "transfer",
    params(ExportQuery),
    responses(
        (status = 200, description = "The export document, or the proxy configuration",
            content(
                (Export = "application/json"),
                (String = "text/plain"),
                (serde_json::Value = "application/yaml"),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn export(
    State(state): State<AdminState>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(Problem::bad_query)?;
    let Some(format) = query.format else {
        return Ok(Json(state.control.export().await?).into_response());
    };
    let defaults = Options::default();
    let options = Options {
        http_port: query.http_port.map_or(defaults.http_port, |p| p.get()),
        https_port: query.https_port.map_or(defaults.https_port, |p| p.get()),
        plain_http: query.plain_http.unwrap_or(defaults.plain_http),
        bind: query.bind,
        ..defaults
    };
    let routes = state.control.routes().await?.routes;
    let text = crate::export::render(format, &routes, &options);
    Ok(([(http::header::CONTENT_TYPE, format.content_type())], text).into_response())
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
