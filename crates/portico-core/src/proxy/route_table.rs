//! The immutable route table the proxy matches requests against. A new table is built on
//! every change and swapped in atomically; requests in flight keep the one they started with.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::balance::Pool;
use crate::config::{HostPattern, Route, RouteId};

/// A route ready to serve: the route plus facts computed once when the table is built.
#[derive(Debug)]
pub struct Target {
    /// The route.
    pub route: Route,
    /// `host/path` as shown in errors and logs.
    pub label: String,
    /// The upstream is one of Portico's own listeners.
    pub loops: bool,
    /// The route's upstreams and their live state (empty for a static or redirect route).
    pub pool: Arc<Pool>,
}

/// Enabled routes indexed for matching, plus every route for the 404 page.
#[derive(Debug, Default)]
pub struct RouteTable {
    exact: HashMap<String, Vec<Arc<Target>>>,
    /// Longest suffix first.
    wildcards: Vec<(String, Vec<Arc<Target>>)>,
    /// Enabled routes shared on the LAN, by id (expiry is checked per request).
    shared: HashMap<crate::config::RouteId, Arc<Target>>,
    all: Vec<Route>,
    pools: HashMap<RouteId, Arc<Pool>>,
}

impl RouteTable {
    /// Build a table from `routes`; `own` are Portico's listener addresses, for loop detection.
    pub fn new(routes: Vec<Route>, own: &[SocketAddr]) -> Self {
        let mut exact: HashMap<String, Vec<Arc<Target>>> = HashMap::new();
        let mut wildcards: HashMap<String, Vec<Arc<Target>>> = HashMap::new();
        let mut pools = HashMap::new();
        let mut shared = HashMap::new();
        for route in routes.iter().filter(|r| r.enabled) {
            let pool = Arc::new(Pool::new(&route.upstreams));
            pools.insert(route.id, pool.clone());
            let target = Arc::new(Target {
                label: format!("{}{}", route.host, route.path),
                loops: points_at_self(route, own),
                route: route.clone(),
                pool,
            });
            if route.shared {
                shared.insert(route.id, target.clone());
            }
            let bucket = match &route.host {
                HostPattern::Exact(name) => exact.entry(name.clone()).or_default(),
                HostPattern::Wildcard(suffix) => wildcards.entry(suffix.clone()).or_default(),
            };
            bucket.push(target);
        }
        let by_longest_path = |v: &mut Vec<Arc<Target>>| {
            v.sort_by(|a, b| {
                b.route
                    .path
                    .as_str()
                    .len()
                    .cmp(&a.route.path.as_str().len())
            });
        };
        exact.values_mut().for_each(by_longest_path);
        let mut wildcards: Vec<_> = wildcards.into_iter().collect();
        wildcards.iter_mut().for_each(|(_, v)| by_longest_path(v));
        wildcards.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        RouteTable {
            exact,
            wildcards,
            shared,
            all: routes,
            pools,
        }
    }

    /// Keep the upstream state (in-flight counts, failures, probe results) of every route
    /// whose upstream list is the same in `previous`, so a change to one route resets no
    /// other.
    pub fn with_state_from(mut self, previous: &RouteTable) -> Self {
        for (id, pool) in &mut self.pools {
            if let Some(old) = previous.pools.get(id)
                && old.serves_same(pool)
            {
                *pool = old.clone();
            }
        }
        let pools = &self.pools;
        let buckets = self
            .exact
            .values_mut()
            .chain(self.wildcards.iter_mut().map(|(_, bucket)| bucket));
        for target in buckets.flatten() {
            if let Some(target) = Arc::get_mut(target)
                && let Some(pool) = pools.get(&target.route.id)
            {
                target.pool = pool.clone();
            }
        }
        self
    }

    /// The upstream state of enabled route `id`.
    pub fn pool(&self, id: RouteId) -> Option<&Arc<Pool>> {
        self.pools.get(&id)
    }

    /// Route `portico.localhost` to the admin API at `admin`, unless a route of the user's
    /// already claims that name.
    pub fn with_admin(mut self, admin: Option<SocketAddr>) -> Self {
        const NAME: &str = "portico.localhost";
        let Some(admin) = admin else { return self };
        if self.exact.contains_key(NAME) {
            return self;
        }
        let route = crate::config::NewRoute {
            host: NAME.into(),
            upstreams: vec![format!("http://{admin}")],
            ..Default::default()
        }
        .validate();
        if let Ok(route) = route {
            self.exact.insert(
                NAME.into(),
                vec![Arc::new(Target {
                    label: format!("{NAME}/ (Portico's admin)"),
                    loops: false,
                    pool: Arc::new(Pool::new(&route.upstreams)),
                    route: route.with_id(0),
                })],
            );
        }
        self
    }

    /// The route for `host` (lowercase, no port) and `path`. An exact host beats a wildcard,
    /// a longer wildcard suffix beats a shorter one, and within a host the longest path
    /// prefix wins. A host whose routes match no path falls through to wildcards.
    pub fn find(&self, host: &str, path: &str) -> Option<&Arc<Target>> {
        let in_bucket = |bucket: &'_ [Arc<Target>]| -> Option<usize> {
            bucket.iter().position(|t| t.route.path.matches(path))
        };
        if let Some(bucket) = self.exact.get(host)
            && let Some(i) = in_bucket(bucket)
        {
            return Some(&bucket[i]);
        }
        for (suffix, bucket) in &self.wildcards {
            let under = host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.'));
            if under && let Some(i) = in_bucket(bucket) {
                return Some(&bucket[i]);
            }
        }
        None
    }

    /// The enabled route `id` when it is shared on the LAN (it may have expired since).
    pub fn shared(&self, id: crate::config::RouteId) -> Option<&Arc<Target>> {
        self.shared.get(&id)
    }

    /// Every route, enabled or not, in store order.
    pub fn routes(&self) -> &[Route] {
        &self.all
    }
}

/// Whether one of the route's upstreams is one of Portico's own listeners. Names under `localhost`
/// are loopback by definition (RFC 6761); other names are not resolved here, so a loop
/// through them is caught by the hop count instead.
fn points_at_self(route: &Route, own: &[SocketAddr]) -> bool {
    if !matches!(route.target(), crate::config::RouteTarget::Upstream(_)) {
        return false;
    }
    route.upstreams.iter().any(|upstream| {
        let host = upstream
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let ip: Option<IpAddr> = host.parse().ok();
        let loopback_name = super::resolve::is_localhost(host);
        own.iter().any(|addr| {
            if addr.port() != upstream.port() {
                return false;
            }
            match ip {
                Some(ip) => {
                    ip == addr.ip()
                        || (addr.ip().is_unspecified() && (ip.is_loopback() || ip.is_unspecified()))
                        || (ip.is_unspecified() && addr.ip().is_loopback())
                }
                None => loopback_name && (addr.ip().is_loopback() || addr.ip().is_unspecified()),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NewRoute;

    fn route(id: i64, host: &str, path: &str, upstream: &str) -> Route {
        NewRoute {
            host: host.into(),
            path: Some(path.into()),
            upstreams: vec![upstream.into()],
            ..Default::default()
        }
        .validate()
        .expect("valid")
        .with_id(id)
    }

    #[test]
    fn exact_beats_wildcard_and_longest_prefix_wins() {
        let table = RouteTable::new(
            vec![
                route(1, "app.localhost", "/", "3001"),
                route(2, "app.localhost", "/api", "3002"),
                route(3, "*.localhost", "/", "3003"),
                route(4, "*.app.localhost", "/", "3004"),
                route(5, "app.localhost", "/api/v2", "3005"),
            ],
            &[],
        );
        let id = |host, path| table.find(host, path).map(|t| t.route.id);
        assert_eq!(id("app.localhost", "/"), Some(1));
        assert_eq!(id("app.localhost", "/api/users"), Some(2));
        assert_eq!(id("app.localhost", "/api/v2/x"), Some(5));
        assert_eq!(id("app.localhost", "/apix"), Some(1));
        assert_eq!(id("x.app.localhost", "/"), Some(4));
        assert_eq!(id("other.localhost", "/"), Some(3));
        assert_eq!(id("example.com", "/"), None);
    }

    #[test]
    fn a_host_whose_paths_do_not_match_falls_through_to_a_wildcard() {
        let table = RouteTable::new(
            vec![
                route(1, "app.localhost", "/api", "3001"),
                route(2, "*.localhost", "/", "3002"),
            ],
            &[],
        );
        assert_eq!(
            table.find("app.localhost", "/").map(|t| t.route.id),
            Some(2)
        );
    }

    #[test]
    fn disabled_routes_match_nothing_but_are_listed() {
        let mut off = route(1, "app.localhost", "/", "3001");
        off.enabled = false;
        let table = RouteTable::new(vec![off], &[]);
        assert!(table.find("app.localhost", "/").is_none());
        assert_eq!(table.routes().len(), 1);
    }

    #[test]
    fn upstreams_that_are_portico_itself_are_marked_as_loops() {
        let own: Vec<SocketAddr> = vec![
            "127.0.0.1:8080".parse().expect("addr"),
            "[::1]:8080".parse().expect("addr"),
        ];
        let table = RouteTable::new(
            vec![
                route(1, "a.localhost", "/", "8080"),
                route(2, "b.localhost", "/", "localhost:8080"),
                route(3, "c.localhost", "/", "http://[::1]:8080"),
                route(4, "d.localhost", "/", "8081"),
                route(5, "e.localhost", "/", "x.localhost:8080"),
            ],
            &own,
        );
        let loops = |h| table.find(h, "/").expect("route").loops;
        assert!(loops("a.localhost"));
        assert!(loops("b.localhost"));
        assert!(loops("c.localhost"));
        assert!(!loops("d.localhost"));
        assert!(loops("e.localhost"));
    }
}
