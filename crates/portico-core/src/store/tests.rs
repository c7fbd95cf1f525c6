use super::*;
use crate::config::{NewRoute, RoutePatch, Settings};

fn new_route(host: &str, path: &str) -> crate::config::ValidRoute {
    NewRoute {
        host: host.into(),
        path: Some(path.into()),
        upstreams: vec!["5173".into()],
        ..Default::default()
    }
    .validate()
    .expect("valid route")
}

#[test]
fn an_empty_database_migrates_to_the_latest_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_dir(&dir.path().join("data")).expect("open");
    let conn = store.lock();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version as usize, Store::schema_version());
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
}

#[cfg(unix)]
#[test]
fn the_data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    Store::open_dir(&data).expect("open");
    let mode = std::fs::metadata(&data).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn routes_round_trip_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_dir(dir.path()).expect("open");
    let a = store
        .insert_route(&new_route("app.localhost", "/"))
        .expect("insert");
    let b = store
        .insert_route(&new_route("app.localhost", "/api"))
        .expect("insert");
    let patched = RoutePatch {
        enabled: Some(false),
        ..Default::default()
    }
    .apply(&b)
    .expect("patch");
    store.update_route(&patched).expect("update");
    drop(store);

    let store = Store::open_dir(dir.path()).expect("reopen");
    let rows = store.list_routes().expect("list");
    assert!(rows.invalid.is_empty());
    assert_eq!(rows.routes, vec![a.clone(), patched]);
    store.delete_route(a.id).expect("delete");
    assert!(matches!(
        store.delete_route(a.id),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(store.list_routes().expect("list").routes.len(), 1);
}

#[test]
fn a_duplicate_host_and_path_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_dir(dir.path()).expect("open");
    store
        .insert_route(&new_route("app.localhost", "/api"))
        .expect("first");
    let err = store
        .insert_route(&new_route("APP.localhost", "/api/"))
        .expect_err("duplicate");
    assert!(matches!(err, Error::Duplicate { .. }), "{err}");
    assert!(err.to_string().contains("app.localhost/api"), "{err}");
}

#[test]
fn a_hand_edited_bad_row_is_reported_not_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_dir(dir.path()).expect("open");
    store
        .insert_route(&new_route("ok.localhost", "/"))
        .expect("insert");
    store
        .lock()
        .execute(
            "INSERT INTO routes (host, path, upstreams, timeout_ms) VALUES ('bad host', '/', '[\"x\"]', 1000)",
            [],
        )
        .expect("raw insert");
    let rows = store.list_routes().expect("list");
    assert_eq!(rows.routes.len(), 1);
    assert_eq!(rows.invalid.len(), 1);
    assert_eq!(rows.invalid[0].host, "bad host");
}

#[test]
fn settings_default_then_persist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_dir(dir.path()).expect("open");
    assert_eq!(store.settings().expect("settings"), Settings::default());
    let changed = Settings {
        shutdown_grace_ms: 1234,
        ..Settings::default()
    };
    store.put_settings(&changed).expect("put");
    drop(store);
    let store = Store::open_dir(dir.path()).expect("reopen");
    assert_eq!(store.settings().expect("settings"), changed);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE);
    let junk = b"this is my thesis, not a database\n".repeat(200);
    std::fs::write(&path, &junk).expect("write");
    let err = Store::open(&path).expect_err("not sqlite");
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), junk);
}

#[test]
fn another_programs_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE);
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
            .expect("create");
    }
    let before = std::fs::read(&path).expect("read");
    let err = Store::open(&path).expect_err("foreign");
    assert!(matches!(err, Error::Foreign { .. }), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn a_database_from_a_newer_portico_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE);
    drop(Store::open(&path).expect("create"));
    {
        let conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", 99).expect("bump");
    }
    let err = Store::open(&path).expect_err("too new");
    assert!(matches!(err, Error::TooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer Portico"), "{err}");
}

#[test]
fn data_version_moves_when_another_connection_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine_side = Store::open_dir(dir.path()).expect("open");
    let cli_side = Store::open_dir(dir.path()).expect("open");
    let before = engine_side.data_version().expect("version");
    cli_side
        .insert_route(&new_route("app.localhost", "/"))
        .expect("insert");
    assert_ne!(engine_side.data_version().expect("version"), before);
}

#[test]
fn a_database_of_the_previous_schema_moves_forward_with_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE);
    {
        let mut conn = Connection::open(&path).expect("open");
        Migrations::from_slice(&MIGRATIONS[..1])
            .to_latest(&mut conn)
            .expect("schema 1");
        conn.execute(
            "INSERT INTO routes (host, path, upstreams, strip_prefix, upstream_host, timeout_ms, enabled)
             VALUES ('app.localhost', '/api', '[\"http://localhost:5173\"]', 1, 0, 5000, 0)",
            [],
        )
        .expect("a route of release 1");
    }
    let store = Store::open(&path).expect("migrate");
    let rows = store.list_routes().expect("list");
    assert!(rows.invalid.is_empty());
    let route = &rows.routes[0];
    assert_eq!(route.host.to_string(), "app.localhost");
    assert_eq!(route.path.as_str(), "/api");
    assert_eq!(route.target().to_string(), "http://localhost:5173");
    assert!(route.strip_prefix);
    assert_eq!(route.timeout_ms, 5000);
    assert!(!route.enabled);
    assert!(route.https_redirect, "new column takes its default");
}

#[test]
fn certificates_are_kept_per_host_and_only_for_the_current_issuer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_dir(dir.path()).expect("open");
    let cert = |host: &str, issuer: &str| StoredCertificate {
        host: host.into(),
        cert_pem: format!("cert {host}"),
        key_pem: format!("key {host}"),
        not_after: 1_900_000_000,
        issuer: issuer.into(),
    };
    store
        .put_certificate(&cert("a.localhost", "old"))
        .expect("put");
    store
        .put_certificate(&cert("b.localhost", "old"))
        .expect("put");
    assert_eq!(store.certificates("old").expect("list").len(), 2);
    store
        .put_certificate(&cert("a.localhost", "new"))
        .expect("put");
    assert!(store.certificates("old").expect("list").is_empty());
    assert_eq!(
        store.certificates("new").expect("list"),
        vec![cert("a.localhost", "new")]
    );
}

fn exchange(id: i64, path: &str, header: &str) -> crate::inspect::event::Exchange {
    let mut e = crate::inspect::event::Exchange::empty();
    e.id = id;
    e.method = "GET".into();
    e.scheme = "http".into();
    e.host = "app.localhost".into();
    e.path = path.into();
    e.version = "HTTP/1.1".into();
    e.client = "127.0.0.1:1".into();
    e.request_headers = vec![("x-trace", header)].into();
    e
}

/// Rows go in several to a statement: a batch of any length stores every exchange whole, each
/// field in its own column of its own row, whatever its place in the batch.
#[test]
fn a_batch_of_any_length_stores_every_exchange_whole() {
    use crate::inspect::event::{Preview, WebSocketStats};
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = TrafficStore::open_dir(dir.path()).expect("open");
    // Two statements' worth of rows, then single rows.
    let count = 2 * super::traffic::ROWS_PER_INSERT as i64 + 5;
    let rows: Vec<_> = (1..=count)
        .map(|i| {
            let mut e = exchange(i, &format!("/row/{i}"), &format!("header {i}"));
            let odd = i % 2 == 1;
            e.started_at = 1_700_000_000_000 + i;
            e.method = if odd { "POST" } else { "GET" }.into();
            e.query = odd.then(|| format!("n={i}"));
            e.client = format!("127.0.0.2:{}", 40_000 + i);
            e.route_id = odd.then_some(i * 10);
            e.route = odd.then(|| format!("route {i}"));
            e.upstream = Some(format!("http://127.0.0.1:{}", 5_000 + i));
            e.status = Some(200 + u16::try_from(i).expect("small"));
            e.duration_ms = i as f64 + 0.5;
            e.ttfb_ms = (!odd).then_some(i as f64 / 4.0);
            e.bytes_in = 100 + i as u64;
            e.bytes_out = 1_000 + i as u64;
            e.error = odd.then(|| format!("error {i}"));
            e.error_side = odd.then(|| "upstream".into());
            e.error_code = odd.then(|| format!("code-{i}"));
            e.response_headers = vec![("x-row", format!("{i}").as_str())].into();
            e.request_body = Preview {
                bytes: format!("request {i}").into_bytes(),
                size: 50 + i as u64,
            };
            e.response_body = Preview {
                bytes: format!("response {i}").into_bytes(),
                size: 60 + i as u64,
            };
            e.websocket = (i % 3 == 0).then(|| WebSocketStats {
                frames_in: i as u64,
                frames_out: 2 * i as u64,
                bytes_in: 3 * i as u64,
                bytes_out: 4 * i as u64,
                closed: odd,
            });
            e.replay_of = (i % 4 == 0).then_some(i - 1);
            e.imported = i % 5 == 0;
            e.cache = odd.then(|| "hit".into());
            e.compression = (!odd).then(|| "br".into());
            e
        })
        .collect();
    traffic.insert(&rows).expect("insert");
    for e in &rows {
        assert_eq!(
            traffic.get(e.id).expect("get").as_ref(),
            Some(e),
            "row {}",
            e.id
        );
    }
    assert_eq!(traffic.max_id().expect("max"), count);
}

/// A batch is stored whole or not at all: a row that fails in the middle of a statement of
/// several rows takes the statement's earlier rows, and the statements before it, with it.
#[test]
fn a_batch_with_a_failing_row_stores_none_of_its_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = TrafficStore::open_dir(dir.path()).expect("open");
    let per = super::traffic::ROWS_PER_INSERT as i64;
    traffic
        .insert(&[exchange(per + 3, "/stored", "before")])
        .expect("first row");
    // A full statement, then one whose third row repeats the stored row's id.
    let batch: Vec<_> = (1..=2 * per)
        .map(|i| exchange(i, &format!("/batch/{i}"), "batch"))
        .collect();
    let err = traffic.insert(&batch).expect_err("a repeated id fails");
    assert!(err.to_string().contains("UNIQUE"), "{err}");
    let stored = traffic
        .list(&TrafficFilter::default())
        .expect("list")
        .into_iter()
        .map(|s| s.path)
        .collect::<Vec<_>>();
    assert_eq!(stored, ["/stored"]);
    // The store takes the next batch as before.
    traffic
        .insert(&[exchange(per + 4, "/after", "after")])
        .expect("next batch");
    assert_eq!(traffic.max_id().expect("max"), per + 4);
}

#[test]
fn the_search_index_catches_up_on_demand_and_ids_never_fall_below_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = TrafficStore::open_dir(dir.path()).expect("open");
    traffic
        .insert(&[exchange(1, "/a", "alpha"), exchange(2, "/b", "beta")])
        .expect("insert");
    let search = |q: &str| {
        let filter = TrafficFilter {
            q: Some(q.into()),
            ..Default::default()
        };
        traffic
            .list(&filter)
            .expect("list")
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(search("beta"), vec![2]);
    traffic
        .insert(&[exchange(3, "/c", "gamma")])
        .expect("insert");
    assert_eq!(
        search("gamma"),
        vec![3],
        "rows recorded after a search are indexed by the next"
    );
    assert_eq!(search("app.localhost/a"), vec![1]);
    // Retention reaches past what the index holds: the indexed rows leave it, the others
    // were never in it, and the next search indexes the rest.
    traffic
        .insert(&[exchange(4, "/d", "delta"), exchange(5, "/e", "delta")])
        .expect("insert");
    traffic.trim(1, 0, u64::MAX).expect("trim to one");
    assert_eq!(search("app.localhost"), vec![5]);
    assert_eq!(search("delta"), vec![5]);
    assert_eq!(search("gamma"), Vec::<i64>::new());
    traffic
        .trim(0, i64::MAX, u64::MAX)
        .expect("trim everything");
    drop(traffic);
    let reopened = TrafficStore::open_dir(dir.path()).expect("reopen");
    assert!(
        reopened.max_id().expect("max") >= 3,
        "new ids must stay above indexed ones"
    );
}

#[test]
fn traffic_is_trimmed_to_its_size_bound_oldest_first_and_the_file_stops_growing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = TrafficStore::open_dir(dir.path()).expect("open");
    let with_body = |id: i64| {
        let mut e = exchange(id, "/big", "x");
        // Each body differs: identical ones would be stored once (see `bodies`).
        e.response_body.bytes = vec![b'z'; 64 * 1024];
        e.response_body.bytes[..8].copy_from_slice(&id.to_le_bytes());
        e.response_body.size = 64 * 1024;
        e
    };
    let bound: u64 = 2 << 20;
    // The database and the body segments beside it.
    let file_size = || {
        let segments: u64 = std::fs::read_dir(traffic.bodies_dir())
            .expect("bodies")
            .map(|entry| entry.expect("entry").metadata().expect("meta").len())
            .sum();
        std::fs::metadata(traffic.path()).expect("file").len() + segments
    };
    let mut sizes = Vec::new();
    traffic.fit_bodies(bound); // as the engine does at start
    // Ten rounds of 4 MiB against a 2 MiB bound, trimming after each as the recorder does.
    for round in 0..10 {
        let batch: Vec<_> = (0..64).map(|i| with_body(round * 64 + i + 1)).collect();
        traffic.insert(&batch).expect("insert");
        traffic.trim(u64::MAX, 0, bound).expect("trim");
        sizes.push(file_size());
    }
    let kept = traffic
        .exchanges(&TrafficFilter::default(), 10_000)
        .expect("list");
    let kept_bytes: u64 = kept
        .iter()
        .map(|e| e.response_body.bytes.len() as u64)
        .sum();
    assert!(kept_bytes <= bound, "kept {kept_bytes} bytes of previews");
    assert!(!kept.is_empty(), "the newest exchanges stay");
    assert_eq!(kept[0].id, 640, "newest first, and the newest is kept");
    let ids: Vec<i64> = kept.iter().map(|e| e.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1] + 1),
        "the oldest went first, leaving one contiguous run: {ids:?}"
    );
    // Freed pages are reused and whole segments unlinked: after the first rounds the files
    // no longer grow, and stay near the bound.
    assert!(
        sizes[9] <= sizes[3] + (1 << 20),
        "the files kept growing: {sizes:?}"
    );
    assert!(sizes.iter().all(|s| *s <= bound + (1 << 20)), "{sizes:?}");
}

/// The live stream's free-text match agrees with the full-text index's, query by query.
#[test]
fn live_free_text_matches_what_the_index_finds() {
    use crate::inspect::recorder::{LiveExchange, search_text};
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = TrafficStore::open_dir(dir.path()).expect("open");
    let mut rows = vec![
        exchange(1, "/api/users/7", "Alpha-Beta"),
        exchange(2, "/api/orders", "gamma delta"),
        exchange(3, "/static/app.js", "Émile"),
    ];
    rows[1].query = Some("page=2&sort=desc".into());
    rows[2].response_headers = vec![("content-type", "text/javascript")].into();
    traffic.insert(&rows).expect("insert");
    let live: Vec<LiveExchange> = rows
        .iter()
        .map(|e| LiveExchange {
            summary: crate::inspect::event::Summary::from(e),
            text: search_text(e),
        })
        .collect();
    for q in [
        "api",
        "API/users",
        "users/7",
        "user",
        "sers",
        "alpha-beta",
        "beta",
        "beta alpha",
        "alpha gamma",
        "page=2",
        "sort",
        "desc page",
        "javascript",
        "java",
        "text/java",
        "content-type: text",
        "émile",
        "app.localhost/static",
        "http://app",
        "x-trace",
        "nothing",
        "gamma delta",
        "delta gamma",
        "7",
        "alpha\0beta",
        "\u{f}users\0",
        "\0",
        "\u{1}\u{2}",
        "- alpha",
    ] {
        let filter = TrafficFilter {
            q: Some(q.into()),
            ..Default::default()
        };
        let mut indexed: Vec<i64> = traffic
            .list(&filter)
            .expect("list")
            .iter()
            .map(|s| s.id)
            .collect();
        indexed.sort_unstable();
        let streamed: Vec<i64> = live
            .iter()
            .filter(|e| filter.matches_live(e))
            .map(|e| e.summary.id)
            .collect();
        assert_eq!(streamed, indexed, "{q:?}");
    }
}

#[test]
fn a_database_cut_short_is_refused_as_damaged_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(DB_FILE);
    {
        let store = Store::open(&path).expect("create");
        for i in 0..300 {
            store
                .insert_route(&new_route(&format!("app-{i}.localhost"), "/"))
                .expect("insert");
        }
    }
    let len = std::fs::metadata(&path).expect("stat").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate");
    let before = std::fs::read(&path).expect("read");
    let err = Store::open(&path).expect_err("damaged");
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(".recover"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

/// A `traffic.db` found damaged by a write (here: pages overwritten behind SQLite's back) is
/// moved aside with its previews, and the next write goes to a new one.
#[test]
fn a_traffic_db_found_damaged_while_writing_is_moved_aside_and_writing_goes_on() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = TrafficStore::open_dir(dir.path()).expect("open");
    let batch: Vec<_> = (1..=200)
        .map(|id| exchange(id, &format!("/before/{id}"), &"h".repeat(500)))
        .collect();
    traffic.insert(&batch).expect("insert");
    {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(traffic.path())
            .expect("open the file");
        // Every page after the first, and a new change counter so SQLite drops its cache.
        let len = file.metadata().expect("stat").len();
        file.seek(SeekFrom::Start(4096)).expect("seek");
        file.write_all(&vec![0xa5; (len - 4096) as usize])
            .expect("overwrite");
        file.seek(SeekFrom::Start(24)).expect("seek");
        file.write_all(&[0x7f, 0, 0, 1]).expect("counter");
    }
    let err = traffic
        .insert(&[exchange(201, "/during", "x")])
        .expect_err("a damaged file");
    assert!(err.damage().is_some(), "{err}");
    let replaced = traffic
        .replace_if_damaged(&err)
        .expect("move aside")
        .expect("it was damaged");
    assert!(replaced.backup.exists(), "{replaced}");
    assert_eq!(traffic.replaced(), Some(replaced));
    traffic
        .insert(&[exchange(202, "/after", "x")])
        .expect("insert into the new file");
    let ids: Vec<i64> = traffic
        .list(&TrafficFilter::default())
        .expect("list")
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [202]);
    let full = Error::Sqlite(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
        None,
    ));
    assert_eq!(
        traffic.replace_if_damaged(&full).expect("nothing to do"),
        None,
        "a full disk is not damage"
    );
}

/// The traffic log never passes through WAL mode, not even while it is opened and migrated:
/// WAL's shared-memory index needs room on the disk, so on a full disk opening it failed and
/// the engine could not start. Here a folder stands where that index would be created.
#[test]
fn traffic_db_is_opened_with_a_rollback_journal_and_no_wal_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("traffic.db-shm")).expect("block the index");
    let traffic = TrafficStore::open_dir(dir.path()).expect("open");
    traffic.insert(&[exchange(1, "/a", "x")]).expect("insert");
    drop(traffic);
    let traffic = TrafficStore::open_dir(dir.path()).expect("reopen");
    assert_eq!(
        traffic.list(&TrafficFilter::default()).expect("list").len(),
        1
    );
    assert!(!dir.path().join("traffic.db-wal").exists());
}

mod properties {
    //! Whatever validation accepts, the store gives back unchanged, and it still validates
    //! when read (a row that does not is reported invalid, so this would be a lost route).

    use proptest::prelude::*;

    use super::*;
    use crate::config::arbitrary;

    /// One store for every case, emptied after each: opening one per case would cost more
    /// than the cases.
    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_dir(dir.path()).expect("open");
        (dir, store)
    }

    #[test]
    fn accepted_routes_and_patches_come_back_from_the_store_unchanged() {
        let (_dir, store) = store();
        let valid_routes =
            arbitrary::new_route().prop_filter_map("valid routes", |r| r.validate().ok());
        proptest!(
            ProptestConfig::with_cases(256),
            |(route in valid_routes, patch in arbitrary::route_patch())| {
                let inserted = store.insert_route(&route).expect("a valid route is stored");
                prop_assert_eq!(store.route(inserted.id).expect("read back"), inserted.clone());
                if let Ok(patched) = patch.apply(&inserted) {
                    store.update_route(&patched).expect("a patched route is stored");
                    prop_assert_eq!(store.route(inserted.id).expect("read back"), patched);
                }
                let rows = store.list_routes().expect("list");
                prop_assert!(rows.invalid.is_empty(), "{:?}", rows.invalid);
                store.delete_route(inserted.id).expect("delete");
            }
        );
    }

    #[test]
    fn accepted_settings_come_back_from_the_store_unchanged() {
        let (_dir, store) = store();
        let valid_settings = arbitrary::settings()
            .prop_filter_map("valid settings", |mut s| s.validate().ok().map(|()| s));
        proptest!(
            ProptestConfig::with_cases(256),
            |(settings in valid_settings)| {
                store.put_settings(&settings).expect("valid settings are stored");
                prop_assert_eq!(store.settings().expect("read back"), settings);
            }
        );
    }
}

#[test]
fn trimming_by_count_keeps_exactly_the_newest_rows_whatever_the_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = TrafficStore::open_dir(dir.path()).expect("open");
    // Ids with gaps, as paused capture and routes with capture off leave them.
    let rows: Vec<_> = (1..=10).map(|i| exchange(i * 2, "/r", "x")).collect();
    traffic.insert(&rows).expect("insert");
    let ids = || {
        let mut ids: Vec<i64> = traffic
            .exchanges(&TrafficFilter::default(), 100)
            .expect("list")
            .iter()
            .map(|e| e.id)
            .collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(
        traffic.trim(20, 0, u64::MAX).expect("trim"),
        0,
        "under the count"
    );
    assert_eq!(ids().len(), 10);
    assert_eq!(traffic.trim(3, 0, u64::MAX).expect("trim"), 7);
    assert_eq!(ids(), vec![16, 18, 20]);
    assert_eq!(
        traffic.trim(3, 0, u64::MAX).expect("trim"),
        0,
        "exactly at the count"
    );
}

/// Age trims from the oldest recorded row up to the first recent enough one: the rows before
/// it go, the rows after it stay, even one started long ago (imported from a HAR file) while
/// recent rows were recorded before it; once nothing recent is left, everything goes.
#[test]
fn trimming_by_age_deletes_the_oldest_recorded_rows_up_to_the_first_recent_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = TrafficStore::open_dir(dir.path()).expect("open");
    let started = [(1, 100), (2, 200), (3, 300), (4, 400), (5, 50), (6, 500)];
    let rows: Vec<_> = started
        .iter()
        .map(|&(id, at)| {
            let mut e = exchange(id, "/r", "x");
            e.started_at = at;
            e
        })
        .collect();
    traffic.insert(&rows).expect("insert");
    let ids = || {
        let mut ids: Vec<i64> = traffic
            .list(&TrafficFilter::default())
            .expect("list")
            .iter()
            .map(|s| s.id)
            .collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(traffic.trim(100, 100, u64::MAX).expect("trim"), 0);
    assert_eq!(traffic.trim(100, 250, u64::MAX).expect("trim"), 2);
    assert_eq!(ids(), [3, 4, 5, 6], "row 5 follows recent rows");
    assert_eq!(
        traffic.trim(100, 450, u64::MAX).expect("trim"),
        3,
        "row 5 goes with the rows recorded before it"
    );
    assert_eq!(ids(), [6]);
    assert_eq!(traffic.trim(100, 501, u64::MAX).expect("trim"), 1);
    assert_eq!(ids(), Vec::<i64>::new());
    assert_eq!(traffic.trim(100, 501, u64::MAX).expect("trim"), 0, "empty");
}

/// `traffic.db` is written in large pages; a file from before them is rewritten with them
/// when opened, every row and its previews kept.
#[test]
fn a_traffic_db_with_small_pages_is_rewritten_with_large_ones_and_keeps_its_rows() {
    let page_size = |path: &std::path::Path| -> i64 {
        Connection::open(path)
            .expect("open")
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size")
    };
    let new = tempfile::tempdir().expect("tempdir");
    drop(TrafficStore::open_dir(new.path()).expect("open"));
    assert_eq!(page_size(&new.path().join("traffic.db")), 16_384);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("traffic.db");
    {
        let traffic = TrafficStore::open_dir(dir.path()).expect("open");
        let mut rows: Vec<_> = (1..=300).map(|i| exchange(i, "/r", "x")).collect();
        rows[7].response_body.bytes = b"kept".to_vec();
        rows[7].response_body.size = 4;
        traffic.insert(&rows).expect("insert");
    }
    // Back to the page size of earlier versions, as they left their files.
    let conn = Connection::open(&path).expect("open");
    conn.execute_batch("PRAGMA page_size = 4096; VACUUM")
        .expect("small pages");
    drop(conn);
    assert_eq!(page_size(&path), 4096);

    let traffic = TrafficStore::open_dir(dir.path()).expect("reopen");
    assert_eq!(page_size(&path), 16_384);
    let listed = traffic
        .exchanges(&TrafficFilter::default(), 1000)
        .expect("list");
    assert_eq!(listed.len(), 300);
    assert_eq!(
        traffic
            .get(8)
            .expect("get")
            .expect("row 8")
            .response_body
            .bytes,
        b"kept"
    );
    assert!(traffic.replaced().is_none(), "converted, not set aside");
}
