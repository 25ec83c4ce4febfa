//! A blocking wrapper over wsx's callback API: a loop on its own thread whose
//! handlers push every event into a channel, so tests read top to bottom.

use std::fmt;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use wsx_core::net::{
    ClientConfig, Close, Conn, Ctx, Error, ErrorKind, EventLoop, Handler, LoopHandle, LoopThread,
    Open, PeerAddr, Refusal, Server, ServerConfig, ServerHandler, Upgrade,
};
use wsx_core::proto::{CloseCode, MessageKind};

/// How long any single wsx event may take to arrive.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection's open event, owned.
pub struct Opened {
    /// The connection.
    pub conn: Conn,
    /// The negotiated subprotocol.
    pub subprotocol: Option<String>,
    /// The request path (server side).
    pub path: Option<String>,
    /// The response status (client side).
    pub status: Option<u16>,
    /// The request headers (server side) or response headers (client side).
    pub headers: Vec<(String, String)>,
    /// The peer's address.
    pub peer_addr: PeerAddr,
    /// The thread the open callback ran on.
    pub thread: ThreadId,
}

impl Opened {
    /// The port of the peer's IP address (panics over a Unix socket).
    pub fn ip_port(&self) -> u16 {
        self.peer_addr.ip().expect("an IP peer").port()
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("subprotocol", &self.subprotocol)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("peer_addr", &self.peer_addr)
            .field("thread", &self.thread)
            .finish()
    }
}

/// A connection's close event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close code.
    pub code: u16,
    /// The close reason.
    pub reason: String,
    /// Whether the close handshake completed.
    pub clean: bool,
}

/// One event of a wsx connection, owned.
pub enum Event {
    /// The handshake succeeded.
    Open(Opened),
    /// A whole message.
    Message(MessageKind, Vec<u8>),
    /// A ping arrived.
    Ping(Vec<u8>),
    /// A pong arrived.
    Pong(Vec<u8>),
    /// The send queue drained after a would-block.
    Writable,
    /// Something failed: the kind, the message and an HTTP status if any.
    Error(ErrorKind, String, Option<u16>),
    /// The connection is over.
    Closed(Closed),
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Open(open) => write!(f, "{open:?}"),
            Event::Message(kind, data) => write!(f, "Message({kind:?}, {} bytes)", data.len()),
            Event::Ping(data) => write!(f, "Ping({data:?})"),
            Event::Pong(data) => write!(f, "Pong({data:?})"),
            Event::Writable => write!(f, "Writable"),
            Event::Error(kind, message, status) => {
                write!(f, "Error({kind:?}, {message:?}, {status:?})")
            }
            Event::Closed(close) => write!(f, "{close:?}"),
        }
    }
}

/// A [`Handler`] that records every event, and echoes messages if asked.
struct Recorder {
    events: Sender<Event>,
    echo: bool,
}

impl Recorder {
    fn record(&self, event: Event) {
        // The test may have stopped listening; that is fine.
        let _ = self.events.send(event);
    }
}

impl Handler for Recorder {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, open: &Open<'_>) {
        let headers = match (open.request, open.response) {
            (Some(request), _) => &request.headers,
            (None, Some(response)) => &response.headers,
            (None, None) => &Default::default(),
        };
        self.record(Event::Open(Opened {
            conn: ctx.conn().clone(),
            subprotocol: open.subprotocol.map(str::to_owned),
            path: open.request.map(|r| r.path.clone()),
            status: open.response.map(|r| r.status),
            headers: headers.0.clone(),
            peer_addr: open.peer_addr.clone(),
            thread: thread::current().id(),
        }));
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], fin: bool) {
        if !fin {
            self.record(Event::Error(
                ErrorKind::Protocol,
                "a partial message outside streaming mode".into(),
                None,
            ));
        }
        if let Some(Err(e)) = self.echo.then(|| ctx.send(kind, data)) {
            self.record(Event::Error(
                e.kind(),
                format!("echo failed: {e}"),
                e.status(),
            ));
        }
        self.record(Event::Message(kind, data.to_vec()));
    }

    fn on_ping(&mut self, _ctx: &mut Ctx<'_>, data: &[u8]) {
        self.record(Event::Ping(data.to_vec()));
    }

    fn on_pong(&mut self, _ctx: &mut Ctx<'_>, data: &[u8], _rtt: Option<Duration>) {
        self.record(Event::Pong(data.to_vec()));
    }

    fn on_writable(&mut self, _ctx: &mut Ctx<'_>) {
        self.record(Event::Writable);
    }

    fn on_error(&mut self, _conn: &Conn, error: &Error) {
        self.record(Event::Error(
            error.kind(),
            error.to_string(),
            error.status(),
        ));
    }

    fn on_close(&mut self, _conn: &Conn, close: &Close<'_>) {
        self.record(Event::Closed(Closed {
            code: close.code.0,
            reason: close.reason.to_owned(),
            clean: close.clean,
        }));
    }
}

/// One wsx connection, client or server side, with its recorded events.
pub struct Endpoint {
    /// The connection, to send, ping and close from the test.
    pub conn: Conn,
    events: Receiver<Event>,
}

impl Endpoint {
    /// The next event.
    pub fn next(&self) -> Event {
        self.events
            .recv_timeout(EVENT_TIMEOUT)
            .unwrap_or_else(|e| panic!("no wsx event within {EVENT_TIMEOUT:?}: {e}"))
    }

    /// The next event if one is waiting (for poll mode).
    pub fn try_next(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The next event, which must be the open event.
    pub fn expect_open(&self) -> Opened {
        match self.next() {
            Event::Open(open) => open,
            other => panic!("wsx: expected the open event, got {other:?}"),
        }
    }

    /// The next event, which must be a message.
    pub fn expect_message(&self) -> (MessageKind, Vec<u8>) {
        match self.next() {
            Event::Message(kind, data) => (kind, data),
            other => panic!("wsx: expected a message, got {other:?}"),
        }
    }

    /// The next event, which must be a ping.
    pub fn expect_ping(&self) -> Vec<u8> {
        match self.next() {
            Event::Ping(data) => data,
            other => panic!("wsx: expected a ping, got {other:?}"),
        }
    }

    /// The next event, which must be a pong.
    pub fn expect_pong(&self) -> Vec<u8> {
        match self.next() {
            Event::Pong(data) => data,
            other => panic!("wsx: expected a pong, got {other:?}"),
        }
    }

    /// The next event, which must be the writable event.
    pub fn expect_writable(&self) {
        match self.next() {
            Event::Writable => {}
            other => panic!("wsx: expected the writable event, got {other:?}"),
        }
    }

    /// The next event, which must be an error: its kind, message and HTTP status.
    pub fn expect_error(&self) -> (ErrorKind, String, Option<u16>) {
        match self.next() {
            Event::Error(kind, message, status) => (kind, message, status),
            other => panic!("wsx: expected an error, got {other:?}"),
        }
    }

    /// The next event, which must be the close event.
    pub fn expect_closed(&self) -> Closed {
        match self.next() {
            Event::Closed(closed) => closed,
            other => panic!("wsx: expected the close event, got {other:?}"),
        }
    }

    /// The close event of a connection that dropped, after any error events
    /// saying why (which one, if any, is up to wsx).
    pub fn expect_dropped(&self) -> Closed {
        loop {
            match self.next() {
                Event::Error(..) => continue,
                Event::Closed(closed) => return closed,
                other => panic!("wsx: expected the close event, got {other:?}"),
            }
        }
    }

    /// Sends a message from the test thread.
    pub fn send(&self, kind: MessageKind, data: &[u8]) {
        self.conn
            .send(kind, data)
            .unwrap_or_else(|e| panic!("wsx send of {} bytes failed: {e}", data.len()));
    }

    /// Sends a ping from the test thread.
    pub fn ping(&self, data: &[u8]) {
        self.conn
            .ping(data)
            .unwrap_or_else(|e| panic!("wsx ping failed: {e}"));
    }

    /// Starts the close handshake from the test thread.
    pub fn close(&self, code: u16, reason: &str) {
        self.conn
            .close(CloseCode(code), reason)
            .unwrap_or_else(|e| panic!("wsx close failed: {e}"));
    }
}

/// What a [`WsxServer`] does with the messages it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Sends each message straight back from the callback.
    Echo,
    /// Only records them.
    Nothing,
}

/// The [`ServerHandler`] of a [`WsxServer`]: accepts every request with a
/// [`Recorder`], adding `response_headers` to the 101.
struct Acceptor {
    accepted: Sender<Receiver<Event>>,
    reply: Reply,
    response_headers: Vec<(String, String)>,
    shutdown: Sender<()>,
}

impl ServerHandler for Acceptor {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        upgrade
            .response_headers
            .extend(self.response_headers.iter().cloned());
        let (events, receiver) = mpsc::channel();
        let _ = self.accepted.send(receiver);
        Ok(Box::new(Recorder {
            events,
            echo: self.reply == Reply::Echo,
        }))
    }

    fn on_shutdown(&mut self) {
        let _ = self.shutdown.send(());
    }
}

/// A wsx server whose connections the test takes one by one.
pub struct WsxServer {
    /// The server.
    pub server: Server,
    accepted: Receiver<Receiver<Event>>,
    shutdown: Receiver<()>,
}

impl WsxServer {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server.local_addr().port()
    }

    /// Waits for the shutdown event (after [`Server::shutdown`]).
    pub fn expect_shutdown(&self) {
        self.shutdown
            .recv_timeout(EVENT_TIMEOUT)
            .unwrap_or_else(|e| {
                panic!("wsx server: no shutdown event within {EVENT_TIMEOUT:?}: {e}")
            });
    }

    /// The next accepted connection and its open event.
    pub fn accept(&self) -> (Endpoint, Opened) {
        let events = self
            .accepted
            .recv_timeout(EVENT_TIMEOUT)
            .unwrap_or_else(|e| panic!("wsx server: no connection within {EVENT_TIMEOUT:?}: {e}"));
        match events.recv_timeout(EVENT_TIMEOUT) {
            Ok(Event::Open(open)) => (
                Endpoint {
                    conn: open.conn.clone(),
                    events,
                },
                open,
            ),
            other => panic!("wsx server: expected the open event, got {other:?}"),
        }
    }

    /// Whether a connection was accepted within `wait` (to check that none was).
    pub fn accepted_within(&self, wait: Duration) -> bool {
        self.accepted.recv_timeout(wait).is_ok()
    }
}

/// A wsx event loop on its own thread; dropping it stops the loop.
pub struct Wsx {
    thread: LoopThread,
}

impl Wsx {
    /// Starts a loop.
    pub fn new() -> Wsx {
        let event_loop = EventLoop::new().expect("wsx event loop");
        Wsx {
            thread: event_loop.spawn().expect("wsx loop thread"),
        }
    }

    /// The loop's handle.
    pub fn handle(&self) -> &LoopHandle {
        self.thread.handle()
    }

    /// Starts a client connection to `url`.
    pub fn connect(&self, url: &str, config: ClientConfig) -> Endpoint {
        connect(self.handle(), url, config)
    }

    /// Starts a server that answers with `reply` and adds `response_headers` to its 101s.
    pub fn listen(
        &self,
        config: ServerConfig,
        reply: Reply,
        response_headers: &[(&str, &str)],
    ) -> WsxServer {
        let (accepted, receiver) = mpsc::channel();
        let response_headers = response_headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let (shutdown, shutdown_receiver) = mpsc::channel();
        let acceptor = Box::new(Acceptor {
            accepted,
            reply,
            response_headers,
            shutdown,
        });
        let server = self
            .handle()
            .listen(config, acceptor)
            .unwrap_or_else(|e| panic!("wsx listen: {e}"));
        WsxServer {
            server,
            accepted: receiver,
            shutdown: shutdown_receiver,
        }
    }
}

impl Default for Wsx {
    fn default() -> Self {
        Wsx::new()
    }
}

/// Starts a client connection to `url` on the loop of `handle`.
fn connect(handle: &LoopHandle, url: &str, config: ClientConfig) -> Endpoint {
    let (events, receiver) = mpsc::channel();
    let handler = Box::new(Recorder {
        events,
        echo: false,
    });
    let conn = handle
        .connect(url, config, handler)
        .unwrap_or_else(|e| panic!("wsx connect {url}: {e}"));
    Endpoint {
        conn,
        events: receiver,
    }
}

/// A wsx event loop in poll mode: it does nothing between calls of
/// [`Polled::poll_until`], which run its callbacks on the calling thread.
pub struct Polled {
    event_loop: EventLoop,
}

impl Polled {
    /// A loop with nothing to do yet.
    pub fn new() -> Polled {
        Polled {
            event_loop: EventLoop::new().expect("wsx event loop"),
        }
    }

    /// Starts a client connection to `url`.
    pub fn connect(&self, url: &str, config: ClientConfig) -> Endpoint {
        connect(&self.event_loop.handle(), url, config)
    }

    /// Polls in short turns until `ready` gives a value.
    pub fn poll_until<T>(&mut self, mut ready: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        loop {
            if let Some(value) = ready() {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "nothing within {EVENT_TIMEOUT:?} of polling"
            );
            self.event_loop
                .poll(Some(Duration::from_millis(10)))
                .unwrap_or_else(|e| panic!("wsx poll: {e}"));
        }
    }
}

impl Default for Polled {
    fn default() -> Self {
        Polled::new()
    }
}
