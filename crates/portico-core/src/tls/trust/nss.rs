//! NSS databases (Chromium on Linux, Firefox everywhere but Windows), changed with NSS's
//! `certutil`. Portico adds the CA under its own nickname and removes only a certificate that
//! has both that nickname and the CA's DER, so other certificates, and this CA if the user
//! added it under another name, are left alone.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::cert::pem_holds;
use super::command::{self, Cmd, QUICK};
use super::report::unchanged;
use super::{CaCert, Change, Error, Outcome, Store, StoreStatus, TrustEnv, TrustState};

/// An empty password file: certutil reads it instead of prompting on the terminal, so a
/// database with a primary password fails at once rather than waiting for input.
const EMPTY_PASSWORD_FILE: &str = "/dev/null";

/// The trust flags Portico sets: a trusted CA for TLS servers, nothing for mail or code.
const TRUST_FLAGS: &str = "C,,";

/// One NSS database directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NssDb {
    pub(crate) store: Store,
    pub(crate) dir: PathBuf,
    /// `trust` creates it when missing (Chromium's `~/.pki/nssdb`, which Chromium creates
    /// only when it first needs it).
    pub(crate) create_if_missing: bool,
}

impl NssDb {
    fn exists(&self) -> bool {
        self.dir.join("cert9.db").is_file()
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }
}

/// The NSS databases under `env.home`: Chromium's (Linux only, listed even when missing), and
/// every Firefox profile (regular, snap, flatpak, macOS) that has a `cert9.db`. Windows has
/// none: Firefox there reads the Windows store, and NSS's certutil is not available.
pub(crate) fn databases(env: &TrustEnv) -> Vec<NssDb> {
    let home = &env.home;
    let mut dbs = Vec::new();
    if env.system.is_linux() {
        dbs.push(NssDb {
            store: Store::Chromium,
            dir: home.join(".pki/nssdb"),
            create_if_missing: true,
        });
        let snap = home.join("snap/chromium/current/.pki/nssdb");
        if snap.join("cert9.db").is_file() {
            dbs.push(NssDb {
                store: Store::Chromium,
                dir: snap,
                create_if_missing: false,
            });
        }
    }
    if matches!(env.system, super::SystemStore::WindowsUser) {
        return dbs;
    }
    for root in [
        ".mozilla/firefox",
        "snap/firefox/common/.mozilla/firefox",
        ".var/app/org.mozilla.firefox/.mozilla/firefox",
        "Library/Application Support/Firefox/Profiles",
    ] {
        dbs.extend(firefox_profiles(&home.join(root)));
    }
    dbs
}

fn firefox_profiles(root: &Path) -> Vec<NssDb> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut profiles: Vec<NssDb> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|dir| dir.join("cert9.db").is_file())
        .map(|dir| NssDb {
            store: Store::Firefox {
                profile: dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            },
            dir,
            create_if_missing: false,
        })
        .collect();
    profiles.sort_by(|a, b| a.dir.cmp(&b.dir));
    profiles
}

/// The CA's NSS nickname: its name with `:` replaced (NSS reads `token:nickname`) and
/// control characters and surrounding spaces removed; a blank name becomes
/// `Portico Local CA <fingerprint>` so the nickname is never empty.
pub(crate) fn nickname(ca: &CaCert) -> String {
    let cleaned: String = ca
        .name
        .chars()
        .map(|c| if c == ':' { '-' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        format!("Portico Local CA {}", &ca.sha256_hex()[..8])
    } else {
        cleaned.to_owned()
    }
}

fn sql_dir(dir: &Path) -> OsString {
    let mut arg = OsString::from("sql:");
    arg.push(dir);
    arg
}

/// `certutil -L -d sql:<db>`: every nickname and its trust flags.
pub(crate) fn list_cmd(env: &TrustEnv, db: &Path) -> Cmd {
    Cmd::new(&env.certutil).arg("-L").arg("-d").arg(sql_dir(db))
}

/// `certutil -L -d sql:<db> -n <nick> -a`: the certificates under `nick`, as PEM.
pub(crate) fn show_cmd(env: &TrustEnv, db: &Path, nick: &str) -> Cmd {
    Cmd::new(&env.certutil)
        .arg("-L")
        .arg("-d")
        .arg(sql_dir(db))
        .args(["-n", nick, "-a"])
}

/// `certutil -A -d sql:<db> -t C,, -n <nick> -i <pem>`, unattended or (`by_hand`) as the
/// user would type it, letting certutil ask for a password.
pub(crate) fn add_cmd(env: &TrustEnv, db: &Path, ca: &CaCert, by_hand: bool) -> Cmd {
    let cmd = Cmd::new(&env.certutil)
        .arg("-A")
        .arg("-d")
        .arg(sql_dir(db))
        .args(["-t", TRUST_FLAGS, "-n", &nickname(ca), "-i"])
        .arg(&ca.path);
    unattended(cmd, by_hand)
}

/// `certutil -M -d sql:<db> -n <nick> -t C,,`: trust a certificate already there.
pub(crate) fn modify_cmd(env: &TrustEnv, db: &Path, ca: &CaCert, by_hand: bool) -> Cmd {
    let cmd = Cmd::new(&env.certutil)
        .arg("-M")
        .arg("-d")
        .arg(sql_dir(db))
        .args(["-n", &nickname(ca), "-t", TRUST_FLAGS]);
    unattended(cmd, by_hand)
}

/// `certutil -D -d sql:<db> -n <nick>`.
pub(crate) fn delete_cmd(env: &TrustEnv, db: &Path, ca: &CaCert, by_hand: bool) -> Cmd {
    let cmd = Cmd::new(&env.certutil)
        .arg("-D")
        .arg("-d")
        .arg(sql_dir(db))
        .args(["-n", &nickname(ca)]);
    unattended(cmd, by_hand)
}

/// `certutil -N -d sql:<db> --empty-password`: a new database without a password.
pub(crate) fn create_cmd(env: &TrustEnv, db: &Path) -> Cmd {
    Cmd::new(&env.certutil)
        .arg("-N")
        .arg("-d")
        .arg(sql_dir(db))
        .arg("--empty-password")
}

fn unattended(cmd: Cmd, by_hand: bool) -> Cmd {
    if by_hand {
        cmd
    } else {
        cmd.args(["-f", EMPTY_PASSWORD_FILE])
    }
}

/// One row of `certutil -L`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) nickname: String,
    /// `SSL,S/MIME,JAR/XPI`, e.g. `C,,` or `CT,C,C`.
    pub(crate) flags: String,
}

impl Row {
    /// Trusted to issue TLS server certificates: `C` in the SSL field.
    pub(crate) fn trusted_for_tls(&self) -> bool {
        self.flags
            .split(',')
            .next()
            .is_some_and(|ssl| ssl.contains('C'))
    }
}

/// The rows of `certutil -L`: a nickname padded with spaces, then three comma-separated
/// flag fields. Header and blank lines have no such last word and are skipped.
pub(crate) fn parse_list(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end();
            let (nickname, flags) = line.rsplit_once(char::is_whitespace)?;
            let fields: Vec<&str> = flags.split(',').collect();
            let is_flags = fields.len() == 3
                && fields
                    .iter()
                    .all(|f| f.chars().all(|c| c.is_ascii_alphabetic()));
            let nickname = nickname.trim_end();
            (is_flags && !nickname.is_empty()).then(|| Row {
                nickname: nickname.to_owned(),
                flags: flags.to_owned(),
            })
        })
        .collect()
}

/// Where the CA is in one database.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    /// Under Portico's nickname.
    Ours {
        trusted: bool,
    },
    /// Under another nickname: the user (or another tool) added it.
    Elsewhere {
        nickname: String,
        trusted: bool,
    },
    Absent,
}

fn find(env: &TrustEnv, db: &NssDb, ca: &CaCert) -> Result<Found, Error> {
    let listing = command::run_ok(env, &list_cmd(env, &db.dir), QUICK)?;
    let rows = parse_list(&listing.stdout);
    let ours = nickname(ca);
    let holds = |nick: &str| -> Result<bool, Error> {
        let shown = command::run(env, &show_cmd(env, &db.dir, nick), QUICK)?;
        Ok(shown.status.success() && pem_holds(shown.stdout.as_bytes(), &ca.der))
    };
    if let Some(row) = rows.iter().find(|r| r.nickname == ours)
        && holds(&row.nickname)?
    {
        return Ok(Found::Ours {
            trusted: row.trusted_for_tls(),
        });
    }
    // NSS keeps the first nickname a certificate was added under, so the CA may be here
    // under another; the built-in roots module is never where a user's CA lives.
    for row in rows
        .iter()
        .filter(|r| r.nickname != ours && !r.nickname.starts_with("Builtin Object Token:"))
    {
        if holds(&row.nickname)? {
            return Ok(Found::Elsewhere {
                nickname: row.nickname.clone(),
                trusted: row.trusted_for_tls(),
            });
        }
    }
    Ok(Found::Absent)
}

pub(crate) fn status(env: &TrustEnv, ca: &CaCert, db: &NssDb) -> StoreStatus {
    let row = |state| StoreStatus::new(db.store.clone(), state, db.location());
    if !db.exists() {
        let row = row(TrustState::NotPresent);
        return if db.create_if_missing {
            row.note("no NSS database yet; `portico ca trust` creates it, and Chromium uses it from its next start")
        } else {
            row
        };
    }
    match find(env, db, ca) {
        Ok(Found::Ours { trusted: true }) => row(TrustState::Trusted),
        Ok(Found::Ours { trusted: false }) => row(TrustState::NotTrusted).note(
            "the CA is in this database but not trusted for websites; `portico ca trust` trusts it",
        ),
        Ok(Found::Elsewhere { nickname, trusted }) => {
            let state = if trusted {
                TrustState::Trusted
            } else {
                TrustState::NotTrusted
            };
            row(state).note(format!(
                "the CA is here under the nickname \"{nickname}\", which Portico did not add; `portico ca untrust` leaves it"
            ))
        }
        Ok(Found::Absent) => row(TrustState::NotTrusted),
        Err(e) => row(TrustState::Unknown).note(e.to_string()),
    }
}

pub(crate) fn trust(env: &TrustEnv, ca: &CaCert, db: &NssDb) -> Outcome {
    let mut note = None;
    let result = (|| {
        if !db.exists() {
            if !db.create_if_missing {
                return Ok(unchanged("no NSS database here"));
            }
            create(env, db)?;
            note = Some(format!(
                "created the NSS database {}; Chromium uses it from its next start",
                db.location()
            ));
        }
        match find(env, db, ca)? {
            Found::Ours { trusted: true } => Ok(unchanged("already trusted")),
            Found::Elsewhere {
                nickname,
                trusted: true,
            } => Ok(unchanged(format!(
                "already trusted under the nickname \"{nickname}\""
            ))),
            Found::Elsewhere {
                nickname,
                trusted: false,
            } => Ok(unchanged(format!(
                "the CA is here under the nickname \"{nickname}\" without trust for websites; Portico leaves certificates it did not add alone. To trust it: certutil -M -d {} -n {} -t C,,",
                command::shell_quote(&format!("sql:{}", db.dir.display())),
                command::shell_quote(&nickname)
            ))),
            Found::Ours { trusted: false } => {
                edit(
                    env,
                    db,
                    modify_cmd(env, &db.dir, ca, false),
                    modify_cmd(env, &db.dir, ca, true),
                )?;
                Ok(Change::Added)
            }
            Found::Absent => {
                edit(
                    env,
                    db,
                    add_cmd(env, &db.dir, ca, false),
                    add_cmd(env, &db.dir, ca, true),
                )?;
                Ok(Change::Added)
            }
        }
    })();
    Outcome {
        store: db.store.clone(),
        location: db.location(),
        result,
        note,
    }
}

pub(crate) fn untrust(env: &TrustEnv, ca: &CaCert, db: &NssDb) -> Outcome {
    let result = (|| {
        if !db.exists() {
            return Ok(unchanged("no NSS database here"));
        }
        match find(env, db, ca)? {
            Found::Ours { .. } => {
                edit(
                    env,
                    db,
                    delete_cmd(env, &db.dir, ca, false),
                    delete_cmd(env, &db.dir, ca, true),
                )?;
                Ok(Change::Removed)
            }
            Found::Elsewhere { nickname, .. } => Ok(unchanged(format!(
                "the CA is here under the nickname \"{nickname}\", which Portico did not add; left alone"
            ))),
            Found::Absent => Ok(unchanged("not in this database")),
        }
    })();
    Outcome::new(db.store.clone(), db.location(), result)
}

/// Run a change; a password-protected database becomes [`Error::PasswordProtected`] with the
/// command to run by hand.
fn edit(env: &TrustEnv, db: &NssDb, cmd: Cmd, by_hand: Cmd) -> Result<(), Error> {
    let output = command::run(env, &cmd, QUICK)?;
    if output.status.success() {
        return Ok(());
    }
    let text = format!("{}{}", output.stderr, output.stdout);
    if text.contains("SEC_ERROR_BAD_PASSWORD") || text.contains("password file contains no data") {
        return Err(Error::PasswordProtected {
            location: db.location(),
            command: by_hand.display(),
        });
    }
    Err(command::failed(&cmd, &output))
}

/// Create a missing database directory (0700, as NSS and Chromium expect) and an empty
/// database without a password in it. If certutil fails, the directories created for it are
/// removed again, so a failed `trust` leaves no trace.
fn create(env: &TrustEnv, db: &NssDb) -> Result<(), Error> {
    let missing: Vec<&Path> = db.dir.ancestors().take_while(|dir| !dir.exists()).collect();
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&db.dir).map_err(|source| Error::Io {
        path: db.dir.clone(),
        source,
    })?;
    if let Err(e) = command::run_ok(env, &create_cmd(env, &db.dir), QUICK) {
        // Innermost first; `remove_dir` leaves anything certutil managed to write.
        for dir in missing {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(e);
    }
    Ok(())
}
