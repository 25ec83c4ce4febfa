//! The write path: coalesced writes of every connection with output, the
//! writable event, and closing the transport once the close handshake is out.

use std::sync::atomic::Ordering;

use mio::{Interest, Token};

use super::{Entry, ROUNDS, Reactor};
use crate::net::conn::{Phase, direct_socket};
use crate::net::handler::Ctx;
use crate::net::timer::TimerKind;
use crate::net::transport::describe;
use crate::proto::{Role, State};

impl Reactor {
    /// Acts on the engine's state after something changed it: the close
    /// timeout once our close frame is out, and a flush.
    pub fn after_engine(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        c.publish_state();
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

    /// Writes the output of every connection that has some.
    pub(super) fn flush_dirty(&mut self) {
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
    pub(super) fn flush(&mut self, slot: usize) {
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
                .reregister(&mut t.stream, Token(slot), interest)
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
            shared.notify_writable();
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
    pub(super) fn close_transport(&mut self, slot: usize) {
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
}
