//! The Linux system stores (Debian, Fedora, Arch): one anchor file Portico names after the
//! CA's fingerprint, plus the distribution's refresh command that rebuilds the bundle
//! programs read. Untrust deletes that one file and refreshes again; nothing else in the
//! anchor directory is touched.

use std::path::{Path, PathBuf};

use super::cert::pem_holds;
use super::command::{self, Cmd, REFRESH};
use super::report::unchanged;
use super::{CaCert, Change, Error, Outcome, Store, StoreStatus, TrustEnv, TrustState};

/// One anchor-directory store, borrowed from [`super::SystemStore`].
pub(crate) struct Anchors<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) refresh: Option<&'a [String]>,
    pub(crate) bundle: Option<&'a Path>,
}

/// The file Portico writes: `portico-<first 16 hex digits of the SHA-256>.crt` (Debian's
/// `update-ca-certificates` reads only `*.crt`).
pub(crate) fn anchor_file(dir: &Path, ca: &CaCert) -> PathBuf {
    dir.join(format!("portico-{}.crt", ca.short_id()))
}

/// `install -D -m 0644 <ca> <anchor>`: the elevated copy, also what the user runs by hand.
pub(crate) fn install_cmd(ca: &CaCert, anchor: &Path) -> Cmd {
    Cmd::new("install")
        .args(["-D", "-m", "0644"])
        .arg(&ca.path)
        .arg(anchor)
}

/// `rm -f <anchor>`: the elevated removal.
pub(crate) fn remove_cmd(anchor: &Path) -> Cmd {
    Cmd::new("rm").arg("-f").arg(anchor)
}

/// What the store holds now.
struct Seen {
    anchor: PathBuf,
    /// The anchor file exists and is this CA.
    in_anchor: bool,
    /// The bundle lists this CA; `None` when there is no bundle to check.
    in_bundle: Option<bool>,
}

impl Anchors<'_> {
    fn refresh_cmd(&self) -> Option<Cmd> {
        self.refresh.and_then(Cmd::from_argv)
    }

    fn refresh_line(&self) -> String {
        self.refresh_cmd()
            .map(|c| format!("`sudo {}`", c.display()))
            .unwrap_or_else(|| "the distribution's refresh command".to_owned())
    }

    fn look(&self, ca: &CaCert) -> Result<Seen, Error> {
        let anchor = anchor_file(self.dir, ca);
        let in_anchor = file_holds(&anchor, &ca.der)?;
        let in_bundle = self
            .bundle
            .map(|bundle| file_holds(bundle, &ca.der))
            .transpose()?;
        Ok(Seen {
            anchor,
            in_anchor,
            in_bundle,
        })
    }

    pub(crate) fn status(&self, ca: &CaCert) -> StoreStatus {
        let row = |state| StoreStatus::new(Store::System, state, self.dir.display().to_string());
        let seen = match self.look(ca) {
            Ok(seen) => seen,
            Err(e) => return row(TrustState::Unknown).note(e.to_string()),
        };
        let bundle = self.bundle.map(Path::display);
        match (seen.in_anchor, seen.in_bundle) {
            (true, Some(false)) => row(TrustState::NotTrusted).note(format!(
                "{} is installed but {} does not list it yet: run {}",
                seen.anchor.display(),
                bundle.expect("in_bundle is Some only with a bundle"),
                self.refresh_line()
            )),
            (true, _) => row(TrustState::Trusted),
            (false, Some(true)) => row(TrustState::Trusted).note(format!(
                "{} lists it although Portico's anchor {} is absent: it was added by other means, or {} has not run since it was removed",
                bundle.expect("in_bundle is Some only with a bundle"),
                seen.anchor.display(),
                self.refresh_line()
            )),
            (false, _) => row(TrustState::NotTrusted),
        }
    }

    pub(crate) fn trust(&self, env: &TrustEnv, ca: &CaCert) -> Outcome {
        Outcome::new(
            Store::System,
            self.dir.display().to_string(),
            self.add(env, ca),
        )
    }

    pub(crate) fn untrust(&self, env: &TrustEnv, ca: &CaCert) -> Outcome {
        Outcome::new(
            Store::System,
            self.dir.display().to_string(),
            self.remove(env, ca),
        )
    }

    fn add(&self, env: &TrustEnv, ca: &CaCert) -> Result<Change, Error> {
        let seen = self.look(ca)?;
        match (seen.in_anchor, seen.in_bundle) {
            (true, Some(true) | None) => {
                return Ok(unchanged(format!(
                    "already installed as {}",
                    seen.anchor.display()
                )));
            }
            (false, Some(true)) => {
                return Ok(unchanged(format!(
                    "already trusted: {} lists it, added by other means",
                    self.bundle.map(Path::display).expect("in_bundle is Some")
                )));
            }
            _ => {}
        }
        if !seen.in_anchor
            && let Err(cause) = write_anchor(&seen.anchor, ca)
        {
            let mut cmds = vec![install_cmd(ca, &seen.anchor)];
            cmds.extend(self.refresh_cmd());
            command::elevate(env, &cmds, cause)?;
            return Ok(Change::Added);
        }
        self.refresh(env)?;
        Ok(Change::Added)
    }

    fn remove(&self, env: &TrustEnv, ca: &CaCert) -> Result<Change, Error> {
        let seen = self.look(ca)?;
        if !seen.in_anchor {
            if seen.in_bundle == Some(true) && self.refresh_cmd().is_some() {
                // The anchor is gone but the bundle was never rebuilt (an earlier refresh
                // was refused): rebuilding removes only what no anchor backs any more.
                self.refresh(env)?;
                if !self.look(ca)?.in_bundle.unwrap_or(false) {
                    return Ok(Change::Removed);
                }
                return Ok(unchanged(
                    "the bundle lists it through a certificate Portico did not install; left alone",
                ));
            }
            let why = if seen.anchor.exists() {
                format!(
                    "{} holds another certificate; left alone",
                    seen.anchor.display()
                )
            } else {
                format!("{} is not there", seen.anchor.display())
            };
            return Ok(unchanged(why));
        }
        if let Err(source) = std::fs::remove_file(&seen.anchor) {
            let cause = Error::Io {
                path: seen.anchor.clone(),
                source,
            };
            let mut cmds = vec![remove_cmd(&seen.anchor)];
            cmds.extend(self.refresh_cmd());
            command::elevate(env, &cmds, cause)?;
            return Ok(Change::Removed);
        }
        self.refresh(env)?;
        Ok(Change::Removed)
    }

    /// Run the refresh command as it is; if that fails, with rights as `env` allows.
    fn refresh(&self, env: &TrustEnv) -> Result<(), Error> {
        let Some(cmd) = self.refresh_cmd() else {
            return Ok(());
        };
        match command::run_ok(env, &cmd, REFRESH) {
            Ok(_) => Ok(()),
            Err(e @ (Error::ToolMissing { .. } | Error::Timeout { .. })) => Err(e),
            Err(cause) => command::elevate(env, &[cmd], cause),
        }
    }
}

/// Whether `path` holds `der`. A path that cannot exist (missing, or under a file) holds
/// nothing; other read failures are errors.
fn file_holds(path: &Path, der: &[u8]) -> Result<bool, Error> {
    match std::fs::read(path) {
        Ok(text) => Ok(pem_holds(&text, der)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(false)
        }
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Write the CA's PEM to `anchor`, readable by everyone (it is public) and written by us.
fn write_anchor(anchor: &Path, ca: &CaCert) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: anchor.to_owned(),
        source,
    };
    std::fs::write(anchor, &ca.pem).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(anchor, std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca() -> CaCert {
        CaCert {
            pem: String::new(),
            der: vec![1, 2, 3],
            path: PathBuf::from("/home/a/.local/share/portico/ca.pem"),
            name: "Portico Local CA".to_owned(),
        }
    }

    #[test]
    fn the_anchor_file_is_named_after_the_fingerprint() {
        let ca = ca();
        let file = anchor_file(Path::new("/usr/local/share/ca-certificates"), &ca);
        assert_eq!(
            file,
            Path::new("/usr/local/share/ca-certificates").join(format!(
                "portico-{}.crt",
                ca.sha256_hex()[..16].to_lowercase()
            ))
        );
    }

    #[test]
    fn elevated_commands_copy_and_remove_exactly_the_anchor() {
        let ca = ca();
        let anchor = Path::new("/usr/local/share/ca-certificates/portico-0011.crt");
        assert_eq!(
            install_cmd(&ca, anchor).argv(),
            [
                "install",
                "-D",
                "-m",
                "0644",
                "/home/a/.local/share/portico/ca.pem",
                "/usr/local/share/ca-certificates/portico-0011.crt"
            ]
        );
        assert_eq!(
            remove_cmd(anchor).argv(),
            [
                "rm",
                "-f",
                "/usr/local/share/ca-certificates/portico-0011.crt"
            ]
        );
    }
}
