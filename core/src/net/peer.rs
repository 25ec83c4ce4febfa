//! Where a connection's peer is: an IP address and port, or a Unix domain
//! socket, which has no IP address.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The address of a connection's peer.
///
/// Over a Unix domain socket there is no IP address: a client sees the
/// server's socket path, and a server sees the client's, which is usually
/// unnamed (`Unix(None)`: clients rarely bind their socket to a path).
/// Displayed as nginx's `$remote_addr` shows it: `127.0.0.1:9001`,
/// `[::1]:9001`, `unix:/run/app.sock`, or `unix:` for an unnamed socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// An IPv4 or IPv6 address and port (the proxy's, through a proxy).
    Ip(SocketAddr),
    /// A Unix domain socket: its path, `None` when unnamed.
    Unix(Option<PathBuf>),
}

impl PeerAddr {
    /// The IP address and port, `None` over a Unix domain socket.
    pub fn ip(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Ip(addr) => Some(*addr),
            PeerAddr::Unix(_) => None,
        }
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> PeerAddr {
        PeerAddr::Ip(addr)
    }
}

/// A Unix domain socket's address: its path, `None` when unnamed.
#[cfg(unix)]
impl From<&std::os::unix::net::SocketAddr> for PeerAddr {
    fn from(addr: &std::os::unix::net::SocketAddr) -> PeerAddr {
        PeerAddr::Unix(addr.as_pathname().map(Into::into))
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Ip(addr) => addr.fmt(f),
            PeerAddr::Unix(path) => {
                f.write_str("unix:")?;
                path.as_deref().map_or(Ok(()), |p| p.display().fmt(f))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_nginx_remote_addr() {
        let ip = PeerAddr::from("[::1]:9001".parse::<SocketAddr>().unwrap());
        assert_eq!(ip.to_string(), "[::1]:9001");
        assert_eq!(ip.ip().map(|a| a.port()), Some(9001));
        let named = PeerAddr::Unix(Some("/run/app.sock".into()));
        assert_eq!(named.to_string(), "unix:/run/app.sock");
        assert_eq!(named.ip(), None);
        assert_eq!(PeerAddr::Unix(None).to_string(), "unix:");
    }
}
