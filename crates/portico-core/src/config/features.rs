//! The per-route features beyond forwarding: what a route answers with (an upstream, a
//! folder, or a redirect), and the header rules applied on the way through.

use serde::{Deserialize, Serialize};

use super::{Error, Route, Upstream};

/// Redirect codes a redirect route may answer with.
pub const REDIRECT_CODES: [u16; 4] = [301, 302, 307, 308];

/// The default redirect code: temporary and method-preserving, and never cached for good by
/// a browser (a 301 or 308 sticks in a browser's cache long after the route changed).
pub const DEFAULT_REDIRECT_STATUS: u16 = 307;

/// What a route answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget<'a> {
    /// Forward to these upstreams (one or more).
    Upstream(&'a [Upstream]),
    /// Serve files from this folder.
    Static(&'a str),
    /// Answer with a redirect to this URL.
    Redirect(&'a str),
}

impl std::fmt::Display for RouteTarget<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteTarget::Upstream(upstreams) => {
                for (i, u) in upstreams.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{u}")?;
                }
                Ok(())
            }
            RouteTarget::Static(dir) => write!(f, "folder {dir}"),
            RouteTarget::Redirect(url) => write!(f, "redirect {url}"),
        }
    }
}

impl Route {
    /// What this route answers with. Validation guarantees exactly one target.
    pub fn target(&self) -> RouteTarget<'_> {
        if let Some(dir) = &self.static_dir {
            RouteTarget::Static(dir)
        } else if let Some(url) = &self.redirect {
            RouteTarget::Redirect(url)
        } else {
            match self.upstreams.as_slice() {
                [] => RouteTarget::Redirect(""),
                // An empty list is unreachable for a validated route; shown as an empty
                // redirect rather than a panic.
                upstreams => RouteTarget::Upstream(upstreams),
            }
        }
    }

    /// The first upstream requests are forwarded to, for a proxying route.
    pub fn upstream(&self) -> Option<&Upstream> {
        match self.target() {
            RouteTarget::Upstream(upstreams) => upstreams.first(),
            _ => None,
        }
    }
}

/// One header and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderPair {
    /// Header name, e.g. `X-Frame-Options`.
    #[schema(example = "X-Frame-Options")]
    pub name: String,
    /// Value.
    #[schema(example = "DENY")]
    pub value: String,
}

/// Changes to a message's headers, applied in order: remove, then set (replacing any value),
/// then add (appending another value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderRules {
    /// Headers to set, replacing what was there.
    pub set: Vec<HeaderPair>,
    /// Headers to add, keeping what was there.
    pub add: Vec<HeaderPair>,
    /// Header names to remove.
    pub remove: Vec<String>,
}

/// Headers a rule may not touch: they frame the message or belong to one connection, so
/// changing them would corrupt the exchange rather than adjust it.
pub(super) const PROTECTED: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

impl HeaderRules {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }

    /// Check every name and value; `field` names the rules in the error
    /// (`request_headers` or `response_headers`).
    pub(crate) fn validate(&self, field: &'static str) -> Result<(), Error> {
        let bad = |reason: String| Error::InvalidSetting { field, reason };
        let names = self
            .set
            .iter()
            .chain(&self.add)
            .map(|p| p.name.as_str())
            .chain(self.remove.iter().map(String::as_str));
        for name in names {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(bad(format!(
                    "{name:?} is not a header name (letters, digits and - only, e.g. X-Request-Id)"
                )));
            }
            if PROTECTED.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(bad(format!(
                    "{name} frames the message or belongs to one connection; Portico manages it"
                )));
            }
        }
        for pair in self.set.iter().chain(&self.add) {
            // What `HeaderValue::from_str` refuses (it takes bytes past ASCII as opaque
            // obs-text), found to say which character it is.
            let refused = pair
                .value
                .chars()
                .find(|c| c.is_ascii_control() && *c != '\t');
            if let Some(c) = refused {
                return Err(bad(format!(
                    "the value of {} contains {c:?}, a line break or control character",
                    pair.name
                )));
            }
            if http::HeaderValue::from_str(&pair.value).is_err() {
                return Err(bad(format!(
                    "the value of {} is not a header value",
                    pair.name
                )));
            }
        }
        Ok(())
    }

    /// Apply the rules to `headers` (names and values were validated; anything that no longer
    /// parses is skipped).
    pub fn apply(&self, headers: &mut http::HeaderMap) {
        for name in &self.remove {
            if let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) {
                headers.remove(name);
            }
        }
        for (pair, append) in self
            .set
            .iter()
            .map(|p| (p, false))
            .chain(self.add.iter().map(|p| (p, true)))
        {
            let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(pair.name.as_bytes()),
                http::HeaderValue::from_str(&pair.value),
            ) else {
                continue;
            };
            if append {
                headers.append(name, value);
            } else {
                headers.insert(name, value);
            }
        }
    }
}

/// Response headers that tell the world what runs behind the proxy; "hide backend" removes
/// them.
pub const BACKEND_HEADERS: [&str; 8] = [
    "server",
    "x-powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-runtime",
    "x-generator",
    "x-drupal-cache",
    "x-varnish",
];

/// Check a static folder: an absolute path (existence is checked when it is served, so a
/// folder created later, e.g. by a build, works without touching the route).
pub(crate) fn validate_static_dir(dir: &str) -> Result<String, Error> {
    let bad = |reason: &str| Error::InvalidSetting {
        field: "static_dir",
        reason: format!("{dir:?}: {reason}"),
    };
    if dir.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    let path = std::path::Path::new(dir);
    if !path.is_absolute() {
        return Err(bad(
            "must be an absolute path (the CLI makes relative paths absolute)",
        ));
    }
    Ok(dir.to_owned())
}

/// Check a redirect URL: absolute `http://` or `https://` with a host.
pub(crate) fn validate_redirect(url: &str) -> Result<String, Error> {
    let bad = |reason: &str| Error::InvalidSetting {
        field: "redirect",
        reason: format!("{url:?}: {reason}"),
    };
    let parsed = url::Url::parse(url).map_err(|e| {
        bad(&format!(
            "{e}; write a full URL such as https://new.localhost"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if parsed.fragment().is_some() {
        return Err(bad("cannot contain a #fragment"));
    }
    Ok(url.to_owned())
}

/// Check a redirect code.
pub(crate) fn validate_redirect_status(status: u16) -> Result<u16, Error> {
    if REDIRECT_CODES.contains(&status) {
        Ok(status)
    } else {
        Err(Error::InvalidSetting {
            field: "redirect_status",
            reason: format!("{status} is not a redirect code; use 301, 302, 307 or 308"),
        })
    }
}

/// Check "cache even without headers for N seconds".
pub(crate) fn validate_cache_ttl(secs: Option<u64>) -> Result<Option<u64>, Error> {
    match secs {
        Some(0) => Err(Error::InvalidSetting {
            field: "cache_ttl_secs",
            reason: "must be at least 1; leave it out to cache only what the upstream allows"
                .into(),
        }),
        Some(s) if s > 31_536_000 => Err(Error::InvalidSetting {
            field: "cache_ttl_secs",
            reason: "must be at most 31536000 (a year)".into(),
        }),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str, value: &str) -> HeaderPair {
        HeaderPair {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn rules_remove_then_set_then_add() {
        let rules = HeaderRules {
            set: vec![pair("x-a", "set")],
            add: vec![pair("x-b", "two")],
            remove: vec!["X-Gone".into(), "x-a".into()],
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("x-a", "old".parse().expect("value"));
        headers.insert("x-b", "one".parse().expect("value"));
        headers.insert("x-gone", "bye".parse().expect("value"));
        rules.apply(&mut headers);
        assert_eq!(headers.get_all("x-a").iter().count(), 1);
        assert_eq!(headers["x-a"], "set");
        let b: Vec<_> = headers.get_all("x-b").iter().collect();
        assert_eq!(b, ["one", "two"]);
        assert!(!headers.contains_key("x-gone"));
    }

    #[test]
    fn rules_refuse_bad_names_values_and_framing_headers() {
        let cases = [
            HeaderRules {
                set: vec![pair("bad name", "v")],
                ..Default::default()
            },
            HeaderRules {
                add: vec![pair("x-ok", "line\r\nbreak")],
                ..Default::default()
            },
            HeaderRules {
                set: vec![pair("Content-Length", "5")],
                ..Default::default()
            },
            HeaderRules {
                remove: vec!["Transfer-Encoding".into()],
                ..Default::default()
            },
        ];
        for rules in cases {
            let err = rules.validate("response_headers").expect_err("refused");
            assert_eq!(err.field(), "response_headers");
        }
    }

    #[test]
    fn a_refused_value_shows_the_character_and_why() {
        for (value, shown, why) in [
            ("a\u{7f}", "'\\u{7f}'", "control character"),
            ("line\r\nbreak", "'\\r'", "line break"),
            ("\0", "'\\0'", "control character"),
        ] {
            let err = HeaderRules {
                set: vec![pair("X-A", value)],
                ..Default::default()
            }
            .validate("request_headers")
            .expect_err(value);
            let text = err.to_string();
            assert!(text.contains(shown) && text.contains(why), "{text}");
        }
        let opaque = HeaderRules {
            set: vec![pair("X-A", "café")],
            ..Default::default()
        };
        assert_eq!(
            opaque.validate("request_headers"),
            Ok(()),
            "obs-text is allowed"
        );
    }

    #[test]
    fn redirect_urls_and_codes() {
        assert!(validate_redirect("https://new.localhost/base").is_ok());
        for bad in [
            "new.localhost",
            "ftp://x.localhost",
            "https://",
            "https://a/#x",
        ] {
            assert!(validate_redirect(bad).is_err(), "{bad}");
        }
        for ok in REDIRECT_CODES {
            assert!(validate_redirect_status(ok).is_ok());
        }
        for bad in [200, 303, 300, 309] {
            assert!(validate_redirect_status(bad).is_err());
        }
    }

    #[test]
    fn static_dirs_must_be_absolute() {
        assert!(validate_static_dir("/srv/site").is_ok());
        assert!(validate_static_dir("site").is_err());
        assert!(validate_static_dir("/a\0b").is_err());
    }
}
