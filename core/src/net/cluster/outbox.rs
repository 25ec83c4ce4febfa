//! The publications waiting for the broker, in one lane per link that will
//! carry them (a Redis Cluster's shards each have their own), bounded as a
//! whole: at most `max_len` publications and `max_bytes` bytes, past
//! which [`QueueFull`] says which one is dropped. A lane keeps its order,
//! so publications to a topic go out in the order they were made, and a
//! shard that is down holds up only its own lane.

use std::collections::{BTreeMap, VecDeque};

use crate::net::config::QueueFull;

/// The link a publication waits for; `None` while it has no route (the
/// cluster's topology is not known yet, or no master serves its slot).
pub type Lane = Option<u64>;

/// One publication waiting for the broker.
#[derive(Debug)]
pub struct Queued {
    pub channel: Vec<u8>,
    pub payload: Vec<u8>,
    /// The channel's hash slot (sharded pub/sub only).
    pub slot: u16,
    /// When it was made, among all of the node's publications.
    order: u64,
}

#[derive(Debug)]
pub struct Outbox {
    lanes: BTreeMap<Lane, VecDeque<Queued>>,
    len: usize,
    bytes: usize,
    max_len: usize,
    max_bytes: usize,
    policy: QueueFull,
    next_order: u64,
}

impl Outbox {
    pub fn new(max_len: usize, max_bytes: usize, policy: QueueFull) -> Outbox {
        Outbox {
            lanes: BTreeMap::new(),
            len: 0,
            bytes: 0,
            max_len: max_len.max(1),
            max_bytes: max_bytes.max(1),
            policy,
            next_order: 0,
        }
    }

    /// Publications waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Queues a new publication on `lane`, making room as the policy says;
    /// how many publications were dropped.
    pub fn push(&mut self, lane: Lane, channel: Vec<u8>, payload: Vec<u8>, slot: u16) -> u64 {
        let size = payload.len();
        let mut dropped = 0;
        while self.len > 0 && (self.len >= self.max_len || self.bytes + size > self.max_bytes) {
            dropped += 1;
            match self.policy {
                QueueFull::DropNewest => return dropped,
                QueueFull::DropOldest => {
                    self.pop_oldest();
                }
            }
        }
        let order = self.next_order;
        self.next_order += 1;
        self.put(
            lane,
            Queued {
                channel,
                payload,
                slot,
                order,
            },
        );
        dropped
    }

    /// The next publication of a link's lane.
    pub fn pop(&mut self, link: u64) -> Option<Queued> {
        let lane = self.lanes.get_mut(&Some(link))?;
        let item = lane.pop_front()?;
        if lane.is_empty() {
            self.lanes.remove(&Some(link));
        }
        self.len -= 1;
        self.bytes -= item.payload.len();
        Some(item)
    }

    /// Takes every waiting publication, oldest first (to route them anew).
    pub fn take_all(&mut self) -> Vec<Queued> {
        let mut all: Vec<Queued> = std::mem::take(&mut self.lanes)
            .into_values()
            .flatten()
            .collect();
        all.sort_unstable_by_key(|q| q.order);
        self.len = 0;
        self.bytes = 0;
        all
    }

    /// Puts a publication (back) on `lane`, in the place its age gives it:
    /// one routed anew, or one Redis sent back (`MOVED`) to wait for the
    /// route. It counts against the bound again, but drops nothing.
    pub fn put(&mut self, lane: Lane, item: Queued) {
        self.len += 1;
        self.bytes += item.payload.len();
        let queue = self.lanes.entry(lane).or_default();
        match queue.back() {
            Some(last) if last.order > item.order => {
                let at = queue.partition_point(|q| q.order < item.order);
                queue.insert(at, item);
            }
            _ => queue.push_back(item),
        }
    }

    fn pop_oldest(&mut self) {
        let Some(lane) = self
            .lanes
            .iter()
            .filter_map(|(lane, q)| Some((q.front()?.order, *lane)))
            .min()
            .map(|(_, lane)| lane)
        else {
            return;
        };
        if let Some(queue) = self.lanes.get_mut(&lane)
            && let Some(item) = queue.pop_front()
        {
            self.len -= 1;
            self.bytes -= item.payload.len();
            if queue.is_empty() {
                self.lanes.remove(&lane);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(items: impl IntoIterator<Item = Queued>) -> Vec<String> {
        items
            .into_iter()
            .map(|q| String::from_utf8(q.payload).unwrap())
            .collect()
    }

    #[test]
    fn the_bound_covers_every_lane_and_drops_the_oldest_anywhere() {
        let mut o = Outbox::new(3, 1 << 20, QueueFull::DropOldest);
        for (lane, p) in [(Some(1), "a"), (Some(2), "b"), (None, "c")] {
            assert_eq!(o.push(lane, vec![], p.into(), 0), 0);
        }
        assert_eq!(o.push(Some(2), vec![], "d".into(), 0), 1);
        assert_eq!(o.len(), 3);
        assert!(o.pop(1).is_none(), "the oldest (a) was dropped");
        assert_eq!(payloads(o.pop(2)), ["b"]);
        assert_eq!(payloads(o.take_all()), ["c", "d"]);

        let mut o = Outbox::new(10, 4, QueueFull::DropNewest);
        assert_eq!(o.push(Some(1), vec![], "abc".into(), 0), 0);
        assert_eq!(o.push(Some(1), vec![], "de".into(), 0), 1, "over the bytes");
        assert_eq!(payloads(o.take_all()), ["abc"]);
    }

    #[test]
    fn a_publication_put_back_keeps_its_age() {
        let mut o = Outbox::new(10, 1 << 20, QueueFull::DropOldest);
        for p in ["1", "2", "3"] {
            o.push(Some(1), vec![], p.into(), 0);
        }
        o.push(None, vec![], "4".into(), 0);
        let first = o.pop(1).unwrap();
        let second = o.pop(1).unwrap();
        // Redis answered MOVED to both: they wait unrouted, before "4".
        o.put(None, second);
        o.put(None, first);
        assert_eq!(o.len(), 4);
        assert_eq!(payloads(o.take_all()), ["1", "2", "3", "4"]);
    }
}
