//! Tests of the connection engine: RFC 6455 examples, the bad-input table,
//! the close handshake, and property tests over any split of the input.

use std::io;

use super::*;
use crate::proto::error::SendError;
use proptest::prelude::*;

/// An owned copy of an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Message(MessageKind, Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Error(ProtocolError),
}

use MessageKind::{Binary, Text};

fn own(e: &Event<'_>) -> Ev {
    match e {
        Event::Message { kind, data } => Ev::Message(*kind, data.to_vec()),
        Event::Fragment { kind, data, fin } => Ev::Fragment(*kind, data.to_vec(), *fin),
        Event::Ping(d) => Ev::Ping(d.to_vec()),
        Event::Pong(d) => Ev::Pong(d.to_vec()),
        Event::Close { code, reason } => Ev::Close(code.0, reason.to_string()),
        Event::Error(err) => Ev::Error(err.clone()),
    }
}

fn events(conn: &mut Connection) -> Vec<Ev> {
    let mut out = Vec::new();
    while let Some((e, _)) = conn.next_event() {
        out.push(own(&e));
    }
    out
}

fn feed(conn: &mut Connection, bytes: &[u8]) -> Vec<Ev> {
    conn.feed(bytes);
    events(conn)
}

fn server() -> Connection {
    Connection::new(Role::Server, Config::default())
}

fn client() -> Connection {
    Connection::new(Role::Client, Config::default())
}

fn text(s: &str) -> Ev {
    Ev::Message(Text, s.as_bytes().to_vec())
}

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame with first byte `b0` (FIN, RSV, opcode as given), masked with
/// `key` if any.
fn raw(b0: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Binary,
        mask: key,
        payload_len: payload.len() as u64,
    };
    header.encode(&mut out);
    out[0] = b0;
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = key {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// A frame as a client sends it (masked).
fn to_server(b0: u8, payload: &[u8]) -> Vec<u8> {
    raw(b0, Some(KEY), payload)
}

/// Frames as a client sends them, one after the other.
fn frames_to_server(frames: &[(u8, &[u8])]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|(b0, payload)| to_server(*b0, payload))
        .collect()
}

/// A frame as a server sends it.
fn to_client(b0: u8, payload: &[u8]) -> Vec<u8> {
    raw(b0, None, payload)
}

/// What the peer of `conn` reads from `conn`'s output.
fn peer_reads(conn: &mut Connection) -> Vec<Ev> {
    let peer_role = match conn.role() {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let mut peer = Connection::new(peer_role, Config::default());
    let n = conn.pending().len();
    peer.feed(conn.pending());
    conn.consume(n);
    events(&mut peer)
}

/// Moves everything `from` has to send into `to` and returns `to`'s events.
fn pump(from: &mut Connection, to: &mut Connection) -> Vec<Ev> {
    let n = from.pending().len();
    to.feed(from.pending());
    from.consume(n);
    events(to)
}

// ---- RFC 6455 section 5.7, byte for byte ----

#[test]
fn rfc_unmasked_hello() {
    let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    assert_eq!(feed(&mut client(), &bytes), [text("Hello")]);
    let mut s = server();
    s.sender().send(Text, b"Hello").unwrap();
    assert_eq!(s.pending(), bytes);
}

#[test]
fn rfc_masked_hello() {
    let bytes = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(feed(&mut server(), &bytes), [text("Hello")]);
    assert_eq!(to_server(0x81, b"Hello"), bytes);
}

#[test]
fn rfc_fragmented_hello() {
    let bytes = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    assert_eq!(feed(&mut client(), &bytes), [text("Hello")]);
    let mut s = server();
    s.sender().send_fragment(Text, b"Hel", false).unwrap();
    s.sender().send_fragment(Text, b"lo", true).unwrap();
    assert_eq!(s.pending(), bytes);
}

#[test]
fn rfc_unmasked_ping_is_answered_with_masked_pong() {
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let mut c = client();
    assert_eq!(feed(&mut c, &ping), [Ev::Ping(b"Hello".to_vec())]);
    let out = c.pending().to_vec();
    assert_eq!(out.len(), 11);
    assert_eq!(&out[..2], &[0x8a, 0x85]);
    let mut pong = out[6..].to_vec();
    apply_mask(&mut pong, [out[2], out[3], out[4], out[5]], 0);
    assert_eq!(pong, b"Hello");
    let mut s = server();
    s.sender().ping(b"Hello").unwrap();
    assert_eq!(s.pending(), ping);
}

#[test]
fn rfc_masked_pong() {
    let bytes = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(feed(&mut server(), &bytes), [Ev::Pong(b"Hello".to_vec())]);
}

#[test]
fn rfc_256_byte_and_64k_binary() {
    for (len, header) in [
        (256, &[0x82, 0x7E, 0x01, 0x00][..]),
        (65536, &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0][..]),
    ] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut s = server();
        s.sender().send(Binary, &payload).unwrap();
        assert_eq!(&s.pending()[..header.len()], header);
        assert_eq!(&s.pending()[header.len()..], &payload[..]);
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(&payload);
        assert_eq!(feed(&mut client(), &bytes), [Ev::Message(Binary, payload)]);
    }
}

#[test]
fn client_masks_every_frame_with_a_fresh_key() {
    let mut c = client();
    c.sender().send(Text, b"Hello").unwrap();
    c.sender().send(Text, b"Hello").unwrap();
    let out = c.pending().to_vec();
    assert_eq!(out.len(), 22);
    assert_eq!((out[0], out[1]), (0x81, 0x85));
    assert_ne!(out[2..6], out[13..17], "two frames, two keys");
    assert_eq!(peer_reads(&mut c), [text("Hello"), text("Hello")]);
}

#[test]
fn a_client_masks_payloads_of_any_length_block_by_block() {
    // Lengths around the sender's copy-and-mask block (1 KiB, from 16 KiB).
    for len in [0, 1, 3, 1025, 16_384, 16_385, 17_407, 17_409, 70_001] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        let mut c = client();
        c.sender().send(Binary, &payload).unwrap();
        let out = c.pending().to_vec();
        let header_len = out.len() - len;
        let key: [u8; 4] = out[header_len - 4..header_len].try_into().unwrap();
        let mut unmasked = out[header_len..].to_vec();
        for (i, b) in unmasked.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
        assert_eq!(unmasked, payload, "length {len}");
        assert_eq!(feed(&mut server(), &out), [Ev::Message(Binary, payload)]);
    }
}

// ---- zero copy, buffers ----

#[test]
fn unfragmented_message_is_borrowed_from_the_input_buffer() {
    let mut s = server();
    s.feed(&to_server(0x82, &[5; 1000]));
    let (event, _) = s.next_event().unwrap();
    let Event::Message { data, .. } = event else {
        panic!("{event:?}")
    };
    assert_eq!(data, &[5; 1000][..]);
    let at = data.as_ptr_range();
    assert!(s.input.holds(at));
}

#[test]
fn reading_straight_into_the_input_buffer() {
    let frame = to_server(0x81, b"Hello");
    let mut s = server();
    let room = s.read_buf(4);
    assert!(room.len() >= 4);
    room[..4].copy_from_slice(&frame[..4]);
    s.commit_read(4);
    assert_eq!(events(&mut s), []);
    let room = s.read_buf(frame.len() - 4);
    room[..frame.len() - 4].copy_from_slice(&frame[4..]);
    s.commit_read(frame.len() - 4);
    assert_eq!(events(&mut s), [text("Hello")]);
}

#[test]
fn output_buffer_drains_and_compacts() {
    let mut s = server();
    s.sender().send(Binary, &[1; 10]).unwrap();
    assert_eq!(s.sender().buffered_amount(), 12);
    s.consume(5);
    assert_eq!(s.pending().len(), 7);
    s.sender().send(Binary, &[2; 3]).unwrap();
    let mut expected = vec![1; 7];
    expected.extend_from_slice(&[0x82, 3, 2, 2, 2]);
    assert_eq!(s.pending(), expected);
    s.consume(usize::MAX);
    assert_eq!(s.sender().buffered_amount(), 0);
}

/// What `send_through` puts on the wire when the writer takes `take` bytes
/// (or fails): the bytes taken, then what was queued.
fn sent_through(conn: &mut Connection, data: &[u8], take: io::Result<usize>) -> Vec<u8> {
    let mut wire = Vec::new();
    let write = |parts: &[io::IoSlice<'_>]| {
        let n = take
            .as_ref()
            .map_err(|e| io::Error::new(e.kind(), "test"))?;
        let all: Vec<u8> = parts.iter().flat_map(|p| p.to_vec()).collect();
        wire.extend_from_slice(&all[..*n]);
        Ok(*n)
    };
    conn.sender()
        .send_through(Binary, data, true, write)
        .unwrap();
    wire.extend_from_slice(conn.pending());
    let n = conn.pending().len();
    conn.consume(n);
    wire
}

#[test]
fn send_through_puts_the_same_bytes_on_the_wire_for_any_partial_write() {
    for len in [0, 300] {
        let data: Vec<u8> = (0..len as u32).map(|i| i as u8).collect();
        let mut expected = server();
        expected.sender().send(Binary, &data).unwrap();
        let expected = expected.pending().to_vec();
        for take in 0..=expected.len() {
            let mut s = server();
            assert_eq!(
                sent_through(&mut s, &data, Ok(take)),
                expected,
                "{len} {take}"
            );
            assert_eq!(s.sender().buffered_amount(), 0);
        }
        let mut s = server();
        let failed = Err(io::ErrorKind::ConnectionReset.into());
        assert_eq!(sent_through(&mut s, &data, failed), expected, "all queued");
    }
}

#[test]
fn send_through_writes_nothing_itself_when_it_would_reorder_or_must_mask() {
    let refuse = |_: &[io::IoSlice<'_>]| -> io::Result<usize> { panic!("no direct write") };
    let mut s = server();
    s.sender().send(Binary, b"first").unwrap();
    s.sender()
        .send_through(Binary, b"second", true, refuse)
        .unwrap();
    let n = s.pending().len();
    let mut peer = client();
    assert_eq!(
        feed(&mut peer, s.pending()),
        [
            Ev::Message(Binary, b"first".to_vec()),
            Ev::Message(Binary, b"second".to_vec())
        ]
    );
    s.consume(n);
    let mut c = client();
    c.sender()
        .send_through(Binary, b"masked", true, refuse)
        .unwrap();
    assert_eq!(
        peer_reads(&mut c),
        [Ev::Message(Binary, b"masked".to_vec())]
    );
    assert!(matches!(
        s.sender().send_through(Text, &[0xff], true, refuse),
        Err(SendError::InvalidUtf8 { at: 0 })
    ));
}

#[test]
fn an_idle_engine_gives_its_read_buffer_up_and_takes_one_lent() {
    let mut s = server();
    s.feed(&to_server(0x81, b"Hel"));
    let partial = to_server(0x81, b"Hello");
    assert!(s.release_read_buf().is_none(), "nothing consumed yet");
    assert_eq!(events(&mut s), [text("Hel")]);
    let buf = s.release_read_buf().expect("every byte consumed");
    let at = buf.as_ptr();
    assert!(s.lend_read_buf(buf).is_none());
    let room = s.read_buf(partial.len());
    assert_eq!(room.as_ptr(), at, "reads go into the lent buffer");
    room[..3].copy_from_slice(&partial[..3]);
    s.commit_read(3);
    assert_eq!(events(&mut s), []);
    assert!(s.release_read_buf().is_none(), "a partial frame keeps it");
    s.feed(&partial[3..]);
    assert_eq!(events(&mut s), [text("Hello")]);
}

// ---- fragments and control frames ----

#[test]
fn control_frames_interleave_with_fragments() {
    let bytes = frames_to_server(&[
        (0x01, b"He"),
        (0x89, b"p1"),
        (0x00, b"ll"),
        (0x8A, b"p2"),
        (0x80, b"o"),
        (0x82, b"next"),
    ]);
    let mut s = server();
    assert_eq!(
        feed(&mut s, &bytes),
        [
            Ev::Ping(b"p1".to_vec()),
            Ev::Pong(b"p2".to_vec()),
            text("Hello"),
            Ev::Message(Binary, b"next".to_vec()),
        ]
    );
    // The ping was answered with the same payload.
    assert_eq!(peer_reads(&mut s), [Ev::Pong(b"p1".to_vec())]);
}

#[test]
fn auto_pong_off_leaves_the_answer_to_the_caller() {
    let config = Config {
        auto_pong: false,
        ..Config::default()
    };
    let mut s = Connection::new(Role::Server, config);
    s.feed(&to_server(0x89, b"x"));
    let (event, sender) = s.next_event().unwrap();
    assert_eq!(event, Event::Ping(b"x"));
    assert!(sender.pending().is_empty());
    sender.pong(b"x").unwrap();
    assert_eq!(peer_reads(&mut s), [Ev::Pong(b"x".to_vec())]);
}

#[test]
fn empty_messages_and_fragments() {
    let bytes = frames_to_server(&[(0x81, b""), (0x02, b""), (0x00, b""), (0x80, b"")]);
    assert_eq!(
        feed(&mut server(), &bytes),
        [text(""), Ev::Message(Binary, Vec::new())]
    );
}

// ---- the bad-input table ----

/// Feeds `input` and checks the connection fails with `code`: an error event
/// last, a close frame with that code queued, the state closed, and nothing
/// accepted afterwards.
fn assert_fails(role: Role, config: Config, input: &[u8], code: u16) -> ProtocolError {
    let mut conn = Connection::new(role, config);
    let evs = feed(&mut conn, input);
    let Some(Ev::Error(err)) = evs.last().cloned() else {
        panic!("expected an error, got {evs:?}");
    };
    assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Error(_))).count(), 1);
    assert_eq!(err.close_code().0, code, "{err}");
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.failed());
    assert_eq!(conn.sent_close_code(), Some(CloseCode(code)));
    match peer_reads(&mut conn).as_slice() {
        [Ev::Close(c, reason)] => {
            assert_eq!(*c, code);
            assert_eq!(*reason, err.to_string());
        }
        other => panic!("expected one close frame, got {other:?}"),
    }
    let more = match role {
        Role::Server => to_server(0x81, b"more"),
        Role::Client => to_client(0x81, b"more"),
    };
    assert_eq!(feed(&mut conn, &more), []);
    assert_eq!(conn.sender().send(Text, b"x"), Err(SendError::Closed));
    err
}

fn server_fails(input: &[u8], code: u16) -> ProtocolError {
    assert_fails(Role::Server, Config::default(), input, code)
}

#[test]
fn reserved_opcodes_are_1002() {
    for op in (0x3..=0x7).chain(0xB..=0xF) {
        let err = server_fails(&to_server(0x80 | op, b""), 1002);
        assert_eq!(err, ProtocolError::ReservedOpcode(op));
        assert_eq!(err.to_string(), format!("reserved opcode {op:#x}"));
    }
}

#[test]
fn reserved_bits_are_1002() {
    for rsv in 1..8u8 {
        let err = server_fails(&to_server(0x81 | (rsv << 4), b"x"), 1002);
        assert_eq!(err, ProtocolError::ReservedBits(rsv));
    }
}

#[test]
fn negotiated_rsv_bits_pass() {
    let mut s = server();
    s.set_allowed_rsv(0b100);
    assert_eq!(feed(&mut s, &to_server(0xC1, b"x")), [text("x")]);
    assert_eq!(
        feed(&mut s, &to_server(0xA1, b"x")),
        [Ev::Error(ProtocolError::ReservedBits(0b010))]
    );
}

#[test]
fn unmasked_frame_from_client_is_1002() {
    let err = server_fails(&to_client(0x81, b"Hello"), 1002);
    assert_eq!(err.to_string(), "unmasked frame from client");
}

#[test]
fn masked_frame_from_server_is_1002() {
    let err = assert_fails(
        Role::Client,
        Config::default(),
        &to_server(0x81, b"Hi"),
        1002,
    );
    assert_eq!(err, ProtocolError::MaskedFrame);
}

#[test]
fn fragmented_control_frames_are_1002() {
    for op in [0x8, 0x9, 0xA] {
        let err = server_fails(&to_server(op, b""), 1002);
        assert!(matches!(err, ProtocolError::FragmentedControlFrame(_)));
    }
}

#[test]
fn oversized_control_frames_are_1002_from_the_header() {
    for op in [0x88, 0x89, 0x8A] {
        let frame = to_server(op, &[b'a'; 126]);
        // Only the header is fed: the error needs no payload.
        let err = server_fails(&frame[..8], 1002);
        assert!(matches!(
            err,
            ProtocolError::ControlFrameTooLong { len: 126, .. }
        ));
    }
    // 125 bytes is fine.
    let evs = feed(&mut server(), &to_server(0x89, &[1; 125]));
    assert_eq!(evs, [Ev::Ping(vec![1; 125])]);
}

#[test]
fn length_with_top_bit_is_1002() {
    let bytes = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
    let err = server_fails(&bytes, 1002);
    assert!(matches!(err, ProtocolError::InvalidLength(_)));
}

#[test]
fn continuation_without_start_is_1002() {
    let err = server_fails(&to_server(0x80, b"lo"), 1002);
    assert_eq!(err, ProtocolError::UnexpectedContinuation);
}

#[test]
fn new_message_during_fragmented_message_is_1002() {
    for b0 in [0x81, 0x82, 0x01, 0x02] {
        let mut bytes = to_server(0x01, b"Hel");
        bytes.extend(to_server(b0, b"lo"));
        let err = server_fails(&bytes, 1002);
        assert!(matches!(err, ProtocolError::ExpectedContinuation(_)));
    }
}

#[test]
fn bad_close_payloads() {
    server_fails(&to_server(0x88, &[0x03]), 1002);
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2000, 5000] {
        let err = server_fails(&to_server(0x88, &code.to_be_bytes()), 1002);
        assert_eq!(err, ProtocolError::InvalidCloseCode(code));
    }
    let err = server_fails(&to_server(0x88, &[0x03, 0xE8, b'a', 0xC0]), 1007);
    assert_eq!(err, ProtocolError::InvalidCloseReason(1));
}

#[test]
fn invalid_utf8_in_a_single_frame_is_1007() {
    let err = server_fails(&to_server(0x81, b"hello \xFFworld"), 1007);
    assert_eq!(err.to_string(), "text message is not valid UTF-8 at byte 6");
    // A message that ends inside a character.
    let err = server_fails(&to_server(0x81, b"ab\xE2\x82"), 1007);
    assert_eq!(err, ProtocolError::InvalidUtf8 { at: 2 });
}

/// Text with multi-byte characters, then F0 9F cut short by 0xFF at byte 8.
const BAD_TEXT: &[u8] = b"a\xC3\xA9\xE2\x82\xAC\xF0\x9F\xFF\x98\x80z";

#[test]
fn invalid_utf8_across_every_fragment_split_is_1007() {
    let n = BAD_TEXT.len();
    for a in 0..=n {
        for b in a..=n {
            let bytes = frames_to_server(&[
                (0x01, &BAD_TEXT[..a]),
                (0x00, &BAD_TEXT[a..b]),
                (0x80, &BAD_TEXT[b..]),
            ]);
            let err = server_fails(&bytes, 1007);
            assert_eq!(err, ProtocolError::InvalidUtf8 { at: 6 }, "split {a} {b}");
        }
    }
    // And a valid text survives every split.
    let good = "a\u{e9}\u{20ac}\u{1F600}z".as_bytes();
    for a in 0..=good.len() {
        for b in a..=good.len() {
            let bytes =
                frames_to_server(&[(0x01, &good[..a]), (0x00, &good[a..b]), (0x80, &good[b..])]);
            assert_eq!(
                feed(&mut server(), &bytes),
                [Ev::Message(Text, good.to_vec())]
            );
        }
    }
}

#[test]
fn invalid_utf8_fails_as_soon_as_the_byte_arrives() {
    // The 0xFF at payload byte 8 makes the error certain: in one frame it is
    // stream byte 6 + 8; after a first fragment of 8 bytes, 14 + 6 + 0.
    let one = to_server(0x81, BAD_TEXT);
    let two = [
        to_server(0x01, &BAD_TEXT[..8]),
        to_server(0x80, &BAD_TEXT[8..]),
    ]
    .concat();
    for (stream, bad_byte) in [(one, 14), (two, 20)] {
        for config in [
            Config::default(),
            Config {
                streaming: true,
                ..Config::default()
            },
        ] {
            let mut s = Connection::new(Role::Server, config);
            let failed_at = stream.iter().position(|byte| {
                feed(&mut s, &[*byte])
                    .iter()
                    .any(|e| matches!(e, Ev::Error(_)))
            });
            assert_eq!(failed_at, Some(bad_byte));
        }
    }
}

#[test]
fn frame_over_the_limit_is_1009_before_its_payload() {
    let config = Config {
        max_frame_size: 100,
        ..Config::default()
    };
    let frame = to_server(0x82, &[0; 101]);
    let err = assert_fails(Role::Server, config.clone(), &frame[..8], 1009);
    assert_eq!(err, ProtocolError::FrameTooLarge { len: 101, max: 100 });
    // A huge declared length fails the same way, from the header alone.
    let huge = [
        0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
    ];
    assert_fails(Role::Server, config, &huge, 1009);
}

#[test]
fn message_over_the_limit_is_1009_before_allocating() {
    let config = Config {
        max_message_size: 100,
        ..Config::default()
    };
    let mut bytes = to_server(0x02, &[1; 60]);
    let second = to_server(0x00, &[2; 41]);
    bytes.extend_from_slice(&second[..8]);
    let mut s = Connection::new(Role::Server, config.clone());
    let evs = feed(&mut s, &bytes);
    assert_eq!(
        evs,
        [Ev::Error(ProtocolError::MessageTooLarge {
            len: 101,
            max: 100
        })]
    );
    assert!(s.assembler.assembled().len() <= 60);
    assert_fails(Role::Server, config.clone(), &bytes, 1009);
    // Exactly at the limit is fine.
    let mut ok = to_server(0x02, &[1; 60]);
    ok.extend(to_server(0x80, &[2; 40]));
    let evs = feed(&mut Connection::new(Role::Server, config), &ok);
    assert!(matches!(&evs[..], [Ev::Message(Binary, d)] if d.len() == 100));
}

#[test]
fn binary_where_only_text_is_accepted_is_1003() {
    let config = Config {
        reject_binary: true,
        ..Config::default()
    };
    let err = assert_fails(Role::Server, config.clone(), &to_server(0x02, b"x"), 1003);
    assert_eq!(err, ProtocolError::BinaryNotAccepted);
    let evs = feed(
        &mut Connection::new(Role::Server, config),
        &to_server(0x81, b"t"),
    );
    assert_eq!(evs, [text("t")]);
}

// ---- the close handshake ----

#[test]
fn peer_close_is_answered_and_ends_the_events() {
    let mut s = server();
    let mut bytes = to_server(0x88, b"\x03\xE8bye");
    bytes.extend(to_server(0x81, b"after"));
    assert_eq!(feed(&mut s, &bytes), [Ev::Close(1000, "bye".into())]);
    assert_eq!(s.state(), State::Closed);
    assert!(s.close_received() && s.close_sent());
    assert_eq!(s.received_close_code(), Some(CloseCode::NORMAL));
    assert_eq!(peer_reads(&mut s), [Ev::Close(1000, String::new())]);
    assert_eq!(feed(&mut s, &to_server(0x81, b"more")), []);
    assert!(
        s.input.data().is_empty(),
        "input after the close is dropped"
    );
    assert_eq!(s.sender().send(Text, b"x"), Err(SendError::Closed));
    assert_eq!(s.sender().ping(b""), Err(SendError::Closed));
    assert_eq!(
        s.sender().close(CloseCode::NORMAL, ""),
        Err(SendError::Closed)
    );
}

#[test]
fn close_without_code_is_1005_and_answered_empty() {
    let mut c = client();
    assert_eq!(
        feed(&mut c, &to_client(0x88, b"")),
        [Ev::Close(1005, String::new())]
    );
    assert_eq!(c.sent_close_code(), Some(CloseCode::NO_STATUS));
    let out = c.pending().to_vec();
    assert_eq!((out[0], out[1]), (0x88, 0x80), "an empty masked close");
    assert_eq!(peer_reads(&mut c), [Ev::Close(1005, String::new())]);
}

#[test]
fn closing_with_1005_sends_a_close_frame_without_a_code() {
    let mut s = server();
    s.sender().close(CloseCode::NO_STATUS, "").unwrap();
    assert_eq!(s.pending(), [0x88, 0x00], "an empty unmasked close");
    assert_eq!(s.sent_close_code(), Some(CloseCode::NO_STATUS));
    assert_eq!(peer_reads(&mut s), [Ev::Close(1005, String::new())]);
}

#[test]
fn we_close_first_then_the_peer_answers() {
    let mut c = client();
    let mut s = server();
    c.sender().close(CloseCode::GOING_AWAY, "done").unwrap();
    assert_eq!(c.state(), State::CloseSent);
    assert_eq!(c.sender().send(Binary, b"x"), Err(SendError::Closed));
    assert_eq!(
        c.sender().close(CloseCode::NORMAL, ""),
        Err(SendError::Closed)
    );
    // The server may still have had data in flight before it saw the close.
    s.sender().send(Text, b"late").unwrap();
    assert_eq!(pump(&mut c, &mut s), [Ev::Close(1001, "done".into())]);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(
        pump(&mut s, &mut c),
        [text("late"), Ev::Close(1001, String::new())]
    );
    assert_eq!(c.state(), State::Closed);
    assert!(c.pending().is_empty(), "no second close");
}

#[test]
fn close_codes_and_reasons_are_checked_before_sending() {
    let mut s = server();
    for code in [0u16, 999, 1004, 1006, 1015, 2999, 5000] {
        assert_eq!(
            s.sender().close(CloseCode(code), ""),
            Err(SendError::InvalidCloseCode(code))
        );
    }
    assert_eq!(
        s.sender().close(CloseCode::NO_STATUS, "why"),
        Err(SendError::ReasonWithoutCode)
    );
    let long = "x".repeat(124);
    assert_eq!(
        s.sender().close(CloseCode::NORMAL, &long),
        Err(SendError::CloseReasonTooLong(124))
    );
    assert_eq!(s.state(), State::Open);
    s.sender().close(CloseCode(4000), &long[..123]).unwrap();
    assert_eq!(
        peer_reads(&mut s),
        [Ev::Close(4000, long[..123].to_string())]
    );
}

#[test]
fn sender_refuses_misuse() {
    let mut s = server();
    assert_eq!(
        s.sender().send(Text, b"ok\xFF"),
        Err(SendError::InvalidUtf8 { at: 2 })
    );
    assert_eq!(
        s.sender().ping(&[0; 126]),
        Err(SendError::ControlFrameTooLong(126))
    );
    assert_eq!(
        s.sender().pong(&[0; 126]),
        Err(SendError::ControlFrameTooLong(126))
    );
    s.sender().send_fragment(Text, b"\xE2\x82", false).unwrap();
    assert_eq!(
        s.sender().send(Binary, b"x"),
        Err(SendError::MessageInProgress(Text))
    );
    assert_eq!(
        s.sender().send_fragment(Binary, b"x", true),
        Err(SendError::FragmentKindMismatch {
            open: Text,
            given: Binary
        })
    );
    // A text message may not end inside a character.
    assert_eq!(
        s.sender().send_fragment(Text, b"", true),
        Err(SendError::InvalidUtf8 { at: 0 })
    );
    s.sender().ping(b"between").unwrap();
    s.sender().send_fragment(Text, b"\xAC", true).unwrap();
    assert_eq!(
        peer_reads(&mut s),
        [Ev::Ping(b"between".to_vec()), text("\u{20ac}")]
    );
}

// ---- streaming ----

fn streaming(role: Role) -> Connection {
    Connection::new(
        role,
        Config {
            streaming: true,
            ..Config::default()
        },
    )
}

/// Joins streamed pieces into messages, checking each text piece is UTF-8.
fn join_pieces(evs: &[Ev]) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut current: Option<(MessageKind, Vec<u8>)> = None;
    for e in evs {
        match e {
            Ev::Fragment(kind, data, fin) => {
                if *kind == Text {
                    assert!(std::str::from_utf8(data).is_ok(), "piece {data:?}");
                }
                let (k, buf) = current.get_or_insert_with(|| (*kind, Vec::new()));
                assert_eq!(k, kind);
                buf.extend_from_slice(data);
                if *fin {
                    let (k, buf) = current.take().unwrap();
                    out.push(Ev::Message(k, buf));
                }
            }
            other => out.push(other.clone()),
        }
    }
    assert!(current.is_none(), "unfinished message");
    out
}

#[test]
fn streaming_delivers_pieces_on_character_boundaries() {
    let good = "a\u{e9}\u{20ac}\u{1F600}z".as_bytes();
    for a in 0..=good.len() {
        for b in a..=good.len() {
            let bytes = frames_to_server(&[
                (0x01, &good[..a]),
                (0x89, b"p"),
                (0x00, &good[a..b]),
                (0x80, &good[b..]),
            ]);
            // Byte at a time: pieces arrive as the bytes do.
            let mut s = streaming(Role::Server);
            let mut evs = Vec::new();
            for byte in &bytes {
                evs.extend(feed(&mut s, &[*byte]));
            }
            assert_eq!(
                join_pieces(&evs),
                [Ev::Ping(b"p".to_vec()), Ev::Message(Text, good.to_vec())],
                "split {a} {b}"
            );
        }
    }
}

#[test]
fn streaming_large_frame_arrives_in_pieces() {
    let mut s = streaming(Role::Client);
    let frame = to_client(0x82, &[9; 5000]);
    let mut evs = Vec::new();
    for chunk in frame.chunks(1000) {
        evs.extend(feed(&mut s, chunk));
    }
    assert!(evs.len() >= 5);
    assert_eq!(join_pieces(&evs), [Ev::Message(Binary, vec![9; 5000])]);
}

#[test]
fn streaming_invalid_utf8_across_splits_is_1007() {
    let n = BAD_TEXT.len();
    for a in 0..=n {
        let mut bytes = to_server(0x01, &BAD_TEXT[..a]);
        bytes.extend(to_server(0x80, &BAD_TEXT[a..]));
        let err = assert_fails(
            Role::Server,
            Config {
                streaming: true,
                ..Config::default()
            },
            &bytes,
            1007,
        );
        assert_eq!(err, ProtocolError::InvalidUtf8 { at: 6 }, "split {a}");
    }
}

// ---- a whole session through memory ----

#[test]
fn client_and_server_session() {
    let mut c = client();
    let mut s = server();
    for len in [0usize, 125, 126, 65535, 65536] {
        let data: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        c.sender().send(Text, &data).unwrap();
        assert_eq!(pump(&mut c, &mut s), [Ev::Message(Text, data.clone())]);
        s.sender().send(Binary, &data).unwrap();
        assert_eq!(pump(&mut s, &mut c), [Ev::Message(Binary, data)]);
    }
    // Fragmented, with pings between the fragments.
    c.sender().send_fragment(Binary, b"one ", false).unwrap();
    c.sender().ping(b"1").unwrap();
    c.sender().send_fragment(Binary, b"two ", false).unwrap();
    c.sender().ping(b"2").unwrap();
    c.sender().send_fragment(Binary, b"three", true).unwrap();
    assert_eq!(
        pump(&mut c, &mut s),
        [
            Ev::Ping(b"1".to_vec()),
            Ev::Ping(b"2".to_vec()),
            Ev::Message(Binary, b"one two three".to_vec()),
        ]
    );
    assert_eq!(
        pump(&mut s, &mut c),
        [Ev::Pong(b"1".to_vec()), Ev::Pong(b"2".to_vec())]
    );
    s.sender().close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(pump(&mut s, &mut c), [Ev::Close(1000, "bye".into())]);
    assert_eq!(pump(&mut c, &mut s), [Ev::Close(1000, String::new())]);
    assert_eq!((c.state(), s.state()), (State::Closed, State::Closed));
}

#[test]
fn sixteen_mib_message_at_the_default_limit() {
    let data = vec![0x5A; 16 << 20];
    let mut c = client();
    let mut s = server();
    c.sender().send(Binary, &data).unwrap();
    let n = c.pending().len();
    s.feed(c.pending());
    c.consume(n);
    match s.next_event() {
        Some((Event::Message { kind, data: got }, _)) => {
            assert_eq!(kind, Binary);
            assert!(got == &data[..]);
        }
        other => panic!("{:?}", other.map(|(e, _)| own(&e))),
    }
    // Fragmented, the same size assembles in one buffer.
    c.sender()
        .send_fragment(Binary, &data[..1 << 20], false)
        .unwrap();
    c.sender()
        .send_fragment(Binary, &data[1 << 20..], true)
        .unwrap();
    let n = c.pending().len();
    s.feed(c.pending());
    c.consume(n);
    match s.next_event() {
        Some((Event::Message { data: got, .. }, _)) => assert!(got == &data[..]),
        other => panic!("{:?}", other.map(|(e, _)| own(&e))),
    }
    // One byte more is refused.
    c.sender().send(Binary, &[0; (16 << 20) + 1]).unwrap();
    let header = c.pending()[..14].to_vec();
    s.feed(&header);
    let (event, _) = s.next_event().unwrap();
    assert_eq!(
        event.close_code_if_error(),
        Some(CloseCode::MESSAGE_TOO_BIG)
    );
}

// ---- property tests ----

/// A message to send: kind, payload, where to cut it into fragments, and
/// whether to send a ping after each fragment.
#[derive(Debug, Clone)]
struct Msg {
    kind: MessageKind,
    data: Vec<u8>,
    cuts: Vec<usize>,
    pings: bool,
}

fn any_msg() -> impl Strategy<Value = Msg> {
    let data = prop_oneof![
        any::<String>().prop_map(|s| (Text, s.into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|d| (Binary, d)),
    ];
    (
        data,
        proptest::collection::vec(any::<usize>(), 0..4),
        any::<bool>(),
    )
        .prop_map(|((kind, data), cuts, pings)| {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
            cuts.sort_unstable();
            Msg {
                kind,
                data,
                cuts,
                pings,
            }
        })
}

/// Sends `msgs` from `sender` and returns the events the peer should see.
fn send_all(sender: &mut Sender, msgs: &[Msg]) -> Vec<Ev> {
    let mut expected = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        if m.cuts.is_empty() {
            sender.send(m.kind, &m.data).unwrap();
        } else {
            let mut start = 0;
            for &cut in &m.cuts {
                sender
                    .send_fragment(m.kind, &m.data[start..cut], false)
                    .unwrap();
                start = cut;
                if m.pings {
                    sender.ping(&[i as u8]).unwrap();
                    expected.push(Ev::Ping(vec![i as u8]));
                }
            }
            sender
                .send_fragment(m.kind, &m.data[start..], true)
                .unwrap();
        }
        expected.push(Ev::Message(m.kind, m.data.clone()));
    }
    expected
}

/// Feeds `bytes` in chunks of the given sizes (cycled), collecting events.
fn feed_in_chunks(conn: &mut Connection, bytes: &[u8], sizes: &[usize]) -> Vec<Ev> {
    let mut evs = Vec::new();
    let mut rest = bytes;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).clamp(1, rest.len()));
        evs.extend(feed(conn, chunk));
        rest = tail;
    }
    evs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_messages_round_trip_in_any_split(
        msgs in proptest::collection::vec(any_msg(), 0..6),
        sizes in proptest::collection::vec(1..64usize, 1..8),
        client_sends: bool,
    ) {
        let (mut from, role) = if client_sends {
            (client(), Role::Server)
        } else {
            (server(), Role::Client)
        };
        let expected = send_all(from.sender(), &msgs);
        let bytes = from.pending().to_vec();

        let whole = feed(&mut Connection::new(role, Config::default()), &bytes);
        prop_assert_eq!(&whole, &expected);

        let mut conn = Connection::new(role, Config::default());
        prop_assert_eq!(&feed_in_chunks(&mut conn, &bytes, &sizes), &expected);

        let mut conn = Connection::new(role, Config::default());
        prop_assert_eq!(&feed_in_chunks(&mut conn, &bytes, &[1]), &expected);

        let mut conn = Connection::new(role, Config { streaming: true, ..Config::default() });
        prop_assert_eq!(&join_pieces(&feed_in_chunks(&mut conn, &bytes, &sizes)), &expected);
    }

    #[test]
    fn mutated_streams_fail_cleanly_or_pass(
        msgs in proptest::collection::vec(any_msg(), 1..4),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        sizes in proptest::collection::vec(1..64usize, 1..4),
        streaming: bool,
    ) {
        let mut c = client();
        send_all(c.sender(), &msgs);
        let mut bytes = c.pending().to_vec();
        for (at, x) in flips {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
        let config = Config { streaming, ..Config::default() };
        let mut s = Connection::new(Role::Server, config.clone());
        let evs = feed_in_chunks(&mut s, &bytes, &sizes);
        // The same bytes in one piece give the same outcome.
        let mut whole = Connection::new(Role::Server, config);
        let whole_evs = feed(&mut whole, &bytes);
        if streaming {
            prop_assert_eq!(
                evs.iter().find(|e| matches!(e, Ev::Error(_))),
                whole_evs.iter().find(|e| matches!(e, Ev::Error(_)))
            );
        } else {
            prop_assert_eq!(&evs, &whole_evs);
        }
        let errors = evs.iter().filter(|e| matches!(e, Ev::Error(_))).count();
        prop_assert!(errors <= 1);
        if errors == 1 {
            prop_assert!(matches!(evs.last(), Some(Ev::Error(_))));
            prop_assert_eq!(s.state(), State::Closed);
        }
    }

    #[test]
    fn any_bytes_never_panic_and_fail_at_most_once(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        sizes in proptest::collection::vec(1..32usize, 1..4),
        streaming: bool,
    ) {
        let config = Config { streaming, max_message_size: 150, max_frame_size: 100, ..Config::default() };
        for role in [Role::Server, Role::Client] {
            let mut conn = Connection::new(role, config.clone());
            let evs = feed_in_chunks(&mut conn, &bytes, &sizes);
            let terminal = evs.iter().filter(|e| matches!(e, Ev::Error(_) | Ev::Close(..))).count();
            prop_assert!(terminal <= 1);
            if terminal == 1 {
                prop_assert!(matches!(evs.last(), Some(Ev::Error(_) | Ev::Close(..))));
                prop_assert_eq!(conn.state(), State::Closed);
            }
        }
    }
}

impl Event<'_> {
    /// The close code of an error event (test helper).
    fn close_code_if_error(&self) -> Option<CloseCode> {
        match self {
            Event::Error(err) => Some(err.close_code()),
            _ => None,
        }
    }
}

// ---- echoing a received message (large-message path) ----

#[test]
fn echo_of_received_text_is_sent_and_other_text_still_checked() {
    let mut s = server();
    s.feed(&frames_to_server(&[
        (0x81, "h\u{e9}llo".as_bytes()),
        (0x82, &[0xFF, 0xFE]),
    ]));
    let mut kinds = Vec::new();
    while let Some((event, sender)) = s.next_event() {
        let Event::Message { kind, data } = event else {
            panic!("{event:?}")
        };
        kinds.push(kind);
        // The received bytes sent as they are: text or binary as received.
        sender.send(kind, data).unwrap();
        // The binary message's bytes sent as text are checked (and refused);
        // so is a copy of them.
        if kind == Binary {
            assert!(matches!(
                sender.send(Text, data),
                Err(SendError::InvalidUtf8 { at: 0 })
            ));
            let copy = data.to_vec();
            assert!(matches!(
                sender.send(Text, &copy),
                Err(SendError::InvalidUtf8 { at: 0 })
            ));
        }
    }
    assert_eq!(kinds, [Text, Binary]);
    assert_eq!(
        peer_reads(&mut s),
        [text("h\u{e9}llo"), Ev::Message(Binary, vec![0xFF, 0xFE])]
    );
}

/// A server fed `messages` (text, masked, in one piece with `trailing` bytes
/// of a next frame after them) echoes each through `send_through` with a
/// writer taking `take` bytes; returns the wire and the events.
fn echo_through(messages: &[&[u8]], take: usize, trailing: &[u8]) -> (Vec<u8>, Vec<Ev>) {
    let mut s = server();
    let frames: Vec<(u8, &[u8])> = messages.iter().map(|m| (0x81, *m)).collect();
    let mut input = frames_to_server(&frames);
    input.extend_from_slice(trailing);
    s.feed(&input);
    let mut wire = Vec::new();
    let mut seen = Vec::new();
    while let Some((event, sender)) = s.next_event() {
        seen.push(own(&event));
        let Event::Message { kind, data } = event else {
            continue;
        };
        let write = |parts: &[io::IoSlice<'_>]| {
            let all: Vec<u8> = parts.iter().flat_map(|p| p.to_vec()).collect();
            let n = take.min(all.len());
            wire.extend_from_slice(&all[..n]);
            Ok(n)
        };
        sender.send_through(kind, data, false, write).unwrap();
        // Later frames queue behind the rest, whatever it waits for.
        sender.ping(b"p").unwrap();
    }
    while !s.pending().is_empty() {
        let n = s.pending().len().min(7);
        wire.extend_from_slice(&s.pending()[..n]);
        s.consume(n);
    }
    assert_eq!(s.sender().buffered_amount(), 0);
    (wire, seen)
}

#[test]
fn echo_through_queues_the_rest_of_a_received_message_without_changing_the_wire() {
    let a: Vec<u8> = "\u{e9}a\u{20ac}".repeat(100).into_bytes();
    let b = b"second".to_vec();
    let mut expected = server();
    for m in [&a[..], &b[..]] {
        expected.sender().send(Text, m).unwrap();
        expected.sender().ping(b"p").unwrap();
    }
    let expected = expected.pending().to_vec();
    for take in [0, 1, 2, 3, 4, 100, a.len() + 4, a.len() + 5] {
        let (wire, seen) = echo_through(&[&a, &b], take, &[]);
        assert_eq!(
            seen,
            [Ev::Message(Text, a.clone()), Ev::Message(Text, b.clone())]
        );
        assert_eq!(wire, expected, "take {take}");
    }
}

#[test]
fn bytes_after_a_message_echoed_by_reference_are_kept_for_the_next_frame() {
    let a = vec![b'x'; 5000];
    // The next message arrives in two pieces: its first half with `a`.
    let next = to_server(0x81, b"next one");
    let (head, rest) = next.split_at(5);
    let mut s = server();
    let mut input = to_server(0x81, &a);
    input.extend_from_slice(head);
    s.feed(&input);
    {
        let (event, sender) = s.next_event().unwrap();
        let Event::Message { kind, data } = event else {
            panic!()
        };
        sender.send_through(kind, data, false, |_| Ok(10)).unwrap();
    }
    // Before the engine's next call, its output shows the rest where it is.
    assert_eq!(s.pending(), &a[6..]);
    assert_eq!(s.sender.pending(), b"", "the sender alone does not");
    assert!(s.next_event().is_none());
    s.feed(rest);
    assert_eq!(events(&mut s), [text("next one")]);
    let mut wire = Vec::new();
    while !s.pending().is_empty() {
        let n = s.pending().len();
        wire.extend_from_slice(s.pending());
        s.consume(n);
    }
    let mut expected = server();
    expected.sender().send(Text, &a).unwrap();
    assert_eq!(wire[..], expected.pending()[10..]);
}

#[test]
fn an_input_buffer_handed_over_comes_back_once_written() {
    let a = vec![b'y'; 100_000];
    let mut s = server();
    s.feed(&to_server(0x81, &a));
    // The payload follows a 14-byte header (64-bit length, masking key).
    let first = s.input.data().as_ptr();
    {
        let (event, sender) = s.next_event().unwrap();
        let Event::Message { kind, data } = event else {
            panic!()
        };
        sender.send_through(kind, data, false, |_| Ok(0)).unwrap();
    }
    assert!(s.next_event().is_none());
    assert_eq!(s.sender().buffered_amount(), 10 + a.len());
    let n = s.pending().len();
    assert_eq!(
        n, 10,
        "the header, then the message's bytes where they were"
    );
    s.consume(n);
    assert_eq!(s.pending().as_ptr(), first.wrapping_add(14));
    s.consume(a.len());
    // The next read goes into the same allocation again.
    let room: *const u8 = s.read_buf(1).as_ptr();
    assert_eq!(room, first);
}

#[test]
fn text_unmasked_and_checked_in_blocks_splits_characters_and_finds_the_bad_byte() {
    // Characters of 1 to 4 bytes, so block boundaries fall inside them.
    let text: Vec<u8> = "a\u{e9}\u{20ac}\u{1F600}"
        .repeat(3 * CACHE_BLOCK / 10 + 7)
        .into_bytes();
    for pieces in [1, 3, 1000] {
        let mut s = server();
        let wire = to_server(0x81, &text);
        let mut seen = Vec::new();
        for piece in wire.chunks(wire.len().div_ceil(pieces)) {
            seen.extend(feed(&mut s, piece));
        }
        assert_eq!(seen, [Ev::Message(Text, text.clone())], "{pieces} pieces");
    }
    let mut bad = text.clone();
    let at = 2 * CACHE_BLOCK + 3;
    bad[at] = 0xFF;
    let valid_up_to = std::str::from_utf8(&bad).unwrap_err().valid_up_to() as u64;
    assert_eq!(
        feed(&mut server(), &to_server(0x81, &bad)),
        [Ev::Error(ProtocolError::InvalidUtf8 { at: valid_up_to })]
    );
}
