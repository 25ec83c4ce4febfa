//! A wsx echo server run in-process on its own loop thread, with counters of
//! what happened to its connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wsx_core::net::{
    Close, Conn, Ctx, Error, EventLoop, Handler, LoopThread, Refusal, Server, ServerConfig,
    ServerHandler, Upgrade,
};
use wsx_core::proto::MessageKind;

use crate::peer::{Ending, RawPeer, op};

/// What the server's connections went through.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections opened (handshake done).
    pub opened: AtomicUsize,
    /// Connections closed (close event delivered).
    pub closed: AtomicUsize,
    /// Messages received.
    pub messages: AtomicUsize,
    /// The close codes of the close events, in order.
    pub codes: Mutex<Vec<u16>>,
    /// The connections open now.
    pub conns: Mutex<Vec<Conn>>,
}

/// An in-process echo server. Dropping it stops its loop.
pub struct TestServer {
    /// What its connections went through.
    pub stats: Arc<Stats>,
    /// The listening server.
    pub server: Server,
    // Dropped last: stops and joins the loop.
    _thread: LoopThread,
}

impl TestServer {
    /// Starts an echo server on 127.0.0.1, a free port, with `config`
    /// (its host and port are overridden). With `echo` off it reads and
    /// counts messages but sends nothing back.
    pub fn start(config: ServerConfig, echo: bool) -> TestServer {
        let stats = Arc::new(Stats::default());
        let thread = EventLoop::new().expect("loop").spawn().expect("thread");
        let config = ServerConfig {
            host: "127.0.0.1".to_owned(),
            port: 0,
            ..config
        };
        let handler = Box::new(Accepter {
            stats: stats.clone(),
            echo,
        });
        let server = thread.handle().listen(config, handler).expect("listen");
        TestServer {
            stats,
            server,
            _thread: thread,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Connections opened so far (handshakes the application saw).
    pub fn opened(&self) -> usize {
        self.stats.opened.load(Ordering::Acquire)
    }

    /// Checks a well-behaved client is served: the handshake, the echo of a
    /// text message, and a clean close (1000). Panics otherwise.
    pub fn assert_serves(&self) {
        let mut p = RawPeer::connect(self.addr(), Duration::from_secs(20))
            .expect("a well-behaved client is served");
        let text = "still here \u{2713}".as_bytes();
        assert_eq!(p.echo(op::TEXT, text).expect("an echo"), text);
        p.close(1000).expect("a close frame");
        assert_eq!(p.ending().expect("the close"), Ending::Close(1000));
    }

    /// The close code of the `n`th close event (from 0), waiting up to
    /// `patience` for it.
    pub fn close_code(&self, n: usize, patience: Duration) -> Option<u16> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            if let Some(&code) = self.stats.codes.lock().expect("codes").get(n) {
                return Some(code);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits up to `patience` until `count` reaches `n`; returns whether it did.
    pub fn wait_for(&self, count: &AtomicUsize, n: usize, patience: Duration) -> bool {
        let deadline = std::time::Instant::now() + patience;
        while count.load(Ordering::Acquire) < n {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

struct Accepter {
    stats: Arc<Stats>,
    echo: bool,
}

impl ServerHandler for Accepter {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Echo {
            stats: self.stats.clone(),
            echo: self.echo,
        }))
    }
}

struct Echo {
    stats: Arc<Stats>,
    echo: bool,
}

impl Handler for Echo {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, _open: &wsx_core::net::Open<'_>) {
        self.stats
            .conns
            .lock()
            .expect("conns")
            .push(ctx.conn().clone());
        self.stats.opened.fetch_add(1, Ordering::AcqRel);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        self.stats.messages.fetch_add(1, Ordering::AcqRel);
        if self.echo {
            // Past the high-water mark the echo is dropped: the peer is not
            // reading, and the test measures that memory stays bounded.
            let _ = ctx.send(kind, data);
        }
    }
    fn on_error(&mut self, _conn: &Conn, _error: &Error) {}
    fn on_close(&mut self, conn: &Conn, close: &Close<'_>) {
        self.stats
            .conns
            .lock()
            .expect("conns")
            .retain(|c| c.id() != conn.id());
        self.stats.codes.lock().expect("codes").push(close.code.0);
        self.stats.closed.fetch_add(1, Ordering::AcqRel);
    }
}
