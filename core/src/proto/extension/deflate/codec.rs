//! The compressor and decompressor of one connection (RFC 7692 section 7.2):
//! raw DEFLATE with a sync flush per message, the trailing `00 00 ff ff`
//! removed on send and appended on receive, and inflation bounded by the
//! message size limit.
//!
//! Both states are made on first use, so a connection that never sends (or
//! never receives) a compressed message pays nothing for that direction.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The four bytes a sync flush ends with, removed from every compressed
/// message on the wire (section 7.2.1) and put back before inflating (7.2.2).
pub const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// An empty block with fixed Huffman codes, not final (BFINAL 0, BTYPE 01,
/// end-of-block), from a byte boundary: it leaves the stream ready for the
/// receiver's `00 00 ff ff`, which then reads as an empty stored block.
const EMPTY_FIXED_BLOCK: [u8; 2] = [0x02, 0x00];

/// The smallest window zlib can inflate raw DEFLATE with: a peer that
/// negotiated 8 bits (256 bytes) is inflated with 9 bits, which reads
/// anything an 8-bit window produced.
const MIN_INFLATE_WINDOW_BITS: u8 = 9;

/// Capacity the compressor's output buffer keeps between messages.
const RETAINED_CAPACITY: usize = 64 * 1024;

/// The first growth step of an inflated message's buffer.
const MIN_GROWTH: usize = 4 * 1024;

/// The compressing side: messages in, compressed payloads out.
pub struct Deflater {
    state: Option<Compress>,
    level: u32,
    window_bits: u8,
    no_context_takeover: bool,
    out: Vec<u8>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("allocated", &self.state.is_some())
            .field("level", &self.level)
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .finish()
    }
}

impl Deflater {
    /// A compressor using at most a `window_bits` window (9-15) at `level`
    /// (0-9), starting afresh for every message when `no_context_takeover`.
    pub fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Deflater {
        Deflater {
            state: None,
            level: level.min(9),
            window_bits: window_bits.clamp(9, 15),
            no_context_takeover,
            out: Vec::new(),
        }
    }

    /// Compresses the next piece of a message with a sync flush and returns
    /// the bytes to send; on the message's last piece (`fin`) the trailing
    /// `00 00 ff ff` is removed and the context is dropped when it may not
    /// be taken over. The bytes are valid until the next call.
    pub fn compress(&mut self, data: &[u8], fin: bool) -> Result<&[u8], String> {
        let (level, bits) = (self.level, self.window_bits);
        let state = self.state.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        self.out.clear();
        if self.out.capacity() > RETAINED_CAPACITY {
            self.out.shrink_to(RETAINED_CAPACITY);
        }
        let mut input = data;
        loop {
            // A sync flush needs a few bytes beyond the data even when it
            // does not compress (stored blocks, the empty block).
            self.out.reserve(input.len() / 2 + 64);
            let before = state.total_in();
            state
                .compress_vec(input, &mut self.out, FlushCompress::Sync)
                .map_err(|e| format!("deflate failed: {e}"))?;
            input = &input[(state.total_in() - before) as usize..];
            // Done once all input is in and the flush left room unused.
            if input.is_empty() && self.out.len() < self.out.capacity() {
                break;
            }
        }
        if fin {
            if self.out.ends_with(&TRAILER) {
                self.out.truncate(self.out.len() - TRAILER.len());
            } else if self.out.is_empty() {
                // zlib had nothing to flush: the previous piece (or message)
                // already ended with the trailer. An empty block gives the
                // trailer the receiver appends a valid place to start.
                self.out.extend_from_slice(&EMPTY_FIXED_BLOCK);
            }
            if self.no_context_takeover {
                state.reset();
            }
        }
        Ok(&self.out)
    }

    /// Whether the state is allocated (it is made at the first compressed message).
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// The level and window bits, when they alone decide how a whole
    /// message compresses: the compressor starts afresh for every message
    /// (no context takeover), so its output may be shared by every
    /// compressor with the same settings. `None` when it keeps its context.
    pub fn shareable_settings(&self) -> Option<(u32, u8)> {
        self.no_context_takeover
            .then_some((self.level, self.window_bits))
    }
}

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// The inflated message would pass the size limit.
    TooLarge,
    /// The payload is not valid DEFLATE data (or reaches back further than
    /// the negotiated window).
    Corrupt(String),
}

/// The decompressing side: compressed payloads in, messages out.
pub struct Inflater {
    state: Option<Decompress>,
    window_bits: u8,
    /// The message's DEFLATE stream ended with a final block (BFINAL): the
    /// rest of the message is ignored and the next one starts afresh.
    ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.state.is_some())
            .field("window_bits", &self.window_bits)
            .finish()
    }
}

impl Inflater {
    /// A decompressor for a peer that uses at most a `window_bits` window (8-15).
    pub fn new(window_bits: u8) -> Inflater {
        Inflater {
            state: None,
            window_bits: window_bits.clamp(MIN_INFLATE_WINDOW_BITS, 15),
            ended: false,
        }
    }

    /// Inflates the next compressed bytes of a message, appending to `out`,
    /// which never grows past `max` bytes: output beyond it fails with
    /// [`InflateError::TooLarge`] before anything past the limit is
    /// allocated. `out`'s capacity must not already exceed `max`.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), InflateError> {
        if self.ended {
            return Ok(());
        }
        let bits = self.window_bits;
        let state = self
            .state
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let mut input = input;
        loop {
            if out.len() == out.capacity() && out.len() < max {
                let grow = out.capacity().max(MIN_GROWTH).max(input.len() * 4);
                out.reserve_exact(grow.min(max - out.len()));
            }
            let (in_before, out_before) = (state.total_in(), state.total_out());
            let probing = out.len() == out.capacity();
            let status = if !probing {
                state.decompress_vec(input, out, FlushDecompress::Sync)
            } else {
                // At the limit: one more byte of output is one too many.
                let mut probe = [0u8; 1];
                state.decompress(input, &mut probe, FlushDecompress::Sync)
            }
            .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            let produced = state.total_out() - out_before;
            if out.len() > max || (probing && produced > 0) {
                return Err(InflateError::TooLarge);
            }
            let used = (state.total_in() - in_before) as usize;
            input = &input[used..];
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(());
            }
            let room_left = out.len() < out.capacity();
            if (input.is_empty() && room_left) || (used == 0 && produced == 0) {
                return Ok(());
            }
        }
    }

    /// Ends a message: inflates the trailing `00 00 ff ff` the sender
    /// removed (same bound as [`Inflater::inflate`]); after a final block,
    /// starts the next message with a fresh stream instead.
    pub fn finish(&mut self, out: &mut Vec<u8>, max: usize) -> Result<(), InflateError> {
        let result = self.inflate(&TRAILER, out, max);
        if std::mem::take(&mut self.ended) {
            if let Some(state) = &mut self.state {
                state.reset(false);
            }
        }
        result
    }

    /// Whether the state is allocated (it is made at the first compressed message).
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }
}
