//! `ws://` and `wss://` URLs.

use std::fmt;
use std::str::FromStr;

use url::{Host, Url};

/// A parsed WebSocket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `true` for `wss://`.
    pub secure: bool,
    /// The host: a name, an IPv4 address, or an IPv6 address without brackets.
    pub host: String,
    /// The port, 80 or 443 when the URL names none.
    pub port: u16,
    /// The path and query sent in the request line, `/` when empty.
    pub resource: String,
}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL.
    ///
    /// Host names are lowercased (and internationalised names turned into
    /// their ASCII form), IPv6 addresses are stored without brackets, the
    /// port defaults to 80 (`ws`) or 443 (`wss`), and the path and query are
    /// percent-encoded where needed. Fragments and user credentials are
    /// refused.
    pub fn parse(url: &str) -> Result<WsUrl, UrlError> {
        let parsed = Url::parse(url.trim()).map_err(UrlError::from_parse)?;
        let secure = match parsed.scheme() {
            "ws" => false,
            "wss" => true,
            other => return Err(UrlError::UnsupportedScheme(other.to_owned())),
        };
        if parsed.fragment().is_some() {
            return Err(UrlError::Fragment);
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(UrlError::Credentials);
        }
        let host = match parsed.host() {
            Some(Host::Domain(name)) if !name.is_empty() => name.to_ascii_lowercase(),
            Some(Host::Ipv4(addr)) => addr.to_string(),
            Some(Host::Ipv6(addr)) => addr.to_string(),
            _ => return Err(UrlError::MissingHost),
        };
        let port = match parsed.port() {
            Some(0) => return Err(UrlError::InvalidPort),
            Some(port) => port,
            None => default_port(secure),
        };
        let mut resource = parsed.path().to_owned();
        if resource.is_empty() {
            resource.push('/');
        }
        if let Some(query) = parsed.query() {
            resource.push('?');
            resource.push_str(query);
        }
        Ok(WsUrl {
            secure,
            host,
            port,
            resource,
        })
    }

    /// The value of the `Host` header: the host (bracketed if IPv6) and the
    /// port when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        let mut out = self.bracketed_host();
        if self.port != default_port(self.secure) {
            out.push(':');
            out.push_str(&self.port.to_string());
        }
        out
    }

    /// The host as it appears in a URL: IPv6 addresses in brackets.
    pub fn bracketed_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// `"wss"` or `"ws"`.
    pub fn scheme(&self) -> &'static str {
        if self.secure { "wss" } else { "ws" }
    }
}

impl FromStr for WsUrl {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<WsUrl, UrlError> {
        WsUrl::parse(url)
    }
}

/// Formats the URL back: `ws://host[:port]/resource`, the port only when it is
/// not the scheme's default.
impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme(),
            self.host_header(),
            self.resource
        )
    }
}

/// A `ws+unix:` or `wss+unix:` URL, as Node's `ws` writes them: the
/// socket's path, then a colon and the resource.
/// `ws+unix:///run/app.sock:/chat?room=1` is the socket `/run/app.sock` and
/// the resource `/chat?room=1` (`/` when no colon follows the path). The
/// path is percent-decoded (`%20` is a space), as URL libraries encode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixUrl {
    /// The path of the Unix domain socket.
    pub socket_path: String,
    /// What the handshake uses: `ws` or `wss`, the resource, and the host
    /// `localhost` (the `Host` header Node's ws sends; for `wss+unix:` the
    /// name the server's certificate is verified for) unless the URL names
    /// one (`ws+unix://example.com/run/app.sock:/`).
    pub url: WsUrl,
}

impl UnixUrl {
    /// Parses a `ws+unix:` or `wss+unix:` URL; `Ok(None)` for any other
    /// scheme.
    pub fn parse(url: &str) -> Result<Option<UnixUrl>, UrlError> {
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once(':') else {
            return Ok(None);
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "ws+unix" => "ws",
            "wss+unix" => "wss",
            _ => return Ok(None),
        };
        let (host, path) = match rest.strip_prefix("//") {
            Some(rest) => rest.split_at(rest.find('/').unwrap_or(rest.len())),
            None => ("", rest),
        };
        let (socket_path, resource) = path.split_once(':').unwrap_or((path, "/"));
        if socket_path.is_empty() {
            return Err(UrlError::MissingSocketPath);
        }
        let socket_path = percent_decode(socket_path)?;
        let host = if host.is_empty() { "localhost" } else { host };
        let slash = if resource.starts_with('/') { "" } else { "/" };
        let url = WsUrl::parse(&format!("{scheme}://{host}{slash}{resource}"))?;
        Ok(Some(UnixUrl { socket_path, url }))
    }
}

/// `%XX` sequences decoded; the result must be UTF-8.
fn percent_decode(text: &str) -> Result<String, UrlError> {
    let bad = || UrlError::Invalid(format!("bad percent-encoding in the socket path {text:?}"));
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hex = [bytes.next().ok_or_else(bad)?, bytes.next().ok_or_else(bad)?];
        let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
        out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn default_port(secure: bool) -> u16 {
    if secure { 443 } else { 80 }
}

/// Why a `ws://` or `wss://` URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The text has no `scheme://` part.
    #[error("not an absolute URL: expected ws://host/path or wss://host/path")]
    NotAbsolute,
    /// The scheme is not `ws` or `wss`.
    #[error("unsupported URL scheme \"{0}\": expected ws:// or wss://")]
    UnsupportedScheme(String),
    /// The URL names no host.
    #[error("the URL has no host")]
    MissingHost,
    /// The host is not a valid name, IPv4 address or bracketed IPv6 address.
    #[error("invalid host in URL: {0}")]
    InvalidHost(String),
    /// The port is not a number in 1-65535.
    #[error("invalid port in URL: expected a number from 1 to 65535")]
    InvalidPort,
    /// The URL has a `#fragment`, which WebSocket URLs may not carry.
    #[error("WebSocket URLs cannot have a #fragment")]
    Fragment,
    /// The URL carries `user:password@`; send an `Authorization` header instead.
    #[error("credentials in the URL are not supported: send an Authorization header instead")]
    Credentials,
    /// A `ws+unix:` URL names no socket path.
    #[error("a ws+unix: URL names a socket path: ws+unix:///path/to.sock:/resource")]
    MissingSocketPath,
    /// Any other syntax error.
    #[error("invalid URL: {0}")]
    Invalid(String),
}

impl UrlError {
    fn from_parse(error: url::ParseError) -> UrlError {
        use url::ParseError as E;
        match error {
            E::RelativeUrlWithoutBase | E::RelativeUrlWithCannotBeABaseBase => {
                UrlError::NotAbsolute
            }
            E::EmptyHost => UrlError::MissingHost,
            E::InvalidPort => UrlError::InvalidPort,
            E::IdnaError
            | E::InvalidIpv4Address
            | E::InvalidIpv6Address
            | E::InvalidDomainCharacter => UrlError::InvalidHost(error.to_string()),
            other => UrlError::Invalid(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> WsUrl {
        WsUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn defaults_ports_and_resource() {
        let u = url("ws://example.com");
        assert_eq!(
            (u.secure, u.host.as_str(), u.port, u.resource.as_str()),
            (false, "example.com", 80, "/")
        );
        assert_eq!(u.host_header(), "example.com");
        let u = url("wss://example.com");
        assert_eq!((u.secure, u.port), (true, 443));
        let u = url("ws://example.com:443/");
        assert_eq!(u.port, 443);
        assert_eq!(u.host_header(), "example.com:443");
        let u = url("wss://example.com:80/");
        assert_eq!(u.host_header(), "example.com:80");
        let u = url("wss://example.com:443/x");
        assert_eq!(u.host_header(), "example.com");
    }

    #[test]
    fn host_is_lowercased() {
        let u = url("WS://Example.COM:8080/Chat");
        assert_eq!(u.host, "example.com");
        assert_eq!(u.resource, "/Chat");
        assert_eq!(u.host_header(), "example.com:8080");
        assert_eq!(u.to_string(), "ws://example.com:8080/Chat");
    }

    #[test]
    fn path_and_query() {
        let u = url("ws://h/a/b?x=1&y=2");
        assert_eq!(u.resource, "/a/b?x=1&y=2");
        let u = url("ws://h?x");
        assert_eq!(u.resource, "/?x");
        let u = url("ws://h/a b");
        assert_eq!(u.resource, "/a%20b");
    }

    #[test]
    fn ipv4_and_ipv6() {
        let u = url("ws://127.0.0.1:9001/");
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 9001));
        let u = url("ws://[::1]:9001/x");
        assert_eq!(
            (u.host.as_str(), u.port, u.resource.as_str()),
            ("::1", 9001, "/x")
        );
        assert_eq!(u.host_header(), "[::1]:9001");
        let u = url("wss://[2001:DB8::1]");
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::1", 443));
        assert_eq!(u.host_header(), "[2001:db8::1]");
        assert_eq!(u.to_string(), "wss://[2001:db8::1]/");
    }

    #[test]
    fn from_str() {
        let u: WsUrl = "wss://h:1/p".parse().unwrap();
        assert_eq!(
            u,
            WsUrl {
                secure: true,
                host: "h".into(),
                port: 1,
                resource: "/p".into()
            }
        );
    }

    #[test]
    fn errors() {
        let err = |s: &str| WsUrl::parse(s).unwrap_err();
        assert_eq!(
            err("http://example.com/"),
            UrlError::UnsupportedScheme("http".into())
        );
        assert_eq!(
            err("ftp://example.com/"),
            UrlError::UnsupportedScheme("ftp".into())
        );
        assert_eq!(err("ws://example.com/#frag"), UrlError::Fragment);
        assert_eq!(err("ws://example.com/#"), UrlError::Fragment);
        assert_eq!(err("ws://"), UrlError::MissingHost);
        assert_eq!(err("ws://:80/"), UrlError::MissingHost);
        assert_eq!(err("ws://h:99999/"), UrlError::InvalidPort);
        assert_eq!(err("ws://h:0/"), UrlError::InvalidPort);
        assert_eq!(err("ws://h:abc/"), UrlError::InvalidPort);
        assert_eq!(err("ws://user:pw@h/"), UrlError::Credentials);
        assert_eq!(err("ws://user@h/"), UrlError::Credentials);
        assert_eq!(err("/just/a/path"), UrlError::NotAbsolute);
        assert_eq!(err(""), UrlError::NotAbsolute);
        assert!(matches!(err("ws://[::1/"), UrlError::InvalidHost(_)));
        assert!(matches!(err("ws://a b/"), UrlError::InvalidHost(_)));
        assert_eq!(
            err("http://x").to_string(),
            "unsupported URL scheme \"http\": expected ws:// or wss://"
        );
    }

    #[test]
    fn unix_urls_as_node_ws_writes_them() {
        let unix = |s: &str| UnixUrl::parse(s).unwrap().unwrap();
        let u = unix("ws+unix:///run/app.sock:/chat?room=1");
        assert_eq!(u.socket_path, "/run/app.sock");
        assert_eq!(u.url, url("ws://localhost/chat?room=1"));
        assert_eq!(u.url.host_header(), "localhost");
        let u = unix("WSS+UNIX:///tmp/s.sock");
        assert_eq!(
            (u.socket_path.as_str(), u.url.secure),
            ("/tmp/s.sock", true)
        );
        assert_eq!(u.url.resource, "/");
        let u = unix("ws+unix:rel.sock:x");
        assert_eq!(
            (u.socket_path.as_str(), u.url.resource.as_str()),
            ("rel.sock", "/x")
        );
        let u = unix("ws+unix:///tmp/a%20b/s.sock:/");
        assert_eq!(u.socket_path, "/tmp/a b/s.sock");
        assert!(UnixUrl::parse("ws+unix:///tmp/%zz:/").is_err());
        let u = unix("ws+unix://example.com/run/app.sock:/");
        assert_eq!(u.url.host_header(), "example.com");
        assert_eq!(UnixUrl::parse("ws://localhost/"), Ok(None));
        assert_eq!(UnixUrl::parse("no scheme"), Ok(None));
        assert_eq!(
            UnixUrl::parse("ws+unix://"),
            Err(UrlError::MissingSocketPath)
        );
        assert_eq!(UnixUrl::parse("ws+unix:///s:/#f"), Err(UrlError::Fragment));
    }
}
