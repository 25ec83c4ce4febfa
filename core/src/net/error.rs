//! Errors of the networking layer.

/// The kind of an [`Error`], stable across versions (the C API's result codes
/// map onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The URL or another argument was invalid.
    InvalidArgument,
    /// The host name could not be resolved.
    Dns,
    /// TCP connect failed (refused, unreachable).
    Connect,
    /// A connect, handshake, keepalive, idle or close timeout passed.
    Timeout,
    /// The TLS handshake failed or a certificate was refused.
    Tls,
    /// The server refused the handshake or answered it wrongly.
    Handshake,
    /// The peer broke the protocol.
    Protocol,
    /// The connection is closing or closed.
    Closed,
    /// The send queue is past its high-water mark.
    WouldBlock,
    /// Another I/O error.
    Io,
}

/// What went wrong, in words a person understands.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), status: None }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status of a refused handshake.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
}
