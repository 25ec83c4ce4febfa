//! Connections over TCP (or Unix domain sockets) and TLS, driven by one
//! event loop.
//!
//! An [`EventLoop`] owns sockets, TLS sessions, timers and a wake-up channel.
//! Poll it from a frame loop ([`EventLoop::poll`], callbacks run on the
//! calling thread) or give it a thread of its own ([`EventLoop::spawn`]).
//! [`LoopHandle`], [`Conn`] and [`Server`] are cheap to clone and may be used
//! from any thread: what they ask for is queued and the loop is woken.
//!
//! Events reach the application through [`Handler`] (one per connection) and
//! [`ServerHandler`] (one per listening server).
//!
//! Clients may reconnect by themselves ([`ReconnectPolicy`]) and go through
//! HTTP CONNECT or SOCKS5 proxies ([`ProxyConfig`]). Servers on several
//! machines share their topics through Redis ([`ClusterConfig`]).

mod cluster;
mod config;
mod conn;
mod decision;
mod dial;
mod dns;
mod driven;
mod env_proxy;
mod error;
mod event_loop;
mod fragments;
#[doc(hidden)]
pub mod fuzzing;
mod handle;
mod handler;
mod identity;
mod inbox;
mod listener;
mod peer;
mod proxy;
mod pubsub;
mod queue;
mod reactor;
mod reconnect;
mod redial;
mod reuse_port;
mod shared;
mod socket;
mod spread;
mod state;
mod stats;
mod tally;
pub mod telemetry;
mod timer;
mod tls;
pub mod tls_layer;
mod topics;
mod transport;
mod tunnel;
#[cfg(unix)]
mod unix;
mod validate;
mod worker;
mod write;

pub use cluster::{ClusterGap, ClusterState, ClusterStats};
pub use config::{
    Backpressure, Balance, ClientAuth, ClientConfig, ClusterConfig, InboxLimits, Keepalive,
    MAX_SERVER_LOOPS, QueueFull, ServerConfig, TlsClientConfig, TlsServerConfig,
};
pub use decision::{PendingAttempt, PendingUpgrade};
pub use dns::{PendingLookup, Resolver, end_idle_resolvers};
pub use driven::{DrivenLoop, Driving, Follower};
pub use error::{Error, ErrorKind, Timeout};
pub use event_loop::{EventLoop, LoopHandle, LoopThread};
pub use handle::{Conn, Server};
pub use handler::{Attempt, Close, Ctx, Handler, Open, Refusal, ServerHandler, Upgrade};
pub use identity::PeerIdentity;
pub use inbox::Message;
pub use peer::PeerAddr;
pub use proxy::{ProxyConfig, ProxyKind};
pub use reconnect::{Backoff, DEFAULT_RETRY_CODES, ReconnectPolicy};
pub use state::{CloseInfo, CloseOrigin, ConnState};
pub use stats::{LiveObjects, stats};
pub use telemetry::Metrics;
pub use topics::SlowSubscriber;
