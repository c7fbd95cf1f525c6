//! What can go wrong while reading, installing or removing the CA. Each message says what to
//! do, and names the exact command to run by hand where one applies.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// A failure in one trust store (or in reading the CA certificate).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The CA file is not one PEM `CERTIFICATE` block holding an X.509 certificate.
    #[error(
        "{path} is not a usable CA certificate: {problem}; it must hold exactly one PEM CERTIFICATE block (the root only, no key)"
    )]
    InvalidPem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A program this store needs is not installed (or not on `PATH`).
    #[error("`{tool}` was not found; {install_hint}")]
    ToolMissing {
        /// The program as Portico tried to run it.
        tool: String,
        /// How to install it on this machine.
        install_hint: String,
    },
    /// A program exists but could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A program ran and reported failure.
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        /// The command line, as it could be typed in a shell.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it printed on stderr (or stdout when stderr was empty), trimmed.
        stderr: String,
    },
    /// A program did not finish in time and was killed.
    #[error(
        "`{command}` did not finish within {} s and was stopped; run it by hand to see what it waits for",
        after.as_secs()
    )]
    Timeout {
        /// The command line.
        command: String,
        /// The limit it ran into.
        after: Duration,
    },
    /// The change needs administrator rights that Portico does not have (or was told not to
    /// ask for).
    #[error("this needs administrator rights; run by hand: {command}")]
    NeedsPrivileges {
        /// The exact `sudo …` line(s) to run, joined with ` && `.
        command: String,
        /// What failed without the rights.
        #[source]
        cause: Box<Error>,
    },
    /// An NSS database has a primary password, so certutil cannot change it unattended.
    #[error(
        "the NSS database {location} is protected by a password, so Portico cannot change it unattended; run by hand (certutil asks for the password): {command}"
    )]
    PasswordProtected {
        /// The database directory.
        location: String,
        /// The command to run by hand.
        command: String,
    },
    /// A file or directory could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}
