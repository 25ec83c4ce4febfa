//! A fixed echo workload for instruction counts (callgrind): one loop in
//! poll mode runs an echo server and a client that sends N messages of 64
//! bytes one after another, each after the previous echo.
//!
//! ```text
//! valgrind --tool=callgrind target/release/examples/echo_rounds 5000
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wsx_core::net::{
    ClientConfig, Ctx, EventLoop, Handler, Open, Refusal, ServerConfig, ServerHandler, Upgrade,
};
use wsx_core::proto::{CloseCode, MessageKind};

struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        let _ = ctx.send(kind, data);
    }
}

struct Server;

impl ServerHandler for Server {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Echo))
    }
}

struct Client {
    left: u32,
    done: Arc<AtomicBool>,
}

impl Handler for Client {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        let _ = ctx.send(MessageKind::Binary, &[7u8; 64]);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        self.left -= 1;
        if self.left == 0 {
            let _ = ctx.close(CloseCode::NORMAL, "");
        } else {
            let _ = ctx.send(kind, data);
        }
    }
    fn on_close(&mut self, _conn: &wsx_core::net::Conn, _close: &wsx_core::net::Close<'_>) {
        self.done.store(true, Ordering::Release);
    }
}

fn main() {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let mut lp = EventLoop::new().expect("loop");
    let server = lp
        .handle()
        .listen(
            ServerConfig {
                keepalive: None,
                ..ServerConfig::default()
            },
            Box::new(Server),
        )
        .expect("listen");
    let done = Arc::new(AtomicBool::new(false));
    let url = format!("ws://{}/", server.local_addr());
    let config = ClientConfig {
        keepalive: None,
        ..ClientConfig::default()
    };
    let client = Client {
        left: rounds,
        done: done.clone(),
    };
    lp.handle()
        .connect(&url, config, Box::new(client))
        .expect("connect");
    while !done.load(Ordering::Acquire) {
        lp.poll(None).expect("poll");
    }
    println!("{rounds} round trips");
}
