//! The loop and the thread-safe handles to it, its connections and servers.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use super::client::ClientTls;
use super::config::{ClientConfig, ServerConfig};
use super::error::{Error, ErrorKind};
use super::handler::{Handler, ServerHandler};
use super::reactor::Reactor;
use super::shared::{Command, ConnShared, ConnectRequest, ListenRequest, LoopShared, ServerShared};
use super::stats::Live;
use super::{env_proxy, redial, server, tls};
use crate::proto::close::MAX_CLOSE_REASON;
use crate::proto::frame::MAX_CONTROL_PAYLOAD as MAX_PING;
use crate::proto::{CloseCode, MessageKind, WsUrl};

/// An event loop driving many connections and servers.
pub struct EventLoop {
    reactor: Reactor,
}

/// A handle to an [`EventLoop`], usable from any thread.
#[derive(Clone)]
pub struct LoopHandle {
    shared: Arc<LoopShared>,
}

/// A loop running on a thread of its own; dropping it stops and joins it.
pub struct LoopThread {
    handle: LoopHandle,
    thread: Option<JoinHandle<()>>,
}

/// A connection, usable from any thread. Using it after it closed returns
/// [`super::ErrorKind::Closed`].
#[derive(Clone)]
pub struct Conn {
    pub(super) shared: Arc<ConnShared>,
    pub(super) lp: Arc<LoopShared>,
}

/// The state of a [`Conn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Resolving, connecting, or in the TLS or WebSocket handshake.
    Connecting,
    /// Open for messages.
    Open,
    /// The close handshake is under way.
    Closing,
    /// Closed; the close event has run or is about to.
    Closed,
}

/// A listening server, usable from any thread.
#[derive(Clone)]
pub struct Server {
    pub(super) shared: Arc<ServerShared>,
    pub(super) lp: Arc<LoopShared>,
}

impl EventLoop {
    /// A new loop with no connections.
    pub fn new() -> Result<EventLoop, Error> {
        Ok(EventLoop {
            reactor: Reactor::new()?,
        })
    }
    /// A handle for other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.reactor.shared.clone(),
        }
    }
    /// Does the ready I/O and due timers, runs the callbacks on this thread,
    /// then returns. Waits up to `timeout` for something to happen (`None`:
    /// until something does; `Some(ZERO)` never blocks).
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.reactor.poll(timeout)
    }
    /// Polls until [`LoopHandle::stop`].
    pub fn run(&mut self) -> Result<(), Error> {
        while !self.reactor.shared.take_stop() {
            self.reactor.poll(None)?;
        }
        Ok(())
    }
    /// Runs the loop on a thread of its own.
    pub fn spawn(self) -> Result<LoopThread, Error> {
        let handle = self.handle();
        let mut event_loop = self;
        let thread = std::thread::Builder::new()
            .name("wsx-loop".to_owned())
            .spawn(move || {
                // A failing poller ends the thread; dropping the loop then
                // delivers every connection's close event.
                let _ = event_loop.run();
            })
            .map_err(|e| Error::io("could not start the loop's thread", &e))?;
        Ok(LoopThread {
            handle,
            thread: Some(thread),
        })
    }
}

impl LoopHandle {
    /// Starts a client connection to a `ws://` or `wss://` URL. A bad URL or
    /// option fails here; everything later reaches `handler`.
    pub fn connect(
        &self,
        url: &str,
        mut config: ClientConfig,
        handler: Box<dyn Handler>,
    ) -> Result<Conn, Error> {
        let url = WsUrl::parse(url)?;
        config.validate()?;
        if config.proxy.is_none() && config.proxy_from_env {
            config.proxy = env_proxy::for_url(&url, |name| std::env::var(name).ok())?;
        }
        let tls = match url.secure {
            true => Some(ClientTls {
                config: tls::client_config(&config.tls)?,
                name: tls::server_name(&url.host)?,
            }),
            false => None,
        };
        let handshake = redial::new_handshake(&url, &config, config.headers.clone())?;
        let backpressure = config.backpressure;
        let mut shared = ConnShared::new(
            self.shared.next_id(),
            backpressure.high_water,
            backpressure.low_water,
        );
        if let Some(policy) = &config.reconnect {
            shared.disconnected_queue = policy.queue_while_disconnected;
        }
        let shared = Arc::new(shared);
        let request = ConnectRequest {
            conn: shared.clone(),
            url,
            config,
            tls,
            handshake,
            handler,
        };
        self.shared.push(Command::Connect(Box::new(request)))?;
        Ok(Conn {
            shared,
            lp: self.shared.clone(),
        })
    }
    /// Binds and starts a server (the bind happens before this returns, so the
    /// port can be read back at once).
    pub fn listen(
        &self,
        config: ServerConfig,
        handler: Box<dyn ServerHandler>,
    ) -> Result<Server, Error> {
        config.validate()?;
        let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
        let listener = server::bind(&config)?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::io("could not read the listening address", &e))?;
        let shared = Arc::new(ServerShared {
            id: self.shared.next_id(),
            local_addr,
            topics: Default::default(),
            slow_subscriber: config.slow_subscriber,
            evicted_handshakes: Default::default(),
            _live: Live::server(),
        });
        let request = ListenRequest {
            server: shared.clone(),
            listener,
            config,
            tls,
            handler,
        };
        self.shared.push(Command::Listen(Box::new(request)))?;
        Ok(Server {
            shared,
            lp: self.shared.clone(),
        })
    }
    /// Asks the loop to stop: `run` returns (a [`LoopThread`]'s thread ends).
    /// Dropping the loop then drops its connections, each with a close event
    /// (1006, not clean), and its servers, each with its shutdown event.
    /// Commands queued after that fail with [`ErrorKind::Closed`].
    pub fn stop(&self) {
        self.shared.request_stop();
    }
}

impl LoopThread {
    /// A handle to the running loop.
    pub fn handle(&self) -> &LoopHandle {
        &self.handle
    }
}

impl Drop for LoopThread {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(thread) = self.thread.take() {
            // Dropped from one of its own callbacks: the thread ends by itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the connection is closing or closed")
}

impl Conn {
    /// A number naming this connection within its loop.
    pub fn id(&self) -> u64 {
        self.shared.id
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
        if matches!(self.state(), ConnState::Closing | ConnState::Closed) {
            return Err(closed());
        }
        if kind == MessageKind::Text && simdutf8::basic::from_utf8(data).is_err() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a text message must be valid UTF-8",
            ));
        }
        self.shared.admit_disconnected(data.len())?;
        let was_blocked = self.shared.blocked.load(Ordering::Acquire);
        if let Err(e) = self.shared.enqueue(data.len()) {
            // On the first refusal, have the loop look at the queue again in
            // case it drained before the refusal was recorded.
            if !was_blocked {
                let _ = self.lp.push(Command::Flush {
                    conn: self.shared.clone(),
                });
            }
            return Err(e);
        }
        let command = Command::Send {
            conn: self.shared.clone(),
            kind,
            data: data.to_vec(),
            compress,
        };
        self.lp.push(command).inspect_err(|_| {
            self.shared.queued.fetch_sub(data.len(), Ordering::AcqRel);
        })
    }
    /// Sends a ping (at most 125 bytes); its round trip arrives with the pong.
    pub fn ping(&self, data: &[u8]) -> Result<(), Error> {
        if matches!(self.state(), ConnState::Closing | ConnState::Closed) {
            return Err(closed());
        }
        if data.len() > MAX_PING {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("a ping carries at most {MAX_PING} bytes"),
            ));
        }
        self.lp.push(Command::Ping {
            conn: self.shared.clone(),
            data: data.to_vec(),
        })
    }
    /// Starts the close handshake (or abandons a connection still
    /// connecting). `code` must be valid on the wire and `reason` at most 123
    /// bytes. Closing twice is harmless; closing a closed connection fails.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !code.is_valid_on_wire() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("close code {} may not be sent", code.0),
            ));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("a close reason is at most {MAX_CLOSE_REASON} bytes"),
            ));
        }
        self.shared.app_closed.store(true, Ordering::Release);
        let begun = self.shared.transition(ConnState::Open, ConnState::Closing)
            || self
                .shared
                .transition(ConnState::Connecting, ConnState::Closing);
        match self.state() {
            ConnState::Closed => Err(closed()),
            _ if !begun => Ok(()),
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
    /// The peer's address, once connected.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
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
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// How many unfinished handshakes were dropped so far to make room for
    /// newer connections (see [`ServerConfig::max_pending_handshakes`]): a
    /// figure that climbs under a slowloris attack.
    pub fn evicted_handshakes(&self) -> u64 {
        self.shared.evicted_handshakes.load(Ordering::Relaxed)
    }

    /// Graceful shutdown: stop accepting, close every connection with 1001,
    /// drop those still open after `timeout`, then call
    /// [`ServerHandler::on_shutdown`].
    pub fn shutdown(&self, timeout: Duration) {
        // A loop that is gone has shut every server down already.
        let _ = self.lp.push(Command::Shutdown {
            server: self.shared.clone(),
            timeout,
        });
    }
}
