//! The sans-I/O engine (`proto::engine`) gives the same events however the
//! received bytes are cut: whole, one byte at a time, or in random pieces;
//! with and without permessage-deflate, whole messages and streaming.

use proptest::prelude::*;
use wsx_core::proto::engine::{CloseOrigin, Engine, EngineConfig, EngineEvent, EngineState};
use wsx_core::proto::{DeflateConfig, MessageKind, WsUrl};

/// An owned copy of an event, to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Request(String),
    Open(Option<String>, bool),
    Message(MessageKind, Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String, CloseOrigin, bool),
    Error(String),
}

fn own(e: EngineEvent<'_>) -> Ev {
    match e {
        EngineEvent::Request(r) => Ev::Request(r.path().to_owned()),
        EngineEvent::Open {
            subprotocol,
            deflate,
        } => Ev::Open(subprotocol.map(str::to_owned), deflate),
        EngineEvent::Message { kind, data } => Ev::Message(kind, data.to_vec()),
        EngineEvent::Fragment { kind, data, fin } => Ev::Fragment(kind, data.to_vec(), fin),
        EngineEvent::Ping(d) => Ev::Ping(d.to_vec()),
        EngineEvent::Pong(d) => Ev::Pong(d.to_vec()),
        EngineEvent::Close {
            code,
            reason,
            origin,
            clean,
        } => Ev::Close(code, reason.to_owned(), origin, clean),
        EngineEvent::Error { message, .. } => Ev::Error(message.to_owned()),
    }
}

fn drain(e: &mut Engine, out: &mut Vec<Ev>) {
    while let Some(ev) = e.next_event() {
        out.push(own(ev));
    }
}

fn take_output(e: &mut Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let n = e.pending().len();
        if n == 0 {
            return bytes;
        }
        bytes.extend_from_slice(e.pending());
        e.consume(n);
    }
}

fn config(deflate: bool, streaming: bool) -> EngineConfig {
    let mut c = EngineConfig {
        subprotocols: vec!["chat".into()],
        compression: deflate.then(DeflateConfig::default),
        ..EngineConfig::default()
    };
    c.protocol.streaming = streaming;
    c
}

/// What a server sends to a client in a whole session: the 101 response, the
/// messages, a ping, fragments and a close; returned as the bytes on the wire.
fn server_script(deflate: bool, messages: &[(bool, Vec<u8>)]) -> (Vec<u8>, Vec<u8>) {
    let url = WsUrl::parse("ws://example.com/chat?x=1").unwrap();
    let mut client = Engine::client(&url, config(deflate, false)).unwrap();
    let mut server = Engine::server(config(deflate, false));
    let request = take_output(&mut client);
    assert_eq!(server.feed(&request), request.len());
    assert!(matches!(server.next_event(), Some(EngineEvent::Request(_))));
    server
        .accept(None, &[("X-Test".into(), "1".into())])
        .unwrap();
    let mut wire = Vec::new();
    for (text, data) in messages {
        if *text {
            let s = String::from_utf8_lossy(data).into_owned();
            server.send(MessageKind::Text, s.as_bytes()).unwrap();
        } else {
            server.send(MessageKind::Binary, data).unwrap();
        }
    }
    server.ping(b"are you there").unwrap();
    server
        .send_fragment(MessageKind::Text, "h\u{e9}".as_bytes(), false)
        .unwrap();
    server
        .send_fragment(MessageKind::Text, "llo \u{1f600}".as_bytes(), true)
        .unwrap();
    server.close(4000, "bye").unwrap();
    wire.extend(take_output(&mut server));
    (request, wire)
}

/// A client fed `wire` in pieces of the given sizes (cycled); its events.
fn client_events(deflate: bool, streaming: bool, wire: &[u8], cuts: &[usize]) -> Vec<Ev> {
    // A fresh client whose request key does not matter to the server's reply
    // except through Sec-WebSocket-Accept: replay against its own request.
    let url = WsUrl::parse("ws://example.com/chat?x=1").unwrap();
    let mut client = Engine::client(&url, config(deflate, streaming)).unwrap();
    let mut server = Engine::server(config(deflate, false));
    let request = take_output(&mut client);
    server.feed(&request);
    let _ = server.next_event();
    server.accept(None, &[]).unwrap();
    // Re-play the scripted frames after this server's own 101.
    let accept = take_output(&mut server);
    let end = find_head_end(wire);
    let mut bytes = accept;
    bytes.extend_from_slice(&wire[end..]);
    let mut events = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let n = cuts.get(i % cuts.len().max(1)).copied().unwrap_or(1).max(1);
        let piece = &bytes[at..(at + n).min(bytes.len())];
        let mut fed = 0;
        while fed < piece.len() {
            fed += client.feed(&piece[fed..]);
            drain(&mut client, &mut events);
        }
        at += piece.len();
        i += 1;
    }
    client.feed_eof();
    drain(&mut client, &mut events);
    assert_eq!(client.state(), EngineState::Closed);
    events
}

fn find_head_end(wire: &[u8]) -> usize {
    wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4
}

/// Joins streaming fragments into messages, to compare with whole delivery.
fn joined(events: &[Ev]) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut buf: Option<(MessageKind, Vec<u8>)> = None;
    for e in events {
        match e {
            Ev::Fragment(kind, data, fin) => {
                let b = buf.get_or_insert_with(|| (*kind, Vec::new()));
                b.1.extend_from_slice(data);
                if *fin {
                    let (k, d) = buf.take().unwrap();
                    out.push(Ev::Message(k, d));
                }
            }
            other => out.push(other.clone()),
        }
    }
    out
}

fn messages() -> impl Strategy<Value = Vec<(bool, Vec<u8>)>> {
    proptest::collection::vec(
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..300),
        ),
        0..5,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn same_events_however_cut(
        deflate in any::<bool>(),
        streaming in any::<bool>(),
        msgs in messages(),
        cuts in proptest::collection::vec(1usize..64, 1..16),
    ) {
        let (_, wire) = server_script(deflate, &msgs);
        let whole = client_events(deflate, false, &wire, &[usize::MAX / 2]);
        let bytewise = client_events(deflate, streaming, &wire, &[1]);
        let random = client_events(deflate, streaming, &wire, &cuts);
        prop_assert_eq!(&joined(&bytewise), &whole);
        prop_assert_eq!(&joined(&random), &whole);
        // The script's events, in order: open, the messages, the ping, the
        // fragmented text, the close.
        prop_assert_eq!(&whole[0], &Ev::Open(Some("chat".into()), deflate));
        prop_assert_eq!(whole.len(), msgs.len() + 4);
        for (i, (text, data)) in msgs.iter().enumerate() {
            let expected = if *text {
                Ev::Message(MessageKind::Text, String::from_utf8_lossy(data).into_owned().into_bytes())
            } else {
                Ev::Message(MessageKind::Binary, data.clone())
            };
            prop_assert_eq!(&whole[i + 1], &expected);
        }
        prop_assert_eq!(&whole[msgs.len() + 1], &Ev::Ping(b"are you there".to_vec()));
        prop_assert_eq!(&whole[msgs.len() + 2], &Ev::Message(MessageKind::Text, "h\u{e9}llo \u{1f600}".as_bytes().to_vec()));
        prop_assert_eq!(&whole[msgs.len() + 3], &Ev::Close(4000, "bye".into(), CloseOrigin::Remote, true));
    }

    #[test]
    fn server_same_events_however_cut(
        deflate in any::<bool>(),
        msgs in messages(),
        cuts in proptest::collection::vec(1usize..64, 1..16),
    ) {
        // The client's request and frames, fed to servers cut three ways.
        let url = WsUrl::parse("ws://example.com/chat").unwrap();
        let mut client = Engine::client(&url, config(deflate, false)).unwrap();
        let mut probe = Engine::server(config(deflate, false));
        let mut wire = take_output(&mut client);
        probe.feed(&wire);
        let _ = probe.next_event();
        probe.accept(None, &[]).unwrap();
        let accept = take_output(&mut probe);
        client.feed(&accept);
        let mut ignored = Vec::new();
        drain(&mut client, &mut ignored);
        for (text, data) in &msgs {
            let kind = if *text { MessageKind::Text } else { MessageKind::Binary };
            let data = if *text { String::from_utf8_lossy(data).into_owned().into_bytes() } else { data.clone() };
            client.send(kind, &data).unwrap();
        }
        client.close(1000, "done").unwrap();
        wire.extend(take_output(&mut client));
        let run = |cuts: &[usize]| {
            let mut server = Engine::server(config(deflate, false));
            let mut events = Vec::new();
            let mut at = 0;
            let mut i = 0;
            while at < wire.len() {
                let n = cuts[i % cuts.len()];
                let piece = &wire[at..(at + n).min(wire.len())];
                let mut fed = 0;
                while fed < piece.len() {
                    fed += server.feed(&piece[fed..]);
                    while let Some(ev) = server.next_event() {
                        let request = matches!(ev, EngineEvent::Request(_));
                        events.push(own(ev));
                        if request {
                            server.accept(None, &[]).unwrap();
                        }
                    }
                }
                at += piece.len();
                i += 1;
            }
            events
        };
        let whole = run(&[wire.len()]);
        prop_assert_eq!(&run(&[1]), &whole);
        prop_assert_eq!(&run(&cuts), &whole);
        prop_assert_eq!(whole.len(), msgs.len() + 3);
        prop_assert_eq!(whole.last().unwrap(), &Ev::Close(1000, "done".into(), CloseOrigin::Remote, true));
    }
}

#[test]
fn timers_fire_from_injected_time() {
    let url = WsUrl::parse("ws://example.com/").unwrap();
    let c = EngineConfig {
        keepalive_ms: Some((1000, 500)),
        handshake_timeout_ms: Some(2000),
        ..EngineConfig::default()
    };
    let mut client = Engine::client(&url, c.clone()).unwrap();
    assert_eq!(client.next_deadline(), None);
    client.tick(10_000);
    assert_eq!(client.next_deadline(), Some(12_000));
    client.tick(12_000);
    let mut events = Vec::new();
    drain(&mut client, &mut events);
    assert!(matches!(events[0], Ev::Error(_)), "{events:?}");
    assert_eq!(
        events[1],
        Ev::Close(1006, String::new(), CloseOrigin::Transport, false)
    );
    assert_eq!(client.state(), EngineState::Closed);

    // Keepalive: a ping after 1 s of silence, 1006 after 0.5 s more.
    let mut client = Engine::client(&url, c.clone()).unwrap();
    let mut server = Engine::server(c);
    server.feed(&take_output(&mut client));
    let _ = server.next_event();
    server.accept(None, &[]).unwrap();
    client.feed(&take_output(&mut server));
    client.tick(0);
    drain(&mut client, &mut events);
    assert_eq!(client.next_deadline(), Some(1000));
    client.tick(1000);
    let ping = take_output(&mut client);
    assert_eq!(ping.len(), 6, "an empty masked ping");
    assert_eq!(client.next_deadline(), Some(1500));
    client.tick(1499);
    assert_eq!(client.state(), EngineState::Open);
    client.tick(1500);
    events.clear();
    drain(&mut client, &mut events);
    assert_eq!(
        events.last().unwrap(),
        &Ev::Close(1006, String::new(), CloseOrigin::Transport, false)
    );

    // Close timeout: our close unanswered.
    let mut client2 = Engine::client(&url, EngineConfig::default()).unwrap();
    let mut server2 = Engine::server(EngineConfig::default());
    server2.feed(&take_output(&mut client2));
    let _ = server2.next_event();
    server2.accept(None, &[]).unwrap();
    client2.feed(&take_output(&mut server2));
    drain(&mut client2, &mut events);
    client2.tick(0);
    client2.close(1000, "").unwrap();
    assert_eq!(client2.state(), EngineState::Closing);
    assert_eq!(client2.next_deadline(), Some(5000));
    client2.tick(5000);
    events.clear();
    drain(&mut client2, &mut events);
    assert_eq!(
        events.last().unwrap(),
        &Ev::Close(1006, String::new(), CloseOrigin::Transport, false)
    );
    assert_eq!(client2.state(), EngineState::Closed);
}

#[test]
fn refusals_and_feed_bound() {
    let mut server = Engine::server(EngineConfig::default());
    server.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut events = Vec::new();
    drain(&mut server, &mut events);
    assert!(matches!(events[0], Ev::Error(_)));
    assert!(take_output(&mut server).starts_with(b"HTTP/1.1 426"));
    assert!(server.wants_shutdown());

    let url = WsUrl::parse("ws://example.com/").unwrap();
    let mut client = Engine::client(&url, EngineConfig::default()).unwrap();
    let mut server = Engine::server(EngineConfig::default());
    server.feed(&take_output(&mut client));
    assert!(matches!(server.next_event(), Some(EngineEvent::Request(_))));
    assert!(server.accept(Some("nope"), &[]).is_err());
    server.refuse(403, "go away").unwrap();
    let refusal = take_output(&mut server);
    assert!(refusal.starts_with(b"HTTP/1.1 403"));
    assert_eq!(server.next_event(), None);
    assert!(server.wants_shutdown());
    // The client reports the status and keeps the answer: headers and body.
    assert!(client.response().is_none());
    client.feed(&refusal);
    assert!(matches!(
        client.next_event(),
        Some(EngineEvent::Error { status: 403, .. })
    ));
    let response = client.response().expect("the refusal's response");
    assert_eq!(response.headers.get("Content-Length"), Some("7"));
    assert_eq!(response.body, b"go away");

    // Past a frame's worth of unparsed input, feed takes no more.
    let mut c = EngineConfig::default();
    c.protocol.max_frame_size = 1000;
    let mut client = Engine::client(&url, c.clone()).unwrap();
    let mut server = Engine::server(c);
    server.feed(&take_output(&mut client));
    let _ = server.next_event();
    server.accept(None, &[]).unwrap();
    let _ = server.next_event();
    client.feed(&take_output(&mut server));
    let _ = client.next_event();
    let big = vec![0x81u8; 200 * 1024];
    let taken = client.feed(&big);
    assert!(taken < big.len() && taken >= 64 * 1024, "{taken}");
}
