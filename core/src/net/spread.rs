//! A server spread over several event loops ([`ServerConfig::loops`]): the
//! loops' parts of one server, the server handler they share, and how new
//! connections reach them ([`Balance`]).
//!
//! Every loop holds a listener entry of the server (its connections, its
//! share of the limits, its drain); they share the server's
//! [`ServerShared`]: topics, the count of open connections, the figures of
//! each part. Loop 0 is the loop the server was created on, its home: it
//! owns the threads of the other loops and joins them when the server
//! leaves it, and runs the cluster's broker. A part other than the home
//! stops its loop once it has finished, and tells the home, which finishes
//! last (so the handler's `on_shutdown` runs once every loop is done).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::cluster::{ClusterGap, ClusterState};
use super::config::{Balance, ServerConfig};
use super::error::Error;
use super::handle::Conn;
use super::handler::{Handler, Refusal, ServerHandler, Upgrade};
use super::shared::{Command, LoopLink, ServerShared};
use super::topics::SlowSubscriber;

/// Whether each loop listens with a socket of its own (`SO_REUSEPORT`, the
/// kernel balancing) rather than loop 0 handing connections round-robin.
pub(super) fn kernel_balances(config: &ServerConfig) -> bool {
    match config.balance {
        Balance::Kernel => true,
        Balance::RoundRobin => false,
        Balance::Auto => super::reuse_port::BALANCES && config.unix_socket_path.is_none(),
    }
}

impl ServerShared {
    /// The loop the server was created on.
    pub fn home(&self) -> &dyn LoopLink {
        &*self.parts[0].link
    }

    /// Queues `command` on every loop of the server but the home, each
    /// getting one made by `make`. A loop already gone is skipped.
    pub fn push_to_others(&self, make: impl Fn() -> Command) {
        for part in &self.parts[1..] {
            let _ = part.link.push(make());
        }
    }

    /// A part other than the home finished: the home may finish now.
    pub fn part_done(self: &Arc<Self>) {
        let _ = self.home().push(Command::PartDone {
            server: self.clone(),
        });
    }

    /// Whether only the home's part is still running.
    pub fn others_done(&self) -> bool {
        self.running.load(Ordering::Acquire) <= 1
    }
}

/// The server handler every loop of a spread server calls, one loop at a
/// time; `on_shutdown` reaches it once, when the last part finishes.
pub(super) struct SharedHandler {
    inner: Arc<Mutex<Box<dyn ServerHandler>>>,
    server: Arc<ServerShared>,
}

impl SharedHandler {
    /// One per loop of `server`.
    pub fn split(handler: Box<dyn ServerHandler>, server: &Arc<ServerShared>) -> Vec<Self> {
        let inner = Arc::new(Mutex::new(handler));
        (0..server.parts.len())
            .map(|_| SharedHandler {
                inner: inner.clone(),
                server: server.clone(),
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Box<dyn ServerHandler>> {
        // A handler that panicked is still the application's to call.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ServerHandler for SharedHandler {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        self.lock().on_upgrade(upgrade)
    }
    fn answers_plain_http(&self) -> bool {
        self.lock().answers_plain_http()
    }
    fn on_error(&mut self, error: &Error) {
        self.lock().on_error(error);
    }
    fn on_shutdown(&mut self) {
        if self.server.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.lock().on_shutdown();
        }
    }
    fn on_slow_subscriber(&mut self, conn: &Conn, topic: &str, action: SlowSubscriber) {
        self.lock().on_slow_subscriber(conn, topic, action);
    }
    fn on_cluster_state(&mut self, state: ClusterState, detail: &str) {
        self.lock().on_cluster_state(state, detail);
    }
    fn on_cluster_gap(&mut self, gap: &ClusterGap<'_>) {
        self.lock().on_cluster_gap(gap);
    }
}
