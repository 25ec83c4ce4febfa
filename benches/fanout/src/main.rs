//! Fan-out: one publisher, many subscribers, in one run. wsx's
//! `Server::publish` (the frame encoded once, shared by every subscriber's
//! queue, fanned out on the loop's thread) against the same fan-out written
//! with tokio-tungstenite on a single-threaded runtime: each message handed
//! to the broadcasting task, which feeds it to every connection's sink and
//! flushes them all once no further message waits (its best case: writes
//! coalesced while busy, as wsx does).
//!
//! The subscribers are the same for both: raw TCP clients that did the
//! handshake, read on one thread with mio and count bytes (every frame has
//! the same length). The publisher sends batches of messages and waits until
//! every subscriber has every message of the batch, so nobody is skipped;
//! the figure is messages delivered per second, and the ratio is wsx over
//! tokio-tungstenite.
//!
//! Both run in turn, FANOUT_ROUNDS times (as the rest of the bench
//! interleaves its rounds on a shared machine); each figure is the median.
//!
//! Settings (environment): FANOUT_SUBSCRIBERS (1000), FANOUT_BATCH (100
//! messages), FANOUT_BATCHES (20), FANOUT_SIZE (20 bytes), FANOUT_ROUNDS (3).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use mio::{Events, Interest, Poll, Token};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use wsx_core::net::{
    Ctx, EventLoop, Handler, LoopThread, Open, Refusal, Server, ServerConfig, ServerHandler,
    Upgrade,
};
use wsx_core::proto::MessageKind;

const TOPIC: &str = "fan";

struct Settings {
    subscribers: usize,
    batch: usize,
    batches: usize,
    size: usize,
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
        Settings {
            subscribers: get("FANOUT_SUBSCRIBERS", 1000),
            batch: get("FANOUT_BATCH", 100),
            batches: get("FANOUT_BATCHES", 20),
            size: get("FANOUT_SIZE", 20),
            rounds: get("FANOUT_ROUNDS", 3).max(1),
        }
    }

    /// Bytes of one unmasked frame: its header and the payload.
    fn frame_len(&self) -> u64 {
        let header = match self.size {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        header + self.size as u64
    }
}

/// Subscribers reading on a thread of their own, counting bytes.
struct Readers {
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Readers {
    /// Connects `n` clients to `addr`, each through the handshake, then reads.
    fn connect(addr: SocketAddr, n: usize) -> Readers {
        let streams: Vec<TcpStream> = (0..n).map(|_| handshake(addr)).collect();
        let received = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counter, stopped) = (received.clone(), stop.clone());
        let thread = std::thread::spawn(move || read_all(streams, &counter, &stopped));
        Readers {
            received,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits until `bytes` arrived in all.
    fn wait_for(&self, bytes: u64) {
        while self.received.load(Ordering::Acquire) < bytes {
            std::thread::yield_now();
        }
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

/// A client through the opening handshake (the 101 read whole).
fn handshake(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .expect("request");
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("response");
        response.push(byte[0]);
    }
    assert!(response.starts_with(b"HTTP/1.1 101"), "handshake refused");
    tcp
}

fn read_all(streams: Vec<TcpStream>, received: &AtomicU64, stop: &AtomicBool) {
    let mut poll = Poll::new().expect("poll");
    let mut streams: Vec<mio::net::TcpStream> = streams
        .into_iter()
        .map(|s| {
            s.set_nonblocking(true).expect("nonblocking");
            mio::net::TcpStream::from_std(s)
        })
        .collect();
    for (i, s) in streams.iter_mut().enumerate() {
        poll.registry()
            .register(s, Token(i), Interest::READABLE)
            .expect("register");
    }
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Acquire) {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .expect("poll");
        for event in &events {
            let stream = &mut streams[event.token().0];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        received.fetch_add(n as u64, Ordering::AcqRel);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read failed: {e}"),
                }
            }
        }
    }
}

/// Runs `publish_batch` `batches` times, each followed by the wait for its
/// deliveries; returns messages delivered per second.
fn measure(settings: &Settings, readers: &Readers, mut publish_batch: impl FnMut()) -> f64 {
    let per_batch = (settings.batch * settings.subscribers) as u64 * settings.frame_len();
    let start = Instant::now();
    for b in 1..=settings.batches as u64 {
        publish_batch();
        readers.wait_for(b * per_batch);
    }
    let delivered = (settings.batch * settings.batches * settings.subscribers) as f64;
    delivered / start.elapsed().as_secs_f64()
}

/// Subscribes every connection to the topic as it opens.
struct Subscribe;

impl Handler for Subscribe {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        ctx.subscribe(TOPIC).expect("subscribe");
    }
}

impl ServerHandler for Subscribe {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Subscribe))
    }
}

fn wsx_publish(settings: &Settings) -> f64 {
    let lp: LoopThread = EventLoop::new().expect("loop").spawn().expect("spawn");
    let config = ServerConfig {
        keepalive: None,
        max_connections: settings.subscribers + 16,
        ..ServerConfig::default()
    };
    let server: Server = lp
        .handle()
        .listen(config, Box::new(Subscribe))
        .expect("listen");
    let readers = Readers::connect(server.local_addr(), settings.subscribers);
    while server.subscribers(TOPIC) < settings.subscribers {
        std::thread::sleep(Duration::from_millis(1));
    }
    let payload = vec![7u8; settings.size];
    measure(settings, &readers, || {
        for _ in 0..settings.batch {
            let reached = server
                .publish(TOPIC, MessageKind::Binary, &payload)
                .expect("publish");
            assert_eq!(reached, settings.subscribers, "a subscriber was skipped");
        }
    })
}

type Sink = SplitSink<WebSocketStream<tokio::net::TcpStream>, Message>;

fn tungstenite_loop(settings: &Settings) -> f64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std_listener.local_addr().expect("addr");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let sinks: Arc<Mutex<Vec<Sink>>> = Arc::new(Mutex::new(Vec::new()));
    let (publish_tx, mut publish_rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let accepted = sinks.clone();
    let server = std::thread::spawn(move || {
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
            let accept = async {
                loop {
                    let (stream, _) = listener.accept().await.expect("accept");
                    let _ = stream.set_nodelay(true);
                    let ws = tokio_tungstenite::accept_async(stream)
                        .await
                        .expect("handshake");
                    let (sink, _stream) = futures_util::StreamExt::split(ws);
                    accepted.lock().expect("sinks").push(sink);
                }
            };
            // The fan-out, as an application writes it: every message to
            // every connection, then one flush each once none waits.
            let publish = async {
                while let Some(first) = publish_rx.recv().await {
                    let mut sinks = std::mem::take(&mut *accepted.lock().expect("sinks"));
                    let mut next = Some(first);
                    while let Some(message) = next {
                        for sink in sinks.iter_mut() {
                            sink.feed(message.clone()).await.expect("feed");
                        }
                        next = publish_rx.try_recv().ok();
                    }
                    for sink in sinks.iter_mut() {
                        sink.flush().await.expect("flush");
                    }
                    accepted.lock().expect("sinks").extend(sinks);
                }
            };
            tokio::select! {
                () = accept => {}
                () = publish => {}
            }
        })
    });
    let readers = Readers::connect(addr, settings.subscribers);
    while sinks.lock().expect("sinks").len() < settings.subscribers {
        std::thread::sleep(Duration::from_millis(1));
    }
    let message = Message::binary(vec![7u8; settings.size]);
    let rate = measure(settings, &readers, || {
        for _ in 0..settings.batch {
            publish_tx.send(message.clone()).expect("publisher");
        }
    });
    drop(publish_tx);
    server.join().expect("server thread");
    rate
}

fn main() {
    let settings = Settings::from_env();
    println!(
        "fan-out: {} subscribers, {} batches of {} messages of {} bytes; medians of {} interleaved rounds",
        settings.subscribers, settings.batches, settings.batch, settings.size, settings.rounds
    );
    let (mut wsx, mut tungstenite) = (Vec::new(), Vec::new());
    for _ in 0..settings.rounds {
        wsx.push(wsx_publish(&settings));
        tungstenite.push(tungstenite_loop(&settings));
    }
    let (wsx, wsx_rounds) = median(wsx);
    let (tungstenite, tungstenite_rounds) = median(tungstenite);
    println!(
        "wsx Server::publish:                 {wsx:>12.0} msgs delivered/s (rounds {wsx_rounds})"
    );
    println!(
        "tokio-tungstenite loop of sends:     {tungstenite:>12.0} msgs delivered/s (rounds {tungstenite_rounds})"
    );
    println!(
        "ratio wsx / tokio-tungstenite:       {:>12.2}",
        wsx / tungstenite
    );
}

/// The median of the rounds, and the rounds as measured, for the report.
fn median(mut rounds: Vec<f64>) -> (f64, String) {
    let listed = rounds
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ");
    rounds.sort_by(f64::total_cmp);
    (rounds[rounds.len() / 2], listed)
}
