//! The clients of the `scale` part of `make bench`, in two modes.
//!
//! ```text
//! scale_client --target HOST:PORT --source 127.0.0.2 --hold N [--window K]
//! scale_client --target HOST:PORT --source 127.0.0.2[,127.0.0.3...] --rate
//!              [--window K] [--warmup SECS] [--duration SECS]
//! ```
//!
//! `--hold N` opens N WebSocket connections from the source address, K
//! dials in flight (default 64), says `{"open":N,"failed":F}` once each has
//! opened or failed, and holds them, answering the server's pings. Each
//! `ping` line on stdin sends one ping on every open connection and says
//! `{"pinged":N,"answered":A,"open":O,"lost":L}` once every one answered (or after
//! 30 s); the end of stdin resets every connection and ends the process.
//!
//! `--rate` keeps K dials in flight (default 32), each connection reset as
//! soon as its handshake completes (no TIME_WAIT), the source addresses
//! taken in turn, and prints one JSON line: handshakes completed per second
//! over the measured window, and in all (warm-up included).

mod dial;

use std::io::{self, BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};

use dial::Conn;

/// How long the pongs of one round of pings may take.
const PING_WAIT: Duration = Duration::from_secs(30);
/// The token of the stdin thread's wake-ups.
const STDIN: Token = Token(usize::MAX);

struct Options {
    target: SocketAddr,
    sources: Vec<IpAddr>,
    hold: Option<usize>,
    window: Option<usize>,
    warmup: Duration,
    duration: Duration,
}

const USAGE: &str = "usage: scale_client --target HOST:PORT --source IP[,IP...] \
(--hold N | --rate [--warmup SECS] [--duration SECS]) [--window K]";

fn parse() -> Result<Options, String> {
    let (mut target, mut sources, mut rate) = (None, Vec::new(), false);
    let mut opts = Options {
        target: SocketAddr::from(([127, 0, 0, 1], 0)),
        sources: Vec::new(),
        hold: None,
        window: None,
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(3),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--rate" {
            rate = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value:?}: {e}");
        let secs = |v: &str| {
            v.parse::<f64>()
                .map_err(|e| bad(&e))
                .and_then(|s| Duration::try_from_secs_f64(s).map_err(|e| bad(&e)))
        };
        match flag.as_str() {
            "--target" => target = Some(value.parse().map_err(|e| bad(&e))?),
            "--source" => {
                for ip in value.split(',') {
                    sources.push(ip.parse().map_err(|e| bad(&e))?);
                }
            }
            "--hold" => opts.hold = Some(value.parse().map_err(|e| bad(&e))?),
            "--window" => opts.window = Some(value.parse().map_err(|e| bad(&e))?),
            "--warmup" => opts.warmup = secs(&value)?,
            "--duration" => opts.duration = secs(&value)?,
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    opts.target = target.ok_or("--target is required")?;
    if sources.is_empty() || rate == opts.hold.is_some() || opts.window == Some(0) {
        return Err(
            "one --source at least, one of --hold and --rate, a window of 1 or more".into(),
        );
    }
    opts.sources = sources;
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse() {
        Ok(opts) => opts,
        Err(problem) => {
            eprintln!("scale_client: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match opts.hold {
        Some(n) => hold(&opts, n),
        None => rate(&opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale_client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints one line at once (the runner waits for it).
fn say(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Starts a dial and registers it under `token`.
fn dial(poll: &Poll, target: SocketAddr, source: IpAddr, token: Token) -> io::Result<Conn> {
    let mut conn = Conn::dial(target, source)?;
    poll.registry().register(
        conn.stream(),
        token,
        Interest::READABLE | Interest::WRITABLE,
    )?;
    Ok(conn)
}

/// The stdin lines, as they come, then `None` at its end, each waking the
/// poll.
struct Commands {
    lines: mpsc::Receiver<Option<String>>,
    /// Kept here as well as by the reading thread: when that thread ends at
    /// the end of stdin, its waker must stay open until the poll has seen
    /// the wake (closing the eventfd would take the pending event with it).
    _waker: Arc<Waker>,
}

fn stdin_lines(poll: &Poll) -> io::Result<Commands> {
    let waker = Arc::new(Waker::new(poll.registry(), STDIN)?);
    let (tx, lines) = mpsc::channel();
    let wake = Arc::clone(&waker);
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() || wake.wake().is_err() {
                return;
            }
        }
        let _ = tx.send(None);
        let _ = wake.wake();
    });
    Ok(Commands {
        lines,
        _waker: waker,
    })
}

/// What a holding client counts.
#[derive(Default)]
struct Held {
    dialed: usize,
    in_flight: usize,
    open: usize,
    failed: usize,
    /// Open connections that closed since.
    lost: usize,
    /// The round of pings under way: when it gives up, how many were sent,
    /// how many answered.
    pinging: Option<(Instant, usize, usize)>,
    first_error: Option<String>,
}

impl Held {
    fn error(&mut self, e: &io::Error) {
        self.first_error.get_or_insert_with(|| e.to_string());
    }
}

fn hold(opts: &Options, n: usize) -> io::Result<()> {
    let window = opts.window.unwrap_or(64);
    let source = opts.sources[0];
    let mut poll = Poll::new()?;
    let commands = stdin_lines(&poll)?;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 << 10];
    let mut conns: Vec<Option<Conn>> = Vec::with_capacity(n);
    let mut held = Held::default();
    let mut announced = false;
    loop {
        while held.dialed < n && held.in_flight < window {
            match dial(&poll, opts.target, source, Token(held.dialed)) {
                Ok(conn) => {
                    conns.push(Some(conn));
                    held.in_flight += 1;
                }
                Err(e) => {
                    held.error(&e);
                    conns.push(None);
                    held.failed += 1;
                }
            }
            held.dialed += 1;
        }
        if !announced && held.open + held.failed == n {
            announced = true;
            if let Some(e) = &held.first_error {
                eprintln!(
                    "scale_client: {} of {n} failed, the first: {e}",
                    held.failed
                );
            }
            say(&format!(
                "{{\"open\":{},\"failed\":{}}}",
                held.open, held.failed
            ))?;
        }
        if let Some((until, pinged, answered)) = held.pinging
            && (answered == pinged || Instant::now() >= until)
        {
            held.pinging = None;
            say(&format!(
                "{{\"pinged\":{pinged},\"answered\":{answered},\"open\":{},\"lost\":{}}}",
                held.open, held.lost
            ))?;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for event in &events {
            if event.token() == STDIN {
                for command in commands.lines.try_iter() {
                    match command.as_deref() {
                        Some("ping") => held.pinging = Some(ping_all(&mut conns, &mut held)),
                        Some(other) => {
                            return Err(io::Error::other(format!("unknown command {other:?}")));
                        }
                        None => {
                            // Resets, not closes: no TIME_WAIT left behind.
                            conns.into_iter().flatten().for_each(Conn::abort);
                            return Ok(());
                        }
                    }
                }
                continue;
            }
            let slot = &mut conns[event.token().0];
            let Some(conn) = slot else { continue };
            let (was_open, had_pong) = (conn.is_open(), conn.pongs > 0);
            match conn.advance(&mut buf) {
                Ok(()) => {
                    if !was_open && conn.is_open() {
                        held.open += 1;
                        held.in_flight -= 1;
                    }
                    if !had_pong
                        && conn.pongs > 0
                        && let Some((_, _, answered)) = &mut held.pinging
                    {
                        *answered += 1;
                    }
                }
                Err(e) => {
                    held.error(&e);
                    *slot = None;
                    if was_open {
                        held.open -= 1;
                        held.lost += 1;
                    } else {
                        held.in_flight -= 1;
                        held.failed += 1;
                    }
                }
            }
        }
    }
}

/// Sends one ping on every open connection: the round's deadline, how many
/// were sent, none answered yet.
fn ping_all(conns: &mut [Option<Conn>], held: &mut Held) -> (Instant, usize, usize) {
    let mut pinged = 0;
    for conn in conns.iter_mut().flatten().filter(|c| c.is_open()) {
        conn.pongs = 0;
        match conn.ping() {
            Ok(()) => pinged += 1,
            Err(e) => held.error(&e),
        }
    }
    (Instant::now() + PING_WAIT, pinged, 0)
}

fn rate(opts: &Options) -> io::Result<()> {
    let window = opts.window.unwrap_or(32);
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 << 10];
    let sources = &opts.sources;
    let mut dials = 0usize;
    let mut next = |poll: &Poll, slot: usize| {
        dials += 1;
        dial(
            poll,
            opts.target,
            sources[dials % sources.len()],
            Token(slot),
        )
    };
    let mut slots = (0..window)
        .map(|slot| next(&poll, slot))
        .collect::<io::Result<Vec<_>>>()?;
    let begin = Instant::now();
    let (window_start, end) = (begin + opts.warmup, begin + opts.warmup + opts.duration);
    let (mut measured, mut total, mut failed) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        poll.poll(&mut events, Some(end - now))?;
        for event in &events {
            let slot = event.token().0;
            match slots[slot].advance(&mut buf) {
                Ok(()) if slots[slot].is_open() => {
                    total += 1;
                    if Instant::now() >= window_start {
                        measured += 1;
                    }
                }
                Ok(()) => continue,
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                }
            }
            // Spurious events for the old socket are harmless to the new one.
            std::mem::replace(&mut slots[slot], next(&poll, slot)?).abort();
        }
    }
    if let Some(e) = first_error {
        eprintln!("scale_client: {failed} dials failed, the first: {e}");
    }
    let secs = end.duration_since(window_start).as_secs_f64();
    say(&format!(
        "{{\"per_s\":{:.1},\"measured\":{measured},\"total\":{total},\"failed\":{failed},\"window\":{window}}}",
        measured as f64 / secs
    ))
}
