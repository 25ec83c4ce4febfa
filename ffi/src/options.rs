//! Client and server options: opaque builders over the core's configs.
//!
//! Setters shared by both kinds are written once, generically over
//! [`Common`], and exported under each kind's name. The setters hold no
//! rule of their own: each one changes a copy of the config and keeps it
//! only if the core's `validate` accepts it, so a bad value is refused at
//! once, with the core's message naming the option.

use std::ffi::c_char;
use std::path::PathBuf;
use std::time::Duration;

use wsx_core::net::{Backpressure, ClientConfig, Keepalive, ServerConfig, TlsServerConfig};
use wsx_core::proto;
use wsx_core::proto::DeflateConfig;
use wsx_core::proto::handshake::{Limits, check_header};

use crate::boundary::{Failure, Outcome, arg_mut, arg_str, ffi_call, ffi_value, opt_str};
use crate::result::wsx_result;

/// Options of client connections, copied by `wsx_connect`. Not thread-safe:
/// set it up on one thread.
#[derive(Clone)]
pub struct wsx_client_options {
    pub(crate) config: ClientConfig,
    /// Called around each connect attempt (`wsx_client_options_set_hooks`).
    pub(crate) hooks: crate::resilience::wsx_client_hooks,
    /// `wsx_client_options_set_reconnect_codes` (None: the default set).
    pub(crate) retry_codes: Option<Vec<u16>>,
}

/// Options of a server, copied by `wsx_listen`. Not thread-safe: set it up
/// on one thread.
#[derive(Clone)]
pub struct wsx_server_options {
    pub(crate) config: ServerConfig,
    /// Told of slow subscribers (`wsx_server_options_set_slow_subscriber`).
    pub(crate) on_slow_subscriber: crate::pubsub::wsx_on_slow_subscriber,
}

/// Options whose config the core validates.
pub(crate) trait Validated: Clone {
    /// The core's check of every option.
    fn validate(&self) -> Result<(), wsx_core::net::Error>;
}

impl Validated for wsx_client_options {
    fn validate(&self) -> Result<(), wsx_core::net::Error> {
        self.config.validate()
    }
}

impl Validated for wsx_server_options {
    fn validate(&self) -> Result<(), wsx_core::net::Error> {
        self.config.validate()
    }
}

/// The settings clients and servers share.
trait Common: Validated {
    fn protocol(&mut self) -> &mut proto::Config;
    fn limits(&mut self) -> &mut Limits;
    fn subprotocols(&mut self) -> &mut Vec<String>;
    fn handshake_timeout(&mut self) -> &mut Duration;
    fn close_timeout(&mut self) -> &mut Duration;
    fn keepalive(&mut self) -> &mut Option<Keepalive>;
    fn idle_timeout(&mut self) -> &mut Option<Duration>;
    fn backpressure(&mut self) -> &mut Backpressure;
    fn nodelay(&mut self) -> &mut bool;
    fn compression(&mut self) -> &mut Option<DeflateConfig>;
}

macro_rules! impl_common {
    ($options:ty) => {
        impl Common for $options {
            fn protocol(&mut self) -> &mut proto::Config {
                &mut self.config.protocol
            }
            fn limits(&mut self) -> &mut Limits {
                &mut self.config.limits
            }
            fn subprotocols(&mut self) -> &mut Vec<String> {
                &mut self.config.subprotocols
            }
            fn handshake_timeout(&mut self) -> &mut Duration {
                &mut self.config.handshake_timeout
            }
            fn close_timeout(&mut self) -> &mut Duration {
                &mut self.config.close_timeout
            }
            fn keepalive(&mut self) -> &mut Option<Keepalive> {
                &mut self.config.keepalive
            }
            fn idle_timeout(&mut self) -> &mut Option<Duration> {
                &mut self.config.idle_timeout
            }
            fn backpressure(&mut self) -> &mut Backpressure {
                &mut self.config.backpressure
            }
            fn nodelay(&mut self) -> &mut bool {
                &mut self.config.nodelay
            }
            fn compression(&mut self) -> &mut Option<DeflateConfig> {
                &mut self.config.compression
            }
        }
    };
}

impl_common!(wsx_client_options);
impl_common!(wsx_server_options);

/// Runs a setter on a copy of the options behind a C pointer and keeps the
/// copy if the core validates it: a refused value leaves the options alone.
///
/// # Safety
/// `options` is NULL or live and not used elsewhere during the call.
pub(crate) unsafe fn edit<T: Validated>(
    options: *mut T,
    f: impl FnOnce(&mut T) -> Outcome,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let options = unsafe { arg_mut(options, "options") }?;
        let mut changed = options.clone();
        f(&mut changed)?;
        changed.validate()?;
        *options = changed;
        Ok(())
    })
}

/// Boxes new options for C through an `out_*` pointer.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn new_options<T>(out: *mut *mut T, options: T) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let out = unsafe { arg_mut(out, "out_options") }?;
        *out = Box::into_raw(Box::new(options));
        Ok(())
    })
}

/// Frees options from [`new_options`]; NULL is a no-op.
///
/// # Safety
/// `options` is NULL or from `new_options`, freed once.
unsafe fn free_options<T>(options: *mut T) {
    if !options.is_null() {
        // SAFETY: the caller's promise.
        ffi_value((), || drop(unsafe { Box::from_raw(options) }));
    }
}

fn millis(ms: u32) -> Duration {
    Duration::from_millis(ms.into())
}

/// A header the application gives, checked by the core's rule (the name an
/// HTTP token, the value free of control characters).
pub(crate) fn header(name: &str, value: &str) -> Outcome<(String, String)> {
    check_header(name, value).map_err(|e| Failure::invalid(e.to_string()))?;
    Ok((name.to_owned(), value.to_owned()))
}

unsafe fn set_max_message_size<T: Common>(options: *mut T, bytes: usize) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.protocol().max_message_size = bytes;
            Ok(())
        })
    }
}

unsafe fn set_max_frame_size<T: Common>(options: *mut T, bytes: usize) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.protocol().max_frame_size = bytes;
            Ok(())
        })
    }
}

unsafe fn set_auto_pong<T: Common>(options: *mut T, on: bool) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.protocol().auto_pong = on;
            Ok(())
        })
    }
}

unsafe fn set_streaming<T: Common>(options: *mut T, on: bool) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.protocol().streaming = on;
            Ok(())
        })
    }
}

unsafe fn set_handshake_limits<T: Common>(
    options: *mut T,
    max_bytes: usize,
    max_headers: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            *o.limits() = Limits {
                max_header_bytes: max_bytes,
                max_headers,
            };
            Ok(())
        })
    }
}

unsafe fn add_subprotocol<T: Common>(options: *mut T, name: *const c_char) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.subprotocols()
                .push(arg_str(name, "subprotocol")?.to_owned());
            Ok(())
        })
    }
}

unsafe fn set_handshake_timeout<T: Common>(options: *mut T, ms: u32) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            *o.handshake_timeout() = millis(ms);
            Ok(())
        })
    }
}

unsafe fn set_close_timeout<T: Common>(options: *mut T, ms: u32) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            *o.close_timeout() = millis(ms);
            Ok(())
        })
    }
}

unsafe fn set_keepalive<T: Common>(
    options: *mut T,
    interval_ms: u32,
    timeout_ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            *o.keepalive() = match interval_ms {
                0 => None,
                _ => Some(Keepalive {
                    interval: millis(interval_ms),
                    timeout: millis(timeout_ms),
                }),
            };
            Ok(())
        })
    }
}

unsafe fn set_idle_timeout<T: Common>(options: *mut T, ms: u32) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            *o.idle_timeout() = (ms > 0).then(|| millis(ms));
            Ok(())
        })
    }
}

unsafe fn set_backpressure<T: Common>(
    options: *mut T,
    high_water: usize,
    low_water: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            *o.backpressure() = Backpressure {
                high_water,
                low_water,
            };
            Ok(())
        })
    }
}

unsafe fn set_nodelay<T: Common>(options: *mut T, on: bool) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            *o.nodelay() = on;
            Ok(())
        })
    }
}

unsafe fn set_reject_binary<T: Common>(options: *mut T, on: bool) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.protocol().reject_binary = on;
            Ok(())
        })
    }
}

unsafe fn set_compression<T: Common>(
    options: *mut T,
    deflate: *const wsx_deflate_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            *o.compression() = deflate.as_ref().map(|d| d.to_core());
            Ok(())
        })
    }
}

/// permessage-deflate (RFC 7692) settings, for
/// `wsx_client_options_set_compression` / `wsx_server_options_set_compression`.
/// Start from `wsx_deflate_options_default()`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct wsx_deflate_options {
    /// Largest LZ77 window of the client's compressor, as a power of two (8-15, default 15).
    pub client_max_window_bits: u8,
    /// Largest LZ77 window of the server's compressor (8-15, default 15).
    pub server_max_window_bits: u8,
    /// The client's compressor starts afresh for every message (default false).
    pub client_no_context_takeover: bool,
    /// The server's compressor starts afresh for every message (default false).
    pub server_no_context_takeover: bool,
    /// Compression level, 0 (stored) to 9 (smallest); default 6.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed (default 64).
    pub threshold: usize,
}

impl wsx_deflate_options {
    fn to_core(self) -> DeflateConfig {
        DeflateConfig {
            client_max_window_bits: self.client_max_window_bits,
            server_max_window_bits: self.server_max_window_bits,
            client_no_context_takeover: self.client_no_context_takeover,
            server_no_context_takeover: self.server_no_context_takeover,
            level: self.level,
            threshold: self.threshold,
        }
    }
}

/// The default permessage-deflate settings (windows 15, context takeover on
/// both sides, level 6, threshold 64 bytes).
#[unsafe(no_mangle)]
pub extern "C" fn wsx_deflate_options_default() -> wsx_deflate_options {
    let d = DeflateConfig::default();
    wsx_deflate_options {
        client_max_window_bits: d.client_max_window_bits,
        server_max_window_bits: d.server_max_window_bits,
        client_no_context_takeover: d.client_no_context_takeover,
        server_no_context_takeover: d.server_no_context_takeover,
        level: d.level,
        threshold: d.threshold,
    }
}

/// Creates client options with the defaults: 16 MiB message and frame limits,
/// 10 s connect and handshake timeouts, 5 s close timeout, a keepalive ping
/// every 30 s (30 s to answer), no idle timeout, TCP_NODELAY on, certificates
/// verified against the Mozilla roots. Free with `wsx_client_options_free`.
///
/// # Safety
/// `out_options` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_new(
    out_options: *mut *mut wsx_client_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        new_options(
            out_options,
            wsx_client_options {
                config: ClientConfig::default(),
                hooks: Default::default(),
                retry_codes: None,
            },
        )
    }
}

/// Frees client options. NULL is a no-op.
///
/// # Safety
/// `options` is NULL or from `wsx_client_options_new`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_free(options: *mut wsx_client_options) {
    // SAFETY: the caller's promise.
    unsafe { free_options(options) }
}

/// Largest message accepted, in bytes (default 16 MiB; over it: close 1009).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_max_message_size(
    options: *mut wsx_client_options,
    bytes: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_max_message_size(options, bytes) }
}

/// Largest single frame accepted, in bytes (default 16 MiB; over it: close 1009).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_max_frame_size(
    options: *mut wsx_client_options,
    bytes: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_max_frame_size(options, bytes) }
}

/// Whether pings are answered automatically (default true).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_auto_pong(
    options: *mut wsx_client_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_auto_pong(options, on) }
}

/// Streaming mode: deliver messages in pieces as frames arrive, with
/// `wsx_message.fin` marking the last (default false: whole messages).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_streaming(
    options: *mut wsx_client_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_streaming(options, on) }
}

/// Limits on the handshake response's header block (default 8 KiB, 64 lines).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_handshake_limits(
    options: *mut wsx_client_options,
    max_bytes: usize,
    max_headers: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_handshake_limits(options, max_bytes, max_headers) }
}

/// Offers a subprotocol (call once per subprotocol, in order of preference).
/// `name` is copied.
///
/// # Safety
/// `options` is NULL or live; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_add_subprotocol(
    options: *mut wsx_client_options,
    name: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { add_subprotocol(options, name) }
}

/// Time allowed for name resolution and TCP connect, in ms (default 10 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_connect_timeout_ms(
    options: *mut wsx_client_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.connect_timeout = millis(ms);
            Ok(())
        })
    }
}

/// Time allowed for the TLS and WebSocket handshakes, in ms (default 10 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_handshake_timeout_ms(
    options: *mut wsx_client_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_handshake_timeout(options, ms) }
}

/// Time to wait for the peer's close frame and TCP close, in ms (default 5 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_close_timeout_ms(
    options: *mut wsx_client_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_close_timeout(options, ms) }
}

/// Keepalive: a ping every `interval_ms`; no pong within `timeout_ms` drops
/// the connection (close 1006). `interval_ms` 0 turns it off (default 30 000 / 30 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_keepalive(
    options: *mut wsx_client_options,
    interval_ms: u32,
    timeout_ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_keepalive(options, interval_ms, timeout_ms) }
}

/// Drop the connection after this many ms with nothing received; 0 is off (the default).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_idle_timeout_ms(
    options: *mut wsx_client_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_idle_timeout(options, ms) }
}

/// Send-queue marks: past `high_water` queued bytes sends return
/// `WSX_ERR_WOULD_BLOCK`; below `low_water` the writable callback runs
/// (default 17 MiB / 256 KiB).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_backpressure(
    options: *mut wsx_client_options,
    high_water: usize,
    low_water: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_backpressure(options, high_water, low_water) }
}

/// TCP_NODELAY (default on).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_nodelay(
    options: *mut wsx_client_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_nodelay(options, on) }
}

/// Adds a request header (Authorization, Cookie, ...). Both strings are copied.
///
/// # Safety
/// `options` is NULL or live; the strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_add_header(
    options: *mut wsx_client_options,
    name: *const c_char,
    value: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            let (name, value) = (arg_str(name, "name")?, arg_str(value, "value")?);
            o.config.headers.push((name.to_owned(), value.to_owned()));
            Ok(())
        })
    }
}

/// Sets the `Origin` header (NULL: none, the default). Copied.
///
/// # Safety
/// `options` is NULL or live; `origin` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_origin(
    options: *mut wsx_client_options,
    origin: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.origin = opt_str(origin, "origin")?.map(str::to_owned);
            Ok(())
        })
    }
}

/// Trusts the CA certificates of a PEM file, besides the Mozilla roots (NULL:
/// none). Read when connecting.
///
/// # Safety
/// `options` is NULL or live; `path` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_tls_ca_file(
    options: *mut wsx_client_options,
    path: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.tls.ca_file = opt_str(path, "path")?.map(PathBuf::from);
            Ok(())
        })
    }
}

/// Presents a client certificate: a PEM chain (leaf first) and its PEM
/// private key. NULL for both removes it. Read when connecting.
///
/// # Safety
/// `options` is NULL or live; the paths are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_tls_client_cert(
    options: *mut wsx_client_options,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.tls.client_cert = match (
                opt_str(cert_file, "cert_file")?,
                opt_str(key_file, "key_file")?,
            ) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some((cert.into(), key.into())),
                _ => {
                    return Err(Failure::invalid(
                        "a client certificate needs both cert_file and key_file",
                    ));
                }
            };
            Ok(())
        })
    }
}

/// DANGER: turns certificate and host name verification off (`wss://` then
/// protects against nobody). For tests only. Default false.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_tls_danger_disable_verification(
    options: *mut wsx_client_options,
    disable: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.tls.danger_disable_verification = disable;
            Ok(())
        })
    }
}

/// Refuse binary messages: only text is accepted (default false); a binary
/// message then fails the connection with close 1003.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_reject_binary(
    options: *mut wsx_client_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_reject_binary(options, on) }
}

/// Offers permessage-deflate compression with `deflate` (copied), used when
/// the server accepts; NULL offers none. By default clients offer it with
/// `wsx_deflate_options_default()`. Invalid settings give
/// `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` is NULL or live; `deflate` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_set_compression(
    options: *mut wsx_client_options,
    deflate: *const wsx_deflate_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_compression(options, deflate) }
}

/// Creates server options with the defaults: 127.0.0.1, port 0 (a free one),
/// 16 MiB message and frame limits, any Origin, at most 10 000 connections and
/// 1 000 unfinished handshakes, 10 s handshake and 5 s close timeouts, a
/// keepalive ping every 30 s (30 s to answer), no TLS. Free with
/// `wsx_server_options_free`.
///
/// # Safety
/// `out_options` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_new(
    out_options: *mut *mut wsx_server_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        new_options(
            out_options,
            wsx_server_options {
                config: ServerConfig::default(),
                on_slow_subscriber: None,
            },
        )
    }
}

/// Frees server options. NULL is a no-op.
///
/// # Safety
/// `options` is NULL or from `wsx_server_options_new`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_free(options: *mut wsx_server_options) {
    // SAFETY: the caller's promise.
    unsafe { free_options(options) }
}

/// The address to listen on: a name, IPv4 or IPv6 (default "127.0.0.1"). Copied.
///
/// # Safety
/// `options` is NULL or live; `host` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_host(
    options: *mut wsx_server_options,
    host: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.host = arg_str(host, "host")?.to_owned();
            Ok(())
        })
    }
}

/// The port to listen on; 0 picks a free one (the default; read it back with
/// `wsx_server_port`).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_port(
    options: *mut wsx_server_options,
    port: u16,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.port = port;
            Ok(())
        })
    }
}

/// Largest message accepted, in bytes (default 16 MiB; over it: close 1009).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_max_message_size(
    options: *mut wsx_server_options,
    bytes: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_max_message_size(options, bytes) }
}

/// Largest single frame accepted, in bytes (default 16 MiB; over it: close 1009).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_max_frame_size(
    options: *mut wsx_server_options,
    bytes: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_max_frame_size(options, bytes) }
}

/// Whether pings are answered automatically (default true).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_auto_pong(
    options: *mut wsx_server_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_auto_pong(options, on) }
}

/// Streaming mode: deliver messages in pieces as frames arrive, with
/// `wsx_message.fin` marking the last (default false: whole messages).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_streaming(
    options: *mut wsx_server_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_streaming(options, on) }
}

/// Limits on a handshake request's header block (default 8 KiB, 64 lines).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_handshake_limits(
    options: *mut wsx_server_options,
    max_bytes: usize,
    max_headers: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_handshake_limits(options, max_bytes, max_headers) }
}

/// Supports a subprotocol (call once per subprotocol, in order of
/// preference; the first the client also offers is chosen). Copied.
///
/// # Safety
/// `options` is NULL or live; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_add_subprotocol(
    options: *mut wsx_server_options,
    name: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { add_subprotocol(options, name) }
}

/// Allows an `Origin` value. Without any call every origin (and none) is
/// allowed; after the first, requests from other origins get 403. Copied.
///
/// # Safety
/// `options` is NULL or live; `origin` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_add_origin(
    options: *mut wsx_server_options,
    origin: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            let origin = arg_str(origin, "origin")?.to_owned();
            o.config.origins.get_or_insert_with(Vec::new).push(origin);
            Ok(())
        })
    }
}

/// Serves `wss://` with a PEM certificate chain (leaf first) and its PEM
/// private key; NULL for both turns TLS off. Read when listening.
///
/// # Safety
/// `options` is NULL or live; the paths are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_tls(
    options: *mut wsx_server_options,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.tls = match (
                opt_str(cert_file, "cert_file")?,
                opt_str(key_file, "key_file")?,
            ) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some(TlsServerConfig {
                    cert_file: cert.into(),
                    key_file: key.into(),
                }),
                _ => return Err(Failure::invalid("TLS needs both cert_file and key_file")),
            };
            Ok(())
        })
    }
}

/// Most open connections at once (default 10 000); past it, new TCP
/// connections are closed at once.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_max_connections(
    options: *mut wsx_server_options,
    max: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.max_connections = max;
            Ok(())
        })
    }
}

/// Most unfinished handshakes at once (default 1 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_max_pending_handshakes(
    options: *mut wsx_server_options,
    max: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.config.max_pending_handshakes = max;
            Ok(())
        })
    }
}

/// Time allowed for the TLS and WebSocket handshakes, in ms (default 10 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_handshake_timeout_ms(
    options: *mut wsx_server_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_handshake_timeout(options, ms) }
}

/// Time to wait for the peer's close frame and TCP close, in ms (default 5 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_close_timeout_ms(
    options: *mut wsx_server_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_close_timeout(options, ms) }
}

/// Keepalive: a ping every `interval_ms`; no pong within `timeout_ms` drops
/// the connection (close 1006). `interval_ms` 0 turns it off (default 30 000 / 30 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_keepalive(
    options: *mut wsx_server_options,
    interval_ms: u32,
    timeout_ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_keepalive(options, interval_ms, timeout_ms) }
}

/// Drop a connection after this many ms with nothing received; 0 is off (the default).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_idle_timeout_ms(
    options: *mut wsx_server_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_idle_timeout(options, ms) }
}

/// Send-queue marks of each connection: past `high_water` queued bytes sends
/// return `WSX_ERR_WOULD_BLOCK`; below `low_water` the writable callback runs
/// (default 17 MiB / 256 KiB).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_backpressure(
    options: *mut wsx_server_options,
    high_water: usize,
    low_water: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_backpressure(options, high_water, low_water) }
}

/// TCP_NODELAY (default on).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_nodelay(
    options: *mut wsx_server_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_nodelay(options, on) }
}

/// Refuse binary messages: only text is accepted (default false); a binary
/// message then fails the connection with close 1003.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_reject_binary(
    options: *mut wsx_server_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_reject_binary(options, on) }
}

/// Accepts permessage-deflate with `deflate` (copied) when a client offers
/// it; NULL declines every offer (the default). Invalid settings give
/// `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` is NULL or live; `deflate` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_compression(
    options: *mut wsx_server_options,
    deflate: *const wsx_deflate_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { set_compression(options, deflate) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> *mut wsx_client_options {
        let mut options = std::ptr::null_mut();
        // SAFETY: a valid out pointer.
        assert_eq!(
            unsafe { wsx_client_options_new(&mut options) },
            wsx_result::WSX_OK
        );
        options
    }

    #[test]
    fn setters_reach_the_config() {
        let options = client();
        // SAFETY: `options` is live until freed at the end.
        unsafe {
            assert_eq!(
                wsx_client_options_set_max_message_size(options, 1024),
                wsx_result::WSX_OK
            );
            assert_eq!(
                wsx_client_options_set_keepalive(options, 0, 0),
                wsx_result::WSX_OK
            );
            assert_eq!(
                wsx_client_options_set_idle_timeout_ms(options, 1500),
                wsx_result::WSX_OK
            );
            assert_eq!(
                wsx_client_options_add_subprotocol(options, c"chat".as_ptr()),
                wsx_result::WSX_OK
            );
            let config = &(*options).config;
            assert_eq!(config.protocol.max_message_size, 1024);
            assert_eq!(config.keepalive, None);
            assert_eq!(config.idle_timeout, Some(Duration::from_millis(1500)));
            assert_eq!(config.subprotocols, ["chat"]);
            wsx_client_options_free(options);
        }
    }

    #[test]
    fn bad_values_leave_the_config_alone() {
        let options = client();
        // SAFETY: `options` is live until freed at the end.
        unsafe {
            let before = (*options).config.backpressure;
            assert_eq!(
                wsx_client_options_set_backpressure(options, 10, 20),
                wsx_result::WSX_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                wsx_client_options_set_max_frame_size(options, 0),
                wsx_result::WSX_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                wsx_client_options_add_header(options, c"X-A".as_ptr(), c"1\r\nX-B: 2".as_ptr()),
                wsx_result::WSX_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                wsx_client_options_set_tls_client_cert(
                    options,
                    c"a.pem".as_ptr(),
                    std::ptr::null()
                ),
                wsx_result::WSX_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                wsx_client_options_set_keepalive(options, 1000, 0),
                wsx_result::WSX_ERR_INVALID_ARGUMENT
            );
            let message = std::ffi::CStr::from_ptr(crate::boundary::last_error_ptr());
            assert_eq!(
                message.to_str().unwrap(),
                "keepalive.timeout must be more than 0 ms"
            );
            assert_eq!(
                wsx_client_options_add_header(options, c"X Bad".as_ptr(), c"1".as_ptr()),
                wsx_result::WSX_ERR_INVALID_ARGUMENT
            );
            assert_eq!((*options).config.backpressure, before);
            assert!((*options).config.headers.is_empty());
            assert_eq!(
                wsx_client_options_set_nodelay(std::ptr::null_mut(), true),
                wsx_result::WSX_ERR_NULL
            );
            wsx_client_options_free(options);
        }
    }
}
