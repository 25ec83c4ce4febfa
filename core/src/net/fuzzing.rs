//! Entry points for the fuzz targets in `fuzz/` and their replay on stable
//! in `tests/hardening`: the proxy handshakes and a clustered server's
//! Redis link are internal to `net` (the event loop drives them), so a
//! fuzzer reaches them only through here.
//!
//! Not part of the API: hidden from the documentation, may change in any
//! release. Kept to one function per parser, as tungstenite and quiche keep
//! their fuzz hooks: the parser stays private, the hook only starts and
//! feeds it.

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

/// What a clustered server's Redis link made of the bytes Redis sent: the
/// node's events in order (as text) and the error that ended the link, if
/// one did.
pub type ClusterOutcome = (Vec<String>, Option<String>);

/// Feeds a clustered server's Redis link (node id "me", prefix "wsx:",
/// subscribed to the topic "t", in RESP3 after `HELLO 3`) the bytes `chunks`
/// in turn, as they would arrive from the socket; returns what the node
/// reported (state changes, deliveries, gaps, refusals) and the error that
/// ended the link, if one did (no chunk is fed after it).
pub fn cluster_link(chunks: &[&[u8]]) -> ClusterOutcome {
    use std::sync::Arc;

    use super::cluster::{ClusterShared, Node, SEED, Target};
    use super::config::ClusterConfig;

    let config = ClusterConfig::default();
    let target = Target::parse("redis://127.0.0.1:6379").expect("a valid URL");
    let mut node = Node::new(
        &config,
        target,
        Arc::new(ClusterShared::new("me".into(), 1)),
    );
    // The seed link's opening is the loop's business.
    let _open = node.next_event();
    node.sync([Arc::from("t")].into_iter().collect());
    node.connected(SEED);
    let mut events = Vec::new();
    for chunk in chunks {
        let fed = node.feed(SEED, chunk);
        while let Some(event) = node.next_event() {
            events.push(format!("{event:?}"));
        }
        if let Err(e) = fed {
            return (events, Some(e));
        }
    }
    (events, None)
}
