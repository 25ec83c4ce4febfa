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
}

#[derive(Debug)]
enum Chunk {
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(bytes) => bytes,
            Chunk::Shared(bytes) => bytes,
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
        if !self.tail.is_empty() {
            // `head` keeps pointing into the same bytes: they become the first chunk.
            let owned = std::mem::take(&mut self.tail);
            self.sealed_len += owned.len();
            self.sealed.push_back(Chunk::Owned(owned));
        }
        self.sealed_len += frame.len();
        self.sealed.push_back(Chunk::Shared(frame.clone()));
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
        let chunks = self.sealed.iter().map(Chunk::bytes);
        let parts = chunks
            .chain(std::iter::once(self.tail.as_slice()))
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
            let left = front.bytes().len() - self.head;
            if n < left {
                self.head += n;
                return;
            }
            n -= left;
            self.head = 0;
            self.sealed_len -= front.bytes().len();
            if let Some(Chunk::Owned(buffer)) = self.sealed.pop_front() {
                self.recycle(buffer);
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
}
