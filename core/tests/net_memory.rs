//! Memory budget of an idle connection: the heap a wsx server holds per open
//! connection that sends nothing, fresh from the handshake and after an
//! echo, stays within 16 KiB (no read buffer is held between messages).

#[path = "net/util/counting.rs"]
mod counting;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use counting::{Counting, LIVE};
use wsx_core::net::{Ctx, EventLoop, Handler, Open, Refusal, ServerConfig, ServerHandler, Upgrade};
use wsx_core::proto::MessageKind;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The budget per idle connection.
const BUDGET: usize = 16 * 1024;
/// Connections opened per state (fresh, used once).
const CONNS: usize = 300;

/// Echoes, and counts the connections that opened.
struct Echo(Arc<AtomicUsize>);

impl Handler for Echo {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        ctx.send(kind, data).expect("echo");
    }
}

struct Server(Arc<AtomicUsize>);

impl ServerHandler for Server {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Echo(self.0.clone())))
    }
}

const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A masked 20-byte binary frame, and the unmasked echo expected back.
fn frame_and_echo() -> (Vec<u8>, Vec<u8>) {
    let payload = *b"twenty bytes of data";
    let key = [1u8, 2, 3, 4];
    let mut frame = vec![0x82, 0x80 | 20];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    let mut echo = vec![0x82, 20];
    echo.extend_from_slice(&payload);
    (frame, echo)
}

/// Opens a raw client; with `echo`, one message goes there and back first.
fn client(addr: std::net::SocketAddr, echo: bool) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(REQUEST).expect("request");
    let (frame, expected) = frame_and_echo();
    if echo {
        tcp.write_all(&frame).expect("frame");
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let head_end = got
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|at| at + 4);
        if let Some(end) = head_end {
            assert!(
                got.starts_with(b"HTTP/1.1 101"),
                "{:?}",
                String::from_utf8_lossy(&got)
            );
            let want = if echo { expected.len() } else { 0 };
            if got.len() - end >= want {
                assert_eq!(&got[end..], &expected[..want]);
                return tcp;
            }
        }
        let n = tcp.read(&mut chunk).expect("read");
        assert!(n > 0, "closed early");
        got.extend_from_slice(&chunk[..n]);
    }
}

/// The live heap once it stops changing (the loop finished its work).
fn settled_heap() -> usize {
    let mut last = LIVE.load(Ordering::Relaxed);
    loop {
        sleep(Duration::from_millis(100));
        let now = LIVE.load(Ordering::Relaxed);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn an_idle_connection_holds_at_most_16_kib_of_heap() {
    let opened = Arc::new(AtomicUsize::new(0));
    let event_loop = EventLoop::new().expect("loop");
    let handle = event_loop.handle();
    let config = ServerConfig {
        keepalive: None,
        max_connections: 4 * CONNS,
        max_pending_handshakes: 4 * CONNS,
        ..ServerConfig::default()
    };
    let server = handle
        .listen(config, Box::new(Server(opened.clone())))
        .expect("listen");
    let addr = server.local_addr();
    let _thread = event_loop.spawn().expect("spawn");
    // Warm up: the loop's own buffers, and the allocator's first pages.
    let warm: Vec<TcpStream> = (0..10).map(|_| client(addr, true)).collect();
    let mut clients = warm;
    for echo in [false, true] {
        let before = settled_heap();
        clients.extend((0..CONNS).map(|_| client(addr, echo)));
        let deadline = Instant::now() + Duration::from_secs(20);
        while opened.load(Ordering::Relaxed) < clients.len() {
            assert!(Instant::now() < deadline, "connections did not open");
            sleep(Duration::from_millis(10));
        }
        let per_conn = settled_heap().saturating_sub(before) / CONNS;
        let state = if echo { "after one echo" } else { "fresh" };
        println!("heap per idle connection, {state}: {per_conn} bytes");
        assert!(
            per_conn <= BUDGET,
            "{state}: {per_conn} bytes per idle connection, over {BUDGET}"
        );
    }
    drop(clients);
}
