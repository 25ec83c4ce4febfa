//! A listening server: its socket (TCP, or a Unix domain socket), options,
//! handler, and the count of its connections and unfinished handshakes that
//! the accept limits work on.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use mio::event::Source;
use mio::{Interest, Registry, Token};

use super::config::ServerConfig;
use super::error::{Error, ErrorKind};
use super::handler::ServerHandler;
use super::peer::PeerAddr;
use super::shared::ServerShared;
use super::socket::Stream;
use super::timer::Deadlines;
use crate::proto::CloseCode;

/// A listening server in the loop's table.
pub(super) struct ListenerEntry {
    pub id: u64,
    /// What its handles share (the topics its connections subscribe to).
    pub server: Arc<ServerShared>,
    /// `None` once the server left the loop.
    pub listener: Option<Listener>,
    pub config: ServerConfig,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub handler: Box<dyn ServerHandler>,
    /// Which of the server's loops this is (0: its home).
    pub part: usize,
    /// On the home of a server spread over several loops: the other loops'
    /// threads, joined when the server leaves the home loop.
    pub workers: Vec<super::worker::Worker>,
    /// Round-robin: the loop the next accepted connection goes to.
    pub turn: usize,
    /// Connections accepted on this loop and not yet finished.
    pub conns: usize,
    /// Of those, the ones still in the handshake: their slots by connection
    /// id, which grows with every accept, so the first is the oldest.
    pub pending: BTreeMap<u64, usize>,
    /// The graceful shutdown under way, if any.
    pub drain: Option<Drain>,
    pub deadlines: Deadlines,
}

/// A graceful shutdown under way: the close frame every open connection
/// gets; handshakes meanwhile are answered 503.
pub(super) struct Drain {
    pub code: CloseCode,
    pub reason: String,
}

/// What the accept limits say of a newly accepted connection.
pub(super) enum Room {
    /// Both limits leave room.
    Free,
    /// The oldest unfinished handshake (in this slot) makes room.
    Evict(usize),
    /// Every connection finished its handshake: the newcomer is turned away.
    Full,
}

impl ListenerEntry {
    /// Whether a drain is under way and every connection of this loop has
    /// ended (and, on the home of a server spread over several loops, the
    /// other loops have finished their parts).
    pub fn drained(&self) -> bool {
        self.drain.is_some() && self.conns == 0 && (self.part > 0 || self.server.others_done())
    }

    /// Makes room for one more connection under
    /// [`ServerConfig::max_connections`] and
    /// [`ServerConfig::max_pending_handshakes`]: the oldest unfinished
    /// handshake gives way (counted as evicted).
    /// With several loops the server's connections on every loop count
    /// against `max_connections`, and each loop holds its share of
    /// `max_pending_handshakes` (rounded up) and makes room among its own.
    pub fn room(&mut self) -> Room {
        let open = self.server.conns.load(std::sync::atomic::Ordering::Acquire);
        let pending_share = self
            .config
            .max_pending_handshakes
            .div_ceil(self.server.parts.len());
        if open < self.config.max_connections && self.pending.len() < pending_share {
            return Room::Free;
        }
        match self.pending.pop_first() {
            Some((_, oldest)) => {
                self.server
                    .evicted_handshakes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Room::Evict(oldest)
            }
            None => Room::Full,
        }
    }
}

/// A listening socket.
pub(super) enum Listener {
    Tcp(mio::net::TcpListener),
    #[cfg(unix)]
    Unix(super::unix::SocketListener),
}

impl Listener {
    /// Accepts a waiting connection.
    pub fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        match self {
            Listener::Tcp(tcp) => tcp
                .accept()
                .map(|(stream, addr)| (Stream::Tcp(stream), PeerAddr::Ip(addr))),
            #[cfg(unix)]
            Listener::Unix(unix) => unix.accept(),
        }
    }

    /// The IP address and port it listens on; a Unix domain socket has
    /// none and reports the unspecified `0.0.0.0:0`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Tcp(tcp) => tcp.local_addr(),
            #[cfg(unix)]
            Listener::Unix(_) => Ok(SocketAddr::from(([0, 0, 0, 0], 0))),
        }
    }

    /// The path of a Unix domain socket.
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            Listener::Tcp(_) => None,
            #[cfg(unix)]
            Listener::Unix(unix) => Some(unix.path()),
        }
    }
}

impl Source for Listener {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Listener::Tcp(tcp) => tcp.register(registry, token, interest),
            #[cfg(unix)]
            Listener::Unix(unix) => unix.register(registry, token, interest),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Listener::Tcp(tcp) => tcp.reregister(registry, token, interest),
            #[cfg(unix)]
            Listener::Unix(unix) => unix.reregister(registry, token, interest),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Listener::Tcp(tcp) => tcp.deregister(registry),
            #[cfg(unix)]
            Listener::Unix(unix) => unix.deregister(registry),
        }
    }
}

/// Binds a listener for `config` before anything reaches the loop: its Unix
/// domain socket if it names one, else the first of the host's addresses
/// that binds (with a backlog of 1024, so bursts of connections are not
/// dropped), with `SO_REUSEPORT` if the configuration asks.
pub(super) fn bind(config: &ServerConfig) -> Result<Listener, Error> {
    #[cfg(unix)]
    if let Some(path) = &config.unix_socket_path {
        return super::unix::bind(path, config.remove_stale_socket).map(Listener::Unix);
    }
    bind_tcp(config).map(Listener::Tcp)
}

/// Another socket on the port of `addr`, which a socket bound with
/// `SO_REUSEPORT` listens on: one of the sockets of a server spread over
/// several loops with the kernel balancing.
pub(super) fn bind_shared(addr: SocketAddr) -> Result<Listener, Error> {
    super::reuse_port::bind(addr)
        .map(Listener::Tcp)
        .map_err(|e| Error::io(&format!("could not listen on {addr} for another loop"), &e))
}

fn bind_tcp(config: &ServerConfig) -> Result<mio::net::TcpListener, Error> {
    use std::net::ToSocketAddrs;
    let target = format!("{}:{}", config.host, config.port);
    let addrs = (config.host.as_str(), config.port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::new(
                ErrorKind::Dns,
                format!("could not resolve \"{}\" to listen on: {e}", config.host),
            )
        })?;
    let mut last = None;
    for addr in addrs {
        let bound = if config.reuse_port {
            super::reuse_port::bind(addr)
        } else {
            mio::net::TcpListener::bind(addr)
        };
        match bound {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrNotAvailable, "no address"));
    let hint = match (e.kind() == io::ErrorKind::AddrInUse, config.reuse_port) {
        (false, _) => "",
        (true, false) => {
            " (another socket listens on that port; servers that share a port all set reuse_port)"
        }
        (true, true) => " (a socket without reuse_port, or another user's, listens on that port)",
    };
    Err(Error::io(
        &format!("could not listen on {target}{hint}"),
        &e,
    ))
}
