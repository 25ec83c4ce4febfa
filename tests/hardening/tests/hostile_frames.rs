//! Hostile frames against an in-process wsx server: length bombs, endless
//! fragments, invalid UTF-8 split at every fragment boundary, a peer that
//! half-closes and one that resets mid-frame. Each checks the close code read
//! off the wire (or the drop), the code the server reported, bounded memory,
//! and that the server still answers another client afterwards.

use std::io::Write;
use std::net::Shutdown;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use wsx_core::net::ServerConfig;
use wsx_core::proto::Config;
use wsx_hardening::memory::self_rss;
use wsx_hardening::peer::{Ending, RawPeer, frame, header, op, reset};
use wsx_hardening::server::TestServer;

const PATIENCE: Duration = Duration::from_secs(20);
const MIB: usize = 1024 * 1024;

/// The tests run one at a time, so the memory one measures is its own.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn config(protocol: Config) -> ServerConfig {
    ServerConfig {
        protocol,
        handshake_timeout: Duration::from_secs(5),
        close_timeout: Duration::from_secs(2),
        keepalive: None,
        ..ServerConfig::default()
    }
}

fn peer(server: &TestServer) -> RawPeer {
    RawPeer::connect(server.addr(), PATIENCE).expect("handshake")
}

/// Sends `bytes`, then expects a close frame with `code` and the server's
/// close event with the same code.
fn expect_failure(server: &TestServer, bytes: &[u8], code: u16) {
    let closes = server.stats.codes.lock().unwrap().len();
    let mut p = peer(server);
    p.send(bytes).unwrap();
    assert_eq!(
        p.ending().unwrap(),
        Ending::Close(code),
        "after {:02x?}",
        &bytes[..bytes.len().min(16)]
    );
    assert_eq!(server.close_code(closes, PATIENCE), Some(code));
}

/// RSS grew by less than `bound` since `before` (where RSS can be read).
fn assert_rss_within(before: Option<usize>, bound: usize, what: &str) {
    if let (Some(before), Some(after)) = (before, self_rss()) {
        let grew = after.saturating_sub(before);
        assert!(
            grew < bound,
            "{what}: RSS grew by {grew} bytes (bound {bound})"
        );
    }
}

#[test]
fn length_bombs_are_refused_before_anything_is_allocated() {
    let _serial = serial();
    // The default limits (16 MiB): a length just over them would be a big
    // allocation if the server reserved room for declared lengths.
    let server = TestServer::start(config(Config::default()), true);
    let max = Config::default().max_frame_size as u64;
    let before = self_rss();
    for (bytes, code) in [
        // Top bit set: not a valid length at all.
        (header(true, op::BINARY, 1 << 63, true), 1002),
        (header(true, op::BINARY, u64::MAX, true), 1002),
        (header(true, op::TEXT, (1 << 63) | 5, true), 1002),
        // 2^63-1: valid, and far over the limit.
        (header(true, op::BINARY, (1 << 63) - 1, true), 1009),
        (header(true, op::BINARY, 1 << 40, true), 1009),
        // Just over the frame limit, in both length encodings.
        (header(true, op::BINARY, max + 1, true), 1009),
        (header(false, op::TEXT, max + 1, false), 1009),
        // A control frame over 125 bytes.
        (header(true, op::PING, 126, false), 1002),
        (header(true, op::PING, (1 << 63) - 1, true), 1002),
    ] {
        expect_failure(&server, &bytes, code);
    }
    // Two frames within the frame limit that together pass the message limit.
    let mut two = header(false, op::BINARY, max, false);
    two.extend(std::iter::repeat_n(0, max as usize));
    two.extend(header(true, op::CONTINUATION, 1, false));
    expect_failure(&server, &two, 1009);
    assert_rss_within(before, 40 * MIB, "length bombs");
    server.assert_serves();
}

#[test]
fn endless_fragments_hit_the_message_limit() {
    let _serial = serial();
    let limit = MIB;
    let protocol = Config {
        max_message_size: limit,
        max_frame_size: 64 * 1024,
        ..Config::default()
    };
    let server = TestServer::start(config(protocol), true);
    let before = self_rss();
    let mut p = peer(&server);
    let mut writer = p.stream.try_clone().unwrap();
    writer.set_write_timeout(Some(PATIENCE)).unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = frame(false, op::CONTINUATION, &[b'x'; 1000]);
        let _ = writer.write_all(&frame(false, op::TEXT, b"start"));
        // Endless: until the server stops taking them (far past the limit).
        for _ in 0..(4 * limit / 1000) {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    assert_eq!(p.ending().unwrap(), Ending::Close(1009));
    assert_eq!(server.close_code(0, PATIENCE), Some(1009));
    drop(p);
    sender.join().unwrap();
    assert_rss_within(before, 8 * limit, "endless fragments");
    server.assert_serves();
}

/// Invalid sequences: a bad continuation byte, an overlong form, a surrogate,
/// a code point past U+10FFFF, a byte that never appears, a truncated end.
const INVALID: &[&[u8]] = &[
    b"\xF0\x9F\x98\x28",
    b"\xE2\x28\xA1",
    b"\xC0\x80",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
    b"\xFF",
    b"\xE2\x82",
];

/// `message` as a text message cut into two fragments at `cut`.
fn two_fragments(message: &[u8], cut: usize) -> Vec<u8> {
    let mut out = frame(false, op::TEXT, &message[..cut]);
    out.extend(frame(true, op::CONTINUATION, &message[cut..]));
    out
}

/// `message` one byte per fragment.
fn bytewise(message: &[u8]) -> Vec<u8> {
    let mut out = frame(false, op::TEXT, &[]);
    for (i, b) in message.iter().enumerate() {
        let last = i + 1 == message.len();
        out.extend(frame(last, op::CONTINUATION, std::slice::from_ref(b)));
    }
    out
}

#[test]
fn invalid_utf8_split_at_every_fragment_boundary_is_1007() {
    let _serial = serial();
    let server = TestServer::start(config(Config::default()), true);
    let before = self_rss();
    for bad in INVALID {
        // Valid multi-byte characters around the bad sequence.
        let message = ["h\u{e9} \u{20ac}".as_bytes(), bad, "\u{1F600}!".as_bytes()].concat();
        let message = if *bad == b"\xE2\x82" {
            ["h\u{e9} ".as_bytes(), bad].concat()
        } else {
            message
        };
        for cut in 0..=message.len() {
            expect_failure(&server, &two_fragments(&message, cut), 1007);
        }
        expect_failure(&server, &bytewise(&message), 1007);
    }
    assert_rss_within(before, 16 * MIB, "invalid UTF-8");
    server.assert_serves();
}

#[test]
fn valid_utf8_split_at_every_fragment_boundary_is_echoed() {
    let _serial = serial();
    let server = TestServer::start(config(Config::default()), true);
    let message = "h\u{e9} \u{20ac}\u{1F600}!".as_bytes();
    let mut p = peer(&server);
    for cut in 0..=message.len() {
        p.send(&two_fragments(message, cut)).unwrap();
        let echo = p.read_frame().unwrap().expect("echo");
        assert_eq!(
            (echo.opcode, echo.payload.as_slice()),
            (op::TEXT, message),
            "cut {cut}"
        );
    }
    p.send(&bytewise(message)).unwrap();
    assert_eq!(p.read_frame().unwrap().expect("echo").payload, message);
}

#[test]
fn half_close_without_a_close_frame_is_an_abnormal_close() {
    let _serial = serial();
    let server = TestServer::start(config(Config::default()), true);
    let mut p = peer(&server);
    p.send(&frame(true, op::TEXT, b"last words")).unwrap();
    p.stream.shutdown(Shutdown::Write).unwrap();
    // No close handshake is possible any more: the server fails the
    // connection and reports it as abnormal; the peer sees the end of the
    // stream (1006 is never sent on the wire). The echo of the message sent
    // before the half-close may or may not come first: that depends on
    // whether the server read the message and the FIN in one turn.
    assert_eq!(p.ending().unwrap(), Ending::Dropped);
    assert_eq!(server.close_code(0, PATIENCE), Some(1006));
    // The message itself reached the application.
    assert_eq!(server.stats.messages.load(Ordering::Acquire), 1);
    server.assert_serves();
}

#[test]
fn reset_mid_frame_is_an_abnormal_close() {
    let _serial = serial();
    let server = TestServer::start(config(Config::default()), true);
    let before = self_rss();
    for cut in [1, 2, 6, 100] {
        let closes = server.stats.codes.lock().unwrap().len();
        let mut p = peer(&server);
        let whole = frame(true, op::BINARY, &[7; 200]);
        p.send(&whole[..cut]).unwrap();
        // Let the partial frame reach the server before the reset.
        std::thread::sleep(Duration::from_millis(20));
        reset(p.stream);
        assert_eq!(
            server.close_code(closes, PATIENCE),
            Some(1006),
            "cut at {cut}"
        );
    }
    assert_rss_within(before, 16 * MIB, "resets");
    server.assert_serves();
}
