//! State shared between the loop and the handles other threads hold: each
//! connection's and server's counters, and the commands handles send to the
//! loop through its [`LoopLink`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::cluster::{ClusterShared, LinkId};
use super::config::{Backpressure, InboxLimits};
use super::error::{Error, ErrorKind};
use super::fragments::Outgoing;
use super::identity::PeerIdentity;
use super::inbox::Inbox;
use super::peer::PeerAddr;
use super::state::{CloseInfo, ConnState};
use super::stats::Live;
use super::telemetry::Counters;
use super::topics::{Fanout, SlowSubscriber, Subscriber, Topics};
use crate::proto::handshake::Rejection;
use crate::proto::{CloseCode, MessageKind, PreparedMessage};

/// The way from handles (and helper threads) to their loop: queues a
/// command and wakes the loop. Fails once the loop is gone.
pub(super) trait LoopLink: Send + Sync {
    /// Queues `command` for the loop.
    fn push(&self, command: Command) -> Result<(), Error>;

    /// The loop's telemetry counters (of its clients: a server's
    /// connections count in their server's).
    fn counters(&self) -> &Counters;
}

/// What handles ask of a connection or server already in the loop.
pub(super) enum Command {
    /// Queue a message.
    Send {
        conn: Arc<ConnShared>,
        kind: MessageKind,
        data: Vec<u8>,
        /// Compress it when permessage-deflate is on (see `Conn::send_with`).
        compress: bool,
    },
    /// Queue one piece of a fragmented message, its rules already checked
    /// ([`super::fragments::Outgoing`]).
    SendFragment {
        conn: Arc<ConnShared>,
        kind: MessageKind,
        data: Vec<u8>,
        fin: bool,
        compress: bool,
    },
    /// Drop the transport now, without a close handshake.
    Abort { conn: Arc<ConnShared> },
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
        result: Result<Vec<SocketAddr>, Error>,
    },
    /// Queue a published message on a topic's subscribers.
    Publish(Box<Publish>),
    /// Pull mode: the application found the inbox empty; a deferred
    /// protocol error's close frame may go out.
    FailNow { conn: Arc<ConnShared> },
    /// A decision taken off the loop's thread (a pending upgrade or attempt).
    Decide {
        conn: Arc<ConnShared>,
        decision: Decision,
    },
    /// Publish to the other nodes of a server's cluster.
    ClusterPublish {
        cluster: Arc<ClusterShared>,
        topic: Arc<str>,
        kind: MessageKind,
        data: Vec<u8>,
    },
    /// A server's topics gained or lost their first or last subscriber:
    /// its broker subscriptions follow.
    ClusterSync { cluster: Arc<ClusterShared> },
    /// The name lookup of one of a server's broker links finished.
    BrokerResolved {
        cluster: Arc<ClusterShared>,
        link: LinkId,
        result: Result<Vec<SocketAddr>, Error>,
    },
    /// Gracefully shut a server down: close every connection with `code`
    /// and `reason`, and drop the rest after `timeout`.
    Shutdown {
        server: Arc<ServerShared>,
        code: CloseCode,
        reason: String,
        timeout: Duration,
    },
    /// A connection loop `part` of a server spread over several loops takes
    /// (accepted by loop 0, [`super::Balance::RoundRobin`]).
    Adopt {
        server: Arc<ServerShared>,
        part: usize,
        stream: super::socket::Stream,
        addr: PeerAddr,
    },
    /// A part of a server spread over several loops finished: its home
    /// loop may finish too.
    PartDone { server: Arc<ServerShared> },
}

/// A postponed decision about a connection.
pub(super) enum Decision {
    /// Accept the handshake; `None` keeps what the upgrade event held.
    Accept {
        subprotocol: Option<Option<String>>,
        headers: Option<Vec<(String, String)>>,
    },
    /// Refuse the handshake.
    Refuse(Rejection),
    /// Start the client's attempt; `None` keeps the headers.
    Proceed(Option<Vec<(String, String)>>),
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
    /// The peer's address of the current (or last) connection: a
    /// reconnecting client may reach another address of its host each time.
    peer_addr: Mutex<Option<PeerAddr>>,
    /// The failure that ended the connection (an I/O error, a timeout, a
    /// protocol error), told to a later send or close.
    failure: Mutex<Option<Error>>,
    pub high_water: usize,
    pub low_water: usize,
    /// The connection's slot in the loop's table (`usize::MAX` until it has one).
    pub slot: AtomicUsize,
    /// The server that accepted it (for its topics); unset on a client.
    pub server: OnceLock<Arc<ServerShared>>,
    /// The server's loop it lives on (its index in the server's parts; 0
    /// on a client).
    pub part: usize,
    /// The application asked to close: a reconnecting client stops.
    pub app_closed: AtomicBool,
    /// A reconnecting client is between connections.
    pub reconnecting: AtomicBool,
    /// Bytes `send` may queue while reconnecting (0: sends are refused).
    pub disconnected_queue: usize,
    /// Pull-mode delivery's queue of received messages, if configured
    /// (boxed: most connections have none, and every byte here counts at
    /// scale).
    pub inbox: Option<Box<Inbox>>,
    /// How the connection ended, once it has.
    pub close_info: OnceLock<CloseInfo>,
    /// The fragmented message being sent, if any; locked while a send is
    /// checked and queued, so the loop gets the pieces in the order checked.
    pub outgoing: Mutex<Outgoing>,
    /// The client certificate of a server's connection (mutual TLS), set
    /// before the upgrade decision.
    pub peer_identity: OnceLock<PeerIdentity>,
    /// Counts writable events (and the end), for senders waiting for room.
    writable: Mutex<WritableEvents>,
    writable_changed: Condvar,
    _live: Live,
}

/// Writable events of a connection so far, and the senders waiting for the
/// next (counted under the same lock, so a notification is sent only when
/// somebody waits, and none is missed).
#[derive(Default)]
struct WritableEvents {
    count: u64,
    waiters: usize,
}

impl ConnShared {
    /// The peer's address (see the field).
    pub fn peer_addr(&self) -> Option<PeerAddr> {
        self.peer_addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records the failure that ends the connection; `None` once a
    /// reconnect goes on.
    pub fn set_failure(&self, failure: Option<Error>) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = failure;
    }

    /// The failure that ended the connection, if one did.
    pub fn failure(&self) -> Option<Error> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records the address of a new connection.
    pub fn set_peer_addr(&self, addr: PeerAddr) {
        *self
            .peer_addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(addr);
    }

    /// A connection's shared state, with its send-queue marks and, in pull
    /// mode, its inbox.
    pub fn new(id: u64, backpressure: Backpressure, inbox: Option<InboxLimits>) -> ConnShared {
        ConnShared {
            inbox: inbox.map(|limits| Box::new(Inbox::new(limits))),
            close_info: OnceLock::new(),
            outgoing: Mutex::new(Outgoing::default()),
            peer_identity: OnceLock::new(),
            writable: Mutex::new(WritableEvents::default()),
            writable_changed: Condvar::new(),
            id,
            state: AtomicU8::new(ConnState::Connecting as u8),
            queued: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            blocked: AtomicBool::new(false),
            reading_paused: AtomicBool::new(false),
            rtt_micros: AtomicU64::new(0),
            peer_addr: Mutex::new(None),
            failure: Mutex::new(None),
            high_water: backpressure.high_water,
            low_water: backpressure.low_water,
            slot: AtomicUsize::new(usize::MAX),
            app_closed: AtomicBool::new(false),
            reconnecting: AtomicBool::new(false),
            disconnected_queue: 0,
            server: OnceLock::new(),
            part: 0,
            _live: Live::connection(),
        }
    }

    /// The state the loop published, closing as soon as the application
    /// asked to close (before the loop acted on it).
    pub fn state(&self) -> ConnState {
        match ConnState::from_u8(self.state.load(Ordering::Acquire)) {
            ConnState::Connecting | ConnState::Open if self.app_closed.load(Ordering::Acquire) => {
                ConnState::Closing
            }
            state => state,
        }
    }

    /// Publishes the state: the loop's transition function does, and
    /// nothing else.
    pub fn set_state(&self, state: ConnState) {
        self.state.store(state as u8, Ordering::Release);
    }

    pub fn buffered(&self) -> usize {
        self.queued
            .load(Ordering::Acquire)
            .saturating_add(self.pending.load(Ordering::Acquire))
    }

    /// Whether `len` more bytes may be queued on top of `buffered`: past the
    /// high-water mark they may not (but an empty queue takes any message),
    /// and the writable event becomes owed.
    pub fn admit(&self, buffered: usize, len: usize) -> Result<(), Error> {
        if self.too_much(buffered, len) {
            self.blocked.store(true, Ordering::Release);
            return Err(Error::new(
                ErrorKind::WouldBlock,
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
    pub fn admit_disconnected(&self, len: usize) -> Result<(), Error> {
        if !self.reconnecting.load(Ordering::Acquire) {
            return Ok(());
        }
        let limit = self.disconnected_queue;
        if limit == 0 {
            return Err(Error::new(
                ErrorKind::NotConnected,
                "not connected: the client is reconnecting and does not queue messages",
            ));
        }
        if self.buffered().saturating_add(len) > limit {
            return Err(Error::new(
                ErrorKind::NotConnected,
                format!(
                    "not connected: the client is reconnecting and its queue of {limit} bytes is full"
                ),
            ));
        }
        Ok(())
    }

    /// Admits `len` bytes from another thread and counts them as queued, in
    /// one atomic step so concurrent senders cannot overshoot together.
    pub fn enqueue(&self, len: usize) -> Result<(), Error> {
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

    /// The fragmented message being sent, locked.
    pub fn outgoing(&self) -> std::sync::MutexGuard<'_, Outgoing> {
        self.outgoing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pauses or resumes reading; returns the previous setting.
    pub fn set_reading_paused(&self, paused: bool) -> bool {
        self.reading_paused.swap(paused, Ordering::AcqRel)
    }

    /// Whether the application paused reading.
    pub fn is_reading_paused(&self) -> bool {
        self.reading_paused.load(Ordering::Acquire)
    }

    /// Whether input is held back: the application paused reading or the
    /// inbox is full, and the connection is open (a closing connection
    /// reads its close handshake).
    pub fn holds_input(&self) -> bool {
        (self.is_reading_paused() || self.inbox.as_deref().is_some_and(Inbox::is_full))
            && self.state() == ConnState::Open
    }

    /// The send queue drained after a would-block, or the connection ended:
    /// wakes the senders waiting for room.
    pub fn notify_writable(&self) {
        let mut events = self.writable.lock().unwrap_or_else(PoisonError::into_inner);
        events.count += 1;
        // A notification is a system call even with nobody waiting: one per
        // connection's end, which a server accepting and closing many pays.
        if events.waiters > 0 {
            self.writable_changed.notify_all();
        }
    }

    /// The count of writable events so far (see [`ConnShared::wait_writable`]).
    pub fn writable_events(&self) -> u64 {
        self.writable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count
    }

    /// Waits until the count of writable events passes `seen` or `deadline`
    /// passes (`None`: no deadline); whether it passed.
    pub fn wait_writable(&self, seen: u64, deadline: Option<Instant>) -> bool {
        let mut events = self.writable.lock().unwrap_or_else(PoisonError::into_inner);
        events.waiters += 1;
        let passed = loop {
            if events.count != seen {
                break true;
            }
            events = match deadline {
                None => self
                    .writable_changed
                    .wait(events)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(at) => {
                    let now = Instant::now();
                    if now >= at {
                        break false;
                    }
                    self.writable_changed
                        .wait_timeout(events, at - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        };
        events.waiters -= 1;
        passed
    }

    /// Records how the connection ended and wakes everyone waiting on it
    /// (receivers once the inbox is empty, senders at once).
    pub fn end(&self, info: CloseInfo) {
        let _ = self.close_info.set(info);
        self.set_state(ConnState::Closed);
        if let Some(inbox) = &self.inbox {
            inbox.end();
        }
        self.notify_writable();
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
    /// Its IP address and port (`0.0.0.0:0` on a Unix domain socket).
    pub local_addr: SocketAddr,
    /// Its Unix domain socket's path, if it listens on one.
    pub unix_path: Option<std::path::PathBuf>,
    /// Its topics and their subscribers.
    pub topics: Topics<ConnShared>,
    /// What publishing does with a subscriber past its high-water mark.
    pub slow_subscriber: SlowSubscriber,
    /// Unfinished handshakes dropped to make room for newer connections.
    pub evicted_handshakes: AtomicU64,
    /// Its link to the cluster's broker, if it joined one.
    pub cluster: Option<Arc<ClusterShared>>,
    /// Its loops, home first (one unless [`super::ServerConfig::loops`]
    /// says more), each with the telemetry counters of its connections
    /// (written by that loop's thread only; the home loop's figures add
    /// them all up).
    pub parts: Box<[LoopPart]>,
    /// Its parts still running (see [`super::spread`]).
    pub running: AtomicUsize,
    /// Its connections on every loop, for `max_connections`.
    pub conns: AtomicUsize,
    /// Counts it among the live servers.
    pub _live: Live,
}

impl Subscriber for ConnShared {
    fn id(&self) -> u64 {
        self.id
    }

    fn is_open(&self) -> bool {
        self.state() == ConnState::Open
    }

    fn reserve(&self, len: usize) -> bool {
        self.reserve(len).is_ok()
    }

    fn unreserve(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::AcqRel);
    }
}

/// One loop's part of a server.
pub(super) struct LoopPart {
    /// The loop's queue.
    pub link: Arc<dyn LoopLink>,
    /// The figures of the part's connections (written by its loop only).
    pub counters: Arc<Counters>,
    /// The slot of the server's listener entry in that loop's table
    /// (`usize::MAX` until it has one).
    pub slot: AtomicUsize,
}

impl LoopPart {
    /// The part on the loop `link`, before its listener entry exists.
    pub fn new(link: Arc<dyn LoopLink>, counters: Arc<Counters>) -> LoopPart {
        LoopPart {
            link,
            counters,
            slot: AtomicUsize::new(usize::MAX),
        }
    }
}

/// What [`Command::Publish`] carries: the frame encoded once, and the
/// subscribers it goes to. A server on several loops gives each loop a
/// clone: each queues it on the subscribers in its own table, so every
/// subscriber gets it once.
#[derive(Clone)]
pub(super) struct Publish {
    pub message: PreparedMessage,
    pub topic: Arc<str>,
    pub fanout: Arc<Fanout<ConnShared>>,
    pub policy: SlowSubscriber,
}
