//! Bring your own I/O: one connection's protocol engine (`wsx_engine`) with
//! no socket, no clock and no thread, over `wsx_core::proto::engine`.
//!
//! The program moves bytes between its transport and the engine:
//!
//! ```c
//! wsx_engine *e;
//! wsx_engine_client_new("ws://example.com/chat", NULL, &e);   // the request is pending
//! for (;;) {
//!     const uint8_t *out; size_t out_len;
//!     wsx_engine_peek_output(e, &out, &out_len);              // write what you can,
//!     ssize_t w = send(fd, out, out_len, 0);                  // then consume it
//!     if (w > 0) wsx_engine_consume_output(e, (size_t)w);
//!     if (wsx_engine_wants_shutdown(e)) shutdown(fd, SHUT_WR);
//!     // wait for the socket, at most until wsx_engine_next_deadline(e)
//!     ssize_t r = recv(fd, buf, sizeof buf, 0);
//!     size_t used;
//!     if (r > 0) wsx_engine_feed(e, buf, (size_t)r, &used); else if (r == 0) wsx_engine_feed_eof(e);
//!     wsx_engine_tick(e, now_ms());
//!     wsx_engine_event ev = { .struct_size = sizeof ev };
//!     while (wsx_engine_next_event(e, &ev) == WSX_OK && ev.kind != WSX_ENGINE_EVENT_KIND_NONE) {
//!         ... // MESSAGE: wsx_engine_send(e, ev.msg_kind, ev.data, ev.len); CLOSE: done
//!     }
//! }
//! wsx_engine_free(e);
//! ```

use std::ffi::{CString, c_char};

use wsx_core::net::{ClientConfig, ServerConfig};
use wsx_core::proto::WsUrl;
use wsx_core::proto::connection::Role;
use wsx_core::proto::engine::{
    CloseOrigin, Engine, EngineConfig, EngineError, EngineEvent, EngineState, ErrorKind,
};
use wsx_core::proto::extension::deflate::{Agreement, DeflateParams};
use wsx_core::proto::handshake::Headers;

use crate::boundary::{
    Extensible, Failure, Outcome, arg, arg_bytes, arg_mut, arg_str, check_sized_out, ffi_call,
    ffi_value, opt_str, read_sized, write_sized,
};
use crate::events::{MsgKindArg, wsx_close_origin, wsx_header, wsx_msg_kind, wsx_state};
use crate::options::{wsx_client_options, wsx_conn_options, wsx_server_options};
use crate::result::wsx_result;

/// One WebSocket connection's protocol engine, client or server, without
/// I/O: bytes in (`wsx_engine_feed`), events out (`wsx_engine_next_event`),
/// bytes to send out (`wsx_engine_peek_output`, `wsx_engine_consume_output`),
/// time in (`wsx_engine_tick`). Not thread-safe: use it from one thread at a
/// time. It never blocks, never calls back, and starts no thread.
pub struct wsx_engine {
    engine: Engine,
    /// NUL-terminated copies lent with the current event.
    text: CString,
    subprotocol: Option<CString>,
    path: CString,
    header_strings: Vec<(CString, CString)>,
    headers: Vec<wsx_header>,
}

/// What a `wsx_engine_event` is.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsx_engine_event_kind {
    /// No event is ready: feed bytes, tick, or (server) decide on the request.
    WSX_ENGINE_EVENT_KIND_NONE = 0,
    /// Server: a valid handshake request (`path`, `headers`). Answer with
    /// `wsx_engine_accept` or `wsx_engine_refuse`; no other event comes
    /// before that.
    WSX_ENGINE_EVENT_KIND_REQUEST = 1,
    /// The handshake finished (`subprotocol`, `deflate`): messages may flow.
    WSX_ENGINE_EVENT_KIND_OPEN = 2,
    /// A whole message (`msg_kind`, `data`, `len`); text is valid UTF-8.
    WSX_ENGINE_EVENT_KIND_MESSAGE = 3,
    /// A piece of a message in streaming mode (`msg_kind`, `data`, `len`,
    /// `fin` on the last piece).
    WSX_ENGINE_EVENT_KIND_FRAGMENT = 4,
    /// A ping (`data`, `len`); answered already unless auto-pong is off.
    WSX_ENGINE_EVENT_KIND_PING = 5,
    /// A pong (`data`, `len`).
    WSX_ENGINE_EVENT_KIND_PONG = 6,
    /// The connection is over (`close_code`, the reason in `data`/`len`,
    /// `close_origin`, `clean`). Always the last event, exactly once (but
    /// for a server engine whose request the program refused).
    WSX_ENGINE_EVENT_KIND_CLOSE = 7,
    /// Something failed (`error`, `http_status`, the message in
    /// `data`/`len`; a refused handshake's response in `headers` and
    /// `body`); a CLOSE event follows.
    WSX_ENGINE_EVENT_KIND_ERROR = 8,
}

/// An event of a `wsx_engine`, filled by `wsx_engine_next_event`.
/// Extensible: set `struct_size = sizeof(wsx_engine_event)`. Every pointer in
/// it is BORROWED from the engine until the next call on that engine (any
/// call but the const getters): copy what you keep.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wsx_engine_event {
    /// `sizeof(wsx_engine_event)` as the caller was compiled with (kept by the call).
    pub struct_size: usize,
    /// What happened; `WSX_ENGINE_EVENT_KIND_NONE` when nothing is ready.
    pub kind: wsx_engine_event_kind,
    /// MESSAGE, FRAGMENT: text or binary.
    pub msg_kind: wsx_msg_kind,
    /// FRAGMENT: whether this is the message's last piece (true for MESSAGE).
    pub fin: bool,
    /// MESSAGE, FRAGMENT, PING, PONG: the payload; CLOSE: the reason;
    /// ERROR: the message. For CLOSE and ERROR it is also NUL-terminated.
    /// NULL when `len` is 0 (but CLOSE and ERROR: "").
    pub data: *const u8,
    /// Bytes at `data` (without the NUL).
    pub len: usize,
    /// CLOSE: the peer's code (1005: its close frame had none), ours when
    /// we failed the connection, 1006 when no close handshake happened.
    pub close_code: u16,
    /// CLOSE: who ended the connection.
    pub close_origin: wsx_close_origin,
    /// CLOSE: whether both close frames passed.
    pub clean: bool,
    /// ERROR: `WSX_ERR_HANDSHAKE` (refused or broken handshake),
    /// `WSX_ERR_PROTOCOL` (the peer broke the protocol) or `WSX_ERR_TIMEOUT`
    /// (handshake, keepalive or close timeout). `WSX_OK` for other events.
    pub error: wsx_result,
    /// ERROR of a handshake: the HTTP status of the refusal (0 when none).
    pub http_status: u16,
    /// OPEN: the subprotocol agreed, or NULL.
    pub subprotocol: *const c_char,
    /// OPEN: whether permessage-deflate is on.
    pub deflate: bool,
    /// REQUEST: the request target (path and query).
    pub path: *const c_char,
    /// REQUEST: the request's headers, in order (`header_count` of them).
    /// ERROR of a refused handshake (`http_status` set): the response's.
    pub headers: *const wsx_header,
    /// REQUEST, ERROR of a refused handshake: how many headers.
    pub header_count: usize,
    /// ERROR of a refused handshake: the response's body as it arrived
    /// (capped at 64 KiB; NULL when `body_len` is 0). Added in 0.2.
    pub body: *const u8,
    /// Bytes at `body`.
    pub body_len: usize,
}

// SAFETY: repr(C), `struct_size` first; the library writes it and reads only
// its `struct_size`.
unsafe impl Extensible for wsx_engine_event {
    const NAME: &'static str = "wsx_engine_event";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_engine_event, kind) + 4;
    fn base() -> Self {
        wsx_engine_event {
            struct_size: 0,
            kind: wsx_engine_event_kind::WSX_ENGINE_EVENT_KIND_NONE,
            msg_kind: wsx_msg_kind::WSX_MSG_KIND_BINARY,
            fin: false,
            data: std::ptr::null(),
            len: 0,
            close_code: 0,
            close_origin: wsx_close_origin::WSX_CLOSE_ORIGIN_TRANSPORT,
            clean: false,
            error: wsx_result::WSX_OK,
            http_status: 0,
            subprotocol: std::ptr::null(),
            deflate: false,
            path: std::ptr::null(),
            headers: std::ptr::null(),
            header_count: 0,
            body: std::ptr::null(),
            body_len: 0,
        }
    }
}

fn engine_failure(error: EngineError) -> Failure {
    use wsx_core::proto::SendError;
    let code = match &error {
        EngineError::State(_) => wsx_result::WSX_ERR_STATE,
        EngineError::Invalid(_) => wsx_result::WSX_ERR_INVALID_ARGUMENT,
        EngineError::Send(SendError::Closed) => wsx_result::WSX_ERR_CLOSED,
        EngineError::Send(SendError::Random(_)) => wsx_result::WSX_ERR_IO,
        EngineError::Send(_) => wsx_result::WSX_ERR_INVALID_ARGUMENT,
    };
    Failure::new(code, error.to_string())
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn client_config(c: &ClientConfig) -> EngineConfig {
    EngineConfig {
        protocol: c.protocol.clone(),
        limits: c.limits,
        subprotocols: c.subprotocols.clone(),
        headers: c.headers.clone(),
        origin: c.origin.clone(),
        origins: None,
        compression: c.compression.clone(),
        handshake_timeout_ms: Some(ms(c.handshake_timeout)),
        close_timeout_ms: ms(c.close_timeout),
        keepalive_ms: c.keepalive.map(|k| (ms(k.interval), ms(k.timeout))),
    }
}

fn server_config(c: &ServerConfig) -> EngineConfig {
    EngineConfig {
        protocol: c.protocol.clone(),
        limits: c.limits,
        subprotocols: c.subprotocols.clone(),
        headers: Vec::new(),
        origin: None,
        origins: c.origins.clone(),
        compression: c.compression.clone(),
        handshake_timeout_ms: Some(ms(c.handshake_timeout)),
        close_timeout_ms: ms(c.close_timeout),
        keepalive_ms: c.keepalive.map(|k| (ms(k.interval), ms(k.timeout))),
    }
}

fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

/// Boxes an engine for C.
fn give(out: &mut *mut wsx_engine, engine: Engine) {
    *out = Box::into_raw(Box::new(wsx_engine {
        engine,
        text: CString::default(),
        subprotocol: None,
        path: CString::default(),
        header_strings: Vec::new(),
        headers: Vec::new(),
    }));
}

/// Creates a client engine for `url` (`ws://` or `wss://`; the scheme only
/// sets the default port and the `Host` header: TLS, if any, is yours, see
/// `wsx_tls`) with `options` (NULL: the defaults of `wsx_client_options_new`).
/// Of the options it uses the subprotocols, headers, Origin, compression
/// (on by default), message and frame limits, streaming, auto-pong,
/// reject-binary, handshake limits, and the handshake, close and keepalive
/// timers (run by `wsx_engine_tick`); the rest (TLS, proxy, reconnect,
/// backpressure, inbox, nodelay, connect and idle timeouts) concern the
/// event loop and are ignored. The options are copied. The handshake request
/// is pending output at once. Free with `wsx_engine_free`.
///
/// # Safety
/// `url` is NULL or a NUL-terminated string; `options` NULL or live;
/// `out_engine` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_client_new(
    url: *const c_char,
    options: *const wsx_client_options,
    out_engine: *mut *mut wsx_engine,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promises.
        let (url, out) = unsafe { (arg_str(url, "url")?, arg_mut(out_engine, "out_engine")?) };
        // SAFETY: the caller's promise.
        let options = unsafe { options.as_ref() };
        let config = match options {
            Some(o) => client_config(o.conn.client()),
            None => client_config(&ClientConfig::default()),
        };
        let url = WsUrl::parse(url).map_err(|e| Failure::invalid(e.to_string()))?;
        let engine = Engine::client(&url, config).map_err(|e| Failure::invalid(e.to_string()))?;
        give(out, engine);
        Ok(())
    })
}

/// Creates a server engine waiting for a handshake request, with `options`
/// (NULL: the defaults of `wsx_server_options_new`). Of the options it uses
/// the subprotocols (chosen when the program accepts without naming one),
/// the allowed origins (others are refused with 403 by the engine itself),
/// compression (off by default), message and frame limits, streaming,
/// auto-pong, reject-binary, handshake limits, and the handshake, close and
/// keepalive timers; the rest concern the event loop and are ignored. The
/// options are copied. Free with `wsx_engine_free`.
///
/// # Safety
/// `options` NULL or live; `out_engine` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_server_new(
    options: *const wsx_server_options,
    out_engine: *mut *mut wsx_engine,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise.
        let out = unsafe { arg_mut(out_engine, "out_engine") }?;
        // SAFETY: the caller's promise.
        let options = unsafe { options.as_ref() };
        let config = match options {
            Some(o) => server_config(o.conn.server()),
            None => server_config(&ServerConfig::default()),
        };
        give(out, Engine::server(config));
        Ok(())
    })
}

/// The permessage-deflate parameters a handshake agreed (RFC 7692), for
/// `wsx_engine_open_new`. Extensible: set `struct_size =
/// sizeof(wsx_deflate_params)`; fields past it take the defaults below.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct wsx_deflate_params {
    /// `sizeof(wsx_deflate_params)` as the caller was compiled with.
    pub struct_size: usize,
    /// The client compressor's window, 8-15 (default 15; 8 means the
    /// client sends uncompressed, as zlib cannot compress with it).
    pub client_max_window_bits: u8,
    /// The server compressor's window, 8-15 (default 15).
    pub server_max_window_bits: u8,
    /// The client's compressor restarts for every message (default false).
    pub client_no_context_takeover: bool,
    /// The server's compressor restarts for every message (default false).
    pub server_no_context_takeover: bool,
}

// SAFETY: repr(C), `struct_size` first; integers and C bools the caller
// writes as 0 or 1.
unsafe impl Extensible for wsx_deflate_params {
    const NAME: &'static str = "wsx_deflate_params";
    const MIN_SIZE: usize = std::mem::offset_of!(wsx_deflate_params, client_max_window_bits) + 1;
    fn base() -> Self {
        wsx_deflate_params {
            struct_size: 0,
            client_max_window_bits: 15,
            server_max_window_bits: 15,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
        }
    }
}

/// Creates an engine whose opening handshake happened elsewhere (an HTTP
/// server that upgraded the connection; the contract of .NET's
/// `WebSocket.CreateFromStream`): it is OPEN at once and its OPEN event is
/// ready. The role is the options': `wsx_client_options_conn(o)` makes a
/// client engine (it masks its frames), `wsx_server_options_conn(o)` a
/// server engine. Of the options it uses the limits, streaming, auto-pong,
/// reject-binary, compression level and threshold, and the close and
/// keepalive timers. `subprotocol` (NULL: none) and `deflate` (NULL: no
/// compression) are what the handshake agreed. Free with `wsx_engine_free`.
///
/// # Safety
/// `options` NULL or live; `subprotocol` NULL or NUL-terminated; `deflate`
/// NULL or `struct_size` readable bytes; `out_engine` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_open_new(
    options: *const wsx_conn_options,
    subprotocol: *const c_char,
    deflate: *const wsx_deflate_params,
    out_engine: *mut *mut wsx_engine,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promises.
        let (options, subprotocol, out) = unsafe {
            (
                arg(options, "options")?,
                opt_str(subprotocol, "subprotocol")?,
                arg_mut(out_engine, "out_engine")?,
            )
        };
        let (role, config) = match options.as_client() {
            Some(c) => (Role::Client, client_config(c)),
            None => (Role::Server, server_config(options.server())),
        };
        let agreement = if deflate.is_null() {
            None
        } else {
            // SAFETY: the caller's promise.
            let p = unsafe { read_sized(deflate, "deflate") }?;
            for (name, bits) in [
                ("client_max_window_bits", p.client_max_window_bits),
                ("server_max_window_bits", p.server_max_window_bits),
            ] {
                if !(8..=15).contains(&bits) {
                    return Err(Failure::invalid(format!(
                        "wsx_deflate_params.{name} is {bits}: it must be 8-15"
                    )));
                }
            }
            Some(Agreement {
                params: DeflateParams {
                    server_no_context_takeover: p.server_no_context_takeover,
                    client_no_context_takeover: p.client_no_context_takeover,
                    server_max_window_bits: p.server_max_window_bits,
                    client_max_window_bits: p.client_max_window_bits,
                },
                config: config.compression.clone().unwrap_or_default(),
            })
        };
        let subprotocol = subprotocol.map(str::to_owned);
        give(
            out,
            Engine::opened(role, config, subprotocol, agreement.as_ref()),
        );
        Ok(())
    })
}

/// Frees an engine and everything it holds. NULL is a no-op.
///
/// # Safety
/// `engine` is NULL or from `wsx_engine_*_new`, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_free(engine: *mut wsx_engine) {
    if !engine.is_null() {
        // SAFETY: the caller's promise.
        ffi_value((), || drop(unsafe { Box::from_raw(engine) }));
    }
}

/// Runs `f` on the engine behind a C pointer.
///
/// # Safety
/// `engine` is NULL or a live engine no other thread uses.
unsafe fn with_engine(
    engine: *mut wsx_engine,
    f: impl FnOnce(&mut wsx_engine) -> Outcome,
) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| f(unsafe { arg_mut(engine, "engine") }?))
}

/// Feeds `len` bytes received from the transport (NULL allowed when `len`
/// is 0). Writes how many were taken to `out_consumed`: all of them, unless
/// more than a frame's worth (the maximum frame size plus 64 KiB) waits
/// unparsed; then take events and feed the rest again. Never blocks; the
/// bytes are copied.
///
/// # Safety
/// `engine` NULL or live; `data` NULL or `len` readable bytes;
/// `out_consumed` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_feed(
    engine: *mut wsx_engine,
    data: *const u8,
    len: usize,
    out_consumed: *mut usize,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_engine(engine, |e| {
            let data = arg_bytes(data, len, "data")?;
            let out = arg_mut(out_consumed, "out_consumed")?;
            *out = e.engine.feed(data);
            Ok(())
        })
    }
}

/// Tells the engine the transport ended (EOF or a broken connection): events
/// already fed still come, then a CLOSE (1006 when no close handshake
/// happened).
///
/// # Safety
/// `engine` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_feed_eof(engine: *mut wsx_engine) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_engine(engine, |e| {
            e.engine.feed_eof();
            Ok(())
        })
    }
}

/// Takes the next event into `out_event` (its `struct_size` set); its kind
/// is `WSX_ENGINE_EVENT_KIND_NONE` when nothing is ready. Call it until
/// NONE after feeding or ticking. Pointers in the event are borrowed until
/// the next call on the engine. Sending from inside the loop (an echo) is
/// fine: copy nothing, but take no further event until done with this one.
///
/// # Safety
/// `engine` NULL or live; `out_event` NULL or `struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_next_event(
    engine: *mut wsx_engine,
    out_event: *mut wsx_engine_event,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_engine(engine, |e| {
            check_sized_out(out_event, "out_event")?;
            let event = next_event(e);
            write_sized(out_event, event, "out_event")
        })
    }
}

fn next_event(e: &mut wsx_engine) -> wsx_engine_event {
    use wsx_engine_event_kind as K;
    let mut out = wsx_engine_event::base();
    let wsx_engine {
        engine,
        text,
        subprotocol,
        path,
        header_strings,
        headers,
    } = e;
    let Some(event) = engine.next_event() else {
        return out;
    };
    let mut refused = false;
    match event {
        EngineEvent::Request(request) => {
            out.kind = K::WSX_ENGINE_EVENT_KIND_REQUEST;
            *path = c_string(request.path());
            out.path = path.as_ptr();
            lend_headers(&mut out, request.headers(), header_strings, headers);
        }
        EngineEvent::Open {
            subprotocol: p,
            deflate,
        } => {
            out.kind = K::WSX_ENGINE_EVENT_KIND_OPEN;
            *subprotocol = p.map(c_string);
            out.subprotocol = subprotocol
                .as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr());
            out.deflate = deflate;
        }
        EngineEvent::Message { kind, data } => {
            out.kind = K::WSX_ENGINE_EVENT_KIND_MESSAGE;
            out.msg_kind = wsx_msg_kind::from_core(kind);
            out.fin = true;
            bytes_of(&mut out.data, &mut out.len, data);
        }
        EngineEvent::Fragment { kind, data, fin } => {
            out.kind = K::WSX_ENGINE_EVENT_KIND_FRAGMENT;
            out.msg_kind = wsx_msg_kind::from_core(kind);
            out.fin = fin;
            bytes_of(&mut out.data, &mut out.len, data);
        }
        EngineEvent::Ping(data) => {
            out.kind = K::WSX_ENGINE_EVENT_KIND_PING;
            bytes_of(&mut out.data, &mut out.len, data);
        }
        EngineEvent::Pong(data) => {
            out.kind = K::WSX_ENGINE_EVENT_KIND_PONG;
            bytes_of(&mut out.data, &mut out.len, data);
        }
        EngineEvent::Close {
            code,
            reason,
            origin,
            clean,
        } => {
            out.kind = K::WSX_ENGINE_EVENT_KIND_CLOSE;
            out.close_code = code;
            out.close_origin = match origin {
                CloseOrigin::Local => wsx_close_origin::WSX_CLOSE_ORIGIN_LOCAL,
                CloseOrigin::Remote => wsx_close_origin::WSX_CLOSE_ORIGIN_REMOTE,
                CloseOrigin::Transport => wsx_close_origin::WSX_CLOSE_ORIGIN_TRANSPORT,
            };
            out.clean = clean;
            *text = c_string(reason);
            out.data = text.as_ptr().cast();
            out.len = text.as_bytes().len();
        }
        EngineEvent::Error {
            kind,
            status,
            message,
        } => {
            out.kind = K::WSX_ENGINE_EVENT_KIND_ERROR;
            out.error = match kind {
                ErrorKind::Handshake => wsx_result::WSX_ERR_HANDSHAKE,
                ErrorKind::Protocol => wsx_result::WSX_ERR_PROTOCOL,
                ErrorKind::Timeout => wsx_result::WSX_ERR_TIMEOUT,
            };
            out.http_status = status;
            refused = status != 0;
            *text = c_string(message);
            out.data = text.as_ptr().cast();
            out.len = text.as_bytes().len();
        }
    }
    // A refusal's response stays in the engine: lend its headers and body.
    if let Some(response) = engine.response().filter(|_| refused) {
        lend_headers(&mut out, &response.headers, header_strings, headers);
        bytes_of(&mut out.body, &mut out.body_len, &response.body);
    }
    out
}

/// Lends `data` through a pointer and a length (NULL when empty).
fn bytes_of(ptr: &mut *const u8, len: &mut usize, data: &[u8]) {
    *ptr = if data.is_empty() {
        std::ptr::null()
    } else {
        data.as_ptr()
    };
    *len = data.len();
}

/// Lends `from` through the event, as NUL-terminated copies kept in
/// `strings` and the pairs in `pairs`.
fn lend_headers(
    out: &mut wsx_engine_event,
    from: &Headers,
    strings: &mut Vec<(CString, CString)>,
    pairs: &mut Vec<wsx_header>,
) {
    *strings = from
        .iter()
        .map(|(n, v)| (c_string(n), c_string(v)))
        .collect();
    *pairs = strings
        .iter()
        .map(|(n, v)| wsx_header {
            name: n.as_ptr(),
            value: v.as_ptr(),
        })
        .collect();
    out.headers = pairs.as_ptr();
    out.header_count = pairs.len();
}

/// Server: accepts the request of the REQUEST event with `subprotocol`
/// (one the client offered; NULL picks the first of the options'
/// subprotocols the client offered, if any) and `header_count` extra
/// response headers (`headers` may be NULL when 0; copied). The 101 response
/// is pending at once and an OPEN event follows. When the client offered
/// permessage-deflate and the options enable compression, it is agreed.
/// `WSX_ERR_STATE` when no request waits for a decision;
/// `WSX_ERR_INVALID_ARGUMENT` for a subprotocol not offered or a bad header.
///
/// # Safety
/// `engine` NULL or live; `subprotocol` NULL or NUL-terminated; `headers`
/// NULL or `header_count` live pairs of NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_accept(
    engine: *mut wsx_engine,
    subprotocol: *const c_char,
    headers: *const wsx_header,
    header_count: usize,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_engine(engine, |e| {
            let subprotocol = opt_str(subprotocol, "subprotocol")?;
            let pairs = if header_count == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(arg(headers, "headers")?, header_count)
            };
            let mut extra = Vec::with_capacity(pairs.len());
            for h in pairs {
                let name = arg_str(h.name, "header name")?;
                let value = arg_str(h.value, "header value")?;
                extra.push(crate::options::header(name, value)?);
            }
            e.engine.accept(subprotocol, &extra).map_err(engine_failure)
        })
    }
}

/// Server: refuses the request of the REQUEST event with an HTTP `status`
/// (400-599) and a short `reason` (NULL: none) sent as a plain-text body.
/// The response is pending at once; no event follows: send it, then close.
///
/// # Safety
/// `engine` NULL or live; `reason` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_refuse(
    engine: *mut wsx_engine,
    status: u16,
    reason: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_engine(engine, |e| {
            let reason = opt_str(reason, "reason")?.unwrap_or("");
            e.engine.refuse(status, reason).map_err(engine_failure)
        })
    }
}

/// The bytes to send next, without a copy: `*out_data` and `*out_len` (0
/// when nothing waits; then `*out_data` may be NULL). Write a prefix of them
/// to the transport, then `wsx_engine_consume_output` its length. The
/// pointer is valid until the next call on the engine but the const getters.
///
/// # Safety
/// `engine` NULL or live; `out_data`, `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_peek_output(
    engine: *const wsx_engine,
    out_data: *mut *const u8,
    out_len: *mut usize,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promises.
        let (e, data, len) = unsafe {
            (
                arg(engine, "engine")?,
                arg_mut(out_data, "out_data")?,
                arg_mut(out_len, "out_len")?,
            )
        };
        let pending = e.engine.pending();
        *data = pending.as_ptr();
        *len = pending.len();
        Ok(())
    })
}

/// Marks `n` bytes of `wsx_engine_peek_output` as written to the transport;
/// more than it gave is `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `engine` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_consume_output(
    engine: *mut wsx_engine,
    n: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_engine(engine, |e| {
            let pending = e.engine.pending().len();
            if n > pending {
                return Err(Failure::invalid(format!(
                    "consume_output: {n} bytes, but only {pending} are pending"
                )));
            }
            e.engine.consume(n);
            Ok(())
        })
    }
}

/// Whether to shut the transport's write side down now (`shutdown(fd,
/// SHUT_WR)`, or TLS close_notify): the engine is CLOSED and all its output
/// was consumed; nothing more will ever be sent. Then read until EOF (or
/// `wsx_engine_next_deadline`) and close the transport. False for NULL.
///
/// # Safety
/// `engine` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_wants_shutdown(engine: *const wsx_engine) -> bool {
    // SAFETY: the caller's promise.
    ffi_value(false, || {
        // SAFETY: the caller's promise.
        unsafe { engine.as_ref() }.is_some_and(|e| e.engine.wants_shutdown())
    })
}

/// Queues a message (`WSX_MSG_KIND_TEXT` data must be UTF-8; NULL allowed
/// when `len` is 0); the bytes are copied (compressed when permessage-deflate
/// was agreed and the message reaches the threshold). `WSX_ERR_STATE`
/// before the OPEN event, `WSX_ERR_CLOSED` once a close frame was sent or
/// the connection ended. There is no high-water mark: watch
/// `wsx_engine_buffered_amount`.
///
/// # Safety
/// `engine` NULL or live; `data` NULL or `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_send(
    engine: *mut wsx_engine,
    kind: MsgKindArg,
    data: *const u8,
    len: usize,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_engine(engine, |e| {
            let kind = kind.to_core()?;
            let data = arg_bytes(data, len, "data")?;
            e.engine.send(kind, data).map_err(engine_failure)
        })
    }
}

/// Queues a piece of a message; the piece with `fin` true ends it. Until
/// then only pieces of the same kind (and control frames) may be sent. Text
/// may split a character between pieces but must be UTF-8 as a whole.
///
/// # Safety
/// `engine` NULL or live; `data` NULL or `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_send_fragment(
    engine: *mut wsx_engine,
    kind: MsgKindArg,
    data: *const u8,
    len: usize,
    fin: bool,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_engine(engine, |e| {
            let kind = kind.to_core()?;
            let data = arg_bytes(data, len, "data")?;
            e.engine
                .send_fragment(kind, data, fin)
                .map_err(engine_failure)
        })
    }
}

/// Queues a ping with up to 125 bytes of payload.
///
/// # Safety
/// `engine` NULL or live; `data` NULL or `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_ping(
    engine: *mut wsx_engine,
    data: *const u8,
    len: usize,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_engine(engine, |e| {
            let data = arg_bytes(data, len, "data")?;
            e.engine.ping(data).map_err(engine_failure)
        })
    }
}

/// Queues a pong with up to 125 bytes of payload (unsolicited: a heartbeat).
///
/// # Safety
/// `engine` NULL or live; `data` NULL or `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_pong(
    engine: *mut wsx_engine,
    data: *const u8,
    len: usize,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_engine(engine, |e| {
            let data = arg_bytes(data, len, "data")?;
            e.engine.pong(data).map_err(engine_failure)
        })
    }
}

/// Starts the close handshake with `code` (1000-1003, 1007-1014, 3000-4999;
/// 1005 sends a close frame without a code and needs a NULL or empty reason)
/// and `reason` (NULL: none; at most 123 bytes of UTF-8). The close timeout
/// runs from the next tick; the CLOSE event comes with the peer's answer.
/// The engine answers a peer's close by itself.
///
/// # Safety
/// `engine` NULL or live; `reason` NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_close(
    engine: *mut wsx_engine,
    code: u16,
    reason: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promises.
    unsafe {
        with_engine(engine, |e| {
            let reason = opt_str(reason, "reason")?.unwrap_or("");
            e.engine.close(code, reason).map_err(engine_failure)
        })
    }
}

/// Tells the engine the time, `now_ms` milliseconds from any fixed origin
/// (a monotonic clock; never going back): it fires what is due (a keepalive
/// ping, a handshake, keepalive or close timeout, which end the connection
/// with an ERROR and a CLOSE 1006 event). The first tick starts the timers;
/// an engine never ticked has no timeouts. Call it after feeding and
/// whenever `wsx_engine_next_deadline` passes.
///
/// # Safety
/// `engine` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_tick(engine: *mut wsx_engine, now_ms: u64) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_engine(engine, |e| {
            e.engine.tick(now_ms);
            Ok(())
        })
    }
}

/// When to call `wsx_engine_tick` next, in the same milliseconds as the
/// ticks; `UINT64_MAX` when no timer runs (before the first tick, after the
/// CLOSE event, or for NULL).
///
/// # Safety
/// `engine` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_next_deadline(engine: *const wsx_engine) -> u64 {
    ffi_value(u64::MAX, || {
        // SAFETY: the caller's promise.
        unsafe { engine.as_ref() }
            .and_then(|e| e.engine.next_deadline())
            .unwrap_or(u64::MAX)
    })
}

/// The engine's state: CONNECTING during the handshake, OPEN, CLOSING once
/// one close frame passed, CLOSED when nothing more will be read (send what
/// is pending, then shut down). CLOSED for NULL.
///
/// # Safety
/// `engine` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_state(engine: *const wsx_engine) -> wsx_state {
    ffi_value(wsx_state::WSX_STATE_CLOSED, || {
        // SAFETY: the caller's promise.
        match unsafe { engine.as_ref() }.map(|e| e.engine.state()) {
            Some(EngineState::Connecting) => wsx_state::WSX_STATE_CONNECTING,
            Some(EngineState::Open) => wsx_state::WSX_STATE_OPEN,
            Some(EngineState::Closing) => wsx_state::WSX_STATE_CLOSING,
            Some(EngineState::Closed) | None => wsx_state::WSX_STATE_CLOSED,
        }
    })
}

/// Bytes queued to send and not yet consumed (handshake and frames), for
/// backpressure: stop producing while it is high. 0 for NULL.
///
/// # Safety
/// `engine` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_engine_buffered_amount(engine: *const wsx_engine) -> usize {
    // SAFETY: the caller's promise.
    ffi_value(0, || {
        // SAFETY: the caller's promise.
        unsafe { engine.as_ref() }.map_or(0, |e| e.engine.buffered_amount())
    })
}
