//! Installing the CA into real trust stores made in temporary directories: NSS databases
//! changed by the real `certutil`, a Debian-style anchor directory whose "refresh" rebuilds a
//! bundle, a Java keystore changed by the real `keytool`. The machine's own stores, /etc,
//! /usr/local/share and the real $HOME are never touched.
//!
//! `certutil` (Debian: libnss3-tools), `openssl` and `keytool` must be installed: a test that
//! needs one fails, saying what to install, rather than skipping.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use portico_core::tls::trust::{
    self, CaCert, Change, Elevation, Error, Outcome, Store, StoreStatus, SystemStore, TrustEnv,
    TrustState,
};
use tempfile::TempDir;

const FIREFOX_PROFILE: &str = "abc.default-release";
const UNRELATED: &str = "Unrelated Test Root";

/// Run a tool the test depends on; a missing tool fails the test with what to install.
fn tool(program: &str, args: &[&str]) -> Output {
    let install = match program {
        "certutil" => "apt-get install libnss3-tools",
        "openssl" => "apt-get install openssl",
        "keytool" => "apt-get install default-jre-headless",
        _ => "install it",
    };
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("this test needs `{program}` ({e}): {install}"))
}

fn tool_ok(program: &str, args: &[&str]) -> String {
    let output = tool(program, args);
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

fn sql(dir: &Path) -> String {
    format!("sql:{}", s(dir))
}

/// A self-signed certificate; `is_ca` for the Portico CA, not for the unrelated one.
fn certificate(common_name: &str, is_ca: bool) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    if is_ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let key = rcgen::KeyPair::generate().expect("key");
    params.self_signed(&key).expect("self-signed").pem()
}

/// A temporary machine: a home with one Firefox profile holding one unrelated certificate
/// (no Chromium database yet), a Debian-style anchor directory holding one unrelated file, a
/// refresh command that rebuilds `bundle` from the anchors and logs each run to `refreshes`.
struct Machine {
    dir: TempDir,
    ca: CaCert,
    env: TrustEnv,
    unrelated_pem: PathBuf,
    chromium: PathBuf,
    firefox: PathBuf,
    anchors: PathBuf,
    bundle: PathBuf,
    refreshes: PathBuf,
}

impl Machine {
    fn new() -> Machine {
        Machine::named("Portico Local CA (test@host) 1A2B3C4D")
    }

    fn named(name: &str) -> Machine {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let ca_path = root.join("ca.pem");
        std::fs::write(&ca_path, certificate("Portico Test CA", true)).expect("write CA");
        let ca = CaCert::from_pem_file(&ca_path, name.to_owned()).expect("CA reads back");
        let unrelated_pem = root.join("unrelated.pem");
        std::fs::write(&unrelated_pem, certificate("Unrelated", false)).expect("write");

        let home = root.join("home");
        let firefox = home.join(".mozilla/firefox").join(FIREFOX_PROFILE);
        std::fs::create_dir_all(&firefox).expect("mkdir profile");
        tool_ok(
            "certutil",
            &["-N", "-d", &sql(&firefox), "--empty-password"],
        );
        tool_ok(
            "certutil",
            &[
                "-A",
                "-d",
                &sql(&firefox),
                "-t",
                ",,",
                "-n",
                UNRELATED,
                "-i",
                s(&unrelated_pem),
            ],
        );

        let anchors = root.join("anchors");
        std::fs::create_dir(&anchors).expect("mkdir anchors");
        std::fs::copy(&unrelated_pem, anchors.join("unrelated.crt")).expect("copy");
        let bundle = root.join("bundle.crt");
        let refreshes = root.join("refreshes.log");
        let refresh = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            r#"cat "$1"/*.crt > "$2" && echo refreshed >> "$3""#.to_owned(),
            "refresh".to_owned(),
            s(&anchors).to_owned(),
            s(&bundle).to_owned(),
            s(&refreshes).to_owned(),
        ];

        let env = TrustEnv {
            home: home.clone(),
            system: SystemStore::Debian {
                anchor_dir: anchors.clone(),
                refresh: Some(refresh),
                bundle: Some(bundle.clone()),
            },
            elevation: Elevation::AsIs,
            node_extra_ca_certs: None,
            certutil: PathBuf::from("certutil"),
            // No Java here: its own test gives it a keystore.
            keytool: root.join("no-keytool"),
            java_keystore: None,
            path_var: None,
        };
        Machine {
            chromium: home.join(".pki/nssdb"),
            dir,
            ca,
            env,
            unrelated_pem,
            firefox,
            anchors,
            bundle,
            refreshes,
        }
    }

    fn anchor_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.anchors)
            .expect("read anchors")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn refresh_runs(&self) -> usize {
        std::fs::read_to_string(&self.refreshes)
            .map(|log| log.lines().count())
            .unwrap_or(0)
    }

    fn bundle_has_ca(&self) -> bool {
        std::fs::read_to_string(&self.bundle).is_ok_and(|b| b.contains(self.ca.pem.trim()))
    }
}

/// `certutil -L` rows as (nickname, flags), read independently of the library's parser: the
/// listing has a three-line header and a blank line, then one row per certificate.
fn nss_rows(db: &Path) -> Vec<(String, String)> {
    tool_ok("certutil", &["-L", "-d", &sql(db)])
        .lines()
        .skip(4)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let line = line.trim_end();
            let (nick, flags) = line.rsplit_once(' ').expect("nickname and flags");
            (nick.trim_end().to_owned(), flags.to_owned())
        })
        .collect()
}

fn row<'a>(rows: &'a [StoreStatus], store: &Store) -> &'a StoreStatus {
    rows.iter()
        .find(|r| &r.store == store)
        .unwrap_or_else(|| panic!("no {store} row in {rows:#?}"))
}

fn outcome<'a>(outcomes: &'a [Outcome], store: &Store) -> &'a Outcome {
    outcomes
        .iter()
        .find(|o| &o.store == store)
        .unwrap_or_else(|| panic!("no {store} outcome in {outcomes:#?}"))
}

fn change(outcomes: &[Outcome], store: &Store) -> Change {
    match &outcome(outcomes, store).result {
        Ok(change) => change.clone(),
        Err(e) => panic!("{store} failed: {e}"),
    }
}

fn firefox() -> Store {
    Store::Firefox {
        profile: FIREFOX_PROFILE.to_owned(),
    }
}

fn states(rows: &[StoreStatus]) -> Vec<(Store, TrustState)> {
    rows.iter().map(|r| (r.store.clone(), r.state)).collect()
}

#[test]
fn trust_then_untrust_changes_exactly_portico_s_entries_in_every_store() {
    let m = Machine::new();
    let anchor = format!("portico-{}.crt", &m.ca.sha256_hex()[..16].to_lowercase());
    let nss = [Store::System, Store::Chromium, firefox()];

    // Before: nothing trusts the CA, and Chromium has no database yet.
    let before = trust::status(&m.env, &m.ca);
    assert_eq!(
        states(&before),
        [
            (Store::System, TrustState::NotTrusted),
            (Store::Chromium, TrustState::NotPresent),
            (firefox(), TrustState::NotTrusted),
            (Store::Java, TrustState::NotPresent),
            (Store::Node, TrustState::ReportOnly),
        ]
    );
    assert_eq!(row(&before, &Store::Chromium).location, s(&m.chromium));
    assert_eq!(row(&before, &firefox()).location, s(&m.firefox));

    // Trust: added everywhere it can be, the Chromium database created and said so.
    let added = trust::trust(&m.env, &m.ca);
    for store in &nss {
        assert_eq!(change(&added, store), Change::Added, "{store}");
    }
    let chromium_note = outcome(&added, &Store::Chromium)
        .note
        .clone()
        .unwrap_or_default();
    assert!(
        chromium_note.contains("Chromium uses it from its next start"),
        "{chromium_note}"
    );
    assert!(matches!(
        change(&added, &Store::Node),
        Change::Unchanged { .. }
    ));
    assert!(
        added.iter().all(|o| o.store != Store::Java),
        "no Java, no Java outcome"
    );
    assert_eq!(m.refresh_runs(), 1);

    let trusted = trust::status(&m.env, &m.ca);
    for store in &nss {
        assert_eq!(row(&trusted, store).state, TrustState::Trusted, "{store}");
    }
    // Checked without the library: certutil sees the CA with C,, beside the unrelated
    // certificate; the anchor file is the CA and the rebuilt bundle lists it.
    assert_eq!(
        nss_rows(&m.firefox),
        [
            (UNRELATED.to_owned(), ",,".to_owned()),
            (m.ca.name.clone(), "C,,".to_owned()),
        ]
    );
    assert_eq!(
        nss_rows(&m.chromium),
        [(m.ca.name.clone(), "C,,".to_owned())]
    );
    assert!(
        tool(
            "certutil",
            &["-L", "-d", &sql(&m.chromium), "-n", &m.ca.name]
        )
        .status
        .success()
    );
    assert_eq!(
        m.anchor_files(),
        [anchor.clone(), "unrelated.crt".to_owned()]
    );
    assert_eq!(
        std::fs::read_to_string(m.anchors.join(&anchor)).expect("anchor"),
        m.ca.pem
    );
    assert!(m.bundle_has_ca());

    // Trusting again changes nothing, and does not refresh again.
    let again = trust::trust(&m.env, &m.ca);
    for store in &nss {
        assert!(
            matches!(change(&again, store), Change::Unchanged { .. }),
            "{store}"
        );
    }
    assert_eq!(m.refresh_runs(), 1);

    // Untrust: removed everywhere; only the unrelated entries remain.
    let removed = trust::untrust(&m.env, &m.ca);
    for store in &nss {
        assert_eq!(change(&removed, store), Change::Removed, "{store}");
    }
    assert_eq!(
        nss_rows(&m.firefox),
        [(UNRELATED.to_owned(), ",,".to_owned())]
    );
    assert_eq!(nss_rows(&m.chromium), []);
    assert_eq!(m.anchor_files(), ["unrelated.crt"]);
    assert_eq!(m.refresh_runs(), 2);
    assert!(!m.bundle_has_ca());
    let unrelated = std::fs::read_to_string(&m.unrelated_pem).expect("unrelated");
    assert_eq!(
        std::fs::read_to_string(m.anchors.join("unrelated.crt")).expect("unrelated anchor"),
        unrelated
    );

    // Untrusting again changes nothing; the Chromium database trust created stays (empty).
    let again = trust::untrust(&m.env, &m.ca);
    for store in &nss {
        assert!(
            matches!(change(&again, store), Change::Unchanged { .. }),
            "{store}"
        );
    }
    assert_eq!(m.refresh_runs(), 2);
    let after = trust::status(&m.env, &m.ca);
    for store in &nss {
        assert_eq!(row(&after, store).state, TrustState::NotTrusted, "{store}");
    }
}

#[test]
fn node_is_trusted_when_extra_ca_certs_names_the_ca_file_or_a_bundle_holding_it() {
    let mut m = Machine::new();
    let node = |m: &Machine| row(&trust::status(&m.env, &m.ca), &Store::Node).clone();

    let unset = node(&m);
    assert_eq!(unset.state, TrustState::ReportOnly);
    assert_eq!(unset.location, "NODE_EXTRA_CA_CERTS");
    let hint = format!("export NODE_EXTRA_CA_CERTS={}", s(&m.ca.path));
    assert!(
        unset.note.as_deref().unwrap_or_default().contains(&hint),
        "{unset:?}"
    );

    m.env.node_extra_ca_certs = Some(m.ca.path.clone());
    assert_eq!(node(&m).state, TrustState::Trusted);

    let bundle = m.dir.path().join("node-bundle.pem");
    let unrelated = std::fs::read_to_string(&m.unrelated_pem).expect("read");
    std::fs::write(&bundle, format!("{unrelated}{}", m.ca.pem)).expect("write");
    m.env.node_extra_ca_certs = Some(bundle);
    assert_eq!(node(&m).state, TrustState::Trusted);

    m.env.node_extra_ca_certs = Some(m.unrelated_pem.clone());
    let other = node(&m);
    assert_eq!(other.state, TrustState::ReportOnly);
    assert!(
        other.note.as_deref().unwrap_or_default().contains(&hint),
        "{other:?}"
    );
}

#[test]
fn never_elevating_an_unwritable_anchor_dir_fails_with_the_exact_sudo_command() {
    let mut m = Machine::new();
    // Root may write anywhere, so "not writable" is a directory that cannot exist: one
    // under a regular file.
    let blocker = m.dir.path().join("blocker");
    std::fs::write(&blocker, "a file, not a directory").expect("write");
    let anchor_dir = blocker.join("ca-certificates");
    m.env.system = SystemStore::Debian {
        anchor_dir: anchor_dir.clone(),
        refresh: Some(vec!["update-ca-certificates".to_owned()]),
        bundle: None,
    };
    m.env.elevation = Elevation::Never;
    let anchor = anchor_dir.join(format!(
        "portico-{}.crt",
        &m.ca.sha256_hex()[..16].to_lowercase()
    ));

    let outcomes = trust::trust(&m.env, &m.ca);
    match &outcome(&outcomes, &Store::System).result {
        Err(Error::NeedsPrivileges { command, cause }) => {
            assert_eq!(
                *command,
                format!(
                    "sudo install -D -m 0644 {} {} && sudo update-ca-certificates",
                    s(&m.ca.path),
                    s(&anchor)
                )
            );
            assert!(
                matches!(**cause, Error::Io { ref path, .. } if *path == anchor),
                "{cause:?}"
            );
            let message = outcome(&outcomes, &Store::System)
                .result
                .as_ref()
                .expect_err("failed")
                .to_string();
            assert!(message.contains(command.as_str()), "{message}");
        }
        other => panic!("expected NeedsPrivileges, got {other:?}"),
    }
    assert_eq!(
        row(&trust::status(&m.env, &m.ca), &Store::System).state,
        TrustState::NotTrusted
    );

    // Run as it is, the same failure is the plain I/O error.
    m.env.elevation = Elevation::AsIs;
    let outcomes = trust::trust(&m.env, &m.ca);
    assert!(
        matches!(&outcome(&outcomes, &Store::System).result, Err(Error::Io { path, .. }) if *path == anchor),
        "{outcomes:#?}"
    );
}

#[test]
fn a_failed_refresh_is_reported_and_the_next_trust_only_refreshes() {
    let mut m = Machine::new();
    let working = m.env.system.clone();
    let SystemStore::Debian {
        anchor_dir, bundle, ..
    } = working.clone()
    else {
        unreachable!("the machine is Debian-style");
    };
    m.env.system = SystemStore::Debian {
        anchor_dir: anchor_dir.clone(),
        refresh: Some(vec![
            "sh".into(),
            "-c".into(),
            "echo bundle is locked >&2; exit 2".into(),
        ]),
        bundle: bundle.clone(),
    };

    let outcomes = trust::trust(&m.env, &m.ca);
    match &outcome(&outcomes, &Store::System).result {
        Err(Error::CommandFailed {
            command,
            stderr,
            status,
        }) => {
            assert_eq!(command, "sh -c 'echo bundle is locked >&2; exit 2'");
            assert_eq!(stderr, "bundle is locked");
            assert_eq!(status.code(), Some(2));
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
    // The anchor is in place but the bundle was not rebuilt: not trusted yet, and the note
    // says what to run.
    let system = row(&trust::status(&m.env, &m.ca), &Store::System).clone();
    assert_eq!(system.state, TrustState::NotTrusted);
    assert!(
        system
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("does not list it yet"),
        "{system:?}"
    );

    m.env.system = working;
    let outcomes = trust::trust(&m.env, &m.ca);
    assert_eq!(change(&outcomes, &Store::System), Change::Added);
    assert_eq!(m.refresh_runs(), 1);
    assert!(m.bundle_has_ca());
}

#[test]
fn missing_certutil_makes_each_nss_outcome_name_the_package_to_install() {
    let mut m = Machine::new();
    m.env.certutil = m.dir.path().join("bin/certutil");

    let outcomes = trust::trust(&m.env, &m.ca);
    for store in [Store::Chromium, firefox()] {
        match &outcome(&outcomes, &store).result {
            Err(e @ Error::ToolMissing { install_hint, .. }) => {
                assert!(
                    install_hint.contains("sudo apt-get install libnss3-tools"),
                    "{e}"
                );
                assert!(e.to_string().contains("libnss3-tools"), "{e}");
            }
            other => panic!("{store}: expected ToolMissing, got {other:?}"),
        }
    }
    let firefox_row = row(&trust::status(&m.env, &m.ca), &firefox()).clone();
    assert_eq!(firefox_row.state, TrustState::Unknown);
    assert!(
        firefox_row
            .note
            .unwrap_or_default()
            .contains("libnss3-tools")
    );
    // The other stores went ahead, and the Chromium database was not half-made.
    assert_eq!(change(&outcomes, &Store::System), Change::Added);
    assert!(!m.env.home.join(".pki").exists());
}

#[test]
fn a_password_protected_profile_fails_at_once_with_the_command_to_run_by_hand() {
    let m = Machine::new();
    let locked = m.env.home.join(".mozilla/firefox/locked.default");
    std::fs::create_dir_all(&locked).expect("mkdir");
    let password = m.dir.path().join("password");
    std::fs::write(&password, "secret\n").expect("write");
    tool_ok("certutil", &["-N", "-d", &sql(&locked), "-f", s(&password)]);

    let outcomes = trust::trust(&m.env, &m.ca);
    let store = Store::Firefox {
        profile: "locked.default".to_owned(),
    };
    match &outcome(&outcomes, &store).result {
        Err(Error::PasswordProtected { location, command }) => {
            assert_eq!(location, s(&locked));
            assert_eq!(
                *command,
                format!(
                    "certutil -A -d sql:{} -t C,, -n '{}' -i {}",
                    s(&locked),
                    m.ca.name,
                    s(&m.ca.path)
                )
            );
        }
        other => panic!("expected PasswordProtected, got {other:?}"),
    }
    // The unlocked profile was still trusted.
    assert_eq!(change(&outcomes, &firefox()), Change::Added);
}

#[test]
fn a_name_with_a_colon_still_round_trips_through_nss() {
    let m = Machine::named("Portico: dev CA 1A2B");
    assert_eq!(
        change(&trust::trust(&m.env, &m.ca), &firefox()),
        Change::Added
    );
    assert_eq!(
        row(&trust::status(&m.env, &m.ca), &firefox()).state,
        TrustState::Trusted
    );
    assert!(
        nss_rows(&m.firefox).contains(&("Portico- dev CA 1A2B".to_owned(), "C,,".to_owned())),
        "{:?}",
        nss_rows(&m.firefox)
    );
    assert_eq!(
        change(&trust::untrust(&m.env, &m.ca), &firefox()),
        Change::Removed
    );
    assert_eq!(
        nss_rows(&m.firefox),
        [(UNRELATED.to_owned(), ",,".to_owned())]
    );
}

#[test]
fn the_ca_added_by_hand_under_another_nickname_is_reported_and_left_alone() {
    let m = Machine::new();
    tool_ok(
        "certutil",
        &[
            "-A",
            "-d",
            &sql(&m.firefox),
            "-t",
            "C,,",
            "-n",
            "Mine",
            "-i",
            s(&m.ca.path),
        ],
    );

    let status = row(&trust::status(&m.env, &m.ca), &firefox()).clone();
    assert_eq!(status.state, TrustState::Trusted);
    assert!(
        status
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("\"Mine\""),
        "{status:?}"
    );
    assert!(matches!(
        change(&trust::trust(&m.env, &m.ca), &firefox()),
        Change::Unchanged { .. }
    ));
    assert!(matches!(
        change(&trust::untrust(&m.env, &m.ca), &firefox()),
        Change::Unchanged { .. }
    ));
    let rows = nss_rows(&m.firefox);
    assert!(
        rows.contains(&("Mine".to_owned(), "C,,".to_owned())),
        "{rows:?}"
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
}

#[test]
fn java_is_reported_from_the_keystore_it_is_given_and_never_changed() {
    let mut m = Machine::new();
    let keystore = m.dir.path().join("cacerts.p12");
    let keystore_args = [
        "-keystore",
        s(&keystore),
        "-storepass",
        "changeit",
        "-noprompt",
    ];
    let import = |alias: &str, file: &Path| {
        let mut args = vec!["-importcert", "-alias", alias, "-file", s(file)];
        args.extend(keystore_args);
        tool_ok("keytool", &args);
    };
    import("unrelated", &m.unrelated_pem);
    m.env.keytool = PathBuf::from("keytool");
    m.env.java_keystore = Some(keystore.clone());

    let java = row(&trust::status(&m.env, &m.ca), &Store::Java).clone();
    assert_eq!(java.state, TrustState::ReportOnly);
    assert_eq!(java.location, s(&keystore));
    let note = java.note.unwrap_or_default();
    assert!(note.contains("keytool -importcert -noprompt"), "{note}");
    assert!(note.contains(s(&m.ca.path)), "{note}");
    let listed = |alias: &str| {
        let mut args = vec!["-list", "-alias", alias];
        args.extend(keystore_args);
        tool("keytool", &args).status.success()
    };
    let trusted = trust::trust(&m.env, &m.ca);
    assert!(matches!(
        change(&trusted, &Store::Java),
        Change::Unchanged { .. }
    ));
    assert!(!listed(&format!(
        "portico-{}",
        &m.ca.sha256_hex()[..16].to_lowercase()
    )));

    import("mine", &m.ca.path);
    assert_eq!(
        row(&trust::status(&m.env, &m.ca), &Store::Java).state,
        TrustState::Trusted
    );
    let untrusted = trust::untrust(&m.env, &m.ca);
    assert!(matches!(
        change(&untrusted, &Store::Java),
        Change::Unchanged { .. }
    ));
    assert!(listed("mine") && listed("unrelated"));
}

#[test]
fn fingerprints_match_openssl() {
    let m = Machine::new();
    let openssl = |digest: &str| {
        let out = tool_ok(
            "openssl",
            &[
                "x509",
                "-noout",
                "-fingerprint",
                digest,
                "-in",
                s(&m.ca.path),
            ],
        );
        let (_, hex) = out.trim().split_once('=').expect("label=hex");
        hex.replace(':', "")
    };
    assert_eq!(m.ca.sha256_hex(), openssl("-sha256"));
    assert_eq!(m.ca.sha1_hex(), openssl("-sha1"));
}
