//! The Caddyfile target. One site block per host; each route is a `handle` on its path
//! matcher whose body is a `route` block, so the directives run in the order written.

use std::fmt::Write as _;

use super::{LOCKED_BCRYPT, Options, Plan, duration, portico_only, route_comments, upstreams};
use crate::config::{BACKEND_HEADERS, HostPattern, Policy, Route, RouteTarget};

pub(super) fn render(plan: &Plan<'_>, options: &Options) -> String {
    let mut out = String::from(
        "# Caddyfile exported from Portico. Run it with `caddy run --config Caddyfile`.\n",
    );
    out.push_str("{\n");
    if options.plain_http {
        out.push_str("\tauto_https off\n");
    }
    if let Some(ip) = options.bind {
        let _ = writeln!(out, "\tdefault_bind {ip}");
    }
    let _ = writeln!(out, "\thttp_port {}", options.http_port);
    let _ = writeln!(out, "\thttps_port {}", options.https_port);
    out.push_str("}\n");
    out.push_str(&plan.disabled_comments(""));
    for (host, routes) in &plan.sites {
        out.push('\n');
        site(&mut out, host, routes, options);
    }
    out
}

fn site(out: &mut String, host: &HostPattern, routes: &[&Route], options: &Options) {
    let all_redirect = routes.iter().all(|r| r.https_redirect);
    let address = if options.plain_http {
        format!("http://{host}")
    } else if all_redirect {
        // A bare name: Caddy serves HTTPS and redirects HTTP to it by itself.
        host.to_string()
    } else {
        format!("http://{host}, https://{host}")
    };
    let _ = writeln!(out, "{address} {{");
    if let HostPattern::Wildcard(_) = host {
        out.push_str(
            "\t# note: Caddy's wildcard matches one label; Portico's matched names at any depth\n",
        );
    }
    for route in routes {
        route_block(out, route, options, !all_redirect);
    }
    out.push_str("}\n");
}

fn route_block(out: &mut String, route: &Route, options: &Options, per_route_redirect: bool) {
    let name = format!("route{}", route.id);
    let mut notes = portico_only(route);
    let prefix = route.path.as_str();
    let mut matchers = String::new();
    let mut body = String::new();

    if route.https_redirect && per_route_redirect && !options.plain_http {
        let _ = writeln!(matchers, "\t@{name}_plain protocol http");
        let port = if options.https_port == 443 {
            String::new()
        } else {
            format!(":{}", options.https_port)
        };
        let _ = writeln!(
            body,
            "\t\tredir @{name}_plain https://{{host}}{port}{{uri}} 308"
        );
    }
    if route.https_redirect && options.plain_http {
        notes.push("the redirect to HTTPS (this export is plain HTTP)".into());
    }
    if !route.deny_ips.is_empty() {
        let _ = writeln!(
            matchers,
            "\t@{name}_denied remote_ip {}",
            route.deny_ips.to_strings().join(" ")
        );
        let _ = writeln!(body, "\t\trespond @{name}_denied 403");
    }
    if !route.allow_ips.is_empty() {
        let _ = writeln!(
            matchers,
            "\t@{name}_outside not remote_ip {}",
            route.allow_ips.to_strings().join(" ")
        );
        let _ = writeln!(body, "\t\trespond @{name}_outside 403");
    }
    if let Some(rate) = route.rate_limit_per_sec {
        notes.push(format!(
            "the rate limit of {rate} requests/s per client (needs the caddy-ratelimit plugin)"
        ));
    }
    if let Some(n) = route.max_conns_per_ip {
        notes.push(format!(
            "the limit of {n} requests in flight per client (no standard directive)"
        ));
    }
    if !route.basic_auth.is_empty() {
        body.push_str("\t\t# passwords: run `caddy hash-password` and replace each hash below\n");
        body.push_str("\t\tbasicauth {\n");
        for user in route.basic_auth.users() {
            let _ = writeln!(body, "\t\t\t{} {LOCKED_BCRYPT}", quote(&user.user));
        }
        body.push_str("\t\t}\n");
    }
    if let Some(max) = route.max_body_bytes {
        let _ = writeln!(body, "\t\trequest_body {{\n\t\t\tmax_size {max}\n\t\t}}");
    }
    let strip = !route.path.is_root()
        && (route.strip_prefix || matches!(route.target(), RouteTarget::Static(_)));
    if strip {
        let _ = writeln!(body, "\t\turi strip_prefix {prefix}");
    }
    let mut response = Vec::new();
    for h in &route.response_headers.remove {
        response.push(format!("-{h}"));
    }
    for p in &route.response_headers.set {
        response.push(format!("{} {}", p.name, quote(&p.value)));
    }
    for p in &route.response_headers.add {
        response.push(format!("+{} {}", p.name, quote(&p.value)));
    }
    if route.hide_backend {
        response.extend(BACKEND_HEADERS.iter().map(|h| format!("-{h}")));
    }
    if !response.is_empty() {
        body.push_str("\t\theader {\n\t\t\tdefer\n");
        for line in response {
            let _ = writeln!(body, "\t\t\t{line}");
        }
        body.push_str("\t\t}\n");
    }
    if route.compress {
        body.push_str("\t\tencode zstd gzip\n");
        notes.push("brotli compression (standard Caddy encodes zstd and gzip only)".into());
    }
    if route.cache {
        notes.push("the response cache (needs the cache-handler plugin)".into());
    }
    match route.target() {
        RouteTarget::Redirect(url) => {
            let location = if route.redirect_keep_path {
                format!("\"{}{{uri}}\"", escape(url.trim_end_matches('/')))
            } else {
                quote(url)
            };
            let _ = writeln!(body, "\t\tredir {location} {}", route.redirect_status);
        }
        RouteTarget::Static(dir) => {
            let _ = writeln!(body, "\t\troot * {}", quote(dir));
            if route.spa {
                body.push_str("\t\ttry_files {path} /index.html\n");
            }
            body.push_str(if route.dir_listing {
                "\t\tfile_server browse\n"
            } else {
                "\t\tfile_server\n"
            });
            if !route.follow_symlinks {
                notes.push(
                    "refusing symbolic links that leave the folder (Caddy follows them)".into(),
                );
            }
        }
        RouteTarget::Upstream(_) => proxy(&mut body, route, &mut notes),
    }

    out.push_str(&route_comments(route, &notes, "Caddy", "\t"));
    out.push_str(&matchers);
    if route.path.is_root() {
        out.push_str("\thandle {\n");
    } else {
        let _ = writeln!(out, "\t@{name} path {prefix} {prefix}/*");
        let _ = writeln!(out, "\thandle @{name} {{");
    }
    out.push_str("\t\troute {\n");
    for line in body.lines() {
        let _ = writeln!(out, "\t{line}");
    }
    out.push_str("\t\t}\n\t}\n");
}

fn proxy(body: &mut String, route: &Route, notes: &mut Vec<String>) {
    let ups = upstreams(route);
    let base = ups.first().map_or("", |u| u.base_path());
    if ups.iter().any(|u| u.base_path() != base) {
        notes.push("different base paths per upstream (the first one's is used)".into());
    }
    if !base.is_empty() {
        let _ = writeln!(body, "\t\trewrite * {base}{{uri}}");
    }
    let dials: Vec<String> = ups.iter().map(|u| u.authority().to_string()).collect();
    let _ = writeln!(body, "\t\treverse_proxy {} {{", dials.join(" "));
    if ups.len() > 1 {
        let b = &route.balancing;
        let policy = match b.policy {
            Policy::RoundRobin => "round_robin",
            Policy::LeastConn => "least_conn",
            Policy::RandomTwo => "random_choose 2",
            Policy::First => "first",
            Policy::IpHash => "ip_hash",
            Policy::Cookie => "cookie",
        };
        let _ = writeln!(body, "\t\t\tlb_policy {policy}");
        let _ = writeln!(body, "\t\t\tfail_duration {}", duration(b.fail_cooldown_ms));
        let _ = writeln!(body, "\t\t\tmax_fails {}", b.max_fails);
    }
    if let Some(check) = &route.balancing.health_check {
        let _ = writeln!(body, "\t\t\thealth_uri {}", check.path);
        let _ = writeln!(
            body,
            "\t\t\thealth_interval {}",
            duration(check.interval_ms)
        );
        let _ = writeln!(body, "\t\t\thealth_timeout {}", duration(check.timeout_ms));
        if let Some(status) = check.expect_status {
            let _ = writeln!(body, "\t\t\thealth_status {status}");
        }
    }
    if route.upstream_host {
        body.push_str("\t\t\theader_up Host {upstream_hostport}\n");
    }
    let rules = &route.request_headers;
    for h in &rules.remove {
        let _ = writeln!(body, "\t\t\theader_up -{h}");
    }
    for p in &rules.set {
        let _ = writeln!(body, "\t\t\theader_up {} {}", p.name, quote(&p.value));
    }
    for p in &rules.add {
        let _ = writeln!(body, "\t\t\theader_up +{} {}", p.name, quote(&p.value));
    }
    let _ = writeln!(
        body,
        "\t\t\ttransport http {{\n\t\t\t\tresponse_header_timeout {}\n\t\t\t}}",
        duration(route.timeout_ms)
    );
    body.push_str("\t\t}\n");
}

/// A Caddyfile token in double quotes; `{` is escaped so a value is never a placeholder.
fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

/// `s` with what ends or changes a quoted Caddyfile token escaped.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' | '\\' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}
