//! The read path: readiness, reads into the engine (or the handshake), the
//! engine's events to the handler, and the end of the peer's stream.

use std::io;
use std::time::Instant;

use super::{
    Entry, MAX_READ, READ_BUDGET, READ_CHUNK, Reactor, Readiness, SHORT_READ_DRAINS,
    SPARE_READ_BUFS,
};
use crate::net::conn::{ConnEntry, Phase, direct_socket, pong_rtt};
use crate::net::error::{Error, ErrorKind};
use crate::net::handle::Conn;
use crate::net::handler::Ctx;
use crate::net::inbox::{Inbox, Message};
use crate::net::queue::Work;
use crate::net::shared::Command;
use crate::net::tally;
use crate::net::timer::TimerKind;
use crate::net::transport::describe;
use crate::proto::{Event, State};

impl Reactor {
    pub(super) fn on_ready(&mut self, slot: usize, ready: Readiness) {
        match self.entries.get(slot) {
            Some(Entry::Listener(_)) => self.accept(slot),
            Some(Entry::BrokerLink(_)) => self.link_ready(slot),
            Some(Entry::Broker(_)) => {}
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
    pub(super) fn on_readable(&mut self, slot: usize, short_read_drains: bool) {
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut budget = READ_BUDGET;
        while budget > 0 {
            let Some(Entry::Conn(c)) = self.entries.get_mut(slot) else {
                break;
            };
            if c.holds_reads() {
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
                    let take = into.len().min(MAX_READ);
                    let into = &mut into[..take];
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
                    // A short read drained the socket: once open, at a
                    // message boundary (the buffer went back); in the
                    // handshake at once (its bytes are all in `buf`).
                    let released = self.release_read_buf(slot);
                    if drained && (released || !open) {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Both close frames passed and only the peer's TCP close was
                // awaited: a reset (a peer closing with unread input) ends
                // the connection as cleanly as an end of stream would.
                Err(e)
                    if e.kind() == io::ErrorKind::ConnectionReset
                        && matches!(c.phase, Phase::AwaitEof) =>
                {
                    c.eof = true;
                    self.on_eof(slot);
                    break;
                }
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
    pub(super) fn release_read_buf(&mut self, slot: usize) -> bool {
        let Some(Entry::Conn(c)) = self.entries.get_mut(slot) else {
            return false;
        };
        if !matches!(c.phase, Phase::Open) {
            return false;
        }
        let Some(buf) = c.engine.release_read_buf() else {
            return false;
        };
        self.keep_read_buf(buf);
        true
    }

    /// Keeps a read buffer for the next reader, within [`SPARE_READ_BUFS`].
    pub(super) fn keep_read_buf(&mut self, buf: Vec<u8>) {
        if self.spare_read_bufs.len() < SPARE_READ_BUFS && buf.len() <= 2 * READ_CHUNK {
            self.spare_read_bufs.push(buf);
        }
    }

    /// A peer that sends faster than it reads, so that our automatic replies
    /// (pongs) pile up past twice the high-water mark, is not read from until
    /// the output drains below the low-water mark. (Sends alone stay within
    /// the marks, so two peers sending to each other never both stop reading.)
    pub(super) fn hold_back_reads(&mut self, slot: usize) {
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
    pub(super) fn on_input(&mut self, slot: usize, data: &[u8]) {
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
            | Phase::Deciding(_)
            | Phase::Preparing(_)
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
            tally::received(conn, &event);
            match event {
                Event::Message { kind, data } => match &conn.shared.inbox {
                    Some(inbox) => {
                        let data = data.to_vec();
                        if inbox.put(Message { kind, data }).first {
                            handler.on_readable(&mut ctx);
                        }
                    }
                    None => handler.on_message(&mut ctx, kind, data, true),
                },
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
                Event::Close { code, reason } => ending.rcvd(code, reason),
                Event::Error(e) => {
                    ending.failure(e.close_code(), e.to_string());
                    handler.on_error(conn, &e.into());
                }
            }
        }
        if engine.failure_deferred() {
            // Pull mode: the application answers what came before the error
            // first; the close timeout bounds the wait.
            let (id, wait) = (conn.shared.id, timeouts.close);
            self.timers
                .schedule(deadlines, slot, id, TimerKind::Close, wait);
            if conn
                .shared
                .inbox
                .as_deref()
                .is_none_or(Inbox::fail_when_idle)
            {
                // The receiver is idle: it queued its answers already, so
                // the failure goes behind them in the loop's queue.
                let conn = conn.shared.clone();
                let _ = self.shared.push(Work::Command(Command::FailNow { conn }));
            }
        }
        self.after_engine(slot);
    }

    /// Delivers input held back while reading was paused: what the engine
    /// already buffered, then (next in this turn) what the socket holds.
    pub(super) fn resume_input(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        let id = c.conn.shared.id;
        if matches!(c.phase, Phase::Open) {
            self.run_engine(slot);
        }
        self.backlog.push((slot, id));
    }

    /// The peer closed its side of the TCP connection.
    pub(super) fn on_eof(&mut self, slot: usize) {
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
            Phase::ServerHandshake(_) | Phase::Deciding(_) | Phase::Refusing => {
                self.drop_silently(slot)
            }
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
            Phase::Resolving(_) | Phase::Connecting(_) | Phase::Preparing(_) | Phase::Waiting => {}
        }
    }
}
