//! Routes and settings, and their validation: the one place that says what is valid.
//!
//! Everything that enters Portico (CLI arguments, store rows, later the admin API) becomes a
//! [`Route`] only through [`NewRoute::validate`] or [`RoutePatch::apply`], so the rest of the
//! engine can trust the types here. This module does no I/O.

mod access;
#[cfg(test)]
pub(crate) mod arbitrary;
mod balance;
mod basic_auth;
mod features;
mod host;
pub(crate) mod object;
#[cfg(test)]
mod properties;
mod share;
mod upstream;

pub use access::{Access, IpList, Refusal, admits};
pub use balance::{Balancing, HealthCheck, Policy};
pub use basic_auth::{AuthUser, AuthUserInput, BasicAuth, verify_password};
pub use features::{
    BACKEND_HEADERS, DEFAULT_REDIRECT_STATUS, HeaderPair, HeaderRules, REDIRECT_CODES, RouteTarget,
};
pub use host::HostPattern;
pub use object::Object;
pub use share::{DEFAULT_SHARE_ALLOW, share_allow_list};
pub use upstream::Upstream;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a route or setting was refused. Each variant names the field and says what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The host is not a valid DNS name or `*.` wildcard.
    #[error("invalid host {host:?}: {reason}")]
    InvalidHost {
        /// The host as given.
        host: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// The path prefix is not an absolute URL path.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// The upstream is not an `http://host:port` URL.
    #[error("invalid upstream {upstream:?}: {reason}")]
    InvalidUpstream {
        /// The upstream as given.
        upstream: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// A setting is out of range or malformed.
    #[error("invalid setting {field}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        field: &'static str,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// The timeout is zero or absurdly long.
    #[error("invalid timeout {timeout_ms} ms: {reason}")]
    InvalidTimeout {
        /// The timeout as given, in milliseconds.
        timeout_ms: u64,
        /// What is wrong and what to write instead.
        reason: String,
    },
}

impl Error {
    /// The name of the offending field, as the API and CLI call it.
    pub fn field(&self) -> &'static str {
        match self {
            Error::InvalidHost { .. } => "host",
            Error::InvalidPath { .. } => "path",
            Error::InvalidUpstream { .. } => "upstreams",
            Error::InvalidTimeout { .. } => "timeout_ms",
            Error::InvalidSetting { field, .. } => field,
        }
    }
}

/// Stable identifier of a stored route.
pub type RouteId = i64;

/// How long Portico waits for an upstream's response headers before answering 504.
/// Dev servers can take a long time on a first compile, so this is generous.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest per-route timeout accepted: one hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// A validated route: requests for `host` whose path starts with `path` go to `upstream`.
/// Deserializing validates every field again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Route {
    /// Store identifier.
    #[schema(value_type = i64)]
    pub id: RouteId,
    /// Exact host or `*.` wildcard.
    pub host: HostPattern,
    /// Path prefix, matched on segment boundaries. Default: `/`.
    pub path: PathPrefix,
    /// Where requests go: one or more for a proxying route (spread over by `balancing`);
    /// empty for a static or redirect route.
    pub upstreams: Vec<Upstream>,
    /// How requests are spread over several upstreams and when one counts as down.
    pub balancing: Balancing,
    /// Remove the matched prefix before forwarding. Default: false.
    pub strip_prefix: bool,
    /// Send the upstream's own `host:port` as `Host` instead of the client's. Default: false.
    pub upstream_host: bool,
    /// Wait for upstream response headers at most this long, in milliseconds.
    /// Default: 60000 (`DEFAULT_TIMEOUT`, 60 s).
    #[schema(minimum = 1, maximum = 3_600_000)]
    pub timeout_ms: u64,
    /// Disabled routes stay stored but match nothing. Default: true.
    pub enabled: bool,
    /// Answer plain-HTTP requests with a 308 to the same URL over HTTPS (when the HTTPS
    /// listener is on). Default: true.
    pub https_redirect: bool,
    /// The project folder whose `portico.json` added this route (`portico up`), if any.
    /// Default: none.
    #[schema(required = true)]
    pub project: Option<String>,
    /// Record this route's traffic in the inspector. Default: true.
    pub capture: bool,
    /// Serve this folder (absolute path) instead of forwarding. Default: none.
    #[schema(required = true)]
    pub static_dir: Option<String>,
    /// Static folders: answer paths that match no file (and look like pages) with the
    /// folder's `index.html`, for single-page apps. Default: false.
    pub spa: bool,
    /// Static folders: list a directory's files when it has no `index.html`. Default: false.
    pub dir_listing: bool,
    /// Static folders: follow symbolic links that lead outside the folder. Default: false.
    pub follow_symlinks: bool,
    /// Answer every request with a redirect to this URL instead of forwarding. Default: none.
    #[schema(required = true)]
    pub redirect: Option<String>,
    /// The redirect's status: 301, 302, 307 or 308. Default: 307.
    pub redirect_status: u16,
    /// Append the request's path (after the prefix, when `strip_prefix`) and query to the
    /// redirect URL. Default: true.
    pub redirect_keep_path: bool,
    /// Compress responses (zstd, br or gzip, as the client accepts). Default: the
    /// `default_compress` setting when the route is created.
    pub compress: bool,
    /// Cache responses as a shared HTTP cache would (RFC 9111). Default: the
    /// `default_cache` setting when the route is created.
    pub cache: bool,
    /// Cache responses that say nothing about caching for this many seconds (simulating a
    /// CDN). Default: none (only what the upstream allows is cached).
    #[schema(required = true, minimum = 1, maximum = 31_536_000)]
    pub cache_ttl_secs: Option<u64>,
    /// Changes to the request headers before forwarding.
    pub request_headers: HeaderRules,
    /// Changes to the response headers before answering.
    pub response_headers: HeaderRules,
    /// Remove `Server`, `X-Powered-By` and similar headers from responses. Default: false.
    pub hide_backend: bool,
    /// When not empty, only clients from these addresses (IPs or CIDR ranges) may use the
    /// route; others get 403. Default: everyone.
    #[schema(value_type = Vec<String>, example = json!(["127.0.0.1", "192.168.1.0/24"]))]
    pub allow_ips: IpList,
    /// Clients from these addresses get 403, even when `allow_ips` names them. Default: none.
    #[schema(value_type = Vec<String>, example = json!(["192.168.1.66"]))]
    pub deny_ips: IpList,
    /// At most this many requests per second from each client address (bursts up to the same
    /// number); more get 429 with `Retry-After`. Default: none (no limit).
    #[schema(required = true, minimum = 1, maximum = 1_000_000)]
    pub rate_limit_per_sec: Option<u64>,
    /// Refuse request bodies larger than this many bytes with 413. Default: none (no limit).
    #[schema(required = true, minimum = 1, maximum = 1_099_511_627_776.0)]
    pub max_body_bytes: Option<u64>,
    /// At most this many requests in flight at once from each client address on this route
    /// (HTTP/2 multiplexes requests over one connection, so a route counts requests, not
    /// connections); more get 429. Default: none (no limit).
    #[schema(required = true, minimum = 1, maximum = 100_000)]
    pub max_conns_per_ip: Option<u64>,
    /// HTTP basic auth: when not empty, a request needs one of these users' name and password
    /// (else 401). Only the names are shown; passwords are stored as argon2 hashes and never
    /// returned. Default: none (no credentials needed).
    #[schema(value_type = Vec<String>, example = json!(["alice"]))]
    pub basic_auth: BasicAuth,
    /// Also serve this route on the machine's LAN address (`https://LAN-IP:share_port/`), for
    /// phones and other devices on the network. Only exact-name routes can be shared.
    /// Default: false (loopback only).
    pub shared: bool,
    /// The port the shared route listens on at the LAN address: a free one is chosen when
    /// sharing starts, and kept afterwards. Default: none.
    #[schema(required = true, minimum = 1, maximum = 65535)]
    pub share_port: Option<u16>,
    /// When sharing stops by itself, in Unix milliseconds. Default: none (until switched off).
    #[schema(required = true)]
    pub share_expires_at: Option<u64>,
    /// Who may use the shared route, as IPs or CIDR ranges. Default: empty, meaning the
    /// private ranges (`DEFAULT_SHARE_ALLOW`: 10/8, 172.16/12, 192.168/16, 169.254/16,
    /// fc00::/7, fe80::/10 and loopback).
    #[schema(value_type = Vec<String>, example = json!(["192.168.1.0/24"]))]
    pub share_allow_ips: IpList,
}

impl Route {
    /// Whether the route is shared on the LAN at `now_ms` (Unix milliseconds): shared,
    /// enabled, and not expired.
    pub fn shared_at(&self, now_ms: u64) -> bool {
        self.shared && self.enabled && self.share_expires_at.is_none_or(|at| at > now_ms)
    }

    /// The per-route response-header timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// A route as a user writes it, before validation.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoute {
    /// Host, e.g. `app.localhost` or `*.app.localhost`.
    #[schema(example = "app.localhost")]
    pub host: String,
    /// Path prefix; default `/`.
    #[serde(default)]
    #[schema(example = "/")]
    pub path: Option<String>,
    /// Upstream targets: `http://host:port[/base]`, `host:port` or a bare port; one or more
    /// (at most 32), unless the route has a `static_dir` or a `redirect` instead.
    #[serde(default)]
    #[schema(example = json!(["5173"]))]
    pub upstreams: Vec<String>,
    /// How requests are spread over several upstreams. Default: round robin, one failure
    /// marks an upstream down for 10 s, no active health check.
    #[serde(default)]
    pub balancing: Balancing,
    /// Default: false.
    #[serde(default)]
    pub strip_prefix: bool,
    /// Default: false.
    #[serde(default)]
    pub upstream_host: bool,
    /// Default: 60000.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3_600_000)]
    pub timeout_ms: Option<u64>,
    /// Default: true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Default: true.
    #[serde(default)]
    pub https_redirect: Option<bool>,
    /// Default: true.
    #[serde(default)]
    pub capture: Option<bool>,
    /// A folder to serve instead of an upstream (absolute path).
    #[serde(default)]
    pub static_dir: Option<String>,
    /// Default: false.
    #[serde(default)]
    pub spa: bool,
    /// Default: false.
    #[serde(default)]
    pub dir_listing: bool,
    /// Default: false.
    #[serde(default)]
    pub follow_symlinks: bool,
    /// A URL to redirect to instead of an upstream.
    #[serde(default)]
    pub redirect: Option<String>,
    /// Default: 307.
    #[serde(default)]
    pub redirect_status: Option<u16>,
    /// Default: true.
    #[serde(default)]
    pub redirect_keep_path: Option<bool>,
    /// Default: the `default_compress` setting.
    #[serde(default)]
    pub compress: Option<bool>,
    /// Default: the `default_cache` setting.
    #[serde(default)]
    pub cache: Option<bool>,
    /// Default: none.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_536_000)]
    pub cache_ttl_secs: Option<u64>,
    /// Default: no changes.
    #[serde(default)]
    pub request_headers: HeaderRules,
    /// Default: no changes.
    #[serde(default)]
    pub response_headers: HeaderRules,
    /// Default: false.
    #[serde(default)]
    pub hide_backend: bool,
    /// Default: everyone.
    #[serde(default)]
    pub allow_ips: Vec<String>,
    /// Default: none.
    #[serde(default)]
    pub deny_ips: Vec<String>,
    /// Default: none (no limit).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub rate_limit_per_sec: Option<u64>,
    /// Default: none (no limit).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_099_511_627_776.0)]
    pub max_body_bytes: Option<u64>,
    /// Default: none (no limit).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100_000)]
    pub max_conns_per_ip: Option<u64>,
    /// Users who may use the route, each with a password. Default: none (no credentials
    /// needed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub basic_auth: Vec<AuthUserInput>,
    /// Default: false.
    #[serde(default)]
    pub shared: bool,
    /// Default: none (a free port when sharing starts).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 65535)]
    pub share_port: Option<u64>,
    /// Default: none.
    #[serde(default)]
    pub share_expires_at: Option<u64>,
    /// Default: the private ranges.
    #[serde(default)]
    pub share_allow_ips: Vec<String>,
}

/// A validated route that has no id yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRoute {
    /// See [`Route::host`].
    pub host: HostPattern,
    /// See [`Route::path`].
    pub path: PathPrefix,
    /// See [`Route::upstreams`].
    pub upstreams: Vec<Upstream>,
    /// See [`Route::balancing`].
    pub balancing: Balancing,
    /// See [`Route::strip_prefix`].
    pub strip_prefix: bool,
    /// See [`Route::upstream_host`].
    pub upstream_host: bool,
    /// See [`Route::timeout_ms`].
    pub timeout_ms: u64,
    /// See [`Route::enabled`].
    pub enabled: bool,
    /// See [`Route::https_redirect`].
    pub https_redirect: bool,
    /// See [`Route::project`].
    pub project: Option<String>,
    /// See [`Route::capture`].
    pub capture: bool,
    /// See [`Route::static_dir`].
    pub static_dir: Option<String>,
    /// See [`Route::spa`].
    pub spa: bool,
    /// See [`Route::dir_listing`].
    pub dir_listing: bool,
    /// See [`Route::follow_symlinks`].
    pub follow_symlinks: bool,
    /// See [`Route::redirect`].
    pub redirect: Option<String>,
    /// See [`Route::redirect_status`].
    pub redirect_status: u16,
    /// See [`Route::redirect_keep_path`].
    pub redirect_keep_path: bool,
    /// See [`Route::compress`].
    pub compress: bool,
    /// See [`Route::cache`].
    pub cache: bool,
    /// See [`Route::cache_ttl_secs`].
    pub cache_ttl_secs: Option<u64>,
    /// See [`Route::request_headers`].
    pub request_headers: HeaderRules,
    /// See [`Route::response_headers`].
    pub response_headers: HeaderRules,
    /// See [`Route::hide_backend`].
    pub hide_backend: bool,
    /// See [`Route::allow_ips`].
    pub allow_ips: IpList,
    /// See [`Route::deny_ips`].
    pub deny_ips: IpList,
    /// See [`Route::rate_limit_per_sec`].
    pub rate_limit_per_sec: Option<u64>,
    /// See [`Route::max_body_bytes`].
    pub max_body_bytes: Option<u64>,
    /// See [`Route::max_conns_per_ip`].
    pub max_conns_per_ip: Option<u64>,
    /// See [`Route::basic_auth`].
    pub basic_auth: BasicAuth,
    /// See [`Route::shared`].
    pub shared: bool,
    /// See [`Route::share_port`].
    pub share_port: Option<u16>,
    /// See [`Route::share_expires_at`].
    pub share_expires_at: Option<u64>,
    /// See [`Route::share_allow_ips`].
    pub share_allow_ips: IpList,
}

impl ValidRoute {
    /// Attach the id the store assigned.
    pub fn with_id(self, id: RouteId) -> Route {
        Route {
            id,
            host: self.host,
            path: self.path,
            upstreams: self.upstreams,
            balancing: self.balancing,
            strip_prefix: self.strip_prefix,
            upstream_host: self.upstream_host,
            timeout_ms: self.timeout_ms,
            enabled: self.enabled,
            https_redirect: self.https_redirect,
            project: self.project,
            capture: self.capture,
            static_dir: self.static_dir,
            spa: self.spa,
            dir_listing: self.dir_listing,
            follow_symlinks: self.follow_symlinks,
            redirect: self.redirect,
            redirect_status: self.redirect_status,
            redirect_keep_path: self.redirect_keep_path,
            compress: self.compress,
            cache: self.cache,
            cache_ttl_secs: self.cache_ttl_secs,
            request_headers: self.request_headers,
            response_headers: self.response_headers,
            hide_backend: self.hide_backend,
            allow_ips: self.allow_ips,
            deny_ips: self.deny_ips,
            rate_limit_per_sec: self.rate_limit_per_sec,
            max_body_bytes: self.max_body_bytes,
            max_conns_per_ip: self.max_conns_per_ip,
            basic_auth: self.basic_auth,
            shared: self.shared,
            share_port: self.share_port,
            share_expires_at: self.share_expires_at,
            share_allow_ips: self.share_allow_ips,
        }
    }
}

impl NewRoute {
    /// Check every field; the first problem found is returned. Hashes new passwords
    /// (argon2, slow): call it off the async runtime when `basic_auth` has any.
    pub fn validate(&self) -> Result<ValidRoute, Error> {
        let host = HostPattern::parse(&self.host)?;
        let path = PathPrefix::parse(self.path.as_deref().unwrap_or("/"))?;
        let static_dir = self
            .static_dir
            .as_deref()
            .map(features::validate_static_dir)
            .transpose()?;
        let redirect = self
            .redirect
            .as_deref()
            .map(features::validate_redirect)
            .transpose()?;
        let upstreams = validate_upstreams(&self.upstreams)?;
        check_one_target(&upstreams, &static_dir, &redirect)?;
        self.balancing.validate()?;
        let timeout_ms = validate_timeout(self.timeout_ms)?;
        let redirect_status = features::validate_redirect_status(
            self.redirect_status
                .unwrap_or(features::DEFAULT_REDIRECT_STATUS),
        )?;
        let cache_ttl_secs = features::validate_cache_ttl(self.cache_ttl_secs)?;
        self.request_headers.validate("request_headers")?;
        self.response_headers.validate("response_headers")?;
        let allow_ips = IpList::parse("allow_ips", &self.allow_ips)?;
        let deny_ips = IpList::parse("deny_ips", &self.deny_ips)?;
        let rate_limit_per_sec =
            validate_rate_limit("rate_limit_per_sec", self.rate_limit_per_sec)?;
        let max_body_bytes = validate_max_body("max_body_bytes", self.max_body_bytes)?;
        let max_conns_per_ip = validate_conn_limit("max_conns_per_ip", self.max_conns_per_ip)?;
        let basic_auth = BasicAuth::from_input(&self.basic_auth, &BasicAuth::default())?;
        share::check_shareable(&host, self.shared)?;
        let share_port = share::validate_port("share_port", self.share_port)?;
        let share_allow_ips = IpList::parse("share_allow_ips", &self.share_allow_ips)?;
        Ok(ValidRoute {
            host,
            path,
            upstreams,
            balancing: self.balancing.clone(),
            strip_prefix: self.strip_prefix,
            upstream_host: self.upstream_host,
            timeout_ms,
            enabled: self.enabled.unwrap_or(true),
            https_redirect: self.https_redirect.unwrap_or(true),
            project: None,
            capture: self.capture.unwrap_or(true),
            static_dir,
            spa: self.spa,
            dir_listing: self.dir_listing,
            follow_symlinks: self.follow_symlinks,
            redirect,
            redirect_status,
            redirect_keep_path: self.redirect_keep_path.unwrap_or(true),
            compress: self.compress.unwrap_or(false),
            cache: self.cache.unwrap_or(false),
            cache_ttl_secs,
            request_headers: self.request_headers.clone(),
            response_headers: self.response_headers.clone(),
            hide_backend: self.hide_backend,
            allow_ips,
            deny_ips,
            rate_limit_per_sec,
            max_body_bytes,
            max_conns_per_ip,
            basic_auth,
            shared: self.shared,
            share_port,
            share_expires_at: self.share_expires_at,
            share_allow_ips,
        })
    }

    /// Fill `compress` and `cache`, when not given, from the settings' defaults for new
    /// routes.
    pub fn with_defaults(mut self, settings: &Settings) -> NewRoute {
        self.compress = self.compress.or(Some(settings.default_compress));
        self.cache = self.cache.or(Some(settings.default_cache));
        self
    }
}

/// A partial change to a stored route; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutePatch {
    /// New host.
    pub host: Option<String>,
    /// New path prefix.
    pub path: Option<String>,
    /// New upstream targets.
    pub upstreams: Option<Vec<String>>,
    /// New balancing (replaces the whole object; absent fields take their defaults).
    pub balancing: Option<Balancing>,
    /// New strip-prefix flag.
    pub strip_prefix: Option<bool>,
    /// New upstream-host flag.
    pub upstream_host: Option<bool>,
    /// New timeout.
    #[schema(minimum = 1, maximum = 3_600_000)]
    pub timeout_ms: Option<u64>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Redirect plain HTTP to HTTPS, or not.
    pub https_redirect: Option<bool>,
    /// Capture this route's traffic, or not.
    pub capture: Option<bool>,
    /// New folder to serve (replacing the upstream or redirect); `null` removes it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub static_dir: Option<Option<String>>,
    /// New SPA fallback flag.
    pub spa: Option<bool>,
    /// New directory listing flag.
    pub dir_listing: Option<bool>,
    /// New symlink flag.
    pub follow_symlinks: Option<bool>,
    /// New redirect URL (replacing the upstream or folder); `null` removes it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub redirect: Option<Option<String>>,
    /// New redirect status.
    pub redirect_status: Option<u16>,
    /// New keep-path flag.
    pub redirect_keep_path: Option<bool>,
    /// Compress, or not.
    pub compress: Option<bool>,
    /// Cache, or not.
    pub cache: Option<bool>,
    /// New "cache without headers" time; `null` removes it.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 31_536_000)]
    pub cache_ttl_secs: Option<Option<u64>>,
    /// New request header rules (replacing the old ones).
    pub request_headers: Option<HeaderRules>,
    /// New response header rules (replacing the old ones).
    pub response_headers: Option<HeaderRules>,
    /// Hide the backend's identity headers, or not.
    pub hide_backend: Option<bool>,
    /// New allowed client addresses (replacing the list; `[]` allows everyone).
    pub allow_ips: Option<Vec<String>>,
    /// New denied client addresses (replacing the list).
    pub deny_ips: Option<Vec<String>>,
    /// New per-client request rate limit; `null` removes it.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 1_000_000)]
    pub rate_limit_per_sec: Option<Option<u64>>,
    /// New request body size limit; `null` removes it.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 1_099_511_627_776.0)]
    pub max_body_bytes: Option<Option<u64>>,
    /// New per-client limit of requests in flight; `null` removes it.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 100_000)]
    pub max_conns_per_ip: Option<Option<u64>>,
    /// The route's users after the change (replacing the list): a user given without a
    /// password keeps the one it has, a user left out is removed, `[]` turns auth off.
    pub basic_auth: Option<Vec<AuthUserInput>>,
    /// Share on the LAN, or stop (stopping also clears `share_expires_at`).
    pub shared: Option<bool>,
    /// New LAN port; `null` has a free one chosen when sharing starts.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 65535)]
    pub share_port: Option<Option<u64>>,
    /// New expiry (Unix milliseconds); `null` shares until switched off.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>)]
    pub share_expires_at: Option<Option<u64>>,
    /// New list of who may use the shared route (replacing it; `[]` means the private ranges).
    pub share_allow_ips: Option<Vec<String>>,
}

impl RoutePatch {
    /// The route with this patch applied, validated; `route` itself is untouched. Hashes
    /// new passwords (argon2, slow): call it off the async runtime.
    pub fn apply(&self, route: &Route) -> Result<Route, Error> {
        let mut next = route.clone();
        if let Some(host) = &self.host {
            next.host = HostPattern::parse(host)?;
        }
        if let Some(path) = &self.path {
            next.path = PathPrefix::parse(path)?;
        }
        if let Some(upstreams) = &self.upstreams {
            next.upstreams = validate_upstreams(upstreams)?;
        }
        if let Some(balancing) = &self.balancing {
            balancing.validate()?;
            next.balancing = balancing.clone();
        }
        if let Some(strip) = self.strip_prefix {
            next.strip_prefix = strip;
        }
        if let Some(upstream_host) = self.upstream_host {
            next.upstream_host = upstream_host;
        }
        if self.timeout_ms.is_some() {
            next.timeout_ms = validate_timeout(self.timeout_ms)?;
        }
        if let Some(enabled) = self.enabled {
            next.enabled = enabled;
        }
        if let Some(redirect) = self.https_redirect {
            next.https_redirect = redirect;
        }
        if let Some(capture) = self.capture {
            next.capture = capture;
        }
        // A new target replaces the others: setting a folder on a proxying route turns it
        // into a static route.
        if let Some(dir) = &self.static_dir {
            next.static_dir = dir
                .as_deref()
                .map(features::validate_static_dir)
                .transpose()?;
            if next.static_dir.is_some() {
                next.redirect = None;
                next.upstreams.clear();
            }
        }
        if let Some(url) = &self.redirect {
            next.redirect = url
                .as_deref()
                .map(features::validate_redirect)
                .transpose()?;
            if next.redirect.is_some() {
                next.static_dir = None;
                next.upstreams.clear();
            }
        }
        if self.upstreams.is_some() && self.static_dir.is_none() && self.redirect.is_none() {
            next.static_dir = None;
            next.redirect = None;
        }
        check_one_target(&next.upstreams, &next.static_dir, &next.redirect)?;
        if let Some(v) = self.spa {
            next.spa = v;
        }
        if let Some(v) = self.dir_listing {
            next.dir_listing = v;
        }
        if let Some(v) = self.follow_symlinks {
            next.follow_symlinks = v;
        }
        if let Some(v) = self.redirect_status {
            next.redirect_status = features::validate_redirect_status(v)?;
        }
        if let Some(v) = self.redirect_keep_path {
            next.redirect_keep_path = v;
        }
        if let Some(v) = self.compress {
            next.compress = v;
        }
        if let Some(v) = self.cache {
            next.cache = v;
        }
        if let Some(v) = self.cache_ttl_secs {
            next.cache_ttl_secs = features::validate_cache_ttl(v)?;
        }
        if let Some(rules) = &self.request_headers {
            rules.validate("request_headers")?;
            next.request_headers = rules.clone();
        }
        if let Some(rules) = &self.response_headers {
            rules.validate("response_headers")?;
            next.response_headers = rules.clone();
        }
        if let Some(v) = self.hide_backend {
            next.hide_backend = v;
        }
        if let Some(list) = &self.allow_ips {
            next.allow_ips = IpList::parse("allow_ips", list)?;
        }
        if let Some(list) = &self.deny_ips {
            next.deny_ips = IpList::parse("deny_ips", list)?;
        }
        if let Some(limit) = self.rate_limit_per_sec {
            next.rate_limit_per_sec = validate_rate_limit("rate_limit_per_sec", limit)?;
        }
        if let Some(limit) = self.max_body_bytes {
            next.max_body_bytes = validate_max_body("max_body_bytes", limit)?;
        }
        if let Some(limit) = self.max_conns_per_ip {
            next.max_conns_per_ip = validate_conn_limit("max_conns_per_ip", limit)?;
        }
        if let Some(users) = &self.basic_auth {
            next.basic_auth = BasicAuth::from_input(users, &route.basic_auth)?;
        }
        if let Some(shared) = self.shared {
            next.shared = shared;
            if !shared {
                next.share_expires_at = None;
            }
        }
        if let Some(port) = self.share_port {
            next.share_port = share::validate_port("share_port", port)?;
        }
        if let Some(at) = self.share_expires_at {
            next.share_expires_at = at;
        }
        if let Some(list) = &self.share_allow_ips {
            next.share_allow_ips = IpList::parse("share_allow_ips", list)?;
        }
        share::check_shareable(&next.host, next.shared)?;
        Ok(next)
    }
}

/// A route has exactly one target: an upstream, a folder, or a redirect.
fn check_one_target(
    upstreams: &[Upstream],
    static_dir: &Option<String>,
    redirect: &Option<String>,
) -> Result<(), Error> {
    match (upstreams.is_empty(), static_dir, redirect) {
        (true, Some(_), None) | (true, None, Some(_)) | (false, None, None) => Ok(()),
        (true, None, None) => Err(Error::InvalidUpstream {
            upstream: String::new(),
            reason: "a route needs an upstream (e.g. http://127.0.0.1:5173 or just 5173), a \
                     static_dir or a redirect"
                .into(),
        }),
        (_, Some(_), Some(_)) => Err(Error::InvalidSetting {
            field: "redirect",
            reason: "a route either serves a folder or redirects, not both".into(),
        }),
        (false, Some(_), None) => Err(Error::InvalidSetting {
            field: "static_dir",
            reason: "a route either forwards to an upstream or serves a folder, not both".into(),
        }),
        (false, None, Some(_)) => Err(Error::InvalidSetting {
            field: "redirect",
            reason: "a route either forwards to an upstream or redirects, not both".into(),
        }),
    }
}

/// The most upstreams one route may list.
pub const MAX_UPSTREAMS: usize = 32;

/// The upstreams as given: none (a static or redirect route, or a route with no target,
/// which [`check_one_target`] refuses) or up to [`MAX_UPSTREAMS`], each listed once.
fn validate_upstreams(targets: &[String]) -> Result<Vec<Upstream>, Error> {
    if targets.len() > MAX_UPSTREAMS {
        return Err(Error::InvalidUpstream {
            upstream: targets[MAX_UPSTREAMS].clone(),
            reason: format!("a route lists at most {MAX_UPSTREAMS} upstreams"),
        });
    }
    let mut upstreams: Vec<Upstream> = Vec::with_capacity(targets.len());
    for target in targets {
        let upstream = Upstream::parse(target)?;
        if upstreams.contains(&upstream) {
            return Err(Error::InvalidUpstream {
                upstream: target.clone(),
                reason: format!("{upstream} is listed twice; list each upstream once"),
            });
        }
        upstreams.push(upstream);
    }
    Ok(upstreams)
}

fn validate_timeout(timeout_ms: Option<u64>) -> Result<u64, Error> {
    match timeout_ms {
        None => Ok(DEFAULT_TIMEOUT.as_millis() as u64),
        Some(0) => Err(Error::InvalidTimeout {
            timeout_ms: 0,
            reason: "must be at least 1 ms; leave it out for the 60 s default".into(),
        }),
        Some(ms) if ms > MAX_TIMEOUT_MS => Err(Error::InvalidTimeout {
            timeout_ms: ms,
            reason: "must be at most 3600000 (one hour)".into(),
        }),
        Some(ms) => Ok(ms),
    }
}

/// A URL path prefix, matched on segment boundaries: `/api` matches `/api` and `/api/users`
/// but not `/apikeys`. Stored without a trailing slash, except the root `/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PathPrefix(String);

// On the wire a prefix is its text, so the API document describes a string.
impl utoipa::PartialSchema for PathPrefix {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A URL path prefix matched on segment boundaries, without a trailing slash \
                 except the root `/`.",
            ))
            .pattern(Some("^/"))
            .examples(["/", "/api"])
            .into()
    }
}

impl utoipa::ToSchema for PathPrefix {}

impl<'de> Deserialize<'de> for PathPrefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PathPrefix::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl PathPrefix {
    /// The prefix that matches every path.
    pub fn root() -> Self {
        PathPrefix("/".into())
    }

    /// Parse and normalise a prefix such as `/api` or `/api/`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidPath {
            path: input.to_owned(),
            reason: reason.to_owned(),
        };
        if !input.starts_with('/') {
            return Err(bad("must start with '/', e.g. /api"));
        }
        if input.contains(['?', '#']) {
            return Err(bad("a path prefix cannot contain '?' or '#'"));
        }
        if let Some(c) = input
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
        {
            return Err(bad(&format!(
                "contains {c:?}; percent-encode it as it would appear in the URL"
            )));
        }
        if input.split('/').any(|seg| seg == "." || seg == "..") {
            return Err(bad("'.' and '..' segments are not allowed"));
        }
        let trimmed = input.trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        if trimmed.contains("//") {
            return Err(bad("contains an empty segment ('//')"));
        }
        Ok(PathPrefix(trimmed.to_owned()))
    }

    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// Whether `path` falls under this prefix.
    pub fn matches(&self, path: &str) -> bool {
        if self.is_root() {
            return true;
        }
        match path.strip_prefix(self.0.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }

    /// `path` with this prefix removed, always starting with `/`.
    pub fn strip<'a>(&self, path: &'a str) -> &'a str {
        if self.is_root() {
            return path;
        }
        match path.strip_prefix(self.0.as_str()) {
            Some("") | None => "/",
            Some(rest) => rest,
        }
    }
}

impl std::fmt::Display for PathPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A local suffix in canonical form (lowercase, no dots at the ends), or `None` when it is not
/// a DNS name.
pub fn normalize_suffix(suffix: &str) -> Option<String> {
    let clean = suffix.trim().trim_matches('.').to_ascii_lowercase();
    let valid = !clean.is_empty()
        && clean.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    valid.then_some(clean)
}

/// Engine-wide settings, stored in the `settings` table.
///
/// Every field is always present in an answer; in an import, a missing field takes its
/// default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Settings {
    /// Where plain HTTP listens when `serve` is given no `--http`, as `IP:PORT`. Applies at
    /// the next start. Default: none (port 80 on loopback, else 8080).
    #[schema(required = true)]
    pub http_listen: Option<String>,
    /// Where HTTPS listens when `serve` is given no `--https`, as `IP:PORT`. Applies at the
    /// next start. Default: none (port 443 on loopback, else 8443).
    #[schema(required = true)]
    pub https_listen: Option<String>,
    /// Where the admin API listens when `serve` is given no `--admin`, as a loopback
    /// `IP:PORT`. Applies at the next start. Default: none (127.0.0.1:7080, else a free port).
    #[schema(required = true)]
    pub admin_listen: Option<String>,
    /// Suffixes Portico's CA may sign for, besides `localhost`, `test`, `internal` and
    /// `home.arpa`. Applies at once (the intermediate is re-issued under the same root).
    /// Default: none.
    #[schema(required = true)]
    pub local_suffixes: Vec<String>,
    /// How long in-flight requests may take to finish at shutdown, in milliseconds. Applies
    /// at the next start. Default: 10000.
    #[schema(required = true, minimum = 100, maximum = 600_000)]
    pub shutdown_grace_ms: u64,
    /// How long a client may take to send a request's headers, in milliseconds: on a new
    /// connection (its TLS handshake included, of which at most 10 s) and between requests
    /// on a kept-alive one, HTTP/1 or HTTP/2; a connection silent for longer is closed.
    /// Applies at the next start. Default: 30000.
    #[schema(required = true, minimum = 1_000, maximum = 600_000)]
    pub header_read_timeout_ms: u64,
    /// Pause proxying: every request to the HTTP and HTTPS listeners gets a 503 "Portico is
    /// paused" page until this is false again (the listeners stay bound, so resuming cannot
    /// lose a port). The admin API and the UI keep working. Applies at once. Default: false.
    pub proxy_paused: bool,
    /// When not empty, only clients from these addresses (IPs or CIDR ranges) may use any
    /// route; others get 403. Applies at once. Default: everyone.
    #[schema(example = json!(["127.0.0.0/8", "::1", "192.168.1.0/24"]))]
    pub allow_ips: Vec<String>,
    /// Clients from these addresses get 403 on every route, even when an allow list names
    /// them. Applies at once. Default: none.
    pub deny_ips: Vec<String>,
    /// At most this many requests per second from each client address, over all routes
    /// (bursts up to the same number); more get 429 with `Retry-After`. Applies at once.
    /// Default: none (no limit).
    #[schema(required = true, minimum = 1, maximum = 1_000_000)]
    pub rate_limit_per_sec: Option<u64>,
    /// Refuse request bodies larger than this many bytes with 413, on every route (a route's
    /// own limit applies too; the smaller wins). Applies at once. Default: none (no limit).
    #[schema(required = true, minimum = 1, maximum = 1_099_511_627_776.0)]
    pub max_body_bytes: Option<u64>,
    /// At most this many open connections from each client address to the proxy listeners;
    /// a connection over it is answered 429 on every request and closed. Applies to
    /// connections opened after the change. Default: none (no limit).
    #[schema(required = true, minimum = 1, maximum = 100_000)]
    pub max_conns_per_ip: Option<u64>,
    /// Pause the traffic inspector (nothing is captured). Applies at once. Default: false.
    pub capture_paused: bool,
    /// Bytes of each request and response body kept for the inspector (the true size is
    /// always recorded). Applies at once. Default: 1048576 (1 MiB).
    pub capture_body_limit: u64,
    /// Keep at most this many captured exchanges. Applies at once. Default: 100000.
    pub capture_retention_count: u64,
    /// Keep captured exchanges at most this many days. Applies at once. Default: 7.
    pub capture_retention_days: u64,
    /// Keep captured traffic within this many MiB on disk (the oldest exchanges go first).
    /// Applies at once. Default: 1024.
    #[schema(minimum = 16, maximum = 1_048_576)]
    pub capture_max_mb: u64,
    /// Whether new routes compress responses when they do not say. Default: false.
    pub default_compress: bool,
    /// Whether new routes cache responses when they do not say. Default: false.
    pub default_cache: bool,
    /// The response cache's size bound, in MiB, for all routes together. Applies at once
    /// (changing it empties the cache). Default: 256.
    #[schema(minimum = 1, maximum = 65_536)]
    pub cache_max_mb: u64,
    /// Responses whose known length is below this many bytes are not compressed. Applies at
    /// once. Default: 1024.
    #[schema(maximum = 104_857_600)]
    pub compress_min_bytes: u64,
    /// This machine's address on the local network, where shared routes and the CA page
    /// listen. Applies at once. Default: none (the private IPv4 address the machine uses
    /// toward its network, found when sharing starts).
    #[schema(required = true, example = "192.168.1.20")]
    pub lan_address: Option<String>,
    /// The port of the plain-HTTP page at `http://LAN-ADDRESS:PORT/ca` that helps a phone
    /// install Portico's CA, served while any route is shared. Applies at once. Default: none
    /// (a free port, kept until Portico stops).
    #[schema(required = true, minimum = 1, maximum = 65535)]
    pub share_ca_port: Option<u16>,
    /// Suffixes Portico's DNS responder answers for: the suffix itself and every name under
    /// it resolve to 127.0.0.1 and ::1 (e.g. `test` makes `app.test` and `a.b.test` work
    /// everywhere once the system resolver sends that suffix to the responder; see
    /// `portico dns setup`). `localhost` is refused: it already resolves. Applies at once.
    /// Default: none (the responder is off).
    #[schema(example = json!(["test"]))]
    pub dns_suffixes: Vec<String>,
    /// Where the DNS responder listens (UDP and TCP), as a loopback `IP:PORT`. Port 0 takes a
    /// free port at each start (for tests: the system resolver needs a fixed one). Applies at
    /// once. Default: 127.0.0.1:5354.
    #[schema(example = "127.0.0.1:5354")]
    pub dns_listen: String,
    /// Keep the names of enabled routes that this machine does not resolve by itself (such as
    /// `app.test`) in Portico's block of the system hosts file, adding and removing them as
    /// routes change. When the engine may not write the file, its status gives the command
    /// that does. While off, Portico never touches the file (`portico hosts remove` takes the
    /// block out). Applies at once. Default: true.
    pub hosts_sync: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            http_listen: None,
            https_listen: None,
            admin_listen: None,
            local_suffixes: Vec::new(),
            shutdown_grace_ms: 10_000,
            header_read_timeout_ms: 30_000,
            proxy_paused: false,
            allow_ips: Vec::new(),
            deny_ips: Vec::new(),
            rate_limit_per_sec: None,
            max_body_bytes: None,
            max_conns_per_ip: None,
            capture_paused: false,
            capture_body_limit: 1 << 20,
            capture_retention_count: 100_000,
            capture_retention_days: 7,
            capture_max_mb: 1024,
            default_compress: false,
            default_cache: false,
            cache_max_mb: 256,
            compress_min_bytes: 1024,
            lan_address: None,
            share_ca_port: None,
            dns_suffixes: Vec::new(),
            dns_listen: DEFAULT_DNS_LISTEN.to_owned(),
            hosts_sync: true,
        }
    }
}

/// The DNS responder's address when `dns_listen` is not set: UDP and TCP 5354 on loopback
/// (5353 is mDNS, which desktops run).
pub const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:5354";

/// A partial change to the settings; absent fields stay as they are. `null` clears an
/// optional address.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// New `http_listen` (see `Settings`); `null` clears it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub http_listen: Option<Option<String>>,
    /// New `https_listen` (see `Settings`); `null` clears it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub https_listen: Option<Option<String>>,
    /// New `admin_listen` (see `Settings`); `null` clears it.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub admin_listen: Option<Option<String>>,
    /// New `local_suffixes` (see `Settings`), replacing the list.
    #[schema(example = json!(["lan"]))]
    pub local_suffixes: Option<Vec<String>>,
    /// New `shutdown_grace_ms` (see `Settings`).
    #[schema(minimum = 100, maximum = 600_000)]
    pub shutdown_grace_ms: Option<u64>,
    /// New `header_read_timeout_ms` (see `Settings`).
    #[schema(minimum = 1_000, maximum = 600_000)]
    pub header_read_timeout_ms: Option<u64>,
    /// See [`Settings::proxy_paused`].
    pub proxy_paused: Option<bool>,
    /// New `allow_ips` (see `Settings`), replacing the list.
    pub allow_ips: Option<Vec<String>>,
    /// New `deny_ips` (see `Settings`), replacing the list.
    pub deny_ips: Option<Vec<String>>,
    /// New `rate_limit_per_sec` (see `Settings`); `null` removes the limit.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 1_000_000)]
    pub rate_limit_per_sec: Option<Option<u64>>,
    /// New `max_body_bytes` (see `Settings`); `null` removes the limit.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 1_099_511_627_776.0)]
    pub max_body_bytes: Option<Option<u64>>,
    /// New `max_conns_per_ip` (see `Settings`); `null` removes the limit.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 100_000)]
    pub max_conns_per_ip: Option<Option<u64>>,
    /// See [`Settings::capture_paused`].
    pub capture_paused: Option<bool>,
    /// See [`Settings::capture_body_limit`].
    pub capture_body_limit: Option<u64>,
    /// See [`Settings::capture_retention_count`].
    pub capture_retention_count: Option<u64>,
    /// See [`Settings::capture_retention_days`].
    pub capture_retention_days: Option<u64>,
    /// See [`Settings::capture_max_mb`].
    #[schema(minimum = 16, maximum = 1_048_576)]
    pub capture_max_mb: Option<u64>,
    /// See [`Settings::default_compress`].
    pub default_compress: Option<bool>,
    /// See [`Settings::default_cache`].
    pub default_cache: Option<bool>,
    /// See [`Settings::cache_max_mb`].
    #[schema(minimum = 1, maximum = 65_536)]
    pub cache_max_mb: Option<u64>,
    /// See [`Settings::compress_min_bytes`].
    #[schema(maximum = 104_857_600)]
    pub compress_min_bytes: Option<u64>,
    /// New `lan_address` (see `Settings`); `null` finds it again by itself.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub lan_address: Option<Option<String>>,
    /// New `share_ca_port` (see `Settings`); `null` uses a free port.
    #[serde(default, with = "double_option_u64")]
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 65535)]
    pub share_ca_port: Option<Option<u64>>,
    /// New `dns_suffixes` (see `Settings`), replacing the list; `[]` stops the responder.
    #[schema(example = json!(["test"]))]
    pub dns_suffixes: Option<Vec<String>>,
    /// New `dns_listen` (see `Settings`).
    #[schema(example = "127.0.0.1:5354")]
    pub dns_listen: Option<String>,
    /// See [`Settings::hosts_sync`].
    pub hosts_sync: Option<bool>,
}

/// Distinguishes a field that is absent (`None`) from one set to `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Option<String>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_ref().and_then(Option::as_ref).serialize(s)
    }
}

/// [`double_option`] for numbers.
mod double_option_u64 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<u64>>, D::Error> {
        Ok(Some(Option::deserialize(d)?))
    }

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Option<u64>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_ref().and_then(Option::as_ref).serialize(s)
    }
}

impl SettingsPatch {
    /// `settings` with this patch applied and validated; `settings` itself is untouched.
    pub fn apply(&self, settings: &Settings) -> Result<Settings, Error> {
        let mut next = settings.clone();
        if let Some(v) = &self.http_listen {
            next.http_listen = v.clone();
        }
        if let Some(v) = &self.https_listen {
            next.https_listen = v.clone();
        }
        if let Some(v) = &self.admin_listen {
            next.admin_listen = v.clone();
        }
        if let Some(v) = &self.local_suffixes {
            next.local_suffixes = v.clone();
        }
        if let Some(v) = self.shutdown_grace_ms {
            next.shutdown_grace_ms = v;
        }
        if let Some(v) = self.header_read_timeout_ms {
            next.header_read_timeout_ms = v;
        }
        if let Some(v) = self.proxy_paused {
            next.proxy_paused = v;
        }
        if let Some(list) = &self.allow_ips {
            next.allow_ips = list.clone();
        }
        if let Some(list) = &self.deny_ips {
            next.deny_ips = list.clone();
        }
        if let Some(limit) = self.rate_limit_per_sec {
            next.rate_limit_per_sec = limit;
        }
        if let Some(limit) = self.max_body_bytes {
            next.max_body_bytes = limit;
        }
        if let Some(limit) = self.max_conns_per_ip {
            next.max_conns_per_ip = limit;
        }
        if let Some(v) = self.capture_paused {
            next.capture_paused = v;
        }
        if let Some(v) = self.capture_body_limit {
            next.capture_body_limit = v;
        }
        if let Some(v) = self.capture_retention_count {
            next.capture_retention_count = v;
        }
        if let Some(v) = self.capture_retention_days {
            next.capture_retention_days = v;
        }
        if let Some(v) = self.capture_max_mb {
            next.capture_max_mb = v;
        }
        if let Some(v) = self.default_compress {
            next.default_compress = v;
        }
        if let Some(v) = self.default_cache {
            next.default_cache = v;
        }
        if let Some(v) = self.cache_max_mb {
            next.cache_max_mb = v;
        }
        if let Some(v) = self.compress_min_bytes {
            next.compress_min_bytes = v;
        }
        if let Some(v) = &self.lan_address {
            next.lan_address = v.clone();
        }
        if let Some(port) = self.share_ca_port {
            next.share_ca_port = share::validate_port("share_ca_port", port)?;
        }
        if let Some(v) = &self.dns_suffixes {
            next.dns_suffixes = v.clone();
        }
        if let Some(v) = &self.dns_listen {
            next.dns_listen = v.clone();
        }
        if let Some(v) = self.hosts_sync {
            next.hosts_sync = v;
        }
        next.validate()?;
        Ok(next)
    }
}

impl Settings {
    /// Check every field; suffixes and address lists are normalised.
    pub fn validate(&mut self) -> Result<(), Error> {
        let bad = |field: &'static str, reason: String| Error::InvalidSetting { field, reason };
        self.allow_ips = IpList::parse("allow_ips", &self.allow_ips)?.to_strings();
        self.deny_ips = IpList::parse("deny_ips", &self.deny_ips)?.to_strings();
        validate_rate_limit("rate_limit_per_sec", self.rate_limit_per_sec)?;
        validate_max_body("max_body_bytes", self.max_body_bytes)?;
        validate_conn_limit("max_conns_per_ip", self.max_conns_per_ip)?;
        if let Some(text) = &self.lan_address {
            self.lan_address = Some(share::validate_lan_address(text)?);
        }
        if self.share_ca_port == Some(0) {
            share::validate_port("share_ca_port", Some(0))?;
        }
        for (field, value) in [
            ("http_listen", &self.http_listen),
            ("https_listen", &self.https_listen),
            ("admin_listen", &self.admin_listen),
        ] {
            if let Some(text) = value
                && text.parse::<std::net::SocketAddr>().is_err()
            {
                return Err(bad(
                    field,
                    format!("{text:?} is not IP:PORT, e.g. 127.0.0.1:8080"),
                ));
            }
        }
        if let Some(admin) = &self.admin_listen
            && let Ok(addr) = admin.parse::<std::net::SocketAddr>()
            && !addr.ip().is_loopback()
        {
            return Err(bad(
                "admin_listen",
                format!("{admin} is not a loopback address; the admin API stays on this machine"),
            ));
        }
        let mut suffixes = Vec::new();
        for suffix in &self.local_suffixes {
            let Some(clean) = normalize_suffix(suffix) else {
                return Err(bad(
                    "local_suffixes",
                    format!("{suffix:?} is not a DNS name (e.g. lan or dev.internal)"),
                ));
            };
            if !suffixes.contains(&clean) {
                suffixes.push(clean);
            }
        }
        self.local_suffixes = suffixes;
        self.dns_suffixes = validate_dns_suffixes(&self.dns_suffixes)?;
        self.dns_listen = validate_dns_listen(&self.dns_listen)?;
        if !(100..=600_000).contains(&self.shutdown_grace_ms) {
            return Err(bad(
                "shutdown_grace_ms",
                "must be between 100 and 600000 (10 minutes)".into(),
            ));
        }
        if self.capture_body_limit > 64 << 20 {
            return Err(bad(
                "capture_body_limit",
                "must be at most 67108864 (64 MiB); 0 keeps no body bytes".into(),
            ));
        }
        if !(100..=10_000_000).contains(&self.capture_retention_count) {
            return Err(bad(
                "capture_retention_count",
                "must be between 100 and 10000000".into(),
            ));
        }
        if !(1..=365).contains(&self.capture_retention_days) {
            return Err(bad(
                "capture_retention_days",
                "must be between 1 and 365".into(),
            ));
        }
        if !(16..=1_048_576).contains(&self.capture_max_mb) {
            return Err(bad(
                "capture_max_mb",
                "must be between 16 and 1048576 (1 TiB)".into(),
            ));
        }
        if !(1..=65_536).contains(&self.cache_max_mb) {
            return Err(bad(
                "cache_max_mb",
                "must be between 1 and 65536 (64 GiB)".into(),
            ));
        }
        if self.compress_min_bytes > 100 << 20 {
            return Err(bad(
                "compress_min_bytes",
                "must be at most 104857600 (100 MiB)".into(),
            ));
        }
        if !(1_000..=600_000).contains(&self.header_read_timeout_ms) {
            return Err(bad(
                "header_read_timeout_ms",
                "must be between 1000 and 600000".into(),
            ));
        }
        Ok(())
    }
}

/// `dns_suffixes` in canonical form (lowercase, no dots at the ends, each once), or the first
/// that cannot be one.
fn validate_dns_suffixes(list: &[String]) -> Result<Vec<String>, Error> {
    let bad = |reason: String| Error::InvalidSetting {
        field: "dns_suffixes",
        reason,
    };
    let mut suffixes = Vec::new();
    for suffix in list {
        let Some(clean) = normalize_suffix(suffix) else {
            return Err(bad(format!(
                "{suffix:?} is not a DNS name (letters, digits and hyphens in dot-separated \
                 labels, e.g. test or dev.internal)"
            )));
        };
        if clean.len() > 200 {
            return Err(bad(format!(
                "{suffix:?} is too long for a suffix (at most 200 characters, so names under \
                 it fit in 253)"
            )));
        }
        if clean == "localhost" || clean.ends_with(".localhost") {
            return Err(bad(format!(
                "{suffix:?} needs no DNS responder: names under localhost already resolve to \
                 this machine; use a suffix such as test"
            )));
        }
        if !suffixes.contains(&clean) {
            suffixes.push(clean);
        }
    }
    Ok(suffixes)
}

/// `dns_listen` as `IP:PORT` text, or why it cannot be the responder's address.
fn validate_dns_listen(text: &str) -> Result<String, Error> {
    let bad = |reason: String| Error::InvalidSetting {
        field: "dns_listen",
        reason,
    };
    let addr: std::net::SocketAddr = text.trim().parse().map_err(|_| {
        bad(format!(
            "{text:?} is not IP:PORT, e.g. {DEFAULT_DNS_LISTEN}"
        ))
    })?;
    if !addr.ip().is_loopback() {
        return Err(bad(format!(
            "{addr} is not a loopback address; the DNS responder answers only this machine \
             (use 127.0.0.1 and a port, e.g. {DEFAULT_DNS_LISTEN})"
        )));
    }
    Ok(addr.to_string())
}

/// The version of the export format this build writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// Routes and settings as a portable JSON document (`portico export`, `GET /api/v1/export`).
/// Routes that came from a project's `portico.json` are not included: they belong to that
/// file.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Export {
    /// Format version; this build reads and writes `1` (`EXPORT_VERSION`).
    #[schema(example = 1)]
    pub portico: u32,
    /// The routes, without ids.
    #[serde(deserialize_with = "object::list")]
    pub routes: Vec<NewRoute>,
    /// The settings; absent means "leave the settings as they are" on import.
    #[serde(default, deserialize_with = "object::option")]
    #[schema(value_type = Option<ExportSettings>)]
    pub settings: Option<Settings>,
}

/// The API document's schema of [`Export::settings`]: [`Settings`] with every field optional,
/// since an import fills a missing field with its default.
struct ExportSettings;

impl utoipa::PartialSchema for ExportSettings {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut schema = <Settings as utoipa::PartialSchema>::schema();
        if let utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(object)) =
            &mut schema
        {
            object.required.clear();
            object.description = Some(
                "Settings as an export carries them. An export has every field; in an import a \
                 missing field takes its default."
                    .into(),
            );
        }
        schema
    }
}

impl utoipa::ToSchema for ExportSettings {}

/// One thing wrong in an import, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportProblem {
    /// Where, e.g. `routes[2].host`.
    pub at: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl Export {
    /// The export of `routes` (project routes left out) and `settings`.
    pub fn new(routes: &[Route], settings: Settings) -> Export {
        Export {
            portico: EXPORT_VERSION,
            routes: routes
                .iter()
                .filter(|r| r.project.is_none())
                .map(NewRoute::from)
                .collect(),
            settings: Some(settings),
        }
    }

    /// Validate everything, collecting every problem rather than stopping at the first.
    pub fn validate(&self) -> Result<(Vec<ValidRoute>, Option<Settings>), Vec<ImportProblem>> {
        let mut problems = Vec::new();
        if self.portico != EXPORT_VERSION {
            problems.push(ImportProblem {
                at: "portico".into(),
                message: format!(
                    "format version {} is not supported; this Portico reads version {EXPORT_VERSION}",
                    self.portico
                ),
            });
        }
        let routes = validate_all(&self.routes, "routes", &mut problems);
        let settings = match &self.settings {
            Some(settings) => {
                let mut settings = settings.clone();
                match settings.validate() {
                    Ok(()) => Some(settings),
                    Err(err) => {
                        problems.push(ImportProblem {
                            at: format!("settings.{}", err.field()),
                            message: err.to_string(),
                        });
                        None
                    }
                }
            }
            None => None,
        };
        if problems.is_empty() {
            Ok((routes, settings))
        } else {
            Err(problems)
        }
    }
}

/// Validate a list of routes (an import, or a project's `portico.json`), reporting every
/// problem with its place, including the same host and path given twice.
pub fn validate_all(
    routes: &[NewRoute],
    what: &str,
    problems: &mut Vec<ImportProblem>,
) -> Vec<ValidRoute> {
    let mut valid: Vec<ValidRoute> = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        match route.validate() {
            Ok(route) => {
                if valid
                    .iter()
                    .any(|v| v.host == route.host && v.path == route.path)
                {
                    problems.push(ImportProblem {
                        at: format!("{what}[{i}]"),
                        message: format!("{}{} appears twice", route.host, route.path),
                    });
                } else {
                    valid.push(route);
                }
            }
            Err(err) => problems.push(ImportProblem {
                at: format!("{what}[{i}].{}", err.field()),
                message: err.to_string(),
            }),
        }
    }
    valid
}

/// Validate a project's routes (`portico up`): every problem, with its place, and a project
/// name that is not blank.
pub fn validate_project(
    project: &str,
    routes: &[NewRoute],
) -> Result<Vec<ValidRoute>, Vec<ImportProblem>> {
    let mut problems = Vec::new();
    let valid = validate_all(routes, "routes", &mut problems);
    if project.trim().is_empty() {
        problems.push(ImportProblem {
            at: "project".into(),
            message: "a project needs a name (its folder's path)".into(),
        });
    }
    if problems.is_empty() {
        Ok(valid)
    } else {
        Err(problems)
    }
}

/// Give each user in `routes` that has neither a password nor a hash the hash the same route
/// (host and path) in `existing` has for that user, so that importing an export (which
/// carries user names only) keeps the passwords already set here. Users still without one
/// are refused by validation, naming them.
pub fn keep_passwords(routes: &mut [NewRoute], existing: &[Route]) {
    for route in routes {
        let (Ok(host), Ok(path)) = (
            HostPattern::parse(&route.host),
            PathPrefix::parse(route.path.as_deref().unwrap_or("/")),
        ) else {
            continue;
        };
        let Some(old) = existing.iter().find(|r| r.host == host && r.path == path) else {
            continue;
        };
        for entry in &mut route.basic_auth {
            if entry.password.is_none()
                && entry.password_hash.is_none()
                && let Some(user) = old.basic_auth.user(entry.user.trim())
                && !user.hash.is_empty()
            {
                entry.password_hash = Some(user.hash.clone());
            }
        }
    }
}

impl From<&Route> for NewRoute {
    fn from(route: &Route) -> Self {
        NewRoute {
            host: route.host.to_string(),
            path: Some(route.path.to_string()),
            upstreams: route.upstreams.iter().map(ToString::to_string).collect(),
            balancing: route.balancing.clone(),
            strip_prefix: route.strip_prefix,
            upstream_host: route.upstream_host,
            timeout_ms: Some(route.timeout_ms),
            enabled: Some(route.enabled),
            https_redirect: Some(route.https_redirect),
            capture: Some(route.capture),
            static_dir: route.static_dir.clone(),
            spa: route.spa,
            dir_listing: route.dir_listing,
            follow_symlinks: route.follow_symlinks,
            redirect: route.redirect.clone(),
            redirect_status: Some(route.redirect_status),
            redirect_keep_path: Some(route.redirect_keep_path),
            compress: Some(route.compress),
            cache: Some(route.cache),
            cache_ttl_secs: route.cache_ttl_secs,
            request_headers: route.request_headers.clone(),
            response_headers: route.response_headers.clone(),
            hide_backend: route.hide_backend,
            allow_ips: route.allow_ips.to_strings(),
            deny_ips: route.deny_ips.to_strings(),
            rate_limit_per_sec: route.rate_limit_per_sec,
            max_body_bytes: route.max_body_bytes,
            max_conns_per_ip: route.max_conns_per_ip,
            basic_auth: route.basic_auth.to_input(),
            shared: route.shared,
            share_port: route.share_port.map(u64::from),
            share_expires_at: route.share_expires_at,
            share_allow_ips: route.share_allow_ips.to_strings(),
        }
    }
}

/// The largest body size limit that can be set (1 TiB).
const MAX_BODY_LIMIT: u64 = 1 << 40;

/// A request body size limit: none, or 1 byte to 1 TiB.
fn validate_max_body(field: &'static str, limit: Option<u64>) -> Result<Option<u64>, Error> {
    optional_limit(field, limit, MAX_BODY_LIMIT, "bytes")
}

/// A requests-per-second limit: none, or 1 to 1,000,000.
fn validate_rate_limit(field: &'static str, limit: Option<u64>) -> Result<Option<u64>, Error> {
    optional_limit(field, limit, 1_000_000, "requests a second")
}

/// A per-client connection (or in-flight request) limit: none, or 1 to 100,000.
fn validate_conn_limit(field: &'static str, limit: Option<u64>) -> Result<Option<u64>, Error> {
    optional_limit(field, limit, 100_000, "connections")
}

/// An optional limit: none, or 1 to `max` `unit`.
fn optional_limit(
    field: &'static str,
    limit: Option<u64>,
    max: u64,
    unit: &str,
) -> Result<Option<u64>, Error> {
    match limit {
        Some(n) if n == 0 || n > max => Err(Error::InvalidSetting {
            field,
            reason: format!("must be 1 to {max} {unit}; leave it out (null) for no limit"),
        }),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefix_matches_on_segment_boundaries() {
        let api = PathPrefix::parse("/api/").expect("valid");
        assert_eq!(api.as_str(), "/api");
        assert!(api.matches("/api"));
        assert!(api.matches("/api/users"));
        assert!(!api.matches("/apikeys"));
        assert!(!api.matches("/"));
        assert_eq!(api.strip("/api/users"), "/users");
        assert_eq!(api.strip("/api"), "/");
        assert!(PathPrefix::root().matches("/anything"));
    }

    #[test]
    fn bad_paths_are_refused_with_a_reason() {
        for bad in ["api", "/a?b", "/a b", "/../etc", "/a//b", "/é"] {
            let err = PathPrefix::parse(bad).expect_err(bad);
            assert_eq!(err.field(), "path");
        }
    }

    #[test]
    fn new_route_defaults() {
        let route = NewRoute {
            host: "App.Localhost".into(),
            upstreams: vec!["5173".into()],
            ..Default::default()
        }
        .validate()
        .expect("valid");
        assert_eq!(route.host.to_string(), "app.localhost");
        assert!(route.path.is_root());
        assert_eq!(route.upstreams[0].to_string(), "http://localhost:5173");
        assert!(route.enabled);
        assert_eq!(route.timeout_ms, 60_000);
    }

    #[test]
    fn a_route_needs_an_upstream_and_lists_each_once() {
        let mut route = NewRoute {
            host: "app.localhost".into(),
            ..Default::default()
        };
        assert_eq!(route.validate().expect_err("none").field(), "upstreams");
        route.upstreams = vec!["1".into(), "2".into()];
        assert_eq!(route.validate().expect("two").upstreams.len(), 2);
        route.upstreams = vec!["3000".into(), "http://localhost:3000/".into()];
        let err = route.validate().expect_err("the same twice");
        assert!(err.to_string().contains("listed twice"), "{err}");
        route.upstreams = (1..=33).map(|p| p.to_string()).collect();
        assert_eq!(route.validate().expect_err("33").field(), "upstreams");
        route.upstreams = vec!["1".into(), "2".into()];
        route.balancing.max_fails = 0;
        assert_eq!(route.validate().expect_err("0 fails").field(), "balancing");
    }

    #[test]
    fn patch_validates_and_leaves_the_original_alone() {
        let route = NewRoute {
            host: "app.localhost".into(),
            upstreams: vec!["5173".into()],
            ..Default::default()
        }
        .validate()
        .expect("valid")
        .with_id(1);
        let patch = RoutePatch {
            host: Some("bad host".into()),
            ..Default::default()
        };
        assert!(patch.apply(&route).is_err());
        let patch = RoutePatch {
            enabled: Some(false),
            timeout_ms: Some(500),
            ..Default::default()
        };
        let next = patch.apply(&route).expect("valid");
        assert!(!next.enabled);
        assert_eq!(next.timeout(), Duration::from_millis(500));
        assert!(route.enabled);
    }

    #[test]
    fn connection_limits_are_1_to_100000_or_none() {
        let mut route = NewRoute {
            host: "app.localhost".into(),
            upstreams: vec!["5173".into()],
            max_conns_per_ip: Some(0),
            ..Default::default()
        };
        assert_eq!(route.validate().expect_err("0").field(), "max_conns_per_ip");
        route.max_conns_per_ip = Some(100_001);
        assert_eq!(
            route.validate().expect_err("big").field(),
            "max_conns_per_ip"
        );
        route.max_conns_per_ip = Some(4);
        let valid = route.validate().expect("4").with_id(1);
        let cleared = RoutePatch {
            max_conns_per_ip: Some(None),
            ..Default::default()
        }
        .apply(&valid)
        .expect("cleared");
        assert_eq!(cleared.max_conns_per_ip, None);
        let mut settings = Settings {
            max_conns_per_ip: Some(0),
            ..Settings::default()
        };
        assert_eq!(
            settings.validate().expect_err("0").field(),
            "max_conns_per_ip"
        );
    }

    #[test]
    fn a_patch_keeps_removes_and_clears_basic_auth_users() {
        let user = |name: &str, password: Option<&str>| AuthUserInput {
            user: name.into(),
            password: password.map(Into::into),
            password_hash: None,
        };
        let route = NewRoute {
            host: "app.localhost".into(),
            upstreams: vec!["5173".into()],
            basic_auth: vec![user("alice", Some("a")), user("bob", Some("b"))],
            ..Default::default()
        }
        .validate()
        .expect("valid")
        .with_id(1);
        let alice = route.basic_auth.user("alice").expect("alice").clone();
        let next = RoutePatch {
            basic_auth: Some(vec![user("alice", None)]),
            ..Default::default()
        }
        .apply(&route)
        .expect("bob removed");
        assert_eq!(next.basic_auth.users(), [alice]);
        let cleared = RoutePatch {
            basic_auth: Some(Vec::new()),
            ..Default::default()
        }
        .apply(&route)
        .expect("cleared");
        assert!(cleared.basic_auth.is_empty());
        let untouched = RoutePatch::default().apply(&route).expect("untouched");
        assert_eq!(untouched.basic_auth, route.basic_auth);
        // An export carries names only; importing it over the same route keeps the hashes.
        let mut exported = vec![NewRoute::from(&route)];
        assert!(
            exported[0]
                .basic_auth
                .iter()
                .all(|u| u.password.is_none() && u.password_hash.is_none())
        );
        keep_passwords(&mut exported, std::slice::from_ref(&route));
        assert_eq!(
            exported[0].validate().expect("kept").basic_auth,
            route.basic_auth
        );
    }

    #[test]
    fn dns_settings_are_normalised_or_refused_naming_the_field() {
        let patch = SettingsPatch {
            dns_suffixes: Some(vec!["TEST.".into(), "dev.internal".into(), "test".into()]),
            dns_listen: Some(" 127.0.0.1:5300 ".into()),
            ..SettingsPatch::default()
        };
        let next = patch.apply(&Settings::default()).expect("valid");
        assert_eq!(next.dns_suffixes, vec!["test", "dev.internal"]);
        assert_eq!(next.dns_listen, "127.0.0.1:5300");
        assert_eq!(Settings::default().dns_listen, DEFAULT_DNS_LISTEN);
        for (patch, field, words) in [
            (
                SettingsPatch {
                    dns_suffixes: Some(vec!["localhost".into()]),
                    ..SettingsPatch::default()
                },
                "dns_suffixes",
                "already resolve",
            ),
            (
                SettingsPatch {
                    dns_suffixes: Some(vec!["app.localhost".into()]),
                    ..SettingsPatch::default()
                },
                "dns_suffixes",
                "already resolve",
            ),
            (
                SettingsPatch {
                    dns_suffixes: Some(vec!["bad suffix".into()]),
                    ..SettingsPatch::default()
                },
                "dns_suffixes",
                "not a DNS name",
            ),
            (
                SettingsPatch {
                    dns_listen: Some("0.0.0.0:5354".into()),
                    ..SettingsPatch::default()
                },
                "dns_listen",
                "not a loopback address",
            ),
            (
                SettingsPatch {
                    dns_listen: Some("localhost:5354".into()),
                    ..SettingsPatch::default()
                },
                "dns_listen",
                "not IP:PORT",
            ),
        ] {
            let err = patch.apply(&Settings::default()).expect_err(words);
            assert_eq!(err.field(), field);
            assert!(err.to_string().contains(words), "{err}");
        }
    }
}
