//! Connections over TCP and TLS, driven by one event loop.
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
//! HTTP CONNECT or SOCKS5 proxies ([`ProxyConfig`]).

mod client;
mod config;
mod conn;
mod dns;
mod env_proxy;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod handle;
mod handler;
mod proxy;
mod pubsub;
mod reactor;
mod reconnect;
mod redial;
mod server;
mod shared;
mod socket;
mod stats;
mod timer;
mod tls;
mod transport;
mod tunnel;

pub use config::{
    Backpressure, ClientConfig, Keepalive, ServerConfig, TlsClientConfig, TlsServerConfig,
};
pub use error::{Error, ErrorKind};
pub use handle::{Conn, ConnState, EventLoop, LoopHandle, LoopThread, Server};
pub use handler::{Close, Ctx, Handler, Open, Refusal, ServerHandler, Upgrade};
pub use proxy::{ProxyConfig, ProxyKind};
pub use pubsub::SlowSubscriber;
pub use reconnect::{Backoff, ReconnectPolicy};
pub use stats::{LiveObjects, stats};
