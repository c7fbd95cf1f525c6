//! The `settings` table: one JSON value per key, read into [`Settings`].

use rusqlite::params;

use super::{Error, Store};
use crate::config::Settings;

impl Store {
    /// The stored settings; fields never stored take their defaults.
    pub fn settings(&self) -> Result<Settings, Error> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("SELECT key, value FROM settings")?;
        let mut map = serde_json::Map::new();
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (key, value) = row?;
            let value = serde_json::from_str(&value).map_err(|source| Error::Json {
                what: format!("setting {key}"),
                source,
            })?;
            map.insert(key, value);
        }
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|source| Error::Json {
            what: "settings".into(),
            source,
        })
    }

    /// Store every field of `settings`, in one transaction.
    pub fn put_settings(&self, settings: &Settings) -> Result<(), Error> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        put_in(&tx, settings)?;
        tx.commit()?;
        Ok(())
    }
}

/// Write every field of `settings` inside `tx`.
pub(super) fn put_in(tx: &rusqlite::Transaction<'_>, settings: &Settings) -> Result<(), Error> {
    let value = serde_json::to_value(settings).map_err(|source| Error::Json {
        what: "settings".into(),
        source,
    })?;
    if let serde_json::Value::Object(map) = value {
        for (key, value) in map {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value.to_string()],
            )?;
        }
    }
    Ok(())
}
