//! `traffic.db`: captured exchanges, in their own database file so a huge log never slows
//! routes and settings. Written in batches by the inspector's recorder, read by the admin API.

use std::borrow::Borrow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use rusqlite_migration::M;
use serde::Deserialize;

use super::Error;
use super::bodies::{BODIES_DIR, Bodies, KnownPreview, Location, Pair, PreviewKey, Reader};
use crate::inspect::event::{Exchange, ExchangeId, Preview, Summary, WebSocketStats};
use crate::inspect::headers::Headers;

/// File name of the traffic database inside the data dir.
pub const TRAFFIC_FILE: &str = "traffic.db";

/// `PRAGMA application_id` of a Portico traffic database ("PRTT").
const APPLICATION_ID: i64 = 0x5052_5454;

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("traffic_migrations/0001_exchanges.sql")),
    M::up(include_str!(
        "traffic_migrations/0002_cache_compression.sql"
    )),
    M::up(include_str!("traffic_migrations/0003_body_segments.sql")),
    M::up(include_str!("traffic_migrations/0004_no_host_index.sql")),
    M::up(include_str!("traffic_migrations/0005_no_start_index.sql")),
];

/// The most rows one query returns.
pub(super) const MAX_PAGE: usize = 500;

/// Which exchanges to return; every field narrows the set. Newest first.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrafficFilter {
    /// Exact host.
    pub host: Option<String>,
    /// Matched route id.
    pub route_id: Option<i64>,
    /// Method (case-insensitive).
    pub method: Option<String>,
    /// Status class: `1xx` … `5xx`.
    pub status_class: Option<String>,
    /// Exact status.
    pub status: Option<u16>,
    /// Substring of the path.
    pub path: Option<String>,
    /// At least this many milliseconds.
    pub min_duration_ms: Option<f64>,
    /// Only exchanges with an error.
    pub errors: Option<bool>,
    /// Started at or after (Unix ms).
    pub since: Option<i64>,
    /// Started before (Unix ms).
    pub until: Option<i64>,
    /// Free text over the URL and the headers (every word must match, as a prefix).
    pub q: Option<String>,
    /// Cursor: only exchanges with an id below this one (the last id of the previous page).
    pub before: Option<ExchangeId>,
    /// Page size. Default: 100; at most 500.
    pub limit: Option<usize>,
}

impl TrafficFilter {
    /// Whether `e` passes every condition except the cursor, limit and free text (for the
    /// live stream, which filters in memory).
    pub fn matches(&self, e: &Summary) -> bool {
        let class_ok = self.status_class.as_deref().is_none_or(|c| {
            class_range(c).is_some_and(|(lo, hi)| e.status.is_some_and(|s| (lo..=hi).contains(&s)))
        });
        self.host.as_deref().is_none_or(|h| e.host == h)
            && self
                .method
                .as_deref()
                .is_none_or(|m| e.method.eq_ignore_ascii_case(m))
            && class_ok
            && self.status.is_none_or(|s| e.status == Some(s))
            && self.path.as_deref().is_none_or(|p| e.path.contains(p))
            && self.min_duration_ms.is_none_or(|d| e.duration_ms >= d)
            && self.errors.is_none_or(|only| !only || e.error.is_some())
            && self.since.is_none_or(|t| e.started_at >= t)
            && self.until.is_none_or(|t| e.started_at < t)
    }
}

impl TrafficFilter {
    /// Whether a live exchange passes every filter, free text included: each word of `q`
    /// must appear in its URL or headers as the full-text index would find it (a run of the
    /// word's tokens, the last one as a prefix).
    pub fn matches_live(&self, e: &crate::inspect::recorder::LiveExchange) -> bool {
        self.matches(&e.summary) && self.q.as_deref().is_none_or(|q| text_matches(q, &e.text))
    }
}

/// Tokens as SQLite's `unicode61` tokenizer cuts them: runs of letters and digits, lowercased.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// [`fts_query`]'s meaning over plain text: every whitespace-separated word of `q` is a phrase
/// whose tokens follow each other in `text`, the last one as a prefix.
fn text_matches(q: &str, text: &str) -> bool {
    let haystack = tokens(text);
    q.split_whitespace().all(|word| {
        let needle = tokens(word);
        let Some((last, run)) = needle.split_last() else {
            return true;
        };
        haystack.windows(needle.len()).any(|window| {
            window[..run.len()] == *run && window[run.len()].starts_with(last.as_str())
        })
    })
}

fn class_range(class: &str) -> Option<(u16, u16)> {
    let digit = class.strip_suffix("xx")?.parse::<u16>().ok()?;
    (1..=5)
        .contains(&digit)
        .then(|| (digit * 100, digit * 100 + 99))
}

/// The captured traffic. Cheap to clone; calls are serialised on one connection.
#[derive(Clone, Debug)]
pub struct TrafficStore {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
    /// Locked before `conn` wherever both are held.
    bodies: Arc<Mutex<Bodies>>,
    bodies_dir: Arc<PathBuf>,
    /// The last unusable file moved aside, if any since start.
    replaced: Arc<Mutex<Option<Replaced>>>,
}

/// A traffic database that could not be used (not SQLite, another program's, from a newer
/// Portico, or damaged) and was moved aside, with its body previews; capture started a new
/// one. Traffic is a log that can be lost, routes are not: `portico.db` is never moved.
/// What [`TrafficStore::insert`] stored besides the rows.
#[derive(Debug, Default)]
pub struct Inserted {
    /// Bytes the previews added to the segments: a preview that repeats one the open segment
    /// holds adds none.
    pub body_bytes: u64,
    /// Per exchange, in order: the key its response preview is stored under, when that is a
    /// large preview and the exchange has no request preview.
    pub response_keys: Vec<Option<PreviewKey>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// Where it was: `traffic.db` in the data dir.
    pub path: PathBuf,
    /// Where it is now, byte for byte.
    pub backup: PathBuf,
    /// Why it could not be used.
    pub reason: String,
}

impl std::fmt::Display for Replaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} could not be used ({}), so it was moved to {} and capture started a new one; \
             routes and settings are not affected. Delete the old file once you no longer need \
             what it captured",
            self.path.display(),
            self.reason,
            self.backup.display()
        )
    }
}

/// Open `traffic.db` at `path`, check it, and set its pragmas.
fn open_connection(path: &Path) -> Result<Connection, Error> {
    // A rollback journal and no fsync: see `Kind::Log`.
    let conn = super::open_database(path, APPLICATION_ID, MIGRATIONS, super::Kind::Log)?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    // Retention deletes visit old pages; through a mapping they cost a memory read, not
    // a read(2) copy each (a third of the recorder's time without it).
    conn.query_row("PRAGMA mmap_size = 268435456", [], |_| Ok(()))?;
    // The newest rows' pages, read before anything relies on them: a file damaged at its
    // end fails here rather than at the first write.
    conn.query_row(
        "SELECT max(id), count(*) FROM (SELECT id FROM exchanges ORDER BY id DESC LIMIT 100)",
        [],
        |_| Ok(()),
    )?;
    Ok(conn)
}

/// Move the unusable `traffic.db` (with its journal) and its body folder aside, under names
/// that say when, and return what was done.
fn set_aside(path: &Path, bodies_dir: &Path, reason: String) -> Result<Replaced, Error> {
    let failed = |reason: &str, source| Error::SetAside {
        path: path.to_owned(),
        reason: reason.to_owned(),
        source,
    };
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let with_suffix = |p: &Path, suffix: &str| {
        let mut name = p.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    // A name not taken yet: `traffic.db.bad-<unix seconds>[-n]`.
    let suffix = (0..1000)
        .map(|n| match n {
            0 => format!(".bad-{secs}"),
            n => format!(".bad-{secs}-{n}"),
        })
        .find(|suffix| {
            !with_suffix(path, suffix).exists() && !with_suffix(bodies_dir, suffix).exists()
        })
        .ok_or_else(|| {
            failed(
                &reason,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "every name for the copy is taken",
                ),
            )
        })?;
    let backup = with_suffix(path, &suffix);
    std::fs::rename(path, &backup).map_err(|e| failed(&reason, e))?;
    // The journal and WAL files belong to the file they were written for: they keep its
    // name so SQLite still pairs them with it; a shared-memory index is only a cache.
    for companion in ["-journal", "-wal"] {
        let from = with_suffix(path, companion);
        if from.exists() {
            std::fs::rename(&from, with_suffix(&backup, companion))
                .map_err(|e| failed(&reason, e))?;
        }
    }
    let _ = std::fs::remove_file(with_suffix(path, "-shm"));
    if bodies_dir.exists() {
        std::fs::rename(bodies_dir, with_suffix(bodies_dir, &suffix))
            .map_err(|e| failed(&reason, e))?;
    }
    Ok(Replaced {
        path: path.to_owned(),
        backup,
        reason,
    })
}

const COLUMNS: &str = "id, started_at, method, scheme, host, path, query, version, client, \
    route_id, route, upstream, status, duration_ms, ttfb_ms, bytes_in, bytes_out, error, \
    error_side, error_code, request_headers, response_headers, request_body, request_size, \
    response_body, response_size, websocket, replay_of, imported, cache, compression, \
    body_file, body_at, request_kept, response_kept";

const SUMMARY_COLUMNS: &str = "id, started_at, method, scheme, host, path, query, status, \
    duration_ms, bytes_out, route, error, error_side, websocket IS NOT NULL, replay_of, cache";

fn json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|source| Error::Json {
        what: "captured headers".into(),
        source,
    })
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A header column: a block of `name: value` lines, or JSON in rows from earlier versions.
fn stored_headers(row: &Row<'_>, column: usize) -> rusqlite::Result<Headers> {
    Headers::from_stored(row.get(column)?).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            "captured headers are neither header lines nor a JSON list of pairs".into(),
        )
    })
}

/// A stored exchange, and where its previews are when they are not in the row.
fn exchange(row: &Row<'_>) -> rusqlite::Result<(Exchange, Option<Location>)> {
    let websocket: Option<String> = row.get(26)?;
    let location = match (
        row.get::<_, Option<i64>>(31)?,
        row.get::<_, Option<i64>>(32)?,
        row.get::<_, Option<i64>>(33)?,
        row.get::<_, Option<i64>>(34)?,
    ) {
        (Some(segment), Some(at), Some(request_len), Some(response_len)) => Some(Location {
            segment,
            at: at.max(0) as u64,
            request_len: request_len.max(0) as u64,
            response_len: response_len.max(0) as u64,
        }),
        _ => None,
    };
    let exchange = Exchange {
        id: row.get(0)?,
        started_at: row.get(1)?,
        method: row.get(2)?,
        scheme: row.get(3)?,
        host: row.get(4)?,
        path: row.get(5)?,
        query: row.get(6)?,
        version: row.get(7)?,
        client: row.get(8)?,
        route_id: row.get(9)?,
        route: row.get(10)?,
        upstream: row.get(11)?,
        status: row.get(12)?,
        duration_ms: row.get(13)?,
        ttfb_ms: row.get(14)?,
        bytes_in: row.get::<_, i64>(15)? as u64,
        bytes_out: row.get::<_, i64>(16)? as u64,
        error: row.get(17)?,
        error_side: row.get(18)?,
        error_code: row.get(19)?,
        request_headers: stored_headers(row, 20)?,
        response_headers: stored_headers(row, 21)?,
        request_body: Preview {
            bytes: row.get(22)?,
            size: row.get::<_, i64>(23)? as u64,
        },
        response_body: Preview {
            bytes: row.get(24)?,
            size: row.get::<_, i64>(25)? as u64,
        },
        websocket: websocket.map(|w| parse(&w)).transpose()?,
        replay_of: row.get(27)?,
        imported: row.get(28)?,
        cache: row.get(29)?,
        compression: row.get(30)?,
    };
    Ok((exchange, location))
}

/// Fill in the previews kept in segment files.
fn with_previews(rows: Vec<(Exchange, Option<Location>)>, dir: &Path) -> Vec<Exchange> {
    let mut reader = Reader::new(dir);
    rows.into_iter()
        .map(|(mut e, location)| {
            if let Some(location) = location {
                let (request, response) = reader.read(location);
                e.request_body.bytes = request;
                e.response_body.bytes = response;
            }
            e
        })
        .collect()
}

fn summary(row: &Row<'_>) -> rusqlite::Result<Summary> {
    Ok(Summary {
        id: row.get(0)?,
        started_at: row.get(1)?,
        method: row.get(2)?,
        scheme: row.get(3)?,
        host: row.get(4)?,
        path: row.get(5)?,
        query: row.get(6)?,
        status: row.get(7)?,
        duration_ms: row.get(8)?,
        bytes_out: row.get::<_, i64>(9)? as u64,
        route: row.get(10)?,
        error: row.get(11)?,
        error_side: row.get(12)?,
        websocket: row.get(13)?,
        replay_of: row.get(14)?,
        cache: row.get(15)?,
    })
}

/// The URL as the full-text index (and the live stream's free text) searches it.
pub(crate) fn search_url(scheme: &str, host: &str, path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) => format!("{scheme}://{host}{path}?{q}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

/// FTS5 query for free text: every word quoted (so punctuation is literal) and matched as a
/// prefix.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        // A word without a letter or digit has no token: it matches everything, as in
        // `text_matches`.
        .filter(|w| w.chars().any(char::is_alphanumeric))
        // Control characters separate tokens for the index anyway; a NUL inside the query
        // would cut SQLite's copy of it short ("unterminated string").
        .map(|w| {
            let w: String = w
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            format!("\"{}\"*", w.replace('"', "\"\""))
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

impl TrafficStore {
    /// Open (creating if needed) `traffic.db` in `data_dir` (which must exist). A file that
    /// cannot be used is moved aside (see [`Replaced`], [`TrafficStore::replaced`]) and a new
    /// one is started: captured traffic must never keep the engine from starting.
    pub fn open_dir(data_dir: &Path) -> Result<TrafficStore, Error> {
        let path = data_dir.join(TRAFFIC_FILE);
        let bodies_dir = data_dir.join(BODIES_DIR);
        let (conn, replaced) = match open_connection(&path) {
            Ok(conn) => (conn, None),
            Err(err) => {
                let Some(reason) = err.unusable_file() else {
                    return Err(err);
                };
                let replaced = set_aside(&path, &bodies_dir, reason)?;
                tracing::warn!("{replaced}");
                (open_connection(&path)?, Some(replaced))
            }
        };
        let bodies = Bodies::open(bodies_dir.clone()).map_err(|source| Error::Bodies {
            path: bodies_dir.clone(),
            source,
        })?;
        Ok(TrafficStore {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path),
            bodies: Arc::new(Mutex::new(bodies)),
            bodies_dir: Arc::new(bodies_dir),
            replaced: Arc::new(Mutex::new(replaced)),
        })
    }

    /// The unusable file moved aside since start (when opening, or when a write found it
    /// damaged), if any.
    pub fn replaced(&self) -> Option<Replaced> {
        self.replaced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// When `err` says the file is damaged, move it aside and carry on with a new one;
    /// returns what was done (`None` for any other error, which is left to the caller).
    pub fn replace_if_damaged(&self, err: &Error) -> Result<Option<Replaced>, Error> {
        let Some(reason) = err.damage() else {
            return Ok(None);
        };
        let mut bodies = self.lock_bodies();
        let mut conn = self.lock();
        // Close the damaged file before moving it; queries meanwhile fail on an empty
        // in-memory database.
        drop(std::mem::replace(&mut *conn, Connection::open_in_memory()?));
        let replaced = set_aside(&self.path, &self.bodies_dir, reason)?;
        *conn = open_connection(&self.path)?;
        bodies
            .reopen()
            .map_err(|source| self.bodies_error(source))?;
        tracing::warn!("{replaced}");
        *self.replaced.lock().unwrap_or_else(|p| p.into_inner()) = Some(replaced.clone());
        Ok(Some(replaced))
    }

    /// A failed write, named after the file.
    fn write_error(&self, err: Error) -> Error {
        match err {
            Error::Sqlite(source) => Error::TrafficWrite {
                path: self.path.to_path_buf(),
                source,
            },
            other => other,
        }
    }

    /// The folder of body segments.
    pub fn bodies_dir(&self) -> &Path {
        &self.bodies_dir
    }

    /// Size body segments for a store bounded to `max_bytes` (retention trims to it).
    pub fn fit_bodies(&self, max_bytes: u64) {
        self.lock_bodies().fit_to(max_bytes);
    }

    fn lock_bodies(&self) -> MutexGuard<'_, Bodies> {
        self.bodies.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bodies_error(&self, source: std::io::Error) -> Error {
        Error::Bodies {
            path: self.bodies_dir.to_path_buf(),
            source,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The highest id ever used (stored, or already indexed and since trimmed): new ids
    /// continue above it, so none falls below the index's progress mark.
    pub fn max_id(&self) -> Result<ExchangeId, Error> {
        Ok(self.lock().query_row(
            "SELECT max(coalesce((SELECT max(id) FROM exchanges), 0), \
                        (SELECT indexed_through FROM fts_progress))",
            [],
            |r| r.get(0),
        )?)
    }

    /// Store exchanges in one transaction. Ids are unique (the inspector allocates them above
    /// [`TrafficStore::max_id`]); the full-text index is built later, when searched. When the
    /// rows cannot be stored their previews are taken back, so a full disk does not fill
    /// further with bytes nothing points at.
    pub fn insert(&self, exchanges: &[Exchange]) -> Result<Inserted, Error> {
        self.insert_captured(exchanges, &[])
    }

    /// [`TrafficStore::insert`], where `known[i]`, when given, is exchange `i`'s response
    /// preview (its own `response_body.bytes` then being empty): the bytes of a preview stored
    /// before that the proxy saw come again.
    pub fn insert_captured<E: Borrow<Exchange>>(
        &self,
        exchanges: &[E],
        known: &[Option<Arc<KnownPreview>>],
    ) -> Result<Inserted, Error> {
        // Previews first, one vectored write for the batch; then the rows that point at them.
        let mut bodies = self.lock_bodies();
        let pairs: Vec<Pair<'_>> = exchanges
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let e = e.borrow();
                let known = known.get(i).and_then(Option::as_deref);
                Pair {
                    id: e.id,
                    request: &e.request_body.bytes,
                    response: known.map_or(&e.response_body.bytes, KnownPreview::bytes),
                    known,
                }
            })
            .collect();
        let mark = bodies.mark();
        let before = bodies.total_bytes();
        let appended = bodies
            .append_pairs(&pairs)
            .map_err(|source| self.bodies_error(source))?;
        let body_bytes = bodies.total_bytes().saturating_sub(before);
        let (locations, response_keys): (Vec<_>, Vec<_>) = appended.into_iter().unzip();
        let mut conn = self.lock();
        let stored = insert_rows(&mut conn, exchanges, &locations);
        drop(conn);
        if stored.is_err() {
            bodies.undo(mark);
        }
        stored.map_err(|err| self.write_error(err))?;
        Ok(Inserted {
            body_bytes,
            response_keys,
        })
    }

    /// Bring the full-text index up to date with every stored row (run before a search).
    fn index_pending(conn: &mut Connection) -> Result<(), Error> {
        let tx = conn.transaction()?;
        let through: i64 =
            tx.query_row("SELECT indexed_through FROM fts_progress", [], |r| r.get(0))?;
        let last = {
            let mut rows = tx.prepare_cached(
                "SELECT id, scheme, host, path, query, request_headers, response_headers \
                 FROM exchanges WHERE id > ?1 ORDER BY id",
            )?;
            let mut fts = tx.prepare_cached(
                "INSERT INTO exchanges_fts (rowid, url, headers) VALUES (?1, ?2, ?3)",
            )?;
            let mut last = through;
            let mut cursor = rows.query([through])?;
            while let Some(row) = cursor.next()? {
                let id: i64 = row.get(0)?;
                let (scheme, host, path): (String, String, String) =
                    (row.get(1)?, row.get(2)?, row.get(3)?);
                let query: Option<String> = row.get(4)?;
                let url = search_url(&scheme, &host, &path, query.as_deref());
                // The stored block is the searched text (rows from earlier versions hold JSON).
                let mut headers = String::new();
                for column in [5, 6] {
                    if let Some(block) = Headers::from_stored(row.get(column)?) {
                        headers.push_str(block.as_text());
                    }
                }
                fts.execute(params![id, url, headers])?;
                last = id;
            }
            last
        };
        tx.execute("UPDATE fts_progress SET indexed_through = ?1", [last])?;
        tx.commit()?;
        Ok(())
    }

    /// Record a WebSocket's counts on the exchange of its upgrade.
    pub fn update_websocket(&self, id: ExchangeId, stats: &WebSocketStats) -> Result<(), Error> {
        self.lock()
            .execute(
                "UPDATE exchanges SET websocket = ?2 WHERE id = ?1",
                params![id, json(stats)?],
            )
            .map_err(|e| self.write_error(e.into()))?;
        Ok(())
    }

    /// Summaries matching `filter`, newest first, one page.
    pub fn list(&self, filter: &TrafficFilter) -> Result<Vec<Summary>, Error> {
        let (sql, values) = where_clause(filter);
        let limit = filter.limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let mut conn = self.lock();
        if filter.q.is_some() {
            TrafficStore::index_pending(&mut conn)?;
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM exchanges {sql} ORDER BY id DESC LIMIT {limit}"
        ))?;
        let rows = stmt.query_map(params_from_iter(values.iter()), summary)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whole exchanges matching `filter`, newest first, at most `max` (for HAR export).
    pub fn exchanges(&self, filter: &TrafficFilter, max: usize) -> Result<Vec<Exchange>, Error> {
        let (sql, values) = where_clause(filter);
        let mut conn = self.lock();
        if filter.q.is_some() {
            TrafficStore::index_pending(&mut conn)?;
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM exchanges {sql} ORDER BY id DESC LIMIT {max}"
        ))?;
        let rows = stmt
            .query_map(params_from_iter(values.iter()), exchange)?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        drop(conn);
        Ok(with_previews(rows, &self.bodies_dir))
    }

    /// One exchange.
    pub fn get(&self, id: ExchangeId) -> Result<Option<Exchange>, Error> {
        let row = self
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM exchanges WHERE id = ?1"),
                [id],
                exchange,
            )
            .optional()?;
        Ok(row.and_then(|row| with_previews(vec![row], &self.bodies_dir).pop()))
    }

    /// Delete everything. The body previews go first: they hold most of the bytes, so on a
    /// full disk their room lets SQLite write the journal the deletion needs (were it to
    /// fail still, the rows left read with empty previews).
    pub fn clear(&self) -> Result<usize, Error> {
        let mut bodies = self.lock_bodies();
        bodies.clear().map_err(|source| self.bodies_error(source))?;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM exchanges_fts", [])?;
        let deleted = tx.execute("DELETE FROM exchanges", [])?;
        tx.commit()?;
        Ok(deleted)
    }

    /// Keep at most `max_count` exchanges, and delete the oldest recorded ones up to the
    /// first that started at or after `oldest` (Unix ms); returns how many were deleted.
    pub fn trim(&self, max_count: u64, oldest: i64, max_bytes: u64) -> Result<usize, Error> {
        self.trim_to(max_count, oldest, max_bytes)
            .map_err(|err| self.write_error(err))
    }

    fn trim_to(&self, max_count: u64, oldest: i64, max_bytes: u64) -> Result<usize, Error> {
        let mut bodies = self.lock_bodies();
        bodies.fit_to(max_bytes);
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        // Rows go oldest first, in the order they were recorded (by id): every row below
        // the cutoff goes. By count, the newest `max_count` rows stay: the cutoff is past the
        // oldest rows beyond them, found among the rows about to go (an offset from the
        // newest end would read every row kept, each trim). Counting reads the table's leaf
        // pages: 0.3 ms for a full log (100,000 rows, measured).
        let rows: i64 = tx.query_row("SELECT count(*) FROM exchanges", [], |r| r.get(0))?;
        let excess = rows.saturating_sub(i64::try_from(max_count).unwrap_or(i64::MAX));
        let by_count: Option<i64> = if excess > 0 {
            tx.query_row(
                "SELECT id + 1 FROM exchanges ORDER BY id LIMIT 1 OFFSET ?1",
                [excess - 1],
                |r| r.get(0),
            )
            .optional()?
        } else {
            None
        };
        // By age, up to the oldest row recorded that is recent enough: the scan from the
        // oldest end reads the rows about to go and one more. (An exchange imported from a
        // HAR file keeps the start time it had, however old: it goes with the rows recorded
        // around it, not at once.)
        let by_age: Option<i64> = tx.query_row(
            "SELECT coalesce( \
                (SELECT id FROM exchanges WHERE started_at >= ?1 ORDER BY id LIMIT 1), \
                (SELECT max(id) + 1 FROM exchanges))",
            [oldest],
            |r| r.get(0),
        )?;
        // `None` orders below any id.
        let cutoff = by_count.max(by_age).unwrap_or(0);
        // Only rows the full-text index has reached are in it (it catches up when searched):
        // deleting any other rowid from a contentless index would only add a tombstone.
        tx.execute(
            "DELETE FROM exchanges_fts WHERE rowid IN \
             (SELECT id FROM exchanges WHERE id < ?1 AND id <= \
              (SELECT indexed_through FROM fts_progress))",
            [cutoff],
        )?;
        let mut deleted = tx.execute("DELETE FROM exchanges WHERE id < ?1", [cutoff])?;
        let unlink = |bodies: &mut Bodies, tx: &rusqlite::Transaction<'_>| -> Result<(), Error> {
            bodies
                .remove_before(oldest_segment(tx)?)
                .map_err(|source| self.bodies_error(source))
        };
        unlink(&mut bodies, &tx)?;
        // Then by size: drop the oldest tenth until the pages in use and the body segments
        // fit. Freed pages are reused by later writes and whole segments are unlinked, so
        // the files stay near the bound instead of growing with every large body (a count
        // alone allows 100,000 one-MiB previews).
        for _ in 0..SIZE_TRIM_ROUNDS {
            if used_bytes(&tx)? + bodies.total_bytes() <= max_bytes {
                break;
            }
            let rows: i64 = tx.query_row("SELECT count(*) FROM exchanges", [], |r| r.get(0))?;
            if rows == 0 {
                break;
            }
            let oldest_tenth = (rows / 10).max(1);
            tx.execute(
                "DELETE FROM exchanges_fts WHERE rowid IN \
                 (SELECT id FROM exchanges WHERE id <= \
                  (SELECT indexed_through FROM fts_progress) ORDER BY id LIMIT ?1)",
                [oldest_tenth],
            )?;
            deleted += tx.execute(
                "DELETE FROM exchanges WHERE id IN (SELECT id FROM exchanges ORDER BY id LIMIT ?1)",
                [oldest_tenth],
            )?;
            unlink(&mut bodies, &tx)?;
        }
        tx.commit()?;
        Ok(deleted)
    }
}

/// Rows one `INSERT` writes: a statement's own cost (starting its program, halting, resetting)
/// is then shared by this many rows instead of paid by each.
pub(super) const ROWS_PER_INSERT: usize = 16;

/// `INSERT INTO exchanges` of `rows` rows, the parameters numbered row after row.
fn insert_sql(rows: usize) -> String {
    let columns = COLUMNS.split(',').count();
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let params: Vec<String> = (1..=columns)
                .map(|column| format!("?{}", row * columns + column))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    // `OR FAIL`: a failed row leaves the statement's earlier rows in place instead of undoing
    // them, and the caller then rolls the whole transaction back. Under the default `ABORT`
    // SQLite keeps a statement journal for a statement of several rows, copying every page
    // the transaction had already changed before the statement wrote to it (a 16 KiB page
    // per statement: 7% of the recorder's samples in a profile).
    format!(
        "INSERT OR FAIL INTO exchanges ({COLUMNS}) VALUES {}",
        values.join(", ")
    )
}

/// The statements [`insert_rows`] uses, built once.
static INSERT_ONE: LazyLock<String> = LazyLock::new(|| insert_sql(1));
static INSERT_MANY: LazyLock<String> = LazyLock::new(|| insert_sql(ROWS_PER_INSERT));

/// The rows of `exchanges`, with where their previews are, in one transaction.
fn insert_rows<E: Borrow<Exchange>>(
    conn: &mut Connection,
    exchanges: &[E],
    locations: &[Option<Location>],
) -> Result<(), Error> {
    let tx = conn.transaction()?;
    {
        let mut many = tx.prepare_cached(&INSERT_MANY)?;
        let mut one = tx.prepare_cached(&INSERT_ONE)?;
        let chunks = exchanges.chunks(ROWS_PER_INSERT);
        for (chunk, places) in chunks.zip(locations.chunks(ROWS_PER_INSERT)) {
            let rows = chunk.iter().map(Borrow::borrow).zip(places.iter().copied());
            if chunk.len() == ROWS_PER_INSERT {
                for (row, (e, location)) in rows.enumerate() {
                    bind_row(&mut many, row, e, location)?;
                }
                many.raw_execute()?;
            } else {
                for (e, location) in rows {
                    bind_row(&mut one, 0, e, location)?;
                    one.raw_execute()?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// Bind exchange `e` as the `row`th row of an [`insert_sql`] statement.
fn bind_row(
    statement: &mut rusqlite::Statement<'_>,
    row: usize,
    e: &Exchange,
    location: Option<Location>,
) -> Result<(), Error> {
    let websocket = e.websocket.as_ref().map(json).transpose()?;
    let values = params![
        e.id,
        e.started_at,
        e.method,
        e.scheme,
        e.host,
        e.path,
        e.query,
        e.version,
        e.client,
        e.route_id,
        e.route,
        e.upstream,
        e.status,
        e.duration_ms,
        e.ttfb_ms,
        e.bytes_in as i64,
        e.bytes_out as i64,
        e.error,
        e.error_side,
        e.error_code,
        e.request_headers.as_text(),
        e.response_headers.as_text(),
        b"".as_slice(),
        e.request_body.size as i64,
        b"".as_slice(),
        e.response_body.size as i64,
        websocket,
        e.replay_of,
        e.imported,
        e.cache,
        e.compression,
        location.map(|l| l.segment),
        location.map(|l| l.at as i64),
        location.map(|l| l.request_len as i64),
        location.map(|l| l.response_len as i64),
    ];
    let first = row * values.len();
    for (i, value) in values.iter().enumerate() {
        statement.raw_bind_parameter(first + i + 1, value)?;
    }
    Ok(())
}

/// The body segment of the oldest row that has one (segments only grow with ids).
fn oldest_segment(conn: &Connection) -> Result<Option<i64>, Error> {
    Ok(conn
        .query_row(
            "SELECT body_file FROM exchanges WHERE body_file IS NOT NULL ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// At most this many size-trimming rounds (a tenth of the rows each) per trim.
const SIZE_TRIM_ROUNDS: usize = 30;

/// Bytes of the database's pages that hold data (free pages excluded).
fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(((pages - free).max(0) * size) as u64)
}

/// Conditions joined by `AND`, with numbered parameters.
#[derive(Default)]
struct Where {
    conditions: Vec<String>,
    values: Vec<rusqlite::types::Value>,
}

impl Where {
    /// A condition with one `?`, and its value.
    fn add(&mut self, condition: &str, value: rusqlite::types::Value) {
        self.values.push(value);
        let numbered = condition.replace('?', &format!("?{}", self.values.len()));
        self.conditions.push(numbered);
    }

    /// A condition without a value.
    fn raw(&mut self, condition: &str) {
        self.conditions.push(condition.to_owned());
    }
}

/// `WHERE …` for a filter, with its values in order.
fn where_clause(filter: &TrafficFilter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut w = Where::default();
    if let Some(host) = &filter.host {
        w.add("host = ?", Value::Text(host.to_ascii_lowercase()));
    }
    if let Some(route) = filter.route_id {
        w.add("route_id = ?", Value::Integer(route));
    }
    if let Some(method) = &filter.method {
        w.add("method = ?", Value::Text(method.to_ascii_uppercase()));
    }
    match filter.status_class.as_deref().map(class_range) {
        Some(Some((lo, hi))) => {
            w.add("status >= ?", Value::Integer(lo.into()));
            w.add("status <= ?", Value::Integer(hi.into()));
        }
        Some(None) => w.raw("0"),
        None => {}
    }
    if let Some(status) = filter.status {
        w.add("status = ?", Value::Integer(status.into()));
    }
    if let Some(path) = &filter.path {
        w.add("instr(path, ?) > 0", Value::Text(path.clone()));
    }
    if let Some(ms) = filter.min_duration_ms {
        w.add("duration_ms >= ?", Value::Real(ms));
    }
    if filter.errors == Some(true) {
        w.raw("error IS NOT NULL");
    }
    if let Some(since) = filter.since {
        w.add("started_at >= ?", Value::Integer(since));
    }
    if let Some(until) = filter.until {
        w.add("started_at < ?", Value::Integer(until));
    }
    if let Some(before) = filter.before {
        w.add("id < ?", Value::Integer(before));
    }
    if let Some(q) = filter.q.as_deref().and_then(fts_query) {
        w.add(
            "id IN (SELECT rowid FROM exchanges_fts WHERE exchanges_fts MATCH ?)",
            Value::Text(q),
        );
    }
    if w.conditions.is_empty() {
        (String::new(), w.values)
    } else {
        (format!("WHERE {}", w.conditions.join(" AND ")), w.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows written before previews moved to segment files keep theirs in the row; rows
    /// written after read theirs from the segment; clearing removes both.
    #[test]
    fn previews_from_before_and_after_the_move_to_segments_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let mut conn = Connection::open(dir.path().join(TRAFFIC_FILE)).expect("open");
            rusqlite_migration::Migrations::new(MIGRATIONS[..2].to_vec())
                .to_latest(&mut conn)
                .expect("schema 2");
            conn.execute(
                "INSERT INTO exchanges (id, started_at, method, scheme, host, path, version, \
                 client, duration_ms, bytes_in, bytes_out, request_headers, response_headers, \
                 request_body, request_size, response_body, response_size) VALUES \
                 (7, 1, 'POST', 'http', 'a.localhost', '/old', 'HTTP/1.1', '127.0.0.1:1', 1.0, \
                  0, 0, '[]', '[]', X'6F6C642D726571', 7, X'6F6C642D72657370', 8)",
                [],
            )
            .expect("old row");
        }
        let traffic = TrafficStore::open_dir(dir.path()).expect("migrate");
        let old = traffic.get(7).expect("get").expect("old row");
        assert_eq!(old.request_body.bytes, b"old-req");
        assert_eq!(old.response_body.bytes, b"old-resp");

        let mut new = old.clone();
        new.id = 8;
        new.path = "/new".into();
        new.request_body.bytes = b"new-req".to_vec();
        new.response_body.bytes = vec![b'n'; 100_000];
        traffic.insert(&[new]).expect("insert");
        let read = traffic.get(8).expect("get").expect("new row");
        assert_eq!(read.request_body.bytes, b"new-req");
        assert_eq!(read.response_body.bytes.len(), 100_000);
        let in_rows: i64 = traffic
            .lock()
            .query_row(
                "SELECT length(response_body) FROM exchanges WHERE id = 8",
                [],
                |r| r.get(0),
            )
            .expect("length");
        assert_eq!(in_rows, 0, "the preview is in a segment, not the row");
        let listed = traffic
            .exchanges(&TrafficFilter::default(), 10)
            .expect("exchanges");
        assert_eq!(
            listed
                .iter()
                .map(|e| e.response_body.bytes.len())
                .collect::<Vec<_>>(),
            [100_000, 8]
        );

        assert_eq!(traffic.clear().expect("clear"), 2);
        assert_eq!(
            std::fs::read_dir(traffic.bodies_dir())
                .expect("dir")
                .count(),
            0,
            "clearing removes the segments"
        );
    }
}
