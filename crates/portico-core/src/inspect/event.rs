//! What the inspector records about one request and its response.

use serde::{Deserialize, Serialize};

use super::headers::Headers;

/// Identifier of a captured exchange. Assigned when the request starts, so a WebSocket's
/// closing counts can be attached to the exchange recorded at its upgrade.
pub type ExchangeId = i64;

/// One request through the proxy and what came back, as captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exchange {
    /// Identifier.
    pub id: ExchangeId,
    /// When the request arrived, Unix milliseconds.
    pub started_at: i64,
    /// Method.
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Host as the client asked (without port).
    pub host: String,
    /// Path.
    pub path: String,
    /// Query string, without `?`.
    pub query: Option<String>,
    /// `HTTP/1.1`, `HTTP/2`…
    pub version: String,
    /// Client address.
    pub client: String,
    /// Matched route id.
    pub route_id: Option<i64>,
    /// Matched route, as `host/path`.
    pub route: Option<String>,
    /// Upstream the request went to.
    pub upstream: Option<String>,
    /// Response status (absent if no response was sent).
    pub status: Option<u16>,
    /// From request start to the last response byte, milliseconds.
    pub duration_ms: f64,
    /// From request start to the upstream's response headers, milliseconds.
    pub ttfb_ms: Option<f64>,
    /// Request head and body bytes as received.
    pub bytes_in: u64,
    /// Response head and body bytes as sent.
    pub bytes_out: u64,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Who caused it: `client`, `upstream` or `portico`.
    pub error_side: Option<String>,
    /// Portico's error code (`upstream-refused`, …) when Portico answered itself.
    pub error_code: Option<String>,
    /// Request headers, in order, as `[name, value]` pairs.
    #[schema(value_type = Vec<Vec<String>>)]
    pub request_headers: Headers,
    /// Response headers, in order, as `[name, value]` pairs.
    #[schema(value_type = Vec<Vec<String>>)]
    pub response_headers: Headers,
    /// Request body preview (at most the capture limit) and its true size.
    pub request_body: Preview,
    /// Response body preview and its true size.
    pub response_body: Preview,
    /// For upgraded connections: frames and bytes each way.
    pub websocket: Option<WebSocketStats>,
    /// The exchange this one replays.
    pub replay_of: Option<ExchangeId>,
    /// Loaded from a HAR file rather than captured.
    pub imported: bool,
    /// What the route's cache did: `hit`, `miss`, `revalidated`, `stale`, `bypass` or
    /// `collapsed` (absent when the route does not cache).
    #[serde(default)]
    pub cache: Option<String>,
    /// The encoding Portico compressed the response with (`zstd`, `br`, `gzip`), if any.
    #[serde(default)]
    pub compression: Option<String>,
}

impl Exchange {
    /// A placeholder with nothing in it.
    pub(crate) fn empty() -> Exchange {
        Exchange {
            id: 0,
            started_at: 0,
            method: String::new(),
            scheme: String::new(),
            host: String::new(),
            path: String::new(),
            query: None,
            version: String::new(),
            client: String::new(),
            route_id: None,
            route: None,
            upstream: None,
            status: None,
            duration_ms: 0.0,
            ttfb_ms: None,
            bytes_in: 0,
            bytes_out: 0,
            error: None,
            error_side: None,
            error_code: None,
            request_headers: Headers::new(),
            response_headers: Headers::new(),
            request_body: Preview::default(),
            response_body: Preview::default(),
            websocket: None,
            replay_of: None,
            imported: false,
            cache: None,
            compression: None,
        }
    }
}

/// The first bytes of a body and how big it really was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Preview {
    /// At most the capture limit, as it went over the wire (still content-encoded), base64.
    #[serde(with = "base64_bytes")]
    #[schema(value_type = String, format = Byte)]
    pub bytes: Vec<u8>,
    /// The true size.
    pub size: u64,
}

impl Preview {
    /// Whether the preview is shorter than the body.
    pub fn truncated(&self) -> bool {
        (self.bytes.len() as u64) < self.size
    }
}

/// Frame and byte counts of an upgraded (WebSocket) connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebSocketStats {
    /// Frames from the client.
    pub frames_in: u64,
    /// Frames to the client.
    pub frames_out: u64,
    /// Bytes from the client.
    pub bytes_in: u64,
    /// Bytes to the client.
    pub bytes_out: u64,
    /// Whether the connection has ended.
    pub closed: bool,
}

/// The short form of an exchange, for lists and the live stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    /// Identifier.
    pub id: ExchangeId,
    /// Unix milliseconds.
    pub started_at: i64,
    /// Method.
    pub method: String,
    /// Scheme.
    pub scheme: String,
    /// Host.
    pub host: String,
    /// Path.
    pub path: String,
    /// Query.
    pub query: Option<String>,
    /// Status.
    pub status: Option<u16>,
    /// Total duration, ms.
    pub duration_ms: f64,
    /// Response bytes.
    pub bytes_out: u64,
    /// Route label.
    pub route: Option<String>,
    /// Error, if any.
    pub error: Option<String>,
    /// Who caused the error.
    pub error_side: Option<String>,
    /// Whether it was an upgrade.
    pub websocket: bool,
    /// Replay of.
    pub replay_of: Option<ExchangeId>,
    /// What the cache did, if the route caches.
    #[serde(default)]
    pub cache: Option<String>,
}

impl From<&Exchange> for Summary {
    fn from(e: &Exchange) -> Self {
        Summary {
            id: e.id,
            started_at: e.started_at,
            method: e.method.clone(),
            scheme: e.scheme.clone(),
            host: e.host.clone(),
            path: e.path.clone(),
            query: e.query.clone(),
            status: e.status,
            duration_ms: e.duration_ms,
            bytes_out: e.bytes_out,
            route: e.route.clone(),
            error: e.error.clone(),
            error_side: e.error_side.clone(),
            websocket: e.websocket.is_some(),
            replay_of: e.replay_of,
            cache: e.cache.clone(),
        }
    }
}

/// Bodies travel as base64 in JSON.
mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}
