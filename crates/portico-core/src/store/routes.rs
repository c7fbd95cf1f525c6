//! The `routes` table.

use rusqlite::{ErrorCode, OptionalExtension, Row, params};

use super::{Error, Store};
use crate::config::{self, NewRoute, Route, RouteId, ValidRoute};

const COLUMNS: &str = "id, host, path, upstreams, strip_prefix, upstream_host, timeout_ms, enabled, https_redirect, project, capture, features";

/// The `features` column: what a route does beyond forwarding, as JSON. Absent keys take
/// their defaults, so rows written before a feature existed read as "off".
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Features {
    #[serde(skip_serializing_if = "is_default_balancing")]
    balancing: config::Balancing,
    #[serde(skip_serializing_if = "Option::is_none")]
    static_dir: Option<String>,
    spa: bool,
    dir_listing: bool,
    follow_symlinks: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect: Option<String>,
    redirect_status: Option<u16>,
    redirect_keep_path: Option<bool>,
    compress: Option<bool>,
    cache: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_ttl_secs: Option<u64>,
    request_headers: config::HeaderRules,
    response_headers: config::HeaderRules,
    hide_backend: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allow_ips: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deny_ips: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_per_sec: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_body_bytes: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    shared: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    share_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    share_expires_at: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    share_allow_ips: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_conns_per_ip: Option<u64>,
    /// Users and their argon2 PHC hashes; the only place a hash is written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    basic_auth: Vec<StoredUser>,
}

/// A basic auth user as stored: its name and the PHC string of its password.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct StoredUser {
    user: String,
    hash: String,
}

impl Features {
    fn of(route: &Route) -> Features {
        Features {
            balancing: route.balancing.clone(),
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
            basic_auth: route
                .basic_auth
                .users()
                .iter()
                .map(|u| StoredUser {
                    user: u.user.clone(),
                    hash: u.hash.clone(),
                })
                .collect(),
            shared: route.shared,
            share_port: route.share_port,
            share_expires_at: route.share_expires_at,
            share_allow_ips: route.share_allow_ips.to_strings(),
        }
    }

    fn json(route: &Route) -> Result<String, Error> {
        serde_json::to_string(&Features::of(route)).map_err(|source| Error::Json {
            what: "route features".into(),
            source,
        })
    }

    fn json_valid(route: &ValidRoute) -> Result<String, Error> {
        Features::json(&route.clone().with_id(0))
    }

    fn fill(self, new: &mut NewRoute) {
        new.balancing = self.balancing;
        new.static_dir = self.static_dir;
        new.spa = self.spa;
        new.dir_listing = self.dir_listing;
        new.follow_symlinks = self.follow_symlinks;
        new.redirect = self.redirect;
        new.redirect_status = self.redirect_status;
        new.redirect_keep_path = self.redirect_keep_path;
        new.compress = self.compress;
        new.cache = self.cache;
        new.cache_ttl_secs = self.cache_ttl_secs;
        new.request_headers = self.request_headers;
        new.response_headers = self.response_headers;
        new.hide_backend = self.hide_backend;
        new.allow_ips = self.allow_ips;
        new.deny_ips = self.deny_ips;
        new.rate_limit_per_sec = self.rate_limit_per_sec;
        new.max_body_bytes = self.max_body_bytes;
        new.max_conns_per_ip = self.max_conns_per_ip;
        // Validation takes the hash as it is (no hashing when routes are read).
        new.basic_auth = self
            .basic_auth
            .into_iter()
            .map(|u| config::AuthUserInput {
                user: u.user,
                password: None,
                password_hash: Some(u.hash),
            })
            .collect();
        new.shared = self.shared;
        new.share_port = self.share_port.map(u64::from);
        new.share_expires_at = self.share_expires_at;
        new.share_allow_ips = self.share_allow_ips;
    }
}

fn is_default_balancing(balancing: &config::Balancing) -> bool {
    *balancing == config::Balancing::default()
}

/// Every stored route, split into those that validate and those that do not.
#[derive(Debug, Default)]
pub struct RouteRows {
    /// Routes that validate, in id order.
    pub routes: Vec<Route>,
    /// Rows that no longer validate (edited by hand, or written by a buggy build). They are
    /// kept in the database untouched and reported, never silently dropped.
    pub invalid: Vec<InvalidRoute>,
}

/// A stored row that does not validate.
#[derive(Debug)]
pub struct InvalidRoute {
    /// Its id.
    pub id: RouteId,
    /// Its host, as stored.
    pub host: String,
    /// Why it does not validate.
    pub error: config::Error,
}

struct RawRoute {
    id: RouteId,
    new: NewRoute,
    project: Option<String>,
}

fn raw_route(row: &Row<'_>) -> rusqlite::Result<RawRoute> {
    let upstreams: String = row.get(3)?;
    let upstreams: Vec<String> =
        serde_json::from_str(&upstreams).unwrap_or_else(|_| vec![upstreams]);
    let features: String = row.get(11)?;
    let features: Features = serde_json::from_str(&features).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(11, rusqlite::types::Type::Text, Box::new(e))
    })?;
    let mut raw = RawRoute {
        id: row.get(0)?,
        new: NewRoute {
            host: row.get(1)?,
            path: Some(row.get(2)?),
            upstreams,
            strip_prefix: row.get(4)?,
            upstream_host: row.get(5)?,
            timeout_ms: Some(row.get::<_, i64>(6)?.max(0) as u64),
            enabled: Some(row.get(7)?),
            https_redirect: Some(row.get(8)?),
            capture: Some(row.get(10)?),
            ..NewRoute::default()
        },
        project: row.get(9)?,
    };
    features.fill(&mut raw.new);
    Ok(raw)
}

impl RawRoute {
    fn validate(self) -> Result<Route, InvalidRoute> {
        match self.new.validate() {
            Ok(mut valid) => {
                valid.project = self.project;
                Ok(valid.with_id(self.id))
            }
            Err(error) => Err(InvalidRoute {
                id: self.id,
                host: self.new.host,
                error,
            }),
        }
    }
}

fn upstreams_json(route_upstreams: &[config::Upstream]) -> Result<String, Error> {
    let urls: Vec<String> = route_upstreams.iter().map(ToString::to_string).collect();
    serde_json::to_string(&urls).map_err(|source| Error::Json {
        what: "upstreams".into(),
        source,
    })
}

fn map_unique(
    err: rusqlite::Error,
    host: &config::HostPattern,
    path: &config::PathPrefix,
) -> Error {
    match err.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => Error::Duplicate {
            host: host.to_string(),
            path: if path.is_root() {
                String::new()
            } else {
                path.to_string()
            },
        },
        _ => Error::Sqlite(err),
    }
}

impl Store {
    /// Every stored route, valid or not, in id order.
    pub fn list_routes(&self) -> Result<RouteRows, Error> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM routes ORDER BY id"))?;
        let mut rows = RouteRows::default();
        for raw in stmt.query_map([], raw_route)? {
            match raw?.validate() {
                Ok(route) => rows.routes.push(route),
                Err(invalid) => rows.invalid.push(invalid),
            }
        }
        Ok(rows)
    }

    /// One route by id.
    pub fn route(&self, id: RouteId) -> Result<Route, Error> {
        let conn = self.lock();
        let raw = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM routes WHERE id = ?1"),
                [id],
                raw_route,
            )
            .optional()?
            .ok_or(Error::NotFound { id })?;
        raw.validate().map_err(|invalid| Error::Json {
            what: format!("route {id}"),
            source: serde::de::Error::custom(invalid.error),
        })
    }

    /// Store a new route; refused if its host and path are already taken.
    pub fn insert_route(&self, route: &ValidRoute) -> Result<Route, Error> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO routes (host, path, upstreams, strip_prefix, upstream_host, timeout_ms, enabled, https_redirect, project, capture, features)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                route.host.to_string(),
                route.path.as_str(),
                upstreams_json(&route.upstreams)?,
                route.strip_prefix,
                route.upstream_host,
                route.timeout_ms as i64,
                route.enabled,
                route.https_redirect,
                route.project,
                route.capture,
                Features::json_valid(route)?,
            ],
        )
        .map_err(|e| map_unique(e, &route.host, &route.path))?;
        Ok(route.clone().with_id(conn.last_insert_rowid()))
    }

    /// Replace the stored route with the same id.
    pub fn update_route(&self, route: &Route) -> Result<(), Error> {
        let conn = self.lock();
        let changed = conn
            .execute(
                "UPDATE routes SET host = ?2, path = ?3, upstreams = ?4, strip_prefix = ?5,
                     upstream_host = ?6, timeout_ms = ?7, enabled = ?8, https_redirect = ?9,
                     project = ?10, capture = ?11, features = ?12,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE id = ?1",
                params![
                    route.id,
                    route.host.to_string(),
                    route.path.as_str(),
                    upstreams_json(&route.upstreams)?,
                    route.strip_prefix,
                    route.upstream_host,
                    route.timeout_ms as i64,
                    route.enabled,
                    route.https_redirect,
                    route.project,
                    route.capture,
                    Features::json(route)?,
                ],
            )
            .map_err(|e| map_unique(e, &route.host, &route.path))?;
        if changed == 0 {
            return Err(Error::NotFound { id: route.id });
        }
        Ok(())
    }

    /// Delete a route by id.
    pub fn delete_route(&self, id: RouteId) -> Result<(), Error> {
        let changed = self
            .lock()
            .execute("DELETE FROM routes WHERE id = ?1", [id])?;
        if changed == 0 {
            return Err(Error::NotFound { id });
        }
        Ok(())
    }
}

/// What a bulk change did.
#[derive(
    Debug,
    Default,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct ImportSummary {
    /// Routes that did not exist before.
    pub added: usize,
    /// Existing routes (same host and path) that were changed.
    pub updated: usize,
    /// Routes removed.
    pub removed: usize,
}

fn path_text(path: &config::PathPrefix) -> String {
    if path.is_root() {
        String::new()
    } else {
        path.to_string()
    }
}

/// Insert `route`, or update the route with its host and path; returns whether it was added.
fn upsert(tx: &rusqlite::Transaction<'_>, route: &ValidRoute) -> Result<bool, Error> {
    let values = params![
        route.host.to_string(),
        route.path.as_str(),
        upstreams_json(&route.upstreams)?,
        route.strip_prefix,
        route.upstream_host,
        route.timeout_ms as i64,
        route.enabled,
        route.https_redirect,
        route.project,
        route.capture,
        Features::json_valid(route)?,
    ];
    let changed = tx.execute(
        "UPDATE routes SET upstreams = ?3, strip_prefix = ?4, upstream_host = ?5, timeout_ms = ?6,
             enabled = ?7, https_redirect = ?8, project = ?9, capture = ?10, features = ?11,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE host = ?1 AND path = ?2",
        values,
    )?;
    if changed > 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO routes (host, path, upstreams, strip_prefix, upstream_host, timeout_ms, enabled, https_redirect, project, capture, features)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        values,
    )?;
    Ok(true)
}

impl Store {
    /// Add or update (by host and path) every route, and replace the settings when given, in
    /// one transaction: all of it lands, or none of it. The caller validates everything first.
    pub fn import(
        &self,
        routes: &[ValidRoute],
        settings: Option<&config::Settings>,
    ) -> Result<ImportSummary, Error> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut summary = ImportSummary::default();
        for route in routes {
            if upsert(&tx, route)? {
                summary.added += 1;
            } else {
                summary.updated += 1;
            }
        }
        if let Some(settings) = settings {
            super::settings::put_in(&tx, settings)?;
        }
        tx.commit()?;
        Ok(summary)
    }

    /// Make the routes tagged with `project` exactly `routes` (each tagged with it): add and
    /// update those, remove the project's others. A route with the same host and path that
    /// belongs to someone else is a conflict, and nothing changes.
    pub fn sync_project(
        &self,
        project: &str,
        routes: &[ValidRoute],
    ) -> Result<ImportSummary, Error> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut summary = ImportSummary::default();
        let mut keep: Vec<(String, String)> = Vec::new();
        for route in routes {
            let host = route.host.to_string();
            let owner: Option<Option<String>> = tx
                .query_row(
                    "SELECT project FROM routes WHERE host = ?1 AND path = ?2",
                    params![host, route.path.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(owner) = owner
                && owner.as_deref() != Some(project)
            {
                return Err(Error::ProjectConflict {
                    host,
                    path: path_text(&route.path),
                    owner: match owner {
                        Some(other) => format!("by the project in {other}"),
                        None => "by a route you added yourself".to_owned(),
                    },
                });
            }
            let mut tagged = route.clone();
            tagged.project = Some(project.to_owned());
            if upsert(&tx, &tagged)? {
                summary.added += 1;
            } else {
                summary.updated += 1;
            }
            keep.push((host, route.path.as_str().to_owned()));
        }
        let mut stmt = tx.prepare("SELECT id, host, path FROM routes WHERE project = ?1")?;
        let existing: Vec<(RouteId, String, String)> = stmt
            .query_map([project], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        for (id, host, path) in existing {
            if !keep.contains(&(host, path)) {
                tx.execute("DELETE FROM routes WHERE id = ?1", [id])?;
                summary.removed += 1;
            }
        }
        tx.commit()?;
        Ok(summary)
    }

    /// Remove every route tagged with `project`; returns how many.
    pub fn remove_project(&self, project: &str) -> Result<usize, Error> {
        Ok(self
            .lock()
            .execute("DELETE FROM routes WHERE project = ?1", [project])?)
    }
}
