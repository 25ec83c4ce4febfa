//! State shared between the loop and the handles other threads hold: the
//! command queue with its waker, and each connection's and server's counters.

use std::cell::Cell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use super::client::ClientTls;
use super::config::{ClientConfig, ServerConfig};
use super::handle::ConnState;
use super::handler::{Handler, ServerHandler};
use super::stats::Live;
use crate::proto::handshake::ClientHandshake;
use crate::proto::{CloseCode, MessageKind, WsUrl};

/// Work handed to the loop by handles and helper threads.
pub(super) enum Command {
    /// Start a client connection.
    Connect(Box<ConnectRequest>),
    /// Start accepting on a bound listener.
    Listen(Box<ListenRequest>),
    /// Queue a message.
    Send {
        conn: Arc<ConnShared>,
        kind: MessageKind,
        data: Vec<u8>,
        /// Compress it when permessage-deflate is on (see `Conn::send_with`).
        compress: bool,
    },
    /// Queue a ping.
    Ping {
        conn: Arc<ConnShared>,
        data: Vec<u8>,
    },
    /// Re-check a connection's queue (a send was refused: the writable event
    /// must not be missed if the queue drained meanwhile).
    Flush { conn: Arc<ConnShared> },
    /// The application resumed reading: read what the socket and the engine
    /// hold (readiness is edge-triggered, so no new event may come).
    ResumeReading { conn: Arc<ConnShared> },
    /// Start the close handshake (or abort a connection still connecting).
    Close {
        conn: Arc<ConnShared>,
        code: CloseCode,
        reason: String,
    },
    /// A name lookup finished.
    Resolved {
        conn: Arc<ConnShared>,
        result: Result<Vec<SocketAddr>, super::Error>,
    },
    /// Queue a published message on a topic's subscribers.
    Publish(Box<super::pubsub::Publish>),
    /// Gracefully shut a server down.
    Shutdown {
        server: Arc<ServerShared>,
        timeout: Duration,
    },
}

/// What [`Command::Connect`] carries.
pub(super) struct ConnectRequest {
    pub conn: Arc<ConnShared>,
    pub url: WsUrl,
    pub config: ClientConfig,
    pub tls: Option<ClientTls>,
    pub handshake: ClientHandshake,
    pub handler: Box<dyn Handler>,
}

/// What [`Command::Listen`] carries.
pub(super) struct ListenRequest {
    pub server: Arc<ServerShared>,
    pub listener: mio::net::TcpListener,
    pub config: ServerConfig,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub handler: Box<dyn ServerHandler>,
}

thread_local! {
    /// The loop being polled on this thread (its shared state's address), so
    /// calls from callbacks skip the wake-up.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// The part of a loop every handle holds.
pub(super) struct LoopShared {
    queue: Mutex<VecDeque<Command>>,
    waker: mio::Waker,
    stop: AtomicBool,
    /// Set when the loop is dropped: nothing queued from then on runs.
    gone: AtomicBool,
    next_id: AtomicU64,
    _live: Live,
}

impl LoopShared {
    pub fn new(waker: mio::Waker) -> LoopShared {
        LoopShared {
            queue: Mutex::new(VecDeque::new()),
            waker,
            stop: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            _live: Live::event_loop(),
        }
    }

    /// A number unique within this loop.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Command>> {
        // A panic while holding the lock cannot leave the queue inconsistent.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a command and wakes the loop, unless this is the loop's own
    /// thread (which drains the queue before it blocks again) or the queue
    /// already held commands (whoever queued the first woke the loop, which
    /// takes them all at once). Fails once the loop is gone.
    pub fn push(&self, command: Command) -> Result<(), super::Error> {
        if self.gone.load(Ordering::Acquire) {
            return Err(super::Error::new(
                super::ErrorKind::Closed,
                "the event loop has stopped",
            ));
        }
        let was_empty = {
            let mut queue = self.lock();
            queue.push_back(command);
            queue.len() == 1
        };
        if was_empty && !self.on_loop_thread() {
            self.wake();
        }
        Ok(())
    }

    /// Takes everything queued so far.
    pub fn take(&self) -> VecDeque<Command> {
        std::mem::take(&mut *self.lock())
    }

    pub fn has_commands(&self) -> bool {
        !self.lock().is_empty()
    }

    pub fn wake(&self) {
        // A failed wake-up can only mean the poller is gone, and then so is the loop.
        let _ = self.waker.wake();
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
    pub fn set_gone(&self) -> VecDeque<Command> {
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

/// The counters of one connection, readable from any thread.
pub(super) struct ConnShared {
    pub id: u64,
    state: AtomicU8,
    /// Bytes of messages queued by other threads and not yet in the engine.
    pub queued: AtomicUsize,
    /// Bytes in the engine's output and not yet written (set by the loop).
    pub pending: AtomicUsize,
    /// A send reported would-block: `on_writable` is owed.
    pub blocked: AtomicBool,
    /// The application paused reading (see `Conn::pause_reading`).
    reading_paused: AtomicBool,
    /// Round trip of the last answered ping in microseconds, plus one (0: none).
    rtt_micros: AtomicU64,
    /// The peer's address of the current (or last) TCP connection: a
    /// reconnecting client may reach another address of its host each time.
    peer_addr: Mutex<Option<SocketAddr>>,
    /// The failure that ended the connection (an I/O error, a timeout, a
    /// protocol error), told to a later send or close.
    failure: Mutex<Option<super::Error>>,
    pub high_water: usize,
    pub low_water: usize,
    /// The connection's slot in the loop's table (`usize::MAX` until it has one).
    pub slot: AtomicUsize,
    /// The server that accepted it (for its topics); unset on a client.
    pub server: OnceLock<Arc<ServerShared>>,
    /// The application asked to close: a reconnecting client stops.
    pub app_closed: AtomicBool,
    /// A reconnecting client is between connections.
    pub reconnecting: AtomicBool,
    /// Bytes `send` may queue while reconnecting (0: sends are refused).
    pub disconnected_queue: usize,
    _live: Live,
}

impl ConnShared {
    /// The peer's address (see the field).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        *self
            .peer_addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the address of a new TCP connection.
    /// See [`ConnShared::failure`]; `None` once a reconnect goes on.
    pub fn set_failure(&self, failure: Option<super::Error>) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = failure;
    }

    pub fn failure(&self) -> Option<super::Error> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_peer_addr(&self, addr: SocketAddr) {
        *self
            .peer_addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(addr);
    }

    pub fn new(id: u64, high_water: usize, low_water: usize) -> ConnShared {
        ConnShared {
            id,
            state: AtomicU8::new(ConnState::Connecting as u8),
            queued: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
            reading_paused: AtomicBool::new(false),
            rtt_micros: AtomicU64::new(0),
            peer_addr: Mutex::new(None),
            failure: Mutex::new(None),
            high_water,
            low_water,
            slot: AtomicUsize::new(usize::MAX),
            app_closed: AtomicBool::new(false),
            reconnecting: AtomicBool::new(false),
            disconnected_queue: 0,
            server: OnceLock::new(),
            _live: Live::connection(),
        }
    }

    pub fn state(&self) -> ConnState {
        match self.state.load(Ordering::Acquire) {
            0 => ConnState::Connecting,
            1 => ConnState::Open,
            2 => ConnState::Closing,
            _ => ConnState::Closed,
        }
    }

    pub fn set_state(&self, state: ConnState) {
        self.state.store(state as u8, Ordering::Release);
    }

    /// Moves from `from` to `to` if the state is still `from`.
    pub fn transition(&self, from: ConnState, to: ConnState) -> bool {
        self.state
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub fn buffered(&self) -> usize {
        self.queued
            .load(Ordering::Acquire)
            .saturating_add(self.pending.load(Ordering::Acquire))
    }

    /// Whether `len` more bytes may be queued on top of `buffered`: past the
    /// high-water mark they may not (but an empty queue takes any message),
    /// and the writable event becomes owed.
    pub fn admit(&self, buffered: usize, len: usize) -> Result<(), super::Error> {
        if self.too_much(buffered, len) {
            self.blocked.store(true, Ordering::Release);
            return Err(super::Error::new(
                super::ErrorKind::WouldBlock,
                format!(
                    "the send queue holds {buffered} bytes and {len} more would pass its high-water mark of {} bytes",
                    self.high_water
                ),
            ));
        }
        Ok(())
    }

    /// Whether `len` bytes on top of `buffered` pass the high-water mark (an
    /// empty queue takes any message).
    fn too_much(&self, buffered: usize, len: usize) -> bool {
        buffered > 0 && buffered.saturating_add(len) > self.high_water
    }

    /// While reconnecting: whether `len` more bytes fit the queue for the
    /// next connection.
    pub fn admit_disconnected(&self, len: usize) -> Result<(), super::Error> {
        if !self.reconnecting.load(Ordering::Acquire) {
            return Ok(());
        }
        let limit = self.disconnected_queue;
        if limit == 0 {
            return Err(super::Error::new(
                super::ErrorKind::NotConnected,
                "not connected: the client is reconnecting and does not queue messages",
            ));
        }
        if self.buffered().saturating_add(len) > limit {
            return Err(super::Error::new(
                super::ErrorKind::NotConnected,
                format!(
                    "not connected: the client is reconnecting and its queue of {limit} bytes is full"
                ),
            ));
        }
        Ok(())
    }

    /// Admits `len` bytes from another thread and counts them as queued, in
    /// one atomic step so concurrent senders cannot overshoot together.
    pub fn enqueue(&self, len: usize) -> Result<(), super::Error> {
        self.reserve_with(len, |buffered| self.admit(buffered, len))
    }

    /// Like [`ConnShared::enqueue`], without owing a writable event on
    /// refusal (a published message skips a slow subscriber).
    pub fn reserve(&self, len: usize) -> Result<(), ()> {
        self.reserve_with(len, |buffered| match self.too_much(buffered, len) {
            true => Err(()),
            false => Ok(()),
        })
    }

    fn reserve_with<E>(&self, len: usize, admit: impl Fn(usize) -> Result<(), E>) -> Result<(), E> {
        let mut queued = self.queued.load(Ordering::Acquire);
        loop {
            let buffered = queued.saturating_add(self.pending.load(Ordering::Acquire));
            admit(buffered)?;
            match self.queued.compare_exchange_weak(
                queued,
                queued.saturating_add(len),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => queued = now,
            }
        }
    }

    /// Pauses or resumes reading; returns the previous setting.
    pub fn set_reading_paused(&self, paused: bool) -> bool {
        self.reading_paused.swap(paused, Ordering::AcqRel)
    }

    /// Whether the application paused reading.
    pub fn is_reading_paused(&self) -> bool {
        self.reading_paused.load(Ordering::Acquire)
    }

    /// Whether input is held back: the application paused reading and the
    /// connection is open (a closing connection reads its close handshake).
    pub fn holds_input(&self) -> bool {
        self.is_reading_paused() && self.state() == ConnState::Open
    }

    pub fn rtt(&self) -> Option<Duration> {
        match self.rtt_micros.load(Ordering::Acquire) {
            0 => None,
            n => Some(Duration::from_micros(n - 1)),
        }
    }

    pub fn set_rtt(&self, rtt: Duration) {
        let micros = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX - 1);
        self.rtt_micros
            .store(micros.saturating_add(1), Ordering::Release);
    }
}

/// What a [`super::Server`] handle knows of its server.
pub(super) struct ServerShared {
    pub id: u64,
    pub local_addr: SocketAddr,
    /// Its topics and their subscribers.
    pub topics: super::pubsub::Topics,
    /// What publishing does with a subscriber past its high-water mark.
    pub slow_subscriber: super::pubsub::SlowSubscriber,
    /// Unfinished handshakes dropped to make room for newer connections.
    pub evicted_handshakes: AtomicU64,
    /// Counts it among the live servers.
    pub _live: Live,
}
