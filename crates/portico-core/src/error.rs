//! The crate's error: one variant per domain, plus the few failures of wiring them together.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Any error from the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A route or setting was refused.
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    /// The database failed or was refused.
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// A listener could not be bound.
    #[error(transparent)]
    Proxy(#[from] crate::proxy::Error),
    /// A route could not be shared on the network.
    #[error(transparent)]
    Share(#[from] crate::share::Error),
    /// The CA could not be loaded or created.
    #[error(transparent)]
    Tls(#[from] crate::tls::Error),
    /// The hosts file could not be read or changed.
    #[error(transparent)]
    Hosts(#[from] crate::hosts::Error),
    /// The admin API was asked to listen beyond this machine.
    #[error(
        "refusing to serve the admin API on {addr}: it is not a loopback address, and the admin API controls Portico. Use 127.0.0.1:PORT, or pass --admin-allow-remote if you really mean it"
    )]
    AdminNotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The admin token could not be created or written.
    #[error("cannot write the admin token {path}: {source}")]
    AdminToken {
        /// The token file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An import or project file has problems; nothing was changed.
    #[error("{} problem(s) in the import: {}", .0.len(), .0.iter().map(|p| format!("{}: {}", p.at, p.message)).collect::<Vec<_>>().join("; "))]
    Import(Vec<crate::config::ImportProblem>),
    /// The engine was started without access to trust stores.
    #[error("this engine was started without trust-store access; run `portico ca trust` instead")]
    TrustUnavailable,
    /// A background task panicked or was cancelled.
    #[error("an internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}
