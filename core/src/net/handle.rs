//! The thread-safe handles of a connection and a server: what they ask for
//! is checked here, then queued for the loop as a [`Command`].

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use super::error::{Error, ErrorKind};
use super::fragments::Outgoing;
use super::identity::PeerIdentity;
use super::inbox::{Inbox, Message, Take};
use super::peer::PeerAddr;
use super::shared::{Command, ConnShared, LoopLink, ServerShared};
use super::state::{CloseInfo, ConnState};
use crate::proto::{CloseCode, MAX_CONTROL_PAYLOAD, MessageKind, check_close};

/// A connection, usable from any thread. Using it after it closed returns
/// [`super::ErrorKind::Closed`].
#[derive(Clone)]
pub struct Conn {
    pub(super) shared: Arc<ConnShared>,
    pub(super) lp: Arc<dyn LoopLink>,
}

/// A listening server, usable from any thread.
#[derive(Clone)]
pub struct Server {
    pub(super) shared: Arc<ServerShared>,
    pub(super) lp: Arc<dyn LoopLink>,
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the connection is closing or closed")
}

/// [`closed`], naming the failure that ended the connection, if one did:
/// still `Closed` (the state the caller acts on), but a dropped peer says
/// "I/O error" rather than looking like a close.
fn closed_by(shared: &ConnShared) -> Error {
    let Some(failure) = shared.failure() else {
        return closed();
    };
    let what = match failure.kind() {
        ErrorKind::Io => "an I/O error",
        ErrorKind::Timeout => "a timeout",
        ErrorKind::Protocol => "a protocol error",
        ErrorKind::Tls => "a TLS error",
        _ => "an error",
    };
    Error::new(
        ErrorKind::Closed,
        format!("the connection is closed: it ended with {what}: {failure}"),
    )
}

impl Conn {
    /// A number naming this connection within its loop (and among the
    /// connections of every loop of a server spread over several).
    pub fn id(&self) -> u64 {
        self.shared.id
    }
    /// On a server with mutual TLS ([`super::ClientAuth`]): the certificate
    /// the client presented (verified), and its subject. `None` without
    /// TLS, without a client certificate, and on clients.
    pub fn peer_identity(&self) -> Option<&PeerIdentity> {
        self.shared.peer_identity.get()
    }
    /// Queues a message. Fails with `WouldBlock` past the high-water mark and
    /// with `Closed` once the close handshake began. Messages sent while the
    /// connection is still connecting go out once it opens. With
    /// permessage-deflate on, messages from the threshold up are compressed.
    pub fn send(&self, kind: MessageKind, data: &[u8]) -> Result<(), Error> {
        self.send_with(kind, data, true)
    }
    /// Like [`Conn::send`]; `compress = false` sends this message
    /// uncompressed even when permessage-deflate is on.
    pub fn send_with(&self, kind: MessageKind, data: &[u8], compress: bool) -> Result<(), Error> {
        // Held until queued: a fragment sent meanwhile would come between.
        let _outgoing = self.check_send(kind, data)?;
        self.queue(data.len(), || Command::Send {
            conn: self.shared.clone(),
            kind,
            data: data.to_vec(),
            compress,
        })
    }
    /// Whether a whole message may be sent now: the connection is not
    /// closing, text is valid UTF-8 and no fragmented message is open (the
    /// lock that says so is returned, to be held until the message is sent).
    pub(super) fn check_send(
        &self,
        kind: MessageKind,
        data: &[u8],
    ) -> Result<MutexGuard<'_, Outgoing>, Error> {
        if matches!(self.state(), ConnState::Closing | ConnState::Closed) {
            return Err(closed_by(&self.shared));
        }
        if kind == MessageKind::Text && simdutf8::basic::from_utf8(data).is_err() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a text message must be valid UTF-8",
            ));
        }
        let outgoing = self.shared.outgoing();
        outgoing.check_whole()?;
        Ok(outgoing)
    }
    /// Sends one piece of a fragmented message: the first call opens a
    /// message of `kind`, later calls continue it with the same `kind`, and
    /// the call with `fin` ends it (the peer receives one message). Checked
    /// here, before anything is queued, like [`Conn::send`] (closed,
    /// would-block) and by the fragment rules: while a message is open,
    /// [`Conn::send`] and a piece of another kind fail with
    /// `InvalidArgument`; text must be valid UTF-8 across the pieces (a
    /// character may be split between two; the last piece may not end
    /// inside one). With permessage-deflate on, the message is compressed
    /// unless the first piece's `compress` is false.
    pub fn send_fragment(
        &self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        compress: bool,
    ) -> Result<(), Error> {
        if matches!(self.state(), ConnState::Closing | ConnState::Closed) {
            return Err(closed_by(&self.shared));
        }
        let mut outgoing = self.shared.outgoing();
        let next = outgoing.check_fragment(kind, data, fin)?;
        self.queue(data.len(), || Command::SendFragment {
            conn: self.shared.clone(),
            kind,
            data: data.to_vec(),
            fin,
            compress,
        })?;
        *outgoing = next;
        Ok(())
    }
    /// Counts `len` bytes as queued (or refuses them past the high-water
    /// mark) and hands the loop the command that sends them.
    fn queue(&self, len: usize, command: impl FnOnce() -> Command) -> Result<(), Error> {
        self.admit(len)?;
        self.lp.push(command()).inspect_err(|_| {
            self.shared.queued.fetch_sub(len, Ordering::AcqRel);
        })
    }
    /// Counts `len` bytes as queued, or refuses them past the high-water
    /// mark (or the queue of a reconnecting client).
    pub(super) fn admit(&self, len: usize) -> Result<(), Error> {
        self.shared.admit_disconnected(len)?;
        let was_blocked = self.shared.blocked.load(Ordering::Acquire);
        if let Err(e) = self.shared.enqueue(len) {
            // On the first refusal, have the loop look at the queue again in
            // case it drained before the refusal was recorded.
            if !was_blocked {
                let _ = self.lp.push(Command::Flush {
                    conn: self.shared.clone(),
                });
            }
            return Err(e);
        }
        Ok(())
    }
    /// Drops the connection at once, without a close handshake: nothing
    /// more is sent or received, the close event follows with 1006
    /// (origin `Transport`, unless a close frame was already exchanged),
    /// and pending receives end. A reconnecting client stops. Aborting a
    /// connection that already closed fails with `Closed`.
    pub fn abort(&self) -> Result<(), Error> {
        if self.shared.state() == ConnState::Closed {
            return Err(closed_by(&self.shared));
        }
        self.shared.app_closed.store(true, Ordering::Release);
        self.lp.push(Command::Abort {
            conn: self.shared.clone(),
        })
    }
    /// Sends a ping (at most 125 bytes); its round trip arrives with the pong.
    pub fn ping(&self, data: &[u8]) -> Result<(), Error> {
        if matches!(self.state(), ConnState::Closing | ConnState::Closed) {
            return Err(closed_by(&self.shared));
        }
        if data.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("a ping carries at most {MAX_CONTROL_PAYLOAD} bytes"),
            ));
        }
        self.lp.push(Command::Ping {
            conn: self.shared.clone(),
            data: data.to_vec(),
        })
    }
    /// Starts the close handshake (or abandons a connection still
    /// connecting). `code` must be valid on the wire and `reason` at most 123
    /// bytes, or `code` 1005 and no reason for a close frame without a code
    /// ([`check_close`]). Closing twice is harmless; closing a closed
    /// connection fails.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        check_close(code, reason)?;
        let first = !self.shared.app_closed.swap(true, Ordering::AcqRel);
        match self.state() {
            ConnState::Closed => Err(closed_by(&self.shared)),
            _ if !first => Ok(()),
            _ => self.lp.push(Command::Close {
                conn: self.shared.clone(),
                code,
                reason: reason.to_owned(),
            }),
        }
    }
    /// Flow control for input: stops reading this connection, so no further
    /// message reaches the handler (from the next one on, even when called
    /// inside `on_message`) and the peer, once the socket buffers fill up,
    /// sees backpressure. Pings, pongs and the peer's close frame wait too,
    /// so a keepalive may time out while paused. Closing the connection
    /// reads again (to finish the close handshake). Idempotent.
    pub fn pause_reading(&self) {
        self.shared.set_reading_paused(true);
    }
    /// Undoes [`Conn::pause_reading`]: input held back is delivered, in
    /// order. Idempotent; harmless on a closed connection.
    pub fn resume_reading(&self) {
        if self.shared.set_reading_paused(false) {
            let _ = self.lp.push(Command::ResumeReading {
                conn: self.shared.clone(),
            });
        }
    }
    /// Whether reading is paused ([`Conn::pause_reading`]).
    pub fn is_reading_paused(&self) -> bool {
        self.shared.is_reading_paused()
    }
    /// Like [`Conn::send_with`], but past the high-water mark waits (up to
    /// `timeout`; `None` waits as long as it takes) for the queue to drain
    /// below the low-water mark instead of reporting would-block. Fails
    /// with `Timeout` when the time passes first, and with `Closed` when the
    /// connection ends meanwhile. Never call it on the loop's own thread
    /// (from a callback): the loop could not drain the queue.
    pub fn send_timeout(
        &self,
        kind: MessageKind,
        data: &[u8],
        compress: bool,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let seen = self.shared.writable_events();
            match self.send_with(kind, data, compress) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if !self.shared.wait_writable(seen, deadline) {
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            "the send queue did not drain in time",
                        ));
                    }
                }
                done => return done,
            }
        }
    }
    /// Pull mode ([`super::ClientConfig::inbox`]): the oldest received
    /// message, without waiting. Fails with `WouldBlock` when none waits
    /// (the handler's `on_readable` tells when one arrives), with `Closed`
    /// once the connection ended and every message that arrived before the
    /// end was taken ([`Conn::close_info`] tells how it ended), and with
    /// `InvalidArgument` on a connection without an inbox.
    pub fn recv(&self) -> Result<Message, Error> {
        let take = self.inbox()?.take();
        self.took(take)
    }
    /// Like [`Conn::recv`], waiting up to `timeout` for a message (`None`:
    /// as long as it takes); fails with `Timeout` when the time passes.
    /// Never call it on the loop's own thread (from a callback).
    pub fn recv_timeout(&self, timeout: Option<Duration>) -> Result<Message, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            match self.inbox()?.take_until(deadline) {
                Take::Empty { fail_now: true } => self.fail_now(),
                Take::Empty { fail_now: false } => {
                    return Err(Error::new(ErrorKind::Timeout, "no message arrived in time"));
                }
                take => return self.took(take),
            }
        }
    }
    /// Whether the inbox reached a high mark and reading is paused until it
    /// drains to the low marks (false without an inbox).
    pub fn is_inbox_full(&self) -> bool {
        self.shared.inbox.as_deref().is_some_and(Inbox::is_full)
    }
    /// How many received messages wait in the inbox (0 without one).
    pub fn inbox_len(&self) -> usize {
        self.shared.inbox.as_deref().map_or(0, |i| i.len().0)
    }
    /// How the connection ended: set just before the close event runs.
    pub fn close_info(&self) -> Option<CloseInfo> {
        self.shared.close_info.get().cloned()
    }
    fn inbox(&self) -> Result<&Inbox, Error> {
        self.shared.inbox.as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "this connection has no inbox: its messages go to on_message",
            )
        })
    }
    /// The receiver answered what came before a protocol error: the
    /// failing close frame goes out.
    fn fail_now(&self) {
        let conn = self.shared.clone();
        let _ = self.lp.push(Command::FailNow { conn });
    }
    /// A take's outcome; reading resumes when the inbox drained.
    fn took(&self, take: Take) -> Result<Message, Error> {
        match take {
            Take::Message { message, resume } => {
                if resume {
                    let conn = self.shared.clone();
                    let _ = self.lp.push(Command::ResumeReading { conn });
                }
                Ok(message)
            }
            Take::Empty { fail_now } => {
                if fail_now {
                    self.fail_now();
                }
                Err(Error::new(ErrorKind::WouldBlock, "no message is waiting"))
            }
            Take::Ended => Err(closed()),
        }
    }
    /// Bytes queued and not yet written to the socket.
    pub fn buffered_amount(&self) -> usize {
        self.shared.buffered()
    }
    /// The connection's state.
    pub fn state(&self) -> ConnState {
        self.shared.state()
    }
    /// The round trip of the last answered ping.
    pub fn rtt(&self) -> Option<Duration> {
        self.shared.rtt()
    }
    /// The peer's address, once connected (see [`PeerAddr`] for a Unix
    /// domain socket's).
    pub fn peer_addr(&self) -> Option<PeerAddr> {
        self.shared.peer_addr()
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.id())
            .field("state", &self.state())
            .finish()
    }
}

impl Server {
    /// The server's telemetry counters now (see [`crate::net::telemetry`]).
    /// Callable from any thread.
    pub fn metrics(&self) -> crate::net::Metrics {
        let evicted = self.shared.evicted_handshakes.load(Ordering::Relaxed);
        let mut total = crate::net::Metrics {
            evicted_handshakes: evicted,
            ..Default::default()
        };
        for figures in self.loop_metrics() {
            total.add(&figures);
        }
        total
    }

    /// The server's counters loop by loop, loop 0 first (one entry per
    /// loop of [`super::ServerConfig::loops`]): how its connections and
    /// traffic spread over its threads. [`Server::metrics`] adds them up;
    /// the evicted handshakes are counted there only.
    pub fn loop_metrics(&self) -> Vec<crate::net::Metrics> {
        let parts = self.shared.parts.iter();
        parts.map(|part| part.counters.snapshot(0)).collect()
    }

    /// The server's counters as OpenMetrics text, for a `/metrics` route.
    pub fn metrics_text(&self) -> String {
        self.metrics().to_openmetrics()
    }

    /// The address the server listens on. A server on a Unix domain socket
    /// has no IP address: this is `0.0.0.0:0` there, and
    /// [`Server::unix_socket_path`] says where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The path of the Unix domain socket the server listens on, if it
    /// listens on one ([`super::ServerConfig::unix_socket_path`]).
    pub fn unix_socket_path(&self) -> Option<&std::path::Path> {
        self.shared.unix_path.as_deref()
    }

    /// How many unfinished handshakes were dropped so far to make room for
    /// newer connections (see [`super::ServerConfig::max_pending_handshakes`]): a
    /// figure that climbs under a slowloris attack.
    pub fn evicted_handshakes(&self) -> u64 {
        self.shared.evicted_handshakes.load(Ordering::Relaxed)
    }

    /// Graceful shutdown with 1001 (going away); see [`Server::drain`].
    pub fn shutdown(&self, timeout: Duration) {
        let _ = self.drain(CloseCode::GOING_AWAY, "server shutting down", timeout);
    }

    /// Graceful shutdown (the drain): every open connection gets a close
    /// frame with `code` and `reason` (1012 "service restart" tells clients
    /// to come back) and the time to answer; handshakes meanwhile are
    /// answered 503, so a load balancer's health check fails over; what is
    /// still open after `timeout` is dropped. Then the server stops
    /// listening and [`super::ServerHandler::on_shutdown`] runs. A second call
    /// changes nothing; a code or reason a close frame cannot carry is an
    /// `InvalidArgument` error.
    pub fn drain(&self, code: CloseCode, reason: &str, timeout: Duration) -> Result<(), Error> {
        check_close(code, reason)?;
        // A loop that is gone has shut every server down already.
        let shutdown = || Command::Shutdown {
            server: self.shared.clone(),
            code,
            reason: reason.to_owned(),
            timeout,
        };
        self.shared.push_to_others(shutdown);
        let _ = self.lp.push(shutdown());
        Ok(())
    }
}
