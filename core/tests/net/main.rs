//! The network layer's tests (`wsx_core::net`) in one binary: one link
//! instead of one per file keeps `cargo test` quick. A file whose checks read
//! process-wide state (the global allocator, the logger, the process's
//! threads) stays a binary of its own: `net_memory`, `net_telemetry`,
//! `net_pubsub`.

mod util;

mod cluster;
mod deferred;
mod delivery;
mod drain;
mod driven;
mod echo;
mod faults;
mod flow;
mod happy_eyeballs;
mod http;
mod load;
mod modes;
mod mtls;
mod proxy;
mod reconnect;
mod tls;
