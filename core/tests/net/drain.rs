//! Graceful shutdown (the drain): open connections get the chosen close
//! frame and time to answer, handshakes meanwhile get 503, what is left is
//! dropped at the deadline, and the shutdown event comes once all is done.

use std::io::{Read, Write};
use std::time::Duration;

use crate::util::*;
use wsx_core::net::{ConnState, ErrorKind};
use wsx_core::proto::CloseCode;

/// Waits for the server's shutdown event, past its upgrade events.
fn wait_shutdown(echo: &Echo) {
    while !matches!(echo.next_event(), ServerEv::Shutdown) {}
}

#[test]
fn open_connections_get_the_chosen_close_and_new_handshakes_get_503() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (conn, events) = connect(lp.handle(), &echo.url(), client_config());
    // A peer that never answers the close frame keeps the drain going.
    let mut silent = echo.raw_client();
    echo.conns.open();

    echo.server
        .drain(
            CloseCode::SERVICE_RESTART,
            "back in a minute",
            Duration::from_secs(3),
        )
        .expect("drain");
    // The answering client closes cleanly with the server's code and reason.
    assert_eq!(events.close(), (1012, "back in a minute".into(), true));
    assert_eq!(conn.state(), ConnState::Closed);

    // While the silent peer holds the drain open, a new handshake gets 503.
    let (recorder, refused) = Recorder::new(false);
    lp.handle()
        .connect(&echo.url(), client_config(), recorder)
        .expect("connect");
    let (kind, status, message) = refused.error();
    assert_eq!(
        (kind, status),
        (ErrorKind::Handshake, Some(503)),
        "{message}"
    );

    // The silent peer read the close frame: 1012 and the reason.
    let mut head = [0u8; 256];
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("back in a minute") {
        let n = silent.read(&mut head).expect("read");
        assert!(n > 0, "the server hung up before the close frame");
        seen.extend_from_slice(&head[..n]);
    }
    let close_at = seen
        .windows(2)
        .position(|w| w == [0x88, 18])
        .expect("a close frame");
    assert_eq!(&seen[close_at + 2..close_at + 4], &1012u16.to_be_bytes());

    // At the deadline the silent peer is dropped and the server is done.
    wait_shutdown(&echo);
    let mut rest = Vec::new();
    let _ = silent.read_to_end(&mut rest);
    // After the drain the port no longer listens.
    assert!(std::net::TcpStream::connect(echo.server.local_addr()).is_err());
    drop(silent);
}

#[test]
fn a_drain_with_nothing_open_ends_at_once_and_bad_codes_are_refused() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let bad = echo
        .server
        .drain(CloseCode::ABNORMAL, "", Duration::from_secs(1));
    assert_eq!(
        bad.expect_err("1006 cannot be sent").kind(),
        ErrorKind::InvalidArgument
    );
    let long = "x".repeat(124);
    assert!(
        echo.server
            .drain(CloseCode::GOING_AWAY, &long, Duration::from_secs(1))
            .is_err()
    );
    echo.server
        .drain(CloseCode::GOING_AWAY, "", Duration::from_secs(60))
        .expect("drain");
    wait_shutdown(&echo);
}

#[test]
fn a_plain_http_request_during_the_drain_gets_503() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (_conn, _events) = connect(lp.handle(), &echo.url(), client_config());
    let silent = echo.raw_client();
    echo.conns.open();
    echo.server
        .drain(CloseCode::GOING_AWAY, "", Duration::from_secs(3))
        .expect("drain");
    let mut health = std::net::TcpStream::connect(echo.server.local_addr()).expect("tcp");
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut answer = String::new();
    let _ = health.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop(silent);
}
