//! The CA certificate as the trust stores see it: its PEM file, DER bytes, fingerprints and
//! name. Creating the CA is `tls::ca`'s job, not this file's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ring::digest;
use x509_parser::error::PEMError;
use x509_parser::pem::Pem;

use super::Error;

/// The CA certificate to install: the root, as a PEM file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaCert {
    /// The file's text: exactly one PEM `CERTIFICATE` block.
    pub pem: String,
    /// The certificate in DER.
    pub der: Vec<u8>,
    /// The PEM file. Stores that copy a file (the system anchors, `sudo install …`) copy this.
    pub path: PathBuf,
    /// Human-readable and unique per CA, e.g. `Portico Local CA (alice@laptop) 1A2B3C4D`;
    /// the NSS nickname (with `:` replaced, since NSS reads it as a token prefix).
    pub name: String,
}

impl CaCert {
    /// Read `path` and decode its one PEM `CERTIFICATE` block. A file with a key or a second
    /// block is refused: stores copy the file as it is, and a key must never land in a
    /// world-readable anchor directory.
    pub fn from_pem_file(path: &Path, name: String) -> Result<CaCert, Error> {
        let invalid = |problem| Error::InvalidPem {
            path: path.to_owned(),
            problem,
        };
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let pem = String::from_utf8(bytes).map_err(|_| invalid("it is not text"))?;
        let blocks = pem_blocks(pem.as_bytes()).map_err(|e| {
            invalid(match e {
                PEMError::Base64DecodeError => "a PEM block has damaged base64",
                PEMError::IncompletePEM => "a PEM block has no END line",
                _ => "a PEM block has a malformed BEGIN line",
            })
        })?;
        let der = match blocks.as_slice() {
            [] => return Err(invalid("it has no PEM block")),
            [only] if only.label == "CERTIFICATE" => only.contents.clone(),
            [_] => return Err(invalid("its PEM block is not a CERTIFICATE")),
            _ => return Err(invalid("it has more than one PEM block")),
        };
        x509_parser::parse_x509_certificate(&der)
            .map_err(|_| invalid("the PEM block does not hold an X.509 certificate"))?;
        Ok(CaCert {
            pem,
            der,
            path: path.to_owned(),
            name,
        })
    }

    /// Uppercase hex of the SHA-256 digest of the DER, without separators.
    pub fn sha256_hex(&self) -> String {
        hex_upper(digest::digest(&digest::SHA256, &self.der).as_ref())
    }

    /// Uppercase hex of the SHA-1 digest of the DER, for macOS `security` and Windows
    /// `certutil`, which identify certificates by it.
    pub fn sha1_hex(&self) -> String {
        hex_upper(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der).as_ref())
    }

    /// A short stable id for file names and aliases: the first 16 hex digits of the SHA-256,
    /// lowercase.
    pub fn short_id(&self) -> String {
        self.sha256_hex()[..16].to_ascii_lowercase()
    }
}

/// Whether PEM text holds a `CERTIFICATE` block whose DER is `der` (a bundle, an anchor file,
/// `NODE_EXTRA_CA_CERTS`). A damaged block ends the search rather than failing it: a store
/// that cannot be read as holding the certificate does not hold it.
pub(crate) fn pem_holds(text: &[u8], der: &[u8]) -> bool {
    Pem::iter_from_buffer(text)
        .map_while(Result::ok)
        .any(|block| block.label == "CERTIFICATE" && block.contents == der)
}

/// Every PEM block in `text`, in order; text outside blocks is ignored.
fn pem_blocks(text: &[u8]) -> Result<Vec<Pem>, PEMError> {
    let mut blocks = Vec::new();
    for block in Pem::iter_from_buffer(text) {
        match block {
            Ok(block) => blocks.push(block),
            // Trailing text after the last block reads as "no further header".
            Err(PEMError::MissingHeader) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(blocks)
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}
