//! The loop and the thread-safe handles to it, its connections and servers.

use std::net::SocketAddr;
use std::time::Duration;

use super::config::{ClientConfig, ServerConfig};
use super::error::Error;
use super::handler::{Handler, ServerHandler};
use crate::proto::{CloseCode, MessageKind};

/// An event loop driving many connections and servers.
pub struct EventLoop {}

/// A handle to an [`EventLoop`], usable from any thread.
#[derive(Clone)]
pub struct LoopHandle {}

/// A loop running on a thread of its own; dropping it stops and joins it.
pub struct LoopThread {}

/// A connection, usable from any thread. Using it after it closed returns
/// [`super::ErrorKind::Closed`].
#[derive(Clone)]
pub struct Conn {}

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
pub struct Server {}

impl EventLoop {
    /// A new loop with no connections.
    pub fn new() -> Result<EventLoop, Error> {
        todo!()
    }
    /// A handle for other threads.
    pub fn handle(&self) -> LoopHandle {
        todo!()
    }
    /// Does the ready I/O and due timers, runs the callbacks on this thread,
    /// then returns. Waits up to `timeout` for something to happen (`None`:
    /// until something does; `Some(ZERO)` never blocks).
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        let _ = timeout;
        todo!()
    }
    /// Polls until [`LoopHandle::stop`].
    pub fn run(&mut self) -> Result<(), Error> {
        todo!()
    }
    /// Runs the loop on a thread of its own.
    pub fn spawn(self) -> Result<LoopThread, Error> {
        todo!()
    }
}

impl LoopHandle {
    /// Starts a client connection to a `ws://` or `wss://` URL. A bad URL or
    /// option fails here; everything later reaches `handler`.
    pub fn connect(&self, url: &str, config: ClientConfig, handler: Box<dyn Handler>) -> Result<Conn, Error> {
        let _ = (url, config, handler);
        todo!()
    }
    /// Binds and starts a server (the bind happens before this returns, so the
    /// port can be read back at once).
    pub fn listen(&self, config: ServerConfig, handler: Box<dyn ServerHandler>) -> Result<Server, Error> {
        let _ = (config, handler);
        todo!()
    }
    /// Asks the loop to stop: `run` returns, connections are dropped.
    pub fn stop(&self) {
        todo!()
    }
}

impl LoopThread {
    /// A handle to the running loop.
    pub fn handle(&self) -> &LoopHandle {
        todo!()
    }
}

impl Conn {
    /// A number naming this connection within its loop.
    pub fn id(&self) -> u64 {
        todo!()
    }
    /// Queues a message. Fails with `WouldBlock` past the high-water mark and
    /// with `Closed` once the close handshake began.
    pub fn send(&self, kind: MessageKind, data: &[u8]) -> Result<(), Error> {
        let _ = (kind, data);
        todo!()
    }
    /// Sends a ping; its round trip arrives with the pong.
    pub fn ping(&self, data: &[u8]) -> Result<(), Error> {
        let _ = data;
        todo!()
    }
    /// Starts the close handshake.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let _ = (code, reason);
        todo!()
    }
    /// Bytes queued and not yet written to the socket.
    pub fn buffered_amount(&self) -> usize {
        todo!()
    }
    /// The connection's state.
    pub fn state(&self) -> ConnState {
        todo!()
    }
    /// The round trip of the last answered ping.
    pub fn rtt(&self) -> Option<Duration> {
        todo!()
    }
    /// The peer's address, once connected.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        todo!()
    }
}

impl Server {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        todo!()
    }
    /// Graceful shutdown: stop accepting, close every connection with 1001,
    /// drop those still open after `timeout`, then call
    /// [`ServerHandler::on_shutdown`].
    pub fn shutdown(&self, timeout: Duration) {
        let _ = timeout;
        todo!()
    }
}
