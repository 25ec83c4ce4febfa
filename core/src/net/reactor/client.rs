//! The client side in the loop: each attempt (the before-connect hook, the
//! name lookup), TCP connects to the addresses raced (RFC 8305) or the
//! connect to a Unix domain socket, the proxy's tunnel, TLS, and the
//! WebSocket handshake.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mio::{Interest, Token};

use super::{Entry, Reactor};
use crate::net::conn::{ConnEntry, Phase, Timeouts};
use crate::net::dial::ProxyHop;
use crate::net::dial::{ATTEMPT_DELAY, Dial, connect_error, happy_eyeballs_order};
use crate::net::dns;
use crate::net::error::{Error, ErrorKind, Timeout};
use crate::net::handler::{Attempt, Open};
use crate::net::peer::PeerAddr;
use crate::net::queue::{ConnectRequest, Work};
use crate::net::redial::Redial;
use crate::net::shared::Command;
use crate::net::telemetry;
use crate::net::timer::TimerKind;
use crate::net::transport::Transport;
use crate::net::tunnel::{TunnelDial, TunnelStep};
use crate::proto::handshake::Accepted;
use crate::proto::{Connection, Role};

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

    /// Tells the handler an attempt starts after `delay`.
    pub(super) fn notify_connecting(&mut self, slot: usize, attempt: u32, delay: Duration) {
        let Some(c) = self.conn_mut(slot) else { return };
        if let Some(redial) = c.redial.as_deref_mut() {
            redial.number = attempt;
        }
        if let Some(handler) = c.handler.as_deref_mut() {
            handler.on_connecting(&c.conn, attempt, delay);
        }
    }

    /// The first attempt of a new client.
    pub fn first_attempt(&mut self, slot: usize) {
        self.notify_connecting(slot, 0, Duration::ZERO);
        self.start_attempt(slot);
    }

    /// Starts an attempt: the before-connect hook, then the name lookup.
    pub fn start_attempt(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        let (Some(redial), Some(handler)) = (c.redial.as_deref_mut(), c.handler.as_deref_mut())
        else {
            return;
        };
        let mut headers = redial.headers();
        let mut attempt = Attempt {
            conn: &c.conn,
            number: redial.number,
            headers: &mut headers,
            deferred: false,
        };
        handler.on_before_connect(&mut attempt);
        let deferred = attempt.deferred;
        let connect_timeout = redial.connect_timeout();
        self.schedule(slot, TimerKind::Connect, connect_timeout);
        match deferred {
            true => {
                if let Some(c) = self.conn_mut(slot) {
                    c.phase = Phase::Preparing(headers);
                }
            }
            false => self.dial(slot, headers),
        }
    }

    /// The attempt's request is decided: resolves the name, then connects
    /// (to a Unix domain socket at once).
    pub(super) fn dial(&mut self, slot: usize, headers: Vec<(String, String)>) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Some(redial) = c.redial.as_deref_mut() else {
            return;
        };
        let dial = match redial.attempt(headers) {
            Ok(dial) => dial,
            Err(error) => return self.fail(slot, error),
        };
        if dial.unix_path.is_some() {
            c.phase = Phase::Connecting(dial);
            return self.connect_next(slot);
        }
        let (host, port) = match &dial.proxy {
            Some(hop) => (hop.config.host.clone(), hop.config.port),
            None => (dial.url.host.clone(), dial.url.port),
        };
        let resolver = dial.resolver.clone();
        c.phase = Phase::Resolving(dial);
        let conn = c.conn.shared.clone();
        match dns::resolve_locally(&host, port) {
            Some(result) => self.on_resolved(slot, result),
            None => {
                let shared = self.shared.clone();
                // The loop may be gone by the time the answer comes; then
                // nobody waits for it.
                let answer = Box::new(move |result| {
                    let _ = shared.push(Work::Command(Command::Resolved { conn, result }));
                });
                if let Err(error) = dns::lookup(host, port, resolver.as_ref(), answer) {
                    self.fail(slot, error);
                }
            }
        }
    }

    /// The lookup finished: the race of its addresses starts.
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
                dial.addrs = happy_eyeballs_order(addrs);
                if let Phase::Resolving(dial) = std::mem::replace(&mut c.phase, Phase::Refusing) {
                    c.phase = Phase::Connecting(dial);
                }
                self.connect_next(slot);
            }
        }
    }

    /// Starts a connect to the next address beside those under way, and
    /// schedules the one after it ([`ATTEMPT_DELAY`]); fails the connection
    /// when no address is left and no connect is under way.
    pub(super) fn connect_next(&mut self, slot: usize) {
        let registry = self.poll.registry();
        let Some(Entry::Conn(c)) = self.entries.get_mut(slot) else {
            return;
        };
        let Phase::Connecting(dial) = &mut c.phase else {
            return;
        };
        let mut started = false;
        while let Some(connect) = dial.connect_next() {
            let connect = connect.and_then(|mut stream| {
                registry.register(
                    &mut stream,
                    Token(slot),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                Ok(stream)
            });
            match connect {
                Ok(stream) => {
                    dial.racers.push(stream);
                    started = true;
                    break;
                }
                // Failed at once (no route, say): the next one now.
                Err(e) => dial.last_error = Some(e),
            }
        }
        let more = dial.more();
        if dial.racers.is_empty() {
            let error = connect_error(dial);
            self.fail(slot, error);
        } else if started && more {
            self.schedule(slot, TimerKind::Race, ATTEMPT_DELAY);
        }
    }

    /// A socket of the race became ready: the first connect to stand wins
    /// and the others are dropped; a failed one makes way for the next
    /// address at once.
    pub fn on_connect_ready(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Phase::Connecting(dial) = &mut c.phase else {
            return;
        };
        let mut winner = None;
        let mut failed = false;
        let mut i = 0;
        while i < dial.racers.len() {
            let stream = &dial.racers[i];
            let outcome = match stream.take_error() {
                Ok(None) => stream.peer_addr(),
                Ok(Some(e)) | Err(e) => Err(e),
            };
            match outcome {
                Ok(addr) => {
                    winner = Some((dial.racers.swap_remove(i), addr));
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => i += 1,
                Err(e) => {
                    dial.last_error = Some(e);
                    dial.racers.swap_remove(i);
                    failed = true;
                }
            }
        }
        let Some((won, addr)) = winner else {
            if failed {
                self.connect_next(slot);
            }
            return;
        };
        // The losers close as they drop, which also removes them from the poller.
        dial.racers.clear();
        c.deadlines.cancel(TimerKind::Race);
        c.transport = Some(Transport::new(won, None));
        c.write_interest = true;
        self.connected(slot, addr);
    }

    /// The connection stands: through the proxy's handshake if there is a
    /// proxy, then TLS (if `wss://`) and the handshake request.
    pub(super) fn connected(&mut self, slot: usize, addr: PeerAddr) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Phase::Connecting(mut dial) = std::mem::replace(&mut c.phase, Phase::Refusing) else {
            return;
        };
        c.deadlines.cancel(TimerKind::Connect);
        c.conn.shared.set_peer_addr(addr);
        if let Some(transport) = c.transport.as_mut() {
            let _ = transport.stream.set_nodelay(dial.nodelay);
        }
        let handshake_timeout = c.timeouts.handshake;
        self.schedule(slot, TimerKind::Handshake, handshake_timeout);
        match dial.proxy.take() {
            Some(hop) => self.start_tunnel(slot, dial, hop),
            None => self.start_handshake(slot, dial),
        }
    }

    /// TCP to the proxy stands: TLS to it if asked, then the first bytes of
    /// its handshake.
    pub fn start_tunnel(&mut self, slot: usize, mut dial: Box<Dial>, hop: Box<ProxyHop>) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Some(transport) = c.transport.as_mut() else {
            return;
        };
        if let Some(tls) = &hop.tls {
            match rustls::ClientConnection::new(tls.config.clone(), tls.name.clone()) {
                Ok(session) => transport.start_tls(session.into()),
                Err(e) => {
                    let message = format!("TLS setup for the proxy failed: {e}");
                    return self.fail(slot, Error::new(ErrorKind::Tls, message));
                }
            }
        }
        dial.proxy = None;
        let id = c.conn.shared.id;
        let proxy = hop.config.authority();
        log::info!(target: telemetry::target::PROXY, "connection {id}: requesting a tunnel from the proxy {proxy}");
        match TunnelDial::start(hop, dial) {
            Ok((tunnel, out)) => {
                c.hs_out.extend_from_slice(&out);
                c.phase = Phase::Tunnel(Box::new(tunnel));
                self.mark_dirty(slot);
            }
            Err(error) => self.fail(slot, error),
        }
    }

    /// Bytes from the proxy during its handshake.
    pub fn tunnel_input(&mut self, slot: usize, data: &[u8]) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Phase::Tunnel(t) = std::mem::replace(&mut c.phase, Phase::Waiting) else {
            return;
        };
        let mut out = Vec::new();
        let step = t.feed(data, &mut out);
        c.hs_out.extend_from_slice(&out);
        match step {
            Err(error) => {
                let id = c.conn.shared.id;
                log::info!(target: telemetry::target::PROXY, "connection {id}: the proxy's tunnel failed: {error}");
                self.fail(slot, error)
            }
            Ok(TunnelStep::Pending(t)) => {
                c.phase = Phase::Tunnel(t);
                self.mark_dirty(slot);
            }
            Ok(TunnelStep::Done(dial)) => {
                let id = c.conn.shared.id;
                log::info!(target: telemetry::target::PROXY, "connection {id}: the proxy's tunnel is established");
                self.start_handshake(slot, dial)
            }
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
        let open = Open {
            subprotocol: accepted.subprotocol.as_deref(),
            response: Some(&accepted.response),
            request: None,
            peer_addr,
            reconnect,
        };
        self.deliver_open(slot, &open, &accepted.leftover);
    }

    /// The connection opened: remembers when, and tells whether it is a
    /// reconnect.
    pub fn attempt_opened(&mut self, slot: usize) -> bool {
        let Some(c) = self.conn_mut(slot) else {
            return false;
        };
        c.conn.shared.reconnecting.store(false, Ordering::Release);
        c.redial.as_deref_mut().is_some_and(Redial::opened)
    }

    /// What the connect timeout reports, by how far the connection got.
    pub fn connect_timeout_error(&mut self, slot: usize) -> Error {
        let (what, dial) = match self.conn_mut(slot).map(|c| &c.phase) {
            Some(Phase::Resolving(dial)) => ("resolve", dial),
            Some(Phase::Connecting(dial)) => ("connect to", dial),
            Some(Phase::Preparing(_)) => {
                return Error::timeout(
                    Timeout::Open,
                    "the before-connect hook did not let the attempt proceed within the connect timeout",
                );
            }
            _ => return Error::timeout(Timeout::Open, "the connect timeout passed"),
        };
        Error::timeout(
            Timeout::Open,
            format!(
                "could not {what} {} within {:.1} s",
                dial.endpoint(),
                dial.connect_timeout.as_secs_f64()
            ),
        )
    }
}
