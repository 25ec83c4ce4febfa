//! Incremental UTF-8 validation: text arrives in pieces (parts of frames,
//! fragments) and an invalid byte is reported as soon as it arrives.

use simdutf8::basic::from_utf8 as is_utf8;
use simdutf8::compat::from_utf8;

/// Where a text stopped being UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// Offset, from the start of the text, of the invalid sequence's first byte.
    pub at: u64,
}

/// Validates a text fed piece by piece, carrying at most 3 bytes of a
/// character split between pieces.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    carry: [u8; 4],
    /// How many bytes of `carry` are in use (a `u8`: the validator is
    /// part of every connection's state).
    carry_len: u8,
    /// Bytes fed so far, the carried ones included.
    fed: u64,
}

/// Checks that `data` is UTF-8, and where it stops being so when not.
/// Valid text pays only for simdutf8's `basic` validator (some 7% quicker
/// on mixed text than `compat`, which also finds the position): invalid
/// text is validated again for where.
pub fn check_utf8(data: &[u8]) -> Result<(), InvalidUtf8> {
    if is_utf8(data).is_ok() {
        return Ok(());
    }
    from_utf8(data).map(drop).map_err(|e| InvalidUtf8 {
        at: e.valid_up_to() as u64,
    })
}

/// How many bytes at the end of `bytes` begin a character they do not
/// finish (0 to 3; whether they can begin one at all is checked apart).
fn incomplete_tail(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(3) {
        let b = bytes[n - back];
        if b & 0xC0 != 0x80 {
            let width = match b {
                0xF0.. => 4,
                0xE0.. => 3,
                0xC0.. => 2,
                _ => 1,
            };
            return if width > back { back } else { 0 };
        }
    }
    0
}

/// The length of the character a valid leading byte starts.
fn char_width(lead: u8) -> usize {
    match lead {
        0xF0.. => 4,
        0xE0.. => 3,
        _ => 2,
    }
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts over for a new text.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Validates the next piece. Fails at the first byte that cannot be part
    /// of valid UTF-8, even if the character it belongs to began in an earlier
    /// piece; an incomplete character at the end is carried to the next piece.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        let used = self.complete_carry(bytes)?;
        let rest = &bytes[used..];
        if rest.is_empty() {
            return Ok(());
        }
        // Pieces (reads, blocks) often end inside a character: validate up
        // to its start and the few bytes of it apart, so the validator takes
        // its fast path instead of finding an error at the end of every piece.
        // That path asks only whether the body is valid (`basic`, as in
        // `check_utf8`): only a piece that fails is validated again.
        let body = rest.len() - incomplete_tail(rest);
        if is_utf8(&rest[..body]).is_ok() {
            let tail = &rest[body..];
            if let Err(e) = from_utf8(tail) {
                if e.error_len().is_some() {
                    return Err(InvalidUtf8 {
                        at: self.fed + (body + e.valid_up_to()) as u64,
                    });
                }
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carry_len = tail.len() as u8;
            }
            self.fed += rest.len() as u64;
            return Ok(());
        }
        match from_utf8(rest) {
            Ok(_) => {}
            Err(e) => {
                let valid = e.valid_up_to();
                if e.error_len().is_some() {
                    return Err(InvalidUtf8 {
                        at: self.fed + valid as u64,
                    });
                }
                let tail = &rest[valid..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carry_len = tail.len() as u8;
            }
        }
        self.fed += rest.len() as u64;
        Ok(())
    }

    /// Uses the start of `bytes` to finish the character carried from earlier
    /// pieces, and returns how many bytes it took (0 when nothing is carried;
    /// all of `bytes` when the character is still incomplete).
    pub fn complete_carry(&mut self, bytes: &[u8]) -> Result<usize, InvalidUtf8> {
        if self.carry_len == 0 {
            return Ok(0);
        }
        let have = usize::from(self.carry_len);
        let start = self.fed - have as u64;
        let take = (char_width(self.carry[0]) - have).min(bytes.len());
        let mut joined = self.carry;
        joined[have..have + take].copy_from_slice(&bytes[..take]);
        let len = have + take;
        match from_utf8(&joined[..len]) {
            Ok(_) => self.carry_len = 0,
            Err(e) if e.error_len().is_none() => {
                self.carry = joined;
                self.carry_len = len as u8;
            }
            Err(e) => {
                return Err(InvalidUtf8 {
                    at: start + e.valid_up_to() as u64,
                });
            }
        }
        self.fed += take as u64;
        Ok(take)
    }

    /// The bytes of the incomplete character carried so far (at most 3).
    pub fn carried(&self) -> &[u8] {
        &self.carry[..usize::from(self.carry_len)]
    }

    /// Checks that the text does not end in the middle of a character.
    pub fn finish(&self) -> Result<(), InvalidUtf8> {
        if self.carry_len == 0 {
            Ok(())
        } else {
            Err(InvalidUtf8 {
                at: self.fed - u64::from(self.carry_len),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `pieces` and returns the first error, with the piece it came in.
    fn validate(pieces: &[&[u8]]) -> Result<(), (usize, InvalidUtf8)> {
        let mut v = Utf8Validator::new();
        for (i, p) in pieces.iter().enumerate() {
            v.feed(p).map_err(|e| (i, e))?;
        }
        v.finish().map_err(|e| (pieces.len(), e))
    }

    #[test]
    fn fits_in_16_bytes() {
        // Every connection holds one or two (receiving, and sending in pieces).
        assert!(std::mem::size_of::<Utf8Validator>() <= 16);
    }

    #[test]
    fn split_characters_are_carried() {
        let text = "a\u{e9}\u{20ac}\u{1F600}z".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                let pieces = [&text[..a], &text[a..b], &text[b..]];
                assert_eq!(validate(&pieces), Ok(()), "split {a} {b}");
            }
        }
    }

    #[test]
    fn fails_in_the_piece_holding_the_invalid_byte() {
        // "\u{20ac}" is E2 82 AC; E2 82 followed by 'A' is invalid at the 'A'.
        let mut v = Utf8Validator::new();
        v.feed(b"ok").unwrap();
        v.feed(&[0xE2]).unwrap();
        v.feed(&[0x82]).unwrap();
        assert_eq!(v.carried(), &[0xE2, 0x82]);
        assert_eq!(v.feed(b"A"), Err(InvalidUtf8 { at: 2 }));
    }

    #[test]
    fn invalid_lead_byte_fails_at_once() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"hello\xFF"), Err(InvalidUtf8 { at: 5 }));
        let mut v = Utf8Validator::new();
        // F4 90 is above U+10FFFF: known invalid at its second byte.
        v.feed(b"\xF4").unwrap();
        assert_eq!(v.feed(b"\x90"), Err(InvalidUtf8 { at: 0 }));
        let mut v = Utf8Validator::new();
        // ED A0 starts a surrogate.
        assert_eq!(v.feed(b"xy\xED\xA0"), Err(InvalidUtf8 { at: 2 }));
    }

    #[test]
    fn incomplete_end_is_invalid() {
        assert_eq!(
            validate(&[b"ab\xF0\x9F\x98"]),
            Err((1, InvalidUtf8 { at: 2 }))
        );
    }

    #[test]
    fn complete_carry_reports_bytes_used() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xF0\x9F").unwrap();
        assert_eq!(v.complete_carry(b"\x98"), Ok(1));
        assert_eq!(v.carried(), b"\xF0\x9F\x98");
        assert_eq!(v.complete_carry(b"\x80rest"), Ok(1));
        assert_eq!(v.carried(), b"");
        assert_eq!(v.complete_carry(b"rest"), Ok(0));
    }

    proptest! {
        #[test]
        fn agrees_with_std_for_any_split(
            bytes in proptest::collection::vec(
                prop_oneof![any::<u8>(), 0x80..0xC0u8, Just(0xE2u8), Just(0xF0u8)], 0..40),
            cuts in proptest::collection::vec(any::<usize>(), 0..5),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.push(0);
            cuts.push(bytes.len());
            cuts.sort_unstable();
            let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
            let ours = validate(&pieces);
            match std::str::from_utf8(&bytes) {
                Ok(_) => prop_assert_eq!(ours, Ok(())),
                Err(e) => {
                    let (piece, err) = ours.unwrap_err();
                    prop_assert_eq!(err.at, e.valid_up_to() as u64);
                    // The error is reported with the piece holding the byte that
                    // made it certain, or by `finish` if the text just ends early.
                    let certain = (1..=bytes.len()).find(|&k| {
                        std::str::from_utf8(&bytes[..k]).is_err_and(|e| e.error_len().is_some())
                    });
                    match certain {
                        Some(k) => prop_assert!(cuts[piece] < k && k <= cuts[piece + 1]),
                        None => prop_assert_eq!(piece, pieces.len()),
                    }
                }
            }
        }

        #[test]
        fn check_utf8_agrees_with_std(
            bytes in prop_oneof![
                ".{0,200}".prop_map(String::into_bytes),
                proptest::collection::vec(
                    prop_oneof![0..0x80u8, any::<u8>(), 0x80..0xC0u8, Just(0xE2u8)], 0..300),
            ],
        ) {
            let std = std::str::from_utf8(&bytes).map(drop).map_err(|e| e.valid_up_to() as u64);
            prop_assert_eq!(check_utf8(&bytes).map_err(|e| e.at), std);
        }
    }
}
