//! Names that resolve everywhere: a small DNS responder on a loopback port that answers
//! `A 127.0.0.1` and `AAAA ::1` for every name under the `dns_suffixes` setting (and the
//! suffix itself), and the one-time system resolver configuration that sends those suffixes
//! to it.
//!
//! - `answer.rs`: what the responder answers (pure: a query in, a reply out), and the
//!   hickory request handler around it.
//! - `responder.rs`: binding UDP and TCP on `dns_listen`, serving with `hickory-server`, and
//!   [`Dns`], which the engine keeps in step with the settings (start, stop, re-bind,
//!   change suffixes) and asks for its state.
//! - `resolver.rs`: per platform, which files make the system resolver use the responder
//!   (macOS `/etc/resolver/<suffix>`, a systemd-resolved drop-in on Linux), whether they are
//!   there, writing and removing them under a root directory given as a parameter, and the
//!   commands for a user to run instead.
//!
//! It never recurses or forwards: names outside the suffixes get REFUSED. It does not touch
//! `/etc/hosts` and knows nothing of routes: every name under a suffix is answered, whether
//! or not a route serves it (the proxy's 404 page then lists the routes).

mod answer;
mod resolver;
mod responder;

pub use answer::{Answerer, TTL};
pub use resolver::{
    MARKER, PlannedFile, Platform, ResolverEnv, ResolverPlan, SuffixStatus, Written, plan, remove,
    suffix_status, write,
};
pub use responder::{Dns, DnsStatus};

use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong with the responder or the resolver configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The responder's address cannot be bound.
    #[error(
        "cannot listen for DNS on {addr} ({protocol}): {}",
        bind_advice(source)
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// `UDP` or `TCP`.
        protocol: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// A resolver file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A resolver file cannot be removed.
    #[error("cannot remove {}: {source}", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing to configure.
    #[error(
        "no DNS suffixes are set, so there is nothing to send to the responder; \
         set some first, e.g. `portico settings set dns_suffixes test`"
    )]
    NoSuffixes,
    /// This platform's resolver cannot be pointed at the responder by Portico.
    #[error("{0}")]
    Unsupported(String),
    /// The command that makes the resolver read its new configuration failed.
    #[error("wrote the configuration, but `{command}` failed: {reason}; run it yourself")]
    Reload {
        /// The command as typed.
        command: String,
        /// Its exit status or why it could not run.
        reason: String,
    },
}

impl Error {
    /// Whether the cause is missing privilege (the user should run the printed commands,
    /// or this command with sudo).
    pub fn is_permission(&self) -> bool {
        match self {
            Error::Write { source, .. } | Error::Remove { source, .. } => {
                source.kind() == std::io::ErrorKind::PermissionDenied
                    || source.raw_os_error() == Some(30) // EROFS: a read-only /etc
            }
            _ => false,
        }
    }
}

/// The second half of a bind error: what happened and what to do.
fn bind_advice(source: &std::io::Error) -> String {
    match source.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "{source}: another program (another DNS server, or another Portico) uses this port; \
             choose another port in the dns_listen setting"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "{source}: ports below 1024 need privileges; choose a port such as 5354 in the \
             dns_listen setting"
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "{source}: this machine has no such address; use 127.0.0.1 in the dns_listen setting"
        ),
        _ => source.to_string(),
    }
}

#[cfg(test)]
mod tests;
