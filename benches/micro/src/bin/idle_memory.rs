//! Memory per idle connection: runs a wsx echo server in this process with a
//! counting allocator, has a child load generator open N idle connections to
//! it, and prints one JSON line with heap bytes and RSS bytes per connection.
//!
//! ```text
//! idle_memory --loadgen PATH [--conns N] [--echo-first 1]
//! ```
//!
//! With `--echo-first 1` every connection echoes one 20-byte message before
//! it idles: what a connection that has been used keeps.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wsx_core::net::{Ctx, EventLoop, Handler, Open, Refusal, ServerConfig, ServerHandler, Upgrade};
use wsx_core::proto::MessageKind;

use wsx_micro::counting::{Counting, LIVE};
use wsx_micro::rss_bytes;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Echoes, and counts open connections.
struct Echo(Arc<AtomicUsize>);

impl Handler for Echo {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        let _ = ctx.send(kind, data);
    }
}

struct Server(Arc<AtomicUsize>);

impl ServerHandler for Server {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Echo(self.0.clone())))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idle_memory: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let (mut loadgen, mut conns, mut echo_first) = (None, 10_000usize, false);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--loadgen", Some(path)) => loadgen = Some(path),
            ("--conns", Some(n)) => conns = n.parse().map_err(|_| format!("bad --conns {n:?}"))?,
            ("--echo-first", Some(v)) => echo_first = v != "0",
            _ => {
                return Err(
                    "usage: idle_memory --loadgen PATH [--conns N] [--echo-first 1]".into(),
                );
            }
        }
    }
    let loadgen = loadgen.ok_or("--loadgen is required")?;

    let opened = Arc::new(AtomicUsize::new(0));
    let event_loop = EventLoop::new().map_err(|e| e.to_string())?;
    let handle = event_loop.handle();
    let config = ServerConfig {
        max_connections: conns + 16,
        max_pending_handshakes: conns + 16,
        ..ServerConfig::default()
    };
    let server = handle
        .listen(config, Box::new(Server(opened.clone())))
        .map_err(|e| e.to_string())?;
    let addr = server.local_addr();
    let thread = event_loop.spawn().map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(200));
    let (heap0, rss0) = (LIVE.load(Ordering::Relaxed), rss_bytes());

    let mut child = Command::new(&loadgen)
        .args([
            "--target",
            &format!("ws://{addr}/"),
            "--idle",
            &conns.to_string(),
        ])
        .args(["--idle-echo", if echo_first { "1" } else { "0" }])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {loadgen}: {e}"))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while opened.load(Ordering::Relaxed) < conns && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the loop finish any bookkeeping of the last handshakes.
    std::thread::sleep(Duration::from_millis(300));
    let open = opened.load(Ordering::Relaxed);
    let (heap1, rss1) = (LIVE.load(Ordering::Relaxed), rss_bytes());

    drop(child.stdin.take());
    let _ = child.wait();
    drop(thread);
    if open < conns || !line.starts_with("ready") {
        return Err(format!(
            "only {open} of {conns} connections opened ({line:?})"
        ));
    }
    let per = |a: usize, b: usize| b.saturating_sub(a) as f64 / open as f64;
    println!(
        "{{\"conns\":{open},\"echo_first\":{echo_first},\"heap_per_conn\":{:.0},\"rss_per_conn\":{:.0},\"heap_total\":{},\"rss_total\":{}}}",
        per(heap0, heap1),
        per(rss0, rss1),
        heap1,
        rss1
    );
    Ok(())
}
