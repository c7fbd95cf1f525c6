//! Installing Portico's root CA into trust stores, reporting where it is trusted, and removing
//! exactly what was installed. One file per store: `system` (Debian, Fedora, Arch anchors),
//! `nss` (Chromium on Linux, Firefox profiles), `macos` (login keychain), `windows`
//! (CurrentUser Root), `java` and `node` (reported, never changed).
//!
//! This module owns the stores, not the CA: creating and loading the CA is `tls::ca`'s job;
//! here it arrives as a [`CaCert`]. Nothing is read from the environment: the caller passes
//! the home directory, `NODE_EXTRA_CA_CERTS` and (optionally) `PATH` in [`TrustEnv`].
//!
//! Every store is changed by its own program (`certutil`, `update-ca-certificates`,
//! `security`, …) run with explicit arguments, no input and a time limit. A failure in one
//! store is reported in its [`Outcome`] and does not stop the others.

mod cert;
mod command;
mod env;
mod error;
mod java;
mod macos;
mod node;
mod nss;
mod report;
mod system;
mod windows;

pub use cert::CaCert;
pub use env::{Elevation, SystemStore, TrustEnv};
pub use error::Error;
pub use report::{Change, Outcome, Store, StoreStatus, TrustState};

use std::path::Path;

use system::Anchors;

/// Whether each store trusts `ca`: the system store first, then every NSS database, Java and
/// Node. Looks only; changes nothing.
pub fn status(env: &TrustEnv, ca: &CaCert) -> Vec<StoreStatus> {
    let mut rows = vec![match system(env) {
        System::Anchors(anchors) => anchors.status(ca),
        System::Keychain(keychain) => macos::status(env, ca, keychain),
        System::Windows => windows::status(env, ca),
        System::None => StoreStatus::new(Store::System, TrustState::NotPresent, String::new())
            .note(NO_SYSTEM_STORE),
    }];
    rows.extend(
        nss::databases(env)
            .iter()
            .map(|db| nss::status(env, ca, db)),
    );
    rows.push(java::status(env, ca));
    rows.push(node::status(env, ca));
    rows
}

/// Make every store trust `ca`. Trusting again changes nothing ([`Change::Unchanged`]).
/// Chromium's `~/.pki/nssdb` is created when missing. Java and Node are not changed; their
/// outcomes say how to do it by hand.
pub fn trust(env: &TrustEnv, ca: &CaCert) -> Vec<Outcome> {
    let mut outcomes = vec![match system(env) {
        System::Anchors(anchors) => anchors.trust(env, ca),
        System::Keychain(keychain) => macos::trust(env, ca, keychain),
        System::Windows => windows::trust(env, ca),
        System::None => no_system_store(),
    }];
    outcomes.extend(nss::databases(env).iter().map(|db| nss::trust(env, ca, db)));
    outcomes.extend(java::outcome(env, ca, true));
    outcomes.push(node::outcome(env, ca, true));
    outcomes
}

/// Remove from every store exactly what [`trust`] added: Portico's anchor file (and on
/// Debian the copy ca-certificates-java made of it in Java's keystore), the certificate
/// under Portico's NSS nickname, the keychain or Windows entry with the CA's SHA-1. Other certificates stay, and so does a Chromium database `trust` created (empty, it
/// is harmless). Removing what is not there changes nothing.
pub fn untrust(env: &TrustEnv, ca: &CaCert) -> Vec<Outcome> {
    let mut system_outcome = match system(env) {
        System::Anchors(anchors) => anchors.untrust(env, ca),
        System::Keychain(keychain) => macos::untrust(env, ca, keychain),
        System::Windows => windows::untrust(env, ca),
        System::None => no_system_store(),
    };
    if matches!(env.system, SystemStore::Debian { .. })
        && system_outcome.result.is_ok()
        && let Some(forgot) = java::forget_debian_copy(env, ca)
    {
        system_outcome.note = Some(match forgot {
            Ok(note) => note,
            Err(err) => format!("Java's keystore still holds a copy: {err}"),
        });
    }
    let mut outcomes = vec![system_outcome];
    outcomes.extend(
        nss::databases(env)
            .iter()
            .map(|db| nss::untrust(env, ca, db)),
    );
    outcomes.extend(java::outcome(env, ca, false));
    outcomes.push(node::outcome(env, ca, false));
    outcomes
}

/// The system store, by how it is changed.
enum System<'a> {
    Anchors(Anchors<'a>),
    Keychain(&'a Path),
    Windows,
    None,
}

fn system(env: &TrustEnv) -> System<'_> {
    match &env.system {
        SystemStore::Debian {
            anchor_dir,
            refresh,
            bundle,
        }
        | SystemStore::RedHat {
            anchor_dir,
            refresh,
            bundle,
        }
        | SystemStore::Arch {
            anchor_dir,
            refresh,
            bundle,
        } => System::Anchors(Anchors {
            dir: anchor_dir,
            refresh: refresh.as_deref(),
            bundle: bundle.as_deref(),
        }),
        SystemStore::MacKeychain { keychain } => System::Keychain(keychain),
        SystemStore::WindowsUser => System::Windows,
        SystemStore::None => System::None,
    }
}

const NO_SYSTEM_STORE: &str = "Portico knows no system trust store on this machine";

fn no_system_store() -> Outcome {
    Outcome::new(
        Store::System,
        String::new(),
        Ok(report::unchanged(NO_SYSTEM_STORE)),
    )
}

#[cfg(test)]
mod tests;
