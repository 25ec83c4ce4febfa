use proptest::prelude::*;

use super::*;
use crate::proto::handshake::Headers;
use crate::proto::handshake::http::split_at_points;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The client request of RFC 6455 section 1.2, with `extra` headers.
fn request(extra: &str) -> String {
    format!(
        "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nOrigin: http://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

fn parse(text: &str) -> Result<Option<(Request, Vec<u8>)>, Rejection> {
    ServerHandshake::new(Limits::default()).feed(text.as_bytes())
}

fn parsed(text: &str) -> Request {
    parse(text).unwrap().unwrap().0
}

fn rejected(text: &str) -> Rejection {
    parse(text).unwrap_err()
}

fn header<'a>(rejection: &'a Rejection, name: &str) -> Option<&'a str> {
    rejection
        .headers()
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn parses_a_valid_request() {
    let text = request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    let (req, leftover) = parse(&text).unwrap().unwrap();
    assert!(leftover.is_empty());
    assert_eq!(req.path(), "/chat?room=1");
    assert_eq!(req.path_only(), "/chat");
    assert_eq!(req.query(), Some("room=1"));
    assert_eq!(req.host(), "server.example.com");
    assert_eq!(req.origin(), Some("http://example.com"));
    assert_eq!(req.key(), KEY);
    assert_eq!(req.subprotocols(), ["chat", "superchat"]);
    assert_eq!(
        req.extensions(),
        ["permessage-deflate; client_max_window_bits"]
    );
    assert_eq!(req.headers().get("sec-websocket-version"), Some("13"));
}

#[test]
fn byte_at_a_time_with_frames_following() {
    let frames = [0x81, 0x85, 1, 2, 3, 4, 0x49, 0x67, 0x6f, 0x68, 0x6e];
    let text = [request("").as_bytes(), &frames].concat();
    let mut hs = ServerHandshake::new(Limits::default());
    let mut result = None;
    for (i, b) in text.iter().enumerate() {
        if let Some((req, mut leftover)) = hs.feed(std::slice::from_ref(b)).unwrap() {
            leftover.extend_from_slice(&text[i + 1..]);
            result = Some((req, leftover));
            break;
        }
    }
    let (req, leftover) = result.expect("request completes");
    assert_eq!(req, parsed(&request("")));
    assert_eq!(leftover, frames);
    let (_, leftover) = ServerHandshake::new(Limits::default())
        .feed(&text)
        .unwrap()
        .unwrap();
    assert_eq!(leftover, frames);
    assert_eq!(hs.feed(b"x").unwrap_err().status(), 500);
}

#[test]
fn the_101_response() {
    let req = parsed(&request(
        "Sec-WebSocket-Extensions: permessage-deflate, x-foo\r\n",
    ));
    let accept = Accept {
        subprotocol: Some("chat".into()),
        extensions: vec!["permessage-deflate; server_no_context_takeover".into()],
        headers: vec![("Set-Cookie".into(), "id=1".into())],
    };
    let response = accept_response(&req, &accept).unwrap();
    assert_eq!(
        std::str::from_utf8(&response).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Protocol: chat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\
         Set-Cookie: id=1\r\n\
         \r\n"
    );
    let plain = accept_response(&req, &Accept::default()).unwrap();
    let plain = String::from_utf8(plain).unwrap();
    assert!(
        !plain.contains("Sec-WebSocket-Protocol") && !plain.contains("Sec-WebSocket-Extensions")
    );
}

#[test]
fn the_101_response_refuses_bad_decisions() {
    let req = parsed(&request("Sec-WebSocket-Extensions: x-foo\r\n"));
    let with = |accept: Accept| accept_response(&req, &accept).unwrap_err();
    let sub = |s: &str| Accept {
        subprotocol: Some(s.into()),
        ..Accept::default()
    };
    assert_eq!(
        with(sub("other")),
        HandshakeError::SubprotocolNotOffered("other".into())
    );
    assert_eq!(
        with(sub("chat\r\nX: y")),
        HandshakeError::InvalidSubprotocol("chat\r\nX: y".into())
    );
    let ext = |s: &str| Accept {
        extensions: vec![s.into()],
        ..Accept::default()
    };
    assert_eq!(
        with(ext("permessage-deflate")),
        HandshakeError::ExtensionNotOffered("permessage-deflate".into())
    );
    assert_eq!(
        with(ext("x-foo\r\nX: y")),
        HandshakeError::InvalidExtension("x-foo\r\nX: y".into())
    );
    let hdr = |n: &str, v: &str| Accept {
        headers: vec![(n.into(), v.into())],
        ..Accept::default()
    };
    assert_eq!(
        with(hdr("X-A", "1\r\nX: y")),
        HandshakeError::InvalidHeaderValue("X-A".into())
    );
    assert_eq!(
        with(hdr("X\nA", "1")),
        HandshakeError::InvalidHeaderName("X\nA".into())
    );
    assert_eq!(
        with(hdr("sec-websocket-accept", "x")),
        HandshakeError::ReservedHeader("Sec-WebSocket-Accept".into())
    );
    assert_eq!(
        with(hdr("Connection", "close")),
        HandshakeError::ReservedHeader("Connection".into())
    );
}

#[test]
fn plain_http_request_gets_426() {
    let r = rejected("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: text/html\r\n\r\n");
    assert_eq!(r.status(), 426);
    assert_eq!(header(&r, "Sec-WebSocket-Version"), Some("13"));
    assert_eq!(header(&r, "Upgrade"), Some("websocket"));
    let text = String::from_utf8(r.to_response()).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
    assert!(
        text.contains("\r\nConnection: Upgrade, close\r\n"),
        "{text}"
    );
    let r = rejected(&request("").replace("Upgrade: websocket", "Upgrade: h2c"));
    assert_eq!(r.status(), 426);
}

#[test]
fn a_plain_http_request_is_kept_for_a_server_that_answers_it() {
    let mut hs = ServerHandshake::new(Limits::default());
    let text = "GET /healthz HTTP/1.1\r\nHost: example.com\r\n\r\n";
    assert_eq!(hs.feed(text.as_bytes()).unwrap_err().status(), 426);
    let plain = hs.take_plain_request().expect("the plain request");
    assert_eq!(plain.path, "/healthz");
    assert_eq!(plain.headers.get("Host"), Some("example.com"));
    assert!(hs.take_plain_request().is_none(), "taken once");
    // Any other refusal (here a WebSocket request without a key) keeps nothing.
    let mut hs = ServerHandshake::new(Limits::default());
    let bad = request("").replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    assert_eq!(hs.feed(bad.as_bytes()).unwrap_err().status(), 400);
    assert!(hs.take_plain_request().is_none());
}

#[test]
fn a_response_of_the_server_s_own_has_its_status_type_and_body() {
    let ok = Rejection::response(
        200,
        vec![("Content-Type".into(), "application/json".into())],
        b"{\"ok\":true}".to_vec(),
    )
    .expect("a valid response");
    let text = String::from_utf8(ok.to_response()).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains("\r\nContent-Type: application/json\r\n"),
        "{text}"
    );
    assert!(!text.contains("text/plain"), "{text}");
    assert!(text.contains("\r\nContent-Length: 11\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n{\"ok\":true}"), "{text}");
    let plain = Rejection::response(503, Vec::new(), b"busy".to_vec()).unwrap();
    assert!(
        String::from_utf8(plain.to_response())
            .unwrap()
            .contains("text/plain")
    );
    assert_eq!(
        Rejection::response(101, Vec::new(), Vec::new()).unwrap_err(),
        HandshakeError::InvalidResponseStatus(101)
    );
    assert_eq!(
        Rejection::response(200, vec![("Content-Length".into(), "1".into())], Vec::new())
            .unwrap_err(),
        HandshakeError::ReservedHeader("Content-Length".into())
    );
}

#[test]
fn unsupported_or_missing_version_gets_426() {
    let r = rejected(&request("").replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"));
    assert_eq!(
        (r.status(), header(&r, "Sec-WebSocket-Version")),
        (426, Some("13"))
    );
    assert!(r.reason().contains("\"8\""), "{}", r.reason());
    let r = rejected(&request("").replace("Sec-WebSocket-Version: 13\r\n", ""));
    assert_eq!(
        (r.status(), header(&r, "Sec-WebSocket-Version")),
        (426, Some("13"))
    );
    let r = rejected(&request("Sec-WebSocket-Version: 8\r\n"));
    assert_eq!(
        (r.status(), header(&r, "Sec-WebSocket-Version")),
        (426, Some("13"))
    );
}

#[test]
fn bad_key_gets_400() {
    for key in [
        "",
        "not base64!",
        "dGhlIHNhbXBsZQ==",
        "dGhlIHNhbXBsZSBub25jZSBsb25nZXI=",
    ] {
        let r = rejected(&request("").replace(KEY, key));
        assert_eq!(r.status(), 400, "key {key:?}");
        assert!(r.reason().contains("Sec-WebSocket-Key"), "{}", r.reason());
    }
    let r = rejected(&request("").replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), ""));
    assert_eq!(
        (r.status(), r.reason()),
        (400, "missing Sec-WebSocket-Key header")
    );
    let r = rejected(&request(&format!("Sec-WebSocket-Key: {KEY}\r\n")));
    assert_eq!(r.status(), 400);
}

#[test]
fn other_problems_get_400() {
    let cases = [
        (
            request("").replace("Host: server.example.com\r\n", ""),
            "missing Host",
        ),
        (request("Host: other\r\n"), "more than one Host"),
        (
            request("").replace("Connection: Upgrade", "Connection: keep-alive"),
            "Connection",
        ),
        (
            request("").replace("Connection: Upgrade\r\n", ""),
            "Connection",
        ),
        (
            request("").replace("chat, superchat", "chat superchat"),
            "subprotocol",
        ),
        (request("Content-Length: 5\r\n"), "body"),
        (request("").replace("GET /chat?room=1", "GET chat"), "path"),
        ("GARBAGE\r\n\r\n".to_owned(), "malformed"),
        ("GET / HTTP/x.1\r\n\r\n".to_owned(), "malformed"),
        ("G(T / HTTP/2.0\r\n\r\n".to_owned(), "malformed"),
        (
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n".to_owned(),
            "malformed",
        ),
    ];
    for (text, needle) in cases {
        let r = rejected(&text);
        assert_eq!(r.status(), 400, "{text:?}: {r}");
        assert!(
            r.reason().contains(needle),
            "{:?} lacks {needle:?}",
            r.reason()
        );
    }
}

#[test]
fn oversize_headers_get_431() {
    let limits = Limits {
        max_header_bytes: 512,
        max_headers: 10,
    };
    let long = request(&format!("Cookie: {}\r\n", "a".repeat(600)));
    let r = ServerHandshake::new(limits)
        .feed(long.as_bytes())
        .unwrap_err();
    assert_eq!(r.status(), 431);
    let mut hs = ServerHandshake::new(limits);
    let r = long
        .bytes()
        .find_map(|b| hs.feed(&[b]).err())
        .expect("refused while still arriving");
    assert_eq!(r.status(), 431);
    let endless = ServerHandshake::new(limits)
        .feed(&vec![b'a'; 1 << 20])
        .unwrap_err();
    assert_eq!(endless.status(), 414, "a request line that never ends");
    let many = request("A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n");
    let r = ServerHandshake::new(limits)
        .feed(many.as_bytes())
        .unwrap_err();
    assert_eq!((r.status(), r.reason()), (431, "more than 10 header lines"));
    let default_limit = request(&format!("Cookie: {}\r\n", "a".repeat(8 * 1024)));
    assert_eq!(rejected(&default_limit).status(), 431);
}

#[test]
fn rejection_response_bytes() {
    let r = Rejection::new(401, "login first")
        .and_then(|r| r.with_header("WWW-Authenticate", "Bearer"))
        .unwrap();
    assert_eq!(r.to_string(), "HTTP 401 Unauthorized: login first");
    assert_eq!(
        String::from_utf8(r.to_response()).unwrap(),
        "HTTP/1.1 401 Unauthorized\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 11\r\n\
         Connection: close\r\n\
         WWW-Authenticate: Bearer\r\n\
         \r\n\
         login first"
    );
    let unknown = String::from_utf8(Rejection::new(499, "").unwrap().to_response()).unwrap();
    assert!(unknown.starts_with("HTTP/1.1 499 \r\n"), "{unknown}");
}

/// A refusal is a status 400-599: anything else is an error where the
/// refusal is built, never changed into another status.
#[test]
fn refusal_statuses_are_400_to_599() {
    for status in [400, 404, 499, 500, 599] {
        assert_eq!(Rejection::new(status, "no").unwrap().status(), status);
    }
    for status in [0, 100, 101, 200, 204, 301, 399, 600, 999, u16::MAX] {
        let error = Rejection::new(status, "no").unwrap_err();
        assert_eq!(error, HandshakeError::InvalidRefusalStatus(status));
        assert!(
            error
                .to_string()
                .contains(&format!("refusal status {status} is not in 400-599")),
            "{error}"
        );
    }
}

/// A refusal's bad header is an error, and nothing is added.
#[test]
fn refusal_headers_are_checked_not_dropped() {
    let mut r = Rejection::new(401, "login first").unwrap();
    let cases = [
        (
            "X Bad",
            "1",
            HandshakeError::InvalidHeaderName("X Bad".into()),
        ),
        ("", "1", HandshakeError::InvalidHeaderName(String::new())),
        (
            "X-Evil",
            "a\r\nInjected: yes",
            HandshakeError::InvalidHeaderValue("X-Evil".into()),
        ),
        (
            "X-Nul",
            "a\0",
            HandshakeError::InvalidHeaderValue("X-Nul".into()),
        ),
        (
            "content-length",
            "0",
            HandshakeError::ReservedHeader("Content-Length".into()),
        ),
    ];
    for (name, value, expected) in cases {
        assert_eq!(r.add_header(name, value), Err(expected));
    }
    assert!(r.headers().is_empty());
    assert_eq!(
        HandshakeError::InvalidHeaderName("X Bad".into()).to_string(),
        "header name \"X Bad\" is not an HTTP token (only letters, digits and !#$%&'*+-.^_`|~)"
    );
    r.add_header("WWW-Authenticate", "Basic").unwrap();
    assert_eq!(
        r.headers(),
        [("WWW-Authenticate".to_owned(), "Basic".to_owned())]
    );
}

fn with_origin(origin: Option<&str>) -> Request {
    let mut headers = vec![("Host".to_owned(), "h".to_owned())];
    headers.extend(origin.map(|o| ("Origin".to_owned(), o.to_owned())));
    Request {
        path: "/".into(),
        headers: Headers(headers),
    }
}

#[test]
fn origin_policy() {
    let allowed = vec![
        "https://Example.com".to_owned(),
        "http://localhost:8080".to_owned(),
    ];
    let check = |origin: Option<&str>| check_origin(&with_origin(origin), &allowed);
    assert_eq!(check(Some("https://example.com")), Ok(()));
    assert_eq!(check(Some("HTTPS://EXAMPLE.COM")), Ok(()));
    assert_eq!(check(Some("https://example.com:443")), Ok(()));
    assert_eq!(check(Some("http://localhost:8080")), Ok(()));
    for refused in [
        "https://evil.com",
        "http://example.com",
        "https://example.com:8443",
        "null",
        "http://localhost",
    ] {
        let r = check(Some(refused)).unwrap_err();
        assert_eq!(r.status(), 403, "{refused}");
        assert!(r.reason().contains(refused), "{}", r.reason());
    }
    assert_eq!(
        check(None).unwrap_err(),
        Rejection::new(403, "missing Origin header").unwrap()
    );
    assert_eq!(
        check_origin(&with_origin(Some("null")), &["null".to_owned()]),
        Ok(())
    );
}

#[test]
fn subprotocol_selection_follows_the_server() {
    assert_eq!(
        select_subprotocol(&["a", "b", "c"], &["c", "b"]),
        Some("c".to_owned())
    );
    assert_eq!(select_subprotocol(&["a"], &["b"]), None);
    assert_eq!(
        select_subprotocol::<&str, String>(&[], &["b".to_owned()]),
        None
    );
    assert_eq!(select_subprotocol(&["A"], &["a"]), None);
    let req = parsed(&request(""));
    assert_eq!(
        select_subprotocol(&req.subprotocols(), &["superchat", "chat"]),
        Some("superchat".to_owned())
    );
}

fn outcome(chunks: &[&[u8]]) -> Result<Option<(Request, Vec<u8>)>, Rejection> {
    let mut hs = ServerHandshake::new(Limits {
        max_header_bytes: 400,
        max_headers: 12,
    });
    for (i, chunk) in chunks.iter().enumerate() {
        if let Some((req, mut leftover)) = hs.feed(chunk)? {
            chunks[i + 1..]
                .iter()
                .for_each(|c| leftover.extend_from_slice(c));
            return Ok(Some((req, leftover)));
        }
    }
    Ok(None)
}

proptest! {
    #[test]
    fn any_split_gives_the_same_result(points in proptest::collection::vec(0usize..2_000, 0..12), which in 0usize..4) {
        let texts = [
            [request("").as_bytes(), b"\x81\x80abcd"].concat(),
            request("").replace("13", "12").into_bytes(),
            request(&format!("X: {}\r\n", "y".repeat(200))).into_bytes(),
            request("").replace("HTTP/1.1", "HTTP/1.0").into_bytes(),
        ];
        let text = &texts[which];
        let chunks = split_at_points(text, &points);
        prop_assert_eq!(outcome(&chunks), outcome(&[text]));
    }
}

#[test]
fn a_method_other_than_get_gets_405_with_allow() {
    for method in ["POST", "PUT", "HEAD", "OPTIONS", "DELETE"] {
        let r = rejected(&request("").replacen("GET", method, 1));
        assert_eq!(r.status(), 405, "{method}: {r}");
        assert_eq!(header(&r, "Allow"), Some("GET"));
        assert!(r.reason().contains(&format!("method {method}")), "{r}");
        let bytes = String::from_utf8(r.to_response()).unwrap();
        assert!(
            bytes.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{bytes}"
        );
        assert!(bytes.contains("\r\nAllow: GET\r\n"), "{bytes}");
    }
}

#[test]
fn another_http_version_gets_505() {
    for version in ["HTTP/1.0", "HTTP/2.0", "HTTP/2", "HTTP/3", "HTTP/0.9"] {
        let text = request("").replacen("HTTP/1.1", version, 1);
        let r = rejected(&text);
        assert_eq!(r.status(), 505, "{version}: {r}");
        assert!(r.reason().contains("HTTP/1.1"), "{r}");
        let bytes = String::from_utf8(r.to_response()).unwrap();
        assert!(bytes.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"));
    }
    // The HTTP/2 connection preface (prior knowledge).
    let r = rejected("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert_eq!(r.status(), 505, "{r}");
}

#[test]
fn a_request_target_too_long_gets_414_and_headers_too_large_431() {
    let limits = Limits {
        max_header_bytes: 512,
        max_headers: 10,
    };
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(600));
    let r = ServerHandshake::new(limits)
        .feed(long_target.as_bytes())
        .unwrap_err();
    assert_eq!(r.status(), 414, "{r}");
    assert!(
        r.to_response()
            .starts_with(b"HTTP/1.1 414 URI Too Long\r\n")
    );
    // Byte at a time: refused as soon as the limit passes.
    let mut hs = ServerHandshake::new(limits);
    let r = long_target
        .bytes()
        .find_map(|b| hs.feed(&[b]).err())
        .expect("refused while still arriving");
    assert_eq!(r.status(), 414);
    // A short request line with a long header is 431, not 414.
    let long_header = request(&format!("Cookie: {}\r\n", "a".repeat(600)));
    let r = ServerHandshake::new(limits)
        .feed(long_header.as_bytes())
        .unwrap_err();
    assert_eq!(r.status(), 431);
    // The default limit (8 KiB) too.
    let default_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
    assert_eq!(rejected(&default_target).status(), 414);
}

#[test]
fn every_malformed_request_gets_its_status() {
    let cases: [(String, u16); 6] = [
        ("GARBAGE\r\n\r\n".into(), 400),
        (request("").replacen("GET", "POST", 1), 405),
        (format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000)), 414),
        (request(&format!("X: {}\r\n", "a".repeat(9000))), 431),
        (request("").replacen("HTTP/1.1", "HTTP/1.0", 1), 505),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nAccept: text/html\r\n\r\n".into(),
            426,
        ),
    ];
    for (text, status) in cases {
        let r = rejected(&text);
        assert_eq!(r.status(), status, "{r}");
        let line = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
        assert!(r.to_response().starts_with(line.as_bytes()));
    }
}
