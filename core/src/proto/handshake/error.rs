//! Why an opening handshake failed.

use super::Response;

/// Why an opening handshake failed, on either side.
///
/// On the client, every variant means the connection is not a WebSocket
/// connection and must be closed; [`HandshakeError::http_status`] gives the
/// server's status when it refused the upgrade. On the server, the variants
/// about building the 101 response report a bad accept decision (an
/// injected header, a subprotocol the client did not offer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The server answered with a status other than 101.
    #[error("server answered HTTP {status} {}", response.reason)]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The whole response: reason, headers and the body as it arrived
        /// (capped at 64 KiB; a chunked body is not decoded).
        response: Response,
    },
    /// The peer closed the connection before the handshake finished.
    #[error("connection closed during the handshake")]
    ConnectionClosed,
    /// The header block is larger than [`super::Limits::max_header_bytes`].
    #[error("handshake headers exceed the limit of {limit} bytes")]
    HeadersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The header block has more lines than [`super::Limits::max_headers`].
    #[error("handshake has more than {limit} header lines")]
    TooManyHeaders {
        /// The limit in header lines.
        limit: usize,
    },
    /// The peer's HTTP message is not valid HTTP/1.1.
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    /// The 101 response lacks `Upgrade: websocket`.
    #[error("server did not answer with \"Upgrade: websocket\" (got {})", found_text(.found))]
    UpgradeMismatch {
        /// The `Upgrade` header the server sent, if any.
        found: Option<String>,
    },
    /// The 101 response lacks `Connection: Upgrade`.
    #[error("server did not answer with \"Connection: Upgrade\" (got {})", found_text(.found))]
    ConnectionMismatch {
        /// The `Connection` header the server sent, if any.
        found: Option<String>,
    },
    /// `Sec-WebSocket-Accept` is missing or does not match the key sent.
    #[error("Sec-WebSocket-Accept mismatch: expected \"{expected}\", got {}", found_text(.found))]
    AcceptMismatch {
        /// The value the key requires.
        expected: String,
        /// The value the server sent, if any.
        found: Option<String>,
    },
    /// The server chose a subprotocol the client did not offer.
    #[error("server chose subprotocol \"{0}\" that was not offered")]
    SubprotocolNotOffered(String),
    /// The server named more than one subprotocol.
    #[error("server chose more than one subprotocol: \"{0}\"")]
    MultipleSubprotocols(String),
    /// The server accepted an extension the client did not offer.
    #[error("server chose extension \"{0}\" that was not offered")]
    ExtensionNotOffered(String),
    /// The server accepted the same extension twice.
    #[error("server accepted extension \"{0}\" more than once")]
    DuplicateExtension(String),
    /// A header name is empty or has characters HTTP does not allow in names.
    #[error("header name \"{}\" is not an HTTP token (only letters, digits and !#$%&'*+-.^_`|~)", .0.escape_debug())]
    InvalidHeaderName(String),
    /// A header value contains CR, LF, NUL or another control character.
    #[error("the value of header \"{}\" contains CR, LF, NUL or another control character", .0.escape_debug())]
    InvalidHeaderValue(String),
    /// A refusal was given a status outside [`super::REFUSAL_STATUSES`].
    #[error("refusal status {0} is not in 400-599 (a refusal is a client or server error)")]
    InvalidRefusalStatus(u16),
    /// A server's own HTTP response was given a status outside
    /// [`super::server::RESPONSE_STATUSES`].
    #[error("response status {0} is not in 200-599 (a final HTTP status)")]
    InvalidResponseStatus(u16),
    /// A header the handshake sets itself was given as an extra header.
    #[error("header \"{0}\" is set by the handshake itself and cannot be given as an extra header")]
    ReservedHeader(String),
    /// A header that may appear once was given more than once.
    #[error("header \"{0}\" was given more than once")]
    DuplicateHeader(String),
    /// A subprotocol name is empty or not an HTTP token.
    #[error("invalid subprotocol \"{}\": it must be a non-empty token without spaces, commas or separators", .0.escape_debug())]
    InvalidSubprotocol(String),
    /// The same subprotocol was offered twice.
    #[error("subprotocol \"{0}\" was offered more than once")]
    DuplicateSubprotocol(String),
    /// An extension offer is empty, has control characters, or its name is not a token.
    #[error("invalid extension offer \"{}\"", .0.escape_debug())]
    InvalidExtension(String),
    /// The server's permessage-deflate answer has parameters the client did
    /// not allow (RFC 7692 section 7.1): unknown, repeated, out of range, or
    /// not matching the offer.
    #[error("invalid permessage-deflate answer \"{}\": {reason}", .answer.escape_debug())]
    InvalidDeflateAnswer {
        /// The answer as the server sent it.
        answer: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The permessage-deflate settings are out of range.
    #[error("invalid permessage-deflate settings: {0}")]
    InvalidDeflateConfig(String),
    /// The URL's host or resource cannot be sent in a request line.
    #[error("URL part \"{}\" cannot be sent in an HTTP request", .0.escape_debug())]
    InvalidUrl(String),
    /// The system's random number generator failed (no key could be made).
    #[error("no randomness for the handshake key: {0}")]
    Random(String),
    /// `feed` was called after the handshake had finished.
    #[error("the handshake already finished")]
    Finished,
}

impl HandshakeError {
    /// The server's HTTP status when it refused the upgrade ([`HandshakeError::Status`]).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            HandshakeError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's response when it refused the upgrade ([`HandshakeError::Status`]).
    pub fn response(&self) -> Option<&Response> {
        match self {
            HandshakeError::Status { response, .. } => Some(response),
            _ => None,
        }
    }
}

fn found_text(found: &Option<String>) -> String {
    match found {
        Some(value) => format!("\"{}\"", value.escape_debug()),
        None => "nothing".to_owned(),
    }
}
