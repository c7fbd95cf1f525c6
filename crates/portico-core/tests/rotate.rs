//! Rotating the CA moves trust from the old root to the new one, in temporary stores.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use portico_core::tls::trust::{self, Elevation, SystemStore, TrustEnv, TrustState};
use portico_core::tls::{self, Ca};

fn env(home: &Path, anchors: &Path) -> TrustEnv {
    TrustEnv {
        home: home.to_owned(),
        system: SystemStore::Debian {
            anchor_dir: anchors.to_owned(),
            refresh: None,
            bundle: None,
        },
        elevation: Elevation::AsIs,
        node_extra_ca_certs: None,
        certutil: PathBuf::from("certutil"),
        keytool: PathBuf::from("keytool"),
        java_keystore: None,
        path_var: None,
    }
}

fn nss_names(home: &Path) -> String {
    let out = Command::new("certutil")
        .args(["-L", "-d"])
        .arg(format!("sql:{}", home.join(".pki/nssdb").display()))
        .stdin(Stdio::null())
        .output()
        .expect("certutil runs (install libnss3-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn state_of(env: &TrustEnv, ca: &Ca, store: &str) -> TrustState {
    trust::status(env, &ca.trust_cert().expect("cert"))
        .into_iter()
        .find(|s| s.store.to_string() == store)
        .map(|s| s.state)
        .expect("store reported")
}

#[test]
fn rotation_moves_trust_from_the_old_root_to_the_new_one() {
    let data = tempfile::tempdir().expect("data");
    let home = tempfile::tempdir().expect("home");
    let anchors = tempfile::tempdir().expect("anchors");
    let env = env(home.path(), anchors.path());
    let dir = data.path().join("ca");
    let (old, _) = Ca::load_or_create(&dir, "tester@host", &[]).expect("CA");
    for outcome in trust::trust(&env, &old.trust_cert().expect("cert")) {
        if outcome.store.to_string() != "Java" {
            outcome.result.expect("trusted");
        }
    }
    let old_short: String = old.root_fingerprint().chars().take(8).collect();
    assert!(nss_names(home.path()).contains(&old_short));

    let rotation = tls::rotate(&dir, "tester@host", &[], &env).expect("rotate");
    for outcome in rotation.untrusted.iter().chain(&rotation.trusted) {
        if outcome.store.to_string() != "Java" {
            assert!(
                outcome.result.is_ok(),
                "{}: {:?}",
                outcome.store,
                outcome.result
            );
        }
    }
    let new = &rotation.ca;
    assert_ne!(new.root_fingerprint(), old.root_fingerprint());
    let new_short: String = new.root_fingerprint().chars().take(8).collect();
    let names = nss_names(home.path());
    assert!(
        !names.contains(&old_short),
        "old root still in NSS: {names}"
    );
    assert!(names.contains(&new_short), "new root not in NSS: {names}");
    assert_eq!(state_of(&env, new, "system"), TrustState::Trusted);
    assert_eq!(
        std::fs::read_dir(anchors.path()).expect("anchors").count(),
        1
    );
    assert!(rotation.retired.join("root.pem").exists());
}

#[test]
fn rotating_an_untrusted_ca_touches_no_store() {
    let data = tempfile::tempdir().expect("data");
    let home = tempfile::tempdir().expect("home");
    let anchors = tempfile::tempdir().expect("anchors");
    let env = env(home.path(), anchors.path());
    let dir = data.path().join("ca");
    Ca::load_or_create(&dir, "tester@host", &[]).expect("CA");
    let rotation = tls::rotate(&dir, "tester@host", &[], &env).expect("rotate");
    assert!(rotation.untrusted.is_empty() && rotation.trusted.is_empty());
    assert!(!home.path().join(".pki").exists(), "a store was created");
    assert_eq!(
        std::fs::read_dir(anchors.path()).expect("anchors").count(),
        0
    );
}

#[test]
fn untrust_on_debian_also_removes_the_copy_ca_certificates_java_made() {
    let data = tempfile::tempdir().expect("data");
    let home = tempfile::tempdir().expect("home");
    let anchors = tempfile::tempdir().expect("anchors");
    let keystore = data.path().join("cacerts");
    let mut env = env(home.path(), anchors.path());
    env.java_keystore = Some(keystore.clone());
    let (ca, _) = Ca::load_or_create(&data.path().join("ca"), "tester@host", &[]).expect("CA");
    let cert = ca.trust_cert().expect("cert");
    let keytool = |args: &[&str]| {
        Command::new("keytool")
            .args(args)
            .args(["-storepass", "changeit", "-keystore"])
            .arg(&keystore)
            .stdin(Stdio::null())
            .output()
            .expect("keytool runs (install default-jre-headless)")
    };
    // An unrelated entry, and the copy Debian's hook would make of Portico's anchor.
    let other = tempfile::tempdir().expect("other");
    let (other_ca, _) = Ca::load_or_create(other.path(), "someone@else", &[]).expect("other CA");
    let debian_alias = format!("debian:portico-{}.pem", cert.short_id());
    for (alias, file) in [
        ("unrelated", other_ca.root_path()),
        (debian_alias.as_str(), ca.root_path()),
    ] {
        let out = keytool(&[
            "-importcert",
            "-noprompt",
            "-alias",
            alias,
            "-file",
            file.to_str().expect("utf-8"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    trust::trust(&env, &cert);
    let outcomes = trust::untrust(&env, &cert);
    let system = outcomes
        .iter()
        .find(|o| o.store.to_string() == "system")
        .expect("system");
    assert!(
        system.note.as_deref().unwrap_or("").contains(&debian_alias),
        "{:?}",
        system.note
    );
    let listing = String::from_utf8_lossy(&keytool(&["-list"]).stdout).into_owned();
    assert!(!listing.contains("debian:portico"), "{listing}");
    assert!(listing.contains("unrelated"), "{listing}");
}
