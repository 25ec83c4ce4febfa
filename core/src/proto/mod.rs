//! The sans-I/O WebSocket protocol (RFC 6455).
//!
//! Nothing here touches a socket, a clock or a thread: bytes go in, events and
//! bytes to write come out. Modules follow the RFC's own terms. Like the
//! whole crate, it has no `unsafe` code (`#![forbid(unsafe_code)]` at the root).

pub mod close;
pub mod connection;
pub mod engine;
pub mod error;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod message;
pub mod random;
pub mod url;

pub use close::{CloseCode, MAX_CLOSE_REASON, check_close};
pub use connection::{Config, Connection, Event, PreparedMessage, Role, Sender, State};
pub use error::{ProtocolError, SendError};
pub use extension::deflate::DeflateConfig;
pub use frame::MAX_CONTROL_PAYLOAD;
pub use handshake::HandshakeError;
pub use message::MessageKind;
pub use url::{UnixUrl, UrlError, WsUrl};
