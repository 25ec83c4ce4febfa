//! A client's attempts: the dial of the first connect and of each reconnect
//! (with the headers the before-connect hook gave), and after each ending
//! the choice between another attempt and the close event.

use std::time::{Duration, Instant};

use super::config::ClientConfig;
use super::dial::Dial;
use super::dial::ProxyHop;
use super::error::{Error, ErrorKind};
use super::reconnect::{Backoff, random_unit};
use super::tls::ClientTls;
use crate::proto::handshake::{ClientHandshake, ClientOptions};
use crate::proto::{CloseCode, WsUrl};

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
    /// The number of the attempt about to start (0: the first connection,
    /// then the reconnect attempts in a row).
    pub number: u32,
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
            number: 0,
        })
    }

    /// The extra request headers of the options, for the before-connect
    /// hook to change.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.config.headers.clone()
    }

    /// The time a connect may take (name lookup and TCP).
    pub fn connect_timeout(&self) -> Duration {
        self.config.connect_timeout
    }

    /// Starts an attempt: its dial, the request carrying `headers`.
    pub fn attempt(&mut self, headers: Vec<(String, String)>) -> Result<Box<Dial>, Error> {
        self.started += 1;
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
            resolver: self.config.resolver.clone(),
            addrs: Vec::new(),
            next: 0,
            unix_path: self.config.unix_socket_path.clone(),
            racers: Vec::new(),
            last_error: None,
            proxy: self.proxy.clone().map(Box::new),
        }))
    }

    /// The attempt's connection opened; whether it is a reconnect.
    pub fn opened(&mut self) -> bool {
        self.opened_at = Some(Instant::now());
        self.started > 1
    }

    /// After a connection or attempt ended with `code`: the number of the
    /// next attempt and the wait before it, when the policy says to try
    /// again and the application did not close.
    pub fn next_attempt(&mut self, app_closed: bool, code: CloseCode) -> Option<(u32, Duration)> {
        let error = self.last_error.take();
        let backoff = self.backoff.as_mut()?;
        if app_closed || !backoff.worth_retrying(error.as_ref(), code) {
            return None;
        }
        if let Some(at) = self.opened_at.take() {
            backoff.connected_for(at.elapsed());
        }
        backoff.next_attempt(random_unit())
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
