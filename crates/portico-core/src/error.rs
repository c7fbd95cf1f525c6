//! The crate's error: one variant per domain.

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
    /// A background task panicked or was cancelled.
    #[error("an internal task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}
