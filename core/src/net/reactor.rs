//! The loop itself: readiness from `mio`, the command queue, timers, reads
//! into the engines, coalesced writes, and the end of every connection.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::conn::{ConnEntry, Phase, direct_socket, pong_rtt, send_message};
use super::error::{Error, ErrorKind};
use super::handle::{Conn, ConnState};
use super::handler::{Close, Ctx};
use super::server::ListenerEntry;
use super::shared::{Command, ConnShared, ConnectRequest, LoopShared};
use super::timer::{TimerKind, Timers};
use super::transport::describe;
use super::tunnel::name_the_hop;
use crate::proto::{CloseCode, Event, Role, State};

/// The waker's token; slots of the table are the other tokens.
const WAKER: Token = Token(usize::MAX);
/// Size of the read buffer shared by all connections.
const READ_CHUNK: usize = 64 * 1024;
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
    pub fn new() -> Result<Reactor, Error> {
        let poll = Poll::new().map_err(|e| Error::io("could not create the poller", &e))?;
        let waker = Waker::new(poll.registry(), WAKER)
            .map_err(|e| Error::io("could not create the waker", &e))?;
        Ok(Reactor {
            poll,
            events: Events::with_capacity(1024),
            shared: Arc::new(LoopShared::new(waker)),
            entries: Slab::new(),
            timers: Timers::default(),
            dirty: Vec::new(),
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
        Ok(())
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
    pub fn register(&mut self, slot: usize) -> io::Result<()> {
        let Some(Entry::Conn(c)) = self.entries.get_mut(slot) else {
            return Ok(());
        };
        if let Some(t) = c.transport.as_mut() {
            self.poll.registry().register(
                &mut t.tcp,
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            c.write_interest = true;
        }
        Ok(())
    }

    /// Sets a deadline `after` from now (one too far to represent never comes).
    pub fn schedule(&mut self, slot: usize, kind: TimerKind, after: Duration) {
        match self.entries.get_mut(slot) {
            Some(Entry::Conn(c)) => {
                self.timers
                    .schedule(&mut c.deadlines, slot, c.conn.shared.id, kind, after)
            }
            Some(Entry::Listener(l)) => {
                self.timers
                    .schedule(&mut l.deadlines, slot, l.id, kind, after)
            }
            None => {}
        }
        self.sweep_timers();
    }

    pub fn mark_dirty(&mut self, slot: usize) {
        if let Some(c) = self.conn_mut(slot)
            && !c.dirty
        {
            c.dirty = true;
            self.dirty.push(slot);
        }
    }

    fn run_commands(&mut self) {
        // Commands may queue more commands (a callback sending); bound the rounds.
        for _ in 0..ROUNDS {
            let commands = self.shared.take();
            if commands.is_empty() {
                return;
            }
            for command in commands {
                self.run_command(command);
            }
        }
    }

    fn run_command(&mut self, command: Command) {
        match command {
            Command::Connect(request) => self.start_connect(*request),
            Command::Listen(request) => self.start_listen(*request),
            Command::Resolved { conn, result } => {
                if let Some(slot) = self.find(&conn) {
                    self.on_resolved(slot, result);
                }
            }
            Command::Send {
                conn,
                kind,
                data,
                compress,
            } => {
                if let Some(slot) = self.find(&conn)
                    && let Some(c) = self.conn_mut(slot)
                    && send_message(
                        c.engine.sender(),
                        direct_socket(&c.phase, &mut c.transport, &c.hs_out),
                        kind,
                        &data,
                        compress,
                    )
                    .is_ok()
                {
                    // Counted as pending before it stops counting as queued,
                    // so the figure other threads read never dips below the truth.
                    c.publish_pending();
                    self.mark_dirty(slot);
                }
                conn.queued.fetch_sub(data.len(), Ordering::AcqRel);
            }
            Command::Ping { conn, data } => {
                if let Some(slot) = self.find(&conn)
                    && self.conn_mut(slot).is_some_and(|c| c.ping(&data))
                {
                    self.mark_dirty(slot);
                }
            }
            Command::Flush { conn } => {
                if let Some(slot) = self.find(&conn) {
                    self.mark_dirty(slot);
                }
            }
            Command::ResumeReading { conn } => {
                if let Some(slot) = self.find(&conn) {
                    self.resume_input(slot);
                }
            }
            Command::Close { conn, code, reason } => {
                if let Some(slot) = self.find(&conn) {
                    self.close(slot, code, &reason);
                }
            }
            Command::Publish(publish) => self.run_publish(*publish),
            Command::Shutdown { server, timeout } => self.start_shutdown(&server, timeout),
        }
    }

    /// Starts the close handshake, or abandons a connection not yet open.
    pub fn close(&mut self, slot: usize, code: CloseCode, reason: &str) {
        let Some(c) = self.conn_mut(slot) else { return };
        if !c.engine_live() {
            self.finish(
                slot,
                CloseCode::ABNORMAL,
                "closed before the connection opened",
                false,
            );
            return;
        }
        if c.engine.state() == State::Open {
            let _ = c.engine.sender().close(code, reason);
        }
        let paused = c.conn.shared.is_reading_paused();
        self.after_engine(slot);
        if paused {
            // The close handshake needs the peer's close frame.
            self.resume_input(slot);
        }
    }

    /// Delivers input held back while reading was paused: what the engine
    /// already buffered, then (next in this turn) what the socket holds.
    fn resume_input(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        let id = c.conn.shared.id;
        if matches!(c.phase, Phase::Open) {
            self.run_engine(slot);
        }
        self.backlog.push((slot, id));
    }

    fn on_ready(&mut self, slot: usize, ready: Readiness) {
        match self.entries.get(slot) {
            Some(Entry::Listener(_)) => self.accept(slot),
            Some(Entry::Conn(c)) if matches!(c.phase, Phase::Connecting(_)) => {
                self.on_connect_ready(slot)
            }
            Some(Entry::Conn(_)) => {
                if ready.writable {
                    self.mark_dirty(slot);
                }
                if ready.readable {
                    self.on_readable(slot, SHORT_READ_DRAINS && !ready.closed);
                }
            }
            None => {}
        }
    }

    /// Reads what the socket holds, within this turn's budget. Once the
    /// connection is open, bytes go straight into the engine's buffer.
    /// `short_read_drains`: a plain socket's short read at a message
    /// boundary ends the reading (see [`SHORT_READ_DRAINS`]).
    fn on_readable(&mut self, slot: usize, short_read_drains: bool) {
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut budget = READ_BUDGET;
        while budget > 0 {
            let Some(Entry::Conn(c)) = self.entries.get_mut(slot) else {
                break;
            };
            if c.read_paused || c.eof || c.conn.shared.holds_input() {
                break;
            }
            let Some(transport) = c.transport.as_mut() else {
                break;
            };
            let open = matches!(c.phase, Phase::Open);
            let mut room = buf.len();
            let result = match open {
                true => {
                    if let Some(spare) = self.spare_read_bufs.pop()
                        && let Some(unused) = c.engine.lend_read_buf(spare)
                    {
                        self.spare_read_bufs.push(unused);
                    }
                    let into = c.engine.read_buf(READ_CHUNK);
                    room = into.len();
                    transport.read(into)
                }
                false => transport.read(&mut buf),
            };
            let drained = short_read_drains && transport.plain().is_some();
            if transport.wants_write() && !c.dirty {
                c.dirty = true;
                self.dirty.push(slot);
            }
            match result {
                Ok(0) => {
                    c.eof = true;
                    self.on_eof(slot);
                    break;
                }
                Ok(n) => {
                    c.last_rx = Instant::now();
                    budget = budget.saturating_sub(n);
                    let drained = drained && n < room;
                    if open {
                        c.engine.commit_read(n);
                        self.run_engine(slot);
                    } else {
                        self.on_input(slot, &buf[..n]);
                    }
                    self.hold_back_reads(slot);
                    if self.release_read_buf(slot) && drained {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let error = describe("reading from the connection failed", &e);
                    self.fail(slot, error);
                    break;
                }
            }
        }
        if budget == 0
            && let Some(c) = self.conn_mut(slot)
        {
            let id = c.conn.shared.id;
            self.backlog.push((slot, id));
        }
        self.release_read_buf(slot);
        self.read_buf = buf;
    }

    /// Takes an open connection's read buffer back when every byte in it
    /// was consumed (kept for the next reader, within [`SPARE_READ_BUFS`]);
    /// whether it was empty.
    fn release_read_buf(&mut self, slot: usize) -> bool {
        let Some(Entry::Conn(c)) = self.entries.get_mut(slot) else {
            return false;
        };
        if !matches!(c.phase, Phase::Open) {
            return false;
        }
        let Some(buf) = c.engine.release_read_buf() else {
            return false;
        };
        if self.spare_read_bufs.len() < SPARE_READ_BUFS && buf.len() <= 2 * READ_CHUNK {
            self.spare_read_bufs.push(buf);
        }
        true
    }

    /// A peer that sends faster than it reads, so that our automatic replies
    /// (pongs) pile up past twice the high-water mark, is not read from until
    /// the output drains below the low-water mark. (Sends alone stay within
    /// the marks, so two peers sending to each other never both stop reading.)
    fn hold_back_reads(&mut self, slot: usize) {
        let over =
            |c: &mut ConnEntry| c.engine_pending() > c.conn.shared.high_water.saturating_mul(2);
        if !self.conn_mut(slot).is_some_and(over) {
            return;
        }
        self.flush(slot);
        if let Some(c) = self.conn_mut(slot)
            && over(c)
        {
            c.read_paused = true;
        }
    }

    /// Bytes from the peer, by phase.
    fn on_input(&mut self, slot: usize, data: &[u8]) {
        let Some(c) = self.conn_mut(slot) else { return };
        match &mut c.phase {
            Phase::ClientHandshake(hs) => match hs.feed(data) {
                Ok(None) => {}
                Ok(Some(accepted)) => self.client_open(slot, accepted),
                Err(e) => self.fail(slot, e.into()),
            },
            Phase::ServerHandshake(_) => self.server_input(slot, data),
            Phase::Tunnel(_) => self.tunnel_input(slot, data),
            Phase::Open => {
                c.engine.feed(data);
                self.run_engine(slot);
            }
            Phase::Resolving(_)
            | Phase::Connecting(_)
            | Phase::Refusing
            | Phase::AwaitEof
            | Phase::Waiting => {}
        }
    }

    /// Delivers the engine's events to the handler, then acts on its state.
    pub fn run_engine(&mut self, slot: usize) {
        let Some(Entry::Conn(c)) = self.entries.get_mut(slot) else {
            return;
        };
        let ConnEntry {
            conn,
            handler,
            engine,
            ending,
            pings,
            deadlines,
            timeouts,
            transport,
            hs_out,
            phase,
            ..
        } = &mut **c;
        let conn: &Conn = conn;
        let Some(handler) = handler.as_deref_mut() else {
            return;
        };
        // A handler may pause reading in `on_message`: the next event waits.
        while !conn.shared.holds_input()
            && let Some((event, sender)) = engine.next_event()
        {
            let mut ctx = Ctx {
                conn,
                sender: Some(sender),
                direct: direct_socket(phase, transport, hs_out),
            };
            match event {
                Event::Message { kind, data } => handler.on_message(&mut ctx, kind, data, true),
                Event::Fragment { kind, data, fin } => {
                    handler.on_message(&mut ctx, kind, data, fin)
                }
                Event::Ping(data) => handler.on_ping(&mut ctx, data),
                Event::Pong(data) => {
                    let rtt = pong_rtt(pings, conn, data);
                    // Any pong shows the peer is alive: the keepalive wait is over.
                    if deadlines.get(TimerKind::Pong).is_some()
                        && let Some(keepalive) = timeouts.keepalive
                    {
                        deadlines.cancel(TimerKind::Pong);
                        let (id, interval) = (conn.shared.id, keepalive.interval);
                        self.timers
                            .schedule(deadlines, slot, id, TimerKind::Ping, interval);
                    }
                    handler.on_pong(&mut ctx, data, rtt);
                }
                Event::Close { code, reason } => ending.close = Some((code, reason.to_owned())),
                Event::Error(e) => {
                    ending.close = Some((e.close_code(), e.to_string()));
                    ending.failed = true;
                    handler.on_error(conn, &e.into());
                }
            }
        }
        self.after_engine(slot);
    }

    /// Acts on the engine's state after something changed it: the close
    /// timeout once our close frame is out, and a flush.
    pub fn after_engine(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        c.sync_state();
        let closing = c.engine.state() != State::Open;
        let has_close_timer = c.deadlines.get(TimerKind::Close).is_some();
        let close_after = c.timeouts.close;
        if closing {
            c.deadlines.cancel(TimerKind::Ping);
            c.deadlines.cancel(TimerKind::Pong);
            c.deadlines.cancel(TimerKind::Idle);
            if !has_close_timer {
                self.schedule(slot, TimerKind::Close, close_after);
            }
        }
        self.mark_dirty(slot);
    }

    /// The peer closed its side of the TCP connection.
    fn on_eof(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        match &mut c.phase {
            Phase::ClientHandshake(hs) => {
                let error = hs.feed_eof().into();
                self.fail(slot, error);
            }
            Phase::Tunnel(t) => {
                let error = t.eof_error();
                self.fail(slot, error);
            }
            Phase::ServerHandshake(_) | Phase::Refusing => self.drop_silently(slot),
            // The close handshake is over: our last frames still go out
            // (the peer may have closed only its sending side), then the end.
            Phase::Open if c.engine.state() == State::Closed => self.flush(slot),
            Phase::AwaitEof => {
                let (code, reason, clean) = c.ending();
                self.finish(slot, code, &reason, clean);
            }
            Phase::Open => self.fail(
                slot,
                Error::new(
                    ErrorKind::Closed,
                    "the peer closed the connection without a close handshake",
                ),
            ),
            Phase::Resolving(_) | Phase::Connecting(_) | Phase::Waiting => {}
        }
    }

    /// Writes the output of every connection that has some.
    fn flush_dirty(&mut self) {
        for _ in 0..ROUNDS {
            if self.dirty.is_empty() {
                return;
            }
            for slot in std::mem::take(&mut self.dirty) {
                if let Some(c) = self.conn_mut(slot) {
                    c.dirty = false;
                    self.flush(slot);
                }
            }
        }
    }

    /// Writes one connection's output; then closes the transport if the
    /// connection is over, fires `on_writable` if owed, resumes paused reads.
    fn flush(&mut self, slot: usize) {
        let Some(Entry::Conn(c)) = self.entries.get_mut(slot) else {
            return;
        };
        // Nothing goes out before TCP stands, and the connect's completion
        // arrives as writability: dropping WRITABLE interest now (a stale
        // dirty mark of this slot's previous connection) would lose it.
        if matches!(c.phase, Phase::Resolving(_) | Phase::Connecting(_)) {
            return;
        }
        let done = match c.write_out() {
            Ok(done) => done,
            Err(e) => {
                let (code, reason, _) = c.ending();
                if c.engine.state() == State::Closed {
                    // Both sides are done with the protocol; the transport just went first.
                    self.finish(slot, code, &reason, false);
                } else {
                    let error = describe("writing to the connection failed", &e);
                    self.fail(slot, error);
                }
                return;
            }
        };
        let pending = c.publish_pending();
        if c.write_interest == done
            && let Some(t) = c.transport.as_mut()
        {
            let interest = if done {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut t.tcp, Token(slot), interest)
                .is_ok()
            {
                c.write_interest = !done;
            }
        }
        match c.phase {
            Phase::Refusing if done => {
                // Close our side, then read what the client still sends until
                // it closes too: closing with unread input would reset the
                // connection and could destroy the response before it is read.
                if let Some(t) = c.transport.as_mut() {
                    t.shutdown_write();
                }
                c.phase = Phase::AwaitEof;
                c.deadlines.cancel(TimerKind::Handshake);
                let linger = c.timeouts.close;
                self.schedule(slot, TimerKind::Close, linger);
                return;
            }
            Phase::Open if done && c.engine.state() == State::Closed => {
                return self.close_transport(slot);
            }
            Phase::Open => {}
            _ => return,
        }
        let shared = c.conn.shared.clone();
        if pending.saturating_add(shared.queued.load(Ordering::Acquire)) >= shared.low_water {
            return;
        }
        if c.read_paused {
            c.read_paused = false;
            self.backlog.push((slot, shared.id));
        }
        if shared.blocked.swap(false, Ordering::AcqRel) {
            if let Some(handler) = c.handler.as_deref_mut() {
                let mut ctx = Ctx {
                    conn: &c.conn,
                    sender: Some(c.engine.sender()),
                    direct: direct_socket(&c.phase, &mut c.transport, &c.hs_out),
                };
                handler.on_writable(&mut ctx);
            }
            self.after_engine(slot);
        }
    }

    /// The engine is closed and the output is out. After a full close
    /// handshake the server closes TCP at once (RFC 6455 section 7.1.1). In
    /// every other case (a client, or a server that failed the connection
    /// while the peer may still be sending) our side is shut and the peer's
    /// input is read and dropped until it closes or the close timeout
    /// passes: closing with unread input would reset the connection and
    /// could destroy our close frame before the peer reads it.
    fn close_transport(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        let server_first = c.engine.role() == Role::Server && c.engine.close_received();
        if server_first || c.eof {
            if let Some(t) = c.transport.as_mut() {
                t.shutdown_write();
            }
            let (code, reason, clean) = c.ending();
            self.finish(slot, code, &reason, clean);
        } else {
            if c.engine.role() == Role::Server
                && let Some(t) = c.transport.as_mut()
            {
                t.shutdown_write();
            }
            c.phase = Phase::AwaitEof;
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            let due = match self.entries.get_mut(timer.slot) {
                Some(Entry::Conn(c)) => {
                    c.conn.shared.id == timer.owner && c.deadlines.take_due(&timer)
                }
                Some(Entry::Listener(l)) => l.id == timer.owner && l.deadlines.take_due(&timer),
                None => false,
            };
            if due {
                self.on_timer(timer.slot, timer.kind);
            }
        }
    }

    fn on_timer(&mut self, slot: usize, kind: TimerKind) {
        if kind == TimerKind::Shutdown {
            return self.shutdown_timeout(slot);
        }
        if kind == TimerKind::Reconnect {
            return self.start_attempt(slot);
        }
        let Some(c) = self.conn_mut(slot) else { return };
        let timeouts = c.timeouts;
        let seconds = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        match kind {
            TimerKind::Connect => {
                let error = self.connect_timeout_error(slot);
                self.fail(slot, error);
            }
            TimerKind::Handshake => {
                let message = format!(
                    "the handshake did not finish within {}",
                    seconds(timeouts.handshake)
                );
                self.fail(slot, Error::new(ErrorKind::Timeout, message));
            }
            TimerKind::Ping => {
                let Some(keepalive) = timeouts.keepalive else {
                    return;
                };
                c.pings_sent += 1;
                let payload = c.pings_sent.to_be_bytes();
                if c.ping(&payload) {
                    self.schedule(slot, TimerKind::Pong, keepalive.timeout);
                    self.mark_dirty(slot);
                }
            }
            TimerKind::Pong => {
                let wait = timeouts.keepalive.map_or(Duration::ZERO, |k| k.timeout);
                let message = format!("no answer to a keepalive ping within {}", seconds(wait));
                self.fail(slot, Error::new(ErrorKind::Timeout, message));
            }
            TimerKind::Idle => {
                let Some(idle) = timeouts.idle else { return };
                let quiet = c.last_rx.elapsed();
                if quiet >= idle {
                    let message = format!("nothing received for {}", seconds(idle));
                    self.fail(slot, Error::new(ErrorKind::Timeout, message));
                } else {
                    self.schedule(slot, TimerKind::Idle, idle - quiet);
                }
            }
            TimerKind::Close => {
                if matches!(c.phase, Phase::AwaitEof) {
                    let (code, reason, clean) = c.ending();
                    self.finish(slot, code, &reason, clean);
                } else {
                    let message = format!(
                        "the peer did not complete the close handshake within {}",
                        seconds(timeouts.close)
                    );
                    self.fail(slot, Error::new(ErrorKind::Timeout, message));
                }
            }
            TimerKind::Shutdown | TimerKind::Reconnect => {}
        }
    }

    /// The handshake finished: the handle turns open, keepalive and idle
    /// timers start.
    pub fn start_open(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        c.phase = Phase::Open;
        c.deadlines.cancel(TimerKind::Handshake);
        c.last_rx = Instant::now();
        c.conn
            .shared
            .transition(ConnState::Connecting, ConnState::Open);
        let timeouts = c.timeouts;
        if let Some(keepalive) = timeouts.keepalive {
            self.schedule(slot, TimerKind::Ping, keepalive.interval);
        }
        if let Some(idle) = timeouts.idle {
            self.schedule(slot, TimerKind::Idle, idle);
        }
        self.mark_dirty(slot);
    }

    /// Reports `error` to whoever handles the connection, then ends it: 1006,
    /// or the engine's code if it failed the connection itself.
    pub fn fail(&mut self, slot: usize, error: Error) {
        let Some(c) = self.conn_mut(slot) else { return };
        let error = name_the_hop(&c.phase, error);
        if let Some(redial) = c.redial.as_deref_mut() {
            redial.last_error = Some(error.clone());
        }
        if let Some(handler) = c.handler.as_deref_mut() {
            handler.on_error(&c.conn, &error);
        } else if let Some((server_slot, server_id)) = c.server {
            self.server_error(server_slot, server_id, &error);
        }
        let Some(c) = self.conn_mut(slot) else { return };
        let (code, reason) = match &c.ending.close {
            Some((code, reason)) if c.ending.failed => (*code, reason.clone()),
            _ => (CloseCode::ABNORMAL, error.to_string()),
        };
        c.conn.shared.set_failure(Some(error));
        self.finish(slot, code, &reason, false);
        // Still in the table: a reconnecting client goes on.
        if let Some(c) = self.conn_mut(slot) {
            c.conn.shared.set_failure(None);
        }
    }

    /// Removes a connection that never reached the application.
    pub fn drop_silently(&mut self, slot: usize) {
        self.finish(slot, CloseCode::ABNORMAL, "", false);
    }

    /// Removes the connection from the table and delivers its last event.
    pub fn finish(&mut self, slot: usize, code: CloseCode, reason: &str, clean: bool) {
        if self.retry(slot, code, reason, clean) {
            return;
        }
        let Some(Entry::Conn(mut c)) = self.entries.try_remove(slot) else {
            return;
        };
        if let Some(t) = c.transport.as_mut() {
            let _ = self.poll.registry().deregister(&mut t.tcp);
        }
        c.conn.shared.set_state(ConnState::Closed);
        // After the state turned closed, so no subscription can follow.
        if let Some(server) = c.conn.shared.server.get() {
            server.topics.leave_all(c.conn.shared.id);
        }
        c.conn.shared.slot.store(usize::MAX, Ordering::Release);
        c.conn.shared.pending.store(0, Ordering::Release);
        let pending = matches!(c.phase, Phase::ServerHandshake(_)).then_some(c.conn.shared.id);
        if let Some((server_slot, server_id)) = c.server {
            self.server_conn_gone(server_slot, server_id, pending);
        }
        drop(c.transport.take());
        if let Some(mut handler) = c.handler.take() {
            handler.on_close(
                &c.conn,
                &Close {
                    code,
                    reason,
                    clean,
                },
            );
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
        for command in self.shared.set_gone() {
            match command {
                Command::Connect(request) => {
                    let ConnectRequest {
                        conn, mut handler, ..
                    } = *request;
                    conn.set_state(ConnState::Closed);
                    let close = Close {
                        code: CloseCode::ABNORMAL,
                        reason: "the event loop stopped",
                        clean: false,
                    };
                    handler.on_close(&self.conn_handle(conn), &close);
                }
                Command::Listen(mut request) => request.handler.on_shutdown(),
                _ => {}
            }
        }
        let slots: Vec<usize> = self.entries.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            match self.entries.get(slot) {
                Some(Entry::Conn(_)) => {
                    self.finish(slot, CloseCode::ABNORMAL, "the event loop stopped", false)
                }
                Some(Entry::Listener(_)) => self.remove_listener(slot),
                None => {}
            }
        }
    }
}
