//! Entry points for the fuzz targets in `fuzz/` and their replay on stable
//! in `tests/hardening`: the proxy handshakes are internal to `net` (the
//! event loop drives them), so a fuzzer reaches them only through here.
//!
//! Not part of the API: hidden from the documentation, may change in any
//! release. Kept to one function, as tungstenite and quiche keep their fuzz
//! hooks: the parser stays private, the hook only starts and feeds it.

use super::error::Error;
use super::proxy::{Progress, ProxyConfig, Tunnel};

/// Starts the handshake with `proxy` (HTTP CONNECT or SOCKS5, by its kind)
/// to `host:port`, then feeds it the proxy's bytes `chunks` in turn, as they
/// would arrive from the socket. Everything the client sends (the first
/// request and each reply) is appended to `sent`.
///
/// `Ok(Some(rest))`: the tunnel stands; `rest` arrived after the proxy's
/// answer (the remaining chunks included). `Ok(None)`: more bytes are needed. `Err`: the handshake failed
/// (or could not start, for a SOCKS5 host name over 255 bytes).
pub fn proxy_handshake(
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
    chunks: &[&[u8]],
    sent: &mut Vec<u8>,
) -> Result<Option<Vec<u8>>, Error> {
    let (mut tunnel, first) = Tunnel::start(proxy, host, port)?;
    sent.extend_from_slice(&first);
    for (i, chunk) in chunks.iter().enumerate() {
        if let Progress::Done(mut rest) = tunnel.feed(chunk, sent)? {
            for later in &chunks[i + 1..] {
                rest.extend_from_slice(later);
            }
            return Ok(Some(rest));
        }
    }
    Ok(None)
}
