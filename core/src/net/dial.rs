//! What a client attempt needs until its connection stands: the addresses
//! to try, raced as RFC 8305 (Happy Eyeballs) says, or the Unix domain
//! socket, and why none could be reached.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::config::TlsClientConfig;
use super::dns::Resolver;
use super::error::{Error, ErrorKind, Timeout};
use super::proxy::{ProxyConfig, ProxyKind};
use super::socket::Stream;
use super::tls::ClientTls;
use crate::proto::WsUrl;
use crate::proto::handshake::ClientHandshake;

/// What a client needs until its connection stands.
pub(super) struct Dial {
    pub url: WsUrl,
    pub tls: Option<ClientTls>,
    pub handshake: ClientHandshake,
    pub nodelay: bool,
    pub connect_timeout: Duration,
    /// Resolves the host instead of the system resolver.
    pub resolver: Option<Resolver>,
    /// The addresses to try, in the order of [`happy_eyeballs_order`].
    pub addrs: Vec<SocketAddr>,
    pub next: usize,
    /// The Unix domain socket to connect to instead of the addresses.
    pub unix_path: Option<PathBuf>,
    /// Connects under way, raced: the first to stand wins.
    pub racers: Vec<Stream>,
    pub last_error: Option<io::Error>,
    /// The proxy to go through; taken once TCP to it stands.
    pub proxy: Option<Box<ProxyHop>>,
}

impl Dial {
    /// What the socket connects to, for messages: the target or the proxy.
    pub fn endpoint(&self) -> String {
        match (&self.proxy, &self.unix_path) {
            (Some(hop), _) => format!("the proxy {}", hop.config.authority()),
            (None, Some(path)) => format!("unix:{}", path.display()),
            (None, None) => format!("{}:{}", self.url.bracketed_host(), self.url.port),
        }
    }

    /// Starts the connect to the next target: the Unix domain socket
    /// (once), or the next address. `None` when none is left.
    pub fn connect_next(&mut self) -> Option<io::Result<Stream>> {
        #[cfg(unix)]
        if let Some(path) = &self.unix_path {
            self.next += 1;
            return (self.next == 1).then(|| super::unix::connect(path));
        }
        let addr = *self.addrs.get(self.next)?;
        self.next += 1;
        Some(mio::net::TcpStream::connect(addr).map(Stream::Tcp))
    }

    /// Whether targets are left to try after those started.
    pub fn more(&self) -> bool {
        self.next < self.addrs.len()
    }
}

/// How long a connect attempt runs alone before the next address is tried
/// beside it (RFC 8305's Connection Attempt Delay, its recommended 250 ms):
/// a dead IPv6 route costs a quarter second, not the connect timeout.
pub(super) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The order to try `addrs` in (RFC 8305 section 4): the families
/// interleaved, IPv6 first, each family in the resolver's order.
pub(super) fn happy_eyeballs_order(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let mut ordered = Vec::with_capacity(addrs.len());
    let (v6, v4): (Vec<_>, Vec<_>) = addrs.into_iter().partition(SocketAddr::is_ipv6);
    let (mut v6, mut v4) = (v6.into_iter(), v4.into_iter());
    loop {
        match (v6.next(), v4.next()) {
            (None, None) => return ordered,
            (a, b) => ordered.extend(a.into_iter().chain(b)),
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
            Error::new(ErrorKind::Proxy, error.into_message())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn families_interleave_ipv6_first() {
        let ordered = happy_eyeballs_order(addrs(&[
            "10.0.0.1:80",
            "10.0.0.2:80",
            "10.0.0.3:80",
            "[2001:db8::1]:80",
            "[2001:db8::2]:80",
        ]));
        assert_eq!(
            ordered,
            addrs(&[
                "[2001:db8::1]:80",
                "10.0.0.1:80",
                "[2001:db8::2]:80",
                "10.0.0.2:80",
                "10.0.0.3:80",
            ])
        );
        assert_eq!(
            happy_eyeballs_order(addrs(&["10.0.0.1:80"])),
            addrs(&["10.0.0.1:80"])
        );
        assert!(happy_eyeballs_order(Vec::new()).is_empty());
    }
}
