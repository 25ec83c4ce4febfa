//! Hostile traffic patterns against an in-process wsx server: endless pings
//! from a peer that never reads, a flood of tiny frames, and a peer that
//! sends without ever reading the echoes. Memory must stay bounded (measured
//! as this process's RSS and the connection's buffered amount) and the server
//! must keep answering other clients.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wsx_core::net::{Backpressure, ServerConfig};
use wsx_hardening::memory::self_rss;
use wsx_hardening::peer::{Ending, RawPeer, frame, op};
use wsx_hardening::server::TestServer;

const PATIENCE: Duration = Duration::from_secs(20);
const MIB: usize = 1024 * 1024;
/// The send queue's high-water mark in these tests.
const HIGH_WATER: usize = MIB;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn server() -> TestServer {
    let config = ServerConfig {
        keepalive: None,
        close_timeout: Duration::from_secs(2),
        backpressure: Backpressure {
            high_water: HIGH_WATER,
            low_water: HIGH_WATER / 4,
        },
        ..ServerConfig::default()
    };
    TestServer::start(config, true)
}

/// Writes `unit` over and over, up to `total` bytes, on a thread of its own;
/// returns once the server stops taking them (a second with no progress) or
/// all went out, with the bytes written.
fn write_until_stalled(stream: &TcpStream, unit: Vec<u8>, total: usize) -> usize {
    let sent = Arc::new(AtomicUsize::new(0));
    let mut writer = stream.try_clone().unwrap();
    let counter = sent.clone();
    let thread = std::thread::spawn(move || {
        while counter.load(Ordering::Acquire) < total {
            if writer.write_all(&unit).is_err() {
                return;
            }
            counter.fetch_add(unit.len(), Ordering::AcqRel);
        }
    });
    let mut last = usize::MAX;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = sent.load(Ordering::Acquire);
        if now == last || thread.is_finished() {
            break now;
        }
        last = now;
    }
}

/// The server-side connection's buffered amount (its only connection).
fn server_buffered(server: &TestServer) -> usize {
    let conns = server.stats.conns.lock().unwrap();
    conns.iter().map(|c| c.buffered_amount()).max().unwrap_or(0)
}

fn rss_growth(before: Option<usize>) -> Option<usize> {
    Some(self_rss()?.saturating_sub(before?))
}

#[test]
fn endless_pings_from_a_peer_that_never_reads_stay_bounded() {
    let _serial = serial();
    let server = server();
    let before = self_rss();
    let p = RawPeer::connect(server.addr(), PATIENCE).expect("handshake");
    // 64 MiB of pings: unbounded pongs would queue about as much.
    let sent = write_until_stalled(&p.stream, frame(true, op::PING, &[0x55; 125]), 64 * MIB);
    let buffered = server_buffered(&server);
    assert!(
        buffered <= 3 * HIGH_WATER,
        "{buffered} bytes of pongs queued"
    );
    if let Some(grew) = rss_growth(before) {
        assert!(
            grew < 24 * MIB,
            "RSS grew by {grew} bytes after {sent} bytes of pings"
        );
    }
    server.assert_serves();
    eprintln!("pings: {sent} bytes taken, {buffered} bytes queued");
}

#[test]
fn a_peer_that_never_reads_meets_backpressure() {
    let _serial = serial();
    let server = server();
    let before = self_rss();
    let p = RawPeer::connect(server.addr(), PATIENCE).expect("handshake");
    let sent = write_until_stalled(
        &p.stream,
        frame(true, op::BINARY, &[0xAB; 16 * 1024]),
        64 * MIB,
    );
    let buffered = server_buffered(&server);
    // The echoes stop at the high-water mark (send reports would-block).
    assert!(
        buffered <= HIGH_WATER + 16 * 1024,
        "{buffered} bytes queued"
    );
    assert!(buffered > 0, "nothing queued: the peer never reads");
    if let Some(grew) = rss_growth(before) {
        assert!(
            grew < 24 * MIB,
            "RSS grew by {grew} bytes after {sent} bytes sent"
        );
    }
    server.assert_serves();
    eprintln!("never reads: {sent} bytes taken, {buffered} bytes queued");
}

#[test]
fn a_flood_of_tiny_frames_is_echoed_in_full() {
    let _serial = serial();
    let server = server();
    let before = self_rss();
    let mut p = RawPeer::connect(server.addr(), PATIENCE).expect("handshake");
    const FRAMES: usize = 100_000;
    let mut writer = p.stream.try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        let mut batch = Vec::new();
        for i in 0..FRAMES {
            batch.extend(frame(true, op::BINARY, &[i as u8]));
            if batch.len() > 64 * 1024 {
                writer.write_all(&batch).unwrap();
                batch.clear();
            }
        }
        writer.write_all(&batch).unwrap();
    });
    for i in 0..FRAMES {
        let f = p.read_frame().unwrap().expect("an echo");
        assert_eq!(
            (f.opcode, f.payload),
            (op::BINARY, vec![i as u8]),
            "frame {i}"
        );
    }
    flood.join().unwrap();
    p.close(1000).unwrap();
    assert_eq!(p.ending().unwrap(), Ending::Close(1000));
    if let Some(grew) = rss_growth(before) {
        assert!(grew < 24 * MIB, "RSS grew by {grew} bytes");
    }
    server.assert_serves();
}
