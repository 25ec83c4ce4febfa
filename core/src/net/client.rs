//! The client side in the loop: name lookup, trying each address in turn,
//! TLS, and the WebSocket handshake.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::ServerName;

use super::conn::{ConnEntry, Dial, Phase, Timeouts};
use super::error::{Error, ErrorKind};
use super::handler::{Ctx, Open};
use super::reactor::Reactor;
use super::redial::Redial;
use super::shared::ConnectRequest;
use super::timer::TimerKind;
use super::transport::Transport;
use crate::proto::handshake::Accepted;
use crate::proto::{Connection, Role};

/// TLS settings of one client connection: the configuration and the name the
/// certificate must match (also sent as SNI).
#[derive(Clone)]
pub(super) struct ClientTls {
    pub config: Arc<rustls::ClientConfig>,
    pub name: ServerName<'static>,
}

impl Reactor {
    /// Puts a new client connection in the table and starts its first attempt.
    pub fn start_connect(&mut self, request: ConnectRequest) {
        let ConnectRequest {
            conn,
            url,
            config,
            tls,
            handshake,
            handler,
        } = request;
        let timeouts = Timeouts {
            handshake: config.handshake_timeout,
            close: config.close_timeout,
            keepalive: config.keepalive,
            idle: config.idle_timeout,
        };
        let engine = Connection::new(Role::Client, config.protocol.clone());
        let redial = Redial::new(url, config, tls, handshake);
        let mut entry = ConnEntry::new(self.conn_handle(conn), engine, Phase::Waiting, timeouts);
        entry.handler = Some(handler);
        let slot = self.insert(entry);
        match redial {
            Ok(redial) => {
                if let Some(c) = self.conn_mut(slot) {
                    c.redial = Some(Box::new(redial));
                }
                self.first_attempt(slot);
            }
            Err(error) => self.fail(slot, error),
        }
    }

    /// The lookup finished: connect to the first address.
    pub fn on_resolved(&mut self, slot: usize, result: Result<Vec<SocketAddr>, Error>) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Phase::Resolving(dial) = &mut c.phase else {
            return;
        };
        match result {
            Err(error) => {
                let error = match &dial.proxy {
                    Some(hop) => Error::new(
                        ErrorKind::Proxy,
                        format!(
                            "the proxy {} is unreachable: {error}",
                            hop.config.authority()
                        ),
                    ),
                    None => error,
                };
                self.fail(slot, error)
            }
            Ok(addrs) => {
                dial.addrs = addrs;
                if let Phase::Resolving(dial) = std::mem::replace(&mut c.phase, Phase::Refusing) {
                    c.phase = Phase::Connecting(dial);
                }
                self.connect_next(slot);
            }
        }
    }

    /// Starts a TCP connect to the next address; fails the connection when
    /// none is left.
    fn connect_next(&mut self, slot: usize) {
        loop {
            let Some(c) = self.conn_mut(slot) else { return };
            if let Some(mut old) = c.transport.take() {
                let _ = self.registry().deregister(&mut old.tcp);
            }
            let Some(c) = self.conn_mut(slot) else { return };
            let Phase::Connecting(dial) = &mut c.phase else {
                return;
            };
            let Some(&addr) = dial.addrs.get(dial.next) else {
                let error = connect_error(dial);
                return self.fail(slot, error);
            };
            dial.next += 1;
            match mio::net::TcpStream::connect(addr) {
                Ok(tcp) => {
                    c.transport = Some(Transport::new(tcp, None));
                    match self.register(slot) {
                        Ok(()) => return,
                        Err(e) => self.record_connect_error(slot, e),
                    }
                }
                Err(e) => self.record_connect_error(slot, e),
            }
        }
    }

    fn record_connect_error(&mut self, slot: usize, error: io::Error) {
        if let Some(c) = self.conn_mut(slot)
            && let Phase::Connecting(dial) = &mut c.phase
        {
            dial.last_error = Some(error);
        }
    }

    /// The socket of a connect under way became ready: connected, or failed
    /// (then the next address is tried).
    pub fn on_connect_ready(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Some(t) = c.transport.as_mut() else {
            return;
        };
        match t.tcp.take_error() {
            Ok(Some(e)) | Err(e) => {
                self.record_connect_error(slot, e);
                return self.connect_next(slot);
            }
            Ok(None) => {}
        }
        match t.tcp.peer_addr() {
            Ok(addr) => self.connected(slot, addr),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => {
                self.record_connect_error(slot, e);
                self.connect_next(slot);
            }
        }
    }

    /// TCP stands: through the proxy's handshake if there is a proxy, then
    /// TLS (if `wss://`) and the handshake request.
    fn connected(&mut self, slot: usize, addr: SocketAddr) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Phase::Connecting(mut dial) = std::mem::replace(&mut c.phase, Phase::Refusing) else {
            return;
        };
        c.deadlines.cancel(TimerKind::Connect);
        c.conn.shared.set_peer_addr(addr);
        if let Some(transport) = c.transport.as_mut() {
            let _ = transport.tcp.set_nodelay(dial.nodelay);
        }
        let handshake_timeout = c.timeouts.handshake;
        self.schedule(slot, TimerKind::Handshake, handshake_timeout);
        match dial.proxy.take() {
            Some(hop) => self.start_tunnel(slot, dial, hop),
            None => self.start_handshake(slot, dial),
        }
    }

    /// Starts TLS (if `wss://`) and writes the handshake request.
    pub fn start_handshake(&mut self, slot: usize, dial: Box<Dial>) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Some(transport) = c.transport.as_mut() else {
            return;
        };
        if let Some(tls) = dial.tls {
            match rustls::ClientConnection::new(tls.config, tls.name) {
                Ok(session) => transport.start_tls(session.into()),
                Err(e) => {
                    return self.fail(
                        slot,
                        Error::new(ErrorKind::Tls, format!("TLS setup failed: {e}")),
                    );
                }
            }
        }
        c.hs_out.extend_from_slice(dial.handshake.request());
        c.phase = Phase::ClientHandshake(Box::new(dial.handshake));
        self.mark_dirty(slot);
    }

    /// The server accepted: the connection opens, and the bytes after the
    /// response go to the engine.
    pub fn client_open(&mut self, slot: usize, accepted: Accepted) {
        self.start_open(slot);
        let reconnect = self.attempt_opened(slot);
        let Some(c) = self.conn_mut(slot) else { return };
        if let Some(agreement) = &accepted.deflate {
            c.engine.enable_deflate(agreement);
        }
        let Some(peer_addr) = c.conn.peer_addr() else {
            return;
        };
        if let Some(handler) = c.handler.as_deref_mut() {
            let mut ctx = Ctx {
                conn: &c.conn,
                sender: Some(c.engine.sender()),
                direct: None,
            };
            let open = Open {
                subprotocol: accepted.subprotocol.as_deref(),
                response: Some(&accepted.response),
                request: None,
                peer_addr,
                reconnect,
            };
            handler.on_open(&mut ctx, &open);
        }
        c.engine.feed(&accepted.leftover);
        self.run_engine(slot);
    }

    /// What the connect timeout reports, by how far the connection got.
    pub fn connect_timeout_error(&mut self, slot: usize) -> Error {
        let (what, dial) = match self.conn_mut(slot).map(|c| &c.phase) {
            Some(Phase::Resolving(dial)) => ("resolve", dial),
            Some(Phase::Connecting(dial)) => ("connect to", dial),
            _ => return Error::new(ErrorKind::Timeout, "the connect timeout passed"),
        };
        Error::new(
            ErrorKind::Timeout,
            format!(
                "could not {what} {} within {:.1} s",
                dial.endpoint(),
                dial.connect_timeout.as_secs_f64()
            ),
        )
    }
}

/// Why no address could be connected to, from the last attempt's error.
fn connect_error(dial: &Dial) -> Error {
    let error = connect_error_to(dial);
    match &dial.proxy {
        Some(_) if error.kind() == ErrorKind::Connect => {
            Error::new(ErrorKind::Proxy, error.message())
        }
        _ => error,
    }
}

fn connect_error_to(dial: &Dial) -> Error {
    let target = dial.endpoint();
    match &dial.last_error {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => Error::new(
            ErrorKind::Connect,
            format!("could not connect to {target}: connection refused"),
        ),
        Some(e) if e.kind() == io::ErrorKind::TimedOut => Error::new(
            ErrorKind::Timeout,
            format!("could not connect to {target}: {e}"),
        ),
        Some(e) => Error::new(
            ErrorKind::Connect,
            format!("could not connect to {target}: {e}"),
        ),
        None => Error::new(
            ErrorKind::Connect,
            format!("could not connect to {target}: no address to try"),
        ),
    }
}
