//! Connections: `wsx_connect` and everything callable on a `wsx_conn`.

use std::ffi::c_char;
use std::sync::{Arc, OnceLock};

use wsx_core::net::Conn;
use wsx_core::proto::CloseCode;

use crate::boundary::{
    Failure, Outcome, arg, arg_bytes, arg_mut, arg_str, ffi_call, ffi_value, opt_str,
    write_c_string,
};
use crate::callbacks::{ConnAdapter, UserData, slot_handle, with_current_ctx, wsx_conn_callbacks};
use crate::event_loop::wsx_loop;
use crate::events::{wsx_conn_state, wsx_msg_kind};
use crate::options::wsx_client_options;
use crate::result::wsx_result;

/// A WebSocket connection, client or server side. Reference-counted: the
/// library holds one reference while the connection runs (the pointer passed
/// to callbacks is that one, the same for every callback of a connection);
/// `wsx_connect` and `wsx_conn_retain` give the caller one more each, released
/// with `wsx_conn_free`. Every function on it may be called from any thread.
pub struct wsx_conn {
    pub(crate) conn: Conn,
}

impl wsx_conn {
    pub(crate) fn new(conn: Conn) -> wsx_conn {
        wsx_conn { conn }
    }
}

/// Runs `f` on the connection behind a C pointer.
///
/// # Safety
/// `conn` is NULL or a live `wsx_conn` pointer.
unsafe fn with_conn(conn: *const wsx_conn, f: impl FnOnce(&wsx_conn) -> Outcome) -> wsx_result {
    // SAFETY: the caller's promise.
    ffi_call(|| f(unsafe { arg(conn, "conn") }?))
}

/// Starts a client connection to a `ws://` or `wss://` URL on `loop`.
///
/// `options` may be NULL (defaults) and is copied: free it whenever you like.
/// `callbacks` is copied; from this call on, the library owns
/// `callbacks->user_data` and calls `free_user_data` exactly once, also when
/// this call fails. A bad URL or option fails here; everything later (DNS,
/// connect, handshake errors) reaches `on_error` then `on_close`.
///
/// On success `*out_conn` is a new reference owned by the caller: release it
/// with `wsx_conn_free` (before or after the connection closes). Callable from
/// any thread, also from inside a callback.
///
/// # Safety
/// Pointers are NULL or valid; `url` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_connect(
    r#loop: *const wsx_loop,
    url: *const c_char,
    options: *const wsx_client_options,
    callbacks: *const wsx_conn_callbacks,
    out_conn: *mut *mut wsx_conn,
) -> wsx_result {
    ffi_call(|| {
        // SAFETY: the caller's promise, for every pointer below.
        let callbacks = *unsafe { arg(callbacks, "callbacks") }?;
        let user = UserData::new(callbacks.user_data, callbacks.free_user_data);
        let slot = Arc::new(OnceLock::new());
        // SAFETY: the caller's promise.
        let options = unsafe { options.as_ref() };
        let hooks = options.map(|o| o.hooks).unwrap_or_default();
        let adapter =
            ConnAdapter::new(user, callbacks.events(), slot.clone()).with_client_hooks(hooks);
        let event_loop = unsafe { arg(r#loop, "loop") }?;
        let url = unsafe { arg_str(url, "url") }?;
        let out = unsafe { arg_mut(out_conn, "out_conn") }?;
        let config = options.map(|o| o.config.clone()).unwrap_or_default();
        let conn = event_loop
            .handle()
            .connect(url, config, Box::new(adapter))?;
        *out = Arc::into_raw(slot_handle(&slot, &conn)).cast_mut();
        Ok(())
    })
}

/// Takes one more reference to `conn` and returns it (the same pointer), so
/// a connection passed to a callback can be kept past the callback. Release
/// it with `wsx_conn_free`. Returns NULL for NULL.
///
/// # Safety
/// `conn` is NULL or a live connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_retain(conn: *mut wsx_conn) -> *mut wsx_conn {
    if !conn.is_null() {
        // SAFETY: a live pointer from Arc::into_raw (or the library's own reference).
        unsafe { Arc::increment_strong_count(conn.cast_const()) };
    }
    conn
}

/// Releases one reference to `conn` (from `wsx_connect` or
/// `wsx_conn_retain`). It does not close the connection: call
/// `wsx_conn_close` for that. Callable from any thread and from inside any
/// callback, also this connection's own. NULL is a no-op.
///
/// # Safety
/// `conn` is NULL or a reference the caller owns, released once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_free(conn: *mut wsx_conn) {
    ffi_value((), || {
        if !conn.is_null() {
            // SAFETY: the caller owns this reference and gives it up.
            drop(unsafe { Arc::from_raw(conn.cast_const()) });
        }
    })
}

/// Sends a message. `kind` is a `wsx_msg_kind` (`WSX_MSG_TEXT` data must be
/// UTF-8); `data` is no longer needed once this returns (NULL is allowed
/// when `len` is 0). Returns `WSX_ERR_CLOSED` once the close handshake began
/// or the connection ended (never a crash); when it ended by a failure, the
/// message (`wsx_last_error_message`) names it, e.g. "it ended with an I/O
/// error: ..." for a peer that dropped the connection. `WSX_ERR_WOULD_BLOCK`
/// past the high-water mark. From
/// inside this connection's own callback the message goes straight into its
/// buffer (a large one with nothing queued before it, straight to the
/// socket); from elsewhere it is copied, queued and the loop is woken. Same
/// as `wsx_conn_send_ex` with no flags.
///
/// # Safety
/// `conn` is NULL or live; `data` is NULL or points to `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_send(
    conn: *const wsx_conn,
    kind: u32,
    data: *const u8,
    len: usize,
) -> wsx_result {
    // SAFETY: the caller's promise, passed on.
    unsafe { wsx_conn_send_ex(conn, kind, data, len, 0) }
}

/// `wsx_conn_send` with `flags`, a bitwise OR of `WSX_SEND_*` values:
/// `WSX_SEND_NO_COMPRESS` sends this message uncompressed even when
/// permessage-deflate was negotiated (for data already compressed, such as
/// images). Unknown flags are refused with `WSX_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `conn` is NULL or live; `data` is NULL or points to `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_send_ex(
    conn: *const wsx_conn,
    kind: u32,
    data: *const u8,
    len: usize,
    flags: u32,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            let kind = wsx_msg_kind::to_core(kind)
                .ok_or_else(|| Failure::invalid(format!("unknown message kind {kind}")))?;
            if flags & !WSX_SEND_NO_COMPRESS != 0 {
                return Err(Failure::invalid(format!("unknown send flags {flags:#x}")));
            }
            let compress = flags & WSX_SEND_NO_COMPRESS == 0;
            let data = arg_bytes(data, len, "data")?;
            with_current_ctx(conn, |ctx| ctx.send_with(kind, data, compress))
                .unwrap_or_else(|| handle.conn.send_with(kind, data, compress))?;
            Ok(())
        })
    }
}

/// A `wsx_conn_send_ex` flag: send the message uncompressed.
pub const WSX_SEND_NO_COMPRESS: u32 = 1;

/// Sends a ping with up to 125 bytes of payload (NULL is allowed when `len`
/// is 0); its round trip arrives with the pong.
///
/// # Safety
/// `conn` is NULL or live; `data` is NULL or points to `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_ping(
    conn: *const wsx_conn,
    data: *const u8,
    len: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            Ok(handle.conn.ping(arg_bytes(data, len, "data")?)?)
        })
    }
}

/// Starts the close handshake with `code` (1000, 1001, ..., or 3000-4999) and
/// a UTF-8 `reason` of at most 123 bytes (NULL: none). The close callback
/// follows once the handshake finished or timed out. Calling it again while
/// the handshake runs returns `WSX_OK` and changes nothing (the first code
/// and reason are the ones sent); once the connection is closed (its close
/// callback ran) it returns `WSX_ERR_CLOSED`. On a reconnecting client it
/// also stops reconnecting.
///
/// # Safety
/// `conn` is NULL or live; `reason` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_close(
    conn: *const wsx_conn,
    code: u16,
    reason: *const c_char,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            let reason = opt_str(reason, "reason")?.unwrap_or("");
            let code = CloseCode(code);
            with_current_ctx(conn, |ctx| ctx.close(code, reason))
                .unwrap_or_else(|| handle.conn.close(code, reason))?;
            Ok(())
        })
    }
}

/// A number naming this connection within its loop (0 for NULL).
///
/// # Safety
/// `conn` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_id(conn: *const wsx_conn) -> u64 {
    // SAFETY: the caller's promise.
    ffi_value(0, || {
        unsafe { conn.as_ref() }.map_or(0, |handle| handle.conn.id())
    })
}

/// The connection's state (`WSX_CONN_CLOSED` for NULL).
///
/// # Safety
/// `conn` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_get_state(conn: *const wsx_conn) -> wsx_conn_state {
    ffi_value(wsx_conn_state::WSX_CONN_CLOSED, || {
        // SAFETY: the caller's promise.
        unsafe { conn.as_ref() }.map_or(wsx_conn_state::WSX_CONN_CLOSED, |handle| {
            wsx_conn_state::from_core(handle.conn.state())
        })
    })
}

/// Flow control for input: pauses (`paused` true) or resumes reading this
/// connection. While paused no message callback runs (from the next message
/// on, even when called inside `on_message`) and the peer, once the socket
/// buffers fill up, sees backpressure; pings and the peer's close wait too, so
/// a keepalive may time out. Resuming delivers what was held back, in order.
/// Closing reads again (to finish the close handshake). Idempotent; callable
/// from any thread.
///
/// # Safety
/// `conn` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_set_reading_paused(
    conn: *const wsx_conn,
    paused: bool,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            if paused {
                handle.conn.pause_reading();
            } else {
                handle.conn.resume_reading();
            }
            Ok(())
        })
    }
}

/// Bytes queued and not yet written to the socket (0 for NULL).
///
/// # Safety
/// `conn` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_buffered_amount(conn: *const wsx_conn) -> usize {
    // SAFETY: the caller's promise.
    ffi_value(0, || {
        unsafe { conn.as_ref() }.map_or(0, |handle| handle.conn.buffered_amount())
    })
}

/// The round trip of the last answered ping in microseconds, or -1 if none
/// (or for NULL).
///
/// # Safety
/// `conn` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_rtt_us(conn: *const wsx_conn) -> i64 {
    // SAFETY: the caller's promise.
    ffi_value(-1, || {
        unsafe { conn.as_ref() }.map_or(-1, |handle| crate::events::micros(handle.conn.rtt()))
    })
}

/// Writes the peer's address ("ip:port") and a NUL into `out_buf` of
/// `buf_len` bytes (64 always suffice). `WSX_ERR_STATE` before the peer is
/// known; `WSX_ERR_INVALID_ARGUMENT` if the buffer is too small.
///
/// # Safety
/// `conn` is NULL or live; `out_buf` is NULL or has `buf_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wsx_conn_peer_addr(
    conn: *const wsx_conn,
    out_buf: *mut c_char,
    buf_len: usize,
) -> wsx_result {
    // SAFETY: the caller's promise.
    unsafe {
        with_conn(conn, |handle| {
            let addr = handle
                .conn
                .peer_addr()
                .ok_or_else(|| Failure::state("the peer's address is not known yet"))?;
            write_c_string(&addr.to_string(), out_buf, buf_len)
        })
    }
}
