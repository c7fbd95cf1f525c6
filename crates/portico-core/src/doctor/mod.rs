//! `portico doctor`: checks that explain, in plain words, why a route does not work and what
//! to do about it. For each route: does its name reach this machine (and how), is the CA
//! trusted in each store, can the listeners have their ports, does the upstream answer, how
//! fast, and does it accept the route's host (Vite's `server.allowedHosts`, Next.js's
//! `allowedDevOrigins`).
//!
//! This module owns the checks and their wording, not the data they look at: the routes, the
//! trust stores' state and the listeners come in as [`Inputs`], from the admin API (a running
//! engine) or the CLI (the data dir's database and CA when none runs). It changes nothing;
//! a finding may offer an [`Action`] that the caller (the UI, a script) can take.

mod listen;
mod name;
mod trust;
mod upstream;

pub use listen::{Bound, Fallen, Planned, Role};
pub use name::HOSTS_FILE;

use std::path::PathBuf;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use crate::config::{HostPattern, Route, RouteId};
use crate::tls::trust::StoreStatus;

/// Which check produced a finding. The names are stable: scripts match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DoctorCheck)]
pub enum Check {
    /// Whether a route serves the host asked about, and is enabled.
    #[serde(rename = "route.match")]
    RouteMatch,
    /// Whether the route's name resolves to this machine, and through what.
    #[serde(rename = "name.resolve")]
    NameResolve,
    /// Whether a trust store trusts Portico's CA.
    #[serde(rename = "ca.trust")]
    CaTrust,
    /// Whether a listener has (or can get) its port.
    #[serde(rename = "listener.bind")]
    ListenerBind,
    /// Whether the upstream accepts a connection and answers, and how fast.
    #[serde(rename = "upstream.reach")]
    UpstreamReach,
    /// Whether the upstream refuses the route's host (Vite's host check, Next.js's dev
    /// origin check).
    #[serde(rename = "upstream.host_rejected")]
    UpstreamHostRejected,
}

impl Check {
    /// The stable name, e.g. `upstream.reach`.
    pub fn name(self) -> &'static str {
        match self {
            Check::RouteMatch => "route.match",
            Check::NameResolve => "name.resolve",
            Check::CaTrust => "ca.trust",
            Check::ListenerBind => "listener.bind",
            Check::UpstreamReach => "upstream.reach",
            Check::UpstreamHostRejected => "upstream.host_rejected",
        }
    }
}

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = DoctorStatus)]
pub enum Level {
    /// Works.
    Ok,
    /// Works, with a catch worth knowing (a fallback port, a tool that will not trust the CA).
    Warn,
    /// Broken: the route does not work for a browser until the fix is applied.
    Error,
}

/// Something the UI (or a script) can do for the user to apply a fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schema(as = DoctorAction)]
pub enum Action {
    /// Send the upstream's own `host:port` as `Host` (`PATCH /api/v1/routes/{route_id}` with
    /// `{"upstream_host": true}`; `portico route set HOST --upstream-host`).
    EnableUpstreamHost {
        /// The route to change.
        #[schema(value_type = i64)]
        route_id: RouteId,
    },
    /// Install the CA in every trust store (`POST /api/v1/ca/trust`; `portico ca trust`).
    TrustCa,
}

/// One thing the doctor found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DoctorFinding)]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// `ok`, `warn` or `error`.
    pub status: Level,
    /// What it is about: a route's host (`app.test`, `app.test → localhost:5173`), a trust
    /// store, a listener.
    pub subject: String,
    /// The route it is about, if any.
    #[schema(required = true, value_type = Option<i64>)]
    pub route_id: Option<RouteId>,
    /// What was found, in plain words: what works, or what is wrong and why.
    pub message: String,
    /// What to do: an exact command, setting or configuration line. Null when nothing is
    /// to be done.
    #[schema(required = true)]
    pub fix: Option<String>,
    /// What the UI can do for the user instead. Null when there is nothing to offer.
    #[schema(required = true)]
    pub action: Option<Action>,
    /// Upstream checks: how long the TCP connection took, in milliseconds.
    #[schema(required = true)]
    pub connect_ms: Option<f64>,
    /// Upstream checks: how long until the response head arrived (connection included), in
    /// milliseconds.
    #[schema(required = true)]
    pub total_ms: Option<f64>,
}

impl Finding {
    fn new(check: Check, status: Level, subject: impl Into<String>, message: String) -> Finding {
        Finding {
            check,
            status,
            subject: subject.into(),
            route_id: None,
            message,
            fix: None,
            action: None,
            connect_ms: None,
            total_ms: None,
        }
    }

    fn route(mut self, id: RouteId) -> Finding {
        self.route_id = Some(id);
        self
    }

    fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }

    fn action(mut self, action: Action) -> Finding {
        self.action = Some(action);
        self
    }
}

/// Everything the doctor found.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DoctorReport)]
pub struct Report {
    /// Whether the checks ran against a running engine (listeners as bound) or the data dir
    /// alone (listeners as they would be bound now).
    pub engine_running: bool,
    /// The host asked about, if any.
    #[schema(required = true)]
    pub host: Option<String>,
    /// The findings: route, names, CA, listeners, upstreams, in that order.
    pub findings: Vec<Finding>,
    /// How many findings are errors.
    pub errors: usize,
    /// How many findings are warnings.
    pub warnings: usize,
}

/// How the listeners are, or would be.
#[derive(Debug, Clone)]
pub enum Listening {
    /// An engine runs: its listeners as bound.
    Running(Bound),
    /// No engine runs: the listeners `portico serve` would bind (from the settings or the
    /// defaults); each is tried now.
    Planned(Vec<Planned>),
}

impl Listening {
    fn https_on(&self) -> bool {
        match self {
            Listening::Running(bound) => bound
                .listeners
                .iter()
                .any(|(role, addrs)| *role == Role::Https && !addrs.is_empty()),
            Listening::Planned(plans) => plans.iter().any(|p| p.role == Role::Https),
        }
    }
}

/// What the doctor looks at.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Every stored route.
    pub routes: Vec<Route>,
    /// Only the routes serving this host (and the name itself), when given.
    pub host: Option<String>,
    /// Each trust store's state for the current CA; `None` when the CA is not known (no
    /// CA created yet, or no trust stores to look at).
    pub stores: Option<Vec<StoreStatus>>,
    /// The listeners.
    pub listening: Listening,
    /// The hosts file to look names up in. Default: [`HOSTS_FILE`].
    pub hosts_file: PathBuf,
    /// The command that puts route names into Portico's block of that file (see
    /// [`crate::hosts::command`]).
    pub hosts_command: String,
}

/// Run every check. Never fails: what cannot be checked is a finding too.
pub async fn run(inputs: Inputs) -> Report {
    let Inputs {
        routes,
        host,
        stores,
        listening,
        hosts_file,
        hosts_command,
    } = inputs;
    let https_on = listening.https_on();
    let engine_running = matches!(listening, Listening::Running(_));
    let mut findings = Vec::new();

    let (selected, names) = select(&routes, host.as_deref(), &mut findings);

    findings.extend(
        join_all(
            names
                .iter()
                .map(|(pattern, id)| name::check(pattern, *id, &hosts_file, &hosts_command)),
        )
        .await,
    );

    match &stores {
        Some(stores) => findings.extend(trust::findings(stores, https_on)),
        None if https_on => findings.push(
            Finding::new(
                Check::CaTrust,
                Level::Warn,
                "CA",
                "Portico's CA does not exist yet, so no browser trusts it: it is created when \
                 Portico first starts."
                    .to_owned(),
            )
            .fix("Start Portico (portico serve), then run: portico ca trust"),
        ),
        None => {}
    }

    findings.extend(match listening {
        Listening::Running(bound) => listen::running(&bound),
        Listening::Planned(plans) => tokio::task::spawn_blocking(move || listen::planned(&plans))
            .await
            .unwrap_or_default(),
    });

    let scheme = if https_on { "https" } else { "http" };
    let checks = selected.iter().flat_map(|route| {
        route
            .upstreams
            .iter()
            .map(move |up| upstream::check(route, up, scheme))
    });
    for found in join_all(checks).await {
        findings.extend(found);
    }

    let errors = findings.iter().filter(|f| f.status == Level::Error).count();
    let warnings = findings.iter().filter(|f| f.status == Level::Warn).count();
    Report {
        engine_running,
        host,
        findings,
        errors,
        warnings,
    }
}

/// The enabled routes to check and the names to resolve. With `host`, only the routes that
/// serve it; a host no route serves, or whose routes are all disabled, is a finding.
fn select<'a>(
    routes: &'a [Route],
    host: Option<&str>,
    findings: &mut Vec<Finding>,
) -> (Vec<&'a Route>, Vec<(HostPattern, Option<RouteId>)>) {
    let mut names: Vec<(HostPattern, Option<RouteId>)> = Vec::new();
    let mut add_name = |pattern: &HostPattern, id: Option<RouteId>| {
        if !names.iter().any(|(p, _)| p == pattern) {
            names.push((pattern.clone(), id));
        }
    };
    let Some(host) = host else {
        let enabled: Vec<&Route> = routes.iter().filter(|r| r.enabled).collect();
        for route in &enabled {
            add_name(&route.host, Some(route.id));
        }
        return (enabled, names);
    };
    let wanted = match HostPattern::parse(host) {
        Ok(pattern) => pattern,
        Err(err) => {
            findings.push(
                Finding::new(
                    Check::RouteMatch,
                    Level::Error,
                    host,
                    format!("{host} is not a host name Portico can route: {err}"),
                )
                .fix("Give a name such as app.localhost or app.test"),
            );
            return (Vec::new(), names);
        }
    };
    let serving: Vec<&Route> = routes
        .iter()
        .filter(|r| {
            r.host == wanted || matches!(&wanted, HostPattern::Exact(name) if r.host.matches(name))
        })
        .collect();
    let enabled: Vec<&Route> = serving.iter().copied().filter(|r| r.enabled).collect();
    if serving.is_empty() {
        findings.push(
            Finding::new(
                Check::RouteMatch,
                Level::Error,
                wanted.to_string(),
                format!("No route serves {wanted}, so Portico answers its requests with 404."),
            )
            .fix(format!(
                "Add one: portico route add {wanted} PORT (the port your dev server listens on)"
            )),
        );
        add_name(&wanted, None);
    } else if enabled.is_empty() {
        let route = serving[0];
        findings.push(
            Finding::new(
                Check::RouteMatch,
                Level::Error,
                route.host.to_string(),
                format!(
                    "The route for {} is disabled, so it matches no request.",
                    route.host
                ),
            )
            .route(route.id)
            .fix(format!("portico route enable {}", route.host)),
        );
    } else {
        for route in &enabled {
            findings.push(
                Finding::new(
                    Check::RouteMatch,
                    Level::Ok,
                    route.host.to_string(),
                    format!(
                        "{wanted} is served by the route {}{} → {}.",
                        route.host,
                        if route.path.is_root() {
                            String::new()
                        } else {
                            route.path.to_string()
                        },
                        route.target()
                    ),
                )
                .route(route.id),
            );
        }
    }
    for route in &enabled {
        add_name(&route.host, Some(route.id));
    }
    if enabled.is_empty() && !serving.is_empty() {
        add_name(&wanted, None);
    }
    (enabled, names)
}

#[cfg(test)]
mod tests;
