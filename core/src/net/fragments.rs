//! The rules of a fragmented message being sent, checked on the caller's
//! thread (before anything is queued for the loop) so that misuse is an
//! error the caller sees, not a message the loop drops: while a fragmented
//! message is open no whole message may be sent, its pieces keep its kind,
//! and text is valid UTF-8 across the pieces (a character may be split
//! between two of them).

use crate::proto::message::{InvalidUtf8, Utf8Validator};
use crate::proto::{MessageKind, SendError};

/// The fragmented message a connection is sending, if any (one per
/// connection, in its `ConnShared`, behind a lock held while a send is
/// checked and queued, so the loop receives pieces in the order checked).
#[derive(Debug, Default, Clone)]
pub(super) struct Outgoing {
    /// The kind of the open message, until its last piece.
    open: Option<MessageKind>,
    /// Text only: the pieces so far, validated (a character split between
    /// two of them is carried).
    text: Utf8Validator,
}

impl Outgoing {
    /// A whole message may be sent now.
    pub fn check_whole(&self) -> Result<(), SendError> {
        match self.open {
            Some(open) => Err(SendError::MessageInProgress(open)),
            None => Ok(()),
        }
    }

    /// Whether the piece may follow; on success returns the state after it,
    /// to be stored once the piece was queued.
    pub fn check_fragment(
        &self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<Outgoing, SendError> {
        let mut next = match self.open {
            None => Outgoing::default(),
            Some(open) if open == kind => self.clone(),
            Some(open) => return Err(SendError::FragmentKindMismatch { open, given: kind }),
        };
        if kind == MessageKind::Text {
            let invalid = |e: InvalidUtf8| SendError::InvalidUtf8 { at: e.at };
            next.text.feed(data).map_err(invalid)?;
            // The last piece may not end inside a character.
            if fin {
                next.text.finish().map_err(invalid)?;
            }
        }
        next.open = if fin { None } else { Some(kind) };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageKind::{Binary, Text};

    fn run(pieces: &[(&[u8], bool)]) -> Result<Outgoing, SendError> {
        let mut state = Outgoing::default();
        for (data, fin) in pieces {
            state = state.check_fragment(Text, data, *fin)?;
        }
        Ok(state)
    }

    #[test]
    fn a_character_split_at_every_byte_between_pieces() {
        let text = "aé€😀z".as_bytes();
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let pieces: [(&[u8], bool); 3] = [
                    (&text[..i], false),
                    (&text[i..j], false),
                    (&text[j..], true),
                ];
                let state = run(&pieces).unwrap_or_else(|e| panic!("{i} {j}: {e}"));
                assert!(state.check_whole().is_ok());
            }
        }
    }

    #[test]
    fn invalid_text_and_a_truncated_end_are_refused() {
        assert!(matches!(
            run(&[(b"ab", false), (b"\xff", false)]),
            Err(SendError::InvalidUtf8 { at: 2 })
        ));
        assert!(run(&[(b"a\xe2\x82", false), (b"", true)]).is_err());
        assert!(run(&[(b"a\xe2", false), (b"\x82x", true)]).is_err());
        assert!(run(&[(b"a\xe2", false), (b"\x82", false)]).is_ok());
    }

    #[test]
    fn an_open_message_refuses_whole_sends_and_other_kinds() {
        let state = run(&[(b"a", false)]).unwrap();
        assert!(matches!(
            state.check_whole(),
            Err(SendError::MessageInProgress(Text))
        ));
        assert!(matches!(
            state.check_fragment(Binary, b"x", true),
            Err(SendError::FragmentKindMismatch {
                open: Text,
                given: Binary
            })
        ));
        let done = state.check_fragment(Text, b"b", true).unwrap();
        assert!(done.check_whole().is_ok());
        assert!(done.check_fragment(Binary, b"\xff", true).is_ok());
    }
}
