//! A server's side of the cluster, without I/O: the channels it subscribes
//! (one per topic with local subscribers), its numbered publications and the
//! bounded queue of those waiting for the broker, the gaps it finds in what
//! arrives, the links it holds to Redis and the state they add up to.
//!
//! Links: classic pub/sub uses one, to the URL's host (the seed), for
//! everything. Sharded pub/sub first asks the seed `CLUSTER SHARDS`: a Redis
//! that is not a cluster answers with an error, and the seed link carries
//! everything as in classic mode; a Redis Cluster answers which master
//! serves which slots, and each channel goes to the master of its slot, one
//! link per master that serves a subscribed topic or a publication (opened
//! when first needed, kept while the master serves slots). The seed link
//! stays open for the topology: asked again when it reconnects, when a link
//! fails (a master may have failed over), and when Redis answers `MOVED` or
//! drops a subscription (a slot moved). Publications answered `MOVED` wait
//! for the new topology and go out again, in their order, to the new owner;
//! subscriptions move to the new owner's link. The state is the sum of the
//! links: down while any is down, up once every link is connected and
//! every topic subscribed.
//!
//! The queue ([`Outbox`]): publications wait in it while their link is
//! down (or reads slower than the node publishes) and go out in order once
//! the link is ready, at most [`OUTPUT_CHUNK`] bytes of commands ahead of
//! the socket. It holds at most `max_queued` publications and
//! `max_queued_bytes` bytes over all links; past either, [`QueueFull`] says
//! which publication is dropped. A dropped publication used its sequence
//! number, so receivers report it as a gap. A publication written to a link
//! waits for Redis' answer in the link's `in_flight` (outside the bound: at
//! most what the socket and Redis hold); one lost with its link is lost (at
//! most once), one answered `MOVED` goes back to the queue.
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
//!
//! [`QueueFull`]: crate::net::config::QueueFull

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use redis_protocol::resp3::types::OwnedFrame;

use super::envelope::{self, GapTracker, Sequencer, Verdict};
use super::outbox::{Lane, Outbox, Queued};
use super::resp::{Link, LinkEvent};
use super::topology::{self, Addr, Topology};
use super::{ClusterShared, ClusterState, Target};
use crate::net::config::ClusterConfig;
use crate::proto::MessageKind;

/// Bytes of commands a link holds ahead of the socket before the queue
/// stops feeding it.
pub const OUTPUT_CHUNK: usize = 256 * 1024;

/// A link to one Redis node, named by the node.
pub type LinkId = u64;

/// The link to the URL's host.
pub const SEED: LinkId = 0;

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
    /// Connect a new link to `addr` (and call [`Node::connected`]).
    Open { link: LinkId, addr: Addr },
    /// Drop a link: its Redis node serves no slot any more.
    Close { link: LinkId },
}

/// Where channels go.
enum Routing {
    /// Every channel on the seed link: classic pub/sub, or sharded pub/sub
    /// on a Redis that is not a cluster.
    Seed,
    /// Sharded pub/sub on a Redis Cluster: to the master of the channel's
    /// slot; `links[i]` is the link to `topology.masters[i]`, once needed.
    Slots {
        topology: Topology,
        links: Vec<Option<LinkId>>,
    },
    /// Sharded pub/sub before the first answer to `CLUSTER SHARDS`:
    /// publications and subscriptions wait.
    Unknown,
}

/// The node's side of one link to Redis.
struct Peer {
    addr: Addr,
    /// The protocol state while connected.
    link: Option<Link>,
    /// The topics this link carries: subscribed on it, or to subscribe
    /// when it connects.
    topics: BTreeSet<Arc<str>>,
    /// Subscriptions confirmed, as last counted.
    confirmed: usize,
    /// Publications written, in order, whose answer is awaited.
    in_flight: VecDeque<Queued>,
    /// A `PING` is unanswered.
    awaiting_pong: bool,
    /// The link was lost and is not ready again yet.
    down: bool,
}

impl Peer {
    fn new(addr: Addr) -> Peer {
        Peer {
            addr,
            link: None,
            topics: BTreeSet::new(),
            confirmed: 0,
            in_flight: VecDeque::new(),
            awaiting_pong: false,
            down: false,
        }
    }

    fn ready_link(&mut self) -> Option<&mut Link> {
        self.link.as_mut().filter(|l| l.is_ready())
    }
}

pub struct Node {
    pub shared: Arc<ClusterShared>,
    pub target: Target,
    prefix: String,
    sharded: bool,
    peers: BTreeMap<LinkId, Peer>,
    next_link: LinkId,
    routing: Routing,
    outbox: Outbox,
    seq: Sequencer,
    gaps: GapTracker,
    /// The topics that have local subscribers (the last sync).
    wanted: BTreeSet<Arc<str>>,
    /// The link a `CLUSTER SHARDS` is awaited on.
    discovering: Option<LinkId>,
    /// The topology must be asked again (once a link is ready).
    rediscover: bool,
    /// A publication was answered `MOVED`: the queue waits for the new
    /// topology rather than feed the same wrong shard.
    stale: bool,
    /// Why the seed did not tell a topology (sharded pub/sub on a Redis
    /// that is not a cluster, or a user not allowed `CLUSTER`).
    no_topology: Option<String>,
    events: VecDeque<NodeEvent>,
}

impl Node {
    /// A node whose seed link is to be opened (a [`NodeEvent::Open`]).
    pub fn new(config: &ClusterConfig, target: Target, shared: Arc<ClusterShared>) -> Node {
        let mut target = target;
        target.login.name = format!("wsx-{}", sanitize(&shared.node_id));
        let seed = Addr {
            host: target.host.clone(),
            port: target.port,
        };
        let mut node = Node {
            shared,
            target,
            prefix: config.prefix.clone(),
            sharded: config.sharded,
            peers: BTreeMap::new(),
            next_link: SEED + 1,
            routing: match config.sharded {
                true => Routing::Unknown,
                false => Routing::Seed,
            },
            outbox: Outbox::new(
                config.max_queued,
                config.max_queued_bytes,
                config.queue_full,
            ),
            seq: Sequencer::default(),
            gaps: GapTracker::default(),
            wanted: BTreeSet::new(),
            discovering: None,
            rediscover: false,
            stale: false,
            no_topology: None,
            events: VecDeque::new(),
        };
        node.peers.insert(SEED, Peer::new(seed.clone()));
        node.events.push_back(NodeEvent::Open {
            link: SEED,
            addr: seed,
        });
        node
    }

    fn channel(&self, topic: &str) -> Vec<u8> {
        [self.prefix.as_bytes(), topic.as_bytes()].concat()
    }

    /// Numbers a publication, encodes it once and queues it for the broker.
    pub fn publish(&mut self, topic: &str, kind: MessageKind, data: &[u8]) {
        let seq = self.seq.next(topic);
        let payload = envelope::encode(&self.shared.node_id, self.shared.epoch, seq, kind, data);
        let channel = self.channel(topic);
        let slot = match self.sharded {
            true => topology::slot(&channel),
            false => 0,
        };
        let lane = self.route(slot);
        let dropped = self.outbox.push(lane, channel, payload, slot);
        self.shared.dropped.fetch_add(dropped, Ordering::Relaxed);
        match lane {
            Some(link) => self.pump(link),
            // No master serves the slot (yet): the topology may have changed.
            None if matches!(self.routing, Routing::Slots { .. }) => self.discover(None),
            None => {}
        }
        self.count_queued();
    }

    /// The link of a channel's slot (opened when none is); `None` while
    /// there is no route.
    fn route(&mut self, slot: u16) -> Lane {
        let (index, addr) = match &self.routing {
            Routing::Seed => return Some(SEED),
            Routing::Unknown => return None,
            Routing::Slots { topology, links } => {
                let i = topology.owner(slot)?;
                if let Some(link) = links[i] {
                    return Some(link);
                }
                (i, topology.masters[i].clone())
            }
        };
        let link = self.open(addr);
        if let Routing::Slots { links, .. } = &mut self.routing {
            links[index] = Some(link);
        }
        Some(link)
    }

    /// The link to `addr`: the one open already, or a new one.
    fn open(&mut self, addr: Addr) -> LinkId {
        if let Some((&link, _)) = self.peers.iter().find(|(_, p)| p.addr == addr) {
            return link;
        }
        let link = self.next_link;
        self.next_link += 1;
        self.peers.insert(link, Peer::new(addr.clone()));
        self.events.push_back(NodeEvent::Open { link, addr });
        link
    }

    /// Moves waiting publications into a ready link, in order.
    fn pump(&mut self, link: LinkId) {
        if self.stale {
            return;
        }
        let Some(peer) = self.peers.get_mut(&link) else {
            return;
        };
        let Some(out) = peer.link.as_mut().filter(|l| l.is_ready()) else {
            return;
        };
        while out.pending_output() < OUTPUT_CHUNK {
            let Some(item) = self.outbox.pop(link) else {
                break;
            };
            out.publish(&item.channel, &item.payload);
            peer.in_flight.push_back(item);
            self.shared.published.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn pump_all(&mut self) {
        let links: Vec<LinkId> = self.peers.keys().copied().collect();
        for link in links {
            self.pump(link);
        }
    }

    fn count_queued(&self) {
        self.shared
            .queued
            .store(self.outbox.len() as u64, Ordering::Relaxed);
    }

    /// Counts the subscriptions of the links that have no confirmation
    /// outstanding (the others keep their last count).
    fn count_subscriptions(&mut self) {
        let mut total = 0;
        for peer in self.peers.values_mut() {
            match &peer.link {
                None => peer.confirmed = 0,
                Some(l) if l.is_ready() && !l.is_subscribing() => {
                    peer.confirmed = peer.topics.len()
                }
                Some(_) => {}
            }
            total += peer.confirmed;
        }
        self.shared
            .subscriptions
            .store(total as u64, Ordering::Relaxed);
    }

    fn set_state(&mut self, state: ClusterState, detail: String) {
        if self.shared.set_state(state) {
            self.events.push_back(NodeEvent::State(state, detail));
        }
    }

    /// The state the links add up to, when none is down: up once every
    /// link is ready and every subscription confirmed (resubscribing
    /// before, after a start or an outage). A link being opened or
    /// connected leaves the state as it is.
    fn settle(&mut self) {
        self.count_subscriptions();
        if matches!(self.routing, Routing::Unknown) {
            return;
        }
        let mut subscribing = false;
        for peer in self.peers.values() {
            match &peer.link {
                Some(l) if !peer.down && l.is_ready() => subscribing |= l.is_subscribing(),
                _ => return,
            }
        }
        let topics = self.wanted.len();
        if !subscribing {
            let detail = match &self.routing {
                Routing::Slots { .. } => format!(
                    "connected to {} Redis Cluster masters; {topics} topics subscribed",
                    self.peers.len()
                ),
                _ => format!(
                    "connected to {}; {topics} topics subscribed",
                    self.peers[&SEED].addr
                ),
            };
            self.set_state(ClusterState::Up, detail);
        } else if matches!(
            self.shared.state(),
            ClusterState::Connecting | ClusterState::Down
        ) {
            let detail = format!("connected; subscribing {topics} topics");
            self.set_state(ClusterState::Resubscribing, detail);
        }
    }

    /// A link's socket is connected: the handshake goes out, and every
    /// topic the link carries is subscribed.
    pub fn connected(&mut self, link: LinkId) {
        let Some(peer) = self.peers.get_mut(&link) else {
            return;
        };
        let mut out = Link::new(&self.target.login, self.sharded);
        subscriptions(&mut out, &self.prefix, self.sharded, &peer.topics, true);
        peer.link = Some(out);
        peer.in_flight.clear();
        peer.awaiting_pong = false;
    }

    /// A link was lost (or never made): state down. What it had written
    /// without an answer is lost.
    pub fn disconnected(&mut self, link: LinkId, why: String) {
        let Some(peer) = self.peers.get_mut(&link) else {
            return;
        };
        if peer.link.take().is_some() {
            self.shared.disconnects.fetch_add(1, Ordering::Relaxed);
        }
        peer.in_flight.clear();
        peer.awaiting_pong = false;
        peer.down = true;
        if self.discovering == Some(link) {
            self.discovering = None;
            self.rediscover = true;
        }
        self.count_subscriptions();
        self.set_state(ClusterState::Down, why);
        // A master that fails may have failed over: ask another link.
        if matches!(self.routing, Routing::Slots { .. }) {
            self.discover(None);
        }
    }

    /// Whether a link finished its handshake.
    pub fn is_ready(&self, link: LinkId) -> bool {
        self.peers
            .get(&link)
            .and_then(|p| p.link.as_ref())
            .is_some_and(Link::is_ready)
    }

    /// Whether a link's last `PING` is unanswered.
    pub fn awaiting_pong(&self, link: LinkId) -> bool {
        self.peers.get(&link).is_some_and(|p| p.awaiting_pong)
    }

    /// The topics with local subscribers are now `wanted`: subscribes the
    /// new ones and unsubscribes those left.
    pub fn sync(&mut self, wanted: BTreeSet<Arc<str>>) {
        for gone in self.wanted.difference(&wanted) {
            self.gaps.forget(gone);
        }
        self.wanted = wanted;
        self.reconcile();
    }

    /// Gives each link the topics its routing says, subscribing and
    /// unsubscribing the difference.
    fn reconcile(&mut self) {
        let mut carried: BTreeMap<LinkId, BTreeSet<Arc<str>>> = BTreeMap::new();
        match self.routing {
            Routing::Seed => {
                carried.insert(SEED, self.wanted.clone());
            }
            Routing::Unknown => {}
            Routing::Slots { .. } => {
                let wanted: Vec<Arc<str>> = self.wanted.iter().cloned().collect();
                for topic in wanted {
                    match self.route(topology::slot(&self.channel(&topic))) {
                        Some(link) => {
                            carried.entry(link).or_default().insert(topic);
                        }
                        // No master serves the slot: ask again.
                        None => self.discover(None),
                    }
                }
            }
        }
        for (link, peer) in &mut self.peers {
            let topics = carried.remove(link).unwrap_or_default();
            if let Some(out) = peer.link.as_mut() {
                let add = topics.difference(&peer.topics);
                subscriptions(out, &self.prefix, self.sharded, add, true);
                let remove = peer.topics.difference(&topics);
                subscriptions(out, &self.prefix, self.sharded, remove, false);
            }
            peer.topics = topics;
        }
        self.count_subscriptions();
    }

    /// Asks a ready link (`via` if it is) for the cluster's topology; once
    /// the question under way is answered if there is one, or once a link
    /// is ready if none is.
    fn discover(&mut self, via: Option<LinkId>) {
        if !self.sharded {
            return;
        }
        if self.discovering.is_some() {
            self.rediscover = true;
            return;
        }
        let ready = |link: &LinkId| self.is_ready(*link);
        let chosen = via
            .filter(ready)
            .or(Some(SEED).filter(ready))
            .or_else(|| self.peers.keys().copied().find(ready));
        match chosen.and_then(|link| Some((link, self.peers.get_mut(&link)?.ready_link()?))) {
            Some((link, out)) => {
                out.discover();
                self.discovering = Some(link);
                self.rediscover = false;
            }
            None => self.rediscover = true,
        }
    }

    /// Redis answered `CLUSTER SHARDS` on `link`.
    fn on_shards(&mut self, link: LinkId, reply: Result<OwnedFrame, String>) -> Result<(), String> {
        if self.discovering == Some(link) {
            self.discovering = None;
        }
        match reply {
            // Not a cluster (or CLUSTER is not allowed): everything goes
            // through the seed link.
            Err(why) => {
                if matches!(self.routing, Routing::Unknown) {
                    self.no_topology = Some(why);
                    self.install(Routing::Seed);
                }
            }
            Ok(frame) => {
                let asked = self.peers.get(&link).map_or("", |p| p.addr.host.as_str());
                let topology = Topology::from_shards(&frame, asked, self.target.tls)?;
                let links = topology
                    .masters
                    .iter()
                    .map(|m| {
                        self.peers
                            .iter()
                            .find(|(_, p)| p.addr == *m)
                            .map(|(&l, _)| l)
                    })
                    .collect();
                self.install(Routing::Slots { topology, links });
            }
        }
        if self.rediscover {
            self.discover(None);
        }
        Ok(())
    }

    /// Routes by `routing` from now on: links to nodes that serve no slot
    /// any more go, waiting publications and subscriptions move.
    fn install(&mut self, routing: Routing) {
        if let Routing::Slots { topology, .. } = &routing {
            let gone: Vec<LinkId> = self
                .peers
                .iter()
                .filter(|&(&l, p)| l != SEED && !topology.masters.contains(&p.addr))
                .map(|(&l, _)| l)
                .collect();
            for link in gone {
                self.peers.remove(&link);
                self.events.push_back(NodeEvent::Close { link });
            }
        }
        self.routing = routing;
        self.stale = false;
        for item in self.outbox.take_all() {
            let lane = self.route(item.slot);
            self.outbox.put(lane, item);
        }
        self.reconcile();
        self.pump_all();
        self.count_queued();
        self.settle();
    }

    /// Sends a keepalive `PING` on a link.
    pub fn ping(&mut self, link: LinkId) {
        if let Some(peer) = self.peers.get_mut(&link)
            && let Some(out) = peer.link.as_mut()
        {
            out.ping();
            peer.awaiting_pong = true;
        }
    }

    /// Bytes to write to a link.
    pub fn output(&self, link: LinkId) -> &[u8] {
        self.peers
            .get(&link)
            .and_then(|p| p.link.as_ref())
            .map_or(&[], Link::output)
    }

    /// `n` bytes of [`Node::output`] were written.
    pub fn written(&mut self, link: LinkId, n: usize) {
        if let Some(out) = self.peers.get_mut(&link).and_then(|p| p.link.as_mut()) {
            out.written(n);
        }
        self.pump(link);
        self.count_queued();
    }

    /// Takes bytes read from a link; an error ends the link.
    pub fn feed(&mut self, link: LinkId, bytes: &[u8]) -> Result<(), String> {
        let Some(out) = self.peers.get_mut(&link).and_then(|p| p.link.as_mut()) else {
            return Ok(());
        };
        out.feed(bytes);
        // What came before a failure in these bytes still counts, and
        // nothing after it (the same events however the socket cut them).
        while let Some(out) = self.peers.get_mut(&link).and_then(|p| p.link.as_mut())
            && let Some(event) = out.next_event()?
        {
            self.on_link_event(link, event)?;
        }
        Ok(())
    }

    fn on_link_event(&mut self, link: LinkId, event: LinkEvent) -> Result<(), String> {
        let Some(peer) = self.peers.get_mut(&link) else {
            return Ok(());
        };
        peer.awaiting_pong = false;
        match event {
            LinkEvent::Ready { .. } => {
                peer.down = false;
                if link == SEED || self.rediscover || matches!(self.routing, Routing::Unknown) {
                    self.discover(Some(link));
                }
                self.pump(link);
                self.count_queued();
                self.settle();
            }
            LinkEvent::Subscribed => self.settle(),
            LinkEvent::Unsubscribed { channel } => {
                // Redis dropped a sharded channel this link still carries:
                // its slot moved to another shard.
                let sharded = matches!(self.routing, Routing::Slots { .. });
                if let Some(topic) = self.topic_of(&channel)
                    && sharded
                    && let Some(peer) = self.peers.get_mut(&link)
                    && peer.topics.remove(topic.as_str())
                {
                    self.count_subscriptions();
                    self.discover(Some(link));
                }
            }
            LinkEvent::Message { channel, payload } => self.on_message(&channel, &payload),
            LinkEvent::Published => {
                peer.in_flight.pop_front();
            }
            LinkEvent::PublishRefused(e) => {
                peer.in_flight.pop_front();
                self.events.push_back(NodeEvent::Refused(e));
            }
            LinkEvent::Moved { slot, publication } => {
                if !matches!(self.routing, Routing::Slots { .. }) {
                    let why = self.no_topology.as_deref().unwrap_or("none asked");
                    return Err(format!(
                        "Redis answered MOVED {slot} (a Redis Cluster) but told no topology \
                         (CLUSTER SHARDS: {why})"
                    ));
                }
                if publication {
                    // Not taken: it waits for the new topology.
                    if let Some(item) = peer.in_flight.pop_front() {
                        self.shared.published.fetch_sub(1, Ordering::Relaxed);
                        self.outbox.put(None, item);
                    }
                    self.stale = true;
                } else {
                    // None of the slot's channels was subscribed here.
                    let prefix = self.prefix.as_bytes();
                    peer.topics
                        .retain(|t| topology::slot(&[prefix, t.as_bytes()].concat()) != slot);
                }
                self.count_queued();
                self.count_subscriptions();
                self.discover(Some(link));
            }
            LinkEvent::Shards(reply) => return self.on_shards(link, reply),
            LinkEvent::Pong => {}
        }
        Ok(())
    }

    fn topic_of(&self, channel: &[u8]) -> Option<String> {
        let topic = channel.strip_prefix(self.prefix.as_bytes())?;
        std::str::from_utf8(topic).ok().map(str::to_owned)
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

/// (Un)subscribes `topics` on a link: one command for all, or in sharded
/// pub/sub one per hash slot (a Redis Cluster refuses a command whose
/// channels are in several slots).
fn subscriptions<'a>(
    link: &mut Link,
    prefix: &str,
    sharded: bool,
    topics: impl IntoIterator<Item = &'a Arc<str>>,
    subscribe: bool,
) {
    let channels: Vec<Vec<u8>> = topics
        .into_iter()
        .map(|t| [prefix.as_bytes(), t.as_bytes()].concat())
        .collect();
    let mut groups: BTreeMap<u16, Vec<&[u8]>> = BTreeMap::new();
    for channel in &channels {
        let slot = if sharded { topology::slot(channel) } else { 0 };
        groups.entry(slot).or_default().push(channel);
    }
    for group in groups.into_values() {
        match subscribe {
            true => link.subscribe(group),
            false => link.unsubscribe(group),
        }
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
    use crate::net::config::QueueFull;

    fn node_with(tweak: impl FnOnce(&mut ClusterConfig)) -> Node {
        let mut config = ClusterConfig::default();
        tweak(&mut config);
        let target = Target::parse("redis://127.0.0.1:7001").unwrap();
        let mut n = Node::new(
            &config,
            target,
            Arc::new(ClusterShared::new("me".into(), 9)),
        );
        assert_eq!(
            n.next_event(),
            Some(NodeEvent::Open {
                link: SEED,
                addr: addr(7001)
            })
        );
        n
    }

    fn node(max_queued: usize, policy: QueueFull) -> Node {
        node_with(|c| {
            c.max_queued = max_queued;
            c.queue_full = policy;
        })
    }

    fn addr(port: u16) -> Addr {
        Addr {
            host: "127.0.0.1".into(),
            port,
        }
    }

    fn set(topics: &[&str]) -> BTreeSet<Arc<str>> {
        topics.iter().map(|t| Arc::from(*t)).collect()
    }

    fn events(n: &mut Node) -> Vec<NodeEvent> {
        std::iter::from_fn(|| n.next_event()).collect()
    }

    fn states(events: &[NodeEvent]) -> Vec<ClusterState> {
        events
            .iter()
            .filter_map(|e| match e {
                NodeEvent::State(s, _) => Some(*s),
                _ => None,
            })
            .collect()
    }

    /// What a link has to write, as text; marked written.
    fn take_output(n: &mut Node, link: LinkId) -> String {
        let out = String::from_utf8_lossy(n.output(link)).into_owned();
        n.written(link, out.len());
        out
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
            n.connected(SEED);
            n.feed(SEED, b"%0\r\n").unwrap();
            let out = String::from_utf8_lossy(n.output(SEED)).into_owned();
            assert_eq!(n.outbox.len(), 0, "all went to the link");
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
        assert!(n.output(SEED).is_empty(), "nothing is sent without a link");
        n.connected(SEED);
        let out = take_output(&mut n, SEED);
        assert!(
            out.contains("SUBSCRIBE\r\n$5\r\nwsx:a\r\n$5\r\nwsx:b"),
            "{out}"
        );
        n.feed(SEED, b"%0\r\n").unwrap();
        n.feed(SEED, b">3\r\n$9\r\nsubscribe\r\n$5\r\nwsx:a\r\n:1\r\n")
            .unwrap();
        assert_eq!(n.shared.state(), ClusterState::Resubscribing);
        n.feed(SEED, b">3\r\n$9\r\nsubscribe\r\n$5\r\nwsx:b\r\n:2\r\n")
            .unwrap();
        assert_eq!(n.shared.state(), ClusterState::Up);
        assert_eq!(
            states(&events(&mut n)),
            [ClusterState::Resubscribing, ClusterState::Up]
        );
        assert_eq!(n.shared.stats().subscriptions, 2);
        n.sync(set(&["b", "c"]));
        let out = take_output(&mut n, SEED);
        assert!(out.contains("SUBSCRIBE\r\n$5\r\nwsx:c"), "{out}");
        assert!(out.contains("UNSUBSCRIBE\r\n$5\r\nwsx:a"), "{out}");
        n.disconnected(SEED, "gone".into());
        assert_eq!(n.shared.state(), ClusterState::Down);
        assert_eq!(n.shared.stats().disconnects, 1);
    }

    #[test]
    fn messages_are_delivered_once_with_gaps_reported_and_echoes_ignored() {
        let mut n = node(10, QueueFull::DropOldest);
        n.sync(set(&["t"]));
        n.connected(SEED);
        n.feed(
            SEED,
            b"%0\r\n>3\r\n$9\r\nsubscribe\r\n$5\r\nwsx:t\r\n:1\r\n",
        )
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
            n.feed(SEED, &message(node, seq)).unwrap();
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

    /// `CLUSTER SHARDS` as Redis 7 answers in RESP3: one master per range.
    fn shards(ranges: &[(u16, u16, u16)]) -> Vec<u8> {
        let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
        let mut out = format!("*{}\r\n", ranges.len());
        for (start, end, port) in ranges {
            out += &format!("%2\r\n{}*2\r\n:{start}\r\n:{end}\r\n", bulk("slots"));
            out += &format!("{}*1\r\n%4\r\n", bulk("nodes"));
            out += &format!("{}:{port}\r\n", bulk("port"));
            for (k, v) in [
                ("ip", "127.0.0.1"),
                ("role", "master"),
                ("health", "online"),
            ] {
                out += &(bulk(k) + &bulk(v));
            }
        }
        out.into_bytes()
    }

    /// A topic of the default prefix whose slot is in `range`.
    fn topic_in(range: std::ops::RangeInclusive<u16>) -> String {
        (0..)
            .map(|i| format!("t{i}"))
            .find(|t| range.contains(&topology::slot(format!("wsx:{t}").as_bytes())))
            .unwrap()
    }

    #[test]
    fn sharded_channels_go_to_the_master_of_their_slot_and_follow_moved() {
        let mut n = node_with(|c| c.sharded = true);
        let (low, high) = (topic_in(0..=8191), topic_in(8192..=16383));
        n.sync(set(&[&low, &high]));
        n.publish(&high, MessageKind::Text, b"first");
        n.connected(SEED);
        let out = take_output(&mut n, SEED);
        assert!(!out.contains("SSUBSCRIBE"), "no route yet: {out}");
        n.feed(SEED, b"%0\r\n").unwrap();
        assert!(take_output(&mut n, SEED).contains("CLUSTER\r\n$6\r\nSHARDS"));
        assert_eq!(n.shared.state(), ClusterState::Connecting);

        // Two shards: the seed serves the low slots, 7002 the high ones.
        n.feed(SEED, &shards(&[(0, 8191, 7001), (8192, 16383, 7002)]))
            .unwrap();
        assert_eq!(
            events(&mut n),
            [NodeEvent::Open {
                link: 1,
                addr: addr(7002)
            }]
        );
        let seed_out = take_output(&mut n, SEED);
        assert!(seed_out.contains(&format!("SSUBSCRIBE\r\n${}\r\nwsx:{low}", low.len() + 4)));
        assert!(!seed_out.contains(&high), "{seed_out}");
        n.connected(1);
        let out = take_output(&mut n, 1);
        assert!(out.contains(&format!("wsx:{high}")) && !out.contains("SPUBLISH"));
        n.feed(1, b"%0\r\n").unwrap();
        assert!(
            take_output(&mut n, 1).contains("SPUBLISH"),
            "the queue drains"
        );
        let confirm = |t: &str| {
            let ch = format!("wsx:{t}");
            format!(">3\r\n$10\r\nssubscribe\r\n${}\r\n{ch}\r\n:1\r\n", ch.len())
        };
        n.feed(SEED, confirm(&low).as_bytes()).unwrap();
        assert_eq!(
            n.shared.state(),
            ClusterState::Resubscribing,
            "7002 is not subscribed yet"
        );
        n.feed(1, confirm(&high).as_bytes()).unwrap();
        n.feed(1, b":0\r\n").unwrap();
        assert_eq!(
            states(&events(&mut n)),
            [ClusterState::Resubscribing, ClusterState::Up]
        );
        assert_eq!(n.shared.stats().subscriptions, 2);

        // The high slots moved to the seed: the publication answered MOVED
        // waits for the topology, then goes out again, before the next one.
        let slot = topology::slot(format!("wsx:{high}").as_bytes());
        n.publish(&high, MessageKind::Text, b"second");
        assert!(take_output(&mut n, 1).contains("second"));
        n.feed(1, format!("-MOVED {slot} 127.0.0.1:7001\r\n").as_bytes())
            .unwrap();
        n.publish(&high, MessageKind::Text, b"third");
        assert!(
            take_output(&mut n, 1).contains("CLUSTER\r\n$6\r\nSHARDS"),
            "asked where MOVED came from"
        );
        assert_eq!(n.shared.stats().queued, 2, "waiting for the topology");
        n.feed(1, &shards(&[(0, 16383, 7001)])).unwrap();
        assert_eq!(events(&mut n), [NodeEvent::Close { link: 1 }]);
        let out = take_output(&mut n, SEED);
        let (second, third) = (out.find("second").unwrap(), out.find("third").unwrap());
        assert!(second < third, "{out}");
        assert!(out.contains(&format!("SSUBSCRIBE\r\n${}\r\nwsx:{high}", high.len() + 4)));
        assert_eq!(n.shared.stats().published, 3, "the moved one counts once");
    }

    #[test]
    fn sharded_pub_sub_on_a_redis_that_is_no_cluster_uses_the_seed() {
        let mut n = node_with(|c| c.sharded = true);
        n.sync(set(&["a", "b"]));
        n.connected(SEED);
        n.feed(SEED, b"%0\r\n").unwrap();
        take_output(&mut n, SEED);
        n.feed(SEED, b"-ERR This instance has cluster support disabled\r\n")
            .unwrap();
        let out = take_output(&mut n, SEED);
        // One command per slot: a cluster would refuse channels of two slots.
        assert!(out.contains("SSUBSCRIBE\r\n$5\r\nwsx:a"), "{out}");
        assert!(out.contains("SSUBSCRIBE\r\n$5\r\nwsx:b"), "{out}");
        assert_eq!(n.shared.state(), ClusterState::Resubscribing);
        // A MOVED now cannot be followed: the link fails and says why.
        n.publish("a", MessageKind::Text, b"x");
        let e = n.feed(SEED, b"-MOVED 1 127.0.0.1:7002\r\n").unwrap_err();
        assert!(e.contains("cluster support disabled"), "{e}");
    }
}
