//! Portico's engine: a reverse proxy for local development that maps names such as
//! `app.localhost` to dev servers, with routes and settings persisted in SQLite.
//!
//! [`Engine::start`] is the one place that wires the domains together; the CLI, the admin API
//! and (later) the desktop shell only call it. The crate has no GUI dependency and reads no environment:
//! paths and options come in through [`EngineConfig`].

pub mod admin;
pub mod cache;
pub mod compress;
pub mod config;
pub mod discover;
pub mod dns;
pub mod doctor;
mod engine;
mod error;
pub mod export;
pub mod hosts;
pub mod inspect;
pub mod metrics;
pub mod proxy;
pub mod share;
pub mod static_files;
pub mod store;
pub mod tls;

pub use engine::{ADMIN_FILE, AdminListen, Engine, EngineConfig, EngineHandle};
pub use error::Error;

/// Now, as Unix milliseconds (0 if the clock is before 1970): the time stamps of captured
/// exchanges, retention and health probes.
pub(crate) fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
