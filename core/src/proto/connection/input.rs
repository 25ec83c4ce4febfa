//! The input buffer: bytes from the peer, parsed and unmasked in place.

use std::ops::Range;

/// Capacity kept when the buffer empties after a round of traffic that
/// needed no more. A buffer grown for large frames is kept while large frames
/// keep coming (growing it again for every message costs a fresh allocation,
/// zeroing and a page fault per 4 KiB) and given back after the first round
/// that stayed under this size. A peer can make us hold as much with one
/// unfinished message, so this raises no worst case.
const RETAINED_CAPACITY: usize = 256 * 1024;

/// The smallest buffer allocated: room for a typical socket read.
const MIN_CAPACITY: usize = 8 * 1024;

/// Growth is in whole pages of this size. Beyond using what the allocator
/// hands out anyway, it leaves room past a frame the buffer grew for
/// exactly: the read that brings the frame then fills less than its room,
/// which tells an edge-triggered reader the socket is drained, instead of a
/// second read to meet `WouldBlock` after every such frame.
const PAGE: usize = 4 * 1024;

/// Received bytes: `buf[head..tail]` are unconsumed, `buf[tail..]` is spare
/// room the transport may read into. Consumed bytes stay in place (events
/// borrow them) until room is needed: compaction is lazy.
#[derive(Debug, Default)]
pub(super) struct InputBuffer {
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    /// The most bytes held since the buffer was last reset.
    peak: usize,
}

impl InputBuffer {
    /// The unconsumed bytes.
    pub(super) fn data(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    /// The unconsumed bytes, for unmasking in place.
    pub(super) fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.head..self.tail]
    }

    /// The absolute range of the next `n` unconsumed bytes, valid until the
    /// next call to [`InputBuffer::spare`].
    pub(super) fn front(&self, n: usize) -> Range<usize> {
        self.head..self.head + n
    }

    /// Bytes at an absolute range from [`InputBuffer::front`].
    pub(super) fn get(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Marks the next `n` bytes consumed; they stay readable until the next
    /// call to [`InputBuffer::spare`].
    pub(super) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.tail - self.head);
        self.head += n;
    }

    /// At least `min` bytes of room after the unconsumed bytes.
    pub(super) fn spare(&mut self, min: usize) -> &mut [u8] {
        self.spare_within(min, usize::MAX)
    }

    /// Like [`InputBuffer::spare`], growing (which doubles the buffer) by no
    /// more than `awaited` bytes beyond `min`: the rest of a frame whose
    /// bytes are delivered from this buffer, so a 16 MiB frame grows it to
    /// 16 MiB and a little, not to 32 MiB.
    pub(super) fn spare_within(&mut self, min: usize, awaited: usize) -> &mut [u8] {
        // Once per round: the buffer emptied since it was last reset.
        if self.head == self.tail && self.tail > 0 {
            self.head = 0;
            self.tail = 0;
            let needed_big = std::mem::take(&mut self.peak) > RETAINED_CAPACITY;
            if self.buf.len() > RETAINED_CAPACITY && min <= RETAINED_CAPACITY && !needed_big {
                self.buf.truncate(RETAINED_CAPACITY);
                self.buf.shrink_to_fit();
            }
        }
        if self.buf.len() - self.tail < min {
            // Moving the unconsumed bytes to the front costs no more than
            // the consumed bytes before them did to read; a large frame's
            // payload behind its header is not moved for the header's bytes.
            if self.head > 0 && self.head >= self.tail - self.head {
                self.buf.copy_within(self.head..self.tail, 0);
                self.tail -= self.head;
                self.head = 0;
            }
            if self.buf.len() - self.tail < min {
                let doubled = (2 * self.buf.len()).max(MIN_CAPACITY);
                let len = (self.tail + min).max(doubled.min(self.tail.saturating_add(awaited)));
                let len = len.checked_next_multiple_of(PAGE).unwrap_or(len);
                // Exactly: `resize` alone would double the allocation again.
                self.buf.reserve_exact(len - self.buf.len());
                self.buf.resize(len, 0);
            }
        }
        &mut self.buf[self.tail..]
    }

    /// Marks `n` bytes of [`InputBuffer::spare`] as filled.
    pub(super) fn commit(&mut self, n: usize) {
        self.tail = (self.tail + n).min(self.buf.len());
        self.peak = self.peak.max(self.tail);
    }

    /// Gives the allocation up when no unconsumed bytes wait in it and it is
    /// of ordinary size (a buffer grown for large frames stays, see
    /// [`RETAINED_CAPACITY`]), so an idle connection holds no buffer.
    pub(super) fn release(&mut self) -> Option<Vec<u8>> {
        if self.head != self.tail || self.buf.is_empty() || self.buf.len() > RETAINED_CAPACITY {
            return None;
        }
        self.head = 0;
        self.tail = 0;
        self.peak = 0;
        Some(std::mem::take(&mut self.buf))
    }

    /// Takes `buf` (its length as room, its contents ignored) as the
    /// allocation to read into, if this buffer has none; otherwise hands it
    /// back.
    pub(super) fn lend(&mut self, buf: Vec<u8>) -> Option<Vec<u8>> {
        if self.buf.is_empty() {
            self.buf = buf;
            None
        } else {
            Some(buf)
        }
    }

    /// Gives the allocation up with every byte in it (a received message's
    /// rest queued for sending points into it), and goes on in `next` (or a
    /// fresh one) with a copy of the unconsumed bytes.
    pub(super) fn hand_over(&mut self, next: Option<Vec<u8>>) -> Vec<u8> {
        let buf = std::mem::replace(&mut self.buf, next.unwrap_or_default());
        let (head, tail) = (self.head, self.tail);
        self.head = 0;
        self.tail = 0;
        self.peak = 0;
        if head < tail {
            self.extend(&buf[head..tail]);
        }
        buf
    }

    /// Takes `buf` back as the allocation to read into (see
    /// [`InputBuffer::hand_over`]) when no unconsumed bytes wait and it is
    /// larger than the present one; otherwise it is freed.
    pub(super) fn adopt(&mut self, buf: Vec<u8>) {
        if self.head == self.tail && buf.len() > self.buf.len() {
            self.buf = buf;
            self.head = 0;
            self.tail = 0;
        }
    }

    /// Whether the bytes at `range` (pointers) lie inside this buffer
    /// (zero-copy checks in tests).
    #[cfg(test)]
    pub(super) fn holds(&self, range: Range<*const u8>) -> bool {
        let buf = self.buf.as_ptr_range();
        buf.start <= range.start && range.end <= buf.end
    }

    /// Appends `data`.
    pub(super) fn extend(&mut self, data: &[u8]) {
        self.spare(data.len())[..data.len()].copy_from_slice(data);
        self.commit(data.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumed_bytes_stay_until_room_is_needed() {
        let mut input = InputBuffer::default();
        input.extend(b"hello world");
        let r = input.front(5);
        input.consume(6);
        assert_eq!(input.get(r), b"hello");
        assert_eq!(input.data(), b"world");
        // Room exists: no compaction, the consumed bytes are still in place.
        input.spare(1);
        assert_eq!(input.head, 6);
        // Not enough room: the unconsumed bytes move to the front.
        let room = input.buf.len() - input.tail + 1;
        input.spare(room);
        assert_eq!(input.head, 0);
        assert_eq!(input.data(), b"world");
    }

    #[test]
    fn commit_after_reading_into_spare() {
        let mut input = InputBuffer::default();
        let room = input.spare(4);
        assert!(room.len() >= 4);
        room[..3].copy_from_slice(b"abc");
        input.commit(3);
        assert_eq!(input.data(), b"abc");
    }

    #[test]
    fn an_empty_buffer_is_given_up_and_taken_back() {
        let mut input = InputBuffer::default();
        assert!(input.release().is_none(), "nothing allocated yet");
        input.extend(b"abc");
        assert!(input.release().is_none(), "unconsumed bytes keep it");
        input.consume(3);
        let buf = input.release().expect("released once consumed");
        assert!(buf.len() >= MIN_CAPACITY);
        assert!(input.buf.is_empty());
        let ptr = buf.as_ptr();
        assert!(input.lend(buf).is_none());
        assert_eq!(
            input.spare(1).as_ptr(),
            ptr,
            "reads go into the lent buffer"
        );
        assert!(input.lend(vec![0; 8]).is_some(), "one buffer at a time");
    }

    #[test]
    fn many_unconsumed_bytes_are_not_moved_for_a_few_consumed() {
        let mut input = InputBuffer::default();
        input.extend(&[1; 1000]);
        input.consume(14);
        let room = input.buf.len() - input.tail;
        input.spare_within(room + 1, usize::MAX);
        assert_eq!(input.head, 14, "grown, not moved");
        input.consume(986);
        input.extend(&[2; 10]);
        let room = input.buf.len() - input.tail;
        input.spare_within(room + 1, usize::MAX);
        assert_eq!(input.head, 0, "moved: few bytes after many consumed");
        assert_eq!(input.data(), [2; 10]);
    }

    #[test]
    fn grows_by_doubling_but_not_past_what_is_awaited() {
        let mut input = InputBuffer::default();
        input.extend(&[1; 100]);
        input.spare_within(10, 1000);
        assert_eq!(input.buf.len(), MIN_CAPACITY, "the smallest allocation");
        let full = input.buf.len() - input.tail;
        input.commit(full);
        input.spare_within(10, usize::MAX);
        assert_eq!(input.buf.len(), 2 * MIN_CAPACITY, "doubled");
        let full = input.buf.len() - input.tail;
        input.commit(full);
        input.spare_within(10, 20);
        assert_eq!(
            input.buf.len(),
            2 * MIN_CAPACITY + PAGE,
            "the awaited bytes, in a whole page"
        );
        let full = input.buf.len() - input.tail;
        input.commit(full);
        input.spare_within(10, 5);
        assert_eq!(
            input.buf.len(),
            2 * MIN_CAPACITY + 2 * PAGE,
            "at least `min`, in a whole page"
        );
        assert_eq!(input.buf.capacity(), input.buf.len(), "allocated exactly");
        // A frame's last 14 bytes awaited: a read of them all is a short one.
        let full = input.buf.len() - input.tail;
        input.commit(full);
        assert!(input.spare_within(14, 14).len() > 14, "room past them");
    }

    #[test]
    fn keeps_a_large_buffer_until_a_small_round() {
        let mut input = InputBuffer::default();
        input.extend(&vec![7; 3 * RETAINED_CAPACITY]);
        input.consume(3 * RETAINED_CAPACITY);
        input.spare(10);
        assert!(
            input.buf.len() >= 3 * RETAINED_CAPACITY,
            "kept for the next large frame"
        );
        input.spare(10);
        assert!(
            input.buf.len() >= 3 * RETAINED_CAPACITY,
            "an empty read is no round"
        );
        input.extend(b"small");
        input.consume(5);
        input.spare(10);
        assert!(
            input.buf.len() <= RETAINED_CAPACITY,
            "given back after a small round"
        );
    }
}
