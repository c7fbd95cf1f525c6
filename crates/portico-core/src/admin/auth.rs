//! The admin token and the guard in front of every admin call: `Host` and `Origin` must name
//! the admin listener itself, and `Authorization: Bearer` must carry the token (compared in
//! constant time).

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header;
use subtle::ConstantTimeEq;

use super::AdminState;
use super::error::Problem;

/// File name of the token inside the data dir.
pub const TOKEN_FILE: &str = "admin-token";

/// A random bearer token for the admin API.
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
        let tmp = dir.join(format!("{TOKEN_FILE}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(self.0.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, dir.join(TOKEN_FILE))
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
}

impl Guard {
    pub(super) fn new(token: Token, addrs: &[SocketAddr], allow_remote: bool) -> Self {
        let hosts = (!allow_remote).then(|| {
            let mut hosts = HashSet::new();
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
        Guard { token, hosts }
    }

    fn host_allowed(&self, host: &str) -> bool {
        match &self.hosts {
            None => true,
            Some(hosts) => hosts.contains(&host.to_ascii_lowercase()),
        }
    }
}

/// Middleware: refuse foreign `Host`/`Origin` (403) and a missing or wrong token (401).
pub(super) async fn check(State(state): State<AdminState>, req: Request, next: Next) -> Response {
    let guard = &state.guard;
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !guard.host_allowed(host) {
        return Problem::forbidden(
            "the Host header does not name the admin listener; requests must go to the address Portico printed (this blocks DNS rebinding)",
        )
        .into_response();
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|o| guard.host_allowed(o));
        if !allowed {
            return Problem::forbidden("cross-origin requests to the admin API are refused")
                .into_response();
        }
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if guard.token.matches(token) => next.run(req).await,
        _ => Problem::unauthorized().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn only_the_listeners_own_names_pass_the_host_check() {
        let addr: SocketAddr = "127.0.0.1:7080".parse().expect("addr");
        let guard = Guard::new(Token::generate().expect("token"), &[addr], false);
        assert!(guard.host_allowed("127.0.0.1:7080"));
        assert!(guard.host_allowed("LOCALHOST:7080"));
        assert!(!guard.host_allowed("evil.example:7080"));
        assert!(!guard.host_allowed("127.0.0.1:80"));
        let open = Guard::new(Token::generate().expect("token"), &[addr], true);
        assert!(open.host_allowed("192.0.2.1:7080"));
    }
}
