//! RFC 9457 problem details: every admin error is `application/problem+json` with a readable
//! `detail` and, for validation, the offending `field`. Internals go to the log, not the client.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::config::ImportProblem;
use crate::{Error, config, store};

/// An error answer of the admin API (RFC 9457 problem details).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status and `title` say what kind of problem it is.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    kind: &'static str,
    /// The status's meaning, e.g. `Invalid route`.
    title: &'static str,
    /// The HTTP status code.
    #[serde(serialize_with = "status_code")]
    #[schema(value_type = u16, minimum = 400, maximum = 599)]
    status: StatusCode,
    /// What went wrong and what to do, for a person to read.
    detail: String,
    /// The request field that was refused: for validation errors (422), and `host` when a
    /// route conflicts with another (409).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<&'static str>,
    /// Every problem, for imports and projects (each with where it is).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ImportProblem>,
}

fn status_code<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank",
            title,
            status,
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
        }
    }

    pub(super) fn unauthorized() -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "send Authorization: Bearer <token>; the token is in the admin-token file in Portico's data directory",
        )
    }

    pub(super) fn forbidden(detail: &str) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "Forbidden", detail)
    }

    pub(super) fn bad_body(rejection: JsonRejection) -> Self {
        Problem::new(
            rejection.status(),
            "Invalid request body",
            rejection.body_text(),
        )
    }

    /// A path parameter that does not parse, e.g. a route id that is not an integer.
    pub(super) fn bad_path(rejection: PathRejection) -> Self {
        Problem::new(
            rejection.status(),
            "Invalid path parameter",
            rejection.body_text(),
        )
    }

    /// A query string that does not parse.
    pub(super) fn bad_query(rejection: axum::extract::rejection::QueryRejection) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "Invalid query parameters",
            rejection.body_text(),
        )
    }

    /// Something named in the request does not exist.
    pub(super) fn missing(detail: String) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    /// A field of the request is not acceptable.
    pub(super) fn invalid(field: &'static str, detail: String) -> Self {
        Problem {
            field: Some(field),
            ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request", detail)
        }
    }

    /// The engine cannot do this right now.
    pub(super) fn unavailable(detail: &str) -> Self {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", detail)
    }
}

impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        match &err {
            Error::Config(e) => Problem {
                field: Some(e.field()),
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    match e {
                        config::Error::InvalidSetting { .. } => "Invalid setting",
                        _ => "Invalid route",
                    },
                    e.to_string(),
                )
            },
            // Both conflicts are about the host (and path): a form shows them there.
            Error::Store(store::Error::Duplicate { .. }) => Problem {
                field: Some("host"),
                ..Problem::new(StatusCode::CONFLICT, "Route exists", err.to_string())
            },
            Error::Store(store::Error::NotFound { .. }) => {
                Problem::new(StatusCode::NOT_FOUND, "No such route", err.to_string())
            }
            Error::Store(store::Error::ProjectConflict { .. }) => Problem {
                field: Some("host"),
                ..Problem::new(
                    StatusCode::CONFLICT,
                    "Route owned elsewhere",
                    err.to_string(),
                )
            },
            Error::Import(problems) => Problem {
                errors: problems.clone(),
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid import",
                    format!("{err}; nothing was changed"),
                )
            },
            Error::Store(store::Error::Sqlite(e)) if is_disk_full(e) => {
                tracing::error!("admin request failed: {err}");
                Problem::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "Disk full",
                    "the disk holding Portico's data directory is full, so nothing was changed; \
                     free some space (clearing captured traffic, DELETE /api/v1/requests, or a \
                     smaller capture_max_mb helps) and try again",
                )
            }
            // Sharing needs something of this machine (a network, a free port, the CA): the
            // route editor shows it next to the share switch.
            Error::Share(_) => Problem {
                field: Some("shared"),
                ..Problem::new(StatusCode::CONFLICT, "Cannot share", err.to_string())
            },
            Error::Hosts(
                crate::hosts::Error::Unavailable
                | crate::hosts::Error::Busy { .. }
                | crate::hosts::Error::Locked { .. },
            ) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Hosts file unavailable",
                err.to_string(),
            ),
            Error::Hosts(e) if e.needs_elevation() => Problem::new(
                StatusCode::CONFLICT,
                "Needs administrator rights",
                format!(
                    "{err}; the engine runs without the rights to change it: run the `command` \
                     that GET /api/v1/hosts gives"
                ),
            ),
            Error::Hosts(_) => Problem::new(
                StatusCode::CONFLICT,
                "Cannot change the hosts file",
                err.to_string(),
            ),
            Error::TrustUnavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Trust stores unavailable",
                err.to_string(),
            ),
            _ => {
                tracing::error!("admin request failed: {err}");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error",
                    "Portico could not complete the request; its log says why",
                )
            }
        }
    }
}

/// Whether SQLite gave up because the disk (or the file's quota) is full.
fn is_disk_full(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

impl From<config::Error> for Problem {
    fn from(err: config::Error) -> Self {
        Error::Config(err).into()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status;
        let unauthorized = status == StatusCode::UNAUTHORIZED;
        let mut resp = (status, Json(self)).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"portico\""),
            );
        }
        resp
    }
}

/// Answer for paths the API does not have.
pub(super) async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not found",
        "no such admin API path; the API lives under /api/v1",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_named_and_says_what_to_do() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let problem = Problem::from(Error::Store(store::Error::Sqlite(full)));
        assert_eq!(problem.status, StatusCode::INSUFFICIENT_STORAGE);
        assert!(problem.detail.contains("disk"), "{}", problem.detail);
        assert!(problem.detail.contains("nothing was changed"));
    }
}
