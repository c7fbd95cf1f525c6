//! Name resolution for upstreams. `localhost` and names under it are loopback by definition
//! (RFC 6761), but many resolvers (an `/etc/hosts` without `::1 localhost`, for one) return
//! only 127.0.0.1, which leaves a dev server bound to `::1` alone (Node's default on many
//! machines) unreachable. Those names resolve here to both loopback addresses without asking
//! the system; every other name goes to the system resolver.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower_service::Service;

/// Resolves `localhost` names to both loopback addresses, the rest through `getaddrinfo`.
#[derive(Clone, Debug)]
pub(crate) struct Resolver {
    system: GaiResolver,
}

impl Resolver {
    pub(crate) fn new() -> Self {
        Resolver {
            system: GaiResolver::new(),
        }
    }
}

type Addrs = std::vec::IntoIter<SocketAddr>;

impl Service<Name> for Resolver {
    type Response = Addrs;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Addrs>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.system.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if is_localhost(name.as_str()) {
            // IPv4 first: a refused connection on loopback fails at once, and the connector
            // then tries the next address immediately.
            let addrs = vec![
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
                SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 0),
            ];
            return Box::pin(std::future::ready(Ok(addrs.into_iter())));
        }
        let lookup = self.system.call(name);
        Box::pin(async move { Ok(lookup.await?.collect::<Vec<_>>().into_iter()) })
    }
}

/// `localhost` or a name under it.
pub(crate) fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    name.eq_ignore_ascii_case("localhost")
        || name
            .len()
            .checked_sub(".localhost".len())
            .and_then(|i| name.get(i..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_names_are_recognised() {
        assert!(is_localhost("localhost"));
        assert!(is_localhost("LocalHost."));
        assert!(is_localhost("app.localhost"));
        assert!(!is_localhost("notlocalhost"));
        assert!(!is_localhost("localhost.example.com"));
    }
}
