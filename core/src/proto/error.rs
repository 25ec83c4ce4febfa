//! Errors of the protocol layer, each saying what arrived and which close
//! code (or HTTP status) it maps to.

use super::close::CloseCode;

/// A violation of RFC 6455 by the peer, found while decoding its frames.
///
/// Every variant maps to the close code sent to the peer through
/// [`ProtocolError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Placeholder; the real variants are listed by the implementation.
    #[error("protocol error")]
    Todo,
}

impl ProtocolError {
    /// The close code this error is reported to the peer with
    /// (1002, 1007, 1009 or 1003 per the bad-input table).
    pub fn close_code(&self) -> CloseCode {
        todo!()
    }
}

/// Why a send was refused by the local engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A close frame was already sent: no data frame may follow it.
    #[error("the connection is closing or closed")]
    Closed,
}
