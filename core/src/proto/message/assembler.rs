//! Message assembly: the continuation rules, the message size limit, text
//! validation across fragments, and the one reusable buffer fragmented
//! messages are joined in.

use super::MessageKind;
use super::utf8::Utf8Validator;
use crate::proto::error::ProtocolError;
use crate::proto::frame::OpCode;

/// Capacity the assembly buffer keeps between messages; a bigger one is freed
/// when the next message starts.
const RETAINED_CAPACITY: usize = 1 << 20;

/// The least the assembly buffer grows by (when the message declared as much).
const MIN_GROWTH: usize = 64 * 1024;

/// The receiving side's message state: which message is open, how long it is
/// so far, its UTF-8 validation, and its assembly buffer.
#[derive(Debug)]
pub struct Assembler {
    max_message_size: usize,
    open: Option<MessageKind>,
    /// Payload length of the open message, counting its frames' declared lengths.
    len: u64,
    utf8: Utf8Validator,
    buf: Vec<u8>,
}

impl Assembler {
    /// An assembler refusing messages over `max_message_size` bytes.
    pub fn new(max_message_size: usize) -> Self {
        Assembler {
            max_message_size,
            open: None,
            len: 0,
            utf8: Utf8Validator::new(),
            buf: Vec::new(),
        }
    }

    /// The kind of the message being received, if one is open.
    pub fn open_kind(&self) -> Option<MessageKind> {
        self.open
    }

    /// Checks a data frame's header against the continuation rules and the
    /// message size limit (before any of its payload is read). `starts` is
    /// the kind of a text or binary frame, which opens a new message, or
    /// `None` for a continuation frame. Returns the message's kind.
    pub fn begin_frame(
        &mut self,
        starts: Option<MessageKind>,
        payload_len: u64,
    ) -> Result<MessageKind, ProtocolError> {
        let kind = match (starts, self.open) {
            (None, Some(kind)) => kind,
            (None, None) => return Err(ProtocolError::UnexpectedContinuation),
            (Some(kind), Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation(match kind {
                    MessageKind::Text => OpCode::Text,
                    MessageKind::Binary => OpCode::Binary,
                }));
            }
            (Some(kind), None) => self.start(kind),
        };
        let len = self.len.saturating_add(payload_len);
        if len > self.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                len,
                max: self.max_message_size,
            });
        }
        self.len = len;
        Ok(kind)
    }

    fn start(&mut self, kind: MessageKind) -> MessageKind {
        self.open = Some(kind);
        self.len = 0;
        self.utf8.reset();
        if self.buf.capacity() > RETAINED_CAPACITY {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        kind
    }

    /// Validates the next payload bytes of the open message if it is text.
    pub fn check(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        if self.open == Some(MessageKind::Text) {
            self.utf8
                .feed(bytes)
                .map_err(|e| ProtocolError::InvalidUtf8 { at: e.at })?;
        }
        Ok(())
    }

    /// The open text message's validator (streaming mode stitches characters
    /// split between frames with it).
    pub fn utf8(&mut self) -> &mut Utf8Validator {
        &mut self.utf8
    }

    /// Appends checked payload bytes to the assembly buffer. The buffer grows
    /// geometrically (doubling, from `MIN_GROWTH`) up to the length the
    /// message's frames declared so far, never past it nor the limit: a
    /// peer that declares 16 MiB and sends one byte costs `MIN_GROWTH`,
    /// not 16 MiB, and one that sends what it declared costs a few
    /// reallocations (which the allocator does by remapping pages when large).
    pub fn append(&mut self, bytes: &[u8]) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            let declared = usize::try_from(self.len)
                .unwrap_or(usize::MAX)
                .min(self.max_message_size);
            let doubled = (2 * self.buf.capacity()).max(MIN_GROWTH);
            let target = needed.max(doubled.min(declared));
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The assembly buffer and the message size limit, for a decoder that
    /// writes the message itself (permessage-deflate inflates into it, never
    /// past the limit); check what it wrote with [`Assembler::check_from`].
    pub fn output(&mut self) -> (&mut Vec<u8>, usize) {
        (&mut self.buf, self.max_message_size)
    }

    /// Validates the assembled bytes from offset `from` on, if the open
    /// message is text.
    pub fn check_from(&mut self, from: usize) -> Result<(), ProtocolError> {
        if self.open == Some(MessageKind::Text) {
            self.utf8
                .feed(&self.buf[from..])
                .map_err(|e| ProtocolError::InvalidUtf8 { at: e.at })?;
        }
        Ok(())
    }

    /// Ends a frame of the open message; after the final one the message is
    /// closed (text must not end inside a character).
    pub fn end_frame(&mut self, fin: bool) -> Result<(), ProtocolError> {
        if fin {
            if self.open == Some(MessageKind::Text) {
                self.utf8
                    .finish()
                    .map_err(|e| ProtocolError::InvalidUtf8 { at: e.at })?;
            }
            self.open = None;
        }
        Ok(())
    }

    /// The assembled message.
    pub fn assembled(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_rules() {
        let mut a = Assembler::new(100);
        assert_eq!(
            a.begin_frame(None, 1),
            Err(ProtocolError::UnexpectedContinuation)
        );
        assert_eq!(
            a.begin_frame(Some(MessageKind::Text), 3),
            Ok(MessageKind::Text)
        );
        a.end_frame(false).unwrap();
        assert_eq!(
            a.begin_frame(Some(MessageKind::Binary), 1),
            Err(ProtocolError::ExpectedContinuation(OpCode::Binary))
        );
        assert_eq!(a.begin_frame(None, 2), Ok(MessageKind::Text));
        a.end_frame(true).unwrap();
        assert_eq!(a.open_kind(), None);
        assert_eq!(
            a.begin_frame(None, 0),
            Err(ProtocolError::UnexpectedContinuation)
        );
    }

    #[test]
    fn limit_counts_every_fragment_before_reading() {
        let mut a = Assembler::new(10);
        a.begin_frame(Some(MessageKind::Binary), 6).unwrap();
        a.end_frame(false).unwrap();
        assert_eq!(
            a.begin_frame(None, 5),
            Err(ProtocolError::MessageTooLarge { len: 11, max: 10 })
        );
        assert!(a.assembled().is_empty());
        assert_eq!(a.buf.capacity(), 0, "nothing allocated for a refused frame");
    }

    #[test]
    fn buffer_grows_to_declared_length_only() {
        let mut a = Assembler::new(1000);
        a.begin_frame(Some(MessageKind::Binary), 300).unwrap();
        a.append(&[1; 100]);
        let cap = a.buf.capacity();
        assert!((300..=1000).contains(&cap), "{cap}");
        a.append(&[2; 200]);
        assert_eq!(a.buf.capacity(), cap, "no second allocation within a frame");
        a.end_frame(true).unwrap();
        assert_eq!(a.assembled().len(), 300);
    }

    #[test]
    fn a_large_declared_length_is_reserved_only_as_bytes_arrive() {
        let mut a = Assembler::new(16 << 20);
        a.begin_frame(Some(MessageKind::Binary), 16 << 20).unwrap();
        a.append(&[1]);
        assert_eq!(a.buf.capacity(), MIN_GROWTH, "one byte costs the minimum");
        let mut arrived = 1;
        while arrived < 16 << 20 {
            let piece = (256 * 1024).min((16 << 20) - arrived);
            a.append(&vec![2; piece]);
            arrived += piece;
            assert!(a.buf.capacity() <= (2 * arrived).max(MIN_GROWTH));
        }
        assert_eq!(a.buf.capacity(), 16 << 20, "never past the declared length");
    }

    #[test]
    fn text_ending_mid_character_is_1007() {
        let mut a = Assembler::new(100);
        a.begin_frame(Some(MessageKind::Text), 1).unwrap();
        a.check(&[0xC3]).unwrap();
        assert_eq!(a.end_frame(true), Err(ProtocolError::InvalidUtf8 { at: 0 }));
    }
}
