//! Who may use the admin API. Every request: `Host` must name the admin listener (or
//! `portico.localhost`, through the proxy) and any `Origin` must be that same place. Every
//! `/api/v1` call: `Authorization: Bearer <token>` (compared in constant time) or a session
//! cookie from a one-time login link, so the token never appears in a URL, log or history.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use subtle::ConstantTimeEq;

use super::AdminState;
use super::error::Problem;

/// File name of the token inside the data dir.
pub const TOKEN_FILE: &str = "admin-token";

/// How long a login link works (once).
pub const LOGIN_CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The session cookie's name.
const SESSION_COOKIE: &str = "portico_session";

/// The built-in name the admin API is also reachable at, through the proxy.
const PORTICO_HOST: &str = "portico.localhost";

/// At most this many browser sessions and unused login codes are kept; the oldest go first.
const MAX_SESSIONS: usize = 64;

/// A random secret: the bearer token, a session id, a login code.
#[derive(Clone)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// 32 random bytes from the OS, hex-encoded.
    pub fn generate() -> std::io::Result<Token> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The token text, for `Authorization: Bearer`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Write the token to `<dir>/admin-token` with mode 0600, replacing any old one
    /// atomically (write a temporary file, then rename).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        let text = format!("{}\n", self.0);
        crate::store::write_atomically(&dir.join(TOKEN_FILE), text.as_bytes(), 0o600)
    }

    fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// What the guard accepts.
#[derive(Debug)]
pub(super) struct Guard {
    token: Token,
    /// `Host` values that name the admin listener; `None` accepts any (remote allowed).
    hosts: Option<HashSet<String>>,
    sessions: Mutex<VecDeque<Token>>,
    codes: Mutex<HashMap<String, Instant>>,
}

impl Guard {
    pub(super) fn new(
        token: Token,
        addrs: &[SocketAddr],
        proxy_ports: &[u16],
        allow_remote: bool,
    ) -> Self {
        let hosts = (!allow_remote).then(|| {
            let mut hosts = HashSet::new();
            // portico.localhost through the proxy: only on the proxy's own ports (a page on
            // portico.localhost:<another port> is another origin, and must not pass).
            for port in proxy_ports {
                hosts.insert(format!("{PORTICO_HOST}:{port}"));
                if matches!(port, 80 | 443) {
                    hosts.insert(PORTICO_HOST.to_owned());
                }
            }
            for addr in addrs {
                let port = addr.port();
                hosts.insert(addr.to_string());
                hosts.insert(format!("localhost:{port}"));
                if addr.ip().is_loopback() {
                    hosts.insert(format!("127.0.0.1:{port}"));
                    hosts.insert(format!("[::1]:{port}"));
                }
            }
            hosts
        });
        Guard {
            token,
            hosts,
            sessions: Mutex::new(VecDeque::new()),
            codes: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a `Host` (or an `Origin`'s authority) names this admin API.
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match &self.hosts {
            None => true,
            Some(hosts) => hosts.contains(&host),
        }
    }

    /// A new one-time login code.
    pub(super) fn new_login_code(&self) -> String {
        let code = Token::generate()
            .map(|t| t.0)
            .unwrap_or_else(|_| String::from("unavailable"));
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        codes.retain(|_, expires| *expires > now);
        if codes.len() >= MAX_SESSIONS {
            return code; // too many unused codes: this one is never valid
        }
        codes.insert(code.clone(), now + LOGIN_CODE_LIFETIME);
        code
    }

    /// Use up `code`; a new session id if it was valid.
    fn redeem(&self, code: &str) -> Option<Token> {
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        let expires = codes.remove(code)?;
        if expires <= Instant::now() {
            return None;
        }
        drop(codes);
        let session = Token::generate().ok()?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.pop_front();
        }
        sessions.push_back(session.clone());
        Some(session)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let Some(token) = bearer {
            return self.token.matches(token);
        }
        let Some(session) = crate::proxy::cookie(headers, SESSION_COOKIE) else {
            return false;
        };
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        // Compare against every session so the time taken does not depend on which matched.
        sessions
            .iter()
            .fold(false, |found, s| found | s.matches(session))
    }
}

/// Middleware on every request: refuse a foreign `Host` (DNS rebinding) or `Origin` (CSRF).
pub(super) async fn check_host_and_origin(
    State(state): State<AdminState>,
    req: Request,
    next: Next,
) -> Response {
    let guard = &state.guard;
    let headers = req.headers();
    // Browsers say where a request comes from; only the admin's own pages (same-origin) and
    // the user's own navigation (none) may reach it. `same-site` covers another port on
    // 127.0.0.1, which shares cookies with the admin.
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "cross-site" || v == "same-site")
    {
        return Problem::forbidden("requests from other sites to the admin API are refused")
            .into_response();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !guard.host_allowed(host) {
        return Problem::forbidden(
            "the Host header does not name the admin listener; requests must go to the address Portico printed, or to portico.localhost (this blocks DNS rebinding)",
        )
        .into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .ok()
            .and_then(|o| {
                o.strip_prefix("http://")
                    .or_else(|| o.strip_prefix("https://"))
            })
            .is_some_and(|o| guard.host_allowed(o));
        if !allowed {
            return Problem::forbidden("cross-origin requests to the admin API are refused")
                .into_response();
        }
    }
    next.run(req).await
}

/// Middleware on `/api/v1`: a bearer token or a session cookie, else 401.
pub(super) async fn require_credentials(
    State(state): State<AdminState>,
    req: Request,
    next: Next,
) -> Response {
    if state.guard.authorized(req.headers()) {
        next.run(req).await
    } else {
        Problem::unauthorized().into_response()
    }
}

#[derive(serde::Deserialize)]
pub(super) struct LoginQuery {
    code: String,
    /// The UI page to land on (`routes`, `traffic`, `certificates`, `doctor`, `settings`); anything
    /// else lands on the overview, so the link cannot send the browser elsewhere.
    page: Option<String>,
}

/// Where the login link sends the browser: the UI, on `page` when it is one of its pages.
fn landing(page: Option<&str>) -> &'static str {
    match page {
        Some("routes") => "/#/routes",
        Some("traffic") => "/#/traffic",
        Some("certificates") => "/#/certificates",
        Some("doctor") => "/#/doctor",
        Some("settings") => "/#/settings",
        _ => "/",
    }
}

/// `GET /login?code=…`: trade a one-time code for an `HttpOnly; SameSite=Strict` session
/// cookie, then go to the UI. The code is dead after this, whatever happens.
pub(super) async fn login(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let Some(session) = state.guard.redeem(&query.code) else {
        let page = Html(
            "<!doctype html><meta charset=utf-8><title>Login link expired · Portico</title>\
             <body style=\"font:16px system-ui;max-width:36rem;margin:4rem auto\">\
             <h1>This login link has expired</h1><p>Each link works once, for 15 minutes. \
             Run <code>portico open</code> for a new one.</p>",
        );
        let mut resp = (StatusCode::UNAUTHORIZED, page).into_response();
        no_leak(resp.headers_mut());
        return resp;
    };
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v == "https");
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/{}",
        session.as_str(),
        if secure { "; Secure" } else { "" }
    );
    let to = landing(query.page.as_deref());
    let mut resp = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, value);
    }
    no_leak(resp.headers_mut());
    resp
}

/// The login URL must not travel on in a `Referer` or sit in a cache.
fn no_leak(headers: &mut HeaderMap) {
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A fresh login link.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct LoginLink {
    /// Open this in a browser: it works once, and trades itself for a session cookie.
    url: String,
    /// How long the link works, in seconds.
    expires_in_secs: u64,
}

/// `POST /api/v1/login-codes`: a new one-time login link (for `portico open`).
#[utoipa::path(
    post,
    path = "/api/v1/login-codes",
    operation_id = "create_login_code",
    tag = "auth",
    responses(
        (status = 200, description = "A one-time login link for a browser", body = LoginLink),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
    )
)]
pub(super) async fn create_login_code(
    State(state): State<AdminState>,
    headers: HeaderMap,
) -> Json<LoginLink> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    Json(LoginLink {
        url: state.login_url(&format!("http://{host}")),
        expires_in_secs: LOGIN_CODE_LIFETIME.as_secs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        let addr: SocketAddr = "127.0.0.1:7080".parse().expect("addr");
        Guard::new(
            Token::generate().expect("token"),
            &[addr],
            &[80, 8443],
            false,
        )
    }

    #[test]
    fn tokens_are_random_and_compare_exactly() {
        let a = Token::generate().expect("token");
        let b = Token::generate().expect("token");
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(""));
        assert!(!format!("{a:?}").contains(a.as_str()));
    }

    #[cfg(unix)]
    #[test]
    fn the_token_file_is_private_and_replaced_atomically() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        Token::generate()
            .expect("token")
            .write_to(dir.path())
            .expect("write");
        let second = Token::generate().expect("token");
        second.write_to(dir.path()).expect("rewrite");
        let path = dir.path().join(TOKEN_FILE);
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.trim(), second.as_str());
    }

    #[test]
    fn only_the_listeners_own_names_and_portico_localhost_pass_the_host_check() {
        let guard = guard();
        assert!(guard.host_allowed("127.0.0.1:7080"));
        assert!(guard.host_allowed("LOCALHOST:7080"));
        assert!(guard.host_allowed("portico.localhost"));
        assert!(guard.host_allowed("portico.localhost:80"));
        assert!(guard.host_allowed("portico.localhost:8443"));
        assert!(
            !guard.host_allowed("portico.localhost:5173"),
            "another port is another origin"
        );
        assert!(!guard.host_allowed("evil.example:7080"));
        assert!(!guard.host_allowed("127.0.0.1:80"));
        assert!(!guard.host_allowed("portico.localhost.evil.example"));
        let addr: SocketAddr = "127.0.0.1:7080".parse().expect("addr");
        let open = Guard::new(Token::generate().expect("token"), &[addr], &[], true);
        assert!(open.host_allowed("192.0.2.1:7080"));
    }

    #[test]
    fn a_login_code_works_once() {
        let guard = guard();
        let code = guard.new_login_code();
        let session = guard.redeem(&code).expect("first use");
        assert!(guard.redeem(&code).is_none(), "second use");
        assert!(guard.redeem("made-up").is_none());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {SESSION_COOKIE}={}", session.as_str()))
                .expect("v"),
        );
        assert!(guard.authorized(&headers));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("portico_session=forged"),
        );
        assert!(!guard.authorized(&headers));
    }
}
