//! permessage-deflate (RFC 7692): negotiation in the handshake and the
//! per-message codec.
//!
//! Clients offer it by default and servers accept it only when configured
//! (see [`DeflateConfig`]). After the handshake, hand the [`Agreement`] to
//! [`Connection::enable_deflate`](crate::proto::Connection::enable_deflate).
//!
//! ```
//! use wsx_core::proto::extension::deflate::{DeflateConfig, negotiate};
//! use wsx_core::proto::handshake::{Headers, Request};
//!
//! let request = Request {
//!     path: "/".into(),
//!     headers: Headers(vec![(
//!         "Sec-WebSocket-Extensions".into(),
//!         "permessage-deflate; client_max_window_bits".into(),
//!     )]),
//! };
//! let (answer, _agreement) = negotiate(&DeflateConfig::default(), &request).unwrap().unwrap();
//! assert_eq!(answer, "permessage-deflate");
//! ```
//!
//! Memory: each direction's state is allocated at its first compressed
//! message and kept for the connection's life (measured with zlib-rs by
//! `cargo run -p wsx-core --example deflate_memory`, after a 4 KiB message):
//!
//! | window bits | compressor | decompressor |
//! |---|---|---|
//! | 15 (default) | ≈ 382 KB | ≈ 48 KB |
//! | 12 | ≈ 267 KB | ≈ 48 KB |
//! | 9 | ≈ 253 KB | ≈ 48 KB |
//!
//! The compressor's hash tables do not shrink with the window, so a smaller
//! `server_max_window_bits` saves less than the window alone suggests. A
//! connection that only receives compressed messages pays the decompressor
//! only; sending with `compress = false` (or below the threshold) never
//! allocates the compressor.
//!
//! In streaming mode ([`Config::streaming`](crate::proto::Config::streaming))
//! a compressed message is delivered as one [`Event::Fragment`](crate::proto::Event::Fragment)
//! with `fin` set, once inflated whole (within the message size limit).

mod codec;
mod negotiation;
#[cfg(test)]
mod tests;

pub use codec::{Deflater, InflateError, Inflater, TRAILER};
pub use negotiation::{accept_answer, negotiate};

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const NAME: &str = "permessage-deflate";

/// This end's permessage-deflate settings: what a client offers, what a
/// server accepts, and how messages are compressed.
///
/// A window of 8 bits is valid on the wire, but zlib cannot compress raw
/// DEFLATE with a 256-byte window: an end whose compressor is limited to 8
/// bits sends every message uncompressed (which RFC 7692 allows) and still
/// inflates the peer's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Largest LZ77 window of the client's compressor, as a power of two
    /// (8-15, default 15). A client offers `client_max_window_bits` (with
    /// this value when below 15); a server asks clients that support it to
    /// use at most this.
    pub client_max_window_bits: u8,
    /// Largest LZ77 window of the server's compressor (8-15, default 15). A
    /// client below 15 offers `server_max_window_bits`; a server uses at most
    /// this (and at most what the client asked).
    pub server_max_window_bits: u8,
    /// The client's compressor starts afresh for every message (default
    /// false): smaller memory at the peer, worse compression.
    pub client_no_context_takeover: bool,
    /// The server's compressor starts afresh for every message (default false).
    pub server_no_context_takeover: bool,
    /// Compression level, 0 (stored) to 9 (smallest); default 6, zlib's.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed (default
    /// 64): below it, compression saves little and costs a deflate call.
    pub threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            client_max_window_bits: crate::defaults::DEFLATE_MAX_WINDOW_BITS,
            server_max_window_bits: crate::defaults::DEFLATE_MAX_WINDOW_BITS,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            level: crate::defaults::DEFLATE_LEVEL,
            threshold: crate::defaults::DEFLATE_THRESHOLD,
        }
    }
}

impl DeflateConfig {
    /// Checks the window sizes (8-15) and the level (0-9).
    pub fn check(&self) -> Result<(), String> {
        for (name, bits) in [
            ("client_max_window_bits", self.client_max_window_bits),
            ("server_max_window_bits", self.server_max_window_bits),
        ] {
            if !(8..=15).contains(&bits) {
                return Err(format!("{name} must be 8 to 15, not {bits}"));
            }
        }
        if self.level > 9 {
            return Err(format!(
                "compression level must be 0 to 9, not {}",
                self.level
            ));
        }
        Ok(())
    }
}

/// The parameters both ends agreed in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server's compressor starts afresh for every message.
    pub server_no_context_takeover: bool,
    /// The client's compressor starts afresh for every message.
    pub client_no_context_takeover: bool,
    /// The largest window of the server's compressor (8-15; 15 when not named).
    pub server_max_window_bits: u8,
    /// The largest window of the client's compressor (8-15; 15 when not named).
    pub client_max_window_bits: u8,
}

/// A successful negotiation: the agreed parameters and this end's settings
/// (level, threshold), everything the engine needs to compress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// What the handshake agreed.
    pub params: DeflateParams,
    /// This end's settings.
    pub config: DeflateConfig,
}
