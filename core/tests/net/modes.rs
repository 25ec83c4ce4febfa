//! Poll mode from one thread, graceful server shutdown, and server limits.

use std::io::Read;
use std::sync::mpsc::channel;
use std::thread::ThreadId;
use std::time::Duration;

use crate::util::*;
use wsx_core::net::{Close, Conn, Ctx, ErrorKind, EventLoop, Handler, Open, ServerConfig};
use wsx_core::proto::{CloseCode, MessageKind};

/// Checks that every callback runs on the thread that polls.
struct OnThread {
    thread: ThreadId,
    tx: std::sync::mpsc::Sender<String>,
}

impl OnThread {
    fn check(&self) {
        assert_eq!(
            std::thread::current().id(),
            self.thread,
            "callback on another thread"
        );
    }
}

impl Handler for OnThread {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        self.check();
        ctx.send(MessageKind::Text, b"hello from on_open")
            .expect("send");
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, _kind: MessageKind, data: &[u8], _fin: bool) {
        self.check();
        let _ = self.tx.send(String::from_utf8_lossy(data).into_owned());
        ctx.close(CloseCode::NORMAL, "thanks").expect("close");
    }
    fn on_close(&mut self, _conn: &Conn, close: &Close<'_>) {
        self.check();
        let _ = self
            .tx
            .send(format!("closed {} {}", close.code.0, close.clean));
    }
}

#[test]
fn poll_mode_drives_client_and_server_from_one_thread() {
    let mut lp = EventLoop::new().expect("loop");
    let echo = Echo::start(&lp.handle(), server_config());
    let (tx, rx) = channel();
    let handler = Box::new(OnThread {
        thread: std::thread::current().id(),
        tx,
    });
    let conn = lp
        .handle()
        .connect(&echo.url(), client_config(), handler)
        .expect("connect");
    let mut seen = Vec::new();
    let mut turns = 0u64;
    while seen.len() < 2 {
        lp.poll(Some(Duration::ZERO)).expect("poll");
        seen.extend(rx.try_iter());
        turns += 1;
        if turns % 1000 == 0 {
            std::thread::yield_now();
        }
        assert!(turns < 50_000_000, "no progress");
    }
    assert_eq!(seen, ["hello from on_open", "closed 1000 true"]);
    assert_eq!(conn.state(), wsx_core::net::ConnState::Closed);
}

#[test]
fn poll_with_a_timeout_returns_when_nothing_happens() {
    let mut lp = EventLoop::new().expect("loop");
    lp.poll(Some(Duration::from_millis(1))).expect("poll");
    lp.poll(Some(Duration::ZERO)).expect("poll");
}

#[test]
fn stop_ends_run_from_another_thread() {
    let mut lp = EventLoop::new().expect("loop");
    let handle = lp.handle();
    let stopper = std::thread::spawn(move || handle.stop());
    lp.run().expect("run returns after stop");
    stopper.join().expect("stopper");
}

#[test]
fn dropping_the_loop_closes_its_connections() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (conn, events) = connect(lp.handle(), &echo.url(), client_config());
    drop(lp);
    let (code, _, clean) = events.close();
    assert_eq!((code, clean), (1006, false));
    assert_eq!(
        conn.send(MessageKind::Text, b"x").expect_err("gone").kind(),
        ErrorKind::Closed
    );
    // The server was told it stopped.
    assert!(
        std::iter::from_fn(|| echo.events.recv_timeout(PATIENCE).ok())
            .any(|e| e == ServerEv::Shutdown)
    );
}

#[test]
fn graceful_shutdown_closes_every_connection_with_1001() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let clients: Vec<_> = (0..3)
        .map(|_| connect(lp.handle(), &echo.url(), client_config()))
        .collect();
    echo.server.shutdown(Duration::from_secs(10));
    for (_, events) in &clients {
        let (code, _, clean) = events.close();
        assert_eq!((code, clean), (1001, true));
    }
    assert!(
        std::iter::from_fn(|| echo.events.recv_timeout(PATIENCE).ok())
            .any(|e| e == ServerEv::Shutdown)
    );
    // No longer accepting.
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&echo.url(), client_config(), recorder)
        .expect("connect");
    assert_eq!(events.error().0, ErrorKind::Connect);
}

#[test]
fn shutdown_drops_connections_that_do_not_answer_after_the_timeout() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    // A raw client that completes the handshake, then never reads again.
    let mut tcp = echo.raw_client();
    echo.server.shutdown(Duration::from_millis(200));
    let (code, _, clean) = echo.conns.close();
    assert_eq!((code, clean), (1006, false));
    assert!(
        std::iter::from_fn(|| echo.events.recv_timeout(PATIENCE).ok())
            .any(|e| e == ServerEv::Shutdown)
    );
    // The raw client got the 101 and the 1001 close frame before the drop.
    let mut received = Vec::new();
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let _ = tcp.read_to_end(&mut received);
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    // A close frame (0x88, length) carrying 1001 (0x03e9).
    assert!(
        received
            .windows(4)
            .any(|w| w[0] == 0x88 && w[2..] == [0x03, 0xe9]),
        "close frame 1001 sent"
    );
}

#[test]
fn connections_past_the_limit_are_turned_away() {
    let lp = spawn_loop();
    let echo = Echo::start(
        lp.handle(),
        ServerConfig {
            max_connections: 2,
            ..server_config()
        },
    );
    let _a = connect(lp.handle(), &echo.url(), client_config());
    let _b = connect(lp.handle(), &echo.url(), client_config());
    let (recorder, events) = Recorder::new(false);
    lp.handle()
        .connect(&echo.url(), client_config(), recorder)
        .expect("connect");
    let (kind, _, message) = events.error();
    assert!(
        matches!(kind, ErrorKind::Handshake | ErrorKind::Io),
        "{message}"
    );
    assert_eq!(events.close().0, 1006);
}

#[test]
fn server_reports_the_peer_address() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (conn, _events) = connect(lp.handle(), &echo.url(), client_config());
    assert_eq!(conn.peer_addr(), Some(echo.server.local_addr().into()));
}

#[test]
fn unfinished_handshakes_time_out_and_the_oldest_makes_room() {
    use std::io::Read;
    // The server runs in poll mode here, so the order of accepts is known.
    let mut server_loop = EventLoop::new().expect("loop");
    let config = ServerConfig {
        max_pending_handshakes: 1,
        handshake_timeout: Duration::from_millis(300),
        ..server_config()
    };
    let echo = Echo::start(&server_loop.handle(), config);
    let addr = echo.server.local_addr();
    // A client that connects and says nothing holds the only handshake slot,
    // until a newer connection takes it: the oldest is dropped, silently.
    let mut first = std::net::TcpStream::connect(addr).expect("tcp");
    first.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut idle = std::net::TcpStream::connect(addr).expect("tcp");
    poll_until(&mut server_loop, || echo.server.evicted_handshakes() == 1);
    assert_eq!(first.read(&mut [0; 16]).expect("end of stream"), 0);
    assert!(
        echo.events.try_iter().next().is_none(),
        "evictions are not errors"
    );
    // The newer one's handshake times out: the server reports it and hangs up.
    let mut server_events = Vec::new();
    poll_until(&mut server_loop, || {
        server_events.extend(echo.events.try_iter());
        !server_events.is_empty()
    });
    match &server_events[0] {
        ServerEv::Error(ErrorKind::Timeout, None, message) => {
            assert!(message.contains("handshake"), "{message}")
        }
        other => panic!("expected the timeout, got {other:?}"),
    }
    idle.set_read_timeout(Some(PATIENCE)).expect("timeout");
    assert_eq!(idle.read(&mut [0; 16]).expect("end of stream"), 0);
    // A well-behaved client is served.
    let client_loop = spawn_loop();
    let (recorder, events) = Recorder::new(false);
    client_loop
        .handle()
        .connect(&echo.url(), client_config(), recorder)
        .expect("connect");
    let mut opened = false;
    poll_until(&mut server_loop, || {
        opened |= events.0.try_iter().any(|e| matches!(e, Ev::Open { .. }));
        opened
    });
}

/// Polls `event_loop` until `done` says so.
fn poll_until(event_loop: &mut EventLoop, mut done: impl FnMut() -> bool) {
    while !done() {
        event_loop
            .poll(Some(Duration::from_millis(10)))
            .expect("poll");
    }
}

#[test]
fn handles_are_thread_safe() {
    fn send_sync<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    send_sync::<Conn>();
    send_sync::<wsx_core::net::LoopHandle>();
    send_sync::<wsx_core::net::Server>();
    send::<EventLoop>();
    send::<wsx_core::net::LoopThread>();
    send_sync::<wsx_core::net::Error>();
}
