//! Why an opening handshake failed.

/// Why an opening handshake failed, on either side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Placeholder; the real variants are listed by the implementation.
    #[error("handshake failed")]
    Todo,
}
