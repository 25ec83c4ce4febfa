//! Counting a connection's events in the telemetry counters it belongs to
//! (see [`super::telemetry`]), from the loop's thread.

use super::handle::Conn;
use super::telemetry::{Counters, target};
use crate::proto::Event;

/// Applies `f` to the counters `conn` counts in: its server's part's on its
/// loop for a server's connection, else its loop's (whose figures add its servers' up
/// when read: one set of counters per event on the hot path).
#[inline(always)]
pub(super) fn count(conn: &Conn, f: impl Fn(&Counters)) {
    match conn.shared.server.get() {
        Some(server) => f(&server.parts[conn.shared.part].counters),
        None => f(conn.lp.counters()),
    }
}

/// Counts a received message or fragment; logs a protocol error.
#[inline(always)]
pub(super) fn received(conn: &Conn, event: &Event<'_>) {
    match event {
        Event::Message { data, .. } => count(conn, |c| c.message_in(data.len(), true)),
        Event::Fragment { data, fin, .. } => count(conn, |c| c.message_in(data.len(), *fin)),
        Event::Error(e) => protocol_error(conn, e),
        _ => {}
    }
}

/// Kept out of the read path's code.
#[cold]
#[inline(never)]
fn protocol_error(conn: &Conn, e: &crate::proto::ProtocolError) {
    count(conn, Counters::protocol_error);
    log::warn!(target: target::PROTOCOL, "connection {} protocol error (close {}): {e}", conn.shared.id, e.close_code().0);
}

/// Counts a message (or a fragment's bytes) queued for sending.
#[inline(always)]
pub(super) fn sent(conn: &Conn, len: usize, whole: bool) {
    count(conn, |c| c.message_out(len, whole));
}
