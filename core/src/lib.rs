//! # wsx-core
//!
//! The engine of wsx, a WebSocket (RFC 6455) library for clients and servers.
//!
//! - [`proto`] is the sans-I/O protocol: opening handshake, framing, masking,
//!   message assembly, UTF-8 validation, control frames and the close
//!   handshake. It consumes bytes and produces events and bytes to write; it
//!   never touches a socket, a clock or a thread.
//! - [`net`] drives [`proto`] over TCP and TLS with one event loop that can be
//!   polled from a game's frame loop or run on a thread of its own.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod defaults;
pub mod net;
pub mod proto;
