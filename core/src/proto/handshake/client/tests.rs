use proptest::prelude::*;

use super::*;
use crate::proto::handshake::http::split_at_points;

/// The nonce of RFC 6455 section 1.3: "the sample nonce".
const NONCE: [u8; 16] = *b"the sample nonce";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn url(s: &str) -> WsUrl {
    WsUrl::parse(s).unwrap()
}

fn handshake(options: &ClientOptions) -> ClientHandshake {
    ClientHandshake::with_nonce(&url("ws://server.example.com/chat"), options, NONCE).unwrap()
}

fn offering() -> ClientOptions {
    ClientOptions {
        subprotocols: vec!["chat".into(), "superchat".into()],
        extensions: vec![
            "permessage-deflate; client_max_window_bits".into(),
            "x-webkit-foo".into(),
        ],
        ..ClientOptions::default()
    }
}

fn response(extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
    )
}

fn feed_all(hs: &mut ClientHandshake, data: &[u8]) -> Result<Option<Accepted>, HandshakeError> {
    hs.feed(data)
}

fn feed_bytewise(
    hs: &mut ClientHandshake,
    data: &[u8],
) -> Result<Option<Accepted>, HandshakeError> {
    for (i, b) in data.iter().enumerate() {
        if let Some(done) = hs.feed(std::slice::from_ref(b))? {
            let mut done = done;
            done.leftover.extend_from_slice(&data[i + 1..]);
            return Ok(Some(done));
        }
    }
    Ok(None)
}

fn fail(options: &ClientOptions, response: &str) -> HandshakeError {
    handshake(options).feed(response.as_bytes()).unwrap_err()
}

#[test]
fn request_bytes() {
    let options = ClientOptions {
        origin: Some("http://example.com".into()),
        headers: vec![
            ("Authorization".into(), "Bearer t0ken".into()),
            ("Cookie".into(), "a=1; b=2".into()),
        ],
        ..offering()
    };
    let hs = handshake(&options);
    assert_eq!(hs.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(
        std::str::from_utf8(hs.request()).unwrap(),
        "GET /chat HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: http://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-webkit-foo\r\n\
         Authorization: Bearer t0ken\r\n\
         Cookie: a=1; b=2\r\n\
         \r\n"
    );
}

#[test]
fn minimal_request_ipv6_port_query() {
    let hs = ClientHandshake::with_nonce(
        &url("ws://[::1]:9001/a?b=c"),
        &ClientOptions::default(),
        NONCE,
    )
    .unwrap();
    let text = std::str::from_utf8(hs.request()).unwrap();
    assert!(
        text.starts_with("GET /a?b=c HTTP/1.1\r\nHost: [::1]:9001\r\n"),
        "{text}"
    );
    assert!(!text.contains("Origin"));
    assert!(!text.contains("Sec-WebSocket-Protocol"));
    assert!(!text.contains("Sec-WebSocket-Extensions"));
}

#[test]
fn host_header_may_be_replaced_once() {
    let options = ClientOptions {
        headers: vec![("host".into(), "virtual.example".into())],
        ..Default::default()
    };
    let text = String::from_utf8(handshake(&options).request().to_vec()).unwrap();
    assert_eq!(text.matches("ost: ").count(), 1, "{text}");
    assert!(text.contains("Host: virtual.example\r\n"));
    let twice = ClientOptions {
        headers: vec![("Host".into(), "a".into()), ("Host".into(), "b".into())],
        ..Default::default()
    };
    let err = ClientHandshake::new(&url("ws://h/"), &twice).unwrap_err();
    assert_eq!(err, HandshakeError::DuplicateHeader("Host".into()));
}

#[test]
fn fresh_random_keys() {
    let u = url("ws://h/");
    let a = ClientHandshake::new(&u, &ClientOptions::default()).unwrap();
    let b = ClientHandshake::new(&u, &ClientOptions::default()).unwrap();
    assert_ne!(a.key(), b.key());
    assert_eq!(BASE64.decode(a.key()).unwrap().len(), 16);
    let needle = format!("Sec-WebSocket-Key: {}\r\n", a.key());
    assert!(String::from_utf8_lossy(a.request()).contains(&needle));
}

#[test]
fn header_injection_is_refused() {
    let with_header = |name: &str, value: &str| {
        let options = ClientOptions {
            headers: vec![(name.into(), value.into())],
            ..Default::default()
        };
        ClientHandshake::new(&url("ws://h/"), &options).unwrap_err()
    };
    assert_eq!(
        with_header("X-A", "1\r\nEvil: yes"),
        HandshakeError::InvalidHeaderValue("X-A".into())
    );
    assert_eq!(
        with_header("X-A", "1\nEvil: yes"),
        HandshakeError::InvalidHeaderValue("X-A".into())
    );
    assert_eq!(
        with_header("X-A", "1\0"),
        HandshakeError::InvalidHeaderValue("X-A".into())
    );
    assert_eq!(
        with_header("X-A\r\nEvil", "1"),
        HandshakeError::InvalidHeaderName("X-A\r\nEvil".into())
    );
    assert_eq!(
        with_header("X A", "1"),
        HandshakeError::InvalidHeaderName("X A".into())
    );
    assert_eq!(
        with_header("X:A", "1"),
        HandshakeError::InvalidHeaderName("X:A".into())
    );
    assert_eq!(
        with_header("", "1"),
        HandshakeError::InvalidHeaderName(String::new())
    );
    assert_eq!(
        with_header("sec-websocket-key", "AAAA"),
        HandshakeError::ReservedHeader("Sec-WebSocket-Key".into())
    );
    assert_eq!(
        with_header("Upgrade", "h2c"),
        HandshakeError::ReservedHeader("Upgrade".into())
    );
    assert_eq!(
        with_header("Sec-WebSocket-Version", "8"),
        HandshakeError::ReservedHeader("Sec-WebSocket-Version".into())
    );
    assert_eq!(
        with_header("Origin", "x"),
        HandshakeError::ReservedHeader("Origin".into())
    );
    assert!(with_header("X-A", "1\r\n").to_string().contains("CR, LF"));

    let origin = ClientOptions {
        origin: Some("http://a\r\nX: y".into()),
        ..Default::default()
    };
    let err = ClientHandshake::new(&url("ws://h/"), &origin).unwrap_err();
    assert_eq!(err, HandshakeError::InvalidHeaderValue("Origin".into()));
}

#[test]
fn bad_subprotocols_and_extensions_are_refused() {
    let with = |subprotocols: &[&str], extensions: &[&str]| {
        let options = ClientOptions {
            subprotocols: subprotocols.iter().map(|s| s.to_string()).collect(),
            extensions: extensions.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        ClientHandshake::new(&url("ws://h/"), &options).err()
    };
    assert_eq!(
        with(&["a b"], &[]),
        Some(HandshakeError::InvalidSubprotocol("a b".into()))
    );
    assert_eq!(
        with(&["a,b"], &[]),
        Some(HandshakeError::InvalidSubprotocol("a,b".into()))
    );
    assert_eq!(
        with(&[""], &[]),
        Some(HandshakeError::InvalidSubprotocol("".into()))
    );
    assert_eq!(
        with(&["x\r\n"], &[]),
        Some(HandshakeError::InvalidSubprotocol("x\r\n".into()))
    );
    assert_eq!(
        with(&["a", "a"], &[]),
        Some(HandshakeError::DuplicateSubprotocol("a".into()))
    );
    assert_eq!(
        with(&[], &["bad name; x"]),
        Some(HandshakeError::InvalidExtension("bad name; x".into()))
    );
    assert_eq!(
        with(&[], &["a, b"]),
        Some(HandshakeError::InvalidExtension("a, b".into()))
    );
    assert_eq!(
        with(&[], &["a; x=\r\n"]),
        Some(HandshakeError::InvalidExtension("a; x=\r\n".into()))
    );
    assert_eq!(
        with(&[], &[""]),
        Some(HandshakeError::InvalidExtension("".into()))
    );
    assert_eq!(
        with(
            &["chat.v2", "json+x"],
            &["permessage-deflate; server_no_context_takeover"]
        ),
        None
    );
}

#[test]
fn hand_made_url_cannot_inject() {
    let bad = WsUrl {
        secure: false,
        host: "h".into(),
        port: 80,
        resource: "/ HTTP/1.1\r\nX: y".into(),
    };
    assert!(matches!(
        ClientHandshake::new(&bad, &ClientOptions::default()),
        Err(HandshakeError::InvalidUrl(_))
    ));
    let bad = WsUrl {
        secure: false,
        host: "h\r\nX: y".into(),
        port: 80,
        resource: "/".into(),
    };
    assert!(matches!(
        ClientHandshake::new(&bad, &ClientOptions::default()),
        Err(HandshakeError::InvalidUrl(_))
    ));
    let bad = WsUrl {
        secure: false,
        host: "h".into(),
        port: 80,
        resource: "relative".into(),
    };
    assert!(matches!(
        ClientHandshake::new(&bad, &ClientOptions::default()),
        Err(HandshakeError::InvalidUrl(_))
    ));
}

#[test]
fn accepts_a_valid_response() {
    let mut hs = handshake(&offering());
    let text = response(
        "Sec-WebSocket-Protocol: superchat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\nSet-Cookie: s=1\r\n",
    );
    let accepted = hs.feed(text.as_bytes()).unwrap().unwrap();
    assert_eq!(accepted.subprotocol.as_deref(), Some("superchat"));
    assert_eq!(
        accepted.extensions,
        ["permessage-deflate; client_max_window_bits=10"]
    );
    assert!(accepted.leftover.is_empty());
    assert_eq!(accepted.response.status, 101);
    assert_eq!(accepted.response.reason, "Switching Protocols");
    assert_eq!(accepted.response.headers.get("set-cookie"), Some("s=1"));
    assert_eq!(hs.feed(b"more"), Err(HandshakeError::Finished));
}

#[test]
fn tolerant_of_case_and_lists() {
    let mut hs = handshake(&ClientOptions::default());
    let text = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n\
         sec-websocket-accept: {ACCEPT}\r\n\r\n"
    );
    let accepted = hs.feed(text.as_bytes()).unwrap().unwrap();
    assert_eq!(accepted.subprotocol, None);
    assert!(accepted.extensions.is_empty());
}

#[test]
fn byte_at_a_time_with_frames_following() {
    let mut text = response("Sec-WebSocket-Protocol: chat\r\n").into_bytes();
    let frames = [0x81, 0x05, b'H', b'e', b'l', b'l', b'o', 0x89, 0x00];
    text.extend_from_slice(&frames);
    let mut hs = handshake(&offering());
    let accepted = feed_bytewise(&mut hs, &text).unwrap().unwrap();
    assert_eq!(
        accepted.leftover, frames,
        "leftover starts right after the head"
    );
    assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));

    let mut hs = handshake(&offering());
    let accepted = feed_all(&mut hs, &text).unwrap().unwrap();
    assert_eq!(accepted.leftover, frames);
}

#[test]
fn leftover_larger_than_the_header_limit_is_kept() {
    let mut text = response("").into_bytes();
    let big = vec![0x42; 100_000];
    text.extend_from_slice(&big);
    let accepted = handshake(&ClientOptions::default())
        .feed(&text)
        .unwrap()
        .unwrap();
    assert_eq!(accepted.leftover, big);
}

#[test]
fn wrong_accept_key() {
    let text = response("").replace(ACCEPT, "dGhlIHNhbXBsZSBub25jZQ==");
    let err = fail(&ClientOptions::default(), &text);
    assert_eq!(
        err,
        HandshakeError::AcceptMismatch {
            expected: ACCEPT.into(),
            found: Some("dGhlIHNhbXBsZSBub25jZQ==".into())
        }
    );
    assert!(
        err.to_string().starts_with("Sec-WebSocket-Accept mismatch"),
        "{err}"
    );
    assert_eq!(err.http_status(), None);
    let text = response("").replace(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n"), "");
    let err = fail(&ClientOptions::default(), &text);
    assert_eq!(
        err,
        HandshakeError::AcceptMismatch {
            expected: ACCEPT.into(),
            found: None
        }
    );
    assert!(err.to_string().contains("got nothing"), "{err}");
}

#[test]
fn missing_upgrade_or_connection() {
    let err = fail(
        &ClientOptions::default(),
        &response("").replace("Upgrade: websocket\r\n", ""),
    );
    assert_eq!(err, HandshakeError::UpgradeMismatch { found: None });
    let err = fail(
        &ClientOptions::default(),
        &response("").replace("Upgrade: websocket", "Upgrade: h2c"),
    );
    assert_eq!(
        err,
        HandshakeError::UpgradeMismatch {
            found: Some("h2c".into())
        }
    );
    let err = fail(
        &ClientOptions::default(),
        &response("").replace("Connection: Upgrade", "Connection: keep-alive"),
    );
    assert_eq!(
        err,
        HandshakeError::ConnectionMismatch {
            found: Some("keep-alive".into())
        }
    );
    let err = fail(
        &ClientOptions::default(),
        &response("").replace("Connection: Upgrade\r\n", ""),
    );
    assert_eq!(err, HandshakeError::ConnectionMismatch { found: None });
}

#[test]
fn unrequested_subprotocol() {
    let err = fail(&offering(), &response("Sec-WebSocket-Protocol: other\r\n"));
    assert_eq!(err, HandshakeError::SubprotocolNotOffered("other".into()));
    assert_eq!(
        err.to_string(),
        "server chose subprotocol \"other\" that was not offered"
    );
    let err = fail(
        &ClientOptions::default(),
        &response("Sec-WebSocket-Protocol: chat\r\n"),
    );
    assert_eq!(err, HandshakeError::SubprotocolNotOffered("chat".into()));
    let err = fail(&offering(), &response("Sec-WebSocket-Protocol: Chat\r\n"));
    assert_eq!(
        err,
        HandshakeError::SubprotocolNotOffered("Chat".into()),
        "subprotocols are case-sensitive"
    );
    let err = fail(
        &offering(),
        &response("Sec-WebSocket-Protocol: chat, superchat\r\n"),
    );
    assert_eq!(
        err,
        HandshakeError::MultipleSubprotocols("chat, superchat".into())
    );
    let err = fail(
        &offering(),
        &response("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
    );
    assert_eq!(
        err,
        HandshakeError::MultipleSubprotocols("chat, chat".into())
    );
}

#[test]
fn unrequested_extension() {
    let err = fail(
        &offering(),
        &response("Sec-WebSocket-Extensions: x-other\r\n"),
    );
    assert_eq!(err, HandshakeError::ExtensionNotOffered("x-other".into()));
    assert_eq!(
        err.to_string(),
        "server chose extension \"x-other\" that was not offered"
    );
    let err = fail(
        &ClientOptions::default(),
        &response("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
    );
    assert_eq!(
        err,
        HandshakeError::ExtensionNotOffered("permessage-deflate".into())
    );
    let twice = "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: permessage-deflate\r\n";
    let err = fail(&offering(), &response(twice));
    assert_eq!(
        err,
        HandshakeError::DuplicateExtension("permessage-deflate".into())
    );
    let both = "Sec-WebSocket-Extensions: X-WEBKIT-FOO, permessage-deflate; server_no_context_takeover\r\n";
    let accepted = handshake(&offering())
        .feed(response(both).as_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(
        accepted.extensions,
        [
            "X-WEBKIT-FOO",
            "permessage-deflate; server_no_context_takeover"
        ]
    );
}

fn expect_status(err: HandshakeError, status: u16, body: &[u8]) -> Response {
    assert_eq!(err.http_status(), Some(status), "{err:?}");
    let HandshakeError::Status { response, .. } = err else {
        unreachable!()
    };
    assert_eq!(response.status, status);
    assert_eq!(
        response.body,
        body,
        "body {:?}",
        String::from_utf8_lossy(&response.body)
    );
    response
}

#[test]
fn refusal_with_content_length_byte_at_a_time() {
    let text = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nX-Why: origin\r\n\r\nforbidden";
    let mut hs = handshake(&ClientOptions::default());
    let err = feed_bytewise(&mut hs, text).unwrap_err();
    assert_eq!(err.to_string(), "server answered HTTP 403 Forbidden");
    let response = expect_status(err, 403, b"forbidden");
    assert_eq!(response.reason, "Forbidden");
    assert_eq!(response.headers.get("x-why"), Some("origin"));
    assert_eq!(hs.feed(b"x"), Err(HandshakeError::Finished));
}

#[test]
fn refusal_body_stops_at_content_length() {
    let text = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnopeEXTRA";
    let err = handshake(&ClientOptions::default()).feed(text).unwrap_err();
    expect_status(err, 401, b"nope");
}

#[test]
fn refusal_without_content_length_takes_what_arrived() {
    let text = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nbad key";
    let err = handshake(&ClientOptions::default()).feed(text).unwrap_err();
    expect_status(err, 400, b"bad key");
    let text = b"HTTP/1.1 204 No Content\r\n\r\n";
    let err = handshake(&ClientOptions::default()).feed(text).unwrap_err();
    expect_status(err, 204, b"");
}

#[test]
fn refusal_body_is_capped() {
    let mut text = format!(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n",
        1 << 20
    )
    .into_bytes();
    let mut hs = handshake(&ClientOptions::default());
    assert_eq!(hs.feed(&text), Ok(None));
    text = vec![b'z'; MAX_REFUSAL_BODY / 2];
    assert_eq!(hs.feed(&text), Ok(None));
    let err = hs.feed(&[b'z'; MAX_REFUSAL_BODY]).unwrap_err();
    expect_status(err, 500, &[b'z'; MAX_REFUSAL_BODY]);
}

#[test]
fn eof_during_refusal_body() {
    let mut hs = handshake(&ClientOptions::default());
    assert_eq!(
        hs.feed(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\npart"),
        Ok(None)
    );
    let response = expect_status(hs.feed_eof(), 403, b"part");
    assert_eq!(response.headers.get("Content-Length"), Some("100"));
    assert_eq!(hs.feed(b"x"), Err(HandshakeError::Finished));
}

#[test]
fn eof_before_the_head_ends() {
    let mut hs = handshake(&ClientOptions::default());
    assert_eq!(hs.feed_eof(), HandshakeError::ConnectionClosed);
    let mut hs = handshake(&ClientOptions::default());
    assert_eq!(hs.feed(b"HTTP/1.1 10"), Ok(None));
    assert_eq!(hs.feed_eof(), HandshakeError::ConnectionClosed);
    let mut hs = handshake(&ClientOptions::default());
    assert_eq!(
        hs.feed(b"HTTP/1.1 503 Service Unavailable\r\nRetry-Af"),
        Ok(None)
    );
    let response = expect_status(hs.feed_eof(), 503, b"");
    assert_eq!(response.reason, "Service Unavailable");
    let mut hs = handshake(&ClientOptions::default());
    assert_eq!(
        hs.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgr"),
        Ok(None)
    );
    assert_eq!(hs.feed_eof(), HandshakeError::ConnectionClosed);
    assert_eq!(
        HandshakeError::ConnectionClosed.to_string(),
        "connection closed during the handshake"
    );
}

#[test]
fn header_limits() {
    let limits = Limits {
        max_header_bytes: 256,
        max_headers: 4,
    };
    let options = ClientOptions {
        limits,
        ..Default::default()
    };
    let long = response(&format!("X-Long: {}\r\n", "a".repeat(300)));
    assert_eq!(
        fail(&options, &long),
        HandshakeError::HeadersTooLarge { limit: 256 }
    );
    let mut hs = handshake(&options);
    assert_eq!(
        feed_bytewise(&mut hs, long.as_bytes()),
        Err(HandshakeError::HeadersTooLarge { limit: 256 })
    );
    let many = response("A: 1\r\nB: 2\r\n");
    assert_eq!(
        fail(&options, &many),
        HandshakeError::TooManyHeaders { limit: 4 }
    );
    let just = response("A: 1\r\n");
    assert!(handshake(&options).feed(just.as_bytes()).unwrap().is_some());
}

#[test]
fn malformed_response() {
    let err = fail(&ClientOptions::default(), "HTTP/1.1 1O1 Switching\r\n\r\n");
    assert!(matches!(err, HandshakeError::Malformed(_)), "{err:?}");
    let err = fail(&ClientOptions::default(), "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    assert!(matches!(err, HandshakeError::Malformed(_)), "{err:?}");
    assert!(err.to_string().starts_with("malformed HTTP response"));
}

fn outcome(chunks: &[&[u8]]) -> Result<Accepted, HandshakeError> {
    let mut hs = handshake(&offering());
    for (i, chunk) in chunks.iter().enumerate() {
        match hs.feed(chunk) {
            Ok(None) => {}
            Ok(Some(mut accepted)) => {
                chunks[i + 1..]
                    .iter()
                    .for_each(|c| accepted.leftover.extend_from_slice(c));
                return Ok(accepted);
            }
            Err(e) => return Err(e),
        }
    }
    Err(hs.feed_eof())
}

proptest! {
    #[test]
    fn any_split_gives_the_same_result(points in proptest::collection::vec(0usize..10_000, 0..12), which in 0usize..4) {
        let texts = [
            [response("Sec-WebSocket-Protocol: chat\r\n").as_bytes(), &[0x82, 0x02, 1, 2]].concat(),
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!trailing".to_vec(),
            response("Sec-WebSocket-Extensions: x-unknown\r\n").into_bytes(),
            response("").replace(ACCEPT, "wrong").into_bytes(),
        ];
        let text = &texts[which];
        let whole = outcome(&[text]);
        prop_assert_eq!(outcome(&split_at_points(text, &points)), whole);
    }
}
