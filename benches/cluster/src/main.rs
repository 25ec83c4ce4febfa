//! Cross-node fan-out through Redis, in one run: two wsx servers joined in a
//! cluster (`ServerConfig::cluster`) against two Socket.IO 4 servers joined
//! by `@socket.io/redis-adapter`, on the same Redis, with the same clients.
//!
//! Each side: the publisher is connected to server 1, every subscriber to
//! server 2, so every delivery crosses Redis. Server 1 turns each message of
//! the publisher into a room-wide publication (wsx: `Server::publish`;
//! Socket.IO: `io.to(room).emit`), which reaches server 2 through Redis
//! pub/sub and there every subscriber. The clients are raw WebSocket
//! clients read with mio on one thread (for Socket.IO they speak Engine.IO
//! v4 over WebSocket and count `42[...]` event frames). The publisher sends
//! batches and waits until every subscriber has the batch; the figure is
//! messages delivered per second, and the ratio is wsx over Socket.IO.
//!
//! `wsx-cluster` runs it all (its own redis-server on a free port, the
//! servers as child processes) and prints the figures and a `ratio` line;
//! `wsx-cluster node REDIS_URL` is one wsx server of the cluster.
//! Settings (environment): CLUSTER_SUBSCRIBERS (200), CLUSTER_BATCH (100
//! messages), CLUSTER_SECONDS (2: batches go on at least this long, and at
//! least 3 of them), CLUSTER_SIZE (20 bytes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use wsx_core::net::{
    ClusterConfig, Ctx, EventLoop, Handler, Open, Refusal, Server, ServerConfig, ServerHandler,
    Upgrade,
};
use wsx_core::proto::MessageKind;

struct Settings {
    subscribers: usize,
    batch: usize,
    seconds: usize,
    size: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let get = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Settings {
            subscribers: get("CLUSTER_SUBSCRIBERS", 200),
            batch: get("CLUSTER_BATCH", 100),
            seconds: get("CLUSTER_SECONDS", 2),
            size: get("CLUSTER_SIZE", 20),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Wsx,
    SocketIo,
}

impl Kind {
    fn path(self, role: &str) -> String {
        match self {
            Kind::Wsx => format!("/{role}"),
            Kind::SocketIo => format!("/socket.io/?EIO=4&transport=websocket&role={role}"),
        }
    }

    /// The payload the publisher sends for a message of `size` bytes.
    fn publication(self, size: usize) -> Vec<u8> {
        let body = "x".repeat(size);
        match self {
            Kind::Wsx => body.into_bytes(),
            Kind::SocketIo => format!("42[\"say\",\"{body}\"]").into_bytes(),
        }
    }

    /// Whether a text frame a subscriber got is a delivered message.
    fn is_delivery(self, payload: &[u8]) -> bool {
        match self {
            Kind::Wsx => true,
            Kind::SocketIo => payload.starts_with(b"42"),
        }
    }
}

// ---- a wsx server of the cluster -------------------------------------------

struct Node(Arc<OnceLock<Server>>);

struct Member {
    publisher: bool,
    server: Arc<OnceLock<Server>>,
}

impl Handler for Member {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        if !self.publisher {
            ctx.subscribe("room").expect("subscribe");
        }
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        if let Some(server) = self.server.get() {
            let _ = server.publish("room", kind, data);
        }
    }
}

impl ServerHandler for Node {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Member {
            publisher: upgrade.request.path == "/pub",
            server: self.0.clone(),
        }))
    }
}

fn run_node(redis_url: &str) {
    let lp = EventLoop::new().expect("loop").spawn().expect("spawn");
    let shared = Arc::new(OnceLock::new());
    let config = ServerConfig {
        keepalive: None,
        max_connections: 100_000,
        cluster: Some(ClusterConfig {
            url: redis_url.to_owned(),
            prefix: "bench:".to_owned(),
            ..ClusterConfig::default()
        }),
        ..ServerConfig::default()
    };
    let server = lp
        .handle()
        .listen(config, Box::new(Node(shared.clone())))
        .expect("listen");
    let _ = shared.set(server.clone());
    println!("listening on {}", server.local_addr());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

// ---- processes ---------------------------------------------------------------

/// A child process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` and waits for its "listening on HOST:PORT" line.
fn start_server(mut cmd: Command) -> (Proc, u16) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let proc = Proc(child);
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{cmd:?} ended before listening"))
            .expect("a line");
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.rsplit(':').next().unwrap().parse().expect("a port");
        }
    };
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (proc, port)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn start_redis() -> (Proc, u16) {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (`make deps` installs it)");
    let proc = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut tcp) = TcpStream::connect(("127.0.0.1", port)) {
            let mut reply = [0u8; 7];
            if tcp.write_all(b"PING\r\n").is_ok() && tcp.read_exact(&mut reply).is_ok() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (proc, port)
}

// ---- clients -----------------------------------------------------------------

/// A masked frame (key 0: the payload goes as it is).
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
    out
}

/// Parses one unmasked frame at the start of `buf`: (opcode, payload range, length).
fn parse(buf: &[u8]) -> Option<(u8, std::ops::Range<usize>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let (len, at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().ok()?) as usize, 10),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    (buf.len() >= at + len).then_some((buf[0] & 0x0f, at..at + len, at + len))
}

/// Reads one whole frame in blocking mode (handshake time only).
fn read_frame(tcp: &mut TcpStream, pending: &mut Vec<u8>) -> Vec<u8> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((_, range, used)) = parse(pending) {
            let payload = pending[range].to_vec();
            pending.drain(..used);
            return payload;
        }
        let n = tcp.read(&mut chunk).expect("read");
        assert!(n > 0, "closed during the handshake");
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// A client through the WebSocket handshake (and, for Socket.IO, Engine.IO's
/// open packet and the namespace connect); returns it with bytes read past.
fn client(kind: Kind, port: u16, role: &str) -> (TcpStream, Vec<u8>) {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        kind.path(role)
    );
    tcp.write_all(request.as_bytes()).expect("request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("response");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "handshake refused: {}",
        String::from_utf8_lossy(&head)
    );
    let mut pending = Vec::new();
    if kind == Kind::SocketIo {
        let open = read_frame(&mut tcp, &mut pending);
        assert!(
            open.starts_with(b"0{"),
            "Engine.IO open: {}",
            String::from_utf8_lossy(&open)
        );
        tcp.write_all(&frame(1, b"40")).expect("connect packet");
        let connected = read_frame(&mut tcp, &mut pending);
        assert!(
            connected.starts_with(b"40"),
            "namespace connect: {}",
            String::from_utf8_lossy(&connected)
        );
    }
    (tcp, pending)
}

/// Subscribers read on a thread of their own, counting delivered messages.
struct Readers {
    delivered: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Readers {
    fn start(kind: Kind, clients: Vec<(TcpStream, Vec<u8>)>) -> Readers {
        let delivered = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (delivered.clone(), stop.clone());
        let thread = std::thread::spawn(move || read_all(kind, clients, &count, &stopped));
        Readers {
            delivered,
            stop,
            thread: Some(thread),
        }
    }

    fn count(&self) -> u64 {
        self.delivered.load(Ordering::Acquire)
    }

    /// Waits until `n` deliveries were counted; false after `patience`.
    fn wait_for(&self, n: u64, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        while self.count() < n {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read_all(
    kind: Kind,
    clients: Vec<(TcpStream, Vec<u8>)>,
    delivered: &AtomicU64,
    stop: &AtomicBool,
) {
    let mut poll = Poll::new().expect("poll");
    let mut conns: Vec<(mio::net::TcpStream, Vec<u8>)> = clients
        .into_iter()
        .map(|(s, pending)| {
            s.set_nonblocking(true).expect("nonblocking");
            (mio::net::TcpStream::from_std(s), pending)
        })
        .collect();
    for (i, (s, _)) in conns.iter_mut().enumerate() {
        poll.registry()
            .register(s, Token(i), Interest::READABLE)
            .expect("register");
    }
    let mut events = Events::with_capacity(1024);
    let mut chunk = vec![0u8; 256 * 1024];
    let mut ready: Vec<usize> = (0..conns.len()).collect();
    while !stop.load(Ordering::Acquire) {
        for i in ready.drain(..) {
            let (stream, buf) = &mut conns[i];
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read failed: {e}"),
                }
            }
            let mut at = 0;
            let mut n = 0;
            while let Some((opcode, range, used)) = parse(&buf[at..]) {
                if opcode == 1 && kind.is_delivery(&buf[at..][range]) {
                    n += 1;
                }
                at += used;
            }
            buf.drain(..at);
            delivered.fetch_add(n, Ordering::AcqRel);
        }
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .expect("poll");
        ready.extend(events.iter().map(|e| e.token().0));
    }
}

/// Messages delivered per second from the publisher on `pub_port` to
/// subscribers on `sub_port`.
fn measure(kind: Kind, pub_port: u16, sub_port: u16, s: &Settings) -> f64 {
    let subs: Vec<_> = (0..s.subscribers)
        .map(|_| client(kind, sub_port, "sub"))
        .collect();
    let readers = Readers::start(kind, subs);
    let (mut publisher, _) = client(kind, pub_port, "pub");
    let one = frame(1, &kind.publication(s.size));
    let subscribers = s.subscribers as u64;
    // Warm-up: until a publication reaches every subscriber (the servers'
    // Redis subscriptions are in place), then let stragglers land.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        publisher.write_all(&one).expect("publish");
        if readers.wait_for(subscribers, Duration::from_millis(100)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no publication reached the subscribers"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let base = readers.count();
    let batch: Vec<u8> = one.repeat(s.batch);
    let start = Instant::now();
    let mut b = 0;
    while b < 3 || start.elapsed() < Duration::from_secs(s.seconds as u64) {
        b += 1;
        publisher.write_all(&batch).expect("publish");
        let want = base + b * s.batch as u64 * subscribers;
        assert!(
            readers.wait_for(want, Duration::from_secs(60)),
            "batch {b}: {} of {want} delivered (lost on the way?)",
            readers.count()
        );
    }
    let delivered = (b * s.batch as u64 * subscribers) as f64;
    delivered / start.elapsed().as_secs_f64()
}

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("node") {
        return run_node(args.get(2).expect("wsx-cluster node REDIS_URL"));
    }
    let s = Settings::from_env();
    if !node_dir().join("node_modules/socket.io").exists() {
        eprintln!(
            "socket.io is not installed: run `npm ci` (or `npm install`) in {}",
            node_dir().display()
        );
        std::process::exit(1);
    }
    let (_redis, redis_port) = start_redis();
    let url = format!("redis://127.0.0.1:{redis_port}");
    let exe = std::env::current_exe().expect("own path");
    let wsx = {
        let node = || {
            let mut cmd = Command::new(&exe);
            cmd.args(["node", &url]);
            start_server(cmd)
        };
        let ((_a, pub_port), (_b, sub_port)) = (node(), node());
        measure(Kind::Wsx, pub_port, sub_port, &s)
    };
    let sio = {
        let node = || {
            let mut cmd = Command::new("node");
            cmd.arg(node_dir().join("sio_node.js"))
                .arg(redis_port.to_string());
            start_server(cmd)
        };
        let ((_a, pub_port), (_b, sub_port)) = (node(), node());
        measure(Kind::SocketIo, pub_port, sub_port, &s)
    };
    println!(
        "{} subscribers on server 2, publisher on server 1, batches of {} messages of {} bytes for {} s each",
        s.subscribers, s.batch, s.size, s.seconds
    );
    println!("wsx cluster (publish through Redis):           {wsx:>12.0} messages/s delivered");
    println!("socket.io 4 + @socket.io/redis-adapter:       {sio:>12.0} messages/s delivered");
    println!("ratio wsx / socket.io {:.2}", wsx / sio);
}
