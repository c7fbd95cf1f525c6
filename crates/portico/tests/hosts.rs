//! `portico hosts` through the real binary, against hosts files in temporary folders (the
//! fixtures point `PORTICO_HOSTS_FILE` at `DATA_DIR/hosts`; nothing here touches this
//! machine's): status, sync from the database with no engine running, sync while one runs,
//! remove giving the file back byte for byte, and a process without the rights to write the
//! file being told the exact `sudo` command.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Serve, data_dir, portico, portico_command};

/// A hosts file as a machine has it: comments, blank lines, no final newline.
const ORIGINAL: &str = "127.0.0.1 localhost\n\n# printer\n192.168.1.9 printer.lan";

fn hosts_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("hosts")).expect("read the hosts file")
}

#[test]
fn a_test_name_resolves_after_one_sync_and_remove_gives_the_file_back() {
    let dir = data_dir();
    std::fs::write(dir.path().join("hosts"), ORIGINAL).expect("write hosts");
    portico(dir.path(), &["route", "add", "app.test", "5173"]).assert_success("route add");
    portico(dir.path(), &["route", "add", "*.wild.test", "5173"]).assert_success("route add");

    let status = portico(dir.path(), &["hosts"]);
    status.assert_success("hosts");
    assert!(status.stdout.contains("Missing"), "{status:#?}");
    assert!(status.stdout.contains("app.test"), "{status:#?}");
    assert!(status.stdout.contains("*.wild.test"), "{status:#?}");
    let data = dir.path().display().to_string();
    assert!(
        status.stdout.contains(&format!(
            "sudo portico hosts sync --data-dir {data} --hosts-file {data}/hosts"
        )),
        "{status:#?}"
    );

    let sync = portico(dir.path(), &["hosts", "sync"]);
    sync.assert_success("hosts sync");
    assert!(sync.stdout.contains("app.test"), "{sync:#?}");
    let text = hosts_text(dir.path());
    assert!(
        text.starts_with(&format!("{ORIGINAL}\n# BEGIN Portico")),
        "{text:?}"
    );
    assert!(
        text.ends_with("127.0.0.1 app.test\n::1 app.test\n# END Portico"),
        "{text:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hosts.portico-backup")).expect("backup"),
        ORIGINAL
    );
    let again = portico(dir.path(), &["hosts", "sync"]);
    again.assert_success("hosts sync again");
    assert!(again.stdout.starts_with("Already in sync"), "{again:#?}");

    let json = portico(dir.path(), &["hosts", "--json"]);
    json.assert_success("hosts --json");
    let status: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(status["in_sync"], true, "{status}");
    assert_eq!(status["names"], serde_json::json!(["app.test"]), "{status}");

    let removed = portico(dir.path(), &["hosts", "remove"]);
    removed.assert_success("hosts remove");
    assert_eq!(hosts_text(dir.path()), ORIGINAL);
    let settings = portico(dir.path(), &["settings"]);
    assert!(
        settings.stdout.contains("\"hosts_sync\": false"),
        "{settings:#?}"
    );
    portico(dir.path(), &["hosts", "sync"]).assert_refused("hosts sync while off", &["hosts_sync"]);
}

#[test]
fn a_running_engine_keeps_the_block_in_step_with_routes_added_by_the_cli() {
    let dir = data_dir();
    std::fs::write(dir.path().join("hosts"), ORIGINAL).expect("write hosts");
    let _serve = Serve::start(dir.path());
    portico(dir.path(), &["route", "add", "shop.test", "3000"]).assert_success("route add");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = hosts_text(dir.path());
        if portico_core::hosts::managed_names(&text) == ["shop.test"] {
            assert!(text.starts_with(ORIGINAL), "{text:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the engine never added shop.test:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    portico(dir.path(), &["route", "rm", "shop.test"]).assert_success("route rm");
    let deadline = Instant::now() + Duration::from_secs(10);
    while hosts_text(dir.path()) != ORIGINAL {
        assert!(
            Instant::now() < deadline,
            "the engine never removed shop.test:\n{}",
            hosts_text(dir.path())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The tests run as root, which may write any file; this runs the command as root without
/// capabilities (`setpriv --bounding-set=-all`), which, like a user, may not write a file it
/// does not own in a folder it does not own.
#[cfg(target_os = "linux")]
#[test]
fn without_the_rights_the_command_prints_the_sudo_command_and_fails() {
    use std::os::unix::fs::PermissionsExt;
    let dir = data_dir();
    portico(dir.path(), &["route", "add", "app.test", "5173"]).assert_success("route add");
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).expect("etc");
    let hosts = etc.join("hosts");
    std::fs::write(&hosts, ORIGINAL).expect("write hosts");
    std::os::unix::fs::chown(&hosts, Some(65534), Some(65534)).expect("chown hosts");
    std::os::unix::fs::chown(&etc, Some(65534), Some(65534)).expect("chown etc");
    std::fs::set_permissions(&hosts, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o555)).expect("chmod");

    let program = portico_command(dir.path()).get_program().to_owned();
    let out = std::process::Command::new("setpriv")
        .arg("--bounding-set=-all")
        .arg("--")
        .arg(program)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["hosts", "sync", "--hosts-file"])
        .arg(&hosts)
        .env_remove("PORTICO_HOSTS_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("setpriv runs");
    // Let the temporary folder go away afterwards.
    std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(stderr.starts_with("error: cannot write"), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
    let command = format!(
        "sudo portico hosts sync --data-dir {} --hosts-file {}",
        dir.path().display(),
        hosts.display()
    );
    assert!(stderr.contains(&command), "{stderr}");
    assert_eq!(std::fs::read_to_string(&hosts).expect("read"), ORIGINAL);
}
