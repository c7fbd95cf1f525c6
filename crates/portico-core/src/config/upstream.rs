//! Upstream targets: where a route forwards to.

use std::fmt;

use http::uri::{Authority, Scheme, Uri};
use serde::Serialize;

use super::Error;

/// An upstream HTTP server: `http://host:port` with an optional base path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upstream {
    authority: Authority,
    port: u16,
    base_path: String,
}

impl Upstream {
    /// Parse a target: `http://host:port[/base]`, `host:port`, or a bare port (`5173`,
    /// meaning `http://localhost:5173`). A bare port names `localhost` rather than
    /// `127.0.0.1` because Node-based dev servers (Vite, Next.js) often listen on `::1` only;
    /// the connector tries every address `localhost` resolves to.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidUpstream {
            upstream: input.to_owned(),
            reason: reason.to_owned(),
        };
        let text = input.trim();
        if text.is_empty() {
            return Err(bad(
                "a route needs an upstream, e.g. http://127.0.0.1:5173 or just 5173",
            ));
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            let port = parse_port(text).map_err(|r| bad(&r))?;
            return Self::parse(&format!("http://localhost:{port}"));
        }
        let with_scheme = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let uri: Uri = with_scheme
            .parse()
            .map_err(|e| bad(&format!("not a URL ({e}); write it as http://host:port")))?;
        match uri.scheme() {
            Some(s) if *s == Scheme::HTTP => {}
            Some(s) if *s == Scheme::HTTPS => {
                return Err(bad(
                    "https upstreams are not supported yet; dev servers usually speak plain http:// on localhost",
                ));
            }
            Some(s) if matches!(s.as_str(), "ws" | "wss") => {
                return Err(bad(
                    "use http://; WebSocket upgrades are forwarded automatically",
                ));
            }
            _ => return Err(bad("only http:// upstreams are supported")),
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| bad("missing host, e.g. http://127.0.0.1:5173"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user names and passwords in the URL are not supported"));
        }
        if authority.host().is_empty() {
            return Err(bad("missing host, e.g. http://127.0.0.1:5173"));
        }
        let port = match authority.port_u16() {
            Some(0) => return Err(bad("port 0 is not a real port")),
            Some(p) => p,
            None => {
                // No port, or digits that are not a `u16`: say which.
                if let Some((_, digits)) = authority.as_str().rsplit_once(':')
                    && !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(bad(&format!("{digits} is not a port (1-65535)")));
                }
                return Err(bad(&format!(
                    "missing port; write it as http://{}:PORT (the port your dev server prints)",
                    authority.host()
                )));
            }
        };
        if uri.query().is_some() || with_scheme.contains('#') {
            return Err(bad("an upstream cannot have a query or fragment"));
        }
        let base_path = uri.path().trim_end_matches('/').to_owned();
        // Host in lowercase and the port as a number (`:03000` is `:3000`), so one server
        // written two ways is one upstream.
        Ok(Upstream {
            authority: format!("{}:{port}", authority.host().to_ascii_lowercase())
                .parse()
                .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?,
            port,
            base_path,
        })
    }

    /// `host:port`, as sent in `Host` when the route asks for the upstream's own host.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The host, as written (IPv6 in brackets).
    pub fn host(&self) -> &str {
        self.authority.host()
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Base path prepended to every forwarded path; empty or `/base` without a trailing slash.
    pub fn base_path(&self) -> &str {
        &self.base_path
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => Err("port 0 is not a real port".into()),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("{text} is not a port (1-65535)")),
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

impl<'de> serde::Deserialize<'de> for Upstream {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Upstream::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Upstream {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// On the wire an upstream is its normalised URL, so the API document describes a string.
impl utoipa::PartialSchema for Upstream {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "The upstream's normalised URL: `http://host:port` and an optional base path.",
            ))
            .pattern(Some("^http://"))
            .examples(["http://localhost:5173", "http://127.0.0.1:8000/base"])
            .into()
    }
}

impl utoipa::ToSchema for Upstream {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthand_targets_expand_to_http_urls() {
        let cases = [
            ("5173", "http://localhost:5173"),
            ("localhost:3000", "http://localhost:3000"),
            ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
            ("http://[::1]:8000/v1/", "http://[::1]:8000/v1"),
            ("HTTP://LocalHost:80", "http://localhost:80"),
            ("http://[::1]:0080", "http://[::1]:80"),
            ("localhost:03000", "http://localhost:3000"),
        ];
        for (input, want) in cases {
            assert_eq!(Upstream::parse(input).expect(input).to_string(), want);
        }
    }

    #[test]
    fn bad_targets_are_refused_with_a_reason() {
        for bad in [
            "",
            "http://localhost",
            "https://localhost:3000",
            "ftp://x:21",
            "ws://localhost:3000",
            "99999",
            "0",
            "http://user:pw@localhost:3000",
            "http://localhost:3000/?q=1",
            "http://:3000",
        ] {
            let err = Upstream::parse(bad).expect_err(bad);
            assert_eq!(err.field(), "upstreams", "{bad}");
        }
    }

    #[test]
    fn a_port_out_of_range_is_reported_as_such_not_as_missing() {
        for (input, digits) in [
            ("localhost:99999", "99999"),
            ("http://[::1]:65536/x", "65536"),
        ] {
            let err = Upstream::parse(input).expect_err(input).to_string();
            assert!(err.contains(&format!("{digits} is not a port")), "{err}");
        }
        let err = Upstream::parse("http://[::1]")
            .expect_err("no port")
            .to_string();
        assert!(err.contains("missing port"), "{err}");
    }
}
