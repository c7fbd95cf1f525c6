//! `/api/v1/cache`: the response cache's statistics, and purging it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::openapi::{BadRequest, Forbidden, Unauthorized, Unprocessable};
use super::{AdminState, Problem};
use crate::cache::{Cache, CacheStats};

/// What to purge; with neither field, everything.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PurgeScope {
    /// Only this route's entries.
    pub route_id: Option<i64>,
    /// Only the entries for this URL, as the client asked for it
    /// (`https://app.localhost/styles.css?v=2`).
    pub url: Option<String>,
}

/// How many entries a purge removed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Purged {
    /// Entries removed.
    pub purged: u64,
}

fn cache(state: &AdminState) -> Result<&Cache, Problem> {
    state
        .cache
        .as_ref()
        .ok_or_else(|| Problem::unavailable("this engine has no response cache"))
}

/// Hits, misses, entries and stored bytes, in total and per route.
#[utoipa::path(
    get,
    path = "/api/v1/cache",
    operation_id = "cache_stats",
    tag = "cache",
    responses(
        (status = 200, description = "Statistics", body = CacheStats),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn stats(State(state): State<AdminState>) -> Result<Json<CacheStats>, Problem> {
    let cache = cache(&state)?;
    cache.settle().await;
    Ok(Json(cache.stats()))
}

/// Drop cached responses: all of them, one route's, or one URL's.
#[utoipa::path(
    delete,
    path = "/api/v1/cache",
    operation_id = "purge_cache",
    tag = "cache",
    params(PurgeScope),
    responses(
        (status = 200, description = "Purged", body = Purged),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = Unprocessable),
    )
)]
pub(super) async fn purge(
    State(state): State<AdminState>,
    query: Result<Query<PurgeScope>, QueryRejection>,
) -> Result<Json<Purged>, Problem> {
    let Query(scope) = query.map_err(Problem::bad_query)?;
    let cache = cache(&state)?;
    let purged = match (scope.route_id, scope.url.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(Problem::invalid(
                "url",
                "give route_id or url, not both".into(),
            ));
        }
        (Some(id), None) => cache.purge_route(id),
        (None, Some(url)) => {
            if url::Url::parse(url).is_err() {
                return Err(Problem::invalid(
                    "url",
                    format!("{url:?} is not an absolute URL such as https://app.localhost/a.css"),
                ));
            }
            cache.purge_url(url)
        }
        (None, None) => cache.purge_all(),
    };
    Ok(Json(Purged { purged }))
}
