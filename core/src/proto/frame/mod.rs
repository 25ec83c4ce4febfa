//! Frames (RFC 6455 section 5): header codec, opcodes and masking.

pub mod header;
pub mod mask;
pub mod opcode;

pub use header::FrameHeader;
pub use mask::apply_mask;
pub use opcode::OpCode;
