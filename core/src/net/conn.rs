//! One connection inside the loop: its phase, socket, engine, handler and
//! deadlines, and the parts of its I/O that need nothing else of the loop.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::config::Keepalive;
use super::dial::Dial;
use super::handle::Conn;
use super::handler::Handler;
use super::redial::Redial;
use super::socket::Stream;
use super::state::{ConnState, Ending};
use super::timer::Deadlines;
use super::transport::Transport;
use super::tunnel::TunnelDial;
use super::{tally, telemetry};
use crate::proto::extension::deflate::Agreement;
use crate::proto::handshake::{ClientHandshake, Request, ServerHandshake};
use crate::proto::{CloseCode, Connection, State};

/// Most pieces of output handed to one vectored write.
const MAX_WRITE_PARTS: usize = 64;

/// Most unanswered pings remembered per connection.
const MAX_PINGS_TRACKED: usize = 8;

/// Where a connection is in its life.
pub(super) enum Phase {
    /// Client: waiting for the name lookup.
    Resolving(Box<Dial>),
    /// Client: a TCP connect to `dial.addrs[dial.next - 1]` is under way.
    Connecting(Box<Dial>),
    /// Client: the proxy's handshake (after TLS to the proxy, if any).
    Tunnel(Box<TunnelDial>),
    /// Client: TLS and WebSocket handshakes.
    ClientHandshake(Box<ClientHandshake>),
    /// Server: reading the request (TLS first when configured).
    ServerHandshake(Box<ServerHandshake>),
    /// Server: the application postponed its decision on the request
    /// (nothing is read meanwhile).
    Deciding(Box<Deciding>),
    /// Server: writing a refusal, then closing.
    Refusing,
    /// The engine runs (also during the close handshake).
    Open,
    /// Our side is done (client: both close frames passed; server: a
    /// refusal was written); waiting for the peer to close TCP.
    AwaitEof,
    /// Client: between attempts (before the first, or waiting to reconnect).
    Waiting,
    /// Client: the before-connect hook postponed the attempt; these are
    /// the headers it has so far.
    Preparing(Vec<(String, String)>),
}

/// A request whose accept decision was postponed, and what answering it
/// needs.
pub(super) struct Deciding {
    pub request: Request,
    /// Bytes that came after the request.
    pub leftover: Vec<u8>,
    /// The connection's handler, if accepted.
    pub handler: Box<dyn Handler>,
    /// The permessage-deflate answer and agreement, if negotiated.
    pub deflate: Option<(String, Agreement)>,
    /// What the upgrade event held when it returned.
    pub subprotocol: Option<String>,
    pub headers: Vec<(String, String)>,
    /// For a plain HTTP request: the 426 it gets if the application does
    /// not answer it (accepting it is not answering it).
    pub fallback: Option<crate::proto::handshake::Rejection>,
}

/// The timeouts that apply to one connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    pub handshake: Duration,
    pub close: Duration,
    pub keepalive: Option<Keepalive>,
    pub idle: Option<Duration>,
}

/// A connection in the loop's table.
pub(super) struct ConnEntry {
    pub conn: Conn,
    pub handler: Option<Box<dyn Handler>>,
    pub phase: Phase,
    pub transport: Option<Transport>,
    pub engine: Connection,
    /// Handshake bytes (request, response or refusal) not yet written; they
    /// go out before anything of the engine.
    pub hs_out: Vec<u8>,
    pub deadlines: Deadlines,
    pub timeouts: Timeouts,
    /// Whether the socket is registered for writability too.
    pub write_interest: bool,
    /// Whether the slot is in the loop's list of connections to flush.
    pub dirty: bool,
    /// Reading stopped because too much output waits (a slow reader).
    pub read_paused: bool,
    /// The peer closed its sending side.
    pub eof: bool,
    pub last_rx: Instant,
    /// Payloads and send times of the pings awaiting their pongs (the most
    /// recent few).
    pub pings: VecDeque<(Vec<u8>, Instant)>,
    pub pings_sent: u64,
    pub ending: Ending,
    /// The listening server's slot and id, for a server-side connection.
    pub server: Option<(usize, u64)>,
    /// A client's attempts: how to make the next one, and whether to.
    pub redial: Option<Box<Redial>>,
    /// The connection opened and is counted among the open ones.
    pub opened: bool,
}

impl ConnEntry {
    pub fn new(conn: Conn, mut engine: Connection, phase: Phase, timeouts: Timeouts) -> ConnEntry {
        // Pull mode answers what arrived before a protocol error first.
        engine.set_defer_failure(conn.shared.inbox.is_some());
        ConnEntry {
            conn,
            handler: None,
            phase,
            transport: None,
            engine,
            hs_out: Vec::new(),
            deadlines: Deadlines::default(),
            timeouts,
            write_interest: false,
            dirty: false,
            read_paused: false,
            eof: false,
            last_rx: Instant::now(),
            pings: VecDeque::new(),
            pings_sent: 0,
            ending: Ending::default(),
            server: None,
            redial: None,
            opened: false,
        }
    }

    /// A fresh engine for the next connection of a reconnecting client.
    pub fn renew_engine(&mut self) {
        let mut engine = Connection::new(self.engine.role(), self.engine.config().clone());
        engine.set_defer_failure(self.conn.shared.inbox.is_some());
        self.engine = engine;
    }

    /// A deferred protocol error's close frame goes out now (pull mode: the
    /// application took every message that came before the error, or the
    /// close timeout passed).
    pub fn fail_deferred(&mut self) {
        self.engine.fail_deferred();
    }

    /// Whether the server is still in the handshake (it counts among the
    /// unfinished handshakes).
    pub fn in_server_handshake(&self) -> bool {
        matches!(self.phase, Phase::ServerHandshake(_) | Phase::Deciding(_))
    }

    /// Whether input is left in the socket: the application decides
    /// something first, or holds it back.
    pub fn holds_reads(&self) -> bool {
        self.read_paused
            || self.eof
            || matches!(self.phase, Phase::Deciding(_))
            || self.conn.shared.holds_input()
    }

    /// Whether engine output may go to the socket (the handshake is done).
    pub fn engine_live(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::AwaitEof)
    }

    /// Bytes of engine output not yet written.
    pub fn engine_pending(&mut self) -> usize {
        self.engine.sender().buffered_amount()
    }

    /// Writes what it can: handshake bytes, then engine output, then what TLS
    /// holds. `Ok(true)` once nothing is left.
    pub fn write_out(&mut self) -> io::Result<bool> {
        let live = self.engine_live();
        let Some(transport) = self.transport.as_mut() else {
            return Ok(true);
        };
        loop {
            let (written, from_engine) = if !self.hs_out.is_empty() {
                (transport.write(&self.hs_out), false)
            } else if live && self.engine.sender().buffered_amount() > 0 {
                // Frames shared with other connections are separate pieces.
                let mut parts = [IoSlice::new(&[]); MAX_WRITE_PARTS];
                let filled = self.engine.sender().pending_slices(&mut parts);
                (transport.write_vectored(&parts[..filled]), true)
            } else {
                break;
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) if from_engine => self.engine.sender().consume(n),
                // The handshake is over: its buffer is not kept (an idle
                // connection's memory counts at scale).
                Ok(n) if n == self.hs_out.len() => self.hs_out = Vec::new(),
                Ok(n) => {
                    self.hs_out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        match transport.flush() {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Queues a ping and remembers when it left, for its round trip.
    pub fn ping(&mut self, data: &[u8]) -> bool {
        if self.engine.state() != State::Open || self.engine.sender().ping(data).is_err() {
            return false;
        }
        if self.pings.len() == MAX_PINGS_TRACKED {
            self.pings.pop_front();
        }
        self.pings.push_back((data.to_vec(), Instant::now()));
        true
    }

    /// Publishes the engine's output size for [`Conn::buffered_amount`].
    pub fn publish_pending(&mut self) -> usize {
        let pending = self.engine_pending();
        self.set_pending(pending);
        pending
    }

    /// Publishes `pending` as the output size, and its change to the
    /// queued-bytes gauges.
    pub fn set_pending(&self, pending: usize) {
        // Only the loop's thread writes it: no read-modify-write needed.
        let old = self.conn.shared.pending.load(Ordering::Relaxed);
        self.conn.shared.pending.store(pending, Ordering::Release);
        if old != pending {
            tally::count(&self.conn, |c| c.queued_change(old, pending));
        }
    }

    /// The connection opened: counted and logged.
    pub fn note_opened(&mut self) {
        if self.opened {
            return;
        }
        self.opened = true;
        tally::count(&self.conn, telemetry::Counters::opened);
        let peer = self.conn.shared.peer_addr();
        let peer = peer.map_or_else(|| "?".to_owned(), |a| a.to_string());
        let side = if self.server.is_some() { "from" } else { "to" };
        log::info!(target: telemetry::target::CONN, "connection {} opened {side} {peer}", self.conn.shared.id);
    }

    /// The connection that opened ended (a reconnecting client's entry
    /// stays for the next one): counted by code and logged.
    pub fn note_closed(&mut self, code: CloseCode, reason: &str, clean: bool) {
        if !std::mem::take(&mut self.opened) {
            return;
        }
        tally::count(&self.conn, |c| c.closed(code.0));
        log::info!(target: telemetry::target::CONN, "connection {} closed: code {} reason {reason:?} clean {clean}", self.conn.shared.id, code.0);
    }

    /// The public state this entry is in: derived from the phase and the
    /// engine's close state, never kept apart from them.
    fn derived_state(&self) -> ConnState {
        match self.phase {
            Phase::Open if self.engine.state() == State::Open => ConnState::Open,
            Phase::Open | Phase::AwaitEof if self.has_application() => ConnState::Closing,
            _ => ConnState::Connecting,
        }
    }

    /// Whether the application has the connection (a client always; a
    /// server once it accepted): a refusal's `AwaitEof` never did.
    fn has_application(&self) -> bool {
        self.handler.is_some()
    }

    /// The transition function: moves to `phase` and publishes the state it
    /// implies. The one other write is [`ConnState::Closed`] when the entry
    /// leaves the table.
    pub fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.publish_state();
    }

    /// Publishes the state after the engine's close state changed.
    pub fn publish_state(&self) {
        self.conn.shared.set_state(self.derived_state());
    }

    /// The close event's code, reason and cleanliness once the engine
    /// closed: the peer's close frame (ours after a protocol error), or
    /// 1006 when none came.
    pub fn ending(&mut self) -> (CloseCode, String, bool) {
        if self.engine_live() {
            self.ending.absorb(&self.engine);
        }
        let clean = !self.ending.failed && self.engine.state() == State::Closed;
        match self.ending.reported() {
            Some((code, reason)) => (code, reason.to_owned(), clean),
            None => (CloseCode::ABNORMAL, String::new(), false),
        }
    }
}

/// The socket a connection's messages may be written to directly: plain
/// TCP, once the connection is open and the handshake's bytes are out.
pub(super) fn direct_socket<'a>(
    phase: &Phase,
    transport: &'a mut Option<Transport>,
    hs_out: &[u8],
) -> Option<&'a mut Stream> {
    if matches!(phase, Phase::Open) && hs_out.is_empty() {
        transport.as_mut()?.plain()
    } else {
        None
    }
}

/// The round trip of the ping `pong` answers, if it answers one of ours
/// (older unanswered pings are forgotten); it becomes the handle's rtt.
pub(super) fn pong_rtt(
    pings: &mut VecDeque<(Vec<u8>, Instant)>,
    conn: &Conn,
    pong: &[u8],
) -> Option<Duration> {
    let at = pings.iter().position(|(data, _)| data.as_slice() == pong)?;
    let (_, sent) = pings.drain(..=at).next_back()?;
    let rtt = sent.elapsed();
    conn.shared.set_rtt(rtt);
    let micros = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
    tally::count(conn, |c| c.rtt(micros));
    // The loop's own too (rare: once per ping), so its figure is the latest.
    conn.lp.counters().rtt(micros);
    Some(rtt)
}
