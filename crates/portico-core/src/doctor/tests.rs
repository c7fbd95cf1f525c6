//! The doctor's choice of routes and names, and a whole run against real sockets.

use super::*;
use crate::config::NewRoute;

fn route(id: RouteId, host: &str, upstream: &str, enabled: bool) -> Route {
    NewRoute {
        host: host.into(),
        upstreams: vec![upstream.into()],
        enabled: Some(enabled),
        ..Default::default()
    }
    .validate()
    .expect("valid route")
    .with_id(id)
}

#[test]
fn a_host_no_route_serves_is_an_error_naming_route_add() {
    let routes = [route(1, "app.test", "5173", true)];
    let mut found = Vec::new();
    let (selected, names) = select(&routes, Some("nothing.test"), &mut found);
    assert!(selected.is_empty());
    assert_eq!(names.len(), 1, "the name is still checked: {names:?}");
    assert_eq!(
        (found[0].check, found[0].status),
        (Check::RouteMatch, Level::Error)
    );
    assert!(
        found[0]
            .fix
            .as_deref()
            .is_some_and(|f| f.starts_with("Add one: portico route add nothing.test"))
    );
}

#[test]
fn a_name_under_a_wildcard_selects_the_wildcard_route() {
    let routes = [
        route(1, "*.shop.test", "3000", true),
        route(2, "app.test", "5173", true),
    ];
    let mut found = Vec::new();
    let (selected, _) = select(&routes, Some("a.shop.test"), &mut found);
    assert_eq!(selected.iter().map(|r| r.id).collect::<Vec<_>>(), [1]);
    assert_eq!(found[0].status, Level::Ok);
}

#[test]
fn a_disabled_route_is_reported_with_route_enable() {
    let routes = [route(1, "app.test", "5173", false)];
    let mut found = Vec::new();
    let (selected, _) = select(&routes, Some("app.test"), &mut found);
    assert!(selected.is_empty());
    assert_eq!(found[0].status, Level::Error);
    assert_eq!(
        found[0].fix.as_deref(),
        Some("portico route enable app.test")
    );
}

#[tokio::test]
async fn a_closed_port_is_an_unreachable_upstream() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let report = run(Inputs {
        routes: vec![route(
            7,
            "app.localhost",
            &format!("127.0.0.1:{closed}"),
            true,
        )],
        host: None,
        stores: None,
        listening: Listening::Running(Bound::default()),
        hosts_file: std::path::PathBuf::from("/nonexistent/hosts"),
        hosts_command: "sudo portico hosts sync".to_owned(),
    })
    .await;
    let f = report
        .findings
        .iter()
        .find(|f| f.check == Check::UpstreamReach)
        .expect("an upstream finding");
    assert_eq!(f.status, Level::Error, "{f:?}");
    assert_eq!(f.route_id, Some(7));
    assert!(
        f.message.contains("connection refused on 127.0.0.1"),
        "{f:?}"
    );
    assert!(report.errors >= 1);
    assert!(report.engine_running);
}
