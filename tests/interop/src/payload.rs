//! Test payloads, generated the same way by every peer (`peers/peer.py`,
//! `peers/gen.js`), and checks of the messages peers report.

use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use wsx_core::proto::MessageKind;

/// Repeated to make text payloads: ASCII and 2-, 3- and 4-byte UTF-8.
const TEXT_UNIT: &str = "wsx \u{2713} \u{e9} \u{1f680} ";
/// Binary payloads repeat a block of this (prime) length.
const BLOCK_LEN: usize = 251;
/// Peers include messages up to this size in full in their events.
const INLINE_LIMIT: usize = 4096;

/// The payload of `kind` and exactly `len` bytes: for text, whole repeats
/// of a mixed-width UTF-8 unit padded with `a`.
pub fn generate(kind: MessageKind, len: usize) -> Vec<u8> {
    match kind {
        MessageKind::Binary => (0..len)
            .map(|i| (((i % BLOCK_LEN) * 7 + 3) % BLOCK_LEN) as u8)
            .collect(),
        MessageKind::Text => {
            let units = len / TEXT_UNIT.len();
            let mut text = TEXT_UNIT.repeat(units);
            text.extend(std::iter::repeat_n('a', len - units * TEXT_UNIT.len()));
            text.into_bytes()
        }
    }
}

/// The name peers use for `kind`.
pub fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Text => "text",
        MessageKind::Binary => "binary",
    }
}

/// A peer command sending a generated payload, in `fragments` frames if given.
pub fn send_command(kind: MessageKind, len: usize, fragments: Option<usize>) -> Value {
    let mut command = json!({"op": "send", "kind": kind_name(kind), "gen": len});
    if let Some(n) = fragments {
        command["fragments"] = json!(n);
    }
    command
}

/// Lowercase hex SHA-1, as the peers report it.
pub fn sha1_hex(data: &[u8]) -> String {
    hex(&Sha1::digest(data))
}

/// Asserts that a peer's `message` event reports exactly `expected` of `kind`.
pub fn assert_peer_got(event: &Value, kind: MessageKind, expected: &[u8]) {
    assert_eq!(
        event["ev"], "message",
        "expected a message event, got {event}"
    );
    assert_eq!(event["kind"], kind_name(kind), "message kind in {event}");
    assert_eq!(event["len"], expected.len(), "message length in {event}");
    assert_eq!(
        event["sha1"],
        sha1_hex(expected),
        "message SHA-1 in {event}"
    );
    if expected.len() <= INLINE_LIMIT {
        match kind {
            MessageKind::Text => {
                assert_eq!(event["text"], String::from_utf8_lossy(expected).as_ref())
            }
            MessageKind::Binary => assert_eq!(event["hex"], hex(expected)),
        }
    }
}

/// Asserts that wsx received exactly `expected` of `kind` (without dumping megabytes).
pub fn assert_wsx_got(got: &(MessageKind, Vec<u8>), kind: MessageKind, expected: &[u8]) {
    assert_eq!(got.0, kind, "message kind wsx received");
    assert_eq!(
        got.1.len(),
        expected.len(),
        "length of the message wsx received"
    );
    assert!(
        got.1 == expected,
        "content of the {}-byte message wsx received differs",
        expected.len()
    );
}

/// Lowercase hex of `data`.
pub fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}
