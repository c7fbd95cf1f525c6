//! How a route with several upstreams spreads requests over them, and how it decides that
//! one is down: passively (failed requests) and, optionally, actively (a health-check path).

use serde::{Deserialize, Serialize};

use super::Error;

/// Which upstream of several takes a request. The names are Caddy's, so an exported
/// configuration says the same thing.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Each upstream in turn.
    #[default]
    RoundRobin,
    /// The upstream with the fewest requests in flight (ties in turn).
    LeastConn,
    /// Two upstreams at random; the one with fewer requests in flight.
    RandomTwo,
    /// The first upstream that is up, in the listed order (failover).
    First,
    /// The same client address always goes to the same upstream while it is up.
    IpHash,
    /// A cookie Portico sets pins each browser to one upstream while it is up.
    Cookie,
}

impl Policy {
    /// Every policy, in the order the UI and CLI list them.
    pub const ALL: [Policy; 6] = [
        Policy::RoundRobin,
        Policy::LeastConn,
        Policy::RandomTwo,
        Policy::First,
        Policy::IpHash,
        Policy::Cookie,
    ];

    /// The name used in the API and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round_robin",
            Policy::LeastConn => "least_conn",
            Policy::RandomTwo => "random_two",
            Policy::First => "first",
            Policy::IpHash => "ip_hash",
            Policy::Cookie => "cookie",
        }
    }

    /// The policy called `name`.
    pub fn parse(name: &str) -> Result<Policy, Error> {
        let wanted = name.trim().replace('-', "_");
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == wanted)
            .ok_or_else(|| Error::InvalidSetting {
                field: "balancing",
                reason: format!(
                    "unknown policy {name:?}; use one of {}",
                    Policy::ALL.map(Policy::name).join(", ")
                ),
            })
    }
}

/// An active health check: Portico asks each upstream for `path` every `interval_ms`; an
/// upstream that does not answer within `timeout_ms` with the expected status is down until
/// a check passes again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// The path requested (GET), e.g. `/health`.
    #[schema(example = "/health")]
    pub path: String,
    /// How often, in milliseconds. Default: 5000.
    #[serde(default = "default_interval")]
    #[schema(minimum = 500, maximum = 3_600_000)]
    pub interval_ms: u64,
    /// How long an answer may take, in milliseconds. Default: 2000.
    #[serde(default = "default_check_timeout")]
    #[schema(minimum = 100, maximum = 60_000)]
    pub timeout_ms: u64,
    /// The status a healthy upstream answers with. Default: none (any 2xx or 3xx).
    #[serde(default)]
    #[schema(required = true, minimum = 100, maximum = 599)]
    pub expect_status: Option<u16>,
}

fn default_interval() -> u64 {
    5_000
}

fn default_check_timeout() -> u64 {
    2_000
}

impl HealthCheck {
    /// Whether `status` counts as healthy.
    pub fn accepts(&self, status: u16) -> bool {
        match self.expect_status {
            Some(want) => status == want,
            None => (200..400).contains(&status),
        }
    }
}

/// Balancing over a route's upstreams. Only consulted when a route has more than one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Balancing {
    /// Which upstream takes a request. Default: `round_robin`.
    pub policy: Policy,
    /// This many failed requests in a row (refused, unreachable, broken or timed out) mark
    /// an upstream down. Default: 1.
    #[schema(minimum = 1, maximum = 100)]
    pub max_fails: u32,
    /// How long an upstream marked down by failed requests is left alone before it is tried
    /// again, in milliseconds. Default: 10000.
    #[schema(minimum = 100, maximum = 3_600_000)]
    pub fail_cooldown_ms: u64,
    /// An active health check. Default: none (a TCP connect every 2 s and failed requests
    /// decide).
    #[schema(required = true)]
    pub health_check: Option<HealthCheck>,
}

impl Default for Balancing {
    fn default() -> Self {
        Balancing {
            policy: Policy::RoundRobin,
            max_fails: 1,
            fail_cooldown_ms: 10_000,
            health_check: None,
        }
    }
}

impl Balancing {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason: String| Error::InvalidSetting {
            field: "balancing",
            reason,
        };
        if !(1..=100).contains(&self.max_fails) {
            return Err(bad(format!(
                "max_fails must be 1-100 (failed requests in a row before an upstream counts \
                 as down), not {}",
                self.max_fails
            )));
        }
        if !(100..=3_600_000).contains(&self.fail_cooldown_ms) {
            return Err(bad(format!(
                "fail_cooldown_ms must be 100-3600000 (0.1 s to an hour), not {}",
                self.fail_cooldown_ms
            )));
        }
        if let Some(check) = &self.health_check {
            if !check.path.starts_with('/') || check.path.chars().any(char::is_whitespace) {
                return Err(bad(format!(
                    "health_check.path must be a URL path starting with /, e.g. /health, not {:?}",
                    check.path
                )));
            }
            if check.path.parse::<http::uri::PathAndQuery>().is_err() {
                return Err(bad(format!(
                    "health_check.path {:?} is not a valid URL path",
                    check.path
                )));
            }
            if !(500..=3_600_000).contains(&check.interval_ms) {
                return Err(bad(format!(
                    "health_check.interval_ms must be 500-3600000, not {}",
                    check.interval_ms
                )));
            }
            if !(100..=60_000).contains(&check.timeout_ms) {
                return Err(bad(format!(
                    "health_check.timeout_ms must be 100-60000, not {}",
                    check.timeout_ms
                )));
            }
            if let Some(status) = check.expect_status
                && !(100..=599).contains(&status)
            {
                return Err(bad(format!(
                    "health_check.expect_status must be an HTTP status (100-599), not {status}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_by_name_with_dashes_too() {
        for policy in Policy::ALL {
            assert_eq!(Policy::parse(policy.name()), Ok(policy));
        }
        assert_eq!(Policy::parse("least-conn"), Ok(Policy::LeastConn));
        let err = Policy::parse("fastest").expect_err("unknown");
        assert!(err.to_string().contains("round_robin"), "{err}");
    }

    #[test]
    fn out_of_range_values_are_refused_with_the_field() {
        let check = |path: &str, interval_ms, timeout_ms, expect_status| Balancing {
            health_check: Some(HealthCheck {
                path: path.into(),
                interval_ms,
                timeout_ms,
                expect_status,
            }),
            ..Balancing::default()
        };
        assert_eq!(Balancing::default().validate(), Ok(()));
        assert_eq!(check("/health", 5000, 2000, Some(204)).validate(), Ok(()));
        for bad in [
            Balancing {
                max_fails: 0,
                ..Balancing::default()
            },
            Balancing {
                fail_cooldown_ms: 5,
                ..Balancing::default()
            },
            check("health", 5000, 2000, None),
            check("/he alth", 5000, 2000, None),
            check("/health", 10, 2000, None),
            check("/health", 5000, 0, None),
            check("/health", 5000, 2000, Some(99)),
        ] {
            let err = bad.validate().expect_err("refused");
            assert_eq!(err.field(), "balancing", "{err}");
        }
    }

    #[test]
    fn a_check_accepts_the_expected_status_or_any_success() {
        let mut check = HealthCheck {
            path: "/".into(),
            interval_ms: 5000,
            timeout_ms: 2000,
            expect_status: None,
        };
        assert!(check.accepts(200) && check.accepts(302) && !check.accepts(500));
        check.expect_status = Some(204);
        assert!(check.accepts(204) && !check.accepts(200));
    }
}
