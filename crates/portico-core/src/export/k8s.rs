//! The Kubernetes target: one `networking.k8s.io/v1` Ingress per route, for the ingress-nginx
//! controller (its annotations carry what the Ingress resource itself cannot say). Each
//! Ingress points at a Service named after the route, which the cluster must provide: a
//! Portico upstream is an address on this machine, not something a cluster can reach.

use std::fmt::Write as _;

use super::{
    Options, Plan, duration, object_name, portico_only, route_comments, upstreams, yaml_str,
};
use crate::config::{HostPattern, Policy, Route, RouteTarget};

const A: &str = "nginx.ingress.kubernetes.io";

pub(super) fn render(plan: &Plan<'_>, options: &Options) -> String {
    let mut out = String::from(
        "# Kubernetes Ingress objects exported from Portico, for the ingress-nginx controller.\n\
         # Each one routes to a Service named after the route; create those Services for your workloads.\n",
    );
    out.push_str(&plan.disabled_comments(""));
    for route in &plan.routes {
        out.push_str("---\n");
        ingress(&mut out, route, options);
    }
    out
}

fn ingress(out: &mut String, route: &Route, options: &Options) {
    let name = object_name(route);
    let mut notes = portico_only(route);
    let mut ann: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| ann.push((format!("{A}/{k}"), v));

    if let HostPattern::Wildcard(_) = route.host {
        notes.push("matching names at any depth (an Ingress wildcard matches one label)".into());
    }
    set(
        "ssl-redirect",
        (route.https_redirect && !options.plain_http).to_string(),
    );
    let ups = upstreams(route);
    let mut path = route.path.as_str().to_owned();
    let mut path_type = "Prefix";
    match route.target() {
        RouteTarget::Static(dir) => {
            notes.push(format!(
                "serving the folder {dir} (an Ingress routes to Services; serve the files from a Pod)"
            ));
            out.push_str(&route_comments(route, &notes, "Kubernetes", ""));
            return;
        }
        RouteTarget::Redirect(url) => {
            let code = route.redirect_status;
            let target = if route.redirect_keep_path {
                format!("{}$request_uri", url.trim_end_matches('/'))
            } else {
                url.to_owned()
            };
            if matches!(code, 301 | 308) {
                set("permanent-redirect", target);
                set("permanent-redirect-code", code.to_string());
            } else {
                set("temporal-redirect", target);
                if code != 302 {
                    notes.push(format!("the status {code} (ingress-nginx answers 302)"));
                }
            }
            if route.redirect_keep_path && route.strip_prefix {
                notes.push("removing the prefix from the redirect's path".into());
            }
        }
        RouteTarget::Upstream(_) => {
            let base = ups[0].base_path();
            let prefix = if route.path.is_root() {
                ""
            } else {
                route.path.as_str()
            };
            if (route.strip_prefix && !prefix.is_empty()) || !base.is_empty() {
                set("use-regex", "true".into());
                path = format!("{prefix}(/|$)(.*)");
                path_type = "ImplementationSpecific";
                let kept = if route.strip_prefix { "" } else { prefix };
                set("rewrite-target", format!("{base}{kept}/$2"));
            }
            let secs = route.timeout_ms.div_ceil(1000).to_string();
            set("proxy-read-timeout", secs.clone());
            set("proxy-send-timeout", secs);
            if route.upstream_host {
                set("upstream-vhost", ups[0].authority().to_string());
            }
            if ups.len() > 1 {
                notes.push(format!(
                    "{} upstreams: the Service's endpoints are the upstreams",
                    ups.len()
                ));
                match route.balancing.policy {
                    Policy::RoundRobin => set("load-balance", "round_robin".into()),
                    Policy::IpHash => set("upstream-hash-by", "$remote_addr".into()),
                    Policy::Cookie => set("affinity", "cookie".into()),
                    other => notes.push(format!(
                        "the {} policy (ingress-nginx offers round_robin, ewma, hashing and cookie affinity)",
                        other.name()
                    )),
                }
                let b = &route.balancing;
                set("proxy-next-upstream-tries", ups.len().to_string());
                notes.push(format!(
                    "marking an upstream down after {} failed request(s) for {}",
                    b.max_fails,
                    duration(b.fail_cooldown_ms)
                ));
            }
            if let Some(check) = &route.balancing.health_check {
                notes.push(format!(
                    "the health check on {} (give the Pods a readinessProbe on it)",
                    check.path
                ));
            }
            if !route.request_headers.is_empty() {
                notes.push("the request header rules (ingress-nginx takes them only in a snippet or the controller's proxy-set-headers ConfigMap)".into());
            }
            if route.cache {
                notes.push("the response cache".into());
            }
        }
    }
    if !route.allow_ips.is_empty() {
        set(
            "whitelist-source-range",
            route.allow_ips.to_strings().join(","),
        );
    }
    if !route.deny_ips.is_empty() {
        set(
            "denylist-source-range",
            route.deny_ips.to_strings().join(","),
        );
    }
    if let Some(rate) = route.rate_limit_per_sec {
        set("limit-rps", rate.to_string());
        set("limit-burst-multiplier", "1".into());
    }
    if let Some(n) = route.max_conns_per_ip {
        set("limit-connections", n.to_string());
    }
    set(
        "proxy-body-size",
        route.max_body_bytes.unwrap_or(0).to_string(),
    );
    if !route.basic_auth.is_empty() {
        set("auth-type", "basic".into());
        set("auth-secret", format!("{name}-auth"));
        set("auth-realm", route.host.to_string());
        let users: Vec<&str> = route
            .basic_auth
            .users()
            .iter()
            .map(|u| u.user.as_str())
            .collect();
        notes.push(format!(
            "the Secret {name}-auth: `htpasswd -B -c auth USER` for {}, then `kubectl create secret generic {name}-auth --from-file=auth`",
            users.join(", ")
        ));
    }
    if !route.response_headers.is_empty() || route.hide_backend {
        notes.push("the response header rules (ingress-nginx takes them from a ConfigMap named in custom-headers)".into());
    }
    if route.compress {
        notes.push(
            "compression (ingress-nginx's use-gzip/enable-brotli are controller-wide settings)"
                .into(),
        );
    }

    out.push_str(&route_comments(route, &notes, "Kubernetes", ""));
    out.push_str("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n");
    let _ = writeln!(out, "  name: {name}");
    out.push_str("  annotations:\n");
    for (k, v) in &ann {
        let _ = writeln!(out, "    {k}: {}", yaml_str(v));
    }
    out.push_str("spec:\n  ingressClassName: nginx\n");
    if !options.plain_http {
        let _ = writeln!(
            out,
            "  tls:\n    - hosts:\n        - {}\n      secretName: {name}-tls",
            yaml_str(&route.host.to_string())
        );
    }
    let port = ups.first().map_or(80, |u| u.port());
    if let Some(up) = ups.first() {
        let _ = writeln!(out, "  # the Service {name} stands for {up} (port {port})");
    }
    let _ = writeln!(
        out,
        "  rules:\n    - host: {}\n      http:\n        paths:\n          - path: {}\n            pathType: {path_type}\n            backend:\n              service:\n                name: {name}\n                port:\n                  number: {port}",
        yaml_str(&route.host.to_string()),
        yaml_str(&path)
    );
}
