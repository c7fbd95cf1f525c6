//! Running the stores' programs: explicit argument lists (never a shell string), stdin closed
//! so a prompt cannot wait for input, stdout and stderr captured, a time limit on each, and
//! elevation through `sudo -n` / `pkexec` when a store needs administrator rights.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Elevation, Error, SystemStore, TrustEnv};

/// Limit for quick queries and edits (certutil, keytool, security).
pub(crate) const QUICK: Duration = Duration::from_secs(30);
/// Limit for rebuilding the system bundle, which runs hooks (Java's among them).
pub(crate) const REFRESH: Duration = Duration::from_secs(180);
/// Limit for `pkexec`, which waits for the user to answer a password dialog.
pub(crate) const PROMPT: Duration = Duration::from_secs(300);

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cmd {
    program: OsString,
    args: Vec<OsString>,
}

impl Cmd {
    pub(crate) fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
        }
    }

    /// A command from a configured argv (`refresh`); `None` when it is empty.
    pub(crate) fn from_argv(argv: &[String]) -> Option<Cmd> {
        let (program, args) = argv.split_first()?;
        Some(Cmd::new(program).args(args))
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// This command run by `wrapper` (`sudo -n`, `pkexec`).
    pub(crate) fn wrapped(&self, wrapper: &[&str]) -> Cmd {
        let (program, rest) = wrapper
            .split_first()
            .expect("a wrapper names at least its program");
        Cmd::new(program)
            .args(rest)
            .arg(&self.program)
            .args(&self.args)
    }

    /// Program and arguments as strings (lossy), for tests and messages.
    pub(crate) fn argv(&self) -> Vec<String> {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// The command as it could be pasted into a POSIX shell.
    pub(crate) fn display(&self) -> String {
        self.argv()
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn program_name(&self) -> String {
        Path::new(&self.program)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// What a finished program printed.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// Stderr, or stdout when stderr is empty, trimmed: what a failure message shows.
    fn complaint(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        text.trim().to_owned()
    }
}

/// Run `cmd` to the end (or until `limit`), whatever its exit status.
pub(crate) fn run(env: &TrustEnv, cmd: &Cmd, limit: Duration) -> Result<Output, Error> {
    let missing = || Error::ToolMissing {
        tool: cmd.program.to_string_lossy().into_owned(),
        install_hint: install_hint(&cmd.program_name(), &env.system),
    };
    let program = resolve(&cmd.program, env.path_var.as_deref()).ok_or_else(missing)?;
    tracing::debug!(command = %cmd.display(), "running");
    let mut child = Command::new(&program)
        .args(&cmd.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => missing(),
            _ => Error::Spawn {
                command: cmd.display(),
                source,
            },
        })?;

    // Both pipes are drained on their own threads so a chatty program cannot fill one and
    // block; their closing is the signal that the program is done.
    let (tx, rx) = mpsc::channel();
    for (index, pipe) in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            let _ = tx.send((index, buf));
        });
    }
    drop(tx);

    let deadline = Instant::now() + limit;
    let timeout = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
        Error::Timeout {
            command: cmd.display(),
            after: limit,
        }
    };
    let mut captured = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((index, buf)) => captured[index] = buf,
            Err(_) => return Err(timeout(&mut child)),
        }
    }
    // The pipes are closed; the exit normally follows at once, but a program that closed
    // them early must still end within the limit.
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => return Err(timeout(&mut child)),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(source) => {
                return Err(Error::Spawn {
                    command: cmd.display(),
                    source,
                });
            }
        }
    };
    let [stdout, stderr] = captured;
    Ok(Output {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Run `cmd` and require success.
pub(crate) fn run_ok(env: &TrustEnv, cmd: &Cmd, limit: Duration) -> Result<Output, Error> {
    let output = run(env, cmd, limit)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(failed(cmd, &output))
    }
}

pub(crate) fn failed(cmd: &Cmd, output: &Output) -> Error {
    Error::CommandFailed {
        command: cmd.display(),
        status: output.status,
        stderr: output.complaint(),
    }
}

/// Where `program` is: a path is taken as it is (if it exists); a bare name is searched in
/// `path_var`, or left to the operating system (the process's own `PATH`) when there is none.
pub(crate) fn resolve(program: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let program = Path::new(program);
    if program.components().count() > 1 || program.is_absolute() {
        return program.is_file().then(|| program.to_owned());
    }
    let Some(path_var) = path_var else {
        return Some(program.to_owned());
    };
    std::env::split_paths(path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .flat_map(|dir| {
            let plain = dir.join(program);
            let exe = plain.with_extension("exe");
            [plain].into_iter().chain(cfg!(windows).then_some(exe))
        })
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// How to install a missing program on this kind of system.
pub(crate) fn install_hint(program: &str, system: &SystemStore) -> String {
    let by_distro = |debian: &str, redhat: &str, arch: &str| match system {
        SystemStore::Debian { .. } => format!("install it with `sudo apt-get install {debian}`"),
        SystemStore::RedHat { .. } => format!("install it with `sudo dnf install {redhat}`"),
        SystemStore::Arch { .. } => format!("install it with `sudo pacman -S {arch}`"),
        _ => format!(
            "install it with `sudo apt-get install {debian}` (Debian/Ubuntu), `sudo dnf install {redhat}` (Fedora) or `sudo pacman -S {arch}` (Arch)"
        ),
    };
    match (program, system) {
        ("certutil", SystemStore::MacKeychain { .. }) => {
            "install NSS's certutil with `brew install nss`".to_owned()
        }
        ("certutil", SystemStore::WindowsUser) => {
            "certutil.exe ships with Windows; check that C:\\Windows\\System32 is on PATH"
                .to_owned()
        }
        ("certutil", _) => by_distro("libnss3-tools", "nss-tools", "nss"),
        ("security", _) => "`security` ships with macOS; check that /usr/bin is on PATH".to_owned(),
        ("update-ca-certificates", _) => by_distro(
            "ca-certificates",
            "ca-certificates",
            "ca-certificates-utils",
        ),
        ("update-ca-trust", _) => "install it with `sudo dnf install ca-certificates`".to_owned(),
        ("trust", _) => by_distro("p11-kit", "p11-kit-trust", "p11-kit"),
        ("keytool", _) => {
            "it comes with a Java runtime (JDK or JRE); put its bin directory on PATH".to_owned()
        }
        _ => "install it, or put it on PATH".to_owned(),
    }
}

/// Run `cmds`, which failed (`cause`) without administrator rights, with them, as
/// `env.elevation` allows. `AsIs` reports `cause` itself.
pub(crate) fn elevate(env: &TrustEnv, cmds: &[Cmd], cause: Error) -> Result<(), Error> {
    let needs = |cause| Error::NeedsPrivileges {
        command: sudo_line(cmds),
        cause: Box::new(cause),
    };
    match env.elevation {
        Elevation::AsIs => Err(cause),
        Elevation::Never => Err(needs(cause)),
        Elevation::Prompt => {
            for cmd in cmds {
                if !with_sudo_or_pkexec(env, cmd)? {
                    return Err(needs(cause));
                }
            }
            Ok(())
        }
    }
}

/// `sudo cmd1 && sudo cmd2`: what the user runs by hand.
pub(crate) fn sudo_line(cmds: &[Cmd]) -> String {
    cmds.iter()
        .map(|c| format!("sudo {}", c.display()))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// Ok(true) when `cmd` ran with rights, Ok(false) when no way to get them worked, Err when it
/// ran with rights and failed.
fn with_sudo_or_pkexec(env: &TrustEnv, cmd: &Cmd) -> Result<bool, Error> {
    let sudo = cmd.wrapped(&["sudo", "-n"]);
    match run(env, &sudo, REFRESH) {
        Ok(out) if out.status.success() => return Ok(true),
        // sudo's own complaints ("a password is required", "you must have a tty") start with
        // "sudo:"; anything else is the command's failure.
        Ok(out) if !out.stderr.trim_start().starts_with("sudo:") => {
            return Err(failed(&sudo, &out));
        }
        Ok(_) | Err(Error::ToolMissing { .. }) => {}
        Err(e) => return Err(e),
    }
    let pkexec = cmd.wrapped(&["pkexec"]);
    match run(env, &pkexec, PROMPT) {
        Ok(out) if out.status.success() => Ok(true),
        // 126: the user dismissed the dialog or is not allowed; 127: no authentication agent.
        Ok(out) if matches!(out.status.code(), Some(126 | 127)) => Ok(false),
        Ok(out) => Err(failed(&pkexec, &out)),
        Err(Error::ToolMissing { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Quote `word` for a POSIX shell when it needs it.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
