//! The `certificates` table: leaf certificates issued by the CA, so a restart does not
//! re-issue every name.

use rusqlite::params;

use super::{Error, Store};

/// A stored leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    /// Host name.
    pub host: String,
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Private key, PEM.
    pub key_pem: String,
    /// Expiry, Unix seconds.
    pub not_after: i64,
    /// SHA-256 of the signing intermediate.
    pub issuer: String,
}

impl Store {
    /// Every stored leaf signed by `issuer`.
    pub fn certificates(&self, issuer: &str) -> Result<Vec<StoredCertificate>, Error> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT host, cert_pem, key_pem, not_after, issuer FROM certificates WHERE issuer = ?1",
        )?;
        let rows = stmt.query_map([issuer], |r| {
            Ok(StoredCertificate {
                host: r.get(0)?,
                cert_pem: r.get(1)?,
                key_pem: r.get(2)?,
                not_after: r.get(3)?,
                issuer: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Store (or replace) the leaf for its host, and forget leaves of other intermediates.
    pub fn put_certificate(&self, cert: &StoredCertificate) -> Result<(), Error> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM certificates WHERE issuer <> ?1",
            [&cert.issuer],
        )?;
        tx.execute(
            "INSERT INTO certificates (host, cert_pem, key_pem, not_after, issuer)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (host) DO UPDATE SET cert_pem = excluded.cert_pem,
                 key_pem = excluded.key_pem, not_after = excluded.not_after, issuer = excluded.issuer",
            params![cert.host, cert.cert_pem, cert.key_pem, cert.not_after, cert.issuer],
        )?;
        tx.commit()?;
        Ok(())
    }
}
