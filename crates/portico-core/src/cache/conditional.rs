//! Conditional requests: the client's own validators, evaluated by the cache against a
//! stored response (RFC 9110 §13), and the stored response's validators, sent upstream to
//! revalidate it (RFC 9111 §4.3.1).

use std::time::SystemTime;

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};

/// The client's `If-None-Match` / `If-Modified-Since`.
pub(super) struct ClientValidators {
    if_none_match: Vec<HeaderValue>,
    if_modified_since: Option<SystemTime>,
}

impl ClientValidators {
    pub(super) fn from_headers(headers: &HeaderMap) -> ClientValidators {
        ClientValidators {
            if_none_match: headers
                .get_all(header::IF_NONE_MATCH)
                .iter()
                .cloned()
                .collect(),
            if_modified_since: headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok()),
        }
    }

    /// Whether the client already has the stored response, so a `304` answers it:
    /// `If-None-Match` by weak comparison with the stored `ETag`; only without it,
    /// `If-Modified-Since` against `Last-Modified`. Evaluated for `200` responses only.
    pub(super) fn not_modified(&self, status: StatusCode, stored: &HeaderMap) -> bool {
        if status != StatusCode::OK {
            return false;
        }
        if !self.if_none_match.is_empty() {
            let Some(etag) = stored
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| entity_tags(v).and_then(|tags| tags.into_iter().next()))
            else {
                // `*` matches any current representation; there is one.
                return self
                    .if_none_match
                    .iter()
                    .any(|v| v.as_bytes().trim_ascii() == b"*");
            };
            return self.if_none_match.iter().any(|value| {
                let Ok(value) = value.to_str() else {
                    return false;
                };
                if value.trim() == "*" {
                    return true;
                }
                entity_tags(value).is_some_and(|tags| tags.iter().any(|t| t.opaque == etag.opaque))
            });
        }
        let (Some(since), Some(modified)) = (
            self.if_modified_since,
            stored
                .get(header::LAST_MODIFIED)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok()),
        ) else {
            return false;
        };
        modified <= since
    }
}

/// Remove the client's validators from a request about to be forwarded or evaluated by the
/// cache.
pub(super) fn remove_validators(headers: &mut HeaderMap) {
    headers.remove(header::IF_NONE_MATCH);
    headers.remove(header::IF_MODIFIED_SINCE);
}

/// The stored response's validators for a revalidation request, as `http-cache-semantics`
/// built them (`If-None-Match` from the `ETag`, `If-Modified-Since` from `Last-Modified`).
pub(super) struct UpstreamValidators {
    if_none_match: Option<HeaderValue>,
    if_modified_since: Option<HeaderValue>,
}

impl UpstreamValidators {
    pub(super) fn from_headers(headers: &HeaderMap) -> UpstreamValidators {
        UpstreamValidators {
            if_none_match: headers.get(header::IF_NONE_MATCH).cloned(),
            if_modified_since: headers.get(header::IF_MODIFIED_SINCE).cloned(),
        }
    }

    /// Put them on a request (whose own validators were removed).
    pub(super) fn apply(self, headers: &mut HeaderMap) {
        if let Some(v) = self.if_none_match {
            headers.insert(header::IF_NONE_MATCH, v);
        }
        if let Some(v) = self.if_modified_since {
            headers.insert(header::IF_MODIFIED_SINCE, v);
        }
    }
}

/// One entity tag (RFC 9110 §8.8.3).
#[derive(Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    /// The quoted part, quotes excluded.
    opaque: &'a str,
}

/// A comma-separated list of entity tags; `None` when malformed.
fn entity_tags(value: &str) -> Option<Vec<EntityTag<'_>>> {
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(tags);
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        rest = rest.strip_prefix('"')?;
        let end = rest.find('"')?;
        tags.push(EntityTag {
            weak,
            opaque: &rest[..end],
        });
        rest = &rest[end + 1..];
        if !rest.is_empty() && !rest.starts_with([' ', '\t', ',']) {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (n.clone(), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn entity_tag_lists_parse_with_weak_prefixes_and_commas_inside_quotes() {
        let tags = entity_tags(r#"W/"a", "b,c" ,"d""#).expect("parses");
        assert_eq!(
            tags,
            vec![
                EntityTag {
                    weak: true,
                    opaque: "a"
                },
                EntityTag {
                    weak: false,
                    opaque: "b,c"
                },
                EntityTag {
                    weak: false,
                    opaque: "d"
                },
            ]
        );
        assert!(entity_tags("abc").is_none());
        assert!(entity_tags(r#""a"b"#).is_none());
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_wins_over_if_modified_since() {
        let stored = headers(&[
            (header::ETAG, r#""v1""#),
            (header::LAST_MODIFIED, "Sun, 06 Nov 1994 08:49:37 GMT"),
        ]);
        let client = |pairs| ClientValidators::from_headers(&headers(pairs));
        assert!(
            client(&[(header::IF_NONE_MATCH, r#"W/"v1""#)]).not_modified(StatusCode::OK, &stored)
        );
        assert!(
            client(&[(header::IF_NONE_MATCH, r#""x", "v1""#)])
                .not_modified(StatusCode::OK, &stored)
        );
        assert!(client(&[(header::IF_NONE_MATCH, "*")]).not_modified(StatusCode::OK, &stored));
        assert!(
            !client(&[
                (header::IF_NONE_MATCH, r#""v0""#),
                (header::IF_MODIFIED_SINCE, "Sun, 06 Nov 1994 08:49:37 GMT"),
            ])
            .not_modified(StatusCode::OK, &stored)
        );
        assert!(
            client(&[(header::IF_MODIFIED_SINCE, "Sun, 06 Nov 1994 08:49:37 GMT")])
                .not_modified(StatusCode::OK, &stored)
        );
        assert!(
            !client(&[(header::IF_MODIFIED_SINCE, "Sat, 05 Nov 1994 08:49:37 GMT")])
                .not_modified(StatusCode::OK, &stored)
        );
        assert!(
            !client(&[(header::IF_NONE_MATCH, r#""v1""#)])
                .not_modified(StatusCode::NOT_FOUND, &stored)
        );
    }
}
