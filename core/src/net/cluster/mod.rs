//! Cluster pub/sub: servers on several machines share their topics through
//! Redis pub/sub (see [`crate::net::ClusterConfig`]).
//!
//! The link to Redis is one more connection of the server's event loop (no
//! runtime, no thread of its own): `reactor::broker` does its I/O, and this
//! module, sans-I/O, the rest: the RESP3 link ([`resp`]), the wire format of
//! a publication and the gap bookkeeping ([`envelope`]), the bounded queue
//! of publications waiting for the broker ([`outbox`]), Redis Cluster's
//! slots and shards ([`topology`]), and the node ([`node`]): which
//! channels to subscribe on which link, the state.

mod envelope;
mod node;
mod outbox;
mod resp;
mod status;
mod target;
mod topology;

pub(super) use node::random_node_id;
pub(super) use node::{LinkId, Node, NodeEvent, SEED};
pub(super) use status::ClusterShared;
pub(super) use target::Target;
pub(super) use topology::Addr;

/// What `LoopHandle::listen` prepares for a clustered server's broker link.
pub(super) struct BrokerRequest {
    pub node: Node,
    pub config: ClusterConfig,
    pub tls: Option<ClientTls>,
}

/// Checks a server's cluster options and prepares its broker link: the
/// node's id (generated when not given) and a new epoch.
pub(super) fn prepare(config: &ClusterConfig) -> Result<BrokerRequest, Error> {
    let invalid = |why: String| Error::new(ErrorKind::InvalidArgument, why);
    let target = Target::parse(&config.url)?;
    let node_id = config.node_id.clone().unwrap_or_else(random_node_id);
    if node_id.is_empty() || node_id.len() > 255 {
        return Err(invalid(format!(
            "cluster.node_id must have 1 to 255 bytes, not {}",
            node_id.len()
        )));
    }
    // A queue bound of 0 cannot be honoured (a publication waits in the
    // queue while the broker is down): refused rather than taken as 1.
    if config.max_queued == 0 || config.max_queued_bytes == 0 {
        return Err(invalid(
            "cluster.max_queued and cluster.max_queued_bytes must be at least 1".to_owned(),
        ));
    }
    if config.connect_timeout.is_zero() || config.keepalive.is_zero() {
        return Err(invalid(
            "cluster.connect_timeout and cluster.keepalive must be more than 0".to_owned(),
        ));
    }
    if !(config.reconnect.factor.is_finite() && config.reconnect.factor >= 1.0) {
        return Err(invalid(
            "cluster.reconnect.factor must be a finite number of at least 1".to_owned(),
        ));
    }
    let tls = match target.tls {
        true => Some(ClientTls::new(&config.tls, &target.host)?),
        false => None,
    };
    // Never 0, so a receiver can tell an epoch from none.
    let epoch = getrandom::u64().unwrap_or(1).max(1);
    let shared = Arc::new(ClusterShared::new(node_id, epoch));
    Ok(BrokerRequest {
        node: Node::new(config, target, shared),
        config: config.clone(),
        tls,
    })
}

use std::fmt;
use std::sync::Arc;

use super::config::ClusterConfig;
use super::error::{Error, ErrorKind};
use super::tls::ClientTls;

/// The state of a server's link to the cluster's broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterState {
    /// The first connection to the broker is being made.
    Connecting = 0,
    /// Connected, and every topic with local subscribers is subscribed.
    Up = 1,
    /// The broker cannot be reached: publications reach local subscribers
    /// only, those for other nodes wait in the bounded queue, and the link
    /// reconnects with backoff.
    Down = 2,
    /// Connected again; subscribing every topic anew.
    Resubscribing = 3,
}

impl ClusterState {
    pub(super) fn from_u8(v: u8) -> ClusterState {
        match v {
            1 => ClusterState::Up,
            2 => ClusterState::Down,
            3 => ClusterState::Resubscribing,
            _ => ClusterState::Connecting,
        }
    }
}

impl fmt::Display for ClusterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClusterState::Connecting => "connecting",
            ClusterState::Up => "up",
            ClusterState::Down => "down",
            ClusterState::Resubscribing => "resubscribing",
        })
    }
}

/// Publications of one node to one topic that this node did not receive:
/// Redis pub/sub delivers at most once (a broker restart, a dropped link or
/// a full queue loses publications). Resynchronise the topic's clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterGap<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The publishing node's id.
    pub node: &'a str,
    /// The publisher's epoch now.
    pub epoch: u64,
    /// Set when the publisher restarted (a new epoch): the epoch before.
    pub previous_epoch: Option<u64>,
    /// The sequence number that was expected next (in the previous epoch,
    /// when it changed).
    pub expected: u64,
    /// The sequence number that arrived.
    pub received: u64,
}

impl ClusterGap<'_> {
    /// How many publications were lost; `None` when the publisher
    /// restarted (unknown).
    pub fn missed(&self) -> Option<u64> {
        match self.previous_epoch {
            Some(_) => None,
            None => Some(self.received.saturating_sub(self.expected)),
        }
    }
}

/// Figures of a server's cluster link, readable at any time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStats {
    /// The link's state.
    pub state: ClusterState,
    /// This node's id.
    pub node_id: String,
    /// This node's epoch (new at each start).
    pub epoch: u64,
    /// Publications handed to the broker.
    pub published: u64,
    /// Publications of other nodes received.
    pub received: u64,
    /// Publications waiting for the broker now.
    pub queued: u64,
    /// Publications dropped because the queue was full.
    pub dropped: u64,
    /// Gap events raised.
    pub gaps: u64,
    /// Times the link to the broker was lost.
    pub disconnects: u64,
    /// Channels subscribed on the broker now (one per topic with local
    /// subscribers, once up).
    pub subscriptions: u64,
}
