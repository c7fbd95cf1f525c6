//! Where the trust stores are and how Portico may change them: [`TrustEnv`]. `detect` looks at
//! the real machine (files only, never environment variables); tests build their own with
//! temporary directories.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where the stores are, which programs to use, and whether Portico may ask for rights.
#[derive(Debug, Clone)]
pub struct TrustEnv {
    /// The user's home: NSS databases (Chromium, Firefox) are found under it.
    pub home: PathBuf,
    /// The operating system's store.
    pub system: SystemStore,
    /// What to do when the system store needs administrator rights. Default (`detect`):
    /// [`Elevation::Prompt`].
    pub elevation: Elevation,
    /// The value of `NODE_EXTRA_CA_CERTS`, passed in by the caller. Default: `None`.
    pub node_extra_ca_certs: Option<PathBuf>,
    /// NSS `certutil`. Default: `certutil`, found on the `PATH`.
    pub certutil: PathBuf,
    /// Java's `keytool`. Default: `keytool`, found on the `PATH`.
    pub keytool: PathBuf,
    /// The Java keystore to report on. Default: `None`, the JDK's own `cacerts`
    /// (`keytool -cacerts`, password `changeit`).
    pub java_keystore: Option<PathBuf>,
    /// The `PATH` to look programs up in, passed in by the caller. Default: `None`: the
    /// operating system resolves bare program names against the process's own `PATH` when
    /// starting them, and a missing one is reported as [`super::Error::ToolMissing`].
    pub path_var: Option<OsString>,
}

impl TrustEnv {
    /// The real machine's stores for a user whose home is `home`, elevating with
    /// [`Elevation::Prompt`]. `node_extra_ca_certs` is the caller's `NODE_EXTRA_CA_CERTS`.
    pub fn detect(home: PathBuf, node_extra_ca_certs: Option<PathBuf>) -> TrustEnv {
        let system = SystemStore::detect(&home);
        TrustEnv {
            home,
            system,
            elevation: Elevation::Prompt,
            node_extra_ca_certs,
            certutil: PathBuf::from("certutil"),
            keytool: PathBuf::from("keytool"),
            java_keystore: None,
            path_var: None,
        }
    }
}

/// The operating system's trust store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemStore {
    /// Debian/Ubuntu: copy to `anchor_dir` (`/usr/local/share/ca-certificates`) as
    /// `portico-<sha256 first 16>.crt`, then run `refresh` (`update-ca-certificates`), which
    /// rebuilds `bundle` (`/etc/ssl/certs/ca-certificates.crt`).
    Debian {
        /// Where local anchors go.
        anchor_dir: PathBuf,
        /// Program and arguments that rebuild the bundle; `None` runs nothing.
        refresh: Option<Vec<String>>,
        /// The bundle programs read; `None` trusts the anchor file alone.
        bundle: Option<PathBuf>,
    },
    /// Fedora/RHEL: `/etc/pki/ca-trust/source/anchors`, then `update-ca-trust extract`, which
    /// rebuilds `/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem`.
    RedHat {
        /// Where local anchors go.
        anchor_dir: PathBuf,
        /// Program and arguments that rebuild the bundle; `None` runs nothing.
        refresh: Option<Vec<String>>,
        /// The bundle programs read; `None` trusts the anchor file alone.
        bundle: Option<PathBuf>,
    },
    /// Arch: `/etc/ca-certificates/trust-source/anchors`, then `trust extract-compat`, which
    /// rebuilds `/etc/ssl/certs/ca-certificates.crt`. The same file-plus-refresh shape as the
    /// others (it is what `trust anchor --store` does underneath), so removal deletes exactly
    /// the file Portico wrote.
    Arch {
        /// Where local anchors go.
        anchor_dir: PathBuf,
        /// Program and arguments that rebuild the bundle; `None` runs nothing.
        refresh: Option<Vec<String>>,
        /// The bundle programs read; `None` trusts the anchor file alone.
        bundle: Option<PathBuf>,
    },
    /// macOS login keychain: `security add-trusted-cert -r trustRoot -k <keychain>`.
    MacKeychain {
        /// Usually `~/Library/Keychains/login.keychain-db`.
        keychain: PathBuf,
    },
    /// Windows CurrentUser Root store, through `certutil.exe -user`.
    WindowsUser,
    /// No system store known on this machine.
    None,
}

impl SystemStore {
    /// The store of the machine this runs on, found by looking at well-known files.
    pub fn detect(home: &Path) -> SystemStore {
        if cfg!(target_os = "macos") {
            SystemStore::MacKeychain {
                keychain: home.join("Library/Keychains/login.keychain-db"),
            }
        } else if cfg!(windows) {
            SystemStore::WindowsUser
        } else {
            linux_store(Path::new("/"))
        }
    }

    /// Whether this is one of the Linux anchor-directory stores, where Chromium reads
    /// `~/.pki/nssdb` rather than the system store.
    pub(crate) fn is_linux(&self) -> bool {
        matches!(
            self,
            SystemStore::Debian { .. }
                | SystemStore::RedHat { .. }
                | SystemStore::Arch { .. }
                | SystemStore::None
        )
    }
}

/// Which Linux family's layout is present under `root` (`/` outside tests).
pub(crate) fn linux_store(root: &Path) -> SystemStore {
    let refresh = |argv: &[&str]| Some(argv.iter().map(|s| (*s).to_owned()).collect());
    let debian_anchors = root.join("usr/local/share/ca-certificates");
    if root.join("etc/debian_version").is_file() || debian_anchors.is_dir() {
        return SystemStore::Debian {
            anchor_dir: debian_anchors,
            refresh: refresh(&["update-ca-certificates"]),
            bundle: Some(root.join("etc/ssl/certs/ca-certificates.crt")),
        };
    }
    let redhat_anchors = root.join("etc/pki/ca-trust/source/anchors");
    if redhat_anchors.is_dir() {
        return SystemStore::RedHat {
            anchor_dir: redhat_anchors,
            refresh: refresh(&["update-ca-trust", "extract"]),
            bundle: Some(root.join("etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem")),
        };
    }
    let arch_anchors = root.join("etc/ca-certificates/trust-source/anchors");
    if arch_anchors.is_dir() {
        return SystemStore::Arch {
            anchor_dir: arch_anchors,
            refresh: refresh(&["trust", "extract-compat"]),
            bundle: Some(root.join("etc/ssl/certs/ca-certificates.crt")),
        };
    }
    SystemStore::None
}

/// Whether Portico may gain administrator rights for the system store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elevation {
    /// Run commands as they are (we are root, or tests); a failure is reported as it is.
    AsIs,
    /// When a change fails without rights: try `sudo -n`, then `pkexec`; if neither works,
    /// fail with the exact command to run.
    Prompt,
    /// Never elevate: fail with the exact command the user should run.
    Never,
}
