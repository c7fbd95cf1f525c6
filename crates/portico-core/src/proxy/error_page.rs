//! The pages Portico answers itself when it cannot forward: HTML for browsers, problem+json
//! for tools that ask for JSON, plain text otherwise. Never a blank page.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::json;

use super::forward::ConnInfo;
use super::route_table::RouteTable;
use super::{Error, ProxyBody};
use crate::config::{HostPattern, Route};

/// Render `err` for a client that sent `accept`.
pub(crate) fn render(
    err: &Error,
    accept: Option<&HeaderValue>,
    table: &RouteTable,
    conn: ConnInfo,
) -> Response<ProxyBody> {
    let page = Page::new(err, table, conn);
    let accept = accept.and_then(|v| v.to_str().ok()).unwrap_or("");
    let (content_type, body) = if accept.contains("text/html") {
        ("text/html; charset=utf-8", page.html())
    } else if accept.contains("json") {
        ("application/problem+json", page.json())
    } else {
        ("text/plain; charset=utf-8", page.text())
    };
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = page.status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-portico-error", HeaderValue::from_static(page.code));
    if let Error::RateLimited { retry_after, .. } = err {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(super::limit::retry_after_secs(*retry_after)),
        );
    }
    if let Error::Unauthorized { realm, .. } = err {
        // A host name has no quote or backslash, so it needs no escaping in the realm.
        let challenge = format!("Basic realm=\"{realm}\", charset=\"UTF-8\"");
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
    }
    resp
}

struct Page<'a> {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    hint: String,
    routes: Option<Vec<RouteLink<'a>>>,
    side: super::Side,
}

struct RouteLink<'a> {
    route: &'a Route,
    url: Option<String>,
}

impl<'a> Page<'a> {
    fn new(err: &Error, table: &'a RouteTable, conn: ConnInfo) -> Self {
        let (code, title, hint) = match err {
            Error::BadRequest { .. } => (
                "bad-request",
                "Bad request",
                "Send the request to a route's host name, e.g. http://app.localhost/.".to_owned(),
            ),
            Error::NoRoute { .. } => (
                "no-route",
                "No route for this address",
                "Add one with: portico route add HOST PORT (for example: portico route add app.localhost 5173).".to_owned(),
            ),
            Error::Loop { .. } => (
                "loop",
                "Request loop",
                "The route's upstream is Portico itself. Point it at your dev server's own port instead.".to_owned(),
            ),
            Error::UpstreamRefused { upstream, .. } => (
                "upstream-refused",
                "Your dev server is not running",
                format!("Nothing is listening at {upstream}. Start the dev server, or change the route's upstream to the port it prints."),
            ),
            Error::UpstreamUnreachable { upstream, .. } => (
                "upstream-unreachable",
                "Upstream unreachable",
                format!("{upstream} could not be resolved or reached. Check the host name and that the machine is up."),
            ),
            Error::UpstreamFailed { .. } => (
                "upstream-failed",
                "Upstream closed the connection",
                "The dev server accepted the connection but did not send a valid HTTP response; it may have crashed. Check its terminal.".to_owned(),
            ),
            Error::AllDown { .. } => (
                "upstreams-down",
                "Every upstream is down",
                "Portico tried each upstream of this route, or knows them to be down. Start at least one; one marked down by failed requests is tried again after the route's cool-down, and as soon as a health probe finds it up.".to_owned(),
            ),
            Error::UpstreamTimeout { .. } => (
                "upstream-timeout",
                "Upstream timed out",
                "The dev server did not answer in time. It may still be compiling; try again, or raise the route's timeout.".to_owned(),
            ),
            Error::StaticDir { source, .. } => (
                "static-dir",
                "Static folder unavailable",
                format!(
                    "Create {} (or run the build that does), or point the route at another folder.",
                    source.dir().display()
                ),
            ),
            Error::Forbidden { scope, client, refusal } => (
                "ip-denied",
                "Your address may not use this route",
                match refusal {
                    crate::config::Refusal::Denied(_) => format!(
                        "{client} is in the denied addresses of {scope}. To let it in, remove it from that list (Portico's route editor or Settings, or: portico route set HOST --deny …)."
                    ),
                    crate::config::Refusal::NotAllowed if scope.starts_with("shared route") => format!(
                        "{client} is not among the devices allowed to use {scope}. To let it in, add it in the route editor's sharing section (or: portico route set HOST --share-allow {client})."
                    ),
                    crate::config::Refusal::NotAllowed => format!(
                        "{client} is not in the allowed addresses of {scope}. To let it in, add it to that list (Portico's route editor or Settings, or: portico route set HOST --allow {client})."
                    ),
                },
            ),
            Error::RateLimited { per_sec, retry_after, .. } => (
                "rate-limited",
                "Too many requests",
                format!(
                    "This address may send {per_sec} requests a second here. Try again in {} s, or raise the limit (route editor or Settings, or: portico route set HOST --rate-limit N).",
                    super::limit::retry_after_secs(*retry_after)
                ),
            ),
            Error::TooManyConnections { scope, limit, what, .. } => (
                "too-many-connections",
                "Too many connections",
                if *what == "connections" {
                    format!(
                        "This address may have {limit} connections open to Portico at once, and this one is over it; it is closed after this answer. Close some (other tabs or clients), or raise the limit (Settings, or: portico settings set max_conns_per_ip N)."
                    )
                } else {
                    format!(
                        "This address may have {limit} requests in flight at once on {scope}. Wait for some to finish, or raise the limit (route editor, or: portico route set HOST --max-conns N)."
                    )
                },
            ),
            Error::Unauthorized { route, failed, .. } => (
                if *failed { "auth-failed" } else { "auth-required" },
                if *failed {
                    "Wrong user name or password"
                } else {
                    "Sign in to use this route"
                },
                format!(
                    "Route {route} needs a user name and password (HTTP basic auth). Users are set in the route editor, or: portico route set HOST --auth USER:PASSWORD; portico route set HOST --no-auth turns it off."
                ),
            ),
            Error::HeadersTooLarge { limit, .. } => (
                "headers-too-large",
                "Request headers too large",
                format!(
                    "Portico forwards at most {limit} bytes of request headers. Large cookies are the usual cause: clear this site's cookies (several dev servers on localhost share them)."
                ),
            ),
            Error::BodyTooLarge { limit, .. } => (
                "body-too-large",
                "Request body too large",
                format!(
                    "This route accepts request bodies up to {limit} bytes. Send less, or raise the limit (route editor or Settings, or: portico route set HOST --max-body BYTES)."
                ),
            ),
            Error::NotShared => (
                "not-shared",
                "Not shared any more",
                "The route that was shared at this address was switched off or its time ran out. Ask whoever shared it to share it again.".to_owned(),
            ),
            Error::Paused => (
                "paused",
                "Portico is paused",
                "Resume it from Portico's tray menu or its Settings page, or run: portico resume".to_owned(),
            ),
            Error::Bind { .. } => ("internal", "Internal error", String::new()),
        };
        // A LAN listener serves one route: its pages say nothing about the others.
        let lan = conn.shared_route.is_some();
        let hint = match err {
            Error::NoRoute { host, .. } if lan => format!(
                "This address serves only the shared route {host}; its pages are under the path it was shared with."
            ),
            Error::NoRoute { host, .. } => disabled_hint(table, host).unwrap_or(hint),
            _ => hint,
        };
        let detail = match err {
            Error::UpstreamRefused { route, .. }
            | Error::UpstreamUnreachable { route, .. }
            | Error::UpstreamFailed { route, .. }
            | Error::UpstreamTimeout { route, .. } => format!("Route {route}: {err}."),
            Error::AllDown { .. } => format!("{}.", capitalise(&err.to_string())),
            Error::StaticDir { .. } => format!("{}.", capitalise(&err.to_string())),
            other => format!("{}.", capitalise(&other.to_string())),
        };
        let routes = (matches!(err, Error::NoRoute { .. }) && !lan).then(|| {
            table
                .routes()
                .iter()
                .map(|route| RouteLink {
                    url: link(route, conn),
                    route,
                })
                .collect()
        });
        Page {
            status: err.status(),
            code,
            title,
            detail,
            hint,
            routes,
            side: err.side(),
        }
    }

    fn text(&self) -> String {
        let mut out = format!(
            "{} {}\n{}\n{}\n",
            self.status.as_u16(),
            self.title,
            self.detail,
            self.hint
        );
        if let Some(routes) = &self.routes {
            out.push_str(if routes.is_empty() {
                "\nNo routes are configured yet.\n"
            } else {
                "\nRoutes:\n"
            });
            for link in routes {
                let r = link.route;
                out.push_str(&format!(
                    "  {}{} -> {}{}\n",
                    r.host,
                    if r.path.is_root() {
                        ""
                    } else {
                        r.path.as_str()
                    },
                    r.target(),
                    if r.enabled { "" } else { " (disabled)" }
                ));
            }
        }
        out
    }

    fn json(&self) -> String {
        let mut body = json!({
            "type": format!("https://portico.localhost/errors/{}", self.code),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "hint": self.hint,
            "side": self.side,
        });
        if let Some(routes) = &self.routes {
            body["routes"] = routes
                .iter()
                .map(|l| {
                    json!({
                        "host": l.route.host,
                        "path": l.route.path,
                        "upstream": l.route.target().to_string(),
                        "enabled": l.route.enabled,
                        "url": l.url,
                    })
                })
                .collect();
        }
        body.to_string()
    }

    fn html(&self) -> String {
        let mut list = String::new();
        if let Some(routes) = &self.routes {
            if routes.is_empty() {
                list.push_str("<p>No routes are configured yet.</p>");
            } else {
                list.push_str("<h2>Routes</h2><ul>");
                for link in routes {
                    let r = link.route;
                    let name = format!(
                        "{}{}",
                        r.host,
                        if r.path.is_root() {
                            ""
                        } else {
                            r.path.as_str()
                        }
                    );
                    let name = match &link.url {
                        Some(url) => format!("<a href=\"{}\">{}</a>", escape(url), escape(&name)),
                        None => format!("<code>{}</code>", escape(&name)),
                    };
                    list.push_str(&format!(
                        "<li>{name} &rarr; <code>{}</code>{}</li>",
                        escape(&r.target().to_string()),
                        if r.enabled {
                            ""
                        } else {
                            " <em>(disabled)</em>"
                        }
                    ));
                }
                list.push_str("</ul>");
            }
        }
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{status} {title} · Portico</title><style>\
body{{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:4rem auto;padding:0 1rem;color:#1f2328}}\
h1{{font-size:1.5rem;margin:0 0 .5rem}}.status{{color:#8c959f;font-weight:400}}\
code{{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}}.hint{{background:#fff8c5;padding:.75rem 1rem;border-radius:6px}}\
footer{{margin-top:3rem;color:#8c959f;font-size:.875rem}}\
@media (prefers-color-scheme:dark){{body{{background:#0d1117;color:#e6edf3}}code{{background:#161b22}}.hint{{background:#3b2e00}}a{{color:#58a6ff}}}}\
</style></head><body><h1><span class=\"status\">{status}</span> {title}</h1>\
<p>{detail}</p><p class=\"hint\">{hint}</p>{list}<footer>Portico</footer></body></html>",
            status = self.status.as_u16(),
            title = escape(self.title),
            detail = escape(&self.detail),
            hint = escape(&self.hint),
        )
    }
}

/// When the requested host belongs to a disabled route, say so instead of the generic hint.
fn disabled_hint(table: &RouteTable, host: &str) -> Option<String> {
    let route = table
        .routes()
        .iter()
        .find(|r| !r.enabled && r.host.matches(host))?;
    Some(format!(
        "The route for {} is disabled. Enable it with: portico route enable {}",
        route.host, route.host
    ))
}

/// A clickable URL for an enabled exact-host route, on the port the request came in on.
fn link(route: &Route, conn: ConnInfo) -> Option<String> {
    let HostPattern::Exact(host) = &route.host else {
        return None;
    };
    if !route.enabled {
        return None;
    }
    let (scheme, default_port) = if conn.tls {
        ("https", 443)
    } else {
        ("http", 80)
    };
    let port = conn.local.port();
    let port = if port == default_port {
        String::new()
    } else {
        format!(":{port}")
    };
    Some(format!("{scheme}://{host}{port}{}", route.path))
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Escape text for HTML element content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_what_the_client_sent() {
        assert_eq!(
            escape("<script>\"x\"&'"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;"
        );
    }
}
