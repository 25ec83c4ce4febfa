//! Errors of the protocol layer, each saying what arrived and which close
//! code (or HTTP status) it maps to.

use super::close::CloseCode;
use super::frame::OpCode;
use super::message::MessageKind;

/// A violation of RFC 6455 by the peer, found while decoding its frames.
///
/// Every variant maps to the close code sent to the peer through
/// [`ProtocolError::close_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A frame used an opcode RFC 6455 reserves (0x3-0x7, 0xB-0xF). Close 1002.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A frame set RSV bits no negotiated extension gives a meaning. Close 1002.
    #[error("reserved bits {0:#05b} set without a negotiated extension")]
    ReservedBits(u8),
    /// A 64-bit payload length had its most significant bit set (the value
    /// holds the length's first byte only, the one that tells). Close 1002.
    #[error("64-bit payload length {0:#x} has its most significant bit set")]
    InvalidLength(u64),
    /// A server received a frame without a mask. Close 1002.
    #[error("unmasked frame from client")]
    UnmaskedFrame,
    /// A client received a masked frame. Close 1002.
    #[error("masked frame from server")]
    MaskedFrame,
    /// A control frame had FIN clear. Close 1002.
    #[error("fragmented control frame ({0:?})")]
    FragmentedControlFrame(OpCode),
    /// A control frame carried more than 125 bytes. Close 1002.
    #[error("control frame ({opcode:?}) of {len} bytes; the limit is {max}", max = crate::proto::frame::MAX_CONTROL_PAYLOAD)]
    ControlFrameTooLong {
        /// The control frame's opcode.
        opcode: OpCode,
        /// Its payload length.
        len: u64,
    },
    /// A continuation frame arrived with no fragmented message open. Close 1002.
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame arrived while a fragmented message was open.
    /// Close 1002.
    #[error("new {0:?} frame while a fragmented message is still open")]
    ExpectedContinuation(OpCode),
    /// A close frame carried a one-byte payload. Close 1002.
    #[error("close frame with a 1-byte payload")]
    ClosePayloadTooShort,
    /// A close frame carried a code that may not appear on the wire. Close 1002.
    #[error("close code {0} is not valid on the wire")]
    InvalidCloseCode(u16),
    /// A close frame's reason was not UTF-8. Close 1007.
    #[error("close reason is not valid UTF-8 at byte {0}")]
    InvalidCloseReason(usize),
    /// A text message was not UTF-8; `at` is the offset in the message of the
    /// first byte of the invalid sequence. Close 1007.
    #[error("text message is not valid UTF-8 at byte {at}")]
    InvalidUtf8 {
        /// Offset of the invalid sequence in the message.
        at: u64,
    },
    /// A frame was larger than the configured limit. Close 1009.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The frame's payload length from its header.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// A message was larger than the configured limit. Close 1009.
    #[error("message of at least {len} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// The message length known when the limit was crossed.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// A control frame had RSV1 set while permessage-deflate is on: control
    /// frames are never compressed. Close 1002.
    #[error("compressed control frame ({0:?}): control frames are never compressed")]
    CompressedControlFrame(OpCode),
    /// A continuation frame had RSV1 set while permessage-deflate is on: only
    /// a message's first frame says whether it is compressed. Close 1002.
    #[error(
        "continuation frame with RSV1 set: only the first frame of a message marks it compressed"
    )]
    CompressedContinuation,
    /// A compressed message is not valid DEFLATE data. Close 1007.
    #[error("compressed message cannot be inflated: {0}")]
    InvalidCompressedData(String),
    /// A binary message arrived where only text is accepted
    /// ([`Config::reject_binary`](super::Config::reject_binary)). Close 1003.
    #[error("binary message where only text is accepted")]
    BinaryNotAccepted,
}

impl ProtocolError {
    /// The close code this error is reported to the peer with
    /// (1002, 1007, 1009 or 1003 per the bad-input table).
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidCloseReason(_)
            | ProtocolError::InvalidUtf8 { .. }
            | ProtocolError::InvalidCompressedData(_) => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            ProtocolError::BinaryNotAccepted => CloseCode::UNSUPPORTED_DATA,
            ProtocolError::ReservedOpcode(_)
            | ProtocolError::ReservedBits(_)
            | ProtocolError::InvalidLength(_)
            | ProtocolError::UnmaskedFrame
            | ProtocolError::MaskedFrame
            | ProtocolError::FragmentedControlFrame(_)
            | ProtocolError::ControlFrameTooLong { .. }
            | ProtocolError::UnexpectedContinuation
            | ProtocolError::ExpectedContinuation(_)
            | ProtocolError::ClosePayloadTooShort
            | ProtocolError::CompressedControlFrame(_)
            | ProtocolError::CompressedContinuation
            | ProtocolError::InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// Why a send was refused by the local engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A close frame was already sent: no data frame may follow it.
    #[error("the connection is closing or closed")]
    Closed,
    /// The close code may not be sent (1006, 1015, or outside 1000-1003,
    /// 1005 for no code, 1007-1014 and 3000-4999).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// A close reason was given with 1005 (no code): a close frame carries a
    /// reason only after a code.
    #[error("a close reason needs a close code; 1005 sends a close frame without either")]
    ReasonWithoutCode,
    /// The close reason is longer than the 123 bytes a close frame can carry.
    #[error("close reason of {0} bytes; the limit is {max}", max = crate::proto::close::MAX_CLOSE_REASON)]
    CloseReasonTooLong(usize),
    /// A ping or pong payload is longer than 125 bytes.
    #[error("control frame payload of {0} bytes; the limit is {max}", max = crate::proto::frame::MAX_CONTROL_PAYLOAD)]
    ControlFrameTooLong(usize),
    /// Text to send is not UTF-8 (`at`: offset in the message of the invalid
    /// sequence).
    #[error("text to send is not valid UTF-8 at byte {at}")]
    InvalidUtf8 {
        /// Offset of the invalid sequence in the message.
        at: u64,
    },
    /// A fragmented message opened with `send_fragment` is not finished: only
    /// `send_fragment` (and control frames) may follow until `fin`.
    #[error("a fragmented {0:?} message is open; finish it with send_fragment(.., fin = true)")]
    MessageInProgress(MessageKind),
    /// `send_fragment` continued a message with a kind other than the one it
    /// was opened with.
    #[error("send_fragment continues a {open:?} message with {given:?} data")]
    FragmentKindMismatch {
        /// The kind the message was opened with.
        open: MessageKind,
        /// The kind given to this call.
        given: MessageKind,
    },
    /// The compressor failed (permessage-deflate); nothing was queued.
    #[error("compression failed: {0}")]
    Compression(String),
    /// The system's random number generator failed to give a masking key.
    #[error("no masking key: the system random number generator failed: {0}")]
    Random(getrandom::Error),
}
