//! A wsx server for the `scale` part of `make bench`: it holds whatever
//! connections arrive (answering pings, as every wsx connection does),
//! counts them, and reports its heap (counting allocator) and RSS.
//!
//! ```text
//! scale_server [--port P] [--max-connections N] [--reuse-port]
//! ```
//!
//! Prints `listening on HOST:PORT` once bound. Each `measure` line on stdin
//! is answered with one JSON line, `{"open":N,"heap":BYTES,"rss":BYTES}`;
//! the end of stdin ends the process.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wsx_core::net::{
    Close, Conn, Ctx, EventLoop, Handler, Open, Refusal, ServerConfig, ServerHandler, Upgrade,
};
use wsx_micro::counting::{Counting, LIVE};
use wsx_micro::rss_bytes;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Keeps the count of open connections.
struct Counted(Arc<AtomicUsize>);

impl Handler for Counted {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn on_close(&mut self, _conn: &Conn, _close: &Close<'_>) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Server(Arc<AtomicUsize>);

impl ServerHandler for Server {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Counted(self.0.clone())))
    }
    fn on_error(&mut self, error: &wsx_core::net::Error) {
        eprintln!("scale_server: {error}");
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    // The default limit (10,000) is below what this server is for.
    let mut config = ServerConfig {
        host: "127.0.0.1".into(),
        max_connections: 19_500,
        ..ServerConfig::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--reuse-port" => config.reuse_port = true,
            "--port" | "--max-connections" => {
                let value = args.next().ok_or(format!("{flag} needs a value"))?;
                let bad = |_| format!("{flag}: bad number {value:?}");
                if flag == "--port" {
                    config.port = value.parse().map_err(bad)?;
                } else {
                    config.max_connections = value.parse().map_err(bad)?;
                }
            }
            _ => {
                return Err(
                    "usage: scale_server [--port P] [--max-connections N] [--reuse-port]".into(),
                );
            }
        }
    }

    let open = Arc::new(AtomicUsize::new(0));
    let event_loop = EventLoop::new().map_err(|e| e.to_string())?;
    let server = event_loop
        .handle()
        .listen(config, Box::new(Server(open.clone())))
        .map_err(|e| e.to_string())?;
    let _thread = event_loop.spawn().map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let say = |out: &mut std::io::StdoutLock<'_>, line: String| {
        writeln!(out, "{line}").and_then(|()| out.flush())
    };
    say(&mut out, format!("listening on {}", server.local_addr())).map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim() != "measure" {
            return Err(format!("unknown command {line:?}"));
        }
        let report = format!(
            "{{\"open\":{},\"heap\":{},\"rss\":{}}}",
            open.load(Ordering::Relaxed),
            LIVE.load(Ordering::Relaxed),
            rss_bytes()
        );
        say(&mut out, report).map_err(|e| e.to_string())?;
    }
    // Leaving tears the connections down with the process: faster than
    // 19,000 close handshakes, and nothing measures them.
    std::process::exit(0)
}
