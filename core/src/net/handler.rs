//! How events reach the application: [`Handler`] per connection,
//! [`ServerHandler`] per server. Both run on the loop's thread.

use super::tally;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::cluster::{ClusterGap, ClusterState};
use super::decision::{PendingAttempt, PendingUpgrade};
use super::error::Error;
use super::handle::Conn;
use super::peer::PeerAddr;
use super::socket::Stream;
use super::state::{CloseInfo, CloseOrigin, Ending};
use super::topics::SlowSubscriber;
use super::write::send_message;
use crate::proto::handshake::{Request, Response};
use crate::proto::{CloseCode, MessageKind, State};

/// The open event: the handshake succeeded.
#[derive(Debug)]
pub struct Open<'a> {
    /// The negotiated subprotocol.
    pub subprotocol: Option<&'a str>,
    /// The server's 101 response (client side).
    pub response: Option<&'a Response>,
    /// The client's request (server side).
    pub request: Option<&'a Request>,
    /// The peer's address (the proxy's, through a proxy; see [`PeerAddr`]
    /// for a Unix domain socket's).
    pub peer_addr: PeerAddr,
    /// Whether this client connection follows an earlier attempt of the same
    /// [`Conn`] (a reconnect): the time to re-subscribe. Always false on servers.
    pub reconnect: bool,
}

/// The close event: the last event of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Close<'a> {
    /// The peer's code, ours if we failed the connection, or 1006 when the
    /// transport dropped without a close handshake.
    pub code: CloseCode,
    /// The reason that went with the code.
    pub reason: &'a str,
    /// Whether both close frames passed before the transport closed.
    pub clean: bool,
    /// Who began the close.
    pub origin: CloseOrigin,
    /// Whether the connection ended normally: both sides sent a close frame
    /// with 1000, 1001 or 1005 (python-websockets' `ConnectionClosedOK`;
    /// anything else is its `ConnectionClosedError`).
    pub normal: bool,
    /// The close frame we sent (code and reason), if any.
    pub sent: Option<(CloseCode, &'a str)>,
    /// The peer's close frame (code and reason), if any.
    pub rcvd: Option<(CloseCode, &'a str)>,
}

impl<'a> Close<'a> {
    /// The close event of a connection that ended as `ending` tells, with
    /// the code, reason and cleanliness the loop determined.
    pub(super) fn new(
        ending: &'a Ending,
        code: CloseCode,
        reason: &'a str,
        clean: bool,
    ) -> Close<'a> {
        let frame = |f: &'a Option<(CloseCode, String)>| f.as_ref().map(|(c, r)| (*c, r.as_str()));
        Close {
            code,
            reason,
            clean,
            origin: ending.origin(),
            normal: ending.normal(),
            sent: frame(&ending.sent),
            rcvd: frame(&ending.rcvd),
        }
    }

    /// The owned form, kept after the event.
    pub fn to_info(&self) -> CloseInfo {
        let frame = |f: Option<(CloseCode, &str)>| f.map(|(c, r)| (c, r.to_owned()));
        CloseInfo {
            code: self.code,
            reason: self.reason.to_owned(),
            clean: self.clean,
            origin: self.origin,
            normal: self.normal,
            sent: frame(self.sent),
            rcvd: frame(self.rcvd),
        }
    }

    /// An ending with no close frame either way (1006, not clean), for
    /// `reason`.
    pub(super) fn dropped(reason: &'a str) -> Close<'a> {
        Close {
            code: CloseCode::ABNORMAL,
            reason,
            clean: false,
            origin: CloseOrigin::Transport,
            normal: false,
            sent: None,
            rcvd: None,
        }
    }
}

/// What a handler callback may do with its connection right away: sends from
/// here go straight into the connection's buffer, with no queue and no
/// wake-up (a large message with nothing queued before it goes straight to
/// the socket, without a copy).
pub struct Ctx<'a> {
    pub(super) conn: &'a Conn,
    pub(super) sender: Option<&'a mut crate::proto::Sender>,
    /// The socket large messages may be written to at once (see
    /// the connection's `direct_socket`).
    pub(super) direct: Option<&'a mut Stream>,
}

impl Ctx<'_> {
    /// A thread-safe handle to this connection, to keep or pass to other threads.
    pub fn conn(&self) -> &Conn {
        self.conn
    }

    /// Queues a message. Fails with `WouldBlock` past the high-water mark and
    /// with `Closed` once a close frame was sent. With permessage-deflate on,
    /// messages from the threshold up are compressed.
    pub fn send(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), Error> {
        self.send_with(kind, data, true)
    }

    /// Like [`Ctx::send`]; `compress = false` sends this message
    /// uncompressed even when permessage-deflate is on.
    pub fn send_with(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        compress: bool,
    ) -> Result<(), Error> {
        let Some(sender) = self.sender.as_deref_mut() else {
            return self.conn.send_with(kind, data, compress);
        };
        let outgoing = self.conn.shared.outgoing();
        outgoing.check_whole()?;
        let queued = self.conn.shared.queued.load(Ordering::Acquire);
        self.conn
            .shared
            .admit(sender.buffered_amount().saturating_add(queued), data.len())?;
        let direct = self.direct.as_deref_mut();
        send_message(sender, direct, kind, data, compress)?;
        tally::sent(self.conn, data.len(), true);
        Ok(())
    }

    /// One piece of a fragmented message, as [`Conn::send_fragment`]
    /// (straight into the connection's buffer).
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        compress: bool,
    ) -> Result<(), Error> {
        let Some(sender) = self.sender.as_deref_mut() else {
            return self.conn.send_fragment(kind, data, fin, compress);
        };
        let mut outgoing = self.conn.shared.outgoing();
        let next = outgoing.check_fragment(kind, data, fin)?;
        let queued = self.conn.shared.queued.load(Ordering::Acquire);
        self.conn
            .shared
            .admit(sender.buffered_amount().saturating_add(queued), data.len())?;
        sender.send_fragment_with(kind, data, fin, compress)?;
        tally::sent(self.conn, data.len(), fin);
        *outgoing = next;
        Ok(())
    }

    /// Starts the close handshake. `code` must be valid on the wire and
    /// `reason` at most 123 bytes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let Some(sender) = self.sender.as_deref_mut() else {
            return self.conn.close(code, reason);
        };
        if sender.state() != State::Open {
            return Ok(());
        }
        sender.close(code, reason)?;
        // The loop publishes the closing state once this callback returns.
        self.conn.shared.app_closed.store(true, Ordering::Release);
        Ok(())
    }
}

/// The events of one connection, called on the loop's thread. Every method has
/// a default that does nothing.
///
/// A client runs `on_connecting` and `on_before_connect` before each
/// attempt. Without a reconnect policy, `on_close` ends every connection,
/// opened or not. With one ([`super::ReconnectPolicy`]), a connection or
/// attempt that ends in a way worth retrying runs `on_disconnect` instead,
/// then `on_connecting` for the next attempt; `on_close` runs once, when the
/// client gives up, the application closes it, or the loop stops.
pub trait Handler: Send + 'static {
    /// Client: an attempt to connect starts after `delay`. `attempt` is 0
    /// for the first connection and counts reconnect attempts in a row after
    /// that (1, 2, ...; back to 1 after a connection that lasted).
    fn on_connecting(&mut self, conn: &Conn, attempt: u32, delay: Duration) {
        let _ = (conn, attempt, delay);
    }
    /// Client: the attempt starts now, with the request headers in
    /// `attempt` (see [`Attempt::defer`] to decide them later).
    fn on_before_connect(&mut self, attempt: &mut Attempt<'_>) {
        let _ = attempt;
    }
    /// Client with a reconnect policy: the connection or attempt ended and
    /// another attempt follows (`on_connecting` tells when). `on_error` came
    /// first if something failed.
    fn on_disconnect(&mut self, conn: &Conn, close: &Close<'_>) {
        let _ = (conn, close);
    }
    /// The handshake succeeded.
    fn on_open(&mut self, ctx: &mut Ctx<'_>, open: &Open<'_>) {
        let _ = (ctx, open);
    }
    /// A whole message arrived (or a piece of one in streaming mode, where
    /// `fin` tells the last piece; `fin` is always true otherwise). `data` is
    /// borrowed for this call only.
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], fin: bool) {
        let _ = (ctx, kind, data, fin);
    }
    /// A ping arrived (already answered unless automatic pongs are off).
    fn on_ping(&mut self, ctx: &mut Ctx<'_>, data: &[u8]) {
        let _ = (ctx, data);
    }
    /// A pong arrived; `rtt` is the round trip of the ping it answers, if it
    /// answers one of ours.
    fn on_pong(&mut self, ctx: &mut Ctx<'_>, data: &[u8], rtt: Option<Duration>) {
        let _ = (ctx, data, rtt);
    }
    /// Pull mode ([`super::ClientConfig::inbox`]): the inbox was empty and a
    /// message arrived; take it (and those after it) with
    /// [`super::Conn::recv`], from any thread.
    fn on_readable(&mut self, ctx: &mut Ctx<'_>) {
        let _ = ctx;
    }
    /// The send queue drained below its low-water mark after `send` reported
    /// would-block.
    fn on_writable(&mut self, ctx: &mut Ctx<'_>) {
        let _ = ctx;
    }
    /// Something failed; [`Handler::on_close`] follows.
    fn on_error(&mut self, conn: &Conn, error: &Error) {
        let _ = (conn, error);
    }
    /// The connection is over. No callback of this handler runs after this one.
    fn on_close(&mut self, conn: &Conn, close: &Close<'_>) {
        let _ = (conn, close);
    }
}

/// A handshake request under decision on the server.
#[derive(Debug)]
pub struct Upgrade<'a> {
    /// The request.
    pub request: &'a Request,
    /// The peer's address (see [`PeerAddr`] for a Unix domain socket's).
    pub peer_addr: PeerAddr,
    /// The subprotocol to answer with: preset to the first of the server's
    /// list that the client offered; the handler may change it.
    pub subprotocol: Option<String>,
    /// Extra headers for the 101 response (Set-Cookie, ...).
    pub response_headers: Vec<(String, String)>,
    pub(super) conn: Conn,
    pub(super) deferred: bool,
    pub(super) plain_http: bool,
}

impl Upgrade<'_> {
    /// Whether this is a plain HTTP request (no `Upgrade: websocket`: a
    /// health check, a browser), handed over only when
    /// [`ServerHandler::answers_plain_http`] says so. Refuse it with the
    /// answer ([`Refusal::response`] for a `200 OK`); accepting it does not
    /// answer it, and it gets the core's `426 Upgrade Required`.
    pub fn is_plain_http(&self) -> bool {
        self.plain_http
    }

    /// The client's certificate (mutual TLS, see [`super::ClientAuth`]):
    /// the verified chain and its subject, to authorise by identity. `None`
    /// without TLS or when the client sent no certificate.
    pub fn peer_identity(&self) -> Option<&super::PeerIdentity> {
        self.conn.peer_identity()
    }

    /// The connection this request arrived on (the one accepting it serves).
    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// Postpones the decision, so the handler can take it elsewhere (another
    /// thread, an interpreter, a database) without stalling the loop: keep
    /// the returned handle, return the connection's handler from
    /// [`ServerHandler::on_upgrade`] as usual (it serves the connection if
    /// accepted; returning a refusal refuses at once), and accept or refuse
    /// through the handle later, from any thread. The handshake timeout
    /// still runs: a decision after it is an error and the client is gone.
    pub fn defer(&mut self) -> PendingUpgrade {
        self.deferred = true;
        PendingUpgrade::new(self.conn.shared.clone(), self.conn.lp.clone())
    }
}

/// A client's attempt about to start, in [`Handler::on_before_connect`].
pub struct Attempt<'a> {
    pub(super) conn: &'a Conn,
    pub(super) number: u32,
    /// The extra request headers of [`super::ClientConfig::headers`], to
    /// change or add to (refresh a token, set cookies) for this attempt only.
    pub headers: &'a mut Vec<(String, String)>,
    pub(super) deferred: bool,
}

impl Attempt<'_> {
    /// The client.
    pub fn conn(&self) -> &Conn {
        self.conn
    }

    /// 0 for the first connection, then the reconnect attempts in a row (as
    /// [`Handler::on_connecting`] counted them).
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Postpones the attempt until the returned handle proceeds (from any
    /// thread), so slow work (fetching a token) does not stall the loop. The
    /// connect timeout runs from now.
    pub fn defer(&mut self) -> PendingAttempt {
        self.deferred = true;
        PendingAttempt::new(self.conn.shared.clone(), self.conn.lp.clone())
    }
}

/// A refusal of a handshake: an HTTP status, a short reason sent as the body,
/// and extra headers (the protocol core's own rejection, answered as is).
/// Build it with [`Refusal::new`] (a status 400-599) and
/// [`Refusal::add_header`]: an invalid refusal is an error where it is
/// built, never changed on the way out.
pub type Refusal = crate::proto::handshake::Rejection;

/// The events of a listening server, called on the loop's thread (for a
/// server spread over several loops, [`super::ServerConfig::loops`], on any
/// of its loops' threads, one call at a time).
pub trait ServerHandler: Send + 'static {
    /// A valid handshake request passed the Origin allow-list: accept it with
    /// the connection's handler, or refuse it with a status.
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal>;
    /// Whether plain HTTP requests to the server (a valid GET without
    /// `Upgrade: websocket`) go to [`ServerHandler::on_upgrade`] too (see
    /// [`Upgrade::is_plain_http`]) instead of getting `426 Upgrade Required`
    /// at once. Asked once per such request; false by default.
    fn answers_plain_http(&self) -> bool {
        false
    }
    /// A failure that belongs to no accepted connection (accept error, TLS or
    /// handshake failure of an incoming connection).
    fn on_error(&mut self, error: &Error) {
        let _ = error;
    }
    /// The server stopped: after [`super::Server::shutdown`] every connection
    /// has closed or been dropped.
    fn on_shutdown(&mut self) {}
    /// A message published to `topic` found `conn`'s send queue past its
    /// high-water mark: it was skipped for that message, or dropped (its
    /// close event follows), as `action` says. Runs once per such message.
    fn on_slow_subscriber(&mut self, conn: &Conn, topic: &str, action: SlowSubscriber) {
        let _ = (conn, topic, action);
    }
    /// The link to the cluster's broker changed state
    /// ([`super::ServerConfig::cluster`]): `detail` says why (the error that
    /// took it down and when the next attempt comes, or what is subscribed).
    /// [`super::Server::cluster_state`] reads the state at any time.
    fn on_cluster_state(&mut self, state: ClusterState, detail: &str) {
        let _ = (state, detail);
    }
    /// Publications of another node to a topic with local subscribers were
    /// lost (see [`ClusterGap`]): the subscribers of `gap.topic` missed
    /// them; resynchronise them. Raised when the next publication of that
    /// node arrives, before it is delivered.
    fn on_cluster_gap(&mut self, gap: &ClusterGap<'_>) {
        let _ = gap;
    }
}
