//! Java's trust store (`cacerts`), reported and never changed: it belongs to the JDK, is
//! often regenerated (on Debian, ca-certificates-java rebuilds it from the system anchors),
//! and a project may point Java at its own. The report says how to import the CA by hand.

use super::command::{self, Cmd, QUICK};
use super::report::unchanged;
use super::{CaCert, Error, Outcome, Store, StoreStatus, TrustEnv, TrustState};

/// The JDK's default `cacerts` password.
const STOREPASS: &str = "changeit";

fn keystore_args(env: &TrustEnv, cmd: Cmd) -> Cmd {
    match &env.java_keystore {
        Some(path) => cmd.arg("-keystore").arg(path),
        None => cmd.arg("-cacerts"),
    }
}

/// `keytool -list -storepass changeit -cacerts` (or `-keystore <path>`): every entry with its
/// SHA-256 fingerprint.
pub(crate) fn list_cmd(env: &TrustEnv) -> Cmd {
    keystore_args(
        env,
        Cmd::new(&env.keytool).args(["-list", "-storepass", STOREPASS]),
    )
}

/// The alias an import by hand should use: `portico-<sha256 first 16>`.
pub(crate) fn alias(ca: &CaCert) -> String {
    format!("portico-{}", ca.short_id())
}

/// `keytool -importcert -noprompt -storepass changeit -alias portico-… -file <pem> -cacerts`.
pub(crate) fn import_cmd(env: &TrustEnv, ca: &CaCert) -> Cmd {
    let cmd = Cmd::new(&env.keytool)
        .args([
            "-importcert",
            "-noprompt",
            "-storepass",
            STOREPASS,
            "-alias",
            &alias(ca),
            "-file",
        ])
        .arg(&ca.path);
    keystore_args(env, cmd)
}

/// The alias Debian's ca-certificates-java gives the copy of Portico's system anchor that its
/// hook puts into Java's `cacerts`: `debian:portico-<sha256 first 16>.pem`.
pub(crate) fn debian_alias(ca: &CaCert) -> String {
    format!("debian:portico-{}.pem", ca.short_id())
}

/// After Portico's anchor left a Debian system store, remove the copy ca-certificates-java
/// made of it in Java's keystore (its hook adds such copies but does not remove them). The
/// alias carries the CA's fingerprint, so nothing else can match. `None` when there is no
/// such copy (or no keytool); otherwise a note saying what was removed, or the error.
pub(crate) fn forget_debian_copy(env: &TrustEnv, ca: &CaCert) -> Option<Result<String, Error>> {
    let alias = debian_alias(ca);
    let list = keystore_args(
        env,
        Cmd::new(&env.keytool).args(["-list", "-storepass", STOREPASS, "-alias", &alias]),
    );
    command::run_ok(env, &list, QUICK).ok()?;
    let delete = keystore_args(
        env,
        Cmd::new(&env.keytool).args([
            "-delete",
            "-noprompt",
            "-storepass",
            STOREPASS,
            "-alias",
            &alias,
        ]),
    );
    let removed = match command::run_ok(env, &delete, QUICK) {
        Ok(_) => Ok(()),
        Err(e @ (Error::ToolMissing { .. } | Error::Timeout { .. })) => Err(e),
        Err(cause) => command::elevate(env, &[delete], cause),
    };
    Some(removed.map(|()| {
        format!(
            "also removed {alias}, the copy Debian's ca-certificates-java had put in {}",
            location(env)
        )
    }))
}

/// The SHA-256 fingerprints in `keytool -list` output (`AB:CD:…`, 32 bytes), as uppercase hex
/// without colons. The label around them is localized; the fingerprint is not.
pub(crate) fn parse_sha256s(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|word| word.len() == 32 * 3 - 1 && word.split(':').all(|b| b.len() == 2))
        .filter(|word| word.chars().all(|c| c == ':' || c.is_ascii_hexdigit()))
        .map(|word| word.replace(':', "").to_ascii_uppercase())
        .collect()
}

fn location(env: &TrustEnv) -> String {
    match &env.java_keystore {
        Some(path) => path.display().to_string(),
        None => "Java cacerts".to_owned(),
    }
}

/// How to make Java trust the CA; `sudo` for the JDK's own `cacerts`.
fn import_hint(env: &TrustEnv, ca: &CaCert) -> String {
    let sudo = if env.java_keystore.is_none() {
        "sudo "
    } else {
        ""
    };
    format!(
        "Portico does not change Java's trust store; to make Java trust the CA run: {sudo}{}",
        import_cmd(env, ca).display()
    )
}

/// `None` when there is no `keytool`: no Java to report on.
fn holds(env: &TrustEnv, ca: &CaCert) -> Option<Result<bool, Error>> {
    match command::run_ok(env, &list_cmd(env), QUICK) {
        Ok(output) => Some(Ok(parse_sha256s(&output.stdout).contains(&ca.sha256_hex()))),
        Err(Error::ToolMissing { .. }) => None,
        Err(e) => Some(Err(e)),
    }
}

pub(crate) fn status(env: &TrustEnv, ca: &CaCert) -> StoreStatus {
    let row = |state| StoreStatus::new(Store::Java, state, location(env));
    match holds(env, ca) {
        None => StoreStatus::new(
            Store::Java,
            TrustState::NotPresent,
            "keytool not found".to_owned(),
        ),
        Some(Ok(true)) => row(TrustState::Trusted),
        Some(Ok(false)) => row(TrustState::ReportOnly).note(import_hint(env, ca)),
        Some(Err(e)) => row(TrustState::Unknown).note(e.to_string()),
    }
}

/// What `trust` and `untrust` say about Java; `None` without Java.
pub(crate) fn outcome(env: &TrustEnv, ca: &CaCert, adding: bool) -> Option<Outcome> {
    let result = match holds(env, ca)? {
        Ok(true) if adding => Ok(unchanged("already trusted")),
        Ok(true) => Ok(unchanged(format!(
            "Portico does not change Java's trust store; if the CA was imported with the command Portico suggested, remove it with: {}{}",
            if env.java_keystore.is_none() {
                "sudo "
            } else {
                ""
            },
            keystore_args(
                env,
                Cmd::new(&env.keytool).args([
                    "-delete",
                    "-storepass",
                    STOREPASS,
                    "-alias",
                    &alias(ca)
                ])
            )
            .display()
        ))),
        Ok(false) if adding => Ok(unchanged(import_hint(env, ca))),
        Ok(false) => Ok(unchanged("not in the store")),
        Err(e) => Err(e),
    };
    Some(Outcome::new(Store::Java, location(env), result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ca() -> CaCert {
        CaCert {
            pem: String::new(),
            der: vec![0x30, 0x00],
            path: PathBuf::from("/data/ca.pem"),
            name: "Portico Local CA".to_owned(),
        }
    }

    #[test]
    fn commands_use_the_default_cacerts_unless_a_keystore_is_given() {
        let mut env = TrustEnv::detect(PathBuf::from("/home/a"), None);
        let ca = ca();
        let alias = alias(&ca);
        assert_eq!(
            list_cmd(&env).argv(),
            ["keytool", "-list", "-storepass", "changeit", "-cacerts"]
        );
        assert_eq!(
            import_cmd(&env, &ca).argv(),
            [
                "keytool",
                "-importcert",
                "-noprompt",
                "-storepass",
                "changeit",
                "-alias",
                alias.as_str(),
                "-file",
                "/data/ca.pem",
                "-cacerts"
            ]
        );
        env.java_keystore = Some(PathBuf::from("/tmp/ks.p12"));
        assert_eq!(
            list_cmd(&env).argv(),
            [
                "keytool",
                "-list",
                "-storepass",
                "changeit",
                "-keystore",
                "/tmp/ks.p12"
            ]
        );
    }

    #[test]
    fn parse_sha256s_reads_fingerprints_whatever_the_label_says() {
        // As printed by OpenJDK 17 (English), then a German label.
        let text = "Keystore type: PKCS12\nKeystore provider: SUN\n\nYour keystore contains 2 entries\n\nother, Nov 26, 2026, trustedCertEntry, \nCertificate fingerprint (SHA-256): F3:97:E1:BA:D2:BA:65:A3:46:21:FA:B9:63:62:42:1B:3D:78:CF:77:25:89:23:0D:EF:C7:36:67:D6:DF:29:8B\nzwei, 26.11.2026, trustedCertEntry,\nZertifikat-Fingerprint (SHA-256): eb:c5:57:0c:29:01:8c:4d:67:b1:aa:12:7b:af:12:f7:03:b4:61:1e:bc:17:b7:da:b5:57:38:94:17:9b:93:fa\n";
        assert_eq!(
            parse_sha256s(text),
            [
                "F397E1BAD2BA65A34621FAB96362421B3D78CF772589230DEFC73667D6DF298B",
                "EBC5570C29018C4D67B1AA127BAF12F703B4611EBC17B7DAB5573894179B93FA"
            ]
        );
    }
}
