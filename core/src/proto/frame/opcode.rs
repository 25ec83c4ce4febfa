//! Frame opcodes.

/// A frame opcode defined by RFC 6455. Reserved opcodes have no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation = 0x0,
    /// 0x1: first frame of a text message.
    Text = 0x1,
    /// 0x2: first frame of a binary message.
    Binary = 0x2,
    /// 0x8: close.
    Close = 0x8,
    /// 0x9: ping.
    Ping = 0x9,
    /// 0xA: pong.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for the low four bits of `v`'s value, or `None` when it is
    /// reserved (0x3-0x7, 0xB-0xF) or larger than four bits.
    pub fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The opcode's four-bit value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether this is a control frame's opcode (close, ping, pong).
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_or_is_reserved() {
        let defined = [0x0, 0x1, 0x2, 0x8, 0x9, 0xA];
        for v in 0..=255u8 {
            match OpCode::from_u8(v) {
                Some(op) => {
                    assert!(defined.contains(&v));
                    assert_eq!(op.as_u8(), v);
                }
                None => assert!(!defined.contains(&v), "{v:#x}"),
            }
        }
    }

    #[test]
    fn control_opcodes() {
        assert!(OpCode::Close.is_control());
        assert!(OpCode::Ping.is_control());
        assert!(OpCode::Pong.is_control());
        assert!(!OpCode::Continuation.is_control());
        assert!(!OpCode::Text.is_control());
        assert!(!OpCode::Binary.is_control());
    }
}
