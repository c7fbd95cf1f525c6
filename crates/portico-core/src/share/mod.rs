//! Sharing chosen routes on the local network: this machine's LAN address, one HTTPS
//! listener per shared route on that address (serving that route only), the plain-HTTP page
//! that helps a phone install Portico's CA, and the QR codes that carry both links.
//!
//! It owns the listeners' lifecycle, not the routes: which routes are shared, their ports
//! and expiry are route fields (`config`), stored like any other. The engine calls
//! [`Sharing::sync`] with every new route table, and the proxy serves a LAN connection
//! through `ConnInfo::shared_route`. Making the CA vouch for the LAN address is the
//! engine's job too (`tls::Ca::load_permitting`), since it owns the CA's reloads.

mod ca_page;
mod lan;
mod listeners;
mod qr;

pub use lan::{free_port, lan_address};
pub use listeners::{Lan, ShareInfo, Sharing};
pub use qr::{qr_svg, qr_terminal};

use std::net::{IpAddr, SocketAddr};

/// What can keep a route from being shared.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No address of this machine on a local network was found.
    #[error(
        "Portico cannot find this machine's address on a local network (no private IPv4 address such as 192.168.x.x or 10.x.x.x is up), so there is nothing to share on. Connect to a Wi-Fi or wired network, or set the address yourself: portico settings set lan_address 192.168.1.20"
    )]
    NoLanAddress,
    /// The configured LAN address is not one of this machine's.
    #[error(
        "cannot listen on {addr} for sharing: {source}. Is {ip} this machine's address on your network? Check it (ip addr) and set the right one: portico settings set lan_address IP (or `none` to find it by itself)",
        ip = addr.ip()
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The CA could not be extended to the LAN address.
    #[error(
        "Portico's CA cannot vouch for {ip} yet: {source}. The route is not shared. Until this is fixed, a phone can still reach the route over plain HTTP if you add a route for a name under home.arpa and point your router's DNS at this machine, or fix the CA files (portico ca status) and share again"
    )]
    Ca {
        /// The LAN address.
        ip: IpAddr,
        /// Why re-issuing the intermediate failed.
        source: crate::tls::Error,
    },
}

/// `https://IP:PORT` or `http://[IPv6]:PORT`, with `path` after it.
pub(crate) fn url(scheme: &str, addr: SocketAddr, path: &str) -> String {
    format!("{scheme}://{addr}{path}")
}
