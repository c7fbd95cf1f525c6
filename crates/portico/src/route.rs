//! `portico route …`: through the running engine's admin API when there is one for the data
//! dir, else straight into the database (a later `portico serve` reads it).

use std::path::Path;

use anyhow::{Context, bail};
use portico_core::config::{
    AuthUserInput, Balancing, HeaderPair, HeaderRules, HealthCheck, HostPattern, NewRoute,
    PathPrefix, Policy, Route, RoutePatch, RouteTarget,
};

use crate::backend::Backend;

/// `portico route` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Map HOST to TARGET (a port such as 5173, host:port, or http://host:port[/base]) — or
    /// to several, balanced (--balance) — or to a folder (--static) or a redirect (--redirect).
    #[command(after_help = "Examples:
  portico route add app.localhost 5173
  portico route add api.localhost 8001 8002 8003 --balance least_conn --health-check /health
  portico route add '*.shop.localhost' localhost:3000 --upstream-host
  portico route add app.localhost 8000 --path /api --strip-prefix
  portico route add api.localhost 8000 --cache --compress
  portico route add docs.localhost --static ./dist --spa
  portico route add old.localhost --redirect https://new.localhost")]
    Add {
        /// Host name, e.g. app.localhost, or a wildcard such as '*.app.localhost'.
        host: String,
        /// Upstream: a port, host:port, or http://host:port[/base]; several are balanced.
        /// Not needed with --static DIR or --redirect URL.
        #[arg(required_unless_present_any = ["static_dir", "redirect"], num_args = 0.., value_name = "TARGET")]
        targets: Vec<String>,
        /// Only requests under this path prefix. Default: /.
        #[arg(long, value_name = "P")]
        path: Option<String>,
        /// Remove the path prefix before forwarding (/api/users → /users).
        #[arg(long)]
        strip_prefix: bool,
        /// Send the upstream's own host:port as Host, for dev servers that reject other names.
        #[arg(long)]
        upstream_host: bool,
        /// Seconds to wait for the upstream's response headers before answering 504. Default: 60.
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout: Option<u64>,
        /// Store the route disabled.
        #[arg(long)]
        disabled: bool,
        /// Serve plain http:// too, instead of redirecting it to https://.
        #[arg(long)]
        no_https_redirect: bool,
        /// Do not record this route's traffic in the inspector (for a noisy route).
        #[arg(long)]
        no_capture: bool,
        #[command(flatten)]
        features: Features,
        #[command(flatten)]
        balance: BalanceFlags,
    },
    /// Change a route: its upstream, folder or redirect, and its features.
    #[command(after_help = "Examples:
  portico route set api.localhost --cache --compress
  portico route set api.localhost --no-cache
  portico route set app.localhost --set-header 'X-Frame-Options: DENY' --hide-backend
  portico route set app.localhost --upstream 5174
  portico route set app.test --upstream-host         # Vite's host check: send localhost:PORT
  portico route set api.localhost --upstream 8001 --upstream 8002 --balance first
  portico route set admin.localhost --auth alice:s3cret --auth bob   # bob: asked for
  portico route set admin.localhost --remove-auth bob")]
    Set {
        #[command(flatten)]
        select: Select,
        /// Forward to this upstream instead (replaces a folder or redirect). Repeatable: the
        /// upstreams given replace the route's list.
        #[arg(long, value_name = "TARGET", conflicts_with_all = ["static_dir", "redirect"])]
        upstream: Vec<String>,
        /// Send the upstream's own host:port as Host (for dev servers that reject other
        /// names, such as Vite's host check); --no-upstream-host sends the client's again.
        #[arg(long, overrides_with = "no_upstream_host")]
        upstream_host: bool,
        /// Send the client's Host to the upstream (the default).
        #[arg(long)]
        no_upstream_host: bool,
        #[command(flatten)]
        features: Features,
        #[command(flatten)]
        balance: BalanceFlags,
    },
    /// List routes.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove the route for HOST.
    #[command(visible_alias = "remove")]
    Rm(Select),
    /// Enable the route for HOST.
    Enable(Select),
    /// Disable the route for HOST (kept, but not served).
    Disable(Select),
}

/// Per-route features, shared by `route add` and `route set`. In `set`, an absent flag
/// leaves the feature as it is, and header flags replace that direction's rules.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct Features {
    /// Serve this folder instead of forwarding (index.html, ranges, precompressed files).
    #[arg(long = "static", value_name = "DIR")]
    static_dir: Option<std::path::PathBuf>,
    /// Static folder: answer unknown page paths with index.html (single-page apps).
    #[arg(long, overrides_with = "no_spa")]
    spa: bool,
    #[arg(long, hide = true)]
    no_spa: bool,
    /// Static folder: list directories that have no index.html.
    #[arg(long, overrides_with = "no_listing")]
    listing: bool,
    #[arg(long, hide = true)]
    no_listing: bool,
    /// Static folder: follow symbolic links that lead outside it.
    #[arg(long)]
    follow_symlinks: bool,
    /// Answer with a redirect to this URL instead of forwarding.
    #[arg(long, value_name = "URL", conflicts_with = "static_dir")]
    redirect: Option<String>,
    /// The redirect's status: 301, 302, 307 (default) or 308.
    #[arg(long, value_name = "CODE")]
    redirect_status: Option<u16>,
    /// Redirect to the URL exactly, without appending the request's path and query.
    #[arg(long)]
    redirect_drop_path: bool,
    /// Cache responses as a shared HTTP cache would (default: the default_cache setting).
    #[arg(long, overrides_with = "no_cache")]
    cache: bool,
    /// Do not cache.
    #[arg(long)]
    no_cache: bool,
    /// Also cache responses that say nothing about caching, for SECS seconds (like a CDN).
    #[arg(long, value_name = "SECS")]
    cache_ttl: Option<u64>,
    /// Compress responses with zstd, brotli or gzip (default: the default_compress setting).
    #[arg(long, overrides_with = "no_compress")]
    compress: bool,
    /// Do not compress.
    #[arg(long)]
    no_compress: bool,
    /// Set a response header, replacing any value: 'Name: value'. Repeatable.
    #[arg(long, value_name = "HEADER")]
    set_header: Vec<String>,
    /// Add a response header, keeping others: 'Name: value'. Repeatable.
    #[arg(long, value_name = "HEADER")]
    add_header: Vec<String>,
    /// Remove a response header. Repeatable.
    #[arg(long, value_name = "NAME")]
    remove_header: Vec<String>,
    /// Set a request header before forwarding: 'Name: value'. Repeatable.
    #[arg(long, value_name = "HEADER")]
    set_request_header: Vec<String>,
    /// Add a request header before forwarding: 'Name: value'. Repeatable.
    #[arg(long, value_name = "HEADER")]
    add_request_header: Vec<String>,
    /// Remove a request header before forwarding. Repeatable.
    #[arg(long, value_name = "NAME")]
    remove_request_header: Vec<String>,
    /// Remove Server, X-Powered-By and similar headers from responses.
    #[arg(long, overrides_with = "show_backend")]
    hide_backend: bool,
    /// Keep the backend's identity headers.
    #[arg(long)]
    show_backend: bool,
    /// Only clients from this address or CIDR range may use the route (others get 403).
    /// Repeatable; with `route set`, replaces the list.
    #[arg(long, value_name = "IP|CIDR")]
    allow: Vec<String>,
    /// Clients from this address or range get 403, even when --allow names them.
    /// Repeatable; with `route set`, replaces the list.
    #[arg(long, value_name = "IP|CIDR")]
    deny: Vec<String>,
    /// `route set`: let every client in again (empties the allowed list).
    #[arg(long, conflicts_with = "allow")]
    allow_all: bool,
    /// `route set`: empty the denied list.
    #[arg(long, conflicts_with = "deny")]
    deny_none: bool,
    /// At most N requests a second from each client (bursts up to N); more get 429.
    #[arg(long, value_name = "N")]
    rate_limit: Option<u64>,
    /// `route set`: remove the rate limit.
    #[arg(long, conflicts_with = "rate_limit")]
    no_rate_limit: bool,
    /// Refuse request bodies larger than BYTES with 413.
    #[arg(long, value_name = "BYTES")]
    max_body: Option<u64>,
    /// `route set`: remove the body size limit.
    #[arg(long, conflicts_with = "max_body")]
    no_max_body: bool,
    /// When shared (`portico share`), only devices from this address or CIDR range may use
    /// it. Repeatable; with `route set`, replaces the list. Default: the private ranges.
    #[arg(long, value_name = "IP|CIDR")]
    share_allow: Vec<String>,
    /// `route set`: back to the private ranges for the shared route.
    #[arg(long, conflicts_with = "share_allow")]
    share_allow_private: bool,
    /// The port the shared route listens on at the LAN address (default: a free one).
    #[arg(long, value_name = "PORT")]
    share_port: Option<u64>,
    /// At most N requests in flight at once from each client; more get 429.
    #[arg(long, value_name = "N")]
    max_conns: Option<u64>,
    /// `route set`: remove the in-flight request limit.
    #[arg(long, conflicts_with = "max_conns")]
    no_max_conns: bool,
    /// Require HTTP basic auth: this user with this password (repeatable). With USER alone
    /// the password is asked for (in a terminal). `route set` adds or changes these users and
    /// keeps the others.
    #[arg(long, value_name = "USER[:PASSWORD]")]
    auth: Vec<String>,
    /// `route set`: remove this basic auth user (repeatable).
    #[arg(long, value_name = "USER")]
    remove_auth: Vec<String>,
    /// `route set`: turn basic auth off (removes every user).
    #[arg(long, conflicts_with_all = ["auth", "remove_auth"])]
    no_auth: bool,
}

/// A `--auth` flag as a user with a password: `USER:PASSWORD`, or `USER` and the password
/// asked for when standard input is a terminal.
fn auth_user(flag: &str) -> anyhow::Result<AuthUserInput> {
    let (user, password) = match flag.split_once(':') {
        Some((user, password)) => (user.to_owned(), password.to_owned()),
        None => {
            use std::io::IsTerminal;
            if !std::io::stdin().is_terminal() {
                bail!(
                    "--auth {flag} needs a password: write --auth {flag}:PASSWORD, or run it in a terminal to be asked"
                );
            }
            let password = rpassword::prompt_password(format!("Password for {flag}: "))
                .context("cannot read the password")?;
            (flag.to_owned(), password)
        }
    };
    Ok(AuthUserInput {
        user,
        password: Some(password),
        password_hash: None,
    })
}

/// How a route with several upstreams balances them. In `set`, absent flags keep the
/// route's current values.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct BalanceFlags {
    /// Which upstream takes a request: round_robin (default), least_conn, random_two,
    /// first (failover in the listed order), ip_hash or cookie (sticky).
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    balance: Option<Policy>,
    /// Failed requests in a row that take an upstream out of balancing. Default: 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    max_fails: Option<u32>,
    /// Seconds an upstream taken out by failed requests rests before it is tried again.
    /// Default: 10.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    fail_cooldown: Option<u64>,
    /// Check each upstream with GET PATH (2xx or 3xx is healthy) instead of a TCP connect.
    #[arg(long, value_name = "PATH")]
    health_check: Option<String>,
    /// Seconds between health checks. Default: 5.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    check_every: Option<u64>,
    /// The status a healthy upstream answers the health check with (instead of any 2xx/3xx).
    #[arg(long, value_name = "CODE", value_parser = clap::value_parser!(u16).range(100..=599))]
    check_status: Option<u16>,
    /// `route set`: remove the health check (back to TCP connects).
    #[arg(long, conflicts_with_all = ["health_check", "check_every", "check_status"])]
    no_health_check: bool,
}

fn parse_policy(name: &str) -> Result<Policy, String> {
    Policy::parse(name).map_err(|e| e.to_string())
}

impl BalanceFlags {
    /// `current` with the flags given applied; `None` when no flag was given.
    fn apply(&self, current: &Balancing) -> anyhow::Result<Option<Balancing>> {
        let given = self.balance.is_some()
            || self.max_fails.is_some()
            || self.fail_cooldown.is_some()
            || self.health_check.is_some()
            || self.check_every.is_some()
            || self.check_status.is_some()
            || self.no_health_check;
        if !given {
            return Ok(None);
        }
        let mut next = current.clone();
        if let Some(policy) = self.balance {
            next.policy = policy;
        }
        if let Some(n) = self.max_fails {
            next.max_fails = n;
        }
        if let Some(secs) = self.fail_cooldown {
            next.fail_cooldown_ms = secs * 1000;
        }
        if self.no_health_check {
            next.health_check = None;
        } else if self.health_check.is_some()
            || self.check_every.is_some()
            || self.check_status.is_some()
        {
            let mut check = match (next.health_check.take(), &self.health_check) {
                (_, Some(path)) => HealthCheck {
                    path: path.clone(),
                    interval_ms: 5_000,
                    timeout_ms: 2_000,
                    expect_status: None,
                },
                (Some(check), None) => check,
                (None, None) => bail!(
                    "--check-every and --check-status need a health check: add --health-check PATH"
                ),
            };
            if let Some(secs) = self.check_every {
                check.interval_ms = secs * 1000;
            }
            if self.check_status.is_some() {
                check.expect_status = self.check_status;
            }
            next.health_check = Some(check);
        }
        next.validate()?;
        Ok(Some(next))
    }
}

/// `true`/`false` when one of a pair of flags was given, else `None`.
fn switch(on: bool, off: bool) -> Option<bool> {
    match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// A list flag for `route set`: the entries given, an empty list when cleared, else no change.
fn list_change(entries: &[String], clear: bool) -> Option<Vec<String>> {
    if clear {
        Some(Vec::new())
    } else if entries.is_empty() {
        None
    } else {
        Some(entries.to_vec())
    }
}

fn pairs(flags: &[String], what: &str) -> anyhow::Result<Vec<HeaderPair>> {
    flags
        .iter()
        .map(|flag| {
            let (name, value) = flag.split_once(':').with_context(|| {
                format!("{what} {flag:?} needs a name and a value: 'Name: value'")
            })?;
            Ok(HeaderPair {
                name: name.trim().to_owned(),
                value: value.trim().to_owned(),
            })
        })
        .collect()
}

impl Features {
    fn static_dir(&self) -> anyhow::Result<Option<String>> {
        let Some(dir) = &self.static_dir else {
            return Ok(None);
        };
        let absolute = std::path::absolute(dir)
            .with_context(|| format!("cannot resolve the folder {}", dir.display()))?;
        Ok(Some(absolute.to_string_lossy().into_owned()))
    }

    fn rules(&self, request: bool) -> anyhow::Result<Option<HeaderRules>> {
        let (set, add, remove, set_flag, add_flag) = if request {
            (
                &self.set_request_header,
                &self.add_request_header,
                &self.remove_request_header,
                "--set-request-header",
                "--add-request-header",
            )
        } else {
            (
                &self.set_header,
                &self.add_header,
                &self.remove_header,
                "--set-header",
                "--add-header",
            )
        };
        if set.is_empty() && add.is_empty() && remove.is_empty() {
            return Ok(None);
        }
        Ok(Some(HeaderRules {
            set: pairs(set, set_flag)?,
            add: pairs(add, add_flag)?,
            remove: remove.clone(),
        }))
    }

    /// Fill a new route's features.
    fn apply_new(&self, new: &mut NewRoute) -> anyhow::Result<()> {
        new.static_dir = self.static_dir()?;
        new.spa = self.spa;
        new.dir_listing = self.listing;
        new.follow_symlinks = self.follow_symlinks;
        new.redirect = self.redirect.clone();
        new.redirect_status = self.redirect_status;
        new.redirect_keep_path = Some(!self.redirect_drop_path);
        new.cache = switch(self.cache, self.no_cache);
        new.cache_ttl_secs = self.cache_ttl;
        new.compress = switch(self.compress, self.no_compress);
        new.request_headers = self.rules(true)?.unwrap_or_default();
        new.response_headers = self.rules(false)?.unwrap_or_default();
        new.hide_backend = self.hide_backend;
        new.allow_ips = self.allow.clone();
        new.deny_ips = self.deny.clone();
        new.rate_limit_per_sec = self.rate_limit;
        new.max_body_bytes = self.max_body;
        new.max_conns_per_ip = self.max_conns;
        new.basic_auth = self
            .auth
            .iter()
            .map(|flag| auth_user(flag))
            .collect::<anyhow::Result<_>>()?;
        new.share_allow_ips = self.share_allow.clone();
        new.share_port = self.share_port;
        Ok(())
    }

    /// The users `route set` leaves on `route`: its own (passwords kept) less those removed,
    /// with those given added or changed; `None` when no auth flag was given.
    fn auth_change(&self, route: &Route) -> anyhow::Result<Option<Vec<AuthUserInput>>> {
        if self.no_auth {
            return Ok(Some(Vec::new()));
        }
        if self.auth.is_empty() && self.remove_auth.is_empty() {
            return Ok(None);
        }
        for name in &self.remove_auth {
            if route.basic_auth.user(name).is_none() {
                bail!("{} has no basic auth user {name:?}", route.host);
            }
        }
        let given: Vec<AuthUserInput> = self
            .auth
            .iter()
            .map(|flag| auth_user(flag))
            .collect::<anyhow::Result<_>>()?;
        let mut users: Vec<AuthUserInput> = route
            .basic_auth
            .to_input()
            .into_iter()
            .filter(|u| !self.remove_auth.contains(&u.user))
            .filter(|u| !given.iter().any(|g| g.user == u.user))
            .collect();
        users.extend(given);
        Ok(Some(users))
    }

    /// The changes `route set` asks for on `route`.
    fn patch(&self, route: &Route) -> anyhow::Result<RoutePatch> {
        Ok(RoutePatch {
            static_dir: self.static_dir()?.map(Some),
            spa: switch(self.spa, self.no_spa),
            dir_listing: switch(self.listing, self.no_listing),
            follow_symlinks: self.follow_symlinks.then_some(true),
            redirect: self.redirect.clone().map(Some),
            redirect_status: self.redirect_status,
            redirect_keep_path: self.redirect_drop_path.then_some(false),
            cache: switch(self.cache, self.no_cache),
            cache_ttl_secs: self.cache_ttl.map(Some),
            compress: switch(self.compress, self.no_compress),
            request_headers: self.rules(true)?,
            response_headers: self.rules(false)?,
            hide_backend: switch(self.hide_backend, self.show_backend),
            allow_ips: list_change(&self.allow, self.allow_all),
            deny_ips: list_change(&self.deny, self.deny_none),
            rate_limit_per_sec: if self.no_rate_limit {
                Some(None)
            } else {
                self.rate_limit.map(Some)
            },
            max_body_bytes: if self.no_max_body {
                Some(None)
            } else {
                self.max_body.map(Some)
            },
            max_conns_per_ip: if self.no_max_conns {
                Some(None)
            } else {
                self.max_conns.map(Some)
            },
            basic_auth: self.auth_change(route)?,
            share_allow_ips: list_change(&self.share_allow, self.share_allow_private),
            share_port: self.share_port.map(Some),
            ..RoutePatch::default()
        })
    }
}

/// Which route a command acts on.
#[derive(Debug, clap::Args)]
pub(crate) struct Select {
    /// Host name as given to `route add`.
    host: String,
    /// The route's path prefix, when HOST has several.
    #[arg(long, value_name = "P")]
    path: Option<String>,
}

pub(crate) fn run(data_dir: &Path, cmd: Command) -> anyhow::Result<()> {
    let backend = Backend::open(data_dir)?;
    match cmd {
        Command::Add {
            host,
            targets,
            path,
            strip_prefix,
            upstream_host,
            timeout,
            disabled,
            no_https_redirect,
            no_capture,
            features,
            balance,
        } => {
            let mut new = NewRoute {
                host,
                path,
                upstreams: targets,
                strip_prefix,
                upstream_host,
                timeout_ms: timeout.map(|s| s * 1000),
                enabled: Some(!disabled),
                https_redirect: Some(!no_https_redirect),
                capture: Some(!no_capture),
                ..NewRoute::default()
            };
            features.apply_new(&mut new)?;
            if let Some(balancing) = balance.apply(&Balancing::default())? {
                new.balancing = balancing;
            }
            // Validate here too, so a bad route gets the same message with or without an engine.
            new.validate()?;
            let route = backend.add(new)?;
            println!("Added {}", describe(&route));
            note_missing_folder(&route);
            let extra = backend.settings()?.local_suffixes;
            if !portico_core::tls::is_local_name(&route.host.to_string(), &extra) {
                println!(
                    "note: {} is not under a local suffix ({}), so Portico's CA cannot give it a certificate: \
                     it is served over http:// only (never redirected to https://). Prefer a name such as {}.localhost.",
                    route.host,
                    portico_core::tls::DEFAULT_SUFFIXES.join(", "),
                    route
                        .host
                        .to_string()
                        .trim_start_matches("*.")
                        .split('.')
                        .next()
                        .unwrap_or("app")
                );
            }
            if backend.is_live() {
                println!("Live now in the running engine.");
            } else {
                println!("Saved; `portico serve` uses it when it starts.");
            }
        }
        Command::Set {
            select,
            upstream,
            upstream_host,
            no_upstream_host,
            features,
            balance,
        } => {
            let route = select.find(&backend)?;
            let mut patch = features.patch(&route)?;
            if !upstream.is_empty() {
                patch.upstreams = Some(upstream);
            }
            if upstream_host || no_upstream_host {
                patch.upstream_host = Some(upstream_host);
            }
            patch.balancing = balance.apply(&route.balancing)?;
            let next = backend.update(route.id, patch)?;
            println!("Changed {}", describe(&next));
            note_missing_folder(&next);
        }
        Command::List { json } => list(&backend, json)?,
        Command::Rm(select) => {
            let route = select.find(&backend)?;
            backend.remove(route.id)?;
            println!("Removed {}", describe(&route));
        }
        Command::Enable(select) => set_enabled(&backend, &select, true)?,
        Command::Disable(select) => set_enabled(&backend, &select, false)?,
    }
    Ok(())
}

/// After a route was stored: say so when its folder does not exist (yet).
fn note_missing_folder(route: &Route) {
    if let RouteTarget::Static(dir) = route.target()
        && !std::path::Path::new(dir).is_dir()
    {
        eprintln!("note: {dir} does not exist yet; the route answers 502 until it does");
    }
}

fn set_enabled(backend: &Backend, select: &Select, enabled: bool) -> anyhow::Result<()> {
    let route = select.find(backend)?;
    let patch = RoutePatch {
        enabled: Some(enabled),
        ..Default::default()
    };
    let next = backend.update(route.id, patch)?;
    println!(
        "{} {}",
        if enabled { "Enabled" } else { "Disabled" },
        describe(&next)
    );
    Ok(())
}

impl Select {
    /// The route for `host` (and `path`, when given).
    pub(crate) fn new(host: String, path: Option<String>) -> Select {
        Select { host, path }
    }

    pub(crate) fn find(&self, backend: &Backend) -> anyhow::Result<Route> {
        let host = HostPattern::parse(&self.host)?;
        let path = self.path.as_deref().map(PathPrefix::parse).transpose()?;
        let (routes, _) = backend.routes()?;
        let matching: Vec<Route> = routes
            .into_iter()
            .filter(|r| r.host == host && path.as_ref().is_none_or(|p| &r.path == p))
            .collect();
        match matching.len() {
            0 => {
                let at = path.map(|p| p.to_string()).unwrap_or_default();
                bail!("no route for {host}{at}; see `portico route list`")
            }
            1 => Ok(matching.into_iter().next().context("one route")?),
            _ => {
                let paths: Vec<&str> = matching.iter().map(|r| r.path.as_str()).collect();
                bail!(
                    "{host} has {} routes ({}); say which with --path",
                    matching.len(),
                    paths.join(", ")
                )
            }
        }
    }
}

fn describe(route: &Route) -> String {
    let path = if route.path.is_root() {
        ""
    } else {
        route.path.as_str()
    };
    let mut flags = Vec::new();
    if route.strip_prefix {
        flags.push("strip prefix");
    }
    if route.upstream_host {
        flags.push("upstream host");
    }
    if !route.enabled {
        flags.push("disabled");
    }
    if !route.https_redirect {
        flags.push("no https redirect");
    }
    if !route.capture {
        flags.push("not captured");
    }
    flags.extend(feature_flags(route));
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" ({})", flags.join(", "))
    };
    format!("{}{path} → {}{flags}", route.host, route.target())
}

/// The features a route has switched on, for `describe` and `list`.
fn feature_flags(route: &Route) -> Vec<&'static str> {
    let mut flags = Vec::new();
    if route.shared {
        flags.push("shared on the network");
    }
    if route.cache {
        flags.push("cache");
    }
    if route.compress {
        flags.push("compress");
    }
    if let RouteTarget::Static(_) = route.target() {
        if route.spa {
            flags.push("spa");
        }
        if route.dir_listing {
            flags.push("listing");
        }
        if route.follow_symlinks {
            flags.push("follow-symlinks");
        }
    }
    if !route.request_headers.is_empty() || !route.response_headers.is_empty() {
        flags.push("header rules");
    }
    if route.hide_backend {
        flags.push("hide-backend");
    }
    if !route.allow_ips.is_empty() {
        flags.push("allow list");
    }
    if !route.deny_ips.is_empty() {
        flags.push("deny list");
    }
    if route.rate_limit_per_sec.is_some() {
        flags.push("rate limit");
    }
    if route.max_body_bytes.is_some() {
        flags.push("body limit");
    }
    if route.upstreams.len() > 1 {
        flags.push(match route.balancing.policy {
            Policy::RoundRobin => "round robin",
            Policy::LeastConn => "least connections",
            Policy::RandomTwo => "random of two",
            Policy::First => "failover",
            Policy::IpHash => "sticky by address",
            Policy::Cookie => "sticky by cookie",
        });
    }
    if route.balancing.health_check.is_some() {
        flags.push("health check");
    }
    if route.max_conns_per_ip.is_some() {
        flags.push("conn limit");
    }
    if !route.basic_auth.is_empty() {
        flags.push("auth");
    }
    flags
}

fn list(backend: &Backend, json: bool) -> anyhow::Result<()> {
    let (routes, broken) = backend.routes()?;
    for bad in &broken {
        eprintln!(
            "warning: stored route {} ({}) is not valid and is not served: {}",
            bad.id, bad.host, bad.error
        );
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&routes)?);
        return Ok(());
    }
    if routes.is_empty() {
        println!("No routes. Add one: portico route add app.localhost 5173");
        return Ok(());
    }
    let header = ["ID", "HOST", "PATH", "TARGET", "OPTIONS"];
    let cells: Vec<[String; 5]> = routes
        .iter()
        .map(|r| {
            let mut opts = Vec::new();
            if !r.enabled {
                opts.push("disabled".to_owned());
            }
            if r.strip_prefix {
                opts.push("strip-prefix".to_owned());
            }
            if r.upstream_host {
                opts.push("upstream-host".to_owned());
            }
            if !r.https_redirect {
                opts.push("no-https-redirect".to_owned());
            }
            if !r.capture {
                opts.push("no-capture".to_owned());
            }
            opts.extend(feature_flags(r).into_iter().map(str::to_owned));
            if let Some(ttl) = r.cache_ttl_secs {
                opts.push(format!("cache-ttl={ttl}s"));
            }
            if let RouteTarget::Redirect(_) = r.target() {
                opts.push(format!("status={}", r.redirect_status));
            }
            if let Some(project) = &r.project {
                opts.push(format!("project={project}"));
            }
            if r.timeout_ms != portico_core::config::DEFAULT_TIMEOUT.as_millis() as u64 {
                opts.push(format!("timeout={}s", r.timeout_ms as f64 / 1000.0));
            }
            [
                r.id.to_string(),
                r.host.to_string(),
                r.path.to_string(),
                r.target().to_string(),
                opts.join(" "),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: [&str; 5]| {
        let mut out = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header);
    for row in &cells {
        line(row.each_ref().map(String::as_str));
    }
    Ok(())
}
