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
