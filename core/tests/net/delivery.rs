//! Delivery policy owned by the core: pull-mode receive with its bounded
//! inbox (would-block, readable event, TCP backpressure instead of memory),
//! the send that waits for room, and the close classification read by every
//! binding.

use std::sync::mpsc::{Sender, channel};
use std::time::Duration;

use crate::util::*;
use wsx_core::net::{
    Backpressure, ClientConfig, Close, CloseInfo, CloseOrigin, Conn, ConnState, Ctx, ErrorKind,
    Handler, InboxLimits, Open, Refusal, ServerConfig, ServerHandler, Upgrade,
};
use wsx_core::proto::{CloseCode, MessageKind};

/// What a pull-mode connection reports to the test.
enum Pull {
    Conn(Conn),
    Readable,
    Closed(CloseInfo),
}

/// A handler in pull mode: reports readable events and how it ended.
struct PullHandler(Sender<Pull>);

impl Handler for PullHandler {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        let _ = self.0.send(Pull::Conn(ctx.conn().clone()));
    }
    fn on_readable(&mut self, _ctx: &mut Ctx<'_>) {
        let _ = self.0.send(Pull::Readable);
    }
    fn on_close(&mut self, conn: &Conn, close: &Close<'_>) {
        assert_eq!(conn.close_info(), Some(close.to_info()));
        let _ = self.0.send(Pull::Closed(close.to_info()));
    }
}

/// A server whose connections are in pull mode (or push mode, recording).
struct PullServer(Sender<Pull>);

impl ServerHandler for PullServer {
    fn on_upgrade(&mut self, _u: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(PullHandler(self.0.clone())))
    }
}

/// How long a queue that does not drain at all is waited for before the
/// sender counts as held back.
const HELD: Duration = Duration::from_secs(1);

/// A loop with a pull-mode server on it (`config`'s inbox set), its URL,
/// and what its connections report.
struct PullSetup {
    lp: wsx_core::net::LoopThread,
    server: wsx_core::net::Server,
    url: String,
    rx: std::sync::mpsc::Receiver<Pull>,
}

fn pull_server(limits: InboxLimits, config: ServerConfig) -> PullSetup {
    let lp = spawn_loop();
    let (tx, rx) = channel();
    let config = ServerConfig {
        inbox: Some(limits),
        ..config
    };
    let server = lp
        .handle()
        .listen(config, Box::new(PullServer(tx)))
        .expect("listen");
    let url = format!("ws://{}/", server.local_addr());
    PullSetup {
        lp,
        server,
        url,
        rx,
    }
}

/// A client config whose send queue fills at `high_water`, uncompressed.
fn small_queue(high_water: usize) -> ClientConfig {
    ClientConfig {
        backpressure: Backpressure {
            high_water,
            low_water: high_water / 4,
        },
        compression: None,
        ..client_config()
    }
}

fn next(rx: &std::sync::mpsc::Receiver<Pull>) -> Pull {
    rx.recv_timeout(PATIENCE).expect("an event")
}

fn first_conn(rx: &std::sync::mpsc::Receiver<Pull>) -> Conn {
    loop {
        if let Pull::Conn(c) = next(rx) {
            return c;
        }
    }
}

fn closed(rx: &std::sync::mpsc::Receiver<Pull>) -> CloseInfo {
    loop {
        if let Pull::Closed(info) = next(rx) {
            return info;
        }
    }
}

#[test]
fn pull_receive_reports_would_block_then_the_message_then_the_end() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (tx, rx) = channel();
    let config = ClientConfig {
        inbox: Some(InboxLimits::default()),
        ..client_config()
    };
    let conn = lp
        .handle()
        .connect(&echo.url(), config, Box::new(PullHandler(tx)))
        .expect("connect");
    while conn.state() == ConnState::Connecting {
        std::thread::sleep(Duration::from_millis(5));
    }
    let e = conn.recv().expect_err("nothing arrived yet");
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    conn.send(MessageKind::Text, b"hello").expect("send");
    assert!(matches!(next(&rx), Pull::Conn(_)));
    assert!(matches!(next(&rx), Pull::Readable));
    let m = conn.recv().expect("the echo");
    assert_eq!(
        (m.kind, m.data.as_slice()),
        (MessageKind::Text, &b"hello"[..])
    );
    // A message that arrives before the end is still taken after it.
    conn.send(MessageKind::Binary, b"last").expect("send");
    echo.conns.message();
    echo.conns.message();
    let m = conn.recv_timeout(Some(PATIENCE)).expect("the second echo");
    assert_eq!(m.data, b"last");
    conn.close(CloseCode::NORMAL, "bye").expect("close");
    let info = closed(&rx);
    assert!(info.normal && info.clean, "{info:?}");
    assert_eq!(conn.recv().expect_err("ended").kind(), ErrorKind::Closed);
    let timed = conn.recv_timeout(Some(Duration::from_millis(1)));
    assert_eq!(timed.expect_err("ended").kind(), ErrorKind::Closed);
}

#[test]
fn a_connection_without_an_inbox_refuses_recv() {
    let lp = spawn_loop();
    let echo = Echo::start(lp.handle(), server_config());
    let (conn, _events) = connect(lp.handle(), &echo.url(), client_config());
    assert_eq!(
        conn.recv().expect_err("no inbox").kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn a_full_inbox_holds_the_peer_back_by_tcp_and_closes_nothing() {
    let limits = InboxLimits {
        high_messages: 4,
        low_messages: 1,
        high_bytes: 1 << 20,
        low_bytes: 1 << 18,
    };
    let PullSetup { lp, url, rx, .. } = pull_server(limits, server_config());
    let client_config = small_queue(1 << 20);
    let (client, client_events) = connect(lp.handle(), &url, client_config);
    let payload = |i: u32| {
        let mut p = vec![0u8; 64 * 1024];
        p[..4].copy_from_slice(&i.to_be_bytes());
        p
    };
    let conn = first_conn(&rx);
    // Keep sending until the client's queue stays full: the server stopped
    // reading, TCP filled up, and our sends pile up here instead of there.
    let mut sent = 0u32;
    loop {
        match client.send_timeout(MessageKind::Binary, &payload(sent), true, Some(HELD)) {
            Ok(()) => sent += 1,
            Err(e) if e.kind() == ErrorKind::Timeout => break,
            Err(e) => panic!("send failed: {e}"),
        }
        assert!(
            sent < 4000,
            "256 MiB went out: nothing held the sender back"
        );
    }
    assert!(
        conn.inbox_len() <= limits.high_messages,
        "the inbox holds {} messages, past its high mark",
        conn.inbox_len()
    );
    assert!(
        client.buffered_amount() > 0,
        "the sender's queue is not full"
    );
    assert_eq!(conn.state(), ConnState::Open);
    assert_eq!(client.state(), ConnState::Open);
    // Drain: every message arrives once, in order, and reading resumed.
    for i in 0..sent {
        let m = conn.recv_timeout(Some(PATIENCE)).expect("a message");
        assert_eq!(m.data[..4], i.to_be_bytes(), "message {i} out of order");
    }
    client_events.until(|ev| matches!(ev, Ev::Writable).then_some(()));
    assert!(conn.recv().is_err());
}

#[test]
fn send_timeout_waits_for_room_instead_of_refusing() {
    let limits = InboxLimits {
        high_messages: 2,
        low_messages: 0,
        high_bytes: 1 << 20,
        low_bytes: 0,
    };
    let PullSetup { lp, url, rx, .. } = pull_server(limits, server_config());
    let config = small_queue(1 << 18);
    let (client, _events) = connect(lp.handle(), &url, config);
    let conn = first_conn(&rx);
    let chunk = vec![1u8; 64 * 1024];
    // Fill until a send waits in vain: it times out rather than refusing.
    loop {
        match client.send_timeout(MessageKind::Binary, &chunk, true, Some(HELD)) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
                break;
            }
        }
    }
    // A reader drains the server's inbox; the waiting send gets through.
    let reader = std::thread::spawn(move || {
        let mut n = 0usize;
        while let Ok(m) = conn.recv_timeout(Some(Duration::from_secs(2))) {
            n += m.data.len();
        }
        n
    });
    client
        .send_timeout(MessageKind::Binary, &chunk, true, Some(PATIENCE))
        .expect("room once the reader drains");
    client.close(CloseCode::NORMAL, "").expect("close");
    assert!(reader.join().expect("reader") > 0);
}

/// Closes from one side with `code`; the close info of both sides.
fn close_with(code: u16, from_client: bool) -> (CloseInfo, CloseInfo) {
    let PullSetup { lp, url, rx, .. } = pull_server(InboxLimits::default(), server_config());
    let (client, events) = connect(lp.handle(), &url, client_config());
    client.send(MessageKind::Text, b"x").expect("send");
    let conn = first_conn(&rx);
    let closer = if from_client { &client } else { &conn };
    closer.close(CloseCode(code), "why").expect("close");
    events.close();
    let server_info = closed(&rx);
    (client.close_info().expect("client info"), server_info)
}

#[test]
fn the_close_classification_of_each_code_in_both_directions() {
    for code in [1000u16, 1001, 1011, 4000] {
        let normal = code == 1000 || code == 1001;
        for from_client in [true, false] {
            let (client, server) = close_with(code, from_client);
            for (side, info, began) in [
                ("client", &client, from_client),
                ("server", &server, !from_client),
            ] {
                let what = format!(
                    "{code} closed by the {}, seen by the {side}",
                    if from_client { "client" } else { "server" }
                );
                assert_eq!(info.code, CloseCode(code), "{what}");
                assert!(info.clean, "{what}");
                assert_eq!(info.normal, normal, "{what}");
                let origin = if began {
                    CloseOrigin::Local
                } else {
                    CloseOrigin::Remote
                };
                assert_eq!(info.origin, origin, "{what}");
                assert_eq!(
                    info.sent.as_ref().map(|s| s.0),
                    Some(CloseCode(code)),
                    "{what}"
                );
                assert_eq!(
                    info.rcvd.as_ref().map(|s| s.0),
                    Some(CloseCode(code)),
                    "{what}"
                );
                let reason = |f: &Option<(CloseCode, String)>| f.as_ref().map(|s| s.1.clone());
                let (theirs, ours) = if began {
                    (&info.rcvd, &info.sent)
                } else {
                    (&info.sent, &info.rcvd)
                };
                assert_eq!(reason(ours).as_deref(), Some("why"), "{what}");
                assert_eq!(
                    reason(theirs).as_deref(),
                    Some(""),
                    "{what}: the echo has no reason"
                );
            }
        }
    }
}

#[test]
fn a_dropped_transport_is_1006_from_nobody_and_not_normal() {
    let PullSetup {
        lp: _lp,
        server,
        rx,
        ..
    } = pull_server(InboxLimits::default(), server_config());
    let mut raw = {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(server.local_addr()).expect("tcp");
        tcp.write_all(UPGRADE_REQUEST).expect("handshake");
        let mut buf = [0u8; 256];
        let _ = tcp.read(&mut buf).expect("the 101");
        tcp
    };
    {
        use std::io::Write;
        // A masked text frame "hi", then the transport goes away.
        raw.write_all(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i'])
            .expect("frame");
    }
    let conn = first_conn(&rx);
    drop(raw);
    let info = closed(&rx);
    assert_eq!(info.code, CloseCode::ABNORMAL);
    assert_eq!(info.origin, CloseOrigin::Transport);
    assert!(!info.normal && !info.clean);
    // The message that came before the drop is still there.
    assert_eq!(conn.recv().expect("the message").data, b"hi");
    assert_eq!(conn.recv().expect_err("ended").kind(), ErrorKind::Closed);
}

/// A raw client of a pull-mode server: the 101 read, then `frames` sent in
/// one write; returns every byte the server sent until it closed.
fn raw_exchange(server: &wsx_core::net::Server, frames: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(server.local_addr()).expect("tcp");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    tcp.write_all(UPGRADE_REQUEST).expect("handshake");
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("the 101");
        response.push(byte[0]);
    }
    tcp.write_all(frames).expect("frames");
    let mut out = Vec::new();
    match tcp.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close in time: {e}"),
    }
    out
}

/// A masked frame from a client (mask key 0: the payload as it is).
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

fn strict_server(close_timeout: Duration) -> PullSetup {
    let config = ServerConfig {
        close_timeout,
        ..server_config()
    };
    pull_server(InboxLimits::default(), config)
}

#[test]
fn pull_mode_answers_what_came_before_a_protocol_error_first() {
    // Autobahn 3.2: a text message, a frame with RSV1 (no extension), a ping.
    let PullSetup {
        lp: _lp,
        server,
        rx,
        ..
    } = strict_server(Duration::from_secs(60));
    let echoer = std::thread::spawn(move || {
        let conn = first_conn(&rx);
        let m = conn.recv_timeout(Some(PATIENCE)).expect("the text message");
        conn.send(m.kind, &m.data)
            .expect("the echo goes out before the close");
        let end = conn.recv_timeout(Some(PATIENCE)).expect_err("the failure");
        assert_eq!(end.kind(), ErrorKind::Closed);
        conn.close_info().expect("ended")
    });
    let mut frames = client_frame(0x81, b"Hello");
    frames.extend(client_frame(0x81 | 0x40, b"bad"));
    frames.extend(client_frame(0x89, b""));
    let out = raw_exchange(&server, &frames);
    assert_eq!(&out[..7], b"\x81\x05Hello", "the echo first: {out:?}");
    assert_eq!(out[7], 0x88, "then the close frame: {out:?}");
    assert_eq!(&out[9..11], &1002u16.to_be_bytes(), "with 1002");
    let info = echoer.join().expect("echoer");
    assert_eq!(info.code, CloseCode::PROTOCOL_ERROR);
    assert!(!info.normal);
}

#[test]
fn pull_mode_fails_at_once_when_the_receiver_waits_with_nothing_to_answer() {
    // With a 60 s close timeout, only an immediate failure ends this in time.
    let PullSetup {
        lp: _lp,
        server,
        rx,
        ..
    } = strict_server(Duration::from_secs(60));
    let waiter = std::thread::spawn(move || {
        let conn = first_conn(&rx);
        conn.recv_timeout(Some(PATIENCE))
            .expect_err("the failure")
            .kind()
    });
    std::thread::sleep(Duration::from_millis(50));
    let out = raw_exchange(&server, &client_frame(0x81 | 0x40, b"bad"));
    assert_eq!(out[0], 0x88, "the close frame: {out:?}");
    assert_eq!(&out[2..4], &1002u16.to_be_bytes());
    assert_eq!(waiter.join().expect("waiter"), ErrorKind::Closed);
}

#[test]
fn a_reset_after_a_complete_close_handshake_still_ends_cleanly() {
    use std::io::{Read, Write};
    // A server that answers the close handshake, then resets the
    // connection instead of closing it (as the Autobahn fuzzing server does).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).expect("the request");
            request.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&request).to_string();
        let key = text
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .expect("a key")
            .trim()
            .to_owned();
        let accept = wsx_core::proto::handshake::accept_key(&key);
        write!(
            tcp,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .expect("the 101");
        // The client's close frame (masked, code 1000, no reason): 8 bytes.
        let mut close = [0u8; 8];
        tcp.read_exact(&mut close).expect("the client's close");
        assert_eq!(close[0], 0x88);
        tcp.write_all(&[0x88, 0x02, 0x03, 0xe8]).expect("our close");
        // Time for the client to read it before the reset.
        std::thread::sleep(Duration::from_millis(500));
        let socket = socket2::Socket::from(tcp);
        socket.set_linger(Some(Duration::ZERO)).expect("linger");
        drop(socket);
    });
    let lp = spawn_loop();
    let url = format!("ws://{addr}/");
    let config = ClientConfig {
        compression: None,
        ..client_config()
    };
    let (client, events) = connect(lp.handle(), &url, config);
    client.close(CloseCode::NORMAL, "").expect("close");
    let (code, _, clean) = events.close();
    assert_eq!(
        (code, clean),
        (1000, true),
        "a reset after both close frames"
    );
    server.join().expect("server");
}

/// A pull-mode client of a pull-mode server, both open.
fn pull_pair() -> (PullSetup, Conn, Conn, std::sync::mpsc::Receiver<Pull>) {
    let setup = pull_server(InboxLimits::default(), server_config());
    let (tx, rx) = channel();
    let config = ClientConfig {
        inbox: Some(InboxLimits::default()),
        compression: None,
        ..client_config()
    };
    let client = setup
        .lp
        .handle()
        .connect(&setup.url, config, Box::new(PullHandler(tx)))
        .expect("connect");
    let _ = first_conn(&rx);
    let server_side = first_conn(&setup.rx);
    (setup, client, server_side, rx)
}

#[test]
fn fragments_arrive_as_one_message_and_misuse_is_refused_at_once() {
    let (setup, client, server_side, _rx) = pull_pair();
    let text = "aé€😀z".as_bytes();
    // A character split between pieces is fine; the message arrives whole.
    client
        .send_fragment(MessageKind::Text, &text[..3], false, true)
        .expect("first");
    let e = client
        .send(MessageKind::Text, b"x")
        .expect_err("a message is open");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = client
        .send_fragment(MessageKind::Binary, b"x", false, true)
        .expect_err("another kind");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = client
        .send_fragment(MessageKind::Text, b"\xff", false, true)
        .expect_err("not UTF-8");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    client
        .send_fragment(MessageKind::Text, &text[3..7], false, true)
        .expect("middle");
    client
        .send_fragment(MessageKind::Text, &text[7..], true, true)
        .expect("last");
    let m = server_side
        .recv_timeout(Some(PATIENCE))
        .expect("the message");
    assert_eq!((m.kind, m.data.as_slice()), (MessageKind::Text, text));
    // Closed again: whole messages go, and a binary message in pieces.
    client.send(MessageKind::Text, b"whole").expect("whole");
    client
        .send_fragment(MessageKind::Binary, b"\x01", false, true)
        .expect("bin");
    client
        .send_fragment(MessageKind::Binary, b"\x02", true, true)
        .expect("bin end");
    assert_eq!(
        server_side
            .recv_timeout(Some(PATIENCE))
            .expect("whole")
            .data,
        b"whole"
    );
    let m = server_side.recv_timeout(Some(PATIENCE)).expect("binary");
    assert_eq!(
        (m.kind, m.data.as_slice()),
        (MessageKind::Binary, &[1u8, 2][..])
    );
    // The last piece may not end inside a character.
    client
        .send_fragment(MessageKind::Text, b"\xe2\x82", false, true)
        .expect("half");
    let e = client.send_fragment(MessageKind::Text, b"", true, true);
    assert_eq!(e.expect_err("truncated").kind(), ErrorKind::InvalidArgument);
    drop(setup);
}

#[test]
fn abort_drops_the_transport_and_both_sides_see_1006() {
    let (setup, client, server_side, rx) = pull_pair();
    client.abort().expect("abort");
    let mine = closed(&rx);
    assert_eq!(mine.code, CloseCode::ABNORMAL);
    assert_eq!(mine.origin, CloseOrigin::Transport);
    assert!(!mine.clean && !mine.normal);
    let theirs = closed(&setup.rx);
    assert_eq!(theirs.code, CloseCode::ABNORMAL, "{theirs:?}");
    assert_eq!(theirs.origin, CloseOrigin::Transport);
    assert_eq!(client.recv().expect_err("ended").kind(), ErrorKind::Closed);
    assert_eq!(
        server_side.recv().expect_err("ended").kind(),
        ErrorKind::Closed
    );
    assert_eq!(
        client.abort().expect_err("closed").kind(),
        ErrorKind::Closed
    );
}
