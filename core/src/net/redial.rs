//! A client's attempts in the loop: the first connect and each reconnect
//! (the before-connect hook, the proxy hop, the dial), and after each ending
//! the choice between another attempt and the close event.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::client::ClientTls;
use super::config::ClientConfig;
use super::conn::{Dial, Ending, Phase};
use super::dns;
use super::error::{Error, ErrorKind};
use super::handle::ConnState;
use super::handler::Close;
use super::reactor::Reactor;
use super::reconnect::{Backoff, random_unit};
use super::timer::{Deadlines, TimerKind};
use super::tunnel::ProxyHop;
use crate::proto::handshake::{ClientHandshake, ClientOptions};
use crate::proto::{CloseCode, Connection, Role, WsUrl};

/// What a client needs to make its attempts.
pub(super) struct Redial {
    url: WsUrl,
    config: ClientConfig,
    tls: Option<ClientTls>,
    proxy: Option<ProxyHop>,
    /// The request built when the client was created, for the first attempt.
    first: Option<ClientHandshake>,
    /// `None` without a reconnect policy.
    backoff: Option<Backoff>,
    /// Attempts started so far.
    started: u32,
    /// When the current connection opened.
    opened_at: Option<Instant>,
    /// The failure that ended the current attempt, if one was reported.
    pub last_error: Option<Error>,
}

impl Redial {
    /// The attempts of a client to `url`; `handshake` serves the first one.
    pub fn new(
        url: WsUrl,
        config: ClientConfig,
        tls: Option<ClientTls>,
        handshake: ClientHandshake,
    ) -> Result<Redial, Error> {
        let proxy = match &config.proxy {
            Some(proxy) => Some(ProxyHop::new(proxy.clone(), &config.tls)?),
            None => None,
        };
        Ok(Redial {
            backoff: config.reconnect.clone().map(Backoff::new),
            url,
            config,
            tls,
            proxy,
            first: Some(handshake),
            started: 0,
            opened_at: None,
            last_error: None,
        })
    }

    /// The next attempt's dial, its request carrying `headers`.
    fn dial(&mut self, headers: Vec<(String, String)>) -> Result<Box<Dial>, Error> {
        let handshake = match self.first.take() {
            Some(handshake) if headers == self.config.headers => handshake,
            _ => new_handshake(&self.url, &self.config, headers)?,
        };
        Ok(Box::new(Dial {
            url: self.url.clone(),
            tls: self.tls.clone(),
            handshake,
            nodelay: self.config.nodelay,
            connect_timeout: self.config.connect_timeout,
            addrs: Vec::new(),
            next: 0,
            last_error: None,
            proxy: self.proxy.clone().map(Box::new),
        }))
    }
}

/// The handshake request for `url` with the client's options and `headers`.
pub(super) fn new_handshake(
    url: &WsUrl,
    config: &ClientConfig,
    headers: Vec<(String, String)>,
) -> Result<ClientHandshake, Error> {
    let options = ClientOptions {
        subprotocols: config.subprotocols.clone(),
        origin: config.origin.clone(),
        headers,
        limits: config.limits,
        deflate: config.compression.clone(),
        ..ClientOptions::default()
    };
    ClientHandshake::new(url, &options).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid client options: {e}"),
        )
    })
}

impl Reactor {
    /// Tells the handler an attempt starts after `delay`.
    fn notify_connecting(&mut self, slot: usize, attempt: u32, delay: Duration) {
        if let Some(c) = self.conn_mut(slot)
            && let Some(handler) = c.handler.as_deref_mut()
        {
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
        let mut headers = redial.config.headers.clone();
        handler.on_before_connect(&c.conn, &mut headers);
        redial.started += 1;
        let connect_timeout = redial.config.connect_timeout;
        let dial = match redial.dial(headers) {
            Ok(dial) => dial,
            Err(error) => return self.fail(slot, error),
        };
        let (host, port) = match &dial.proxy {
            Some(hop) => (hop.config.host.clone(), hop.config.port),
            None => (dial.url.host.clone(), dial.url.port),
        };
        c.phase = Phase::Resolving(dial);
        let conn = c.conn.shared.clone();
        self.schedule(slot, TimerKind::Connect, connect_timeout);
        match dns::resolve_locally(&host, port) {
            Some(result) => self.on_resolved(slot, result),
            None => {
                if let Err(error) =
                    dns::resolve_in_background(host, port, conn, self.shared.clone())
                {
                    self.fail(slot, error);
                }
            }
        }
    }

    /// The connection opened: remembers when, and tells whether it is a
    /// reconnect.
    pub fn attempt_opened(&mut self, slot: usize) -> bool {
        let Some(c) = self.conn_mut(slot) else {
            return false;
        };
        c.conn.shared.reconnecting.store(false, Ordering::Release);
        let Some(redial) = c.redial.as_deref_mut() else {
            return false;
        };
        redial.opened_at = Some(Instant::now());
        redial.started > 1
    }

    /// A client's connection or attempt ended: when its policy says to try
    /// again, tells the handler, resets the entry and schedules the next
    /// attempt, and returns true; false lets the connection finish.
    pub fn retry(&mut self, slot: usize, code: CloseCode, reason: &str, clean: bool) -> bool {
        if self.shared.is_gone() {
            return false;
        }
        let Some(c) = self.conn_mut(slot) else {
            return false;
        };
        let Some(redial) = c.redial.as_deref_mut() else {
            return false;
        };
        let error = redial.last_error.take();
        let Some(backoff) = redial.backoff.as_mut() else {
            return false;
        };
        if c.conn.shared.app_closed.load(Ordering::Acquire)
            || !backoff.worth_retrying(error.as_ref(), code)
        {
            return false;
        }
        if let Some(at) = redial.opened_at.take() {
            backoff.connected_for(at.elapsed());
        }
        let Some((attempt, delay)) = backoff.next_attempt(random_unit()) else {
            return false;
        };
        if let Some(mut t) = c.transport.take() {
            let _ = self.registry().deregister(&mut t.tcp);
        }
        let Some(c) = self.conn_mut(slot) else {
            return false;
        };
        // Messages queued before any connection opened wait in the engine;
        // one that carried a connection starts afresh.
        if c.engine_live() {
            c.engine = Connection::new(Role::Client, c.engine.config().clone());
        }
        c.phase = Phase::Waiting;
        c.deadlines = Deadlines::default();
        c.hs_out.clear();
        c.ending = Ending::default();
        c.eof = false;
        c.read_paused = false;
        c.write_interest = false;
        c.pings.clear();
        let shared = c.conn.shared.clone();
        shared.reconnecting.store(true, Ordering::Release);
        shared.set_state(ConnState::Connecting);
        c.publish_pending();
        if let Some(handler) = c.handler.as_deref_mut() {
            handler.on_disconnect(
                &c.conn,
                &Close {
                    code,
                    reason,
                    clean,
                },
            );
        }
        self.notify_connecting(slot, attempt, delay);
        // The handler may have closed the client meanwhile: its close
        // command ends it without waiting.
        self.schedule(slot, TimerKind::Reconnect, delay);
        true
    }
}
