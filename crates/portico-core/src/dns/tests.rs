//! The resolver configuration, written into and read from temporary roots.

use std::net::SocketAddr;
use std::path::Path;

use super::*;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn env(root: &Path, platform: Platform) -> ResolverEnv {
    ResolverEnv {
        platform: Some(platform),
        ..ResolverEnv::under(root)
    }
}

fn suffixes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn macos_gets_one_resolver_file_per_suffix_and_teardown_removes_only_portico_files() {
    let root = tempfile::tempdir().expect("tempdir");
    let env = env(root.path(), Platform::Macos);
    let dir = root.path().join("etc/resolver");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("corp"), "nameserver 10.0.0.1\n").expect("user's own file");

    let wanted = suffixes(&["test", "dev.internal"]);
    let before = suffix_status(&env, Some(addr(5354)), &wanted);
    assert!(before.iter().all(|s| !s.resolver_configured), "{before:?}");
    assert!(before[0].detail.contains("portico dns setup"), "{before:?}");

    let plan = plan(&env, Some(addr(5354)), &wanted);
    assert!(plan.supported, "{plan:?}");
    assert_eq!(plan.reload, None);
    let done = write(&env, &plan).expect("written");
    assert_eq!(
        done.written,
        vec![dir.join("test"), dir.join("dev.internal")]
    );
    let text = std::fs::read_to_string(dir.join("test")).expect("file");
    assert!(text.starts_with(MARKER), "{text}");
    assert!(
        text.contains("\nnameserver 127.0.0.1\nport 5354\n"),
        "{text}"
    );
    let after = suffix_status(&env, Some(addr(5354)), &wanted);
    assert!(after.iter().all(|s| s.resolver_configured), "{after:?}");
    // Another port is reported as not configured, naming both.
    let moved = suffix_status(&env, Some(addr(5400)), &wanted);
    assert!(!moved[0].resolver_configured);
    assert!(moved[0].detail.contains("127.0.0.1:5354") && moved[0].detail.contains("5400"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("test"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    // A suffix dropped from the list: its file is stale and goes at the next setup.
    let fewer = plan_for(&env, &["test"]);
    assert_eq!(fewer.stale, vec![dir.join("dev.internal")]);
    assert!(fewer.setup_script.contains(&format!(
        "sudo rm -f {}",
        dir.join("dev.internal").display()
    )));
    let done = write(&env, &fewer).expect("written");
    assert_eq!(done.removed, vec![dir.join("dev.internal")]);

    let removed = remove(&env).expect("removed");
    assert_eq!(removed.removed, vec![dir.join("test")]);
    assert!(
        dir.join("corp").exists(),
        "a file Portico did not write stays"
    );
    assert_eq!(
        remove(&env).expect("again").removed,
        Vec::<std::path::PathBuf>::new()
    );
}

fn plan_for(env: &ResolverEnv, list: &[&str]) -> ResolverPlan {
    plan(env, Some(addr(5354)), &suffixes(list))
}

#[test]
fn systemd_resolved_gets_a_drop_in_with_routing_only_domains() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("run/systemd/resolve")).expect("resolved runs");
    let env = ResolverEnv::under(root.path());
    assert_eq!(env.platform(), Platform::LinuxResolved);
    assert!(
        !env.reload,
        "a temporary root's resolver is never restarted"
    );

    let wanted = suffixes(&["test", "lan"]);
    let plan = plan(&env, Some(addr(5354)), &wanted);
    let path = root.path().join("etc/systemd/resolved.conf.d/portico.conf");
    assert_eq!(plan.files.len(), 1);
    assert_eq!(plan.files[0].path, path);
    let text = &plan.files[0].contents;
    assert!(
        text.contains("[Resolve]\nDNS=127.0.0.1:5354\nDomains=~test ~lan\n"),
        "{text}"
    );
    assert_eq!(
        plan.reload.as_deref(),
        Some("systemctl restart systemd-resolved")
    );
    assert!(
        plan.setup_script.contains(&format!(
            "sudo tee {} >/dev/null <<'EOF'\n{MARKER}",
            path.display()
        )),
        "{}",
        plan.setup_script
    );
    assert!(
        plan.setup_script
            .ends_with("EOF\nsudo systemctl restart systemd-resolved\n"),
        "{}",
        plan.setup_script
    );
    assert!(
        plan.teardown_script
            .contains(&format!("sudo rm -f {}", path.display()))
    );

    let done = write(&env, &plan).expect("written");
    assert_eq!(done.written, vec![path.clone()]);
    assert_eq!(done.reloaded, None);
    let status = suffix_status(&env, Some(addr(5354)), &suffixes(&["test", "lan", "other"]));
    assert!(
        status[0].resolver_configured && status[1].resolver_configured,
        "{status:?}"
    );
    assert!(!status[2].resolver_configured);
    assert!(
        status[2].detail.contains("does not name .other"),
        "{status:?}"
    );

    let removed = remove(&env).expect("removed");
    assert_eq!(removed.removed, vec![path.clone()]);
    assert!(!path.exists());
}

#[test]
fn the_setup_script_run_by_a_shell_writes_what_setup_writes() {
    // The copied commands and `portico dns setup` must agree: run the script (without sudo)
    // against one temporary root and compare with write() into another.
    let by_hand = tempfile::tempdir().expect("tempdir");
    let by_portico = tempfile::tempdir().expect("tempdir");
    for platform in [Platform::Macos, Platform::LinuxResolved] {
        let script = plan(
            &env(by_hand.path(), platform),
            Some(addr(5354)),
            &suffixes(&["test", "x.y"]),
        )
        .setup_script
        .replace("sudo systemctl restart systemd-resolved\n", "")
        .replace("sudo ", "");
        let ran = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .status()
            .expect("sh runs");
        assert!(ran.success(), "{script}");
        let ours = env(by_portico.path(), platform);
        write(
            &ours,
            &plan(&ours, Some(addr(5354)), &suffixes(&["test", "x.y"])),
        )
        .expect("written");
    }
    for file in [
        "etc/resolver/test",
        "etc/resolver/x.y",
        "etc/systemd/resolved.conf.d/portico.conf",
    ] {
        let a = std::fs::read_to_string(by_hand.path().join(file)).expect("by hand");
        let b = std::fs::read_to_string(by_portico.path().join(file)).expect("by portico");
        assert_eq!(a, b, "{file}");
    }
}

#[test]
fn linux_without_resolved_and_windows_say_what_works_instead() {
    let root = tempfile::tempdir().expect("tempdir");
    let linux = ResolverEnv::under(root.path());
    assert_eq!(linux.platform(), Platform::Linux);
    let plan = plan(&linux, Some(addr(5354)), &suffixes(&["test"]));
    assert!(!plan.supported);
    assert!(plan.files.is_empty());
    assert!(
        plan.note.contains("server=/test/127.0.0.1#5354"),
        "{}",
        plan.note
    );
    assert!(plan.note.contains("hosts"), "{}", plan.note);
    assert!(plan.setup_script.contains("server=/test/127.0.0.1#5354"));
    let err = write(&linux, &plan).expect_err("nothing Portico can write");
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert_eq!(
        remove(&linux).expect("nothing to remove"),
        Written::default()
    );
    // A dnsmasq line the user added is recognised.
    let conf = root.path().join("etc/dnsmasq.d/portico.conf");
    std::fs::create_dir_all(conf.parent().expect("dir")).expect("dir");
    std::fs::write(&conf, "server=/test/127.0.0.1#5354\n").expect("line");
    let status = suffix_status(&linux, Some(addr(5354)), &suffixes(&["test"]));
    assert!(status[0].resolver_configured, "{status:?}");

    let windows = env(root.path(), Platform::Windows);
    let plan = super::plan(&windows, Some(addr(5354)), &suffixes(&["test"]));
    assert!(!plan.supported);
    assert!(plan.note.contains("cannot name a"), "{}", plan.note);
    assert!(plan.note.contains("hosts"), "{}", plan.note);
}

#[test]
fn no_suffixes_or_no_fixed_port_plans_nothing_and_says_why() {
    let root = tempfile::tempdir().expect("tempdir");
    let env = env(root.path(), Platform::Macos);
    let none = plan(&env, Some(addr(5354)), &[]);
    assert!(!none.supported && none.files.is_empty());
    assert!(none.note.contains("dns_suffixes"), "{}", none.note);
    let port_zero = plan(&env, Some(addr(0)), &suffixes(&["test"]));
    assert!(!port_zero.supported);
    assert!(port_zero.note.contains("dns_listen"), "{}", port_zero.note);
    let off = suffix_status(&env, None, &suffixes(&["test"]));
    assert!(!off[0].resolver_configured);
    assert!(off[0].detail.contains("not listening"));
}

#[test]
fn a_read_only_or_forbidden_etc_is_a_permission_error() {
    let err = Error::Write {
        path: "/etc/resolver/test".into(),
        source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    };
    assert!(err.is_permission());
    assert!(err.to_string().contains("/etc/resolver/test"));
}
