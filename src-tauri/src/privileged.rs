//! Letting Portico listen on ports 80 and 443 on Linux, with the platform's own prompt.
//!
//! Ports below 1024 need a privilege; the kernel's `net.ipv4.ip_unprivileged_port_start`
//! says where unprivileged ports start (1024 by default). Portico lowers it to 80 through
//! `pkexec` (the desktop's polkit password dialog), now with `sysctl -w` and at every boot
//! with a file in `/etc/sysctl.d/`. Lowering the sysctl rather than giving the binary
//! `cap_net_bind_service` survives package upgrades (which drop file capabilities) and keeps
//! the window's GTK process free of elevated capabilities. When the prompt is refused or
//! there is no polkit agent, the caller shows [`COMMAND`] to run by hand.
//!
//! Portico's block in the system hosts file is written by a helper run with the same prompt:
//! the `portico` command when it sits beside the app, else the app's own binary, which
//! handles `hosts sync|remove` before any window (see `main.rs`). On macOS the prompt is
//! `osascript … with administrator privileges` and on Windows the UAC prompt (`Start-Process
//! -Verb RunAs`); both are built here but have only been run on Linux.
//!
//! Trusting the CA needs no code here: the engine's trust module already runs the system
//! store's commands through `sudo -n`, then `pkexec`, and reports the command to run when
//! neither works.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// Where the kernel keeps the first unprivileged port.
pub(crate) const SYSCTL_FILE: &str = "/proc/sys/net/ipv4/ip_unprivileged_port_start";
/// What the prompt runs (as root): the sysctl now and at every boot.
const SCRIPT: &str = "sysctl -q -w net.ipv4.ip_unprivileged_port_start=80 && \
     printf 'net.ipv4.ip_unprivileged_port_start=80\\n' > /etc/sysctl.d/60-portico-low-ports.conf";
/// The same, for the user to run in a terminal.
pub(crate) const COMMAND: &str = "sudo sysctl -w net.ipv4.ip_unprivileged_port_start=80 && \
     echo net.ipv4.ip_unprivileged_port_start=80 | sudo tee /etc/sysctl.d/60-portico-low-ports.conf";
/// Said before asking, in plain words.
pub(crate) const EXPLANATION: &str = "Linux lets only administrators use ports below 1024, so \
     Portico is on 8080 and 8443 and your addresses need a port number \
     (https://app.localhost:8443). Allowing ports from 80 up for every program on this computer \
     lets Portico use 80 and 443 (https://app.localhost). Your password is asked once; the \
     setting stays after a restart.";

/// How asking went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Result {
    /// Ports from 80 up are allowed now.
    Done,
    /// The user dismissed the prompt or may not do this.
    Refused,
    /// No prompt could be shown (no `pkexec`, or no polkit agent in this session).
    Unavailable,
    /// The command ran with rights and failed; `detail` says how.
    Failed,
}

/// What the UI gets back: the result, and the command to run by hand when it was not done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Outcome {
    pub(crate) result: Result,
    pub(crate) command: String,
    pub(crate) detail: String,
}

/// The first unprivileged port in `text` (the sysctl file's contents).
pub(crate) fn parse_threshold(text: &str) -> Option<u16> {
    text.trim().parse().ok()
}

/// Whether this process may bind port 80 already: the threshold is at most 80 (an
/// unreadable file, as on other systems, counts as no).
pub(crate) fn low_ports_allowed(sysctl_text: Option<&str>) -> bool {
    sysctl_text
        .and_then(parse_threshold)
        .is_some_and(|start| start <= 80)
}

/// Ask with `pkexec` (the program at `pkexec`, normally found on the `PATH`).
pub(crate) fn allow_low_ports(pkexec: &Path) -> Outcome {
    let run = Command::new(pkexec)
        .args(["/bin/sh", "-c", SCRIPT])
        .stdin(std::process::Stdio::null())
        .output();
    pkexec_outcome(run, COMMAND)
}

/// What a `pkexec` run means, with `command` the way to do it by hand.
fn pkexec_outcome(run: std::io::Result<std::process::Output>, command: &str) -> Outcome {
    let outcome = |result, detail: String| Outcome {
        result,
        command: command.to_owned(),
        detail,
    };
    match run {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => outcome(
            Result::Unavailable,
            "pkexec is not installed, so Portico cannot ask for your password.".into(),
        ),
        Err(err) => outcome(Result::Unavailable, format!("cannot run pkexec: {err}.")),
        Ok(out) if out.status.success() => outcome(Result::Done, String::new()),
        // 126: dismissed, or not authorised; 127: no authentication agent.
        Ok(out) if out.status.code() == Some(126) => outcome(
            Result::Refused,
            "The password prompt was dismissed or refused.".into(),
        ),
        Ok(out) if out.status.code() == Some(127) => outcome(
            Result::Unavailable,
            "No password prompt is available in this session (no polkit agent).".into(),
        ),
        Ok(out) => outcome(
            Result::Failed,
            format!(
                "the command failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
    }
}

/// The program that writes the hosts file with rights: `portico` beside the app when there
/// is one, else the app itself (`hosts sync|remove` as its first arguments).
pub(crate) fn hosts_helper(app: &Path) -> std::path::PathBuf {
    let cli = app.with_file_name(if cfg!(windows) {
        "portico.exe"
    } else {
        "portico"
    });
    if cli.is_file() { cli } else { app.to_owned() }
}

/// The helper's arguments for `action` (`sync`, `remove`).
pub(crate) fn hosts_args(action: &str, data_dir: &Path, hosts_file: Option<&Path>) -> Vec<String> {
    let mut args = vec![
        "hosts".to_owned(),
        action.to_owned(),
        "--data-dir".to_owned(),
        data_dir.display().to_string(),
    ];
    if let Some(file) = hosts_file {
        args.push("--hosts-file".to_owned());
        args.push(file.display().to_string());
    }
    args
}

/// Run the hosts helper with administrator rights through the platform's prompt; `command`
/// is what the user runs by hand when that does not work.
pub(crate) fn hosts_elevated(
    prompt: &Path,
    helper: &Path,
    args: &[String],
    command: &str,
) -> Outcome {
    if cfg!(target_os = "macos") {
        // `do shell script … with administrator privileges` shows the system's password dialog.
        let line: Vec<String> = std::iter::once(helper.display().to_string())
            .chain(args.iter().cloned())
            .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
            .collect();
        let script = format!(
            "do shell script \"{}\" with administrator privileges",
            line.join(" ").replace('\\', "\\\\").replace('"', "\\\"")
        );
        let run = Command::new("osascript").args(["-e", &script]).output();
        return match run {
            Ok(out) if out.status.success() => Outcome {
                result: Result::Done,
                command: command.to_owned(),
                detail: String::new(),
            },
            // -128: the user cancelled the dialog.
            Ok(out) if String::from_utf8_lossy(&out.stderr).contains("-128") => Outcome {
                result: Result::Refused,
                command: command.to_owned(),
                detail: "The password prompt was dismissed.".into(),
            },
            Ok(out) => Outcome {
                result: Result::Failed,
                command: command.to_owned(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            },
            Err(err) => Outcome {
                result: Result::Unavailable,
                command: command.to_owned(),
                detail: format!("cannot run osascript: {err}."),
            },
        };
    }
    if cfg!(windows) {
        // The UAC prompt; -Wait and the exit code tell whether the helper succeeded.
        let quoted: Vec<String> = args
            .iter()
            .map(|a| format!("'\"{}\"'", a.replace('\'', "''")))
            .collect();
        let script = format!(
            "$p = Start-Process -FilePath '{}' -ArgumentList {} -Verb RunAs -Wait -PassThru -WindowStyle Hidden; exit $p.ExitCode",
            helper.display().to_string().replace('\'', "''"),
            quoted.join(",")
        );
        let run = Command::new("powershell")
            .args(["-NoProfile", "-NonInteractive", "-Command", &script])
            .output();
        return match run {
            Ok(out) if out.status.success() => Outcome {
                result: Result::Done,
                command: command.to_owned(),
                detail: String::new(),
            },
            Ok(out) => Outcome {
                result: Result::Failed,
                command: command.to_owned(),
                detail: format!(
                    "the administrator prompt was refused or the sync failed ({}). {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            },
            Err(err) => Outcome {
                result: Result::Unavailable,
                command: command.to_owned(),
                detail: format!("cannot run PowerShell: {err}."),
            },
        };
    }
    let run = Command::new(prompt)
        .arg(helper)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output();
    pkexec_outcome(run, command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_threshold_decides_whether_low_ports_are_allowed() {
        assert_eq!(parse_threshold("1024\n"), Some(1024));
        assert!(!low_ports_allowed(Some("1024\n")));
        assert!(low_ports_allowed(Some("80\n")));
        assert!(low_ports_allowed(Some("0")));
        assert!(!low_ports_allowed(Some("garbage")));
        assert!(!low_ports_allowed(None));
    }

    /// A stand-in `pkexec` that exits with `code` after recording its arguments: the real
    /// one needs a desktop session and a password.
    fn fake_pkexec(dir: &Path, code: i32) -> std::path::PathBuf {
        let path = dir.join("pkexec");
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexit {code}\n",
            dir.join("args").display()
        );
        std::fs::write(&path, script).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    #[test]
    fn each_pkexec_exit_maps_to_an_outcome_with_the_command_to_run() {
        let dir = tempfile::tempdir().expect("dir");
        for (code, result) in [
            (0, Result::Done),
            (126, Result::Refused),
            (127, Result::Unavailable),
            (1, Result::Failed),
        ] {
            let outcome = allow_low_ports(&fake_pkexec(dir.path(), code));
            assert_eq!(outcome.result, result, "exit {code}");
            assert_eq!(outcome.command, COMMAND);
        }
        let args = std::fs::read_to_string(dir.path().join("args")).expect("args");
        assert!(args.starts_with("/bin/sh\n-c\n"), "{args}");
        assert!(
            args.contains("net.ipv4.ip_unprivileged_port_start=80"),
            "{args}"
        );
        let missing = allow_low_ports(&dir.path().join("no-such-pkexec"));
        assert_eq!(missing.result, Result::Unavailable);
        assert!(missing.detail.contains("pkexec"), "{}", missing.detail);
    }

    #[test]
    fn the_hosts_helper_runs_under_pkexec_with_the_data_dir_and_hosts_file() {
        let dir = tempfile::tempdir().expect("dir");
        let app = dir.path().join("portico-desktop");
        assert_eq!(
            hosts_helper(&app),
            app,
            "no portico beside the app: the app itself"
        );
        std::fs::write(dir.path().join("portico"), "").expect("write");
        assert_eq!(hosts_helper(&app), dir.path().join("portico"));
        let args = hosts_args("sync", Path::new("/d a/t"), Some(Path::new("/tmp/hosts")));
        for (code, result) in [
            (0, Result::Done),
            (126, Result::Refused),
            (1, Result::Failed),
        ] {
            let outcome = hosts_elevated(&fake_pkexec(dir.path(), code), &app, &args, "sudo x");
            assert_eq!(outcome.result, result, "exit {code}");
            assert_eq!(outcome.command, "sudo x");
        }
        let recorded = std::fs::read_to_string(dir.path().join("args")).expect("args");
        assert_eq!(
            recorded,
            format!(
                "{}\nhosts\nsync\n--data-dir\n/d a/t\n--hosts-file\n/tmp/hosts\n",
                app.display()
            )
        );
    }
}
