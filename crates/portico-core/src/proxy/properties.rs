//! Property tests of matching a request to a route: the `Host` header read as a name
//! (`forward::host_name`), prefixes matched on segment boundaries, and the route table's
//! choice against a model of the documented rule: an exact host before wildcards, a longer
//! wildcard suffix before a shorter one, the longest matching prefix within a host, and a
//! host whose routes match no path falling through to wildcards. A path with dot segments
//! is never matched at all (`forward::has_dot_segment`), since the server behind may resolve
//! it to a path another route owns.

use http::HeaderValue;
use proptest::collection::vec;
use proptest::prelude::*;

use super::RouteTable;
use super::forward::{has_dot_segment, host_name};
use crate::config::{HostPattern, NewRoute, PathPrefix, Route};

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Names from a few labels, so that generated routes and requests meet often.
fn name(depth: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    (
        vec(
            proptest::sample::select(vec!["a", "b", "app", "api", "x-1"]),
            depth,
        ),
        proptest::sample::select(vec!["localhost", "test"]),
    )
        .prop_map(|(labels, tld)| {
            labels
                .into_iter()
                .chain([tld])
                .collect::<Vec<_>>()
                .join(".")
        })
}

/// Paths from a few segments, with the look-alikes that must not match (`/ap` for `/api`,
/// `/api%2F`), and sometimes a trailing slash.
fn request_path() -> impl Strategy<Value = String> {
    let segment = proptest::sample::select(vec!["api", "ap", "apix", "v1", "a", "API", "%2F", ""]);
    (vec(segment, 0..4), any::<bool>()).prop_map(|(segments, slash)| {
        let mut path = format!("/{}", segments.join("/"));
        if slash {
            path.push('/');
        }
        path
    })
}

/// Routes on those names and paths, each host and path once (as the store keeps them), some
/// disabled, with ids 1, 2, ….
fn routes() -> impl Strategy<Value = Vec<Route>> {
    let prefix = (
        vec(proptest::sample::select(vec!["api", "ap", "v1", "a"]), 0..3),
        any::<bool>(),
    )
        .prop_map(|(segments, slash)| {
            let path = format!("/{}", segments.join("/"));
            if slash { format!("{path}/") } else { path }
        });
    let route = (
        any::<bool>(),
        name(0..3),
        prefix,
        prop_oneof![4 => Just(true), 1 => Just(false)],
    );
    vec(route, 0..12).prop_map(|specs| {
        let mut routes: Vec<Route> = Vec::new();
        for (wildcard, host, path, enabled) in specs {
            let host = if wildcard { format!("*.{host}") } else { host };
            let route = NewRoute {
                host,
                path: Some(path),
                upstreams: vec!["5173".into()],
                enabled: Some(enabled),
                ..NewRoute::default()
            }
            .validate()
            .expect("generated routes are valid");
            if !routes
                .iter()
                .any(|r| r.host == route.host && r.path == route.path)
            {
                routes.push(route.with_id(routes.len() as i64 + 1));
            }
        }
        routes
    })
}

/// The documented segment rule, written independently of `PathPrefix::matches`.
fn under(prefix: &str, path: &str) -> bool {
    prefix == "/" || path == prefix || path.starts_with(&format!("{prefix}/"))
}

/// Which route the documented rule picks for `host` and `path`.
fn model(routes: &[Route], host: &str, path: &str) -> Option<i64> {
    let candidates = routes
        .iter()
        .filter(|r| r.enabled && under(r.path.as_str(), path));
    let exact = candidates
        .clone()
        .filter(|r| r.host == HostPattern::Exact(host.to_owned()))
        .max_by_key(|r| r.path.as_str().len());
    if let Some(route) = exact {
        return Some(route.id);
    }
    candidates
        .filter_map(|r| match &r.host {
            HostPattern::Wildcard(suffix) => host
                .strip_suffix(&format!(".{suffix}"))
                .is_some_and(|head| !head.is_empty())
                .then_some((suffix.len(), r.path.as_str().len(), r.id)),
            HostPattern::Exact(_) => None,
        })
        .max()
        .map(|(_, _, id)| id)
}

/// `path` with its dot segments resolved (RFC 3986 §5.2.4), `%2e` read as `.`; other
/// segments kept as written.
fn resolved(path: &str) -> String {
    let Some(rest) = path.strip_prefix('/') else {
        return path.to_owned();
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match segment.replace("%2e", ".").replace("%2E", ".").as_str() {
            "." => {}
            ".." => {
                out.pop();
            }
            _ => {
                out.push(segment);
                continue;
            }
        }
        if last {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

/// `host` as a client may write it: any case, a port, trailing dots.
fn decorated(host: &str, upper: &[bool], port: Option<u16>, dots: usize) -> String {
    let mut text: String = host
        .chars()
        .zip(upper.iter().cycle())
        .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
        .collect();
    text.push_str(&".".repeat(dots));
    if let Some(port) = port {
        text.push_str(&format!(":{port}"));
    }
    text
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn the_table_picks_the_route_the_documented_rule_picks(
        routes in routes(),
        host in name(1..4),
        path in request_path(),
    ) {
        let table = RouteTable::new(routes.clone(), &[]);
        let found = table.find(&host, &path).map(|t| t.route.id);
        prop_assert_eq!(found, model(&routes, &host, &path));
    }

    #[test]
    fn an_exact_host_beats_every_wildcard_that_covers_it(
        routes in routes(),
        host in name(1..4),
        path in request_path(),
    ) {
        let mut routes = routes;
        routes.retain(|r| !matches!(&r.host, HostPattern::Exact(h) if *h == host));
        let id = routes.len() as i64 + 1;
        let exact = NewRoute {
            host: host.clone(),
            upstreams: vec!["5173".into()],
            ..NewRoute::default()
        }
        .validate()
        .expect("a generated name is a valid host")
        .with_id(id);
        routes.push(exact);
        let table = RouteTable::new(routes, &[]);
        prop_assert_eq!(table.find(&host, &path).map(|t| t.route.id), Some(id));
    }

    #[test]
    fn a_prefix_matches_whole_segments_and_strips_to_the_rest(
        prefix in request_path(),
        path in request_path(),
    ) {
        let Ok(prefix) = PathPrefix::parse(&prefix) else { return Ok(()) };
        let matches = prefix.matches(&path);
        prop_assert_eq!(matches, under(prefix.as_str(), &path));
        if matches {
            let rest = prefix.strip(&path);
            prop_assert!(rest.starts_with('/'));
            if prefix.is_root() {
                prop_assert_eq!(rest, path.as_str());
            } else if path == prefix.as_str() {
                prop_assert_eq!(rest, "/");
            } else {
                prop_assert_eq!(format!("{}{rest}", prefix.as_str()), path);
            }
        }
    }

    #[test]
    fn a_host_matches_in_any_case_with_a_port_or_trailing_dots(
        routes in routes(),
        host in name(1..4),
        path in request_path(),
        upper in vec(any::<bool>(), 1..8),
        port in proptest::option::of(any::<u16>()),
        dots in 0usize..3,
    ) {
        let written = decorated(&host, &upper, port, dots);
        let value = HeaderValue::from_str(&written).expect("a generated host is a header value");
        let read = host_name(&value).expect("a generated host is a name");
        prop_assert_eq!(&read, &host);
        let table = RouteTable::new(routes, &[]);
        prop_assert_eq!(
            table.find(&read, &path).map(|t| t.route.id),
            table.find(&host, &path).map(|t| t.route.id)
        );
    }

    #[test]
    fn only_paths_that_resolve_to_themselves_are_forwarded(
        routes in routes(),
        host in name(1..4),
        segments in vec(
            proptest::sample::select(vec![
                "api", "a", ".", "..", "%2e", "%2E%2e", ".%2e", "...", "a.b", "..a", "",
            ]),
            0..5,
        ),
    ) {
        let path = format!("/{}", segments.join("/"));
        let forwarded = !has_dot_segment(&path);
        // Refused exactly when a server could read the path as another one.
        prop_assert_eq!(forwarded, resolved(&path) == path, "{}", path);
        if forwarded {
            let table = RouteTable::new(routes, &[]);
            prop_assert_eq!(
                table.find(&host, &path).map(|t| t.route.id),
                table.find(&host, &resolved(&path)).map(|t| t.route.id)
            );
        }
    }

    #[test]
    fn ip_literals_are_read_without_their_port(
        v4 in any::<std::net::Ipv4Addr>(),
        v6 in any::<std::net::Ipv6Addr>(),
        port in any::<u16>(),
    ) {
        let read = |text: String| host_name(&HeaderValue::from_str(&text).expect("value")).ok();
        prop_assert_eq!(read(format!("{v4}:{port}")), Some(v4.to_string()));
        prop_assert_eq!(read(format!("[{v6}]:{port}")), Some(format!("[{v6}]")));
        prop_assert_eq!(read(format!("[{v6}]")), Some(format!("[{v6}]")));
    }

    #[test]
    fn no_host_or_path_makes_matching_panic(
        routes in routes(),
        host in prop_oneof![
            any::<String>(),
            "\\PC{0,64}",
            "[a-z.]{0,10}\\.{1,3}",
            "[a-z%0-9.:\\[\\]]{0,40}",
            "[a-z]{1,8}".prop_map(|l| format!("{}.localhost", l.repeat(200))),
        ],
        path in prop_oneof![
            any::<String>(),
            "/[a-z%0-9./]{0,40}",
            "/{0,3}[a-z]{1,3}(/\\.\\.?)*",
            "[a-z]{1,4}".prop_map(|s| format!("/{}", s.repeat(3000))),
        ],
    ) {
        let table = RouteTable::new(routes, &[]);
        let _ = table.find(&host, &path);
        if let Ok(value) = HeaderValue::from_str(&host)
            && let Ok(read) = host_name(&value)
        {
            prop_assert!(!read.ends_with('.'), "{:?}", read);
            prop_assert_eq!(&read, &read.to_ascii_lowercase());
            prop_assert!(read.starts_with('[') || !read.contains(':'), "{:?} kept a port", read);
            let _ = table.find(&read, &path);
        }
    }
}
