//! What a client attempt needs until its TCP connection stands: the
//! addresses to try in turn, and why none could be reached.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::config::TlsClientConfig;
use super::error::{Error, ErrorKind, Timeout};
use super::proxy::{ProxyConfig, ProxyKind};
use super::tls::ClientTls;
use crate::proto::WsUrl;
use crate::proto::handshake::ClientHandshake;

/// What a client needs until its TCP connection stands.
pub(super) struct Dial {
    pub url: WsUrl,
    pub tls: Option<ClientTls>,
    pub handshake: ClientHandshake,
    pub nodelay: bool,
    pub connect_timeout: Duration,
    pub addrs: Vec<SocketAddr>,
    pub next: usize,
    pub last_error: Option<io::Error>,
    /// The proxy to go through; taken once TCP to it stands.
    pub proxy: Option<Box<ProxyHop>>,
}

impl Dial {
    /// What TCP connects to, for messages: the target or the proxy.
    pub fn endpoint(&self) -> String {
        match &self.proxy {
            Some(hop) => format!("the proxy {}", hop.config.authority()),
            None => format!("{}:{}", self.url.bracketed_host(), self.url.port),
        }
    }
}

/// The proxy a client goes through.
#[derive(Clone)]
pub(super) struct ProxyHop {
    pub config: ProxyConfig,
    /// TLS to the proxy itself (`https://` proxies).
    pub tls: Option<ClientTls>,
}

impl ProxyHop {
    /// The hop to `config`; TLS to the proxy uses the client's TLS options.
    pub fn new(config: ProxyConfig, options: &TlsClientConfig) -> Result<ProxyHop, Error> {
        let tls = match config.kind {
            ProxyKind::Https => Some(ClientTls::new(options, &config.host)?),
            ProxyKind::Http | ProxyKind::Socks5 => None,
        };
        Ok(ProxyHop { config, tls })
    }
}

/// Why no address could be connected to, from the last attempt's error.
pub(super) fn connect_error(dial: &Dial) -> Error {
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
        )
        .with_os_error(e.raw_os_error()),
        Some(e) if e.kind() == io::ErrorKind::TimedOut => {
            Error::timeout(Timeout::Open, format!("could not connect to {target}: {e}"))
                .with_os_error(e.raw_os_error())
        }
        Some(e) => Error::new(
            ErrorKind::Connect,
            format!("could not connect to {target}: {e}"),
        )
        .with_os_error(e.raw_os_error()),
        None => Error::new(
            ErrorKind::Connect,
            format!("could not connect to {target}: no address to try"),
        ),
    }
}
