//! The local certificate authority: a root that stays the same for years (the one users
//! trust) and an intermediate that signs leaves and carries X.509 name constraints, so even
//! a leaked intermediate key can only vouch for local names.
//!
//! Files in `<data-dir>/ca/` (directory 0700, keys 0600):
//! `root.pem`, `root.key`, `intermediate.pem`, `intermediate.key`.
//! The intermediate is re-issued (by the same root, so nothing needs re-trusting) when the
//! local suffixes change, when a LAN address must be added to it (sharing a route on the
//! network), when it nears expiry, or when it was not signed by this root.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ipnet::IpNet;
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, GeneralSubtree, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, NameConstraints, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::Error;

/// Suffixes the intermediate may always sign for. Users add more in settings.
pub const DEFAULT_SUFFIXES: [&str; 4] = ["localhost", "test", "internal", "home.arpa"];

const ROOT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);
const INTERMEDIATE_LIFETIME: Duration = Duration::from_secs(365 * 86_400);
/// Re-issue the intermediate when less than this is left.
const INTERMEDIATE_RENEW_BEFORE: Duration = Duration::from_secs(60 * 86_400);
/// Certificates start a day in the past so a slightly wrong clock does not reject them.
const BACKDATE: Duration = Duration::from_secs(86_400);

const ROOT_CERT: &str = "root.pem";
const ROOT_KEY: &str = "root.key";
const INTER_CERT: &str = "intermediate.pem";
const INTER_KEY: &str = "intermediate.key";

/// A loaded CA: the root certificate and the intermediate that signs leaves.
pub struct Ca {
    dir: PathBuf,
    root_pem: String,
    root_der: CertificateDer<'static>,
    root_name: String,
    intermediate_der: CertificateDer<'static>,
    intermediate_not_after: SystemTime,
    intermediate: Issuer<'static, KeyPair>,
    suffixes: BTreeSet<String>,
    /// Addresses the intermediate may vouch for besides 127.0.0.0/8 and ::1.
    lan_ips: BTreeSet<IpNet>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("dir", &self.dir)
            .field("root", &self.root_name)
            .field("suffixes", &self.suffixes)
            .finish_non_exhaustive()
    }
}

/// What `load_or_create` did, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaEvent {
    /// A new root was created (first start).
    CreatedRoot,
    /// The intermediate was (re-)issued by the existing root.
    IssuedIntermediate,
    /// Both were loaded as they were.
    Loaded,
}

impl Ca {
    /// Load the CA from `dir`, creating the root on first use. `owner` (e.g. `alice@laptop`)
    /// names the root so users recognise it in a trust store; `extra_suffixes` are added to
    /// [`DEFAULT_SUFFIXES`] in the intermediate's name constraints.
    ///
    /// A root certificate without its key (or an unreadable one) is an error: a silent new
    /// root would break every trust store the old one was installed in.
    pub fn load_or_create(
        dir: &Path,
        owner: &str,
        extra_suffixes: &[String],
    ) -> Result<(Ca, CaEvent), Error> {
        Ca::open(dir, owner, extra_suffixes, &[], true)
    }

    /// Load the CA from `dir` without ever creating a root: for reloading a CA that another
    /// process may be replacing at this moment (`portico ca rotate`). A missing root is an
    /// error; the caller keeps its current CA and tries again later.
    pub fn load(
        dir: &Path,
        owner: &str,
        extra_suffixes: &[String],
    ) -> Result<(Ca, CaEvent), Error> {
        Ca::open(dir, owner, extra_suffixes, &[], false)
    }

    /// [`Ca::load`], making sure the intermediate may also vouch for `lan_ips` (this
    /// machine's addresses on the network, for shared routes): when it may not, a new
    /// intermediate is issued by the same root with them added to its permitted subtrees, so
    /// nothing needs trusting again. Addresses already permitted stay permitted (until the CA
    /// is rotated), so a changing set of shared routes never re-issues it back and forth.
    pub fn load_permitting(
        dir: &Path,
        owner: &str,
        extra_suffixes: &[String],
        lan_ips: &[IpAddr],
    ) -> Result<(Ca, CaEvent), Error> {
        Ca::open(dir, owner, extra_suffixes, lan_ips, false)
    }

    fn open(
        dir: &Path,
        owner: &str,
        extra_suffixes: &[String],
        lan_ips: &[IpAddr],
        may_create_root: bool,
    ) -> Result<(Ca, CaEvent), Error> {
        create_private_dir(dir)?;
        let suffixes = suffix_set(extra_suffixes)?;
        let root_cert = dir.join(ROOT_CERT);
        let root_key = dir.join(ROOT_KEY);
        let mut event = CaEvent::Loaded;
        if !root_cert.exists() && !root_key.exists() {
            if !may_create_root {
                return Err(Error::CaCorrupt {
                    path: root_cert,
                    reason: "the root certificate is not there (is a rotation under way?)".into(),
                });
            }
            create_root(dir, owner)?;
            event = CaEvent::CreatedRoot;
        }
        let root_pem = read(&root_cert, "CA certificate")?;
        let root_key_pem = match std::fs::read_to_string(&root_key) {
            Ok(text) => text,
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::CaKeyMissing { path: root_key });
            }
            Err(source) => {
                return Err(Error::CaIo {
                    path: root_key,
                    source,
                });
            }
        };
        let root_key_pair = KeyPair::from_pem(&root_key_pem).map_err(|e| Error::CaCorrupt {
            path: root_key.clone(),
            reason: e.to_string(),
        })?;
        let root_der = pem_to_der(&root_pem, &root_cert)?;
        let root_name = subject_cn(&root_der, &root_cert)?;
        if !key_matches_cert(&root_key_pair, &root_der) {
            return Err(Error::CaCorrupt {
                path: root_key,
                reason: "this key does not belong to root.pem".into(),
            });
        }
        let root_issuer =
            Issuer::from_ca_cert_der(&root_der, root_key_pair).map_err(|e| Error::CaCorrupt {
                path: root_cert.clone(),
                reason: e.to_string(),
            })?;

        let current = load_intermediate(dir, &root_der)?;
        // Kept addresses first, then the ones asked for that no permitted subtree covers.
        let mut ips: BTreeSet<IpNet> = current
            .as_ref()
            .map(|i| i.lan_ips.clone())
            .unwrap_or_default();
        let mut missing_ip = false;
        for ip in lan_ips {
            if !permitted_ip(&ips, *ip) {
                ips.insert(IpNet::from(*ip));
                missing_ip = true;
            }
        }
        let usable = current
            .as_ref()
            .filter(|i| i.suffixes == suffixes && !missing_ip && i.renew_at() > SystemTime::now());
        let (intermediate_der, key, not_after) = match usable {
            Some(existing) => (
                existing.der.clone(),
                existing.key_pem.clone(),
                existing.not_after,
            ),
            None => {
                if event == CaEvent::Loaded {
                    event = CaEvent::IssuedIntermediate;
                }
                issue_intermediate(dir, &root_issuer, owner, &suffixes, &ips)?
            }
        };
        let key_pair = KeyPair::from_pem(&key).map_err(|e| Error::CaCorrupt {
            path: dir.join(INTER_KEY),
            reason: e.to_string(),
        })?;
        let intermediate = Issuer::from_ca_cert_der(&intermediate_der, key_pair).map_err(|e| {
            Error::CaCorrupt {
                path: dir.join(INTER_CERT),
                reason: e.to_string(),
            }
        })?;
        Ok((
            Ca {
                dir: dir.to_owned(),
                root_pem,
                root_der,
                root_name,
                intermediate_der,
                intermediate_not_after: not_after,
                intermediate,
                suffixes,
                lan_ips: ips,
            },
            event,
        ))
    }

    /// Move the current CA aside (to `<dir>/retired-<unix time>/`) and create a new one.
    /// Returns the directory the old CA was moved to.
    pub fn retire(dir: &Path) -> Result<PathBuf, Error> {
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let retired = dir.join(format!("retired-{stamp}"));
        create_private_dir(&retired)?;
        for name in [ROOT_CERT, ROOT_KEY, INTER_CERT, INTER_KEY] {
            let from = dir.join(name);
            if from.exists() {
                std::fs::rename(&from, retired.join(name))
                    .map_err(|source| Error::CaIo { path: from, source })?;
            }
        }
        Ok(retired)
    }

    /// The root certificate, PEM.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &CertificateDer<'static> {
        &self.root_der
    }

    /// The root's common name, e.g. `Portico Local CA (alice@laptop)`.
    pub fn root_name(&self) -> &str {
        &self.root_name
    }

    /// When the root expires.
    pub fn root_not_after(&self) -> SystemTime {
        X509Certificate::from_der(&self.root_der)
            .map(|(_, c)| unix_time(c.validity().not_after.timestamp()))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// Path of `root.pem`.
    pub fn root_path(&self) -> PathBuf {
        self.dir.join(ROOT_CERT)
    }

    /// Uppercase hex SHA-256 of the root certificate.
    pub fn root_fingerprint(&self) -> String {
        fingerprint(&self.root_der)
    }

    /// The intermediate certificate, DER (sent in every chain).
    pub fn intermediate_der(&self) -> &CertificateDer<'static> {
        &self.intermediate_der
    }

    /// Uppercase hex SHA-256 of the intermediate: identifies which leaves it signed.
    pub fn intermediate_fingerprint(&self) -> String {
        fingerprint(&self.intermediate_der)
    }

    /// When the intermediate expires.
    pub fn intermediate_not_after(&self) -> SystemTime {
        self.intermediate_not_after
    }

    /// The suffixes the intermediate may sign for.
    pub fn suffixes(&self) -> &BTreeSet<String> {
        &self.suffixes
    }

    /// The addresses the intermediate may vouch for besides loopback (LAN addresses added
    /// for sharing), e.g. `192.168.1.20`.
    pub fn lan_ips(&self) -> Vec<String> {
        self.lan_ips.iter().map(|n| n.addr().to_string()).collect()
    }

    /// Whether the intermediate may vouch for the address `ip`: loopback, or a LAN address
    /// added for sharing.
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        permitted_ip(&self.lan_ips, ip)
    }

    /// Whether `host` is under a permitted suffix, or is an address the intermediate may
    /// vouch for.
    pub fn permits(&self, host: &str) -> bool {
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return self.permits_ip(ip);
        }
        self.suffixes.iter().any(|s| {
            host == s
                || host
                    .strip_suffix(s.as_str())
                    .is_some_and(|h| h.ends_with('.'))
        })
    }

    pub(super) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.intermediate
    }
}

/// Whether `host` (a name, or a wildcard's base) is under [`DEFAULT_SUFFIXES`] or one of
/// `extra_suffixes`: only such names can get a certificate from Portico's CA.
pub fn is_local_name(host: &str, extra_suffixes: &[String]) -> bool {
    let host = host
        .trim_start_matches("*.")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    DEFAULT_SUFFIXES
        .iter()
        .map(|s| (*s).to_owned())
        .chain(
            extra_suffixes
                .iter()
                .map(|s| s.trim_matches('.').to_ascii_lowercase()),
        )
        .any(|s| {
            host == s
                || host
                    .strip_suffix(s.as_str())
                    .is_some_and(|h| h.ends_with('.'))
        })
}

/// Uppercase hex SHA-256 of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Whether `ip` is loopback (always permitted) or inside one of `extra`.
fn permitted_ip(extra: &BTreeSet<IpNet>, ip: IpAddr) -> bool {
    loopback_subtrees().iter().any(|n| n.contains(&ip)) || extra.iter().any(|n| n.contains(&ip))
}

/// The address subtrees every intermediate permits: 127.0.0.0/8 and ::1.
fn loopback_subtrees() -> [IpNet; 2] {
    [
        IpNet::new(IpAddr::from([127, 0, 0, 0]), 8).expect("8 is a valid IPv4 prefix"),
        IpNet::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
    ]
}

fn suffix_set(extra: &[String]) -> Result<BTreeSet<String>, Error> {
    let mut set: BTreeSet<String> = DEFAULT_SUFFIXES.iter().map(|s| (*s).to_owned()).collect();
    for suffix in extra {
        let clean =
            crate::config::normalize_suffix(suffix).ok_or_else(|| Error::InvalidSuffix {
                suffix: suffix.clone(),
            })?;
        set.insert(clean);
    }
    Ok(set)
}

pub(super) fn random_serial() -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    // A positive INTEGER: the top bit must be clear.
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&bytes))
}

fn window(lifetime: Duration) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - BACKDATE, now + lifetime)
}

fn create_root(dir: &Path, owner: &str) -> Result<(), Error> {
    let key = KeyPair::generate().map_err(Error::Generate)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Portico Local CA ({owner})"));
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Portico local development CA");
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, owner.to_owned());
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial()?);
    (params.not_before, params.not_after) = window(ROOT_LIFETIME);
    let cert = params.self_signed(&key).map_err(Error::Generate)?;
    // Key first: a certificate without its key is the state `load_or_create` refuses.
    write_private(&dir.join(ROOT_KEY), &key.serialize_pem())?;
    write_file(&dir.join(ROOT_CERT), &cert.pem())
}

struct StoredIntermediate {
    der: CertificateDer<'static>,
    key_pem: String,
    not_after: SystemTime,
    suffixes: BTreeSet<String>,
    lan_ips: BTreeSet<IpNet>,
}

impl StoredIntermediate {
    fn renew_at(&self) -> SystemTime {
        self.not_after
            .checked_sub(INTERMEDIATE_RENEW_BEFORE)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// The stored intermediate, if it exists, parses, and was signed by `root`. Anything else
/// means "issue a new one" (the intermediate is ours to replace; the root is not).
fn load_intermediate(
    dir: &Path,
    root: &CertificateDer<'static>,
) -> Result<Option<StoredIntermediate>, Error> {
    let (Ok(pem), Ok(key_pem)) = (
        std::fs::read_to_string(dir.join(INTER_CERT)),
        std::fs::read_to_string(dir.join(INTER_KEY)),
    ) else {
        return Ok(None);
    };
    let Ok(der) = pem_to_der(&pem, &dir.join(INTER_CERT)) else {
        return Ok(None);
    };
    let Ok((_, root_cert)) = X509Certificate::from_der(root) else {
        return Ok(None);
    };
    let Ok((_, cert)) = X509Certificate::from_der(&der) else {
        return Ok(None);
    };
    if cert.verify_signature(Some(root_cert.public_key())).is_err() {
        return Ok(None);
    }
    let Ok(key) = KeyPair::from_pem(&key_pem) else {
        return Ok(None);
    };
    if !key_matches_cert(&key, &der) {
        return Ok(None);
    }
    let mut suffixes = BTreeSet::new();
    let mut lan_ips = BTreeSet::new();
    if let Ok(Some(ext)) = cert.name_constraints()
        && let Some(permitted) = &ext.value.permitted_subtrees
    {
        for subtree in permitted {
            match subtree.base {
                GeneralName::DNSName(name) => {
                    suffixes.insert(name.to_owned());
                }
                GeneralName::IPAddress(bytes) => {
                    if let Some(net) = subtree_net(bytes)
                        && !loopback_subtrees().contains(&net)
                    {
                        lan_ips.insert(net);
                    }
                }
                _ => {}
            }
        }
    }
    let not_after = unix_time(cert.validity().not_after.timestamp());
    Ok(Some(StoredIntermediate {
        der: der.clone(),
        key_pem,
        not_after,
        suffixes,
        lan_ips,
    }))
}

/// A name constraint's IP subtree (address then mask, RFC 5280 4.2.1.10) as a network.
fn subtree_net(bytes: &[u8]) -> Option<IpNet> {
    let (addr, mask): (IpAddr, &[u8]) = match bytes.len() {
        8 => (
            IpAddr::from(<[u8; 4]>::try_from(&bytes[..4]).ok()?),
            &bytes[4..],
        ),
        32 => (
            IpAddr::from(<[u8; 16]>::try_from(&bytes[..16]).ok()?),
            &bytes[16..],
        ),
        _ => return None,
    };
    let prefix: u32 = mask.iter().map(|b| b.count_ones()).sum();
    IpNet::new(addr, u8::try_from(prefix).ok()?).ok()
}

fn unix_time(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

fn issue_intermediate(
    dir: &Path,
    root: &Issuer<'static, KeyPair>,
    owner: &str,
    suffixes: &BTreeSet<String>,
    lan_ips: &BTreeSet<IpNet>,
) -> Result<(CertificateDer<'static>, String, SystemTime), Error> {
    let key = KeyPair::generate().map_err(Error::Generate)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        format!("Portico Local Intermediate ({owner})"),
    );
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Portico local development CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = true;
    let mut permitted: Vec<GeneralSubtree> = suffixes
        .iter()
        .map(|s| GeneralSubtree::DnsName(s.clone()))
        .collect();
    for net in loopback_subtrees().iter().chain(lan_ips) {
        permitted.push(GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
            net.addr(),
            net.prefix_len(),
        )));
    }
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: permitted,
        excluded_subtrees: Vec::new(),
    });
    params.serial_number = Some(random_serial()?);
    (params.not_before, params.not_after) = window(INTERMEDIATE_LIFETIME);
    let not_after = unix_time(params.not_after.unix_timestamp());
    let cert = params.signed_by(&key, root).map_err(Error::Generate)?;
    let key_pem = key.serialize_pem();
    write_private(&dir.join(INTER_KEY), &key_pem)?;
    write_file(&dir.join(INTER_CERT), &cert.pem())?;
    Ok((cert.der().clone(), key_pem, not_after))
}

fn key_matches_cert(key: &KeyPair, der: &[u8]) -> bool {
    X509Certificate::from_der(der)
        .map(|(_, cert)| cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw())
        .unwrap_or(false)
}

fn subject_cn(der: &[u8], path: &Path) -> Result<String, Error> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| Error::CaCorrupt {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("Portico Local CA")
        .to_owned())
}

pub(super) fn pem_to_der(pem: &str, path: &Path) -> Result<CertificateDer<'static>, Error> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| Error::CaCorrupt {
        path: path.to_owned(),
        reason: format!("not a PEM certificate ({e})"),
    })
}

fn read(path: &Path, what: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::CaCorrupt {
                path: path.to_owned(),
                reason: format!("the {what} is missing while its key exists"),
            }
        } else {
            Error::CaIo {
                path: path.to_owned(),
                source,
            }
        }
    })
}

fn create_private_dir(dir: &Path) -> Result<(), Error> {
    let io = |source| Error::CaIo {
        path: dir.to_owned(),
        source,
    };
    if !dir.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

/// Write a key: created with mode 0600 before any byte is written, then renamed into place.
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    write_with_mode(path, text, 0o600)
}

fn write_file(path: &Path, text: &str) -> Result<(), Error> {
    write_with_mode(path, text, 0o644)
}

fn write_with_mode(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    crate::store::write_atomically(path, text.as_bytes(), mode).map_err(|source| Error::CaIo {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests;
