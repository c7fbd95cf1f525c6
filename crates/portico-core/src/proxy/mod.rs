//! The reverse proxy: listeners, matching a request to a route, forwarding with a pooled
//! client, protocol upgrades (WebSocket, HMR) and the error pages Portico answers itself.
//!
//! It reads routes only from an immutable [`RouteTable`] snapshot; it never touches the store.

mod auth;
mod balance;
mod body;
mod conns;
mod error_page;
mod forward;
mod gate;
mod headers;
mod health;
mod lanes;
mod limit;
mod listener;
mod load;
#[cfg(test)]
mod properties;
mod resolve;
mod route_table;
mod upgrade;
mod upstream;

pub use balance::{Member, Pool, sticky_cookie_name};
pub use body::BodyError;
pub use conns::{ConnCounts, ConnSlot};
pub use forward::{ConnInfo, Proxy, ProxyOptions};
pub use gate::Gate;
pub(crate) use headers::cookie;
pub use health::{HealthChange, HealthMonitor, PROBE_EVERY, RouteHealth, UpstreamHealth};
pub use limit::RateLimit;
pub use listener::{Fallback, ListenSpec, Listeners, ServeOptions, serve};
pub use load::{Held, Load, LoadStatus};
pub(crate) use resolve::is_localhost;
pub use route_table::{RouteTable, Target};

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::combinators::BoxBody;

/// Boxed error carried by bodies and sources.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type of every request forwarded and every response returned.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// The largest request head the proxy forwards (request line and headers, as sent on
/// HTTP/1.1), 64 KiB: more is answered 431. Node's servers refuse more than 16 KiB, so a dev
/// server behind Portico never needs more; the bound keeps one client from making Portico
/// carry (and the inspector store) hundreds of KiB of headers per request.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Who caused a failure: shown by error pages and, later, by the inspector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The client sent something Portico cannot serve.
    Client,
    /// The upstream dev server refused, failed or was too slow.
    Upstream,
    /// Portico's own configuration or state.
    Portico,
}

/// A failure on the data path (each becomes a response through [`Error::status`]) or while
/// binding a listener.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request cannot be forwarded as it is (no usable Host, CONNECT, …).
    #[error("bad request: {reason}")]
    BadRequest {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No enabled route matches the host and path.
    #[error("no route for {host}{path}")]
    NoRoute {
        /// Requested host.
        host: String,
        /// Requested path.
        path: String,
    },
    /// The upstream is Portico itself, or the request has already passed through Portico
    /// too many times.
    #[error("route {route} forwards to {upstream}, which is Portico itself")]
    Loop {
        /// The route, as `host/path`.
        route: String,
        /// The upstream URL.
        upstream: String,
    },
    /// Nothing listens at the upstream's address.
    #[error("{upstream} refused the connection")]
    UpstreamRefused {
        /// The route, as `host/path`.
        route: String,
        /// The upstream URL.
        upstream: String,
        /// The connect error.
        source: BoxError,
    },
    /// The upstream's address could not be resolved or reached.
    #[error("{upstream} could not be reached")]
    UpstreamUnreachable {
        /// The route, as `host/path`.
        route: String,
        /// The upstream URL.
        upstream: String,
        /// The connect error.
        source: BoxError,
    },
    /// The upstream accepted the connection, then closed it or answered with something that
    /// is not HTTP.
    #[error("{upstream} closed the connection or sent an invalid response")]
    UpstreamFailed {
        /// The route, as `host/path`.
        route: String,
        /// The upstream URL.
        upstream: String,
        /// The protocol error.
        source: BoxError,
    },
    /// The upstream sent no response headers within the route's timeout.
    #[error("every upstream of route {route} is down: {}", down.iter().map(|(u, e)| format!("{u} ({e})")).collect::<Vec<_>>().join("; "))]
    AllDown {
        route: String,
        down: Vec<(String, String)>,
    },
    #[error("{upstream} did not answer within {timeout:?}")]
    UpstreamTimeout {
        /// The route, as `host/path`.
        route: String,
        /// The upstream URL.
        upstream: String,
        /// The route's timeout.
        timeout: Duration,
    },
    /// A static route's folder cannot be served.
    #[error("route {route}: {source}")]
    StaticDir {
        /// The route, as `host/path`.
        route: String,
        /// What is wrong with the folder.
        source: crate::static_files::Error,
    },
    /// The client's address may not use this route (or any route).
    #[error("{client} may not use {scope}: {}", match refusal {
        crate::config::Refusal::Denied(_) => "its address is in the denied list",
        crate::config::Refusal::NotAllowed => "its address is not in the allowed list",
    })]
    Forbidden {
        /// `route HOST/PATH`, or `any route` for the global lists.
        scope: String,
        /// The client's address.
        client: std::net::IpAddr,
        /// Which list refused it.
        refusal: crate::config::Refusal,
    },
    /// The client sent more requests than its rate limit allows.
    #[error("{client} sent more than {per_sec} requests a second to {scope}")]
    RateLimited {
        /// `route HOST/PATH`, or `any route` for the global limit.
        scope: String,
        /// The client's address.
        client: std::net::IpAddr,
        /// The limit.
        per_sec: u64,
        /// How long until it may send again.
        retry_after: Duration,
    },
    /// The client has more connections open (settings) or requests in flight (a route)
    /// than the limit allows.
    #[error("{client} has more than {limit} {what} open to {scope}")]
    TooManyConnections {
        /// `route HOST/PATH`, or `any route` for the global limit.
        scope: String,
        /// The client's address.
        client: std::net::IpAddr,
        /// The limit.
        limit: u64,
        /// `connections` (settings) or `requests` (a route: requests in flight).
        what: &'static str,
    },
    /// The route needs basic auth and the request has no credentials, or wrong ones.
    #[error("{} for route {route}", if *failed { "wrong user name or password" } else { "credentials needed" })]
    Unauthorized {
        /// The route, as `host/path`.
        route: String,
        /// The realm announced in `WWW-Authenticate` (the route's host).
        realm: String,
        /// Whether credentials were given (and were wrong).
        failed: bool,
    },
    /// The request's head is larger than [`MAX_HEAD_BYTES`].
    #[error("the request's headers take {size} bytes, more than the {limit}-byte limit")]
    HeadersTooLarge {
        /// The head's size: request line and headers.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The request's body is larger than the route's (or every route's) limit.
    #[error("the request body is larger than the {limit}-byte limit of {scope}")]
    BodyTooLarge {
        /// `route HOST/PATH`.
        scope: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A request came in on a LAN listener whose route is no longer shared (switched off,
    /// expired, disabled or removed).
    #[error("this address no longer serves a shared route")]
    NotShared,
    /// Proxying is paused (the `proxy_paused` setting).
    #[error("Portico is paused: it answers no route until it is resumed")]
    Paused,
    /// A listener address could not be bound.
    #[error(
        "cannot listen on {addr}: {source}; if another program (or another Portico) has it, stop that one or choose another address"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Error {
    /// The status Portico answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::NoRoute { .. } | Error::NotShared => StatusCode::NOT_FOUND,
            Error::Loop { .. } => StatusCode::LOOP_DETECTED,
            Error::UpstreamRefused { .. }
            | Error::UpstreamUnreachable { .. }
            | Error::UpstreamFailed { .. }
            | Error::AllDown { .. } => StatusCode::BAD_GATEWAY,
            Error::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Error::StaticDir { .. } => StatusCode::BAD_GATEWAY,
            Error::Paused => StatusCode::SERVICE_UNAVAILABLE,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::RateLimited { .. } | Error::TooManyConnections { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::Bind { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Who caused it.
    pub fn side(&self) -> Side {
        match self {
            Error::BadRequest { .. }
            | Error::NoRoute { .. }
            | Error::NotShared
            | Error::Forbidden { .. }
            | Error::RateLimited { .. }
            | Error::TooManyConnections { .. }
            | Error::Unauthorized { .. }
            | Error::HeadersTooLarge { .. }
            | Error::BodyTooLarge { .. } => Side::Client,
            Error::UpstreamRefused { .. }
            | Error::UpstreamUnreachable { .. }
            | Error::UpstreamFailed { .. }
            | Error::AllDown { .. }
            | Error::UpstreamTimeout { .. } => Side::Upstream,
            Error::Loop { .. } | Error::StaticDir { .. } | Error::Paused | Error::Bind { .. } => {
                Side::Portico
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream_err(f: fn(String, String, BoxError) -> Error) -> Error {
        f(
            "app.localhost/".into(),
            "http://127.0.0.1:1".into(),
            "boom".into(),
        )
    }

    #[test]
    fn each_error_maps_to_its_status_and_side() {
        let cases = [
            (Error::BadRequest { reason: "no host" }, 400, Side::Client),
            (
                Error::NoRoute {
                    host: "x.localhost".into(),
                    path: "/".into(),
                },
                404,
                Side::Client,
            ),
            (
                Error::Loop {
                    route: "a".into(),
                    upstream: "b".into(),
                },
                508,
                Side::Portico,
            ),
            (
                upstream_err(|route, upstream, source| Error::UpstreamRefused {
                    route,
                    upstream,
                    source,
                }),
                502,
                Side::Upstream,
            ),
            (
                upstream_err(|route, upstream, source| Error::UpstreamUnreachable {
                    route,
                    upstream,
                    source,
                }),
                502,
                Side::Upstream,
            ),
            (
                upstream_err(|route, upstream, source| Error::UpstreamFailed {
                    route,
                    upstream,
                    source,
                }),
                502,
                Side::Upstream,
            ),
            (
                Error::UpstreamTimeout {
                    route: "a".into(),
                    upstream: "b".into(),
                    timeout: Duration::from_secs(1),
                },
                504,
                Side::Upstream,
            ),
            (Error::Paused, 503, Side::Portico),
            (
                Error::TooManyConnections {
                    scope: "any route".into(),
                    client: [127, 0, 0, 2].into(),
                    limit: 2,
                    what: "connections",
                },
                429,
                Side::Client,
            ),
            (
                Error::Unauthorized {
                    route: "a".into(),
                    realm: "a".into(),
                    failed: true,
                },
                401,
                Side::Client,
            ),
            (Error::NotShared, 404, Side::Client),
            (
                Error::HeadersTooLarge {
                    size: 70_000,
                    limit: MAX_HEAD_BYTES,
                },
                431,
                Side::Client,
            ),
        ];
        for (err, status, side) in cases {
            assert_eq!(err.status().as_u16(), status, "{err}");
            assert_eq!(err.side(), side, "{err}");
        }
    }
}
