//! The one table of default option values.
//!
//! The `Default` impls of [`crate::net::ClientConfig`],
//! [`crate::net::ServerConfig`], [`crate::net::ReconnectPolicy`],
//! [`crate::proto::Config`], [`crate::proto::handshake::Limits`] and
//! [`crate::proto::DeflateConfig`] read these constants, and every binding
//! reads them too (the C API through `wsx_defaults_get`, Python through
//! `wsx._wsx.defaults()`, C# through the C API), so a default is written
//! once, here.

use std::time::Duration;

/// Largest message accepted, assembled: 16 MiB.
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;
/// Largest single frame accepted: 16 MiB.
pub const MAX_FRAME_SIZE: usize = 16 << 20;

/// Most bytes of a handshake's request or status line and headers: 8 KiB.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Most header lines of a handshake: 64.
pub const MAX_HEADERS: usize = 64;

/// Time allowed for name resolution and TCP connect: 10 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for the TLS and WebSocket handshakes: 10 s.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time to wait for the peer's close frame and TCP close: 5 s.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Time between keepalive pings, clients and servers alike: 30 s.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// Time to wait for the pong of a keepalive ping: 30 s.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(30);

/// Send-queue high-water mark: 16 MiB + 1 MiB, so a message of
/// [`MAX_MESSAGE_SIZE`] always fits an empty queue.
pub const HIGH_WATER: usize = MAX_MESSAGE_SIZE + (1 << 20);
/// Send-queue low-water mark: 256 KiB.
pub const LOW_WATER: usize = 256 * 1024;

/// Binary messages are accepted (a connection may refuse them with 1003).
pub const REJECT_BINARY: bool = false;
/// Clients do not read a proxy from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`
/// unless asked to.
pub const PROXY_FROM_ENV: bool = false;
/// A published message skips a subscriber past its send queue's
/// high-water mark (rather than dropping the subscriber).
pub const SLOW_SUBSCRIBER: crate::net::SlowSubscriber = crate::net::SlowSubscriber::Skip;

/// The address a server listens on.
pub const SERVER_HOST: &str = "127.0.0.1";
/// Most open connections of a server at once.
pub const MAX_CONNECTIONS: usize = 10_000;
/// Most unfinished handshakes of a server at once.
pub const MAX_PENDING_HANDSHAKES: usize = 1_000;
/// Event loops (threads) a server's connections are spread over: 1, the
/// loop the server was created on, and no thread of its own.
pub const SERVER_LOOPS: usize = 1;

/// The ceiling of the first reconnect wait: 500 ms.
pub const RECONNECT_INITIAL_DELAY: Duration = Duration::from_millis(500);
/// How much the reconnect wait's ceiling grows per attempt: 2.
pub const RECONNECT_FACTOR: f64 = 2.0;
/// The largest reconnect wait ceiling: 30 s.
pub const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(30);
/// A connection open this long starts the reconnect backoff afresh: 10 s.
pub const RECONNECT_RESET_AFTER: Duration = Duration::from_secs(10);

/// permessage-deflate: the largest LZ77 window, as a power of two (both sides).
pub const DEFLATE_MAX_WINDOW_BITS: u8 = 15;
/// permessage-deflate: the compression level (zlib's default).
pub const DEFLATE_LEVEL: u32 = 6;
/// permessage-deflate: messages shorter than this many bytes go uncompressed.
pub const DEFLATE_THRESHOLD: usize = 64;
