//! Rotating the CA: a new root and intermediate, with trust moved from the old root to the
//! new one in every store that trusted the old.

use std::path::{Path, PathBuf};

use super::trust::{self, CaCert, Outcome, TrustEnv, TrustState};
use super::{Ca, Error};

/// What [`rotate`] did.
#[derive(Debug)]
pub struct Rotation {
    /// The new CA.
    pub ca: Ca,
    /// Where the old CA's files were moved.
    pub retired: PathBuf,
    /// Removing the old root from the stores that trusted it (empty if none did).
    pub untrusted: Vec<Outcome>,
    /// Installing the new root in those same stores (empty if the old one was trusted nowhere).
    pub trusted: Vec<Outcome>,
}

impl Ca {
    /// The root as the trust stores see it, named `<root name> <first 8 hex of SHA-256>` so
    /// two CAs (before and after a rotation) never share a nickname.
    pub fn trust_cert(&self) -> Result<CaCert, trust::Error> {
        let short: String = self.root_fingerprint().chars().take(8).collect();
        CaCert::from_pem_file(&self.root_path(), format!("{} {short}", self.root_name()))
    }
}

/// Replace the CA in `dir`: move the old files aside, create a new root and intermediate, and
/// if the old root was trusted anywhere, untrust it and trust the new one. A running engine
/// notices the new files and re-issues its leaves.
pub fn rotate(
    dir: &Path,
    owner: &str,
    extra_suffixes: &[String],
    env: &TrustEnv,
) -> Result<Rotation, Error> {
    let (old, _) = Ca::load_or_create(dir, owner, extra_suffixes)?;
    let old_cert = old.trust_cert().map_err(Error::Trust)?;
    let was_trusted = trust::status(env, &old_cert)
        .iter()
        .any(|s| s.state == TrustState::Trusted);
    let retired = Ca::retire(dir)?;
    let old_cert = CaCert::from_pem_file(&retired.join("root.pem"), old_cert.name.clone())
        .map_err(Error::Trust)?;
    let (ca, _) = Ca::load_or_create(dir, owner, extra_suffixes)?;
    let (untrusted, trusted) = if was_trusted {
        let untrusted = trust::untrust(env, &old_cert);
        let trusted = trust::trust(env, &ca.trust_cert().map_err(Error::Trust)?);
        (untrusted, trusted)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Rotation {
        ca,
        retired,
        untrusted,
        trusted,
    })
}
