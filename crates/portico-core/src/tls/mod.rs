//! TLS: Portico's local certificate authority, on-demand leaf certificates chosen by SNI,
//! and installing the CA into trust stores.
//!
//! This module does not touch the database: new leaves are handed out on a channel for the
//! engine to store, and stored leaves come back in through [`Tls::preload`].

mod ca;
mod leaf;
mod resolver;
mod rotate;
pub mod trust;

pub use ca::{Ca, CaEvent, DEFAULT_SUFFIXES, fingerprint, is_local_name};
pub use leaf::{Authority, IssuedLeaf, LeafPolicy};
pub use rotate::{Rotation, rotate};

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;

/// What went wrong with the CA or a certificate. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The CA certificate exists but its key does not.
    #[error(
        "the CA key {path} is missing. Portico will not silently create a new CA, because every browser and trust store that trusts the current one would stop working. Restore the key from a backup, or run `portico ca rotate` to create a new CA and move trust to it"
    )]
    CaKeyMissing {
        /// The key file.
        path: PathBuf,
    },
    /// A CA file exists but cannot be used.
    #[error(
        "the CA file {path} cannot be used: {reason}. Restore it from a backup, or run `portico ca rotate` to create a new CA and move trust to it"
    )]
    CaCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A CA file could not be read or written.
    #[error("cannot read or write {path}: {source}")]
    CaIo {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A local suffix in settings is not a DNS name.
    #[error("local suffix {suffix:?} is not a DNS name (e.g. lan or dev.internal)")]
    InvalidSuffix {
        /// The suffix as configured.
        suffix: String,
    },
    /// The name is not under a suffix the CA may sign for.
    #[error(
        "{host} is not under a local suffix ({suffixes}), so Portico's CA cannot vouch for it; use a name such as app.localhost, or add its suffix to the local suffixes in settings"
    )]
    OutsideSuffixes {
        /// The name asked for.
        host: String,
        /// The permitted suffixes.
        suffixes: String,
    },
    /// The name is not a valid DNS name.
    #[error("{host:?} is not a valid host name for a certificate")]
    InvalidName {
        /// The name asked for.
        host: String,
    },
    /// Key generation or signing failed.
    #[error("cannot create a certificate: {0}")]
    Generate(#[source] rcgen::Error),
    /// The OS random source failed.
    #[error("the system random source failed: {0}")]
    Random(String),
    /// Reading the CA for a trust store failed.
    #[error(transparent)]
    Trust(trust::Error),
    /// rustls refused a key or configuration.
    #[error("TLS setup failed: {0}")]
    Rustls(#[source] rustls::Error),
}

/// rustls's *ring* provider with its cipher suites in the order that is fastest on this
/// machine: AES-128-GCM first where the CPU has AES instructions (fewer rounds than AES-256,
/// and a SHA-256 key schedule, which CPUs with SHA instructions compute several times faster
/// than SHA-384), ChaCha20-Poly1305 first where it has none. Every suite stays offered.
pub(crate) fn local_first_provider() -> CryptoProvider {
    use rustls::CipherSuite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS13_AES_128_GCM_SHA256, TLS13_CHACHA20_POLY1305_SHA256,
    };
    let mut provider = rustls::crypto::ring::default_provider();
    let aes_first = has_aes_instructions();
    // Stable: TLS 1.3 before TLS 1.2 and everything else in the provider's own order.
    provider.cipher_suites.sort_by_key(|suite| {
        let tls13 = matches!(suite, rustls::SupportedCipherSuite::Tls13(_));
        let preferred = match suite.suite() {
            TLS13_AES_128_GCM_SHA256
            | TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => aes_first,
            TLS13_CHACHA20_POLY1305_SHA256
            | TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => !aes_first,
            _ => false,
        };
        (!tls13, !preferred)
    });
    provider
}

/// Whether this CPU has AES-GCM instructions (AES and carry-less multiplication), which
/// decides the cipher suites' order (see [`local_first_provider`]).
pub fn has_aes_instructions() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The TLS side of the engine: the current authority (swappable when the CA changes) and the
/// rustls server configuration that issues leaves by SNI.
#[derive(Debug, Clone)]
pub struct Tls {
    authority: Arc<ArcSwap<Authority>>,
    provider: Arc<CryptoProvider>,
    config: Arc<ServerConfig>,
}

impl Tls {
    /// TLS with `ca`: HTTP/2 and HTTP/1.1 by ALPN, TLS 1.2 and 1.3.
    pub fn new(
        ca: Ca,
        policy: LeafPolicy,
        on_issue: Option<tokio::sync::mpsc::UnboundedSender<IssuedLeaf>>,
    ) -> Result<Tls, Error> {
        let provider = Arc::new(local_first_provider());
        let authority = Arc::new(ArcSwap::from_pointee(Authority::new(
            ca,
            policy,
            provider.clone(),
            on_issue,
        )));
        let mut config = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(Error::Rustls)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver::SniResolver {
                authority: authority.clone(),
            }));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // Clients of this listener run on this machine, so the provider's order (fastest
        // here first) beats theirs (OpenSSL's clients list AES-256 first).
        config.ignore_client_order = true;
        Ok(Tls {
            authority,
            provider,
            config: Arc::new(config),
        })
    }

    /// The rustls server configuration for the HTTPS listener.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// A server configuration that always presents the leaf for `name` (an IP address or a
    /// host name), issued on the first handshake by the current CA: for a listener that
    /// clients reach by one address, such as a route shared on the LAN.
    pub fn fixed_config(&self, name: &str) -> Result<Arc<ServerConfig>, Error> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(Error::Rustls)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver::FixedResolver {
                authority: self.authority.clone(),
                name: name.to_owned(),
            }));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The current authority (CA and leaf cache).
    pub fn authority(&self) -> arc_swap::Guard<Arc<Authority>> {
        self.authority.load()
    }

    /// Swap in a new CA (rotation, changed suffixes); cached leaves of the old one are
    /// dropped and re-issued on demand. Connections already open keep their certificates.
    pub fn replace_ca(
        &self,
        ca: Ca,
        policy: LeafPolicy,
        on_issue: Option<tokio::sync::mpsc::UnboundedSender<IssuedLeaf>>,
    ) {
        self.authority.store(Arc::new(Authority::new(
            ca,
            policy,
            self.provider.clone(),
            on_issue,
        )));
    }

    /// The leaf for `host`, issuing it if needed.
    pub fn certificate_for(&self, host: &str) -> Result<Arc<CertifiedKey>, Error> {
        self.authority.load().certificate_for(host)
    }
}
