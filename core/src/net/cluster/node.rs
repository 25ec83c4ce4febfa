//! A server's side of the cluster, without I/O: the channels it subscribes
//! (one per topic with local subscribers), its numbered publications and the
//! bounded queue of those waiting for the broker, the gaps it finds in what
//! arrives, and the state of its link.
//!
//! The queue: publications wait in it while the broker is down (or reads
//! slower than the node publishes) and go out in order once the link is
//! ready, at most [`OUTPUT_CHUNK`] bytes of commands ahead of the socket.
//! It holds at most `max_queued` publications and `max_queued_bytes` bytes;
//! past either, [`QueueFull`] says which publication is dropped. A dropped
//! publication used its sequence number, so receivers report it as a gap.
//!
//! Memory: the publisher keeps one counter per topic it ever published to
//! (for its lifetime: the numbers must not restart within an epoch); the
//! receiver keeps the last number of each publisher per subscribed topic,
//! forgotten when the topic's last local subscriber leaves.
//!
//! Limits of what a gap can tell: a publication lost before this node had
//! heard from its publisher on the topic (the first ones after subscribing)
//! cannot be told from one never sent, and a loss shows only when that
//! publisher's next publication to the topic arrives.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::envelope::{self, GapTracker, Sequencer, Verdict};
use super::resp::{Link, LinkEvent};
use super::{ClusterShared, ClusterState, Target};
use crate::net::config::{ClusterConfig, QueueFull};
use crate::proto::MessageKind;

/// Bytes of commands the link holds ahead of the socket before the queue
/// stops feeding it.
pub const OUTPUT_CHUNK: usize = 256 * 1024;

/// What the node asks of the loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// The state changed (`detail` says why).
    State(ClusterState, String),
    /// Another node's publication to deliver to the local subscribers.
    Deliver {
        topic: String,
        kind: MessageKind,
        data: Vec<u8>,
    },
    /// Publications of `node` to `topic` were lost.
    Gap {
        topic: String,
        node: String,
        epoch: u64,
        previous_epoch: Option<u64>,
        expected: u64,
        received: u64,
    },
    /// Redis refused a publication.
    Refused(String),
}

/// One publication waiting for the broker.
struct Queued {
    channel: Vec<u8>,
    payload: Vec<u8>,
}

pub struct Node {
    pub shared: Arc<ClusterShared>,
    pub target: Target,
    prefix: String,
    sharded: bool,
    max_queued: usize,
    max_bytes: usize,
    policy: QueueFull,
    link: Option<Link>,
    seq: Sequencer,
    gaps: GapTracker,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    /// The topics that have local subscribers (the last sync).
    wanted: BTreeSet<Arc<str>>,
    /// The topics the current link subscribed.
    subscribed: BTreeSet<Arc<str>>,
    /// A `PING` is unanswered.
    pub awaiting_pong: bool,
    events: VecDeque<NodeEvent>,
}

impl Node {
    pub fn new(config: &ClusterConfig, target: Target, shared: Arc<ClusterShared>) -> Node {
        let mut target = target;
        target.login.name = format!("wsx-{}", sanitize(&shared.node_id));
        Node {
            shared,
            target,
            prefix: config.prefix.clone(),
            sharded: config.sharded,
            max_queued: config.max_queued.max(1),
            max_bytes: config.max_queued_bytes.max(1),
            policy: config.queue_full,
            link: None,
            seq: Sequencer::default(),
            gaps: GapTracker::default(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            wanted: BTreeSet::new(),
            subscribed: BTreeSet::new(),
            awaiting_pong: false,
            events: VecDeque::new(),
        }
    }

    fn channel(&self, topic: &str) -> Vec<u8> {
        [self.prefix.as_bytes(), topic.as_bytes()].concat()
    }

    /// Numbers a publication, encodes it once and queues it for the broker.
    pub fn publish(&mut self, topic: &str, kind: MessageKind, data: &[u8]) {
        let seq = self.seq.next(topic);
        let payload = envelope::encode(&self.shared.node_id, self.shared.epoch, seq, kind, data);
        let item = Queued {
            channel: self.channel(topic),
            payload,
        };
        let size = item.payload.len();
        while !self.queue.is_empty()
            && (self.queue.len() >= self.max_queued || self.queued_bytes + size > self.max_bytes)
        {
            match self.policy {
                QueueFull::DropNewest => {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    self.pump();
                    return;
                }
                QueueFull::DropOldest => {
                    if let Some(old) = self.queue.pop_front() {
                        self.queued_bytes -= old.payload.len();
                        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        self.queued_bytes += size;
        self.queue.push_back(item);
        self.pump();
    }

    /// Moves waiting publications into a ready link, in order.
    fn pump(&mut self) {
        if let Some(link) = self.link.as_mut().filter(|l| l.is_ready()) {
            while link.pending_output() < OUTPUT_CHUNK {
                let Some(item) = self.queue.pop_front() else {
                    break;
                };
                self.queued_bytes -= item.payload.len();
                link.publish(&item.channel, &item.payload);
                self.shared.published.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.shared
            .queued
            .store(self.queue.len() as u64, Ordering::Relaxed);
    }

    fn set_state(&mut self, state: ClusterState, detail: String) {
        if self.shared.set_state(state) {
            self.events.push_back(NodeEvent::State(state, detail));
        }
    }

    /// The socket to the broker is connected: the handshake goes out, and
    /// every wanted topic is subscribed.
    pub fn connected(&mut self) {
        let mut link = Link::new(&self.target.login, self.sharded);
        let channels: Vec<Vec<u8>> = self.wanted.iter().map(|t| self.channel(t)).collect();
        link.subscribe(channels.iter().map(Vec::as_slice));
        self.subscribed = self.wanted.clone();
        self.awaiting_pong = false;
        self.link = Some(link);
    }

    /// The link was lost (or never made): state down.
    pub fn disconnected(&mut self, why: String) {
        if self.link.take().is_some() {
            self.shared.disconnects.fetch_add(1, Ordering::Relaxed);
        }
        self.subscribed.clear();
        self.shared.subscriptions.store(0, Ordering::Relaxed);
        self.set_state(ClusterState::Down, why);
    }

    /// Whether the link finished its handshake.
    pub fn is_ready(&self) -> bool {
        self.link.as_ref().is_some_and(Link::is_ready)
    }

    /// The topics with local subscribers are now `wanted`: subscribes the
    /// new ones and unsubscribes those left.
    pub fn sync(&mut self, wanted: BTreeSet<Arc<str>>) {
        for gone in self.wanted.difference(&wanted) {
            self.gaps.forget(gone);
        }
        self.wanted = wanted;
        let Some(link) = self.link.as_mut() else {
            return;
        };
        let add: Vec<Vec<u8>> = self
            .wanted
            .difference(&self.subscribed)
            .map(|t| [self.prefix.as_bytes(), t.as_bytes()].concat())
            .collect();
        let remove: Vec<Vec<u8>> = self
            .subscribed
            .difference(&self.wanted)
            .map(|t| [self.prefix.as_bytes(), t.as_bytes()].concat())
            .collect();
        link.subscribe(add.iter().map(Vec::as_slice));
        link.unsubscribe(remove.iter().map(Vec::as_slice));
        self.subscribed = self.wanted.clone();
        if link.is_ready() && !link.is_subscribing() {
            self.shared
                .subscriptions
                .store(self.subscribed.len() as u64, Ordering::Relaxed);
        }
    }

    /// Sends a keepalive `PING`.
    pub fn ping(&mut self) {
        if let Some(link) = self.link.as_mut() {
            link.ping();
            self.awaiting_pong = true;
        }
    }

    /// Bytes to write to the broker.
    pub fn output(&self) -> &[u8] {
        self.link.as_ref().map_or(&[], Link::output)
    }

    /// `n` bytes of [`Node::output`] were written.
    pub fn written(&mut self, n: usize) {
        if let Some(link) = self.link.as_mut() {
            link.written(n);
        }
        self.pump();
    }

    /// Takes bytes read from the broker; an error ends the link.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        // What came before a failure in these bytes still counts (the same
        // events however the socket cut them).
        let fed = link.feed(bytes);
        while let Some(event) = self.link.as_mut().and_then(Link::next_event) {
            self.on_link_event(event);
        }
        fed
    }

    fn on_link_event(&mut self, event: LinkEvent) {
        self.awaiting_pong = false;
        match event {
            LinkEvent::Ready { subscribing } => {
                match subscribing {
                    true => self.set_state(
                        ClusterState::Resubscribing,
                        format!("connected; subscribing {} topics", self.subscribed.len()),
                    ),
                    false => self.up(),
                }
                self.pump();
            }
            LinkEvent::Subscribed => {
                self.shared
                    .subscriptions
                    .store(self.subscribed.len() as u64, Ordering::Relaxed);
                if self.is_ready() && self.shared.state() != ClusterState::Up {
                    self.up();
                }
            }
            LinkEvent::Message { channel, payload } => self.on_message(&channel, &payload),
            LinkEvent::PublishRefused(e) => self.events.push_back(NodeEvent::Refused(e)),
            LinkEvent::Pong => {}
        }
    }

    fn up(&mut self) {
        self.shared
            .subscriptions
            .store(self.subscribed.len() as u64, Ordering::Relaxed);
        let detail = format!(
            "connected to {}:{}; {} topics subscribed",
            self.target.host,
            self.target.port,
            self.subscribed.len()
        );
        self.set_state(ClusterState::Up, detail);
    }

    fn on_message(&mut self, channel: &[u8], payload: &[u8]) {
        let Some(topic) = channel
            .strip_prefix(self.prefix.as_bytes())
            .and_then(|t| std::str::from_utf8(t).ok())
        else {
            return;
        };
        let Some(env) = envelope::decode(payload) else {
            return;
        };
        // Our own publication, echoed because we subscribe too: local
        // subscribers had it at once.
        if env.node == self.shared.node_id {
            return;
        }
        // A publication still in flight for a topic we just left.
        if !self.wanted.contains(topic) {
            return;
        }
        match self.gaps.check(topic, env.node, env.epoch, env.seq) {
            Verdict::Stale => return,
            Verdict::InOrder => {}
            Verdict::After(gap) => {
                self.shared.gaps.fetch_add(1, Ordering::Relaxed);
                self.events.push_back(NodeEvent::Gap {
                    topic: topic.to_owned(),
                    node: env.node.to_owned(),
                    epoch: gap.epoch,
                    previous_epoch: gap.previous_epoch,
                    expected: gap.expected,
                    received: gap.received,
                });
            }
        }
        self.shared.received.fetch_add(1, Ordering::Relaxed);
        self.events.push_back(NodeEvent::Deliver {
            topic: topic.to_owned(),
            kind: env.kind,
            data: env.data.to_vec(),
        });
    }

    /// The next thing for the loop to do, in order.
    pub fn next_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }
}

/// A node id as a Redis client name (no spaces or newlines).
fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect()
}

/// A random node id: 16 hex digits.
pub fn random_node_id() -> String {
    format!("{:016x}", getrandom::u64().unwrap_or(0x5eed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(max_queued: usize, policy: QueueFull) -> Node {
        let config = ClusterConfig {
            max_queued,
            queue_full: policy,
            ..ClusterConfig::default()
        };
        let target = Target::parse("redis://127.0.0.1:1").unwrap();
        Node::new(
            &config,
            target,
            Arc::new(ClusterShared::new("me".into(), 9)),
        )
    }

    fn set(topics: &[&str]) -> BTreeSet<Arc<str>> {
        topics.iter().map(|t| Arc::from(*t)).collect()
    }

    fn events(n: &mut Node) -> Vec<NodeEvent> {
        std::iter::from_fn(|| n.next_event()).collect()
    }

    #[test]
    fn the_queue_is_bounded_and_drops_as_told() {
        for (policy, kept) in [
            (QueueFull::DropOldest, [3u64, 4]),
            (QueueFull::DropNewest, [1, 2]),
        ] {
            let mut n = node(2, policy);
            for i in 0..4 {
                n.publish("t", MessageKind::Text, format!("m{i}").as_bytes());
            }
            assert_eq!(n.shared.stats().dropped, 2);
            assert_eq!(n.shared.stats().queued, 2);
            n.connected();
            n.feed(b"%0\r\n").unwrap();
            let out = String::from_utf8_lossy(n.output()).into_owned();
            let seqs: Vec<u64> = n
                .queue
                .iter()
                .map(|q| envelope::decode(&q.payload).unwrap().seq)
                .collect();
            assert!(seqs.is_empty(), "all went to the link");
            for (i, seq) in kept.iter().enumerate() {
                let m = format!("m{}", seq - 1);
                assert!(
                    out.contains(&m),
                    "{policy:?}: {m} missing from {out:?} ({i})"
                );
            }
            assert_eq!(n.shared.stats().published, 2);
        }
    }

    #[test]
    fn subscriptions_follow_the_wanted_topics_and_the_state_goes_up() {
        let mut n = node(10, QueueFull::DropOldest);
        n.sync(set(&["a", "b"]));
        assert!(n.output().is_empty(), "nothing is sent without a link");
        n.connected();
        let out = String::from_utf8_lossy(n.output()).into_owned();
        assert!(
            out.contains("SUBSCRIBE\r\n$5\r\nwsx:a\r\n$5\r\nwsx:b"),
            "{out}"
        );
        let len = n.output().len();
        n.written(len);
        n.feed(b"%0\r\n").unwrap();
        n.feed(b">3\r\n$9\r\nsubscribe\r\n$5\r\nwsx:a\r\n:1\r\n")
            .unwrap();
        assert_eq!(n.shared.state(), ClusterState::Resubscribing);
        n.feed(b">3\r\n$9\r\nsubscribe\r\n$5\r\nwsx:b\r\n:2\r\n")
            .unwrap();
        assert_eq!(n.shared.state(), ClusterState::Up);
        let states: Vec<ClusterState> = events(&mut n)
            .into_iter()
            .filter_map(|e| match e {
                NodeEvent::State(s, _) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(states, [ClusterState::Resubscribing, ClusterState::Up]);
        assert_eq!(n.shared.stats().subscriptions, 2);
        n.sync(set(&["b", "c"]));
        let out = String::from_utf8_lossy(n.output()).into_owned();
        assert!(out.contains("SUBSCRIBE\r\n$5\r\nwsx:c"), "{out}");
        assert!(out.contains("UNSUBSCRIBE\r\n$5\r\nwsx:a"), "{out}");
        n.disconnected("gone".into());
        assert_eq!(n.shared.state(), ClusterState::Down);
        assert_eq!(n.shared.stats().disconnects, 1);
    }

    #[test]
    fn messages_are_delivered_once_with_gaps_reported_and_echoes_ignored() {
        let mut n = node(10, QueueFull::DropOldest);
        n.sync(set(&["t"]));
        n.connected();
        n.feed(b"%0\r\n>3\r\n$9\r\nsubscribe\r\n$5\r\nwsx:t\r\n:1\r\n")
            .unwrap();
        events(&mut n);
        let message = |node: &str, seq: u64| {
            let payload = envelope::encode(node, 1, seq, MessageKind::Text, b"x");
            let mut frame = b">3\r\n$7\r\nmessage\r\n$5\r\nwsx:t\r\n".to_vec();
            frame.extend(format!("${}\r\n", payload.len()).as_bytes());
            frame.extend(payload);
            frame.extend(b"\r\n");
            frame
        };
        for (node, seq) in [("o", 1), ("me", 1), ("o", 2), ("o", 2), ("o", 5)] {
            n.feed(&message(node, seq)).unwrap();
        }
        let ev = events(&mut n);
        let delivered = ev
            .iter()
            .filter(|e| matches!(e, NodeEvent::Deliver { .. }))
            .count();
        assert_eq!(delivered, 3);
        assert!(ev.iter().any(|e| matches!(
            e,
            NodeEvent::Gap {
                expected: 3,
                received: 5,
                ..
            }
        )));
        assert_eq!(n.shared.stats().gaps, 1);
    }
}
