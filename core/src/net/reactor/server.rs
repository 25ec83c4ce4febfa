//! The server side in the loop: accepting within the limits, the handshake
//! and the accept decision, refusals, and graceful shutdown (the drain).

use crate::net::{spread, tally, telemetry};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mio::{Interest, Token};

use super::{Entry, Reactor};
use crate::net::conn::{ConnEntry, Deciding, Phase, Timeouts};
use crate::net::error::{Error, ErrorKind};
use crate::net::handler::{Open, ServerHandler, Upgrade};
use crate::net::identity::PeerIdentity;
use crate::net::listener::{Drain, ListenerEntry, Room};
use crate::net::peer::PeerAddr;
use crate::net::queue::ListenRequest;
use crate::net::shared::{Command, ConnShared, Decision, ServerShared};
use crate::net::socket::Stream;
use crate::net::timer::{Deadlines, TimerKind};
use crate::net::transport::Transport;
use crate::proto::extension::deflate::negotiate;
use crate::proto::handshake::{
    Accept, Rejection, Request, ServerHandshake, accept_response, check_origin, select_subprotocol,
};
use crate::proto::{CloseCode, Connection, Role};

impl Reactor {
    /// Puts a bound listener in the table and starts accepting.
    pub fn start_listen(&mut self, request: ListenRequest) {
        let ListenRequest {
            server,
            mut listener,
            part,
            workers,
            config,
            tls,
            mut handler,
            broker,
        } = request;
        let slot = self.entries.vacant_key();
        if let Some(Err(e)) = listener
            .as_mut()
            .map(|l| self.registry().register(l, Token(slot), Interest::READABLE))
        {
            handler.on_error(&Error::io("could not watch the listening socket", &e));
            drop(workers);
            handler.on_shutdown();
            if part > 0 {
                self.shared.request_stop();
                server.part_done();
            }
            return;
        }
        let cluster = broker.map(|broker| (server.clone(), broker));
        server.parts[part].slot.store(slot, Ordering::Release);
        self.entries.insert(Entry::Listener(Box::new(ListenerEntry {
            id: server.id,
            server: server.clone(),
            listener,
            part,
            workers,
            turn: 0,
            config,
            tls,
            handler,
            conns: 0,
            pending: BTreeMap::new(),
            drain: None,
            deadlines: Deadlines::default(),
        })));
        if let Some((server, broker)) = cluster {
            self.start_broker(server, slot, broker);
        }
    }

    pub(super) fn listener_mut(&mut self, slot: usize, id: u64) -> Option<&mut ListenerEntry> {
        match self.entries.get_mut(slot) {
            Some(Entry::Listener(l)) if l.id == id => Some(l),
            _ => None,
        }
    }

    /// Accepts every waiting connection: takes it in, or on a server spread
    /// over several loops round-robin ([`crate::net::Balance::RoundRobin`]),
    /// hands it to the loop whose turn it is.
    pub fn accept(&mut self, slot: usize) {
        loop {
            let Some(Entry::Listener(l)) = self.entries.get_mut(slot) else {
                return;
            };
            let Some(listener) = l.listener.as_ref() else {
                return;
            };
            let (stream, addr) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    l.handler
                        .on_error(&Error::io("accepting a connection failed", &e));
                    return;
                }
            };
            // Where the kernel balances, every loop listens and keeps what
            // it accepts; else loop 0 is the only acceptor and deals them out.
            let parts = l.server.parts.len();
            let part = if parts == 1 || spread::kernel_balances(&l.config) {
                l.part
            } else {
                let turn = l.turn;
                l.turn = (turn + 1) % parts;
                turn
            };
            if part == l.part {
                self.take_in(slot, stream, addr);
            } else {
                let server = l.server.clone();
                // A loop already gone drops (closes) the stream.
                let _ = server.parts[part].link.push(Command::Adopt {
                    server: server.clone(),
                    part,
                    stream,
                    addr,
                });
            }
        }
    }

    /// A connection loop 0 accepted for this loop.
    pub(super) fn adopt(
        &mut self,
        server: &ServerShared,
        part: usize,
        stream: Stream,
        addr: PeerAddr,
    ) {
        let slot = server.parts[part].slot.load(Ordering::Acquire);
        if self.listener_mut(slot, server.id).is_some() {
            self.take_in(slot, stream, addr);
        }
    }

    /// Takes an accepted connection in, within the limits.
    fn take_in(&mut self, slot: usize, stream: Stream, addr: PeerAddr) {
        let Some(Entry::Listener(l)) = self.entries.get_mut(slot) else {
            return;
        };
        match l.room() {
            Room::Free => {}
            Room::Evict(oldest) => self.drop_silently(oldest),
            // Dropping the stream closes it.
            Room::Full => return,
        }
        self.admit(slot, stream, addr);
    }

    /// Puts an accepted connection in the table, in the handshake.
    pub(super) fn admit(&mut self, slot: usize, stream: Stream, addr: PeerAddr) {
        let Some(Entry::Listener(l)) = self.entries.get_mut(slot) else {
            return;
        };
        let session = match &l.tls {
            Some(config) => match rustls::ServerConnection::new(config.clone()) {
                Ok(session) => Some(session.into()),
                Err(e) => {
                    l.handler.on_error(&Error::new(
                        ErrorKind::Tls,
                        format!("TLS setup failed: {e}"),
                    ));
                    return;
                }
            },
            None => None,
        };
        let _ = stream.set_nodelay(l.config.nodelay);
        l.conns += 1;
        l.server.conns.fetch_add(1, Ordering::AcqRel);
        let id = self.shared.next_id();
        let config = &l.config;
        let mut shared = ConnShared::new(id, config.backpressure, config.inbox);
        shared.part = l.part;
        shared.set_peer_addr(addr);
        let _ = shared.server.set(l.server.clone());
        let timeouts = Timeouts {
            handshake: config.handshake_timeout,
            close: config.close_timeout,
            keepalive: config.keepalive,
            idle: config.idle_timeout,
        };
        let engine = Connection::new(Role::Server, config.protocol.clone());
        let phase = Phase::ServerHandshake(Box::new(ServerHandshake::new(config.limits)));
        let server = Some((slot, l.id));
        let mut entry = ConnEntry::new(self.conn_handle(Arc::new(shared)), engine, phase, timeouts);
        entry.server = server;
        entry.transport = Some(Transport::new(stream, session));
        let conn_slot = self.insert(entry);
        if let Some(Entry::Listener(l)) = self.entries.get_mut(slot) {
            l.pending.insert(id, conn_slot);
        }
        if self.register(conn_slot).is_err() {
            self.drop_silently(conn_slot);
            return;
        }
        self.schedule(conn_slot, TimerKind::Handshake, timeouts.handshake);
    }

    /// Request bytes of a connection in the handshake.
    pub fn server_input(&mut self, slot: usize, data: &[u8]) {
        let Some(c) = self.conn_mut(slot) else { return };
        let Phase::ServerHandshake(handshake) = &mut c.phase else {
            return;
        };
        let outcome = match handshake.feed(data) {
            Ok(None) => return,
            Ok(Some(request)) => Ok(request),
            Err(rejection) => Err((rejection, handshake.take_plain_request())),
        };
        match outcome {
            Ok((request, leftover)) => self.upgrade(slot, &request, &leftover, None),
            Err(_) if self.server_of(slot).is_some_and(|l| l.drain.is_some()) => {
                self.refuse(slot, &shutting_down());
            }
            Err((rejection, Some(request)))
                if self
                    .server_of(slot)
                    .is_some_and(|l| l.handler.answers_plain_http()) =>
            {
                self.upgrade(slot, &request, &[], Some(rejection));
            }
            Err((rejection, _)) => {
                self.report_rejection(slot, &rejection);
                self.refuse(slot, &rejection);
            }
        }
    }

    /// The server of the connection in `slot`.
    fn server_of(&mut self, slot: usize) -> Option<&mut ListenerEntry> {
        let (server_slot, server_id) = self.conn_mut(slot).and_then(|c| c.server)?;
        self.listener_mut(server_slot, server_id)
    }

    /// Tells the server's handler about a request refused before it saw it.
    pub(super) fn report_rejection(&mut self, slot: usize, rejection: &Rejection) {
        let Some(c) = self.conn_mut(slot) else { return };
        let peer = c
            .conn
            .peer_addr()
            .map_or_else(String::new, |a| format!(" from {a}"));
        let Some((server_slot, server_id)) = c.server else {
            return;
        };
        let error = Error::refused(
            rejection.status(),
            format!("refused a handshake{peer}: {rejection}"),
        );
        self.server_error(server_slot, server_id, &error);
    }

    /// The accept decision: Origin allow-list, subprotocol, the handler. A
    /// plain HTTP request comes with its `fallback` (426) and goes straight
    /// to the handler, which answers it or lets the fallback answer.
    pub(super) fn upgrade(
        &mut self,
        slot: usize,
        request: &Request,
        leftover: &[u8],
        fallback: Option<Rejection>,
    ) {
        let Some(c) = self.conn_mut(slot) else { return };
        let (Some((server_slot, server_id)), Some(peer_addr)) = (c.server, c.conn.peer_addr())
        else {
            return;
        };
        // The TLS handshake is over (the request came through it): keep the
        // client's verified certificate for the decision and the connection.
        if let Some(chain) = c.transport.as_ref().and_then(|t| t.peer_certificates()) {
            let _ = c.conn.shared.peer_identity.set(PeerIdentity::new(chain));
        }
        let conn = c.conn.clone();
        let Some(l) = self.listener_mut(server_slot, server_id) else {
            return self.drop_silently(slot);
        };
        if l.drain.is_some() {
            return self.refuse(slot, &shutting_down());
        }
        let plain_http = fallback.is_some();
        if !plain_http
            && let Some(origins) = &l.config.origins
            && let Err(rejection) = check_origin(request, origins)
        {
            self.report_rejection(slot, &rejection);
            return self.refuse(slot, &rejection);
        }
        let compression = l.config.compression.as_ref().filter(|_| !plain_http);
        let deflate = match compression.map(|c| negotiate(c, request)) {
            Some(Err(rejection)) => {
                self.report_rejection(slot, &rejection);
                return self.refuse(slot, &rejection);
            }
            Some(Ok(agreed)) => agreed,
            None => None,
        };
        let subprotocol = select_subprotocol(&request.subprotocols(), &l.config.subprotocols);
        let mut upgrade = Upgrade {
            request,
            peer_addr,
            subprotocol,
            response_headers: Vec::new(),
            conn,
            deferred: false,
            plain_http,
        };
        let handler = match l.handler.on_upgrade(&mut upgrade) {
            Ok(handler) => handler,
            Err(refusal) => return self.refuse(slot, &refusal),
        };
        let deciding = Deciding {
            request: request.clone(),
            leftover: leftover.to_vec(),
            handler,
            deflate,
            subprotocol: upgrade.subprotocol,
            headers: upgrade.response_headers,
            fallback,
        };
        if upgrade.deferred {
            if let Some(c) = self.conn_mut(slot) {
                c.phase = Phase::Deciding(Box::new(deciding));
            }
            return;
        }
        self.accept_upgrade(slot, deciding);
    }

    /// A postponed decision arrived.
    pub(super) fn decide(&mut self, slot: usize, decision: Decision) {
        let Some(c) = self.conn_mut(slot) else { return };
        match (std::mem::replace(&mut c.phase, Phase::Refusing), decision) {
            (
                Phase::Deciding(mut deciding),
                Decision::Accept {
                    subprotocol,
                    headers,
                },
            ) => {
                if let Some(subprotocol) = subprotocol {
                    deciding.subprotocol = subprotocol;
                }
                if let Some(headers) = headers {
                    deciding.headers = headers;
                }
                self.accept_upgrade(slot, *deciding);
                // What arrived while the decision was pending is still in
                // the socket. (A request decided at once was read until the
                // socket drained: reading again would only meet WouldBlock.)
                self.resume_input(slot);
            }
            (Phase::Deciding(_), Decision::Refuse(refusal)) => self.refuse(slot, &refusal),
            (Phase::Preparing(headers), Decision::Proceed(chosen)) => {
                self.dial(slot, chosen.unwrap_or(headers));
            }
            // A decision for a phase that has moved on (a second one, or
            // one for an attempt that failed meanwhile) changes nothing.
            (phase, _) => c.phase = phase,
        }
    }

    /// Answers a request with 101 and opens the connection.
    /// A plain HTTP request the application did not answer gets its 426.
    fn accept_upgrade(&mut self, slot: usize, deciding: Deciding) {
        let Deciding {
            request,
            leftover,
            handler,
            deflate,
            subprotocol,
            headers,
            fallback,
        } = deciding;
        if let Some(rejection) = fallback {
            self.report_rejection(slot, &rejection);
            return self.refuse(slot, &rejection);
        }
        let (extensions, agreement) = match deflate {
            Some((answer, agreement)) => (vec![answer], Some(agreement)),
            None => (Vec::new(), None),
        };
        let accept = Accept {
            subprotocol,
            extensions,
            headers,
        };
        let response = match accept_response(&request, &accept) {
            Ok(response) => response,
            Err(e) => {
                let error = Error::new(
                    ErrorKind::InvalidArgument,
                    format!("the server's accept decision is invalid: {e}"),
                );
                if let Some((server_slot, server_id)) = self.conn_mut(slot).and_then(|c| c.server) {
                    self.server_error(server_slot, server_id, &error);
                }
                return self.refuse(
                    slot,
                    &Rejection::protocol(500, "the server could not accept the handshake"),
                );
            }
        };
        self.handshake_done(slot);
        let Some(c) = self.conn_mut(slot) else { return };
        let Some(peer_addr) = c.conn.peer_addr() else {
            return;
        };
        c.hs_out.extend_from_slice(&response);
        c.handler = Some(handler);
        tally::count(&c.conn, telemetry::Counters::accepted);
        if let Some(agreement) = &agreement {
            c.engine.enable_deflate(agreement);
        }
        self.start_open(slot);
        let open = Open {
            subprotocol: accept.subprotocol.as_deref(),
            response: None,
            request: Some(&request),
            peer_addr,
            reconnect: false,
        };
        self.deliver_open(slot, &open, &leftover);
    }

    /// Writes an HTTP refusal; the connection closes once it is out.
    pub(super) fn refuse(&mut self, slot: usize, rejection: &Rejection) {
        self.handshake_done(slot);
        let Some(c) = self.conn_mut(slot) else { return };
        let status = rejection.status();
        tally::count(&c.conn, |m| m.refused(status));
        let peer = c.conn.shared.peer_addr();
        let peer = peer.map_or_else(|| "?".to_owned(), |a| a.to_string());
        if status < 400 {
            log::debug!(target: telemetry::target::SERVER, "answered a plain HTTP request from {peer} with {status}");
        } else {
            log::info!(target: telemetry::target::SERVER, "refused a handshake from {peer}: {status} {}", rejection.reason());
        }
        c.hs_out.extend_from_slice(&rejection.to_response());
        c.phase = Phase::Refusing;
        self.mark_dirty(slot);
    }

    /// The connection left the handshake: it no longer counts as unfinished.
    pub(super) fn handshake_done(&mut self, slot: usize) {
        let Some(c) = self.conn_mut(slot) else { return };
        // Removed from the unfinished ones even when the phase moved on
        // already (a postponed decision takes the phase first).
        if c.in_server_handshake() {
            c.phase = Phase::Refusing;
        }
        let id = c.conn.shared.id;
        if let Some((server_slot, server_id)) = c.server
            && let Some(l) = self.listener_mut(server_slot, server_id)
        {
            l.pending.remove(&id);
        }
    }

    /// Reports a failure of a connection the application never saw.
    pub fn server_error(&mut self, server_slot: usize, server_id: u64, error: &Error) {
        if let Some(l) = self.listener_mut(server_slot, server_id) {
            l.handler.on_error(error);
        }
    }

    /// The handler of a server still in the table.
    pub fn server_handler(
        &mut self,
        server_slot: usize,
        server_id: u64,
    ) -> Option<&mut dyn ServerHandler> {
        let l = self.listener_mut(server_slot, server_id)?;
        Some(&mut *l.handler)
    }

    /// A connection of the server finished; `pending` is its id if it was
    /// still in the handshake.
    pub fn server_conn_gone(&mut self, server_slot: usize, server_id: u64, pending: Option<u64>) {
        let Some(l) = self.listener_mut(server_slot, server_id) else {
            return;
        };
        l.conns = l.conns.saturating_sub(1);
        l.server.conns.fetch_sub(1, Ordering::AcqRel);
        if let Some(id) = pending {
            l.pending.remove(&id);
        }
        if l.drained() {
            self.remove_listener(server_slot);
        }
    }

    /// Another loop of a spread server finished its part: the home loop,
    /// drained already, finishes too.
    pub(super) fn part_done(&mut self, server: &ServerShared) {
        let slot = server.parts[0].slot.load(Ordering::Acquire);
        if self
            .listener_mut(slot, server.id)
            .is_some_and(|l| l.drained())
        {
            self.remove_listener(slot);
        }
    }

    /// The slots of a server's connections.
    pub(super) fn server_conns(&self, server_slot: usize, server_id: u64) -> Vec<usize> {
        self.entries
            .iter()
            .filter_map(|(slot, e)| match e {
                Entry::Conn(c) if c.server == Some((server_slot, server_id)) => Some(slot),
                _ => None,
            })
            .collect()
    }

    /// Graceful shutdown (the drain): every open connection gets the close
    /// frame of `drain`, every handshake meanwhile (unfinished, or arriving:
    /// the listener still accepts) a 503, and what is left is dropped after
    /// `timeout`. The server leaves the loop once its last connection ended.
    pub fn start_shutdown(&mut self, server: &ServerShared, drain: Drain, timeout: Duration) {
        let found = self.entries.iter().find_map(|(slot, e)| match e {
            Entry::Listener(l) if l.id == server.id => Some(slot),
            _ => None,
        });
        let Some(slot) = found else { return };
        let Some(l) = self.listener_mut(slot, server.id) else {
            return;
        };
        if l.drain.is_some() {
            return;
        }
        let (code, reason) = (drain.code, drain.reason.clone());
        l.drain = Some(drain);
        for conn_slot in self.server_conns(slot, server.id) {
            match self.conn_mut(conn_slot).map(|c| c.handler.is_some()) {
                Some(true) => self.close(conn_slot, code, &reason),
                Some(false) => self.refuse(conn_slot, &shutting_down()),
                None => {}
            }
        }
        match self.listener_mut(slot, server.id) {
            Some(l) if l.drained() => self.remove_listener(slot),
            Some(_) => self.schedule(slot, TimerKind::Shutdown, timeout),
            None => {}
        }
    }

    /// The shutdown timeout passed: drop the connections still open.
    pub fn shutdown_timeout(&mut self, slot: usize) {
        let Some(Entry::Listener(l)) = self.entries.get(slot) else {
            return;
        };
        let id = l.id;
        for conn_slot in self.server_conns(slot, id) {
            self.finish(
                conn_slot,
                CloseCode::ABNORMAL,
                "the server shut down",
                false,
            );
        }
        if self.listener_mut(slot, id).is_some() {
            self.remove_listener(slot);
        }
    }

    /// Removes a server from the table and tells its handler.
    pub fn remove_listener(&mut self, slot: usize) {
        let Some(Entry::Listener(mut l)) = self.entries.try_remove(slot) else {
            return;
        };
        if let Some(mut listener) = l.listener.take() {
            let _ = self.registry().deregister(&mut listener);
        }
        if let Some(cluster) = &l.server.cluster
            && l.part == 0
        {
            self.remove_broker(cluster);
        }
        // The other loops stop (those not finished yet drop what is left)
        // and their threads are joined before the home's part ends.
        drop(std::mem::take(&mut l.workers));
        l.handler.on_shutdown();
        if l.part > 0 {
            // This loop exists for its part of the server only.
            self.shared.request_stop();
            l.server.part_done();
        }
    }
}

/// The answer to a handshake while the server drains.
fn shutting_down() -> Rejection {
    Rejection::protocol(503, "the server is shutting down")
}
