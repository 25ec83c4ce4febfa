//! The C ABI of wsx: opaque handles over `wsx_core::net`, generated into
//! `include/wsx.h` by cbindgen.
//!
//! This crate holds no protocol logic. It converts types, checks pointers,
//! catches panics, maps errors to result codes and owns handle lifetimes.
//! Every entry point goes through `boundary`.
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

// The modules are in the order the header shows their functions: results,
// loop, client, server, connection, options, pub/sub, defaults, debugging.
mod boundary;
pub mod callbacks;
pub mod client;
pub mod cluster;
pub mod conn;
pub mod defaults;
pub mod engine;
pub mod event_loop;
pub mod events;
pub mod inject;
pub mod options;
pub mod pubsub;
pub mod resilience;
pub mod resolver;
pub mod result;
pub mod server;
pub mod stats;
pub mod telemetry;
pub mod tls_layer;
pub mod unix_socket;
