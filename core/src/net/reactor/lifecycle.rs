//! How connections open and end: the open transition, closing, failing with
//! an error, and leaving the table with the close event (or another attempt).

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Entry, Reactor};
use crate::net::conn::Phase;
use crate::net::error::Error;
use crate::net::handler::{Close, Ctx, Open};
use crate::net::timer::{Deadlines, TimerKind};
use crate::proto::{CloseCode, State};

impl Reactor {
    /// The handshake finished: the handle turns open, keepalive and idle
    /// timers start.
    /// Runs the open event, then gives the engine the bytes that came after
    /// the handshake.
    pub(super) fn deliver_open(&mut self, slot: usize, open: &Open<'_>, leftover: &[u8]) {
        let Some(c) = self.conn_mut(slot) else { return };
        if let Some(handler) = c.handler.as_deref_mut() {
            let mut ctx = Ctx {
                conn: &c.conn,
                sender: Some(c.engine.sender()),
                direct: None,
            };
            handler.on_open(&mut ctx, open);
        }
        c.engine.feed(leftover);
        self.run_engine(slot);
    }

    pub fn start_open(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        c.set_phase(Phase::Open);
        c.note_opened();
        c.deadlines.cancel(TimerKind::Handshake);
        c.last_rx = Instant::now();
        let timeouts = c.timeouts;
        if let Some(keepalive) = timeouts.keepalive {
            self.schedule(slot, TimerKind::Ping, keepalive.interval);
        }
        if let Some(idle) = timeouts.idle {
            self.schedule(slot, TimerKind::Idle, idle);
        }
        self.mark_dirty(slot);
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

    /// Reports `error` to whoever handles the connection, then ends it: 1006,
    /// or the engine's code if it failed the connection itself.
    pub fn fail(&mut self, slot: usize, error: Error) {
        let Some(c) = self.conn_mut(slot) else { return };
        let error = match &c.phase {
            Phase::Tunnel(t) => t.name_the_hop(error),
            _ => error,
        };
        if let Some(redial) = c.redial.as_deref_mut() {
            redial.last_error = Some(error.clone());
        }
        if let Some(handler) = c.handler.as_deref_mut() {
            handler.on_error(&c.conn, &error);
        } else if let Some((server_slot, server_id)) = c.server {
            self.server_error(server_slot, server_id, &error);
        }
        let Some(c) = self.conn_mut(slot) else { return };
        let (code, reason) = match &c.ending.sent {
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
            let _ = self.poll.registry().deregister(&mut t.stream);
        }
        if c.engine_live() {
            c.ending.absorb(&c.engine);
        }
        c.note_closed(code, reason, clean);
        let close = Close::new(&c.ending, code, reason, clean);
        c.conn.shared.end(close.to_info());
        // After the state turned closed, so no subscription can follow.
        if let Some(server) = c.conn.shared.server.get() {
            if server.topics.leave_all(c.conn.shared.id) {
                crate::net::pubsub::sync_cluster(server);
            }
        }
        c.conn.shared.slot.store(usize::MAX, Ordering::Release);
        c.set_pending(0);
        let pending = c.in_server_handshake().then_some(c.conn.shared.id);
        if let Some((server_slot, server_id)) = c.server {
            self.server_conn_gone(server_slot, server_id, pending);
        }
        drop(c.transport.take());
        // Most connections end on a read (an end of stream, a reset), so
        // with a read buffer: it serves the next reader, not a fresh zeroed
        // 64 KiB per connection.
        if let Some(buf) = c.engine.release_read_buf() {
            self.keep_read_buf(buf);
        }
        if let Some(mut handler) = c.handler.take() {
            handler.on_close(&c.conn, &close);
        }
    }

    /// A client's connection or attempt ended: when its policy says to try
    /// again, tells the handler, resets the entry and schedules the next
    /// attempt, and returns true; false lets the connection finish.
    pub fn retry(&mut self, slot: usize, code: CloseCode, reason: &str, clean: bool) -> bool {
        if self.shared.is_gone() {
            return false;
        }
        let Some(c) = self.conn_mut(slot) else {
            return false;
        };
        let app_closed = c.conn.shared.app_closed.load(Ordering::Acquire);
        let Some((attempt, delay)) = c
            .redial
            .as_deref_mut()
            .and_then(|r| r.next_attempt(app_closed, code))
        else {
            return false;
        };
        if let Some(mut t) = c.transport.take() {
            let _ = self.registry().deregister(&mut t.stream);
        }
        let Some(c) = self.conn_mut(slot) else {
            return false;
        };
        // Messages queued before any connection opened wait in the engine;
        // one that carried a connection starts afresh.
        if c.engine_live() {
            c.ending.absorb(&c.engine);
            c.renew_engine();
            // A fragmented message being sent ended with that engine.
            *c.conn.shared.outgoing() = Default::default();
        }
        let ending = std::mem::take(&mut c.ending);
        c.note_closed(code, reason, clean);
        c.set_phase(Phase::Waiting);
        c.deadlines = Deadlines::default();
        c.hs_out.clear();
        c.eof = false;
        c.read_paused = false;
        c.write_interest = false;
        c.pings.clear();
        c.conn.shared.reconnecting.store(true, Ordering::Release);
        c.publish_pending();
        if let Some(handler) = c.handler.as_deref_mut() {
            handler.on_disconnect(&c.conn, &Close::new(&ending, code, reason, clean));
        }
        self.notify_connecting(slot, attempt, delay);
        // The handler may have closed the client meanwhile: its close
        // command ends it without waiting.
        self.schedule(slot, TimerKind::Reconnect, delay);
        true
    }
}
