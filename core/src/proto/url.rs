//! `ws://` and `wss://` URLs.


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
    pub fn parse(url: &str) -> Result<WsUrl, UrlError> {
        let _ = url;
        todo!()
    }

    /// The value of the `Host` header: the host (bracketed if IPv6) and the
    /// port when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        todo!()
    }
}

/// Why a `ws://` or `wss://` URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Placeholder; the real variants are listed by the implementation.
    #[error("invalid URL")]
    Todo,
}
