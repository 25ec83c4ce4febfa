//! A loop's queue of work, shared with every handle: new connections and
//! servers (with their handlers) and the commands of those already running,
//! in the order they were asked for, plus the waker and the stop flag.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::cluster::BrokerRequest;
use super::config::{ClientConfig, ServerConfig};
use super::error::{Error, ErrorKind};
use super::handler::{Handler, ServerHandler};
use super::shared::{Command, ConnShared, LoopLink, ServerShared};
use super::stats::Live;
use super::telemetry::{Counters, LoopTelemetry};
use super::tls::ClientTls;
use crate::proto::WsUrl;
use crate::proto::handshake::ClientHandshake;

/// Work handed to the loop, in order.
pub(super) enum Work {
    /// Start a client connection.
    Connect(Box<ConnectRequest>),
    /// Start accepting on a bound listener.
    Listen(Box<ListenRequest>),
    /// A command for a connection or server already in the loop.
    Command(Command),
}

/// What [`Work::Connect`] carries.
pub(super) struct ConnectRequest {
    pub conn: Arc<ConnShared>,
    pub url: WsUrl,
    pub config: ClientConfig,
    pub tls: Option<ClientTls>,
    pub handshake: ClientHandshake,
    pub handler: Box<dyn Handler>,
}

/// What [`Work::Listen`] carries.
pub(super) struct ListenRequest {
    pub server: Arc<ServerShared>,
    /// Its socket; `None` on a loop that gets its connections from loop 0
    /// ([`super::Balance::RoundRobin`]).
    pub listener: Option<super::listener::Listener>,
    /// Which of the server's loops this is (0: its home).
    pub part: usize,
    /// On the home loop of a server spread over several loops, the
    /// threads of the others.
    pub workers: Vec<super::worker::Worker>,
    pub config: ServerConfig,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub handler: Box<dyn ServerHandler>,
    /// The link to the cluster's broker, for a clustered server.
    pub broker: Option<BrokerRequest>,
}

thread_local! {
    /// The loop being polled on this thread (its shared state's address), so
    /// calls from callbacks skip the wake-up.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// The part of a loop every handle holds: its queue of work, waker and flags.
pub(super) struct LoopShared {
    queue: Mutex<VecDeque<Work>>,
    waker: mio::Waker,
    /// Also told of every wake-up: a loop that may have nobody polling it
    /// ([`super::DrivenLoop`]) starts its background driver here.
    on_wake: OnceLock<Box<dyn Fn() + Send + Sync>>,
    stop: AtomicBool,
    /// Set when the loop is dropped: nothing queued from then on runs.
    gone: AtomicBool,
    /// The source of ids, shared by the loops of a server spread over
    /// several, so that its connections' ids are unique among them all.
    ids: Arc<AtomicU64>,
    /// The loop's telemetry: its clients' counters (written by the loop's
    /// thread only) and its servers'.
    pub telemetry: LoopTelemetry,
    _live: Live,
}

impl LoopShared {
    pub fn new(waker: mio::Waker, ids: Arc<AtomicU64>) -> LoopShared {
        LoopShared {
            queue: Mutex::new(VecDeque::new()),
            waker,
            on_wake: OnceLock::new(),
            stop: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            ids,
            telemetry: LoopTelemetry::default(),
            _live: Live::event_loop(),
        }
    }

    /// A number unique within this loop (and the loops sharing its ids).
    pub fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The loop's source of ids, for a loop that shares it.
    pub fn ids(&self) -> Arc<AtomicU64> {
        self.ids.clone()
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Work>> {
        // A panic while holding the lock cannot leave the queue inconsistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a command and wakes the loop, unless this is the loop's own
    /// thread (which drains the queue before it blocks again) or the queue
    /// already held commands (whoever queued the first woke the loop, which
    /// takes them all at once). Fails once the loop is gone.
    pub fn push(&self, work: Work) -> Result<(), Error> {
        if self.gone.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::Closed, "the event loop has stopped"));
        }
        let was_empty = {
            let mut queue = self.lock();
            queue.push_back(work);
            queue.len() == 1
        };
        if was_empty && !self.on_loop_thread() {
            self.wake();
        }
        Ok(())
    }

    /// Takes everything queued so far.
    pub fn take(&self) -> VecDeque<Work> {
        std::mem::take(&mut *self.lock())
    }

    pub fn has_commands(&self) -> bool {
        !self.lock().is_empty()
    }

    pub fn wake(&self) {
        // A failed wake-up can only mean the poller is gone, and then so is the loop.
        let _ = self.waker.wake();
        if let Some(on_wake) = self.on_wake.get() {
            on_wake();
        }
    }

    /// Sets what [`wake`](Self::wake) also calls (once; later calls are ignored).
    pub fn set_on_wake(&self, f: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_wake.set(Box::new(f));
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        if !self.on_loop_thread() {
            self.wake();
        }
    }

    /// Whether a stop was asked for, clearing the request.
    pub fn take_stop(&self) -> bool {
        self.stop.swap(false, Ordering::AcqRel)
    }

    /// Refuses all further commands and returns those still queued.
    pub fn set_gone(&self) -> VecDeque<Work> {
        let mut queue = self.lock();
        self.gone.store(true, Ordering::Release);
        std::mem::take(&mut *queue)
    }

    /// Whether the loop is being dropped (or was).
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }

    fn on_loop_thread(&self) -> bool {
        CURRENT.with(|c| c.get() == self as *const LoopShared as usize)
    }

    /// Marks this thread as polling the loop until the guard drops.
    pub fn enter(&self) -> EnterGuard {
        let previous = CURRENT.with(|c| c.replace(self as *const LoopShared as usize));
        EnterGuard { previous }
    }
}

/// Restores the thread's previous loop marker.
pub(super) struct EnterGuard {
    previous: usize,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

impl LoopLink for LoopShared {
    fn counters(&self) -> &Counters {
        &self.telemetry.own
    }

    fn push(&self, command: Command) -> Result<(), Error> {
        LoopShared::push(self, Work::Command(command))
    }
}
