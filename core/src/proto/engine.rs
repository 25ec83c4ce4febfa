//! One whole connection without I/O: the opening handshake, the frames, the
//! close handshake and the timers (keepalive, close and handshake timeouts),
//! for programs that own their sockets, TLS and clock (bring your own I/O).
//!
//! Bytes received go in with [`Engine::feed`] (and [`Engine::feed_eof`]);
//! events come out one at a time with [`Engine::next_event`]; bytes to send
//! are peeked with [`Engine::pending`] and marked written with
//! [`Engine::consume`]. Time is what the caller says it is: [`Engine::tick`]
//! with the current time in milliseconds fires what is due, and
//! [`Engine::next_deadline`] says when to call it next. Without ticks there
//! are no timeouts at all.
//!
//! ```
//! use wsx_core::proto::engine::{Engine, EngineConfig, EngineEvent};
//! use wsx_core::proto::{MessageKind, WsUrl};
//!
//! let url = WsUrl::parse("ws://example.com/chat").unwrap();
//! let mut client = Engine::client(&url, EngineConfig::default()).unwrap();
//! let mut server = Engine::server(EngineConfig::default());
//! // Move bytes between the two as a socket would.
//! fn pump(from: &mut Engine, to: &mut Engine) {
//!     let n = from.pending().len();
//!     assert_eq!(to.feed(&from.pending().to_vec()), n);
//!     from.consume(n);
//! }
//! pump(&mut client, &mut server);
//! assert!(matches!(server.next_event(), Some(EngineEvent::Request(_))));
//! server.accept(None, &[]).unwrap();
//! assert!(matches!(server.next_event(), Some(EngineEvent::Open { .. })));
//! pump(&mut server, &mut client);
//! assert!(matches!(client.next_event(), Some(EngineEvent::Open { .. })));
//! client.send(MessageKind::Text, b"hi").unwrap();
//! pump(&mut client, &mut server);
//! assert_eq!(
//!     server.next_event(),
//!     Some(EngineEvent::Message { kind: MessageKind::Text, data: b"hi" })
//! );
//! ```

use std::collections::VecDeque;

use super::close::{CloseCode, MAX_CLOSE_REASON};
use super::connection::{Config, Connection, Event, Role, State};
use super::error::SendError;
use super::extension::deflate::{Agreement, DeflateConfig, negotiate};
use super::handshake::{
    Accept, ClientHandshake, ClientOptions, HandshakeError, Limits, Rejection, Request, Response,
    ServerHandshake, accept_response, check_origin, select_subprotocol,
};
use super::message::MessageKind;
use super::url::WsUrl;

/// Options of an [`Engine`]: the connection's limits and behaviour, the
/// handshake's offers and the timers, in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Frame and message limits, automatic pongs, streaming.
    pub protocol: Config,
    /// Limits on the handshake's header block (request or response).
    pub limits: Limits,
    /// Client: the subprotocols offered, in order of preference. Server: the
    /// ones supported, in order of preference: the first the client also
    /// offers is chosen when the application accepts without naming one.
    pub subprotocols: Vec<String>,
    /// Client: extra request headers.
    pub headers: Vec<(String, String)>,
    /// Client: the `Origin` header.
    pub origin: Option<String>,
    /// Server: the `Origin` values allowed (`None`: any). Others get 403.
    pub origins: Option<Vec<String>>,
    /// permessage-deflate: offered by a client, accepted by a server when
    /// the client offers it. `None`: no compression.
    pub compression: Option<DeflateConfig>,
    /// Time allowed for the opening handshake, from the first tick (`None`: no limit).
    pub handshake_timeout_ms: Option<u64>,
    /// Time to wait for the peer's close frame after ours.
    pub close_timeout_ms: u64,
    /// Keepalive: a ping after `.0` ms with nothing received; nothing
    /// received `.1` ms after it drops the connection (1006).
    pub keepalive_ms: Option<(u64, u64)>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        EngineConfig {
            protocol: Config::default(),
            limits: Limits::default(),
            subprotocols: Vec::new(),
            headers: Vec::new(),
            origin: None,
            origins: None,
            compression: None,
            handshake_timeout_ms: Some(ms(crate::defaults::HANDSHAKE_TIMEOUT)),
            close_timeout_ms: ms(crate::defaults::CLOSE_TIMEOUT),
            keepalive_ms: Some((
                ms(crate::defaults::KEEPALIVE_INTERVAL),
                ms(crate::defaults::KEEPALIVE_TIMEOUT),
            )),
        }
    }
}

/// Who ended the connection, in a [`EngineEvent::Close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOrigin {
    /// We closed (or failed the connection on a protocol error).
    Local,
    /// The peer sent its close frame first.
    Remote,
    /// The transport ended or a timeout passed without a close handshake.
    Transport,
}

/// What an [`EngineEvent::Error`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The opening handshake failed or was refused (`status` tells the HTTP status).
    Handshake,
    /// The peer broke the protocol (a close frame with the matching code is queued).
    Protocol,
    /// A handshake, keepalive or close timeout passed.
    Timeout,
}

/// Something that happened on the connection. Bytes and strings are borrowed
/// from the engine until its next call.
#[derive(Debug, PartialEq, Eq)]
pub enum EngineEvent<'a> {
    /// Server: a valid handshake request. Decide with [`Engine::accept`] or
    /// [`Engine::refuse`]; no other event comes before that.
    Request(&'a Request),
    /// The handshake finished: messages may flow.
    Open {
        /// The subprotocol agreed, if any.
        subprotocol: Option<&'a str>,
        /// Whether permessage-deflate is on.
        deflate: bool,
    },
    /// A whole message (text is valid UTF-8).
    Message {
        /// Text or binary.
        kind: MessageKind,
        /// The payload.
        data: &'a [u8],
    },
    /// A piece of a message (streaming mode).
    Fragment {
        /// Text or binary.
        kind: MessageKind,
        /// The piece.
        data: &'a [u8],
        /// Whether it is the message's last piece.
        fin: bool,
    },
    /// A ping (already answered unless `auto_pong` is off).
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The connection is over: the last event, always exactly once (but
    /// for a server engine whose application refused the request).
    Close {
        /// The close code: the peer's (or 1005 for a close frame without
        /// one), ours when we failed the connection, 1006 when the
        /// transport ended or timed out without a close handshake.
        code: u16,
        /// The reason that came with the code.
        reason: &'a str,
        /// Who ended it.
        origin: CloseOrigin,
        /// Whether both close frames passed (a clean close).
        clean: bool,
    },
    /// Something went wrong; a [`EngineEvent::Close`] follows.
    Error {
        /// What kind of failure.
        kind: ErrorKind,
        /// The HTTP status of a refused handshake (0 otherwise).
        status: u16,
        /// What happened, in words.
        message: &'a str,
    },
}

/// The engine's state, as seen by the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineState {
    /// The opening handshake is under way.
    Connecting,
    /// Messages may flow.
    Open,
    /// One close frame passed, the other is awaited.
    Closing,
    /// Nothing more will be read: send what is pending, then shut the
    /// transport down.
    Closed,
}

/// Why a call on the engine was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The call does not fit the state (sending before open, accepting twice).
    #[error("{0}")]
    State(&'static str),
    /// An argument is invalid (subprotocol not offered, bad header, status).
    #[error("{0}")]
    Invalid(String),
    /// The protocol engine refused the send.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// An owned event waiting to be delivered.
#[derive(Debug)]
enum Queued {
    Request,
    Open,
    Close {
        code: u16,
        reason: String,
        origin: CloseOrigin,
        clean: bool,
    },
    Error {
        kind: ErrorKind,
        status: u16,
        message: String,
    },
}

#[derive(Debug)]
enum Phase {
    Client(Box<ClientHandshake>),
    Server(ServerHandshake),
    /// Server: waiting for the application's decision.
    Decide {
        request: Box<Request>,
        leftover: Vec<u8>,
    },
    Open(Box<Connection>),
    /// The handshake failed or was refused; nothing more happens.
    Ended,
}

/// A WebSocket connection without I/O (see the module's documentation).
#[derive(Debug)]
pub struct Engine {
    role: Role,
    config: EngineConfig,
    phase: Phase,
    /// Handshake bytes to send (request or response), before the frames.
    out: Vec<u8>,
    out_pos: usize,
    queue: VecDeque<Queued>,
    /// The event being lent out.
    current: Option<Queued>,
    subprotocol: Option<String>,
    request: Option<Box<Request>>,
    /// Client: the server's answer to a refused handshake.
    response: Option<Box<Response>>,
    /// Whether the final close event was queued.
    closed: bool,
    /// Whether the transport ended.
    eof: bool,
    /// Whether permessage-deflate is on.
    deflate: bool,
    // Time, in the caller's milliseconds.
    now: Option<u64>,
    received_since_tick: bool,
    handshake_deadline: Option<u64>,
    close_deadline: Option<u64>,
    last_received: u64,
    ping_sent: Option<u64>,
}

/// Received bytes held (not yet parsed into events) beyond a frame's
/// maximum size before [`Engine::feed`] takes no more.
const INPUT_SLACK: usize = 64 * 1024;

impl Engine {
    /// A client engine for `url` (its scheme only sets the default port and
    /// the `Host` header: TLS is the transport's business). The handshake
    /// request is pending at once.
    pub fn client(url: &WsUrl, config: EngineConfig) -> Result<Engine, HandshakeError> {
        let options = ClientOptions {
            subprotocols: config.subprotocols.clone(),
            extensions: Vec::new(),
            origin: config.origin.clone(),
            headers: config.headers.clone(),
            limits: config.limits,
            deflate: config.compression.clone(),
        };
        let handshake = ClientHandshake::new(url, &options)?;
        let out = handshake.request().to_vec();
        let mut engine = Engine::new(Role::Client, config, Phase::Client(Box::new(handshake)));
        engine.out = out;
        Ok(engine)
    }

    /// A server engine waiting for a handshake request.
    pub fn server(config: EngineConfig) -> Engine {
        let handshake = ServerHandshake::new(config.limits);
        Engine::new(Role::Server, config, Phase::Server(handshake))
    }

    /// An engine whose opening handshake happened elsewhere (an HTTP server
    /// that upgraded the connection, or the contract of .NET's
    /// `WebSocket.CreateFromStream`): open at once, its [`EngineEvent::Open`]
    /// ready, with the `subprotocol` and the permessage-deflate `agreement`
    /// (if any) the handshake settled.
    pub fn opened(
        role: Role,
        config: EngineConfig,
        subprotocol: Option<String>,
        agreement: Option<&Agreement>,
    ) -> Engine {
        let mut conn = Connection::new(role, config.protocol.clone());
        if let Some(agreement) = agreement {
            conn.enable_deflate(agreement);
        }
        let mut engine = Engine::new(role, config, Phase::Ended);
        engine.subprotocol = subprotocol;
        engine.open(conn);
        engine
    }

    fn new(role: Role, config: EngineConfig, phase: Phase) -> Engine {
        Engine {
            role,
            config,
            phase,
            out: Vec::new(),
            out_pos: 0,
            queue: VecDeque::new(),
            current: None,
            subprotocol: None,
            request: None,
            response: None,
            closed: false,
            eof: false,
            deflate: false,
            now: None,
            received_since_tick: false,
            handshake_deadline: None,
            close_deadline: None,
            last_received: 0,
            ping_sent: None,
        }
    }

    /// The role this engine plays.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The options it was created with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The state.
    pub fn state(&self) -> EngineState {
        match &self.phase {
            Phase::Client(_) | Phase::Server(_) | Phase::Decide { .. } => EngineState::Connecting,
            Phase::Ended => EngineState::Closed,
            Phase::Open(_) if self.closed => EngineState::Closed,
            Phase::Open(conn) => match conn.state() {
                State::Open if conn.close_received() => EngineState::Closing,
                State::Open => EngineState::Open,
                State::CloseSent => EngineState::Closing,
                State::Closed => EngineState::Closed,
            },
        }
    }

    /// The subprotocol agreed in the handshake.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Server: the handshake request, once it arrived.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_deref()
    }

    /// Client: the server's answer when it refused the handshake (a status
    /// other than 101: its headers and the body as it arrived), from the
    /// [`EngineEvent::Error`] that reports the refusal on.
    pub fn response(&self) -> Option<&Response> {
        self.response.as_deref()
    }

    /// Feeds bytes received from the peer; returns how many were taken. All
    /// are taken unless more than a frame's worth waits unparsed: then take
    /// events first and feed the rest again. Never blocks.
    pub fn feed(&mut self, data: &[u8]) -> usize {
        if !data.is_empty() {
            self.received_since_tick = true;
        }
        match &mut self.phase {
            Phase::Client(handshake) => match handshake.feed(data) {
                Ok(None) => data.len(),
                Ok(Some(accepted)) => {
                    let mut conn = Connection::new(Role::Client, self.config.protocol.clone());
                    if let Some(agreement) = &accepted.deflate {
                        conn.enable_deflate(agreement);
                    }
                    conn.feed(&accepted.leftover);
                    self.subprotocol = accepted.subprotocol;
                    self.open(conn);
                    data.len()
                }
                Err(err) => {
                    self.handshake_failed(&err);
                    data.len()
                }
            },
            Phase::Server(handshake) => match handshake.feed(data) {
                Ok(None) => data.len(),
                Ok(Some((request, leftover))) => {
                    let request = Box::new(request);
                    if let Some(allowed) = &self.config.origins
                        && let Err(rejection) = check_origin(&request, allowed)
                    {
                        self.reject(&rejection);
                        return data.len();
                    }
                    self.request = Some(request.clone());
                    self.phase = Phase::Decide { request, leftover };
                    self.queue.push_back(Queued::Request);
                    data.len()
                }
                Err(rejection) => {
                    self.reject(&rejection);
                    data.len()
                }
            },
            Phase::Decide { leftover, .. } => {
                let room = Self::room(&self.config, leftover.len());
                let take = room.min(data.len());
                leftover.extend_from_slice(&data[..take]);
                take
            }
            Phase::Open(conn) => {
                let room = Self::room(&self.config, conn.buffered_input());
                let take = room.min(data.len());
                conn.feed(&data[..take]);
                take
            }
            Phase::Ended => data.len(),
        }
    }

    fn room(config: &EngineConfig, held: usize) -> usize {
        (config.protocol.max_frame_size.saturating_add(INPUT_SLACK)).saturating_sub(held)
    }

    /// The peer ended its side of the transport (EOF, or the transport broke).
    pub fn feed_eof(&mut self) {
        match &mut self.phase {
            Phase::Client(handshake) => {
                let err = handshake.feed_eof();
                self.handshake_failed(&err);
            }
            Phase::Server(_) | Phase::Decide { .. } => {
                self.phase = Phase::Ended;
                self.queue.push_back(Queued::Error {
                    kind: ErrorKind::Handshake,
                    status: 0,
                    message: "the connection closed before the handshake finished".into(),
                });
                self.close_event(1006, String::new(), CloseOrigin::Transport, false);
            }
            Phase::Open(_) => self.eof = true,
            Phase::Ended => {}
        }
    }

    /// Server: accepts the request (after [`EngineEvent::Request`]) with a
    /// subprotocol (one the client offered; `None` picks the first of
    /// [`EngineConfig::subprotocols`] the client offered, if any) and extra
    /// response headers. The 101 response is pending at once, and an
    /// [`EngineEvent::Open`] follows.
    pub fn accept(
        &mut self,
        subprotocol: Option<&str>,
        headers: &[(String, String)],
    ) -> Result<(), EngineError> {
        let Phase::Decide { request, .. } = &self.phase else {
            return Err(EngineError::State(
                "accept: no handshake request waits for a decision",
            ));
        };
        let offered = request.subprotocols();
        let chosen = match subprotocol {
            Some(p) if offered.contains(&p) => Some(p.to_owned()),
            Some(p) => {
                return Err(EngineError::Invalid(format!(
                    "subprotocol \"{p}\" was not offered by the client"
                )));
            }
            None => select_subprotocol(&offered, &self.config.subprotocols),
        };
        let (extension, agreement): (Option<String>, Option<Agreement>) =
            match &self.config.compression {
                Some(config) => match negotiate(config, request) {
                    Ok(Some((answer, agreement))) => (Some(answer), Some(agreement)),
                    Ok(None) => (None, None),
                    Err(rejection) => {
                        self.reject(&rejection);
                        return Ok(());
                    }
                },
                None => (None, None),
            };
        let accept = Accept {
            subprotocol: chosen.clone(),
            extensions: extension.into_iter().collect(),
            headers: headers.to_vec(),
        };
        let response =
            accept_response(request, &accept).map_err(|e| EngineError::Invalid(e.to_string()))?;
        let Phase::Decide { leftover, .. } = std::mem::replace(&mut self.phase, Phase::Ended)
        else {
            unreachable!("checked above");
        };
        self.out.extend_from_slice(&response);
        let mut conn = Connection::new(Role::Server, self.config.protocol.clone());
        if let Some(agreement) = &agreement {
            conn.enable_deflate(agreement);
        }
        conn.feed(&leftover);
        self.subprotocol = chosen;
        self.open(conn);
        Ok(())
    }

    /// Server: refuses the request (after [`EngineEvent::Request`]) with an
    /// HTTP status (400-599) and a short reason sent as the body. The
    /// response is pending at once; no event follows.
    pub fn refuse(&mut self, status: u16, reason: &str) -> Result<(), EngineError> {
        if !matches!(self.phase, Phase::Decide { .. }) {
            return Err(EngineError::State(
                "refuse: no handshake request waits for a decision",
            ));
        }
        let rejection =
            Rejection::new(status, reason).map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.out.extend_from_slice(&rejection.to_response());
        self.phase = Phase::Ended;
        self.closed = true;
        Ok(())
    }

    fn open(&mut self, conn: Connection) {
        self.deflate = conn.deflate_enabled();
        self.phase = Phase::Open(Box::new(conn));
        self.handshake_deadline = None;
        self.last_received = self.now.unwrap_or(0);
        self.queue.push_back(Queued::Open);
    }

    fn handshake_failed(&mut self, err: &HandshakeError) {
        self.phase = Phase::Ended;
        self.response = err.response().cloned().map(Box::new);
        self.queue.push_back(Queued::Error {
            kind: ErrorKind::Handshake,
            status: err.http_status().unwrap_or(0),
            message: err.to_string(),
        });
        self.close_event(1006, String::new(), CloseOrigin::Transport, false);
    }

    /// Server: a request refused by the engine itself (malformed, origin).
    fn reject(&mut self, rejection: &Rejection) {
        self.out.extend_from_slice(&rejection.to_response());
        self.phase = Phase::Ended;
        self.queue.push_back(Queued::Error {
            kind: ErrorKind::Handshake,
            status: rejection.status(),
            message: rejection.to_string(),
        });
        self.close_event(1006, String::new(), CloseOrigin::Transport, false);
    }

    fn close_event(&mut self, code: u16, reason: String, origin: CloseOrigin, clean: bool) {
        if !self.closed {
            self.closed = true;
            self.queue.push_back(Queued::Close {
                code,
                reason,
                origin,
                clean,
            });
        }
    }

    /// The next event, borrowed until the next call on the engine; `None`
    /// when nothing is ready (feed more bytes, or tick).
    pub fn next_event(&mut self) -> Option<EngineEvent<'_>> {
        self.current = None;
        if let Some(queued) = self.queue.pop_front() {
            self.current = Some(queued);
            return self.current.as_ref().map(|q| {
                lend(
                    q,
                    self.request.as_deref(),
                    self.subprotocol.as_deref(),
                    self.deflate,
                )
            });
        }
        if self.closed {
            return None;
        }
        let Phase::Open(conn) = &mut self.phase else {
            return None;
        };
        // What our side sent before this event decides who closed first.
        let sent_before = conn
            .sent_close()
            .map(|(code, reason)| (code.0, reason.to_owned()));
        let Some((event, _)) = conn.next_event() else {
            if !self.eof {
                return None;
            }
            // The transport ended without a close handshake.
            self.closed = true;
            self.close_deadline = None;
            self.current = Some(Queued::Close {
                code: 1006,
                reason: String::new(),
                origin: CloseOrigin::Transport,
                clean: false,
            });
            return self.current.as_ref().map(|q| lend(q, None, None, false));
        };
        Some(match event {
            Event::Message { kind, data } => EngineEvent::Message { kind, data },
            Event::Fragment { kind, data, fin } => EngineEvent::Fragment { kind, data, fin },
            Event::Ping(data) => EngineEvent::Ping(data),
            Event::Pong(data) => EngineEvent::Pong(data),
            Event::Close { code, reason } => {
                self.closed = true;
                self.close_deadline = None;
                EngineEvent::Close {
                    code: code.0,
                    reason,
                    origin: if sent_before.is_some() {
                        CloseOrigin::Local
                    } else {
                        CloseOrigin::Remote
                    },
                    clean: true,
                }
            }
            Event::Error(err) => {
                let message = err.to_string();
                let (code, reason) = sent_before.unwrap_or_else(|| {
                    let mut cut = message.len().min(MAX_CLOSE_REASON);
                    while !message.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    (err.close_code().0, message[..cut].to_owned())
                });
                self.close_deadline = None;
                self.closed = true;
                self.queue.push_back(Queued::Close {
                    code,
                    reason,
                    origin: CloseOrigin::Local,
                    clean: false,
                });
                self.current = Some(Queued::Error {
                    kind: ErrorKind::Protocol,
                    status: 0,
                    message,
                });
                return self.current.as_ref().map(|q| lend(q, None, None, false));
            }
        })
    }

    fn conn(&mut self) -> Result<&mut Connection, EngineError> {
        match &mut self.phase {
            Phase::Open(conn) if !self.closed => Ok(conn),
            Phase::Open(_) | Phase::Ended => Err(EngineError::Send(SendError::Closed)),
            _ => Err(EngineError::State(
                "the handshake has not finished: wait for the open event",
            )),
        }
    }

    /// Queues a whole message.
    pub fn send(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), EngineError> {
        Ok(self.conn()?.sender().send(kind, data)?)
    }

    /// Queues a piece of a message; the piece with `fin` ends it.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), EngineError> {
        Ok(self.conn()?.sender().send_fragment(kind, data, fin)?)
    }

    /// Queues a ping (at most 125 bytes).
    pub fn ping(&mut self, data: &[u8]) -> Result<(), EngineError> {
        Ok(self.conn()?.sender().ping(data)?)
    }

    /// Queues a pong (at most 125 bytes).
    pub fn pong(&mut self, data: &[u8]) -> Result<(), EngineError> {
        Ok(self.conn()?.sender().pong(data)?)
    }

    /// Starts the close handshake (or answers the peer's, which the engine
    /// does by itself): a close frame with `code` (1005: none) and `reason`.
    /// The close timeout runs from the next tick.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), EngineError> {
        let now = self.now;
        let timeout = self.config.close_timeout_ms;
        self.conn()?.sender().close(CloseCode(code), reason)?;
        self.close_deadline = now.map(|t| t.saturating_add(timeout));
        Ok(())
    }

    /// The bytes to send next (empty when nothing waits): write a prefix,
    /// then [`Engine::consume`] its length.
    pub fn pending(&self) -> &[u8] {
        if self.out_pos < self.out.len() {
            return &self.out[self.out_pos..];
        }
        match &self.phase {
            Phase::Open(conn) => conn.pending(),
            _ => &[],
        }
    }

    /// Marks `n` bytes of [`Engine::pending`] as written (at most its length).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.pending().len());
        if self.out_pos < self.out.len() {
            self.out_pos += n;
            if self.out_pos == self.out.len() {
                self.out = Vec::new();
                self.out_pos = 0;
            }
        } else if let Phase::Open(conn) = &mut self.phase {
            conn.consume(n);
        }
    }

    /// Bytes queued and not yet consumed.
    pub fn buffered_amount(&self) -> usize {
        let conn = match &self.phase {
            Phase::Open(conn) => conn.buffered_amount(),
            _ => 0,
        };
        self.out.len() - self.out_pos + conn
    }

    /// Whether the write side of the transport should be shut down now:
    /// nothing more will ever be sent and everything pending was consumed.
    /// Then read until EOF (or the next deadline) and close the transport.
    pub fn wants_shutdown(&self) -> bool {
        self.state() == EngineState::Closed && self.pending().is_empty()
    }

    /// When [`Engine::tick`] should be called next, in the caller's
    /// milliseconds; `None`: no timer runs (or no tick came yet).
    pub fn next_deadline(&self) -> Option<u64> {
        let now = self.now?;
        if self.closed {
            return None;
        }
        let keepalive = match (&self.phase, self.config.keepalive_ms) {
            (Phase::Open(conn), Some((interval, timeout))) if conn.state() == State::Open => {
                Some(match self.ping_sent {
                    Some(sent) => sent.saturating_add(timeout),
                    None => self.last_received.saturating_add(interval),
                })
            }
            _ => None,
        };
        [self.handshake_deadline, self.close_deadline, keepalive]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.max(now))
    }

    /// Tells the engine the time (milliseconds, from any fixed origin, never
    /// going back): fires what is due (a keepalive ping, a timeout) and
    /// starts the timers on the first call.
    pub fn tick(&mut self, now: u64) {
        let first = self.now.is_none();
        let now = self.now.map_or(now, |t| t.max(now));
        self.now = Some(now);
        if first {
            self.last_received = now;
            if self.state() == EngineState::Connecting {
                self.handshake_deadline = self
                    .config
                    .handshake_timeout_ms
                    .map(|t| now.saturating_add(t));
            }
        }
        if std::mem::take(&mut self.received_since_tick) {
            self.last_received = now;
            self.ping_sent = None;
        }
        if self.closed {
            return;
        }
        if self.state() == EngineState::Connecting {
            if self.handshake_deadline.is_some_and(|d| now >= d) {
                self.phase = Phase::Ended;
                self.queue.push_back(Queued::Error {
                    kind: ErrorKind::Timeout,
                    status: 0,
                    message: "the opening handshake timed out".into(),
                });
                self.close_event(1006, String::new(), CloseOrigin::Transport, false);
            }
            return;
        }
        let Phase::Open(conn) = &mut self.phase else {
            return;
        };
        if conn.close_sent() && self.close_deadline.is_none() {
            self.close_deadline = Some(now.saturating_add(self.config.close_timeout_ms));
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.queue.push_back(Queued::Error {
                kind: ErrorKind::Timeout,
                status: 0,
                message: "the peer did not answer the close frame in time".into(),
            });
            self.close_event(1006, String::new(), CloseOrigin::Transport, false);
            return;
        }
        let Some((interval, timeout)) = self.config.keepalive_ms else {
            return;
        };
        if conn.state() != State::Open {
            return;
        }
        match self.ping_sent {
            Some(sent) if now >= sent.saturating_add(timeout) => {
                self.queue.push_back(Queued::Error {
                    kind: ErrorKind::Timeout,
                    status: 0,
                    message: "keepalive: the peer did not answer in time".into(),
                });
                self.close_event(1006, String::new(), CloseOrigin::Transport, false);
            }
            None if now >= self.last_received.saturating_add(interval) => {
                // Only a failing random source stops the ping; the
                // timeout then drops the connection.
                let _ = conn.sender().ping(b"");
                self.ping_sent = Some(now);
            }
            _ => {}
        }
    }
}

/// An owned event as the borrowed one the application sees.
fn lend<'a>(
    queued: &'a Queued,
    request: Option<&'a Request>,
    subprotocol: Option<&'a str>,
    deflate: bool,
) -> EngineEvent<'a> {
    match (queued, request) {
        (Queued::Request, Some(request)) => EngineEvent::Request(request),
        (Queued::Request | Queued::Open, _) => EngineEvent::Open {
            subprotocol,
            deflate,
        },
        (
            Queued::Close {
                code,
                reason,
                origin,
                clean,
            },
            _,
        ) => EngineEvent::Close {
            code: *code,
            reason,
            origin: *origin,
            clean: *clean,
        },
        (
            Queued::Error {
                kind,
                status,
                message,
            },
            _,
        ) => EngineEvent::Error {
            kind: *kind,
            status: *status,
            message,
        },
    }
}
