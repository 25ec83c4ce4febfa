//! A client engine and a server engine talking through memory: the opening
//! handshake with a subprotocol, messages of every length class in both
//! directions, fragmented messages with pings between the pieces, and the
//! close handshake started from either side.

use wsx_core::proto::handshake::{
    Accept, ClientHandshake, ClientOptions, Limits, ServerHandshake, accept_response, check_origin,
    select_subprotocol,
};
use wsx_core::proto::{
    CloseCode, Config, Connection, Event, MessageKind, Role, SendError, State, WsUrl,
};

/// Bytes move between the engines in pieces of this size, so frames and
/// handshake heads are cut at arbitrary places.
const CHUNK: usize = 65_537;

/// An event with its bytes copied out of the engine.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(CloseCode, String),
    Error(String),
}

fn drain(conn: &mut Connection) -> Vec<Ev> {
    let mut out = Vec::new();
    while let Some((event, _sender)) = conn.next_event() {
        out.push(match event {
            Event::Message { kind, data } => Ev::Message(kind, data.to_vec()),
            Event::Ping(data) => Ev::Ping(data.to_vec()),
            Event::Pong(data) => Ev::Pong(data.to_vec()),
            Event::Close { code, reason } => Ev::Close(code, reason.to_owned()),
            Event::Error(e) => Ev::Error(e.to_string()),
            Event::Fragment { .. } => panic!("no streaming in this test"),
        });
    }
    out
}

/// Moves every pending byte of `from` into `to`, in [`CHUNK`]s, and returns
/// the events `to` produced.
fn flow(from: &mut Connection, to: &mut Connection) -> Vec<Ev> {
    let bytes = from.pending().to_vec();
    from.consume(bytes.len());
    let mut events = Vec::new();
    for piece in bytes.chunks(CHUNK) {
        to.feed(piece);
        events.extend(drain(to));
    }
    events
}

/// A client and a server engine after a handshake in which each side sent a
/// message right behind its handshake bytes (so both leftovers are used).
fn open_session() -> (Connection, Connection) {
    let url = WsUrl::parse("ws://127.0.0.1:9001/chat?room=7").unwrap();
    let options = ClientOptions {
        subprotocols: vec!["v2.wsx".into(), "v1.wsx".into()],
        origin: Some("http://localhost:8000".into()),
        headers: vec![("Authorization".into(), "Bearer secret".into())],
        ..ClientOptions::default()
    };
    let mut client_hs = ClientHandshake::new(&url, &options).unwrap();
    let mut client = Connection::new(Role::Client, Config::default());
    client
        .sender()
        .send(MessageKind::Text, b"hello from the client")
        .unwrap();

    // The request and the client's first frame arrive in one read.
    let mut wire = client_hs.request().to_vec();
    wire.extend_from_slice(client.pending());
    let n = client.pending().len();
    client.consume(n);
    let mut server_hs = ServerHandshake::new(Limits::default());
    let (request, leftover) = server_hs.feed(&wire).unwrap().expect("a whole request");
    assert_eq!(request.path(), "/chat?room=7");
    assert_eq!(request.query(), Some("room=7"));
    assert_eq!(request.host(), "127.0.0.1:9001");
    assert_eq!(
        request.headers().get("authorization"),
        Some("Bearer secret")
    );
    assert_eq!(request.subprotocols(), ["v2.wsx", "v1.wsx"]);
    check_origin(&request, &["http://LOCALHOST:8000".to_owned()]).unwrap();

    // The server prefers v1 even though the client listed v2 first.
    let subprotocol = select_subprotocol(&request.subprotocols(), &["v1.wsx", "v2.wsx"]);
    assert_eq!(subprotocol.as_deref(), Some("v1.wsx"));
    let accept = Accept {
        subprotocol,
        headers: vec![("Set-Cookie".into(), "session=1".into())],
        ..Accept::default()
    };
    let response = accept_response(&request, &accept).unwrap();
    let mut server = Connection::new(Role::Server, Config::default());
    server.feed(&leftover);
    assert_eq!(
        drain(&mut server),
        [Ev::Message(
            MessageKind::Text,
            b"hello from the client".to_vec()
        )]
    );
    server
        .sender()
        .send(MessageKind::Binary, &[1, 2, 3])
        .unwrap();

    // The 101 and the server's first frame arrive together, a byte at a time.
    let mut wire = response;
    wire.extend_from_slice(server.pending());
    let n = server.pending().len();
    server.consume(n);
    let mut accepted = None;
    for (i, byte) in wire.iter().enumerate() {
        if let Some(mut done) = client_hs.feed(std::slice::from_ref(byte)).unwrap() {
            done.leftover.extend_from_slice(&wire[i + 1..]);
            accepted = Some(done);
            break;
        }
    }
    let accepted = accepted.expect("the 101 completes");
    assert_eq!(accepted.subprotocol.as_deref(), Some("v1.wsx"));
    assert_eq!(
        accepted.response.headers.get("set-cookie"),
        Some("session=1")
    );
    assert!(accepted.extensions.is_empty());
    client.feed(&accepted.leftover);
    assert_eq!(
        drain(&mut client),
        [Ev::Message(MessageKind::Binary, vec![1, 2, 3])]
    );
    (client, server)
}

/// `len` bytes of valid UTF-8 mixing one- to four-byte characters.
fn text_of(len: usize) -> Vec<u8> {
    let mut s = String::with_capacity(len + 4);
    let pattern = "aé€😀";
    while s.len() + pattern.len() <= len {
        s.push_str(pattern);
    }
    while s.len() < len {
        s.push('z');
    }
    s.into_bytes()
}

fn binary_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn check_message(events: Vec<Ev>, kind: MessageKind, expected: &[u8]) {
    assert_eq!(
        events.len(),
        1,
        "one event for a {} byte message",
        expected.len()
    );
    match &events[0] {
        Ev::Message(k, data) => {
            assert_eq!(*k, kind);
            assert_eq!(data.len(), expected.len());
            assert!(
                data == expected,
                "payload of {} bytes differs",
                expected.len()
            );
        }
        other => panic!("expected a message, got {:?}", short(other)),
    }
}

fn short(ev: &Ev) -> String {
    let text = format!("{ev:?}");
    text.chars().take(200).collect()
}

#[test]
fn messages_of_every_length_class_both_ways() {
    let (mut client, mut server) = open_session();
    for len in [0, 125, 126, 65_535, 65_536, 16 << 20] {
        for kind in [MessageKind::Text, MessageKind::Binary] {
            let data = match kind {
                MessageKind::Text => text_of(len),
                MessageKind::Binary => binary_of(len),
            };
            client.sender().send(kind, &data).unwrap();
            check_message(flow(&mut client, &mut server), kind, &data);
            server.sender().send(kind, &data).unwrap();
            check_message(flow(&mut server, &mut client), kind, &data);
        }
    }
    assert_eq!((client.state(), server.state()), (State::Open, State::Open));
}

#[test]
fn fragmented_messages_with_pings_between_pieces() {
    let (mut client, mut server) = open_session();
    let smile = "😀".as_bytes();

    // Client to server: text whose four-byte character is cut between pieces.
    let s = client.sender();
    s.send_fragment(MessageKind::Text, b"Hel", false).unwrap();
    s.ping(b"p1").unwrap();
    s.send_fragment(
        MessageKind::Text,
        &[b"lo ".as_slice(), &smile[..2]].concat(),
        false,
    )
    .unwrap();
    assert_eq!(
        s.send(MessageKind::Text, b"x"),
        Err(SendError::MessageInProgress(MessageKind::Text))
    );
    s.ping(b"p2").unwrap();
    s.send_fragment(MessageKind::Text, &smile[2..], false)
        .unwrap();
    s.send_fragment(MessageKind::Text, b"", true).unwrap();
    assert_eq!(
        flow(&mut client, &mut server),
        [
            Ev::Ping(b"p1".to_vec()),
            Ev::Ping(b"p2".to_vec()),
            Ev::Message(MessageKind::Text, "Hello 😀".as_bytes().to_vec()),
        ]
    );
    // The automatic pongs come back with the pings' payloads.
    assert_eq!(
        flow(&mut server, &mut client),
        [Ev::Pong(b"p1".to_vec()), Ev::Pong(b"p2".to_vec())]
    );

    // Server to client: a large binary message in three pieces, a ping and
    // an unsolicited pong between them.
    let big = binary_of(200_000);
    let s = server.sender();
    s.send_fragment(MessageKind::Binary, &big[..70_000], false)
        .unwrap();
    s.ping(b"").unwrap();
    s.send_fragment(MessageKind::Binary, &big[70_000..140_000], false)
        .unwrap();
    s.pong(b"heartbeat").unwrap();
    s.send_fragment(MessageKind::Binary, &big[140_000..], true)
        .unwrap();
    let events = flow(&mut server, &mut client);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0], Ev::Ping(Vec::new()));
    assert_eq!(events[1], Ev::Pong(b"heartbeat".to_vec()));
    check_message(
        events.into_iter().skip(2).collect(),
        MessageKind::Binary,
        &big,
    );
    assert_eq!(flow(&mut client, &mut server), [Ev::Pong(Vec::new())]);

    // A whole message right after a fragmented one is its own message.
    client.sender().send(MessageKind::Binary, b"after").unwrap();
    assert_eq!(
        flow(&mut client, &mut server),
        [Ev::Message(MessageKind::Binary, b"after".to_vec())]
    );
}

/// Runs the close handshake started by `initiator` and checks both sides.
fn close_from(initiator: &mut Connection, peer: &mut Connection, code: CloseCode, reason: &str) {
    initiator.sender().close(code, reason).unwrap();
    assert_eq!(initiator.state(), State::CloseSent);
    assert_eq!(
        initiator.sender().send(MessageKind::Text, b"late"),
        Err(SendError::Closed)
    );

    assert_eq!(flow(initiator, peer), [Ev::Close(code, reason.to_owned())]);
    assert_eq!(peer.state(), State::Closed, "the peer answered the close");
    assert_eq!(peer.received_close_code(), Some(code));
    assert_eq!(
        peer.sent_close_code(),
        Some(code),
        "the answer echoes the code"
    );
    assert_eq!(
        peer.sender().send(MessageKind::Binary, b"late"),
        Err(SendError::Closed)
    );

    assert_eq!(flow(peer, initiator), [Ev::Close(code, String::new())]);
    assert_eq!(initiator.state(), State::Closed);
    assert_eq!(initiator.received_close_code(), Some(code));
    assert!(!initiator.failed() && !peer.failed());
    assert!(initiator.pending().is_empty() && peer.pending().is_empty());
}

#[test]
fn client_starts_the_close() {
    let (mut client, mut server) = open_session();
    client
        .sender()
        .send(MessageKind::Text, b"last words")
        .unwrap();
    assert_eq!(
        flow(&mut client, &mut server),
        [Ev::Message(MessageKind::Text, b"last words".to_vec())]
    );
    close_from(&mut client, &mut server, CloseCode::NORMAL, "bye");
    // A data frame after the close (masked "x", key 0) is not accepted.
    server.feed(&[0x81, 0x81, 0, 0, 0, 0, b'x']);
    assert_eq!(drain(&mut server), []);
}

#[test]
fn server_starts_the_close() {
    let (mut client, mut server) = open_session();
    close_from(
        &mut server,
        &mut client,
        CloseCode(4001),
        "server restarting ✓",
    );
}

#[test]
fn data_in_flight_before_the_close_is_delivered() {
    let (mut client, mut server) = open_session();
    // The server's message is already on the wire when the client's close
    // arrives: the client still receives it, then the close.
    server
        .sender()
        .send(MessageKind::Text, b"in flight")
        .unwrap();
    client.sender().close(CloseCode::GOING_AWAY, "").unwrap();
    assert_eq!(
        flow(&mut client, &mut server),
        [Ev::Close(CloseCode::GOING_AWAY, String::new())]
    );
    assert_eq!(
        flow(&mut server, &mut client),
        [
            Ev::Message(MessageKind::Text, b"in flight".to_vec()),
            Ev::Close(CloseCode::GOING_AWAY, String::new()),
        ]
    );
    assert_eq!(
        (client.state(), server.state()),
        (State::Closed, State::Closed)
    );
}
