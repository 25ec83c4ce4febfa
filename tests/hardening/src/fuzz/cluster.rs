//! Fuzz body: what Redis sends a clustered server's link (RESP3 replies and
//! pushes, publications of other nodes in their wire format) fed to the
//! sans-I/O node.
//!
//! The oracles: the outcome (events in order, and the error that ends the
//! link) does not depend on how the bytes are cut (whole, at the fuzzer's
//! cut, byte at a time); a failure has a message; a delivery only follows a
//! publication of another node on a subscribed topic; nothing panics.

use wsx_core::net::fuzzing::{ClusterOutcome, cluster_link};

/// Longest input fed byte at a time (the decoder re-reads a partial frame
/// on each byte, so that check is quadratic).
const BYTEWISE: usize = 4096;

/// The first byte says where the input is cut; the rest is what Redis sends.
pub fn run(data: &[u8]) {
    let [cut, bytes @ ..] = data else {
        return;
    };
    let whole: ClusterOutcome = cluster_link(&[bytes]);
    let at = (*cut as usize * bytes.len()) / 255;
    let (a, b) = bytes.split_at(at);
    assert_eq!(whole, cluster_link(&[a, b]), "cut at {at}");
    if bytes.len() <= BYTEWISE {
        let each: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(whole, cluster_link(&each), "byte at a time");
    }
    if let Some(e) = &whole.1 {
        assert!(!e.is_empty(), "an error without a message");
    }
    for event in &whole.0 {
        if event.starts_with("Deliver") {
            assert!(
                event.contains("topic: \"t\""),
                "a delivery on another topic: {event}"
            );
        }
    }
}
