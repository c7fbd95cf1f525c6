//! Leaf certificates: one per host name, issued by the intermediate on first use, cached in
//! memory, handed to the engine to persist, and renewed well before they expire.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use super::Error;
use super::ca::{Ca, fingerprint};

/// How long leaves live and when they are renewed.
#[derive(Debug, Clone, Copy)]
pub struct LeafPolicy {
    /// Validity of a new leaf. Default: 30 days (browsers accept at most 398).
    pub lifetime: Duration,
    /// Renew a cached leaf when less than this is left. Default: 10 days.
    pub renew_before: Duration,
    /// At most this many leaves are kept in memory; the soonest to expire go first.
    /// Default: 10,000.
    pub max_cached: usize,
}

impl Default for LeafPolicy {
    fn default() -> Self {
        LeafPolicy {
            lifetime: Duration::from_secs(30 * 86_400),
            renew_before: Duration::from_secs(10 * 86_400),
            max_cached: 10_000,
        }
    }
}

/// A leaf as stored: enough to rebuild it after a restart.
#[derive(Debug, Clone)]
pub struct IssuedLeaf {
    /// The host name or IP address (the only SAN, plus loopback IPs for `localhost`).
    pub host: String,
    /// Leaf certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PKCS#8 PEM.
    pub key_pem: String,
    /// Expiry.
    pub not_after: SystemTime,
    /// SHA-256 of the intermediate that signed it; leaves of another intermediate are stale.
    pub issuer: String,
}

struct Cached {
    key: Arc<CertifiedKey>,
    renew_at: SystemTime,
    not_after: SystemTime,
}

/// A CA with its leaf cache. Replaced whole when the CA changes.
pub struct Authority {
    ca: Ca,
    policy: LeafPolicy,
    provider: Arc<CryptoProvider>,
    cache: RwLock<HashMap<String, Cached>>,
    on_issue: Option<tokio::sync::mpsc::UnboundedSender<IssuedLeaf>>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("ca", &self.ca)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// An authority issuing from `ca`. Each new leaf is sent on `on_issue` (to be stored)
    /// without waiting.
    pub fn new(
        ca: Ca,
        policy: LeafPolicy,
        provider: Arc<CryptoProvider>,
        on_issue: Option<tokio::sync::mpsc::UnboundedSender<IssuedLeaf>>,
    ) -> Self {
        Authority {
            ca,
            policy,
            provider,
            cache: RwLock::new(HashMap::new()),
            on_issue,
        }
    }

    /// The CA.
    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    /// Put stored leaves back in the cache: only those this intermediate signed and that are
    /// not due for renewal. Returns how many were kept.
    pub fn preload(&self, stored: Vec<IssuedLeaf>) -> usize {
        let issuer = self.ca.intermediate_fingerprint();
        let mut kept = 0;
        for leaf in stored.into_iter().filter(|l| l.issuer == issuer) {
            let renew_at = self.renew_at(leaf.not_after);
            if renew_at <= SystemTime::now() {
                continue;
            }
            match self.certified(&leaf.cert_pem, &leaf.key_pem) {
                Ok(key) => {
                    self.write_cache().insert(
                        leaf.host,
                        Cached {
                            key,
                            renew_at,
                            not_after: leaf.not_after,
                        },
                    );
                    kept += 1;
                }
                Err(err) => tracing::debug!(host = %leaf.host, "stored leaf not reused: {err}"),
            }
        }
        kept
    }

    /// The certificate for `host` (lowercase, no trailing dot), issuing or renewing it when
    /// needed. Names outside the CA's suffixes are refused.
    pub fn certificate_for(&self, host: &str) -> Result<Arc<CertifiedKey>, Error> {
        let now = SystemTime::now();
        if let Some(hit) = self.read_cache().get(host)
            && hit.renew_at > now
        {
            return Ok(hit.key.clone());
        }
        if !self.ca.permits(host) {
            return Err(Error::OutsideSuffixes {
                host: host.to_owned(),
                suffixes: self
                    .ca
                    .suffixes()
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        // One issuer at a time, and re-check: a concurrent handshake may have issued it.
        let mut cache = self.write_cache();
        if let Some(hit) = cache.get(host)
            && hit.renew_at > now
        {
            return Ok(hit.key.clone());
        }
        let (key, issued) = self.issue(host)?;
        if cache.len() >= self.policy.max_cached
            && let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, c)| c.not_after)
                .map(|(h, _)| h.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(
            host.to_owned(),
            Cached {
                key: key.clone(),
                renew_at: self.renew_at(issued.not_after),
                not_after: issued.not_after,
            },
        );
        drop(cache);
        tracing::info!(%host, "issued a certificate");
        if let Some(tx) = &self.on_issue {
            let _ = tx.send(issued);
        }
        Ok(key)
    }

    fn renew_at(&self, not_after: SystemTime) -> SystemTime {
        not_after
            .checked_sub(self.policy.renew_before)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    fn issue(&self, host: &str) -> Result<(Arc<CertifiedKey>, IssuedLeaf), Error> {
        let invalid = || Error::InvalidName {
            host: host.to_owned(),
        };
        let is_ip = host.parse::<std::net::IpAddr>().is_ok();
        if !is_ip
            && (host.is_empty()
                || host.len() > 253
                || !host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'))
        {
            return Err(invalid());
        }
        let mut names = vec![host.to_owned()];
        if host == "localhost" {
            names.extend(["127.0.0.1".to_owned(), "::1".to_owned()]);
        }
        let mut params = CertificateParams::new(names).map_err(|_| invalid())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        // OpenSSL checks a subject CN that looks like a host name against the DNS name
        // constraints when the certificate has no DNS SAN, and `127.0.0.5` looks like one: an
        // address's leaf gets a CN that cannot be mistaken for a name.
        let common_name = if is_ip {
            format!("Portico address {host}")
        } else {
            host.to_owned()
        };
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(super::ca::random_serial()?);
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::from_secs(3600);
        params.not_after = now + self.policy.lifetime;
        let not_after = SystemTime::UNIX_EPOCH
            + Duration::from_secs(params.not_after.unix_timestamp().max(0) as u64);
        let key = KeyPair::generate().map_err(Error::Generate)?;
        let cert = params
            .signed_by(&key, self.ca.issuer())
            .map_err(Error::Generate)?;
        let issued = IssuedLeaf {
            host: host.to_owned(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            not_after,
            issuer: fingerprint(self.ca.intermediate_der()),
        };
        let certified = self.certified_der(cert.der().clone(), key.serialize_der())?;
        Ok((certified, issued))
    }

    fn certified(&self, cert_pem: &str, key_pem: &str) -> Result<Arc<CertifiedKey>, Error> {
        use rustls_pki_types::pem::PemObject;
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| Error::Rustls(rustls::Error::General(e.to_string())))?;
        let key = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| Error::Rustls(rustls::Error::General(e.to_string())))?;
        self.certified_der(cert, key.secret_pkcs8_der().to_vec())
    }

    fn certified_der(
        &self,
        cert: CertificateDer<'static>,
        pkcs8: Vec<u8>,
    ) -> Result<Arc<CertifiedKey>, Error> {
        let key = self
            .provider
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(pkcs8.into()))
            .map_err(Error::Rustls)?;
        let chain = vec![cert, self.ca.intermediate_der().clone()];
        Ok(Arc::new(CertifiedKey::new(chain, key)))
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Cached>> {
        // The cache holds no invariant a panic could break; a poisoned lock is still usable.
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Cached>> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }
}
