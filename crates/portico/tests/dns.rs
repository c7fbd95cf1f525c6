//! `portico dns`: setup and teardown of the resolver files under a temporary root, the
//! commands printed when not root, and a name under a DNS suffix resolved by the system
//! resolver (glibc's `getent`, then `curl` through the proxy) in a private network and mount
//! namespace where `portico serve` answers DNS on 127.0.0.1:53. The tests that need root or a
//! tool say so and skip when it is missing.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{KillOnDrop, portico};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped: `{tool}` is not installed");
    }
    found
}

fn set(data: &Path, key: &str, value: &str) {
    portico(data, &["settings", "set", key, value]).assert_success("settings set");
}

#[test]
fn setup_and_teardown_write_and_remove_the_resolver_files_under_a_root() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let root = temp.path().join("root");
    std::fs::create_dir_all(root.join("run/systemd/resolve")).expect("resolved runs");
    let root_arg = root.to_str().expect("utf-8 path");

    let off = portico(&data, &["dns"]);
    off.assert_success("dns");
    assert!(off.stdout.contains("off (no dns_suffixes)"), "{off:#?}");
    let refused = portico(&data, &["dns", "setup", "--root", root_arg]);
    refused.assert_refused("setup without suffixes", &["dns_suffixes"]);

    set(&data, "dns_suffixes", "test,dev.internal");
    set(&data, "dns_listen", "127.0.0.1:5399");
    let before = portico(&data, &["dns", "--root", root_arg]);
    assert!(
        before.stdout.contains("Resolver (systemd-resolved)"),
        "{before:#?}"
    );
    assert!(before.stdout.contains(".test  "), "{before:#?}");
    assert!(before.stdout.contains("not configured"), "{before:#?}");

    let setup = portico(&data, &["dns", "setup", "--root", root_arg]);
    setup.assert_success("dns setup");
    let drop_in = root.join("etc/systemd/resolved.conf.d/portico.conf");
    assert!(
        setup
            .stdout
            .contains(&format!("Wrote {}", drop_in.display())),
        "{setup:#?}"
    );
    assert!(
        setup
            .stdout
            .contains("Not running `systemctl restart systemd-resolved`"),
        "{setup:#?}"
    );
    let text = std::fs::read_to_string(&drop_in).expect("drop-in written");
    assert!(
        text.contains("[Resolve]\nDNS=127.0.0.1:5399\nDomains=~test ~dev.internal\n"),
        "{text}"
    );

    let after = portico(&data, &["dns", "status", "--json", "--root", root_arg]);
    after.assert_success("dns status --json");
    let json: serde_json::Value = serde_json::from_str(&after.stdout).expect("JSON");
    assert_eq!(json["platform"], "linux_resolved");
    assert_eq!(json["running"], false);
    assert_eq!(json["suffixes"][0]["resolver_configured"], true, "{json:#}");
    assert_eq!(json["suffixes"][1]["resolver_configured"], true, "{json:#}");

    // macOS files, planned on this machine (the platform is given).
    let mac = portico(
        &data,
        &["dns", "setup", "--root", root_arg, "--platform", "macos"],
    );
    mac.assert_success("dns setup for macOS");
    let file =
        std::fs::read_to_string(root.join("etc/resolver/dev.internal")).expect("resolver file");
    assert!(
        file.ends_with("nameserver 127.0.0.1\nport 5399\n"),
        "{file}"
    );
    std::fs::write(root.join("etc/resolver/corp"), "nameserver 10.1.1.1\n").expect("user file");
    let gone = portico(
        &data,
        &["dns", "teardown", "--root", root_arg, "--platform", "macos"],
    );
    gone.assert_success("dns teardown for macOS");
    assert!(!root.join("etc/resolver/test").exists());
    assert!(
        root.join("etc/resolver/corp").exists(),
        "a file Portico did not write stays"
    );

    let teardown = portico(&data, &["dns", "teardown", "--root", root_arg]);
    teardown.assert_success("dns teardown");
    assert!(
        teardown
            .stdout
            .contains(&format!("Removed {}", drop_in.display())),
        "{teardown:#?}"
    );
    assert!(!drop_in.exists());
    let again = portico(&data, &["dns", "teardown", "--root", root_arg]);
    assert!(again.stdout.contains("Nothing to remove"), "{again:#?}");

    // Without systemd-resolved, nothing is written and the dnsmasq line is shown.
    let plain = temp.path().join("plain");
    let other = portico(
        &data,
        &["dns", "setup", "--root", plain.to_str().expect("utf-8")],
    );
    assert_eq!(other.status.code(), Some(1), "{other:#?}");
    assert!(
        other.stdout.contains("server=/test/127.0.0.1#5399"),
        "{other:#?}"
    );
    assert!(
        other.stderr.contains("does not run systemd-resolved"),
        "{other:#?}"
    );
    assert!(!plain.join("etc").exists());
}

#[test]
fn setup_without_privileges_prints_the_commands_and_fails() {
    if !is_root() {
        eprintln!("skipped: needs root to run the command as another, unprivileged user");
        return;
    }
    if !have("setpriv") {
        return;
    }
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    set(&data, "dns_suffixes", "test");
    let root = temp.path().join("root");
    std::fs::create_dir_all(root.join("run/systemd/resolve")).expect("resolved runs");
    // The unprivileged user owns its data dir, as a user does, but may not write under the
    // root.
    Command::new("chmod")
        .arg("a+rx")
        .arg(temp.path())
        .status()
        .expect("chmod");
    Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&data)
        .status()
        .expect("chown");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_portico"))
        .arg("--data-dir")
        .arg(&data)
        .args(["dns", "setup", "--root"])
        .arg(&root)
        .env_remove("PORTICO_DATA_DIR")
        .output()
        .expect("setpriv runs portico");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let drop_in = root.join("etc/systemd/resolved.conf.d/portico.conf");
    assert!(
        stdout.contains(&format!(
            "sudo tee {} >/dev/null <<'EOF'",
            drop_in.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("DNS=127.0.0.1:5354\nDomains=~test\nEOF\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("sudo systemctl restart systemd-resolved\n"),
        "{stdout}"
    );
    assert!(stderr.contains("needs root"), "{stderr}");
    assert!(stderr.contains("sudo portico --data-dir"), "{stderr}");
    assert!(!drop_in.exists());
}

#[test]
fn a_name_under_a_suffix_resolves_through_the_system_resolver_and_reaches_its_route() {
    if !is_root() {
        eprintln!(
            "skipped: needs root for a private network and mount namespace (unshare -mn) where \
             Portico can answer DNS on port 53 and resolv.conf can point at it"
        );
        return;
    }
    if !(have("unshare") && have("nsenter") && have("ip") && have("getent") && have("curl")) {
        return;
    }
    let machine_hosts = std::fs::read("/etc/hosts").ok();
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let site = temp.path().join("site");
    std::fs::create_dir_all(&site).expect("site");
    std::fs::write(site.join("index.html"), "hello from app.test\n").expect("index");
    set(&data, "dns_suffixes", "test");
    set(&data, "dns_listen", "127.0.0.1:53");
    portico(
        &data,
        &[
            "route",
            "add",
            "app.test",
            "--static",
            site.to_str().expect("utf-8"),
        ],
    )
    .assert_success("route add");
    // Only this resolv.conf inside the namespace; glibc asks 127.0.0.1:53 once, quickly.
    let resolv = temp.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    )
    .expect("resolv.conf");

    let script = format!(
        "ip link set lo up && mount --bind '{}' /etc/resolv.conf && exec '{}' --data-dir '{}' \
         serve --http 127.0.0.1:0 --admin 127.0.0.1:0 --no-https",
        resolv.display(),
        env!("CARGO_BIN_EXE_portico"),
        data.display()
    );
    let mut child = KillOnDrop(
        Command::new("unshare")
            .args(["--mount", "--net", "sh", "-c", &script])
            .env_remove("PORTICO_DATA_DIR")
            // Route names go into a hosts file of the test's own: the machine's /etc/hosts
            // is shared with this namespace, and must neither change nor answer for app.test.
            .env("PORTICO_HOSTS_FILE", temp.path().join("hosts"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare runs"),
    );
    let pid = child.0.id().to_string();
    let stdout = BufReader::new(child.0.stdout.take().expect("piped"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l == "Press Ctrl-C to stop.") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(err) => panic!("portico serve did not start in the namespace ({err}): {lines:#?}"),
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("DNS responder on 127.0.0.1:53 (UDP and TCP)")),
        "{lines:#?}"
    );
    let http = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix(&format!(
                "Portico {} serving HTTP on http://",
                env!("CARGO_PKG_VERSION")
            ))
        })
        .map(|rest| rest.split(',').next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| panic!("no HTTP address: {lines:#?}"));
    let port = http.rsplit(':').next().expect("a port").to_owned();

    let inside = |args: &[&str]| {
        Command::new("nsenter")
            .args(["--target", &pid, "--mount", "--net"])
            .args(args)
            .output()
            .expect("nsenter runs")
    };
    // getaddrinfo (AF_UNSPEC: ahostsv4/v6 would ask for AI_ADDRCONFIG, which finds no
    // configured address in a namespace with only loopback) gets both addresses.
    let both = inside(&["getent", "ahosts", "App.Test"]);
    let text = String::from_utf8_lossy(&both.stdout);
    assert!(both.status.success(), "getent ahosts: {both:?}");
    let mut found: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    found.sort();
    found.dedup();
    assert_eq!(found, ["127.0.0.1", "::1"], "{text}");
    // gethostbyname2, deep under the suffix.
    let deep = inside(&["getent", "hosts", "deep.sub.app.test"]);
    let text = String::from_utf8_lossy(&deep.stdout);
    assert!(deep.status.success(), "getent hosts: {deep:?}");
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        ["::1", "deep.sub.app.test"]
    );
    let outside = inside(&["getent", "hosts", "example.com"]);
    assert_eq!(
        outside.status.code(),
        Some(2),
        "refused, so not found: {outside:?}"
    );

    // The name reaches its route through the proxy, resolved by curl's own resolver.
    let page = inside(&[
        "curl",
        "-sS",
        "--max-time",
        "5",
        &format!("http://app.test:{port}/"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&page.stdout),
        "hello from app.test\n",
        "curl: {page:?}"
    );
    assert_eq!(
        std::fs::read("/etc/hosts").ok(),
        machine_hosts,
        "the machine's hosts file is not the test's to change"
    );
}
