//! The compressor and decompressor of one connection (RFC 7692 section 7.2):
//! raw DEFLATE with a sync flush per message, the trailing `00 00 ff ff`
//! removed on send and appended on receive, and inflation bounded by the
//! message size limit.
//!
//! Between messages a connection holds only what the protocol makes it
//! keep: the compressor's state when it takes its context over to the next
//! message, and the peer's window (the last bytes it sent, as many as its
//! negotiated window bits allow) when the peer does. Everything else is
//! borrowed from the thread's [`pool`](super::pool) for one message, so a
//! connection that never sends (or never receives) a compressed message
//! pays nothing for that direction.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::pool;

/// The four bytes a sync flush ends with, removed from every compressed
/// message on the wire (section 7.2.1) and put back before inflating (7.2.2).
pub const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// An empty block with fixed Huffman codes, not final (BFINAL 0, BTYPE 01,
/// end-of-block), from a byte boundary: it leaves the stream ready for the
/// receiver's `00 00 ff ff`, which then reads as an empty stored block.
const EMPTY_FIXED_BLOCK: [u8; 2] = [0x02, 0x00];

/// The first growth step of an inflated message's buffer.
const MIN_GROWTH: usize = 4 * 1024;

/// The compressing side: messages in, compressed payloads out.
pub struct Deflater {
    /// Kept between messages with context takeover; otherwise borrowed from
    /// the thread's pool from a message's first piece to its last.
    state: Option<Compress>,
    level: u32,
    window_bits: u8,
    no_context_takeover: bool,
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
    /// (0-9), starting afresh for every message when `no_context_takeover`:
    /// then it uses the thread's shared compressor and holds nothing
    /// between messages.
    pub fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Deflater {
        Deflater {
            state: None,
            level: level.min(9),
            window_bits: window_bits.clamp(9, 15),
            no_context_takeover,
        }
    }

    /// Compresses the next piece of a message with a sync flush and hands
    /// the bytes to send to `sink`, whose result it returns; on the
    /// message's last piece (`fin`) the trailing `00 00 ff ff` is removed
    /// and a compressor that starts afresh for every message goes back to
    /// the thread's pool.
    pub fn compress<R>(
        &mut self,
        data: &[u8],
        fin: bool,
        sink: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, String> {
        let (level, bits) = (self.level, self.window_bits);
        let mut state = self
            .state
            .take()
            .unwrap_or_else(|| match self.no_context_takeover {
                true => pool::take_compressor(level, bits),
                false => Compress::new_with_window_bits(Compression::new(level), false, bits),
            });
        pool::with_scratch(|out| {
            let compressed = deflate(&mut state, data, fin, out);
            if (fin || compressed.is_err()) && self.no_context_takeover {
                pool::give_compressor(level, bits, state);
            } else {
                self.state = Some(state);
            }
            compressed.map(|()| sink(out))
        })
    }

    /// Whether the state is allocated: from the first compressed message on
    /// with context takeover, during a message without.
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

/// Compresses `data` into `out` with a sync flush; on a message's last
/// piece, without the trailer.
fn deflate(state: &mut Compress, data: &[u8], fin: bool, out: &mut Vec<u8>) -> Result<(), String> {
    let mut input = data;
    loop {
        // A sync flush needs a few bytes beyond the data even when it
        // does not compress (stored blocks, the empty block).
        out.reserve(input.len() / 2 + 64);
        let before = state.total_in();
        state
            .compress_vec(input, out, FlushCompress::Sync)
            .map_err(|e| format!("deflate failed: {e}"))?;
        input = &input[(state.total_in() - before) as usize..];
        // Done once all input is in and the flush left room unused.
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    if fin {
        if out.ends_with(&TRAILER) {
            out.truncate(out.len() - TRAILER.len());
        } else if out.is_empty() {
            // zlib had nothing to flush: the previous piece (or message)
            // already ended with the trailer. An empty block gives the
            // trailer the receiver appends a valid place to start.
            out.extend_from_slice(&EMPTY_FIXED_BLOCK);
        }
    }
    Ok(())
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
    /// Borrowed from the thread's pool from a message's first compressed
    /// bytes to its end.
    state: Option<Decompress>,
    window_bits: u8,
    /// Whether the peer's compressor takes its context over to the next
    /// message: then its window is kept between messages.
    context_takeover: bool,
    /// The peer's window: the last bytes of its messages, at most
    /// `1 << window_bits`, primed into the decompressor at the next message.
    window: Vec<u8>,
    /// The message's DEFLATE stream ended with a final block (BFINAL): the
    /// rest of the message is ignored and the next one starts afresh.
    ended: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.state.is_some())
            .field("window_bits", &self.window_bits)
            .field("context_takeover", &self.context_takeover)
            .field("window", &self.window.len())
            .finish()
    }
}

impl Inflater {
    /// A decompressor for a peer that uses at most a `window_bits` window
    /// (8-15) and takes its context over from message to message when
    /// `context_takeover`. Between messages it holds the peer's window
    /// only (nothing when the peer starts afresh for every message).
    pub fn new(window_bits: u8, context_takeover: bool) -> Inflater {
        Inflater {
            state: None,
            window_bits: window_bits.clamp(8, 15),
            context_takeover,
            window: Vec::new(),
            ended: false,
        }
    }

    /// Borrows the message's decompressor at its first compressed bytes,
    /// primed with the peer's window.
    fn borrow_state(&mut self) -> Result<(), InflateError> {
        if self.state.is_none() {
            let mut state = pool::take_decompressor();
            if !self.window.is_empty() {
                state
                    .set_dictionary(&self.window)
                    .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            }
            self.state = Some(state);
        }
        Ok(())
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
        self.borrow_state()?;
        let state = self.state.as_mut().expect("borrowed above");
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

    /// Ends a message, `out` (all of it, inflated): inflates the trailing
    /// `00 00 ff ff` the sender removed (same bound as
    /// [`Inflater::inflate`]), keeps the peer's window when it takes its
    /// context over, and returns the decompressor to the thread's pool.
    /// After a final block the next message starts with a fresh stream.
    pub fn finish(&mut self, out: &mut Vec<u8>, max: usize) -> Result<(), InflateError> {
        let result = self.inflate(&TRAILER, out, max);
        if std::mem::take(&mut self.ended) || !self.context_takeover {
            self.window = Vec::new();
        } else if result.is_ok() {
            self.remember(out);
        }
        if let Some(state) = self.state.take() {
            pool::give_decompressor(state);
        }
        result
    }

    /// Slides the peer's window over `message`.
    fn remember(&mut self, message: &[u8]) {
        let size = 1usize << self.window_bits;
        let tail = &message[message.len().saturating_sub(size)..];
        let keep = self.window.len().min(size - tail.len());
        self.window.drain(..self.window.len() - keep);
        // Grown exactly, never past the window's size.
        self.window.reserve_exact(tail.len());
        self.window.extend_from_slice(tail);
    }

    /// Whether a decompressor is borrowed (during a compressed message).
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Bytes of the peer's window held between messages.
    pub fn window_len(&self) -> usize {
        self.window.len()
    }
}
