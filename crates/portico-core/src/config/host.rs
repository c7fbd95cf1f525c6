//! Host patterns: an exact DNS name or a `*.` wildcard.

use std::fmt;

use serde::Serialize;

use super::Error;

/// The host part of a route: `app.localhost` or `*.app.localhost`.
///
/// A wildcard matches any name that ends in `.` plus its suffix, at any depth
/// (`*.app.localhost` matches `a.app.localhost` and `b.a.app.localhost`, not `app.localhost`).
/// Names are stored lowercase without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    /// Matches this name only.
    Exact(String),
    /// Matches names ending in `.` followed by this suffix.
    Wildcard(String),
}

impl HostPattern {
    /// Parse and normalise a host pattern.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidHost {
            host: input.to_owned(),
            reason: reason.to_owned(),
        };
        let name = input.trim().trim_end_matches('.').to_ascii_lowercase();
        if name.is_empty() {
            return Err(bad("a route needs a host name, e.g. app.localhost"));
        }
        if name.contains("://") {
            return Err(bad(
                "give the name only, without a scheme, e.g. app.localhost",
            ));
        }
        if name.contains('/') {
            return Err(bad(
                "give the name only; put a path in the route's path, e.g. --path /api",
            ));
        }
        if name.contains(':') || name.starts_with('[') {
            return Err(bad(
                "give the name without a port; a route answers on every Portico port",
            ));
        }
        let (wildcard, base) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, name.as_str()),
        };
        if base.contains('*') {
            return Err(bad(
                "a wildcard may only be a leading '*.', e.g. *.app.localhost",
            ));
        }
        check_dns_name(base).map_err(|reason| bad(&reason))?;
        if base
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
            || base.parse::<std::net::IpAddr>().is_ok()
        {
            return Err(bad(
                "an IP address cannot be a route host; use a name such as app.localhost",
            ));
        }
        if base
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("the last label cannot be all digits"));
        }
        Ok(if wildcard {
            HostPattern::Wildcard(base.to_owned())
        } else {
            HostPattern::Exact(base.to_owned())
        })
    }

    /// Whether a request for `host` (lowercase, no port, no trailing dot) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(name) => name == host,
            HostPattern::Wildcard(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }
}

fn check_dns_name(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("has an empty label ('..' or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!("label {label:?} is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{c:?} is not allowed; use letters, digits and '-' (punycode for other scripts)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for HostPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        HostPattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

// On the wire a host pattern is its text, so the API document describes a string.
impl utoipa::PartialSchema for HostPattern {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An exact host name, or `*.` and a suffix matching any name below it; lowercase, \
                 without a trailing dot.",
            ))
            .max_length(Some(255))
            .examples(["app.localhost", "*.preview.localhost"])
            .into()
    }
}

impl utoipa::ToSchema for HostPattern {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_wildcard_names_parse_and_normalise() {
        assert_eq!(
            HostPattern::parse(" App.Localhost. ").expect("valid"),
            HostPattern::Exact("app.localhost".into())
        );
        assert_eq!(
            HostPattern::parse("*.app.localhost").expect("valid"),
            HostPattern::Wildcard("app.localhost".into())
        );
    }

    #[test]
    fn wildcard_matches_subdomains_at_any_depth_but_not_its_base() {
        let w = HostPattern::parse("*.app.localhost").expect("valid");
        assert!(w.matches("a.app.localhost"));
        assert!(w.matches("b.a.app.localhost"));
        assert!(!w.matches("app.localhost"));
        assert!(!w.matches("xapp.localhost"));
        assert!(!w.matches(".app.localhost"));
    }

    #[test]
    fn bad_hosts_are_refused_with_a_reason() {
        for bad in [
            "",
            "http://app.localhost",
            "app.localhost:3000",
            "app.localhost/api",
            "a..localhost",
            "-a.localhost",
            "a*.localhost",
            "*",
            "127.0.0.1",
            "app .localhost",
            "ü.localhost",
            "[::1]",
        ] {
            let err = HostPattern::parse(bad).expect_err(bad);
            assert_eq!(err.field(), "host", "{bad}");
        }
    }
}
