//! `ca.trust`: each trust store that does not trust Portico's CA, from the CA status
//! (`tls::trust::status`), with the programs it affects.

use super::{Action, Check, Finding, Level};
use crate::tls::trust::{Store, StoreStatus, TrustState};

/// One finding per store that exists on this machine. `https_on`: without an HTTPS
/// listener nothing uses the CA, and a missing trust is only worth a warning.
pub(super) fn findings(stores: &[StoreStatus], https_on: bool) -> Vec<Finding> {
    stores.iter().filter_map(|s| finding(s, https_on)).collect()
}

fn finding(s: &StoreStatus, https_on: bool) -> Option<Finding> {
    let store = &s.store;
    let subject = if s.location.is_empty() {
        store.to_string()
    } else {
        format!("{store} ({})", s.location)
    };
    let note = s
        .note
        .as_deref()
        .map(|n| format!(" {n}."))
        .unwrap_or_default();
    let f = match s.state {
        TrustState::NotPresent => return None,
        TrustState::Trusted => Finding::new(
            Check::CaTrust,
            Level::Ok,
            subject,
            format!(
                "The {store} store trusts Portico's CA ({}).",
                affects(store)
            ),
        ),
        TrustState::NotTrusted => Finding::new(
            Check::CaTrust,
            if https_on { Level::Error } else { Level::Warn },
            subject,
            format!(
                "The {store} store does not trust Portico's CA, so {} show a certificate \
                 warning (or refuse to connect) for every https:// route.{note}",
                affects(store)
            ),
        )
        .fix("portico ca trust (then restart the browsers that were open)")
        .action(Action::TrustCa),
        TrustState::ReportOnly => Finding::new(
            Check::CaTrust,
            Level::Warn,
            subject,
            format!(
                "{store} does not trust Portico's CA, so {} fail on https:// routes (Portico \
                 reports on this store but does not change it).",
                affects(store)
            ),
        )
        .fix(
            s.note
                .clone()
                .unwrap_or_else(|| "See `portico ca status`".to_owned()),
        ),
        TrustState::Unknown => Finding::new(
            Check::CaTrust,
            Level::Warn,
            subject,
            format!("Portico could not tell whether the {store} store trusts its CA.{note}"),
        )
        .fix("portico ca status shows the details; portico ca trust installs the CA"),
    };
    Some(f)
}

/// The programs that read `store`.
fn affects(store: &Store) -> &'static str {
    match store {
        Store::System if cfg!(target_os = "linux") => {
            "curl, wget, Python, Go and most command-line programs"
        }
        Store::System => "programs that use the system's certificates",
        Store::Chromium => "Chrome, Chromium, Edge and Brave on Linux",
        Store::Firefox { .. } => "Firefox (this profile)",
        Store::Java => "Java programs",
        Store::Node => "Node.js programs (fetch, axios, server-side rendering)",
        Store::MacKeychain => "Safari, Chrome and Edge on macOS",
        Store::Windows => "Edge, Chrome and Firefox on Windows",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(store: Store, state: TrustState) -> StoreStatus {
        StoreStatus {
            store,
            state,
            location: "/somewhere".into(),
            note: None,
        }
    }

    #[test]
    fn an_untrusted_store_is_an_error_with_the_trust_command_and_action() {
        let found = findings(
            &[
                row(Store::System, TrustState::NotTrusted),
                row(Store::Chromium, TrustState::Trusted),
                row(Store::Java, TrustState::NotPresent),
            ],
            true,
        );
        assert_eq!(
            found.len(),
            2,
            "a store that is not there is not a finding: {found:?}"
        );
        let system = &found[0];
        assert_eq!(system.status, Level::Error);
        assert_eq!(
            system
                .fix
                .as_deref()
                .map(|f| f.starts_with("portico ca trust")),
            Some(true)
        );
        assert_eq!(system.action, Some(Action::TrustCa));
        assert!(system.message.contains("curl"), "{system:?}");
        assert_eq!(found[1].status, Level::Ok);
    }

    #[test]
    fn without_https_an_untrusted_store_is_a_warning() {
        let found = findings(&[row(Store::Chromium, TrustState::NotTrusted)], false);
        assert_eq!(found[0].status, Level::Warn);
    }
}
