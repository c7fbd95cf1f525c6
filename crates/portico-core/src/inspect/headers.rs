//! Captured headers in one allocation: a `name: value` line per header, in order. Capture
//! records every exchange's headers on the request path, so a block costs one string
//! instead of two per header; the recorder stores the block as it is, and it is exactly the
//! text the full-text index searches.

use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeSeq, Serializer};

/// Headers as captured, in order. Serialized as `[[name, value], …]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// `name: value\n` per header. A name never holds `": "` after its first character and
    /// neither holds a line break ([`Headers::push`] sees to both).
    text: String,
}

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// A message's headers; values that are not UTF-8 are decoded lossily.
    pub fn from_map(map: &http::HeaderMap) -> Headers {
        let mut headers = Headers::new();
        headers.fill_from_map(map);
        headers
    }

    /// Replace these headers with a message's ([`Headers::from_map`]), in the memory this
    /// block already has when it is enough.
    pub fn fill_from_map(&mut self, map: &http::HeaderMap) {
        let size: usize = map
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 3)
            .sum();
        self.text.clear();
        self.text.reserve(size);
        for (name, value) in map {
            match std::str::from_utf8(value.as_bytes()) {
                Ok(value) => self.push(name.as_str(), value),
                Err(_) => self.push(name.as_str(), &String::from_utf8_lossy(value.as_bytes())),
            }
        }
    }

    /// No headers, keeping the block's memory.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
    }

    /// The memory the block holds.
    pub(crate) fn capacity(&self) -> usize {
        self.text.capacity()
    }

    /// Headers from their stored text: a block as [`Headers::as_text`] gives it, or the JSON
    /// list of pairs rows written by earlier versions hold. `None` if it is neither.
    pub fn from_stored(text: String) -> Option<Headers> {
        if text.starts_with('[')
            && let Ok(pairs) = serde_json::from_str::<Vec<(String, String)>>(&text)
        {
            return Some(pairs.into_iter().collect());
        }
        // A block: every line but the last ends in a newline and holds the separator.
        let lines_ok = text.split_terminator('\n').all(|line| {
            let second = line.char_indices().nth(1).map_or(line.len(), |(i, _)| i);
            line[second..].contains(": ")
        });
        (lines_ok && (text.is_empty() || text.ends_with('\n'))).then_some(Headers { text })
    }

    /// One `name: value` line per header: how they are stored and searched.
    pub fn as_text(&self) -> &str {
        &self.text
    }

    /// Add a header at the end. Line breaks (which HTTP forbids, but a HAR file may hold)
    /// become spaces, and so does a `:` after a name's first character; a header without a
    /// name is left out.
    pub fn push(&mut self, name: &str, value: &str) {
        if name.is_empty() {
            return;
        }
        let breaks = |c: char| c == '\r' || c == '\n';
        if name.chars().skip(1).any(|c| c == ':') || name.contains(breaks) {
            for (i, c) in name.chars().enumerate() {
                self.text.push(if breaks(c) || (i > 0 && c == ':') {
                    ' '
                } else {
                    c
                });
            }
        } else {
            self.text.push_str(name);
        }
        self.text.push_str(": ");
        if value.contains(breaks) {
            self.text
                .extend(value.chars().map(|c| if breaks(c) { ' ' } else { c }));
        } else {
            self.text.push_str(value);
        }
        self.text.push('\n');
    }

    /// Add a header before the others.
    pub fn push_front(&mut self, name: &str, value: &str) {
        let mut first = Headers::new();
        first.push(name, value);
        first.text.push_str(&self.text);
        *self = first;
    }

    /// Each `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.text.split_terminator('\n').map(|line| {
            // The separator is searched after the first character: `:authority` starts
            // with a colon.
            let second = line.char_indices().nth(1).map_or(line.len(), |(i, _)| i);
            let at = line[second..].find(": ").map_or(line.len(), |i| i + second);
            (&line[..at], line.get(at + 2..).unwrap_or(""))
        })
    }

    /// The values of every header called `name` (any case).
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter_map(move |(n, v)| n.eq_ignore_ascii_case(name).then_some(v))
    }

    /// The first value of the header called `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether a header called `name` (any case) is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Owned pairs, for code that edits or sorts them.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    /// Rebuild the block with `edit` applied to each pair.
    pub fn map_values(&mut self, mut edit: impl FnMut(&str, &str) -> Option<String>) {
        let mut next = Headers::new();
        for (name, value) in self.iter() {
            match edit(name, value) {
                Some(new) => next.push(name, &new),
                None => next.push(name, value),
            }
        }
        *self = next;
    }

    /// How many headers.
    pub fn len(&self) -> usize {
        self.text.matches('\n').count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Headers {
        let mut headers = Headers::new();
        for (name, value) in iter {
            headers.push(name.as_ref(), value.as_ref());
        }
        headers
    }
}

impl<N: AsRef<str>, V: AsRef<str>> Extend<(N, V)> for Headers {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.push(name.as_ref(), value.as_ref());
        }
    }
}

impl<N: AsRef<str>, V: AsRef<str>> From<Vec<(N, V)>> for Headers {
    fn from(pairs: Vec<(N, V)>) -> Headers {
        pairs.into_iter().collect()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for pair in self.iter() {
            seq.serialize_element(&pair)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Headers, D::Error> {
        Ok(Vec::<(String, String)>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_come_back_in_order_with_odd_names_and_values() {
        let pairs = [
            (":authority", "app.localhost:8443"),
            ("host", "app.localhost"),
            ("x-empty", ""),
            ("x-spaces", "  a: b  "),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ];
        let headers: Headers = pairs.iter().copied().collect();
        assert_eq!(headers.iter().collect::<Vec<_>>(), pairs);
        assert_eq!(headers.len(), 6);
        assert_eq!(
            headers.values("Set-Cookie").collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        assert_eq!(headers.get("HOST"), Some("app.localhost"));
        let json = serde_json::to_string(&headers).expect("serialises");
        assert_eq!(
            json,
            r#"[[":authority","app.localhost:8443"],["host","app.localhost"],["x-empty",""],["x-spaces","  a: b  "],["set-cookie","a=1"],["set-cookie","b=2"]]"#
        );
        assert_eq!(
            serde_json::from_str::<Headers>(&json).expect("parses"),
            headers
        );
    }

    #[test]
    fn line_breaks_and_colons_in_names_cannot_forge_a_header() {
        let mut headers = Headers::new();
        headers.push("x-a\nx-b", "1\r\nx-c: 2");
        headers.push("we: ird", "v");
        headers.push("é:x", "v");
        headers.push("", "nameless");
        assert_eq!(
            headers.iter().collect::<Vec<_>>(),
            [("x-a x-b", "1  x-c: 2"), ("we  ird", "v"), ("é x", "v")]
        );
    }

    #[test]
    fn stored_text_is_read_back_in_either_format() {
        let headers: Headers = [("a", "1"), ("b", "")].into_iter().collect();
        let block = headers.as_text().to_owned();
        assert_eq!(block, "a: 1\nb: \n");
        assert_eq!(Headers::from_stored(block), Some(headers.clone()));
        assert_eq!(
            Headers::from_stored(r#"[["a","1"],["b",""]]"#.to_owned()),
            Some(headers)
        );
        assert_eq!(Headers::from_stored(String::new()), Some(Headers::new()));
        assert_eq!(Headers::from_stored("garbage".to_owned()), None);
    }

    #[test]
    fn a_header_map_is_copied_with_lossy_values() {
        let mut map = http::HeaderMap::new();
        map.insert(
            "x-bin",
            http::HeaderValue::from_bytes(b"caf\xe9").expect("obs-text is a valid value"),
        );
        map.append("accept", http::HeaderValue::from_static("*/*"));
        let headers = Headers::from_map(&map);
        assert_eq!(
            headers.iter().collect::<Vec<_>>(),
            [("x-bin", "caf\u{fffd}"), ("accept", "*/*")]
        );
    }
}
