//! Hostile handshakes against an in-process wsx server: a header block that
//! never ends, a flood of header lines, a plain HTTP request. Each gets its
//! documented HTTP status and a closed connection, with bounded memory, and
//! the server still answers another client afterwards.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use wsx_core::net::ServerConfig;
use wsx_hardening::memory::self_rss;
use wsx_hardening::server::TestServer;

const PATIENCE: Duration = Duration::from_secs(20);

fn server() -> TestServer {
    let config = ServerConfig {
        keepalive: None,
        ..ServerConfig::default()
    };
    TestServer::start(config, true)
}

/// Writes `request` (stopping quietly if the server closes first), then
/// reads the response until the server closes; returns its status line.
fn refused(server: &TestServer, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    for chunk in request.chunks(64 * 1024) {
        if stream.write_all(chunk).is_err() {
            break;
        }
    }
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            // The refusal may be cut by a reset when our bytes were unread.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the refusal: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&response);
    text.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn header_bombs_get_431_with_bounded_memory() {
    let server = server();
    let before = self_rss();
    // One endless header line: 4 MiB with no end of line.
    let mut long = b"GET / HTTP/1.1\r\nHost: a\r\nX-Bomb: ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 4 << 20));
    let status = refused(&server, &long);
    // The server closes with our bytes unread, so a reset may swallow the
    // 431; either way the connection ends without being served.
    assert!(
        status.starts_with("HTTP/1.1 431 ") || status.is_empty(),
        "{status:?}"
    );
    // Many short lines: past the 64-line limit long before the byte limit.
    let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..100 {
        many.extend(format!("X-{i}: 1\r\n").into_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(refused(&server, &many).starts_with("HTTP/1.1 431 "));
    if let (Some(before), Some(after)) = (before, self_rss()) {
        let grew = after.saturating_sub(before);
        assert!(grew < 16 << 20, "RSS grew by {grew} bytes");
    }
    assert_eq!(
        server.opened(),
        0,
        "a refused request reached the application"
    );
    server.assert_serves();
}

#[test]
fn plain_http_gets_426_a_bad_key_400_and_a_post_405() {
    let server = server();
    let plain = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert!(refused(&server, plain).starts_with("HTTP/1.1 426 "));
    let bad_key = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert!(refused(&server, bad_key).starts_with("HTTP/1.1 400 "));
    let post = b"POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let status = refused(&server, post);
    assert!(status.starts_with("HTTP/1.1 405 "), "{status}");
    assert_eq!(
        server.opened(),
        0,
        "a refused request reached the application"
    );
    server.assert_serves();
}
