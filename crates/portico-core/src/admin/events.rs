//! `/api/v1/events`: a Server-Sent Events stream of what changes in the engine. A browser's
//! `EventSource` sends the session cookie, so it authenticates like every other call.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::{Stream, StreamExt as _};
use serde::Serialize;
use tokio::sync::broadcast;

use super::AdminState;

/// Something that changed. Clients re-read the resource it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Routes were added, changed or removed (through the API, the CLI, or a project).
    RoutesChanged,
    /// Settings changed.
    SettingsChanged,
    /// The CA was replaced or re-issued.
    CaChanged {
        /// SHA-256 of the (possibly new) root.
        fingerprint: String,
    },
    /// One of a route's upstreams went up or down: a probe's verdict, or failed requests
    /// putting it to rest (see `/api/v1/health`).
    UpstreamHealth {
        /// The route.
        route_id: i64,
        /// Whether the route has an upstream up now.
        up: bool,
        /// The upstream whose state changed.
        upstream: String,
        /// Whether that upstream is up now.
        upstream_up: bool,
        /// What went wrong with it (when down).
        error: Option<String>,
    },
    /// A route started or stopped being shared on the network (see
    /// `/api/v1/routes/{id}/share`).
    ShareChanged {
        /// The route.
        route_id: i64,
        /// Whether it is shared now.
        shared: bool,
        /// It stopped because its time ran out.
        expired: bool,
    },
    /// Events were dropped because this client read too slowly; re-read everything.
    Lagged {
        /// How many.
        missed: u64,
    },
}

/// Live change notifications (Server-Sent Events).
///
/// Each change is an event named `change` whose data is an `Event` as JSON; a comment every
/// 15 s keeps the connection open.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "stream_events",
    tag = "events",
    responses(
        (status = 200, description = "Events named `change`, each with an `Event` (JSON) as \
            its data, until the client disconnects", body = String,
            content_type = "text/event-stream"),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
    )
)]
pub(super) async fn stream(
    State(state): State<AdminState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let receiver = state.control.events();
    let events = futures_util::stream::unfold(receiver, |mut rx| async move {
        let event = match rx.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => Event::Lagged { missed },
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        let data = serde_json::to_string(&event).unwrap_or_default();
        Some((Ok(SseEvent::default().event("change").data(data)), rx))
    });
    let events = events.take_until(state.stop.clone().cancelled_owned());
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
