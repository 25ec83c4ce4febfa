//! A clustered server's links to Redis, as entries of the loop's table: one
//! [`BrokerEntry`] per server holds the sans-I/O [`Node`], and one
//! [`LinkEntry`] per connection to a Redis node (the URL's host, and with
//! sharded pub/sub on a Redis Cluster each master the node needs) does the
//! name lookup, the TCP connect (and TLS for `rediss://`), feeds reads to
//! the node and writes its output back, keeps the keepalive and connect
//! deadline, and reconnects with the clients' backoff. What the node reports
//! reaches the server's handler (state and gap events), its local
//! subscribers (publications of other nodes, encoded once for all of them),
//! and this table (links to open and close).

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::{Interest, Token};

use super::{Entry, Reactor};
use crate::net::ClusterGap;
use crate::net::cluster::{Addr, BrokerRequest, ClusterShared, LinkId, Node, NodeEvent};
use crate::net::config::ClusterConfig;
use crate::net::dns;
use crate::net::error::{Error, ErrorKind};
use crate::net::handler::ServerHandler;
use crate::net::queue::Work;
use crate::net::reconnect::{Backoff, random_unit};
use crate::net::shared::{Command, Publish, ServerShared};
use crate::net::telemetry;
use crate::net::timer::{Deadlines, TimerKind};
use crate::net::tls::ClientTls;
use crate::net::transport::{Transport, describe};
use crate::proto::PreparedMessage;

/// The cluster side of one server, in the loop's table (no socket).
pub(crate) struct BrokerEntry {
    server: Arc<ServerShared>,
    /// The listener's slot and id (for its handler).
    server_slot: usize,
    node: Node,
    config: ClusterConfig,
    /// TLS for the URL's host (`rediss://`); other nodes' links derive theirs.
    tls: Option<ClientTls>,
    /// The table slot of each link.
    links: BTreeMap<LinkId, usize>,
}

/// One connection to a Redis node, in the loop's table.
pub(crate) struct LinkEntry {
    /// Owner id of its deadlines.
    id: u64,
    /// The slot of its server's [`BrokerEntry`].
    broker: usize,
    link: LinkId,
    addr: Addr,
    /// TLS for `rediss://` (an error when the node's name cannot be one).
    tls: Result<Option<ClientTls>, String>,
    backoff: Backoff,
    transport: Option<Transport>,
    /// The TCP connect is under way.
    connecting: bool,
    /// Addresses left to try in this attempt.
    addrs: Vec<SocketAddr>,
    /// When the link last became ready.
    ready_at: Option<Instant>,
    pub deadlines: Deadlines,
}

impl LinkEntry {
    pub fn owner(&self) -> u64 {
        self.id
    }
}

impl Reactor {
    fn broker_mut(&mut self, slot: usize) -> Option<&mut BrokerEntry> {
        match self.entries.get_mut(slot) {
            Some(Entry::Broker(b)) => Some(b),
            _ => None,
        }
    }

    fn link_mut(&mut self, slot: usize) -> Option<&mut LinkEntry> {
        match self.entries.get_mut(slot) {
            Some(Entry::BrokerLink(l)) => Some(l),
            _ => None,
        }
    }

    /// A link entry and its server's broker entry.
    fn link_and_broker(&mut self, slot: usize) -> Option<(&mut LinkEntry, &mut BrokerEntry)> {
        let broker = self.link_mut(slot)?.broker;
        match self.entries.get2_mut(slot, broker)? {
            (Entry::BrokerLink(l), Entry::Broker(b)) => Some((l, b)),
            _ => None,
        }
    }

    /// The slot of a cluster's broker entry, if it is in the table.
    fn broker_slot(&self, cluster: &Arc<ClusterShared>) -> Option<usize> {
        let slot = cluster.slot.load(Ordering::Acquire);
        match self.entries.get(slot) {
            Some(Entry::Broker(b)) if Arc::ptr_eq(&b.node.shared, cluster) => Some(slot),
            _ => None,
        }
    }

    /// Puts a server's cluster side in the table and opens its first link.
    pub(super) fn start_broker(
        &mut self,
        server: Arc<ServerShared>,
        server_slot: usize,
        request: BrokerRequest,
    ) {
        let BrokerRequest { node, config, tls } = request;
        let shared = node.shared.clone();
        let entry = BrokerEntry {
            server,
            server_slot,
            node,
            config,
            tls,
            links: BTreeMap::new(),
        };
        let slot = self.entries.insert(Entry::Broker(Box::new(entry)));
        shared.slot.store(slot, Ordering::Release);
        self.broker_sync(slot);
        self.broker_events(slot);
        self.broker_flush(slot);
    }

    /// Removes a server's cluster side and its links (the server is gone).
    pub(super) fn remove_broker(&mut self, cluster: &Arc<ClusterShared>) {
        let Some(slot) = self.broker_slot(cluster) else {
            return;
        };
        if let Some(Entry::Broker(b)) = self.entries.try_remove(slot) {
            for link in b.links.into_values() {
                self.remove_link(link);
            }
        }
        cluster.slot.store(usize::MAX, Ordering::Release);
    }

    /// A new link to `addr`, connecting.
    fn open_link(&mut self, broker: usize, link: LinkId, addr: Addr) {
        let id = self.shared.next_id();
        let Some(b) = self.broker_mut(broker) else {
            return;
        };
        // The URL's host has its TLS settings; another node's name is its own.
        let tls = match &b.tls {
            Some(tls) if addr.host == b.node.target.host => Ok(Some(tls.clone())),
            Some(tls) => tls
                .for_host(&addr.host)
                .map(Some)
                .map_err(|e| e.to_string()),
            None => Ok(None),
        };
        let entry = LinkEntry {
            id,
            broker,
            link,
            addr,
            tls,
            backoff: Backoff::new(b.config.reconnect.clone()),
            transport: None,
            connecting: false,
            addrs: Vec::new(),
            ready_at: None,
            deadlines: Deadlines::default(),
        };
        let slot = self.entries.insert(Entry::BrokerLink(Box::new(entry)));
        if let Some(b) = self.broker_mut(broker) {
            b.links.insert(link, slot);
        }
        self.link_dial(slot);
    }

    /// Drops a link the node no longer needs.
    fn close_link(&mut self, broker: usize, link: LinkId) {
        if let Some(slot) = self.broker_mut(broker).and_then(|b| b.links.remove(&link)) {
            self.remove_link(slot);
        }
    }

    fn remove_link(&mut self, slot: usize) {
        if let Some(Entry::BrokerLink(mut l)) = self.entries.try_remove(slot)
            && let Some(t) = l.transport.as_mut()
        {
            let _ = self.poll.registry().deregister(&mut t.stream);
        }
    }

    /// Starts an attempt: the name lookup (off the loop for a name).
    fn link_dial(&mut self, slot: usize) {
        let Some((l, b)) = self.link_and_broker(slot) else {
            return;
        };
        let (host, port) = (l.addr.host.clone(), l.addr.port);
        let (timeout, cluster, link) = (b.config.connect_timeout, b.node.shared.clone(), l.link);
        self.schedule(slot, TimerKind::BrokerCheck, timeout);
        match dns::resolve_locally(&host, port) {
            Some(result) => self.link_resolved(slot, result),
            None => {
                let lp = self.shared.clone();
                let answer = Box::new(move |result| {
                    let command = Command::BrokerResolved {
                        cluster,
                        link,
                        result,
                    };
                    let _ = lp.push(Work::Command(command));
                });
                if let Err(e) = dns::lookup(host, port, None, answer) {
                    self.link_fail(slot, e.to_string());
                }
            }
        }
    }

    /// A lookup answered: connects to the first address.
    pub(super) fn on_broker_resolved(
        &mut self,
        cluster: &Arc<ClusterShared>,
        link: LinkId,
        result: Result<Vec<SocketAddr>, Error>,
    ) {
        let slot = self
            .broker_slot(cluster)
            .and_then(|b| self.broker_mut(b)?.links.get(&link).copied());
        if let Some(slot) = slot {
            self.link_resolved(slot, result);
        }
    }

    fn link_resolved(&mut self, slot: usize, result: Result<Vec<SocketAddr>, Error>) {
        match result {
            Ok(mut addrs) => {
                addrs.reverse();
                if let Some(l) = self.link_mut(slot) {
                    l.addrs = addrs;
                }
                self.link_connect_next(slot, None);
            }
            Err(e) => self.link_fail(slot, e.to_string()),
        }
    }

    /// Connects to the next address of the attempt; fails the attempt when
    /// none is left.
    fn link_connect_next(&mut self, slot: usize, last: Option<String>) {
        let Some(l) = self.link_mut(slot) else {
            return;
        };
        if let Some(mut t) = l.transport.take() {
            let _ = self.poll.registry().deregister(&mut t.stream);
        }
        let Some(l) = self.link_mut(slot) else {
            return;
        };
        let Some(addr) = l.addrs.pop() else {
            let why = last.unwrap_or_else(|| "no address to connect to".to_owned());
            return self.link_fail(slot, why);
        };
        let session = match &l.tls {
            Ok(Some(tls)) => {
                match rustls::ClientConnection::new(tls.config.clone(), tls.name.clone()) {
                    Ok(session) => Some(session.into()),
                    Err(e) => return self.link_fail(slot, format!("TLS setup failed: {e}")),
                }
            }
            Ok(None) => None,
            Err(e) => {
                let why = e.clone();
                return self.link_fail(slot, why);
            }
        };
        let mut tcp = match mio::net::TcpStream::connect(addr) {
            Ok(tcp) => tcp,
            Err(e) => return self.link_connect_next(slot, Some(format!("{addr}: {e}"))),
        };
        if let Err(e) = self.poll.registry().register(
            &mut tcp,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return self.link_fail(slot, format!("could not watch the socket: {e}"));
        }
        let Some(l) = self.link_mut(slot) else {
            return;
        };
        l.transport = Some(Transport::new(tcp.into(), session));
        l.connecting = true;
    }

    /// Readiness of a link's socket.
    pub(super) fn link_ready(&mut self, slot: usize) {
        let Some((l, b)) = self.link_and_broker(slot) else {
            return;
        };
        let Some(t) = l.transport.as_mut() else {
            return;
        };
        if l.connecting {
            let addr = t.stream.peer_addr();
            match t.stream.take_error() {
                Ok(Some(e)) | Err(e) => return self.link_connect_next(slot, Some(e.to_string())),
                Ok(None) => {}
            }
            match addr {
                Ok(_) => {
                    let _ = t.stream.set_nodelay(true);
                    l.connecting = false;
                    b.node.connected(l.link);
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.link_connect_next(slot, Some(e.to_string())),
            }
        }
        let broker = l.broker;
        self.link_read(slot);
        self.broker_flush(broker);
    }

    /// Reads everything the socket holds and feeds it to the node.
    fn link_read(&mut self, slot: usize) {
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut failure = None;
        let Some(owner) = self.link_mut(slot).map(|l| l.id) else {
            return;
        };
        // The node may close this link while it reads (a new topology).
        while let Some((l, b)) = self.link_and_broker(slot)
            && l.id == owner
            && let Some(t) = l.transport.as_mut()
        {
            let (link, broker) = (l.link, l.broker);
            match t.read(&mut buf) {
                Ok(0) => failure = Some("Redis closed the connection".to_owned()),
                Ok(n) => failure = b.node.feed(link, &buf[..n]).err(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => failure = Some(describe("reading from Redis failed", &e).to_string()),
            }
            if l.ready_at.is_none() && b.node.is_ready(link) {
                // Ready: the connect deadline gives way to the keepalive.
                l.ready_at = Some(Instant::now());
                let keepalive = b.config.keepalive;
                self.schedule(slot, TimerKind::BrokerCheck, keepalive);
            }
            // What this chunk brought is delivered before the next is read.
            self.broker_events(broker);
            if failure.is_some() {
                break;
            }
        }
        self.read_buf = buf;
        if let Some(why) = failure
            && self.link_mut(slot).is_some_and(|l| l.id == owner)
        {
            self.link_fail(slot, why);
        }
    }

    /// Writes what the node has for each of a server's links.
    pub(super) fn broker_flush(&mut self, broker: usize) {
        let Some(b) = self.broker_mut(broker) else {
            return;
        };
        let links: Vec<usize> = b.links.values().copied().collect();
        for slot in links {
            self.link_flush(slot);
        }
    }

    /// Writes what the node has for a link, as far as the socket takes it.
    fn link_flush(&mut self, slot: usize) {
        let failure = loop {
            let Some((l, b)) = self.link_and_broker(slot) else {
                return;
            };
            if l.connecting {
                return;
            }
            let Some(t) = l.transport.as_mut() else {
                return;
            };
            let out = b.node.output(l.link);
            if out.is_empty() {
                match t.flush() {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                        break describe("writing to Redis failed", &e).to_string();
                    }
                    _ => return,
                }
            }
            match t.write(out) {
                Ok(n) => b.node.written(l.link, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break describe("writing to Redis failed", &e).to_string(),
            }
        };
        self.link_fail(slot, failure);
    }

    /// A link is lost or could not be made: state down, and the next
    /// attempt after the backoff's wait.
    fn link_fail(&mut self, slot: usize, why: String) {
        let Some((l, b)) = self.link_and_broker(slot) else {
            return;
        };
        let transport = l.transport.take();
        l.connecting = false;
        l.addrs.clear();
        if let Some(at) = l.ready_at.take() {
            l.backoff.connected_for(at.elapsed());
        }
        let next = l.backoff.next_attempt(random_unit());
        let detail = match next {
            Some((n, wait)) => format!(
                "{why}; reconnect attempt {n} in {:.0} ms",
                wait.as_secs_f64() * 1000.0
            ),
            None => format!("{why}; no more reconnect attempts"),
        };
        // The node may hold links to several Redis nodes: say which.
        let detail = match b.node.target.host == l.addr.host && b.node.target.port == l.addr.port {
            true => detail,
            false => format!("Redis at {}: {detail}", l.addr),
        };
        b.node.disconnected(l.link, detail);
        l.deadlines.cancel(TimerKind::BrokerCheck);
        let broker = l.broker;
        if let Some(mut t) = transport {
            let _ = self.poll.registry().deregister(&mut t.stream);
        }
        if let Some((_, wait)) = next {
            self.schedule(slot, TimerKind::BrokerRetry, wait);
        }
        self.broker_events(broker);
        self.broker_flush(broker);
    }

    /// The reconnect wait is over.
    pub(super) fn broker_retry(&mut self, slot: usize) {
        self.link_dial(slot);
    }

    /// The connect deadline or the keepalive: an attempt that did not finish
    /// in time fails; a ready link gets a PING, or fails if the last one is
    /// unanswered.
    pub(super) fn broker_check(&mut self, slot: usize) {
        let Some((l, b)) = self.link_and_broker(slot) else {
            return;
        };
        let seconds = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        if !b.node.is_ready(l.link) {
            let why = format!(
                "could not connect to Redis at {} within {}",
                l.addr,
                seconds(b.config.connect_timeout)
            );
            return self.link_fail(slot, why);
        }
        if b.node.awaiting_pong(l.link) {
            let why = format!(
                "Redis did not answer a PING within {}",
                seconds(b.config.keepalive)
            );
            return self.link_fail(slot, why);
        }
        b.node.ping(l.link);
        let keepalive = b.config.keepalive;
        self.schedule(slot, TimerKind::BrokerCheck, keepalive);
        self.link_flush(slot);
    }

    /// A publication for the other nodes.
    pub(super) fn broker_publish(
        &mut self,
        cluster: &Arc<ClusterShared>,
        topic: &str,
        kind: crate::proto::MessageKind,
        data: &[u8],
    ) {
        let Some(slot) = self.broker_slot(cluster) else {
            return;
        };
        if let Some(b) = self.broker_mut(slot) {
            b.node.publish(topic, kind, data);
        }
        // A publication to a shard with no link yet opens one.
        self.broker_events(slot);
        if !self.dirty_brokers.contains(&slot) {
            self.dirty_brokers.push(slot);
        }
    }

    /// Writes the output of the broker links that got publications this turn.
    pub(super) fn flush_brokers(&mut self) {
        for slot in std::mem::take(&mut self.dirty_brokers) {
            self.broker_flush(slot);
        }
    }

    /// Re-checks a server's broker subscriptions against its topics.
    pub(super) fn on_cluster_sync(&mut self, cluster: &Arc<ClusterShared>) {
        cluster.sync_queued.store(false, Ordering::Release);
        if let Some(slot) = self.broker_slot(cluster) {
            self.broker_sync(slot);
            self.broker_events(slot);
            self.broker_flush(slot);
        }
    }

    fn broker_sync(&mut self, slot: usize) {
        let Some(b) = self.broker_mut(slot) else {
            return;
        };
        let wanted = b.server.topics.names();
        b.node.sync(wanted);
    }

    /// Acts on what the node reported: links to open and close, state and
    /// gap events to the server's handler, other nodes' publications to the
    /// local subscribers.
    fn broker_events(&mut self, slot: usize) {
        loop {
            let Some(b) = self.broker_mut(slot) else {
                return;
            };
            let Some(event) = b.node.next_event() else {
                return;
            };
            let (server_slot, server_id) = (b.server_slot, b.server.id);
            match event {
                NodeEvent::Open { link, addr } => self.open_link(slot, link, addr),
                NodeEvent::Close { link } => self.close_link(slot, link),
                NodeEvent::State(state, detail) => {
                    telemetry::cluster_state(&b.node.shared.node_id, &state.to_string(), &detail);
                    if let Some(h) = self.server_handler(server_slot, server_id) {
                        h.on_cluster_state(state, &detail);
                    }
                }
                NodeEvent::Gap {
                    topic,
                    node,
                    epoch,
                    previous_epoch,
                    expected,
                    received,
                } => {
                    let gap = ClusterGap {
                        topic: &topic,
                        node: &node,
                        epoch,
                        previous_epoch,
                        expected,
                        received,
                    };
                    if let Some(h) = self.server_handler(server_slot, server_id) {
                        h.on_cluster_gap(&gap);
                    }
                }
                NodeEvent::Refused(why) => {
                    let error =
                        Error::new(ErrorKind::Io, format!("Redis refused a publication: {why}"));
                    if let Some(h) = self.server_handler(server_slot, server_id) {
                        ServerHandler::on_error(h, &error);
                    }
                }
                NodeEvent::Deliver { topic, kind, data } => {
                    let server = b.server.clone();
                    let Some(fanout) = server.topics.fan_out(&topic, None, data.len()) else {
                        continue;
                    };
                    if fanout.nobody() {
                        continue;
                    }
                    let Ok(message) = PreparedMessage::new(kind, &data) else {
                        continue;
                    };
                    let publish = Publish {
                        message,
                        topic: Arc::from(topic),
                        fanout: Arc::new(fanout),
                        policy: server.slow_subscriber,
                    };
                    // The other loops of a spread server hold the rest.
                    server.push_to_others(|| Command::Publish(Box::new(publish.clone())));
                    self.run_publish(publish);
                }
            }
        }
    }
}
