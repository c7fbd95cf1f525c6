//! Property tests of validation: arbitrary input never panics; a refusal names a real field,
//! says so in its message, and blames the right one (putting a good value there clears it);
//! what is accepted comes back unchanged through JSON and an export, and is accepted again;
//! header rules do exactly what they say.

use proptest::prelude::*;

use super::arbitrary::{self, PHC};
use super::*;

/// 256 cases a property: enough to reach the corners of each generator, few enough that the
/// whole suite stays fast. Failures are saved next to this file and replayed first.
fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Every field of [`NewRoute`] by its API name.
fn route_fields() -> Vec<String> {
    let mut fields: Vec<String> = serde_json::to_value(NewRoute::default())
        .expect("a route serializes")
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    fields.push("basic_auth".into());
    fields
}

/// Whether the error's text names its field, as a person reads it: "invalid host …",
/// "invalid upstream …", "invalid setting redirect_status: …".
fn message_names_field(err: &Error) -> bool {
    let text = err.to_string();
    let word = match err.field() {
        "upstreams" => "upstream",
        "timeout_ms" => "timeout",
        field => field,
    };
    text.contains(word)
}

/// `route` with `field` set to a value that is valid on its own.
fn with_good(mut route: NewRoute, field: &str) -> NewRoute {
    match field {
        "host" => route.host = "app.localhost".into(),
        "path" => route.path = None,
        "upstreams" => route.upstreams = vec!["5173".into()],
        "static_dir" => route.static_dir = None,
        "redirect" => route.redirect = None,
        "redirect_status" => route.redirect_status = None,
        "balancing" => route.balancing = Balancing::default(),
        "timeout_ms" => route.timeout_ms = None,
        "cache_ttl_secs" => route.cache_ttl_secs = None,
        "request_headers" => route.request_headers = HeaderRules::default(),
        "response_headers" => route.response_headers = HeaderRules::default(),
        "allow_ips" => route.allow_ips.clear(),
        "deny_ips" => route.deny_ips.clear(),
        "rate_limit_per_sec" => route.rate_limit_per_sec = None,
        "max_body_bytes" => route.max_body_bytes = None,
        "max_conns_per_ip" => route.max_conns_per_ip = None,
        "basic_auth" => route.basic_auth.clear(),
        "shared" => route.shared = false,
        "share_port" => route.share_port = None,
        "share_allow_ips" => route.share_allow_ips.clear(),
        other => panic!("no good value known for {other}"),
    }
    route
}

/// A route as the API answers it: users by name only.
fn as_answered(route: &Route) -> Route {
    let mut answered = route.clone();
    answered.basic_auth = BasicAuth::from_stored(
        route
            .basic_auth
            .users()
            .iter()
            .map(|u| AuthUser {
                user: u.user.clone(),
                hash: String::new(),
            })
            .collect(),
    );
    answered
}

/// What an export of `route` validates to when imported over it (as `portico import` and
/// `POST /api/v1/import` do).
fn exported_and_imported(route: &Route) -> Result<ValidRoute, Error> {
    let mut exported = vec![NewRoute::from(route)];
    keep_passwords(&mut exported, std::slice::from_ref(route));
    exported[0].validate()
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn a_route_is_accepted_or_refused_naming_the_field_to_blame(input in arbitrary::new_route()) {
        let fields = route_fields();
        match input.validate() {
            Ok(valid) => {
                prop_assert!(!valid.upstreams.is_empty() || valid.static_dir.is_some() || valid.redirect.is_some());
                prop_assert_eq!(valid.host.to_string(), valid.host.to_string().to_ascii_lowercase());
            }
            Err(err) => {
                prop_assert!(fields.iter().any(|f| f == err.field()), "unknown field {}", err.field());
                prop_assert!(message_names_field(&err), "{:?} does not name {}", err.to_string(), err.field());
                // A good value in the blamed field clears that complaint: the first problem
                // found was really there.
                match with_good(input.clone(), err.field()).validate() {
                    Ok(_) => {}
                    Err(next) => prop_assert_ne!(next.field(), err.field(), "{} then {}", err, next),
                }
            }
        }
    }

    #[test]
    fn an_accepted_route_round_trips_and_is_accepted_again(
        (input, valid) in arbitrary::new_route().prop_filter_map("valid routes", |r| {
            r.validate().ok().map(|v| (r, v))
        }),
    ) {
        let route = valid.clone().with_id(7);
        // Exported, then imported over itself: the same route (passwords kept by hash).
        prop_assert_eq!(exported_and_imported(&route), Ok(valid.clone()));
        // The input as JSON (what a client sends) validates to the same route.
        let json = serde_json::to_string(&input).expect("input serializes");
        let Object(again) = serde_json::from_str::<Object<NewRoute>>(&json).expect("input parses");
        prop_assert_eq!(again.validate(), Ok(valid));
        // The route as the API answers it parses back (validating again) to the same route.
        let json = serde_json::to_string(&route).expect("route serializes");
        let parsed: Route = serde_json::from_str(&json).expect("an answer parses as a route");
        prop_assert_eq!(parsed, as_answered(&route));
    }

    #[test]
    fn a_patch_is_refused_naming_a_field_or_gives_a_route_that_validates_the_same(
        base in arbitrary::new_route().prop_filter_map("valid routes", |r| r.validate().ok()),
        patch in arbitrary::route_patch(),
    ) {
        let route = base.with_id(3);
        let fields = route_fields();
        match patch.apply(&route) {
            Ok(next) => {
                prop_assert_eq!(next.id, route.id);
                // What a patch accepts, validation of the whole route accepts too: the store
                // validates every row it reads, so anything else would be saved and then
                // reported invalid.
                let mut again = exported_and_imported(&next).map(|v| v.with_id(route.id));
                if let Ok(again) = &mut again {
                    again.project = next.project.clone();
                }
                prop_assert_eq!(again, Ok(next));
            }
            Err(err) => {
                prop_assert!(fields.iter().any(|f| f == err.field()), "unknown field {}", err.field());
                prop_assert!(message_names_field(&err), "{:?} does not name {}", err.to_string(), err.field());
            }
        }
    }

    #[test]
    fn hosts_paths_upstreams_and_address_lists_normalise_once(
        host in arbitrary::host(),
        path in arbitrary::path(),
        upstream in arbitrary::upstream(),
        ips in arbitrary::ip_list(),
    ) {
        if let Ok(parsed) = HostPattern::parse(&host) {
            prop_assert_eq!(HostPattern::parse(&parsed.to_string()), Ok(parsed.clone()));
            // Host names are case-insensitive.
            prop_assert_eq!(HostPattern::parse(&host.to_ascii_uppercase()), Ok(parsed.clone()));
            let text = parsed.to_string();
            prop_assert!(!text.ends_with('.') && text == text.to_ascii_lowercase());
        } else {
            prop_assert!(HostPattern::parse(&host.to_ascii_uppercase()).is_err());
        }
        if let Ok(parsed) = PathPrefix::parse(&path) {
            prop_assert_eq!(PathPrefix::parse(parsed.as_str()), Ok(parsed.clone()));
            prop_assert!(parsed.as_str().starts_with('/'));
            prop_assert!(parsed.is_root() || !parsed.as_str().ends_with('/'));
        }
        if let Ok(parsed) = Upstream::parse(&upstream) {
            prop_assert_eq!(Upstream::parse(&parsed.to_string()), Ok(parsed.clone()));
            prop_assert!(parsed.port() > 0);
        }
        if let Ok(list) = IpList::parse("allow_ips", &ips) {
            prop_assert_eq!(IpList::parse("allow_ips", &list.to_strings()), Ok(list));
        }
    }

    #[test]
    fn an_upstream_port_is_read_as_a_number_and_refused_saying_so(
        host in prop_oneof![
            Just("localhost".to_owned()),
            Just("[::1]".to_owned()),
            Just("127.0.0.1".to_owned()),
            arbitrary::label().prop_map(|l| format!("{l}.localhost")),
        ],
        scheme in prop_oneof![Just(""), Just("http://")],
        port in prop_oneof![1u32..=65535, Just(0), 65536u32..10_000_000],
        zeros in 0usize..3,
    ) {
        let padded = format!("{}{port}", "0".repeat(zeros));
        match Upstream::parse(&format!("{scheme}{host}:{padded}")) {
            Ok(upstream) => {
                prop_assert!((1..=65535).contains(&port));
                prop_assert_eq!(u32::from(upstream.port()), port);
                // The same server however its port is written: one upstream, listed once.
                prop_assert_eq!(Upstream::parse(&format!("{host}:{port}")), Ok(upstream));
            }
            Err(err) => {
                prop_assert!(port == 0 || port > 65535);
                let text = err.to_string();
                prop_assert!(text.contains("port") && !text.contains("missing"), "{}", text);
                prop_assert!(port == 0 || text.contains(&padded), "{}", text);
            }
        }
    }

    #[test]
    fn settings_are_accepted_once_and_for_all_or_refused_naming_a_setting(
        settings in arbitrary::settings(),
    ) {
        let names: Vec<String> = serde_json::to_value(Settings::default())
            .expect("settings serialize")
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        let mut validated = settings.clone();
        match validated.validate() {
            Ok(()) => {
                // Normalising is done once: valid settings validate again unchanged, and
                // come back from JSON unchanged.
                let mut again = validated.clone();
                prop_assert_eq!(again.validate(), Ok(()));
                prop_assert_eq!(&again, &validated);
                let json = serde_json::to_string(&validated).expect("settings serialize");
                let parsed: Settings = serde_json::from_str(&json).expect("settings parse");
                prop_assert_eq!(parsed, validated);
            }
            Err(err) => {
                prop_assert!(names.iter().any(|n| n == err.field()), "unknown setting {}", err.field());
                prop_assert!(err.to_string().contains(err.field()), "{}", err);
            }
        }
    }

    #[test]
    fn header_rules_are_refused_when_a_name_or_value_is_not_http_and_the_error_says_which(
        rules in arbitrary::header_rules(),
    ) {
        let names: Vec<&String> = rules
            .set
            .iter()
            .chain(&rules.add)
            .map(|p| &p.name)
            .chain(&rules.remove)
            .collect();
        let bad_name = names.iter().find(|n| {
            http::HeaderName::from_bytes(n.as_bytes()).is_err()
                || features::PROTECTED.contains(&n.to_ascii_lowercase().as_str())
        });
        let bad_value = rules
            .set
            .iter()
            .chain(&rules.add)
            .find(|p| http::HeaderValue::from_str(&p.value).is_err());
        match rules.validate("request_headers") {
            Ok(()) => prop_assert!(bad_name.is_none() && bad_value.is_none()),
            Err(err) => {
                prop_assert_eq!(err.field(), "request_headers");
                let text = err.to_string();
                prop_assert!(text.contains("request_headers"), "{}", text);
                if let Some(name) = bad_name {
                    prop_assert!(text.contains(name.as_str()) || text.contains(&format!("{name:?}")), "{}", text);
                } else {
                    let pair = bad_value.expect("refused for a reason");
                    let c = pair
                        .value
                        .chars()
                        .find(|c| c.is_ascii_control() && *c != '\t')
                        .expect("an offending character");
                    prop_assert!(text.contains(&pair.name), "{}", text);
                    prop_assert!(text.contains(&format!("{c:?}")), "{} does not show {:?}", text, c);
                }
            }
        }
    }

    #[test]
    fn valid_header_rules_remove_set_and_add_exactly(
        rules in arbitrary::valid_header_rules(),
        before in proptest::collection::vec(("x-[a-c]|[a-z]{1,4}", "[ -~]{0,8}"), 0..8),
    ) {
        prop_assert_eq!(rules.validate("response_headers"), Ok(()));
        let mut headers = http::HeaderMap::new();
        for (name, value) in &before {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("generated name"),
                http::HeaderValue::from_str(value).expect("generated value"),
            );
        }
        let original = headers.clone();
        rules.apply(&mut headers);

        let lower = |s: &str| s.to_ascii_lowercase();
        let mut touched: Vec<String> = original.keys().map(|k| k.as_str().to_owned()).collect();
        touched.extend(rules.remove.iter().map(|n| lower(n)));
        touched.extend(rules.set.iter().chain(&rules.add).map(|p| lower(&p.name)));
        for name in touched {
            // The model: remove, then set (the last one wins), then add in order.
            let mut want: Vec<String> = original
                .get_all(name.as_str())
                .iter()
                .map(|v| v.to_str().expect("ascii").to_owned())
                .collect();
            if rules.remove.iter().any(|n| lower(n) == name) {
                want.clear();
            }
            if let Some(set) = rules.set.iter().rev().find(|p| lower(&p.name) == name) {
                want = vec![set.value.clone()];
            }
            want.extend(rules.add.iter().filter(|p| lower(&p.name) == name).map(|p| p.value.clone()));
            let got: Vec<String> = headers
                .get_all(name.as_str())
                .iter()
                .map(|v| v.to_str().expect("ascii").to_owned())
                .collect();
            prop_assert_eq!(got, want, "{}", name);
        }
        let stray = headers.keys().find(|k| {
            !original.contains_key(*k)
                && !rules.set.iter().chain(&rules.add).any(|p| lower(&p.name) == k.as_str())
        });
        prop_assert!(stray.is_none(), "{:?} appeared from nowhere", stray);
    }
}

#[test]
fn the_generated_hash_is_accepted_as_a_carried_over_password() {
    let users = [AuthUserInput {
        user: "alice".into(),
        password: None,
        password_hash: Some(PHC.into()),
    }];
    let auth = BasicAuth::from_input(&users, &BasicAuth::default()).expect("a valid PHC string");
    assert_eq!(auth.users()[0].hash, PHC);
}
