//! Options: `wsx_client_options` and `wsx_server_options`, opaque builders
//! over the core's configs, and `wsx_conn_options`, the settings both share,
//! reached through `wsx_client_options_conn` / `wsx_server_options_conn`.
//!
//! Each shared setter is written once, on `wsx_conn_options` (a borrowed
//! view into the client or server options, not a copy), instead of a twin
//! per kind: one C function per setting, and a new shared setting is one
//! function. (A generating macro would still have doubled the header and
//! every binding's imports.) The setters hold no rule of their own: each one
//! changes a copy of the config and keeps it only if the core's `validate`
//! accepts it, so a bad value is refused at once, with the core's message
//! naming the option.

use std::ffi::c_char;
use std::path::PathBuf;
use std::time::Duration;

use wsx_core::net::{
    Backpressure, ClientAuth, ClientConfig, InboxLimits, Keepalive, ServerConfig, TlsServerConfig,
};
use wsx_core::proto;
use wsx_core::proto::DeflateConfig;
use wsx_core::proto::handshake::{Limits, check_header};

use crate::boundary::{
    Extensible, Failure, Outcome, arg_mut, arg_str, ffi_call, ffi_value, opt_str, read_sized,
    write_sized,
};
use crate::result::wsx_result;

/// The settings client and server connections share: a view into a
/// `wsx_client_options` or `wsx_server_options`, borrowed from
/// `wsx_client_options_conn` / `wsx_server_options_conn` and valid until
/// those options are freed. Not thread-safe, as the options it belongs to.
#[derive(Clone)]
pub struct wsx_conn_options {
    config: Config,
}

/// The config a `wsx_conn_options` edits.
#[derive(Clone)]
enum Config {
    Client(Box<ClientConfig>),
    Server(Box<ServerConfig>),
}

impl wsx_conn_options {
    /// The client config (these options belong to client options).
    pub(crate) fn client(&self) -> &ClientConfig {
        match &self.config {
            Config::Client(c) => c,
            Config::Server(_) => unreachable!("client options hold a client config"),
        }
    }

    pub(crate) fn client_mut(&mut self) -> &mut ClientConfig {
        match &mut self.config {
            Config::Client(c) => c,
            Config::Server(_) => unreachable!("client options hold a client config"),
        }
    }

    /// The server config (these options belong to server options).
    pub(crate) fn server(&self) -> &ServerConfig {
        match &self.config {
            Config::Server(c) => c,
            Config::Client(_) => unreachable!("server options hold a server config"),
        }
    }

    pub(crate) fn server_mut(&mut self) -> &mut ServerConfig {
        match &mut self.config {
            Config::Server(c) => c,
            Config::Client(_) => unreachable!("server options hold a server config"),
        }
    }

    /// The client config, if these options belong to client options.
    pub(crate) fn as_client(&self) -> Option<&ClientConfig> {
        match &self.config {
            Config::Client(c) => Some(c),
            Config::Server(_) => None,
        }
    }

    fn common(&mut self) -> &mut dyn Common {
        match &mut self.config {
            Config::Client(c) => &mut **c,
            Config::Server(c) => &mut **c,
        }
    }
}

/// Options of client connections, copied by `wsx_loop_connect`. Not
/// thread-safe: set it up on one thread.
#[derive(Clone)]
pub struct wsx_client_options {
    /// The shared settings, and the client config they are part of.
    pub(crate) conn: wsx_conn_options,
    /// `wsx_client_options_set_reconnect_codes` (None: the default set).
    pub(crate) retry_codes: Option<Vec<u16>>,
}

/// Options of a server, copied by `wsx_loop_listen`. Not thread-safe: set it
/// up on one thread.
#[derive(Clone)]
pub struct wsx_server_options {
    /// The shared settings, and the server config they are part of.
    pub(crate) conn: wsx_conn_options,
    /// `wsx_server_options_set_tls_client_auth`, joined to the TLS settings
    /// when listening (so the two setters may come in either order).
    pub(crate) client_auth: Option<ClientAuth>,
    /// `wsx_server_options_set_plain_http`.
    pub(crate) plain_http: bool,
}

impl wsx_server_options {
    /// The core's config of a server: the shared settings, with mutual TLS
    /// joined to the TLS settings.
    pub(crate) fn to_config(&self) -> Outcome<ServerConfig> {
        let mut config = self.conn.server().clone();
        if let Some(auth) = &self.client_auth {
            let Some(tls) = config.tls.as_mut() else {
                return Err(Failure::invalid(
                    "client certificates need TLS: call wsx_server_options_set_tls too",
                ));
            };
            tls.client_auth = Some(auth.clone());
        }
        Ok(config)
    }
}

/// Options whose config the core validates.
pub(crate) trait Validated: Clone {
    /// The core's check of every option.
    fn validate(&self) -> Result<(), wsx_core::net::Error>;
}

impl Validated for wsx_conn_options {
    fn validate(&self) -> Result<(), wsx_core::net::Error> {
        match &self.config {
            Config::Client(c) => c.validate(),
            Config::Server(c) => c.validate(),
        }
    }
}

impl Validated for wsx_client_options {
    fn validate(&self) -> Result<(), wsx_core::net::Error> {
        self.conn.validate()
    }
}

impl Validated for wsx_server_options {
    fn validate(&self) -> Result<(), wsx_core::net::Error> {
        self.conn.validate()
    }
}

/// The settings clients and servers share, on either config.
trait Common {
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
    fn inbox(&mut self) -> &mut Option<InboxLimits>;
}

macro_rules! impl_common {
    ($config:ty) => {
        impl Common for $config {
            fn protocol(&mut self) -> &mut proto::Config {
                &mut self.protocol
            }
            fn limits(&mut self) -> &mut Limits {
                &mut self.limits
            }
            fn subprotocols(&mut self) -> &mut Vec<String> {
                &mut self.subprotocols
            }
            fn handshake_timeout(&mut self) -> &mut Duration {
                &mut self.handshake_timeout
            }
            fn close_timeout(&mut self) -> &mut Duration {
                &mut self.close_timeout
            }
            fn keepalive(&mut self) -> &mut Option<Keepalive> {
                &mut self.keepalive
            }
            fn idle_timeout(&mut self) -> &mut Option<Duration> {
                &mut self.idle_timeout
            }
            fn backpressure(&mut self) -> &mut Backpressure {
                &mut self.backpressure
            }
            fn nodelay(&mut self) -> &mut bool {
                &mut self.nodelay
            }
            fn compression(&mut self) -> &mut Option<DeflateConfig> {
                &mut self.compression
            }
            fn inbox(&mut self) -> &mut Option<InboxLimits> {
                &mut self.inbox
            }
        }
    };
}

impl_common!(ClientConfig);
impl_common!(ServerConfig);

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
                conn: wsx_conn_options {
                    config: Config::Client(Box::default()),
                },
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
            o.conn.client_mut().connect_timeout = millis(ms);
            Ok(())
        })
    }
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
            o.conn
                .client_mut()
                .headers
                .push((name.to_owned(), value.to_owned()));
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
            o.conn.client_mut().origin = opt_str(origin, "origin")?.map(str::to_owned);
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
            o.conn.client_mut().tls.ca_file = opt_str(path, "path")?.map(PathBuf::from);
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
            o.conn.client_mut().tls.client_cert = match (
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
            o.conn.client_mut().tls.danger_disable_verification = disable;
            Ok(())
        })
    }
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
                conn: wsx_conn_options {
                    config: Config::Server(Box::default()),
                },
                client_auth: None,
                plain_http: false,
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
            o.conn.server_mut().host = arg_str(host, "host")?.to_owned();
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
            o.conn.server_mut().port = port;
            Ok(())
        })
    }
}

/// Binds the port with `SO_REUSEPORT` (default false): several servers,
/// in this process or others, each with this option, listen on one port,
/// and the kernel spreads new connections among them. Without it,
/// `wsx_loop_listen` on a port another socket listens on fails with
/// `WSX_ERR_IO` and a message saying to set this. Linux, macOS and the BSDs;
/// elsewhere `enabled` true is refused with `WSX_ERR_INVALID_ARGUMENT` ("not
/// supported on this platform"), as is combining it with
/// `wsx_server_options_set_unix_socket` (whichever setter comes second).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_reuse_port(
    options: *mut wsx_server_options,
    enabled: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.conn.server_mut().reuse_port = enabled;
            Ok(())
        })
    }
}

/// Spreads the server's connections over `loops` event loops (threads) in
/// this process, sharing its port (default 1, at most 256: 0 and more than
/// 256 are refused with `WSX_ERR_INVALID_ARGUMENT`, the message saying why).
/// Loop 0 is the loop `wsx_loop_listen` is called on; the server starts
/// the other `loops - 1` threads itself, and stops and joins them when it
/// shuts down (`on_shutdown` runs once, after every loop has finished) or
/// its loop is freed. On Linux each loop listens with `SO_REUSEPORT` and
/// the kernel balances new connections (so `wsx_server_options_set_reuse_port`
/// is implied); elsewhere, and on a Unix domain socket, loop 0 accepts and
/// hands connections to the loops in turn. `wsx_server_publish` reaches the
/// subscribers on every loop once; the counters, `max_connections` and the
/// drain cover every loop.
///
/// Threads: a connection's callbacks run on its loop's thread, so with
/// `loops` above 1 the connection callbacks run on several threads at once,
/// and the callbacks and their `user_data` must be thread-safe. The
/// server's own callbacks (upgrade, error, shutdown...) are called by one
/// loop at a time, from any of the server's loop threads. A server loop
/// in poll mode (`wsx_loop_poll`) still polls loop 0 only: the others run
/// on their own threads.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_loops(
    options: *mut wsx_server_options,
    loops: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.conn.server_mut().loops = loops;
            Ok(())
        })
    }
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
            o.conn
                .server_mut()
                .origins
                .get_or_insert_with(Vec::new)
                .push(origin);
            Ok(())
        })
    }
}

/// Serves `wss://` with a PEM certificate chain (leaf first) and its PEM
/// private key; NULL for both turns TLS off. Read when listening. A TLS
/// server offers ALPN `http/1.1` only (a browser never tries WebSocket over
/// HTTP/2 with it). Client certificates: `wsx_server_options_set_tls_client_auth`.
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
            o.conn.server_mut().tls = match (
                opt_str(cert_file, "cert_file")?,
                opt_str(key_file, "key_file")?,
            ) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some(TlsServerConfig {
                    cert_file: cert.into(),
                    key_file: key.into(),
                    client_auth: None,
                }),
                _ => return Err(Failure::invalid("TLS needs both cert_file and key_file")),
            };
            Ok(())
        })
    }
}

/// Mutual TLS: asks every client for a certificate, verified against the CA
/// certificates in `ca_file` (PEM) and, if `crl_file` is not NULL, the
/// certificate revocation lists in it (PEM). `required` true: a client
/// without a valid certificate fails the TLS handshake (reported to
/// `on_server_error`, never reaching the upgrade callback); false: a client
/// may send none (the upgrade callback sees `peer_subject` NULL), but one it
/// sends must be valid. The verified certificate is in `wsx_request`
/// (`peer_subject`, `peer_certs`) and `wsx_conn_peer_identity`, for the
/// application to authorise by identity. `ca_file` NULL turns client
/// certificates off (the default). Needs `wsx_server_options_set_tls` too
/// (in either order; checked by `wsx_loop_listen`); the files are read when
/// listening. Copied.
///
/// # Safety
/// `options` is NULL or live; the paths are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_tls_client_auth(
    options: *mut wsx_server_options,
    ca_file: *const c_char,
    required: bool,
    crl_file: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            let crl = opt_str(crl_file, "crl_file")?;
            o.client_auth = match opt_str(ca_file, "ca_file")? {
                Some(ca) => Some(ClientAuth {
                    ca_file: ca.into(),
                    required,
                    crl_files: crl.map(PathBuf::from).into_iter().collect(),
                }),
                None if crl.is_some() => {
                    return Err(Failure::invalid("a CRL needs the client CA (ca_file)"));
                }
                None => None,
            };
            Ok(())
        })
    }
}

/// Plain HTTP requests (a GET without `Upgrade: websocket`: a load
/// balancer's health check, a browser) go to the upgrade callback too, with
/// `wsx_request.plain_http` true, instead of getting `426 Upgrade Required`
/// at once (default off). Answer them with `wsx_upgrade_respond` (any status,
/// headers and body) or `wsx_upgrade_refuse`, at once or later through
/// `wsx_upgrade_defer` and `wsx_pending_upgrade_respond`; a plain request
/// the callback accepts (does nothing with) still gets the 426.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_set_plain_http(
    options: *mut wsx_server_options,
    enabled: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit(options, |o| {
            o.plain_http = enabled;
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
            o.conn.server_mut().max_connections = max;
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
            o.conn.server_mut().max_pending_handshakes = max;
            Ok(())
        })
    }
}

/// permessage-deflate (RFC 7692) settings, for
/// `wsx_conn_options_set_compression`. Extensible: fill it with
/// `wsx_deflate_options_default` (after setting `struct_size`), then change
/// what you need. Fields past the caller's `struct_size` take their defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct wsx_deflate_options {
    /// `sizeof(wsx_deflate_options)` as the caller was compiled with.
    pub struct_size: usize,
    /// Messages shorter than this many bytes are sent uncompressed (default 64).
    pub threshold: usize,
    /// Compression level, 0 (stored) to 9 (smallest); default 6.
    pub level: u32,
    /// Largest LZ77 window of the client's compressor, as a power of two (8-15, default 15).
    pub client_max_window_bits: u8,
    /// Largest LZ77 window of the server's compressor (8-15, default 15).
    pub server_max_window_bits: u8,
    /// The client's compressor starts afresh for every message (default false).
    pub client_no_context_takeover: bool,
    /// The server's compressor starts afresh for every message (default false).
    pub server_no_context_takeover: bool,
    /// A server compresses every connection's messages with its loop's one
    /// shared compressor (default false): it asks for
    /// `server_no_context_takeover` in every answer, so a connection holds
    /// no compressor of its own (saves 250-380 KB per sending connection;
    /// repetitive traffic compresses less). A server setting:
    /// `wsx_loop_connect` refuses a client options object that sets it
    /// with `WSX_ERR_INVALID_ARGUMENT`; with `server_max_window_bits` 8
    /// `wsx_loop_listen` refuses it too.
    pub shared_compressor: bool,
}

// SAFETY: repr(C), `struct_size` first; integers and C bools.
unsafe impl Extensible for wsx_deflate_options {
    const NAME: &'static str = "wsx_deflate_options";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_deflate_options, level);
    fn base() -> Self {
        let d = DeflateConfig::default();
        wsx_deflate_options {
            struct_size: 0,
            threshold: d.threshold,
            level: d.level,
            client_max_window_bits: d.client_max_window_bits,
            server_max_window_bits: d.server_max_window_bits,
            client_no_context_takeover: d.client_no_context_takeover,
            server_no_context_takeover: d.server_no_context_takeover,
            shared_compressor: d.shared_compressor,
        }
    }
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
            shared_compressor: self.shared_compressor,
        }
    }
}

/// Writes the default permessage-deflate settings (windows 15, context
/// takeover on both sides, level 6, threshold 64 bytes) to `*out`, whose
/// `struct_size` the caller set.
///
/// # Safety
/// `out` is NULL or has `out->struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_deflate_options_default(out: *mut wsx_deflate_options) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| unsafe { write_sized(out, wsx_deflate_options::base(), "out") })
}

/// Pull-mode delivery (`wsx_conn_options_set_inbox`): received messages wait
/// in a bounded inbox and are taken with `wsx_conn_recv`. Reading the
/// connection pauses once `high_messages` messages or `high_bytes` bytes
/// wait, and resumes once at most `low_messages` and `low_bytes` do.
/// Extensible: fill it with `wsx_inbox_options_default` (after setting
/// `struct_size`), then change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct wsx_inbox_options {
    /// `sizeof(wsx_inbox_options)` as the caller was compiled with.
    pub struct_size: usize,
    /// Messages that pause reading (default 16).
    pub high_messages: usize,
    /// Messages at or below which reading resumes (default 4).
    pub low_messages: usize,
    /// Bytes that pause reading (default 32 MiB).
    pub high_bytes: usize,
    /// Bytes at or below which reading resumes (default 8 MiB).
    pub low_bytes: usize,
}

// SAFETY: repr(C), `struct_size` first; integers only.
unsafe impl Extensible for wsx_inbox_options {
    const NAME: &'static str = "wsx_inbox_options";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_inbox_options, low_messages);
    fn base() -> Self {
        let d = InboxLimits::default();
        wsx_inbox_options {
            struct_size: 0,
            high_messages: d.high_messages,
            low_messages: d.low_messages,
            high_bytes: d.high_bytes,
            low_bytes: d.low_bytes,
        }
    }
}

/// Writes the default inbox marks (the core's) to `*out`, whose
/// `struct_size` the caller set.
///
/// # Safety
/// `out` is NULL or has `out->struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_inbox_options_default(out: *mut wsx_inbox_options) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| unsafe { write_sized(out, wsx_inbox_options::base(), "out") })
}

/// Runs a shared setter on the client or server config behind `options`.
///
/// # Safety
/// `options` is NULL or live and not used elsewhere during the call.
unsafe fn edit_common(
    options: *mut wsx_conn_options,
    f: impl FnOnce(&mut dyn Common) -> Outcome,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe { edit(options, |o| f(o.common())) }
}

/// The settings of `options` that clients and servers share, as a pointer
/// borrowed from `options`: valid until `options` is freed, never freed
/// itself. NULL for NULL.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_client_options_conn(
    options: *mut wsx_client_options,
) -> *mut wsx_conn_options {
    // SAFETY: the caller's promise.
    ffi_value(std::ptr::null_mut(), || match unsafe { options.as_mut() } {
        Some(options) => &raw mut options.conn,
        None => std::ptr::null_mut(),
    })
}

/// The settings of `options` that clients and servers share, as a pointer
/// borrowed from `options`: valid until `options` is freed, never freed
/// itself. NULL for NULL.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_server_options_conn(
    options: *mut wsx_server_options,
) -> *mut wsx_conn_options {
    // SAFETY: the caller's promise.
    ffi_value(std::ptr::null_mut(), || match unsafe { options.as_mut() } {
        Some(options) => &raw mut options.conn,
        None => std::ptr::null_mut(),
    })
}

/// Largest message accepted, in bytes (default 16 MiB; over it: close 1009).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_max_message_size(
    options: *mut wsx_conn_options,
    bytes: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            o.protocol().max_message_size = bytes;
            Ok(())
        })
    }
}

/// Largest single frame accepted, in bytes (default 16 MiB; over it: close 1009).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_max_frame_size(
    options: *mut wsx_conn_options,
    bytes: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            o.protocol().max_frame_size = bytes;
            Ok(())
        })
    }
}

/// Whether pings are answered automatically (default true).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_auto_pong(
    options: *mut wsx_conn_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            o.protocol().auto_pong = on;
            Ok(())
        })
    }
}

/// Streaming mode: deliver messages in pieces as frames arrive, with
/// `wsx_message.fin` marking the last (default false: whole messages). Not
/// with pull mode.
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_streaming(
    options: *mut wsx_conn_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            o.protocol().streaming = on;
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
pub unsafe extern "C" fn wsx_conn_options_set_reject_binary(
    options: *mut wsx_conn_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            o.protocol().reject_binary = on;
            Ok(())
        })
    }
}

/// Limits on the handshake's header block: the response's for a client, the
/// request's for a server (default 8 KiB, 64 lines).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_handshake_limits(
    options: *mut wsx_conn_options,
    max_bytes: usize,
    max_headers: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            *o.limits() = Limits {
                max_header_bytes: max_bytes,
                max_headers,
            };
            Ok(())
        })
    }
}

/// Adds a subprotocol, once per subprotocol in order of preference: a client
/// offers them; a server chooses the first of its list the client also
/// offered. `name` is copied.
///
/// # Safety
/// `options` is NULL or live; `name` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_add_subprotocol(
    options: *mut wsx_conn_options,
    name: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            o.subprotocols()
                .push(arg_str(name, "subprotocol")?.to_owned());
            Ok(())
        })
    }
}

/// Time allowed for the TLS and WebSocket handshakes, in ms (default 10 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_handshake_timeout_ms(
    options: *mut wsx_conn_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            *o.handshake_timeout() = millis(ms);
            Ok(())
        })
    }
}

/// Time to wait for the peer's close frame and TCP close, in ms (default 5 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_close_timeout_ms(
    options: *mut wsx_conn_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            *o.close_timeout() = millis(ms);
            Ok(())
        })
    }
}

/// Keepalive: a ping every `interval_ms`; no pong within `timeout_ms` drops
/// the connection (close 1006). `interval_ms` 0 turns it off (default
/// 30 000 / 30 000).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_keepalive(
    options: *mut wsx_conn_options,
    interval_ms: u32,
    timeout_ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
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

/// Drop the connection after this many ms with nothing received; 0 is off
/// (the default).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_idle_timeout_ms(
    options: *mut wsx_conn_options,
    ms: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            *o.idle_timeout() = (ms > 0).then(|| millis(ms));
            Ok(())
        })
    }
}

/// Send-queue marks: past `high_water` queued bytes sends return
/// `WSX_ERR_WOULD_BLOCK`; below `low_water` the writable callback runs
/// (default 17 MiB / 256 KiB).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_backpressure(
    options: *mut wsx_conn_options,
    high_water: usize,
    low_water: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            *o.backpressure() = Backpressure {
                high_water,
                low_water,
            };
            Ok(())
        })
    }
}

/// TCP_NODELAY (default on).
///
/// # Safety
/// `options` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_nodelay(
    options: *mut wsx_conn_options,
    on: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            *o.nodelay() = on;
            Ok(())
        })
    }
}

/// permessage-deflate with `deflate` (copied; NULL: none). A client offers
/// it (by default with `wsx_deflate_options_default`'s settings); a server
/// accepts it when a client offers it (by default it declines). Invalid
/// settings or `struct_size` give `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` is NULL or live; `deflate` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_compression(
    options: *mut wsx_conn_options,
    deflate: *const wsx_deflate_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            *o.compression() = match deflate.is_null() {
                true => None,
                false => Some(read_sized(deflate, "deflate")?.to_core()),
            };
            Ok(())
        })
    }
}

/// Pull mode with the marks of `inbox` (copied; NULL: push mode, the
/// default): received messages wait in the connection's inbox instead of
/// going to `on_message`; `on_readable` tells when the empty inbox got one,
/// and `wsx_conn_recv` takes them from any thread. Not with streaming.
/// Invalid marks or `struct_size` give `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `options` is NULL or live; `inbox` is NULL or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_options_set_inbox(
    options: *mut wsx_conn_options,
    inbox: *const wsx_inbox_options,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        edit_common(options, |o| {
            *o.inbox() = match inbox.is_null() {
                true => None,
                false => {
                    let i = read_sized(inbox, "inbox")?;
                    Some(InboxLimits {
                        high_messages: i.high_messages,
                        low_messages: i.low_messages,
                        high_bytes: i.high_bytes,
                        low_bytes: i.low_bytes,
                    })
                }
            };
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> *mut wsx_client_options {
        let mut options = std::ptr::null_mut();
        // SAFETY: a valid out pointer.
        let result = unsafe { wsx_client_options_new(&mut options) };
        assert_eq!(result, wsx_result::WSX_OK);
        options
    }

    #[test]
    fn setters_reach_the_config() {
        let options = client();
        // SAFETY: `options` is live until freed at the end.
        unsafe {
            assert_eq!(
                wsx_conn_options_set_max_message_size(wsx_client_options_conn(options), 1024),
                wsx_result::WSX_OK
            );
            assert_eq!(
                wsx_conn_options_set_keepalive(wsx_client_options_conn(options), 0, 0),
                wsx_result::WSX_OK
            );
            assert_eq!(
                wsx_conn_options_set_idle_timeout_ms(wsx_client_options_conn(options), 1500),
                wsx_result::WSX_OK
            );
            assert_eq!(
                wsx_conn_options_add_subprotocol(
                    wsx_client_options_conn(options),
                    c"chat".as_ptr()
                ),
                wsx_result::WSX_OK
            );
            let config = (*options).conn.client();
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
            let before = (*options).conn.client().backpressure;
            assert_eq!(
                wsx_conn_options_set_backpressure(wsx_client_options_conn(options), 10, 20),
                wsx_result::WSX_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                wsx_conn_options_set_max_frame_size(wsx_client_options_conn(options), 0),
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
                wsx_conn_options_set_keepalive(wsx_client_options_conn(options), 1000, 0),
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
            assert_eq!((*options).conn.client().backpressure, before);
            assert!((*options).conn.client().headers.is_empty());
            assert_eq!(
                wsx_conn_options_set_nodelay(std::ptr::null_mut(), true),
                wsx_result::WSX_ERR_NULL
            );
            wsx_client_options_free(options);
        }
    }

    #[test]
    fn the_shared_view_edits_each_kind_and_sized_structs_are_checked() {
        let mut server = std::ptr::null_mut();
        // SAFETY: valid pointers; both options are freed at the end.
        unsafe {
            assert_eq!(wsx_server_options_new(&mut server), wsx_result::WSX_OK);
            let client = client();
            let view = wsx_server_options_conn(server);
            assert_eq!(
                wsx_conn_options_set_max_message_size(view, 77),
                wsx_result::WSX_OK
            );
            assert_eq!((*server).conn.server().protocol.max_message_size, 77);
            assert_ne!((*client).conn.client().protocol.max_message_size, 77);
            assert!(wsx_client_options_conn(std::ptr::null_mut()).is_null());

            // A zeroed struct_size is refused with a message, and changes nothing.
            let mut inbox = wsx_inbox_options::base();
            let view = wsx_client_options_conn(client);
            assert_eq!(
                wsx_conn_options_set_inbox(view, &inbox),
                wsx_result::WSX_ERR_INVALID_ARGUMENT
            );
            let message = std::ffi::CStr::from_ptr(crate::boundary::last_error_ptr());
            assert!(
                message.to_str().unwrap().contains("struct_size is 0"),
                "{message:?}"
            );
            assert_eq!((*client).conn.client().inbox, None);
            inbox.struct_size = 4;
            assert_eq!(
                wsx_conn_options_set_inbox(view, &inbox),
                wsx_result::WSX_ERR_INVALID_ARGUMENT
            );
            // A caller that knows only the first mark: the rest are defaults.
            inbox.struct_size = std::mem::offset_of!(wsx_inbox_options, low_messages);
            inbox.high_messages = 9;
            inbox.low_messages = 999; // past the caller's size: not read
            assert_eq!(wsx_conn_options_set_inbox(view, &inbox), wsx_result::WSX_OK);
            let d = InboxLimits::default();
            assert_eq!(
                (*client).conn.client().inbox,
                Some(InboxLimits {
                    high_messages: 9,
                    ..d
                })
            );

            // Defaults come out sized as the caller says.
            let mut deflate = wsx_deflate_options::base();
            deflate.struct_size = size_of::<wsx_deflate_options>();
            deflate.level = 1;
            assert_eq!(
                wsx_deflate_options_default(&mut deflate),
                wsx_result::WSX_OK
            );
            assert_eq!(deflate.level, DeflateConfig::default().level);
            assert_eq!(deflate.struct_size, size_of::<wsx_deflate_options>());

            wsx_client_options_free(client);
            wsx_server_options_free(server);
        }
    }

    /// Fields added in a later version go past the 0.2 size of each struct a
    /// caller fills, never into its trailing padding, where an old program
    /// may leave garbage: these sizes are what 0.2 programs were built with.
    #[test]
    fn the_first_versions_sizes_stay() {
        use crate::callbacks::wsx_conn_callbacks;
        use crate::resilience::wsx_reconnect_options;
        use crate::server::wsx_server_callbacks;
        let word = size_of::<usize>();
        assert_eq!(size_of::<wsx_conn_callbacks>(), 14 * word);
        // 8 words in the first 0.2; the cluster callbacks came after them.
        assert_eq!(
            std::mem::offset_of!(wsx_server_callbacks, on_cluster_state),
            8 * word
        );
        assert_eq!(size_of::<wsx_server_callbacks>(), 10 * word);
        assert_eq!(size_of::<wsx_inbox_options>(), 5 * word);
        if word == 8 {
            // 24 bytes before `shared_compressor` was appended.
            assert_eq!(size_of::<wsx_deflate_options>(), 32);
            assert_eq!(size_of::<wsx_reconnect_options>(), 48);
        }
    }
}
