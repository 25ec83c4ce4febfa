//! Frames (RFC 6455 section 5): header codec, opcodes and masking.

pub mod header;
pub mod mask;
pub mod opcode;

pub use header::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
pub use mask::{MaskKeys, apply_mask};
pub use opcode::OpCode;
