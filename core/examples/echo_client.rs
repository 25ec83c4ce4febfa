//! An echo client: connects to a URL, sends every message it receives back
//! with the same type, and exits when the peer closes: 0 after a clean close,
//! 1 otherwise. Useful to test servers.
//!
//! ```text
//! cargo run -p wsx-core --example echo_client -- ws://127.0.0.1:9001/ [--ca ca.pem] [--insecure] \
//!     [--subprotocol NAME]...
//! ```

use std::process::ExitCode;
use std::sync::mpsc::{Sender, channel};

use wsx_core::net::{ClientConfig, Close, Conn, Ctx, Error, EventLoop, Handler, LoopHandle, Open};
use wsx_core::proto::{CloseCode, MessageKind};

struct EchoBack {
    handle: LoopHandle,
    clean: Sender<bool>,
}

impl Handler for EchoBack {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, open: &Open<'_>) {
        eprintln!("echo_client: open (subprotocol {:?})", open.subprotocol);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        if let Err(e) = ctx.send(kind, data) {
            eprintln!("echo_client: cannot echo: {e}");
            let _ = ctx.close(CloseCode::INTERNAL_ERROR, "cannot echo");
        }
    }
    fn on_error(&mut self, _conn: &Conn, error: &Error) {
        eprintln!("echo_client: {error}");
    }
    fn on_close(&mut self, _conn: &Conn, close: &Close<'_>) {
        eprintln!(
            "echo_client: closed {} {:?} clean={}",
            close.code.0, close.reason, close.clean
        );
        let _ = self.clean.send(close.clean);
        self.handle.stop();
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("echo_client: {problem}");
    eprintln!("usage: echo_client URL [--ca FILE] [--insecure] [--subprotocol NAME]...");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        return usage("a URL is required");
    };
    let mut config = ClientConfig::default();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--insecure" => config.tls.danger_disable_verification = true,
            "--ca" | "--subprotocol" => {
                let Some(value) = args.next() else {
                    return usage(&format!("{flag} needs a value"));
                };
                if flag == "--ca" {
                    config.tls.ca_file = Some(value.into());
                } else {
                    config.subprotocols.push(value);
                }
            }
            _ => return usage(&format!("unknown option {flag:?}")),
        }
    }
    let mut event_loop = match EventLoop::new() {
        Ok(event_loop) => event_loop,
        Err(e) => return fail(&e),
    };
    let handle = event_loop.handle();
    let (clean, outcome) = channel();
    if let Err(e) = handle.connect(
        &url,
        config,
        Box::new(EchoBack {
            handle: handle.clone(),
            clean,
        }),
    ) {
        return fail(&e);
    }
    if let Err(e) = event_loop.run() {
        return fail(&e);
    }
    match outcome.try_recv() {
        Ok(true) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

fn fail(error: &Error) -> ExitCode {
    eprintln!("echo_client: {error}");
    ExitCode::FAILURE
}
