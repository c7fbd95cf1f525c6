//! The nginx target: server blocks and what they need (`upstream`, `map`, zones), to include
//! in nginx's `http` block. A route's prefix becomes two locations, `= /api` and `/api/`,
//! because nginx prefixes are plain string prefixes and Portico's match on segment
//! boundaries.

use std::fmt::Write as _;

use super::{
    Options, Plan, duration, object_name, portico_only, regex_escape, route_comments, upstreams,
};
use crate::config::{BACKEND_HEADERS, HostPattern, Policy, Route, RouteTarget};

pub(super) fn render(plan: &Plan<'_>, options: &Options) -> String {
    let dir = options.files_dir.trim_end_matches('/');
    let mut out = String::from(
        "# nginx configuration exported from Portico: include it in the http block,\n\
         # e.g. as /etc/nginx/conf.d/portico.conf.\n",
    );
    if !options.plain_http {
        let _ = writeln!(
            out,
            "# TLS certificates are expected at {dir}/certs/NAME.crt and NAME.key (NAME is the host;\n\
             # _.example.test for *.example.test)."
        );
    }
    out.push_str(&plan.disabled_comments(""));
    out.push_str(
        "\n# WebSocket upgrades: `Connection: upgrade` only when the client asked for one.\n\
         map $http_upgrade $portico_connection_upgrade {\n\tdefault upgrade;\n\t'' close;\n}\n\
         # A literal `$` in a value (nginx has no escape for it).\n\
         geo $portico_dollar {\n\tdefault \"$\";\n}\n",
    );
    if plan.routes.iter().any(|r| r.cache) {
        let _ = writeln!(
            out,
            "proxy_cache_path {dir}/cache levels=1:2 keys_zone=portico_cache:10m max_size=1g inactive=1h;"
        );
    }
    for route in &plan.routes {
        let name = zone(route);
        if let Some(rate) = route.rate_limit_per_sec {
            let _ = writeln!(
                out,
                "limit_req_zone $binary_remote_addr zone={name}_rate:10m rate={rate}r/s;"
            );
        }
        if route.max_conns_per_ip.is_some() {
            let _ = writeln!(
                out,
                "limit_conn_zone $binary_remote_addr zone={name}_conns:10m;"
            );
        }
        let ups = upstreams(route);
        if ups.len() > 1 {
            upstream_block(&mut out, route);
        }
    }
    for (host, routes) in &plan.sites {
        let server_name = match host {
            HostPattern::Exact(name) => name.clone(),
            HostPattern::Wildcard(suffix) => format!("*.{suffix}"),
        };
        out.push('\n');
        if options.plain_http {
            server(&mut out, &server_name, routes, options, Listen::Plain);
        } else {
            server(
                &mut out,
                &server_name,
                routes,
                options,
                Listen::HttpRedirecting,
            );
            out.push('\n');
            server(&mut out, &server_name, routes, options, Listen::Tls);
        }
    }
    out
}

/// Which of a host's server blocks is being written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listen {
    /// The only server (plain-HTTP export).
    Plain,
    /// The HTTP server next to a TLS one: routes with `https_redirect` redirect there.
    HttpRedirecting,
    /// The TLS server.
    Tls,
}

/// `127.0.0.1:` or `[::1]:` when the export binds one address, else nothing.
fn address(options: &Options) -> String {
    match options.bind {
        Some(std::net::IpAddr::V4(ip)) => format!("{ip}:"),
        Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:"),
        None => String::new(),
    }
}

fn zone(route: &Route) -> String {
    object_name(route).replace('-', "_")
}

fn upstream_block(out: &mut String, route: &Route) {
    let b = &route.balancing;
    let _ = writeln!(out, "upstream {} {{", zone(route));
    let mut note = None;
    match b.policy {
        Policy::RoundRobin | Policy::First => {}
        Policy::LeastConn => out.push_str("\tleast_conn;\n"),
        Policy::RandomTwo => out.push_str("\trandom two least_conn;\n"),
        Policy::IpHash => out.push_str("\thash $remote_addr consistent;\n"),
        Policy::Cookie => {
            note = Some(
                "\t# not exported to nginx: cookie affinity (nginx Plus `sticky cookie`); round robin instead\n",
            )
        }
    }
    if let Some(note) = note {
        out.push_str(note);
    }
    if b.health_check.is_some() {
        out.push_str("\t# not exported to nginx: the active health check (nginx Plus); failed requests still mark a server down\n");
    }
    for (i, up) in upstreams(route).iter().enumerate() {
        let backup = if b.policy == Policy::First && i > 0 {
            " backup"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "\tserver {} max_fails={} fail_timeout={}{backup};",
            up.authority(),
            b.max_fails,
            duration(b.fail_cooldown_ms)
        );
    }
    out.push_str("}\n");
}

fn server(
    out: &mut String,
    server_name: &str,
    routes: &[&Route],
    options: &Options,
    listen: Listen,
) {
    out.push_str("server {\n");
    match listen {
        Listen::Plain | Listen::HttpRedirecting => {
            let _ = writeln!(out, "\tlisten {}{};", address(options), options.http_port);
        }
        Listen::Tls => {
            let dir = options.files_dir.trim_end_matches('/');
            let file = server_name.replace('*', "_");
            let _ = writeln!(
                out,
                "\tlisten {}{} ssl;",
                address(options),
                options.https_port
            );
            let _ = writeln!(out, "\tssl_certificate {dir}/certs/{file}.crt;");
            let _ = writeln!(out, "\tssl_certificate_key {dir}/certs/{file}.key;");
        }
    }
    let _ = writeln!(out, "\tserver_name {server_name};");
    for route in routes {
        out.push('\n');
        if listen == Listen::HttpRedirecting && route.https_redirect {
            let _ = writeln!(out, "\t# {}: to HTTPS", super::summary(route));
            let port = if options.https_port == 443 {
                String::new()
            } else {
                format!(":{}", options.https_port)
            };
            let body = format!("\t\treturn 308 https://$host{port}$request_uri;\n");
            locations(out, route, |_| body.clone());
            continue;
        }
        let mut notes = portico_only(route);
        if route.https_redirect && listen == Listen::Plain {
            notes.push("the redirect to HTTPS (this export is plain HTTP)".into());
        }
        let body = |kind: Kind| location_body(route, options, kind, &mut Vec::new());
        // The notes do not depend on the kind of location; collect them once.
        let mut extra = Vec::new();
        location_body(route, options, Kind::Root, &mut extra);
        notes.extend(extra);
        out.push_str(&route_comments(route, &notes, "nginx", "\t"));
        locations(out, route, body);
    }
    out.push_str("}\n");
}

/// Which location a body is written for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `location /` for the root prefix.
    Root,
    /// `location = /api`.
    Exact,
    /// `location /api/`.
    Below,
}

fn locations(out: &mut String, route: &Route, mut body: impl FnMut(Kind) -> String) {
    let prefix = route.path.as_str();
    if route.path.is_root() {
        let _ = write!(out, "\tlocation / {{\n{}\t}}\n", body(Kind::Root));
    } else {
        let _ = write!(out, "\tlocation = {prefix} {{\n{}\t}}\n", body(Kind::Exact));
        let _ = write!(out, "\tlocation {prefix}/ {{\n{}\t}}\n", body(Kind::Below));
    }
}

fn location_body(route: &Route, options: &Options, kind: Kind, notes: &mut Vec<String>) -> String {
    let dir = options.files_dir.trim_end_matches('/');
    let name = zone(route);
    let prefix = route.path.as_str();
    let mut b = String::new();
    for net in route.deny_ips.to_strings() {
        let _ = writeln!(b, "\t\tdeny {net};");
    }
    if !route.allow_ips.is_empty() {
        for net in route.allow_ips.to_strings() {
            let _ = writeln!(b, "\t\tallow {net};");
        }
        b.push_str("\t\tdeny all;\n");
    }
    if let Some(rate) = route.rate_limit_per_sec {
        let _ = writeln!(
            b,
            "\t\tlimit_req zone={name}_rate burst={rate} nodelay;\n\t\tlimit_req_status 429;"
        );
    }
    if let Some(n) = route.max_conns_per_ip {
        let _ = writeln!(
            b,
            "\t\tlimit_conn {name}_conns {n};\n\t\tlimit_conn_status 429;"
        );
    }
    if !route.basic_auth.is_empty() {
        let users: Vec<&str> = route
            .basic_auth
            .users()
            .iter()
            .map(|u| u.user.as_str())
            .collect();
        let _ = writeln!(
            b,
            "\t\t# users {}: create the file with `htpasswd -B -c {dir}/htpasswd/{} USER`",
            users.join(", "),
            super::object_name(route)
        );
        let _ = writeln!(b, "\t\tauth_basic {};", quote(&route.host.to_string()));
        let _ = writeln!(
            b,
            "\t\tauth_basic_user_file {dir}/htpasswd/{};",
            super::object_name(route)
        );
    }
    // nginx refuses bodies over 1 MB by default; Portico sets no limit unless asked.
    let _ = writeln!(
        b,
        "\t\tclient_max_body_size {};",
        route.max_body_bytes.unwrap_or(0)
    );
    for h in &route.response_headers.remove {
        let _ = writeln!(b, "\t\tproxy_hide_header {h};");
    }
    for p in &route.response_headers.set {
        let _ = writeln!(
            b,
            "\t\tproxy_hide_header {};\n\t\tadd_header {} {} always;",
            p.name,
            p.name,
            quote(&p.value)
        );
    }
    for p in &route.response_headers.add {
        let _ = writeln!(b, "\t\tadd_header {} {} always;", p.name, quote(&p.value));
    }
    if route.hide_backend {
        for h in BACKEND_HEADERS {
            let _ = writeln!(b, "\t\tproxy_hide_header {h};");
        }
        b.push_str("\t\tserver_tokens off;\n");
        notes.push("hiding the Server header entirely (nginx still sends `Server: nginx`)".into());
    }
    if route.compress {
        b.push_str("\t\tgzip on;\n\t\tgzip_proxied any;\n\t\tgzip_types *;\n");
        notes.push(
            "zstd and brotli compression (nginx compresses with gzip without extra modules)".into(),
        );
    }
    match route.target() {
        RouteTarget::Redirect(url) => {
            let status = route.redirect_status;
            if !route.redirect_keep_path {
                let _ = writeln!(b, "\t\treturn {status} {};", quote(url));
            } else if !route.strip_prefix || kind == Kind::Root {
                let _ = writeln!(
                    b,
                    "\t\treturn {status} {};",
                    quote_with(url.trim_end_matches('/'), "$request_uri")
                );
            } else {
                let re = format!("^{}(/[^?]*)?(\\?.*)?$", regex_escape(prefix));
                let _ = writeln!(
                    b,
                    "\t\tif ($request_uri ~ {}) {{\n\t\t\treturn {status} {};\n\t\t}}",
                    quote_with("", &re),
                    quote_with(url.trim_end_matches('/'), "$1$2")
                );
            }
        }
        RouteTarget::Static(folder) => {
            let folder = folder.trim_end_matches('/');
            match kind {
                Kind::Root => {
                    let _ = writeln!(b, "\t\troot {};", quote(folder));
                }
                Kind::Exact | Kind::Below => {
                    let _ = writeln!(b, "\t\talias {};", quote(&format!("{folder}/")));
                }
            }
            b.push_str("\t\tindex index.html;\n");
            if route.spa {
                let index = if route.path.is_root() {
                    "/index.html".to_owned()
                } else {
                    format!("{prefix}/index.html")
                };
                let _ = writeln!(b, "\t\ttry_files $uri $uri/ {index};");
            }
            if route.dir_listing {
                b.push_str("\t\tautoindex on;\n");
            }
            if !route.follow_symlinks {
                b.push_str("\t\tdisable_symlinks if_not_owner;\n");
                notes.push("refusing only the symbolic links that leave the folder (nginx refuses links to files of another owner)".into());
            }
        }
        RouteTarget::Upstream(ups) => {
            let base = ups[0].base_path();
            let host = if ups.len() > 1 {
                zone(route)
            } else {
                ups[0].authority().to_string()
            };
            // The URI part of proxy_pass replaces the part of the path the location matched.
            let uri = match (route.strip_prefix, kind) {
                (_, Kind::Root) if base.is_empty() => String::new(),
                (_, Kind::Root) => format!("{base}/"),
                (true, Kind::Exact) => format!("{base}/"),
                (true, Kind::Below) => format!("{base}/"),
                (false, _) if base.is_empty() => String::new(),
                (false, Kind::Exact) => format!("{base}{prefix}"),
                (false, Kind::Below) => format!("{base}{prefix}/"),
            };
            let _ = writeln!(b, "\t\tproxy_pass http://{host}{uri};");
            b.push_str(
                "\t\tproxy_http_version 1.1;\n\
                 \t\tproxy_set_header Upgrade $http_upgrade;\n\
                 \t\tproxy_set_header Connection $portico_connection_upgrade;\n",
            );
            if route.upstream_host {
                if ups.len() > 1 {
                    let _ = writeln!(b, "\t\tproxy_set_header Host {};", ups[0].authority());
                    notes.push(
                        "the Host of each upstream (the first upstream's is sent to all)".into(),
                    );
                } else {
                    b.push_str("\t\tproxy_set_header Host $proxy_host;\n");
                }
            } else {
                b.push_str("\t\tproxy_set_header Host $http_host;\n");
            }
            b.push_str(
                "\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                 \t\tproxy_set_header X-Forwarded-Proto $scheme;\n\
                 \t\tproxy_set_header X-Forwarded-Host $host;\n",
            );
            for h in &route.request_headers.remove {
                let _ = writeln!(b, "\t\tproxy_set_header {h} \"\";");
            }
            for p in &route.request_headers.set {
                let _ = writeln!(b, "\t\tproxy_set_header {} {};", p.name, quote(&p.value));
            }
            if !route.request_headers.add.is_empty() {
                let names: Vec<&str> = route
                    .request_headers
                    .add
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                notes.push(format!(
                    "adding a second value to {} (nginx sets one value; written as a set)",
                    names.join(", ")
                ));
                for p in &route.request_headers.add {
                    let _ = writeln!(b, "\t\tproxy_set_header {} {};", p.name, quote(&p.value));
                }
            }
            let _ = writeln!(b, "\t\tproxy_read_timeout {};", duration(route.timeout_ms));
            if route.cache {
                b.push_str("\t\tproxy_cache portico_cache;\n");
                if let Some(ttl) = route.cache_ttl_secs {
                    let _ = writeln!(b, "\t\tproxy_cache_valid 200 301 {ttl}s;");
                }
            } else {
                // Portico streams responses (server-sent events, long polls) as they come.
                b.push_str("\t\tproxy_buffering off;\n");
            }
            if ups.len() == 1 && route.balancing.health_check.is_some() {
                notes.push("the active health check (nginx Plus)".into());
            }
        }
    }
    b
}

/// An nginx string in double quotes. nginx has no escape for `$`, so a literal one is written
/// as `${portico_dollar}`, a variable the export defines as `$`.
fn quote(s: &str) -> String {
    quote_with(s, "")
}

/// `s` quoted, followed by `vars` (nginx variables, not escaped) inside the quotes.
fn quote_with(s: &str, vars: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '$' => out.push_str("${portico_dollar}"),
            _ => out.push(c),
        }
    }
    out.push_str(vars);
    out.push('"');
    out
}
