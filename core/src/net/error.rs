//! Errors of the networking layer.

use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use crate::proto::handshake::Response;
use crate::proto::{HandshakeError, ProtocolError, SendError, UrlError};

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
    /// A proxy failed: unreachable, refused the tunnel, wanted other
    /// credentials (status 407), or could not reach the target (status 502
    /// or the SOCKS5 reply code). The message names the hop.
    Proxy,
    /// A reconnecting client is between connections and does not queue
    /// (or its queue is full).
    NotConnected,
}

/// Which timeout an [`ErrorKind::Timeout`] error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// Opening: resolving, connecting, the before-connect hook, the TLS or
    /// WebSocket handshake.
    Open,
    /// A keepalive ping got no answer in time.
    Keepalive,
    /// Nothing was received for the idle timeout.
    Idle,
    /// The peer did not complete the close handshake in time.
    Close,
}

/// What went wrong, in words a person understands.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    status: Option<u16>,
    /// The server's whole answer to a refused handshake.
    response: Option<Arc<Response>>,
    timeout: Option<Timeout>,
    os_error: Option<i32>,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error {
            kind,
            message: message.into(),
            status: None,
            response: None,
            timeout: None,
            os_error: None,
        }
    }

    /// An [`ErrorKind::Timeout`] error saying which timeout passed.
    pub fn timeout(which: Timeout, message: impl Into<Cow<'static, str>>) -> Error {
        Error {
            timeout: Some(which),
            ..Error::new(ErrorKind::Timeout, message)
        }
    }

    /// A refused handshake: the HTTP `status` and a message that includes it.
    pub fn refused(status: u16, message: impl Into<Cow<'static, str>>) -> Error {
        Error::with_status(ErrorKind::Handshake, status, message)
    }

    /// An error of `kind` with a status: an HTTP status, or a SOCKS5 reply code.
    pub fn with_status(
        kind: ErrorKind,
        status: u16,
        message: impl Into<Cow<'static, str>>,
    ) -> Error {
        Error {
            status: Some(status),
            ..Error::new(kind, message)
        }
    }

    /// An I/O error, with what was being done when it happened.
    pub fn io(context: &str, error: &io::Error) -> Error {
        let kind = match error.kind() {
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            io::ErrorKind::ConnectionRefused => ErrorKind::Connect,
            _ => ErrorKind::Io,
        };
        Error {
            os_error: error.raw_os_error(),
            ..Error::new(kind, format!("{context}: {error}"))
        }
    }

    /// The same error with the OS error number (`errno`) that caused it.
    pub fn with_os_error(self, errno: Option<i32>) -> Error {
        Error {
            os_error: errno,
            ..self
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status of a refused handshake or proxy tunnel, or the reply
    /// code of a SOCKS5 proxy.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The server's whole answer (status, headers, body) to a refused
    /// handshake.
    pub fn response(&self) -> Option<&Response> {
        self.response.as_deref()
    }

    /// Which timeout passed, for an [`ErrorKind::Timeout`] error of a
    /// connection.
    pub fn which_timeout(&self) -> Option<Timeout> {
        self.timeout
    }

    /// The OS error number (`errno`) behind an I/O or connect error.
    pub fn os_error(&self) -> Option<i32> {
        self.os_error
    }

    /// The message, as also shown by `Display`.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The message, taken (a fixed message is not copied).
    pub fn into_message(self) -> Cow<'static, str> {
        self.message
    }
}

impl From<ProtocolError> for Error {
    fn from(error: ProtocolError) -> Error {
        Error::new(ErrorKind::Protocol, format!("protocol error: {error}"))
    }
}

impl From<SendError> for Error {
    fn from(error: SendError) -> Error {
        match error {
            SendError::Closed => Error::new(ErrorKind::Closed, error.to_string()),
            _ => Error::new(ErrorKind::InvalidArgument, error.to_string()),
        }
    }
}

impl From<UrlError> for Error {
    fn from(error: UrlError) -> Error {
        Error::new(ErrorKind::InvalidArgument, format!("invalid URL: {error}"))
    }
}

impl From<HandshakeError> for Error {
    /// A refusal keeps the HTTP status and quotes the start of the body.
    fn from(error: HandshakeError) -> Error {
        match error.response() {
            Some(response) => {
                let body = String::from_utf8_lossy(
                    &response.body[..response.body.len().min(BODY_SNIPPET)],
                );
                let body = body.trim();
                let message = if body.is_empty() {
                    format!(
                        "the server refused the WebSocket handshake: HTTP {} {}",
                        response.status, response.reason
                    )
                } else {
                    format!(
                        "the server refused the WebSocket handshake: HTTP {} {}: {}",
                        response.status,
                        response.reason,
                        body.escape_debug()
                    )
                };
                Error {
                    response: Some(Arc::new(response.clone())),
                    ..Error::refused(response.status, message)
                }
            }
            None => Error::new(
                ErrorKind::Handshake,
                format!("WebSocket handshake failed: {error}"),
            ),
        }
    }
}

/// How much of a refusal's body goes into the error message.
const BODY_SNIPPET: usize = 200;
