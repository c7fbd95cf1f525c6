//! What every request passes before routing, from the engine's settings: whether proxying is
//! paused, who may connect, how fast each client may send, how large a body may be, and how
//! many connections each client may have open. One
//! snapshot, swapped whole when the settings change, so a request reads it once.

use std::sync::Arc;

use super::RateLimit;
use crate::config::{Access, Settings};

/// The settings-wide checks, as the proxy applies them.
#[derive(Debug, Default)]
pub struct Gate {
    /// Every request gets 503 "paused" (`proxy_paused`).
    pub paused: bool,
    /// Who may use any route (`allow_ips`, `deny_ips`).
    pub access: Access,
    /// Requests a second per client over all routes (`rate_limit_per_sec`).
    pub rate_limit: Option<Arc<RateLimit>>,
    /// The largest request body on any route (`max_body_bytes`).
    pub max_body_bytes: Option<u64>,
    /// Open connections per client address to the listeners (`max_conns_per_ip`).
    pub max_conns_per_ip: Option<u64>,
}

impl Gate {
    /// The gate for `settings`. From `previous`, it keeps the rate limit's buckets while the
    /// limit is the same, and the address lists should the stored ones no longer parse (they
    /// were validated when written).
    pub fn new(settings: &Settings, previous: Option<&Gate>) -> Gate {
        let access =
            Access::from_strings(&settings.allow_ips, &settings.deny_ips).unwrap_or_else(|err| {
                tracing::warn!("the stored address lists are not used: {err}");
                previous.map(|p| p.access.clone()).unwrap_or_default()
            });
        let rate_limit = settings.rate_limit_per_sec.map(|per_sec| {
            previous
                .and_then(|p| p.rate_limit.clone())
                .filter(|limit| limit.per_sec() == per_sec)
                .unwrap_or_else(|| Arc::new(RateLimit::new(per_sec)))
        });
        Gate {
            paused: settings.proxy_paused,
            access,
            rate_limit,
            max_body_bytes: settings.max_body_bytes,
            max_conns_per_ip: settings.max_conns_per_ip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limits_buckets_outlive_an_unrelated_settings_change() {
        let mut settings = Settings {
            rate_limit_per_sec: Some(5),
            ..Settings::default()
        };
        let first = Gate::new(&settings, None);
        settings.proxy_paused = true;
        let second = Gate::new(&settings, Some(&first));
        assert!(second.paused);
        let same = |a: &Gate, b: &Gate| match (&a.rate_limit, &b.rate_limit) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        assert!(same(&first, &second), "the same buckets");
        settings.rate_limit_per_sec = Some(6);
        let third = Gate::new(&settings, Some(&second));
        assert!(!same(&second, &third), "a new limit starts afresh");
        settings.rate_limit_per_sec = None;
        assert!(Gate::new(&settings, Some(&third)).rate_limit.is_none());
    }
}
