//! `name.resolve`: does a route's name reach this machine, and how. The name goes through the
//! system resolver (`getaddrinfo`, as browsers and curl use it), and the hosts file tells how
//! it got its answer: Portico's own block, another line, or neither (DNS).
//!
//! All of it is in [`check`] and the pure [`judge`], so the hosts-file part can later ask the
//! hosts module directly.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use super::{Check, Finding, Level};
use crate::config::{HostPattern, RouteId};

/// The system's hosts file.
pub const HOSTS_FILE: &str = "/etc/hosts";

/// How long one name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// A hosts file larger than this is not read (a real one is a few KiB).
const MAX_HOSTS_BYTES: u64 = 4 << 20;

/// The label put in front of a wildcard's suffix to have a name to resolve.
const WILDCARD_SAMPLE: &str = "portico-doctor";

/// Where the hosts file names a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HostsLine {
    /// 1-based line number.
    pub(super) line: usize,
    /// The address it maps the name to.
    pub(super) addr: String,
    /// Whether the line is inside Portico's block.
    pub(super) in_block: bool,
}

/// Resolve `pattern` (a sample name for a wildcard) and say whether and how it reaches
/// loopback.
pub(super) async fn check(
    pattern: &HostPattern,
    route: Option<RouteId>,
    hosts_file: &Path,
    hosts_command: &str,
) -> Finding {
    let name = sample_name(pattern);
    let resolved =
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name.as_str(), 0)))
            .await
        {
            Ok(Ok(addrs)) => {
                let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                ips.dedup();
                Ok(ips)
            }
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {} s", RESOLVE_TIMEOUT.as_secs())),
        };
    let hosts = read_hosts(hosts_file)
        .await
        .and_then(|text| find_in_hosts(&text, &name));
    let finding = judge(
        pattern,
        &name,
        &resolved,
        hosts.as_ref(),
        hosts_file,
        hosts_command,
    );
    match route {
        Some(id) => finding.route(id),
        None => finding,
    }
}

/// The name to resolve for `pattern`: itself, or a name under a wildcard's suffix.
pub(super) fn sample_name(pattern: &HostPattern) -> String {
    match pattern {
        HostPattern::Exact(name) => name.clone(),
        HostPattern::Wildcard(suffix) => format!("{WILDCARD_SAMPLE}.{suffix}"),
    }
}

async fn read_hosts(path: &Path) -> Option<String> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    if meta.len() > MAX_HOSTS_BYTES {
        return None;
    }
    let bytes = tokio::fs::read(path).await.ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The first line of a hosts file that names `name`, and whether it is in Portico's block.
pub(super) fn find_in_hosts(text: &str, name: &str) -> Option<HostsLine> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    crate::hosts::entries(text)
        .into_iter()
        .find(|e| e.name == name)
        .map(|e| HostsLine {
            line: e.line,
            addr: e.address.to_string(),
            in_block: e.in_block,
        })
}

/// The finding for `pattern` whose sample `name` resolved to `resolved`, given where the
/// hosts file at `hosts_file` names it; `hosts_command` puts route names into Portico's block.
pub(super) fn judge(
    pattern: &HostPattern,
    name: &str,
    resolved: &Result<Vec<IpAddr>, String>,
    hosts: Option<&HostsLine>,
    hosts_file: &Path,
    hosts_command: &str,
) -> Finding {
    let subject = pattern.to_string();
    let file = hosts_file.display();
    let checked = match pattern {
        HostPattern::Exact(_) => String::new(),
        HostPattern::Wildcard(_) => format!(" (checked with {name})"),
    };
    let localhost = crate::proxy::is_localhost(name);
    let ips = match resolved {
        Ok(ips) if !ips.is_empty() => ips.as_slice(),
        _ => &[],
    };
    let list = |ips: &[IpAddr]| {
        ips.iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };

    if !ips.is_empty() && ips.iter().all(IpAddr::is_loopback) {
        let how = if localhost {
            "names under .localhost are this machine by definition; browsers resolve them \
             themselves, and so does this machine's resolver"
                .to_owned()
        } else {
            match hosts {
                Some(h) if h.in_block => format!("through Portico's block in {file}"),
                Some(h) => format!("through {file} (line {})", h.line),
                None => "through DNS".to_owned(),
            }
        };
        return Finding::new(
            Check::NameResolve,
            Level::Ok,
            subject,
            format!("{name} resolves to {}{checked}: {how}.", list(ips)),
        );
    }

    let fix = fix_for(pattern, hosts_file, hosts_command);
    if !ips.is_empty() {
        let why = match hosts {
            Some(h) if !addr_is_loopback(&h.addr) => format!(
                "{file} maps it to {} (line {}{})",
                h.addr,
                h.line,
                if h.in_block {
                    ", in Portico's block"
                } else {
                    ""
                }
            ),
            _ => "DNS answers for it".to_owned(),
        };
        let fix = match hosts {
            Some(h) if !h.in_block && !addr_is_loopback(&h.addr) => format!(
                "Change line {} of {file} to 127.0.0.1, or remove it and run: {fix}",
                h.line
            ),
            _ => fix,
        };
        return Finding::new(
            Check::NameResolve,
            Level::Error,
            subject,
            format!(
                "{name} resolves to {}{checked}, not to this machine ({why}), so browsers send \
                 its requests elsewhere and never reach Portico.",
                list(ips)
            ),
        )
        .fix(fix);
    }

    let reason = match resolved {
        Err(err) => format!(" ({err})"),
        Ok(_) => String::new(),
    };
    if localhost {
        return Finding::new(
            Check::NameResolve,
            Level::Warn,
            subject,
            format!(
                "Browsers resolve {name} to this machine by themselves, but this machine's \
                 resolver does not{reason}, so curl, scripts and other programs cannot reach it."
            ),
        )
        .fix(format!(
            "{fix}; or tell the tool where it is, e.g. curl --resolve {name}:443:127.0.0.1"
        ));
    }
    let message = match hosts {
        Some(h) => format!(
            "{name} does not resolve on this machine{reason}{checked}, although line {} of \
             {file}{} names it: the system resolver does not read that file (check the hosts \
             line of /etc/nsswitch.conf lists `files`).",
            h.line,
            if h.in_block {
                " (in Portico's block)"
            } else {
                ""
            }
        ),
        None => format!(
            "{name} does not resolve on this machine{reason}{checked}, so browsers cannot \
             find it."
        ),
    };
    Finding::new(Check::NameResolve, Level::Error, subject, message).fix(fix)
}

/// How to make `pattern` resolve to loopback: the hosts file for a name, a DNS responder for
/// a wildcard (a hosts file cannot hold one).
fn fix_for(pattern: &HostPattern, hosts_file: &Path, hosts_command: &str) -> String {
    match pattern {
        HostPattern::Exact(name) => format!(
            "Add it to the hosts file: {hosts_command} (writes 127.0.0.1 {name} into \
             Portico's block in {}; with the hosts_sync setting on, a running Portico that may \
             write the file keeps it there by itself)",
            hosts_file.display()
        ),
        HostPattern::Wildcard(suffix) => {
            let tld = suffix.rsplit('.').next().unwrap_or(suffix);
            format!(
                "A hosts file cannot hold wildcards: let Portico answer DNS for the suffix: \
                 portico settings set dns_suffixes {tld}, then once: portico dns setup (it \
                 prints the sudo commands that send .{tld} to Portico)"
            )
        }
    }
}

fn addr_is_loopback(addr: &str) -> bool {
    addr.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &str = "127.0.0.1 localhost\n\
        10.1.2.3 printer.test   # the office printer\n\
        # BEGIN Portico (managed by Portico; edits inside this block are replaced)\n\
        127.0.0.1 app.test api.test\n\
        # END Portico\n\
        127.0.0.1 other.test\n";

    fn exact(name: &str) -> HostPattern {
        HostPattern::parse(name).expect("valid host")
    }

    fn loopback() -> Result<Vec<IpAddr>, String> {
        Ok(vec!["127.0.0.1".parse().expect("ip")])
    }

    #[test]
    fn hosts_lines_are_found_inside_and_outside_portico_block() {
        let api = find_in_hosts(HOSTS, "api.test").expect("api.test is listed");
        assert_eq!(
            (api.line, api.in_block, api.addr.as_str()),
            (4, true, "127.0.0.1")
        );
        let other = find_in_hosts(HOSTS, "other.test").expect("other.test is listed");
        assert_eq!((other.line, other.in_block), (6, false));
        let printer = find_in_hosts(HOSTS, "PRINTER.test").expect("case does not matter");
        assert_eq!(printer.addr, "10.1.2.3");
        assert_eq!(find_in_hosts(HOSTS, "the"), None, "comments are not names");
        assert_eq!(find_in_hosts(HOSTS, "nothing.test"), None);
    }

    #[test]
    fn a_loopback_answer_says_how_it_was_found() {
        let file = Path::new("/etc/hosts");
        let block = find_in_hosts(HOSTS, "app.test");
        let f = judge(
            &exact("app.test"),
            "app.test",
            &loopback(),
            block.as_ref(),
            file,
            "sudo portico hosts sync",
        );
        assert_eq!(f.status, Level::Ok);
        assert!(
            f.message.contains("through Portico's block in /etc/hosts"),
            "{f:?}"
        );

        let line = find_in_hosts(HOSTS, "other.test");
        let f = judge(
            &exact("other.test"),
            "other.test",
            &loopback(),
            line.as_ref(),
            file,
            "sudo portico hosts sync",
        );
        assert!(f.message.contains("through /etc/hosts (line 6)"), "{f:?}");

        let f = judge(
            &exact("dns.test"),
            "dns.test",
            &loopback(),
            None,
            file,
            "sudo portico hosts sync",
        );
        assert!(f.message.contains("through DNS"), "{f:?}");

        let f = judge(
            &exact("app.localhost"),
            "app.localhost",
            &loopback(),
            None,
            file,
            "sudo portico hosts sync",
        );
        assert!(
            f.message.contains("browsers resolve them themselves"),
            "{f:?}"
        );
    }

    #[test]
    fn a_name_that_does_not_resolve_gets_the_hosts_sync_fix() {
        let f = judge(
            &exact("nothing.test"),
            "nothing.test",
            &Err("failed to lookup address information".into()),
            None,
            Path::new("/tmp/hosts"),
            "sudo portico hosts sync",
        );
        assert_eq!(f.status, Level::Error);
        assert!(f.message.contains("nothing.test does not resolve"), "{f:?}");
        assert!(
            f.fix
                .as_deref()
                .is_some_and(|fix| fix.contains("sudo portico hosts sync")),
            "{f:?}"
        );
    }

    #[test]
    fn a_wildcard_gets_the_dns_responder_fix() {
        let pattern = exact("*.shop.test");
        let name = sample_name(&pattern);
        assert_eq!(name, "portico-doctor.shop.test");
        let f = judge(
            &pattern,
            &name,
            &Ok(Vec::new()),
            None,
            Path::new("/etc/hosts"),
            "sudo portico hosts sync",
        );
        assert_eq!(f.status, Level::Error);
        assert!(
            f.message.contains("checked with portico-doctor.shop.test"),
            "{f:?}"
        );
        assert!(
            f.fix
                .as_deref()
                .is_some_and(|fix| fix.contains("portico settings set dns_suffixes test")),
            "{f:?}"
        );
    }

    #[test]
    fn an_answer_off_loopback_names_the_hosts_line_to_change() {
        let line = find_in_hosts(HOSTS, "printer.test");
        let f = judge(
            &exact("printer.test"),
            "printer.test",
            &Ok(vec!["10.1.2.3".parse().expect("ip")]),
            line.as_ref(),
            Path::new("/etc/hosts"),
            "sudo portico hosts sync",
        );
        assert_eq!(f.status, Level::Error);
        assert!(
            f.message
                .contains("/etc/hosts maps it to 10.1.2.3 (line 2)"),
            "{f:?}"
        );
        assert!(
            f.fix
                .as_deref()
                .is_some_and(|fix| fix.starts_with("Change line 2")),
            "{f:?}"
        );
    }

    #[test]
    fn a_localhost_name_the_resolver_misses_is_only_a_warning() {
        let f = judge(
            &exact("app.localhost"),
            "app.localhost",
            &Err("not found".into()),
            None,
            Path::new("/etc/hosts"),
            "sudo portico hosts sync",
        );
        assert_eq!(f.status, Level::Warn);
        assert!(
            f.message.contains("Browsers resolve app.localhost"),
            "{f:?}"
        );
    }
}
