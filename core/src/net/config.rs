//! Options of clients and servers, with the documented defaults.

use std::path::PathBuf;
use std::time::Duration;

use super::dns::Resolver;
use super::proxy::ProxyConfig;
use super::reconnect::ReconnectPolicy;
use super::topics::SlowSubscriber;
use crate::defaults;
use crate::proto;
use crate::proto::DeflateConfig;
use crate::proto::handshake::Limits;

/// Keepalive: a ping every `interval`; no pong within `timeout` drops the
/// connection (reported as 1006).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Time between pings (default 30 s).
    pub interval: Duration,
    /// Time to wait for the pong (default 30 s).
    pub timeout: Duration,
}

/// Send-queue marks. Past `high_water` queued bytes, `send` reports
/// [`super::ErrorKind::WouldBlock`]; once the queue drains below `low_water`,
/// [`super::Handler::on_writable`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backpressure {
    /// Default 16 MiB + 1 MiB, so a maximum-size message always fits an empty queue.
    pub high_water: usize,
    /// Default 256 KiB.
    pub low_water: usize,
}

/// Bounds of a connection's inbox, for pull-mode delivery (see
/// [`super::Conn::recv`]): reading the connection pauses once
/// `high_messages` messages or `high_bytes` bytes wait, and resumes once at
/// most `low_messages` and `low_bytes` do. At most `high_bytes` plus one
/// message are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxLimits {
    /// Default 16 (python-websockets' `max_queue`).
    pub high_messages: usize,
    /// Default 4 (a quarter of the high mark, as python-websockets does).
    pub low_messages: usize,
    /// Default 32 MiB: two messages of the default maximum size.
    pub high_bytes: usize,
    /// Default 8 MiB.
    pub low_bytes: usize,
}

/// TLS options of a client. The default verifies certificates and host names
/// against the Mozilla roots, with no extra CA and no client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsClientConfig {
    /// Extra trusted CA certificates (PEM), added to the Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// A client certificate chain and its private key (PEM files).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Turns certificate and hostname verification off. For tests only.
    pub danger_disable_verification: bool,
}

/// TLS options of a server: its certificate chain and private key (PEM
/// files), and whether it asks clients for certificates. A TLS server
/// advertises ALPN `http/1.1` only, so a browser never tries WebSocket over
/// HTTP/2 with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerConfig {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key.
    pub key_file: PathBuf,
    /// Mutual TLS: ask clients for a certificate (default `None`: none asked).
    pub client_auth: Option<ClientAuth>,
}

/// Mutual TLS: a server asks each client for a certificate and verifies it
/// against `ca_file` (and the revocation lists of `crl_files`) during the TLS
/// handshake. A verified chain and its subject are visible in the upgrade
/// decision and on the connection ([`super::Conn::peer_identity`]), for the
/// application to authorise by identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    /// The CA certificates (PEM) client certificates must chain to.
    pub ca_file: PathBuf,
    /// `true`: a client without a valid certificate fails the TLS handshake.
    /// `false` ("request"): a client may send none (and has no identity),
    /// but one it sends must be valid.
    pub required: bool,
    /// Certificate revocation lists (PEM): a revoked client certificate
    /// fails the TLS handshake.
    pub crl_files: Vec<PathBuf>,
}

/// Options of one client connection.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Frame and message limits, automatic pongs, streaming.
    pub protocol: proto::Config,
    /// Handshake header limits for the response.
    pub limits: Limits,
    /// Subprotocols offered, in order of preference.
    pub subprotocols: Vec<String>,
    /// Extra request headers (Authorization, Cookie, ...).
    pub headers: Vec<(String, String)>,
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// Time allowed for name resolution and TCP connect (default 10 s).
    pub connect_timeout: Duration,
    /// Time allowed for the TLS and WebSocket handshakes (default 10 s).
    pub handshake_timeout: Duration,
    /// Time to wait for the peer's close frame and TCP close (default 5 s).
    pub close_timeout: Duration,
    /// Keepalive pings (default every 30 s, 30 s timeout).
    pub keepalive: Option<Keepalive>,
    /// Drop the connection after this long with nothing received (default off).
    pub idle_timeout: Option<Duration>,
    /// Send-queue marks.
    pub backpressure: Backpressure,
    /// Pull-mode delivery: messages wait in a bounded inbox, taken with
    /// [`super::Conn::recv`], announced by [`super::Handler::on_readable`]
    /// (and not given to [`super::Handler::on_message`]). Default `None`:
    /// every message goes to `on_message`.
    pub inbox: Option<InboxLimits>,
    /// TLS options for `wss://`.
    pub tls: TlsClientConfig,
    /// TCP_NODELAY (default on).
    pub nodelay: bool,
    /// permessage-deflate to offer, used when the server accepts (default
    /// on, [`DeflateConfig::default`]: browsers offer it too). `None` offers
    /// no compression.
    pub compression: Option<DeflateConfig>,
    /// Reconnect with backoff when the connection drops (default off); see
    /// [`ReconnectPolicy`] for what is retried and the events that tell.
    pub reconnect: Option<ReconnectPolicy>,
    /// A proxy to connect through (default none).
    pub proxy: Option<ProxyConfig>,
    /// With no `proxy` set, use the one the environment names
    /// (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`; see
    /// [`ProxyConfig::from_env`]). Default off.
    pub proxy_from_env: bool,
    /// Resolves host names instead of the system resolver (default none).
    pub resolver: Option<Resolver>,
    /// Connect to this Unix domain socket instead of the URL's host and
    /// port (default none; Unix systems only). The URL still gives the
    /// scheme (`wss://` runs TLS over the socket, verifying the URL's host
    /// name), the `Host` header and the resource. A `ws+unix:` URL sets it
    /// (see [`super::LoopHandle::connect`]). No proxy is used.
    pub unix_socket_path: Option<PathBuf>,
}

/// Options of a listening server.
///
/// Keepalive is on by default for servers too (a ping every 30 s, 30 s to
/// answer): a server is where dead peers pile up, and every conforming client
/// (browsers included) answers pings by itself.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on: a name, IPv4 or IPv6 (default `127.0.0.1`).
    pub host: String,
    /// Port to listen on; 0 picks a free one (read it from [`super::Server::local_addr`]).
    pub port: u16,
    /// Frame and message limits, automatic pongs, streaming.
    pub protocol: proto::Config,
    /// Handshake header limits for requests.
    pub limits: Limits,
    /// Subprotocols supported, in order of preference; the first the client
    /// also offers is chosen.
    pub subprotocols: Vec<String>,
    /// Allowed `Origin` values; `None` allows any (and requests without one).
    pub origins: Option<Vec<String>>,
    /// TLS for `wss://`.
    pub tls: Option<TlsServerConfig>,
    /// Most open connections at once (default 10,000). At the limit a new
    /// TCP connection takes the place of the oldest unfinished handshake;
    /// if every connection finished its handshake, it is closed at once.
    pub max_connections: usize,
    /// Most unfinished handshakes at once (default 1,000). At the limit a new
    /// connection takes the place of the oldest one (the one pending
    /// longest), which is closed without an error report (counted by
    /// [`super::Server::evicted_handshakes`]): a slowloris attack holding
    /// the limit full cannot lock out clients that finish their handshake
    /// before that many newer connections arrive.
    pub max_pending_handshakes: usize,
    /// Time allowed for the TLS and WebSocket handshakes (default 10 s).
    pub handshake_timeout: Duration,
    /// Time to wait for the peer's close frame and TCP close (default 5 s).
    pub close_timeout: Duration,
    /// Keepalive pings (default every 30 s, 30 s timeout).
    pub keepalive: Option<Keepalive>,
    /// Drop a connection after this long with nothing received (default off).
    pub idle_timeout: Option<Duration>,
    /// Send-queue marks.
    pub backpressure: Backpressure,
    /// Pull-mode delivery for every connection (see
    /// [`ClientConfig::inbox`]). Default `None`.
    pub inbox: Option<InboxLimits>,
    /// TCP_NODELAY (default on).
    pub nodelay: bool,
    /// permessage-deflate to accept when a client offers it (default off:
    /// each compressing connection costs up to ~300 KiB, see
    /// [`crate::proto::extension::deflate`]); `None` declines every offer.
    /// [`super::Server::publish`] shares one compressed payload among the
    /// subscribers that agreed `server_no_context_takeover` (set it here to
    /// have every client agree); the others get the message uncompressed.
    pub compression: Option<DeflateConfig>,
    /// What [`super::Server::publish`] does with a subscriber whose send
    /// queue is past its high-water mark (default: skip it for that message).
    pub slow_subscriber: SlowSubscriber,
    /// Join a cluster of servers sharing topics through Redis (default
    /// none: [`super::Server::publish`] reaches this server's subscribers
    /// only). See [`ClusterConfig`].
    pub cluster: Option<ClusterConfig>,
    /// Listen on this Unix domain socket instead of `host` and `port`
    /// (default none; Unix systems only). The file takes the permissions
    /// the umask leaves, and is removed when the server closes. A file
    /// already there is an error, unless `remove_stale_socket` allows
    /// removing a stale one.
    pub unix_socket_path: Option<PathBuf>,
    /// With `unix_socket_path`: a socket file no server accepts on (left by
    /// a server that did not close) is removed before listening (default
    /// off: refused with an error). A live server's socket, and a file that
    /// is not a socket, are never removed.
    pub remove_stale_socket: bool,
    /// Bind with `SO_REUSEPORT` (default off), so that several servers, in
    /// this process or others, each with this option, listen on one port
    /// and the kernel spreads new connections among them. Linux, macOS and
    /// the BSDs; refused elsewhere ("not supported on this platform") and
    /// with `unix_socket_path`. Without it a port another socket listens on
    /// cannot be bound.
    pub reuse_port: bool,
    /// Event loops the server's connections are spread over (default 1,
    /// at most [`MAX_SERVER_LOOPS`]). Loop 0 is the loop the server was
    /// created on; with `loops` = N the server starts N - 1 loop threads of
    /// its own ("wsx-loop-1"...), which it stops and joins when it shuts
    /// down or its loop stops. Each connection lives on one loop, and the
    /// callbacks of a connection (its [`super::Handler`]) run on that
    /// loop's thread, so with more than one loop handlers run on several
    /// threads at once: what they share must be thread-safe. The
    /// [`super::ServerHandler`] is shared by the loops and called by one
    /// loop at a time (under a lock); its `on_shutdown` runs once, when
    /// every loop has finished. [`super::Server::publish`] reaches the
    /// subscribers on every loop, once each; the figures, the limits
    /// (`max_connections` counts the whole server; each loop holds its
    /// share of `max_pending_handshakes`) and the drain cover every loop.
    /// How new connections reach the loops: see [`Balance`].
    pub loops: usize,
    /// How a server with several [`loops`](Self::loops) spreads new
    /// connections over them (default [`Balance::Auto`]).
    pub balance: Balance,
}

/// The most event loops one server may spread over
/// ([`ServerConfig::loops`]).
pub const MAX_SERVER_LOOPS: usize = 256;

/// How a server spread over several loops ([`ServerConfig::loops`]) hands
/// new connections to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balance {
    /// The kernel where it balances (`SO_REUSEPORT` on Linux, TCP), else
    /// round-robin (default).
    #[default]
    Auto,
    /// Every loop listens on the port with a socket of its own bound with
    /// `SO_REUSEPORT` (so [`ServerConfig::reuse_port`] is implied), and the
    /// kernel spreads new connections among them by a hash of their
    /// addresses: no hand-off between threads. Linux only (elsewhere
    /// `SO_REUSEPORT` does not balance), TCP only.
    Kernel,
    /// Loop 0 accepts every connection and hands them to the loops in turn
    /// (loop 0 included): an even spread on any system, for TCP and Unix
    /// domain sockets, at the cost of one hand-off per connection.
    RoundRobin,
}

/// What a publication does when the queue of publications waiting for the
/// broker is full (see [`ClusterConfig::max_queued`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueFull {
    /// The oldest waiting publication is dropped to make room (default):
    /// what arrives after the broker comes back is the most recent state.
    #[default]
    DropOldest,
    /// The new publication is not queued for the broker (local subscribers
    /// still get it).
    DropNewest,
}

/// How a server joins a cluster: other servers with the same Redis and
/// prefix share its topics. A publication reaches this server's subscribers
/// at once and every other node's through Redis pub/sub.
///
/// Redis pub/sub delivers at most once; every publication carries its
/// node's id, an epoch (new at each start) and a sequence number per topic,
/// so a receiving node tells lost publications apart
/// ([`super::ServerHandler::on_cluster_gap`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS.
    pub url: String,
    /// Prefix of the Redis channel names (default `"wsx:"`): the channel of
    /// topic `t` is `prefix + t`, so several applications can share a Redis.
    pub prefix: String,
    /// This node's id, carried by its publications (at most 255 bytes);
    /// `None` (default) generates a random one.
    pub node_id: Option<String>,
    /// Sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7) instead of
    /// `PUBLISH`/`SUBSCRIBE` (default false). Against a Redis Cluster (the
    /// URL names any of its nodes), the server reads the topology
    /// (`CLUSTER SHARDS`) and sends each channel to the master that serves
    /// its hash slot, with one link per master that serves a subscribed
    /// topic or a publication (plus the link to the URL's host); it follows
    /// `MOVED` answers and slots that move, and re-subscribes each shard's
    /// topics when its link comes back. A publication then crosses one shard
    /// instead of every node (classic `PUBLISH` in a Redis Cluster is
    /// forwarded to every node). A hash tag in the prefix (`"{chat}:"`)
    /// puts every channel on one shard. Against a Redis that is not a
    /// cluster, one link carries everything. The user needs the `CLUSTER`
    /// command (ACL) to use a Redis Cluster.
    pub sharded: bool,
    /// How the link to Redis reconnects: the same backoff with full jitter
    /// as reconnecting clients. Only the delays, `max_attempts`,
    /// `reset_after` and `jitter` apply.
    pub reconnect: ReconnectPolicy,
    /// Most publications waiting for the broker (default 10,000; at least
    /// 1): while it is down, and while it reads slower than the server
    /// publishes.
    pub max_queued: usize,
    /// Most bytes of publications waiting for the broker (default 16 MiB;
    /// at least 1).
    pub max_queued_bytes: usize,
    /// What a publication does when the queue is full (default: the oldest
    /// is dropped). A dropped publication used its sequence number, so the
    /// other nodes report it as a gap.
    pub queue_full: QueueFull,
    /// Time allowed to connect to Redis and finish `HELLO` (default 5 s).
    pub connect_timeout: Duration,
    /// A `PING` goes to Redis after this long without traffic, and the link
    /// is dropped if nothing came back after as long again (default 5 s).
    pub keepalive: Duration,
    /// TLS options for `rediss://`.
    pub tls: TlsClientConfig,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "wsx:".to_owned(),
            node_id: None,
            sharded: false,
            reconnect: ReconnectPolicy::default(),
            max_queued: 10_000,
            max_queued_bytes: 16 * 1024 * 1024,
            queue_full: QueueFull::DropOldest,
            connect_timeout: Duration::from_secs(5),
            keepalive: Duration::from_secs(5),
            tls: TlsClientConfig::default(),
        }
    }
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            interval: defaults::KEEPALIVE_INTERVAL,
            timeout: defaults::KEEPALIVE_TIMEOUT,
        }
    }
}

impl Default for Backpressure {
    fn default() -> Self {
        Backpressure {
            high_water: defaults::HIGH_WATER,
            low_water: defaults::LOW_WATER,
        }
    }
}

impl Default for InboxLimits {
    fn default() -> Self {
        InboxLimits::messages(16, None)
    }
}

impl InboxLimits {
    /// Marks of `high` messages and `low` (default: a quarter of `high`, as
    /// python-websockets' `max_queue` does), with the default byte marks.
    /// Validated with the configuration that holds them.
    pub fn messages(high: usize, low: Option<usize>) -> InboxLimits {
        InboxLimits {
            high_messages: high,
            low_messages: low.unwrap_or(high / 4),
            high_bytes: 32 * 1024 * 1024,
            low_bytes: 8 * 1024 * 1024,
        }
    }

    /// No bound: reading never pauses for the inbox.
    pub fn unbounded() -> InboxLimits {
        InboxLimits {
            high_messages: usize::MAX,
            low_messages: usize::MAX - 1,
            high_bytes: usize::MAX,
            low_bytes: usize::MAX - 1,
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            protocol: proto::Config::default(),
            limits: Limits::default(),
            subprotocols: Vec::new(),
            headers: Vec::new(),
            origin: None,
            connect_timeout: defaults::CONNECT_TIMEOUT,
            handshake_timeout: defaults::HANDSHAKE_TIMEOUT,
            close_timeout: defaults::CLOSE_TIMEOUT,
            keepalive: Some(Keepalive::default()),
            idle_timeout: None,
            backpressure: Backpressure::default(),
            inbox: None,
            tls: TlsClientConfig::default(),
            nodelay: true,
            compression: Some(DeflateConfig::default()),
            reconnect: None,
            proxy: None,
            proxy_from_env: defaults::PROXY_FROM_ENV,
            resolver: None,
            unix_socket_path: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: defaults::SERVER_HOST.to_owned(),
            port: 0,
            protocol: proto::Config::default(),
            limits: Limits::default(),
            subprotocols: Vec::new(),
            origins: None,
            tls: None,
            max_connections: defaults::MAX_CONNECTIONS,
            max_pending_handshakes: defaults::MAX_PENDING_HANDSHAKES,
            handshake_timeout: defaults::HANDSHAKE_TIMEOUT,
            close_timeout: defaults::CLOSE_TIMEOUT,
            keepalive: Some(Keepalive::default()),
            idle_timeout: None,
            backpressure: Backpressure::default(),
            inbox: None,
            nodelay: true,
            compression: None,
            slow_subscriber: defaults::SLOW_SUBSCRIBER,
            cluster: None,
            unix_socket_path: None,
            remove_stale_socket: false,
            reuse_port: false,
            loops: defaults::SERVER_LOOPS,
            balance: Balance::Auto,
        }
    }
}
