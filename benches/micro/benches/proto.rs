//! Micro benchmarks of wsx's protocol core: masking and UTF-8 validation in
//! bytes per second (and a large client frame's encoding), small-frame decode
//! and encode in frames per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wsx_core::proto::frame::apply_mask;
use wsx_core::proto::message::Utf8Validator;
use wsx_core::proto::{Config, Connection, MessageKind, Role};

/// Bytes masked or validated per iteration.
const BULK: usize = 1 << 20;
/// Frames decoded or encoded per iteration.
const FRAMES: usize = 1000;
/// Payload of a large client frame.
const LARGE: usize = 64 * 1024;
/// Payload of a small frame.
const SMALL: usize = 20;

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    group.throughput(Throughput::Bytes(BULK as u64));
    let mut buf = vec![0x5au8; BULK];
    group.bench_function("1MiB", |b| {
        b.iter(|| apply_mask(black_box(&mut buf), [0x37, 0xfa, 0x21, 0x3d], 1));
    });
    group.finish();
    // A client's frame: the payload copied into the output and masked there.
    let mut group = c.benchmark_group("client_frame");
    group.throughput(Throughput::Bytes(LARGE as u64));
    let mut client = Connection::new(Role::Client, Config::default());
    let payload = vec![7u8; LARGE];
    group.bench_function("encode_64KiB", |b| {
        b.iter(|| encode(&mut client, &payload, 1));
    });
    group.finish();
}

/// Mostly ASCII with a two-, three- or four-byte character every 64 bytes.
fn ascii_heavy(len: usize) -> Vec<u8> {
    let mut s = String::with_capacity(len + 4);
    let extra = ['é', '€', '😀'];
    let mut i = 0;
    while s.len() < len - 4 {
        if i % 64 == 63 {
            s.push(extra[(i / 64) % 3]);
        } else {
            s.push(char::from(b'a' + (i % 26) as u8));
        }
        i += 1;
    }
    while s.len() < len {
        s.push('.');
    }
    s.into_bytes()
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    group.throughput(Throughput::Bytes(BULK as u64));
    let text = ascii_heavy(BULK);
    let mut validator = Utf8Validator::new();
    group.bench_function("ascii_heavy_1MiB", |b| {
        b.iter(|| {
            validator.reset();
            validator.feed(black_box(&text)).expect("valid UTF-8");
            validator.finish().expect("complete");
        });
    });
    group.finish();
}

/// `FRAMES` masked client frames of `SMALL` bytes, back to back.
fn client_frames() -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut one = vec![0x82, 0x80 | SMALL as u8];
    one.extend_from_slice(&key);
    let mut payload = [7u8; SMALL];
    apply_mask(&mut payload, key, 0);
    one.extend_from_slice(&payload);
    one.repeat(FRAMES)
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("frames");
    group.throughput(Throughput::Elements(FRAMES as u64));
    let input = client_frames();
    let mut server = Connection::new(Role::Server, Config::default());
    group.bench_function("decode_20B", |b| {
        b.iter(|| {
            server.feed(black_box(&input));
            let mut n = 0;
            while let Some((event, _)) = server.next_event() {
                black_box(event);
                n += 1;
            }
            assert_eq!(n, FRAMES);
        });
    });
    let mut sender = Connection::new(Role::Server, Config::default());
    let payload = [7u8; SMALL];
    group.bench_function("encode_20B", |b| {
        b.iter(|| encode(&mut sender, &payload, FRAMES));
    });
    group.finish();
}

/// Sends `payload` as `count` binary messages, then takes the frames out.
fn encode(conn: &mut Connection, payload: &[u8], count: usize) {
    let out = conn.sender();
    for _ in 0..count {
        out.send(MessageKind::Binary, black_box(payload))
            .expect("open");
    }
    let n = out.pending().len();
    black_box(out.pending());
    out.consume(n);
}

criterion_group!(benches, masking, utf8, frames);
criterion_main!(benches);
