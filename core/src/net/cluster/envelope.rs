//! The wire format of a publication between nodes, and the bookkeeping that
//! makes loss detectable: the publisher numbers its publications per topic
//! ([`Sequencer`]), the receiver checks the numbers ([`GapTracker`]).
//! Sans-I/O: bytes in, bytes out.
//!
//! A publication is the payload of a Redis pub/sub message on the channel
//! `prefix + topic`:
//!
//! ```text
//! offset  size  field
//! 0       4     magic "wsx" and format version 1: 77 73 78 01
//! 4       1     message kind: 1 text, 2 binary
//! 5       1     n, the length of the node id (1..=255)
//! 6       n     the publishing node's id (UTF-8)
//! 6+n     8     the publisher's epoch (big-endian; new at each start)
//! 14+n    8     the sequence number of this publication in its topic
//!               and epoch (big-endian; the first is 1)
//! 22+n    ...   the message itself
//! ```

use std::collections::HashMap;

use crate::proto::MessageKind;

const MAGIC: [u8; 4] = *b"wsx\x01";

/// The header of a publication, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub kind: MessageKind,
    pub node: &'a str,
    pub epoch: u64,
    pub seq: u64,
    pub data: &'a [u8],
}

/// The bytes of a publication (see the module's table).
pub fn encode(node: &str, epoch: u64, seq: u64, kind: MessageKind, data: &[u8]) -> Vec<u8> {
    debug_assert!(!node.is_empty() && node.len() <= 255);
    let mut out = Vec::with_capacity(22 + node.len() + data.len());
    out.extend_from_slice(&MAGIC);
    out.push(match kind {
        MessageKind::Text => 1,
        MessageKind::Binary => 2,
    });
    out.push(node.len() as u8);
    out.extend_from_slice(node.as_bytes());
    out.extend_from_slice(&epoch.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Decodes a publication; `None` for anything else (another application's
/// message on the channel, a future format version, a truncated one).
pub fn decode(bytes: &[u8]) -> Option<Envelope<'_>> {
    let rest = bytes.strip_prefix(&MAGIC)?;
    let (&kind, rest) = rest.split_first()?;
    let kind = match kind {
        1 => MessageKind::Text,
        2 => MessageKind::Binary,
        _ => return None,
    };
    let (&n, rest) = rest.split_first()?;
    if n == 0 || rest.len() < n as usize + 16 {
        return None;
    }
    let (node, rest) = rest.split_at(n as usize);
    let node = std::str::from_utf8(node).ok()?;
    let epoch = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let seq = u64::from_be_bytes(rest[8..16].try_into().ok()?);
    let data = &rest[16..];
    if kind == MessageKind::Text && simdutf8::basic::from_utf8(data).is_err() {
        return None;
    }
    Some(Envelope {
        kind,
        node,
        epoch,
        seq,
        data,
    })
}

/// A publisher's sequence numbers, one counter per topic.
#[derive(Debug, Default)]
pub struct Sequencer {
    next: HashMap<String, u64>,
}

impl Sequencer {
    /// The number of the next publication to `topic` (1, 2, ...).
    pub fn next(&mut self, topic: &str) -> u64 {
        let counter = match self.next.get_mut(topic) {
            Some(counter) => counter,
            None => self.next.entry(topic.to_owned()).or_insert(0),
        };
        *counter += 1;
        *counter
    }
}

/// A gap found in one publisher's publications to one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The epoch of the publication that showed the gap.
    pub epoch: u64,
    /// The epoch seen before, when the publisher restarted (the number of
    /// publications lost is then unknown).
    pub previous_epoch: Option<u64>,
    /// The sequence number expected (in the previous epoch if it changed).
    pub expected: u64,
    /// The sequence number that arrived.
    pub received: u64,
}

/// What the receiver knows of each publisher's numbering, per topic.
#[derive(Debug, Default)]
pub struct GapTracker {
    /// topic -> publishing node -> (epoch, last sequence number seen)
    seen: HashMap<String, HashMap<String, (u64, u64)>>,
}

/// What [`GapTracker::check`] says of a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The next one expected, or the first seen from that publisher.
    InOrder,
    /// Deliver it, and report the gap before it.
    After(Gap),
    /// A number already seen (a duplicate or older): not delivered again.
    Stale,
}

impl GapTracker {
    /// Checks a publication of `node` to `topic` and records it.
    pub fn check(&mut self, topic: &str, node: &str, epoch: u64, seq: u64) -> Verdict {
        let nodes = match self.seen.get_mut(topic) {
            Some(nodes) => nodes,
            None => self.seen.entry(topic.to_owned()).or_default(),
        };
        let Some(last) = nodes.get_mut(node) else {
            nodes.insert(node.to_owned(), (epoch, seq));
            return Verdict::InOrder;
        };
        let (last_epoch, last_seq) = *last;
        if epoch != last_epoch {
            *last = (epoch, seq);
            return Verdict::After(Gap {
                epoch,
                previous_epoch: Some(last_epoch),
                expected: last_seq + 1,
                received: seq,
            });
        }
        if seq <= last_seq {
            return Verdict::Stale;
        }
        last.1 = seq;
        if seq == last_seq + 1 {
            Verdict::InOrder
        } else {
            Verdict::After(Gap {
                epoch,
                previous_epoch: None,
                expected: last_seq + 1,
                received: seq,
            })
        }
    }

    /// Forgets `topic` (this node no longer subscribes to it): a later
    /// subscription starts afresh, without a false gap.
    pub fn forget(&mut self, topic: &str) {
        self.seen.remove(topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publication_round_trips_and_matches_the_documented_layout() {
        let bytes = encode("n1", 7, 3, MessageKind::Text, b"hi");
        assert_eq!(
            bytes,
            [
                b"wsx\x01".as_slice(),
                &[1, 2],
                b"n1",
                &7u64.to_be_bytes(),
                &3u64.to_be_bytes(),
                b"hi"
            ]
            .concat()
        );
        let env = decode(&bytes).unwrap();
        assert_eq!(
            env,
            Envelope {
                kind: MessageKind::Text,
                node: "n1",
                epoch: 7,
                seq: 3,
                data: b"hi"
            }
        );
        let bin = encode("x", 1, 1, MessageKind::Binary, &[0xff, 0]);
        assert_eq!(decode(&bin).unwrap().data, &[0xff, 0]);
    }

    #[test]
    fn anything_else_is_refused() {
        let good = encode("node", 1, 1, MessageKind::Text, b"ok");
        for cut in 0..22 + 4 {
            assert!(decode(&good[..cut]).is_none(), "cut at {cut}");
        }
        assert!(decode(b"hello").is_none());
        let mut bad_kind = good.clone();
        bad_kind[4] = 3;
        assert!(decode(&bad_kind).is_none());
        let bad_utf8 = encode("node", 1, 1, MessageKind::Text, &[0xc3]);
        assert!(decode(&bad_utf8).is_none());
        let mut v2 = good.clone();
        v2[3] = 2;
        assert!(decode(&v2).is_none());
    }

    #[test]
    fn sequence_numbers_count_per_topic() {
        let mut s = Sequencer::default();
        assert_eq!(
            [s.next("a"), s.next("a"), s.next("b"), s.next("a")],
            [1, 2, 1, 3]
        );
    }

    #[test]
    fn gaps_new_epochs_and_duplicates() {
        let mut t = GapTracker::default();
        assert_eq!(t.check("t", "a", 10, 5), Verdict::InOrder);
        assert_eq!(t.check("t", "a", 10, 6), Verdict::InOrder);
        assert_eq!(t.check("t", "b", 20, 1), Verdict::InOrder);
        assert_eq!(
            t.check("t", "a", 10, 9),
            Verdict::After(Gap {
                epoch: 10,
                previous_epoch: None,
                expected: 7,
                received: 9
            })
        );
        assert_eq!(t.check("t", "a", 10, 9), Verdict::Stale);
        assert_eq!(t.check("t", "a", 10, 8), Verdict::Stale);
        assert_eq!(
            t.check("t", "a", 11, 1),
            Verdict::After(Gap {
                epoch: 11,
                previous_epoch: Some(10),
                expected: 10,
                received: 1
            })
        );
        // Another topic has its own numbering.
        assert_eq!(t.check("u", "a", 11, 40), Verdict::InOrder);
        t.forget("t");
        assert_eq!(t.check("t", "a", 11, 30), Verdict::InOrder);
    }
}
