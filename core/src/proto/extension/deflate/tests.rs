//! permessage-deflate: RFC 7692's examples byte for byte, every negotiation
//! parameter, sessions through memory, and the bad input it brings.

use super::*;
use crate::proto::handshake::{
    ClientHandshake, ClientOptions, HandshakeError, Headers, Request, accept_key,
};
use crate::proto::{CloseCode, Config, Connection, Event, MessageKind, ProtocolError, Role, WsUrl};

use MessageKind::{Binary, Text};

/// An owned message event, or the error that failed the connection.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Message(MessageKind, Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    Error(ProtocolError),
    Other,
}

fn events(conn: &mut Connection) -> Vec<Ev> {
    let mut out = Vec::new();
    while let Some((e, _)) = conn.next_event() {
        out.push(match e {
            Event::Message { kind, data } => Ev::Message(kind, data.to_vec()),
            Event::Fragment { kind, data, fin } => Ev::Fragment(kind, data.to_vec(), fin),
            Event::Error(err) => Ev::Error(err),
            _ => Ev::Other,
        });
    }
    out
}

fn text(s: &str) -> Ev {
    Ev::Message(Text, s.as_bytes().to_vec())
}

/// Compresses every message, whatever its size.
fn eager() -> DeflateConfig {
    DeflateConfig {
        threshold: 0,
        ..DeflateConfig::default()
    }
}

fn agreement(params: DeflateParams, config: DeflateConfig) -> Agreement {
    Agreement { params, config }
}

const DEFAULT_PARAMS: DeflateParams = DeflateParams {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

fn engine(role: Role, config: Config, deflate: Option<&Agreement>) -> Connection {
    let mut conn = Connection::new(role, config);
    if let Some(agreement) = deflate {
        conn.enable_deflate(agreement);
    }
    conn
}

/// A server with permessage-deflate on, compressing every message.
fn deflate_server() -> Connection {
    engine(
        Role::Server,
        Config::default(),
        Some(&agreement(DEFAULT_PARAMS, eager())),
    )
}

/// A client with permessage-deflate on, compressing every message.
fn deflate_client() -> Connection {
    engine(
        Role::Client,
        Config::default(),
        Some(&agreement(DEFAULT_PARAMS, eager())),
    )
}

/// Takes what `conn` queued.
fn take(conn: &mut Connection) -> Vec<u8> {
    let out = conn.pending().to_vec();
    conn.consume(out.len());
    out
}

/// A frame as a client sends it, masked with an all-zero key (so the
/// payload reads as given).
fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut out = vec![b0, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    out.extend_from_slice(payload);
    out
}

/// Moves `from`'s output to `to` in `chunk`-byte pieces and returns what
/// `to` saw.
fn pump(from: &mut Connection, to: &mut Connection, chunk: usize) -> Vec<Ev> {
    let bytes = take(from);
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        to.feed(piece);
        out.extend(events(to));
    }
    out
}

/// The error that failed `conn` when fed `input`, checking the close code sent.
fn fails(conn: &mut Connection, input: &[u8], code: u16) -> ProtocolError {
    conn.feed(input);
    let evs = events(conn);
    let Some(Ev::Error(err)) = evs.last() else {
        panic!("no error in {evs:?}");
    };
    assert_eq!(err.close_code(), CloseCode(code), "{err}");
    assert!(conn.failed());
    assert_eq!(conn.sent_close_code(), Some(CloseCode(code)));
    err.clone()
}

// --- RFC 7692 section 7.2.3, byte for byte ---

const HELLO: [u8; 9] = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

#[test]
fn rfc_hello_compressed() {
    let mut server = deflate_server();
    server.sender().send(Text, b"Hello").unwrap();
    assert_eq!(take(&mut server), HELLO);
    let mut client = deflate_client();
    client.feed(&HELLO);
    assert_eq!(events(&mut client), [text("Hello")]);
}

#[test]
fn rfc_hello_twice_with_context_takeover() {
    let mut server = deflate_server();
    server.sender().send(Text, b"Hello").unwrap();
    server.sender().send(Text, b"Hello").unwrap();
    let second = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
    assert_eq!(take(&mut server), [&HELLO[..], &second].concat());
    let mut client = deflate_client();
    client.feed(&HELLO);
    client.feed(&second);
    assert_eq!(events(&mut client), [text("Hello"), text("Hello")]);
}

#[test]
fn rfc_hello_twice_without_context_takeover() {
    let params = DeflateParams {
        server_no_context_takeover: true,
        ..DEFAULT_PARAMS
    };
    let mut server = engine(
        Role::Server,
        Config::default(),
        Some(&agreement(params, eager())),
    );
    server.sender().send(Text, b"Hello").unwrap();
    server.sender().send(Text, b"Hello").unwrap();
    assert_eq!(take(&mut server), [HELLO, HELLO].concat());
}

#[test]
fn rfc_uncompressed_block() {
    let stored = [
        0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    let mut client = deflate_client();
    client.feed(&stored);
    assert_eq!(events(&mut client), [text("Hello")]);
    // Level 0 writes exactly this form.
    let level0 = DeflateConfig {
        level: 0,
        ..eager()
    };
    let mut server = engine(
        Role::Server,
        Config::default(),
        Some(&agreement(DEFAULT_PARAMS, level0)),
    );
    server.sender().send(Text, b"Hello").unwrap();
    assert_eq!(take(&mut server), stored);
}

#[test]
fn rfc_fragmented_hello() {
    let mut client = deflate_client();
    client.feed(&[0x41, 0x03, 0xf2, 0x48, 0xcd]);
    assert_eq!(events(&mut client), []);
    client.feed(&[0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]);
    assert_eq!(events(&mut client), [text("Hello")]);
}

#[test]
fn rfc_final_block_and_two_blocks() {
    let mut client = deflate_client();
    // 7.2.3.4: a block with BFINAL set.
    client.feed(&[0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]);
    // 7.2.3.5: two DEFLATE blocks in one message.
    client.feed(&[
        0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ]);
    // The stream starts afresh after the final block: "Hello" again.
    client.feed(&HELLO);
    assert_eq!(
        events(&mut client),
        [text("Hello"), text("Hello"), text("Hello")]
    );
}

#[test]
fn rfc_empty_message() {
    // 7.2.3.6: an empty message compresses to a single 0x00 byte.
    let mut server = deflate_server();
    server.sender().send(Binary, b"").unwrap();
    let out = take(&mut server);
    assert_eq!(out, [0xc2, 0x01, 0x00]);
    let mut client = deflate_client();
    client.feed(&out);
    client.feed(&[0xc1, 0x00]);
    assert_eq!(
        events(&mut client),
        [Ev::Message(Binary, vec![]), Ev::Message(Text, vec![])]
    );
}

// --- sessions through memory ---

/// Sends `messages` from `from` to `to` in pieces of every size in `chunks`
/// and checks they arrive intact; returns the bytes that went over the wire.
fn round_trip(
    from: &mut Connection,
    to: &mut Connection,
    messages: &[(MessageKind, Vec<u8>)],
    chunk: usize,
) -> usize {
    let mut wire = 0;
    for (kind, data) in messages {
        from.sender().send(*kind, data).unwrap();
        wire += from.pending().len();
        assert_eq!(pump(from, to, chunk), [Ev::Message(*kind, data.clone())]);
    }
    wire
}

fn chat_messages() -> Vec<(MessageKind, Vec<u8>)> {
    (0..20)
        .map(|i| {
            let json = format!(
                r#"{{"type":"chat","room":"lobby","user":"player{i}","text":"hello number {i} from wsx, é ü 漢字"}}"#
            );
            let kind = if i % 2 == 0 { Text } else { Binary };
            (kind, json.into_bytes())
        })
        .chain([(Binary, (0..70_000u32).map(|i| (i % 97) as u8).collect())])
        .collect()
}

fn session(params: DeflateParams, client_config: DeflateConfig, server_config: DeflateConfig) {
    let messages = chat_messages();
    let plain: usize = messages.iter().map(|(_, d)| d.len()).sum();
    let mut client = engine(
        Role::Client,
        Config::default(),
        Some(&agreement(params, client_config)),
    );
    let mut server = engine(
        Role::Server,
        Config::default(),
        Some(&agreement(params, server_config)),
    );
    for chunk in [1, 7, 4096] {
        let up = round_trip(&mut client, &mut server, &messages, chunk);
        let down = round_trip(&mut server, &mut client, &messages, chunk);
        assert!(
            up < plain && down < plain,
            "compressed {up} / {down} of {plain}"
        );
    }
}

#[test]
fn session_with_context_takeover() {
    session(
        DEFAULT_PARAMS,
        DeflateConfig::default(),
        DeflateConfig::default(),
    );
}

#[test]
fn session_without_context_takeover_and_small_windows() {
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: 9,
        client_max_window_bits: 10,
    };
    session(
        params,
        eager(),
        DeflateConfig {
            level: 9,
            ..eager()
        },
    );
}

#[test]
fn context_takeover_makes_repeats_smaller() {
    let sizes = |no_takeover: bool| {
        let params = DeflateParams {
            server_no_context_takeover: no_takeover,
            ..DEFAULT_PARAMS
        };
        let mut server = engine(
            Role::Server,
            Config::default(),
            Some(&agreement(params, eager())),
        );
        let msg = br#"{"type":"position","x":10.5,"y":-3.25,"z":0.0,"entity":"player-42"}"#;
        server.sender().send(Text, msg).unwrap();
        let first = take(&mut server).len();
        server.sender().send(Text, msg).unwrap();
        (first, take(&mut server).len())
    };
    let (first, again) = sizes(false);
    assert!(again < first / 2, "{first} then {again}");
    assert_eq!(sizes(true).0, sizes(true).1);
}

#[test]
fn fragmented_compressed_sends_mark_only_the_first_frame() {
    let mut client = deflate_client();
    let mut server = deflate_server();
    client
        .sender()
        .send_fragment(Text, "héllo, ".as_bytes(), false)
        .unwrap();
    client.sender().send_ping(b"p");
    client
        .sender()
        .send_fragment(Text, b"fragmented ", false)
        .unwrap();
    client
        .sender()
        .send_fragment(Text, "wörld".as_bytes(), true)
        .unwrap();
    let wire = client.pending().to_vec();
    assert_eq!(wire[0], 0x41, "first frame: RSV1 + text, not final");
    let evs = pump(&mut client, &mut server, 3);
    assert_eq!(evs, [Ev::Other, text("héllo, fragmented wörld")]);
}

trait PingExt {
    fn send_ping(&mut self, data: &[u8]);
}

impl PingExt for crate::proto::Sender {
    fn send_ping(&mut self, data: &[u8]) {
        self.ping(data).unwrap();
    }
}

#[test]
fn opt_out_and_threshold_send_uncompressed() {
    let config = DeflateConfig {
        threshold: 10,
        ..DeflateConfig::default()
    };
    let mut server = engine(
        Role::Server,
        Config::default(),
        Some(&agreement(DEFAULT_PARAMS, config)),
    );
    server.sender().send(Text, b"short").unwrap();
    assert_eq!(take(&mut server), b"\x81\x05short");
    server
        .sender()
        .send_with(Binary, b"already compressed", false)
        .unwrap();
    assert_eq!(take(&mut server)[0], 0x82);
    server
        .sender()
        .send_fragment_with(Binary, b"a", false, false)
        .unwrap();
    server
        .sender()
        .send_fragment_with(Binary, b"b", true, true)
        .unwrap();
    assert_eq!(take(&mut server), b"\x02\x01a\x80\x01b");
    server
        .sender()
        .send(Text, b"long enough to compress")
        .unwrap();
    assert_eq!(take(&mut server)[0], 0xc1);
}

#[test]
fn eight_bit_window_sends_uncompressed_and_still_inflates() {
    let params = DeflateParams {
        server_max_window_bits: 8,
        client_max_window_bits: 8,
        ..DEFAULT_PARAMS
    };
    let mut server = engine(
        Role::Server,
        Config::default(),
        Some(&agreement(params, eager())),
    );
    assert!(!server.sender().compresses());
    server.sender().send(Text, b"Hello").unwrap();
    assert_eq!(take(&mut server), b"\x81\x05Hello");
    server.feed(&masked(0xc1, &HELLO[2..]));
    assert_eq!(events(&mut server), [text("Hello")]);
}

#[test]
fn streaming_mode_delivers_a_compressed_message_whole() {
    let config = Config {
        streaming: true,
        ..Config::default()
    };
    let mut client = engine(
        Role::Client,
        config,
        Some(&agreement(DEFAULT_PARAMS, eager())),
    );
    client.feed(&[0x41, 0x03, 0xf2, 0x48, 0xcd]);
    client.feed(&[0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00]);
    client.feed(b"\x81\x02ok");
    assert_eq!(
        events(&mut client),
        [
            Ev::Fragment(Text, b"Hello".to_vec(), true),
            Ev::Fragment(Text, b"ok".to_vec(), true)
        ]
    );
}

// --- bad input ---

#[test]
fn rsv1_without_negotiation_is_1002() {
    let mut client = Connection::new(Role::Client, Config::default());
    assert_eq!(
        fails(&mut client, &HELLO, 1002),
        ProtocolError::ReservedBits(0b100)
    );
}

#[test]
fn rsv1_on_a_control_frame_is_1002() {
    let mut client = deflate_client();
    assert_eq!(
        fails(&mut client, &[0xc9, 0x00], 1002),
        ProtocolError::CompressedControlFrame(crate::proto::frame::OpCode::Ping)
    );
}

#[test]
fn rsv1_on_a_continuation_is_1002() {
    let mut client = deflate_client();
    assert_eq!(
        fails(
            &mut client,
            &[
                0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00
            ],
            1002
        ),
        ProtocolError::CompressedContinuation
    );
}

#[test]
fn other_rsv_bits_stay_reserved() {
    let mut client = deflate_client();
    assert_eq!(
        fails(&mut client, &[0xa1, 0x00], 1002),
        ProtocolError::ReservedBits(0b010)
    );
}

#[test]
fn corrupt_deflate_data_is_1007() {
    let mut client = deflate_client();
    let err = fails(&mut client, &[0xc2, 0x02, 0xff, 0xff], 1007);
    assert!(
        matches!(err, ProtocolError::InvalidCompressedData(_)),
        "{err}"
    );
}

#[test]
fn inflated_text_must_be_utf8() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.enable_deflate(&agreement(DEFAULT_PARAMS, eager()));
    let mut bad = deflate_server();
    // A compressed binary message holding invalid UTF-8, re-labelled as text.
    bad.sender().send(Binary, b"ok \xff\xfe").unwrap();
    let mut frame = take(&mut bad);
    frame[0] = 0xc1;
    let payload = frame[2..].to_vec();
    let err = fails(&mut server, &masked(0xc1, &payload), 1007);
    assert_eq!(err, ProtocolError::InvalidUtf8 { at: 3 });
}

/// A message of `n` zero bytes, compressed by a client.
fn bomb(n: usize) -> Vec<u8> {
    let mut client = deflate_client();
    client.sender().send(Binary, &vec![0u8; n]).unwrap();
    take(&mut client)
}

#[test]
fn compression_bomb_is_1009_without_allocating_past_the_limit() {
    let wire = bomb(16 << 20);
    assert!(
        wire.len() < 32 * 1024,
        "16 MiB of zeros is {} bytes",
        wire.len()
    );
    let config = Config {
        max_message_size: 1 << 20,
        ..Config::default()
    };
    let mut server = engine(
        Role::Server,
        config,
        Some(&agreement(DEFAULT_PARAMS, eager())),
    );
    let err = fails(&mut server, &wire, 1009);
    assert_eq!(
        err,
        ProtocolError::MessageTooLarge {
            len: (1 << 20) + 1,
            max: 1 << 20
        }
    );
}

#[test]
fn inflating_stops_at_the_limit_exactly() {
    let max = 100_000;
    let mut inflater = Inflater::new(15, true);
    let mut deflater = Deflater::new(6, 15, false);
    let exact = deflater
        .compress(&vec![7u8; max], true, <[u8]>::to_vec)
        .unwrap();
    let mut out = Vec::new();
    inflater.inflate(&exact, &mut out, max).unwrap();
    inflater.finish(&mut out, max).unwrap();
    assert_eq!(out, vec![7u8; max]);
    let over = deflater
        .compress(&vec![7u8; max + 1], true, <[u8]>::to_vec)
        .unwrap();
    let mut out = Vec::new();
    assert_eq!(
        inflater.inflate(&over, &mut out, max),
        Err(InflateError::TooLarge)
    );
    assert!(out.capacity() <= max, "capacity {}", out.capacity());
}

#[test]
fn a_message_at_the_limit_passes() {
    let config = Config {
        max_message_size: 4096,
        ..Config::default()
    };
    let mut server = engine(
        Role::Server,
        config,
        Some(&agreement(DEFAULT_PARAMS, eager())),
    );
    let mut client = deflate_client();
    client.sender().send(Binary, &[1u8; 4096]).unwrap();
    assert_eq!(
        pump(&mut client, &mut server, 5),
        [Ev::Message(Binary, vec![1u8; 4096])]
    );
}

// --- negotiation ---

fn request(offers: &[&str]) -> Request {
    let mut headers = vec![("Host".to_owned(), "example.com".to_owned())];
    for offer in offers {
        headers.push(("Sec-WebSocket-Extensions".to_owned(), (*offer).to_owned()));
    }
    Request {
        path: "/".into(),
        headers: Headers(headers),
    }
}

/// The server's answer and agreed parameters for `offers` under `config`.
fn server_answer(config: &DeflateConfig, offers: &[&str]) -> Option<(String, DeflateParams)> {
    negotiate(config, &request(offers))
        .unwrap()
        .map(|(answer, agreement)| (answer, agreement.params))
}

fn params(snct: bool, cnct: bool, server_bits: u8, client_bits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }
}

#[test]
fn client_offers() {
    assert_eq!(
        DeflateConfig::default().offer(),
        "permessage-deflate; client_max_window_bits"
    );
    let all = DeflateConfig {
        client_max_window_bits: 10,
        server_max_window_bits: 12,
        client_no_context_takeover: true,
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    assert_eq!(
        all.offer(),
        "permessage-deflate; client_max_window_bits=10; server_max_window_bits=12; \
         server_no_context_takeover; client_no_context_takeover"
    );
}

#[test]
fn server_answers_each_parameter() {
    let default = DeflateConfig::default();
    let cases: &[(&DeflateConfig, &str, &str, DeflateParams)] = &[
        (
            &default,
            "permessage-deflate",
            "permessage-deflate",
            DEFAULT_PARAMS,
        ),
        (
            &default,
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate",
            DEFAULT_PARAMS,
        ),
        (
            &default,
            "permessage-deflate; client_max_window_bits=11",
            "permessage-deflate; client_max_window_bits=11",
            params(false, false, 15, 11),
        ),
        (
            &default,
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10",
            params(false, false, 10, 15),
        ),
        (
            &default,
            "permessage-deflate; server_max_window_bits=\"9\"",
            "permessage-deflate; server_max_window_bits=9",
            params(false, false, 9, 15),
        ),
        (
            &default,
            "permessage-deflate; server_max_window_bits=15",
            "permessage-deflate; server_max_window_bits=15",
            DEFAULT_PARAMS,
        ),
        (
            &default,
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover",
            params(true, false, 15, 15),
        ),
        (
            &default,
            "permessage-deflate;client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover",
            params(false, true, 15, 15),
        ),
        (
            &default,
            "PerMessage-Deflate ; Server_No_Context_Takeover ; client_max_window_bits = 8",
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=8",
            params(true, false, 15, 8),
        ),
    ];
    for (config, offer, answer, agreed) in cases {
        assert_eq!(
            server_answer(config, &[offer]),
            Some(((*answer).to_owned(), *agreed)),
            "{offer}"
        );
    }
}

#[test]
fn server_configuration_limits_the_answer() {
    let config = DeflateConfig {
        client_max_window_bits: 10,
        server_max_window_bits: 12,
        client_no_context_takeover: true,
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    assert_eq!(
        server_answer(&config, &["permessage-deflate; client_max_window_bits"]),
        Some((
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=10"
                .to_owned(),
            params(true, true, 12, 10)
        ))
    );
    // A client that did not name client_max_window_bits cannot be limited.
    assert_eq!(
        server_answer(&config, &["permessage-deflate; server_max_window_bits=9"])
            .unwrap()
            .1,
        params(true, true, 9, 15)
    );
}

#[test]
fn server_picks_the_first_valid_offer() {
    let config = DeflateConfig::default();
    assert_eq!(server_answer(&config, &[]), None);
    assert_eq!(server_answer(&config, &["x-webkit-deflate-frame"]), None);
    let (answer, _) = server_answer(
        &config,
        &[
            "x-custom, permessage-deflate; server_max_window_bits=10",
            "permessage-deflate",
        ],
    )
    .unwrap();
    assert_eq!(answer, "permessage-deflate; server_max_window_bits=10");
    // An invalid offer is declined and the next one taken.
    let (answer, _) = server_answer(
        &config,
        &["permessage-deflate; x_future=1, permessage-deflate; server_no_context_takeover"],
    )
    .unwrap();
    assert_eq!(answer, "permessage-deflate; server_no_context_takeover");
}

#[test]
fn server_refuses_when_every_offer_is_invalid() {
    let config = DeflateConfig::default();
    for (offer, reason) in [
        ("permessage-deflate; foo", "unknown parameter foo"),
        (
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "given more than once",
        ),
        (
            "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
            "given more than once",
        ),
        (
            "permessage-deflate; server_max_window_bits",
            "needs a value",
        ),
        (
            "permessage-deflate; server_max_window_bits=7",
            "not a window size",
        ),
        (
            "permessage-deflate; server_max_window_bits=16",
            "not a window size",
        ),
        (
            "permessage-deflate; client_max_window_bits=010",
            "not a window size",
        ),
        (
            "permessage-deflate; client_max_window_bits=ten",
            "not a window size",
        ),
        (
            "permessage-deflate; server_no_context_takeover=1",
            "takes no value",
        ),
        (
            "permessage-deflate; ; client_no_context_takeover",
            "empty parameter",
        ),
    ] {
        let rejection = negotiate(&config, &request(&[offer])).unwrap_err();
        assert_eq!(rejection.status(), 400, "{offer}");
        assert!(
            rejection.reason().contains(reason)
                && rejection.reason().contains("permessage-deflate"),
            "{offer}: {}",
            rejection.reason()
        );
    }
}

/// The client's reading of `answer` to `config.offer()`.
fn client_reads(config: &DeflateConfig, answer: &str) -> Result<Option<DeflateParams>, String> {
    accept_answer(config, [answer])
        .map(|a| a.map(|a| a.params))
        .map_err(|e| e.to_string())
}

#[test]
fn client_accepts_valid_answers() {
    let default = DeflateConfig::default();
    assert_eq!(accept_answer(&default, []), Ok(None));
    assert_eq!(client_reads(&default, "x-other"), Ok(None));
    assert_eq!(
        client_reads(&default, "permessage-deflate"),
        Ok(Some(DEFAULT_PARAMS))
    );
    assert_eq!(
        client_reads(
            &default,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=9"
        ),
        Ok(Some(params(true, true, 10, 9)))
    );
    let limited = DeflateConfig {
        client_max_window_bits: 11,
        server_max_window_bits: 12,
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    assert_eq!(
        client_reads(
            &limited,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        ),
        Ok(Some(params(true, false, 10, 11)))
    );
}

#[test]
fn client_fails_on_invalid_answers() {
    let limited = DeflateConfig {
        server_max_window_bits: 12,
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    let default = DeflateConfig::default();
    for (config, answer, reason) in [
        (&default, "permessage-deflate; x=1", "unknown parameter x"),
        (
            &default,
            "permessage-deflate; client_max_window_bits",
            "needs a value in an answer",
        ),
        (
            &default,
            "permessage-deflate; server_max_window_bits=20",
            "not a window size",
        ),
        (
            &default,
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "more than once",
        ),
        (
            &default,
            "permessage-deflate; client_no_context_takeover=yes",
            "takes no value",
        ),
        (
            &limited,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=13",
            "larger than the 12 offered",
        ),
        (
            &limited,
            "permessage-deflate; server_no_context_takeover",
            "server_max_window_bits was offered but not answered",
        ),
        (
            &limited,
            "permessage-deflate; server_max_window_bits=12",
            "server_no_context_takeover was offered but not answered",
        ),
    ] {
        let error = client_reads(config, answer).unwrap_err();
        assert!(
            error.contains(reason) && error.contains("invalid permessage-deflate answer"),
            "{answer}: {error}"
        );
    }
    assert_eq!(
        accept_answer(&default, ["permessage-deflate", "permessage-deflate"]),
        Err(HandshakeError::DuplicateExtension(NAME.to_owned()))
    );
}

/// Runs a client handshake offering `config` against a 101 answering `answer`.
fn client_handshake(
    config: DeflateConfig,
    answer: &str,
) -> (String, Result<Option<Agreement>, HandshakeError>) {
    let url = WsUrl::parse("ws://example.com/").unwrap();
    let options = ClientOptions {
        extensions: vec!["x-other".to_owned()],
        deflate: Some(config),
        ..ClientOptions::default()
    };
    let mut hs = ClientHandshake::new(&url, &options).unwrap();
    let request = String::from_utf8(hs.request().to_vec()).unwrap();
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        accept_key(hs.key())
    );
    if !answer.is_empty() {
        response += &format!("Sec-WebSocket-Extensions: {answer}\r\n");
    }
    response += "\r\n";
    let result = hs
        .feed(response.as_bytes())
        .map(|accepted| accepted.expect("whole response").deflate);
    (request, result)
}

#[test]
fn client_handshake_offers_and_checks_the_answer() {
    let (request, result) = client_handshake(
        DeflateConfig::default(),
        "permessage-deflate; server_max_window_bits=11",
    );
    assert!(
        request.contains(
            "Sec-WebSocket-Extensions: x-other, permessage-deflate; client_max_window_bits\r\n"
        ),
        "{request}"
    );
    assert_eq!(
        result.unwrap().unwrap().params,
        params(false, false, 11, 15)
    );
    let (_, declined) = client_handshake(DeflateConfig::default(), "");
    assert_eq!(declined, Ok(None));
    let (_, bad) = client_handshake(DeflateConfig::default(), "permessage-deflate; mystery");
    assert!(
        matches!(bad, Err(HandshakeError::InvalidDeflateAnswer { .. })),
        "{bad:?}"
    );
    let url = WsUrl::parse("ws://example.com/").unwrap();
    let options = ClientOptions {
        deflate: Some(DeflateConfig {
            server_max_window_bits: 16,
            ..DeflateConfig::default()
        }),
        ..ClientOptions::default()
    };
    assert!(matches!(
        ClientHandshake::new(&url, &options),
        Err(HandshakeError::InvalidDeflateConfig(_))
    ));
}

#[test]
fn both_ends_agree_and_talk() {
    let client_config = DeflateConfig {
        client_max_window_bits: 12,
        server_max_window_bits: 11,
        server_no_context_takeover: true,
        threshold: 0,
        ..DeflateConfig::default()
    };
    let server_config = DeflateConfig {
        client_max_window_bits: 10,
        threshold: 0,
        ..DeflateConfig::default()
    };
    let (answer, server_side) = negotiate(&server_config, &request(&[&client_config.offer()]))
        .unwrap()
        .unwrap();
    let client_side = accept_answer(&client_config, [answer.as_str()])
        .unwrap()
        .unwrap();
    assert_eq!(client_side.params, server_side.params);
    assert_eq!(client_side.params, params(true, false, 11, 10));
    let mut client = engine(Role::Client, Config::default(), Some(&client_side));
    let mut server = engine(Role::Server, Config::default(), Some(&server_side));
    let messages = chat_messages();
    round_trip(&mut client, &mut server, &messages, 1000);
    round_trip(&mut server, &mut client, &messages, 1000);
}

mod split {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Compressed messages (whole and fragmented) arrive the same however
        /// the bytes are cut, with and without context takeover.
        #[test]
        fn compressed_messages_survive_any_split(
            messages in prop::collection::vec(
                (any::<bool>(), prop::collection::vec(prop::sample::select(b"ab {}:\"x\xc3".to_vec()), 0..2000)),
                1..5,
            ),
            cuts in prop::collection::vec(any::<usize>(), 0..10),
            no_takeover in any::<bool>(),
            fragment in any::<bool>(),
        ) {
            let params = DeflateParams {
                client_no_context_takeover: no_takeover,
                ..DEFAULT_PARAMS
            };
            let deflate = agreement(params, eager());
            let mut client = engine(Role::Client, Config::default(), Some(&deflate));
            let mut server = engine(Role::Server, Config::default(), Some(&deflate));
            let mut expected = Vec::new();
            for (text, bytes) in &messages {
                // Text keeps to ASCII; binary may hold any byte.
                let (kind, data) = if *text {
                    (Text, bytes.iter().map(|b| b & 0x7f).collect::<Vec<u8>>())
                } else {
                    (Binary, bytes.clone())
                };
                if fragment {
                    let mid = data.len() / 2;
                    client.sender().send_fragment(kind, &data[..mid], false).unwrap();
                    client.sender().send_fragment(kind, &data[mid..], true).unwrap();
                } else {
                    client.sender().send(kind, &data).unwrap();
                }
                expected.push(Ev::Message(kind, data));
            }
            let wire = take(&mut client);
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
            points.sort_unstable();
            let mut got = Vec::new();
            let mut start = 0;
            for end in points.into_iter().chain([wire.len()]) {
                server.feed(&wire[start..end]);
                got.extend(events(&mut server));
                start = end;
            }
            prop_assert_eq!(got, expected);
        }
    }
}

/// A message whose last piece adds nothing (zlib already flushed it all with
/// the previous piece, or the message is empty after another) still ends in
/// a way the receiver's appended trailer completes, and the next message
/// inflates.
#[test]
fn a_last_piece_that_compresses_to_nothing_keeps_the_stream_valid() {
    for no_context_takeover in [false, true] {
        let mut deflater = Deflater::new(6, 15, no_context_takeover);
        let mut inflater = Inflater::new(15, true);
        for message in [&b"hello"[..], b"", b"", b"world", b"x"] {
            let (a, b) = message.split_at(message.len() / 2);
            let mut wire = deflater.compress(a, false, <[u8]>::to_vec).unwrap();
            wire.extend(deflater.compress(b, false, <[u8]>::to_vec).unwrap());
            wire.extend(deflater.compress(b"", true, <[u8]>::to_vec).unwrap());
            let mut out = Vec::new();
            inflater.inflate(&wire, &mut out, 1024).unwrap();
            inflater.finish(&mut out, 1024).unwrap();
            assert_eq!(out, message, "no_context_takeover: {no_context_takeover}");
        }
    }
}

// --- shared compressor, window sizes, memory between messages ---

/// A server configured with `shared_compressor` answers with
/// `server_no_context_takeover` whether or not the client offered it, so
/// every connection compresses with the thread's shared compressor.
#[test]
fn shared_compressor_answers_server_no_context_takeover() {
    let shared = DeflateConfig {
        shared_compressor: true,
        ..DeflateConfig::default()
    };
    for (offer, answer) in [
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
        ),
    ] {
        let (got, params) = server_answer(&shared, &[offer]).expect("accepted");
        assert_eq!(got, answer, "offer {offer}");
        assert!(params.server_no_context_takeover);
        // A client accepts the answer and inflates without the server's context.
        let read = client_reads(&DeflateConfig::default(), &got)
            .unwrap()
            .unwrap();
        assert!(read.server_no_context_takeover, "{got}");
    }
}

#[test]
fn shared_compressor_needs_a_window_zlib_can_compress_with() {
    let config = DeflateConfig {
        shared_compressor: true,
        server_max_window_bits: 8,
        ..DeflateConfig::default()
    };
    assert_eq!(
        config.check(),
        Err(
            "shared_compressor needs server_max_window_bits of 9 or more, not 8 \
             (zlib cannot compress with an 8-bit window)"
                .to_owned()
        )
    );
    let nine = DeflateConfig {
        server_max_window_bits: 9,
        ..config
    };
    assert_eq!(nine.check(), Ok(()));
}

/// Servers in shared mode talk to their clients with messages interleaved,
/// one of them fragmented across the others' sends: the thread's compressor
/// serves whole messages, a connection in mid-message keeps its own until
/// the last piece, and every client inflates exactly what was sent.
#[test]
fn shared_compressor_serves_interleaved_connections() {
    let config = DeflateConfig {
        shared_compressor: true,
        ..eager()
    };
    let request = request(&["permessage-deflate; client_max_window_bits"]);
    let (_, agreed) = negotiate(&config, &request).unwrap().unwrap();
    let mut pairs: Vec<(Connection, Connection)> = (0..3)
        .map(|_| {
            let server = engine(Role::Server, Config::default(), Some(&agreed));
            let client = engine(Role::Client, Config::default(), Some(&agreed));
            (server, client)
        })
        .collect();
    let msg = |i: usize, n: usize| {
        format!(
            "{{\"to\":{i},\"n\":{n},\"pad\":\"{}\"}}",
            "ab".repeat(50 * i + n)
        )
    };
    for n in 0..4 {
        let (first, rest) = pairs.split_first_mut().unwrap();
        first
            .0
            .sender()
            .send_fragment(Text, msg(0, n).as_bytes(), false)
            .unwrap();
        for (i, (server, client)) in rest.iter_mut().enumerate() {
            server
                .sender()
                .send(Text, msg(i + 1, n).as_bytes())
                .unwrap();
            assert_eq!(pump(server, client, 4096), [text(&msg(i + 1, n))]);
            assert!(
                !server.sender().deflater_allocated(),
                "connection {} holds a compressor",
                i + 1
            );
        }
        assert!(first.0.sender().deflater_allocated(), "mid-message");
        first.0.sender().send_fragment(Text, b"!", true).unwrap();
        assert!(!first.0.sender().deflater_allocated());
        let whole = msg(0, n) + "!";
        assert_eq!(pump(&mut first.0, &mut first.1, 4096), [text(&whole)]);
    }
}

/// A compressor that keeps its context keeps its state; one that starts
/// afresh holds it only from a message's first piece to its last.
#[test]
fn a_compressor_without_context_takeover_holds_nothing_between_messages() {
    let data = b"position position position position position".repeat(20);
    for no_context_takeover in [false, true] {
        let mut deflater = Deflater::new(6, 15, no_context_takeover);
        assert!(!deflater.is_allocated());
        deflater.compress(&data, false, |_| ()).unwrap();
        assert!(deflater.is_allocated());
        deflater.compress(&data, true, |_| ()).unwrap();
        assert_eq!(deflater.is_allocated(), !no_context_takeover);
    }
}

/// The decompressor keeps the peer's window between messages, sized by the
/// negotiated window bits, and nothing when the peer starts afresh.
#[test]
fn the_peer_window_kept_is_the_negotiated_size() {
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    for (bits, takeover) in [(10, true), (12, true), (15, true), (15, false)] {
        let mut deflater = Deflater::new(6, bits, !takeover);
        let mut inflater = Inflater::new(bits, takeover);
        for n in 1..=2 {
            // The last bytes received, up to the window's size.
            let kept = if takeover {
                (n * data.len()).min(1 << bits)
            } else {
                0
            };
            let wire = deflater.compress(&data, true, <[u8]>::to_vec).unwrap();
            let mut out = Vec::new();
            inflater.inflate(&wire, &mut out, 1 << 20).unwrap();
            inflater.finish(&mut out, 1 << 20).unwrap();
            assert_eq!(out, data, "bits {bits}");
            assert!(
                !inflater.is_allocated(),
                "the decompressor went back to the pool"
            );
            assert_eq!(
                inflater.window_len(),
                kept,
                "bits {bits}, takeover {takeover}"
            );
        }
    }
}

/// A peer that negotiated a 10-bit window but refers back further, into an
/// earlier message, is refused: only the negotiated window is kept.
#[test]
fn a_reference_past_the_negotiated_window_is_corrupt() {
    let first: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut cheat = Deflater::new(6, 15, false);
    let mut inflater = Inflater::new(10, true);
    let wire = cheat.compress(&first, true, <[u8]>::to_vec).unwrap();
    let mut out = Vec::new();
    inflater.inflate(&wire, &mut out, 1 << 20).unwrap();
    inflater.finish(&mut out, 1 << 20).unwrap();
    // The start of the first message again: 4 KiB back, past 1 KiB.
    let wire = cheat.compress(&first[..512], true, <[u8]>::to_vec).unwrap();
    assert!(
        wire.len() < 64,
        "sent as a back-reference: {} bytes",
        wire.len()
    );
    let mut out = Vec::new();
    let result = inflater
        .inflate(&wire, &mut out, 1 << 20)
        .and_then(|()| inflater.finish(&mut out, 1 << 20));
    assert!(
        matches!(result, Err(InflateError::Corrupt(_))),
        "{result:?}"
    );
}

#[test]
fn session_with_context_takeover_and_small_windows() {
    let params = DeflateParams {
        server_max_window_bits: 9,
        client_max_window_bits: 10,
        ..DEFAULT_PARAMS
    };
    session(params, eager(), eager());
}
