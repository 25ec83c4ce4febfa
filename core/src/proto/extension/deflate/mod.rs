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
//! Memory: a connection holds between messages only what the protocol
//! makes it keep; the rest is borrowed from its thread's pool (one set per
//! event loop) for one message at a time:
//!
//! - compressing with context takeover keeps the connection's own zlib
//!   state from its first compressed message on (≈ 253 KB at 9 window bits
//!   to ≈ 382 KB at 15 with zlib-rs: its hash tables do not shrink with the
//!   window); without it (`server_no_context_takeover` for a server, and
//!   always with [`DeflateConfig::shared_compressor`]) the thread's shared
//!   compressor does the work and the connection holds nothing;
//! - inflating borrows a decompressor per message and keeps the peer's
//!   window when the peer takes its context over: at most
//!   `1 << client_max_window_bits` bytes on a server (so a server that asks
//!   for `client_max_window_bits=10` keeps 1 KiB per connection), nothing
//!   when the peer starts afresh for every message.
//!
//! `cargo run --release -p wsx-core --example deflate_memory` measures it;
//! the figures are in `benches/RESULTS.md`. Sending with `compress = false`
//! (or below the threshold) never touches a compressor.
//!
//! In streaming mode ([`Config::streaming`](crate::proto::Config::streaming))
//! a compressed message is delivered as one [`Event::Fragment`](crate::proto::Event::Fragment)
//! with `fin` set, once inflated whole (within the message size limit).

mod codec;
mod negotiation;
mod pool;
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
    /// A server's compressor is shared by all its connections on a loop
    /// (default false; uWebSockets' `SHARED_COMPRESSOR`): the server asks
    /// for `server_no_context_takeover` in every answer (RFC 7692 lets it),
    /// so each message is compressed afresh by the loop's one compressor
    /// and a connection holds no compressor of its own. Costs compression
    /// ratio on repetitive traffic; saves 250-380 KB per sending
    /// connection. A server setting: a client configuration may not set it.
    pub shared_compressor: bool,
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
            shared_compressor: false,
        }
    }
}

impl DeflateConfig {
    /// Checks the window sizes (8-15), the level (0-9), and that a shared
    /// compressor can compress (a window of 9 bits or more).
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
        if self.shared_compressor && self.server_max_window_bits < 9 {
            return Err(format!(
                "shared_compressor needs server_max_window_bits of 9 or more, not {} \
                 (zlib cannot compress with an 8-bit window)",
                self.server_max_window_bits
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
