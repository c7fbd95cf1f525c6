//! When the desktop app shows a native notification: an enabled route's upstream that was up
//! went down, or the CA's root is about to expire. The decisions are plain functions so tests
//! call them; the shell shows what they return.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// Warn this long before the root CA expires.
pub(crate) const CA_WARNING: Duration = Duration::from_secs(30 * 86_400);

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub(crate) title: String,
    pub(crate) body: String,
}

/// The last known state of each route's upstream. A route is reported down only after it was
/// seen up, so starting Portico with dev servers stopped says nothing, and a server that
/// keeps failing is reported once, not on every probe.
#[derive(Debug, Default)]
pub(crate) struct UpstreamWatch {
    up: HashMap<i64, bool>,
}

impl UpstreamWatch {
    /// Record a health change; `Some` when the user should hear of it. `route` is the
    /// route's `host/path` and upstream, or `None` when it is gone or disabled.
    pub(crate) fn change(
        &mut self,
        route_id: i64,
        up: bool,
        route: Option<(&str, &str)>,
    ) -> Option<Note> {
        let was_up = self.up.insert(route_id, up) == Some(true);
        let (name, upstream) = route?;
        (was_up && !up).then(|| Note {
            title: format!("{name} is down"),
            body: format!(
                "Nothing answers at {upstream} any more. Start the dev server again, or open Portico to change the route."
            ),
        })
    }
}

/// A warning when the root CA expires within [`CA_WARNING`] of `now` (or has expired).
pub(crate) fn ca_expiry(not_after: SystemTime, now: SystemTime) -> Option<Note> {
    let left = not_after.duration_since(now).unwrap_or(Duration::ZERO);
    if left > CA_WARNING {
        return None;
    }
    let days = left.as_secs() / 86_400;
    let when = match days {
        _ if left.is_zero() => "has expired".to_owned(),
        0 => "expires today".to_owned(),
        1 => "expires tomorrow".to_owned(),
        n => format!("expires in {n} days"),
    };
    Some(Note {
        title: format!("Portico's certificate authority {when}"),
        body: "Browsers will stop trusting your local HTTPS addresses. Open Portico → Certificates and choose Rotate to make a new one.".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_upstream_seen_up_then_down_is_reported_once() {
        let mut watch = UpstreamWatch::default();
        let route = Some(("api.localhost/", "http://127.0.0.1:8000"));
        assert_eq!(watch.change(1, false, route), None, "down at start: quiet");
        assert_eq!(watch.change(1, true, route), None, "up: quiet");
        let note = watch.change(1, false, route).expect("up then down");
        assert_eq!(note.title, "api.localhost/ is down");
        assert!(note.body.contains("http://127.0.0.1:8000"), "{}", note.body);
        assert_eq!(watch.change(1, false, route), None, "still down: once");
        assert_eq!(watch.change(2, true, None), None);
        assert_eq!(
            watch.change(2, false, None),
            None,
            "a disabled or removed route says nothing"
        );
    }

    #[test]
    fn the_ca_is_reported_within_thirty_days_of_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let days = |n: u64| now + Duration::from_secs(n * 86_400);
        assert_eq!(ca_expiry(days(31), now), None);
        assert!(
            ca_expiry(days(30), now)
                .expect("due")
                .title
                .ends_with("expires in 30 days")
        );
        assert!(
            ca_expiry(days(1), now)
                .expect("due")
                .title
                .ends_with("expires tomorrow")
        );
        assert!(
            ca_expiry(now - Duration::from_secs(5), now)
                .expect("due")
                .title
                .ends_with("has expired")
        );
    }
}
