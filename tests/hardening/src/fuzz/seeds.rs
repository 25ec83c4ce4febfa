//! Seed inputs for every fuzz target, made from valid sessions: the RFC 6455
//! examples, fragmented text with characters split across frames, pings
//! between fragments, closes with reasons, and complete handshakes.

use super::handshake::ACCEPT_PLACEHOLDER;
use super::message_assembler::{Frame, Op, Session};

/// The seeds of the target named `target` (a name in [`super::TARGETS`]),
/// each with a file name.
pub fn seeds(target: &str) -> Vec<(&'static str, Vec<u8>)> {
    match target {
        "frame_decoder" => frame_decoder(),
        "message_assembler" => message_assembler(),
        "client_handshake" => client_handshake(),
        "server_handshake" => server_handshake(),
        "c_feed" => c_feed(),
        "close_payload" => vec![
            ("normal", b"\x03\xe8".to_vec()),
            ("going_away_reason", b"\x03\xe9server restart".to_vec()),
            (
                "utf8_reason",
                [&[0x03, 0xF0][..], "caf\u{e9} \u{2764}".as_bytes()].concat(),
            ),
            ("private_code", vec![0x0F, 0xA0]),
            ("empty", Vec::new()),
        ],
        "deflate" => vec![
            // RFC 7692 section 7.2.3.1: "Hello" compressed, no trailer.
            ("rfc_hello", b"\x0f\x20\xf2\x48\xcd\xc9\xc9\x07\x00".to_vec()),
            (
                "messages",
                b"\x2e\x40hello hello hello\xffsecond message\xff\xe2\x9c\x93".to_vec(),
            ),
            (
                "offer",
                b"\x07\x10permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate"
                    .to_vec(),
            ),
        ],
        "http_connect" => vec![
            // Byte 0: no credentials, a host name; byte 1: the cut.
            (
                "established",
                b"\x00\x0cHTTP/1.1 200 Connection established\r\nVia: 1.1 proxy\r\n\r\n\x81\x02hi"
                    .to_vec(),
            ),
            (
                "auth_required",
                b"\x01\x05HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 0\r\n\r\n"
                    .to_vec(),
            ),
            (
                "bad_gateway",
                b"\x02\x20HTTP/1.0 502 Bad Gateway\r\n\r\n".to_vec(),
            ),
        ],
        "socks5" => vec![
            // Byte 0: credentials or none, the target's kind; byte 1: the cut.
            (
                "no_auth_ipv4",
                b"\x00\x03\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x1f\x90\x81\x00".to_vec(),
            ),
            (
                "user_pass_domain",
                b"\x01\x05\x05\x02\x01\x00\x05\x00\x00\x03\x0bexample.com\x01\xbb".to_vec(),
            ),
            (
                "ipv6_refused",
                b"\x04\x02\x05\x00\x05\x05\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50"
                    .to_vec(),
            ),
            ("bad_credentials", b"\x01\x00\x05\x02\x01\x01".to_vec()),
        ],
        "cluster_link" => cluster_link(),
        "url" => vec![
            ("plain", b"ws://example.com/chat?room=1".to_vec()),
            ("ipv6_port", b"wss://[::1]:8443/".to_vec()),
            ("idn", "ws://b\u{fc}cher.example:80/p\u{e4}th".as_bytes().to_vec()),
            ("proxy", b"socks5h://user:p%40ss@127.0.0.1:1080".to_vec()),
        ],
        "deflate_negotiation" => vec![
            // Bytes 0 and 1: the client's and the server's settings.
            ("defaults", b"\x3f\x3f".to_vec()),
            (
                "offers",
                b"\xc9\x52permessage-deflate; client_max_window_bits=10; server_no_context_takeover\nx-webkit-deflate-frame, permessage-deflate"
                    .to_vec(),
            ),
            (
                "answer",
                b"\x00\x00permessage-deflate; server_max_window_bits=9; client_max_window_bits=\"12\""
                    .to_vec(),
            ),
        ],
        _ => Vec::new(),
    }
}

fn frame_decoder() -> Vec<(&'static str, Vec<u8>)> {
    let mut session = Vec::new();
    // A masked client session: "Hel" + "lo" fragmented, a ping, a close.
    session.extend_from_slice(&[0x01, 0x83, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d]);
    session.extend_from_slice(&[0x80, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x5b, 0x95]);
    session.extend_from_slice(&[0x89, 0x80, 1, 2, 3, 4]);
    session.extend_from_slice(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
    vec![
        (
            "rfc_unmasked_hello",
            vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        ),
        (
            "rfc_masked_hello",
            vec![
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
        ),
        (
            "rfc_fragmented_hello",
            vec![0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
        ),
        (
            "rfc_ping_pong",
            vec![0x89, 0x05, b'H', b'e', b'l', b'l', b'o', 0x8a, 0x00],
        ),
        (
            "len16",
            [&[0x82, 0x7E, 0x00, 0x80][..], &[7u8; 128]].concat(),
        ),
        ("len64", vec![0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]),
        ("masked_session", session),
    ]
}

fn frame(op: Op, fin: bool, payload: &[u8]) -> Frame {
    Frame {
        op,
        fin,
        wrong_mask: false,
        rsv: false,
        payload: payload.to_vec(),
    }
}

fn session(server: bool, streaming: bool, frames: Vec<Frame>) -> Vec<u8> {
    Session {
        server,
        streaming,
        reject_binary: false,
        auto_pong: true,
        max_message: 300,
        max_frame: 200,
        cuts: vec![3, 1, 7],
        frames,
    }
    .encode()
}

fn message_assembler() -> Vec<(&'static str, Vec<u8>)> {
    let text = "h\u{e9}llo \u{2764} \u{1F600}".as_bytes();
    let split = || {
        let mut frames = vec![frame(Op::Text, false, &text[..2])];
        frames.push(frame(Op::Ping, true, b"p"));
        frames.push(frame(Op::Continuation, false, &text[2..9]));
        frames.push(frame(Op::Continuation, true, &text[9..]));
        frames.push(frame(Op::Binary, true, &[0, 1, 2, 255]));
        frames.push(frame(Op::Close, true, b"\x03\xe8done"));
        frames
    };
    vec![
        ("server_fragmented_text", session(true, false, split())),
        ("server_streamed_text", session(true, true, split())),
        ("client_fragmented_text", session(false, false, split())),
        ("client_streamed_text", session(false, true, split())),
        (
            "pings_and_pongs",
            session(
                true,
                false,
                vec![
                    frame(Op::Ping, true, b"a"),
                    frame(Op::Pong, true, b""),
                    frame(Op::Text, true, b"x"),
                    frame(Op::Close, true, b""),
                ],
            ),
        ),
    ]
}

fn client_handshake() -> Vec<(&'static str, Vec<u8>)> {
    let ok = [
        &b"\x05\x40\x01HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"[..],
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: ",
        ACCEPT_PLACEHOLDER,
        b"\r\nSec-WebSocket-Protocol: chat\r\n",
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\r\n",
        b"\x81\x02hi",
    ]
    .concat();
    let refused = b"\x10\x03\x20HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\
        Content-Length: 9\r\n\r\nforbidden"
        .to_vec();
    let chunked = b"\x07\x07\x07HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbad!\r\n0\r\n\r\n"
        .to_vec();
    vec![("accepted", ok), ("refused", refused), ("chunked", chunked)]
}

fn server_handshake() -> Vec<(&'static str, Vec<u8>)> {
    let rfc = b"\xff\x40\x05\x20\x01GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    let mut with_frame = rfc.clone();
    with_frame.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
    let extensions = b"\x40\x10\x01\x01\x01GET /x?y=1 HTTP/1.1\r\nhost: [::1]:9001\r\n\
        upgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n\
        sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==\r\nsec-websocket-version: 13\r\n\
        sec-websocket-extensions: permessage-deflate; client_max_window_bits, x-y; a=\"1,2\"\r\n\r\n"
        .to_vec();
    let plain_http = b"\xff\x40\x09\x09\x09GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
    vec![
        ("rfc_request", rfc),
        ("request_and_frame", with_frame),
        ("lowercase_extensions", extensions),
        ("plain_http", plain_http),
    ]
}

/// The C feed path (byte 0: bit 0 server, bit 1 raw from the handshake,
/// bit 2 deflate, bits 3-7 the cut minus 1), then what the peer sends.
fn c_feed() -> Vec<(&'static str, Vec<u8>)> {
    let masked_hello = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58".to_vec();
    let request = b"GET /fuzz HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    vec![
        (
            "client_frames",
            [
                &[3 << 3][..],
                b"\x81\x05Hello\x01\x03Hel\x89\x02hi\x80\x02lo\x8a\x00\x88\x05\x0f\xa0bye",
            ]
            .concat(),
        ),
        (
            "server_masked",
            [
                &[1 | (2 << 3)][..],
                &masked_hello,
                b"\x88\x82\x00\x00\x00\x00\x03\xe8",
            ]
            .concat(),
        ),
        (
            "server_raw_request",
            [&[1 | 2 | (7 << 3)][..], &request[..], &masked_hello].concat(),
        ),
        (
            "client_deflate",
            [
                &[4 | (1 << 3)][..],
                b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00\x81\x00",
            ]
            .concat(),
        ),
        (
            "client_raw_refusal",
            [
                &[2][..],
                &b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"[..],
            ]
            .concat(),
        ),
    ]
}

/// A publication of node `node` (epoch 7, number `seq`) to topic "t", as a
/// RESP3 push of a subscribed connection.
fn publication(kind: &[u8], node: &[u8], seq: u64, text: &[u8]) -> Vec<u8> {
    let payload = [
        b"wsx\x01".as_slice(),
        &[1, node.len() as u8],
        node,
        &7u64.to_be_bytes(),
        &seq.to_be_bytes(),
        text,
    ]
    .concat();
    let mut out = format!(">3\r\n${}\r\n", kind.len()).into_bytes();
    out.extend_from_slice(kind);
    out.extend_from_slice(b"\r\n$5\r\nwsx:t\r\n");
    out.extend_from_slice(format!("${}\r\n", payload.len()).as_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// Byte 0: the cut; then what Redis answers `HELLO 3` and `SUBSCRIBE wsx:t`
/// and sends after.
fn cluster_link() -> Vec<(&'static str, Vec<u8>)> {
    let hello = b"%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n".to_vec();
    let subscribed = b">3\r\n$9\r\nsubscribe\r\n$5\r\nwsx:t\r\n:1\r\n".to_vec();
    let session = |rest: &[Vec<u8>]| -> Vec<u8> {
        let mut out = vec![0x40];
        out.extend_from_slice(&hello);
        out.extend_from_slice(&subscribed);
        for part in rest {
            out.extend_from_slice(part);
        }
        out
    };
    vec![
        (
            "messages_and_a_gap",
            session(&[
                publication(b"message", b"other", 1, b"one"),
                publication(b"message", b"me", 1, b"own echo"),
                publication(b"message", b"other", 4, b"four"),
                b":2\r\n".to_vec(),
            ]),
        ),
        (
            "sharded_new_epoch",
            session(&[
                publication(b"smessage", b"n1", 9, b"x"),
                publication(b"smessage", b"n1", 9, b"again"),
            ]),
        ),
        (
            "refused_hello",
            b"\x10-WRONGPASS invalid username-password pair\r\n".to_vec(),
        ),
        ("not_resp", session(&[b"@@@\r\n".to_vec()])),
    ]
}
