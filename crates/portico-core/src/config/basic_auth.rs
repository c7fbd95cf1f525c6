//! HTTP basic auth users of a route: names with argon2 password hashes (PHC strings).
//!
//! Passwords enter as [`AuthUserInput`] and leave this module only as hashes; a [`Route`]
//! serializes its users as names, so no answer of the API and no export carries a password
//! or a hash. Hashing is slow by design: callers run validation off the async runtime. The
//! proxy's check of a request's credentials lives in `proxy`, not here.
//!
//! [`Route`]: super::Route

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Error;

/// At most this many users on one route.
const MAX_USERS: usize = 64;

/// The longest user name and password accepted, in bytes.
const MAX_LEN: usize = 256;

/// One user as a request writes it: a name, and a password to set (or a hash carried over).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthUserInput {
    /// The user name (no `:`).
    #[schema(example = "alice")]
    pub user: String,
    /// The password to set. Leave it out on an update to keep this user's password; a new
    /// user needs one. Never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "s3cret")]
    pub password: Option<String>,
    /// An argon2 PHC string (`$argon2id$…`) instead of a password, to move a user between
    /// machines without knowing the password. Never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

/// A stored user: a name and the argon2 PHC hash of its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// The user name.
    pub user: String,
    /// The argon2 PHC string; empty for a route read back from the API (names only), which
    /// then admits nobody.
    pub hash: String,
}

/// A route's basic auth users; none means the route needs no credentials. On the wire
/// (API answers, `Route`) it is the list of user names only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BasicAuth(Vec<AuthUser>);

impl BasicAuth {
    /// Validate `entries` (field `basic_auth`): names unique, non-empty and without `:`;
    /// each with a password (hashed here, slowly), a PHC hash, or, when `existing` has the
    /// user, nothing (its hash is kept).
    pub fn from_input(entries: &[AuthUserInput], existing: &BasicAuth) -> Result<BasicAuth, Error> {
        let bad = |reason: String| Error::InvalidSetting {
            field: "basic_auth",
            reason,
        };
        if entries.len() > MAX_USERS {
            return Err(bad(format!("at most {MAX_USERS} users on one route")));
        }
        let mut users: Vec<AuthUser> = Vec::with_capacity(entries.len());
        for entry in entries {
            let user = entry.user.trim();
            if user.is_empty() {
                return Err(bad("a user needs a name".into()));
            }
            if user.contains(':') || user.chars().any(char::is_control) || user.len() > MAX_LEN {
                return Err(bad(format!(
                    "user name {user:?} must not contain ':' or control characters and be at most {MAX_LEN} bytes"
                )));
            }
            if users.iter().any(|u| u.user == user) {
                return Err(bad(format!("user {user:?} appears twice")));
            }
            let hash = match (&entry.password, &entry.password_hash) {
                (Some(_), Some(_)) => {
                    return Err(bad(format!(
                        "user {user:?}: give a password or a password_hash, not both"
                    )));
                }
                (Some(password), None) => hash_password(user, password)?,
                (None, Some(phc)) => check_hash(user, phc)?,
                (None, None) => match existing.user(user) {
                    Some(kept) if !kept.hash.is_empty() => kept.hash.clone(),
                    _ => {
                        return Err(bad(format!(
                            "user {user:?} needs a password (exports carry user names only: set the password again)"
                        )));
                    }
                },
            };
            users.push(AuthUser {
                user: user.to_owned(),
                hash,
            });
        }
        Ok(BasicAuth(users))
    }

    /// Users from their stored form (names and hashes, as the store writes them).
    pub fn from_stored(users: Vec<AuthUser>) -> BasicAuth {
        BasicAuth(users)
    }

    /// Whether the route needs no credentials.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The users, with their hashes.
    pub fn users(&self) -> &[AuthUser] {
        &self.0
    }

    /// The user named `name`.
    pub fn user(&self, name: &str) -> Option<&AuthUser> {
        self.0.iter().find(|u| u.user == name)
    }

    /// The users as input that keeps every password (names only).
    pub fn to_input(&self) -> Vec<AuthUserInput> {
        self.0
            .iter()
            .map(|u| AuthUserInput {
                user: u.user.clone(),
                ..AuthUserInput::default()
            })
            .collect()
    }
}

/// Whether `password` matches the PHC string `hash`. Slow (argon2): call it off the async
/// runtime.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn hash_password(user: &str, password: &str) -> Result<String, Error> {
    if password.is_empty() || password.len() > MAX_LEN {
        return Err(Error::InvalidSetting {
            field: "basic_auth",
            reason: format!("user {user:?}: a password has 1 to {MAX_LEN} bytes"),
        });
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| Error::InvalidSetting {
            field: "basic_auth",
            reason: format!("user {user:?}: the password could not be hashed: {err}"),
        })
}

fn check_hash(user: &str, phc: &str) -> Result<String, Error> {
    match PasswordHash::new(phc) {
        Ok(parsed) if parsed.algorithm.as_str().starts_with("argon2") => Ok(phc.to_owned()),
        _ => Err(Error::InvalidSetting {
            field: "basic_auth",
            reason: format!(
                "user {user:?}: password_hash must be an argon2 PHC string ($argon2id$…)"
            ),
        }),
    }
}

impl Serialize for BasicAuth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|u| &u.user))
    }
}

impl<'de> Deserialize<'de> for BasicAuth {
    /// From names only (an API answer): the users admit nobody until a password is set.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        Ok(BasicAuth(
            names
                .into_iter()
                .map(|user| AuthUser {
                    user,
                    hash: String::new(),
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(user: &str, password: Option<&str>) -> AuthUserInput {
        AuthUserInput {
            user: user.into(),
            password: password.map(Into::into),
            password_hash: None,
        }
    }

    #[test]
    fn passwords_are_stored_as_argon2_phc_and_verify() {
        let auth = BasicAuth::from_input(&[input("alice", Some("pw"))], &BasicAuth::default())
            .expect("valid");
        let hash = &auth.users()[0].hash;
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(hash, "pw"));
        assert!(!verify_password(hash, "wrong"));
        assert_eq!(
            serde_json::to_value(&auth).expect("json"),
            serde_json::json!(["alice"])
        );
    }

    #[test]
    fn a_user_without_password_keeps_the_existing_hash_or_is_refused() {
        let existing = BasicAuth::from_input(&[input("alice", Some("pw"))], &BasicAuth::default())
            .expect("valid");
        let kept = BasicAuth::from_input(&[input("alice", None)], &existing).expect("kept");
        assert_eq!(kept, existing);
        let err = BasicAuth::from_input(&[input("bob", None)], &existing).expect_err("new");
        assert!(err.to_string().contains("needs a password"), "{err}");
    }

    #[test]
    fn bad_names_hashes_and_duplicates_are_refused_naming_the_field() {
        let none = BasicAuth::default();
        for entries in [
            vec![input("", Some("pw"))],
            vec![input("a:b", Some("pw"))],
            vec![input("a", Some(""))],
            vec![input("a", Some("pw")), input("a", Some("pw"))],
            vec![AuthUserInput {
                user: "a".into(),
                password: None,
                password_hash: Some("$2b$10$notargon".into()),
            }],
        ] {
            let err = BasicAuth::from_input(&entries, &none).expect_err("refused");
            assert_eq!(err.field(), "basic_auth", "{entries:?}");
        }
    }
}
