//! A sender's output queue: frames encoded for this connection alone, and
//! frames encoded once and shared with other connections
//! ([`super::PreparedMessage`]), in the order they were queued.
//!
//! The common case (no shared frame waiting) is one growing buffer; a shared
//! frame seals the buffer's bytes as a chunk of their own and queues a
//! reference to the shared bytes behind them, so nothing is copied per
//! connection.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::ops::Range;
use std::sync::Arc;

/// Capacity the buffer keeps once drained after a round that needed no more;
/// a buffer grown for large messages is kept while large messages keep going
/// out, and given back after the first round that stayed under this size
/// (the input buffer's policy).
const RETAINED_CAPACITY: usize = 256 * 1024;

/// Shared frames up to this long are copied into the buffer instead: a copy
/// of a cache line or two costs less than a reference (counted, and a
/// separate piece of every write), and keeps small messages coalesced.
const COPY_SHARED_UP_TO: usize = 128;

/// Bytes waiting for the transport.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// Chunks queued before `tail`, oldest first.
    sealed: VecDeque<Chunk>,
    /// Total length of `sealed` (written part of the first chunk included).
    sealed_len: usize,
    /// Frames encoded for this connection, queued after `sealed`.
    tail: Vec<u8>,
    /// Bytes of the first chunk (the front of `sealed`, else `tail`) written.
    head: usize,
    /// Whether `tail` held more than [`RETAINED_CAPACITY`] since it last drained.
    tail_was_big: bool,
    /// The input buffer of the last [`Chunk::Lent`] written out, for the
    /// engine to read into again ([`Output::take_returned`]).
    returned: Option<Vec<u8>>,
}

#[derive(Debug)]
enum Chunk {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
    /// The rest of a received message queued without a copy: these bytes
    /// of the engine's input buffer, until the engine hands that buffer
    /// over ([`Output::settle`]). Nothing at or after it is written before.
    Claimed(Range<usize>),
    /// An input buffer handed over, and where the message's bytes are in it.
    Lent(Vec<u8>, Range<usize>),
}

impl Chunk {
    /// The bytes ready to be written (none of a claimed range yet).
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(bytes) => bytes,
            Chunk::Shared(bytes) => bytes,
            Chunk::Claimed(_) => &[],
            Chunk::Lent(buf, range) => &buf[range.clone()],
        }
    }

    fn len(&self) -> usize {
        match self {
            Chunk::Claimed(range) => range.len(),
            chunk => chunk.bytes().len(),
        }
    }
}

impl Output {
    /// The buffer the next frame of this connection is encoded into (written
    /// bytes are dropped first once they are at least half of it, so the
    /// move is paid for by the writes that preceded it).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        if self.sealed.is_empty() && self.head > 0 && self.head * 2 >= self.tail.len() {
            self.tail.drain(..self.head);
            self.head = 0;
        }
        &mut self.tail
    }

    /// Queues a shared frame behind everything queued so far (a small one
    /// as a copy, see [`COPY_SHARED_UP_TO`]).
    pub fn push_shared(&mut self, frame: &Arc<[u8]>) {
        if frame.len() <= COPY_SHARED_UP_TO {
            self.buffer().extend_from_slice(frame);
            return;
        }
        self.seal_tail();
        self.sealed_len += frame.len();
        self.sealed.push_back(Chunk::Shared(frame.clone()));
    }

    /// Queues `range` of the engine's input buffer behind everything queued
    /// so far, to be written once the engine hands the buffer over (see
    /// [`Output::settle`]).
    pub fn push_claimed(&mut self, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.seal_tail();
        self.sealed_len += range.len();
        self.sealed.push_back(Chunk::Claimed(range));
    }

    /// The range of the input buffer a [`Chunk::Claimed`] waits for, if one does.
    pub fn claimed(&self) -> Option<Range<usize>> {
        self.sealed.iter().find_map(|chunk| match chunk {
            Chunk::Claimed(range) => Some(range.clone()),
            _ => None,
        })
    }

    /// The claimed bytes' range in the input buffer, when they come next:
    /// what is written from there on (the bytes written already excluded).
    pub fn claimed_front(&self) -> Option<Range<usize>> {
        match self.sealed.front() {
            Some(Chunk::Claimed(range)) => Some(range.start + self.head..range.end),
            _ => None,
        }
    }

    /// Takes the input buffer a [`Chunk::Claimed`] points into.
    pub fn settle(&mut self, buf: Vec<u8>) {
        for chunk in &mut self.sealed {
            if let Chunk::Claimed(range) = chunk {
                let range = range.clone();
                debug_assert!(range.end <= buf.len());
                *chunk = Chunk::Lent(buf, range);
                return;
            }
        }
    }

    /// An input buffer whose claimed bytes were all written, to read into.
    pub fn take_returned(&mut self) -> Option<Vec<u8>> {
        self.returned.take()
    }

    /// Makes the tail's bytes a chunk of their own (`head` keeps pointing
    /// into the same bytes when they become the first chunk).
    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            let owned = std::mem::take(&mut self.tail);
            self.sealed_len += owned.len();
            self.sealed.push_back(Chunk::Owned(owned));
        }
    }

    /// The next contiguous bytes to write: everything queued unless a shared
    /// frame waits, then one chunk at a time (see [`Output::slices`]).
    pub fn pending(&self) -> &[u8] {
        match self.sealed.front() {
            Some(chunk) => &chunk.bytes()[self.head..],
            None => &self.tail[self.head..],
        }
    }

    /// Fills `slices` with the queued bytes in order, for a vectored write;
    /// returns how many slices it filled.
    pub fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        // Nothing from a claimed range on: its bytes are not here yet.
        let chunks = self.sealed.iter().map_while(|chunk| match chunk {
            Chunk::Claimed(_) => None,
            chunk => Some(chunk.bytes()),
        });
        let tail = match self.claimed() {
            Some(_) => &[][..],
            None => self.tail.as_slice(),
        };
        let parts = chunks
            .chain(std::iter::once(tail))
            .enumerate()
            .map(|(i, bytes)| if i == 0 { &bytes[self.head..] } else { bytes })
            .filter(|bytes| !bytes.is_empty());
        let mut filled = 0;
        for (slot, bytes) in slices.iter_mut().zip(parts) {
            *slot = IoSlice::new(bytes);
            filled += 1;
        }
        filled
    }

    /// Marks `n` queued bytes as written.
    pub fn consume(&mut self, mut n: usize) {
        if n == 0 {
            return;
        }
        while let Some(front) = self.sealed.front() {
            let left = front.len() - self.head;
            if n < left {
                self.head += n;
                return;
            }
            debug_assert!(
                !matches!(front, Chunk::Claimed(_)),
                "written before settled"
            );
            n -= left;
            self.head = 0;
            self.sealed_len -= front.len();
            match self.sealed.pop_front() {
                Some(Chunk::Owned(buffer)) => self.recycle(buffer),
                Some(Chunk::Lent(buffer, _))
                    if self
                        .returned
                        .as_ref()
                        .is_none_or(|r| r.len() < buffer.len()) =>
                {
                    self.returned = Some(buffer);
                }
                _ => {}
            }
        }
        self.tail_was_big |= self.tail.len() > RETAINED_CAPACITY;
        self.head = self.head.saturating_add(n).min(self.tail.len());
        if self.head == self.tail.len() {
            self.tail.clear();
            self.head = 0;
            if self.tail.capacity() > RETAINED_CAPACITY && !std::mem::take(&mut self.tail_was_big) {
                self.tail.shrink_to(RETAINED_CAPACITY);
            }
        }
    }

    /// Keeps a written buffer's allocation for the tail if the tail has less.
    fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.tail.is_empty() && self.tail.capacity() < buffer.capacity() {
            buffer.clear();
            buffer.shrink_to(RETAINED_CAPACITY);
            self.tail = buffer;
        }
    }

    /// How many bytes are queued and not yet written.
    pub fn len(&self) -> usize {
        self.sealed_len + self.tail.len() - self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame too long to be copied: `len` bytes of `byte`.
    fn big(byte: u8) -> Arc<[u8]> {
        Arc::from(vec![byte; COPY_SHARED_UP_TO + 1])
    }

    fn drain(output: &mut Output, step: usize) -> Vec<u8> {
        let mut written = Vec::new();
        while output.len() > 0 {
            let n = output.pending().len().min(step);
            written.extend_from_slice(&output.pending()[..n]);
            output.consume(n);
        }
        written
    }

    /// "ab", a shared frame of 'c's, a small one copied ("f"), another shared
    /// frame of 'd's, then "gh"; and those bytes.
    fn queue(output: &mut Output) -> Vec<u8> {
        output.buffer().extend_from_slice(b"ab");
        output.push_shared(&big(b'c'));
        output.push_shared(&Arc::from(&b"f"[..]));
        output.push_shared(&big(b'd'));
        output.buffer().extend_from_slice(b"gh");
        let mut expected = b"ab".to_vec();
        expected.extend_from_slice(&big(b'c'));
        expected.push(b'f');
        expected.extend_from_slice(&big(b'd'));
        expected.extend_from_slice(b"gh");
        expected
    }

    #[test]
    fn keeps_a_large_tail_until_a_small_round() {
        let mut output = Output::default();
        output
            .buffer()
            .extend_from_slice(&vec![1; 3 * RETAINED_CAPACITY]);
        drain(&mut output, 64 * 1024);
        assert!(
            output.tail.capacity() >= 3 * RETAINED_CAPACITY,
            "kept for the next large message"
        );
        output.consume(0);
        assert!(
            output.tail.capacity() >= 3 * RETAINED_CAPACITY,
            "nothing written is no round"
        );
        output.buffer().extend_from_slice(b"small");
        drain(&mut output, 64 * 1024);
        assert!(
            output.tail.capacity() <= RETAINED_CAPACITY,
            "given back after a small round"
        );
    }

    #[test]
    fn keeps_order_across_owned_and_shared_chunks_at_every_step() {
        for step in [1, 2, 3, 7, 128, 129, 130, 1000] {
            let mut output = Output::default();
            let expected = queue(&mut output);
            assert_eq!(output.len(), expected.len());
            assert_eq!(drain(&mut output, step), expected, "step {step}");
            assert_eq!(output.len(), 0);
        }
    }

    #[test]
    fn large_frames_are_shared_small_ones_copied() {
        let (large, small): (Arc<[u8]>, Arc<[u8]>) = (big(b'x'), Arc::from(&b"tiny"[..]));
        let mut output = Output::default();
        output.push_shared(&large);
        output.push_shared(&small);
        assert_eq!(Arc::strong_count(&large), 2, "referenced");
        assert_eq!(Arc::strong_count(&small), 1, "copied");
        output.consume(large.len() + small.len());
        assert_eq!(Arc::strong_count(&large), 1, "released once written");
    }

    #[test]
    fn consume_may_span_chunks() {
        let mut output = Output::default();
        let expected = queue(&mut output);
        let at = expected.len() - 3;
        output.consume(at);
        assert_eq!(output.pending(), &expected[at..at + 1]);
        assert_eq!(output.len(), 3);
        output.consume(1);
        assert_eq!(output.pending(), b"gh");
    }

    #[test]
    fn slices_list_everything_after_the_written_part() {
        let mut output = Output::default();
        let expected = queue(&mut output);
        output.consume(1);
        let mut slices = [IoSlice::new(&[]); 8];
        let n = output.slices(&mut slices);
        let joined: Vec<u8> = slices[..n].iter().flat_map(|s| s.to_vec()).collect();
        assert_eq!(joined, expected[1..]);
        let mut two = [IoSlice::new(&[]); 2];
        assert_eq!(output.slices(&mut two), 2);
        assert_eq!(&*two[1], &*big(b'c'));
    }

    #[test]
    fn a_partly_written_buffer_sealed_by_a_shared_frame_resumes_where_it_was() {
        let mut output = Output::default();
        output.buffer().extend_from_slice(b"abcd");
        output.consume(3);
        output.push_shared(&big(b'e'));
        assert_eq!(output.pending(), b"d");
        let mut expected = b"d".to_vec();
        expected.extend_from_slice(&big(b'e'));
        assert_eq!(drain(&mut output, 1), expected);
    }

    #[test]
    fn nothing_from_a_claimed_range_on_is_written_before_it_is_settled() {
        let mut output = Output::default();
        output.buffer().extend_from_slice(b"ab");
        output.push_claimed(3..6);
        output.buffer().extend_from_slice(b"gh");
        assert_eq!(output.len(), 7);
        let mut slices = [IoSlice::new(&[]); 4];
        let n = output.slices(&mut slices);
        assert_eq!(n, 1);
        assert_eq!(&*slices[0], b"ab");
        output.consume(2);
        assert_eq!(output.pending(), b"");
        assert_eq!(output.claimed_front(), Some(3..6));
        output.settle(b"xyzcdefg".to_vec());
        assert_eq!(output.claimed(), None);
        assert_eq!(drain(&mut output, 2), b"cdegh");
        assert_eq!(output.take_returned(), Some(b"xyzcdefg".to_vec()));
    }
}
