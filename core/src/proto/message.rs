//! Messages: their kinds, assembly from fragments, and incremental UTF-8
//! validation of text.

pub mod assembler;
pub mod utf8;

pub use assembler::Assembler;
pub use utf8::{InvalidUtf8, Utf8Validator, check_utf8};

/// The kind of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A text message: its payload is valid UTF-8.
    Text,
    /// A binary message.
    Binary,
}
