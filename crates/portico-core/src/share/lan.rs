//! Finding this machine's address on the local network, and a free port on it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use super::Error;

/// The LAN address to share on: the `lan_address` setting when set, else the private IPv4
/// address this machine uses toward its network. That is the source address the system
/// picks for a UDP socket "connected" to a private address (nothing is sent), and when that
/// is not private (no private network on the default route), the first private IPv4
/// address of an interface that is up.
pub fn lan_address(setting: Option<&str>) -> Result<IpAddr, Error> {
    if let Some(text) = setting
        && let Ok(ip) = text.parse::<IpAddr>()
    {
        return Ok(ip);
    }
    if let Some(ip) = routed_source().filter(is_lan) {
        return Ok(ip);
    }
    let mut candidates: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|iface| iface.ip())
        .filter(|ip| ip.is_ipv4() && is_lan(ip))
        .collect();
    candidates.sort();
    candidates.into_iter().next().ok_or(Error::NoLanAddress)
}

/// The source address for a datagram toward a private range; `connect` on UDP only picks the
/// route, it sends nothing.
fn routed_source() -> Option<IpAddr> {
    let socket = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))).ok()?;
    socket
        .connect(SocketAddr::from((Ipv4Addr::new(192, 168, 255, 254), 9)))
        .ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// A private IPv4 address (RFC 1918) that devices on the same network can reach.
fn is_lan(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_private())
}

/// A port free on `ip` right now (the system's choice), for a newly shared route.
pub fn free_port(ip: IpAddr) -> Result<u16, Error> {
    let addr = SocketAddr::new(ip, 0);
    std::net::TcpListener::bind(addr)
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| Error::Bind { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_wins_and_only_private_addresses_are_found() {
        let set = lan_address(Some("127.0.0.5")).expect("set");
        assert_eq!(set, IpAddr::from([127, 0, 0, 5]));
        assert!(is_lan(&"192.168.1.20".parse().expect("ip")));
        assert!(is_lan(&"10.0.0.5".parse().expect("ip")));
        assert!(!is_lan(&"8.8.8.8".parse().expect("ip")));
        assert!(!is_lan(&"127.0.0.1".parse().expect("ip")));
        // Whatever this machine has, a found address is a private one.
        if let Ok(found) = lan_address(None) {
            assert!(is_lan(&found), "{found}");
        }
    }

    #[test]
    fn a_free_port_is_bindable() {
        let port = free_port(IpAddr::from([127, 0, 0, 1])).expect("port");
        assert_ne!(port, 0);
    }
}
