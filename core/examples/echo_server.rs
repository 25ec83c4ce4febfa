//! An echo server: answers every message with the same message and type, and
//! a close with the same code. Prints `listening on HOST:PORT` once bound;
//! shuts down gracefully on SIGINT/SIGTERM (Ctrl-C on Windows).
//!
//! ```text
//! cargo run --release -p wsx-core --example echo_server -- --port 9001 [--host ::1] \
//!     [--tls-cert cert.pem --tls-key key.pem] [--deflate] [--loops N]
//! ```
//!
//! `--deflate` accepts permessage-deflate when a client offers it.
//! `--loops N` spreads the connections over N event loops (threads).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use wsx_core::net::{
    Ctx, EventLoop, Handler, LoopHandle, Refusal, ServerConfig, ServerHandler, TlsServerConfig,
    Upgrade,
};
use wsx_core::proto::{CloseCode, MessageKind};

/// How long connections get to finish their close handshakes on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        if let Err(e) = ctx.send(kind, data) {
            eprintln!("echo_server: cannot echo: {e}");
            let _ = ctx.close(CloseCode::INTERNAL_ERROR, "cannot echo");
        }
    }
}

struct Server {
    handle: LoopHandle,
}

impl ServerHandler for Server {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Echo))
    }
    fn on_error(&mut self, error: &wsx_core::net::Error) {
        eprintln!("echo_server: {error}");
    }
    fn on_shutdown(&mut self) {
        self.handle.stop();
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("echo_server: {problem}");
    eprintln!(
        "usage: echo_server --port P [--host H] [--tls-cert FILE --tls-key FILE] [--deflate] [--loops N]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut config = ServerConfig::default();
    let (mut cert, mut key, mut port) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--deflate" {
            config.compression = Some(Default::default());
            continue;
        }
        let Some(value) = args.next() else {
            return usage(&format!("{flag} needs a value"));
        };
        match flag.as_str() {
            "--port" => match value.parse::<u16>() {
                Ok(p) => port = Some(p),
                Err(_) => return usage(&format!("bad port {value:?}")),
            },
            "--host" => config.host = value,
            "--loops" => match value.parse::<usize>() {
                Ok(n) => config.loops = n,
                Err(_) => return usage(&format!("bad loop count {value:?}")),
            },
            "--tls-cert" => cert = Some(value.into()),
            "--tls-key" => key = Some(value.into()),
            _ => return usage(&format!("unknown option {flag:?}")),
        }
    }
    let Some(port) = port else {
        return usage("--port is required");
    };
    config.port = port;
    config.tls = match (cert, key) {
        (Some(cert_file), Some(key_file)) => Some(TlsServerConfig {
            cert_file,
            key_file,
            client_auth: None,
        }),
        (None, None) => None,
        _ => return usage("--tls-cert and --tls-key go together"),
    };

    let mut event_loop = match EventLoop::new() {
        Ok(event_loop) => event_loop,
        Err(e) => return fail(&e),
    };
    let handle = event_loop.handle();
    let server = match handle.listen(
        config,
        Box::new(Server {
            handle: handle.clone(),
        }),
    ) {
        Ok(server) => server,
        Err(e) => return fail(&e),
    };
    println!("listening on {}", server.local_addr());
    let _ = std::io::stdout().flush();

    if let Err(e) = ctrlc::set_handler(move || server.shutdown(SHUTDOWN_GRACE)) {
        eprintln!("echo_server: cannot handle signals: {e}");
        return ExitCode::FAILURE;
    }
    match event_loop.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &wsx_core::net::Error) -> ExitCode {
    eprintln!("echo_server: {error}");
    ExitCode::FAILURE
}
