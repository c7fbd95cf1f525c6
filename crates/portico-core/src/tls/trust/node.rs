//! Node.js, reported and never changed: Node does not read the system store by default but
//! adds the certificates in the file named by `NODE_EXTRA_CA_CERTS`, an environment variable
//! the user sets in their own shell. The caller passes its value in.

use std::path::Path;

use super::cert::pem_holds;
use super::command::shell_quote;
use super::report::unchanged;
use super::{CaCert, Outcome, Store, StoreStatus, TrustEnv, TrustState};

const LOCATION: &str = "NODE_EXTRA_CA_CERTS";

/// Whether `file` is the CA's file, or a file (a bundle) holding the same certificate.
fn names_ca(file: &Path, ca: &CaCert) -> bool {
    let same_file = match (file.canonicalize(), ca.path.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => file == ca.path,
    };
    same_file || std::fs::read(file).is_ok_and(|text| pem_holds(&text, &ca.der))
}

fn export_hint(env: &TrustEnv, ca: &CaCert) -> String {
    let export = format!(
        "export NODE_EXTRA_CA_CERTS={}",
        shell_quote(&ca.path.display().to_string())
    );
    match &env.node_extra_ca_certs {
        Some(other) => format!(
            "NODE_EXTRA_CA_CERTS is {}, which does not hold the Portico CA; Node reads one file, so point it at the CA (or add the CA to that file): {export}",
            other.display()
        ),
        None => format!(
            "Node does not read the system store by default; add to your shell profile: {export}"
        ),
    }
}

fn trusted(env: &TrustEnv, ca: &CaCert) -> bool {
    env.node_extra_ca_certs
        .as_deref()
        .is_some_and(|file| names_ca(file, ca))
}

pub(crate) fn status(env: &TrustEnv, ca: &CaCert) -> StoreStatus {
    if trusted(env, ca) {
        StoreStatus::new(Store::Node, TrustState::Trusted, LOCATION.to_owned())
    } else {
        StoreStatus::new(Store::Node, TrustState::ReportOnly, LOCATION.to_owned())
            .note(export_hint(env, ca))
    }
}

/// What `trust` and `untrust` say about Node: always unchanged, with what to do by hand.
pub(crate) fn outcome(env: &TrustEnv, ca: &CaCert, adding: bool) -> Outcome {
    let why = match (trusted(env, ca), adding) {
        (true, true) => "already set: NODE_EXTRA_CA_CERTS holds the CA".to_owned(),
        (true, false) => {
            "Portico does not change your environment; remove NODE_EXTRA_CA_CERTS from your shell profile (unset NODE_EXTRA_CA_CERTS)".to_owned()
        }
        (false, true) => export_hint(env, ca),
        (false, false) => "NODE_EXTRA_CA_CERTS does not name the CA".to_owned(),
    };
    Outcome::new(Store::Node, LOCATION.to_owned(), Ok(unchanged(why)))
}
