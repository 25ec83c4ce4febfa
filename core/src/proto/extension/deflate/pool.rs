//! The zlib states a thread lends its connections for one message at a
//! time, so that a connection between messages holds none of its own:
//!
//! - compressors that start afresh for every message (no context
//!   takeover): a server with [`DeflateConfig::shared_compressor`]
//!   compresses every connection's messages with the one its thread holds
//!   (uWebSockets' `SHARED_COMPRESSOR`);
//! - decompressors: a connection takes one for each compressed message it
//!   receives, primed with the peer's window when the peer keeps its context;
//! - the scratch buffer a message is compressed into before it is framed.
//!
//! An event loop runs on one thread, so this is one set per loop. Each list
//! keeps a few idle states; one returned beyond that is freed.
//!
//! [`DeflateConfig::shared_compressor`]: super::DeflateConfig::shared_compressor

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress};

/// Idle states of each kind a thread keeps: a loop compresses one message
/// at a time, and a few decompressors serve peers whose messages arrive in
/// pieces, interleaved.
const KEPT: usize = 4;

/// Capacity the scratch buffer keeps between messages.
const RETAINED_CAPACITY: usize = 64 * 1024;

/// A compressor's level and window bits: what its output depends on.
type Settings = (u32, u8);

#[derive(Default)]
struct Pool {
    compressors: Vec<(Settings, Compress)>,
    decompressors: Vec<Decompress>,
    scratch: Vec<u8>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::default();
}

/// Runs `f` on the thread's pool; `None` while the thread is exiting.
fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> Option<R> {
    POOL.try_with(|pool| f(&mut pool.borrow_mut())).ok()
}

/// A compressor in its initial state for raw DEFLATE at `level` with a
/// `bits` window: the thread's idle one with these settings, or a new one.
pub(super) fn take_compressor(level: u32, bits: u8) -> Compress {
    let idle = with_pool(|pool| {
        let at = pool
            .compressors
            .iter()
            .position(|(s, _)| *s == (level, bits))?;
        Some(pool.compressors.swap_remove(at).1)
    });
    idle.flatten()
        .unwrap_or_else(|| Compress::new_with_window_bits(Compression::new(level), false, bits))
}

/// Returns a compressor taken with [`take_compressor`] (any state: it is reset).
pub(super) fn give_compressor(level: u32, bits: u8, mut state: Compress) {
    state.reset();
    with_pool(|pool| {
        if pool.compressors.len() < KEPT {
            pool.compressors.push(((level, bits), state));
        }
    });
}

/// A raw DEFLATE decompressor in its initial state with the largest window
/// (zlib-rs allocates 32 KiB whatever the window, and a larger window reads
/// what a smaller one wrote).
pub(super) fn take_decompressor() -> Decompress {
    let idle = with_pool(|pool| pool.decompressors.pop());
    idle.flatten()
        .unwrap_or_else(|| Decompress::new_with_window_bits(false, 15))
}

/// Returns a decompressor taken with [`take_decompressor`] (any state: it is reset).
pub(super) fn give_decompressor(mut state: Decompress) {
    state.reset(false);
    with_pool(|pool| {
        if pool.decompressors.len() < KEPT {
            pool.decompressors.push(state);
        }
    });
}

/// Runs `f` with the thread's empty scratch buffer (a fresh one when `f`
/// itself asks for it, or while the thread exits).
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut scratch = with_pool(|pool| std::mem::take(&mut pool.scratch)).unwrap_or_default();
    let result = f(&mut scratch);
    scratch.clear();
    scratch.shrink_to(RETAINED_CAPACITY);
    with_pool(|pool| pool.scratch = scratch);
    result
}
