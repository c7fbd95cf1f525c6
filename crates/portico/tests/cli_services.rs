//! `portico services` against real listening processes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// A Python process listening on 127.0.0.1 with `vite` on its command line, in `dir`.
struct FakeDevServer {
    child: std::process::Child,
    port: u16,
}

impl FakeDevServer {
    fn start(dir: &std::path::Path) -> FakeDevServer {
        let mut child = Command::new("python3")
            .args([
                "-c",
                "import socket,time\n\
                 s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
                 print(s.getsockname()[1], flush=True)\n\
                 time.sleep(60)",
                "vite",
            ])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port line");
        FakeDevServer {
            port: line.trim().parse().expect("a port"),
            child,
        }
    }
}

impl Drop for FakeDevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn portico(data: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        // Never this machine's /etc/hosts (the tests run as root).
        .env("PORTICO_HOSTS_FILE", data.join("hosts"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("portico runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn services_lists_a_dev_server_with_the_command_that_maps_it_then_marks_it_routed() {
    let data = tempfile::tempdir().expect("data dir");
    let project = tempfile::tempdir().expect("project");
    std::fs::write(project.path().join("package.json"), r#"{"name": "shop"}"#)
        .expect("package.json");
    let server = FakeDevServer::start(project.path());

    let json: serde_json::Value =
        serde_json::from_str(&portico(data.path(), &["services", "--json"])).expect("JSON");
    let dev = json
        .as_array()
        .expect("a list")
        .iter()
        .find(|s| s["port"] == server.port)
        .unwrap_or_else(|| panic!("port {} missing from {json:#}", server.port));
    assert_eq!(dev["framework"], "Vite");
    assert_eq!(dev["suggested_host"], "shop.localhost");

    let text = portico(data.path(), &["services"]);
    let command = format!("portico route add shop.localhost {}", server.port);
    assert!(text.contains(&command), "{text}");

    // Run the suggested command; the service then shows as routed.
    portico(
        data.path(),
        &["route", "add", "shop.localhost", &server.port.to_string()],
    );
    let text = portico(data.path(), &["services"]);
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(&server.port.to_string()))
        .take(2)
        .collect();
    assert!(block.iter().any(|l| l.contains("already routed")), "{text}");
}
