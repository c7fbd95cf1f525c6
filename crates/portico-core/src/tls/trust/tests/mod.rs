//! Unit tests for the shared pieces: reading the CA, fingerprints, detection of the Linux
//! layout, and how reports serialize. `command` and `nss` have their own files here; the
//! smaller stores keep their tests at the end of their own file.

mod command;
mod nss;

use std::path::{Path, PathBuf};

use super::cert::pem_holds;
use super::env::linux_store;
use super::*;

fn ca_with_der(der: &[u8]) -> CaCert {
    CaCert {
        pem: String::new(),
        der: der.to_vec(),
        path: PathBuf::from("/ca.pem"),
        name: "Portico Local CA".to_owned(),
    }
}

/// A self-signed CA certificate, PEM.
fn generated_pem() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("key");
    params.self_signed(&key).expect("self-signed").pem()
}

#[test]
fn fingerprints_are_uppercase_hex_of_the_der() {
    // FIPS 180 test vectors for "abc".
    let ca = ca_with_der(b"abc");
    assert_eq!(
        ca.sha256_hex(),
        "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
    );
    assert_eq!(ca.sha1_hex(), "A9993E364706816ABA3E25717850C26C9CD0D89D");
    assert_eq!(ca.short_id(), "ba7816bf8f01cfea");
}

#[test]
fn from_pem_file_reads_one_certificate_and_ignores_text_around_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ca.pem");
    let pem = format!("Portico Local CA\n{}\n", generated_pem());
    std::fs::write(&path, &pem).expect("write");

    let ca = CaCert::from_pem_file(&path, "Portico Local CA (a@b) 1A".to_owned()).expect("read");
    assert_eq!(ca.pem, pem);
    assert_eq!(ca.path, path);
    assert_eq!(ca.name, "Portico Local CA (a@b) 1A");
    assert!(x509_parser::parse_x509_certificate(&ca.der).is_ok());
    assert!(pem_holds(pem.as_bytes(), &ca.der));
}

#[test]
fn from_pem_file_refuses_a_key_a_second_block_and_plain_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    let cert = generated_pem();
    for (contents, problem) in [
        (key.clone(), "its PEM block is not a CERTIFICATE"),
        (format!("{cert}{key}"), "it has more than one PEM block"),
        (format!("{cert}{cert}"), "it has more than one PEM block"),
        ("hello".to_owned(), "it has no PEM block"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned(),
            "the PEM block does not hold an X.509 certificate",
        ),
        (
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".to_owned(),
            "a PEM block has damaged base64",
        ),
    ] {
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, &contents).expect("write");
        match CaCert::from_pem_file(&path, "x".to_owned()) {
            Err(Error::InvalidPem {
                path: p,
                problem: got,
            }) => {
                assert_eq!(p, path);
                assert_eq!(got, problem, "for {contents:?}");
            }
            other => panic!("expected InvalidPem for {contents:?}, got {other:?}"),
        }
    }
}

#[test]
fn from_pem_file_reports_a_missing_file_with_its_path() {
    let err = CaCert::from_pem_file(Path::new("/nonexistent/ca.pem"), "x".to_owned())
        .expect_err("missing");
    assert!(
        matches!(&err, Error::Io { path, .. } if path == Path::new("/nonexistent/ca.pem")),
        "{err:?}"
    );
}

#[test]
fn pem_holds_finds_the_certificate_in_a_bundle_only_by_its_der() {
    let first = generated_pem();
    let second = generated_pem();
    let der = |pem: &str| {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .expect("pem")
            .1
            .contents
    };
    let bundle = format!("{first}\n# comment\n{second}");
    assert!(pem_holds(bundle.as_bytes(), &der(&second)));
    assert!(pem_holds(bundle.as_bytes(), &der(&first)));
    assert!(!pem_holds(first.as_bytes(), &der(&second)));
    assert!(!pem_holds(b"", &der(&second)));
}

#[test]
fn linux_layouts_are_recognised_by_their_anchor_directories() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    assert_eq!(linux_store(r), SystemStore::None);

    std::fs::create_dir_all(r.join("etc/ca-certificates/trust-source/anchors")).expect("mkdir");
    assert_eq!(
        linux_store(r),
        SystemStore::Arch {
            anchor_dir: r.join("etc/ca-certificates/trust-source/anchors"),
            refresh: Some(vec!["trust".into(), "extract-compat".into()]),
            bundle: Some(r.join("etc/ssl/certs/ca-certificates.crt")),
        }
    );

    std::fs::create_dir_all(r.join("etc/pki/ca-trust/source/anchors")).expect("mkdir");
    assert_eq!(
        linux_store(r),
        SystemStore::RedHat {
            anchor_dir: r.join("etc/pki/ca-trust/source/anchors"),
            refresh: Some(vec!["update-ca-trust".into(), "extract".into()]),
            bundle: Some(r.join("etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem")),
        }
    );

    std::fs::write(r.join("etc/debian_version"), "12.0\n").expect("write");
    assert_eq!(
        linux_store(r),
        SystemStore::Debian {
            anchor_dir: r.join("usr/local/share/ca-certificates"),
            refresh: Some(vec!["update-ca-certificates".into()]),
            bundle: Some(r.join("etc/ssl/certs/ca-certificates.crt")),
        }
    );
}

#[test]
fn detect_passes_the_callers_values_through_and_prompts_for_rights() {
    let env = TrustEnv::detect(
        PathBuf::from("/home/alice"),
        Some(PathBuf::from("/home/alice/ca.pem")),
    );
    assert_eq!(env.home, Path::new("/home/alice"));
    assert_eq!(
        env.node_extra_ca_certs.as_deref(),
        Some(Path::new("/home/alice/ca.pem"))
    );
    assert_eq!(env.elevation, Elevation::Prompt);
    assert_eq!(env.certutil, Path::new("certutil"));
    assert_eq!(env.path_var, None);
}

#[test]
fn reports_serialize_as_tagged_lowercase() {
    let row = StoreStatus {
        store: Store::Firefox {
            profile: "abc.default-release".to_owned(),
        },
        state: TrustState::NotTrusted,
        location: "/home/a/.mozilla/firefox/abc.default-release".to_owned(),
        note: None,
    };
    assert_eq!(
        serde_json::to_value(&row).expect("json"),
        serde_json::json!({
            "store": {"kind": "firefox", "profile": "abc.default-release"},
            "state": "not_trusted",
            "location": "/home/a/.mozilla/firefox/abc.default-release",
            "note": null,
        })
    );
    assert_eq!(
        serde_json::to_value(Store::MacKeychain).expect("json"),
        serde_json::json!({"kind": "mac_keychain"})
    );
    assert_eq!(
        serde_json::to_value(TrustState::ReportOnly).expect("json"),
        serde_json::json!("report_only")
    );
}

#[test]
fn a_machine_without_a_known_system_store_says_so_and_changes_nothing() {
    let home = tempfile::tempdir().expect("temp dir");
    let ca = ca_with_der(b"abc");
    let mut env = TrustEnv::detect(home.path().to_owned(), None);
    env.system = SystemStore::None;
    env.path_var = Some(std::ffi::OsString::new());

    let rows = status(&env, &ca);
    assert_eq!(rows[0].store, Store::System);
    assert_eq!(rows[0].state, TrustState::NotPresent);

    let outcomes = untrust(&env, &ca);
    assert_eq!(outcomes[0].store, Store::System);
    assert!(matches!(outcomes[0].result, Ok(Change::Unchanged { .. })));
}
