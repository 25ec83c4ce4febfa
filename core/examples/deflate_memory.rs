//! permessage-deflate's cost: the memory one connection's compressor and
//! decompressor hold, for each window size; the heap a server holds per
//! connection, idle and active, with each compression mode over thousands
//! of connections; and the throughput of a message sent through a client
//! and server engine in memory, compressed and not.
//!
//! ```text
//! cargo run --release -p wsx-core --example deflate_memory            # all tables
//! cargo run --release -p wsx-core --example deflate_memory -- memory  # memory only
//! ```
//!
//! Memory is counted by a global allocator: the bytes still allocated after
//! the messages, minus the same without deflate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use wsx_core::proto::extension::deflate::{
    Agreement, DeflateConfig, DeflateParams, Deflater, Inflater, negotiate,
};
use wsx_core::proto::handshake::{Headers, Request};
use wsx_core::proto::{Config, Connection, Event, MessageKind, Role};

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only
// the byte count is added around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout as given to us.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A JSON-like message of about `len` bytes, the kind games and services send.
fn message(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 100);
    let mut i = 0u32;
    while out.len() < len {
        let x = i.wrapping_mul(2_654_435_761) % 1000;
        out.extend_from_slice(
            format!(
                r#"{{"id":{i},"type":"position","x":{x}.5,"y":-{}.25,"name":"player-{}"}},"#,
                x / 3,
                i % 64
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

/// The agreement of a server configured with `config` and a client offering
/// `permessage-deflate; client_max_window_bits` (browsers, python-websockets).
fn agreement(config: &DeflateConfig) -> Agreement {
    let request = Request {
        path: "/".into(),
        headers: Headers(vec![(
            "Sec-WebSocket-Extensions".into(),
            "permessage-deflate; client_max_window_bits".into(),
        )]),
    };
    negotiate(config, &request)
        .expect("valid offer")
        .expect("accepted")
        .1
}

/// A client and server engine, with permessage-deflate as `agreed` when given.
fn engines(agreed: Option<&Agreement>) -> (Connection, Connection) {
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());
    if let Some(agreement) = agreed {
        client.enable_deflate(agreement);
        server.enable_deflate(agreement);
    }
    (client, server)
}

/// A client and server engine, with permessage-deflate at `bits` when given.
fn pair(bits: Option<u8>) -> (Connection, Connection) {
    let agreed = bits.map(|bits| Agreement {
        params: DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: bits,
            client_max_window_bits: bits,
        },
        config: DeflateConfig::default(),
    });
    engines(agreed.as_ref())
}

/// Sends `data` from `from` to `to` and returns the bytes on the wire.
fn transfer(from: &mut Connection, to: &mut Connection, data: &[u8]) -> usize {
    from.sender().send(MessageKind::Binary, data).expect("send");
    let wire = from.pending().len();
    to.feed(from.pending());
    from.consume(wire);
    match to.next_event() {
        Some((Event::Message { data: got, .. }, _)) => assert_eq!(got.len(), data.len()),
        other => panic!("expected the message, got {other:?}"),
    }
    wire
}

/// Both ends start afresh for every message, with 15-bit windows.
fn no_context_takeover() -> Agreement {
    Agreement {
        params: DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        },
        config: DeflateConfig::default(),
    }
}

/// Bytes still allocated after `run` returns what it built.
fn live_after<T>(run: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::Relaxed);
    let kept = run();
    (LIVE.load(Ordering::Relaxed) - before, kept)
}

/// What the thread's pool keeps once a message went each way without context
/// takeover: the shared compressor, a decompressor and the scratch buffer,
/// once per thread (event loop), whatever the number of connections.
fn pool() {
    let fresh = no_context_takeover();
    let data = message(4096);
    let (kept, ()) = live_after(|| {
        let (mut c, mut s) = engines(Some(&fresh));
        transfer(&mut c, &mut s, &data);
        transfer(&mut s, &mut c, &data);
    });
    println!("the thread's pool (once per event loop, not per connection): {kept} bytes");
}

fn memory() {
    let data = message(4096);
    println!(
        "per-connection memory of permessage-deflate with context takeover, after one 4 KiB message"
    );
    println!("window bits  compressor  decompressor (the peer's window)  engine pair (both ends)");
    for bits in 9..=15 {
        let (deflate, _kept) = live_after(|| {
            let mut d = Deflater::new(6, bits, false);
            d.compress(&data, true, |_| ()).expect("compress");
            d
        });
        let compressed = Deflater::new(6, bits, false)
            .compress(&data, true, <[u8]>::to_vec)
            .expect("compress");
        let (inflate, _kept) = live_after(|| {
            let mut i = Inflater::new(bits, true);
            let mut out = Vec::with_capacity(data.len());
            i.inflate(&compressed, &mut out, data.len())
                .expect("inflate");
            i.finish(&mut out, data.len()).expect("finish");
            i
        });
        let (plain, _kept) = live_after(|| {
            let (mut c, mut s) = pair(None);
            transfer(&mut c, &mut s, &data);
            transfer(&mut s, &mut c, &data);
            (c, s)
        });
        let (both, _kept) = live_after(|| {
            let (mut c, mut s) = pair(Some(bits));
            transfer(&mut c, &mut s, &data);
            transfer(&mut s, &mut c, &data);
            (c, s)
        });
        println!(
            "{bits:>11}  {deflate:>10}  {inflate:>32}  {:>+23}",
            both as i64 - plain as i64
        );
    }
}

/// Connections held by the server side of [`per_connection`]'s modes.
const MANY: usize = 10_000;
/// Fewer for the modes whose connections keep a compressor of their own
/// (about 400 KB each): the figure per connection is the same.
const FEW: usize = 500;

/// The server's heap per connection over `n` connections negotiated with
/// `agreed` (plain engines when `None`): once idle after the handshake,
/// then after one 4 KiB message each way (kept until the next message).
fn server_heap(agreed: Option<&Agreement>, n: usize, data: &[u8]) -> (usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    let mut servers: Vec<Connection> = Vec::with_capacity(n);
    for _ in 0..n {
        servers.push(engines(agreed).1);
    }
    let idle = LIVE.load(Ordering::Relaxed) - before;
    for server in &mut servers {
        // A client per connection, dropped after its message: only the
        // server's side is counted.
        let mut client = engines(agreed).0;
        transfer(&mut client, server, data);
        server
            .sender()
            .send(MessageKind::Binary, data)
            .expect("send");
        let n = server.pending().len();
        server.consume(n);
    }
    let active = LIVE.load(Ordering::Relaxed) - before;
    drop(servers);
    (idle / n, active / n)
}

/// A server's heap per connection with each compression mode, for clients
/// that offer `permessage-deflate; client_max_window_bits`.
fn per_connection() {
    let data = message(4096);
    let shared = DeflateConfig {
        shared_compressor: true,
        ..DeflateConfig::default()
    };
    let modes = [
        ("context takeover (default)", DeflateConfig::default(), FEW),
        ("shared compressor", shared.clone(), MANY),
        (
            "shared compressor, client_max_window_bits=10",
            DeflateConfig {
                client_max_window_bits: 10,
                ..shared.clone()
            },
            MANY,
        ),
        (
            "shared compressor, client_no_context_takeover",
            DeflateConfig {
                client_no_context_takeover: true,
                ..shared
            },
            MANY,
        ),
    ];
    println!(
        "server heap per connection beyond an uncompressed one (bytes): idle after the handshake, \
         and after a 4 KiB message each way (held until the next message)"
    );
    println!(
        "{:<46}  {:>11}  {:>6}  {:>6}",
        "mode", "connections", "idle", "after"
    );
    for (name, config, n) in modes {
        let (plain_idle, plain_active) = server_heap(None, n, &data);
        let (idle, active) = server_heap(Some(&agreement(&config)), n, &data);
        println!(
            "{name:<46}  {n:>11}  {:>6}  {:>6}",
            idle as i64 - plain_idle as i64,
            active as i64 - plain_active as i64
        );
    }
}

fn throughput() {
    let data = message(16 * 1024);
    let rounds = 256;
    println!("16 KiB JSON-like messages, {rounds} rounds, client -> server in memory");
    println!("(shared-15: no context takeover either way, the thread's shared compressor)");
    println!("mode          wire bytes/msg  MiB/s of payload");
    let fresh = no_context_takeover();
    for (name, (mut client, mut server)) in [
        ("uncompressed", pair(None)),
        ("deflate-15", pair(Some(15))),
        ("deflate-10", pair(Some(10))),
        ("shared-15", engines(Some(&fresh))),
    ] {
        let start = Instant::now();
        let mut wire = 0;
        for _ in 0..rounds {
            wire += transfer(&mut client, &mut server, &data);
        }
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        let mib = (rounds * data.len()) as f64 / (1024.0 * 1024.0);
        println!("{name:<12}  {:>14}  {:>16.1}", wire / rounds, mib / secs);
    }
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    if what != "throughput" {
        pool();
        memory();
        per_connection();
    }
    if what != "memory" {
        throughput();
    }
}
