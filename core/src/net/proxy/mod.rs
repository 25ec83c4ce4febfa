//! Proxies between a client and its server: HTTP CONNECT (over plain TCP or
//! TLS to the proxy) and SOCKS5, as sans-I/O handshakes that take the proxy's
//! bytes and give the bytes to send back.
//!
//! Once a handshake is done the connection is a tunnel to the target: TLS to
//! the target (for `wss://`) and the WebSocket handshake run inside it.

mod http_connect;
mod socks5;

use url::Url;

use super::error::{Error, ErrorKind};

pub(super) use http_connect::HttpConnect;
pub(super) use socks5::Socks5;

/// The kinds of proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// HTTP CONNECT over plain TCP (`http://`).
    Http,
    /// HTTP CONNECT over TLS to the proxy (`https://`).
    Https,
    /// SOCKS5 (`socks5://` or `socks5h://`); the target's name is resolved by the proxy.
    Socks5,
}

/// A proxy to reach the server through.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The kind of proxy.
    pub kind: ProxyKind,
    /// The proxy's host name or address (IPv6 without brackets).
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    /// User name and password: HTTP Basic authentication, or SOCKS5's
    /// username/password method (RFC 1929).
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for ProxyConfig {
    /// Shows everything but the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish()
    }
}

impl ProxyConfig {
    /// Parses a proxy URL: `http://[user:password@]host[:port]` (port 80 by
    /// default), `https://...` (443) or `socks5://...` / `socks5h://...`
    /// (1080). Percent-encoded user names and passwords are decoded. A URL
    /// without a scheme counts as `http://`, as curl does.
    pub fn parse(url: &str) -> Result<ProxyConfig, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid proxy URL \"{}\": {why}", url.escape_debug()),
            )
        };
        let with_scheme;
        let text = match url.contains("://") {
            true => url,
            false => {
                with_scheme = format!("http://{url}");
                &with_scheme
            }
        };
        let parsed = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
        let (kind, default_port) = match parsed.scheme() {
            "http" => (ProxyKind::Http, 80),
            "https" => (ProxyKind::Https, 443),
            "socks5" | "socks5h" => (ProxyKind::Socks5, 1080),
            other => return Err(invalid(&format!("unsupported scheme \"{other}\""))),
        };
        let host = match parsed.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(invalid("no host")),
        };
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
            return Err(invalid("a proxy URL has no path or query"));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| invalid("the user name or password is not valid UTF-8"))
        };
        let credentials = match (parsed.username(), parsed.password()) {
            ("", None) => None,
            (user, password) => Some((decode(user)?, decode(password.unwrap_or(""))?)),
        };
        Ok(ProxyConfig {
            kind,
            host,
            port: parsed.port().unwrap_or(default_port),
            credentials,
        })
    }

    /// `host:port`, with IPv6 addresses in brackets.
    pub(super) fn authority(&self) -> String {
        authority(&self.host, self.port)
    }
}

/// `host:port`, with IPv6 addresses in brackets.
pub(super) fn authority(host: &str, port: u16) -> String {
    match host.contains(':') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    }
}

/// A proxy handshake under way.
pub(super) enum Tunnel {
    Http(HttpConnect),
    Socks5(Socks5),
}

/// What feeding a proxy handshake gives.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Progress {
    /// More bytes from the proxy are needed.
    Pending,
    /// The tunnel stands; these bytes arrived after the proxy's answer.
    Done(Vec<u8>),
}

impl Tunnel {
    /// The handshake for `proxy` to `host:port`, and the first bytes to send.
    pub fn start(proxy: &ProxyConfig, host: &str, port: u16) -> Result<(Tunnel, Vec<u8>), Error> {
        Ok(match proxy.kind {
            ProxyKind::Http | ProxyKind::Https => {
                let (tunnel, out) = HttpConnect::start(proxy, host, port);
                (Tunnel::Http(tunnel), out)
            }
            ProxyKind::Socks5 => {
                let (tunnel, out) = Socks5::start(proxy, host, port)?;
                (Tunnel::Socks5(tunnel), out)
            }
        })
    }

    /// Takes bytes from the proxy; what to send back goes to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<Progress, Error> {
        match self {
            Tunnel::Http(t) => t.feed(data),
            Tunnel::Socks5(t) => t.feed(data, out),
        }
    }

    /// The proxy closed the connection before the tunnel stood.
    pub fn eof_error(&self, proxy: &ProxyConfig) -> Error {
        Error::new(
            ErrorKind::Proxy,
            format!(
                "the proxy {} closed the connection during its handshake",
                proxy.authority()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proxy_urls() {
        let p = ProxyConfig::parse("http://user:p%40ss@proxy.example:3128").unwrap();
        assert_eq!(p.kind, ProxyKind::Http);
        assert_eq!((p.host.as_str(), p.port), ("proxy.example", 3128));
        assert_eq!(p.credentials, Some(("user".into(), "p@ss".into())));
        let p = ProxyConfig::parse("https://[::1]").unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port),
            (ProxyKind::Https, "::1", 443)
        );
        assert_eq!(p.authority(), "[::1]:443");
        let p = ProxyConfig::parse("socks5h://127.0.0.1").unwrap();
        assert_eq!(
            (p.kind, p.port, p.credentials),
            (ProxyKind::Socks5, 1080, None)
        );
        let p = ProxyConfig::parse("proxy.example:8080").unwrap();
        assert_eq!((p.kind, p.port), (ProxyKind::Http, 8080));
        assert!(!format!("{p:?}").contains("p@ss"));
    }

    #[test]
    fn refuses_bad_proxy_urls() {
        for bad in [
            "ftp://proxy",
            "http://",
            "http://proxy/path",
            "socks4://proxy",
        ] {
            let error = ProxyConfig::parse(bad).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
    }
}
