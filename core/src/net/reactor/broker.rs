//! A clustered server's link to Redis, as one more entry of the loop's
//! table: the name lookup, the TCP connect (and TLS for `rediss://`), reads
//! fed to the sans-I/O [`Node`], its output written back, the keepalive and
//! connect deadline, and reconnects with the clients' backoff. What the node
//! reports reaches the server's handler (state and gap events) and its local
//! subscribers (publications of other nodes, encoded once for all of them).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::{Interest, Token};

use super::{Entry, Reactor};
use crate::net::cluster::{BrokerRequest, ClusterShared, Node, NodeEvent, moved_to};
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
use crate::net::{ClusterGap, ClusterState};
use crate::proto::PreparedMessage;

/// The broker link of one server, in the loop's table.
pub(crate) struct BrokerEntry {
    /// Owner id of its deadlines.
    id: u64,
    server: Arc<ServerShared>,
    /// The listener's slot and id (for its handler).
    server_slot: usize,
    node: Node,
    config: ClusterConfig,
    tls: Option<ClientTls>,
    backoff: Backoff,
    transport: Option<Transport>,
    /// The TCP connect is under way.
    connecting: bool,
    /// Addresses left to try in this attempt.
    addrs: Vec<SocketAddr>,
    /// When the link last became ready.
    ready_at: Option<Instant>,
    /// The shard a Redis Cluster redirect (`MOVED`) named: the next attempts
    /// go there rather than to the URL's host, until a failure of another
    /// kind.
    redirect: Option<(String, u16)>,
    pub deadlines: Deadlines,
}

impl BrokerEntry {
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

    /// The slot of a cluster's broker entry, if it is in the table.
    fn broker_slot(&self, cluster: &Arc<ClusterShared>) -> Option<usize> {
        let slot = cluster.slot.load(Ordering::Acquire);
        match self.entries.get(slot) {
            Some(Entry::Broker(b)) if Arc::ptr_eq(&b.node.shared, cluster) => Some(slot),
            _ => None,
        }
    }

    /// Puts a server's broker link in the table and starts connecting.
    pub(super) fn start_broker(
        &mut self,
        server: Arc<ServerShared>,
        server_slot: usize,
        request: BrokerRequest,
    ) {
        let BrokerRequest { node, config, tls } = request;
        let shared = node.shared.clone();
        let entry = BrokerEntry {
            id: self.shared.next_id(),
            server,
            server_slot,
            node,
            backoff: Backoff::new(config.reconnect.clone()),
            config,
            tls,
            transport: None,
            connecting: false,
            addrs: Vec::new(),
            ready_at: None,
            redirect: None,
            deadlines: Deadlines::default(),
        };
        let slot = self.entries.insert(Entry::Broker(Box::new(entry)));
        shared.slot.store(slot, Ordering::Release);
        self.broker_sync(slot);
        self.broker_dial(slot);
    }

    /// Removes a server's broker link (the server is gone).
    pub(super) fn remove_broker(&mut self, cluster: &Arc<ClusterShared>) {
        let Some(slot) = self.broker_slot(cluster) else {
            return;
        };
        if let Some(Entry::Broker(mut b)) = self.entries.try_remove(slot)
            && let Some(t) = b.transport.as_mut()
        {
            let _ = self.registry().deregister(&mut t.stream);
        }
        cluster.slot.store(usize::MAX, Ordering::Release);
    }

    /// Starts an attempt: the name lookup (off the loop for a name).
    fn broker_dial(&mut self, slot: usize) {
        let Some(b) = self.broker_mut(slot) else {
            return;
        };
        let (host, port) = match &b.redirect {
            Some(shard) => shard.clone(),
            None => (b.node.target.host.clone(), b.node.target.port),
        };
        let timeout = b.config.connect_timeout;
        let cluster = b.node.shared.clone();
        self.schedule(slot, TimerKind::BrokerCheck, timeout);
        match dns::resolve_locally(&host, port) {
            Some(result) => self.broker_resolved(slot, result),
            None => {
                let lp = self.shared.clone();
                let answer = Box::new(move |result| {
                    let _ = lp.push(Work::Command(Command::BrokerResolved { cluster, result }));
                });
                if let Err(e) = dns::lookup(host, port, None, answer) {
                    self.broker_fail(slot, e.to_string());
                }
            }
        }
    }

    /// The lookup answered: connects to the first address.
    pub(super) fn on_broker_resolved(
        &mut self,
        cluster: &Arc<ClusterShared>,
        result: Result<Vec<SocketAddr>, Error>,
    ) {
        if let Some(slot) = self.broker_slot(cluster) {
            self.broker_resolved(slot, result);
        }
    }

    fn broker_resolved(&mut self, slot: usize, result: Result<Vec<SocketAddr>, Error>) {
        match result {
            Ok(mut addrs) => {
                addrs.reverse();
                if let Some(b) = self.broker_mut(slot) {
                    b.addrs = addrs;
                }
                self.broker_connect_next(slot, None);
            }
            Err(e) => self.broker_fail(slot, e.to_string()),
        }
    }

    /// Connects to the next address of the attempt; fails the attempt when
    /// none is left.
    fn broker_connect_next(&mut self, slot: usize, last: Option<String>) {
        let Some(b) = self.broker_mut(slot) else {
            return;
        };
        if let Some(mut t) = b.transport.take() {
            let _ = self.poll.registry().deregister(&mut t.stream);
        }
        let Some(b) = self.broker_mut(slot) else {
            return;
        };
        let Some(addr) = b.addrs.pop() else {
            let why = last.unwrap_or_else(|| "no address to connect to".to_owned());
            return self.broker_fail(slot, why);
        };
        let session = match &b.tls {
            Some(tls) => {
                match rustls::ClientConnection::new(tls.config.clone(), tls.name.clone()) {
                    Ok(session) => Some(session.into()),
                    Err(e) => return self.broker_fail(slot, format!("TLS setup failed: {e}")),
                }
            }
            None => None,
        };
        let mut tcp = match mio::net::TcpStream::connect(addr) {
            Ok(tcp) => tcp,
            Err(e) => return self.broker_connect_next(slot, Some(format!("{addr}: {e}"))),
        };
        if let Err(e) = self.poll.registry().register(
            &mut tcp,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return self.broker_fail(slot, format!("could not watch the socket: {e}"));
        }
        let Some(b) = self.broker_mut(slot) else {
            return;
        };
        b.transport = Some(Transport::new(tcp.into(), session));
        b.connecting = true;
    }

    /// Readiness of the broker's socket.
    pub(super) fn broker_ready(&mut self, slot: usize) {
        let Some(b) = self.broker_mut(slot) else {
            return;
        };
        let Some(t) = b.transport.as_mut() else {
            return;
        };
        if b.connecting {
            let addr = t.stream.peer_addr();
            match t.stream.take_error() {
                Ok(Some(e)) | Err(e) => return self.broker_connect_next(slot, Some(e.to_string())),
                Ok(None) => {}
            }
            match addr {
                Ok(_) => {
                    let _ = t.stream.set_nodelay(true);
                    b.connecting = false;
                    b.node.connected();
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) => return self.broker_connect_next(slot, Some(e.to_string())),
            }
        }
        self.broker_read(slot);
        self.broker_flush(slot);
    }

    /// Reads everything the socket holds and feeds it to the node.
    fn broker_read(&mut self, slot: usize) {
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut failure = None;
        while let Some(b) = self.broker_mut(slot)
            && let Some(t) = b.transport.as_mut()
        {
            match t.read(&mut buf) {
                Ok(0) => failure = Some("Redis closed the connection".to_owned()),
                Ok(n) => failure = b.node.feed(&buf[..n]).err(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => failure = Some(describe("reading from Redis failed", &e).to_string()),
            }
            // What this chunk brought is delivered before the next is read.
            self.broker_events(slot);
            if failure.is_some() {
                break;
            }
        }
        self.read_buf = buf;
        if let Some(why) = failure {
            self.broker_fail(slot, why);
        }
    }

    /// Writes what the node has for the broker, as far as the socket takes it.
    pub(super) fn broker_flush(&mut self, slot: usize) {
        let failure = loop {
            let Some(b) = self.broker_mut(slot) else {
                return;
            };
            if b.connecting {
                return;
            }
            let Some(t) = b.transport.as_mut() else {
                return;
            };
            let out = b.node.output();
            if out.is_empty() {
                match t.flush() {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                        break describe("writing to Redis failed", &e).to_string();
                    }
                    _ => return,
                }
            }
            match t.write(out) {
                Ok(n) => b.node.written(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break describe("writing to Redis failed", &e).to_string(),
            }
        };
        self.broker_fail(slot, failure);
    }

    /// The link is lost or could not be made: state down, and the next
    /// attempt after the backoff's wait.
    fn broker_fail(&mut self, slot: usize, why: String) {
        let Some(b) = self.broker_mut(slot) else {
            return;
        };
        let transport = b.transport.take();
        b.connecting = false;
        b.addrs.clear();
        if let Some(at) = b.ready_at.take() {
            b.backoff.connected_for(at.elapsed());
        }
        b.redirect = moved_to(&why);
        let why = match &b.redirect {
            Some((host, port)) => format!("{why}; following the redirect to {host}:{port}"),
            None => why,
        };
        let next = b.backoff.next_attempt(random_unit());
        let detail = match next {
            Some((n, wait)) => format!(
                "{why}; reconnect attempt {n} in {:.0} ms",
                wait.as_secs_f64() * 1000.0
            ),
            None => format!("{why}; no more reconnect attempts"),
        };
        b.node.disconnected(detail);
        b.deadlines.cancel(TimerKind::BrokerCheck);
        if let Some(mut t) = transport {
            let _ = self.poll.registry().deregister(&mut t.stream);
        }
        if let Some((_, wait)) = next {
            self.schedule(slot, TimerKind::BrokerRetry, wait);
        }
        self.broker_events(slot);
    }

    /// The reconnect wait is over.
    pub(super) fn broker_retry(&mut self, slot: usize) {
        self.broker_dial(slot);
    }

    /// The connect deadline or the keepalive: an attempt that did not finish
    /// in time fails; a ready link gets a PING, or fails if the last one is
    /// unanswered.
    pub(super) fn broker_check(&mut self, slot: usize) {
        let Some(b) = self.broker_mut(slot) else {
            return;
        };
        let seconds = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        if !b.node.is_ready() {
            let why = format!(
                "could not connect to Redis at {}:{} within {}",
                b.node.target.host,
                b.node.target.port,
                seconds(b.config.connect_timeout)
            );
            return self.broker_fail(slot, why);
        }
        if b.node.awaiting_pong {
            let why = format!(
                "Redis did not answer a PING within {}",
                seconds(b.config.keepalive)
            );
            return self.broker_fail(slot, why);
        }
        b.node.ping();
        let keepalive = b.config.keepalive;
        self.schedule(slot, TimerKind::BrokerCheck, keepalive);
        self.broker_flush(slot);
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

    /// Acts on what the node reported: state and gap events to the server's
    /// handler, other nodes' publications to the local subscribers.
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
                NodeEvent::State(state, detail) => {
                    telemetry::cluster_state(&b.node.shared.node_id, &state.to_string(), &detail);
                    if matches!(state, ClusterState::Up | ClusterState::Resubscribing)
                        && b.ready_at.is_none()
                    {
                        b.ready_at = Some(Instant::now());
                        let keepalive = b.config.keepalive;
                        self.schedule(slot, TimerKind::BrokerCheck, keepalive);
                    }
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
                    self.run_publish(Publish {
                        message,
                        topic: Arc::from(topic),
                        fanout,
                        policy: server.slow_subscriber,
                    });
                }
            }
        }
    }
}
