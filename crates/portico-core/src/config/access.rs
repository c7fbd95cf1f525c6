//! Who may use a route: lists of client addresses (single IPs or CIDR ranges, IPv4 and
//! IPv6), allowed and denied, globally (settings) and per route. A denied address is refused
//! even when an allow list also names it; an empty allow list allows everyone.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Error;

/// At most this many entries in one list (a list is checked on every request).
pub(crate) const MAX_ENTRIES: usize = 256;

/// A list of client addresses: `127.0.0.2`, `192.168.1.0/24`, `fd00::/8`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpList(Vec<IpNet>);

impl IpList {
    /// Parse `entries` for the field `field` (named in the error): each an IP address or a
    /// CIDR range; host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`), duplicates dropped.
    pub fn parse(field: &'static str, entries: &[String]) -> Result<IpList, Error> {
        if entries.len() > MAX_ENTRIES {
            return Err(Error::InvalidSetting {
                field,
                reason: format!(
                    "at most {MAX_ENTRIES} entries; use CIDR ranges to cover many addresses"
                ),
            });
        }
        let mut nets: Vec<IpNet> = Vec::with_capacity(entries.len());
        for entry in entries {
            let text = entry.trim();
            let net = text
                .parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| Error::InvalidSetting {
                    field,
                    reason: format!(
                        "{text:?} is not an IP address or a CIDR range (write e.g. 192.168.1.20, 192.168.1.0/24 or fd00::/8)"
                    ),
                })?;
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(IpList(nets))
    }

    /// Whether the list names no address.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entry that covers `ip` (an IPv4 address also matches as `::ffff:a.b.c.d`).
    pub fn matching(&self, ip: IpAddr) -> Option<&IpNet> {
        let ip = canonical(ip);
        self.0.iter().find(|net| net.contains(&ip))
    }

    /// The entries as written back: a bare address for a single host, else CIDR.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(display).collect()
    }
}

/// `::ffff:127.0.0.2` as `127.0.0.2`, so IPv4 rules match clients of a dual-stack socket.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn display(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

impl Serialize for IpList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_strings().serialize(s)
    }
}

impl<'de> Deserialize<'de> for IpList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(d)?;
        IpList::parse("ip list", &entries).map_err(serde::de::Error::custom)
    }
}

/// Allowed and denied client addresses, for the whole proxy or one route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// When not empty, only these may connect.
    pub allow: IpList,
    /// Never these (wins over `allow`).
    pub deny: IpList,
}

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A deny entry covers it.
    Denied(String),
    /// The allow list is not empty and does not cover it.
    NotAllowed,
}

impl Access {
    /// The lists for `allow` and `deny` entries as stored (already validated).
    pub fn from_strings(allow: &[String], deny: &[String]) -> Result<Access, Error> {
        Ok(Access {
            allow: IpList::parse("allow_ips", allow)?,
            deny: IpList::parse("deny_ips", deny)?,
        })
    }

    /// `Ok` when `ip` may connect, else why not.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        admits(&self.allow, &self.deny, ip)
    }
}

/// `Ok` when `ip` passes `deny` (no entry covers it) and `allow` (empty, or an entry covers
/// it), else why not.
pub fn admits(allow: &IpList, deny: &IpList, ip: IpAddr) -> Result<(), Refusal> {
    if let Some(net) = deny.matching(ip) {
        return Err(Refusal::Denied(display(net)));
    }
    if !allow.is_empty() && allow.matching(ip).is_none() {
        return Err(Refusal::NotAllowed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> IpList {
        let entries: Vec<String> = entries.iter().map(|s| (*s).to_owned()).collect();
        IpList::parse("allow_ips", &entries).expect("valid")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn entries_are_addresses_or_ranges_written_back_plainly() {
        let l = list(&["127.0.0.2", "10.1.2.3/8", "fd00::/8", "::1", "127.0.0.2"]);
        assert_eq!(
            l.to_strings(),
            ["127.0.0.2", "10.0.0.0/8", "fd00::/8", "::1"]
        );
        let bad = IpList::parse("deny_ips", &["10.0.0.300".to_owned()]).expect_err("bad");
        let text = bad.to_string();
        assert!(
            text.contains("deny_ips") && text.contains("10.0.0.300"),
            "{text}"
        );
        assert!(IpList::parse("deny_ips", &["10.0.0.0/33".to_owned()]).is_err());
        let many: Vec<String> = (0..=MAX_ENTRIES)
            .map(|i| format!("10.0.{}.{}", i / 256, i % 256))
            .collect();
        assert!(IpList::parse("allow_ips", &many).is_err());
    }

    #[test]
    fn deny_wins_and_an_empty_allow_list_allows_everyone() {
        let open = Access::default();
        assert!(open.allow.is_empty() && open.deny.is_empty());
        assert_eq!(open.check(ip("192.0.2.1")), Ok(()));
        let access = Access {
            allow: list(&["127.0.0.0/8", "::1"]),
            deny: list(&["127.0.0.3"]),
        };
        assert_eq!(access.check(ip("127.0.0.2")), Ok(()));
        assert_eq!(access.check(ip("::ffff:127.0.0.2")), Ok(()), "IPv4-mapped");
        assert_eq!(access.check(ip("::1")), Ok(()));
        assert_eq!(
            access.check(ip("127.0.0.3")),
            Err(Refusal::Denied("127.0.0.3".into()))
        );
        assert_eq!(access.check(ip("192.168.1.5")), Err(Refusal::NotAllowed));
        let deny_only = Access {
            allow: IpList::default(),
            deny: list(&["192.168.0.0/16"]),
        };
        assert_eq!(
            deny_only.check(ip("192.168.4.4")),
            Err(Refusal::Denied("192.168.0.0/16".into()))
        );
        assert_eq!(deny_only.check(ip("127.0.0.1")), Ok(()));
    }
}
