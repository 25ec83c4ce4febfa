//! The default value of every option, read from the core's one table
//! (`wsx_core::defaults`, through the configs' `Default`), so C and the
//! bindings over C (C#) never write a default of their own.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;
use std::time::Duration;

use wsx_core::net::{ClientConfig, InboxLimits, ServerConfig};

use crate::boundary::{Extensible, ffi_call, write_sized};
use crate::pubsub::wsx_slow_subscriber;
use crate::result::wsx_result;

/// The default of every option of `wsx_client_options` and
/// `wsx_server_options`, as the setters take them (sizes in bytes, times in
/// ms, 0 for "off"), filled by `wsx_defaults_get`. The defaults of
/// permessage-deflate and reconnecting come from
/// `wsx_deflate_options_default` and `wsx_reconnect_options_default`.
///
/// Extensible: set `struct_size = sizeof(wsx_defaults)` before
/// `wsx_defaults_get`; fields may be added at the end in later versions.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wsx_defaults {
    /// `sizeof(wsx_defaults)` as the caller was compiled with (kept by the call).
    pub struct_size: usize,
    /// Largest message accepted (16 MiB).
    pub max_message_size: usize,
    /// Largest single frame accepted (16 MiB).
    pub max_frame_size: usize,
    /// Most bytes of a handshake's header block (8 KiB).
    pub max_header_bytes: usize,
    /// Most header lines of a handshake (64).
    pub max_headers: usize,
    /// Client: time for name resolution and TCP connect (10 000).
    pub connect_timeout_ms: u32,
    /// Time for the TLS and WebSocket handshakes (10 000).
    pub handshake_timeout_ms: u32,
    /// Time to wait for the peer's close frame and TCP close (5 000).
    pub close_timeout_ms: u32,
    /// Time between keepalive pings; 0 is off (30 000).
    pub keepalive_interval_ms: u32,
    /// Time to wait for a keepalive pong (30 000).
    pub keepalive_timeout_ms: u32,
    /// Time with nothing received before the connection drops; 0 is off (0).
    pub idle_timeout_ms: u32,
    /// Send-queue high-water mark (17 MiB).
    pub high_water: usize,
    /// Send-queue low-water mark (256 KiB).
    pub low_water: usize,
    /// TCP_NODELAY (true).
    pub nodelay: bool,
    /// Pings answered automatically (true).
    pub auto_pong: bool,
    /// Clients offer permessage-deflate (true).
    pub client_compression: bool,
    /// Servers accept permessage-deflate (false).
    pub server_compression: bool,
    /// Server: the address to listen on ("127.0.0.1"); static, never freed.
    pub server_host: *const c_char,
    /// Server: the port to listen on (0: a free one).
    pub server_port: u16,
    /// Server: most open connections at once (10 000).
    pub max_connections: usize,
    /// Server: most unfinished handshakes at once (1 000).
    pub max_pending_handshakes: usize,
    /// Client: TLS certificates and host names are verified (true).
    pub verify_certificates: bool,
    /// Pull mode: messages in the inbox that pause reading (16).
    pub inbox_high_messages: usize,
    /// Pull mode: messages at or below which reading resumes (4).
    pub inbox_low_messages: usize,
    /// Pull mode: bytes in the inbox that pause reading (32 MiB).
    pub inbox_high_bytes: usize,
    /// Pull mode: bytes at or below which reading resumes (8 MiB).
    pub inbox_low_bytes: usize,
    /// Binary messages refused with 1003 (false). Added in 0.2.
    pub reject_binary: bool,
    /// Client: the proxy read from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`
    /// (false). Added in 0.2.
    pub proxy_from_env: bool,
    /// Server: what a publication does with a subscriber past its
    /// high-water mark (`WSX_SLOW_SUBSCRIBER_SKIP`). Added in 0.2.
    pub slow_subscriber: wsx_slow_subscriber,
    /// Server: event loops (threads) its connections spread over (1: the
    /// loop it is created on, see `wsx_server_options_set_loops`). Added
    /// in 0.2.
    pub server_loops: usize,
}

// SAFETY: repr(C), `struct_size` first; the library writes it, never reads
// more than the size.
unsafe impl Extensible for wsx_defaults {
    const NAME: &'static str = "wsx_defaults";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_defaults, max_frame_size);
    fn base() -> Self {
        defaults()
    }
}

fn ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// The server's default host as a C string, made once.
fn server_host(host: &str) -> *const c_char {
    static HOST: OnceLock<CString> = OnceLock::new();
    HOST.get_or_init(|| CString::new(host).unwrap_or_default())
        .as_ptr()
}

fn defaults() -> wsx_defaults {
    let (c, s) = (ClientConfig::default(), ServerConfig::default());
    let keepalive = c.keepalive.unwrap_or(wsx_core::net::Keepalive {
        interval: Duration::ZERO,
        timeout: Duration::ZERO,
    });
    let inbox = InboxLimits::default();
    wsx_defaults {
        struct_size: 0,
        max_message_size: c.protocol.max_message_size,
        max_frame_size: c.protocol.max_frame_size,
        max_header_bytes: c.limits.max_header_bytes,
        max_headers: c.limits.max_headers,
        connect_timeout_ms: ms(c.connect_timeout),
        handshake_timeout_ms: ms(c.handshake_timeout),
        close_timeout_ms: ms(c.close_timeout),
        keepalive_interval_ms: ms(keepalive.interval),
        keepalive_timeout_ms: ms(keepalive.timeout),
        idle_timeout_ms: c.idle_timeout.map_or(0, ms),
        high_water: c.backpressure.high_water,
        low_water: c.backpressure.low_water,
        nodelay: c.nodelay,
        auto_pong: c.protocol.auto_pong,
        client_compression: c.compression.is_some(),
        server_compression: s.compression.is_some(),
        server_host: server_host(&s.host),
        server_port: s.port,
        max_connections: s.max_connections,
        max_pending_handshakes: s.max_pending_handshakes,
        verify_certificates: !c.tls.danger_disable_verification,
        inbox_high_messages: inbox.high_messages,
        inbox_low_messages: inbox.low_messages,
        inbox_high_bytes: inbox.high_bytes,
        inbox_low_bytes: inbox.low_bytes,
        reject_binary: c.protocol.reject_binary,
        proxy_from_env: c.proxy_from_env,
        slow_subscriber: wsx_slow_subscriber::from_core(s.slow_subscriber),
        server_loops: s.loops,
    }
}

/// Writes the defaults of every option to `*out_defaults`, whose
/// `struct_size` the caller set: at most that many bytes are written, so a
/// program built with an older, shorter struct keeps working.
///
/// # Safety
/// `out_defaults` is NULL or has `out_defaults->struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_defaults_get(out_defaults: *mut wsx_defaults) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| unsafe { write_sized(out_defaults, defaults(), "out_defaults") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_cores() {
        let mut d = std::mem::MaybeUninit::<wsx_defaults>::zeroed();
        // SAFETY: a zeroed struct is a valid one (NULL host, zeros, false).
        unsafe { (*d.as_mut_ptr()).struct_size = size_of::<wsx_defaults>() };
        // SAFETY: a writable struct of the full size.
        let result = unsafe { wsx_defaults_get(d.as_mut_ptr()) };
        assert_eq!(result, wsx_result::WSX_OK);
        // SAFETY: fully written above.
        let d = unsafe { d.assume_init() };
        assert_eq!(d.struct_size, size_of::<wsx_defaults>());
        assert_eq!(d.inbox_high_messages, InboxLimits::default().high_messages);
        use wsx_core::defaults as core;
        assert_eq!(d.max_message_size, core::MAX_MESSAGE_SIZE);
        assert_eq!(d.close_timeout_ms, ms(core::CLOSE_TIMEOUT));
        assert_eq!(d.keepalive_interval_ms, ms(core::KEEPALIVE_INTERVAL));
        assert_eq!(d.high_water, core::HIGH_WATER);
        assert_eq!(d.max_pending_handshakes, core::MAX_PENDING_HANDSHAKES);
        assert_eq!(d.reject_binary, core::REJECT_BINARY);
        assert_eq!(d.proxy_from_env, core::PROXY_FROM_ENV);
        assert_eq!(d.server_loops, core::SERVER_LOOPS);
        assert_eq!(
            d.slow_subscriber,
            wsx_slow_subscriber::from_core(core::SLOW_SUBSCRIBER)
        );
        // SAFETY: a static NUL-terminated string.
        let host = unsafe { std::ffi::CStr::from_ptr(d.server_host) };
        assert_eq!(host.to_str().unwrap(), core::SERVER_HOST);
        // SAFETY: NULL is refused before anything is written.
        let result = unsafe { wsx_defaults_get(std::ptr::null_mut()) };
        assert_eq!(result, wsx_result::WSX_ERR_NULL);
    }
}
