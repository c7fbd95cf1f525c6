//! What sharing a route on the local network may be set to: which routes can be shared, the
//! port, the LAN address setting, and who may connect when the route names no one.

use std::net::IpAddr;

use super::{Error, HostPattern, IpList};

/// Who may use a shared route when its `share_allow_ips` is empty: the private ranges a home
/// or office network uses (RFC 1918, link-local, IPv6 unique-local and link-local) and this
/// machine's loopback.
pub const DEFAULT_SHARE_ALLOW: [&str; 8] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
    "127.0.0.0/8",
    "::1",
];

/// The list that decides who may use a shared route: its own, or [`DEFAULT_SHARE_ALLOW`].
pub fn share_allow_list(route_list: &IpList) -> IpList {
    if !route_list.is_empty() {
        return route_list.clone();
    }
    let defaults: Vec<String> = DEFAULT_SHARE_ALLOW
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    IpList::parse("share_allow_ips", &defaults).expect("the default share ranges are valid")
}

/// A route can be shared only when it has one name: a phone reaches it by the machine's
/// address, so Portico must know which name to send upstream.
pub(super) fn check_shareable(host: &HostPattern, shared: bool) -> Result<(), Error> {
    if shared && matches!(host, HostPattern::Wildcard(_)) {
        return Err(Error::InvalidSetting {
            field: "shared",
            reason: format!(
                "{host} is a wildcard route, and a device on the network reaches a shared route by this machine's address alone; share a route with an exact name (add one, e.g. demo{}, for the name you want to show)",
                host.to_string().trim_start_matches('*')
            ),
        });
    }
    Ok(())
}

/// A port for a shared route or the CA page: 1 to 65535, or none (a free one is chosen).
pub(super) fn validate_port(field: &'static str, port: Option<u64>) -> Result<Option<u16>, Error> {
    match port {
        None => Ok(None),
        Some(p) => match u16::try_from(p) {
            Ok(p) if p > 0 => Ok(Some(p)),
            _ => Err(Error::InvalidSetting {
                field,
                reason: format!(
                    "{p} is not a port (1 to 65535); leave it out (null) to have a free port chosen"
                ),
            }),
        },
    }
}

/// The `lan_address` setting: an IP address of this machine that devices on the network can
/// reach (not a wildcard or multicast address).
pub(super) fn validate_lan_address(text: &str) -> Result<String, Error> {
    let bad = |reason: String| Error::InvalidSetting {
        field: "lan_address",
        reason,
    };
    let ip: IpAddr = text.trim().parse().map_err(|_| {
        bad(format!(
            "{text:?} is not an IP address; write this machine's address on your network, e.g. 192.168.1.20"
        ))
    })?;
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(bad(format!(
            "{ip} is not one address of this machine; write the address devices on your network reach it by, e.g. 192.168.1.20"
        )));
    }
    Ok(ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_share_list_covers_private_ranges_only() {
        let list = share_allow_list(&IpList::default());
        for ip in [
            "192.168.1.20",
            "10.1.2.3",
            "172.20.0.1",
            "fd00::5",
            "127.0.0.2",
        ] {
            assert!(list.matching(ip.parse().expect("ip")).is_some(), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:db8::1", "172.32.0.1"] {
            assert!(list.matching(ip.parse().expect("ip")).is_none(), "{ip}");
        }
    }

    #[test]
    fn ports_and_addresses_are_checked() {
        assert_eq!(
            validate_port("share_port", Some(8443)).expect("port"),
            Some(8443)
        );
        assert!(validate_port("share_port", Some(0)).is_err());
        assert!(validate_port("share_port", Some(70_000)).is_err());
        assert_eq!(
            validate_lan_address(" 127.0.0.5 ").expect("address"),
            "127.0.0.5"
        );
        assert!(validate_lan_address("0.0.0.0").is_err());
        assert!(validate_lan_address("lan").is_err());
    }
}
