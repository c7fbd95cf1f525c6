use std::io::Write;
use std::process::{Command, Stdio};

use super::*;
use crate::inspect::event::{Preview, WebSocketStats};

fn exchange(method: &str, host_header: &str, path: &str, query: Option<&str>) -> Exchange {
    let host = host_header
        .rsplit_once(':')
        .map_or(host_header, |(h, _)| h)
        .to_owned();
    Exchange {
        id: 7,
        started_at: 1_700_000_000_000,
        method: method.to_owned(),
        scheme: "http".to_owned(),
        host,
        path: path.to_owned(),
        query: query.map(str::to_owned),
        version: "HTTP/1.1".to_owned(),
        client: "127.0.0.1:50000".to_owned(),
        route_id: None,
        route: None,
        upstream: None,
        status: Some(200),
        duration_ms: 1.0,
        ttfb_ms: Some(1.0),
        bytes_in: 0,
        bytes_out: 0,
        error: None,
        error_side: None,
        error_code: None,
        request_headers: vec![
            ("host".to_owned(), host_header.to_owned()),
            ("user-agent".to_owned(), "test/1".to_owned()),
            ("accept".to_owned(), "*/*".to_owned()),
        ]
        .into(),
        response_headers: Default::default(),
        request_body: Preview::default(),
        response_body: Preview::default(),
        websocket: None,
        replay_of: None,
        imported: false,
        cache: None,
        compression: None,
    }
}

fn with_body(mut e: Exchange, content_type: Option<&str>, bytes: &[u8]) -> Exchange {
    if let Some(ct) = content_type {
        e.request_headers.push("content-type", ct);
    }
    e.request_headers
        .push("content-length", &bytes.len().to_string());
    e.request_body = Preview {
        bytes: bytes.to_vec(),
        size: bytes.len() as u64,
    };
    e
}

/// What the shell hands to `curl` when it runs `command`: curl's arguments and its stdin.
/// `curl` is replaced by a shell function that prints them, so no network is involved.
fn as_shell_sees_it(shell: &str, command: &str) -> (Vec<String>, Vec<u8>) {
    let script = format!(
        "curl() {{ printf '%s\\0' \"$#\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done; cat; }}\n{command}"
    );
    let out = Command::new(shell)
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .expect("run the shell");
    assert!(
        out.status.success(),
        "{shell} failed on:\n{command}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rest = out.stdout.as_slice();
    let mut next = || {
        let end = rest
            .iter()
            .position(|b| *b == 0)
            .expect("a NUL-terminated word");
        let word = String::from_utf8(rest[..end].to_vec()).expect("UTF-8 argument");
        rest = &rest[end + 1..];
        word
    };
    let count: usize = next().parse().expect("argument count");
    let args = (0..count).map(|_| next()).collect();
    (args, rest.to_vec())
}

/// The shells a pasted command meets: bash, and POSIX `sh` (dash on Debian).
fn shells() -> Vec<&'static str> {
    ["bash", "sh"]
        .into_iter()
        .filter(|s| Command::new(s).arg("-c").arg("true").status().is_ok())
        .collect()
}

fn args_of(command: &str) -> Vec<String> {
    as_shell_sees_it("bash", command).0
}

#[test]
fn a_get_is_the_url_and_its_headers() {
    let e = exchange(
        "GET",
        "app.localhost:8080",
        "/users",
        Some("page=2&sort=name"),
    );
    assert_eq!(
        curl_command(&e, None),
        "curl 'http://app.localhost:8080/users?page=2&sort=name' \\\n  -H 'user-agent: test/1' \\\n  -H 'accept: */*'\n"
    );
}

#[test]
fn a_json_post_sends_its_body_inline() {
    let body = br#"{"name":"O'Brien","cost":"$5"}"#;
    let e = with_body(
        exchange("POST", "app.localhost", "/api", None),
        Some("application/json"),
        body,
    );
    let cmd = curl_command(&e, None);
    assert_eq!(
        cmd,
        "curl -X POST http://app.localhost/api \\\n  -H 'user-agent: test/1' \\\n  -H 'accept: */*' \\\n  -H 'content-type: application/json' \\\n  --data-binary '{\"name\":\"O'\\''Brien\",\"cost\":\"$5\"}'\n"
    );
    let args = args_of(&cmd);
    assert_eq!(args.last().map(String::as_bytes), Some(&body[..]));
}

#[test]
fn header_values_reach_curl_exactly_whatever_they_hold() {
    let nasty = [
        "it's",
        "say \"hi\"",
        "$HOME ${PATH} $(id)",
        "`id`",
        "back\\slash \\' \\\\",
        "!event *glob? ~tilde ;& | > <",
        "'",
        "''''",
        "ünïcødé ✓",
        "   leading spaces",
    ];
    let mut e = exchange("GET", "app.localhost", "/", None);
    for (i, v) in nasty.iter().enumerate() {
        e.request_headers.push(&format!("x-test-{i}"), v);
    }
    let cmd = curl_command(&e, None);
    for shell in shells() {
        let (args, _) = as_shell_sees_it(shell, &cmd);
        for (i, v) in nasty.iter().enumerate() {
            let expected = format!("x-test-{i}: {v}");
            assert!(
                args.contains(&expected),
                "{shell}: {expected:?} not in {args:?}"
            );
        }
    }
}

#[test]
fn text_bodies_with_shell_syntax_and_newlines_reach_curl_exactly() {
    let body = "line 1\n'quoted' \"double\" $VAR `cmd` $(cmd) \\ \\n\n\tindented\n\n";
    let e = with_body(
        exchange("PUT", "app.localhost", "/doc", None),
        Some("text/plain"),
        body.as_bytes(),
    );
    let cmd = curl_command(&e, None);
    assert!(cmd.contains("--data-binary '"), "inline: {cmd}");
    for shell in shells() {
        let (args, stdin) = as_shell_sees_it(shell, &cmd);
        assert_eq!(args.last().map(String::as_str), Some(body), "{shell}");
        assert!(stdin.is_empty());
    }
}

#[test]
fn binary_bodies_are_piped_through_printf_byte_for_byte() {
    let mut body: Vec<u8> = (0..=255u8).collect();
    body.extend_from_slice(b"\0\0%s%%\\\\'0123\n\r\x1b[0m");
    let e = with_body(
        exchange("POST", "app.localhost", "/upload", None),
        Some("application/octet-stream"),
        &body,
    );
    let cmd = curl_command(&e, None);
    assert!(cmd.starts_with("printf '"), "{cmd}");
    for shell in shells() {
        let (args, stdin) = as_shell_sees_it(shell, &cmd);
        assert_eq!(args.last().map(String::as_str), Some("@-"), "{shell}");
        assert_eq!(stdin, body, "{shell}: the piped bytes differ");
    }
}

#[test]
fn printf_format_escapes_exactly_what_printf_interprets() {
    assert_eq!(
        printf_format(b"a%\\'\n\t\0\xff1\r "),
        "a%%\\\\\\047\\n\\t\\000\\3771\\015 "
    );
}

#[test]
fn a_body_starting_with_at_is_not_read_as_a_file_name() {
    let e = with_body(
        exchange("POST", "app.localhost", "/", None),
        Some("text/plain"),
        b"@/etc/passwd",
    );
    let cmd = curl_command(&e, None);
    let (args, stdin) = as_shell_sees_it("bash", &cmd);
    assert_eq!(args.last().map(String::as_str), Some("@-"));
    assert_eq!(stdin, b"@/etc/passwd");
}

#[test]
fn text_with_control_characters_is_piped_rather_than_pasted() {
    let e = with_body(
        exchange("POST", "app.localhost", "/", None),
        Some("text/plain"),
        b"crlf\r\nline",
    );
    let cmd = curl_command(&e, None);
    let (_, stdin) = as_shell_sees_it("bash", &cmd);
    assert_eq!(stdin, b"crlf\r\nline");
}

#[test]
fn a_header_curl_cannot_send_is_left_out_with_a_comment() {
    let mut e = exchange("GET", "app.localhost", "/", None);
    e.request_headers.push("x-nul", "a\0b");
    e.request_headers.push("bad name", "v");
    e.request_headers.push("x-after", "kept");
    let cmd = curl_command(&e, None);
    assert!(cmd.starts_with(
        "# header x-nul left out: its value contains a line break or NUL, which HTTP does not allow\n# header bad name left out: not a valid header name\n"
    ), "{cmd}");
    let args = args_of(&cmd);
    assert!(!args.iter().any(|a| a.contains("x-nul")), "{args:?}");
    assert!(args.contains(&"x-after: kept".to_owned()));
}

#[test]
fn a_line_break_in_a_captured_value_cannot_inject_a_header() {
    // Captured headers keep no line break (a HAR file may hold one): it becomes a space, so
    // the value stays one header.
    let mut e = exchange("GET", "app.localhost", "/", None);
    e.request_headers.push("x-injected", "a\r\nx-evil: 1");
    let args = args_of(&curl_command(&e, None));
    assert!(
        args.contains(&"x-injected: a  x-evil: 1".to_owned()),
        "{args:?}"
    );
    assert!(!args.iter().any(|a| a.starts_with("x-evil")), "{args:?}");
}

#[test]
fn an_empty_header_is_sent_empty_not_removed() {
    let mut e = exchange("GET", "app.localhost", "/", None);
    e.request_headers.push("x-empty", "");
    let args = args_of(&curl_command(&e, None));
    assert!(args.contains(&"x-empty;".to_owned()), "{args:?}");
}

#[test]
fn headers_curl_computes_are_left_to_curl() {
    let mut e = with_body(
        exchange("POST", "app.localhost:8080", "/", None),
        Some("text/plain"),
        b"hi",
    );
    for (n, v) in [
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("TE", "trailers"),
        (":authority", "app.localhost:8080"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ] {
        e.request_headers.push(n, v);
    }
    let cmd = curl_command(&e, None);
    let args = args_of(&cmd);
    let headers: Vec<&String> = args
        .iter()
        .zip(args.iter().skip(1))
        .filter(|(flag, _)| *flag == "-H")
        .map(|(_, h)| h)
        .collect();
    assert_eq!(
        headers,
        [
            "user-agent: test/1",
            "accept: */*",
            "content-type: text/plain"
        ]
    );
    assert!(args.contains(&"--compressed".to_owned()));
}

#[test]
fn accept_encoding_identity_is_sent_as_is() {
    let mut e = exchange("GET", "app.localhost", "/", None);
    e.request_headers.push("accept-encoding", "identity");
    let cmd = curl_command(&e, None);
    assert!(cmd.contains("-H 'accept-encoding: identity'"), "{cmd}");
    assert!(!cmd.contains("--compressed"));
}

#[test]
fn methods_keep_their_case() {
    let cmd = curl_command(&exchange("get", "app.localhost", "/", None), None);
    assert!(cmd.starts_with("curl -X get "), "{cmd}");
    let cmd = curl_command(&exchange("PURGE", "app.localhost", "/", None), None);
    assert!(cmd.starts_with("curl -X PURGE "), "{cmd}");
}

#[test]
fn a_host_header_unlike_the_url_is_kept() {
    let mut e = exchange("GET", "app.localhost:8080", "/", None);
    e.request_headers
        .map_values(|n, _| (n == "host").then(|| "APP.localhost:8080".to_owned()));
    assert!(!curl_command(&e, None).contains("-H 'host"));
    e.host = "other.localhost".to_owned();
    assert!(curl_command(&e, None).contains("-H 'host: APP.localhost:8080'"));
}

#[test]
fn defaults_curl_would_add_are_removed_when_the_original_lacked_them() {
    let mut e = with_body(exchange("POST", "app.localhost", "/", None), None, b"x=1");
    e.request_headers = e
        .request_headers
        .iter()
        .filter(|(n, _)| *n != "user-agent" && *n != "accept")
        .collect();
    let args = args_of(&curl_command(&e, None));
    for removed in ["user-agent:", "accept:", "content-type:"] {
        assert!(args.contains(&removed.to_owned()), "{removed} in {args:?}");
    }
    let big = with_body(
        exchange("POST", "app.localhost", "/", None),
        Some("text/plain"),
        &[b'a'; 2000],
    );
    assert!(args_of(&curl_command(&big, None)).contains(&"expect:".to_owned()));
}

#[test]
fn methods_map_to_curl_options() {
    let cmd = curl_command(&exchange("HEAD", "app.localhost", "/", None), None);
    assert!(
        cmd.starts_with("curl --head http://app.localhost/ "),
        "{cmd}"
    );
    let cmd = curl_command(&exchange("DELETE", "app.localhost", "/x", None), None);
    assert!(
        cmd.starts_with("curl -X DELETE http://app.localhost/x "),
        "{cmd}"
    );
    let get_with_body = with_body(
        exchange("GET", "app.localhost", "/search", None),
        Some("application/json"),
        b"{}",
    );
    let cmd = curl_command(&get_with_body, None);
    assert!(cmd.starts_with("curl -X GET "), "{cmd}");
    let head_with_body = with_body(exchange("HEAD", "app.localhost", "/", None), None, b"x");
    let cmd = curl_command(&head_with_body, None);
    assert!(
        cmd.starts_with("# the HEAD request's body is left out"),
        "{cmd}"
    );
    assert!(!cmd.contains("--data-binary"));
}

#[test]
fn protocol_versions_and_https_trust() {
    let mut e = exchange("GET", "app.localhost:8443", "/", None);
    e.scheme = "https".to_owned();
    e.version = "HTTP/2.0".to_owned();
    let cmd = curl_command(&e, Some(Path::new("/data dir/ca/root.pem")));
    assert!(
        cmd.starts_with(
            "curl --http2 https://app.localhost:8443/ \\\n  --cacert '/data dir/ca/root.pem' \\\n"
        ),
        "{cmd}"
    );
    let cmd = curl_command(&e, None);
    assert!(
        cmd.starts_with(
            "# curl must trust Portico's CA: add --cacert <data-dir>/ca/root.pem\ncurl --http2 "
        ),
        "{cmd}"
    );
    e.scheme = "http".to_owned();
    assert!(curl_command(&e, None).starts_with("curl --http2-prior-knowledge "));
    e.version = "HTTP/1.0".to_owned();
    assert!(curl_command(&e, None).starts_with("curl --http1.0 "));
    e.version = "HTTP/1.1".to_owned();
    assert!(curl_command(&e, None).starts_with("curl http://"));
}

#[test]
fn names_that_do_not_resolve_are_pinned_to_loopback() {
    let cmd = curl_command(&exchange("GET", "app.test:8080", "/", None), None);
    assert!(cmd.contains("--resolve app.test:8080:127.0.0.1"), "{cmd}");
    let mut e = exchange("GET", "api.internal", "/", None);
    e.scheme = "https".to_owned();
    assert!(curl_command(&e, None).contains("--resolve api.internal:443:127.0.0.1"));
    let cmd = curl_command(&exchange("GET", "nas.home.arpa", "/", None), None);
    assert!(cmd.contains("--resolve nas.home.arpa:80:127.0.0.1"));

    for host in ["app.localhost:8080", "localhost:3000", "127.0.0.1:8080"] {
        let cmd = curl_command(&exchange("GET", host, "/", None), None);
        assert!(!cmd.contains("--resolve"), "{host}: {cmd}");
    }
    // A request to a real name went through Portico when captured, but not when imported.
    let mut e = exchange("GET", "example.com", "/", None);
    assert!(curl_command(&e, None).contains("--resolve example.com:80:127.0.0.1"));
    e.imported = true;
    assert!(!curl_command(&e, None).contains("--resolve"));
    e.host = "app.test".to_owned();
    assert!(curl_command(&e, None).contains("--resolve"));
}

#[test]
fn ipv6_hosts_are_bracketed_and_globbing_is_off() {
    let mut e = exchange("GET", "[::1]:8080", "/", None);
    e.host = "::1".to_owned();
    let cmd = curl_command(&e, None);
    assert!(
        cmd.starts_with("curl --globoff 'http://[::1]:8080/'"),
        "{cmd}"
    );
    let cmd = curl_command(
        &exchange("GET", "app.localhost", "/a", Some("ids[]=1&q={x}")),
        None,
    );
    assert!(
        cmd.starts_with("curl --globoff 'http://app.localhost/a?ids[]=1&q={x}'"),
        "{cmd}"
    );
    let cmd = curl_command(&exchange("GET", "app.localhost", "/a/../b", None), None);
    assert!(
        cmd.starts_with("curl --path-as-is http://app.localhost/a/../b"),
        "{cmd}"
    );
}

#[test]
fn missing_body_bytes_are_announced() {
    let body: Vec<u8> = b"{\"a\":\"".iter().copied().chain([b'x'; 100]).collect();
    let mut e = with_body(
        exchange("POST", "app.localhost", "/", None),
        Some("application/json"),
        &body,
    );
    e.request_body.size = 5000;
    let cmd = curl_command(&e, None);
    assert!(
        cmd.starts_with("# warning: the captured request body is incomplete: this sends its first 106 of 5000 bytes\n"),
        "{cmd}"
    );
    e.request_body.bytes.clear();
    let cmd = curl_command(&e, None);
    assert!(
        cmd.starts_with("# warning: the request body (5000 bytes) was not captured"),
        "{cmd}"
    );
}

#[test]
fn a_websocket_upgrade_is_noted() {
    let mut e = exchange("GET", "app.localhost", "/ws", None);
    e.request_headers.push("upgrade", "websocket");
    e.request_headers.push("connection", "Upgrade");
    e.websocket = Some(WebSocketStats::default());
    let cmd = curl_command(&e, None);
    assert!(
        cmd.starts_with("# this request upgraded its connection (WebSocket)"),
        "{cmd}"
    );
    assert!(!cmd.contains("upgrade: websocket"));
}

#[test]
fn quote_leaves_plain_words_bare_and_wraps_the_rest() {
    assert_eq!(quote("abc-1.2/x:y@z%+,="), "abc-1.2/x:y@z%+,=");
    assert_eq!(quote(""), "''");
    assert_eq!(quote("it's"), r"'it'\''s'");
    assert_eq!(quote("=cmd"), "'=cmd'");
    assert_eq!(quote("a b"), "'a b'");
    assert_eq!(quote("~"), "'~'");
    assert_eq!(quote("a\nb"), "'a\nb'");
}

#[test]
fn every_command_is_valid_shell_syntax() {
    let mut e = with_body(
        exchange("PATCH", "app.test:9000", "/p", Some("a='1'")),
        Some("application/json"),
        b"{\"x\":\"'\"}",
    );
    e.request_headers.push("x-bad", "a\nb");
    e.scheme = "https".to_owned();
    e.request_body.size = 99;
    let cmd = curl_command(&e, None);
    let mut child = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .expect("bash");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(cmd.as_bytes())
        .expect("write");
    assert!(child.wait().expect("bash -n").success(), "{cmd}");
}
