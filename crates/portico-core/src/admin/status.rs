//! `/api/v1/status`: version, listeners and their real addresses, uptime, route counts.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AdminState;
use super::error::Problem;
use super::openapi::{Forbidden, Unauthorized};

/// What the engine reports about itself.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// Portico's version.
    pub version: &'static str,
    /// Seconds since the engine started.
    pub uptime_secs: u64,
    /// The data directory.
    #[schema(value_type = String)]
    pub data_dir: PathBuf,
    /// Bound listeners.
    pub listeners: ListenerStatus,
    /// Proxying is paused (the `proxy_paused` setting): every request gets a 503 page.
    pub paused: bool,
    /// Route counts.
    pub routes: RouteCounts,
    /// The traffic inspector.
    pub capture: CaptureStatus,
    /// What the proxy has open now.
    pub load: crate::proxy::LoadStatus,
    /// Hosts-file sync (see `GET /api/v1/hosts`); null when this engine manages no hosts file.
    pub hosts: Option<crate::hosts::HostsStatus>,
    /// This machine's addresses on its networks (not loopback or link-local), IPv4 first:
    /// where a phone or another computer reaches a listener bound beyond loopback.
    #[schema(value_type = Vec<String>, example = json!(["192.168.1.20"]))]
    pub network_addresses: Vec<IpAddr>,
    /// The DNS responder for the `dns_suffixes` (see `GET /api/v1/dns` for the setup).
    pub dns: crate::dns::DnsStatus,
}

/// This machine's network addresses: up interfaces, no loopback or link-local, IPv4 first,
/// no duplicates. Empty when the interfaces cannot be listed.
pub fn network_addresses() -> Vec<IpAddr> {
    let mut addrs: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|iface| iface.ip())
        .filter(|ip| is_reachable_from_network(*ip))
        .collect();
    addrs.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    addrs.dedup();
    addrs
}

fn is_reachable_from_network(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()),
        // fe80::/10 is link-local: it needs a zone and phones do not type those.
        IpAddr::V6(v6) => {
            !(v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_link_local_are_not_network_addresses() {
        for ip in [
            "127.0.0.1",
            "169.254.3.4",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "::",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(!is_reachable_from_network(ip), "{ip}");
        }
        for ip in ["192.168.1.20", "10.0.0.5", "2001:db8::5", "fd00::1"] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(is_reachable_from_network(ip), "{ip}");
        }
        let found = network_addresses();
        assert!(
            found.iter().all(|ip| is_reachable_from_network(*ip)),
            "{found:?}"
        );
        assert!(found.windows(2).all(|w| w[0] != w[1]), "{found:?}");
    }
}

/// What the traffic inspector is doing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaptureStatus {
    /// Capture is paused (settings).
    pub paused: bool,
    /// Exchanges dropped since start because the recorder could not keep up; proxying is
    /// never slowed for capture.
    pub dropped: u64,
    /// Why captured traffic cannot be stored right now (a full disk, a file that cannot be
    /// written), and what to do; null while it is stored. Proxying goes on regardless, and
    /// capture resumes by itself with the first write that succeeds.
    pub store_error: Option<String>,
    /// Exchanges captured since start that could not be stored (see `store_error`).
    pub not_stored: u64,
    /// The traffic database that could not be used (not SQLite, another program's, from a
    /// newer Portico, or damaged) and was moved aside for a new one since start: where it
    /// went and why. Null when that did not happen.
    pub store_reset: Option<String>,
}

/// Bound listener addresses.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListenerStatus {
    /// Plain HTTP.
    #[schema(value_type = Vec<String>, example = json!(["127.0.0.1:80", "[::1]:80"]))]
    pub http: Vec<SocketAddr>,
    /// HTTPS (empty when it is off).
    #[schema(value_type = Vec<String>, example = json!(["127.0.0.1:443"]))]
    pub https: Vec<SocketAddr>,
    /// The admin API.
    #[schema(value_type = Vec<String>, example = json!(["127.0.0.1:7080"]))]
    pub admin: Vec<SocketAddr>,
    /// Listeners that could not get the port they wanted (80, 443) and use another one:
    /// what the UI explains and offers to fix.
    pub fallbacks: Vec<PortFallback>,
}

/// A listener on another port than the one it wanted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PortFallback {
    /// Which listener.
    pub listener: FallbackListener,
    /// The port it wanted.
    pub wanted: u16,
    /// The port it uses instead.
    pub used: u16,
    /// Why it could not have the one it wanted.
    pub reason: FallbackReason,
}

/// The proxy listener that fell back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FallbackListener {
    /// Plain HTTP (wanted 80).
    Http,
    /// HTTPS (wanted 443).
    Https,
}

/// Why a listener fell back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// Ports below 1024 need a privilege this process does not have (fixable once: see the
    /// `ip_unprivileged_port_start` sysctl or `setcap cap_net_bind_service`).
    Permission,
    /// Another program listens there.
    InUse,
    /// Something else; the engine's log says what.
    Other,
}

impl PortFallback {
    /// The status row for `fallback` of `listener`.
    pub fn new(listener: FallbackListener, fallback: &crate::proxy::Fallback) -> Self {
        let reason = match fallback.reason {
            std::io::ErrorKind::PermissionDenied => FallbackReason::Permission,
            std::io::ErrorKind::AddrInUse => FallbackReason::InUse,
            _ => FallbackReason::Other,
        };
        PortFallback {
            listener,
            wanted: fallback.wanted,
            used: fallback.used,
            reason,
        }
    }
}

/// How many routes there are.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouteCounts {
    /// Stored and valid.
    pub total: usize,
    /// Of those, enabled.
    pub enabled: usize,
    /// Stored rows that do not validate (kept, not served).
    pub invalid: usize,
}

/// Version, listeners and their real addresses, uptime, route counts.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    operation_id = "get_status",
    tag = "status",
    responses(
        (status = 200, description = "The engine's status", body = Status),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn get(State(state): State<AdminState>) -> Result<Json<Status>, Problem> {
    Ok(Json(state.control.status().await?))
}
