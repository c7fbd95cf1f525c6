//! `/api/v1/settings`: read and change the engine's settings.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;

use super::AdminState;
use super::error::Problem;
use super::openapi::{
    BadRequest, Forbidden, PayloadTooLarge, Unauthorized, Unprocessable, UnsupportedMediaType,
};
use crate::config::{Object, Settings, SettingsPatch};

/// The stored settings.
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    operation_id = "get_settings",
    tag = "settings",
    responses(
        (status = 200, description = "The settings", body = Settings),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn get(State(state): State<AdminState>) -> Result<Json<Settings>, Problem> {
    Ok(Json(state.control.settings().await?))
}

/// Change settings.
///
/// Change any subset of the settings. Local suffixes apply at once; listen addresses and
/// timeouts at the next start (each field's documentation says which).
#[utoipa::path(
    patch,
    path = "/api/v1/settings",
    operation_id = "update_settings",
    tag = "settings",
    request_body = SettingsPatch,
    responses(
        (status = 200, description = "The settings after the change", body = Settings),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
    )
)]
pub(super) async fn update(
    State(state): State<AdminState>,
    body: Result<Json<Object<SettingsPatch>>, JsonRejection>,
) -> Result<Json<Settings>, Problem> {
    let Json(Object(patch)) = body.map_err(Problem::bad_body)?;
    Ok(Json(state.control.update_settings(patch).await?))
}
