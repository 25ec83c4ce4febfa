//! Load generator: opens N connections to a WebSocket (or raw-TCP) echo
//! server, keeps K messages of S bytes in flight on each for a warm-up and
//! then a measured window, and prints one JSON line: messages and MB per
//! second, round-trip p50/p99, and the CPU both processes used.
//!
//! ```text
//! loadgen --target ws://127.0.0.1:9001/ | tcp://127.0.0.1:9001
//!         [--conns N] [--inflight K] [--size S] [--kind binary|text|utf8]
//!         [--warmup SECS] [--duration SECS] [--server-pid PID] [--label NAME]
//! loadgen --target ws://... --idle N [--idle-echo 1]   # hold N idle connections until stdin closes
//! ```
//!
//! It is built to cost less than any server it drives: every message is
//! framed and masked once up front (the same bytes are written again and
//! again), echoes are parsed in place out of one shared read buffer and
//! compared with the expected payload, and a short read ends a readable
//! event without the extra `read` that would return `WouldBlock`.

mod cpu;
mod options;
mod payload;
mod wire;

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream as StdStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use options::{Options, Target};
use wire::Parser;

/// Read buffer shared by all connections: echoes are parsed in place.
const READ_BUF: usize = 1 << 20;
/// Most messages handed to one vectored write.
const MAX_IOV: usize = 64;

/// One connection's state.
struct Conn {
    stream: TcpStream,
    /// Offset into the first queued message already written.
    written: usize,
    /// Messages queued and not yet fully written (the first partly, maybe).
    unwritten: usize,
    /// When each message still waiting for its echo was queued.
    sent_at: VecDeque<Instant>,
    parser: Parser,
}

/// What the measured window saw.
struct Window {
    start: Instant,
    bytes: u64,
    messages: u64,
    rtt: Histogram<u64>,
}

fn main() -> ExitCode {
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(opts) => opts,
        Err(problem) => {
            eprintln!("loadgen: {problem}");
            eprintln!("{}", options::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = match opts.idle {
        Some(n) => hold_idle(&opts, n),
        None => run(&opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens and upgrades one blocking connection.
fn open(target: &Target) -> io::Result<StdStream> {
    let stream = StdStream::connect(target.addr())?;
    stream.set_nodelay(true)?;
    if let Target::Ws { host, path, .. } = target {
        wire::handshake(&stream, host, path)?;
    }
    Ok(stream)
}

/// Opens `n` connections (with `--idle-echo`, echoes one message of
/// `--size` bytes on each), says `ready N` on stdout, and holds them open
/// until stdin reaches its end.
fn hold_idle(opts: &Options, n: usize) -> io::Result<()> {
    let payload = payload::make(opts.kind, opts.size);
    let message = wire::client_frame(opts.kind, &payload);
    let mut buf = vec![0u8; READ_BUF];
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut conn = open(&opts.target)?;
        if opts.idle_echo {
            conn.write_all(&message)?;
            let mut parser = Parser::new(matches!(opts.target, Target::Ws { .. }));
            let mut echoed = 0;
            while echoed == 0 {
                let got = conn.read(&mut buf)?;
                if got == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                echoed = parser.feed(&buf[..got], &payload)?.messages;
            }
        }
        conns.push(conn);
    }
    println!("ready {}", conns.len());
    io::stdout().flush()?;
    io::copy(&mut io::stdin(), &mut io::sink())?;
    Ok(())
}

fn run(opts: &Options) -> io::Result<()> {
    let payload = payload::make(opts.kind, opts.size);
    let ws = matches!(opts.target, Target::Ws { .. });
    // The raw-TCP floor carries as many bytes as a WebSocket client's frame
    // (the payload, its header and mask), unframed: the same bytes on the
    // wire, not a size no frame has. (An exactly-64 KiB raw echo ran at half
    // the rate of one 14 bytes longer on an AMD EPYC machine, its server
    // spending 57% of its CPU in the kernel's copy to user memory.)
    let message = wire::client_frame(opts.kind, &payload);
    let (payload, message) = match ws {
        true => (payload, message),
        false => {
            let unframed = payload::make(opts.kind, message.len());
            (unframed.clone(), unframed)
        }
    };

    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(opts.conns);
    for i in 0..opts.conns {
        let std = open(&opts.target)?;
        std.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        conns.push(Conn {
            stream,
            written: 0,
            unwritten: 0,
            sent_at: VecDeque::with_capacity(opts.inflight),
            parser: Parser::new(ws),
        });
    }

    let begin = Instant::now();
    let window_start = begin + opts.warmup;
    let end = window_start + opts.duration;
    for conn in &mut conns {
        queue(conn, opts.inflight, begin);
        flush(conn, &message)?;
    }

    let mut read_buf = vec![0u8; READ_BUF];
    let mut events = Events::with_capacity(1024);
    let mut window: Option<Window> = None;
    let mut cpu_start = None;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if window.is_none() && now >= window_start {
            cpu_start = Some((
                cpu::ticks(None)?,
                opts.server_pid.map(|p| cpu::ticks(Some(p))).transpose()?,
            ));
            window = Some(Window {
                start: now,
                bytes: 0,
                messages: 0,
                rtt: Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("valid bounds"),
            });
        }
        let until = if window.is_none() { window_start } else { end };
        poll.poll(&mut events, Some(until.saturating_duration_since(now)))?;
        for event in &events {
            let conn = &mut conns[event.token().0];
            if event.is_readable() || event.is_read_closed() {
                let done = receive(conn, &mut read_buf, &payload, window.as_mut())?;
                queue(conn, done, Instant::now());
            }
            flush(conn, &message)?;
        }
    }
    let elapsed = end
        .saturating_duration_since(window_start)
        .max(Duration::from_millis(1));
    let (self_start, server_start) = cpu_start.unwrap_or_default();
    let client_cpu = cpu::share(self_start, cpu::ticks(None)?, elapsed);
    let server_cpu = match (opts.server_pid, server_start) {
        (Some(pid), Some(start)) => Some(cpu::share(start, cpu::ticks(Some(pid))?, elapsed)),
        _ => None,
    };
    let w = window.ok_or_else(|| io::Error::other("the measured window never started"))?;
    let secs = end.saturating_duration_since(w.start).as_secs_f64();
    let quantile = |q: f64| w.rtt.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{{\"label\":\"{}\",\"conns\":{},\"inflight\":{},\"size\":{},\"kind\":\"{}\",\
         \"seconds\":{:.3},\"messages\":{},\"msgs_per_s\":{:.1},\"mb_per_s\":{:.2},\
         \"p50_us\":{:.1},\"p99_us\":{:.1},\"client_cpu\":{:.3},\"server_cpu\":{}}}",
        opts.label,
        opts.conns,
        opts.inflight,
        opts.size,
        opts.kind.name(),
        secs,
        w.messages,
        w.bytes as f64 / opts.size.max(1) as f64 / secs,
        w.bytes as f64 / 1e6 / secs,
        quantile(0.5),
        quantile(0.99),
        client_cpu,
        server_cpu.map_or("null".to_owned(), |c| format!("{c:.3}")),
    );
    Ok(())
}

/// Queues `n` more messages on `conn`, sent at `now`.
fn queue(conn: &mut Conn, n: usize, now: Instant) {
    conn.unwritten += n;
    conn.sent_at.extend(std::iter::repeat_n(now, n));
}

/// Writes queued messages until done or the socket is full.
fn flush(conn: &mut Conn, message: &[u8]) -> io::Result<()> {
    while conn.unwritten > 0 {
        let count = conn.unwritten.min(MAX_IOV);
        let mut iov = Vec::with_capacity(count);
        iov.push(IoSlice::new(&message[conn.written..]));
        iov.extend(std::iter::repeat_n(IoSlice::new(message), count - 1));
        match conn.stream.write_vectored(&iov) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                let total = conn.written + n;
                conn.unwritten -= total / message.len();
                conn.written = total % message.len();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads and checks what arrived; returns how many echoes completed.
fn receive(
    conn: &mut Conn,
    buf: &mut [u8],
    payload: &[u8],
    mut window: Option<&mut Window>,
) -> io::Result<usize> {
    let mut done = 0;
    loop {
        let n = match conn.stream.read(buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed",
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(done),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let seen = conn.parser.feed(&buf[..n], payload)?;
        if let Some(w) = window.as_deref_mut() {
            w.bytes += seen.payload_bytes as u64;
        }
        if seen.messages > 0 {
            let now = Instant::now();
            for _ in 0..seen.messages {
                let sent = conn
                    .sent_at
                    .pop_front()
                    .ok_or_else(|| io::Error::other("an echo nobody asked for"))?;
                if let Some(w) = window.as_deref_mut() {
                    w.messages += 1;
                    let ns = now.duration_since(sent).as_nanos() as u64;
                    w.rtt.record(ns.max(1)).map_err(io::Error::other)?;
                }
            }
            done += seen.messages;
        }
        // Edge-triggered: a short read drained the socket; new data raises a new event.
        if n < buf.len() {
            return Ok(done);
        }
    }
}
