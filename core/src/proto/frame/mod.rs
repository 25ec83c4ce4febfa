//! Frames (RFC 6455 section 5): header codec, opcodes and masking.

pub mod header;
pub mod mask;
pub mod opcode;

pub use header::{FrameHeader, MAX_HEADER_LEN};
pub use mask::{MaskKeys, apply_mask};
pub use opcode::OpCode;

/// The most payload a control frame (close, ping, pong) carries (RFC 6455
/// section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
