//! Input generators for property tests: what a user, an import or a hand-edited database could
//! hand to validation. Each generator mostly writes plausible input (so that a fair share of
//! routes is accepted and the round trips are exercised) and sometimes anything at all
//! (unicode, control characters, huge numbers), which validation must refuse cleanly.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::{
    AuthUserInput, Balancing, HeaderPair, HeaderRules, HealthCheck, NewRoute, Policy, RoutePatch,
    Settings,
};

/// A valid argon2id PHC string (a zero hash: it parses, and matches no password), so that
/// generated users need no slow hashing.
pub(crate) const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Mostly `valid`, sometimes `wild`.
fn mostly<T: std::fmt::Debug>(
    valid: impl Strategy<Value = T> + 'static,
    wild: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![8 => valid, 1 => wild].boxed()
}

/// Usually absent; when present, mostly `valid`.
fn maybe<T: std::fmt::Debug + Clone + 'static>(
    valid: impl Strategy<Value = T> + 'static,
    wild: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![6 => Just(None), 3 => valid.prop_map(Some), 1 => wild.prop_map(Some)].boxed()
}

/// A DNS label, in any case, with `-` and `_` inside.
pub(crate) fn label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,6}[a-zA-Z0-9_])?"
}

/// Any text: unicode, control characters, empty.
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "\\PC{0,30}", "[ -~]{0,30}"]
}

/// A route host as someone might type it.
pub(crate) fn host() -> BoxedStrategy<String> {
    let name = (
        prop_oneof![8 => Just(""), 3 => Just("*."), 1 => Just("*"), 1 => Just("*.*.")],
        vec(label(), 1..5),
        prop_oneof![6 => Just("localhost"), 2 => Just("test"), 1 => Just("123"), 1 => Just("")],
        prop_oneof![6 => Just(""), 1 => Just("."), 1 => Just(".."), 1 => Just(" ")],
    )
        .prop_map(|(star, labels, tld, tail)| {
            let mut name = format!("{star}{}", labels.join("."));
            if !tld.is_empty() {
                name = format!("{name}.{tld}");
            }
            format!("{name}{tail}")
        });
    let odd = prop_oneof![
        text(),
        any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string()),
        any::<std::net::Ipv6Addr>().prop_map(|ip| format!("[{ip}]")),
        (label(), any::<u16>()).prop_map(|(l, port)| format!("{l}.localhost:{port}")),
        label().prop_map(|l| format!("http://{l}.localhost/api")),
        vec(label(), 30..60).prop_map(|l| l.join(".")),
        "[a-z]{60,70}\\.localhost",
        "[a-z]{1,5}[ /:@%é][a-z]{1,5}\\.localhost",
    ];
    mostly(name, odd)
}

/// A path segment, including the ones validation must refuse.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => "[a-zA-Z0-9_~-]{1,6}",
        1 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(String::new()),
        1 => prop_oneof![Just("%2F"), Just("%2e%2e"), Just("a%20b"), Just("%")].prop_map(String::from),
        1 => "[?#é \t]",
    ]
}

/// A route path prefix as someone might type it.
pub(crate) fn path() -> BoxedStrategy<String> {
    let path = (vec(segment(), 0..5), any::<bool>()).prop_map(|(segments, slash)| {
        let mut path = format!("/{}", segments.join("/"));
        if slash && path != "/" {
            path.push('/');
        }
        path
    });
    mostly(path, prop_oneof![text(), "[a-z/]{0,10}"])
}

/// An upstream as someone might type it: a port, `host:port`, a URL with a base path.
pub(crate) fn upstream() -> BoxedStrategy<String> {
    let host = prop_oneof![
        Just("localhost".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
        Just("LocalHost".to_owned()),
        label().prop_map(|l| format!("{l}.localhost")),
    ];
    let port = prop_oneof![16 => 1u32..=65535, 1 => Just(0u32), 1 => 65536u32..200_000];
    let url = (
        prop_oneof![Just("http://"), Just("HTTP://"), Just("")],
        host,
        port.clone(),
        prop_oneof![Just(""), Just("/"), Just("/v1"), Just("/v1/"), Just("/A/b")],
    )
        .prop_map(|(scheme, host, port, base)| format!("{scheme}{host}:{port}{base}"));
    let odd = prop_oneof![
        text(),
        Just("https://localhost:3000".to_owned()),
        Just("ws://localhost:3000".to_owned()),
        Just("http://localhost".to_owned()),
        Just("http://user:pw@localhost:3000".to_owned()),
        Just("http://localhost:3000/?q=1".to_owned()),
        Just("http://localhost:3000/#top".to_owned()),
        Just("http://:3000".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
    ];
    mostly(prop_oneof![port.prop_map(|p| p.to_string()), url], odd)
}

/// A header name: mostly a valid token, sometimes one Portico manages, sometimes anything.
pub(crate) fn header_name() -> BoxedStrategy<String> {
    mostly(
        prop_oneof![
            "[A-Za-z][A-Za-z0-9-]{0,10}",
            "[!#$%&'*+.^_`|~0-9a-z-]{1,8}",
            Just("X-Forwarded-For".to_owned()),
        ],
        prop_oneof![
            text(),
            Just(String::new()),
            Just("Content-Length".to_owned()),
            Just("connection".to_owned()),
            Just("TE".to_owned()),
            "[a-z]{1,4}[ :()@\"é][a-z]{1,4}",
        ],
    )
}

/// A header value: mostly visible ASCII, sometimes a line break, a control or a non-ASCII
/// character.
pub(crate) fn header_value() -> BoxedStrategy<String> {
    mostly(
        "[ -~\t]{0,20}",
        prop_oneof![
            text(),
            "[a-z]{0,3}[\r\n\0\u{7f}][a-z]{0,3}",
            "[a-z]{0,3}[é☃][a-z]{0,3}",
        ],
    )
}

/// Header rules with names and values from [`header_name`] and [`header_value`].
pub(crate) fn header_rules() -> impl Strategy<Value = HeaderRules> {
    let pair = (header_name(), header_value()).prop_map(|(name, value)| HeaderPair { name, value });
    (
        vec(pair.clone(), 0..4),
        vec(pair, 0..4),
        vec(header_name(), 0..4),
    )
        .prop_map(|(set, add, remove)| HeaderRules { set, add, remove })
}

/// Header rules that validation accepts by construction: token names (none that Portico
/// manages) and visible-ASCII values.
pub(crate) fn valid_header_rules() -> impl Strategy<Value = HeaderRules> {
    // Short random tokens can spell a header Portico manages (`Te`, `Host`): left out.
    let name = prop_oneof!["[A-Za-z][A-Za-z0-9-]{0,6}", "x-[a-c]"]
        .prop_filter("a header Portico manages", |name: &String| {
            !super::features::PROTECTED.contains(&name.to_ascii_lowercase().as_str())
        });
    let value = "[ -~\t]{0,12}";
    let pair = (name.clone(), value).prop_map(|(name, value)| HeaderPair { name, value });
    (vec(pair.clone(), 0..4), vec(pair, 0..4), vec(name, 0..4))
        .prop_map(|(set, add, remove)| HeaderRules { set, add, remove })
}

fn policy() -> impl Strategy<Value = Policy> {
    proptest::sample::select(Policy::ALL.to_vec())
}

/// Balancing settings around their limits.
pub(crate) fn balancing() -> BoxedStrategy<Balancing> {
    let check = (
        mostly(
            prop_oneof![Just("/health".to_owned()), "/[a-z]{0,8}(\\?[a-z]=1)?"],
            prop_oneof![text(), Just("health".to_owned()), Just("/a b".to_owned())],
        ),
        mostly(500u64..=3_600_000, any::<u64>()),
        mostly(100u64..=60_000, any::<u64>()),
        maybe(100u16..=599, any::<u16>()),
    )
        .prop_map(
            |(path, interval_ms, timeout_ms, expect_status)| HealthCheck {
                path,
                interval_ms,
                timeout_ms,
                expect_status,
            },
        );
    (
        policy(),
        mostly(1u32..=100, any::<u32>()),
        mostly(100u64..=3_600_000, any::<u64>()),
        maybe(check.clone(), check),
    )
        .prop_map(
            |(policy, max_fails, fail_cooldown_ms, health_check)| Balancing {
                policy,
                max_fails,
                fail_cooldown_ms,
                health_check,
            },
        )
        .boxed()
}

/// A list of client addresses: IPs, CIDR ranges, and sometimes something else.
pub(crate) fn ip_list() -> BoxedStrategy<Vec<String>> {
    let entry = mostly(
        prop_oneof![
            any::<std::net::IpAddr>().prop_map(|ip| ip.to_string()),
            (any::<std::net::Ipv4Addr>(), 0u8..=32).prop_map(|(ip, n)| format!("{ip}/{n}")),
            (any::<std::net::Ipv6Addr>(), 0u8..=128).prop_map(|(ip, n)| format!("{ip}/{n}")),
            Just(" 10.0.0.1 ".to_owned()),
        ],
        prop_oneof![
            text(),
            Just("10.0.0.0/33".to_owned()),
            Just("fe80::1%eth0".to_owned())
        ],
    );
    prop_oneof![4 => Just(Vec::new()), 1 => vec(entry, 1..4)].boxed()
}

/// Basic auth users that need no hashing: carried-over hashes, missing passwords, and the
/// passwords validation refuses before hashing (empty or too long).
pub(crate) fn users() -> BoxedStrategy<Vec<AuthUserInput>> {
    let user = (
        mostly("[a-z]{1,8}", prop_oneof![text(), Just("a:b".to_owned())]),
        prop_oneof![
            6 => Just((None, Some(PHC.to_owned()))),
            1 => Just((None, None)),
            1 => Just((Some(String::new()), None)),
            1 => Just((Some("x".repeat(300)), None)),
            1 => Just((Some("pw".to_owned()), Some(PHC.to_owned()))),
            1 => text().prop_map(|hash| (None, Some(hash))),
        ],
    )
        .prop_map(|(user, (password, password_hash))| AuthUserInput {
            user,
            password,
            password_hash,
        });
    prop_oneof![4 => Just(Vec::new()), 1 => vec(user, 1..3)].boxed()
}

/// A limit around its bounds: 0, small, large, huge.
fn limit(max: u64) -> BoxedStrategy<Option<u64>> {
    maybe(1..=max, prop_oneof![Just(0), Just(max + 1), any::<u64>()])
}

/// What the route answers with: mostly exactly one of upstreams, a folder or a redirect.
fn target() -> BoxedStrategy<(Vec<String>, Option<String>, Option<String>)> {
    let dir = mostly(
        "/[a-z]{1,6}(/[a-z]{1,6}){0,2}",
        prop_oneof![
            text(),
            Just("relative/dir".to_owned()),
            Just("/a\0b".to_owned())
        ],
    );
    let url = mostly(
        "(http|https)://[a-z]{1,6}\\.localhost(:[0-9]{1,4})?(/[a-z]{0,5})?",
        prop_oneof![
            text(),
            Just("new.localhost".to_owned()),
            Just("ftp://x.localhost".to_owned()),
            Just("https://a.localhost/#x".to_owned()),
            Just("https://".to_owned())
        ],
    );
    prop_oneof![
        6 => vec(upstream(), 1..4).prop_map(|u| (u, None, None)),
        1 => dir.clone().prop_map(|d| (Vec::new(), Some(d), None)),
        1 => url.clone().prop_map(|r| (Vec::new(), None, Some(r))),
        1 => (vec(upstream(), 0..3), option::of(dir), option::of(url)),
        1 => vec(upstream(), 30..34).prop_map(|u| (u, None, None)),
    ]
    .boxed()
}

/// A whole route as the API, the CLI, an import or a stored row could give it.
pub(crate) fn new_route() -> BoxedStrategy<NewRoute> {
    let core = (
        host(),
        option::of(path()),
        target(),
        balancing(),
        any::<(bool, bool, bool, bool, bool, bool)>(),
        maybe(1u64..=3_600_000, prop_oneof![Just(0u64), any::<u64>()]),
        option::of(any::<(bool, bool, bool, bool, bool)>()),
    );
    let features = (
        maybe(
            proptest::sample::select(super::REDIRECT_CODES.to_vec()),
            any::<u16>(),
        ),
        maybe(1u64..=31_536_000, prop_oneof![Just(0u64), any::<u64>()]),
        prop_oneof![3 => Just(HeaderRules::default()), 1 => header_rules()],
        prop_oneof![3 => Just(HeaderRules::default()), 1 => header_rules()],
        ip_list(),
        ip_list(),
        limit(1_000_000),
        limit(1 << 40),
        limit(100_000),
        users(),
    );
    let share = (
        prop_oneof![4 => Just(false), 1 => Just(true)],
        maybe(
            1u64..=65_535,
            prop_oneof![Just(0u64), Just(65_536u64), any::<u64>()],
        ),
        option::of(any::<u64>()),
        ip_list(),
    );
    (core, features, share)
        .prop_map(|(core, features, share)| {
            let (host, path, (upstreams, static_dir, redirect), balancing, flags, timeout_ms, opt) =
                core;
            let (strip_prefix, upstream_host, spa, dir_listing, follow_symlinks, hide_backend) =
                flags;
            let (
                redirect_status,
                cache_ttl_secs,
                request_headers,
                response_headers,
                allow_ips,
                deny_ips,
                rate_limit_per_sec,
                max_body_bytes,
                max_conns_per_ip,
                basic_auth,
            ) = features;
            let (shared, share_port, share_expires_at, share_allow_ips) = share;
            NewRoute {
                host,
                path,
                upstreams,
                balancing,
                strip_prefix,
                upstream_host,
                timeout_ms,
                enabled: opt.map(|o| o.0),
                https_redirect: opt.map(|o| o.1),
                capture: opt.map(|o| o.2),
                static_dir,
                spa,
                dir_listing,
                follow_symlinks,
                redirect,
                redirect_status,
                redirect_keep_path: opt.map(|o| o.3),
                compress: opt.map(|o| o.4),
                cache: opt.map(|o| !o.4),
                cache_ttl_secs,
                request_headers,
                response_headers,
                hide_backend,
                allow_ips,
                deny_ips,
                rate_limit_per_sec,
                max_body_bytes,
                max_conns_per_ip,
                basic_auth,
                shared,
                share_port,
                share_expires_at,
                share_allow_ips,
            }
        })
        .boxed()
}

/// Usually left out of a patch; when given, anything [`new_route`]'s parts would give.
fn change<T: std::fmt::Debug + Clone + 'static>(
    value: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![5 => Just(None), 1 => value.prop_map(Some)].boxed()
}

/// A partial change to a route: a few fields at a time, each from the same generators.
pub(crate) fn route_patch() -> BoxedStrategy<RoutePatch> {
    let core = (
        change(host()),
        change(path()),
        change(vec(upstream(), 0..3)),
        change(balancing()),
        change(any::<bool>()),
        change(any::<bool>()),
        change(prop_oneof![1u64..=3_600_000, Just(0), any::<u64>()]),
        change(any::<(bool, bool, bool)>()),
        change(option::of(mostly("/[a-z]{1,6}", text()))),
        change(option::of(mostly(
            "https?://[a-z]{1,6}\\.localhost",
            text(),
        ))),
        change(any::<u16>()),
    );
    let features = (
        change(any::<(bool, bool, bool, bool, bool, bool)>()),
        change(option::of(prop_oneof![
            1u64..=31_536_000,
            Just(0),
            any::<u64>()
        ])),
        change(header_rules()),
        change(header_rules()),
        change(ip_list()),
        change(ip_list()),
        change(limit(1_000_000)),
        change(limit(1 << 40)),
        change(limit(100_000)),
        change(users()),
    );
    let share = (
        change(any::<bool>()),
        change(limit(65_536)),
        change(option::of(any::<u64>())),
        change(ip_list()),
    );
    (core, features, share)
        .prop_map(|(core, features, share)| {
            let (
                host,
                path,
                upstreams,
                balancing,
                strip_prefix,
                upstream_host,
                timeout_ms,
                flags,
                static_dir,
                redirect,
                redirect_status,
            ) = core;
            let (
                switches,
                cache_ttl_secs,
                request_headers,
                response_headers,
                allow_ips,
                deny_ips,
                rate_limit_per_sec,
                max_body_bytes,
                max_conns_per_ip,
                basic_auth,
            ) = features;
            let (shared, share_port, share_expires_at, share_allow_ips) = share;
            RoutePatch {
                host,
                path,
                upstreams,
                balancing,
                strip_prefix,
                upstream_host,
                timeout_ms,
                enabled: flags.map(|f| f.0),
                https_redirect: flags.map(|f| f.1),
                capture: flags.map(|f| f.2),
                static_dir,
                spa: switches.map(|s| s.0),
                dir_listing: switches.map(|s| s.1),
                follow_symlinks: switches.map(|s| s.2),
                redirect,
                redirect_status,
                redirect_keep_path: switches.map(|s| s.3),
                compress: switches.map(|s| s.4),
                cache: switches.map(|s| s.5),
                cache_ttl_secs,
                request_headers,
                response_headers,
                hide_backend: switches.map(|s| !s.0),
                allow_ips,
                deny_ips,
                rate_limit_per_sec,
                max_body_bytes,
                max_conns_per_ip,
                basic_auth,
                shared,
                share_port,
                share_expires_at,
                share_allow_ips,
            }
        })
        .boxed()
}

/// Settings around their limits.
pub(crate) fn settings() -> BoxedStrategy<Settings> {
    let addr = || {
        maybe(
            prop_oneof![
                any::<std::net::SocketAddrV4>().prop_map(|a| a.to_string()),
                any::<u16>().prop_map(|p| format!("127.0.0.1:{p}")),
                any::<u16>().prop_map(|p| format!("[::1]:{p}")),
            ],
            prop_oneof![text(), Just("localhost:8080".to_owned())],
        )
    };
    let listen = (
        addr(),
        addr(),
        addr(),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => vec(mostly("\\.?[a-zA-Z0-9]{1,5}(\\.[a-z]{1,4})?\\.?", text()), 1..3)
        ],
        mostly(100u64..=600_000, any::<u64>()),
        mostly(1_000u64..=600_000, any::<u64>()),
        any::<(bool, bool, bool, bool)>(),
    );
    let traffic = (
        ip_list(),
        ip_list(),
        limit(1_000_000),
        limit(1 << 40),
        limit(100_000),
        mostly(0u64..=64 << 20, any::<u64>()),
        mostly(100u64..=10_000_000, any::<u64>()),
        mostly(1u64..=365, any::<u64>()),
        mostly(16u64..=1_048_576, any::<u64>()),
        mostly(1u64..=65_536, any::<u64>()),
        mostly(0u64..=100 << 20, any::<u64>()),
    );
    let share = (
        maybe(
            prop_oneof![
                any::<std::net::IpAddr>().prop_map(|ip| ip.to_string()),
                Just(" 192.168.1.20 ".to_owned())
            ],
            text(),
        ),
        option::of(any::<u16>()),
        any::<bool>(),
    );
    let dns = (
        prop_oneof![
            3 => Just(Vec::new()),
            1 => vec(
                mostly("\\.?[a-zA-Z0-9]{1,5}(\\.[a-z]{1,4})?\\.?", prop_oneof![text(), Just("localhost".to_owned())]),
                1..3
            )
        ],
        mostly(
            prop_oneof![
                any::<u16>().prop_map(|p| format!("127.0.0.1:{p}")),
                any::<u16>().prop_map(|p| format!("[::1]:{p}")),
            ],
            prop_oneof![
                text(),
                any::<std::net::SocketAddrV4>().prop_map(|a| a.to_string())
            ],
        ),
    );
    (listen, traffic, (share, dns))
        .prop_map(|(listen, traffic, (share, dns))| {
            let (http_listen, https_listen, admin_listen, local_suffixes, grace, header, flags) =
                listen;
            let (
                allow_ips,
                deny_ips,
                rate_limit_per_sec,
                max_body_bytes,
                max_conns_per_ip,
                capture_body_limit,
                capture_retention_count,
                capture_retention_days,
                capture_max_mb,
                cache_max_mb,
                compress_min_bytes,
            ) = traffic;
            let (lan_address, share_ca_port, hosts_sync) = share;
            let (dns_suffixes, dns_listen) = dns;
            Settings {
                http_listen,
                https_listen,
                admin_listen,
                local_suffixes,
                shutdown_grace_ms: grace,
                header_read_timeout_ms: header,
                proxy_paused: flags.0,
                allow_ips,
                deny_ips,
                rate_limit_per_sec,
                max_body_bytes,
                max_conns_per_ip,
                capture_paused: flags.1,
                capture_body_limit,
                capture_retention_count,
                capture_retention_days,
                capture_max_mb,
                default_compress: flags.2,
                default_cache: flags.3,
                cache_max_mb,
                compress_min_bytes,
                lan_address,
                share_ca_port,
                dns_suffixes,
                dns_listen,
                hosts_sync,
            }
        })
        .boxed()
}
