use std::io::Write;

use super::*;

fn exchange() -> Exchange {
    Exchange {
        id: 42,
        started_at: 1_700_000_000_123,
        method: "GET".to_owned(),
        scheme: "http".to_owned(),
        host: "app.localhost".to_owned(),
        path: "/search".to_owned(),
        query: Some("q=caf%C3%A9+au+lait&page=2&flag".to_owned()),
        version: "HTTP/1.1".to_owned(),
        client: "127.0.0.1:51000".to_owned(),
        route_id: Some(3),
        route: Some("app.localhost/".to_owned()),
        upstream: Some("http://127.0.0.1:3000".to_owned()),
        status: Some(200),
        duration_ms: 12.5,
        ttfb_ms: Some(10.0),
        bytes_in: 120,
        bytes_out: 300,
        error: None,
        error_side: None,
        error_code: None,
        request_headers: vec![
            ("host".to_owned(), "app.localhost:8080".to_owned()),
            ("cookie".to_owned(), "session=abc123; theme=dark".to_owned()),
            ("cookie".to_owned(), "lone".to_owned()),
        ].into(),
        response_headers: vec![
            ("content-type".to_owned(), "text/plain; charset=utf-8".to_owned()),
            (
                "set-cookie".to_owned(),
                "session=xyz; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly; Secure; SameSite=Lax"
                    .to_owned(),
            ),
            ("set-cookie".to_owned(), "short=1; Max-Age=60; Domain=app.localhost".to_owned()),
        ].into(),
        request_body: Preview::default(),
        response_body: Preview {
            bytes: b"hello".to_vec(),
            size: 5,
        },
        websocket: None,
        replay_of: None,
        imported: false,
        cache: None,
        compression: None,
    }
}

fn first_entry(e: &Exchange) -> Value {
    to_har(std::slice::from_ref(e), "1.2.3")["log"]["entries"][0].clone()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(data).expect("write to a Vec");
    w.finish().expect("finish into a Vec")
}

#[test]
fn the_log_names_its_version_and_creator_and_sorts_entries_oldest_first() {
    let mut later = exchange();
    later.started_at += 1000;
    later.id = 43;
    let har = to_har(&[later, exchange()], "0.9.0");
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(
        har["log"]["creator"],
        json!({"name": "Portico", "version": "0.9.0"})
    );
    let ids: Vec<&Value> = har["log"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["_portico_id"])
        .collect();
    assert_eq!(ids, [42, 43]);
}

#[test]
fn an_entry_carries_url_query_cookies_and_times() {
    let entry = first_entry(&exchange());
    assert_eq!(entry["startedDateTime"], "2023-11-14T22:13:20.123Z");
    assert_eq!(entry["time"], 12.5);
    let request = &entry["request"];
    assert_eq!(
        request["url"],
        "http://app.localhost:8080/search?q=caf%C3%A9+au+lait&page=2&flag"
    );
    assert_eq!(
        request["queryString"],
        json!([
            {"name": "q", "value": "café au lait"},
            {"name": "page", "value": "2"},
            {"name": "flag", "value": ""},
        ])
    );
    assert_eq!(
        request["cookies"],
        json!([
            {"name": "session", "value": "abc123"},
            {"name": "theme", "value": "dark"},
            {"name": "lone", "value": ""},
        ])
    );
    assert_eq!(request["headersSize"], 120);
    assert_eq!(request["bodySize"], 0);
    assert!(request.get("postData").is_none());
    assert_eq!(
        entry["timings"],
        json!({"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": 10.0, "receive": 2.5})
    );
    assert_eq!(entry["serverIPAddress"], "127.0.0.1");
    assert_eq!(entry["_route"], "app.localhost/");
    assert_eq!(entry["_route_id"], 3);
    assert_eq!(entry["_ttfb"], 10.0);
    assert!(entry.get("_error").is_none());
}

#[test]
fn set_cookie_headers_become_response_cookies() {
    let cookies = &first_entry(&exchange())["response"]["cookies"];
    assert_eq!(
        cookies,
        &json!([
            {"name": "session", "value": "xyz", "path": "/", "expires": "2015-10-21T07:28:00.000Z",
             "httpOnly": true, "secure": true, "sameSite": "Lax"},
            {"name": "short", "value": "1", "domain": "app.localhost", "expires": "2023-11-14T22:14:20.123Z"},
        ])
    );
}

#[test]
fn a_compressed_response_is_stored_decoded_with_its_savings() {
    let text = "abc ".repeat(500);
    let wire = gzip(text.as_bytes());
    let mut e = exchange();
    e.response_headers = vec![
        ("content-type".to_owned(), "text/plain".to_owned()),
        ("content-encoding".to_owned(), "gzip".to_owned()),
        ("location".to_owned(), "/next".to_owned()),
    ]
    .into();
    e.response_body = Preview {
        size: wire.len() as u64,
        bytes: wire.clone(),
    };
    let response = &first_entry(&e)["response"];
    assert_eq!(response["content"]["text"], text.as_str());
    assert_eq!(response["content"]["size"], 2000);
    assert_eq!(response["content"]["compression"], 2000 - wire.len());
    assert_eq!(response["content"]["mimeType"], "text/plain");
    assert_eq!(response["bodySize"], wire.len());
    assert_eq!(response["headersSize"], 300 - wire.len());
    assert_eq!(response["redirectURL"], "/next");
    assert_eq!(response["statusText"], "OK");
    assert!(response["content"].get("encoding").is_none());
}

#[test]
fn binary_bodies_are_base64_in_content_and_post_data() {
    let mut e = exchange();
    e.method = "POST".to_owned();
    e.request_headers
        .push("content-type", "application/octet-stream");
    e.request_body = Preview {
        bytes: vec![0, 159, 146, 150],
        size: 4,
    };
    e.response_headers = vec![("content-type".to_owned(), "image/png".to_owned())].into();
    e.response_body = Preview {
        bytes: vec![137, 80, 78, 71],
        size: 10,
    };
    let entry = first_entry(&e);
    assert_eq!(
        entry["request"]["postData"],
        json!({"mimeType": "application/octet-stream", "text": "AJ+Slg==", "encoding": "base64"})
    );
    let content = &entry["response"]["content"];
    assert_eq!(content["text"], "iVBORw==");
    assert_eq!(content["encoding"], "base64");
    assert_eq!(content["_truncated"], true);
    assert_eq!(
        content["size"], 10,
        "the true size when only a prefix was captured"
    );
}

#[test]
fn an_undecodable_body_is_kept_as_sent_and_marked() {
    let mut e = exchange();
    e.response_headers = vec![("content-encoding".to_owned(), "gzip".to_owned())].into();
    e.response_body = Preview {
        bytes: b"not gzip".to_vec(),
        size: 8,
    };
    let content = first_entry(&e)["response"]["content"].clone();
    assert_eq!(content["_encoded"], true);
    assert!(content["_decode_error"].is_string());
    let back = from_har(&to_har(&[e.clone()], "x").to_string()).expect("imports");
    assert_eq!(
        back[0].response_body, e.response_body,
        "not encoded a second time"
    );
}

#[test]
fn an_exchange_without_response_still_has_a_response_object() {
    let mut e = exchange();
    e.status = None;
    e.ttfb_ms = None;
    e.error = Some("client went away".to_owned());
    e.error_side = Some("client".to_owned());
    let entry = first_entry(&e);
    assert_eq!(entry["response"]["status"], 0);
    assert_eq!(entry["response"]["bodySize"], -1);
    assert_eq!(entry["timings"]["wait"], 12.5);
    assert_eq!(entry["_ttfb"], Value::Null);
    assert_eq!(entry["_error"], "client went away");
    let back = from_har(&to_har(&[e], "x").to_string()).expect("imports");
    assert_eq!(back[0].status, None);
    assert_eq!(back[0].ttfb_ms, None);
}

#[test]
fn import_errors_say_what_is_wrong() {
    let err = |text: &str| from_har(text).expect_err("refused").to_string();
    assert!(err("{not json").starts_with("not JSON: "));
    assert_eq!(err("[]"), "not a HAR file: there is no \"log\" object");
    assert_eq!(
        err(r#"{"log": {"version": "1.2"}}"#),
        "not a HAR file: log.entries is missing or not an array"
    );
    let with_entry = |entry: &str| err(&format!(r#"{{"log": {{"entries": [{entry}]}}}}"#));
    assert_eq!(
        with_entry(r#"{"request": {"method": "GET", "url": "http://a.test/"}}"#),
        "log.entries[0] is invalid: startedDateTime is missing or not a string"
    );
    assert!(
        with_entry(r#"{"startedDateTime": "yesterday", "request": {"method": "GET", "url": "http://a.test/"}}"#)
            .starts_with("log.entries[0] is invalid: startedDateTime \"yesterday\" is not an ISO 8601 date-time")
    );
    let started = r#""startedDateTime": "2024-01-01T00:00:00Z""#;
    assert_eq!(
        with_entry(&format!(r#"{{{started}, "request": {{"method": "GET"}}}}"#)),
        "log.entries[0] is invalid: request.url is missing or not a string"
    );
    assert!(
        with_entry(&format!(
            r#"{{{started}, "request": {{"method": "GET", "url": "/relative"}}}}"#
        ))
        .starts_with("log.entries[0] is invalid: request.url \"/relative\" is not a URL")
    );
    assert_eq!(
        with_entry(&format!(
            r#"{{{started}, "request": {{"method": "GET", "url": "data:text/plain,hi"}}}}"#
        )),
        "log.entries[0] is invalid: request.url \"data:text/plain,hi\" is not an http(s) or ws(s) URL"
    );
    assert!(
        with_entry(&format!(
            r#"{{{started}, "request": {{"method": "GET", "url": "http://a.test/"}},
                "response": {{"status": 200, "content": {{"size": 1, "mimeType": "x", "text": "!!", "encoding": "base64"}}}}}}"#
        ))
        .starts_with("log.entries[0] is invalid: response.content.text is marked base64 but is not")
    );
    assert_eq!(
        with_entry(&format!(
            r#"{{{started}, "request": {{"method": "GET", "url": "http://a.test/", "headers": [{{"value": "x"}}]}}}}"#
        )),
        "log.entries[0] is invalid: request.headers is missing or not an array of {name, value} objects"
    );
}

#[test]
fn import_reads_urls_as_written_and_normalises_versions() {
    let har = json!({"log": {"entries": [
        {"startedDateTime": "2024-03-01T10:15:30.5+01:00",
         "request": {"method": "GET", "url": "wss://Chat.Test:8443/a/../socket?x=1#frag", "httpVersion": "h2",
                     "headers": [{"name": ":authority", "value": "Chat.Test:8443"}, {"name": "origin", "value": "https://chat.test:8443"}]},
         "response": {"status": 101, "httpVersion": "http/1.1", "headers": []},
         "timings": {"blocked": 2, "dns": -1, "connect": 3, "ssl": 1, "send": 0.5, "wait": 4, "receive": 0}}
    ]}});
    let e = &from_har(&har.to_string()).expect("imports")[0];
    assert_eq!(e.started_at, 1_709_284_530_500);
    assert_eq!((e.scheme.as_str(), e.host.as_str()), ("https", "Chat.Test"));
    assert_eq!(e.path, "/a/../socket");
    assert_eq!(e.query.as_deref(), Some("x=1"));
    assert_eq!(e.version, "HTTP/2.0");
    assert_eq!(
        e.request_headers.iter().collect::<Vec<_>>(),
        [
            ("host", "Chat.Test:8443"),
            ("origin", "https://chat.test:8443"),
        ]
    );
    assert_eq!(e.ttfb_ms, Some(9.5));
    assert!(e.websocket.is_some());
    assert!(e.imported);
    assert_eq!(e.id, 0);
    for (har, ours) in [
        ("http/1.0", "HTTP/1.0"),
        ("HTTP/2.0", "HTTP/2.0"),
        ("h3", "HTTP/3.0"),
        ("", "HTTP/1.1"),
    ] {
        assert_eq!(http_version(har), ours);
    }
}

#[test]
fn imported_text_goes_back_to_its_charset_and_coding() {
    let har = json!({"log": {"entries": [
        {"startedDateTime": "2024-01-01T00:00:00Z",
         "request": {"method": "POST", "url": "http://a.test/",
                     "headers": [{"name": "content-type", "value": "text/plain; charset=iso-8859-1"}],
                     "postData": {"mimeType": "text/plain; charset=iso-8859-1", "text": "café"}},
         "response": {"status": 200,
                      "headers": [{"name": "Content-Encoding", "value": "br"}, {"name": "content-type", "value": "application/json"}],
                      "content": {"size": 7, "mimeType": "application/json", "text": "{\"a\":1}"}}}
    ]}});
    let e = &from_har(&har.to_string()).expect("imports")[0];
    assert_eq!(e.request_body.bytes, b"caf\xe9");
    let decoded = decode_body(&e.response_body, &e.response_headers.pairs());
    assert_eq!(decoded.text.as_deref(), Some("{\"a\":1}"));
    assert_ne!(
        e.response_body.bytes, b"{\"a\":1}",
        "stored brotli-encoded, as on the wire"
    );
    assert!(!e.response_body.truncated());
}

#[test]
fn a_body_the_har_left_out_keeps_its_size() {
    let har = json!({"log": {"entries": [
        {"startedDateTime": "2024-01-01T00:00:00Z",
         "request": {"method": "GET", "url": "http://a.test/logo.png", "bodySize": 0},
         "response": {"status": 200, "bodySize": 5120, "headersSize": 200,
                      "content": {"size": 5120, "mimeType": "image/png"}}}
    ]}});
    let e = &from_har(&har.to_string()).expect("imports")[0];
    assert_eq!(e.response_body.size, 5120);
    assert!(e.response_body.bytes.is_empty());
    assert_eq!(e.bytes_out, 5320);
}

#[test]
fn chrome_websocket_messages_become_counts() {
    let stats = chrome_websocket(&[
        json!({"type": "send", "time": 1.0, "opcode": 1, "data": "hello"}),
        json!({"type": "receive", "time": 1.1, "opcode": 1, "data": "hi"}),
        json!({"type": "receive", "time": 1.2, "opcode": 2, "data": "AAEC"}),
    ]);
    assert_eq!(
        stats,
        WebSocketStats {
            frames_in: 1,
            frames_out: 2,
            bytes_in: 5,
            bytes_out: 5,
            closed: true
        }
    );
}
