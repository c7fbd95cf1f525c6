//! Choosing the certificate by SNI during the TLS handshake.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::leaf::Authority;

/// rustls certificate resolver: the leaf for the SNI name (issued on first use). A client
/// without SNI (one that connects by IP) gets the `localhost` leaf, which also covers
/// 127.0.0.1 and ::1.
#[derive(Debug)]
pub(super) struct SniResolver {
    pub(super) authority: Arc<ArcSwap<Authority>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello
            .server_name()
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .unwrap_or_else(|| "localhost".to_owned());
        match self.authority.load().certificate_for(&name) {
            Ok(key) => Some(key),
            Err(err) => {
                tracing::warn!("TLS handshake for {name:?} refused: {err}");
                None
            }
        }
    }
}

/// rustls certificate resolver for a listener reached by one address (a shared route on the
/// LAN): always the leaf for that address, whatever the client sends as SNI (clients send
/// none for an IP address).
#[derive(Debug)]
pub(super) struct FixedResolver {
    pub(super) authority: Arc<ArcSwap<Authority>>,
    pub(super) name: String,
}

impl ResolvesServerCert for FixedResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.authority.load().certificate_for(&self.name) {
            Ok(key) => Some(key),
            Err(err) => {
                tracing::warn!("TLS handshake for {:?} refused: {err}", self.name);
                None
            }
        }
    }
}
