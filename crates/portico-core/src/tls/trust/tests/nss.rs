//! NSS: nicknames, certutil command lines, parsing `certutil -L`, finding the databases.

use std::path::{Path, PathBuf};

use crate::tls::trust::nss::{
    Row, add_cmd, create_cmd, databases, delete_cmd, modify_cmd, nickname, parse_list, show_cmd,
};
use crate::tls::trust::{CaCert, Store, SystemStore, TrustEnv};

fn ca(name: &str) -> CaCert {
    CaCert {
        pem: String::new(),
        der: vec![0x30, 0x03, 0x02, 0x01, 0x01],
        path: PathBuf::from("/data/ca.pem"),
        name: name.to_owned(),
    }
}

fn env() -> TrustEnv {
    let mut env = TrustEnv::detect(PathBuf::from("/home/a"), None);
    env.system = SystemStore::None;
    env
}

#[test]
fn nickname_keeps_a_plain_name_as_it_is() {
    assert_eq!(
        nickname(&ca("Portico Local CA (alice@laptop) 1A2B3C4D")),
        "Portico Local CA (alice@laptop) 1A2B3C4D"
    );
}

#[test]
fn nickname_replaces_colons_which_nss_reads_as_a_token_prefix() {
    assert_eq!(nickname(&ca("Portico: dev\tCA \n")), "Portico- devCA");
}

#[test]
fn a_blank_name_gets_a_nickname_from_the_fingerprint() {
    let ca = ca("  \n");
    assert_eq!(
        nickname(&ca),
        format!("Portico Local CA {}", &ca.sha256_hex()[..8])
    );
}

#[test]
fn commands_name_the_database_with_the_sql_prefix_and_never_prompt() {
    let env = env();
    let db = Path::new("/home/a/.pki/nssdb");
    let ca = ca("Portico CA 1A");
    assert_eq!(
        add_cmd(&env, db, &ca, false).argv(),
        [
            "certutil",
            "-A",
            "-d",
            "sql:/home/a/.pki/nssdb",
            "-t",
            "C,,",
            "-n",
            "Portico CA 1A",
            "-i",
            "/data/ca.pem",
            "-f",
            "/dev/null"
        ]
    );
    assert_eq!(
        add_cmd(&env, db, &ca, true).display(),
        "certutil -A -d sql:/home/a/.pki/nssdb -t C,, -n 'Portico CA 1A' -i /data/ca.pem"
    );
    assert_eq!(
        delete_cmd(&env, db, &ca, false).argv(),
        [
            "certutil",
            "-D",
            "-d",
            "sql:/home/a/.pki/nssdb",
            "-n",
            "Portico CA 1A",
            "-f",
            "/dev/null"
        ]
    );
    assert_eq!(
        modify_cmd(&env, db, &ca, false).argv(),
        [
            "certutil",
            "-M",
            "-d",
            "sql:/home/a/.pki/nssdb",
            "-n",
            "Portico CA 1A",
            "-t",
            "C,,",
            "-f",
            "/dev/null"
        ]
    );
    assert_eq!(
        show_cmd(&env, db, "Portico CA 1A").argv(),
        [
            "certutil",
            "-L",
            "-d",
            "sql:/home/a/.pki/nssdb",
            "-n",
            "Portico CA 1A",
            "-a"
        ]
    );
    assert_eq!(
        create_cmd(&env, db).argv(),
        [
            "certutil",
            "-N",
            "-d",
            "sql:/home/a/.pki/nssdb",
            "--empty-password"
        ]
    );
}

#[test]
fn parse_list_reads_nicknames_with_spaces_and_their_flags() {
    // As printed by certutil 3.87, trailing spaces included.
    let text = "\nCertificate Nickname                                         Trust Attributes\n                                                             SSL,S/MIME,JAR/XPI\n\nNSS Certificate DB:My CA: x (a@b) 1A                         C,,  \nother                                                        ,,   \nPortico Local CA (alice@laptop) 1A2B3C4D                     CT,C,C\n";
    assert_eq!(
        parse_list(text),
        [
            Row {
                nickname: "NSS Certificate DB:My CA: x (a@b) 1A".into(),
                flags: "C,,".into()
            },
            Row {
                nickname: "other".into(),
                flags: ",,".into()
            },
            Row {
                nickname: "Portico Local CA (alice@laptop) 1A2B3C4D".into(),
                flags: "CT,C,C".into()
            },
        ]
    );
}

#[test]
fn only_c_in_the_ssl_field_means_trusted_for_websites() {
    let row = |flags: &str| Row {
        nickname: "x".into(),
        flags: flags.into(),
    };
    assert!(row("C,,").trusted_for_tls());
    assert!(row("CT,C,C").trusted_for_tls());
    assert!(!row(",C,").trusted_for_tls());
    assert!(!row("p,p,p").trusted_for_tls());
    assert!(!row(",,").trusted_for_tls());
}

#[test]
fn databases_lists_chromium_even_when_missing_and_firefox_profiles_with_cert9() {
    let home = tempfile::tempdir().expect("temp dir");
    let profile = home.path().join(".mozilla/firefox/abc.default-release");
    std::fs::create_dir_all(&profile).expect("mkdir");
    std::fs::write(profile.join("cert9.db"), "").expect("write");
    std::fs::create_dir_all(home.path().join(".mozilla/firefox/Crash Reports")).expect("mkdir");
    let flatpak = home
        .path()
        .join(".var/app/org.mozilla.firefox/.mozilla/firefox/x.default");
    std::fs::create_dir_all(&flatpak).expect("mkdir");
    std::fs::write(flatpak.join("cert9.db"), "").expect("write");
    let mut env = env();
    env.home = home.path().to_owned();

    let dbs = databases(&env);
    let found: Vec<(Store, PathBuf)> = dbs.into_iter().map(|d| (d.store, d.dir)).collect();
    assert_eq!(
        found,
        [
            (Store::Chromium, home.path().join(".pki/nssdb")),
            (
                Store::Firefox {
                    profile: "abc.default-release".into()
                },
                profile
            ),
            (
                Store::Firefox {
                    profile: "x.default".into()
                },
                flatpak
            ),
        ]
    );

    env.system = SystemStore::WindowsUser;
    assert_eq!(databases(&env), []);
}
