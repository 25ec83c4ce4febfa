//! Helpers shared by the net tests: handlers that report every event on a
//! channel, and an echo server.
#![allow(dead_code)] // Each test file uses a different part.

pub mod pki;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use wsx_core::net::{
    ClientConfig, Close, Conn, Ctx, Error, ErrorKind, EventLoop, Handler, LoopHandle, LoopThread,
    Open, Refusal, ServerConfig, ServerHandler, Upgrade,
};
use wsx_core::proto::MessageKind;

/// Long enough for anything that should happen; only a hung test waits it out.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A WebSocket upgrade request, for raw TCP clients.
pub const UPGRADE_REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// One event of a connection, as seen by a [`Recorder`].
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    Open {
        subprotocol: Option<String>,
        status: Option<u16>,
        headers: Vec<(String, String)>,
    },
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>, bool),
    Writable,
    Error(ErrorKind, Option<u16>, String),
    Close(u16, String, bool),
}

/// A handler that reports its events, and echoes messages if asked to.
pub struct Recorder {
    pub tx: Sender<Ev>,
    pub echo: bool,
}

impl Recorder {
    pub fn new(echo: bool) -> (Box<Recorder>, Events) {
        let (tx, rx) = channel();
        (Box::new(Recorder { tx, echo }), Events(rx))
    }
}

impl Handler for Recorder {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, open: &Open<'_>) {
        let headers = match (open.response, open.request) {
            (Some(r), _) => r.headers.0.clone(),
            (None, Some(r)) => r.headers.0.clone(),
            (None, None) => Vec::new(),
        };
        let _ = self.tx.send(Ev::Open {
            subprotocol: open.subprotocol.map(str::to_owned),
            status: open.response.map(|r| r.status),
            headers,
        });
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, kind: MessageKind, data: &[u8], _fin: bool) {
        if self.echo {
            ctx.send(kind, data).expect("echo");
        }
        let _ = self.tx.send(Ev::Message(kind, data.to_vec()));
    }
    fn on_ping(&mut self, _ctx: &mut Ctx<'_>, data: &[u8]) {
        let _ = self.tx.send(Ev::Ping(data.to_vec()));
    }
    fn on_pong(&mut self, _ctx: &mut Ctx<'_>, data: &[u8], rtt: Option<Duration>) {
        let _ = self.tx.send(Ev::Pong(data.to_vec(), rtt.is_some()));
    }
    fn on_writable(&mut self, _ctx: &mut Ctx<'_>) {
        let _ = self.tx.send(Ev::Writable);
    }
    fn on_error(&mut self, _conn: &Conn, error: &Error) {
        let _ = self
            .tx
            .send(Ev::Error(error.kind(), error.status(), error.to_string()));
    }
    fn on_close(&mut self, _conn: &Conn, close: &Close<'_>) {
        let _ = self.tx.send(Ev::Close(
            close.code.0,
            close.reason.to_owned(),
            close.clean,
        ));
    }
}

/// The receiving end of a [`Recorder`].
pub struct Events(pub Receiver<Ev>);

impl Events {
    /// The next event; panics if none comes.
    pub fn next(&self) -> Ev {
        self.0.recv_timeout(PATIENCE).expect("an event")
    }

    /// Skips events until `pick` accepts one.
    pub fn until<T>(&self, mut pick: impl FnMut(Ev) -> Option<T>) -> T {
        loop {
            if let Some(t) = pick(self.next()) {
                return t;
            }
        }
    }

    pub fn open(&self) -> Ev {
        match self.next() {
            ev @ Ev::Open { .. } => ev,
            other => panic!("expected the open event, got {other:?}"),
        }
    }

    pub fn message(&self) -> (MessageKind, Vec<u8>) {
        self.until(|ev| match ev {
            Ev::Message(kind, data) => Some((kind, data)),
            Ev::Close(..) => panic!("closed while waiting for a message: {ev:?}"),
            _ => None,
        })
    }

    /// The close event (code, reason, clean), skipping anything before it.
    pub fn close(&self) -> (u16, String, bool) {
        self.until(|ev| match ev {
            Ev::Close(code, reason, clean) => Some((code, reason, clean)),
            _ => None,
        })
    }

    /// The error event, skipping anything before it.
    pub fn error(&self) -> (ErrorKind, Option<u16>, String) {
        self.until(|ev| match ev {
            Ev::Error(kind, status, message) => Some((kind, status, message)),
            Ev::Close(..) => panic!("closed without an error: {ev:?}"),
            _ => None,
        })
    }

    /// Asserts nothing else arrives (the channel closes when the handler drops).
    pub fn assert_done(&self) {
        if let Ok(ev) = self.0.recv_timeout(Duration::from_millis(200)) {
            panic!("unexpected event after the close: {ev:?}");
        }
    }
}

/// What a server saw.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEv {
    Upgrade {
        path: String,
        headers: Vec<(String, String)>,
        subprotocol: Option<String>,
    },
    Error(ErrorKind, Option<u16>, String),
    Shutdown,
}

/// A server whose connections echo, reporting its own events and each
/// connection's through a shared channel.
pub struct EchoServer {
    pub tx: Sender<ServerEv>,
    pub conns: Sender<Ev>,
    /// Refuse every upgrade with this status.
    pub refuse: Option<u16>,
}

impl ServerHandler for EchoServer {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let _ = self.tx.send(ServerEv::Upgrade {
            path: upgrade.request.path.clone(),
            headers: upgrade.request.headers.0.clone(),
            subprotocol: upgrade.subprotocol.clone(),
        });
        if let Some(status) = self.refuse {
            return Err(Refusal::new(status, "go away").unwrap());
        }
        Ok(Box::new(Recorder {
            tx: self.conns.clone(),
            echo: true,
        }))
    }
    fn on_error(&mut self, error: &Error) {
        let _ = self.tx.send(ServerEv::Error(
            error.kind(),
            error.status(),
            error.to_string(),
        ));
    }
    fn on_shutdown(&mut self) {
        let _ = self.tx.send(ServerEv::Shutdown);
    }
}

/// An echo server's handle, its events, and its connections' events.
pub struct Echo {
    pub server: wsx_core::net::Server,
    pub events: Receiver<ServerEv>,
    pub conns: Events,
}

impl Echo {
    pub fn start(handle: &LoopHandle, config: ServerConfig) -> Echo {
        Echo::start_refusing(handle, config, None)
    }

    pub fn start_refusing(handle: &LoopHandle, config: ServerConfig, refuse: Option<u16>) -> Echo {
        let (tx, events) = channel();
        let (conns_tx, conns) = channel();
        let server = handle
            .listen(
                config,
                Box::new(EchoServer {
                    tx,
                    conns: conns_tx,
                    refuse,
                }),
            )
            .expect("listen");
        Echo {
            server,
            events,
            conns: Events(conns),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/", self.server.local_addr())
    }

    /// A raw TCP client that completed the handshake (the server's side is
    /// open); the 101 response is still unread.
    pub fn raw_client(&self) -> std::net::TcpStream {
        use std::io::Write;
        let mut tcp = std::net::TcpStream::connect(self.server.local_addr()).expect("tcp");
        tcp.write_all(UPGRADE_REQUEST).expect("handshake");
        self.conns.open();
        tcp
    }

    pub fn next_event(&self) -> ServerEv {
        self.events.recv_timeout(PATIENCE).expect("a server event")
    }
}

/// A loop on its own thread.
pub fn spawn_loop() -> LoopThread {
    EventLoop::new().expect("loop").spawn().expect("spawn")
}

/// A client config without keepalive, so tests see only their own traffic.
pub fn client_config() -> ClientConfig {
    ClientConfig {
        keepalive: None,
        ..ClientConfig::default()
    }
}

/// A server config on 127.0.0.1, a free port, no keepalive.
pub fn server_config() -> ServerConfig {
    ServerConfig {
        keepalive: None,
        ..ServerConfig::default()
    }
}

/// Connects a recording client and waits for it to open.
pub fn connect(handle: &LoopHandle, url: &str, config: ClientConfig) -> (Conn, Events) {
    let (recorder, events) = Recorder::new(false);
    let conn = handle.connect(url, config, recorder).expect("connect");
    events.open();
    (conn, events)
}
