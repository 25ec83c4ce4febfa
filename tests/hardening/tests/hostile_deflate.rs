//! Hostile compressed messages (permessage-deflate) against an in-process
//! wsx server that accepts compression: a decompression bomb that inflates
//! far past the message limit (1009, nothing big allocated) and a corrupt
//! stream (1007); the server still answers another client afterwards.

use std::time::Duration;

use wsx_core::net::ServerConfig;
use wsx_core::proto::Config;
use wsx_core::proto::extension::deflate::{DeflateConfig, Deflater, Inflater};
use wsx_hardening::memory::self_rss;
use wsx_hardening::peer::{Ending, RawPeer, frame, op};
use wsx_hardening::server::TestServer;

const PATIENCE: Duration = Duration::from_secs(20);
const LIMIT: usize = 1 << 20;

fn server() -> TestServer {
    let config = ServerConfig {
        protocol: Config {
            max_message_size: LIMIT,
            ..Config::default()
        },
        compression: Some(DeflateConfig::default()),
        keepalive: None,
        ..ServerConfig::default()
    };
    TestServer::start(config, true)
}

/// A peer that agreed permessage-deflate.
fn compressing_peer(server: &TestServer) -> RawPeer {
    let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    let (peer, head) = RawPeer::connect_with(server.addr(), PATIENCE, offer).expect("handshake");
    assert!(
        head.to_ascii_lowercase().contains("permessage-deflate"),
        "not agreed: {head}"
    );
    peer
}

/// A compressed binary message: RSV1 set on the first frame.
fn compressed_frame(payload: &[u8]) -> Vec<u8> {
    let mut bytes = frame(true, op::BINARY, payload);
    bytes[0] |= 0x40;
    bytes
}

#[test]
fn a_compressed_message_round_trips() {
    let server = server();
    let mut p = compressing_peer(&server);
    let mut deflater = Deflater::new(6, 15, false);
    let message = b"hello hello hello hello".repeat(10);
    let wire = deflater.compress(&message, true, <[u8]>::to_vec).unwrap();
    p.send(&compressed_frame(&wire)).unwrap();
    let echo = p.read_frame().unwrap().expect("an echo");
    assert_eq!((echo.opcode, echo.fin), (op::BINARY, true));
    let mut inflated = echo.payload.clone();
    if echo.compressed {
        inflated.clear();
        let mut inflater = Inflater::new(15, true);
        inflater
            .inflate(&echo.payload, &mut inflated, LIMIT)
            .unwrap();
        inflater.finish(&mut inflated, LIMIT).unwrap();
    }
    assert_eq!(inflated, message);
    p.close(1000).unwrap();
    assert_eq!(p.ending().unwrap(), Ending::Close(1000));
}

#[test]
fn a_decompression_bomb_is_1009_with_bounded_memory() {
    let server = server();
    // 256 MiB of zeros compress to a few hundred KiB.
    let mut deflater = Deflater::new(9, 15, false);
    let zeros = vec![0u8; LIMIT];
    let mut bomb = Vec::new();
    for i in 0..256 {
        bomb.extend(deflater.compress(&zeros, i == 255, <[u8]>::to_vec).unwrap());
    }
    drop(zeros);
    let before = self_rss();
    let mut p = compressing_peer(&server);
    p.send(&compressed_frame(&bomb)).unwrap();
    assert_eq!(p.ending().unwrap(), Ending::Close(1009));
    assert_eq!(server.close_code(0, PATIENCE), Some(1009));
    if let (Some(before), Some(after)) = (before, self_rss()) {
        let grew = after.saturating_sub(before);
        assert!(
            grew < 8 * LIMIT,
            "RSS grew by {grew} bytes for a {LIMIT}-byte limit"
        );
    }
    let mut other = compressing_peer(&server);
    other.send(&frame(true, op::TEXT, b"plain")).unwrap();
    assert_eq!(
        other.read_frame().unwrap().expect("an echo").payload,
        b"plain"
    );
}

#[test]
fn a_corrupt_stream_is_1007() {
    let server = server();
    let mut p = compressing_peer(&server);
    // A block of the reserved type 3.
    p.send(&compressed_frame(&[0xFF, 0xFF, 0xFF, 0xFF]))
        .unwrap();
    assert_eq!(p.ending().unwrap(), Ending::Close(1007));
}
