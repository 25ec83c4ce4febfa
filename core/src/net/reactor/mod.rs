//! The loop itself: one table of connections and listeners, one turn of
//! work, readiness from `mio`. Its behaviour is split by concern: the work
//! queue (`commands`), the read path (`read`), the write path (`write`),
//! opening and ending connections (`lifecycle`), deadlines (`timers`), and
//! the client and server sides (`client`, `server`).

mod broker;
mod client;
mod commands;
mod lifecycle;
mod read;
mod server;
mod timers;
mod write;

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::conn::ConnEntry;
use super::error::Error;
use super::handle::Conn;
use super::handler::Close;
use super::listener::ListenerEntry;
use super::queue::{ConnectRequest, LoopShared, Work};
use super::shared::ConnShared;
use super::timer::Timers;
use crate::proto::CloseCode;

/// The waker's token; slots of the table are the other tokens.
const WAKER: Token = Token(usize::MAX);
/// Size of the read buffer shared by all connections.
const READ_CHUNK: usize = 64 * 1024;
/// Most bytes one read takes, though the engine's buffer may have more room
/// (a large frame's): what a read brings stays in the L2 cache, where
/// unmasking and UTF-8 validation read it next. Measured on the 16 MiB echo
/// (reads of up to 1.5 MB before): unmasking fell from 2.0 to 0.7 ms of
/// server CPU per message, the whole from about 13.7 to 10.5-11.3 ms;
/// 64 KiB reads cost more in system calls, 512 KiB ones more in misses.
const MAX_READ: usize = 256 * 1024;
/// Most bytes read from one connection per turn, so one busy peer cannot
/// starve the others.
const READ_BUDGET: usize = 1024 * 1024;
/// Idle read buffers kept for the connections that read next: a connection
/// between messages gives its buffer back (see
/// [`crate::proto::Connection::release_read_buf`]), so thousands of idle
/// connections hold none, and busy ones take a warm one instead of
/// allocating.
const SPARE_READ_BUFS: usize = 16;
/// Whether a read that filled less than the room it had shows the socket
/// drained, so that no second read is needed to meet `WouldBlock`: true of
/// epoll and kqueue, whose edge-triggered readiness fires again when more
/// arrives; not of the readiness mio emulates on Windows.
const SHORT_READ_DRAINS: bool = cfg!(not(windows));
/// Rounds of commands, or of writes, per turn: callbacks they run may queue
/// more, which waits for the next turn after this many rounds.
const ROUNDS: usize = 4;

/// A slot of the table.
pub(super) enum Entry {
    Conn(Box<ConnEntry>),
    Listener(Box<ListenerEntry>),
    /// A clustered server's cluster side (no socket).
    Broker(Box<broker::BrokerEntry>),
    /// One of its connections to Redis.
    BrokerLink(Box<broker::LinkEntry>),
}

/// The loop's state, owned by [`super::EventLoop`].
pub(super) struct Reactor {
    poll: Poll,
    events: Events,
    pub shared: Arc<LoopShared>,
    pub entries: Slab<Entry>,
    pub timers: Timers,
    /// Connections with output to write at the end of the turn.
    dirty: Vec<usize>,
    /// Broker links with publications to write at the end of the turn.
    dirty_brokers: Vec<usize>,
    /// Connections with input left unread (the readiness is edge-triggered),
    /// with their ids.
    backlog: Vec<(usize, u64)>,
    /// This turn's readiness by slot, kept for its allocation.
    ready: Vec<(usize, Readiness)>,
    /// The buffer handshakes are read into.
    read_buf: Vec<u8>,
    /// Open connections' read buffers, given back between messages.
    spare_read_bufs: Vec<Vec<u8>>,
}

/// What one readiness event reported for a connection.
#[derive(Debug, Clone, Copy)]
struct Readiness {
    readable: bool,
    writable: bool,
    /// The peer closed its side or the socket failed: reading must go on
    /// until the end of the stream or the error shows.
    closed: bool,
}

impl Reactor {
    /// A loop taking its ids from `ids`.
    pub fn new(ids: Arc<std::sync::atomic::AtomicU64>) -> Result<Reactor, Error> {
        let poll = Poll::new().map_err(|e| Error::io("could not create the poller", &e))?;
        let waker = Waker::new(poll.registry(), WAKER)
            .map_err(|e| Error::io("could not create the waker", &e))?;
        Ok(Reactor {
            poll,
            events: Events::with_capacity(1024),
            shared: Arc::new(LoopShared::new(waker, ids)),
            entries: Slab::new(),
            timers: Timers::default(),
            dirty: Vec::new(),
            dirty_brokers: Vec::new(),
            backlog: Vec::new(),
            ready: Vec::new(),
            read_buf: vec![0; READ_CHUNK],
            spare_read_bufs: Vec::new(),
        })
    }

    pub fn registry(&self) -> &mio::Registry {
        self.poll.registry()
    }

    /// One turn: commands, ready I/O, due timers, commands queued meanwhile,
    /// then the writes.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        let _guard = self.shared.enter();
        self.run_commands();
        self.flush_dirty();
        self.flush_brokers();
        let wait = self.wait_time(timeout);
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("polling for events failed", &e)),
        }
        let mut ready = std::mem::take(&mut self.ready);
        ready.extend(self.events.iter().filter(|e| e.token() != WAKER).map(|e| {
            let closed = e.is_error() || e.is_read_closed();
            let readiness = Readiness {
                readable: e.is_readable() || closed,
                writable: e.is_writable() || e.is_error(),
                closed,
            };
            (e.token().0, readiness)
        }));
        for &(slot, readiness) in &ready {
            self.on_ready(slot, readiness);
        }
        ready.clear();
        self.ready = ready;
        for (slot, id) in std::mem::take(&mut self.backlog) {
            if self.conn_mut(slot).is_some_and(|c| c.conn.shared.id == id) {
                self.on_readable(slot, false);
            }
        }
        self.fire_timers(Instant::now());
        self.run_commands();
        self.flush_dirty();
        self.flush_brokers();
        Ok(())
    }

    /// The queued commands and the writes they make, without waiting for
    /// readiness: for a caller that queued work while holding the loop.
    pub fn run_queued(&mut self) {
        let _guard = self.shared.enter();
        self.run_commands();
        self.flush_dirty();
        self.flush_brokers();
    }

    /// How long the poller may block: not at all when work is waiting.
    fn wait_time(&self, requested: Option<Duration>) -> Option<Duration> {
        if !self.backlog.is_empty() || !self.dirty.is_empty() || self.shared.has_commands() {
            return Some(Duration::ZERO);
        }
        let timer = self
            .timers
            .next()
            .map(|at| at.saturating_duration_since(Instant::now()));
        match (requested, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn conn_mut(&mut self, slot: usize) -> Option<&mut ConnEntry> {
        match self.entries.get_mut(slot) {
            Some(Entry::Conn(c)) => Some(c),
            _ => None,
        }
    }

    /// The slot of the connection behind a handle, if it is still in the table.
    pub fn find(&self, shared: &Arc<ConnShared>) -> Option<usize> {
        let slot = shared.slot.load(Ordering::Acquire);
        match self.entries.get(slot) {
            Some(Entry::Conn(c)) if Arc::ptr_eq(&c.conn.shared, shared) => Some(slot),
            _ => None,
        }
    }

    /// Puts a new connection in the table.
    pub fn insert(&mut self, entry: ConnEntry) -> usize {
        let shared = entry.conn.shared.clone();
        let slot = self.entries.insert(Entry::Conn(Box::new(entry)));
        shared.slot.store(slot, Ordering::Release);
        slot
    }

    /// Registers a connection's socket for reading (and writing while output waits).
    /// Watches an accepted connection for reading only: it writes when it
    /// has something to say, and asks for writability when a write would
    /// block (see `flush`), so a connection whose writes all go out at once
    /// costs one `epoll_ctl` less.
    pub fn register(&mut self, slot: usize) -> io::Result<()> {
        let Some(Entry::Conn(c)) = self.entries.get_mut(slot) else {
            return Ok(());
        };
        if let Some(t) = c.transport.as_mut() {
            self.poll
                .registry()
                .register(&mut t.stream, Token(slot), Interest::READABLE)?;
            c.write_interest = false;
        }
        Ok(())
    }

    pub fn mark_dirty(&mut self, slot: usize) {
        if let Some(c) = self.conn_mut(slot)
            && !c.dirty
        {
            c.dirty = true;
            self.dirty.push(slot);
        }
    }

    pub fn conn_handle(&self, shared: Arc<ConnShared>) -> Conn {
        Conn {
            shared,
            lp: self.shared.clone(),
        }
    }
}

impl Drop for Reactor {
    /// Connections still in the table get their close event (1006), servers
    /// their shutdown event.
    fn drop(&mut self) {
        for work in self.shared.set_gone() {
            match work {
                Work::Connect(request) => {
                    let ConnectRequest {
                        conn, mut handler, ..
                    } = *request;
                    let close = Close::dropped("the event loop stopped");
                    conn.end(close.to_info());
                    handler.on_close(&self.conn_handle(conn), &close);
                }
                Work::Listen(mut request) => request.handler.on_shutdown(),
                Work::Command(_) => {}
            }
        }
        let slots: Vec<usize> = self.entries.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            match self.entries.get(slot) {
                Some(Entry::Conn(_)) => {
                    self.finish(slot, CloseCode::ABNORMAL, "the event loop stopped", false)
                }
                Some(Entry::Listener(_)) => self.remove_listener(slot),
                Some(Entry::Broker(_) | Entry::BrokerLink(_)) | None => {}
            }
        }
    }
}
