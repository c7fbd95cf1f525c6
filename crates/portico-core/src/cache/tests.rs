//! The cache driven through `handle`: scripted upstreams (closures that count calls and
//! record what they were sent) for the RFC 9111 rules, and real hyper servers on
//! `127.0.0.1:0` for collapsing and streaming.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::*;
use crate::proxy::BoxError;

const ROUTE: RouteCache = RouteCache {
    route_id: 1,
    default_ttl: None,
};

fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request<ProxyBody> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "app.localhost:8080");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(empty()).expect("request")
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<ProxyBody> {
    request(Method::GET, path, headers)
}

fn response(status: u16, headers: &[(&str, &str)], body: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::builder().status(status);
    for (name, value) in headers {
        resp = resp.header(*name, *value);
    }
    resp.body(full(Bytes::from_static(body.as_bytes())))
        .expect("response")
}

fn not_called(_: &http::request::Parts) -> Response<ProxyBody> {
    panic!("the upstream must not be called")
}

/// What the client got, and what the upstream was sent (`None`: not called).
struct Exchange {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    outcome: CacheOutcome,
    upstream: Option<http::request::Parts>,
}

/// One request through the cache to a scripted upstream; the client reads the whole body.
async fn exchange(
    cache: &Cache,
    route: RouteCache,
    req: Request<ProxyBody>,
    answer: impl FnOnce(&http::request::Parts) -> Response<ProxyBody>,
) -> Exchange {
    let mut upstream = None;
    let (resp, outcome) = cache
        .handle(route, req, |req| {
            let (parts, _body) = req.into_parts();
            let resp = answer(&parts);
            upstream = Some(parts);
            async move { Ok(resp) }
        })
        .await
        .expect("handled");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Exchange {
        status: parts.status,
        headers: parts.headers,
        body,
        outcome,
        upstream,
    }
}

fn stored(stored: bool) -> CacheOutcome {
    CacheOutcome::Miss { stored }
}

#[tokio::test]
async fn second_get_is_a_hit_with_age_and_the_upstreams_headers() {
    let cache = Cache::new(1 << 20);
    let first = exchange(&cache, ROUTE, get("/a?x=1", &[]), |_| {
        response(
            200,
            &[("cache-control", "max-age=60"), ("x-app", "1")],
            "hello",
        )
    })
    .await;
    assert_eq!(first.outcome, stored(true));
    assert_eq!(first.body, "hello");

    let second = exchange(&cache, ROUTE, get("/a?x=1", &[]), not_called).await;
    assert_eq!(second.outcome, CacheOutcome::Hit);
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body, "hello");
    assert_eq!(second.headers["x-app"], "1");
    assert_eq!(second.headers["cache-control"], "max-age=60");
    assert_eq!(second.headers["content-length"], "5");
    let age: u64 = second.headers["age"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("Age is a number");
    assert!(age <= 1, "age {age}");

    // Another query string is another resource.
    let other = exchange(&cache, ROUTE, get("/a?x=2", &[]), |_| {
        response(200, &[("cache-control", "max-age=60")], "other")
    })
    .await;
    assert_eq!(other.outcome, stored(true));
}

#[tokio::test]
async fn responses_that_forbid_storing_are_not_served_from_cache() {
    let cache = Cache::new(1 << 20);
    let cases: [(&str, &[(&str, &str)]); 5] = [
        ("/no-store", &[("cache-control", "no-store, max-age=60")]),
        ("/private", &[("cache-control", "private, max-age=60")]),
        (
            "/cookie",
            &[("cache-control", "max-age=60"), ("set-cookie", "id=1")],
        ),
        (
            "/public-cookie",
            &[
                ("cache-control", "public, max-age=60"),
                ("set-cookie", "id=1"),
            ],
        ),
        (
            "/vary-star",
            &[("cache-control", "max-age=60"), ("vary", "*")],
        ),
    ];
    for (path, headers) in cases {
        for _ in 0..2 {
            let ex = exchange(&cache, ROUTE, get(path, &[]), |_| {
                response(200, headers, "x")
            })
            .await;
            assert!(ex.upstream.is_some(), "{path} was served from the cache");
            assert_eq!(ex.outcome, stored(false), "{path}");
            assert_eq!(ex.body, "x");
        }
    }
    assert_eq!(cache.stats().entries, 0);
}

#[tokio::test]
async fn no_store_request_bypasses_the_cache_and_stores_nothing() {
    let cache = Cache::new(1 << 20);
    let answer = |_: &http::request::Parts| response(200, &[("cache-control", "max-age=60")], "x");
    let no_store = [("cache-control", "no-store")];

    let ex = exchange(&cache, ROUTE, get("/a", &no_store), answer).await;
    assert_eq!(
        ex.outcome,
        CacheOutcome::Bypass {
            reason: "no-store request"
        }
    );
    assert_eq!(
        ex.outcome.header_value(),
        "Portico; fwd=bypass; detail=\"no-store request\""
    );
    // Nothing was stored: the next plain request is a miss, and stores.
    let ex = exchange(&cache, ROUTE, get("/a", &[]), answer).await;
    assert_eq!(ex.outcome, stored(true));
    // A no-store request is not answered from what is stored either.
    let ex = exchange(&cache, ROUTE, get("/a", &no_store), answer).await;
    assert!(ex.upstream.is_some());
    assert_eq!(
        exchange(&cache, ROUTE, get("/a", &[]), not_called)
            .await
            .outcome,
        CacheOutcome::Hit
    );
}

#[tokio::test]
async fn authorized_requests_are_stored_only_when_the_response_is_public() {
    let cache = Cache::new(1 << 20);
    let auth = [("authorization", "Bearer t")];
    for _ in 0..2 {
        let ex = exchange(&cache, ROUTE, get("/me", &auth), |_| {
            response(200, &[("cache-control", "max-age=60")], "me")
        })
        .await;
        assert!(ex.upstream.is_some());
        assert_eq!(ex.outcome, stored(false));
    }

    let ex = exchange(&cache, ROUTE, get("/logo", &auth), |_| {
        response(200, &[("cache-control", "public, max-age=60")], "logo")
    })
    .await;
    assert_eq!(ex.outcome, stored(true));
    let ex = exchange(&cache, ROUTE, get("/logo", &auth), not_called).await;
    assert_eq!(ex.outcome, CacheOutcome::Hit);
}

#[tokio::test]
async fn vary_keeps_variants_apart() {
    let cache = Cache::new(1 << 20);
    let calls = AtomicUsize::new(0);
    let answer = |parts: &http::request::Parts| {
        calls.fetch_add(1, Ordering::SeqCst);
        let body = match parts.headers["accept-language"].as_bytes() {
            b"fr" => "bonjour",
            _ => "hello",
        };
        response(
            200,
            &[("cache-control", "max-age=60"), ("vary", "Accept-Language")],
            body,
        )
    };
    for (round, expected) in [(0, stored(true)), (1, CacheOutcome::Hit)] {
        for (lang, body) in [("en", "hello"), ("fr", "bonjour")] {
            let ex = exchange(
                &cache,
                ROUTE,
                get("/", &[("accept-language", lang)]),
                answer,
            )
            .await;
            assert_eq!(ex.body, body, "round {round}, {lang}");
            assert_eq!(ex.outcome, expected, "round {round}, {lang}");
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().entries, 2);
}

#[tokio::test]
async fn stale_entry_is_revalidated_and_a_304_serves_the_stored_body() {
    let cache = Cache::new(1 << 20);
    // `Age: 60` with `max-age=60`: stale on arrival, stored because it has a validator.
    let first = exchange(&cache, ROUTE, get("/app.js", &[]), |_| {
        response(
            200,
            &[
                ("cache-control", "max-age=60"),
                ("age", "60"),
                ("etag", "\"v1\""),
            ],
            "one",
        )
    })
    .await;
    assert_eq!(first.outcome, stored(true));

    // The client's own validator is not what revalidates the stored response.
    let second = exchange(
        &cache,
        ROUTE,
        get("/app.js", &[("if-none-match", "\"v0\"")]),
        |req| {
            assert_eq!(req.headers["if-none-match"], "\"v1\"");
            response(
                304,
                &[
                    ("cache-control", "max-age=60"),
                    ("etag", "\"v1\""),
                    ("x-fresh", "yes"),
                    ("set-cookie", "seen=1"),
                ],
                "",
            )
        },
    )
    .await;
    assert!(second.upstream.is_some());
    assert_eq!(second.outcome, CacheOutcome::Revalidated);
    assert_eq!(
        second.outcome.header_value(),
        "Portico; fwd=stale; fwd-status=304"
    );
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body, "one");
    assert_eq!(second.headers["x-fresh"], "yes");
    assert_eq!(second.headers["content-length"], "3");
    // The 304's cookie is for this client only.
    assert_eq!(second.headers["set-cookie"], "seen=1");

    // Freshened: the stored Age no longer counts, so it is a hit for another minute.
    let third = exchange(&cache, ROUTE, get("/app.js", &[]), not_called).await;
    assert_eq!(third.outcome, CacheOutcome::Hit);
    assert_eq!(third.body, "one");
    assert_eq!(third.headers["x-fresh"], "yes");
    assert!(!third.headers.contains_key("set-cookie"));
}

#[tokio::test]
async fn a_304_naming_another_strong_etag_does_not_update_the_entry() {
    let cache = Cache::new(1 << 20);
    let stale = [
        ("cache-control", "max-age=60"),
        ("age", "60"),
        ("etag", "\"v1\""),
    ];
    exchange(&cache, ROUTE, get("/x", &[]), |_| {
        response(200, &stale, "one")
    })
    .await;
    let confused = exchange(&cache, ROUTE, get("/x", &[]), |_| {
        response(
            304,
            &[("cache-control", "max-age=60"), ("etag", "\"v2\"")],
            "",
        )
    })
    .await;
    // The client still gets a whole response, but the entry is not trusted any more.
    assert_eq!(confused.status, StatusCode::OK);
    assert_eq!(confused.body, "one");
    assert_eq!(confused.headers["etag"], "\"v1\"");
    let next = exchange(&cache, ROUTE, get("/x", &[]), |req| {
        assert!(!req.headers.contains_key("if-none-match"));
        response(200, &[("cache-control", "max-age=60")], "fresh")
    })
    .await;
    assert_eq!(next.outcome, stored(true));
}

#[tokio::test]
async fn encoded_responses_vary_on_accept_encoding_even_without_vary() {
    let cache = Cache::new(1 << 20);
    let gzip = [("accept-encoding", "gzip")];
    exchange(&cache, ROUTE, get("/app.js", &gzip), |_| {
        response(
            200,
            &[
                ("cache-control", "max-age=60"),
                ("content-encoding", "gzip"),
            ],
            "gz",
        )
    })
    .await;
    assert_eq!(
        exchange(&cache, ROUTE, get("/app.js", &gzip), not_called)
            .await
            .outcome,
        CacheOutcome::Hit
    );
    let plain = exchange(&cache, ROUTE, get("/app.js", &[]), |_| {
        response(200, &[("cache-control", "max-age=60")], "plain")
    })
    .await;
    assert_eq!(plain.outcome, stored(true));
    assert_eq!(plain.body, "plain");
    // The identity response has no Vary, so it is right for every client, newest first.
    let after = exchange(&cache, ROUTE, get("/app.js", &[]), not_called).await;
    assert_eq!(after.body, "plain");
    assert_eq!(cache.stats().entries, 2);
}

#[tokio::test]
async fn max_age_expiry_revalidates_with_if_modified_since() {
    let cache = Cache::new(1 << 20);
    let modified = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(3600));
    let first = exchange(&cache, ROUTE, get("/a.css", &[]), |_| {
        response(
            200,
            &[("cache-control", "max-age=1"), ("last-modified", &modified)],
            "css",
        )
    })
    .await;
    assert_eq!(first.outcome, stored(true));
    assert_eq!(
        exchange(&cache, ROUTE, get("/a.css", &[]), not_called)
            .await
            .outcome,
        CacheOutcome::Hit
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = exchange(&cache, ROUTE, get("/a.css", &[]), |req| {
        assert_eq!(req.headers["if-modified-since"], modified.as_str());
        response(304, &[("cache-control", "max-age=60")], "")
    })
    .await;
    assert_eq!(expired.outcome, CacheOutcome::Revalidated);
    assert_eq!(expired.body, "css");
}

#[tokio::test]
async fn stale_entry_is_replaced_when_the_upstream_sends_a_new_response() {
    let cache = Cache::new(1 << 20);
    let stale = [
        ("cache-control", "max-age=60"),
        ("age", "60"),
        ("etag", "\"v1\""),
    ];
    exchange(&cache, ROUTE, get("/x", &[]), |_| {
        response(200, &stale, "one")
    })
    .await;
    let second = exchange(&cache, ROUTE, get("/x", &[]), |req| {
        assert_eq!(req.headers["if-none-match"], "\"v1\"");
        response(
            200,
            &[("cache-control", "max-age=60"), ("etag", "\"v2\"")],
            "two",
        )
    })
    .await;
    assert_eq!(second.outcome, stored(true));
    assert_eq!(second.body, "two");
    let third = exchange(&cache, ROUTE, get("/x", &[]), not_called).await;
    assert_eq!(third.outcome, CacheOutcome::Hit);
    assert_eq!(third.body, "two");
    assert_eq!(cache.stats().entries, 1);
}

#[tokio::test]
async fn clients_own_validators_on_a_hit_get_a_304() {
    let cache = Cache::new(1 << 20);
    let modified = "Sun, 06 Nov 1994 08:49:37 GMT";
    // A miss forwards without the client's validators, so that the answer is storable.
    let first = exchange(
        &cache,
        ROUTE,
        get("/a", &[("if-none-match", "\"v1\"")]),
        |req| {
            assert!(!req.headers.contains_key("if-none-match"));
            response(
                200,
                &[
                    ("cache-control", "max-age=60"),
                    ("etag", "\"v1\""),
                    ("last-modified", modified),
                ],
                "body",
            )
        },
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);

    let weak = exchange(
        &cache,
        ROUTE,
        get("/a", &[("if-none-match", "W/\"v1\"")]),
        not_called,
    )
    .await;
    assert_eq!(weak.outcome, CacheOutcome::Hit);
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED);
    assert!(weak.body.is_empty());
    assert_eq!(weak.headers["etag"], "\"v1\"");
    assert!(!weak.headers.contains_key("content-length"));

    let other = exchange(
        &cache,
        ROUTE,
        get("/a", &[("if-none-match", "\"v0\"")]),
        not_called,
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.body, "body");

    let since = exchange(
        &cache,
        ROUTE,
        get("/a", &[("if-modified-since", modified)]),
        not_called,
    )
    .await;
    assert_eq!(since.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn head_is_answered_from_a_cached_get_and_a_head_miss_is_not_stored() {
    let cache = Cache::new(1 << 20);
    exchange(&cache, ROUTE, get("/a", &[]), |_| {
        response(200, &[("cache-control", "max-age=60")], "hello")
    })
    .await;
    let head = exchange(&cache, ROUTE, request(Method::HEAD, "/a", &[]), not_called).await;
    assert_eq!(head.outcome, CacheOutcome::Hit);
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers["content-length"], "5");
    assert!(head.body.is_empty());

    let miss = exchange(&cache, ROUTE, request(Method::HEAD, "/b", &[]), |req| {
        assert_eq!(req.method, Method::HEAD);
        response(200, &[("cache-control", "max-age=60")], "")
    })
    .await;
    assert_eq!(miss.outcome, stored(false));
    let get_b = exchange(&cache, ROUTE, get("/b", &[]), |_| {
        response(200, &[("cache-control", "max-age=60")], "b")
    })
    .await;
    assert_eq!(get_b.outcome, stored(true));
}

#[tokio::test]
async fn unsafe_methods_bypass_and_invalidate_on_success() {
    let cache = Cache::new(1 << 20);
    let cacheable = |body| {
        move |_: &http::request::Parts| response(200, &[("cache-control", "max-age=60")], body)
    };
    exchange(&cache, ROUTE, get("/items", &[]), cacheable("v1")).await;
    exchange(&cache, ROUTE, get("/items/7", &[]), cacheable("item")).await;

    // A failed POST leaves the entry alone.
    let failed = exchange(&cache, ROUTE, request(Method::POST, "/items", &[]), |_| {
        response(500, &[], "")
    })
    .await;
    assert_eq!(failed.outcome, CacheOutcome::Bypass { reason: "method" });
    assert_eq!(
        exchange(&cache, ROUTE, get("/items", &[]), not_called)
            .await
            .outcome,
        CacheOutcome::Hit
    );

    // A successful one invalidates its URL and a same-origin Location.
    let posted = exchange(&cache, ROUTE, request(Method::POST, "/items", &[]), |req| {
        assert_eq!(req.method, Method::POST);
        response(303, &[("location", "/items/7")], "")
    })
    .await;
    assert_eq!(posted.outcome, CacheOutcome::Bypass { reason: "method" });
    let after = exchange(&cache, ROUTE, get("/items", &[]), cacheable("v2")).await;
    assert_eq!(after.outcome, stored(true));
    assert_eq!(after.body, "v2");
    let item = exchange(&cache, ROUTE, get("/items/7", &[]), cacheable("item2")).await;
    assert_eq!(item.outcome, stored(true));
}

#[tokio::test]
async fn default_ttl_caches_a_response_without_freshness_information() {
    let cache = Cache::new(1 << 20);
    let with_ttl = RouteCache {
        route_id: 1,
        default_ttl: Some(Duration::from_secs(60)),
    };
    let bare = |_: &http::request::Parts| response(200, &[("content-type", "text/plain")], "bare");

    let first = exchange(&cache, with_ttl, get("/bare", &[]), bare).await;
    assert_eq!(first.outcome, stored(true));
    assert!(!first.headers.contains_key("cache-control"));
    let hit = exchange(&cache, with_ttl, get("/bare", &[]), not_called).await;
    assert_eq!(hit.outcome, CacheOutcome::Hit);
    // The client sees the upstream's headers, not the TTL the policy was given.
    assert!(!hit.headers.contains_key("cache-control"));

    // Without it, a response with no freshness information and no validator is not stored.
    let other = RouteCache {
        route_id: 2,
        default_ttl: None,
    };
    for _ in 0..2 {
        let ex = exchange(&cache, other, get("/bare", &[]), bare).await;
        assert_eq!(ex.outcome, stored(false));
    }

    // An explicit directive wins over the default TTL.
    let no_cache = exchange(&cache, with_ttl, get("/pragma", &[]), |_| {
        response(200, &[("pragma", "no-cache")], "p")
    })
    .await;
    assert_eq!(no_cache.outcome, stored(false));

    // With Last-Modified, http-cache-semantics applies the RFC 9111 heuristic (10% of the
    // time since the modification): a day-old file is fresh for about 2.4 hours.
    let modified = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(86_400));
    let heuristic =
        |_: &http::request::Parts| response(200, &[("last-modified", &modified)], "old");
    let first = exchange(&cache, other, get("/old", &[]), heuristic).await;
    assert_eq!(first.outcome, stored(true));
    let hit = exchange(&cache, other, get("/old", &[]), not_called).await;
    assert_eq!(hit.outcome, CacheOutcome::Hit);
}

#[tokio::test]
async fn stale_if_error_serves_the_stored_response_when_the_upstream_fails() {
    let cache = Cache::new(1 << 20);
    let refused = |_req: Request<ProxyBody>| async {
        Err(Error::UpstreamRefused {
            route: "app.localhost/".into(),
            upstream: "http://127.0.0.1:1".into(),
            source: "refused".into(),
        })
    };
    for (path, cache_control) in [
        ("/tolerant", "max-age=60, stale-if-error=600"),
        ("/strict", "max-age=60"),
    ] {
        exchange(&cache, ROUTE, get(path, &[]), |_| {
            response(
                200,
                &[
                    ("cache-control", cache_control),
                    ("age", "60"),
                    ("etag", "\"1\""),
                ],
                "kept",
            )
        })
        .await;
    }

    let (resp, outcome) = cache
        .handle(ROUTE, get("/tolerant", &[]), refused)
        .await
        .expect("served stale");
    assert_eq!(outcome, CacheOutcome::Stale);
    assert_eq!(
        outcome.header_value(),
        "Portico; fwd=stale; detail=\"stale-if-error\""
    );
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(body, "kept");

    let err = cache
        .handle(ROUTE, get("/strict", &[]), refused)
        .await
        .expect_err("no stale-if-error");
    assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn the_byte_bound_evicts_the_oldest_entries() {
    let max = 64 << 10;
    let cache = Cache::new(max);
    assert_eq!(cache.entry_cap(), 8 << 10);
    static BODY: [u8; 4096] = [b'x'; 4096];
    for i in 0..40 {
        let ex = exchange(&cache, ROUTE, get(&format!("/e{i}"), &[]), |_| {
            Response::builder()
                .header("cache-control", "max-age=60")
                .body(full(Bytes::from_static(&BODY)))
                .expect("response")
        })
        .await;
        assert_eq!(ex.outcome, stored(true));
    }
    cache.settle().await;
    let stats = cache.stats();
    assert!(stats.stored_bytes <= max, "{} > {max}", stats.stored_bytes);
    assert!(
        stats.entries > 0 && stats.entries < 40,
        "{} entries",
        stats.entries
    );
    assert_eq!(cache.purge_url("http://app.localhost:8080/e0"), 0);
    let last = exchange(&cache, ROUTE, get("/e39", &[]), not_called).await;
    assert_eq!(last.outcome, CacheOutcome::Hit);
}

#[tokio::test]
async fn bodies_over_the_entry_cap_reach_the_client_but_are_not_stored() {
    let cache = Cache::new(64 << 10);
    static BIG: [u8; 20 << 10] = [b'y'; 20 << 10];

    // Announced too big: not even copied.
    let announced = exchange(&cache, ROUTE, get("/announced", &[]), |_| {
        Response::builder()
            .header("cache-control", "max-age=60")
            .header("content-length", BIG.len())
            .body(full(Bytes::from_static(&BIG)))
            .expect("response")
    })
    .await;
    assert_eq!(announced.outcome, stored(false));
    assert_eq!(announced.body.len(), BIG.len());

    // Streamed without a length: copying stops at the cap, the client gets everything.
    let chunked = || {
        let chunks = BIG
            .chunks(5 << 10)
            .map(|c| Ok::<_, BoxError>(Frame::data(Bytes::from_static(c))));
        Response::builder()
            .header("cache-control", "max-age=60")
            .body(StreamBody::new(futures_util::stream::iter(chunks)).boxed())
            .expect("response")
    };
    for _ in 0..2 {
        let ex = exchange(&cache, ROUTE, get("/streamed", &[]), |_| chunked()).await;
        assert!(ex.upstream.is_some());
        assert_eq!(ex.body.len(), BIG.len());
    }
    assert_eq!(cache.stats().entries, 0);
}

#[tokio::test]
async fn purges_by_url_route_and_all() {
    let cache = Cache::new(1 << 20);
    let route = |route_id| RouteCache {
        route_id,
        default_ttl: None,
    };
    for (id, path) in [(1, "/a?v=1"), (1, "/b"), (2, "/a?v=1"), (2, "/c")] {
        exchange(&cache, route(id), get(path, &[]), |_| {
            response(200, &[("cache-control", "max-age=60")], "x")
        })
        .await;
    }
    assert_eq!(cache.stats().entries, 4);
    // Scheme, port and host case do not matter; the query does.
    assert_eq!(cache.purge_url("https://APP.localhost/a"), 0);
    assert_eq!(cache.purge_url("not a url"), 0);
    assert_eq!(cache.purge_url("https://APP.localhost/a?v=1#top"), 2);
    assert_eq!(cache.purge_route(1), 1);
    assert_eq!(
        exchange(&cache, route(2), get("/c", &[]), not_called)
            .await
            .outcome,
        CacheOutcome::Hit
    );
    assert_eq!(cache.purge_all(), 1);
    let again = exchange(&cache, route(2), get("/c", &[]), |_| {
        response(200, &[], "x")
    })
    .await;
    assert!(again.upstream.is_some());
    cache.settle().await;
    assert_eq!(cache.stats().entries, 0);
}

#[tokio::test]
async fn stats_count_per_route_and_changing_the_bound_empties_the_store() {
    let cache = Cache::new(1 << 20);
    let cacheable =
        |_: &http::request::Parts| response(200, &[("cache-control", "max-age=60")], "x");
    exchange(&cache, ROUTE, get("/a", &[]), cacheable).await;
    exchange(&cache, ROUTE, get("/a", &[]), not_called).await;
    exchange(&cache, ROUTE, get("/a", &[]), not_called).await;
    exchange(&cache, ROUTE, request(Method::DELETE, "/z", &[]), |_| {
        response(404, &[], "")
    })
    .await;
    let stats = cache.stats();
    assert_eq!(stats.max_bytes, 1 << 20);
    assert_eq!(
        (stats.hits, stats.misses, stats.bypassed, stats.entries),
        (2, 1, 1, 1)
    );
    assert_eq!(stats.routes.len(), 1);
    assert_eq!(stats.routes[0].route_id, 1);
    assert!(stats.routes[0].stored_bytes > 1);
    assert_eq!(stats.routes[0].stored_bytes, stats.stored_bytes);

    cache.set_max_bytes(1 << 20);
    assert_eq!(cache.stats().entries, 1, "the same bound keeps the store");
    cache.set_max_bytes(2 << 20);
    let stats = cache.stats();
    assert_eq!(
        (stats.max_bytes, stats.entries, stats.hits),
        (2 << 20, 0, 2)
    );

    cache.set_max_bytes(0);
    let off = exchange(&cache, ROUTE, get("/a", &[]), cacheable).await;
    assert_eq!(
        off.outcome,
        CacheOutcome::Bypass {
            reason: "cache is off"
        }
    );
}

#[test]
fn outcomes_have_cache_status_values_and_labels() {
    let cases = [
        (CacheOutcome::Hit, "Portico; hit", "hit"),
        (stored(true), "Portico; fwd=miss; stored", "miss"),
        (stored(false), "Portico; fwd=miss", "miss"),
        (
            CacheOutcome::Revalidated,
            "Portico; fwd=stale; fwd-status=304",
            "revalidated",
        ),
        (
            CacheOutcome::Stale,
            "Portico; fwd=stale; detail=\"stale-if-error\"",
            "stale",
        ),
        (
            CacheOutcome::Bypass {
                reason: "say \"hi\"",
            },
            "Portico; fwd=bypass; detail=\"say \\\"hi\\\"\"",
            "bypass",
        ),
        (
            CacheOutcome::Collapsed,
            "Portico; hit; collapsed",
            "collapsed",
        ),
    ];
    for (outcome, value, label) in cases {
        assert_eq!(outcome.header_value(), value);
        assert_eq!(outcome.label(), label);
    }
    assert_eq!(
        CacheOutcome::Bypass {
            reason: "bad\nreason"
        }
        .header_value(),
        "Portico; fwd=bypass"
    );
}

#[tokio::test]
async fn requests_the_cache_cannot_serve_bypass_it() {
    let cache = Cache::new(1 << 20);
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("range", "bytes=0-1")], "range request"),
        (&[("if-match", "\"a\"")], "precondition"),
        (
            &[("upgrade", "websocket"), ("connection", "upgrade")],
            "upgrade",
        ),
        (&[("content-length", "3")], "request body"),
    ];
    for (headers, reason) in cases {
        let ex = exchange(&cache, ROUTE, get("/a", headers), |_| {
            response(200, &[("cache-control", "max-age=60")], "x")
        })
        .await;
        assert_eq!(ex.outcome, CacheOutcome::Bypass { reason });
    }
    let long = format!("/{}", "a".repeat(9000));
    let ex = exchange(&cache, ROUTE, get(&long, &[]), |_| response(200, &[], "x")).await;
    assert_eq!(
        ex.outcome,
        CacheOutcome::Bypass {
            reason: "uri too big"
        }
    );
    assert_eq!(cache.stats().entries, 0);
}

// Real servers: collapsing and streaming.

/// An HTTP/1.1 server on 127.0.0.1:0 answering with `handler`; it stops with the test's
/// runtime.
async fn spawn_upstream<H, Fut>(handler: H) -> SocketAddr
where
    H: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _closed = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn client() -> Client<HttpConnector, ProxyBody> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// The `forward` function: send the request to `addr` with a pooled hyper client.
async fn send(
    client: Client<HttpConnector, ProxyBody>,
    addr: SocketAddr,
    mut req: Request<ProxyBody>,
) -> Result<Response<ProxyBody>, Error> {
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    *req.uri_mut() = format!("http://{addr}{target}").parse().expect("uri");
    match client.request(req).await {
        Ok(resp) => Ok(resp.map(|body| body.map_err(BoxError::from).boxed())),
        Err(err) => Err(Error::UpstreamFailed {
            route: "test".into(),
            upstream: addr.to_string(),
            source: Box::new(err),
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_reach_the_upstream_once() {
    static BODY: [u8; 64 << 10] = [b'z'; 64 << 10];
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let addr = spawn_upstream(move |_req| {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Response::builder()
                .header("cache-control", "max-age=60")
                .body(full(Bytes::from_static(&BODY)))
                .expect("response")
        }
    })
    .await;
    let cache = Cache::new(64 << 20);
    let client = client();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (cache, client) = (cache.clone(), client.clone());
            tokio::spawn(async move {
                let (resp, outcome) = cache
                    .handle(ROUTE, get("/bundle.js", &[]), |req| send(client, addr, req))
                    .await
                    .expect("handled");
                let body = resp.into_body().collect().await.expect("body").to_bytes();
                (outcome, body)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        let (outcome, body) = task.await.expect("task");
        assert_eq!(body.len(), BODY.len());
        outcomes.push(outcome);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let leaders = outcomes.iter().filter(|o| **o == stored(true)).count();
    let collapsed = outcomes
        .iter()
        .filter(|o| **o == CacheOutcome::Collapsed)
        .count();
    assert_eq!((leaders, collapsed), (1, 19), "{outcomes:?}");
    assert_eq!(cache.inner.flights.len(), 0);
    assert_eq!(cache.stats().collapsed, 19);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uncacheable_misses_go_upstream_together() {
    const DELAY: Duration = Duration::from_millis(300);
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    // Headers at once, the body after a delay: waiting for another request's whole body
    // would serialise the requests (20 × 300 ms).
    let addr = spawn_upstream(move |_req| {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            let body = futures_util::stream::unfold(0, |step| async move {
                match step {
                    0 => Some((Ok::<_, BoxError>(Frame::data(Bytes::from("a"))), 1)),
                    1 => {
                        tokio::time::sleep(DELAY).await;
                        Some((Ok(Frame::data(Bytes::from("b"))), 2))
                    }
                    _ => None,
                }
            });
            Response::builder()
                .header("cache-control", "no-store")
                .body(StreamBody::new(body).boxed())
                .expect("response")
        }
    })
    .await;
    let cache = Cache::new(64 << 20);
    let client = client();
    for round in 0..2 {
        let started = Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (cache, client) = (cache.clone(), client.clone());
                tokio::spawn(async move {
                    let (resp, outcome) = cache
                        .handle(ROUTE, get("/api", &[]), |req| send(client, addr, req))
                        .await
                        .expect("handled");
                    let body = resp.into_body().collect().await.expect("body").to_bytes();
                    (outcome, body)
                })
            })
            .collect();
        for task in tasks {
            let (outcome, body) = task.await.expect("task");
            assert_eq!(outcome, stored(false));
            assert_eq!(body, "ab");
        }
        let elapsed = started.elapsed();
        assert!(elapsed < DELAY * 5, "round {round} took {elapsed:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_streams_to_the_client_before_the_upstream_finishes() {
    let go_on = Arc::new(tokio::sync::Notify::new());
    let signal = go_on.clone();
    let addr = spawn_upstream(move |_req| {
        let signal = signal.clone();
        async move {
            let body = futures_util::stream::unfold(0, move |step| {
                let signal = signal.clone();
                async move {
                    match step {
                        0 => Some((Ok::<_, BoxError>(Frame::data(Bytes::from("first,"))), 1)),
                        1 => {
                            signal.notified().await;
                            Some((Ok(Frame::data(Bytes::from("second"))), 2))
                        }
                        _ => None,
                    }
                }
            });
            Response::builder()
                .header("cache-control", "max-age=60")
                .body(StreamBody::new(body).boxed())
                .expect("response")
        }
    })
    .await;
    let cache = Cache::new(1 << 20);
    let client = client();
    let (resp, outcome) = cache
        .handle(ROUTE, get("/stream", &[]), |req| send(client, addr, req))
        .await
        .expect("handled");
    assert_eq!(outcome, stored(true));
    let mut body = resp.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first chunk arrives while the upstream still holds the rest")
        .expect("a frame")
        .expect("data");
    assert_eq!(first.into_data().expect("data"), "first,");
    go_on.notify_one();
    let rest = body.collect().await.expect("rest").to_bytes();
    assert_eq!(rest, "second");

    let hit = exchange(&cache, ROUTE, get("/stream", &[]), not_called).await;
    assert_eq!(hit.outcome, CacheOutcome::Hit);
    assert_eq!(hit.body, "first,second");
}

#[tokio::test]
async fn a_client_that_has_every_announced_byte_of_a_miss_finds_it_stored() {
    let cache = Cache::new(1 << 20);
    let (resp, outcome) = cache
        .handle(ROUTE, get("/whole", &[]), |_req| async {
            Ok(response(
                200,
                &[("cache-control", "max-age=60"), ("content-length", "5")],
                "whole",
            ))
        })
        .await
        .expect("handled");
    assert_eq!(outcome, stored(true));
    // Read as a client that knows the length does: up to the last announced byte, without
    // waiting for the end.
    let mut body = resp.into_body();
    let mut got = 0;
    while got < 5 {
        let frame = body.frame().await.expect("a frame").expect("data");
        got += frame.data_ref().map_or(0, Bytes::len);
    }
    // The next request, at once, is a plain hit: the copy was in before the last byte went
    // out (else it would wait for the copy being stored, as `collapsed`).
    let again = exchange(&cache, ROUTE, get("/whole", &[]), not_called).await;
    assert_eq!(again.outcome, CacheOutcome::Hit);
    assert_eq!(again.body, "whole");
}
