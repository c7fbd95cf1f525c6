//! `listener.bind`: with a running engine, where each listener is bound and which ones fell
//! back from the port they wanted; without one, whether the ports `portico serve` would bind
//! can be bound right now, and when a port is taken, by which process (best effort: the
//! `listeners` crate reads `/proc` on Linux and sees other users' processes only as root).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use super::{Check, Finding, Level};
use crate::proxy::ListenSpec;

/// One of Portico's listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
    /// The admin API and UI.
    Admin,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Http => "HTTP",
            Role::Https => "HTTPS",
            Role::Admin => "admin API",
        }
    }

    /// The setting that chooses its address.
    fn setting(self) -> &'static str {
        match self {
            Role::Http => "http_listen",
            Role::Https => "https_listen",
            Role::Admin => "admin_listen",
        }
    }

    /// The `portico serve` flag that chooses its address.
    fn flag(self) -> &'static str {
        match self {
            Role::Http => "--http",
            Role::Https => "--https",
            Role::Admin => "--admin",
        }
    }
}

/// A running engine's listeners.
#[derive(Debug, Clone, Default)]
pub struct Bound {
    /// Each listener's bound addresses (empty: not serving, e.g. HTTPS off).
    pub listeners: Vec<(Role, Vec<SocketAddr>)>,
    /// The listeners that did not get the port they wanted.
    pub fallbacks: Vec<Fallen>,
}

/// A listener on another port than the one it wanted.
#[derive(Debug, Clone)]
pub struct Fallen {
    /// Which listener.
    pub role: Role,
    /// The port it wanted.
    pub wanted: u16,
    /// The port it uses.
    pub used: u16,
    /// Why it could not have the one it wanted (`PermissionDenied`, `AddrInUse`, other).
    pub reason: io::ErrorKind,
}

/// A listener `portico serve` would bind.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Which listener.
    pub role: Role,
    /// Where (from the setting, or the default).
    pub spec: ListenSpec,
}

pub(super) fn running(bound: &Bound) -> Vec<Finding> {
    let mut found = Vec::new();
    for (role, addrs) in &bound.listeners {
        if addrs.is_empty() {
            continue;
        }
        let list: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
        found.push(Finding::new(
            Check::ListenerBind,
            Level::Ok,
            role.label(),
            format!("{} listens on {}.", role.label(), list.join(", ")),
        ));
    }
    for fallen in &bound.fallbacks {
        let Fallen {
            role,
            wanted,
            used,
            reason,
        } = fallen;
        let (why, fix) = match reason {
            io::ErrorKind::AddrInUse => {
                let owner = owner(*wanted)
                    .map(|o| format!(" by {o}"))
                    .unwrap_or_default();
                (
                    format!("port {wanted} is taken{owner}"),
                    format!(
                        "Stop the program on port {wanted} and restart Portico to use it, or \
                         keep {used}"
                    ),
                )
            }
            io::ErrorKind::PermissionDenied => (
                format!("port {wanted} needs a privilege this process does not have"),
                low_ports_fix(*wanted),
            ),
            other => (
                format!("port {wanted} could not be bound ({other})"),
                "See the engine's log".to_owned(),
            ),
        };
        found.push(
            Finding::new(
                Check::ListenerBind,
                Level::Warn,
                role.label(),
                format!(
                    "{} uses port {used} instead of {wanted}: {why}. URLs need :{used}.",
                    role.label()
                ),
            )
            .fix(fix),
        );
    }
    found
}

pub(super) fn planned(plans: &[Planned]) -> Vec<Finding> {
    plans.iter().flat_map(plan).collect()
}

fn plan(p: &Planned) -> Vec<Finding> {
    let label = p.role.label();
    match &p.spec {
        ListenSpec::Addr(addr) if addr.port() == 0 => vec![Finding::new(
            Check::ListenerBind,
            Level::Ok,
            label,
            format!(
                "{label} will listen on a free port of {} picked at start.",
                addr.ip()
            ),
        )],
        ListenSpec::Addr(addr) => match try_bind(*addr) {
            Ok(()) => vec![free(label, *addr)],
            Err(err) => vec![taken(p.role, *addr, &err, None)],
        },
        ListenSpec::Default {
            preferred,
            fallback,
        } => {
            let first = SocketAddr::from((Ipv4Addr::LOCALHOST, *preferred));
            let err = match try_bind(first) {
                Ok(()) => return vec![free(label, first)],
                Err(err) => err,
            };
            if *fallback == 0 {
                return vec![Finding::new(
                    Check::ListenerBind,
                    Level::Ok,
                    label,
                    format!(
                        "Port {preferred} is taken{}, so the {label} will use a free port \
                         (the CLI finds it by itself).",
                        owner(*preferred)
                            .map(|o| format!(" by {o}"))
                            .unwrap_or_default()
                    ),
                )];
            }
            let second = SocketAddr::from((Ipv4Addr::LOCALHOST, *fallback));
            if let Err(err2) = try_bind(second) {
                return vec![taken(p.role, second, &err2, Some(*preferred))];
            }
            let (why, fix) = if err.kind() == io::ErrorKind::PermissionDenied {
                (
                    format!("port {preferred} needs a privilege this user does not have"),
                    low_ports_fix(*preferred),
                )
            } else {
                let owner = owner(*preferred)
                    .map(|o| format!(" by {o}"))
                    .unwrap_or_default();
                (
                    format!("port {preferred} is taken{owner}"),
                    format!("Stop the program on port {preferred} to use it, or keep {fallback}"),
                )
            };
            vec![
                Finding::new(
                    Check::ListenerBind,
                    Level::Warn,
                    label,
                    format!(
                        "{label} will use port {fallback} instead of {preferred}: {why}. URLs \
                         need :{fallback}."
                    ),
                )
                .fix(fix),
            ]
        }
    }
}

fn free(label: &str, addr: SocketAddr) -> Finding {
    Finding::new(
        Check::ListenerBind,
        Level::Ok,
        label,
        format!("{addr} is free: {label} will listen there."),
    )
}

/// `addr` cannot be bound: an error naming the process that holds it, and how to move.
/// `instead_of`: the default port that could not be had either.
fn taken(role: Role, addr: SocketAddr, err: &io::Error, instead_of: Option<u16>) -> Finding {
    let label = role.label();
    let port = addr.port();
    let setting = role.setting();
    let flag = role.flag();
    let next = SocketAddr::new(addr.ip(), port.checked_add(1).unwrap_or(port - 1));
    let move_it = format!(
        "choose another address: portico settings set {setting} {next} (or portico serve \
         {flag} {next})"
    );
    let before = instead_of
        .map(|p| format!("Port {p} cannot be used and its fallback "))
        .unwrap_or_default();
    let (what, fix) = match err.kind() {
        io::ErrorKind::AddrInUse => {
            let who = owner(port);
            let by = who.as_ref().map(|o| format!(" by {o}")).unwrap_or_default();
            let stop = match &who {
                Some(o) => format!("Stop {o}, or {move_it}"),
                None => format!(
                    "Stop the program on port {port} (sudo ss -ltnp 'sport = :{port}' names it), \
                     or {move_it}"
                ),
            };
            (format!("{addr} is taken{by}"), stop)
        }
        io::ErrorKind::PermissionDenied if port < 1024 => (
            format!("{addr} needs a privilege this user does not have"),
            format!("{}, or {move_it}", low_ports_fix(port)),
        ),
        io::ErrorKind::AddrNotAvailable => (
            format!("{addr} is not an address of this machine"),
            format!("Use a loopback address: {move_it}"),
        ),
        _ => (
            format!("{addr} cannot be bound ({err})"),
            format!("Or {move_it}"),
        ),
    };
    let what = if before.is_empty() {
        what
    } else {
        format!("{before}{}", lower_first(&what))
    };
    Finding::new(
        Check::ListenerBind,
        Level::Error,
        label,
        format!("{what}, so the {label} cannot start there."),
    )
    .fix(fix)
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn low_ports_fix(port: u16) -> String {
    format!(
        "Allow low ports once: sudo sysctl -w net.ipv4.ip_unprivileged_port_start={port} (or \
         sudo setcap cap_net_bind_service=+ep \"$(command -v portico)\")"
    )
}

/// Bind and release at once. The standard library sets `SO_REUSEADDR` on Unix as the
/// engine's listeners do, so a port in `TIME_WAIT` is not called taken.
fn try_bind(addr: SocketAddr) -> io::Result<()> {
    drop(std::net::TcpListener::bind(addr)?);
    Ok(())
}

/// The process listening on `port`, as `name (pid N)`, if it can be told.
fn owner(port: u16) -> Option<String> {
    let all = listeners::get_all().ok()?;
    all.into_iter()
        .find(|l| {
            l.protocol == listeners::Protocol::TCP
                && l.state == listeners::SocketState::Listen
                && l.socket.port() == port
        })
        .map(|l| format!("{} (pid {})", l.process.name, l.process.pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_address_names_the_process_and_the_setting() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = held.local_addr().expect("addr");
        let found = planned(&[Planned {
            role: Role::Http,
            spec: ListenSpec::Addr(addr),
        }]);
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!((f.check, f.status), (Check::ListenerBind, Level::Error));
        assert!(f.message.contains(&format!("{addr} is taken by ")), "{f:?}");
        assert!(
            f.message.contains(&format!("pid {}", std::process::id())),
            "this test process holds it: {f:?}"
        );
        assert!(
            f.fix
                .as_deref()
                .is_some_and(|fix| fix.contains("portico settings set http_listen 127.0.0.1:")),
            "{f:?}"
        );
        drop(held);
        let found = planned(&[Planned {
            role: Role::Http,
            spec: ListenSpec::Addr(addr),
        }]);
        assert_eq!(found[0].status, Level::Ok, "{found:?}");
    }

    #[test]
    fn a_running_engine_reports_its_fallbacks() {
        let found = running(&Bound {
            listeners: vec![
                (Role::Http, vec!["127.0.0.1:8080".parse().expect("addr")]),
                (Role::Https, Vec::new()),
            ],
            fallbacks: vec![Fallen {
                role: Role::Http,
                wanted: 80,
                used: 8080,
                reason: io::ErrorKind::PermissionDenied,
            }],
        });
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].status, Level::Ok);
        assert_eq!(found[1].status, Level::Warn);
        assert!(
            found[1].message.contains("uses port 8080 instead of 80"),
            "{found:?}"
        );
        assert!(
            found[1]
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("ip_unprivileged_port_start=80")),
            "{found:?}"
        );
    }
}
