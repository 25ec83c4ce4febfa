//! The loop-thread side of a connection: a [`Handler`] that records every
//! event into the connection's [`Mailbox`], where Python picks it up.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use wsx_core::net::{
    Attempt, Close, Conn, Ctx, Error, ErrorKind, Handler, Open, PeerAddr, PeerIdentity,
};
use wsx_core::proto::MessageKind;
use wsx_core::proto::handshake::{Request, Response};

use crate::errors::Closed;
use crate::mailbox::Mailbox;

/// Everything Python knows about one connection.
pub struct ConnShared {
    /// Messages, close and pong state.
    pub mailbox: Mailbox<ConnState>,
    /// The core's handle, once the connection exists.
    pub conn: OnceLock<Conn>,
    /// The handshake request (server side).
    pub request: OnceLock<Request>,
    /// The client's verified certificate (server side, mutual TLS).
    pub peer_identity: OnceLock<PeerIdentity>,
    /// What the latest opening handshake gave.
    opened: Mutex<Opened>,
}

/// What the latest opening handshake gave (a reconnecting client's next
/// connection replaces it).
#[derive(Default)]
pub struct Opened {
    /// The handshake response (client side).
    pub response: Option<Arc<Response>>,
    /// The negotiated subprotocol.
    pub subprotocol: Option<String>,
    /// The peer's address.
    pub peer: Option<PeerAddr>,
}

impl ConnShared {
    /// A connection that has not opened yet, whose received messages are
    /// bounded by `max_queue` (`None`: unbounded).
    pub fn new() -> Arc<ConnShared> {
        Arc::new(ConnShared {
            mailbox: Mailbox::new(ConnState::default()),
            conn: OnceLock::new(),
            request: OnceLock::new(),
            peer_identity: OnceLock::new(),
            opened: Mutex::new(Opened::default()),
        })
    }

    /// Reads or updates what the latest opening handshake gave.
    pub fn opened<R>(&self, f: impl FnOnce(&mut Opened) -> R) -> R {
        f(&mut self.opened.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A received message, taken from the core's inbox.
pub struct Message {
    /// Text (valid UTF-8) or binary.
    pub kind: MessageKind,
    /// The payload.
    pub data: Vec<u8>,
}

/// A ping waiting for its pong.
struct Ping {
    data: Vec<u8>,
    sent: Instant,
    rtt: Arc<OnceLock<f64>>,
}

/// What the next `recv` finds.
pub enum Next {
    /// A message.
    Message(Message),
    /// Nothing more: the connection closed.
    Closed(Arc<Closed>),
}

/// The mutable state of a connection.
#[derive(Default)]
pub struct ConnState {
    opened: bool,
    closed: Option<Arc<Closed>>,
    error: Option<Error>,
    pings: VecDeque<Ping>,
    /// How many times the inbox turned non-empty (wakes receivers).
    readable: u64,
    /// How many times the send queue drained after a would-block.
    pub writable: u64,
    /// How many connections opened after the first one (a reconnecting client).
    pub reconnects: u64,
}

impl ConnState {
    /// The next message from the core's inbox, or the close once every
    /// message that arrived before it was taken; `None` while nothing waits
    /// (or before the connection exists).
    pub fn next(&mut self, conn: Option<&Conn>) -> Option<Next> {
        let Some(conn) = conn else {
            return self.closed.clone().map(Next::Closed);
        };
        match conn.recv() {
            Ok(m) => Some(Next::Message(Message {
                kind: m.kind,
                data: m.data,
            })),
            Err(e) if e.kind() == ErrorKind::WouldBlock => None,
            // Ended: the close event records how, right after.
            Err(_) => self.closed.clone().map(Next::Closed),
        }
    }

    /// How the connection ended, once it has.
    pub fn closed(&mut self) -> Option<Arc<Closed>> {
        self.closed.clone()
    }

    /// `Some(Ok(()))` once open, `Some(Err(_))` if it closed without opening.
    pub fn opening(&mut self) -> Option<Result<(), Arc<Closed>>> {
        if self.opened {
            Some(Ok(()))
        } else {
            self.closed.clone().map(Err)
        }
    }

    /// Records a ping about to be sent; its round trip lands in the result.
    pub fn add_ping(&mut self, data: Vec<u8>) -> Arc<OnceLock<f64>> {
        let rtt = Arc::new(OnceLock::new());
        self.pings.push_back(Ping {
            data,
            sent: Instant::now(),
            rtt: rtt.clone(),
        });
        rtt
    }

    /// Forgets a ping that could not be sent.
    pub fn remove_ping(&mut self, rtt: &Arc<OnceLock<f64>>) {
        self.pings.retain(|p| !Arc::ptr_eq(&p.rtt, rtt));
    }

    /// A pong answers the oldest waiter with the same data (its round trip
    /// is the core's `rtt`) and every waiter before it (the core forgets
    /// those pings: their round trip is measured here).
    fn pong(&mut self, data: &[u8], rtt: Option<Duration>) {
        let now = Instant::now();
        if let Some(i) = self.pings.iter().position(|p| p.data == data) {
            for p in self.pings.drain(..=i) {
                let own = now.duration_since(p.sent);
                let secs = if p.data == data {
                    rtt.unwrap_or(own)
                } else {
                    own
                };
                let _ = p.rtt.set(secs.as_secs_f64());
            }
        }
    }
}

/// The [`Handler`] of every connection made through Python. On the server
/// side it also hands the connection to its server's accept queue once open.
pub struct ConnHandler {
    shared: Arc<ConnShared>,
    on_open: Option<Box<dyn FnOnce(Arc<ConnShared>) + Send>>,
    /// `before_connect(attempt)`: the headers of each attempt (client side).
    before_connect: Option<Arc<Py<PyAny>>>,
    /// The number of the attempt about to start (0: the first connection).
    attempt: u32,
}

impl ConnHandler {
    /// A handler recording into `shared`; `on_open` runs once when it opens.
    pub fn new(
        shared: Arc<ConnShared>,
        on_open: Option<Box<dyn FnOnce(Arc<ConnShared>) + Send>>,
    ) -> ConnHandler {
        ConnHandler {
            shared,
            on_open,
            before_connect: None,
            attempt: 0,
        }
    }

    /// Runs `hook(attempt)` before each attempt to connect: it returns the
    /// request's extra headers for that attempt, or None to keep them.
    pub fn with_before_connect(mut self, hook: Option<Py<PyAny>>) -> ConnHandler {
        self.before_connect = hook.map(Arc::new);
        self
    }
}

impl Handler for ConnHandler {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, open: &Open<'_>) {
        let s = &self.shared;
        let _ = s.conn.set(ctx.conn().clone());
        s.opened(|o| {
            o.subprotocol = open.subprotocol.map(str::to_owned);
            o.peer = Some(open.peer_addr.clone());
            o.response = open.response.map(|r| Arc::new(r.clone()));
        });
        if let Some(r) = open.request {
            let _ = s.request.set(r.clone());
        }
        s.mailbox.update(|st| {
            // Every connection after the first one (not every later attempt).
            st.reconnects += u64::from(st.opened);
            st.opened = true;
        });
        if let Some(f) = self.on_open.take() {
            f(s.clone());
        }
    }

    fn on_readable(&mut self, _ctx: &mut Ctx<'_>) {
        self.shared.mailbox.update(|st| st.readable += 1);
    }

    fn on_pong(&mut self, _ctx: &mut Ctx<'_>, data: &[u8], rtt: Option<Duration>) {
        self.shared.mailbox.update(|st| st.pong(data, rtt));
    }

    fn on_writable(&mut self, _ctx: &mut Ctx<'_>) {
        self.shared.mailbox.update(|st| st.writable += 1);
    }

    fn on_error(&mut self, _conn: &Conn, error: &Error) {
        self.shared.mailbox.update(|st| {
            st.error.get_or_insert_with(|| error.clone());
        });
    }

    fn on_connecting(&mut self, _conn: &Conn, attempt: u32, _delay: Duration) {
        self.attempt = attempt;
    }

    fn on_before_connect(&mut self, attempt: &mut Attempt<'_>) {
        let Some(hook) = &self.before_connect else {
            return;
        };
        // The hook runs on a thread of its own, so Python (and the GIL it
        // needs) never stalls the loop; the attempt waits for its answer
        // within the connect timeout.
        let hook = hook.clone();
        let number = self.attempt;
        let pending = attempt.defer();
        // Without a thread, the closure and the pending attempt in it drop:
        // the attempt proceeds with the headers as they are.
        let _ = std::thread::Builder::new()
            .name("wsx-before-connect".to_owned())
            .spawn(move || {
                let headers = Python::attach(|py| {
                    let hook = hook.bind(py);
                    match hook.call1((number,)).and_then(|out| out.extract()) {
                        Ok(headers) => headers,
                        // Reported through `sys.unraisablehook`; the headers stay.
                        Err(e) => {
                            e.write_unraisable(py, Some(hook));
                            None
                        }
                    }
                });
                // Too late only when the client ended meanwhile.
                let _ = pending.proceed(headers);
            });
    }

    fn on_disconnect(&mut self, _conn: &Conn, _close: &Close<'_>) {
        self.shared.mailbox.update(|st| {
            // That attempt's error; the next attempt may succeed.
            st.error = None;
        });
    }

    fn on_close(&mut self, conn: &Conn, close: &Close<'_>) {
        let _ = self.shared.conn.set(conn.clone());
        self.shared.mailbox.update(|st| {
            let error = st.error.take();
            let frame = |f: Option<(wsx_core::proto::CloseCode, &str)>| {
                f.map(|(code, reason)| (code.0, reason.to_owned()))
            };
            st.closed = Some(Arc::new(Closed {
                code: close.code.0,
                reason: close.reason.to_owned(),
                normal: close.normal,
                rcvd: frame(close.rcvd),
                sent: frame(close.sent),
                rcvd_then_sent: (close.rcvd.is_some() && close.sent.is_some())
                    .then_some(close.origin == wsx_core::net::CloseOrigin::Remote),
                error,
            }));
        });
    }
}
