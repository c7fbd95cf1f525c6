//! Running programs: quoting, `PATH` lookup, capture, time limits and elevation. Stand-in
//! `sudo` and `pkexec` scripts are found through `path_var`, so the real ones never run.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::tls::trust::command::{
    Cmd, QUICK, elevate, resolve, run, run_ok, shell_quote, sudo_line,
};
use crate::tls::trust::{Elevation, Error, SystemStore, TrustEnv};

fn env() -> TrustEnv {
    let mut env = TrustEnv::detect(PathBuf::from("/nonexistent-home"), None);
    env.system = SystemStore::None;
    env
}

#[test]
fn display_quotes_only_words_that_need_it() {
    let cmd = Cmd::new("certutil")
        .args(["-n", "Portico Local CA (a@b) 1A", "-t", "C,,"])
        .arg("it's");
    assert_eq!(
        cmd.display(),
        r#"certutil -n 'Portico Local CA (a@b) 1A' -t C,, 'it'\''s'"#
    );
    assert_eq!(shell_quote(""), "''");
}

#[test]
fn sudo_line_prefixes_each_command() {
    let cmds = [
        Cmd::new("install").args(["-m", "0644", "/a b", "/c"]),
        Cmd::new("update-ca-certificates"),
    ];
    assert_eq!(
        sudo_line(&cmds),
        "sudo install -m 0644 '/a b' /c && sudo update-ca-certificates"
    );
}

#[test]
fn wrapped_puts_the_wrapper_first() {
    let cmd = Cmd::new("rm").args(["-f", "/x"]).wrapped(&["sudo", "-n"]);
    assert_eq!(cmd.argv(), ["sudo", "-n", "rm", "-f", "/x"]);
}

#[test]
fn an_empty_refresh_argv_is_no_command() {
    assert_eq!(Cmd::from_argv(&[]), None);
    let argv = ["update-ca-trust".to_owned(), "extract".to_owned()];
    assert_eq!(
        Cmd::from_argv(&argv).map(|c| c.argv()),
        Some(vec!["update-ca-trust".to_owned(), "extract".to_owned()])
    );
}

#[cfg(unix)]
#[test]
fn resolve_searches_the_given_path_and_only_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let tool = dir.path().join("mytool");
    std::fs::write(&tool, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(dir.path().join("plainfile"), "").expect("write");
    let path_var =
        std::env::join_paths(["/nonexistent", dir.path().to_str().expect("utf-8")]).expect("join");
    assert_eq!(
        resolve(OsStr::new("mytool"), Some(&path_var)),
        Some(tool.clone())
    );
    assert_eq!(resolve(OsStr::new("plainfile"), Some(&path_var)), None);
    assert_eq!(resolve(OsStr::new("sh"), Some(&path_var)), None);
    assert_eq!(resolve(OsStr::new("sh"), None), Some(PathBuf::from("sh")));
    assert_eq!(resolve(tool.as_os_str(), None), Some(tool));
    assert_eq!(resolve(OsStr::new("/nonexistent/tool"), None), None);
}

#[test]
fn a_missing_program_is_reported_with_an_install_hint() {
    let mut env = env();
    env.path_var = Some(OsString::from("/nonexistent"));
    env.system = SystemStore::RedHat {
        anchor_dir: PathBuf::from("/x"),
        refresh: None,
        bundle: None,
    };
    match run(&env, &Cmd::new("certutil"), QUICK) {
        Err(Error::ToolMissing { tool, install_hint }) => {
            assert_eq!(tool, "certutil");
            assert!(
                install_hint.contains("sudo dnf install nss-tools"),
                "{install_hint}"
            );
        }
        other => panic!("expected ToolMissing, got {other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn run_captures_both_streams_and_the_status() {
    let out = run(
        &env(),
        &Cmd::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
        QUICK,
    )
    .expect("ran");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
}

#[cfg(unix)]
#[test]
fn run_gives_the_program_no_input_so_a_prompt_ends_at_once() {
    // `cat` would wait forever on an inherited terminal; with stdin closed it ends.
    let out = run(&env(), &Cmd::new("cat"), QUICK).expect("ran");
    assert!(out.status.success());
    assert_eq!(out.stdout, "");
}

#[cfg(unix)]
#[test]
fn run_stops_a_program_that_outlives_its_limit() {
    let started = Instant::now();
    let result = run(
        &env(),
        &Cmd::new("sleep").arg("30"),
        Duration::from_millis(200),
    );
    assert!(
        matches!(result, Err(Error::Timeout { ref command, .. }) if command == "sleep 30"),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[cfg(unix)]
#[test]
fn run_ok_turns_a_failure_into_command_failed_with_stderr() {
    let err = run_ok(
        &env(),
        &Cmd::new("sh").args(["-c", "echo nope >&2; exit 1"]),
        QUICK,
    )
    .expect_err("fails");
    match err {
        Error::CommandFailed {
            command, stderr, ..
        } => {
            assert_eq!(command, "sh -c 'echo nope >&2; exit 1'");
            assert_eq!(stderr, "nope");
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
}

#[test]
fn never_elevating_names_every_command_to_run() {
    let mut env = env();
    env.elevation = Elevation::Never;
    let cmds = [
        Cmd::new("rm").args(["-f", "/a"]),
        Cmd::new("trust").arg("extract-compat"),
    ];
    let cause = Error::Io {
        path: PathBuf::from("/a"),
        source: std::io::ErrorKind::PermissionDenied.into(),
    };
    match elevate(&env, &cmds, cause) {
        Err(Error::NeedsPrivileges { command, cause }) => {
            assert_eq!(command, "sudo rm -f /a && sudo trust extract-compat");
            assert!(matches!(*cause, Error::Io { .. }));
        }
        other => panic!("expected NeedsPrivileges, got {other:?}"),
    }
}

/// A directory of stand-in programs (`sudo`, `pkexec`) as shell scripts, and an env whose
/// `PATH` is only that directory, so the real ones are never run.
#[cfg(unix)]
fn fake_bin(scripts: &[(&str, &str)]) -> (tempfile::TempDir, TrustEnv) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, body) in scripts {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let mut env = env();
    env.elevation = Elevation::Prompt;
    env.path_var = Some(dir.path().as_os_str().to_owned());
    (dir, env)
}

#[cfg(unix)]
const SUDO_WORKS: &str = "[ \"$1\" = -n ] && shift; exec \"$@\"";
#[cfg(unix)]
const SUDO_WANTS_A_PASSWORD: &str = "echo 'sudo: a password is required' >&2; exit 1";

#[cfg(unix)]
fn denied() -> Error {
    Error::Io {
        path: PathBuf::from("/anchors/x.crt"),
        source: std::io::ErrorKind::PermissionDenied.into(),
    }
}

#[cfg(unix)]
#[test]
fn prompting_runs_the_commands_through_sudo_without_a_password_when_it_can() {
    let (dir, env) = fake_bin(&[("sudo", SUDO_WORKS), ("pkexec", "exit 127")]);
    let made = dir.path().join("made");
    elevate(&env, &[Cmd::new("touch").arg(&made)], denied()).expect("elevated");
    assert!(made.exists());
}

#[cfg(unix)]
#[test]
fn prompting_falls_back_to_pkexec_when_sudo_wants_a_password() {
    let (dir, env) = fake_bin(&[("sudo", SUDO_WANTS_A_PASSWORD), ("pkexec", "exec \"$@\"")]);
    let made = dir.path().join("made");
    elevate(&env, &[Cmd::new("touch").arg(&made)], denied()).expect("elevated");
    assert!(made.exists());
}

#[cfg(unix)]
#[test]
fn prompting_ends_with_the_command_to_run_when_no_way_to_elevate_works() {
    for scripts in [
        vec![("sudo", SUDO_WANTS_A_PASSWORD), ("pkexec", "exit 126")],
        vec![("sudo", SUDO_WANTS_A_PASSWORD)],
        vec![],
    ] {
        let (dir, env) = fake_bin(&scripts);
        let made = dir.path().join("made");
        let cmd = Cmd::new("touch").arg(&made);
        match elevate(&env, std::slice::from_ref(&cmd), denied()) {
            Err(Error::NeedsPrivileges { command, cause }) => {
                assert_eq!(command, format!("sudo {}", cmd.display()));
                assert!(matches!(*cause, Error::Io { .. }));
            }
            other => panic!("{scripts:?}: expected NeedsPrivileges, got {other:?}"),
        }
        assert!(!made.exists());
    }
}

#[cfg(unix)]
#[test]
fn a_command_that_fails_with_rights_is_its_own_failure_not_a_rights_problem() {
    let (_dir, env) = fake_bin(&[("sudo", SUDO_WORKS)]);
    let cmd = Cmd::new("sh").args(["-c", "echo broken >&2; exit 4"]);
    match elevate(&env, &[cmd], denied()) {
        Err(Error::CommandFailed {
            command, stderr, ..
        }) => {
            assert_eq!(command, "sudo -n sh -c 'echo broken >&2; exit 4'");
            assert_eq!(stderr, "broken");
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
}
