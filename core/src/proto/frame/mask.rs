//! Masking (RFC 6455 section 5.3) and the client's masking keys.

/// XORs `buf` with `key`, starting at byte `offset` of the key cycle, so a
/// payload can be unmasked in pieces.
///
/// Eight bytes at a time (a word loop the compiler unrolls into SIMD), with
/// unaligned loads, so any alignment and length is fine; no `unsafe`.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let mut key = key;
    key.rotate_left(offset % 4);
    let [a, b, c, d] = key;
    let word = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Keys drawn from the system's random number generator per refill.
const KEYS_PER_REFILL: usize = 64;

/// A source of fresh, unpredictable masking keys (RFC 6455 section 5.3):
/// one per frame, drawn from [`crate::proto::random`] in batches.
///
/// The batch is allocated at the first key: a server's connections never
/// mask, and every engine holds one of these, so an idle server connection
/// does not carry 256 bytes it never uses.
#[derive(Debug, Clone)]
pub struct MaskKeys {
    batch: Option<Box<[u8; 4 * KEYS_PER_REFILL]>>,
    next: usize,
}

impl Default for MaskKeys {
    fn default() -> Self {
        MaskKeys {
            batch: None,
            next: KEYS_PER_REFILL,
        }
    }
}

impl MaskKeys {
    /// A fresh key, never handed out before.
    pub fn next_key(&mut self) -> Result<[u8; 4], getrandom::Error> {
        let batch = self
            .batch
            .get_or_insert_with(|| Box::new([0; 4 * KEYS_PER_REFILL]));
        if self.next == KEYS_PER_REFILL {
            crate::proto::random::fill(&mut batch[..])?;
            self.next = 0;
        }
        let i = 4 * self.next;
        self.next += 1;
        let key = [batch[i], batch[i + 1], batch[i + 2], batch[i + 3]];
        // Wipe the handed-out key so no copy of it stays around.
        batch[i..i + 4].fill(0);
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc_masked_hello() {
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn every_alignment_length_and_offset_matches_naive() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        for align in 0..16 {
            for len in 0..(data.len() - align) {
                for offset in 0..8 {
                    let mut fast = data.clone();
                    let mut slow = data.clone();
                    apply_mask(&mut fast[align..align + len], key, offset);
                    naive(&mut slow[align..align + len], key, offset);
                    assert_eq!(fast, slow, "align {align} len {len} offset {offset}");
                }
            }
        }
    }

    #[test]
    fn masking_twice_restores() {
        let original: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut buf = original.clone();
        apply_mask(&mut buf, [9, 8, 7, 6], 3);
        assert_ne!(buf, original);
        apply_mask(&mut buf, [9, 8, 7, 6], 3);
        assert_eq!(buf, original);
    }

    #[test]
    fn keys_are_fresh_across_refills() {
        let mut keys = MaskKeys::default();
        let drawn: Vec<[u8; 4]> = (0..3 * KEYS_PER_REFILL)
            .map(|_| keys.next_key().unwrap())
            .collect();
        let distinct: std::collections::HashSet<_> = drawn.iter().collect();
        // 192 random 32-bit keys: a collision is astronomically unlikely.
        assert_eq!(distinct.len(), drawn.len());
    }

    proptest! {
        #[test]
        fn pieces_unmask_like_the_whole(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            key: [u8; 4],
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            let mut pieces = data.clone();
            for w in cuts.windows(2) {
                apply_mask(&mut pieces[w[0]..w[1]], key, w[0]);
            }
            prop_assert_eq!(pieces, whole);
        }
    }
}
