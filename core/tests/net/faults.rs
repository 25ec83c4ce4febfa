//! Failures a client must report clearly: refused connections, unknown names,
//! and peers that stop answering (keepalive, close and handshake timeouts).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::util::*;
use wsx_core::net::{ClientConfig, ConnState, ErrorKind, Keepalive};
use wsx_core::proto::CloseCode;
use wsx_core::proto::handshake::accept_key;

/// A raw TCP peer: completes the WebSocket handshake (or not), then goes
/// silent, holding the socket open until the test drops it.
struct SilentPeer {
    addr: std::net::SocketAddr,
    stop: std::sync::mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl SilentPeer {
    fn start(handshake: bool) -> SilentPeer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped): (_, Receiver<()>) = channel();
        let thread = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().expect("accept");
            if handshake {
                let request = read_head(&mut tcp);
                let key = request
                    .lines()
                    .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                    .expect("a key")
                    .trim()
                    .to_owned();
                let response = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                    accept_key(&key)
                );
                tcp.write_all(response.as_bytes()).expect("write");
            }
            // Silent from here on; keep the socket until the test ends.
            let _ = stopped.recv_timeout(PATIENCE);
            drop(tcp);
        });
        SilentPeer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for SilentPeer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("read the request");
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("ascii")
}

#[test]
fn connection_refused_is_reported_as_connect() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let lp = spawn_loop();
    let (recorder, events) = Recorder::new(false);
    let conn = lp
        .handle()
        .connect(
            &format!("ws://127.0.0.1:{port}/"),
            client_config(),
            recorder,
        )
        .expect("connect");
    let (kind, status, message) = events.error();
    assert_eq!((kind, status), (ErrorKind::Connect, None));
    assert!(message.contains("refused"), "{message}");
    assert_eq!(events.close(), (1006, message, false));
    assert_eq!(conn.state(), ConnState::Closed);
    events.assert_done();
}

/// A connect that gets no answer ends with the connect timeout. On loopback a
/// listener whose accept queue is full drops new SYNs (Linux behaviour), so the
/// connect hangs without leaving 127.0.0.1.
#[cfg(target_os = "linux")]
#[test]
fn connect_timeout_ends_a_connect_that_gets_no_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Fill the accept queue (the listener never accepts) until a connect hangs.
    let mut held = Vec::new();
    let full =
        (0..4096).any(
            |_| match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(tcp) => {
                    held.push(tcp);
                    false
                }
                Err(_) => true,
            },
        );
    assert!(full, "the accept queue never filled");
    let lp = spawn_loop();
    let (recorder, events) = Recorder::new(false);
    let config = ClientConfig {
        connect_timeout: Duration::from_millis(300),
        ..client_config()
    };
    let conn = lp
        .handle()
        .connect(&format!("ws://{addr}/"), config, recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Timeout, "{message}");
    assert!(message.contains("connect"), "{message}");
    assert_eq!(events.close(), (1006, message, false));
    assert_eq!(conn.state(), ConnState::Closed);
    drop(held);
}

#[test]
fn unknown_host_is_reported_as_dns() {
    let lp = spawn_loop();
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect("ws://nonexistent.invalid/", client_config(), recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Dns);
    assert!(message.contains("nonexistent.invalid"), "{message}");
    assert!(!events.close().2);
}

#[test]
fn keepalive_drops_a_peer_that_stops_answering() {
    let peer = SilentPeer::start(true);
    let lp = spawn_loop();
    let keepalive = Keepalive {
        interval: Duration::from_millis(50),
        timeout: Duration::from_millis(150),
    };
    let config = ClientConfig {
        keepalive: Some(keepalive),
        ..client_config()
    };
    let (conn, events) = connect(lp.handle(), &peer.url(), config);
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Timeout);
    assert!(message.contains("ping"), "{message}");
    assert_eq!(events.close(), (1006, message, false));
    assert_eq!(conn.state(), ConnState::Closed);
}

#[test]
fn close_timeout_drops_a_peer_that_never_answers_the_close() {
    let peer = SilentPeer::start(true);
    let lp = spawn_loop();
    let config = ClientConfig {
        close_timeout: Duration::from_millis(200),
        ..client_config()
    };
    let (conn, events) = connect(lp.handle(), &peer.url(), config);
    conn.close(CloseCode::NORMAL, "done").expect("close");
    assert_eq!(conn.state(), ConnState::Closing);
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Timeout);
    assert!(message.contains("close"), "{message}");
    let (code, _, clean) = events.close();
    assert_eq!((code, clean), (1006, false));
}

#[test]
fn handshake_timeout_drops_a_server_that_never_answers() {
    let peer = SilentPeer::start(false);
    let lp = spawn_loop();
    let config = ClientConfig {
        handshake_timeout: Duration::from_millis(200),
        ..client_config()
    };
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&peer.url(), config, recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Timeout);
    assert!(message.contains("handshake"), "{message}");
    assert_eq!(events.close().0, 1006);
}

#[test]
fn idle_timeout_drops_a_quiet_connection() {
    let peer = SilentPeer::start(true);
    let lp = spawn_loop();
    let config = ClientConfig {
        idle_timeout: Some(Duration::from_millis(150)),
        ..client_config()
    };
    let (_conn, events) = connect(lp.handle(), &peer.url(), config);
    let (kind, _, message) = events.error();
    assert_eq!(kind, ErrorKind::Timeout);
    assert!(message.contains("nothing received"), "{message}");
    assert_eq!(events.close().0, 1006);
}

#[test]
fn keepalive_against_a_live_peer_measures_the_round_trip() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let keepalive = Keepalive {
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
    };
    let config = ClientConfig {
        keepalive: Some(keepalive),
        ..client_config()
    };
    let (conn, events) = connect(lp.handle(), &echo.url(), config);
    // Several keepalive rounds pass, each answered.
    for _ in 0..3 {
        events.until(|ev| matches!(ev, Ev::Pong(_, true)).then_some(()));
    }
    assert!(conn.rtt().is_some());
    assert_eq!(conn.state(), ConnState::Open);
}

#[test]
fn explicit_ping_gets_its_pong_with_a_round_trip() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (conn, events) = connect(lp.handle(), &echo.url(), client_config());
    assert_eq!(conn.rtt(), None);
    conn.ping(b"are you there").expect("ping");
    let pong = events.until(|ev| match ev {
        Ev::Pong(data, measured) => Some((data, measured)),
        _ => None,
    });
    assert_eq!(pong, (b"are you there".to_vec(), true));
    assert!(conn.rtt().is_some());
    assert_eq!(
        echo.conns.until(|ev| match ev {
            Ev::Ping(data) => Some(data),
            _ => None,
        }),
        b"are you there"
    );
    assert_eq!(
        conn.ping(&[0; 126]).expect_err("too long").kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn close_while_connecting_ends_the_attempt() {
    let peer = SilentPeer::start(false);
    let lp = spawn_loop();
    let (recorder, events) = Recorder::new(false);
    let conn = lp
        .handle()
        .connect(&peer.url(), client_config(), recorder)
        .expect("connect");
    conn.close(CloseCode::NORMAL, "").expect("close");
    let (code, _, clean) = events.close();
    assert_eq!((code, clean), (1006, false));
    assert_eq!(conn.state(), ConnState::Closed);
}

#[test]
fn a_protocol_error_closes_with_1002_and_reports_it() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let mut tcp = echo.raw_client();
    // An unmasked frame from a client breaks RFC 6455 section 5.1.
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).expect("frame");
    let (kind, _, message) = echo.conns.error();
    assert_eq!(kind, ErrorKind::Protocol, "{message}");
    let (code, _, clean) = echo.conns.close();
    assert_eq!((code, clean), (1002, false));
    // The client got the 101, then a close frame with 1002, then the end.
    let mut received = Vec::new();
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let _ = tcp.read_to_end(&mut received);
    let at = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response")
        + 4;
    assert_eq!(received[at], 0x88, "a close frame");
    assert_eq!(received[at + 2..at + 4], [0x03, 0xea]);
}

#[test]
fn server_keepalive_pings_clients_and_measures_the_round_trip() {
    let lp = spawn_loop();
    let keepalive = Keepalive {
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
    };
    let config = wsx_core::net::ServerConfig {
        keepalive: Some(keepalive),
        ..server_config()
    };
    let echo = Echo::start(lp.handle(), config);
    let (conn, events) = connect(lp.handle(), &echo.url(), client_config());
    for _ in 0..3 {
        echo.conns
            .until(|ev| matches!(ev, Ev::Pong(_, true)).then_some(()));
        // The client saw the pings (answered by itself).
        events.until(|ev| matches!(ev, Ev::Ping(_)).then_some(()));
    }
    assert_eq!(conn.state(), ConnState::Open);
}

/// A handler that hands over the whole error of a connection (the
/// recorder's events keep only its kind, status and message).
struct Failures(std::sync::mpsc::Sender<wsx_core::net::Error>);

impl wsx_core::net::Handler for Failures {
    fn on_error(&mut self, _conn: &wsx_core::net::Conn, error: &wsx_core::net::Error) {
        let _ = self.0.send(error.clone());
    }
}

fn failure_of(url: &str, config: ClientConfig, close: bool) -> wsx_core::net::Error {
    let lp = spawn_loop();
    let (tx, rx) = channel();
    let conn = lp
        .handle()
        .connect(url, config, Box::new(Failures(tx)))
        .expect("connect");
    if close {
        std::thread::sleep(Duration::from_millis(100));
        conn.close(CloseCode::NORMAL, "done").expect("close");
    }
    rx.recv_timeout(PATIENCE).expect("an error")
}

#[test]
fn errors_say_which_timeout_passed_and_carry_errno_and_the_refusal() {
    use wsx_core::net::Timeout;
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let refused = failure_of(&format!("ws://127.0.0.1:{port}/"), client_config(), false);
    assert_eq!(refused.kind(), ErrorKind::Connect);
    assert_eq!(refused.os_error(), Some(111), "{refused}"); // ECONNREFUSED
    assert_eq!(refused.which_timeout(), None);

    let silent = SilentPeer::start(false);
    let config = ClientConfig {
        handshake_timeout: Duration::from_millis(150),
        ..client_config()
    };
    let open = failure_of(&silent.url(), config, false);
    assert_eq!(open.which_timeout(), Some(Timeout::Open), "{open}");

    let silent = SilentPeer::start(true);
    let config = ClientConfig {
        keepalive: Some(Keepalive {
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(100),
        }),
        ..client_config()
    };
    let keepalive = failure_of(&silent.url(), config, false);
    assert_eq!(
        keepalive.which_timeout(),
        Some(Timeout::Keepalive),
        "{keepalive}"
    );

    let silent = SilentPeer::start(true);
    let config = ClientConfig {
        close_timeout: Duration::from_millis(150),
        ..client_config()
    };
    let close = failure_of(&silent.url(), config, true);
    assert_eq!(close.which_timeout(), Some(Timeout::Close), "{close}");

    let lp = spawn_loop();
    let echo = Echo::start_refusing(lp.handle(), server_config(), Some(401));
    let refusal = failure_of(&echo.url(), client_config(), false);
    let response = refusal.response().expect("the whole response");
    assert_eq!(response.status, 401);
    assert!(String::from_utf8_lossy(&response.body).contains("go away"));
}
