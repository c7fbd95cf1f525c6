use super::*;

fn load(dir: &Path, extra: &[&str]) -> Result<(Ca, CaEvent), Error> {
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    Ca::load_or_create(dir, "tester@machine", &extra)
}

#[test]
fn the_root_is_created_once_and_reused() {
    let dir = tempfile::tempdir().expect("dir");
    let ca_dir = dir.path().join("ca");
    let (first, event) = load(&ca_dir, &[]).expect("create");
    assert_eq!(event, CaEvent::CreatedRoot);
    assert_eq!(first.root_name(), "Portico Local CA (tester@machine)");
    let (second, event) = load(&ca_dir, &[]).expect("load");
    assert_eq!(event, CaEvent::Loaded);
    assert_eq!(first.root_fingerprint(), second.root_fingerprint());
    assert_eq!(
        first.intermediate_fingerprint(),
        second.intermediate_fingerprint()
    );
}

#[cfg(unix)]
#[test]
fn keys_are_private_and_the_directory_is_closed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let ca_dir = dir.path().join("ca");
    load(&ca_dir, &[]).expect("create");
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&ca_dir), 0o700);
    assert_eq!(mode(&ca_dir.join(ROOT_KEY)), 0o600);
    assert_eq!(mode(&ca_dir.join(INTER_KEY)), 0o600);
}

#[test]
fn a_missing_root_key_is_an_error_not_a_new_ca() {
    let dir = tempfile::tempdir().expect("dir");
    load(dir.path(), &[]).expect("create");
    let cert_before = std::fs::read(dir.path().join(ROOT_CERT)).expect("read");
    std::fs::remove_file(dir.path().join(ROOT_KEY)).expect("remove");
    let err = load(dir.path(), &[]).expect_err("missing key");
    assert!(matches!(err, Error::CaKeyMissing { .. }), "{err}");
    assert!(err.to_string().contains("portico ca rotate"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join(ROOT_CERT)).expect("read"),
        cert_before
    );
}

#[test]
fn a_corrupt_root_key_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("dir");
    load(dir.path(), &[]).expect("create");
    std::fs::write(
        dir.path().join(ROOT_KEY),
        "-----BEGIN PRIVATE KEY-----\nnope\n",
    )
    .expect("write");
    let err = load(dir.path(), &[]).expect_err("corrupt");
    assert!(matches!(err, Error::CaCorrupt { .. }), "{err}");
}

#[test]
fn a_key_from_another_ca_is_refused() {
    let one = tempfile::tempdir().expect("dir");
    let two = tempfile::tempdir().expect("dir");
    load(one.path(), &[]).expect("create");
    load(two.path(), &[]).expect("create");
    std::fs::copy(two.path().join(ROOT_KEY), one.path().join(ROOT_KEY)).expect("copy");
    let err = load(one.path(), &[]).expect_err("mismatch");
    assert!(err.to_string().contains("does not belong"), "{err}");
}

#[test]
fn new_suffixes_reissue_the_intermediate_under_the_same_root() {
    let dir = tempfile::tempdir().expect("dir");
    let (before, _) = load(dir.path(), &[]).expect("create");
    assert!(!before.permits("printer.lan"));
    let (after, event) = load(dir.path(), &["lan"]).expect("reload");
    assert_eq!(event, CaEvent::IssuedIntermediate);
    assert_eq!(before.root_fingerprint(), after.root_fingerprint());
    assert_ne!(
        before.intermediate_fingerprint(),
        after.intermediate_fingerprint()
    );
    assert!(after.permits("printer.lan"));
    let (again, event) = load(dir.path(), &["LAN."]).expect("same suffixes");
    assert_eq!(event, CaEvent::Loaded);
    assert_eq!(
        after.intermediate_fingerprint(),
        again.intermediate_fingerprint()
    );
}

#[test]
fn only_local_names_are_permitted() {
    let dir = tempfile::tempdir().expect("dir");
    let (ca, _) = load(dir.path(), &[]).expect("create");
    for ok in [
        "localhost",
        "app.localhost",
        "a.b.test",
        "x.internal",
        "nas.home.arpa",
    ] {
        assert!(ca.permits(ok), "{ok}");
    }
    for bad in [
        "example.com",
        "xlocalhost",
        "localhost.com",
        "test.com",
        "arpa",
    ] {
        assert!(!ca.permits(bad), "{bad}");
    }
}

#[test]
fn a_suffix_that_is_not_a_name_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let err = load(dir.path(), &["bad suffix"]).expect_err("invalid");
    assert!(matches!(err, Error::InvalidSuffix { .. }), "{err}");
}

#[test]
fn local_names_are_recognised_without_a_ca() {
    assert!(is_local_name("app.localhost", &[]));
    assert!(is_local_name("*.shop.test", &[]));
    assert!(!is_local_name("app.dev", &[]));
    assert!(is_local_name("app.dev", &["dev".to_owned()]));
    assert!(!is_local_name("xlocalhost", &[]));
}

#[test]
fn a_reload_never_creates_a_root_even_when_none_is_there() {
    let dir = tempfile::tempdir().expect("dir");
    let err = Ca::load(dir.path(), "tester@machine", &[]).expect_err("no root");
    assert!(err.to_string().contains("rotation"), "{err}");
    assert!(!dir.path().join(ROOT_CERT).exists());
    assert!(!dir.path().join(ROOT_KEY).exists());
    load(dir.path(), &[]).expect("create");
    Ca::load(dir.path(), "tester@machine", &[]).expect("load an existing CA");
}

#[test]
fn a_lan_address_reissues_the_intermediate_under_the_same_root_and_stays() {
    let dir = tempfile::tempdir().expect("dir");
    let (first, _) = load(dir.path(), &[]).expect("create");
    let lan: IpAddr = "192.168.1.20".parse().expect("ip");
    assert!(!first.permits_ip(lan));
    assert!(!first.permits("192.168.1.20"));
    assert!(first.permits("127.0.0.5"), "loopback is always permitted");

    let (second, event) =
        Ca::load_permitting(dir.path(), "tester@machine", &[], &[lan]).expect("add the address");
    assert_eq!(event, CaEvent::IssuedIntermediate);
    assert_eq!(second.root_fingerprint(), first.root_fingerprint());
    assert_ne!(
        second.intermediate_fingerprint(),
        first.intermediate_fingerprint()
    );
    assert!(second.permits_ip(lan));
    assert!(second.permits("192.168.1.20"));
    assert!(!second.permits("192.168.1.21"), "only that address");
    assert_eq!(second.lan_ips(), ["192.168.1.20"]);

    // The constraint is in the certificate itself, next to loopback.
    let (_, cert) = X509Certificate::from_der(second.intermediate_der()).expect("parse");
    let permitted = cert
        .name_constraints()
        .expect("extension")
        .expect("constraints")
        .value
        .permitted_subtrees
        .clone()
        .expect("permitted");
    let ips: Vec<IpNet> = permitted
        .iter()
        .filter_map(|t| match t.base {
            GeneralName::IPAddress(bytes) => subtree_net(bytes),
            _ => None,
        })
        .collect();
    assert!(
        ips.contains(&"192.168.1.20/32".parse().expect("net")),
        "{ips:?}"
    );
    assert!(
        ips.contains(&"127.0.0.0/8".parse().expect("net")),
        "{ips:?}"
    );

    // Reloads keep it (nothing asked, or the same address asked again).
    let (third, event) = Ca::load(dir.path(), "tester@machine", &[]).expect("reload");
    assert_eq!(event, CaEvent::Loaded);
    assert!(third.permits_ip(lan));
    let (_, event) = Ca::load_permitting(dir.path(), "tester@machine", &[], &[lan]).expect("again");
    assert_eq!(event, CaEvent::Loaded);

    // A suffix change re-issues it with the address still permitted.
    let (fourth, event) = load(dir.path(), &["lan"]).expect("suffix");
    assert_eq!(event, CaEvent::IssuedIntermediate);
    assert!(fourth.permits_ip(lan));
    assert_eq!(fourth.root_fingerprint(), first.root_fingerprint());
}

#[test]
fn a_leaf_for_a_permitted_lan_address_carries_it_as_an_ip_san() {
    let dir = tempfile::tempdir().expect("dir");
    load(dir.path(), &[]).expect("create");
    let lan: IpAddr = "fd00::20".parse().expect("ip");
    let (ca, _) =
        Ca::load_permitting(dir.path(), "tester@machine", &[], &[lan]).expect("add the address");
    let authority = crate::tls::Authority::new(
        ca,
        crate::tls::LeafPolicy::default(),
        std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        None,
    );
    let key = authority.certificate_for("fd00::20").expect("leaf");
    let (_, leaf) = X509Certificate::from_der(&key.cert[0]).expect("parse");
    let san = leaf
        .subject_alternative_name()
        .expect("ext")
        .expect("san")
        .value
        .general_names
        .clone();
    assert!(
        san.iter()
            .any(|n| matches!(n, GeneralName::IPAddress(b) if *b == lan_bytes(lan))),
        "{san:?}"
    );
    assert!(authority.certificate_for("192.168.1.20").is_err());
    // Not a host name in the subject, which OpenSSL would check against the DNS constraints.
    let cn = leaf
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .expect("cn");
    assert_eq!(cn, "Portico address fd00::20");
}

fn lan_bytes(ip: IpAddr) -> &'static [u8] {
    match ip {
        IpAddr::V6(v6) => Box::leak(Box::new(v6.octets())),
        IpAddr::V4(v4) => Box::leak(Box::new(v4.octets())),
    }
}
