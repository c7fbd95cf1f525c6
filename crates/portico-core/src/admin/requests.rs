//! `/api/v1/requests…`: the captured traffic. List and filter it, read one exchange with its
//! bodies decoded, follow it live, replay it, copy it as curl, export and import HAR.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::AdminState;
use super::error::Problem;
use super::openapi::{BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::inspect::capture::{CapturedAs, Inspector, ReplayOf};
use crate::inspect::decode::{DecodedBody, decode_body};
use crate::inspect::event::{Exchange, ExchangeId, Summary};
use crate::inspect::recorder::Live;
use crate::proxy::{ConnInfo, Proxy};
use crate::store::{TrafficFilter, TrafficStore};

/// The largest replayed response read back (the rest still streams past the capture).
const REPLAY_READ_LIMIT: usize = 64 << 20;

/// What the traffic endpoints need, handed over by the engine.
#[derive(Clone)]
pub struct TrafficApi {
    /// The captured exchanges.
    pub store: TrafficStore,
    /// Capture itself (ids for imports, drop counts).
    pub inspector: Inspector,
    /// New exchanges as they are recorded.
    pub live: broadcast::Sender<Live>,
    /// The proxy, to replay through.
    pub proxy: Proxy,
    /// Portico's plain HTTP listener (replays of http exchanges come from there).
    pub http: SocketAddr,
    /// Portico's HTTPS listener, if on.
    pub https: Option<SocketAddr>,
    /// The CA's root certificate, for the curl `--cacert` option.
    pub ca_file: PathBuf,
}

fn api(state: &AdminState) -> Result<Arc<TrafficApi>, Problem> {
    state
        .traffic
        .clone()
        .ok_or_else(|| Problem::unavailable("traffic capture is not running in this engine"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::Error> + Send + 'static,
) -> Result<T, Problem> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(crate::Error::Store(err).into()),
        Err(err) => Err(crate::Error::Task(err).into()),
    }
}

/// A page of summaries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestPage {
    /// The exchanges.
    pub items: Vec<Summary>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<ExchangeId>,
}

/// List captured exchanges, newest first, filtered.
#[utoipa::path(
    get,
    path = "/api/v1/requests",
    operation_id = "list_requests",
    tag = "traffic",
    params(TrafficFilter),
    responses(
        (status = 200, description = "One page", body = RequestPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn list(
    State(state): State<AdminState>,
    query: Result<Query<TrafficFilter>, QueryRejection>,
) -> Result<Json<RequestPage>, Problem> {
    let Query(filter) = query.map_err(Problem::bad_query)?;
    let traffic = api(&state)?;
    let limit = filter.limit.unwrap_or(100).clamp(1, 500);
    let store = traffic.store.clone();
    let items = blocking(move || store.list(&filter)).await?;
    let next_before = (items.len() == limit)
        .then(|| items.last().map(|s| s.id))
        .flatten();
    Ok(Json(RequestPage { items, next_before }))
}

/// One exchange with its bodies decoded for display.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestDetail {
    /// Everything captured (bodies as sent on the wire, base64).
    pub exchange: Exchange,
    /// The request body, content-encoding undone, as text or base64.
    pub request_body: DecodedBody,
    /// The response body, likewise.
    pub response_body: DecodedBody,
}

fn id_from(path: Result<Path<ExchangeId>, PathRejection>) -> Result<ExchangeId, Problem> {
    path.map(|Path(id)| id).map_err(Problem::bad_path)
}

async fn load(traffic: &TrafficApi, id: ExchangeId) -> Result<Exchange, Problem> {
    let store = traffic.store.clone();
    blocking(move || store.get(id))
        .await?
        .ok_or_else(|| Problem::missing(format!("no captured exchange with id {id}")))
}

/// One captured exchange in full.
#[utoipa::path(
    get,
    path = "/api/v1/requests/{id}",
    operation_id = "get_request",
    tag = "traffic",
    params(("id" = i64, Path, description = "Exchange id")),
    responses(
        (status = 200, description = "The exchange", body = RequestDetail),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn get(
    State(state): State<AdminState>,
    path: Result<Path<ExchangeId>, PathRejection>,
) -> Result<Json<RequestDetail>, Problem> {
    let id = id_from(path)?;
    let traffic = api(&state)?;
    let exchange = load(&traffic, id).await?;
    let request_body = decode_body(&exchange.request_body, &exchange.request_headers.pairs());
    let response_body = decode_body(&exchange.response_body, &exchange.response_headers.pairs());
    Ok(Json(RequestDetail {
        exchange,
        request_body,
        response_body,
    }))
}

/// Follow new exchanges as they are captured (Server-Sent Events, same filters as the list,
/// free text included; the cursor does not apply). `exchange` events carry a summary; `skipped`
/// says how many this client missed by reading too slowly; `dropped` says capture itself
/// dropped some (total since start).
#[utoipa::path(
    get,
    path = "/api/v1/requests/stream",
    operation_id = "stream_requests",
    tag = "traffic",
    params(TrafficFilter),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream", body = String),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn stream(
    State(state): State<AdminState>,
    query: Result<Query<TrafficFilter>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Problem> {
    let Query(filter) = query.map_err(Problem::bad_query)?;
    let traffic = api(&state)?;
    let rx = traffic.live.subscribe();
    let events = futures_util::stream::unfold((rx, filter), |(mut rx, filter)| async move {
        loop {
            let event = match rx.recv().await {
                Ok(Live::Exchange(live)) if filter.matches_live(&live) => SseEvent::default()
                    .event("exchange")
                    .data(serde_json::to_string(&live.summary).unwrap_or_default()),
                Ok(Live::Exchange(_)) => continue,
                Ok(Live::Dropped { total }) => SseEvent::default()
                    .event("dropped")
                    .data(format!("{{\"total\":{total}}}")),
                Err(broadcast::error::RecvError::Lagged(missed)) => SseEvent::default()
                    .event("skipped")
                    .data(format!("{{\"missed\":{missed}}}")),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, filter)));
        }
    });
    let events = events.take_until(state.stop.clone().cancelled_owned());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// How many exchanges were deleted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cleared {
    /// Deleted.
    pub deleted: usize,
}

/// Delete every captured exchange.
#[utoipa::path(
    delete,
    path = "/api/v1/requests",
    operation_id = "clear_requests",
    tag = "traffic",
    responses(
        (status = 200, description = "Cleared", body = Cleared),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn clear(State(state): State<AdminState>) -> Result<Json<Cleared>, Problem> {
    let traffic = api(&state)?;
    let store = traffic.store.clone();
    let deleted = blocking(move || store.clear()).await?;
    Ok(Json(Cleared { deleted }))
}

/// Changes to make before replaying; absent fields replay what was captured.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayEdits {
    /// Another method.
    pub method: Option<String>,
    /// Another path and query (`/api/items?x=1`).
    pub path: Option<String>,
    /// Replace every header with these `[name, value]` pairs.
    #[schema(value_type = Option<Vec<Vec<String>>>)]
    pub headers: Option<Vec<(String, String)>>,
    /// Another body, as text.
    pub body: Option<String>,
    /// Another body, as base64 (for binary bodies).
    pub body_base64: Option<String>,
}

/// The replay's own exchange.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Replayed {
    /// The new exchange (linked to the original by `replay_of`).
    pub id: Option<ExchangeId>,
    /// Its status.
    pub status: u16,
    /// The exchange it replays.
    pub replay_of: ExchangeId,
}

/// Send a captured request through the proxy again, as captured or edited. The new exchange
/// is captured like any other, with `replay_of` pointing at the original.
#[utoipa::path(
    post,
    path = "/api/v1/requests/{id}/replay",
    operation_id = "replay_request",
    tag = "traffic",
    params(("id" = i64, Path, description = "Exchange id")),
    request_body(content = Option<ReplayEdits>, description = "What to change; may be empty"),
    responses(
        (status = 200, description = "Replayed", body = Replayed),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    )
)]
pub(super) async fn replay(
    State(state): State<AdminState>,
    path: Result<Path<ExchangeId>, PathRejection>,
    body: Result<Json<ReplayEdits>, JsonRejection>,
) -> Result<Json<Replayed>, Problem> {
    let id = id_from(path)?;
    let edits = match body {
        Ok(Json(edits)) => edits,
        // No body (or an empty one) means: replay as captured.
        Err(JsonRejection::MissingJsonContentType(_)) => ReplayEdits::default(),
        Err(other) => return Err(Problem::bad_body(other)),
    };
    let traffic = api(&state)?;
    let original = load(&traffic, id).await?;
    let request = replay_request(&original, edits)?;
    let (tls, local) = if original.scheme == "https" {
        (true, traffic.https.unwrap_or(traffic.http))
    } else {
        (false, traffic.http)
    };
    let conn = ConnInfo {
        shared_route: None,
        client: SocketAddr::from(([127, 0, 0, 1], 0)),
        local,
        tls,
        over_limit: None,
    };
    let request = request.map(|body| body.map_err(|never| match never {}).boxed());
    // Subscribed before sending, so the new exchange's record cannot slip past.
    let mut recorded = traffic.live.subscribe();
    let response = traffic.proxy.handle(request, conn).await;
    let status = response.status().as_u16();
    let new_id = response.extensions().get::<CapturedAs>().map(|c| c.0);
    // Read the answer so the capture sees it end (bounded; the rest is dropped).
    let mut body = response.into_body();
    let mut read = 0;
    while read < REPLAY_READ_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            _ => break,
        }
    }
    drop(body);
    // Answer once the new exchange is stored, so the id can be fetched at once (bounded:
    // a dropped or slow record leaves the id to show up later).
    if let Some(new_id) = new_id {
        let stored = async {
            loop {
                match recorded.recv().await {
                    Ok(Live::Exchange(live)) if live.summary.id == new_id => break,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        };
        let _ = tokio::time::timeout(REPLAY_RECORD_WAIT, stored).await;
    }
    Ok(Json(Replayed {
        id: new_id,
        status,
        replay_of: id,
    }))
}

/// How long a replay waits for its exchange to be stored before answering anyway.
const REPLAY_RECORD_WAIT: Duration = Duration::from_secs(2);

/// Hop-by-hop and computed headers are not replayed as captured.
const NOT_REPLAYED: [&str; 6] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "te",
    "upgrade",
];

fn replay_request(e: &Exchange, edits: ReplayEdits) -> Result<Request<Full<Bytes>>, Problem> {
    use base64::Engine;
    let invalid = |field: &'static str, why: String| Problem::invalid(field, why);
    let method = match &edits.method {
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| invalid("method", format!("{m:?} is not an HTTP method")))?,
        None => Method::from_bytes(e.method.as_bytes())
            .map_err(|_| invalid("method", "the captured method is not valid".into()))?,
    };
    let path = match &edits.path {
        Some(p) => p.clone(),
        None => match &e.query {
            Some(q) => format!("{}?{q}", e.path),
            None => e.path.clone(),
        },
    };
    let uri: Uri = path
        .parse()
        .map_err(|_| invalid("path", format!("{path:?} is not a path and query")))?;
    if uri.scheme().is_some() || !path.starts_with('/') {
        return Err(invalid(
            "path",
            "give a path starting with '/', e.g. /api/items?x=1".into(),
        ));
    }
    let body = if let Some(text) = edits.body {
        Bytes::from(text)
    } else if let Some(b64) = edits.body_base64 {
        Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| invalid("body_base64", "not valid base64".into()))?,
        )
    } else if e.request_body.truncated() {
        return Err(invalid(
            "body",
            format!(
                "only {} of the {} body bytes were captured; send the body to replay it",
                e.request_body.bytes.len(),
                e.request_body.size
            ),
        ));
    } else {
        Bytes::from(e.request_body.bytes.clone())
    };
    let headers = edits.headers.unwrap_or_else(|| e.request_headers.pairs());
    let mut builder = Request::builder().method(method).uri(uri);
    let mut has_host = false;
    for (name, value) in &headers {
        let lower = name.to_ascii_lowercase();
        if NOT_REPLAYED.contains(&lower.as_str()) || lower.starts_with(':') {
            continue;
        }
        has_host |= lower == "host";
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid("headers", format!("{name:?} is not a header name")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid("headers", format!("the value of {name} is not valid")))?;
        builder = builder.header(name, value);
    }
    if !has_host {
        builder = builder.header(header::HOST, e.host.as_str());
    }
    builder
        .extension(ReplayOf(e.id))
        .body(Full::new(body))
        .map_err(|err| invalid("headers", err.to_string()))
}

/// The request as a curl command.
#[utoipa::path(
    get,
    path = "/api/v1/requests/{id}/curl",
    operation_id = "request_as_curl",
    tag = "traffic",
    params(("id" = i64, Path, description = "Exchange id")),
    responses(
        (status = 200, description = "A shell command", content_type = "text/plain", body = String),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn curl(
    State(state): State<AdminState>,
    path: Result<Path<ExchangeId>, PathRejection>,
) -> Result<Response, Problem> {
    let id = id_from(path)?;
    let traffic = api(&state)?;
    let exchange = load(&traffic, id).await?;
    let command = crate::inspect::curl::curl_command(&exchange, Some(&traffic.ca_file));
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        command,
    )
        .into_response())
}
/// How many exchanges one HAR export holds at most.
const HAR_MAX: usize = 10_000;

/// Export the filtered exchanges (at most 10,000, newest first) as HAR 1.2.
#[utoipa::path(
    get,
    path = "/api/v1/requests/har",
    operation_id = "export_har",
    tag = "traffic",
    params(TrafficFilter),
    responses(
        (status = 200, description = "A HAR 1.2 document", body = serde_json::Value),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn export_har(
    State(state): State<AdminState>,
    query: Result<Query<TrafficFilter>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(filter) = query.map_err(Problem::bad_query)?;
    let traffic = api(&state)?;
    let store = traffic.store.clone();
    let exchanges = blocking(move || store.exchanges(&filter, HAR_MAX)).await?;
    let har = crate::inspect::har::to_har(&exchanges, env!("CARGO_PKG_VERSION"));
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"portico.har\"",
            ),
        ],
        har.to_string(),
    )
        .into_response())
}

/// How many exchanges a HAR import added.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// Added (marked `imported`).
    pub imported: usize,
    /// Their ids.
    pub ids: Vec<ExchangeId>,
}

/// Import a HAR file (from a browser's DevTools, or another Portico) to view its exchanges.
#[utoipa::path(
    post,
    path = "/api/v1/requests/har",
    operation_id = "import_har",
    tag = "traffic",
    request_body(content = serde_json::Value, description = "A HAR 1.2 document", content_type = "application/json"),
    responses(
        (status = 200, description = "Imported", body = Imported),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 422, response = Unprocessable),
    )
)]
pub(super) async fn import_har(
    State(state): State<AdminState>,
    body: Bytes,
) -> Result<Json<Imported>, Problem> {
    let traffic = api(&state)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| Problem::invalid("har", "the file is not UTF-8 text".into()))?;
    let mut exchanges = crate::inspect::har::from_har(text)
        .map_err(|err| Problem::invalid("har", err.to_string()))?;
    for e in &mut exchanges {
        e.id = traffic.inspector.allocate_id();
        e.imported = true;
    }
    let ids: Vec<ExchangeId> = exchanges.iter().map(|e| e.id).collect();
    let store = traffic.store.clone();
    blocking(move || store.insert(&exchanges)).await?;
    Ok(Json(Imported {
        imported: ids.len(),
        ids,
    }))
}
