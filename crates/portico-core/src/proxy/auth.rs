//! Checking a request's HTTP basic auth credentials against its route's users.
//!
//! argon2 is slow by design and a browser sends the same `Authorization` header with every
//! request, so a successful check is remembered as a keyed digest of the user's stored hash
//! and the password (the key is random per process; the password itself is not kept). A
//! digest includes the stored hash, whose salt is new each time a password is set, so
//! changing or removing a user makes its remembered checks useless at once. A check that is
//! not remembered runs argon2 on the blocking pool, never on the async runtime.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use base64::Engine;
use blake2::{Blake2s256, Digest};
use http::HeaderValue;

use crate::config::BasicAuth;

/// Forget every remembered check past this many (a new key is not needed: the digests stay
/// right, there are just too many of them).
const MAX_REMEMBERED: usize = 4096;

/// What a request's credentials are worth on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// A user's name and password: forward it.
    Admitted,
    /// No `Authorization: Basic` header (or one that does not decode).
    Missing,
    /// An unknown user or a wrong password.
    Failed,
}

/// Successful checks, remembered.
#[derive(Debug)]
pub(super) struct AuthCache {
    key: [u8; 32],
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl AuthCache {
    pub(super) fn new() -> AuthCache {
        let mut key = [0u8; 32];
        if let Err(err) = getrandom::fill(&mut key) {
            // Without randomness the digests are still one-way; they are just not keyed.
            tracing::warn!("no random key for the basic auth cache: {err}");
        }
        AuthCache {
            key,
            verified: Mutex::default(),
        }
    }

    /// Check `header` against `users` (which must not be empty).
    pub(super) async fn check(&self, users: &BasicAuth, header: Option<&HeaderValue>) -> Verdict {
        let Some((name, password)) = header.and_then(decode) else {
            return Verdict::Missing;
        };
        let Some(user) = users.user(&name) else {
            return Verdict::Failed;
        };
        let digest = self.digest(&user.hash, &password);
        if self.lock().contains(&digest) {
            return Verdict::Admitted;
        }
        let hash = user.hash.clone();
        let ok =
            tokio::task::spawn_blocking(move || crate::config::verify_password(&hash, &password))
                .await
                .unwrap_or(false);
        if !ok {
            return Verdict::Failed;
        }
        let mut verified = self.lock();
        if verified.len() >= MAX_REMEMBERED {
            verified.clear();
        }
        verified.insert(digest);
        Verdict::Admitted
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn digest(&self, hash: &str, password: &str) -> [u8; 32] {
        let mut hasher = Blake2s256::new();
        hasher.update(self.key);
        hasher.update((hash.len() as u64).to_le_bytes());
        hasher.update(hash.as_bytes());
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }
}

/// The user and password of an `Authorization: Basic …` header (RFC 7617, UTF-8).
fn decode(header: &HeaderValue) -> Option<(String, String)> {
    let text = header.to_str().ok()?;
    let (scheme, token) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthUserInput;

    fn basic(user_pass: &str) -> HeaderValue {
        let token = base64::engine::general_purpose::STANDARD.encode(user_pass);
        HeaderValue::from_str(&format!("Basic {token}")).expect("header")
    }

    #[tokio::test]
    async fn right_wrong_and_missing_credentials_and_a_remembered_check() {
        let users = BasicAuth::from_input(
            &[AuthUserInput {
                user: "alice".into(),
                password: Some("pa:ss".into()),
                password_hash: None,
            }],
            &BasicAuth::default(),
        )
        .expect("valid");
        let cache = AuthCache::new();
        assert_eq!(cache.check(&users, None).await, Verdict::Missing);
        assert_eq!(
            cache
                .check(&users, Some(&HeaderValue::from_static("Bearer x")))
                .await,
            Verdict::Missing
        );
        assert_eq!(
            cache.check(&users, Some(&basic("alice:no"))).await,
            Verdict::Failed
        );
        assert_eq!(
            cache.check(&users, Some(&basic("bob:pa:ss"))).await,
            Verdict::Failed
        );
        assert!(cache.lock().is_empty(), "failures are not remembered");
        assert_eq!(
            cache.check(&users, Some(&basic("alice:pa:ss"))).await,
            Verdict::Admitted
        );
        assert_eq!(cache.lock().len(), 1, "remembered as one digest");
        assert_eq!(
            cache.check(&users, Some(&basic("alice:pa:ss"))).await,
            Verdict::Admitted
        );
        // The same password set again has a new salt: the old digest no longer matches.
        let reset = BasicAuth::from_input(
            &[AuthUserInput {
                user: "alice".into(),
                password: Some("other".into()),
                password_hash: None,
            }],
            &users,
        )
        .expect("valid");
        assert_eq!(
            cache.check(&reset, Some(&basic("alice:pa:ss"))).await,
            Verdict::Failed
        );
    }
}
