//! The block rewrite as properties over arbitrary hosts files, and the file edits against real
//! files in temporary folders: backups, unchanged files left alone, symlinks, another program
//! editing the file in a loop meanwhile, and two writers at once.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// A hosts file's lines: entries, comments, blanks, odd spacing, markers quoted in comments.
fn any_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "(127\\.0\\.0\\.1|::1|10\\.1\\.2\\.3|fe80::1)[ \t]{1,3}[a-z]{1,8}(\\.[a-z]{1,5})?( #[ a-z]{0,6})?",
        "#[ -~]{0,30}",
        Just(String::new()),
        "[ \t]{1,4}",
        Just("# BEGIN Portico is a nice name".to_owned()),
        "[a-z0-9 .:]{0,20}",
    ]
}

/// A whole file: lines joined with LF or CRLF, with or without a final line ending.
fn any_file() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(any_line(), 0..12),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, crlf, final_eol)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text = lines.join(eol);
            if final_eol && !lines.is_empty() {
                text.push_str(eol);
            }
            text
        })
}

fn any_names() -> impl Strategy<Value = BTreeSet<String>> {
    prop::collection::btree_set("[a-z]{1,6}\\.(test|internal|localhost)", 0..6)
}

proptest! {
    #![proptest_config(cases())]

    /// Adding a block and removing it gives back the file byte for byte; the block maps
    /// exactly the names; rewriting is idempotent; a rewrite to other names keeps every byte
    /// outside the block.
    #[test]
    fn the_block_rewrite_keeps_every_other_byte(
        file in any_file(),
        first in any_names(),
        second in any_names(),
    ) {
        let with = rewrite(&file, &first).expect("a file without a block can take one");
        prop_assert_eq!(managed_names(&with), first.iter().cloned().collect::<Vec<_>>());
        prop_assert_eq!(&remove(&with).expect("remove"), &file);
        prop_assert_eq!(&rewrite(&with, &first).expect("again"), &with);
        let changed = rewrite(&with, &second).expect("change");
        prop_assert_eq!(managed_names(&changed), second.iter().cloned().collect::<Vec<_>>());
        prop_assert_eq!(&remove(&changed).expect("remove"), &file);
        // Every foreign line is still there, in order.
        let foreign: Vec<&str> = file.lines().collect();
        let kept: Vec<&str> = changed
            .lines()
            .filter(|l| {
                let l = l.trim_end();
                !(l == BEGIN || l == END || l.starts_with("127.0.0.1 ") && second.contains(&l[10..])
                    || l.starts_with("::1 ") && second.contains(&l[4..]))
            })
            .collect();
        prop_assert_eq!(kept, foreign);
        // The block uses the file's own line endings.
        if file.contains("\r\n") && !second.is_empty() {
            let begin = format!("{BEGIN}\r\n");
            prop_assert!(changed.contains(&begin));
        }
    }
}

/// The file parses: its markers pair up, and there is at most one block.
fn check_well_formed(text: &str) {
    assert!(rewrite(text, &BTreeSet::new()).is_ok(), "{text:?}");
    let begins = text.lines().filter(|l| l.trim_end() == BEGIN).count();
    assert!(begins <= 1, "{text:?}");
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn route(host: &str, enabled: bool) -> Route {
    let mut route = crate::config::NewRoute {
        host: host.to_owned(),
        upstreams: vec!["http://127.0.0.1:3000".into()],
        ..crate::config::NewRoute::default()
    }
    .validate()
    .expect("a valid route")
    .with_id(1);
    route.enabled = enabled;
    route
}

#[test]
fn wanted_names_leave_out_wildcards_disabled_routes_and_resolving_localhost_names() {
    let routes = [
        route("app.test", true),
        route("off.test", false),
        route("*.wild.test", true),
        route("shop.localhost", true),
        route("localhost", true),
        route("api.internal", true),
    ];
    let without = wanted(&routes, false);
    assert_eq!(
        without.names,
        names(&["api.internal", "app.test", "shop.localhost"])
    );
    assert_eq!(without.wildcards, names(&["*.wild.test"]));
    let with = wanted(&routes, true);
    assert_eq!(with.names, names(&["api.internal", "app.test"]));
}

#[test]
fn names_a_foreign_line_already_maps_to_loopback_stay_out_of_the_block() {
    let text = "127.0.0.1 mine.test\n10.0.0.1 elsewhere.test\n";
    let wanted = names(&["mine.test", "elsewhere.test", "new.test"]);
    assert_eq!(
        block_names(text, &wanted),
        names(&["elsewhere.test", "new.test"])
    );
}

#[test]
fn the_command_names_the_data_dir_and_a_hosts_file_that_is_not_the_default() {
    let plain = command("sync", Path::new("/home/me/.local/share/portico"), None);
    assert_eq!(
        plain,
        "sudo portico hosts sync --data-dir /home/me/.local/share/portico"
    );
    let quoted = command(
        "remove",
        Path::new("/tmp/my data"),
        Some(Path::new("/tmp/it's/hosts")),
    );
    assert_eq!(
        quoted,
        "sudo portico hosts remove --data-dir '/tmp/my data' --hosts-file '/tmp/it'\\''s/hosts'"
    );
}

/// A temporary folder with a hosts file holding `text`.
fn hosts_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hosts");
    std::fs::write(&path, text).expect("write hosts");
    (dir, path)
}

fn sync_to(path: &Path, wanted: &BTreeSet<String>) -> Result<Edited, Error> {
    let wanted = wanted.clone();
    edit(path, None, move |text| {
        rewrite(text, &block_names(text, &wanted))
    })
}

#[test]
fn an_edit_adds_changes_and_removes_with_a_backup_of_what_was_there() {
    let original = "127.0.0.1 localhost\n# keep me\n10.0.0.1 nas";
    let (dir, path) = hosts_file(original);
    let added = sync_to(&path, &names(&["a.test"])).expect("add");
    let backup = dir.path().join("hosts.portico-backup");
    assert_eq!(
        added,
        Edited {
            changed: true,
            backup: Some(backup.clone())
        }
    );
    assert_eq!(std::fs::read_to_string(&backup).expect("backup"), original);
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(managed_names(&text), vec!["a.test"]);

    sync_to(&path, &names(&["b.test", "c.test"])).expect("change");
    let changed = std::fs::read_to_string(&path).expect("read");
    assert_eq!(managed_names(&changed), vec!["b.test", "c.test"]);
    assert_eq!(std::fs::read_to_string(&backup).expect("backup"), text);

    let removed = edit(&path, None, remove).expect("remove");
    assert!(removed.changed);
    assert_eq!(std::fs::read_to_string(&path).expect("read"), original);
    // Nothing left behind but the backup.
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec!["hosts", "hosts.portico-backup"]);
}

#[cfg(unix)]
#[test]
fn an_unchanged_file_is_not_written_and_a_replaced_one_keeps_its_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (_dir, path) = hosts_file("127.0.0.1 localhost\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    sync_to(&path, &names(&["a.test"])).expect("add");
    let meta = std::fs::metadata(&path).expect("meta");
    assert_eq!(meta.mode() & 0o777, 0o640);
    let again = sync_to(&path, &names(&["a.test"])).expect("again");
    assert_eq!(
        again,
        Edited {
            changed: false,
            backup: None
        }
    );
    assert_eq!(std::fs::metadata(&path).expect("meta").ino(), meta.ino());
}

#[cfg(unix)]
#[test]
fn a_symlinked_hosts_file_is_edited_where_it_points() {
    let (dir, target) = hosts_file("127.0.0.1 localhost\n");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    sync_to(&link, &names(&["a.test"])).expect("sync");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        managed_names(&std::fs::read_to_string(&target).expect("read")),
        vec!["a.test"]
    );
}

#[test]
fn an_absent_file_is_created_with_the_block() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("hosts");
    sync_to(&path, &names(&["a.test"])).expect("sync");
    assert_eq!(
        managed_names(&std::fs::read_to_string(&path).expect("read")),
        vec!["a.test"]
    );
}

#[test]
fn a_broken_block_is_refused_and_the_file_left_alone() {
    let text = format!("127.0.0.1 localhost\n{BEGIN}\n127.0.0.1 a.test\n");
    let (_dir, path) = hosts_file(&text);
    match sync_to(&path, &names(&["b.test"])) {
        Err(err @ Error::Malformed { .. }) => {
            let message = err.to_string();
            assert!(
                message.contains("hosts") && message.contains("line 2"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}

/// Another program edits the file in a loop, by both of the ways editors do (appending in
/// place, and writing a new file and renaming it over), while Portico rewrites its block
/// again and again with different names. No foreign line may be lost, and the file must
/// parse at every moment.
#[test]
fn a_foreign_writer_editing_meanwhile_loses_nothing() {
    let (_dir, path) = hosts_file("127.0.0.1 localhost\n");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let foreign = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut written = Vec::new();
            for i in 0..200 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let line = format!("10.9.{}.{} foreign-{i}.lan", i / 250, i % 250);
                if i % 2 == 0 {
                    let mut file = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&path)
                        .expect("open to append");
                    file.write_all(format!("{line}\n").as_bytes())
                        .expect("append");
                } else {
                    let text = std::fs::read_to_string(&path).expect("read");
                    let temp = path.with_file_name(format!(".foreign-{i}"));
                    std::fs::write(&temp, format!("{text}{line}\n")).expect("write temp");
                    std::fs::rename(&temp, &path).expect("rename");
                }
                written.push(line);
                std::thread::sleep(Duration::from_millis(8));
            }
            written
        })
    };
    let reader = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && reads < 100_000 {
                let text = std::fs::read_to_string(&path).expect("the file is always there");
                assert!(text.starts_with("127.0.0.1 localhost\n"), "{text:?}");
                check_well_formed(&text);
                reads += 1;
            }
            reads
        })
    };
    let sets = [
        names(&["a.test"]),
        names(&["a.test", "b.test"]),
        names(&["c.test"]),
        BTreeSet::new(),
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut syncs = 0;
    while !foreign.is_finished() && Instant::now() < deadline {
        sync_to(&path, &sets[syncs % sets.len()]).expect("sync");
        syncs += 1;
    }
    let written = foreign.join().expect("foreign writer");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.join().expect("reader");
    sync_to(&path, &names(&["z.test"])).expect("last sync");
    let text = std::fs::read_to_string(&path).expect("read");
    for line in &written {
        assert!(
            text.contains(&format!("{line}\n")),
            "lost {line:?} after {syncs} syncs:\n{text}"
        );
    }
    assert_eq!(managed_names(&text), vec!["z.test"]);
    // Each sync watches the replaced file for a moment and starts over when this writer
    // changed it meanwhile, so not that many finish.
    assert!(syncs >= 10 && reads > 10, "syncs {syncs}, reads {reads}");
}

/// A program that opened the file before Portico swapped it and writes some milliseconds
/// later (preempted between the two, as on a loaded machine) still loses nothing: the swap is
/// undone once its write shows, and the edit is made on top of its text.
#[test]
fn a_program_that_appends_well_after_opening_loses_nothing() {
    use std::os::unix::fs::MetadataExt;
    let (_dir, path) = hosts_file("127.0.0.1 localhost\n");
    let mut held = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open to append");
    let inode = held.metadata().expect("stat").ino();
    let late = {
        let path = path.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::fs::metadata(&path).expect("stat").ino() == inode {
                assert!(Instant::now() < deadline, "the file was never replaced");
                std::thread::sleep(Duration::from_micros(200));
            }
            // Well past the moment the replaced file used to be checked (3 ms).
            std::thread::sleep(Duration::from_millis(12));
            held.write_all(b"10.9.0.1 late.lan\n").expect("append");
        })
    };
    sync_to(&path, &names(&["a.test"])).expect("sync");
    late.join().expect("late writer");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.starts_with("127.0.0.1 localhost\n10.9.0.1 late.lan\n"),
        "{text}"
    );
    assert_eq!(managed_names(&text), vec!["a.test"]);
}

/// Two writers (threads here; the lock is a file lock, so processes too) syncing different
/// names at once: each edit is whole, and the last one wins.
#[test]
fn two_writers_at_once_take_turns() {
    let (_dir, path) = hosts_file("127.0.0.1 localhost\n# mine\n");
    let writers: Vec<_> = [names(&["a.test"]), names(&["b.test", "c.test"])]
        .into_iter()
        .map(|set| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Each sync that changes the file watches the one it replaced for 50 ms.
                for _ in 0..30 {
                    sync_to(&path, &set).expect("sync");
                    let text = std::fs::read_to_string(&path).expect("read");
                    check_well_formed(&text);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.starts_with("127.0.0.1 localhost\n# mine\n"), "{text}");
    let found = managed_names(&text);
    assert!(
        found == vec!["a.test"] || found == vec!["b.test", "c.test"],
        "{found:?}"
    );
}
