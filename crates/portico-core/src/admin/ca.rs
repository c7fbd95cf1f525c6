//! `/api/v1/ca…`: the CA, its trust stores, and rotation.

use std::path::PathBuf;

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::Serialize;

use super::AdminState;
use super::error::Problem;
use crate::tls::trust::{Change, Outcome, Store, StoreStatus};

/// The CA and where it is trusted.
#[derive(Debug, Clone, Serialize)]
pub struct CaReport {
    /// The root's name, e.g. `Portico Local CA (alice@laptop)`.
    pub name: String,
    /// Path of `root.pem`.
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
#[derive(Debug, Clone, Serialize)]
pub struct StoreChange {
    /// The store.
    pub store: Store,
    /// Where it is.
    pub location: String,
    /// `added`, `removed`, `unchanged` or `failed`.
    pub result: &'static str,
    /// Why it was unchanged, what failed (with the command to run by hand), or a note.
    pub detail: Option<String>,
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
#[derive(Debug, Clone, Serialize)]
pub struct RotationReport {
    /// The new CA.
    pub ca: CaReport,
    /// Where the old CA's files were moved.
    pub retired: PathBuf,
    /// Removing the old root from the stores that trusted it.
    pub untrusted: Vec<StoreChange>,
    /// Installing the new root in those stores.
    pub trusted: Vec<StoreChange>,
}

pub(super) async fn status(State(state): State<AdminState>) -> Result<Json<CaReport>, Problem> {
    Ok(Json(state.control.ca_status().await?))
}

pub(super) async fn pem(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/x-pem-file")],
        state.control.ca_pem(),
    )
}

pub(super) async fn trust(
    State(state): State<AdminState>,
) -> Result<Json<Vec<StoreChange>>, Problem> {
    Ok(Json(state.control.ca_trust(true).await?))
}

pub(super) async fn untrust(
    State(state): State<AdminState>,
) -> Result<Json<Vec<StoreChange>>, Problem> {
    Ok(Json(state.control.ca_trust(false).await?))
}

pub(super) async fn rotate(
    State(state): State<AdminState>,
) -> Result<Json<RotationReport>, Problem> {
    Ok(Json(state.control.ca_rotate().await?))
}
