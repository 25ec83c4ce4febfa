//! The frame header: FIN, RSV1-3, opcode, mask and 7/16/64-bit length.

use super::opcode::OpCode;
use crate::proto::error::ProtocolError;

/// The largest payload of a control frame (ping, pong, close): RFC 6455
/// section 5.5.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this is the final frame of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the bits 0b100, 0b010, 0b001.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decodes a header from the start of `buf`. Returns the header and its
    /// encoded length, or `None` when `buf` holds only part of it. Fails as
    /// soon as the bytes present show a reserved opcode or a 64-bit length
    /// with its top bit set. Lengths need not be minimally encoded.
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let Some(&b0) = buf.first() else {
            return Ok(None);
        };
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode(b0 & 0x0F))?;
        let Some(&b1) = buf.get(1) else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        let (len_bytes, payload_len) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(b) => (2, u64::from(u16::from_be_bytes([b[0], b[1]]))),
                None => return Ok(None),
            },
            127 => {
                if let Some(&b2) = buf.get(2) {
                    if b2 & 0x80 != 0 {
                        // Only the first length byte, so the error (and the
                        // close reason sent) is the same however the bytes
                        // arrive.
                        return Err(ProtocolError::InvalidLength(u64::from(b2) << 56));
                    }
                }
                match buf.get(2..10) {
                    Some(b) => {
                        let mut len = [0u8; 8];
                        len.copy_from_slice(b);
                        (8, u64::from_be_bytes(len))
                    }
                    None => return Ok(None),
                }
            }
            n => (0, u64::from(n)),
        };
        let mut header_len = 2 + len_bytes;
        let mask = if masked {
            let Some(k) = buf.get(header_len..header_len + 4) else {
                return Ok(None);
            };
            header_len += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x07,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, header_len)))
    }

    /// The length of this header once encoded (minimal length encoding).
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Appends the encoded header to `out`, with the length in its shortest
    /// form. `payload_len` must be below 2^63 and `rsv` at most 0b111.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (bytes, len) = self.to_bytes();
        out.extend_from_slice(&bytes[..len]);
    }

    /// The encoded header (see [`FrameHeader::encode`]) in the first bytes
    /// of an array, and how many they are.
    pub fn to_bytes(&self) -> ([u8; MAX_HEADER_LEN], usize) {
        debug_assert!(self.payload_len >> 63 == 0 && self.rsv <= 0b111);
        let mut bytes = [0; MAX_HEADER_LEN];
        bytes[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        match self.payload_len {
            n @ 0..=125 => bytes[1] = mask_bit | n as u8,
            n @ 126..=0xFFFF => {
                bytes[1] = mask_bit | 126;
                bytes[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                len = 4;
            }
            n => {
                bytes[1] = mask_bit | 127;
                bytes[2..10].copy_from_slice(&n.to_be_bytes());
                len = 10;
            }
        }
        if let Some(key) = self.mask {
            bytes[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        (bytes, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::decode(bytes).unwrap().unwrap()
    }

    fn encoded(h: &FrameHeader) -> Vec<u8> {
        let mut out = Vec::new();
        h.encode(&mut out);
        out
    }

    fn binary(len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: None,
            payload_len: len,
        }
    }

    #[test]
    fn rfc_unmasked_hello_header() {
        let (h, n) = decode_all(&[0x81, 0x05, 0x48]);
        assert_eq!(n, 2);
        assert!(h.fin);
        assert_eq!(h.opcode, OpCode::Text);
        assert_eq!(h.payload_len, 5);
        assert_eq!(h.mask, None);
    }

    #[test]
    fn rfc_masked_hello_header() {
        let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f];
        let (h, n) = decode_all(&bytes);
        assert_eq!(n, 6);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.payload_len, 5);
        assert_eq!(encoded(&h), bytes[..6]);
    }

    #[test]
    fn rfc_256_byte_and_64k_headers() {
        assert_eq!(encoded(&binary(256)), [0x82, 0x7E, 0x01, 0x00]);
        assert_eq!(
            encoded(&binary(65536)),
            [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
        assert_eq!(decode_all(&[0x82, 0x7E, 0x01, 0x00]), (binary(256), 4));
        let long = [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(decode_all(&long), (binary(65536), 10));
    }

    #[test]
    fn minimal_length_boundaries() {
        for (len, header_len) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let h = binary(len);
            assert_eq!(encoded(&h).len(), header_len, "len {len}");
            assert_eq!(h.encoded_len(), header_len);
        }
    }

    #[test]
    fn non_minimal_length_is_accepted() {
        let (h, n) = decode_all(&[0x82, 0x7E, 0x00, 0x05]);
        assert_eq!((h.payload_len, n), (5, 4));
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let mut h = binary(70000);
        h.mask = Some([1, 2, 3, 4]);
        let bytes = encoded(&h);
        for cut in 0..bytes.len() {
            assert_eq!(FrameHeader::decode(&bytes[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(decode_all(&bytes), (h, 14));
    }

    #[test]
    fn reserved_opcodes_fail_on_the_first_byte() {
        for op in (0x3..=0x7).chain(0xB..=0xF) {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op]),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn length_with_top_bit_fails_early() {
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7F, 0x80]),
            Err(ProtocolError::InvalidLength(0x8000_0000_0000_0000))
        );
        let full = [0x82, 0x7F, 0xFF, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            FrameHeader::decode(&full),
            Err(ProtocolError::InvalidLength(0xFF00_0000_0000_0000))
        );
    }

    #[test]
    fn rsv_bits_decode() {
        let (h, _) = decode_all(&[0xC1, 0x00]);
        assert_eq!(h.rsv, 0b100);
        let (h, _) = decode_all(&[0x71, 0x00]);
        assert_eq!((h.rsv, h.fin), (0b111, false));
    }

    fn any_opcode() -> impl Strategy<Value = OpCode> {
        prop_oneof![
            Just(OpCode::Continuation),
            Just(OpCode::Text),
            Just(OpCode::Binary),
            Just(OpCode::Close),
            Just(OpCode::Ping),
            Just(OpCode::Pong),
        ]
    }

    fn any_len() -> impl Strategy<Value = u64> {
        prop_oneof![0..=125u64, 126..=0xFFFFu64, 0x1_0000..(1u64 << 63)]
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(
            fin: bool,
            rsv in 0..8u8,
            opcode in any_opcode(),
            mask: Option<[u8; 4]>,
            payload_len in any_len(),
            trailing in proptest::collection::vec(any::<u8>(), 0..4),
        ) {
            let h = FrameHeader { fin, rsv, opcode, mask, payload_len };
            let mut bytes = encoded(&h);
            prop_assert_eq!(bytes.len(), h.encoded_len());
            let n = bytes.len();
            bytes.extend_from_slice(&trailing);
            prop_assert_eq!(FrameHeader::decode(&bytes), Ok(Some((h, n))));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok(Some((h, n))) = FrameHeader::decode(&bytes) {
                prop_assert!(n <= bytes.len());
                prop_assert!(h.payload_len >> 63 == 0);
            }
        }
    }
}
