//! The opening handshake (RFC 6455 section 4), client and server side.

pub mod client;
mod error;
pub mod server;

pub use error::HandshakeError;

/// The GUID appended to the key before hashing (RFC 6455 section 1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let _ = key;
    todo!()
}

/// HTTP header fields in arrival order, looked up case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

/// Limits on the size of a handshake's header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum bytes of the request or status line and headers (default 8 KiB).
    pub max_header_bytes: usize,
    /// Maximum number of header lines (default 64).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_header_bytes: 8 * 1024, max_headers: 64 }
    }
}

/// A parsed handshake request, as a server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request target: path and query.
    pub path: String,
    /// Every header of the request.
    pub headers: Headers,
}

/// A parsed handshake response, as a client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Every header of the response.
    pub headers: Headers,
    /// The body, for a refusal (empty for a 101).
    pub body: Vec<u8>,
}
