//! Slowloris: thousands of connections that send their handshake a byte at a
//! time, or nothing. Unfinished handshakes time out (a total deadline, not an
//! idle one), the limit on unfinished handshakes holds (each newcomer takes
//! the place of the oldest), and a well-behaved client is served while the
//! attack goes on.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wsx_core::net::ServerConfig;
use wsx_hardening::memory::{raise_fd_limit, self_rss};
use wsx_hardening::peer::request;
use wsx_hardening::server::TestServer;

const ATTACKERS: usize = 2000;
const MAX_PENDING: usize = 300;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const PATIENCE: Duration = Duration::from_secs(30);

/// Whether the server closed `stream` (EOF or reset); it must be nonblocking.
fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false, // An HTTP error response: closed right after.
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

fn open_count(streams: &mut [TcpStream], gone: &mut [bool]) -> usize {
    for (s, g) in streams.iter_mut().zip(gone.iter_mut()) {
        *g = *g || closed(s);
    }
    gone.iter().filter(|g| !**g).count()
}

#[test]
fn slowloris_is_cut_off_and_others_are_served() {
    let limit = raise_fd_limit(3 * ATTACKERS as u64 + 1000);
    assert!(
        limit >= 2 * ATTACKERS as u64 + 100,
        "open-file limit {limit} is too low for this test"
    );
    let config = ServerConfig {
        max_pending_handshakes: MAX_PENDING,
        handshake_timeout: HANDSHAKE_TIMEOUT,
        keepalive: None,
        ..ServerConfig::default()
    };
    let server = TestServer::start(config, true);
    let addr = server.addr();
    let before = self_rss();
    let mut streams: Vec<TcpStream> = (0..ATTACKERS)
        .map(|_| {
            let s = TcpStream::connect(addr).expect("connect");
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let mut gone = vec![false; ATTACKERS];

    // Every other attacker trickles its request a byte at a time.
    let stop = Arc::new(AtomicBool::new(false));
    let tricklers: Vec<TcpStream> = streams
        .iter()
        .step_by(2)
        .map(|s| s.try_clone().unwrap())
        .collect();
    let trickle = {
        let stop = stop.clone();
        let req = request(&addr.to_string()).into_bytes();
        std::thread::spawn(move || {
            let mut tricklers = tricklers;
            // Never the last byte: the handshake must never finish.
            for &byte in &req[..req.len() - 1] {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                for s in &mut tricklers {
                    let _ = s.write(&[byte]);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    // The limit holds: all but MAX_PENDING are closed at once, each evicted
    // by a newer connection (no handshake can have timed out or failed yet).
    std::thread::sleep(Duration::from_millis(500));
    let open = open_count(&mut streams, &mut gone);
    assert!(
        open <= MAX_PENDING,
        "{open} unfinished handshakes held open; the limit is {MAX_PENDING}"
    );
    let evicted = server.server.evicted_handshakes();
    assert!(
        evicted >= (ATTACKERS - open) as u64,
        "{} closed but only {evicted} counted as evicted",
        ATTACKERS - open
    );
    if let (Some(before), Some(now)) = (before, self_rss()) {
        // A pending handshake holds at most its header limit (8 KiB).
        let grew = now.saturating_sub(before);
        assert!(
            grew < 32 << 20,
            "RSS grew by {grew} bytes during the attack"
        );
    }

    // A well-behaved client is served while the attack goes on.
    // (Checked to be during the attack: slots still held afterwards.)
    server.assert_serves();
    let held = open_count(&mut streams, &mut gone);
    assert!(
        held > 0,
        "the attack was over before the client came: nothing was tested"
    );

    // Unfinished handshakes time out, trickling or not.
    let deadline = Instant::now() + PATIENCE;
    while open_count(&mut streams, &mut gone) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} unfinished handshakes never timed out",
            open_count(&mut streams, &mut gone)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Release);
    trickle.join().unwrap();
    // None of the attackers ever reached the application.
    assert_eq!(server.opened(), 1);
    server.assert_serves();
    eprintln!(
        "slowloris: {open} of {ATTACKERS} held (limit {MAX_PENDING}), {held} after the client"
    );
}
