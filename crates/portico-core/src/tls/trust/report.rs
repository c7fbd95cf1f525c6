//! What `status`, `trust` and `untrust` report, store by store.

use std::fmt;

use serde::Serialize;

use super::Error;

/// One trust store. Serialized as `{"kind": "firefox", "profile": "abc.default-release"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schema(as = TrustStore)]
pub enum Store {
    /// The operating system's anchors (Debian, Fedora, Arch).
    System,
    /// Chromium and Chrome on Linux: an NSS database, usually `~/.pki/nssdb`.
    Chromium,
    /// A Firefox profile's NSS database.
    Firefox {
        /// The profile directory's name, e.g. `abc.default-release`.
        profile: String,
    },
    /// Java's `cacerts` (reported, never changed).
    Java,
    /// Node.js through `NODE_EXTRA_CA_CERTS` (reported, never changed).
    Node,
    /// The macOS login keychain.
    MacKeychain,
    /// The Windows CurrentUser Root store.
    Windows,
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Store::System => f.write_str("system"),
            Store::Chromium => f.write_str("Chromium"),
            Store::Firefox { profile } => write!(f, "Firefox ({profile})"),
            Store::Java => f.write_str("Java"),
            Store::Node => f.write_str("Node.js"),
            Store::MacKeychain => f.write_str("macOS keychain"),
            Store::Windows => f.write_str("Windows"),
        }
    }
}

/// Whether one store trusts the CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrustState {
    /// The store trusts the CA for TLS servers.
    Trusted,
    /// The store exists and does not trust the CA.
    NotTrusted,
    /// The store does not exist on this machine.
    NotPresent,
    /// A store Portico reports on but does not change (Java, Node) and that does not trust
    /// the CA; the note says how to make it.
    ReportOnly,
    /// The store could not be checked; the note says why.
    Unknown,
}

/// One row of `portico ca status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoreStatus {
    /// Which store.
    pub store: Store,
    /// Whether it trusts the CA.
    pub state: TrustState,
    /// Where it is: a path, or a variable's name.
    pub location: String,
    /// What the user may want to know or do.
    #[schema(required = true)]
    pub note: Option<String>,
}

/// What `trust` or `untrust` did to one store.
#[derive(Debug)]
pub struct Outcome {
    /// Which store.
    pub store: Store,
    /// Where it is: a path, or a variable's name.
    pub location: String,
    /// The change, or why it failed.
    pub result: Result<Change, Error>,
    /// Something the user should know besides the change (e.g. a database was created).
    pub note: Option<String>,
}

/// A change to one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The CA is now trusted there.
    Added,
    /// What Portico had added is gone.
    Removed,
    /// Nothing was done.
    Unchanged {
        /// Why, and what the user could do instead.
        why: String,
    },
}

impl Outcome {
    pub(crate) fn new(store: Store, location: String, result: Result<Change, Error>) -> Outcome {
        Outcome {
            store,
            location,
            result,
            note: None,
        }
    }
}

impl StoreStatus {
    pub(crate) fn new(store: Store, state: TrustState, location: String) -> StoreStatus {
        StoreStatus {
            store,
            state,
            location,
            note: None,
        }
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> StoreStatus {
        self.note = Some(note.into());
        self
    }
}

pub(crate) fn unchanged(why: impl Into<String>) -> Change {
    Change::Unchanged { why: why.into() }
}
