//! A server spread over several event loops (`ServerConfig::loops`), with
//! either balance: connections land on every loop (each loop's figures,
//! and the thread each connection's handler runs on, say so), a
//! publication reaches the subscribers on every loop exactly once, and
//! shutting down (a drain, or the loop stopping) closes every connection,
//! runs `on_shutdown` once, joins the server's threads and frees the port.
//! One test at a time (the file's `serial`): each counts the process's
//! loop threads.

use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use super::net_util::*;
use super::serial;
use wsx_core::net::{
    Balance, Conn, Ctx, Handler, Open, Refusal, Server, ServerConfig, ServerHandler, Upgrade,
};
use wsx_core::proto::MessageKind;

/// What the server saw.
#[derive(Debug, PartialEq)]
enum Seen {
    /// A connection opened, its handler running on this thread.
    Open(String),
    Shutdown,
}

/// Connections that subscribe to "all" and echo.
struct Hub {
    tx: Sender<Seen>,
}

struct Member {
    tx: Sender<Seen>,
}

impl ServerHandler for Hub {
    fn on_upgrade(&mut self, _upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Member {
            tx: self.tx.clone(),
        }))
    }
    fn on_shutdown(&mut self) {
        let _ = self.tx.send(Seen::Shutdown);
    }
}

impl Handler for Member {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, _open: &Open<'_>) {
        ctx.subscribe("all").expect("subscribe");
        let thread = std::thread::current().name().unwrap_or("?").to_owned();
        let _ = self.tx.send(Seen::Open(thread));
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        let _ = ctx.conn().send(kind, data);
    }
}

/// The names of this process's threads that run a server's extra loops.
fn extra_loop_threads() -> BTreeSet<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return BTreeSet::new(); // not Linux: nothing to count
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| name.starts_with("wsx-loop-"))
        .collect()
}

struct Spread {
    /// The server's loop (loop 0).
    lp: wsx_core::net::LoopThread,
    /// The clients' loop.
    clients_lp: wsx_core::net::LoopThread,
    server: Server,
    seen: Receiver<Seen>,
    clients: Vec<(Conn, Events)>,
    threads: BTreeSet<String>,
}

/// A server on two loops with `balance`, and clients connected until both
/// loops hold one (round-robin: two; the kernel's hash: a few).
fn spread(balance: Balance) -> Spread {
    spread_with(ServerConfig {
        loops: 2,
        balance,
        ..server_config()
    })
}

fn spread_with(config: ServerConfig) -> Spread {
    let balance = config.balance;
    let lp = spawn_loop();
    let (tx, seen) = channel();
    let server = lp
        .handle()
        .listen(config, Box::new(Hub { tx }))
        .expect("listen");
    let url = format!("ws://{}/", server.local_addr());
    let clients_lp = spawn_loop();
    let mut clients = Vec::new();
    let mut threads = BTreeSet::new();
    while threads.len() < 2 {
        assert!(
            clients.len() < 64,
            "64 connections all landed on {threads:?}"
        );
        clients.push(connect(clients_lp.handle(), &url, client_config()));
        match seen.recv_timeout(PATIENCE).expect("the server's open") {
            Seen::Open(thread) => threads.insert(thread),
            other => panic!("expected an open, got {other:?}"),
        };
    }
    assert_eq!(
        threads,
        BTreeSet::from(["wsx-loop".into(), "wsx-loop-1".into()])
    );
    if balance == Balance::RoundRobin {
        assert_eq!(clients.len(), 2, "round-robin alternates");
    }
    Spread {
        lp,
        clients_lp,
        server,
        seen,
        clients,
        threads,
    }
}

impl Spread {
    /// Each loop's figures show its connections; the server's add them up.
    fn check_figures(&self) {
        let per_loop = self.server.loop_metrics();
        assert_eq!(per_loop.len(), 2);
        assert!(
            per_loop.iter().all(|m| m.connections_open > 0),
            "{per_loop:?}"
        );
        let open: u64 = per_loop.iter().map(|m| m.connections_open).sum();
        assert_eq!(open, self.clients.len() as u64);
        assert_eq!(self.server.metrics().connections_open, open);
        assert_eq!(self.server.subscribers("all"), self.clients.len());
    }

    /// Echo works on every connection, and one publication reaches each
    /// subscriber once: the echo of a probe sent after it comes next.
    fn check_echo_and_publish(&self) {
        for (conn, events) in &self.clients {
            conn.send(MessageKind::Text, b"hello").expect("send");
            assert_eq!(events.message(), (MessageKind::Text, b"hello".to_vec()));
        }
        let reached = self
            .server
            .publish("all", MessageKind::Text, b"news")
            .expect("publish");
        assert_eq!(reached, self.clients.len());
        for (conn, events) in &self.clients {
            assert_eq!(events.message(), (MessageKind::Text, b"news".to_vec()));
            conn.send(MessageKind::Text, b"probe").expect("send");
            assert_eq!(events.message(), (MessageKind::Text, b"probe".to_vec()));
        }
        let out: u64 = self
            .server
            .loop_metrics()
            .iter()
            .map(|m| m.messages_out)
            .sum();
        // hello, news and probe, once each per connection.
        assert_eq!(out, 3 * self.clients.len() as u64);
    }

    /// Like [`Spread::check_gone`], past `opens` more open events.
    fn check_gone_after_opens(&self, opens: usize) {
        for _ in 0..opens {
            let seen = self.seen.recv_timeout(PATIENCE);
            assert!(matches!(seen, Ok(Seen::Open(_))), "{seen:?}");
        }
        self.check_gone();
    }

    /// `on_shutdown` ran once, the extra loop's thread is gone and the port
    /// is free.
    fn check_gone(&self) {
        assert_eq!(self.seen.recv_timeout(PATIENCE), Ok(Seen::Shutdown));
        assert!(self.seen.recv_timeout(Duration::from_millis(100)).is_err());
        assert!(
            extra_loop_threads().is_empty(),
            "{:?}",
            extra_loop_threads()
        );
        std::net::TcpListener::bind(self.server.local_addr()).expect("the port is free");
    }
}

#[test]
fn the_kernel_balance_spreads_publishes_once_and_drains() {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return; // SO_REUSEPORT balances on Linux only (RoundRobin is tested below)
    }
    let _serial = serial();
    let spread = spread(Balance::Kernel);
    spread.check_figures();
    spread.check_echo_and_publish();
    spread.server.shutdown(PATIENCE);
    for (_, events) in &spread.clients {
        assert_eq!(events.close().0, 1001);
    }
    spread.check_gone();
    assert_eq!(spread.threads.len(), 2);
}

#[test]
fn round_robin_spreads_publishes_once_and_stops_with_its_loop() {
    let _serial = serial();
    let Spread {
        lp,
        clients_lp,
        server,
        seen,
        clients,
        threads,
    } = spread(Balance::RoundRobin);
    let spread = Spread {
        lp: spawn_loop(),
        clients_lp,
        server,
        seen,
        clients,
        threads,
    };
    spread.check_figures();
    spread.check_echo_and_publish();
    // The server's loop stops: its connections and the other loop's drop.
    drop(lp);
    for (_, events) in &spread.clients {
        assert_eq!(events.close().0, 1006);
    }
    spread.check_gone();
}

#[test]
fn max_connections_counts_the_connections_of_every_loop() {
    let _serial = serial();
    let spread = spread_with(ServerConfig {
        loops: 2,
        balance: Balance::RoundRobin,
        max_connections: 2,
        ..server_config()
    });
    // One connection on each loop: the next (loop 0's turn) finds the
    // server full and is closed at once.
    let url = format!("ws://{}/", spread.server.local_addr());
    let (recorder, events) = Recorder::new(false);
    let _refused = spread
        .clients_lp
        .handle()
        .connect(&url, client_config(), recorder);
    let refused = events.until(|ev| match ev {
        Ev::Open { .. } => panic!("a third connection opened past max_connections 2"),
        Ev::Close(code, ..) => Some(code),
        _ => None,
    });
    assert_eq!(refused, 1006);
    // Loop 1's connection ends: the next connection (loop 1's turn) is
    // taken again.
    let (conn, events) = &spread.clients[1];
    conn.close(wsx_core::proto::CloseCode::NORMAL, "")
        .expect("close");
    events.close();
    let deadline = std::time::Instant::now() + PATIENCE;
    while spread.server.metrics().connections_open > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server still counts 2"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let (_again, _events) = connect(spread.clients_lp.handle(), &url, client_config());
    spread.server.shutdown(PATIENCE);
    spread.check_gone_after_opens(1);
}
