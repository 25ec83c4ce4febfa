//! Cluster pub/sub through a real Redis (each test starts its own
//! `redis-server` on a free port of 127.0.0.1 and stops it): publications
//! reach every node's subscribers once and in order (also on a node spread
//! over two loops), one broker
//! subscription per topic per node, the broker killed and restarted while
//! publishing (state events, local delivery throughout, re-subscription,
//! gap events for what was lost), and a broker unreachable at start. Against
//! a Redis Cluster of three masters (started by the test): classic pub/sub
//! through any node, and sharded pub/sub routed by hash slot (one
//! subscription per topic per server, on the slot's master only; exactly
//! once across servers seeded with different nodes; a slot moved; a
//! master's clients dropped).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use crate::util::*;
use wsx_core::net::{
    Balance, ClusterConfig, ClusterGap, ClusterState, ClusterStats, Conn, Ctx, Handler, LoopThread,
    QueueFull, ReconnectPolicy, Refusal, Server, ServerConfig, ServerHandler, Upgrade,
};
use wsx_core::proto::MessageKind;

/// A `redis-server` of this test, on its own port.
struct Redis {
    port: u16,
    child: Option<Child>,
    /// More arguments (TLS, a password).
    extra: Vec<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Redis {
    fn start() -> Redis {
        Redis::start_with(Vec::new())
    }

    fn start_with(extra: Vec<String>) -> Redis {
        let mut redis = Redis {
            port: free_port(),
            child: None,
            extra,
        };
        redis.restart();
        redis
    }

    /// Starts (again) on the same port and waits until it answers.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}): `make deps` installs it (Debian's redis-server)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + PATIENCE;
        // PONG, or NOAUTH when a password is set: either way it is up.
        while !self
            .command(&["PING"])
            .is_some_and(|r| r == "PONG" || r.starts_with("NOAUTH"))
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no goodbye to anyone.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs a command; the reply's lines (without type markers), joined by
    /// spaces; `None` if Redis cannot be reached.
    fn command(&self, args: &[&str]) -> Option<String> {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out += &format!("${}\r\n{a}\r\n", a.len());
        }
        tcp.write_all(out.as_bytes()).ok()?;
        let mut reader = BufReader::new(tcp);
        let mut words = Vec::new();
        let mut pending = 1;
        while pending > 0 {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            pending -= 1;
            let (kind, rest) = line.split_at(1);
            match kind {
                "*" => pending += rest.parse::<usize>().ok()?,
                "$" => {
                    let mut buf = vec![0; rest.parse::<usize>().ok()? + 2];
                    reader.read_exact(&mut buf).ok()?;
                    words.push(String::from_utf8_lossy(&buf[..buf.len() - 2]).into_owned());
                }
                _ => words.push(rest.to_owned()),
            }
        }
        Some(words.join(" "))
    }

    /// How many connections subscribe to `channel` (`PUBSUB NUMSUB`, or
    /// `SHARDNUMSUB` for sharded channels).
    fn numsub(&self, channel: &str, sharded: bool) -> usize {
        let verb = if sharded { "SHARDNUMSUB" } else { "NUMSUB" };
        let reply = self.command(&["PUBSUB", verb, channel]).expect("redis");
        reply
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a count")
    }

    fn wait_numsub(&self, channel: &str, sharded: bool, want: usize) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let n = self.numsub(channel, sharded);
            if n == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{channel}: {n} subscriptions, expected {want}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a node's server handler saw of the cluster.
#[derive(Debug, Clone, PartialEq)]
enum ClusterEv {
    State(ClusterState),
    Gap {
        topic: String,
        node: String,
        missed: Option<u64>,
    },
}

/// Connections subscribe to the comma-separated topics of their path
/// (`/a,b`); a text message `unsub:T` unsubscribes from T.
struct Rooms(Sender<ClusterEv>);

struct Member(String);

impl Handler for Member {
    fn on_open(&mut self, ctx: &mut Ctx<'_>, _open: &wsx_core::net::Open<'_>) {
        for topic in self.0.trim_start_matches('/').split(',') {
            ctx.subscribe(topic).expect("subscribe");
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_>, _kind: MessageKind, data: &[u8], _fin: bool) {
        if let Some(topic) = data.strip_prefix(b"unsub:") {
            ctx.unsubscribe(std::str::from_utf8(topic).unwrap());
            ctx.send(MessageKind::Text, b"unsubscribed").unwrap();
        }
    }
}

impl ServerHandler for Rooms {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        Ok(Box::new(Member(upgrade.request.path.clone())))
    }
    fn on_cluster_state(&mut self, state: ClusterState, _detail: &str) {
        let _ = self.0.send(ClusterEv::State(state));
    }
    fn on_cluster_gap(&mut self, gap: &ClusterGap<'_>) {
        let _ = self.0.send(ClusterEv::Gap {
            topic: gap.topic.to_owned(),
            node: gap.node.to_owned(),
            missed: gap.missed(),
        });
    }
}

/// A server of the cluster, with its own loop.
struct Node {
    lp: LoopThread,
    server: Server,
    events: Receiver<ClusterEv>,
    id: String,
}

fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(300),
        ..ReconnectPolicy::default()
    }
}

impl Node {
    fn start(url: &str, tweak: impl FnOnce(&mut ClusterConfig)) -> Node {
        Node::start_with(url, |_| {}, tweak)
    }

    /// [`Node::start`], the server's options changed by `server` too.
    fn start_with(
        url: &str,
        server: impl FnOnce(&mut ServerConfig),
        tweak: impl FnOnce(&mut ClusterConfig),
    ) -> Node {
        let lp = spawn_loop();
        let mut cluster = ClusterConfig {
            url: url.to_owned(),
            prefix: "test:".to_owned(),
            reconnect: fast_reconnect(),
            connect_timeout: Duration::from_secs(2),
            ..ClusterConfig::default()
        };
        tweak(&mut cluster);
        let mut config = ServerConfig {
            cluster: Some(cluster),
            ..server_config()
        };
        server(&mut config);
        let (tx, events) = channel();
        let server = lp
            .handle()
            .listen(config, Box::new(Rooms(tx)))
            .expect("listen");
        let id = server.cluster_stats().expect("clustered").node_id;
        Node {
            lp,
            server,
            events,
            id,
        }
    }

    /// Waits for the cluster state event `state`; returns the states seen
    /// up to it (other events are kept in `seen`).
    fn until_state(&self, state: ClusterState, seen: &mut Vec<ClusterEv>) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = self.events.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no {state:?} event; saw {seen:?}, now {:?}",
                    self.server.cluster_state()
                )
            });
            seen.push(ev.clone());
            if ev == ClusterEv::State(state) {
                return;
            }
        }
    }

    /// Waits until the cluster's counters, updated on the loop thread,
    /// satisfy `done`; returns them.
    fn until_stats(&self, done: impl Fn(&ClusterStats) -> bool) -> ClusterStats {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let stats = self.server.cluster_stats().expect("clustered");
            if done(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "the counters stayed at {stats:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A client subscribed to `topics` (comma-separated).
    fn client(&self, topics: &str) -> (Conn, Events) {
        let url = format!("ws://{}/{topics}", self.server.local_addr());
        connect(self.lp.handle(), &url, client_config())
    }
}

fn text(events: &Events) -> String {
    String::from_utf8(events.message().1).expect("text")
}

fn states(seen: &[ClusterEv]) -> Vec<ClusterState> {
    seen.iter()
        .filter_map(|e| match e {
            ClusterEv::State(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn three_nodes(sharded: bool) {
    let redis = Redis::start();
    // Node 0 is spread over two loops, round-robin: its first client lives
    // on loop 0, its second (the only one subscribing to "other" there) on
    // loop 1, which the broker on loop 0 must serve too.
    let spread = |i: usize| {
        move |s: &mut ServerConfig| {
            if i == 0 {
                s.loops = 2;
                s.balance = Balance::RoundRobin;
            }
        }
    };
    let nodes: Vec<Node> = (0..3)
        .map(|i| Node::start_with(&redis.url(), spread(i), |c| c.sharded = sharded))
        .collect();
    for node in &nodes {
        node.until_state(ClusterState::Up, &mut Vec::new());
    }
    let clients: Vec<(Conn, Events)> = nodes
        .iter()
        .flat_map(|n| [n.client("room"), n.client("room,other")])
        .collect();
    redis.wait_numsub("test:room", sharded, 3);
    redis.wait_numsub("test:other", sharded, 3);
    const N: usize = 40;
    for i in 0..N {
        for (n, node) in nodes.iter().enumerate() {
            let local = node
                .server
                .publish("room", MessageKind::Text, format!("{n}:{i}").as_bytes())
                .unwrap();
            assert_eq!(local, 2, "both local subscribers");
        }
    }
    for (n, node) in nodes.iter().enumerate() {
        node.server
            .publish("room", MessageKind::Text, format!("{n}:end").as_bytes())
            .unwrap();
    }
    for (c, (_, events)) in clients.iter().enumerate() {
        let mut next = [0usize; 3];
        let mut ended = 0;
        while ended < 3 {
            let m = text(events);
            let (n, i) = m.split_once(':').unwrap();
            let n: usize = n.parse().unwrap();
            if i == "end" {
                assert_eq!(next[n], N, "client {c}: end of {n} before all its messages");
                ended += 1;
                continue;
            }
            assert_eq!(
                i.parse::<usize>().unwrap(),
                next[n],
                "client {c}: from node {n}"
            );
            next[n] += 1;
        }
    }
    // Nothing twice: a message on the other topic is the next thing each gets.
    nodes[1]
        .server
        .publish("other", MessageKind::Text, b"last")
        .unwrap();
    for (c, (_, events)) in clients.iter().enumerate().filter(|(c, _)| c % 2 == 1) {
        assert_eq!(text(events), "last", "client {c}");
    }
    for node in &nodes {
        let stats = node.server.cluster_stats().unwrap();
        assert_eq!(
            stats.published,
            N as u64 + 1 + (node.id == nodes[1].id) as u64
        );
        assert_eq!(stats.gaps, 0);
        assert_eq!(stats.dropped, 0);
    }
}

#[test]
fn a_publication_on_any_node_reaches_every_subscriber_once_in_order() {
    three_nodes(false);
}

#[test]
fn sharded_pub_sub_does_the_same() {
    three_nodes(true);
}

#[test]
fn one_broker_subscription_per_topic_per_node_whatever_the_local_subscribers() {
    let redis = Redis::start();
    let a = Node::start(&redis.url(), |_| {});
    let b = Node::start(&redis.url(), |_| {});
    a.until_state(ClusterState::Up, &mut Vec::new());
    b.until_state(ClusterState::Up, &mut Vec::new());
    let many: Vec<(Conn, Events)> = (0..300).map(|_| a.client("crowd")).collect();
    let (lone, lone_events) = b.client("crowd");
    assert_eq!(a.server.subscribers("crowd"), 300);
    redis.wait_numsub("test:crowd", false, 2);
    // The broker sees one subscriber per node, also while they come and go.
    for (conn, events) in &many[..150] {
        conn.send(MessageKind::Text, b"unsub:crowd").unwrap();
        assert_eq!(text(events), "unsubscribed");
    }
    assert_eq!(redis.numsub("test:crowd", false), 2);
    let publisher_b = b.server.publish("crowd", MessageKind::Text, b"hi").unwrap();
    assert_eq!(publisher_b, 1);
    assert_eq!(text(&lone_events), "hi");
    for (_, events) in &many[150..] {
        assert_eq!(text(events), "hi");
    }
    for (conn, _) in &many {
        conn.close(wsx_core::proto::CloseCode::NORMAL, "").unwrap();
    }
    for (_, events) in &many {
        events.close();
    }
    redis.wait_numsub("test:crowd", false, 1);
    assert_eq!(a.server.cluster_stats().unwrap().subscriptions, 0);
    lone.send(MessageKind::Text, b"unsub:crowd").unwrap();
    assert_eq!(text(&lone_events), "unsubscribed");
    redis.wait_numsub("test:crowd", false, 0);
}

#[test]
fn the_broker_killed_while_publishing_then_restarted() {
    let mut redis = Redis::start();
    // A small queue, so publications made while the broker is down are
    // surely lost (the oldest dropped) and must show as a gap.
    let a = Node::start(&redis.url(), |c| {
        c.max_queued = 5;
        c.queue_full = QueueFull::DropOldest;
    });
    let b = Node::start(&redis.url(), |_| {});
    let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
    a.until_state(ClusterState::Up, &mut seen_a);
    b.until_state(ClusterState::Up, &mut seen_b);
    let (_a1, a1) = a.client("t1,t2");
    let (_b1, b1) = b.client("t1,t2");
    redis.wait_numsub("test:t1", false, 2);
    redis.wait_numsub("test:t2", false, 2);

    let mut published = 0usize;
    let publish = |published: &mut usize| {
        let m = format!("{published}");
        assert_eq!(
            a.server
                .publish("t1", MessageKind::Text, m.as_bytes())
                .unwrap(),
            1
        );
        *published += 1;
    };
    // Local delivery, in order, throughout.
    let mut local_next = 0usize;
    let local = |upto: usize, local_next: &mut usize| {
        while *local_next < upto {
            assert_eq!(text(&a1), local_next.to_string(), "local delivery");
            *local_next += 1;
        }
    };
    let mut received = Vec::new();
    for _ in 0..50 {
        publish(&mut published);
    }
    // B has heard from A (so it knows where A's numbering stands).
    for i in 0..50 {
        assert_eq!(text(&b1), i.to_string());
        received.push(i);
    }
    for i in 0..50 {
        publish(&mut published);
        std::thread::sleep(Duration::from_millis(1));
        if i == 10 {
            redis.kill();
        }
    }
    a.until_state(ClusterState::Down, &mut seen_a);
    b.until_state(ClusterState::Down, &mut seen_b);
    for _ in 0..50 {
        publish(&mut published);
    }
    local(published, &mut local_next);
    assert_eq!(a.server.cluster_state(), Some(ClusterState::Down));
    assert!(a.server.cluster_stats().unwrap().dropped > 0);

    redis.restart();
    a.until_state(ClusterState::Up, &mut seen_a);
    b.until_state(ClusterState::Up, &mut seen_b);
    let expected = [
        ClusterState::Up,
        ClusterState::Down,
        ClusterState::Resubscribing,
        ClusterState::Up,
    ];
    assert_eq!(states(&seen_a), expected);
    assert_eq!(states(&seen_b), expected);
    redis.wait_numsub("test:t1", false, 2);
    redis.wait_numsub("test:t2", false, 2);

    // Delivery resumes: B gets what follows, after a gap event for what it lost.
    for _ in 0..20 {
        publish(&mut published);
    }
    local(published, &mut local_next);
    loop {
        let m: usize = text(&b1).parse().unwrap();
        received.push(m);
        if m == published - 1 {
            break;
        }
    }
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "in order: {received:?}"
    );
    let mut gaps = Vec::new();
    while let Ok(ev) = b.events.try_recv() {
        seen_b.push(ev);
    }
    for ev in &seen_b {
        if let ClusterEv::Gap {
            topic,
            node,
            missed,
        } = ev
        {
            assert_eq!((topic.as_str(), node.as_str()), ("t1", a.id.as_str()));
            gaps.push(missed.expect("same epoch"));
        }
    }
    let lost = published - received.len();
    assert!(lost >= 80, "at least the dropped ones were lost: {lost}");
    assert_eq!(gaps.iter().sum::<u64>(), lost as u64, "gaps {gaps:?}");
    assert_eq!(b.server.cluster_stats().unwrap().gaps, gaps.len() as u64);
    // The other topic was re-subscribed too.
    b.server.publish("t2", MessageKind::Text, b"back").unwrap();
    assert_eq!(text(&a1), "back");
}

#[test]
fn a_broker_unreachable_at_start_leaves_the_server_serving_locally() {
    let port = free_port();
    let a = Node::start(&format!("redis://127.0.0.1:{port}"), |_| {});
    let mut seen = Vec::new();
    a.until_state(ClusterState::Down, &mut seen);
    assert_eq!(states(&seen), [ClusterState::Down]);
    assert_eq!(a.server.cluster_state(), Some(ClusterState::Down));
    let (_c, events) = a.client("news");
    assert_eq!(
        a.server
            .publish("news", MessageKind::Text, b"local")
            .unwrap(),
        1
    );
    assert_eq!(text(&events), "local");
    // The publication reaches the cluster's queue on the loop thread, after
    // the local delivery.
    let stats = a.until_stats(|s| s.queued + s.published > 0);
    assert_eq!((stats.queued, stats.published), (1, 0));
    // Once the broker is there, the link comes up and the queue drains.
    let mut redis = Redis {
        port,
        child: None,
        extra: Vec::new(),
    };
    redis.restart();
    a.until_state(ClusterState::Up, &mut seen);
    redis.wait_numsub("test:news", false, 1);
    let stats = a.until_stats(|s| s.published > 0);
    assert_eq!(
        (stats.queued, stats.published, stats.subscriptions),
        (0, 1, 1)
    );
}

#[test]
fn bad_cluster_options_fail_at_listen() {
    let lp = spawn_loop();
    for (url, node_id) in [
        ("http://127.0.0.1", None),
        ("redis://127.0.0.1/x", None),
        ("redis://127.0.0.1", Some(String::new())),
        ("redis://127.0.0.1", Some("x".repeat(256))),
    ] {
        let config = ServerConfig {
            cluster: Some(ClusterConfig {
                url: url.to_owned(),
                node_id,
                ..ClusterConfig::default()
            }),
            ..server_config()
        };
        let (tx, _rx) = channel();
        let e = lp
            .handle()
            .listen(config, Box::new(Rooms(tx)))
            .err()
            .expect("refused");
        assert_eq!(
            e.kind(),
            wsx_core::net::ErrorKind::InvalidArgument,
            "{url}: {e}"
        );
    }
    let _ = HashMap::<(), ()>::new();
}

#[test]
fn empty_queue_bounds_fail_at_listen() {
    let lp = spawn_loop();
    for cluster in [
        ClusterConfig {
            max_queued: 0,
            ..ClusterConfig::default()
        },
        ClusterConfig {
            max_queued_bytes: 0,
            ..ClusterConfig::default()
        },
    ] {
        let config = ServerConfig {
            cluster: Some(cluster),
            ..server_config()
        };
        let (tx, _rx) = channel();
        let e = lp
            .handle()
            .listen(config, Box::new(Rooms(tx)))
            .err()
            .expect("refused");
        assert_eq!(e.kind(), wsx_core::net::ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("max_queued"), "{e}");
    }
}

#[test]
fn rediss_with_a_private_ca_and_a_host_name() {
    let pki = crate::util::pki::Pki::new();
    let tls_port = free_port();
    let file = |name: &str| pki.dir.join(name).display().to_string();
    let redis = Redis::start_with(vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        file("cert.pem"),
        "--tls-key-file".into(),
        file("key.pem"),
        "--tls-ca-cert-file".into(),
        file("ca.pem"),
        "--tls-auth-clients".into(),
        "no".into(),
    ]);
    // `localhost` (the certificate's name) is looked up off the loop; one of
    // its addresses (::1) may refuse, the next is tried.
    let url = format!("rediss://localhost:{tls_port}");
    let trusting = |c: &mut ClusterConfig| c.tls.ca_file = Some(pki.dir.join("ca.pem"));
    let a = Node::start(&url, trusting);
    let b = Node::start(&url, trusting);
    a.until_state(ClusterState::Up, &mut Vec::new());
    b.until_state(ClusterState::Up, &mut Vec::new());
    let (_c, events) = b.client("secure");
    redis.wait_numsub("test:secure", false, 1);
    a.server
        .publish("secure", MessageKind::Text, b"over tls")
        .unwrap();
    assert_eq!(text(&events), "over tls");

    // Without the CA the certificate is refused: the link stays down and says why.
    let (tx, rx) = channel();
    struct Details(Sender<String>);
    impl ServerHandler for Details {
        fn on_upgrade(&mut self, _: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
            Err(Refusal::new(404, "").unwrap())
        }
        fn on_cluster_state(&mut self, _state: ClusterState, detail: &str) {
            let _ = self.0.send(detail.to_owned());
        }
    }
    let lp = spawn_loop();
    let config = ServerConfig {
        cluster: Some(ClusterConfig {
            url,
            reconnect: fast_reconnect(),
            ..ClusterConfig::default()
        }),
        ..server_config()
    };
    let server = lp.handle().listen(config, Box::new(Details(tx))).unwrap();
    let detail = rx.recv_timeout(PATIENCE).expect("a state event");
    assert_eq!(server.cluster_state(), Some(ClusterState::Down));
    assert!(detail.contains("TLS"), "{detail}");
}

#[test]
fn a_password_and_a_database_in_the_url() {
    let redis = Redis::start_with(vec!["--requirepass".into(), "s3cret".into()]);
    let good = format!("redis://:s3cret@127.0.0.1:{}/2", redis.port);
    let a = Node::start(&good, |_| {});
    let b = Node::start(&good, |_| {});
    a.until_state(ClusterState::Up, &mut Vec::new());
    b.until_state(ClusterState::Up, &mut Vec::new());
    let (_c, events) = b.client("private");
    b.until_stats(|s| s.subscriptions == 1);
    a.server
        .publish("private", MessageKind::Text, b"authenticated")
        .unwrap();
    assert_eq!(text(&events), "authenticated");

    let bad = Node::start(&format!("redis://:wrong@127.0.0.1:{}", redis.port), |_| {});
    let mut seen = Vec::new();
    bad.until_state(ClusterState::Down, &mut seen);
    assert_eq!(bad.server.cluster_state(), Some(ClusterState::Down));
}

#[test]
fn a_frozen_broker_is_found_by_the_keepalive() {
    let redis = Redis::start();
    let a = Node::start(&redis.url(), |c| c.keepalive = Duration::from_millis(150));
    let mut seen = Vec::new();
    a.until_state(ClusterState::Up, &mut seen);
    let pid = redis.child.as_ref().unwrap().id().to_string();
    let signal = |sig: &str| {
        let ok = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(ok.success());
    };
    // SIGSTOP: the socket stays open, nothing answers. The unanswered PING
    // takes the link down within two keepalive periods.
    signal("-STOP");
    let stopped = Instant::now();
    a.until_state(ClusterState::Down, &mut seen);
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopped.elapsed()
    );
    signal("-CONT");
    a.until_state(ClusterState::Up, &mut seen);
    assert_eq!(
        states(&seen),
        [ClusterState::Up, ClusterState::Down, ClusterState::Up]
    );
    assert_eq!(a.server.cluster_stats().unwrap().disconnects, 1);
}

/// A Redis Cluster of three masters (no replicas), each its own
/// `redis-server` in a directory of its own.
struct RedisCluster {
    nodes: Vec<Redis>,
    dir: std::path::PathBuf,
}

impl RedisCluster {
    fn start() -> RedisCluster {
        let dir = std::env::temp_dir().join(format!(
            "wsx-redis-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let nodes: Vec<Redis> = (0..3)
            .map(|i| {
                let node_dir = dir.join(i.to_string());
                std::fs::create_dir_all(&node_dir).unwrap();
                Redis::start_with(vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    node_dir.join("nodes.conf").display().to_string(),
                    "--dir".into(),
                    node_dir.display().to_string(),
                    "--cluster-node-timeout".into(),
                    "2000".into(),
                ])
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        for n in &nodes {
            create.arg(format!("127.0.0.1:{}", n.port));
        }
        let out = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli (`make deps` installs it with redis-server)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let deadline = Instant::now() + PATIENCE;
        for n in &nodes {
            while !n
                .command(&["CLUSTER", "INFO"])
                .is_some_and(|info| info.contains("cluster_state:ok"))
            {
                assert!(Instant::now() < deadline, "the cluster did not form");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        RedisCluster { nodes, dir }
    }

    /// The port of the master that owns `channel`'s slot.
    fn owner(&self, channel: &str) -> u16 {
        // Only the owner answers SPUBLISH without MOVED.
        for n in &self.nodes {
            let reply = n.command(&["SPUBLISH", channel, "probe"]).unwrap();
            if !reply.starts_with("MOVED") {
                return n.port;
            }
        }
        panic!("no node owns {channel}");
    }
}

impl RedisCluster {
    fn node(&self, port: u16) -> &Redis {
        self.nodes.iter().find(|n| n.port == port).expect("a node")
    }

    /// Gives `channel`'s slot (no keys in it) to the master at port `to`,
    /// telling every node: the old owner drops its subscribers of the slot.
    fn move_slot(&self, channel: &str, to: u16) {
        let slot = self.nodes[0]
            .command(&["CLUSTER", "KEYSLOT", channel])
            .unwrap();
        let id = self.node(to).command(&["CLUSTER", "MYID"]).unwrap();
        let order =
            std::iter::once(self.node(to)).chain(self.nodes.iter().filter(|n| n.port != to));
        for n in order {
            let reply = n
                .command(&["CLUSTER", "SETSLOT", &slot, "NODE", &id])
                .unwrap();
            assert_eq!(reply, "OK");
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn redis_cluster_classic_and_sharded() {
    let cluster = RedisCluster::start();
    let port = |i: usize| cluster.nodes[i].port;
    // Classic pub/sub: a publication reaches subscribers through any node
    // of the cluster (Redis forwards it on the cluster bus).
    let a = Node::start(&format!("redis://127.0.0.1:{}", port(0)), |_| {});
    let b = Node::start(&format!("redis://127.0.0.1:{}", port(2)), |_| {});
    a.until_state(ClusterState::Up, &mut Vec::new());
    b.until_state(ClusterState::Up, &mut Vec::new());
    let (_c, events) = b.client("classic");
    cluster.nodes[2].wait_numsub("test:classic", false, 1);
    a.server
        .publish("classic", MessageKind::Text, b"via the bus")
        .unwrap();
    assert_eq!(text(&events), "via the bus");

    // Sharded: each channel lives on the master of its slot. Three topics,
    // one per shard; two servers seeded with different nodes, two local
    // subscribers of every topic on each.
    let mut topics: Vec<(String, u16)> = Vec::new();
    for i in 0.. {
        let topic = format!("s{i}");
        let owner = cluster.owner(&format!("test:{topic}"));
        if topics.iter().all(|(_, o)| *o != owner) {
            topics.push((topic, owner));
        }
        if topics.len() == 3 {
            break;
        }
    }
    let sharded = |c: &mut ClusterConfig| c.sharded = true;
    let s1 = Node::start(&format!("redis://127.0.0.1:{}", port(0)), sharded);
    let s2 = Node::start(&format!("redis://127.0.0.1:{}", port(1)), sharded);
    let all: Vec<&str> = topics.iter().map(|(t, _)| t.as_str()).collect();
    let clients: Vec<(Conn, Events)> = [&s1, &s1, &s2, &s2]
        .iter()
        .map(|n| n.client(&all.join(",")))
        .collect();
    // One subscription per topic per server, on the owner only.
    for (topic, owner) in &topics {
        for n in &cluster.nodes {
            let want = if n.port == *owner { 2 } else { 0 };
            n.wait_numsub(&format!("test:{topic}"), true, want);
        }
    }
    s1.until_state(ClusterState::Up, &mut Vec::new());
    s2.until_state(ClusterState::Up, &mut Vec::new());
    const N: usize = 30;
    for i in 0..N {
        for topic in &all {
            for (n, node) in [&s1, &s2].iter().enumerate() {
                let local = node
                    .server
                    .publish(
                        topic,
                        MessageKind::Text,
                        format!("{n}:{topic}:{i}").as_bytes(),
                    )
                    .unwrap();
                assert_eq!(local, 2, "both local subscribers");
            }
        }
    }
    for topic in &all {
        for (n, node) in [&s1, &s2].iter().enumerate() {
            node.server
                .publish(
                    topic,
                    MessageKind::Text,
                    format!("{n}:{topic}:end").as_bytes(),
                )
                .unwrap();
        }
    }
    // Every client: each publisher's messages to each topic, in order, once.
    for (c, (_, events)) in clients.iter().enumerate() {
        let mut next: HashMap<(String, String), usize> = HashMap::new();
        let mut ended = 0;
        while ended < 2 * all.len() {
            let m = text(events);
            let mut parts = m.splitn(3, ':');
            let (n, topic, i) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            let seen = next.entry((n.to_owned(), topic.to_owned())).or_default();
            if i == "end" {
                assert_eq!(*seen, N, "client {c}: end of {n}:{topic} before all of it");
                ended += 1;
            } else {
                assert_eq!(i.parse::<usize>().unwrap(), *seen, "client {c}: {m}");
                *seen += 1;
            }
        }
    }
    s2.server
        .publish(all[2], MessageKind::Text, b"last")
        .unwrap();
    for (c, (_, events)) in clients.iter().enumerate() {
        assert_eq!(text(events), "last", "client {c}: nothing twice");
    }
    for node in [&s1, &s2] {
        let stats = node.server.cluster_stats().unwrap();
        assert_eq!((stats.gaps, stats.dropped, stats.subscriptions), (0, 0, 3));
    }

    // A slot moves to another shard: the subscriber follows Redis dropping
    // its subscription, the publisher (no local subscriber: no
    // subscription) follows the MOVED answer, and the publication it
    // refused goes out again to the new owner.
    let channel = "test:mover";
    let from = cluster.owner(channel);
    let (_m, moved) = s2.client("mover");
    cluster.node(from).wait_numsub(channel, true, 1);
    let publish = |m: &str| s1.server.publish("mover", MessageKind::Text, m.as_bytes());
    assert_eq!(publish("before").unwrap(), 0);
    assert_eq!(text(&moved), "before");
    let to = cluster.nodes.iter().find(|n| n.port != from).unwrap().port;
    cluster.move_slot(channel, to);
    cluster.node(to).wait_numsub(channel, true, 1);
    publish("after").unwrap();
    assert_eq!(text(&moved), "after");
    publish("again").unwrap();
    assert_eq!(text(&moved), "again", "once");
    assert_eq!(s2.server.cluster_stats().unwrap().gaps, 0);
    let published = 3 * N as u64 + 3 + 3;
    assert_eq!(
        s1.server.cluster_stats().unwrap().published,
        published,
        "MOVED counts once"
    );

    // A master drops its clients (what a restart does to them, without the
    // seconds a restarted master of a Redis Cluster waits before it serves):
    // both servers' links to it come back and subscribe its topics anew,
    // while their other links stay. A publication made meanwhile reached
    // the publisher's subscribers at once and waited for the link; it
    // reaches the other server's only if that one subscribed again first
    // (Redis pub/sub is at most once), and if not, that server reports the
    // gap.
    let (topic, owner) = topics.iter().find(|(_, o)| *o == port(2)).unwrap();
    let channel = format!("test:{topic}");
    let (mut seen1, mut seen2) = (Vec::new(), Vec::new());
    // (A RESP3 subscriber is of type pubsub or normal, by Redis version.)
    let killed: usize = ["pubsub", "normal"]
        .iter()
        .map(|t| {
            let n = cluster.nodes[2].command(&["CLIENT", "KILL", "TYPE", t]);
            n.and_then(|n| n.parse::<usize>().ok()).expect("a count")
        })
        .sum();
    assert!(killed >= 2, "{killed} clients killed");
    s1.until_state(ClusterState::Down, &mut seen1);
    s2.until_state(ClusterState::Down, &mut seen2);
    let while_down = s1.server.publish(topic, MessageKind::Text, b"while down");
    assert_eq!(while_down.unwrap(), 2);
    s1.until_state(ClusterState::Up, &mut seen1);
    s2.until_state(ClusterState::Up, &mut seen2);
    cluster.node(*owner).wait_numsub(&channel, true, 2);
    for (other, o) in topics.iter().filter(|(_, o)| o != owner) {
        assert_eq!(cluster.node(*o).numsub(&format!("test:{other}"), true), 2);
    }
    s1.server
        .publish(topic, MessageKind::Text, b"back")
        .unwrap();
    let mut missed = 0;
    for (c, (_, events)) in clients.iter().enumerate() {
        match text(events).as_str() {
            "while down" => assert_eq!(text(events), "back", "client {c}"),
            "back" if c >= 2 => missed += 1,
            other => panic!("client {c}: {other}"),
        }
    }
    while let Ok(ev) = s2.events.try_recv() {
        seen2.push(ev);
    }
    let gaps: Vec<&ClusterEv> = seen2
        .iter()
        .filter(|e| matches!(e, ClusterEv::Gap { .. }))
        .collect();
    match missed {
        0 => assert!(gaps.is_empty(), "{gaps:?}"),
        1 => panic!("one subscriber of a server missed what the other got"),
        _ => assert_eq!(
            gaps,
            [&ClusterEv::Gap {
                topic: topic.clone(),
                node: s1.id.clone(),
                missed: Some(1)
            }]
        ),
    }
}
