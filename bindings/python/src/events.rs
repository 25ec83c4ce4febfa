//! The loop-thread side of a connection: a [`Handler`] that records every
//! event into the connection's [`Mailbox`], where Python picks it up.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use wsx_core::net::{Close, Conn, Ctx, Error, Handler, Open};
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
    /// The handshake response (client side).
    pub response: OnceLock<Response>,
    /// The negotiated subprotocol.
    pub subprotocol: OnceLock<Option<String>>,
    /// The peer's address.
    pub peer: OnceLock<SocketAddr>,
}

impl ConnShared {
    /// A connection that has not opened yet.
    pub fn new() -> Arc<ConnShared> {
        Arc::new(ConnShared {
            mailbox: Mailbox::new(ConnState::default()),
            conn: OnceLock::new(),
            request: OnceLock::new(),
            response: OnceLock::new(),
            subprotocol: OnceLock::new(),
            peer: OnceLock::new(),
        })
    }
}

/// A received message, copied out of the core's buffer.
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
    inbox: VecDeque<Message>,
    pings: VecDeque<Ping>,
    /// How many times the send queue drained after a would-block.
    pub writable: u64,
    /// The round trip of the last answered ping, in seconds.
    pub latency: f64,
}

impl ConnState {
    /// The next message, or the close once every message was taken.
    pub fn next(&mut self) -> Option<Next> {
        match self.inbox.pop_front() {
            Some(m) => Some(Next::Message(m)),
            None => self.closed.clone().map(Next::Closed),
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

    /// A pong answers the oldest ping with the same data and every ping
    /// before it; a pong to no ping of ours (keepalive) only updates latency.
    fn pong(&mut self, data: &[u8], rtt: Option<Duration>) {
        let now = Instant::now();
        if let Some(i) = self.pings.iter().position(|p| p.data == data) {
            for p in self.pings.drain(..=i) {
                let secs = now.duration_since(p.sent).as_secs_f64();
                let _ = p.rtt.set(secs);
                self.latency = secs;
            }
        } else if let Some(rtt) = rtt {
            self.latency = rtt.as_secs_f64();
        }
    }
}

/// The [`Handler`] of every connection made through Python. On the server
/// side it also hands the connection to its server's accept queue once open.
pub struct ConnHandler {
    shared: Arc<ConnShared>,
    on_open: Option<Box<dyn FnOnce(Arc<ConnShared>) + Send>>,
}

impl ConnHandler {
    /// A handler recording into `shared`; `on_open` runs once when it opens.
    pub fn new(
        shared: Arc<ConnShared>,
        on_open: Option<Box<dyn FnOnce(Arc<ConnShared>) + Send>>,
    ) -> ConnHandler {
        ConnHandler { shared, on_open }
    }
}

impl Handler for ConnHandler {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, open: &Open<'_>) {
        let s = &self.shared;
        let _ = s.conn.set(ctx.conn().clone());
        let _ = s.subprotocol.set(open.subprotocol.map(str::to_owned));
        let _ = s.peer.set(open.peer_addr);
        if let Some(r) = open.response {
            let _ = s.response.set(r.clone());
        }
        if let Some(r) = open.request {
            let _ = s.request.set(r.clone());
        }
        s.mailbox.update(|st| st.opened = true);
        if let Some(f) = self.on_open.take() {
            f(s.clone());
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        self.shared.mailbox.update(|st| {
            st.inbox.push_back(Message {
                kind,
                data: data.to_vec(),
            })
        });
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

    fn on_close(&mut self, conn: &Conn, close: &Close<'_>) {
        let _ = self.shared.conn.set(conn.clone());
        self.shared.mailbox.update(|st| {
            let error = st.error.take();
            st.closed = Some(Arc::new(Closed {
                code: close.code.0,
                reason: close.reason.to_owned(),
                clean: close.clean,
                error,
            }));
        });
    }
}
