//! Masking (RFC 6455 section 5.3).

/// XORs `buf` with `key`, starting at byte `offset` of the key cycle, so a
/// payload can be unmasked in pieces.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let _ = (buf, key, offset);
    todo!()
}
