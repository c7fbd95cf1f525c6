//! Upstream health through the admin API and the event stream, with real upstreams.

mod common;

use std::time::Duration;

use common::{TestEngine, closed_port, eventually, spawn_echo};
use portico_core::admin::Event;

async fn health(engine: &TestEngine) -> Vec<serde_json::Value> {
    let reply = engine.admin_get("/api/v1/health").await;
    assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
    reply.json().as_array().expect("a list").clone()
}

fn of(list: &[serde_json::Value], id: i64) -> Option<serde_json::Value> {
    list.iter().find(|h| h["route_id"] == id).cloned()
}

#[tokio::test]
async fn each_upstream_is_probed_and_a_change_is_announced() {
    let engine = TestEngine::start().await;
    let mut events = engine.engine().events();
    let echo = spawn_echo("up").await;
    let up = engine.route("up.localhost", "/", echo.addr).await;
    let down = engine
        .route("down.localhost", "/", closed_port().await)
        .await;

    let limit = Duration::from_secs(10);
    let both = eventually(limit, || async {
        let list = health(&engine).await;
        of(&list, up.id).is_some() && of(&list, down.id).is_some()
    })
    .await;
    assert!(both, "both routes probed within {limit:?}");
    let list = health(&engine).await;
    let up_now = of(&list, up.id).expect("up route");
    assert_eq!(up_now["up"], true);
    assert!(up_now["latency_ms"].as_f64().expect("latency") >= 0.0);
    assert_eq!(up_now["error"], serde_json::Value::Null);
    let down_now = of(&list, down.id).expect("down route");
    assert_eq!(down_now["up"], false);
    assert!(
        down_now["error"].as_str().expect("why").contains("refused"),
        "{down_now}"
    );

    // The upstream stops: the next probe says so, on the event stream too.
    drop(echo);
    let announced = tokio::time::timeout(limit, async {
        loop {
            match events.recv().await {
                Ok(Event::UpstreamHealth {
                    route_id,
                    up: false,
                    ..
                }) if route_id == up.id => {
                    return true;
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return false,
            }
        }
    })
    .await;
    assert_eq!(
        announced,
        Ok(true),
        "an upstream_health event for the stopped upstream"
    );
    let list = health(&engine).await;
    assert_eq!(of(&list, up.id).expect("still listed")["up"], false);
}
