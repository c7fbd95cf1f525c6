//! The Traefik target: a dynamic configuration for the file provider (Traefik v3, YAML), with
//! a router, a service and middlewares per route. Entry points are expected to be named
//! `web` (HTTP) and `websecure` (HTTPS).

use std::fmt::Write as _;

use super::{
    LOCKED_BCRYPT, Options, Plan, duration, object_name, portico_only, regex_escape,
    route_comments, upstreams, yaml_str,
};
use crate::config::{BACKEND_HEADERS, HostPattern, Policy, Route, RouteTarget};

pub(super) fn render(plan: &Plan<'_>, options: &Options) -> String {
    let mut out = format!(
        "# Traefik v3 dynamic configuration exported from Portico (file provider).\n\
         # Entry points: web (:{}) and websecure (:{}, TLS).\n",
        options.http_port, options.https_port
    );
    out.push_str(&plan.disabled_comments(""));
    let mut routers = String::new();
    let mut middlewares = String::new();
    let mut services = String::new();
    let mut transports = String::new();
    if !options.plain_http && plan.routes.iter().any(|r| r.https_redirect) {
        let _ = writeln!(
            middlewares,
            "    portico-to-https:\n      redirectScheme:\n        scheme: https\n        port: {}\n        permanent: true",
            yaml_str(&options.https_port.to_string())
        );
    }
    for route in &plan.routes {
        route_objects(
            route,
            options,
            &mut routers,
            &mut middlewares,
            &mut services,
            &mut transports,
        );
    }
    out.push_str("http:\n");
    for (key, text) in [
        ("routers", routers),
        ("middlewares", middlewares),
        ("services", services),
        ("serversTransports", transports),
    ] {
        if text.is_empty() {
            let _ = writeln!(out, "  {key}: {{}}");
        } else {
            let _ = write!(out, "  {key}:\n{text}");
        }
    }
    out
}

fn rule(route: &Route) -> String {
    let host = match &route.host {
        HostPattern::Exact(name) => format!("Host(`{name}`)"),
        HostPattern::Wildcard(suffix) => {
            format!("HostRegexp(`^.+\\.{}$`)", regex_escape(suffix))
        }
    };
    if route.path.is_root() {
        host
    } else {
        let p = route.path.as_str();
        format!("{host} && (Path(`{p}`) || PathPrefix(`{p}/`))")
    }
}

fn route_objects(
    route: &Route,
    options: &Options,
    routers: &mut String,
    middlewares: &mut String,
    services: &mut String,
    transports: &mut String,
) {
    let name = object_name(route);
    let mut notes = portico_only(route);
    let mut chain: Vec<String> = Vec::new();
    let mut mw = |chain: &mut Vec<String>, suffix: &str, body: String| {
        let id = format!("{name}-{suffix}");
        let _ = write!(middlewares, "    {id}:\n{body}");
        chain.push(id);
    };

    if !route.deny_ips.is_empty() {
        notes.push(format!(
            "the deny list {} (Traefik has allow lists only)",
            route.deny_ips.to_strings().join(", ")
        ));
    }
    if !route.allow_ips.is_empty() {
        let mut body = String::from("      ipAllowList:\n        sourceRange:\n");
        for net in route.allow_ips.to_strings() {
            let _ = writeln!(body, "          - {}", yaml_str(&net));
        }
        mw(&mut chain, "allow", body);
    }
    if let Some(rate) = route.rate_limit_per_sec {
        mw(
            &mut chain,
            "rate",
            format!(
                "      rateLimit:\n        average: {rate}\n        burst: {rate}\n        period: 1s\n"
            ),
        );
    }
    if let Some(n) = route.max_conns_per_ip {
        mw(
            &mut chain,
            "inflight",
            format!(
                "      inFlightReq:\n        amount: {n}\n        sourceCriterion:\n          ipStrategy:\n            depth: 0\n"
            ),
        );
    }
    if !route.basic_auth.is_empty() {
        let mut body = String::from(
            "      # passwords: replace each hash with `htpasswd -nbB USER PASSWORD` output\n      basicAuth:\n        users:\n",
        );
        for user in route.basic_auth.users() {
            let _ = writeln!(
                body,
                "          - {}",
                yaml_str(&format!("{}:{LOCKED_BCRYPT}", user.user))
            );
        }
        mw(&mut chain, "auth", body);
    }
    if let Some(max) = route.max_body_bytes {
        mw(
            &mut chain,
            "body",
            format!("      buffering:\n        maxRequestBodyBytes: {max}\n"),
        );
    }
    let mut headers = String::new();
    let mut request = Vec::new();
    for h in &route.request_headers.remove {
        request.push((h.clone(), String::new()));
    }
    for p in route
        .request_headers
        .set
        .iter()
        .chain(&route.request_headers.add)
    {
        request.push((p.name.clone(), p.value.clone()));
    }
    if !route.request_headers.add.is_empty() || !route.response_headers.add.is_empty() {
        notes.push(
            "adding a second value to a header (Traefik sets one value; written as a set)".into(),
        );
    }
    let mut response = Vec::new();
    for h in &route.response_headers.remove {
        response.push((h.clone(), String::new()));
    }
    for p in route
        .response_headers
        .set
        .iter()
        .chain(&route.response_headers.add)
    {
        response.push((p.name.clone(), p.value.clone()));
    }
    if route.hide_backend {
        response.extend(
            BACKEND_HEADERS
                .iter()
                .map(|h| (h.to_string(), String::new())),
        );
    }
    for (key, list) in [
        ("customRequestHeaders", request),
        ("customResponseHeaders", response),
    ] {
        if !list.is_empty() {
            let _ = writeln!(headers, "        {key}:");
            for (h, v) in list {
                let _ = writeln!(headers, "          {}: {}", yaml_str(&h), yaml_str(&v));
            }
        }
    }
    if !headers.is_empty() {
        mw(&mut chain, "headers", format!("      headers:\n{headers}"));
    }
    if route.compress {
        mw(&mut chain, "compress", "      compress: {}\n".into());
    }
    if route.cache {
        notes.push("the response cache (Traefik has none without a plugin)".into());
    }

    let service = match route.target() {
        RouteTarget::Static(dir) => {
            notes.push(format!(
                "serving the folder {dir} (Traefik cannot serve files: run a file server and route to it)"
            ));
            routers.push_str(&route_comments(route, &notes, "Traefik", "    "));
            return;
        }
        RouteTarget::Redirect(url) => {
            let prefix = if route.strip_prefix && !route.path.is_root() {
                regex_escape(route.path.as_str())
            } else {
                String::new()
            };
            let (regex, replacement) = if route.redirect_keep_path {
                (
                    format!("^[a-z]+://[^/]+{prefix}(.*)$"),
                    format!("{}${{1}}", url.trim_end_matches('/')),
                )
            } else {
                ("^.*$".to_owned(), url.to_owned())
            };
            let permanent = matches!(route.redirect_status, 301 | 308);
            notes.push(format!(
                "the exact status {} (Traefik answers {} to GET and {} to other methods)",
                route.redirect_status,
                if permanent { 301 } else { 302 },
                if permanent { 308 } else { 307 }
            ));
            mw(
                &mut chain,
                "redirect",
                format!(
                    "      redirectRegex:\n        regex: {}\n        replacement: {}\n        permanent: {permanent}\n",
                    yaml_str(&regex),
                    yaml_str(&replacement)
                ),
            );
            "noop@internal".to_owned()
        }
        RouteTarget::Upstream(ups) => {
            if route.strip_prefix && !route.path.is_root() {
                mw(
                    &mut chain,
                    "strip",
                    format!(
                        "      stripPrefix:\n        prefixes:\n          - {}\n",
                        yaml_str(route.path.as_str())
                    ),
                );
            }
            let base = ups[0].base_path();
            if !base.is_empty() {
                mw(
                    &mut chain,
                    "base",
                    format!("      addPrefix:\n        prefix: {}\n", yaml_str(base)),
                );
            }
            if ups.iter().any(|u| u.base_path() != base) {
                notes.push("different base paths per upstream (the first one's is used)".into());
            }
            service(route, &name, services, transports, &mut notes);
            name.clone()
        }
    };

    routers.push_str(&route_comments(route, &notes, "Traefik", "    "));
    let rule = yaml_str(&rule(route));
    let list = |chain: &[String]| {
        chain
            .iter()
            .map(|m| format!("        - {m}\n"))
            .collect::<String>()
    };
    let with_mw = |chain: &[String]| {
        if chain.is_empty() {
            String::new()
        } else {
            format!("      middlewares:\n{}", list(chain))
        }
    };
    if options.plain_http {
        let _ = write!(
            routers,
            "    {name}:\n      rule: {rule}\n      entryPoints:\n        - web\n      service: {service}\n{}",
            with_mw(&chain)
        );
        return;
    }
    let _ = write!(
        routers,
        "    {name}:\n      rule: {rule}\n      entryPoints:\n        - websecure\n      service: {service}\n{}      tls: {{}}\n",
        with_mw(&chain)
    );
    let http_chain = if route.https_redirect {
        vec!["portico-to-https".to_owned()]
    } else {
        chain
    };
    let http_service = if route.https_redirect {
        "noop@internal"
    } else {
        &service
    };
    let _ = write!(
        routers,
        "    {name}-http:\n      rule: {rule}\n      entryPoints:\n        - web\n      service: {http_service}\n{}",
        with_mw(&http_chain)
    );
}

fn service(
    route: &Route,
    name: &str,
    services: &mut String,
    transports: &mut String,
    notes: &mut Vec<String>,
) {
    let ups = upstreams(route);
    let b = &route.balancing;
    let _ = writeln!(
        services,
        "    {name}:\n      loadBalancer:\n        servers:"
    );
    for up in ups {
        let _ = writeln!(
            services,
            "          - url: {}",
            yaml_str(&format!("http://{}", up.authority()))
        );
    }
    let _ = writeln!(services, "        passHostHeader: {}", !route.upstream_host);
    if ups.len() > 1 {
        match b.policy {
            Policy::RoundRobin => {}
            Policy::Cookie => {
                let _ = writeln!(
                    services,
                    "        sticky:\n          cookie:\n            name: {}",
                    yaml_str(&format!("{name}-sticky"))
                );
            }
            other => notes.push(format!(
                "the {} policy (Traefik balances round robin, or by a sticky cookie)",
                other.name()
            )),
        }
        notes.push(format!(
            "marking an upstream down after {} failed request(s) for {} (Traefik's passive checks differ)",
            b.max_fails,
            duration(b.fail_cooldown_ms)
        ));
    }
    if let Some(check) = &b.health_check {
        let _ = writeln!(
            services,
            "        healthCheck:\n          path: {}\n          interval: {}\n          timeout: {}",
            yaml_str(&check.path),
            yaml_str(&duration(check.interval_ms)),
            yaml_str(&duration(check.timeout_ms))
        );
        if let Some(status) = check.expect_status {
            let _ = writeln!(services, "          status: {status}");
        }
    }
    let _ = writeln!(services, "        serversTransport: {name}");
    let _ = writeln!(
        transports,
        "    {name}:\n      forwardingTimeouts:\n        responseHeaderTimeout: {}",
        yaml_str(&duration(route.timeout_ms))
    );
}
