//! `portico settings`: show or change the engine's settings.

use std::path::Path;

use anyhow::Context;

use portico_core::config::SettingsPatch;

use crate::backend::Backend;

/// `portico settings` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print every setting (JSON).
    Show,
    /// Change one setting, e.g. `local_suffixes lan,dev` or `http_listen 127.0.0.1:8081`
    /// (`none` clears an address).
    Set {
        /// The setting's name.
        key: String,
        /// The new value.
        value: String,
    },
}

pub(crate) fn run(data_dir: &Path, cmd: Option<Command>) -> anyhow::Result<()> {
    let backend = Backend::open(data_dir)?;
    match cmd.unwrap_or(Command::Show) {
        Command::Show => {
            println!("{}", serde_json::to_string_pretty(&backend.settings()?)?);
        }
        Command::Set { key, value } => {
            let known = serde_json::to_value(portico_core::config::Settings::default())?;
            if known.get(&key).is_none() {
                anyhow::bail!("{key} is not a setting; see `portico settings` for the names");
            }
            let value = parse_value(&key, &value, &known[&key]);
            let patch: SettingsPatch =
                serde_json::from_value(serde_json::json!({ key.clone(): value }))
                    .with_context(|| format!("invalid value for {key}"))?;
            let settings = backend.update_settings(patch)?;
            println!("{}", serde_json::to_string_pretty(&settings)?);
        }
    }
    Ok(())
}

/// `portico pause` / `portico resume`: the `proxy_paused` setting, with one line saying what
/// it means.
pub(crate) fn set_paused(data_dir: &Path, paused: bool) -> anyhow::Result<()> {
    let backend = Backend::open(data_dir)?;
    backend.update_settings(SettingsPatch {
        proxy_paused: Some(paused),
        ..SettingsPatch::default()
    })?;
    if paused {
        println!("Portico is paused: every route answers 503 until `portico resume`.");
    } else {
        println!("Portico is proxying again.");
    }
    Ok(())
}

/// Settings that are a number or none (`null` by default).
const OPTIONAL_NUMBERS: &[&str] = &[
    "rate_limit_per_sec",
    "max_body_bytes",
    "max_conns_per_ip",
    "share_ca_port",
];

/// A command-line value as JSON: lists from commas, `none` as null, numbers as numbers.
/// The JSON for `value`, typed like the setting's default (`known`): numbers and booleans
/// (`true`/`false`, `on`/`off`) as such, lists from commas, `none` for null.
fn parse_value(key: &str, value: &str, known: &serde_json::Value) -> serde_json::Value {
    if key == "local_suffixes" || known.is_array() {
        let items: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        return serde_json::json!(items);
    }
    if value == "none" {
        return serde_json::Value::Null;
    }
    // Optional numbers have no default to take their type from.
    if OPTIONAL_NUMBERS.contains(&key)
        && let Ok(number) = value.parse::<u64>()
    {
        return serde_json::Value::from(number);
    }
    match known {
        serde_json::Value::Number(_) => {
            if let Ok(number) = value.parse::<u64>() {
                return serde_json::Value::from(number);
            }
        }
        serde_json::Value::Bool(_) => match value.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" => return serde_json::Value::Bool(true),
            "false" | "off" | "no" => return serde_json::Value::Bool(false),
            _ => {}
        },
        _ => {}
    }
    // Anything else goes as text; the settings' validation says what is wrong with it.
    serde_json::Value::String(value.to_owned())
}
