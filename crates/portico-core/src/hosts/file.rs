//! Reading and replacing the hosts file safely: a lock other Portico processes respect, a
//! backup of what was there, an atomic replacement that never loses an edit another program
//! made meanwhile, and an in-place write where replacing is impossible.
//!
//! How an edit goes, under an exclusive lock on the backup file (so two Portico writers take
//! turns): read the file; compute the new text (nothing happens when it is the same); save
//! the old text as the backup; write the new text to a temporary file beside it (same mode and
//! owner); read the file again and start over if it changed; then swap the two. On Linux the
//! swap is `renameat2(RENAME_EXCHANGE)`, so the file that was replaced is still at hand: if it
//! is not the text the edit was based on (another program replaced the file in the moment
//! between the check and the swap), or it changes within [`SETTLE`] afterwards (a program that
//! had it open appended to it; the file's size and time are watched, so the swap back follows
//! the write within a millisecond or so), the two are swapped back at once and the edit starts
//! over on the other program's text; only when Portico's file was itself edited in that moment
//! is it kept and the edit made again on top of the other text. Elsewhere the swap is a plain
//! rename and only the late-append check applies (an editor that renames its file over the
//! hosts file in the microseconds between the check and the rename loses that edit, as with any
//! two editors). Bounded by [`MAX_TRIES`].
//!
//! Where the file cannot be replaced (a bind-mounted `/etc/hosts` in a container answers
//! `EBUSY`; a directory that is not writable), it is rewritten in place, after the same check.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Error;

/// The backup's name beside the hosts file (or in the fallback folder).
pub const BACKUP_SUFFIX: &str = ".portico-backup";

/// How many times an edit starts over because the file changed under it.
const MAX_TRIES: usize = 50;

/// How long to watch the replaced file for a late write by a program that had it open (one
/// preempted between opening the file and writing to it writes that long after the swap).
const SETTLE: Duration = Duration::from_millis(50);

/// How often the replaced file's size and times are looked at while watching it.
const SETTLE_STEP: Duration = Duration::from_millis(1);

/// How long to wait for another Portico process to finish its edit.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The file changed (false: it already had the wanted text, and nothing was written).
    pub changed: bool,
    /// Where the text from before the change was saved, when it changed.
    pub backup: Option<PathBuf>,
}

/// The file's text; an absent file reads as empty.
pub fn read(path: &Path) -> Result<String, Error> {
    match std::fs::read(path) {
        Ok(bytes) => text(path, bytes),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(Error::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn text(path: &Path, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| Error::NotText {
        path: path.to_owned(),
    })
}

/// Apply `change` to the file at `path` (created when absent), as described in the module
/// documentation. The backup goes beside the file, or into `fallback_dir` when that folder
/// cannot be written.
pub fn edit(
    path: &Path,
    fallback_dir: Option<&Path>,
    change: impl Fn(&str) -> Result<String, Error>,
) -> Result<Edited, Error> {
    // A symlinked hosts file is edited where it points, so the link stays a link.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    // Most syncs change nothing: those take no lock and create no file (so an engine without
    // the rights to write the file still reads it quietly).
    let first = read(&target)?;
    if change(&first).map_err(|e| e.at(&target))? == first {
        return Ok(Edited {
            changed: false,
            backup: None,
        });
    }
    let (mut backup, backup_path) = open_backup(&target, fallback_dir)?;
    lock(&backup, &backup_path)?;
    let write_error = |source| Error::Write {
        path: target.clone(),
        source,
    };

    let mut base = read(&target)?;
    let mut expected = base.clone();
    let mut wrote = false;
    for _ in 0..MAX_TRIES {
        let new = change(&base).map_err(|e| e.at(&target))?;
        if new == expected {
            return Ok(Edited {
                changed: wrote,
                backup: wrote.then(|| backup_path.clone()),
            });
        }
        if !wrote {
            save_backup(&mut backup, &expected).map_err(|source| Error::Write {
                path: backup_path.clone(),
                source,
            })?;
        }
        match replace(&target, &expected, &new) {
            Ok(Replaced::Done) => {
                return Ok(Edited {
                    changed: true,
                    backup: Some(backup_path),
                });
            }
            Ok(Replaced::ChangedBefore(now)) => {
                base = now.clone();
                expected = now;
            }
            Ok(Replaced::ChangedAround(theirs)) => {
                // Our text is in place now, built on an older one: redo the edit on theirs.
                wrote = true;
                base = theirs;
                expected = new;
            }
            Err(err) if cannot_replace(&err) => {
                match write_in_place(&target, &expected, &new).map_err(write_error)? {
                    None => {
                        return Ok(Edited {
                            changed: true,
                            backup: Some(backup_path),
                        });
                    }
                    Some(now) => {
                        base = now.clone();
                        expected = now;
                    }
                }
            }
            Err(source) => return Err(write_error(source)),
        }
    }
    Err(Error::Busy {
        path: target,
        tries: MAX_TRIES,
    })
}

/// The backup file, opened for writing (it is also the lock): beside the hosts file, else in
/// `fallback_dir`.
fn open_backup(target: &Path, fallback_dir: Option<&Path>) -> Result<(File, PathBuf), Error> {
    let name = format!(
        "{}{BACKUP_SUFFIX}",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "hosts".to_owned())
    );
    let beside = target.with_file_name(&name);
    let open = |p: &Path| {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
        options.open(p)
    };
    match open(&beside) {
        Ok(file) => Ok((file, beside)),
        Err(err) => {
            let unwritable = matches!(
                err.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            );
            match fallback_dir {
                Some(dir) if unwritable => {
                    let elsewhere = dir.join(&name);
                    open(&elsewhere)
                        .map(|file| (file, elsewhere.clone()))
                        .map_err(|source| Error::Write {
                            path: elsewhere,
                            source,
                        })
                }
                _ => Err(Error::Write {
                    path: target.to_owned(),
                    source: err,
                }),
            }
        }
    }
}

/// Take the exclusive lock, waiting at most [`LOCK_WAIT`] for another holder.
fn lock(file: &File, path: &Path) -> Result<(), Error> {
    let step = Duration::from_millis(20);
    let tries = LOCK_WAIT.as_millis() / step.as_millis();
    for _ in 0..tries {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => std::thread::sleep(step),
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(Error::Write {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
    Err(Error::Locked {
        path: path.to_owned(),
    })
}

fn save_backup(backup: &mut File, text: &str) -> std::io::Result<()> {
    backup.set_len(0)?;
    backup.seek(SeekFrom::Start(0))?;
    backup.write_all(text.as_bytes())?;
    backup.sync_all()
}

/// How a replacement went.
enum Replaced {
    /// The new text is in place and nothing else was lost.
    Done,
    /// The file had changed since it was read (nothing written): its text now.
    ChangedBefore(String),
    /// The new text is in place, but the file it replaced held this text, not the expected
    /// one (another program wrote it meanwhile).
    ChangedAround(String),
}

/// Errors after which the file is rewritten in place instead: no temporary file could be
/// made beside it, or the file cannot be renamed over (a mount point, an immutable file).
fn cannot_replace(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::PermissionDenied
            | std::io::ErrorKind::ReadOnlyFilesystem
            | std::io::ErrorKind::ResourceBusy
            | std::io::ErrorKind::CrossesDevices
    )
}

/// Write `new` to a temporary file beside `target`, check `target` still holds `expected`,
/// and swap.
fn replace(target: &Path, expected: &str, new: &str) -> std::io::Result<Replaced> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".hosts.portico-")
        .tempfile_in(dir)?;
    temp.write_all(new.as_bytes())?;
    copy_ownership(target, temp.as_file());
    temp.as_file().sync_all()?;

    let mut current = match File::open(target) {
        Ok(f) => Some(f),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    let now = match current.as_mut() {
        Some(f) => read_all(f)?,
        None => String::new(),
    };
    if now != expected {
        return Ok(Replaced::ChangedBefore(now));
    }
    let temp = temp.into_temp_path();
    #[cfg(target_os = "linux")]
    if current.is_some() {
        match swap(&temp, target) {
            Ok(()) => {
                // `temp` now names the file that was replaced; it is removed on drop.
                let mut displaced = File::open(&temp)?;
                let Some(theirs) = watch(&mut displaced, expected)? else {
                    return Ok(Replaced::Done);
                };
                // Another program wrote meanwhile: swap its file back, unless ours was
                // edited too in the moment it was in place (then keep that and redo on it).
                swap(&temp, target).map_err(std::io::Error::from)?;
                let mut ours = File::open(&temp)?;
                if read_all(&mut ours)? == new {
                    return Ok(Replaced::ChangedBefore(
                        read(target).map_err(std::io::Error::other)?,
                    ));
                }
                swap(&temp, target).map_err(std::io::Error::from)?;
                return Ok(Replaced::ChangedAround(theirs));
            }
            // Filesystems without the exchange (some network ones) take the rename below.
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    temp.persist(target).map_err(|e| e.error)?;
    if let Some(mut old) = current
        && let Some(late) = watch(&mut old, expected)?
    {
        return Ok(Replaced::ChangedAround(late));
    }
    Ok(Replaced::Done)
}

/// Watch a file that was just replaced, and should hold `expected`, for [`SETTLE`]: its text
/// at once when it holds another (another program replaced the file just before the swap),
/// or once another program wrote to it; `None` when it still holds `expected` at the end.
/// Looks at its size and modification time every [`SETTLE_STEP`] (cheap for a hosts file of
/// megabytes) and reads it when they change and at the end.
fn watch(file: &mut File, expected: &str) -> std::io::Result<Option<String>> {
    let stamp = |file: &File| file.metadata().map(|m| (m.len(), m.modified().ok()));
    let before = stamp(file)?;
    let text = read_all(file)?;
    if text != expected {
        return Ok(Some(text));
    }
    let deadline = std::time::Instant::now() + SETTLE;
    while std::time::Instant::now() < deadline {
        std::thread::sleep(SETTLE_STEP);
        if stamp(file)? != before {
            break;
        }
    }
    let text = read_all(file)?;
    Ok((text != expected).then_some(text))
}

/// Exchange two files atomically (Linux `renameat2(RENAME_EXCHANGE)`).
#[cfg(target_os = "linux")]
fn swap(a: &Path, b: &Path) -> rustix::io::Result<()> {
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        a,
        rustix::fs::CWD,
        b,
        rustix::fs::RenameFlags::EXCHANGE,
    )
}

/// Rewrite `target` in place when it still holds `expected`; otherwise its text now.
fn write_in_place(target: &Path, expected: &str, new: &str) -> std::io::Result<Option<String>> {
    let mut file = OpenOptions::new().read(true).write(true).open(target)?;
    let now = read_all(&mut file)?;
    if now != expected {
        return Ok(Some(now));
    }
    file.seek(SeekFrom::Start(0))?;
    file.write_all(new.as_bytes())?;
    file.set_len(new.len() as u64)?;
    file.sync_all()?;
    Ok(None)
}

fn read_all(file: &mut File) -> std::io::Result<String> {
    file.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Give the new file the old one's mode (and owner, when permitted); a new hosts file is 0644.
fn copy_ownership(target: &Path, file: &File) {
    let meta = std::fs::metadata(target).ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.as_ref().map_or(0o644, |m| m.mode() & 0o7777);
        let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
        if let Some(m) = &meta {
            // Only root may give a file away; for anyone else the owner is already theirs.
            let _ = std::os::unix::fs::fchown(file, Some(m.uid()), Some(m.gid()));
        }
    }
    #[cfg(not(unix))]
    if let Some(m) = meta {
        let _ = file.set_permissions(m.permissions());
    }
}
