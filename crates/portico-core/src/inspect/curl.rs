//! "Copy as curl": a POSIX-shell command that sends a captured request again, byte for byte
//! where curl allows. Owns the quoting rules and the choice of curl options; it does not run
//! anything (replaying inside Portico is `replay.rs`).
//!
//! Choices worth knowing:
//! - Headers curl computes itself are left out (`content-length`, `transfer-encoding`, the
//!   hop-by-hop ones, and `host` when it equals the URL's authority), and so are HTTP/2
//!   pseudo-headers.
//! - `accept-encoding` becomes `--compressed` (unless it is `identity`): curl then advertises only the codings it can
//!   undo and prints the decoded body, which is what a person pasting the command wants.
//!   Sending the browser's list verbatim would print compressed bytes, or fail outright when
//!   the server picks a coding this curl lacks.
//! - Headers curl would add on its own are removed with `-H 'name:'` when the original did
//!   not send them (`user-agent`, `accept`, and `content-type` for a body), so the server
//!   sees what it saw.
//! - A header value that contains a line break or NUL cannot be sent (HTTP forbids it; curl
//!   would split it into two headers), so that header is left out with a comment saying so.
//!   A body can hold any byte.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use super::event::Exchange;

/// Top-level names that never resolve publicly (RFC 6761, RFC 8375, ICANN's `internal`): a
/// request to one of them went to Portico, so the command pins them to loopback.
const LOCAL_SUFFIXES: &[&str] = &[
    "test",
    "internal",
    "home.arpa",
    "example",
    "invalid",
    "localdomain",
];

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the HTTP/2 upgrade ones: they describe the
/// connection, not the request, and curl manages its own connection.
const CONNECTION_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

/// A shell command (POSIX `sh`, bash, zsh) that sends `e`'s request again with curl.
///
/// Lines starting with `#` come first and warn about what the command cannot reproduce
/// (a truncated body, a dropped header, a CA to trust). For https, `ca_file` is Portico's
/// root certificate, passed as `--cacert`.
pub fn curl_command(e: &Exchange, ca_file: Option<&Path>) -> String {
    let mut notes: Vec<String> = Vec::new();
    let (url_host, port) = url_host_and_port(e);
    let https = e.scheme.eq_ignore_ascii_case("https");
    let authority = authority(&url_host, port);
    let path = path_or_root(e);
    let url = request_url(e);

    // Methods are case-sensitive (RFC 9110 §9.1): `get` is not `GET`.
    let method = e.method.as_str();
    let body = &e.request_body;
    let has_body = !body.bytes.is_empty();
    let head = method == "HEAD";

    let mut first = vec!["curl".to_owned()];
    if e.version.starts_with("HTTP/2") {
        // Without TLS there is no ALPN: `--http2` would try `Upgrade: h2c` instead.
        let http2 = if https {
            "--http2"
        } else {
            "--http2-prior-knowledge"
        };
        first.push(http2.to_owned());
    } else if e.version == "HTTP/1.0" {
        first.push("--http1.0".to_owned());
    }
    if head {
        first.push("--head".to_owned());
    } else if method != "GET" || has_body {
        first.push("-X".to_owned());
        first.push(quote(&e.method));
    }
    // curl reads `[]{}` in a URL as a glob pattern and squashes `/../` unless told not to.
    if url.contains(['[', ']', '{', '}']) {
        first.push("--globoff".to_owned());
    }
    if has_dot_segments(path) {
        first.push("--path-as-is".to_owned());
    }
    first.push(quote(&url));

    let mut lines: Vec<String> = vec![first.join(" ")];
    if https {
        match ca_file {
            Some(ca) => lines.push(format!("--cacert {}", quote(&ca.display().to_string()))),
            None => notes.push(
                "curl must trust Portico's CA: add --cacert <data-dir>/ca/root.pem".to_owned(),
            ),
        }
    }
    if needs_resolve(&e.host, e.imported) {
        let port = port.unwrap_or(if https { 443 } else { 80 });
        lines.push(format!(
            "--resolve {}",
            quote(&format!("{}:{port}:127.0.0.1", e.host))
        ));
    }

    let seen = |name: &str| {
        e.request_headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let mut compressed = false;
    for (name, value) in e.request_headers.iter() {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with(':')
            || lower == "content-length"
            || CONNECTION_HEADERS.contains(&lower.as_str())
        {
            continue;
        }
        if lower == "host" && value.trim().eq_ignore_ascii_case(&authority) {
            continue;
        }
        // `identity` asks for no compression: `--compressed` would ask for the opposite.
        if lower == "accept-encoding" && !value.trim().eq_ignore_ascii_case("identity") {
            compressed = true;
            continue;
        }
        if !is_token(name) {
            notes.push(format!(
                "header {} left out: not a valid header name",
                printable(name)
            ));
            continue;
        }
        if value.contains(['\r', '\n', '\0']) {
            notes.push(format!(
                "header {} left out: its value contains a line break or NUL, which HTTP does not allow",
                printable(name)
            ));
            continue;
        }
        lines.push(format!("-H {}", quote(&header_arg(name, value))));
    }
    if e.websocket.is_some() || seen("upgrade") {
        notes.push(
            "this request upgraded its connection (WebSocket); curl sends it as a plain request"
                .to_owned(),
        );
    }
    if compressed {
        lines.push("--compressed".to_owned());
    }
    for default in ["user-agent", "accept"] {
        if !seen(default) {
            lines.push(format!("-H {}", quote(&format!("{default}:"))));
        }
    }

    let mut pipe = None;
    if head && has_body {
        notes.push(
            "the HEAD request's body is left out: curl cannot send one with --head".to_owned(),
        );
    } else if has_body {
        if !seen("content-type") {
            lines.push(format!("-H {}", quote("content-type:")));
        }
        // curl sends `Expect: 100-continue` for large bodies unless told not to.
        if body.bytes.len() > 1024 && !seen("expect") {
            lines.push(format!("-H {}", quote("expect:")));
        }
        match inline_text(&body.bytes) {
            Some(text) => lines.push(format!("--data-binary {}", quote(text))),
            None => {
                pipe = Some(printf_format(&body.bytes));
                lines.push("--data-binary @-".to_owned());
            }
        }
        if body.truncated() {
            notes.push(format!(
                "warning: the captured request body is incomplete: this sends its first {} of {} bytes",
                body.bytes.len(),
                body.size
            ));
        }
    } else if body.size > 0 {
        notes.push(format!(
            "warning: the request body ({} bytes) was not captured: this sends none",
            body.size
        ));
    }

    let mut out = String::new();
    for note in notes {
        let _ = writeln!(out, "# {note}");
    }
    if let Some(format) = pipe {
        let _ = write!(out, "printf '{format}' | ");
    }
    out.push_str(&lines.join(" \\\n  "));
    out.push('\n');
    out
}

/// The request's URL, `scheme://host[:port]/path[?query]`, with the port the `Host` header
/// named (Portico listens on any port; the exchange records only the host).
pub(super) fn request_url(e: &Exchange) -> String {
    let (host, port) = url_host_and_port(e);
    let mut url = format!(
        "{}://{}{}",
        e.scheme.to_ascii_lowercase(),
        authority(&host, port),
        path_or_root(e)
    );
    if let Some(query) = &e.query {
        url.push('?');
        url.push_str(query);
    }
    url
}

fn authority(host: &str, port: Option<u16>) -> String {
    match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn path_or_root(e: &Exchange) -> &str {
    if e.path.is_empty() { "/" } else { &e.path }
}

/// The host as it goes in a URL (IPv6 in brackets) and the port the `Host` header named.
fn url_host_and_port(e: &Exchange) -> (String, Option<u16>) {
    let host = if e.host.contains(':') && !e.host.starts_with('[') {
        format!("[{}]", e.host)
    } else {
        e.host.clone()
    };
    let port = e
        .request_headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host") || *n == ":authority")
        .and_then(|(_, v)| port_of(v.trim()));
    (host, port)
}

/// The port of a `Host` value: `app.localhost:8443`, `[::1]:8080`.
fn port_of(authority: &str) -> Option<u16> {
    let after_host = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']')?.1,
        None => authority,
    };
    after_host.rsplit_once(':')?.1.parse().ok()
}

fn has_dot_segments(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

/// Whether curl needs `--resolve` to reach Portico: `*.localhost` and IP literals resolve to
/// themselves, and an imported request to a public name should go to that name.
fn needs_resolve(host: &str, imported: bool) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost"
        || host.ends_with(".localhost")
        || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
    {
        return false;
    }
    let local = LOCAL_SUFFIXES
        .iter()
        .any(|s| host == *s || host.strip_suffix(s).is_some_and(|h| h.ends_with('.')));
    local || !imported
}

/// `name: value`, or `name;` for an empty value (curl reads `name:` as "remove the header").
fn header_arg(name: &str, value: &str) -> String {
    if value.trim().is_empty() {
        format!("{name};")
    } else {
        format!("{name}: {value}")
    }
}

/// An HTTP token (RFC 9110 §5.6.2).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The body as a shell word, if it is text that pastes safely: UTF-8 with no control
/// characters but tab and newline, and not starting with `@` (which curl reads as a file).
fn inline_text(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let plain = !text.starts_with('@')
        && !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t');
    plain.then_some(text)
}

/// `bytes` as a `printf` format to put between single quotes: printable ASCII as itself,
/// `%` and `\` escaped, everything else (and `'`) as three-digit octal, which POSIX printf
/// turns back into exactly that byte.
fn printf_format(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        match b {
            b'%' => out.push_str("%%"),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\'' => out.push_str("\\047"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out
}

/// One shell word: left bare when it holds only characters no shell treats specially,
/// otherwise in single quotes, where only `'` itself needs care (`'\''`).
fn quote(s: &str) -> String {
    let bare = !s.is_empty()
        // zsh expands a word starting with `=` to a command's path.
        && !s.starts_with('=')
        && s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+,=".contains(&b));
    if bare {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Text for a comment line: control characters escaped so the comment stays one line.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
