//! `/api/v1/ca…`: the CA, its trust stores, and rotation.

use std::path::PathBuf;

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::Serialize;

use super::AdminState;
use super::error::Problem;
use super::openapi::{Forbidden, TrustUnavailable, Unauthorized};
use crate::tls::trust::{Change, Outcome, Store, StoreStatus};

/// The CA and where it is trusted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaReport {
    /// The root's name, e.g. `Portico Local CA (alice@laptop)`.
    pub name: String,
    /// Path of `root.pem`.
    #[schema(value_type = String)]
    pub path: PathBuf,
    /// SHA-256 of the root, uppercase hex.
    pub sha256: String,
    /// When the root expires (Unix seconds).
    pub expires: u64,
    /// When the intermediate expires (Unix seconds); it is renewed automatically.
    pub intermediate_expires: u64,
    /// The suffixes the CA signs for.
    pub suffixes: Vec<String>,
    /// Per trust store.
    pub stores: Vec<StoreStatus>,
}

/// What `trust` or `untrust` did to one store.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoreChange {
    /// The store.
    pub store: Store,
    /// Where it is.
    pub location: String,
    /// `added`, `removed`, `unchanged` or `failed`.
    #[schema(schema_with = change_result)]
    pub result: &'static str,
    /// Why it was unchanged, what failed (with the command to run by hand), or a note.
    #[schema(required = true)]
    pub detail: Option<String>,
}

/// The schema of [`StoreChange::result`]: one of the four words.
fn change_result() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["added", "removed", "unchanged", "failed"]))
        .description(Some("`added`, `removed`, `unchanged` or `failed`."))
        .build()
}

impl From<Outcome> for StoreChange {
    fn from(outcome: Outcome) -> Self {
        let (result, mut detail) = match outcome.result {
            Ok(Change::Added) => ("added", None),
            Ok(Change::Removed) => ("removed", None),
            Ok(Change::Unchanged { why }) => ("unchanged", Some(why)),
            Err(err) => ("failed", Some(err.to_string())),
        };
        if let Some(note) = outcome.note {
            detail = Some(match detail {
                Some(d) => format!("{d}; {note}"),
                None => note,
            });
        }
        StoreChange {
            store: outcome.store,
            location: outcome.location,
            result,
            detail,
        }
    }
}

/// What a rotation did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RotationReport {
    /// The new CA.
    pub ca: CaReport,
    /// Where the old CA's files were moved.
    #[schema(value_type = String)]
    pub retired: PathBuf,
    /// Removing the old root from the stores that trusted it.
    pub untrusted: Vec<StoreChange>,
    /// Installing the new root in those stores.
    pub trusted: Vec<StoreChange>,
}

/// The CA and, per trust store on this machine, whether it trusts the CA.
#[utoipa::path(
    get,
    path = "/api/v1/ca",
    operation_id = "get_ca",
    tag = "ca",
    responses(
        (status = 200, description = "The CA and its trust stores", body = CaReport),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn status(State(state): State<AdminState>) -> Result<Json<CaReport>, Problem> {
    Ok(Json(state.control.ca_status().await?))
}

/// The CA's root certificate, PEM (for a device or tool that should trust it).
#[utoipa::path(
    get,
    path = "/api/v1/ca.pem",
    operation_id = "get_ca_pem",
    tag = "ca",
    responses(
        (status = 200, description = "The root certificate", body = String,
            content_type = "application/x-pem-file"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn pem(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/x-pem-file")],
        state.control.ca_pem(),
    )
}

/// Trust the CA.
///
/// Install the CA in every trust store Portico manages (system, Chromium, every Firefox
/// profile). The system store may need elevation; when it cannot get it, that store's
/// `detail` carries the command to run.
#[utoipa::path(
    post,
    path = "/api/v1/ca/trust",
    operation_id = "trust_ca",
    tag = "ca",
    responses(
        (status = 200, description = "What was done to each store", body = [StoreChange]),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = TrustUnavailable),
    )
)]
pub(super) async fn trust(
    State(state): State<AdminState>,
) -> Result<Json<Vec<StoreChange>>, Problem> {
    Ok(Json(state.control.ca_trust(true).await?))
}

/// Remove exactly what `trust` added.
#[utoipa::path(
    post,
    path = "/api/v1/ca/untrust",
    operation_id = "untrust_ca",
    tag = "ca",
    responses(
        (status = 200, description = "What was done to each store", body = [StoreChange]),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = TrustUnavailable),
    )
)]
pub(super) async fn untrust(
    State(state): State<AdminState>,
) -> Result<Json<Vec<StoreChange>>, Problem> {
    Ok(Json(state.control.ca_trust(false).await?))
}

/// Replace the CA with a new one and move trust to it; certificates are re-issued.
#[utoipa::path(
    post,
    path = "/api/v1/ca/rotate",
    operation_id = "rotate_ca",
    tag = "ca",
    responses(
        (status = 200, description = "The new CA and the trust moved to it", body = RotationReport),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 503, response = TrustUnavailable),
    )
)]
pub(super) async fn rotate(
    State(state): State<AdminState>,
) -> Result<Json<RotationReport>, Problem> {
    Ok(Json(state.control.ca_rotate().await?))
}
