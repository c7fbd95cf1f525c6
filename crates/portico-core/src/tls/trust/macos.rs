//! The macOS login keychain, through `security`. The command lines and the parsing of
//! `security`'s output are plain functions, unit-tested on any OS; they are only run when
//! the system store is [`super::SystemStore::MacKeychain`] (which `detect` picks on macOS).

use std::path::Path;

use super::command::{self, Cmd, PROMPT, QUICK};
use super::report::unchanged;
use super::{CaCert, Change, Error, Outcome, Store, StoreStatus, TrustEnv, TrustState};

/// `security add-trusted-cert -r trustRoot -k <keychain> <pem>`: add the certificate and trust
/// it as a root for the user (macOS asks for the user's password).
pub(crate) fn add_cmd(keychain: &Path, ca: &CaCert) -> Cmd {
    Cmd::new("security")
        .args(["add-trusted-cert", "-r", "trustRoot", "-k"])
        .arg(keychain)
        .arg(&ca.path)
}

/// `security find-certificate -a -Z <keychain>`: every certificate with its hashes.
pub(crate) fn find_cmd(keychain: &Path) -> Cmd {
    Cmd::new("security")
        .args(["find-certificate", "-a", "-Z"])
        .arg(keychain)
}

/// `security verify-cert -c <pem> -p ssl`: succeeds when the user's trust settings make the
/// certificate a trusted root for TLS.
pub(crate) fn verify_cmd(ca: &CaCert) -> Cmd {
    Cmd::new("security")
        .args(["verify-cert", "-c"])
        .arg(&ca.path)
        .args(["-p", "ssl"])
}

/// `security remove-trusted-cert <pem>`: drop the user's trust setting for it.
pub(crate) fn remove_trust_cmd(ca: &CaCert) -> Cmd {
    Cmd::new("security")
        .arg("remove-trusted-cert")
        .arg(&ca.path)
}

/// `security delete-certificate -Z <sha1> <keychain>`: delete exactly this certificate.
pub(crate) fn delete_cmd(keychain: &Path, ca: &CaCert) -> Cmd {
    Cmd::new("security")
        .args(["delete-certificate", "-Z", &ca.sha1_hex()])
        .arg(keychain)
}

/// The SHA-1 hashes in `security find-certificate -Z` output (`SHA-1 hash: 0A1B…`),
/// uppercase.
pub(crate) fn parse_sha1s(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("SHA-1 hash:"))
        .map(|hash| hash.trim().to_ascii_uppercase())
        .collect()
}

enum Seen {
    Absent,
    Present { trusted: bool },
}

fn look(env: &TrustEnv, keychain: &Path, ca: &CaCert) -> Result<Seen, Error> {
    let listing = command::run_ok(env, &find_cmd(keychain), QUICK)?;
    if !parse_sha1s(&listing.stdout).contains(&ca.sha1_hex()) {
        return Ok(Seen::Absent);
    }
    let verified = command::run(env, &verify_cmd(ca), QUICK)?;
    Ok(Seen::Present {
        trusted: verified.status.success(),
    })
}

pub(crate) fn status(env: &TrustEnv, ca: &CaCert, keychain: &Path) -> StoreStatus {
    let row = |state| StoreStatus::new(Store::MacKeychain, state, keychain.display().to_string());
    match look(env, keychain, ca) {
        Ok(Seen::Present { trusted: true }) => row(TrustState::Trusted),
        Ok(Seen::Present { trusted: false }) => row(TrustState::NotTrusted)
            .note("the CA is in the keychain but not trusted; `portico ca trust` trusts it"),
        Ok(Seen::Absent) => row(TrustState::NotTrusted),
        Err(e) => row(TrustState::Unknown).note(e.to_string()),
    }
}

pub(crate) fn trust(env: &TrustEnv, ca: &CaCert, keychain: &Path) -> Outcome {
    let result = (|| match look(env, keychain, ca)? {
        Seen::Present { trusted: true } => Ok(unchanged("already trusted")),
        _ => {
            command::run_ok(env, &add_cmd(keychain, ca), PROMPT)?;
            Ok(Change::Added)
        }
    })();
    Outcome::new(Store::MacKeychain, keychain.display().to_string(), result)
}

pub(crate) fn untrust(env: &TrustEnv, ca: &CaCert, keychain: &Path) -> Outcome {
    let mut note = None;
    let result = (|| match look(env, keychain, ca)? {
        Seen::Absent => Ok(unchanged("not in the keychain")),
        Seen::Present { .. } => {
            // A certificate without a trust setting makes remove-trusted-cert fail; deleting
            // the certificate is what matters, so that failure is only noted.
            if let Err(e) = command::run_ok(env, &remove_trust_cmd(ca), PROMPT) {
                note = Some(format!("removing the trust setting failed: {e}"));
            }
            command::run_ok(env, &delete_cmd(keychain, ca), QUICK)?;
            Ok(Change::Removed)
        }
    })();
    Outcome {
        store: Store::MacKeychain,
        location: keychain.display().to_string(),
        result,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ca() -> CaCert {
        CaCert {
            pem: String::new(),
            der: vec![0x30, 0x00],
            path: PathBuf::from("/Users/a/Library/Application Support/portico/ca.pem"),
            name: "Portico Local CA".to_owned(),
        }
    }

    #[test]
    fn commands_target_the_given_keychain_and_the_ca_by_sha1() {
        let ca = ca();
        let keychain = Path::new("/Users/a/Library/Keychains/login.keychain-db");
        assert_eq!(
            add_cmd(keychain, &ca).display(),
            "security add-trusted-cert -r trustRoot -k /Users/a/Library/Keychains/login.keychain-db '/Users/a/Library/Application Support/portico/ca.pem'"
        );
        assert_eq!(
            find_cmd(keychain).argv(),
            [
                "security",
                "find-certificate",
                "-a",
                "-Z",
                "/Users/a/Library/Keychains/login.keychain-db"
            ]
        );
        assert_eq!(
            verify_cmd(&ca).argv(),
            [
                "security",
                "verify-cert",
                "-c",
                "/Users/a/Library/Application Support/portico/ca.pem",
                "-p",
                "ssl"
            ]
        );
        assert_eq!(
            remove_trust_cmd(&ca).argv(),
            [
                "security",
                "remove-trusted-cert",
                "/Users/a/Library/Application Support/portico/ca.pem"
            ]
        );
        assert_eq!(
            delete_cmd(keychain, &ca).argv(),
            [
                "security".to_owned(),
                "delete-certificate".to_owned(),
                "-Z".to_owned(),
                ca.sha1_hex(),
                "/Users/a/Library/Keychains/login.keychain-db".to_owned()
            ]
        );
    }

    #[test]
    fn parse_sha1s_reads_every_hash_in_find_certificate_output() {
        let text = r#"SHA-256 hash: 0C5B2E0D3E2F8D6B0E1A7C3B6D8F2A1E9C4B7D0A3F6E2C8B5A1D4E7F0B3C6A9D
SHA-1 hash: 8F8E1DEBA4B54D1A2E2C0F3A9B7C6D5E4F3A2B1C
keychain: "/Users/a/Library/Keychains/login.keychain-db"
version: 512
class: 0x80001000
attributes:
    "alis"<blob>="Portico Local CA"
SHA-256 hash: 11AA
SHA-1 hash: 0a1b2c3d4e5f60718293a4b5c6d7e8f901234567
keychain: "/Users/a/Library/Keychains/login.keychain-db"
"#;
        assert_eq!(
            parse_sha1s(text),
            [
                "8F8E1DEBA4B54D1A2E2C0F3A9B7C6D5E4F3A2B1C",
                "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
            ]
        );
    }
}
