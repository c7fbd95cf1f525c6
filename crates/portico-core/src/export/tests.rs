use serde_json::json;

use super::{Format, Options, render};
use crate::config::{NewRoute, Route};

fn route(id: i64, spec: serde_json::Value) -> Route {
    let new: NewRoute = serde_json::from_value(spec).expect("a NewRoute");
    new.validate().expect("a valid route").with_id(id)
}

/// Routes that use every feature a route has.
fn every_feature() -> Vec<Route> {
    vec![
        route(
            1,
            json!({
                "host": "app.localhost",
                "upstreams": ["http://127.0.0.1:5173"],
                "request_headers": {"set": [{"name": "X-Env", "value": "dev $1 {x}"}],
                                    "add": [{"name": "X-Tag", "value": "a"}], "remove": ["Cookie"]},
                "response_headers": {"set": [{"name": "X-Frame-Options", "value": "DENY"}],
                                     "add": [{"name": "X-Seen", "value": "1"}], "remove": ["ETag"]},
                "hide_backend": true, "compress": true, "timeout_ms": 1500,
            }),
        ),
        route(
            2,
            json!({
                "host": "app.localhost", "path": "/api", "strip_prefix": true,
                "upstreams": ["http://127.0.0.1:8001/base", "http://127.0.0.1:8002/base"],
                "balancing": {"policy": "least_conn", "max_fails": 3, "fail_cooldown_ms": 5000,
                              "health_check": {"path": "/health", "interval_ms": 2000,
                                               "timeout_ms": 500, "expect_status": 204}},
                "upstream_host": true, "cache": true, "cache_ttl_secs": 30,
                "allow_ips": ["127.0.0.1", "10.0.0.0/8"], "deny_ips": ["10.0.0.66"],
                "rate_limit_per_sec": 20, "max_conns_per_ip": 4, "max_body_bytes": 1048576,
                "https_redirect": false,
            }),
        ),
        route(
            3,
            json!({
                "host": "*.preview.localhost", "path": "/old", "strip_prefix": true,
                "redirect": "https://example.com/new/", "redirect_status": 308,
            }),
        ),
        route(
            4,
            json!({
                "host": "docs.localhost", "static_dir": "/srv/docs", "spa": true,
                "dir_listing": true,
                "basic_auth": [{"user": "alice", "password": "correct horse"}],
            }),
        ),
        route(
            5,
            json!({"host": "old.localhost", "upstreams": ["3000"], "enabled": false}),
        ),
    ]
}

fn export(format: Format) -> String {
    render(format, &every_feature(), &Options::default())
}

fn yaml_docs(text: &str) -> Vec<serde_norway::Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("YAML"))
        .collect()
}

#[test]
fn disabled_routes_are_listed_as_comments_in_every_format() {
    for format in Format::ALL {
        let text = export(format);
        assert!(
            text.contains("# disabled in Portico, not exported: route 5: old.localhost"),
            "{format:?}:\n{text}"
        );
        assert_eq!(
            text.matches("localhost:3000").count(),
            1,
            "{format:?}:\n{text}"
        );
    }
}

#[test]
fn basic_auth_users_are_named_and_their_hashes_never_leave() {
    let hash = every_feature()[3].basic_auth.users()[0].hash.clone();
    for format in Format::ALL {
        let text = export(format);
        assert!(!text.contains(&hash), "{format:?} leaked the argon2 hash");
        assert!(
            text.contains(
                "basic-auth passwords (Portico keeps argon2id hashes): set a new password for alice"
            ),
            "{format:?}:\n{text}"
        );
    }
    let caddy = export(Format::Caddyfile);
    assert!(
        caddy.contains(&format!(
            "basicauth {{\n\t\t\t\t\"alice\" {}",
            super::LOCKED_BCRYPT
        )),
        "{caddy}"
    );
    let nginx = export(Format::Nginx);
    assert!(
        nginx.contains("auth_basic_user_file /etc/nginx/portico/htpasswd/portico-route4;"),
        "{nginx}"
    );
}

#[test]
fn caddyfile_carries_each_feature_to_its_directive() {
    let text = export(Format::Caddyfile);
    for expected in [
        "app.localhost {",
        "http://app.localhost, https://app.localhost {",
        "@route2 path /api /api/*",
        "uri strip_prefix /api",
        "rewrite * /base{uri}",
        "reverse_proxy 127.0.0.1:8001 127.0.0.1:8002 {",
        "lb_policy least_conn",
        "max_fails 3",
        "fail_duration 5s",
        "health_uri /health",
        "health_status 204",
        "header_up Host {upstream_hostport}",
        "header_up X-Env \"dev $1 \\{x\\}\"",
        "header_up +X-Tag \"a\"",
        "header_up -Cookie",
        "-ETag",
        "X-Frame-Options \"DENY\"",
        "+X-Seen \"1\"",
        "-x-powered-by",
        "response_header_timeout 1500ms",
        "encode zstd gzip",
        "@route2_denied remote_ip 10.0.0.66",
        "@route2_outside not remote_ip 127.0.0.1 10.0.0.0/8",
        "max_size 1048576",
        "redir \"https://example.com/new{uri}\" 308",
        "root * \"/srv/docs\"",
        "try_files {path} /index.html",
        "file_server browse",
        "*.preview.localhost {",
        "# not exported to Caddy: the rate limit of 20 requests/s per client",
        "# not exported to Caddy: the response cache",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn nginx_splits_a_prefix_into_its_exact_and_subpath_locations() {
    let text = export(Format::Nginx);
    for expected in [
        "location = /api {",
        "location /api/ {",
        "proxy_pass http://portico_route2/base/;",
        "upstream portico_route2 {\n\tleast_conn;",
        "server 127.0.0.1:8001 max_fails=3 fail_timeout=5s;",
        "proxy_set_header Host 127.0.0.1:8001;",
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Env \"dev ${portico_dollar}1 {x}\";",
        "proxy_set_header Cookie \"\";",
        "proxy_set_header Connection $portico_connection_upgrade;",
        "limit_req_zone $binary_remote_addr zone=portico_route2_rate:10m rate=20r/s;",
        "limit_conn portico_route2_conns 4;",
        "deny 10.0.0.66;\n\t\tallow 127.0.0.1;\n\t\tallow 10.0.0.0/8;\n\t\tdeny all;",
        "client_max_body_size 1048576;",
        "client_max_body_size 0;",
        "proxy_cache portico_cache;",
        "proxy_cache_valid 200 301 30s;",
        "proxy_read_timeout 1500ms;",
        "return 308 https://$host$request_uri;",
        "server_name *.preview.localhost;",
        "return 308 \"https://example.com/new$1$2\";",
        "root \"/srv/docs\";",
        "autoindex on;",
        "listen 443 ssl;",
        "ssl_certificate /etc/nginx/portico/certs/_.preview.localhost.crt;",
        "# not exported to nginx: the active health check (nginx Plus)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn traefik_config_is_yaml_whose_routers_name_existing_services_and_middlewares() {
    let text = export(Format::Traefik);
    let docs = yaml_docs(&text);
    assert_eq!(docs.len(), 1, "{text}");
    let http = &docs[0]["http"];
    let routers = http["routers"].as_mapping().expect("routers");
    let middlewares = http["middlewares"].as_mapping().expect("middlewares");
    let services = http["services"].as_mapping().expect("services");
    assert!(routers.contains_key("portico-route1"), "{text}");
    assert!(routers.contains_key("portico-route2-http"), "{text}");
    assert!(
        !routers.contains_key("portico-route4"),
        "a folder has no router: {text}"
    );
    for (name, router) in routers {
        let service = router["service"].as_str().expect("service");
        assert!(
            service.ends_with("@internal") || services.contains_key(service),
            "{name:?} names a missing service {service}"
        );
        for m in router["middlewares"].as_sequence().into_iter().flatten() {
            assert!(
                middlewares.contains_key(m.as_str().expect("name")),
                "{name:?}: {m:?}"
            );
        }
        assert!(
            router["rule"].as_str().expect("rule").contains("Host"),
            "{name:?}"
        );
    }
    assert_eq!(
        routers["portico-route2"]["rule"].as_str(),
        Some("Host(`app.localhost`) && (Path(`/api`) || PathPrefix(`/api/`))")
    );
    let route2 = &services["portico-route2"]["loadBalancer"];
    assert_eq!(route2["servers"].as_sequence().map(Vec::len), Some(2));
    assert_eq!(route2["passHostHeader"].as_bool(), Some(false));
    assert_eq!(route2["healthCheck"]["path"].as_str(), Some("/health"));
    assert_eq!(
        middlewares["portico-route2-strip"]["stripPrefix"]["prefixes"][0].as_str(),
        Some("/api")
    );
    assert_eq!(
        middlewares["portico-route2-base"]["addPrefix"]["prefix"].as_str(),
        Some("/base")
    );
    assert_eq!(
        middlewares["portico-route2-rate"]["rateLimit"]["average"].as_u64(),
        Some(20)
    );
    assert_eq!(
        http["serversTransports"]["portico-route1"]["forwardingTimeouts"]["responseHeaderTimeout"]
            .as_str(),
        Some("1500ms")
    );
    for note in [
        "# not exported to Traefik: the deny list 10.0.0.66",
        "# not exported to Traefik: serving the folder /srv/docs",
        "# not exported to Traefik: the least_conn policy",
        "# not exported to Traefik: the response cache",
    ] {
        assert!(text.contains(note), "missing {note:?} in\n{text}");
    }
}

#[test]
fn k8s_export_is_one_ingress_per_route_with_rules_paths_and_backends() {
    let text = export(Format::K8sIngress);
    let ingresses: Vec<_> = yaml_docs(&text)
        .into_iter()
        .filter(|d| !d.is_null())
        .collect();
    // Routes 1, 2 and 3; the folder (4) is a comment, the disabled route (5) too.
    assert_eq!(ingresses.len(), 3, "{text}");
    for ing in &ingresses {
        assert_eq!(ing["apiVersion"].as_str(), Some("networking.k8s.io/v1"));
        assert_eq!(ing["kind"].as_str(), Some("Ingress"));
        let rule = &ing["spec"]["rules"][0];
        assert!(rule["host"].as_str().is_some());
        let path = &rule["http"]["paths"][0];
        assert!(path["path"].as_str().is_some_and(|p| p.starts_with('/')));
        assert!(path["backend"]["service"]["name"].as_str().is_some());
        assert!(
            path["backend"]["service"]["port"]["number"]
                .as_u64()
                .is_some()
        );
    }
    let api = &ingresses[1];
    let ann = &api["metadata"]["annotations"];
    assert_eq!(
        ann["nginx.ingress.kubernetes.io/rewrite-target"].as_str(),
        Some("/base/$2")
    );
    assert_eq!(
        ann["nginx.ingress.kubernetes.io/limit-rps"].as_str(),
        Some("20")
    );
    assert_eq!(
        ann["nginx.ingress.kubernetes.io/denylist-source-range"].as_str(),
        Some("10.0.0.66")
    );
    assert_eq!(
        ann["nginx.ingress.kubernetes.io/ssl-redirect"].as_str(),
        Some("false")
    );
    assert_eq!(
        api["spec"]["rules"][0]["http"]["paths"][0]["path"].as_str(),
        Some("/api(/|$)(.*)")
    );
    let redirect = &ingresses[2]["metadata"]["annotations"];
    assert_eq!(
        redirect["nginx.ingress.kubernetes.io/permanent-redirect-code"].as_str(),
        Some("308")
    );
    assert!(
        text.contains("# not exported to Kubernetes: serving the folder /srv/docs"),
        "{text}"
    );
    assert!(
        text.contains("# not exported to Kubernetes: matching names at any depth"),
        "{text}"
    );
}

#[test]
fn plain_http_exports_no_tls_and_say_the_redirect_is_gone() {
    let options = Options {
        plain_http: true,
        http_port: 8080,
        ..Options::default()
    };
    let caddy = render(Format::Caddyfile, &every_feature(), &options);
    assert!(
        caddy.contains("auto_https off") && caddy.contains("http://app.localhost {"),
        "{caddy}"
    );
    assert!(
        caddy.contains("the redirect to HTTPS (this export is plain HTTP)"),
        "{caddy}"
    );
    let nginx = render(Format::Nginx, &every_feature(), &options);
    assert!(
        !nginx.contains("ssl") && nginx.contains("listen 8080;"),
        "{nginx}"
    );
}
