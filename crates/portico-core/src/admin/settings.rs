//! `/api/v1/settings`: read and change the engine's settings.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;

use super::AdminState;
use super::error::Problem;
use crate::config::{Settings, SettingsPatch};

pub(super) async fn get(State(state): State<AdminState>) -> Result<Json<Settings>, Problem> {
    Ok(Json(state.control.settings().await?))
}

/// Change any subset of the settings. Local suffixes apply at once; listen addresses and
/// timeouts at the next start (each field's documentation says which).
pub(super) async fn update(
    State(state): State<AdminState>,
    body: Result<Json<SettingsPatch>, JsonRejection>,
) -> Result<Json<Settings>, Problem> {
    let Json(patch) = body.map_err(Problem::bad_body)?;
    Ok(Json(state.control.update_settings(patch).await?))
}
