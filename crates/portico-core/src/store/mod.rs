//! SQLite persistence: opening and migrating `portico.db`, and typed access to routes and
//! settings. All SQL lives here; other modules call the typed functions.
//!
//! The store is synchronous (rusqlite). Async callers run it on the blocking pool; the proxy
//! never calls it on the request path. It depends only on `config`'s data types.

mod bodies;
mod certificates;
mod routes;
mod settings;
mod traffic;

pub use bodies::{KnownPreview, PreviewKey};
pub use certificates::StoredCertificate;
pub use routes::{ImportSummary, InvalidRoute, RouteRows};
pub(crate) use traffic::search_url;
pub use traffic::{Inserted, Replaced, TRAFFIC_FILE, TrafficFilter, TrafficStore};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use rusqlite_migration::{M, Migrations};

/// File name of the database inside the data dir.
pub const DB_FILE: &str = "portico.db";

/// `PRAGMA application_id` of a Portico database ("PRTC").
const APPLICATION_ID: i64 = 0x5052_5443;

/// Embedded migrations, applied in order. A shipped migration is never edited.
const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("migrations/0001_init.sql")),
    M::up(include_str!("migrations/0002_https.sql")),
    M::up(include_str!("migrations/0003_projects.sql")),
    M::up(include_str!("migrations/0004_capture.sql")),
    M::up(include_str!("migrations/0005_route_features.sql")),
];

/// How long a write waits for another process (the CLI, a running engine) to finish its own.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong in the store. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The data directory could not be created.
    #[error(
        "cannot create the data directory {path}: {source}; choose a writable one with --data-dir or PORTICO_DATA_DIR"
    )]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database file could not be opened or set up.
    #[error(
        "cannot open the database {path}: {source}; check that the file and its directory are writable, or choose another data directory with --data-dir or PORTICO_DATA_DIR"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The database could not be opened because its disk is full.
    #[error(
        "cannot open the database {path}: there is no room left on its disk ({source}); free \
         some space there (captured traffic in the same folder can go: traffic.db and \
         traffic-bodies) and start again"
    )]
    DiskFull {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The file exists but is not a SQLite database.
    #[error(
        "{path} is not a SQLite database; Portico left it untouched. Move it aside (or choose another data directory) and start again"
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is a SQLite database that belongs to another program.
    #[error(
        "{path} is a SQLite database that does not belong to Portico; Portico left it untouched. Choose another data directory with --data-dir or PORTICO_DATA_DIR"
    )]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// The file is a Portico database, but damaged (cut short, or pages overwritten).
    #[error(
        "{path} is damaged ({detail}); Portico left it untouched. Restore it from a backup, or \
         recover what SQLite can still read (sqlite3 {path} .recover | sqlite3 recovered.db) \
         and put that in its place; moving it aside starts Portico with no routes"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite found wrong.
        detail: String,
    },
    /// The database was written by a newer Portico.
    #[error(
        "{path} has schema version {found}, but this Portico knows only up to {supported}; it was written by a newer Portico. Upgrade Portico, or use another data directory; the file was left untouched"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: usize,
    },
    /// A migration failed; the transaction was rolled back.
    #[error("cannot upgrade the database {path}: {source}; the file was left as it was")]
    Migrate {
        /// The file.
        path: PathBuf,
        /// The migration error.
        source: rusqlite_migration::Error,
    },
    /// A route with the same host and path already exists.
    #[error(
        "a route for {host}{path} already exists; change it instead, or remove it first (portico route rm {host}{})",
        if path.is_empty() { String::new() } else { format!(" --path {path}") }
    )]
    Duplicate {
        /// The host pattern.
        host: String,
        /// The path prefix.
        path: String,
    },
    /// `portico up` would take over a route that another project (or the user) owns.
    #[error(
        "{host}{path} is already routed {owner}; remove that route first (portico route rm {host}{}), or change the host in portico.json",
        if path.is_empty() { String::new() } else { format!(" --path {path}") }
    )]
    ProjectConflict {
        /// The host pattern.
        host: String,
        /// The path prefix ("" for `/`).
        path: String,
        /// Who owns it, in words.
        owner: String,
    },
    /// No route has this id.
    #[error("no route with id {id}")]
    NotFound {
        /// The id asked for.
        id: i64,
    },
    /// Another SQLite error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Captured traffic could not be written to `traffic.db`.
    #[error(
        "cannot store captured traffic in {path}: {source}; free some space on its disk, or make \
         it writable (capture resumes by itself; proxying, routes and settings are not affected)"
    )]
    TrafficWrite {
        /// The traffic database.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// An unusable traffic database could not be moved aside.
    #[error(
        "{path} cannot be used ({reason}) and cannot be moved aside: {source}; move or delete \
         it yourself (it only holds captured traffic) and start again"
    )]
    SetAside {
        /// The traffic database.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Captured body previews could not be written or removed.
    #[error(
        "cannot store captured bodies in {path}: {source}; free some space on its disk, or make \
         the folder writable (capture resumes by itself; proxying, routes and settings are not \
         affected)"
    )]
    Bodies {
        /// The folder of body segments.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A stored JSON value could not be read or written.
    #[error("stored value {what} is not valid: {source}")]
    Json {
        /// Which value.
        what: String,
        /// The JSON error.
        source: serde_json::Error,
    },
}

impl Error {
    /// Why the database file itself cannot be used, in a few words, when that is what went
    /// wrong: not SQLite, another program's, from a newer Portico, or damaged.
    pub(crate) fn unusable_file(&self) -> Option<String> {
        match self {
            Error::NotADatabase { .. } => Some("it is not a SQLite database".into()),
            Error::Foreign { .. } => {
                Some("it is a SQLite database that belongs to another program".into())
            }
            Error::TooNew { found, .. } => Some(format!(
                "it has schema version {found}, written by a newer Portico"
            )),
            Error::Corrupt { detail, .. } => Some(format!("it is damaged: {detail}")),
            _ => self.damage(),
        }
    }

    /// What SQLite found damaged, when a read or write failed on a damaged file.
    pub(crate) fn damage(&self) -> Option<String> {
        let source = match self {
            Error::Sqlite(source)
            | Error::Open { source, .. }
            | Error::TrafficWrite { source, .. } => source,
            _ => return None,
        };
        is_damage(source).then(|| format!("it is damaged: {source}"))
    }
}

/// Whether SQLite failed because the file is damaged (or was never a database).
fn is_damage(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Whether SQLite failed for want of room on the disk. In WAL mode opening maps a
/// shared-memory index beside the file, which needs room too: on a full disk that fails as an
/// I/O error on it, not as SQLITE_FULL.
fn is_disk_full(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == ErrorCode::DiskFull
                || e.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE
    )
}

/// Why opening `path` failed: a damaged file, a full disk, or something else SQLite says.
fn open_error(path: &Path, source: rusqlite::Error) -> Error {
    let path = path.to_owned();
    if is_damage(&source) {
        return Error::Corrupt {
            path,
            detail: source.to_string(),
        };
    }
    if is_disk_full(&source) {
        Error::DiskFull { path, source }
    } else {
        Error::Open { path, source }
    }
}

/// Which of Portico's two databases [`open_database`] opens: how it checks a file it did not
/// create, and how it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `portico.db`, routes and settings: every page checked at open (`PRAGMA quick_check`,
    /// milliseconds for this file), WAL (the CLI and the engine share it), and an fsync per
    /// commit.
    Config,
    /// `traffic.db`, a log: checked only by its length against its header (it may hold
    /// hundreds of megabytes; damage met later is handled where it is met), a rollback
    /// journal, no fsync.
    Log,
}

impl Kind {
    /// The page size its files are written with, when not SQLite's default (4 KiB).
    fn page_size(self) -> Option<i64> {
        match self {
            Kind::Config => None,
            // Four times the default: a page holds four times the rows, so recording splits a
            // page and retention merges one a quarter as often per row, each with one
            // page-sized journal copy instead of four (per recorded row, with retention
            // trimming, about 0.9 µs less than with 4 KiB pages; measured on a copy of the
            // schema).
            Kind::Log => Some(16_384),
        }
    }
}

/// A handle on `portico.db`. Cheap to clone; calls are serialised on one connection.
#[derive(Clone, Debug)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

impl Store {
    /// Open (creating if needed) the store in `data_dir`, creating the directory with mode 0700.
    pub fn open_dir(data_dir: &Path) -> Result<Store, Error> {
        create_private_dir(data_dir).map_err(|source| Error::CreateDir {
            path: data_dir.to_owned(),
            source,
        })?;
        Store::open(&data_dir.join(DB_FILE))
    }

    /// Open (creating if needed) the database file at `path` and bring it to the latest schema.
    /// A file that is not Portico's, is from a newer Portico, or is damaged is refused and left
    /// untouched.
    pub fn open(path: &Path) -> Result<Store, Error> {
        let conn = open_database(path, APPLICATION_ID, MIGRATIONS, Kind::Config)?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path.to_owned()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SQLite's `PRAGMA data_version`: changes whenever another connection (another process,
    /// such as the CLI) commits a change.
    pub fn data_version(&self) -> Result<i64, Error> {
        Ok(self
            .lock()
            .query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }

    /// The schema version of this build: the number of migrations.
    pub fn schema_version() -> usize {
        MIGRATIONS.len()
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave the connection inconsistent: every
        // multi-statement change runs in a transaction that rolls back on drop.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Open `path` (creating it), refuse it if it is not ours or is damaged, then set the pragmas
/// and bring it to the latest of `migrations` in one transaction.
fn open_database(
    path: &Path,
    application_id: i64,
    migrations: &'static [M<'static>],
    kind: Kind,
) -> Result<Connection, Error> {
    let open_err = |source| open_error(path, source);
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    check_ownership(&conn, path, application_id, migrations.len())?;
    check_integrity(&conn, path, kind)?;
    let (journal, synchronous) = match kind {
        // A write the API or the CLI acknowledged is on disk: in WAL mode NORMAL survives
        // the process being killed but not a power cut, which may take back the last
        // commits. Routes and settings change at human pace, so one fsync per commit (a few
        // milliseconds) is not felt.
        Kind::Config => ("WAL", "FULL"),
        // One connection (behind a mutex) reads and writes the log, so WAL's concurrent
        // readers buy nothing, while its second copy of every page (log, then checkpoint)
        // doubles the writing, and its shared-memory index needs room that a full disk does
        // not have. A rollback journal only copies the pages a batch changes (retention's
        // deletes), and appended rows are written once. After a crash the last batches may
        // be missing, never torn: the journal is written before the file.
        Kind::Log => ("TRUNCATE", "OFF"),
    };
    if let Some(size) = kind.page_size() {
        // Takes effect on a new file; an existing one is rewritten after migrating.
        conn.pragma_update(None, "page_size", size)
            .map_err(open_err)?;
    }
    conn.pragma_update(None, "journal_mode", journal)
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(open_err)?;
    Migrations::from_slice(migrations)
        .to_latest(&mut conn)
        .map_err(|source| match source {
            rusqlite_migration::Error::RusqliteError { err, .. } if is_disk_full(&err) => {
                Error::DiskFull {
                    path: path.to_owned(),
                    source: err,
                }
            }
            source => Error::Migrate {
                path: path.to_owned(),
                source,
            },
        })?;
    if let Some(size) = kind.page_size() {
        rewrite_with_page_size(&conn, path, size);
    }
    Ok(conn)
}

/// A file written before its kind had larger pages is rewritten with them once (`VACUUM`,
/// which copies what is kept: 0.8 s for a full traffic log of 100,000 rows, measured; the
/// size was asked for before migrating). When that fails (most likely a disk too full for the
/// copy) the file is used as it is and the next start tries again.
fn rewrite_with_page_size(conn: &Connection, path: &Path, size: i64) {
    let current: rusqlite::Result<i64> = conn.query_row("PRAGMA page_size", [], |r| r.get(0));
    if current.is_ok_and(|current| current != size) {
        match conn.execute_batch("VACUUM") {
            Ok(()) => tracing::info!(
                "{} was rewritten with {} KiB pages",
                path.display(),
                size / 1024
            ),
            Err(err) => tracing::warn!(
                "{} keeps its smaller pages for now (rewriting it failed: {err}); it works as \
                 before, and the next start tries again",
                path.display()
            ),
        }
    }
}

/// Refuse files that are not SQLite, belong to another program, or come from a newer Portico,
/// before anything is written to them.
fn check_ownership(
    conn: &Connection,
    path: &Path,
    application_id: i64,
    known_versions: usize,
) -> Result<(), Error> {
    let classify = |source: rusqlite::Error| match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::NotADatabase {
            path: path.to_owned(),
        },
        _ => open_error(path, source),
    };
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(classify)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(classify)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(classify)?;
    let foreign = (app_id != 0 && app_id != application_id) || (version == 0 && tables > 0);
    if foreign {
        return Err(Error::Foreign {
            path: path.to_owned(),
        });
    }
    if version > known_versions as i64 {
        return Err(Error::TooNew {
            path: path.to_owned(),
            found: version,
            supported: known_versions,
        });
    }
    Ok(())
}

/// Refuse a damaged file before anything is written to it: one cut short (a copy that did not
/// finish, a full disk while copying) or with pages that are not what SQLite wrote.
fn check_integrity(conn: &Connection, path: &Path, kind: Kind) -> Result<(), Error> {
    let corrupt = |detail: String| Error::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let classify = |source: rusqlite::Error| open_error(path, source);
    if kind == Kind::Config {
        let mut stmt = conn.prepare("PRAGMA quick_check(5)").map_err(classify)?;
        let problems: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(classify)?;
        if problems != ["ok"] {
            return Err(corrupt(problems.join("; ")));
        }
        return Ok(());
    }
    // In WAL mode the newest pages may live in the log, so only a rollback-journal file is
    // measured (the journal, if hot, was rolled back by the reads above).
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(classify)?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(());
    }
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(classify)?;
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(classify)?;
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    let expected = u64::try_from(pages.saturating_mul(page_size)).unwrap_or(0);
    if len < expected {
        return Err(corrupt(format!(
            "it is {len} bytes long, but its header says {expected}: it was cut short"
        )));
    }
    Ok(())
}

/// Replace the file at `path` with `bytes` atomically: a temporary file in the same directory
/// (created with mode 0600 before any byte is written), synced, given `mode`, then renamed
/// over `path`. Readers see the old file or the new one, never half of either.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    #[cfg(unix)]
    if mode != 0o600 {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests;
