//! Publish/subscribe: fan-out to many subscribers, subscriptions that end
//! with unsubscribe and close, slow subscribers skipped or dropped without
//! holding up (or growing memory for) the others, publishing from many
//! threads and from callbacks, compressed payloads shared only where the
//! compressor state allows, and publishing on a server spread over several
//! loops (`loops`).

/// A server spread over several loops.
#[path = "net_pubsub/loops.rs"]
mod loops;
#[path = "net/util/mod.rs"]
mod net_util;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use net_util::*;
use wsx_core::net::{
    Backpressure, Close, Conn, ConnState, Ctx, ErrorKind, Handler, LoopHandle, Open, Refusal,
    Server, ServerConfig, ServerHandler, SlowSubscriber, Upgrade,
};
use wsx_core::proto::extension::deflate::{Agreement, DeflateConfig, DeflateParams};
use wsx_core::proto::{CloseCode, Config, Connection, Event, MessageKind, Role};

/// The tests of this file run one at a time, so the memory one measures is
/// its own (and 1,000 connections do not pile up).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the server side saw.
#[derive(Debug)]
enum RoomEv {
    /// A connection opened on `path` (subscribed to the topics it names).
    Open(String, Conn),
    /// A connection's close event: its id and code.
    Closed(u64, u16),
    /// A published message found a subscriber past its high-water mark.
    Slow(u64, String, SlowSubscriber),
    /// A message published from a callback reached this many subscribers.
    Published(usize),
}

/// A server whose connections subscribe to the comma-separated topics of
/// their request path (`/a,b`); a text message `say:X` publishes X to the
/// connection's first topic, skipping the sender.
struct Rooms {
    tx: Sender<RoomEv>,
    server: Arc<OnceLock<Server>>,
}

struct Member {
    path: String,
    tx: Sender<RoomEv>,
    server: Arc<OnceLock<Server>>,
}

impl Member {
    fn topics(&self) -> Vec<&str> {
        self.path.trim_start_matches('/').split(',').collect()
    }
}

impl ServerHandler for Rooms {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Member {
            path: upgrade.request.path.clone(),
            tx: self.tx.clone(),
            server: self.server.clone(),
        }))
    }
    fn on_slow_subscriber(&mut self, conn: &Conn, topic: &str, action: SlowSubscriber) {
        let _ = self
            .tx
            .send(RoomEv::Slow(conn.id(), topic.to_owned(), action));
    }
}

impl Handler for Member {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        for topic in self.topics() {
            assert!(ctx.subscribe(topic).expect("subscribe"));
        }
        let _ = self
            .tx
            .send(RoomEv::Open(self.path.clone(), ctx.conn().clone()));
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        let Some(said) = data.strip_prefix(b"say:") else {
            return;
        };
        let server = self.server.get().expect("server");
        let topic = self.topics()[0];
        let reached = server
            .publish_except(topic, kind, said, ctx.conn())
            .expect("publish");
        let _ = self.tx.send(RoomEv::Published(reached));
    }
    fn on_close(&mut self, conn: &Conn, close: &Close<'_>) {
        let _ = self.tx.send(RoomEv::Closed(conn.id(), close.code.0));
    }
}

fn start_rooms(handle: &LoopHandle, config: ServerConfig) -> (Server, Receiver<RoomEv>) {
    let (tx, rx) = channel();
    let cell = Arc::new(OnceLock::new());
    let rooms = Rooms {
        tx,
        server: cell.clone(),
    };
    let server = handle.listen(config, Box::new(rooms)).expect("listen");
    let _ = cell.set(server.clone());
    (server, rx)
}

fn next_room_event(events: &Receiver<RoomEv>) -> RoomEv {
    events.recv_timeout(PATIENCE).expect("a server event")
}

/// The next open on the server: its path and connection.
fn room_open(events: &Receiver<RoomEv>) -> (String, Conn) {
    match next_room_event(events) {
        RoomEv::Open(path, conn) => (path, conn),
        other => panic!("expected an open, got {other:?}"),
    }
}

/// What a subscribing client saw.
#[derive(Debug)]
enum SubEv {
    Open,
    Message(Vec<u8>),
    Close(u16),
}

/// A client reporting its events tagged with its index.
struct Sub {
    index: usize,
    tx: Sender<(usize, SubEv)>,
}

impl Handler for Sub {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        let _ = self.tx.send((self.index, SubEv::Open));
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_>, _kind: MessageKind, data: &[u8], _fin: bool) {
        let _ = self.tx.send((self.index, SubEv::Message(data.to_vec())));
    }
    fn on_close(&mut self, _conn: &Conn, close: &Close<'_>) {
        let _ = self.tx.send((self.index, SubEv::Close(close.code.0)));
    }
}

/// Clients, one per path, all open.
struct Subs {
    conns: Vec<Conn>,
    events: Receiver<(usize, SubEv)>,
}

impl Subs {
    fn connect(handle: &LoopHandle, server: &Server, paths: &[String]) -> Subs {
        let (tx, events) = channel();
        let conns: Vec<Conn> = paths
            .iter()
            .enumerate()
            .map(|(index, path)| {
                let url = format!("ws://{}{path}", server.local_addr());
                let sub = Box::new(Sub {
                    index,
                    tx: tx.clone(),
                });
                handle.connect(&url, client_config(), sub).expect("connect")
            })
            .collect();
        for _ in 0..conns.len() {
            match events.recv_timeout(PATIENCE).expect("an open") {
                (_, SubEv::Open) => {}
                other => panic!("a subscriber failed: {other:?}"),
            }
        }
        Subs { conns, events }
    }

    /// The next message of any subscriber.
    fn message(&self) -> (usize, Vec<u8>) {
        match self.events.recv_timeout(PATIENCE).expect("a message") {
            (index, SubEv::Message(data)) => (index, data),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Closes every client and checks nothing but close events arrive.
    fn close_all(self) {
        for conn in &self.conns {
            conn.close(CloseCode::NORMAL, "").expect("close");
        }
        for _ in 0..self.conns.len() {
            match self.events.recv_timeout(PATIENCE).expect("a close") {
                (_, SubEv::Close(code)) => assert_eq!(code, 1000),
                other => panic!("a message arrived more than expected: {other:?}"),
            }
        }
    }
}

/// Waits until `topic` has `n` subscribers (they subscribe in the server's
/// open callback, which may run after the client saw its open event).
fn await_subscribers(server: &Server, topic: &str, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    while server.subscribers(topic) != n {
        assert!(
            Instant::now() < deadline,
            "{topic} never had {n} subscribers"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn paths(path: &str, n: usize) -> Vec<String> {
    vec![path.to_owned(); n]
}

#[test]
fn fan_out_to_a_thousand_subscribers_delivers_each_message_once_in_order() {
    let _serial = serial();
    const SUBSCRIBERS: usize = 1000;
    const MESSAGES: usize = 20;
    let server_loop = spawn_loop();
    let client_loop = spawn_loop();
    let (server, _room) = start_rooms(server_loop.handle(), server_config());
    let subs = Subs::connect(client_loop.handle(), &server, &paths("/news", SUBSCRIBERS));
    await_subscribers(&server, "news", SUBSCRIBERS);
    for i in 0..MESSAGES {
        let reached = server
            .publish("news", MessageKind::Text, i.to_string().as_bytes())
            .expect("publish");
        assert_eq!(reached, SUBSCRIBERS);
    }
    let mut received = vec![Vec::new(); SUBSCRIBERS];
    for _ in 0..SUBSCRIBERS * MESSAGES {
        let (index, data) = subs.message();
        let text = String::from_utf8(data).expect("utf-8");
        received[index].push(text.parse::<usize>().expect("number"));
    }
    let expected: Vec<usize> = (0..MESSAGES).collect();
    for (index, got) in received.iter().enumerate() {
        assert_eq!(got, &expected, "subscriber {index}");
    }
    subs.close_all();
    await_subscribers(&server, "news", 0);
}

#[test]
fn unsubscribe_and_close_remove_subscriptions() {
    let _serial = serial();
    let lp = spawn_loop();
    let (server, room) = start_rooms(lp.handle(), server_config());
    let subs = Subs::connect(lp.handle(), &server, &["/a,b".into(), "/b".into()]);
    let mut by_path: HashMap<String, Conn> = (0..2).map(|_| room_open(&room)).collect();
    let (both, only_b) = (
        by_path.remove("/a,b").unwrap(),
        by_path.remove("/b").unwrap(),
    );

    let mut topics = both.topics();
    topics.sort();
    assert_eq!(topics, ["a", "b"]);
    assert_eq!((server.subscribers("a"), server.subscribers("b")), (1, 2));
    assert!(!both.subscribe("a").expect("again"), "already subscribed");
    assert!(both.unsubscribe("a"));
    assert!(!both.unsubscribe("a"), "no longer subscribed");
    assert!(!both.unsubscribe("never"));
    assert_eq!(server.subscribers("a"), 0);
    assert_eq!(server.publish("a", MessageKind::Text, b"lost").unwrap(), 0);
    assert_eq!(server.publish("b", MessageKind::Text, b"m1").unwrap(), 2);
    // Per connection, order holds: had "lost" been sent, it would come first.
    let mut firsts: Vec<(usize, Vec<u8>)> = vec![subs.message(), subs.message()];
    firsts.sort();
    assert_eq!(firsts, [(0, b"m1".to_vec()), (1, b"m1".to_vec())]);

    // A client's connections are no server's: they have no topics.
    let err = subs.conns[0].subscribe("x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(subs.conns[0].topics().is_empty());

    subs.conns[0].close(CloseCode::NORMAL, "").expect("close");
    match subs.events.recv_timeout(PATIENCE).expect("the close") {
        (0, SubEv::Close(1000)) => {}
        other => panic!("expected the close, got {other:?}"),
    }
    match next_room_event(&room) {
        RoomEv::Closed(id, 1000) => assert_eq!(id, both.id()),
        other => panic!("expected the close, got {other:?}"),
    }
    assert_eq!(server.subscribers("b"), 1);
    assert!(both.topics().is_empty());
    let err = both.subscribe("b").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    assert_eq!(server.publish("b", MessageKind::Text, b"m2").unwrap(), 1);
    assert_eq!(subs.message(), (1, b"m2".to_vec()));
    assert_eq!(only_b.topics(), ["b"]);
}

#[test]
fn publishing_from_a_callback_skips_the_publisher() {
    let _serial = serial();
    let lp = spawn_loop();
    let (server, room) = start_rooms(lp.handle(), server_config());
    let subs = Subs::connect(lp.handle(), &server, &paths("/lobby", 3));
    await_subscribers(&server, "lobby", 3);
    subs.conns[0]
        .send(MessageKind::Text, b"say:hello")
        .expect("send");
    let reached = loop {
        match next_room_event(&room) {
            RoomEv::Published(n) => break n,
            RoomEv::Open(..) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(reached, 2);
    let mut got = vec![subs.message(), subs.message()];
    got.sort();
    assert_eq!(got, [(1, b"hello".to_vec()), (2, b"hello".to_vec())]);
    // The publisher got nothing: its next message is the next publish.
    assert_eq!(
        server.publish("lobby", MessageKind::Text, b"all").unwrap(),
        3
    );
    let mut got: Vec<_> = (0..3).map(|_| subs.message()).collect();
    got.sort();
    assert_eq!(got[0], (0, b"all".to_vec()));
    subs.close_all();
}

#[test]
fn publishing_from_many_threads_keeps_each_publishers_order() {
    let _serial = serial();
    const SUBSCRIBERS: usize = 50;
    const THREADS: usize = 4;
    const EACH: usize = 200;
    let server_loop = spawn_loop();
    let client_loop = spawn_loop();
    let (server, _room) = start_rooms(server_loop.handle(), server_config());
    let subs = Subs::connect(client_loop.handle(), &server, &paths("/chat", SUBSCRIBERS));
    await_subscribers(&server, "chat", SUBSCRIBERS);
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let server = server.clone();
            std::thread::spawn(move || {
                (0..EACH)
                    .map(|i| {
                        let text = format!("{t}:{i}");
                        server
                            .publish("chat", MessageKind::Text, text.as_bytes())
                            .expect("publish")
                    })
                    .sum::<usize>()
            })
        })
        .collect();
    let reached: usize = threads
        .into_iter()
        .map(|t| t.join().expect("publisher"))
        .sum();
    assert_eq!(reached, SUBSCRIBERS * THREADS * EACH);
    let mut seen = vec![vec![Vec::new(); THREADS]; SUBSCRIBERS];
    for _ in 0..SUBSCRIBERS * THREADS * EACH {
        let (index, data) = subs.message();
        let text = String::from_utf8(data).expect("utf-8");
        let (t, i) = text.split_once(':').expect("t:i");
        seen[index][t.parse::<usize>().unwrap()].push(i.parse::<usize>().unwrap());
    }
    let expected: Vec<usize> = (0..EACH).collect();
    for per_thread in &seen {
        for got in per_thread {
            assert_eq!(got, &expected);
        }
    }
    subs.close_all();
}

/// The process's resident memory in bytes, where the system tells it.
fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A raw TCP client that completes the handshake on `path` (offering
/// `extensions` if any) and reads the whole 101 response.
fn raw_client(server: &Server, path: &str, extensions: Option<&str>) -> TcpStream {
    let mut tcp = TcpStream::connect(server.local_addr()).expect("tcp");
    let extra = extensions.map_or_else(String::new, |e| {
        format!("Sec-WebSocket-Extensions: {e}\r\n")
    });
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    );
    tcp.write_all(request.as_bytes()).expect("handshake");
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("response");
        response.push(byte[0]);
    }
    assert!(response.starts_with(b"HTTP/1.1 101"), "{response:?}");
    tcp
}

/// A feed with small send queues, four reading subscribers and one raw
/// client that never reads, fed 64 KiB messages one at a time until `done`
/// says stop (each message is awaited at every reader, so readers never
/// fall behind). Returns what was reached per message.
struct StalledFeed {
    server: Server,
    room: Receiver<RoomEv>,
    stalled: Conn,
    _raw: TcpStream,
    subs: Subs,
    marks: Backpressure,
    _loops: (wsx_core::net::LoopThread, wsx_core::net::LoopThread),
}

const READERS: usize = 4;
const CHUNK: usize = 64 * 1024;

impl StalledFeed {
    fn start(policy: SlowSubscriber) -> StalledFeed {
        let marks = Backpressure {
            high_water: 256 * 1024,
            low_water: 64 * 1024,
        };
        let config = ServerConfig {
            backpressure: marks,
            slow_subscriber: policy,
            ..server_config()
        };
        let server_loop = spawn_loop();
        let client_loop = spawn_loop();
        let (server, room) = start_rooms(server_loop.handle(), config);
        let raw = raw_client(&server, "/feed", None);
        let (_, stalled) = room_open(&room);
        let subs = Subs::connect(client_loop.handle(), &server, &paths("/feed", READERS));
        for _ in 0..READERS {
            room_open(&room);
        }
        await_subscribers(&server, "feed", READERS + 1);
        StalledFeed {
            server,
            room,
            stalled,
            _raw: raw,
            subs,
            marks,
            _loops: (server_loop, client_loop),
        }
    }

    /// Publishes message `seq` and waits until every reader has it.
    fn publish(&self, seq: u32) -> usize {
        let mut data = vec![0u8; CHUNK];
        data[..4].copy_from_slice(&seq.to_be_bytes());
        let reached = self
            .server
            .publish("feed", MessageKind::Binary, &data)
            .expect("publish");
        let mut readers = [false; READERS];
        for _ in 0..READERS {
            let (index, got) = self.subs.message();
            assert_eq!(got.len(), CHUNK);
            assert_eq!(got[..4], seq.to_be_bytes(), "reader {index}: in order");
            assert!(!readers[index], "reader {index}: exactly once");
            readers[index] = true;
        }
        // The stalled subscriber never holds more than its mark and one message.
        assert!(self.stalled.buffered_amount() <= self.marks.high_water + CHUNK);
        reached
    }

    /// The server's slow-subscriber events so far, and whether the stalled
    /// connection's close event came.
    fn slow_events(&self) -> (Vec<SlowSubscriber>, Option<u16>) {
        let (mut slow, mut closed) = (Vec::new(), None);
        while let Ok(ev) = self.room.try_recv() {
            match ev {
                RoomEv::Slow(id, topic, action) => {
                    assert_eq!((id, topic.as_str()), (self.stalled.id(), "feed"));
                    slow.push(action);
                }
                RoomEv::Closed(id, code) if id == self.stalled.id() => closed = Some(code),
                other => panic!("unexpected {other:?}"),
            }
        }
        (slow, closed)
    }
}

#[test]
fn a_stalled_subscriber_is_skipped_without_slowing_or_growing_the_others() {
    let _serial = serial();
    const MESSAGES: u32 = 512; // 32 MiB to every subscriber
    let feed = StalledFeed::start(SlowSubscriber::Skip);
    // Warm up (buffers, allocator), then measure.
    let mut reached: usize = (0..16).map(|seq| feed.publish(seq)).sum();
    let before = resident_bytes();
    reached += (16..MESSAGES).map(|seq| feed.publish(seq)).sum::<usize>();
    let after = resident_bytes();
    let (slow, closed) = feed.slow_events();
    assert!(!slow.is_empty(), "the stalled subscriber was skipped");
    assert!(slow.iter().all(|a| *a == SlowSubscriber::Skip));
    assert_eq!(closed, None);
    assert_eq!(feed.stalled.state(), ConnState::Open);
    // Every message reached every reader, and the stalled one unless skipped.
    let to_stalled = reached - READERS * MESSAGES as usize;
    assert_eq!(to_stalled + slow.len(), MESSAGES as usize);
    assert!(slow.len() > MESSAGES as usize / 4, "many were skipped");
    if let (Some(before), Some(after)) = (before, after) {
        // Buffering the stalled subscriber's share would take 31 MiB.
        let growth = after.saturating_sub(before);
        assert!(growth < 12 << 20, "resident memory grew by {growth} bytes");
    }
    feed.subs.close_all();
}

#[test]
fn a_stalled_subscriber_is_dropped_when_the_policy_says_so() {
    let _serial = serial();
    let feed = StalledFeed::start(SlowSubscriber::Drop);
    let mut seq = 0;
    let closed = loop {
        assert!(seq < 1024, "the stalled subscriber was never dropped");
        feed.publish(seq);
        seq += 1;
        let (slow, closed) = feed.slow_events();
        assert!(slow.iter().all(|a| *a == SlowSubscriber::Drop));
        if let Some(code) = closed {
            assert_eq!(slow.len(), 1, "dropped at the first skip");
            break code;
        }
        assert!(slow.is_empty());
    };
    assert_eq!(closed, 1006);
    assert_eq!(feed.stalled.state(), ConnState::Closed);
    assert_eq!(feed.server.subscribers("feed"), READERS);
    assert_eq!(feed.publish(seq), READERS);
    feed.subs.close_all();
}

/// Reads one whole frame from a raw client: its first byte and all its bytes.
fn read_frame(tcp: &mut TcpStream) -> Vec<u8> {
    let mut frame = vec![0u8; 2];
    tcp.read_exact(&mut frame).expect("frame header");
    let extended = match frame[1] & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mut len_bytes = vec![0u8; extended];
    tcp.read_exact(&mut len_bytes).expect("length");
    frame.extend_from_slice(&len_bytes);
    let len = match extended {
        0 => usize::from(frame[1] & 0x7f),
        _ => len_bytes.iter().fold(0, |n, b| (n << 8) | usize::from(*b)),
    };
    let start = frame.len();
    frame.resize(start + len, 0);
    tcp.read_exact(&mut frame[start..]).expect("payload");
    frame
}

/// The message a client with permessage-deflate (as agreed) reads from `frame`.
fn decode(frame: &[u8], server_no_context_takeover: bool) -> Vec<u8> {
    let mut client = Connection::new(Role::Client, Config::default());
    client.enable_deflate(&Agreement {
        params: DeflateParams {
            server_no_context_takeover,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        },
        config: DeflateConfig::default(),
    });
    client.feed(frame);
    match client.next_event() {
        Some((Event::Message { data, .. }, _)) => data.to_vec(),
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn compressed_payloads_are_shared_only_without_context_takeover() {
    let _serial = serial();
    let lp = spawn_loop();
    let config = ServerConfig {
        compression: Some(DeflateConfig::default()),
        ..server_config()
    };
    let (server, room) = start_rooms(lp.handle(), config);
    let fresh = "permessage-deflate; server_no_context_takeover";
    let mut clients = [
        raw_client(&server, "/deflate", Some(fresh)),
        raw_client(&server, "/deflate", Some("permessage-deflate")),
        raw_client(&server, "/deflate", Some(fresh)),
        raw_client(&server, "/deflate", None),
    ];
    for _ in 0..clients.len() {
        room_open(&room);
    }
    await_subscribers(&server, "deflate", clients.len());
    let text = "all work and no play makes a dull server ".repeat(20);
    for _ in 0..2 {
        let reached = server
            .publish("deflate", MessageKind::Text, text.as_bytes())
            .expect("publish");
        assert_eq!(reached, clients.len());
        let frames: Vec<Vec<u8>> = clients.iter_mut().map(read_frame).collect();
        // No context takeover: one compressed frame, the same bytes for both.
        assert_eq!(frames[0][0] & 0x40, 0x40, "RSV1 set");
        assert!(frames[0].len() < text.len() / 4, "compressed");
        assert_eq!(frames[0], frames[2]);
        assert_eq!(decode(&frames[0], true), text.as_bytes());
        // Context takeover, or no deflate: the uncompressed frame.
        for frame in [&frames[1], &frames[3]] {
            assert_eq!(frame[0], 0x81, "FIN, text, no RSV1");
            assert_eq!(&frame[4..], text.as_bytes());
        }
        assert_eq!(decode(&frames[1], false), text.as_bytes());
    }
}
