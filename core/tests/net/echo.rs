//! wsx client against wsx server on 127.0.0.1: echo of every size and kind,
//! the handshake options, refusals, and the close handshake; over Unix
//! domain sockets too (`unix_socket`); servers sharing a port (`reuse_port`).

#[cfg(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
))]
mod reuse_port;
#[cfg(unix)]
mod unix_socket;

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::util::*;
use wsx_core::net::{ClientConfig, ConnState, ErrorKind, ServerConfig};
use wsx_core::proto::{CloseCode, MessageKind};

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

#[test]
fn echoes_text_and_binary_of_every_size() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (conn, events) = connect(lp.handle(), &echo.url(), client_config());
    for len in [0, 1, 125, 126, 127, 65_535, 65_536, 1 << 20, 16 << 20] {
        let binary = pattern(len);
        conn.send(MessageKind::Binary, &binary)
            .expect("send binary");
        assert_eq!(
            events.message(),
            (MessageKind::Binary, binary),
            "binary of {len} bytes"
        );
        let text: Vec<u8> = "é".repeat(len / 2).into_bytes();
        conn.send(MessageKind::Text, &text).expect("send text");
        assert_eq!(
            events.message(),
            (MessageKind::Text, text),
            "text of {len} bytes"
        );
    }
    conn.close(CloseCode::NORMAL, "bye").expect("close");
    // The server's automatic reply echoes the code, without a reason.
    assert_eq!(events.close(), (1000, String::new(), true));
    assert_eq!(conn.state(), ConnState::Closed);
    // The server's side saw the same close, cleanly.
    assert_eq!(echo.conns.close(), (1000, "bye".to_owned(), true));
}

#[test]
fn close_code_from_the_server_reaches_the_client() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (conn, events) = connect(lp.handle(), &echo.url(), client_config());
    conn.close(CloseCode(4321), "custom").expect("close");
    // The server echoes the code; the client reports the server's frame.
    assert_eq!(events.close(), (4321, String::new(), true));
    assert_eq!(echo.conns.close(), (4321, "custom".to_owned(), true));
    events.assert_done();
}

#[test]
fn send_after_close_fails_with_closed() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (conn, events) = connect(lp.handle(), &echo.url(), client_config());
    conn.close(CloseCode::NORMAL, "").expect("close");
    assert_eq!(
        conn.send(MessageKind::Text, b"late")
            .expect_err("closing")
            .kind(),
        ErrorKind::Closed
    );
    events.close();
    assert_eq!(
        conn.send(MessageKind::Text, b"later")
            .expect_err("closed")
            .kind(),
        ErrorKind::Closed
    );
    assert_eq!(
        conn.close(CloseCode::NORMAL, "")
            .expect_err("closed")
            .kind(),
        ErrorKind::Closed
    );
    assert_eq!(conn.buffered_amount(), 0);
}

#[test]
fn negotiates_a_subprotocol_and_passes_custom_headers() {
    let lp = spawn_loop();
    let config = ServerConfig {
        subprotocols: vec!["v2.chat".into(), "v1.chat".into()],
        ..server_config()
    };
    let echo = Echo::start(lp.handle(), config);
    let client = ClientConfig {
        subprotocols: vec!["v1.chat".into(), "v2.chat".into()],
        headers: vec![
            ("Authorization".into(), "Bearer xyz".into()),
            ("Cookie".into(), "a=1".into()),
        ],
        origin: Some("https://example.com".into()),
        ..client_config()
    };
    let url = format!("ws://{}/chat?room=1", echo.server.local_addr());
    let (conn, events) = connect(lp.handle(), &url, client);
    let ServerEv::Upgrade {
        path,
        headers,
        subprotocol,
    } = echo.next_event()
    else {
        panic!("upgrade expected")
    };
    assert_eq!(path, "/chat?room=1");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("Authorization"), Some("Bearer xyz"));
    assert_eq!(header("Cookie"), Some("a=1"));
    assert_eq!(header("Origin"), Some("https://example.com"));
    // The server's preference wins among those offered.
    assert_eq!(subprotocol.as_deref(), Some("v2.chat"));
    let Ev::Open { subprotocol, .. } = echo.conns.open() else {
        unreachable!()
    };
    assert_eq!(subprotocol.as_deref(), Some("v2.chat"));
    drop(events);
    drop(conn);
}

#[test]
fn client_sees_the_negotiated_subprotocol_and_response() {
    let lp = spawn_loop();
    let config = ServerConfig {
        subprotocols: vec!["mqtt".into()],
        ..server_config()
    };
    let echo = Echo::start(lp.handle(), config);
    let client = ClientConfig {
        subprotocols: vec!["mqtt".into()],
        ..client_config()
    };
    let (recorder, events) = Recorder::new(false);
    let _conn = lp
        .handle()
        .connect(&echo.url(), client, recorder)
        .expect("connect");
    let Ev::Open {
        subprotocol,
        status,
        ..
    } = events.open()
    else {
        unreachable!()
    };
    assert_eq!(subprotocol.as_deref(), Some("mqtt"));
    assert_eq!(status, Some(101));
}

#[test]
fn origin_not_allowed_is_refused_with_403() {
    let lp = spawn_loop();
    let config = ServerConfig {
        origins: Some(vec!["https://good.example".into()]),
        ..server_config()
    };
    let echo = Echo::start(lp.handle(), config);
    let client = ClientConfig {
        origin: Some("https://evil.example".into()),
        ..client_config()
    };
    let (recorder, events) = Recorder::new(false);
    let conn = lp
        .handle()
        .connect(&echo.url(), client, recorder)
        .expect("connect");
    let (kind, status, message) = events.error();
    assert_eq!((kind, status), (ErrorKind::Handshake, Some(403)));
    assert!(message.contains("403"), "{message}");
    assert_eq!(events.close(), (1006, message.clone(), false));
    assert_eq!(conn.state(), ConnState::Closed);
    // The server reported the refusal too, and never upgraded.
    match echo.next_event() {
        ServerEv::Error(ErrorKind::Handshake, Some(403), _) => {}
        other => panic!("expected the server's error, got {other:?}"),
    }

    // An allowed origin passes.
    let client = ClientConfig {
        origin: Some("https://good.example".into()),
        ..client_config()
    };
    connect(lp.handle(), &echo.url(), client);
}

#[test]
fn handler_refusal_reaches_the_client_with_status_and_body() {
    let lp = spawn_loop();
    let echo = Echo::start_refusing(lp.handle(), server_config(), Some(401));
    let (recorder, events) = Recorder::new(false);
    let _conn = lp
        .handle()
        .connect(&echo.url(), client_config(), recorder)
        .expect("connect");
    let (kind, status, message) = events.error();
    assert_eq!((kind, status), (ErrorKind::Handshake, Some(401)));
    assert!(message.contains("go away"), "{message}");
    assert!(!events.close().2);
}

#[test]
fn plain_http_get_is_answered_426() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let mut tcp = TcpStream::connect(echo.server.local_addr()).expect("tcp");
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response)
        .expect("the server answers and closes");
    assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{response}"
    );
}

#[test]
fn bad_urls_and_options_fail_in_connect() {
    let lp = spawn_loop();
    for url in [
        "http://example.com/",
        "ws://",
        "not a url",
        "ws://host:99999/",
    ] {
        let (recorder, _events) = Recorder::new(false);
        let error = lp
            .handle()
            .connect(url, client_config(), recorder)
            .expect_err(url);
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{url}: {error}");
    }
    let bad_header = ClientConfig {
        headers: vec![("X-Bad".into(), "a\r\nb".into())],
        ..client_config()
    };
    let (recorder, _events) = Recorder::new(false);
    let error = lp
        .handle()
        .connect("ws://127.0.0.1:1/", bad_header, recorder)
        .expect_err("header");
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn ipv6_loopback_works_both_ways() {
    let lp = spawn_loop();
    let config = ServerConfig {
        host: "::1".into(),
        ..server_config()
    };
    let Ok(server) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    drop(server);
    let echo = Echo::start(lp.handle(), config);
    let url = format!("ws://[::1]:{}/", echo.server.local_addr().port());
    let (conn, events) = connect(lp.handle(), &url, client_config());
    assert!(
        conn.peer_addr()
            .and_then(|a| a.ip())
            .expect("peer")
            .is_ipv6()
    );
    conn.send(MessageKind::Text, b"six").expect("send");
    assert_eq!(events.message(), (MessageKind::Text, b"six".to_vec()));
}

#[test]
fn streaming_mode_delivers_every_byte_in_pieces() {
    let lp = spawn_loop();
    let mut config = server_config();
    config.protocol.streaming = true;
    let (tx, events) = std::sync::mpsc::channel();
    let (conns_tx, conns) = std::sync::mpsc::channel();
    let server = lp
        .handle()
        .listen(
            config,
            Box::new(EchoServer {
                tx,
                conns: conns_tx,
                refuse: None,
            }),
        )
        .expect("listen");
    drop(events);
    let (conn, client) = connect(
        lp.handle(),
        &format!("ws://{}/", server.local_addr()),
        client_config(),
    );
    let data = pattern(300_000);
    conn.send(MessageKind::Binary, &data).expect("send");
    // The server got the message in pieces (echoing each as a message of its own).
    let conns = Events(conns);
    let mut got = Vec::new();
    while got.len() < data.len() {
        got.extend(conns.message().1);
    }
    assert_eq!(got, data);
    let mut echoed = Vec::new();
    while echoed.len() < data.len() {
        echoed.extend(client.message().1);
    }
    assert_eq!(echoed, data);
}

#[test]
fn permessage_deflate_when_both_ends_enable_it() {
    let lp = spawn_loop();
    let config = ServerConfig {
        compression: Some(Default::default()),
        ..server_config()
    };
    let echo = Echo::start(lp.handle(), config);
    let client = ClientConfig {
        compression: Some(Default::default()),
        ..client_config()
    };
    let (recorder, events) = Recorder::new(false);
    let conn = lp
        .handle()
        .connect(&echo.url(), client, recorder)
        .expect("connect");
    let Ev::Open { headers, .. } = events.open() else {
        unreachable!()
    };
    let extensions = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
        .map(|(_, v)| v.clone());
    assert!(
        extensions.is_some_and(|v| v.starts_with("permessage-deflate")),
        "{headers:?}"
    );
    let text = "compress me, compress me, ".repeat(40_000).into_bytes();
    for (kind, data) in [
        (MessageKind::Text, b"tiny".to_vec()),
        (MessageKind::Text, text),
        (MessageKind::Binary, pattern(100_000)),
    ] {
        conn.send(kind, &data).expect("send");
        assert_eq!(events.message(), (kind, data));
    }
}

#[test]
fn compression_offer_is_declined_by_default() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let client = ClientConfig {
        compression: Some(Default::default()),
        ..client_config()
    };
    let (recorder, events) = Recorder::new(false);
    let conn = lp
        .handle()
        .connect(&echo.url(), client, recorder)
        .expect("connect");
    let Ev::Open { headers, .. } = events.open() else {
        unreachable!()
    };
    assert!(
        !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Extensions")),
        "{headers:?}"
    );
    conn.send(MessageKind::Text, b"plain").expect("send");
    assert_eq!(events.message().1, b"plain");
}
