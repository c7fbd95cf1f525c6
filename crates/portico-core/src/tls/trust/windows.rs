//! The Windows CurrentUser Root store, through `certutil.exe -user` (Windows's own certutil,
//! not NSS's). The command lines and the parsing of its output are plain functions,
//! unit-tested on any OS; they are only run when the system store is
//! [`super::SystemStore::WindowsUser`] (which `detect` picks on Windows).

use super::command::{self, Cmd, PROMPT, QUICK};
use super::report::unchanged;
use super::{CaCert, Change, Error, Outcome, Store, StoreStatus, TrustEnv, TrustState};

/// Where the store is, as shown to the user.
const LOCATION: &str = r"Cert:\CurrentUser\Root";

/// `certutil.exe -user -addstore Root <pem>` (Windows asks the user to confirm).
pub(crate) fn add_cmd(ca: &CaCert) -> Cmd {
    Cmd::new("certutil.exe")
        .args(["-user", "-addstore", "Root"])
        .arg(&ca.path)
}

/// `certutil.exe -user -store Root <sha1>`: shows the certificate when it is there.
pub(crate) fn show_cmd(ca: &CaCert) -> Cmd {
    Cmd::new("certutil.exe").args(["-user", "-store", "Root", &ca.sha1_hex()])
}

/// `certutil.exe -user -delstore Root <sha1>`: deletes exactly this certificate.
pub(crate) fn delete_cmd(ca: &CaCert) -> Cmd {
    Cmd::new("certutil.exe").args(["-user", "-delstore", "Root", &ca.sha1_hex()])
}

/// Whether `certutil -store` output shows a certificate with this SHA-1. Its hash line is
/// localized (`Cert Hash(sha1): 0a 1b …` in English) and older versions space the bytes, so
/// any line holding the hex digits, spaces removed, counts.
pub(crate) fn shows_sha1(text: &str, sha1_hex: &str) -> bool {
    text.lines().any(|line| {
        let packed: String = line
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        packed.contains(sha1_hex)
    })
}

fn present(env: &TrustEnv, ca: &CaCert) -> Result<bool, Error> {
    // A certificate that is not there makes certutil fail; only its output decides.
    let output = command::run(env, &show_cmd(ca), QUICK)?;
    Ok(shows_sha1(&output.stdout, &ca.sha1_hex()))
}

pub(crate) fn status(env: &TrustEnv, ca: &CaCert) -> StoreStatus {
    let state = match present(env, ca) {
        Ok(true) => TrustState::Trusted,
        Ok(false) => TrustState::NotTrusted,
        Err(e) => {
            return StoreStatus::new(Store::Windows, TrustState::Unknown, LOCATION.to_owned())
                .note(e.to_string());
        }
    };
    StoreStatus::new(Store::Windows, state, LOCATION.to_owned())
}

pub(crate) fn trust(env: &TrustEnv, ca: &CaCert) -> Outcome {
    let result = (|| {
        if present(env, ca)? {
            return Ok(unchanged("already trusted"));
        }
        command::run_ok(env, &add_cmd(ca), PROMPT)?;
        Ok(Change::Added)
    })();
    Outcome::new(Store::Windows, LOCATION.to_owned(), result)
}

pub(crate) fn untrust(env: &TrustEnv, ca: &CaCert) -> Outcome {
    let result = (|| {
        if !present(env, ca)? {
            return Ok(unchanged("not in the store"));
        }
        command::run_ok(env, &delete_cmd(ca), PROMPT)?;
        Ok(Change::Removed)
    })();
    Outcome::new(Store::Windows, LOCATION.to_owned(), result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ca() -> CaCert {
        CaCert {
            pem: String::new(),
            der: vec![0x30, 0x00],
            path: PathBuf::from(r"C:\Users\a\AppData\Local\portico\ca.pem"),
            name: "Portico Local CA".to_owned(),
        }
    }

    #[test]
    fn commands_use_the_current_user_root_store_and_the_sha1() {
        let ca = ca();
        assert_eq!(
            add_cmd(&ca).argv(),
            [
                "certutil.exe",
                "-user",
                "-addstore",
                "Root",
                r"C:\Users\a\AppData\Local\portico\ca.pem"
            ]
        );
        let sha1 = ca.sha1_hex();
        assert_eq!(
            show_cmd(&ca).argv(),
            ["certutil.exe", "-user", "-store", "Root", sha1.as_str()]
        );
        assert_eq!(
            delete_cmd(&ca).argv(),
            ["certutil.exe", "-user", "-delstore", "Root", sha1.as_str()]
        );
    }

    #[test]
    fn shows_sha1_finds_the_hash_line_in_any_spacing_or_case() {
        let sha1 = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567";
        let modern = "Root \"Trusted Root Certification Authorities\"\n================ Certificate 0 ================\nSerial Number: 1a2b\nIssuer: CN=Portico Local CA\nCert Hash(sha1): 0a1b2c3d4e5f60718293a4b5c6d7e8f901234567\nCertUtil: -store command completed successfully.\n";
        let spaced =
            "Cert Hash(sha1): 0a 1b 2c 3d 4e 5f 60 71 82 93 a4 b5 c6 d7 e8 f9 01 23 45 67\n";
        let missing =
            "CertUtil: -store command FAILED: 0x80092004 (-2146885628 CRYPT_E_NOT_FOUND)\n";
        assert!(shows_sha1(modern, sha1));
        assert!(shows_sha1(spaced, sha1));
        assert!(!shows_sha1(missing, sha1));
    }
}
