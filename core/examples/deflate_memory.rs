//! permessage-deflate's cost: the memory one connection's compressor and
//! decompressor hold, for each window size, and the throughput of a message
//! sent through a client and server engine in memory, compressed and not.
//!
//! ```text
//! cargo run --release -p wsx-core --example deflate_memory            # both tables
//! cargo run --release -p wsx-core --example deflate_memory -- memory  # memory only
//! ```
//!
//! Memory is counted by a global allocator: the bytes still allocated after
//! one compressed message each way, minus the same without deflate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use wsx_core::proto::extension::deflate::{
    Agreement, DeflateConfig, DeflateParams, Deflater, Inflater,
};
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

/// A client and server engine, with permessage-deflate at `bits` when given.
fn pair(bits: Option<u8>) -> (Connection, Connection) {
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());
    if let Some(bits) = bits {
        let agreement = Agreement {
            params: DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: bits,
                client_max_window_bits: bits,
            },
            config: DeflateConfig::default(),
        };
        client.enable_deflate(&agreement);
        server.enable_deflate(&agreement);
    }
    (client, server)
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

/// Bytes still allocated after `run` returns what it built.
fn live_after<T>(run: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::Relaxed);
    let kept = run();
    (LIVE.load(Ordering::Relaxed) - before, kept)
}

fn memory() {
    let data = message(4096);
    println!("per-connection memory of permessage-deflate, after one 4 KiB message");
    println!("window bits  compressor  decompressor  engine pair (both ends)");
    for bits in 9..=15 {
        let (deflate, _kept) = live_after(|| {
            let mut d = Deflater::new(6, bits, false);
            d.compress(&data, true).expect("compress");
            d
        });
        let compressed = Deflater::new(6, bits, false)
            .compress(&data, true)
            .expect("compress")
            .to_vec();
        let (inflate, _kept) = live_after(|| {
            let mut i = Inflater::new(bits);
            let mut out = Vec::with_capacity(data.len());
            i.inflate(&compressed, &mut out, data.len())
                .expect("inflate");
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
            "{bits:>11}  {deflate:>10}  {inflate:>12}  {:>+23}",
            both as i64 - plain as i64
        );
    }
}

fn throughput() {
    let data = message(16 * 1024);
    let rounds = 256;
    println!("16 KiB JSON-like messages, {rounds} rounds, client -> server in memory");
    println!("mode          wire bytes/msg  MiB/s of payload");
    for (name, bits) in [
        ("uncompressed", None),
        ("deflate-15", Some(15)),
        ("deflate-10", Some(10)),
    ] {
        let (mut client, mut server) = pair(bits);
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
        memory();
    }
    if what != "memory" {
        throughput();
    }
}
