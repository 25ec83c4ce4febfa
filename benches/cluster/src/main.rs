//! Cross-node fan-out through Redis, in one run: three wsx servers joined in
//! a cluster (`ServerConfig::cluster`) against three Socket.IO 4 servers
//! joined by `@socket.io/redis-adapter`, on the same Redis, with the same
//! clients, and Redis' own floor (`redis-benchmark` publishing on the same
//! Redis).
//!
//! Each side: the publisher is connected to server 1 and the subscribers
//! are spread over the three servers, so two thirds of the deliveries cross
//! Redis. Server 1 turns each message of the publisher into a room-wide
//! publication (wsx: `Server::publish`; Socket.IO: `io.to(room).emit`),
//! which reaches its own subscribers at once and the other servers through
//! Redis pub/sub. The clients are raw WebSocket clients read with mio on
//! one thread (for Socket.IO they speak Engine.IO v4 over WebSocket and
//! count `42[...]` event frames). Two figures per side:
//!
//! - messages delivered per second at saturation: the publisher sends
//!   batches, at most four on the way (it waits until every subscriber has
//!   the fourth last before it sends the next);
//! - publish-to-delivery latency (p50, p99) at a sustainable rate, the same
//!   for both sides (by default a quarter of the slower side's saturation
//!   rate): each message carries the time the publisher sent it, and every
//!   subscriber's delivery is one sample.
//!
//! The floor: `redis-benchmark` sends `PUBLISH` of a wsx publication's size
//! to the wsx servers' channel (so Redis writes each to the three
//! servers), pipelined on one connection as a wsx server does; wsx's
//! publications per second are compared with it.
//!
//! `wsx-cluster` runs it all (its own redis-server on a free port, the
//! servers as child processes) and prints the figures and `ratio` lines;
//! `wsx-cluster node REDIS_URL` is one wsx server of the cluster.
//! Settings (environment): CLUSTER_SUBSCRIBERS (300, spread over the three
//! servers), CLUSTER_BATCH (100 messages), CLUSTER_SECONDS (2: batches go
//! on at least this long, and at least 3 of them), CLUSTER_SIZE (20 bytes),
//! CLUSTER_RATE (publications per second of the latency runs; default a
//! quarter of the slower side's saturation rate), CLUSTER_LATENCY_SECONDS
//! (2), CLUSTER_ROUNDS (5: each figure is the median of this many rounds,
//! wsx and Socket.IO interleaved).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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
    rate: Option<f64>,
    latency_seconds: f64,
    rounds: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let get = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let float = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
        Settings {
            subscribers: get("CLUSTER_SUBSCRIBERS", 300).max(3),
            batch: get("CLUSTER_BATCH", 100),
            seconds: get("CLUSTER_SECONDS", 2),
            size: get("CLUSTER_SIZE", 20),
            rate: float("CLUSTER_RATE").filter(|r| *r > 0.0),
            latency_seconds: float("CLUSTER_LATENCY_SECONDS").unwrap_or(2.0),
            rounds: get("CLUSTER_ROUNDS", 5).max(1),
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

    /// The payload the publisher sends for a message of `size` bytes that
    /// carries `stamp` (see [`now_ns`]): the digits, a colon, padding.
    fn publication(self, stamp: u64, size: usize) -> Vec<u8> {
        let mut body = format!("{stamp}:");
        if body.len() < size {
            body += &"x".repeat(size - body.len());
        }
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

    /// The stamp a delivered message carries (Socket.IO delivers
    /// `42["m","STAMP:..."]`).
    fn stamp(self, payload: &[u8]) -> Option<u64> {
        let body = match self {
            Kind::Wsx => payload,
            Kind::SocketIo => {
                let at = payload.windows(3).position(|w| w == b"\",\"")?;
                &payload[at + 3..]
            }
        };
        let digits = body.iter().take_while(|b| b.is_ascii_digit()).count();
        std::str::from_utf8(&body[..digits]).ok()?.parse().ok()
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Wsx => "wsx cluster (publish through Redis)",
            Kind::SocketIo => "socket.io 4 + @socket.io/redis-adapter",
        }
    }
}

/// Nanoseconds since the bench started: the publisher and the readers share
/// the clock.
fn now_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
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

/// Subscribers read on a thread of their own, counting delivered messages
/// and, while `recording`, each one's latency.
struct Readers {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What the reading thread shares with [`Readers`].
#[derive(Default)]
struct Shared {
    delivered: AtomicU64,
    recording: AtomicBool,
    /// Publish-to-delivery latencies (nanoseconds) recorded.
    samples: Mutex<Vec<u64>>,
    stop: AtomicBool,
}

impl Readers {
    fn start(kind: Kind, clients: Vec<(TcpStream, Vec<u8>)>) -> Readers {
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        let thread = std::thread::spawn(move || read_all(kind, clients, &theirs));
        Readers {
            shared,
            thread: Some(thread),
        }
    }

    fn count(&self) -> u64 {
        self.shared.delivered.load(Ordering::Acquire)
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
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn read_all(kind: Kind, clients: Vec<(TcpStream, Vec<u8>)>, shared: &Shared) {
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
    let mut samples = Vec::new();
    while !shared.stop.load(Ordering::Acquire) {
        let recording = shared.recording.load(Ordering::Acquire);
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
            let now = now_ns();
            let mut at = 0;
            let mut n = 0;
            while let Some((opcode, range, used)) = parse(&buf[at..]) {
                let payload = &buf[at..][range];
                if opcode == 1 && kind.is_delivery(payload) {
                    n += 1;
                    if recording && let Some(sent) = kind.stamp(payload) {
                        samples.push(now.saturating_sub(sent));
                    }
                }
                at += used;
            }
            buf.drain(..at);
            if !samples.is_empty() {
                shared.samples.lock().unwrap().append(&mut samples);
            }
            shared.delivered.fetch_add(n, Ordering::AcqRel);
        }
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .expect("poll");
        ready.extend(events.iter().map(|e| e.token().0));
    }
}

/// Clock ticks per second of /proc's CPU times (USER_HZ).
fn cpu_seconds_per_tick() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output();
        out.ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user and system) a process used so far, from /proc (Linux);
/// 0 where there is no /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks = cpu_seconds_per_tick();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and
    // stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field(11) + field(12)) / ticks
}

/// CPU seconds the whole machine was busy (all but idle and I/O wait), from
/// /proc/stat; 0 where there is none.
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let idle = ticks.get(3).unwrap_or(&0.0) + ticks.get(4).unwrap_or(&0.0);
    // /proc/stat counts in USER_HZ, as /proc/PID/stat does.
    (ticks.iter().sum::<f64>() - idle) / cpu_seconds_per_tick()
}

/// Where the CPU went during a phase: each of the three servers, Redis,
/// this process (the clients), and the wall time.
#[derive(Clone, Copy, Default)]
struct Cpu {
    servers: [f64; 3],
    redis: f64,
    clients: f64,
    /// The whole machine's busy time, whoever ran (others' nice processes
    /// and the kernel's network work included).
    machine: f64,
    wall: f64,
}

impl Cpu {
    fn now(servers: &[u32], redis: u32) -> Cpu {
        let mut cpu = Cpu {
            redis: cpu_seconds(redis),
            clients: cpu_seconds(std::process::id()),
            machine: machine_busy_seconds(),
            wall: now_ns() as f64 / 1e9,
            ..Cpu::default()
        };
        for (used, &pid) in cpu.servers.iter_mut().zip(servers) {
            *used = cpu_seconds(pid);
        }
        cpu
    }

    fn since(self, start: Cpu) -> Cpu {
        let mut servers = self.servers;
        for (used, before) in servers.iter_mut().zip(start.servers) {
            *used -= before;
        }
        Cpu {
            servers,
            redis: self.redis - start.redis,
            clients: self.clients - start.clients,
            machine: self.machine - start.machine,
            wall: self.wall - start.wall,
        }
    }
}

impl std::fmt::Display for Cpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = |v: f64| v / self.wall.max(1e-9);
        let [a, b, c] = self.servers.map(share);
        write!(
            f,
            "CPU cores used: servers {a:.2} (the publisher's) + {b:.2} + {c:.2}, redis {:.2}, \
             clients {:.2}; the machine's {} busy {:.2}",
            share(self.redis),
            share(self.clients),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            share(self.machine)
        )
    }
}

/// One side's servers and clients: the publisher on server 1, the
/// subscribers spread over the three.
struct Rig {
    kind: Kind,
    servers: Vec<Proc>,
    redis: u32,
    readers: Readers,
    publisher: TcpStream,
    subscribers: u64,
}

/// Latency of a paced run, in milliseconds.
#[derive(Clone, Copy)]
struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
    samples: usize,
}

impl Rig {
    fn start(kind: Kind, servers: Vec<(Proc, u16)>, redis: u32, s: &Settings) -> Rig {
        let ports: Vec<u16> = servers.iter().map(|(_, p)| *p).collect();
        let subs: Vec<_> = (0..s.subscribers)
            .map(|i| client(kind, ports[i % ports.len()], "sub"))
            .collect();
        let readers = Readers::start(kind, subs);
        let (mut publisher, _) = client(kind, ports[0], "pub");
        let one = frame(1, &kind.publication(0, s.size));
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
        Rig {
            kind,
            servers: servers.into_iter().map(|(p, _)| p).collect(),
            redis,
            readers,
            publisher,
            subscribers,
        }
    }

    fn cpu(&self) -> Cpu {
        let pids: Vec<u32> = self.servers.iter().map(|p| p.0.id()).collect();
        Cpu::now(&pids, self.redis)
    }

    /// Messages delivered per second at saturation, and where the CPU went.
    fn saturate(&mut self, s: &Settings) -> (f64, Cpu) {
        let cpu = self.cpu();
        let base = self.readers.count();
        let batch: Vec<u8> = frame(1, &self.kind.publication(0, s.size)).repeat(s.batch);
        let per_batch = s.batch as u64 * self.subscribers;
        let wait = |readers: &Readers, want: u64, b: u64| {
            assert!(
                readers.wait_for(want, Duration::from_secs(60)),
                "batch {b}: {} of {want} delivered (lost on the way?)",
                readers.count()
            );
        };
        let start = Instant::now();
        let mut b = 0;
        while b < 3 || start.elapsed() < Duration::from_secs(s.seconds as u64) {
            // At most WINDOW batches on the way: the servers always have
            // work, and a lost message still stops the run.
            if b >= WINDOW {
                wait(&self.readers, base + (b - WINDOW + 1) * per_batch, b);
            }
            self.publisher.write_all(&batch).expect("publish");
            b += 1;
        }
        wait(&self.readers, base + b * per_batch, b);
        let delivered = (b * s.batch as u64 * self.subscribers) as f64;
        let rate = delivered / start.elapsed().as_secs_f64();
        (rate, self.cpu().since(cpu))
    }

    /// Publications at `rate` per second for `seconds`, each stamped when
    /// sent: the latency of every delivery.
    fn latency(&mut self, rate: f64, seconds: f64, size: usize) -> Latency {
        let count = (rate * seconds).ceil().max(1.0) as u64;
        let base = self.readers.count();
        self.readers.shared.samples.lock().unwrap().clear();
        self.readers.shared.recording.store(true, Ordering::Release);
        let start = Instant::now();
        for k in 0..count {
            let at = start + Duration::from_secs_f64(k as f64 / rate);
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let one = frame(1, &self.kind.publication(now_ns(), size));
            self.publisher.write_all(&one).expect("publish");
        }
        let want = base + count * self.subscribers;
        assert!(
            self.readers.wait_for(want, Duration::from_secs(60)),
            "{} of {want} delivered (lost on the way?)",
            self.readers.count()
        );
        self.readers
            .shared
            .recording
            .store(false, Ordering::Release);
        let mut samples = std::mem::take(&mut *self.readers.shared.samples.lock().unwrap());
        assert_eq!(
            samples.len() as u64,
            count * self.subscribers,
            "a sample per delivery"
        );
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
        Latency {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
            samples: samples.len(),
        }
    }
}

/// `redis-benchmark` publishing `size`-byte messages on `channel`, pipelined
/// on one connection: publications per second.
fn redis_floor(port: u16, channel: &str, size: usize) -> f64 {
    let payload = "x".repeat(size);
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", "1", "-P", "64", "-n", "500000", "-q"])
        .args(["PUBLISH", channel, &payload])
        .output()
        .expect("redis-benchmark (Debian's redis-tools, with redis-server)");
    let text = String::from_utf8_lossy(&out.stdout);
    // "PUBLISH ...: 312500.00 requests per second, p50=0.103 msec"; the
    // last of the progress lines the carriage returns separate.
    let last = text
        .rsplit(['\r', '\n'])
        .find(|l| l.contains("requests per second"));
    last.and_then(|l| {
        l.split(": ")
            .last()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
    .unwrap_or_else(|| panic!("redis-benchmark said: {text}"))
}

/// The item whose `key` is the median (the upper one of an even count).
fn median_by<T: Copy>(items: &[T], key: impl Fn(&T) -> f64) -> T {
    let mut sorted = items.to_vec();
    sorted.sort_by(|a, b| key(a).total_cmp(&key(b)));
    sorted[sorted.len() / 2]
}

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Batches of the saturation run on the way at once.
const WINDOW: u64 = 4;

/// The bytes of a wsx publication of `size` bytes on the wire (the
/// envelope of `wsx-core`'s cluster: 22 bytes and the node id, 16 bytes).
const ENVELOPE: usize = 22 + 16;

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
    now_ns();
    let (redis, redis_port) = start_redis();
    let url = format!("redis://127.0.0.1:{redis_port}");
    let exe = std::env::current_exe().expect("own path");
    let wsx_servers = (0..3)
        .map(|_| {
            let mut cmd = Command::new(&exe);
            cmd.args(["node", &url]);
            start_server(cmd)
        })
        .collect();
    let mut wsx = Rig::start(Kind::Wsx, wsx_servers, redis.0.id(), &s);
    let sio_servers = (0..3)
        .map(|_| {
            let mut cmd = Command::new("node");
            cmd.arg(node_dir().join("sio_node.js"))
                .arg(redis_port.to_string());
            start_server(cmd)
        })
        .collect();
    let mut sio = Rig::start(Kind::SocketIo, sio_servers, redis.0.id(), &s);

    // Interleaved rounds: a burst of load from elsewhere on the machine
    // hits both sides alike; each figure is the median round.
    let (mut wsx_sat, mut sio_sat) = (Vec::new(), Vec::new());
    for _ in 0..s.rounds {
        wsx_sat.push(wsx.saturate(&s));
        sio_sat.push(sio.saturate(&s));
    }
    let wsx_rate = median_by(&wsx_sat, |r| r.0).0;
    let sio_rate = median_by(&sio_sat, |r| r.0).0;
    let n = s.subscribers as f64;
    let paced = s.rate.unwrap_or(wsx_rate.min(sio_rate) / n / 4.0).max(1.0);
    let (mut wsx_lat, mut sio_lat) = (Vec::new(), Vec::new());
    for _ in 0..s.rounds {
        wsx_lat.push(wsx.latency(paced, s.latency_seconds, s.size));
        sio_lat.push(sio.latency(paced, s.latency_seconds, s.size));
    }

    // Last: the wsx servers take every one of these publications too.
    let floor = redis_floor(redis_port, "bench:room", s.size + ENVELOPE);

    println!(
        "{} subscribers spread over 3 servers, publisher on server 1, {} B messages; \
         medians of {} interleaved rounds",
        s.subscribers, s.size, s.rounds
    );
    println!(
        "saturation: batches of {} messages for {} s; latency: {paced:.0} publications/s \
         ({:.0} deliveries/s) for {} s",
        s.batch,
        s.seconds,
        paced * n,
        s.latency_seconds
    );
    let p99 = |lat: &[Latency]| median_by(lat, |l| l.p99).p99;
    for (kind, sat, lat) in [
        (Kind::Wsx, &wsx_sat, &wsx_lat),
        (Kind::SocketIo, &sio_sat, &sio_lat),
    ] {
        let (rate, cpu) = median_by(sat, |r| r.0);
        let rounds: Vec<String> = sat.iter().map(|r| format!("{:.0}", r.0)).collect();
        println!("{}:", kind.name());
        println!(
            "  saturation {rate:.0} messages/s delivered ({:.0} publications/s; rounds {}); {cpu}",
            rate / n,
            rounds.join(", ")
        );
        let rounds: Vec<String> = lat.iter().map(|l| format!("{:.2}", l.p99)).collect();
        println!(
            "  latency    p50 {:.2} ms, p99 {:.2} ms (rounds {}), max {:.2} ms; {} samples a round",
            median_by(lat, |l| l.p50).p50,
            p99(lat),
            rounds.join(", "),
            median_by(lat, |l| l.max).max,
            lat[0].samples
        );
    }
    println!(
        "redis-benchmark PUBLISH: {floor:.0} publications/s ({} B, 1 connection, pipeline 64, \
         3 subscribed servers)",
        s.size + ENVELOPE
    );
    let (wsx_lat, sio_lat) = (p99(&wsx_lat), p99(&sio_lat));
    println!(
        "ratio messages/s wsx / socket.io {:.2}",
        wsx_rate / sio_rate
    );
    println!("ratio p99 latency wsx / socket.io {:.3}", wsx_lat / sio_lat);
    println!(
        "ratio publications/s wsx / redis-benchmark PUBLISH {:.3}",
        wsx_rate / n / floor
    );
}
